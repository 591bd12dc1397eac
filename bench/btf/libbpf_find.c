/* Peer for bench/btf/run.sh: libbpf parses a raw BTF file and looks up `struct task_struct`.
 * With a second argument N, repeats N times and prints the fastest repetition in microseconds
 * on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/btf.h>
#include <linux/btf.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int reps = argc > 2 ? atoi(argv[2]) : 1;
	double best = 1e18;
	int id = 0;
	__u32 size = 0;
	for (int i = 0; i < reps; i++) {
		double t0 = now_us();
		struct btf *btf = btf__parse(path, NULL);
		if (!btf) {
			fprintf(stderr, "btf__parse %s failed\n", path);
			return 1;
		}
		id = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
		if (id <= 0) {
			fprintf(stderr, "task_struct not found\n");
			return 1;
		}
		size = btf__type_by_id(btf, id)->size;
		double t1 = now_us();
		btf__free(btf);
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	printf("%d %u\n", id, size);
	if (argc > 2)
		fprintf(stderr, "%.1f\n", best);
	return 0;
}
