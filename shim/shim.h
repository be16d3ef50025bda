/* SPDX-License-Identifier: Apache-2.0 */
/* shim.h: the interposer's internal seams.
 *
 * libgpuvisor.so is loaded with LD_PRELOAD into every process of a vGPU instance. It exports the
 * driver entry points of hooks.def under their ABI names (so programs linked with -lcuda reach it),
 * wraps dlsym (so dlopen("libcuda.so.1") + dlsym reaches it) and wraps cuGetProcAddress (so the
 * CUDA runtime reaches it). Each wrapper charges or reports through instance.c, which maps CUDA
 * devices to the instance region's devices by UUID, then calls the real driver through gvs_real.
 *
 * Rules: nothing runs at load time but what dlsym needs; state is set up on the first call that
 * needs it (gvs_init). No lock is held across a call into the driver. */
#ifndef GVS_SHIM_H
#define GVS_SHIM_H

#include <stdbool.h>
#include <stdint.h>

/* The legacy ABIs (32-bit cuMemAlloc ...) are wrapped too: their PFN typedefs are visible only with
 * __CUDA_API_VERSION_INTERNAL, which also stops cuda.h from renaming functions to their newest ABI.
 * The shim never calls a driver function by its cuda.h name, so the renaming is not missed. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cudaTypedefs.h>

#include "core/limits.h"
#include "core/policy.h"

#define GVS_EXPORT __attribute__((visibility("default")))

/* Real driver functions that the shim calls but does not wrap. */
#define GVS_PLAIN_REALS(X)                                                                         \
    X(cuInit, PFN_cuInit_v2000)                                                                    \
    X(cuDeviceGet, PFN_cuDeviceGet_v2000)                                                          \
    X(cuDeviceGetCount, PFN_cuDeviceGetCount_v2000)                                                \
    X(cuDeviceGetUuid_v2, PFN_cuDeviceGetUuid_v11040)                                              \
    X(cuCtxGetDevice, PFN_cuCtxGetDevice_v2000)                                                    \
    X(cuCtxGetCurrent, PFN_cuCtxGetCurrent_v4000)                                                  \
    X(cuCtxPopCurrent_v2, PFN_cuCtxPopCurrent_v4000)                                               \
    X(cuStreamGetCtx, PFN_cuStreamGetCtx_v9020)                                                    \
    X(cuDevicePrimaryCtxGetState, PFN_cuDevicePrimaryCtxGetState_v7000)                            \
    X(cuMemGetAddressRange_v2, PFN_cuMemGetAddressRange_v3020)                                     \
    X(cuEventCreate, PFN_cuEventCreate_v2000)                                                      \
    X(cuEventRecord, PFN_cuEventRecord_v2000)                                                      \
    X(cuEventQuery, PFN_cuEventQuery_v2000)                                                        \
    X(cuEventElapsedTime_v2, PFN_cuEventElapsedTime_v12080)                                        \
    X(cuEventElapsedTime, PFN_cuEventElapsedTime_v2000)                                            \
    X(cuEventDestroy_v2, PFN_cuEventDestroy_v4000)                                                 \
    X(cuMemPoolGetAttribute, PFN_cuMemPoolGetAttribute_v11020)

struct gvs_real {
#define HOOK(name, version, ptsz, abi, pfn) pfn abi;
#include "shim/hooks.def"
#undef HOOK
#define REAL(abi, pfn) pfn abi;
    GVS_PLAIN_REALS(REAL)
#undef REAL
};

/* The real driver's functions; NULL where the driver lacks one. Valid after gvs_init(). */
extern struct gvs_real gvs_real;

/* Load the real driver and read the configuration, once. Cheap after the first call. Returns
 * false when the real driver cannot be loaded (then wrappers return CUDA_ERROR_NOT_INITIALIZED). */
bool gvs_init(void);

/* The real dlsym, found without going through our own wrapper. */
void *gvs_real_dlsym(void *handle, const char *name);

/* Handles of the real libraries, or NULL while not loaded. */
void *gvs_cuda_handle(void);
void *gvs_nvml_handle(void);

/* Our wrapper for a driver symbol exported under `abi` (e.g. "cuMemAlloc_v2"), or NULL. */
void *gvs_hook_for_symbol(const char *abi);

/* Our wrapper for what cuGetProcAddress(name, version, flags) resolves to, or NULL when the shim
 * does not wrap that name. */
void *gvs_hook_for_request(const char *name, int version, cuuint64_t flags);

/* Our wrapper for an NVML symbol, or NULL. */
void *gvs_nvml_hook_for_symbol(const char *name);

/* ---- instance.c: the instance this process belongs to ---- */

/* Read the configuration (GPUVISOR_INSTANCE, GPUVISOR_MEMORY, the HAMi-core variables) and join
 * the instance, once; later calls return at once. gvs_init calls it, and so do the NVML wrappers,
 * which must work without the CUDA driver. */
void gvs_instance_init(void);

