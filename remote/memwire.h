/* SPDX-License-Identifier: Apache-2.0 */
/* memwire.h: the bytes of the driver structures that memory calls carry in one byte-string field
 * (ops.def "b"): memory locations, allocation and pool properties, access lists and array
 * descriptors. Both sides read and write them here, so each layout is written once.
 *
 * Every field is a little-endian u32 or u64 (wire.h), never the C structure itself: a structure's
 * padding and pointers (the Windows-only security attributes, which must be NULL on Linux) do not
 * travel. A reader that finds a field missing or bytes left over refuses the whole structure. */
#ifndef GVM_MEMWIRE_H
#define GVM_MEMWIRE_H

#include <string.h>

#include <cuda.h>

#include "remote/wire.h"

/* A location: {u32 type, u32 id}. */
static inline void gvm_put_location(struct gvw_buf *b, const CUmemLocation *l)
{
    gvw_put_u32(b, (uint32_t)l->type);
    gvw_put_u32(b, (uint32_t)l->id);
}

static inline void gvm_get_location(struct gvw_rd *r, CUmemLocation *l)
{
    l->type = (CUmemLocationType)gvw_u32(r);
    l->id = (int)gvw_u32(r);
}

/* An allocation's properties (cuMemCreate): type, requested handle types, location, then the
 * allocation flags compressionType, gpuDirectRDMACapable and usage. */
static inline void gvm_put_prop(struct gvw_buf *b, const CUmemAllocationProp *p)
{
    gvw_put_u32(b, (uint32_t)p->type);
    gvw_put_u32(b, (uint32_t)p->requestedHandleTypes);
    gvm_put_location(b, &p->location);
    gvw_put_u32(b, p->allocFlags.compressionType);
    gvw_put_u32(b, p->allocFlags.gpuDirectRDMACapable);
    gvw_put_u32(b, p->allocFlags.usage);
}

static inline void gvm_get_prop(struct gvw_rd *r, CUmemAllocationProp *p)
{
    memset(p, 0, sizeof(*p));
    p->type = (CUmemAllocationType)gvw_u32(r);
    p->requestedHandleTypes = (CUmemAllocationHandleType)gvw_u32(r);
    gvm_get_location(r, &p->location);
    p->allocFlags.compressionType = (unsigned char)gvw_u32(r);
    p->allocFlags.gpuDirectRDMACapable = (unsigned char)gvw_u32(r);
    p->allocFlags.usage = (unsigned short)gvw_u32(r);
}

/* A pool's properties (cuMemPoolCreate): allocation type, handle types, location, u64 maximum
 * size, usage. */
static inline void gvm_put_pool_props(struct gvw_buf *b, const CUmemPoolProps *p)
{
    gvw_put_u32(b, (uint32_t)p->allocType);
    gvw_put_u32(b, (uint32_t)p->handleTypes);
    gvm_put_location(b, &p->location);
    gvw_put_u64(b, p->maxSize);
    gvw_put_u32(b, p->usage);
}

static inline void gvm_get_pool_props(struct gvw_rd *r, CUmemPoolProps *p)
{
    memset(p, 0, sizeof(*p));
    p->allocType = (CUmemAllocationType)gvw_u32(r);
    p->handleTypes = (CUmemAllocationHandleType)gvw_u32(r);
    gvm_get_location(r, &p->location);
    p->maxSize = (size_t)gvw_u64(r);
    p->usage = (unsigned short)gvw_u32(r);
}

/* An access list: per entry its location and u32 flags. */
#define GVM_ACCESS_BYTES 12u
/* The most entries a list may have (far more than devices in a machine). */
#define GVM_ACCESS_MAX 1024u

static inline void gvm_put_access(struct gvw_buf *b, const CUmemAccessDesc *d, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        gvm_put_location(b, &d[i].location);
        gvw_put_u32(b, (uint32_t)d[i].flags);
    }
}

/* Read a list of bytes n into out[GVM_ACCESS_MAX]; returns the count, or -1 when malformed. */
static inline long gvm_get_access(const void *p, size_t n, CUmemAccessDesc *out)
{
    if (n % GVM_ACCESS_BYTES || n / GVM_ACCESS_BYTES > GVM_ACCESS_MAX)
        return -1;
    struct gvw_rd r;
    gvw_rd_init(&r, p, n);
    size_t count = n / GVM_ACCESS_BYTES;
    for (size_t i = 0; i < count; i++) {
        gvm_get_location(&r, &out[i].location);
        out[i].flags = (CUmemAccess_flags)gvw_u32(&r);
    }
    return gvw_done(&r) ? (long)count : -1;
}

/* An array's descriptor, in its 3D form for every kind of array: u64 width, height, depth, then
 * u32 format, channels and flags. */
static inline void gvm_put_array(struct gvw_buf *b, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    gvw_put_u64(b, d->Width);
    gvw_put_u64(b, d->Height);
    gvw_put_u64(b, d->Depth);
    gvw_put_u32(b, (uint32_t)d->Format);
    gvw_put_u32(b, d->NumChannels);
    gvw_put_u32(b, d->Flags);
}

static inline void gvm_get_array(struct gvw_rd *r, CUDA_ARRAY3D_DESCRIPTOR *d)
{
    memset(d, 0, sizeof(*d));
    d->Width = (size_t)gvw_u64(r);
    d->Height = (size_t)gvw_u64(r);
    d->Depth = (size_t)gvw_u64(r);
    d->Format = (CUarray_format)gvw_u32(r);
    d->NumChannels = gvw_u32(r);
    d->Flags = gvw_u32(r);
}

/* A pointer attribute's value, as the driver wrote it: at most this many bytes (the largest,
 * CU_POINTER_ATTRIBUTE_P2P_TOKENS, is a 16-byte structure). */
#define GVM_ATTR_BYTES 16u

#endif
