/* SPDX-License-Identifier: Apache-2.0 */
/* hooks_launch.c: every kind of launch passes through here, so that the instance's GPU-time budget
 * can act on it, and so do the synchronizing calls, after which a holder of the GPU's token may
 * give it up early (timeshare.c) and the pools' charges are read again (pools.c). With no compute
 * limit in the process a launch is a straight call to the driver: one predictable branch on top
 * of the call.
 *
 * A launch waits at the gate before the driver is asked, so a launch the driver then refuses has
 * still taken its turn; and a launch of an entry point this driver lacks (a graph launch on a
 * driver without graphs) passes the gate too before it is answered CUDA_ERROR_NOT_SUPPORTED.
 *
 * A launch waits for the turn of its stream's GPU (shim/stream.c), whatever context is current;
 * the calls without a stream (cuLaunch, cuLaunchGrid) launch into the current context. */
#include "shim/hooks.h"

#define PASS(stream, abi, ...)                                                                     \
    do {                                                                                           \
        if (__builtin_expect(!gvs_init(), 0))                                                      \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
        if (__builtin_expect(gvs_compute_on, 0)) {                                                 \
            CUresult gate_ = gvs_gate(stream);                                                     \
            if (gate_ != CUDA_SUCCESS)                                                             \
                return gate_;                                                                      \
        }                                                                                          \
        if (__builtin_expect(!gvs_real.abi, 0))                                                    \
            return CUDA_ERROR_NOT_SUPPORTED;                                                       \
        return gvs_real.abi(__VA_ARGS__);                                                          \
    } while (0)

/* After a synchronizing call the driver may have given pool memory back to the device (frees the
 * stream reached, memory above a pool's release threshold): the pools' charges follow. */
#define SYNC(whole, stream, abi, ...)                                                              \
    do {                                                                                           \
        if (__builtin_expect(!gvs_init() || !gvs_real.abi, 0))                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
        if (gvs_compute_on)                                                                        \
            gvs_sync_begin(stream, whole);                                                                \
        CUresult r_ = gvs_real.abi(__VA_ARGS__);                                                   \
        if (gvs_compute_on)                                                                        \
            gvs_sync_end(stream, whole &&r_ == CUDA_SUCCESS);                                      \
        gvs_pools_reread(-1, 0);                                                                   \
        return r_;                                                                                 \
    } while (0)

CUresult gvs_cuCtxSynchronize(void)
{
    SYNC(true, NULL, cuCtxSynchronize);
}

/* cuCtxSynchronize_v2 names its context, which need not be the current one: not counted as a
 * drain, and looked at on the current device. */
CUresult gvs_cuCtxSynchronize_v2(CUcontext ctx)
{
    SYNC(false, NULL, cuCtxSynchronize_v2, ctx);
}

CUresult gvs_cuStreamSynchronize(CUstream s)
{
    SYNC(false, s, cuStreamSynchronize, s);
}

CUresult gvs_cuStreamSynchronize_ptsz(CUstream s)
{
    SYNC(false, s, cuStreamSynchronize_ptsz, s);
}

CUresult gvs_cuEventSynchronize(CUevent e)
{
    SYNC(false, NULL, cuEventSynchronize, e);
}

CUresult gvs_cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                            unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
                            CUstream s, void **params, void **extra)
{
    PASS(s, cuLaunchKernel, f, gx, gy, gz, bx, by, bz, shmem, s, params, extra);
}

CUresult gvs_cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                 unsigned int bx, unsigned int by, unsigned int bz,
                                 unsigned int shmem, CUstream s, void **params, void **extra)
{
    PASS(s, cuLaunchKernel_ptsz, f, gx, gy, gz, bx, by, bz, shmem, s, params, extra);
}

CUresult gvs_cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params,
                              void **extra)
{
    PASS(config ? config->hStream : NULL, cuLaunchKernelEx, config, f, params, extra);
}

CUresult gvs_cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **params,
                                   void **extra)
{
    PASS(config ? config->hStream : NULL, cuLaunchKernelEx_ptsz, config, f, params, extra);
}

CUresult gvs_cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                       unsigned int gz, unsigned int bx, unsigned int by,
                                       unsigned int bz, unsigned int shmem, CUstream s,
                                       void **params)
{
    PASS(s, cuLaunchCooperativeKernel, f, gx, gy, gz, bx, by, bz, shmem, s, params);
}

CUresult gvs_cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                            unsigned int gz, unsigned int bx, unsigned int by,
                                            unsigned int bz, unsigned int shmem, CUstream s,
                                            void **params)
{
    PASS(s, cuLaunchCooperativeKernel_ptsz, f, gx, gy, gz, bx, by, bz, shmem, s, params);
}

/* The deprecated launch calls still reach the GPU, so they wait at the gate like the others. */
CUresult gvs_cuLaunch(CUfunction f)
{
    PASS(NULL, cuLaunch, f);
}

CUresult gvs_cuLaunchGrid(CUfunction f, int w, int h)
{
    PASS(NULL, cuLaunchGrid, f, w, h);
}

CUresult gvs_cuLaunchGridAsync(CUfunction f, int w, int h, CUstream s)
{
    PASS(s, cuLaunchGridAsync, f, w, h, s);
}

/* Gated on the calling thread's current device only: the launches on the other devices of the
 * list are not held to their devices' turns (a documented limit). */
CUresult gvs_cuLaunchCooperativeKernelMultiDevice(CUDA_LAUNCH_PARAMS *list, unsigned int n,
                                                  unsigned int flags)
{
    PASS(NULL, cuLaunchCooperativeKernelMultiDevice, list, n, flags);
}

CUresult gvs_cuGraphLaunch(CUgraphExec g, CUstream s)
{
    PASS(s, cuGraphLaunch, g, s);
}

CUresult gvs_cuGraphLaunch_ptsz(CUgraphExec g, CUstream s)
{
    PASS(s, cuGraphLaunch_ptsz, g, s);
}
