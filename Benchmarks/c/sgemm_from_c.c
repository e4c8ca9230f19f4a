/* OpenBLAS cblas_sgemm called from C: the baseline of the engine's GEMM goal (>= 90 % of this).
 *
 * Build and run (same thread count as `lepton-bench kernels --threads N`):
 *   cc -O2 -o /tmp/sgemm_from_c Benchmarks/c/sgemm_from_c.c $(pkg-config --cflags --libs openblas)
 *   OPENBLAS_CORETYPE=SkylakeX /tmp/sgemm_from_c 2     # threads; prints one JSON object on stdout
 * Set OPENBLAS_CORETYPE to the kernel family `lepton-bench kernels` reports ("OpenBLAS … kernels"):
 * Debian's OpenBLAS 0.3.21 misdetects some virtualised Intel CPUs and falls back to its SSE3
 * "Prescott" kernels (4–5x slower); the engine corrects that at start-up, a plain C program does not.
 * Timing as lepton-bench: warm-up, inner loop of >= 0.2 s, 5 repeats, median and best wall time,
 * and process CPU time per call (clock(), all threads).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    openblas_set_num_threads(threads);
    int sizes[] = {128, 256, 512, 1024, 2048};
    printf("{\"benchmark\": \"sgemm_from_c\", \"threads\": %d, \"sgemm\": [", threads);
    for (int s = 0; s < 5; s++) {
        int n = sizes[s];
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
        srand(1);
        for (int i = 0; i < n * n; i++) { a[i] = (float)rand() / RAND_MAX - 0.5f; b[i] = (float)rand() / RAND_MAX - 0.5f; }
        usleep(200000);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double one = now() - t0; if (one < 1e-7) one = 1e-7;
        int inner = (int)(0.2 / one) + 1;
        double times[5];
        clock_t c0 = clock();
        for (int r = 0; r < 5; r++) {
            double st = now();
            for (int i = 0; i < inner; i++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            times[r] = (now() - st) / inner;
        }
        double cpu_ms = (double)(clock() - c0) / CLOCKS_PER_SEC / (5.0 * inner) * 1e3;
        qsort(times, 5, sizeof(double), cmp);
        double flop = 2.0 * n * n * n;
        printf("%s{\"n\": %d, \"gflops_median\": %.2f, \"gflops_best\": %.2f, \"median_ms\": %.4f, \"cpu_ms_per_call\": %.4f}", s ? ", " : "", n,
               flop / times[2] * 1e-9, flop / times[0] * 1e-9, times[2] * 1e3, cpu_ms);
        fflush(stdout);
        free(a); free(b); free(c);
    }
    printf("]}\n");
    return 0;
}
