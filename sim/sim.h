/* SPDX-License-Identifier: Apache-2.0 */
/* sim.h: the simulator's internal seams.
 *
 * The simulated driver is three parts behind one libcuda.so.1 (and a fourth, libnvidia-ml.so.1):
 *   machine.c  the simulated machine shared by every process that names it: devices, memory in use
 *              per process, device time per process, dead-process reclaim. Lives in one
 * shared-memory file per machine name; every process maps it. engine.c   execution: per-process
 * device queues (streams), events with device timestamps, and the per-device round-robin scheduler
 * that time-slices device time between processes. cuda_*.c   the driver API surface: resources
 * (init, devices, contexts, memory) and execution (streams, events, copies, sets, modules,
 * launches), plus cuGetProcAddress. nvml.c     libnvidia-ml.so.1, reading the same machine.
 *
 * The machine file is the only state shared between processes. Device pointers are addresses in
 * the owning process (memory is host memory mapped MAP_NORESERVE), so copies are memcpy. */
#ifndef GVSIM_SIM_H
#define GVSIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cuda.h>

#include "core/catalogue.h"
#include "core/clock.h"
#include "core/uuid.h"

#define GVSIM_MAX_DEVICES           16
#define GVSIM_MAX_PROCS             256
#define GVSIM_DRIVER_VERSION        13000
#define GVSIM_DRIVER_VERSION_STRING "580.65.06"

/* ---------------------------------------------------------------- machine.c */

struct gvsim_dev_info {
    const struct gv_model *model;
    int index; /* position in GPUVISOR_SIM_GPUS; also the NVML index (PCI order) */
    unsigned char uuid[GV_UUID_LEN]; /* stable: derived from machine name and index */
    char uuid_str[GV_UUID_TEXT];     /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
    char bus_id[32];                 /* "00000000:41:00.0" (NVML form, 8-digit domain) */
    unsigned pci_domain, pci_bus, pci_device;
    uint64_t total; /* bytes */
};

struct gvsim_proc_usage {
    pid_t pid;
    uint64_t mem;     /* bytes of device memory this process holds on the device */
    uint64_t busy_ns; /* device time this process has used on the device, since it started */
};

/* Map the machine named by GPUVISOR_SIM_MACHINE (default "user-<uid>") with the devices of
 * GPUVISOR_SIM_GPUS (default "T4"), creating it if this is the first process, and take a process
 * slot. Idempotent and thread-safe. A bad variable: CUDA_ERROR_INVALID_VALUE and one line on
 * stderr saying why. Both libraries call it (cuInit, nvmlInit). */
CUresult gvsim_attach(void);
bool gvsim_attached(void);

/* Map the machine without taking a process slot (libnvidia-ml: observing is not using the GPU).
 * Same configuration rules and errors as gvsim_attach. */
CUresult gvsim_attach_observer(void);

int gvsim_device_count(void);
const struct gvsim_dev_info *gvsim_dev(int index); /* NULL when out of range */

/* Memory in use on a device, counted per process. charge fails with -ENOMEM (and changes nothing)
 * when the device has less than `bytes` free; it is atomic against other processes. Usage of dead
 * processes is reclaimed before any figure is computed. */
int gvsim_mem_charge(int dev, uint64_t bytes);
void gvsim_mem_uncharge(int dev, uint64_t bytes);
void gvsim_mem_info(int dev, uint64_t *free_bytes, uint64_t *used_bytes, uint64_t *total);

/* Processes holding memory or a context on a device: fills up to `cap` records, returns how many
 * exist (may exceed cap). */
int gvsim_dev_processes(int dev, struct gvsim_proc_usage *out, int cap);

/* Register / unregister this process as having a context on `dev` (for NVML's process list). */
void gvsim_ctx_attach_dev(int dev);
void gvsim_ctx_detach_dev(int dev);

/* Device busy fraction over the last sample window (about one second), in percent. */
unsigned gvsim_dev_utilization(int dev);

/* Device time used by this process on `dev` (engine.c adds to it as work runs). */
void gvsim_busy_add(int dev, uint64_t ns);

/* ---------------------------------------------------------------- engine.c */

/* A stream: a FIFO of operations on one device, executed by this process's worker for the device,
 * in order, asynchronously to the caller. All streams of a process on one device share the device
 * as the GPU does: one kernel at a time, time-sliced against other processes. */
struct gvsim_stream;
struct gvsim_event;
struct gvsim_ctx;

/* The stream a CUstream handle names in `ctx` (NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD map
 * to the context's default stream; `per_thread` selects the per-thread default for NULL, as the
 * _ptsz/_ptds entry points do). Returns NULL for a handle that is not a live stream. */
struct gvsim_stream *gvsim_stream_resolve(struct gvsim_ctx *ctx, CUstream h, bool per_thread);

/* Wait until every stream of the context is idle (cuCtxSynchronize) and, for teardown, destroy
 * them all (context destroy, primary-context reset). Reports the first sticky error. */
CUresult gvsim_ctx_sync(struct gvsim_ctx *ctx);
void gvsim_ctx_drop_streams(struct gvsim_ctx *ctx);

