#include "CInt8Kernels.h"

#if defined(__x86_64__)
int tfr_int8_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
int tfr_int8_avx2_available(void) { return 0; }
#endif
