/* hooks_launch.c: every kind of launch passes through here, so that the instance's GPU-time budget
 * can act on it. With no compute limit a launch is a straight call to the driver: one predictable
 * branch on top of the call. */
#include "shim/hooks.h"

#define PASS(abi, ...)                                                                             \
    do {                                                                                           \
        if (__builtin_expect(!gvs_init() || !gvs_real.abi, 0))                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
        return gvs_real.abi(__VA_ARGS__);                                                          \
    } while (0)

CUresult gvs_cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                            unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
                            CUstream s, void **params, void **extra)
{
    PASS(cuLaunchKernel, f, gx, gy, gz, bx, by, bz, shmem, s, params, extra);
}

CUresult gvs_cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                 unsigned int bx, unsigned int by, unsigned int bz,
                                 unsigned int shmem, CUstream s, void **params, void **extra)
{
    PASS(cuLaunchKernel_ptsz, f, gx, gy, gz, bx, by, bz, shmem, s, params, extra);
}

CUresult gvs_cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params,
                              void **extra)
{
    PASS(cuLaunchKernelEx, config, f, params, extra);
}

CUresult gvs_cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **params,
                                   void **extra)
{
    PASS(cuLaunchKernelEx_ptsz, config, f, params, extra);
}

CUresult gvs_cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                       unsigned int gz, unsigned int bx, unsigned int by,
                                       unsigned int bz, unsigned int shmem, CUstream s,
                                       void **params)
{
    PASS(cuLaunchCooperativeKernel, f, gx, gy, gz, bx, by, bz, shmem, s, params);
}

CUresult gvs_cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                            unsigned int gz, unsigned int bx, unsigned int by,
                                            unsigned int bz, unsigned int shmem, CUstream s,
                                            void **params)
{
    PASS(cuLaunchCooperativeKernel_ptsz, f, gx, gy, gz, bx, by, bz, shmem, s, params);
}

CUresult gvs_cuGraphLaunch(CUgraphExec g, CUstream s)
{
    PASS(cuGraphLaunch, g, s);
}

CUresult gvs_cuGraphLaunch_ptsz(CUgraphExec g, CUstream s)
{
    PASS(cuGraphLaunch_ptsz, g, s);
}
