// Peer side of the map syscall benchmark: the same lookups and updates as
// crates/bpfkit/examples/map_bench.rs, through libbpf's bpf_map_lookup_elem/bpf_map_update_elem.
// Output: one "<map> <op> <ops per CPU-second>" line per measurement.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENTRIES 1024u

static void die(const char *what) {
	fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

// Seconds this thread has run on a CPU (first field of /proc/thread-self/schedstat, in ns):
// the machine is shared, and time spent descheduled says nothing about the syscall path.
static double now(void) {
	unsigned long long ns = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");
	if (!f || fscanf(f, "%llu", &ns) != 1)
		die("read /proc/thread-self/schedstat");
	fclose(f);
	return ns / 1e9;
}


static void run(const char *label, enum bpf_map_type type, unsigned long n) {
	int fd = bpf_map_create(type, "bench_peer", 4, 8, ENTRIES, NULL);
	if (fd < 0)
		die("bpf_map_create");
	uint64_t v = 0;
	for (uint32_t k = 0; k < ENTRIES; k++)
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			die("prefill");

	double t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		uint32_t k = i & (ENTRIES - 1);
		if (bpf_map_lookup_elem(fd, &k, &v))
			die("lookup");
	}
	double t1 = now();
	for (unsigned long i = 0; i < n; i++) {
		uint32_t k = i & (ENTRIES - 1);
		v = i;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			die("update");
	}
	double t2 = now();
	printf("%s lookup %.0f\n", label, n / (t1 - t0));
	printf("%s update %.0f\n", label, n / (t2 - t1));
	close(fd);
}

int main(int argc, char **argv) {
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	run("hash", BPF_MAP_TYPE_HASH, n);
	run("array", BPF_MAP_TYPE_ARRAY, n);
	return 0;
}