/* Run fn(arg) on the stream's timeline once the work ahead of it is done (stream-ordered frees).
 * Takes no device time. */
CUresult gvsim_stream_host_op(struct gvsim_stream *s, void (*fn)(void *), void *arg);

/* ---------------------------------------------------------------- cuda_ctx.c, cuda_mem.c */

#define GVSIM_CTX_MAGIC 0x67766378u /* "gvcx" */

struct gvsim_ctx {
    uint32_t magic; /* GVSIM_CTX_MAGIC while alive; 0 after destroy */
    int dev;
    unsigned flags;
    bool primary;
    int refs;                        /* primary: retain count */
    bool active;                     /* primary: created and not reset */
    struct gvsim_engine_ctx *engine; /* engine.c's per-context state (streams), created lazily */
    void *mem;                       /* cuda_mem.c's per-context state, created lazily */
};

/* The calling thread's current context (CUDA_ERROR_INVALID_CONTEXT when none, and
 * CUDA_ERROR_NOT_INITIALIZED before cuInit). */
CUresult gvsim_current(struct gvsim_ctx **ctx);
bool gvsim_ctx_valid(const struct gvsim_ctx *ctx);

/* Check that [ptr, ptr+len) lies inside one live allocation this process made (device, managed,
 * pinned host or mapped VMM memory) and report the device it is on (-1 for host memory).
 * Returns CUDA_SUCCESS or CUDA_ERROR_INVALID_VALUE. Copies and kernels call it on every pointer. */
CUresult gvsim_ptr_check(CUdeviceptr ptr, size_t len, int *dev);

/* ---------------------------------------------------------------- cuda_init.c, cuda_mem.c (added)
 */

/* Compile-time check that an exported entry point has exactly the signature of the toolkit's PFN
 * typedef (cudaTypedefs.h) for its ABI version: GVSIM_ABI(cuMemAlloc_v2, PFN_cuMemAlloc_v3020). */
#define GVSIM_ABI(fn, pfn)                                                                         \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&fn), pfn), #fn " does not "            \
                                                                           "match " #pfn)

/* CUDA_SUCCESS once cuInit has succeeded in this process, CUDA_ERROR_NOT_INITIALIZED before. */
CUresult gvsim_init_check(void);

/* Device memory a process's contexts take on a device, outside any allocation
 * (GPUVISOR_SIM_CONTEXT_MEMORY, read by cuInit; 0 by default). */
uint64_t gvsim_context_memory(void);

/* The device behind a CUdevice ordinal: CUDA_ERROR_NOT_INITIALIZED before cuInit,
 * CUDA_ERROR_INVALID_DEVICE out of range. `info` may be NULL. */
CUresult gvsim_dev_check(CUdevice dev, const struct gvsim_dev_info **info);

/* Free everything cuda_mem.c holds for a context (allocations, pools, VMM handles, arrays) and
 * uncharge it; ctx->mem is NULL afterwards. Context destroy and primary-context reset call it
 * after the context's streams are gone. */
void gvsim_mem_ctx_release(struct gvsim_ctx *ctx);

/* The bytes behind a live CUDA array (copies to and from arrays): NULL for a handle that is not
 * one, else its data and, in *bytes, its size. */
void *gvsim_array_data(CUarray array, size_t *bytes);

/* ---------------------------------------------------------------- machine.c, for engine.c (added)
 */

/* This process's slot in the machine (taken on first use, and afresh in a forked child); -1 when
 * not attached, observing only, or every slot is taken. */
int gvsim_self_slot(void);

/* Whether the process that holds `slot` is alive (same pid and start time, not a zombie). */
bool gvsim_slot_alive(int slot);

/* This process has (or no longer has) work queued for `dev`, for the scheduler's round robin. The
 * flag lives in the process's slot, so it vanishes with the slot when the process dies. */
void gvsim_slot_want(int dev, bool want);

/* The next live slot after `after`, in round-robin order, that wants `dev`; -1 when none other. */
int gvsim_next_wanting(int dev, int after);

/* engine.c's scheduler record for `dev`: GVSIM_SCHED_BYTES bytes in the machine file, zero when the
 * machine is created, guarded by a robust process-shared mutex (held only for short sections). */
#define GVSIM_SCHED_BYTES 256
void *gvsim_sched_record(int dev);
void gvsim_sched_lock(int dev);
void gvsim_sched_unlock(int dev);

/* ---------------------------------------------------------------- engine.c, for cuda_exec.c
 * (added) */

/* Queue device work on s: when it reaches the device, fn(arg) runs once (the work's effect: a copy,
 * a fill; fn may be NULL), then the work holds the device for cost_ns of device time, time-sliced
 * against other processes. arg is freed with free() once the work is done, or at once on failure.
 * CUDA_ERROR_INVALID_HANDLE when s is no longer a live stream. */
CUresult gvsim_stream_work(struct gvsim_stream *s, uint64_t cost_ns, void (*fn)(void *), void *arg);

/* Wait until everything queued on s so far has completed. */
CUresult gvsim_stream_sync(struct gvsim_stream *s);

/* The device a stream runs on. */
int gvsim_stream_dev(const struct gvsim_stream *s);

#endif
