// oneDNN (Apache-2.0, Debian's libdnnl-dev 2.6): only its int8 GEMM, `dnnl_gemm_s8s8s32`, is used
// (VNNI kernels on CPUs that have them), by LeptonEngine's Matmul+Int8.swift.
#include <oneapi/dnnl/dnnl.h>
