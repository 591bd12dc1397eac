// libbpf's side of the ring buffer benchmark: loads ringbuf.bpf.o, fills the ring by running
// the producer through BPF_PROG_TEST_RUN, then times ring_buffer__consume draining it.
// Prints one line per round: "drain <records> <records per second>".
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct tally {
	unsigned long long n, sum;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct tally *t = ctx;

	t->sum += *(unsigned long long *)data;
	t->n++;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ringbuf.bpf.o ROUNDS [RING_MIB]\n", argv[0]);
		return 2;
	}
	int rounds = atoi(argv[2]);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (obj && argc > 3)
		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "rb"), atoi(argv[3]) << 20);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "loading %s failed\n", argv[1]);
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "rb");
	// A ring of S bytes holds one 16-byte record less than S / 16: the producer may not catch
	// up with the consumer exactly.
	unsigned long long records = bpf_map__max_entries(map) / 16 - 1;
	struct tally t = { 0, 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), on_record, &t, NULL);
	if (!rb) {
		fprintf(stderr, "ring_buffer__new failed\n");
		return 1;
	}
	char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = records);
	unsigned long long expect_sum = 0, base = 0;
	for (int r = 0; r < rounds; r++) {
		if (bpf_prog_test_run_opts(prog, &opts)) {
			perror("BPF_PROG_TEST_RUN");
			return 1;
		}
		unsigned long long before = t.n;
		double t0 = now();
		int n = ring_buffer__consume(rb);
		double dt = now() - t0;
		if (n < 0 || t.n - before != records) {
			fprintf(stderr, "round %d: consumed %d of %llu records\n", r, n, records);
			return 1;
		}
		expect_sum += records * base + records * (records - 1) / 2;
		base += records;
		printf("drain %llu %.0f\n", records, records / dt);
	}
	if (t.sum != expect_sum) {
		fprintf(stderr, "sequence sum %llu, expected %llu\n", t.sum, expect_sum);
		return 1;
	}
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
