/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_mem.h (remote/client): what the copies need to know of the memory calls.
 *
 * A remote process has no unified address space with its GPU: a device pointer is an address in
 * the server's session, a host pointer one of ours, and nothing tells them apart but where they
 * came from. So the client records every device range the server handed it (allocations, pitched
 * and stream-ordered ones, pool blocks, VMM mappings), and cuMemcpy asks here which side each of
 * its pointers is on. */
#ifndef GVRC_CUDA_MEM_H
#define GVRC_CUDA_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "remote/client/cuda.h"

/* Whether p lies in device memory the server handed this process (and it has not freed). */
bool rc_devmem_has(uint64_t p);

/* Whether [p, p+n) lies inside one such range. A copy or fill that fails this would fail on the
 * server too: it is refused here, before any of its bytes travel. */
bool rc_devmem_holds(uint64_t p, uint64_t n);

/* A context was destroyed, or a primary context released for good or reset: the driver freed
 * the memory allocated in it, so its ranges are forgotten (a later free or copy naming them is
 * refused at the call, as the driver would refuse it). */
void rc_devmem_drop_ctx(uint64_t ctx);

/* The stream to send for a call's stream argument: the per-thread default stream's entry points
 * (_ptsz, _ptds) mean CU_STREAM_PER_THREAD by the null stream. The server serves every client
 * thread on one thread of its own, so the client's threads share one per-thread stream there. */
static inline uint64_t rc_stream_arg(CUstream st, bool per_thread)
{
    if (!st && per_thread)
        st = CU_STREAM_PER_THREAD;
    return (uint64_t)(uintptr_t)st;
}

#endif
