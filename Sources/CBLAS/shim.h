#include <cblas.h>

/* LAPACK's symmetric eigensolver (divide and conquer), exported by libopenblas, whose Debian -dev
   package ships no LAPACK header: the engine's symmetric matrix square root (Fréchet distance). */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
