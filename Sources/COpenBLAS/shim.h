#ifndef REACHGUARD_COPENBLAS_SHIM_H
#define REACHGUARD_COPENBLAS_SHIM_H
// CBLAS from Debian's libopenblas-dev (the include path comes from openblas.pc).
#include <cblas.h>

// LAPACK: Debian's libopenblas bundles LAPACK but ships no LAPACKE header in
// libopenblas-dev, so the two Fortran routines we use are declared here
// (column-major, all arguments by pointer, hidden string lengths omitted as the
// reference LAPACK ABI allows for single-character arguments).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
             const int *lda, double *b, const int *ldb, int *info);
#endif
