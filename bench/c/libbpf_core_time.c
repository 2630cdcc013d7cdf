// Baseline for bench/core.ts: how long libbpf's CO-RE pass takes on an object. libbpf has no API
// for CO-RE alone (1.1), so this loads the object with a log callback at debug level and times the
// pass from libbpf's first "found N CO-RE relocations" line to its last relocation line; vmlinux
// BTF is already parsed by then. Prints {"seconds": S, "relocations": N} and unloads.
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

static double first_at = -1, last_at = -1;
static long relocations;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_message(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	(void)args;
	if (strstr(format, "CO-RE relocations")) {
		if (first_at < 0)
			first_at = now();
		last_at = now();
	} else if (strstr(format, "relo #") && first_at >= 0) {
		last_at = now();
		if (strstr(format, "patched insn") || strstr(format, "substituting insn"))
			relocations++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	libbpf_set_print(on_message);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return 1;
	int err = bpf_object__load(obj);
	bpf_object__close(obj);
	if (err || first_at < 0)
		return 1;
	printf("{\"seconds\": %.9f, \"relocations\": %ld}\n", last_at - first_at, relocations);
	return 0;
}