/* Charge `bytes` on CUDA device `dev` (an ordinal of this process). Returns CUDA_SUCCESS or
 * CUDA_ERROR_OUT_OF_MEMORY; the charge is made before the driver is asked. */
CUresult gvs_charge(CUdevice dev, uint64_t bytes);
void gvs_uncharge(CUdevice dev, uint64_t bytes);

/* The current context's device, or -1. */
CUdevice gvs_current_device(void);

/* A charge of `dev` that the driver refused out of memory (the card is full), counted apart from
 * the slice's refusals for `gpuvisor smi`. */
void gvs_driver_oom(CUdevice dev);

/* The slice on `dev`: limit (0 = none) and what the instance uses. Returns 1 when a slice applies,
 * 0 when none does, -1 when this process is refused device memory there altogether (its limits
 * could not be read, or it could not join its instance): it then must see nothing free. */
int gvs_slice(CUdevice dev, uint64_t *limit, uint64_t *used);

/* The slice on the GPU with this UUID (for NVML, whose indices are not CUDA ordinals), whose CUDA
 * ordinal in this process is `ordinal` (-1 when CUDA would not see it). A GPU no member has used
 * yet gets its limit from the configuration. Returns as gvs_slice. */
int gvs_slice_by_uuid(const unsigned char uuid[GV_UUID_LEN], int ordinal, uint64_t *limit,
                      uint64_t *used);

/* Around a driver call that may make this process's first context on `dev` (cuCtxCreate,
 * cuDevicePrimaryCtxRetain): before it, one thread takes the measurement of the GPU's context
 * memory (others wait for it); after it, the memory the call took is counted. `made` says the
 * driver succeeded. No lock is held across the call. */
struct gvs_ctx_watch {
    CUdevice dev;
    int word;        /* the map word this thread marked measuring, 0 when it measures nothing */
    bool configured; /* GPUVISOR_CONTEXT_MEMORY gives the figure */
    bool measured;   /* NVML answered before the call */
    uint64_t before; /* NVML's figure of this process on the GPU before the call */
    uint64_t gen;    /* the process's bytes ever charged on the GPU before the call */
};
void gvs_context_before(CUdevice dev, struct gvs_ctx_watch *w);
/* After a context was made current: count its GPU's context memory if nothing counted it yet. */
void gvs_context_current(void);
void gvs_context_after(struct gvs_ctx_watch *w, bool made);

/* The live members of the instance that hold a slice on the GPU with this UUID: up to `cap` pids
 * and the bytes each holds there (allocations and context). Returns how many there are, or -1 when
 * the GPU is not sliced. */
int gvs_instance_members(const unsigned char uuid[GV_UUID_LEN], unsigned *pids, uint64_t *bytes,
                         int cap);

/* ---- context.c: context memory ---- */

/* The device memory NVML shows of this process on the GPU with this UUID, in *bytes (0 when NVML
 * does not list the process). Returns false when NVML is missing or does not know the GPU. Loads
 * and calls NVML: call it outside any lock, never from a signal handler. */
bool gvs_context_nvml(const uint8_t uuid[GV_UUID_LEN], uint64_t *bytes);

/* ---- compute: GPU-time shares (instance.c, timeshare.c) ---- */

/* Whether any launch of this process may have to wait for the GPU: a compute share was asked for,
 * or the instance has one. Set once by gvs_instance_init; false keeps every launch a straight call.
 */
extern bool gvs_compute_on;

/* The instance's budget and share on CUDA device dev, and the GPU's UUID: 1 when dev has a compute
 * limit, 0 when it has none, -1 when this process must not launch at all (it was asked to be
 * limited but is not in its instance). */
struct gv_budget;
int gvs_compute_slot(CUdevice dev, struct gv_budget **budget, uint32_t *share,
                     uint8_t uuid[GV_UUID_LEN]);

/* gpuvisord's socket when this process's instance is the daemon's (its id in *instance), else
 * NULL: the GPU's turns then go through the daemon. */
const char *gvs_daemon(const char **instance);

/* The instance's compute share on CUDA device dev now (basis points): read each turn, so that a
 * resize by the daemon is followed within a turn. */
uint32_t gvs_compute_share(CUdevice dev);

/* How the instance keeps its share on dev, and its priority there (read each turn; a process in no
 * instance: best-effort, normal). */
void gvs_compute_policy(CUdevice dev, enum gv_policy *policy, enum gv_priority *priority);

/* Whether a share may be given to dev later, with none now: the instance is gpuvisord's, which
 * resizes it, and dev is one of its GPUs. */
bool gvs_compute_watch(CUdevice dev);

/* Count ns that a launch on dev waited for the GPU (for `gpuvisor smi` and the daemon). */
void gvs_count_wait(CUdevice dev, uint64_t ns);

/* The launch gate (timeshare.c): returns CUDA_SUCCESS when the calling thread may launch into
 * `stream` now, after waiting for the token of the stream's GPU if need be. The default streams
 * mean the current context. Call only when gvs_compute_on. */
CUresult gvs_gate(CUstream stream);

