/*
 * The arm64 smoke suite's user program (test/arm64/smoke.ts), cross-compiled
 * at -O0 with frame records in every function, leaf ones too, so that its
 * stack can be walked from inside kn_add:
 *
 *   kn_add(a, b)          returns a + b
 *   kn_caller(n)          returns kn_add(n, 22)
 *   kn_sum8(a, ..., h)    eight arguments: x0..x7 on arm64
 *
 * It calls kn_caller(20) and kn_sum8(1, ..., 8) once, prints the results, and
 * exits when its stdin ends: a test that needs it alive while its events are
 * decoded (user stacks are named from its mappings) keeps stdin open.
 */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int kn_add(int a, int b) { return a + b; }
__attribute__((noinline)) int kn_caller(int n) { return kn_add(n, 22) + 0; }
__attribute__((noinline)) long kn_sum8(long a, long b, long c, long d, long e, long f, long g, long h)
{
	return a + b + c + d + e + f + g + h;
}

int main(void)
{
	int r = kn_caller(20);
	long s = kn_sum8(1, 2, 3, 4, 5, 6, 7, 8);
	char c;

	printf("r %d s %ld\n", r, s);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
