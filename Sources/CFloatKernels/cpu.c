#include "CFloatKernels.h"

#if defined(__x86_64__)
int tfr_float_avx_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") ? 1 : 0;
}
#else
int tfr_float_avx_available(void) { return 0; }
#endif