/* Around the driver's synchronizing calls on `stream` (a default stream: the current context):
 * after, with nothing of this thread's queued, the holder may give the GPU up early; a holder whose
 * turn was taken over while it waited pays for the wait. */
void gvs_sync_begin(CUstream stream, bool whole_context);
void gvs_sync_end(CUstream stream, bool whole_context);

/* ---- stream.c: where a stream's work runs ---- */

/* The context of `stream` (a default stream: the current one) and its device. Returns 0, or -1
 * when there is none (the driver will say why). Cheap: answers are cached per thread. */
int gvs_stream_where(CUstream stream, CUcontext *ctx, CUdevice *dev);

/* A context or stream was destroyed: forget the cached answers (its handle may come back). */
void gvs_contexts_changed(void);

/* ---- alloc_table.c: what each allocation was charged ---- */

enum gvs_kind { GVS_DEVPTR = 1, GVS_VMM = 2, GVS_ARRAY = 3, GVS_MIPMAP = 4 };

/* What an entry charged: `bytes` on `dev`, made while context `ctx` was current. */
struct gvs_entry {
    uint64_t bytes;
    uint64_t ctx;
    CUdevice dev;
};

/* Remember that object `key` of `kind` charged e->bytes on e->dev, with one reference. A stale
 * entry under the same key (an address the driver freed without our seeing it) is replaced and its
 * charge returned. Returns false when the table cannot grow (the caller then keeps the charge). */
bool gvs_track(enum gvs_kind kind, uint64_t key, const struct gvs_entry *e);

/* Forget `key`, reporting what it charged. Returns false when it was not tracked. */
bool gvs_untrack(enum gvs_kind kind, uint64_t key, struct gvs_entry *e);

/* Add `delta` to the references of `key` (VMM handles: the handle itself, its retains and its
 * mappings). Returns 1 when they reached 0 (the entry is forgotten and *e says what it charged),
 * 0 while references remain, -1 when `key` is not tracked. */
int gvs_ref(enum gvs_kind kind, uint64_t key, int delta, struct gvs_entry *e);

/* Forget every entry made in context `ctx` but VMM handles (which belong to the device), and
 * return their charges: the driver freed them with the context. */
void gvs_forget_ctx(uint64_t ctx);

/* ---- maps.c: VMM mappings and memory pools ---- */

/* Remember that [va, va+size) maps VMM handle `handle`. Returns false when out of memory. */
bool gvs_map_add(uint64_t va, uint64_t size, uint64_t handle);

struct gvs_mapping {
    uint64_t va;
    uint64_t size;
    uint64_t handle;
};

/* Take out the mappings that lie inside [va, va+size), in address order, into *out (malloc'd,
 * for the caller to free). Returns how many; 0 and *out NULL when none, or when out of memory (then
 * nothing is taken out). */
size_t gvs_map_take(uint64_t va, uint64_t size, struct gvs_mapping **out);

/* ---- pools.c: stream-ordered memory, charged what its pools hold ---- */

/* Where pool `pool` puts its memory. Returns false when the pool was never seen (the driver API
 * has no call that says, so pools are remembered as they are made or handed out). */
bool gvs_pool_location(uint64_t pool, CUmemLocation *loc);
void gvs_pool_remember(uint64_t pool, const CUmemLocation *loc);

/* `pool` was imported from another process, which is charged for it: never charged here. */
void gvs_pool_imported(uint64_t pool, const CUmemLocation *loc);

enum gvs_pool_charge {
    GVS_POOL_CHARGED,   /* charged as pending: call the driver, then gvs_pool_settle */
    GVS_POOL_REFUSED,   /* it would pass the slice, even after trimming: out of memory */
    GVS_POOL_FREE,      /* an imported pool: call the driver, nothing to charge */
    GVS_POOL_UNTRACKED, /* the pool cannot be kept in the books: charge the request by itself */
};

/* Before the driver is asked for `bytes` from `pool`, which is on CUDA device `dev`: charge the
 * most the request can grow the pool by. */
enum gvs_pool_charge gvs_pool_charge(uint64_t pool, CUdevice dev, uint64_t bytes);

/* After the driver answered a request that gvs_pool_charge charged: the pool is charged what it
 * reserves now. CUDA_ERROR_OUT_OF_MEMORY when the pool grew by more than was charged and the
 * slice has no room: the caller gives the allocation back. */
CUresult gvs_pool_settle(uint64_t pool, uint64_t bytes, bool allocated);

/* Read the pools on `dev` (-1: every device; `only`: that pool alone, 0: all) again and lower
 * their charges to what they hold. Returns the bytes returned. Calls the driver: no lock held. */
uint64_t gvs_pools_reread(CUdevice dev, uint64_t only);

/* A charge on `dev` would pass the slice: trim the process's own pools there to what is in use,
 * and lower their charges. Returns whether anything was returned. */
bool gvs_pools_trim(CUdevice dev);

/* `pool` was destroyed; `kept`, what its blocks in use still hold on the device, stays charged. */
void gvs_pool_destroyed(uint64_t pool, uint64_t kept);

#endif
