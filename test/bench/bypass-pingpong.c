// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Microbenchmark (not a test) of the bypass program's own cost per message, without Redis:
// one loopback TCP pair in the sockhash, 1-byte messages back and forth. Prints the mode, ns
// per round trip (two redirected messages) and the attached sk_msg program's ns per run from
// the kernel's run-time statistics (0 unless sysctl kernel.bpf_stats_enabled=1; a tail call
// counts in the caller). Modes: off, old (OLD.o: the pre-stub program), new (NEW.o as the
// agent attaches it: stub, tail call), direct (NEW.o's bypass_redirect attached itself).
// sock_ops is not loaded: the two sockets are put into the map by hand.
//   cc -O2 test/bench/bypass-pingpong.c -o /tmp/pingpong -lbpf
//   (as root, OLD.o from test/fixtures/bpf/bypass/old_shape.bpf.c, NEW.o = build/bpf/bypass.bpf.o)
//   for r in $(seq 15); do for m in old new direct off; do taskset -c 1 /tmp/pingpong $m 30000 OLD.o NEW.o; done; done
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static void key_of(int fd, unsigned char k[16]) {
	struct sockaddr_in l, r; socklen_t n = sizeof l; getsockname(fd, (void *)&l, &n); n = sizeof r; getpeername(fd, (void *)&r, &n);
	memset(k, 0, 16); memcpy(k, &l.sin_addr, 4); memcpy(k + 4, &r.sin_addr, 4); memcpy(k + 10, &l.sin_port, 2); memcpy(k + 14, &r.sin_port, 2);
}
int main(int argc, char **argv) {
	if (argc < 5) { fprintf(stderr, "usage: %s off|old|new|direct ITERS OLD.o NEW.o\n", argv[0]); return 2; }
	const char *mode = argv[1]; int iters = atoi(argv[2]);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}; socklen_t al = sizeof a;
	bind(l, (void *)&a, sizeof a); listen(l, 4); getsockname(l, (void *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0); connect(c, (void *)&a, sizeof a); int s = accept(l, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct bpf_object *obj = NULL; int progfd = -1;
	if (strcmp(mode, "off")) {
		obj = bpf_object__open_file(strcmp(mode, "old") ? argv[4] : argv[3], NULL);
		if (!obj) { fprintf(stderr, "open\n"); return 1; }
		bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "bypass_sockops"), false);
		if (bpf_object__load(obj)) { fprintf(stderr, "load\n"); return 1; }
		int hash = bpf_map__fd(bpf_object__find_map_by_name(obj, "bypass_sockhash"));
		const char *att = strcmp(mode, "direct") ? "bypass_skmsg" : "bypass_redirect";
		if (!strcmp(mode, "new")) {
			__u32 k = 0, v = bpf_program__fd(bpf_object__find_program_by_name(obj, "bypass_redirect"));
			bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "bypass_jump")), &k, &v, 0);
		}
		progfd = bpf_program__fd(bpf_object__find_program_by_name(obj, att));
		if (bpf_prog_attach(progfd, hash, BPF_SK_MSG_VERDICT, 0)) { perror("attach"); return 1; }
		unsigned char kc[16], ks[16]; key_of(c, kc); key_of(s, ks); __u32 vc = c, vs = s;
		if (bpf_map_update_elem(hash, kc, &vc, BPF_NOEXIST) || bpf_map_update_elem(hash, ks, &vs, BPF_NOEXIST)) { perror("update"); return 1; }
	}
	char b = 'x';
	for (int i = 0; i < 2000; i++) { write(c, &b, 1); read(s, &b, 1); write(s, &b, 1); read(c, &b, 1); }
	double t0 = now();
	for (int i = 0; i < iters; i++) { write(c, &b, 1); read(s, &b, 1); write(s, &b, 1); read(c, &b, 1); }
	double rtt = (now() - t0) / iters;
	double pns = 0;
	if (progfd >= 0) { struct bpf_prog_info info = {}; __u32 n = sizeof info; bpf_obj_get_info_by_fd(progfd, &info, &n); pns = info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0; }
	printf("%s %.0f %.1f\n", mode, rtt, pns);
	close(c); close(s); close(l); if (obj) bpf_object__close(obj);
	return 0;
}
