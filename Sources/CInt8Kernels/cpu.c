#include "CInt8Kernels.h"

#if defined(__x86_64__)
int tfr_int8_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
int tfr_int8_avx2_available(void) { return 0; }
#endif

#if defined(__x86_64__)
int tfr_int8_vnni512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
}
#else
int tfr_int8_vnni512_available(void) { return 0; }
#endif
