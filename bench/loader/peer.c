/* libbpf side of the loader benchmark: N times open + load + attach + detach + close of one
 * object file (bpf_object__open_file, bpf_object__load, bpf_program__attach for every program,
 * bpf_link__destroy, bpf_object__close). Prints one line per iteration: "iter TOTAL_NS LOAD_NS"
 * (LOAD_NS: open + load alone). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level; (void)fmt; (void)ap;
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s OBJ ITERATIONS\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[2]);
	libbpf_set_print(quiet);
	for (int i = 0; i < n; i++) {
		struct bpf_link *links[64];
		int nlinks = 0;
		long long t0 = now_ns();
		struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
		if (!obj) {
			fprintf(stderr, "open failed\n");
			return 1;
		}
		if (bpf_object__load(obj)) {
			fprintf(stderr, "load failed\n");
			return 1;
		}
		long long t1 = now_ns();
		struct bpf_program *prog;
		bpf_object__for_each_program(prog, obj) {
			struct bpf_link *l = bpf_program__attach(prog);
			if (!l) {
				fprintf(stderr, "attach failed\n");
				return 1;
			}
			if (nlinks < 64)
				links[nlinks++] = l;
		}
		for (int j = 0; j < nlinks; j++)
			bpf_link__destroy(links[j]);
		bpf_object__close(obj);
		printf("iter %lld %lld\n", now_ns() - t0, t1 - t0);
	}
	return 0;
}
