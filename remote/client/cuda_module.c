/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_module.c: modules, functions and launches.
 *
 * A module's image is sent whole; its size is read from the image itself (an ELF cubin's headers,
 * a fat binary's header, or a text image's terminator). A function's parameter layout comes back
 * with the function, so that a launch packs its kernelParams into one buffer; launches are queued
 * without a reply. */
#include "remote/client/cuda.h"

#include <elf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The largest image the client sends. */
#define MAX_IMAGE (1ull << 30)
#define FATBIN_MAGIC 0xba55ed50u

/* The bytes of an image, or 0 when its kind is unknown. */
static size_t image_size(const void *image)
{
    const unsigned char *p = image;
    if (memcmp(p, ELFMAG, SELFMAG) == 0 && p[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        memcpy(&eh, p, sizeof(eh));
        uint64_t end = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
        uint64_t ph = eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize;
        if (ph > end)
            end = ph;
        for (unsigned i = 0; i < eh.e_shnum && eh.e_shentsize >= sizeof(Elf64_Shdr); i++) {
            Elf64_Shdr sh;
            memcpy(&sh, p + eh.e_shoff + (uint64_t)i * eh.e_shentsize, sizeof(sh));
            if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end)
                end = sh.sh_offset + sh.sh_size;
        }
        return end <= MAX_IMAGE ? (size_t)end : 0;
    }
    uint32_t magic;
    memcpy(&magic, p, sizeof(magic));
    if (magic == FATBIN_MAGIC) {
        uint16_t hsize;
        uint64_t fsize;
        memcpy(&hsize, p + 6, sizeof(hsize));
        memcpy(&fsize, p + 8, sizeof(fsize));
        uint64_t end = hsize + fsize;
        return end <= MAX_IMAGE ? (size_t)end : 0;
    }
    /* Text (PTX, or the simulator's images): up to and with its terminator. */
    size_t n = strnlen(image, MAX_IMAGE);
    return n < MAX_IMAGE ? n + 1 : 0;
}

CUresult RC_API cuModuleLoadData(CUmodule *module, const void *image)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!module || !image)
        return CUDA_ERROR_INVALID_VALUE;
    size_t n = image_size(image);
    if (!n)
        return CUDA_ERROR_INVALID_IMAGE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MODULE_LOAD);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, n);
    r = rc_send_bulk(&c, image, n, true);
    if (r == CUDA_SUCCESS)
        *module = (CUmodule)(uintptr_t)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                   CUjit_option *options, void **optionValues)
{
    (void)numOptions, (void)options, (void)optionValues;
    return cuModuleLoadData(module, image);
}

/* ---- parameter layouts ---- */

struct layout {
    uint64_t f;
    uint32_t n;         /* parameters */
    uint32_t *pairs;    /* offset, size per parameter */
    struct layout *next;
};

static pthread_mutex_t lay_mu = PTHREAD_MUTEX_INITIALIZER;
#define LAY_BUCKETS 256
static struct layout *lay[LAY_BUCKETS];

static unsigned bucket(uint64_t f)
{
    return (unsigned)((f >> 4) ^ (f >> 12)) & (LAY_BUCKETS - 1);
}

void rc_func_layout_set(uint64_t f, const void *pairs, size_t n)
{
    struct gvw_rd rd;
    gvw_rd_init(&rd, pairs, n);
    uint32_t count = (uint32_t)(n / 8);
    uint32_t *v = count ? malloc(count * 2 * sizeof(*v)) : NULL;
    if (count && !v)
        return;
    for (uint32_t i = 0; i < 2 * count; i++)
        v[i] = gvw_u32(&rd);
    pthread_mutex_lock(&lay_mu);
    struct layout **pp = &lay[bucket(f)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->f == f)
            break;
    struct layout *l = *pp;
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l) {
            pthread_mutex_unlock(&lay_mu);
            free(v);
            return;
        }
        l->f = f;
        *pp = l;
    }
    free(l->pairs);
    l->pairs = v;
    l->n = count;
    pthread_mutex_unlock(&lay_mu);
}

CUresult rc_pack_params(uint64_t f, void **kernelParams, void **extra, const void **buf,
                        size_t *len, bool *owned)
{
    *buf = NULL;
    *len = 0;
    *owned = false;
    if (extra) {
        if (kernelParams)
            return CUDA_ERROR_INVALID_VALUE;
        const void *p = NULL;
        size_t size = 0;
        for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
                p = extra[i + 1];
            else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1])
                size = *(const size_t *)extra[i + 1];
            else
                return CUDA_ERROR_INVALID_VALUE;
        }
        if (!p && size)
            return CUDA_ERROR_INVALID_VALUE;
        *buf = p;
        *len = size;
        return CUDA_SUCCESS;
    }
    pthread_mutex_lock(&lay_mu);
    struct layout *l = lay[bucket(f)];
    while (l && l->f != f)
        l = l->next;
    if (!l) {
        pthread_mutex_unlock(&lay_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < l->n; i++)
        if ((size_t)l->pairs[2 * i] + l->pairs[2 * i + 1] > total)
            total = (size_t)l->pairs[2 * i] + l->pairs[2 * i + 1];
    if (l->n && !kernelParams) {
        pthread_mutex_unlock(&lay_mu);
        return CUDA_ERROR_INVALID_VALUE;
    }
    uint8_t *p = total ? calloc(1, total) : NULL;
    if (total && !p) {
        pthread_mutex_unlock(&lay_mu);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < l->n; i++)
        memcpy(p + l->pairs[2 * i], kernelParams[i], l->pairs[2 * i + 1]);
    pthread_mutex_unlock(&lay_mu);
    *buf = p;
    *len = total;
    *owned = true;
    return CUDA_SUCCESS;
}

CUresult RC_API cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    size_t nl = strlen(name);
    if (nl > GVW_MAX_TEXT)
        return CUDA_ERROR_NOT_FOUND;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MODULE_GET_FUNCTION);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)hmod);
    gvw_put_bytes(c.b, name, nl);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        rc_func_layout_set(c.r.v[1], c.r.p[2], c.r.n[2]);
        *hfunc = (CUfunction)(uintptr_t)c.r.v[1];
    }
    return rc_end(&c, r);
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, unsigned shmem, CUstream st, unsigned kind,
                       void **kernelParams, void **extra)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    const void *buf;
    size_t len;
    bool owned;
    CUresult r = rc_pack_params((uint64_t)(uintptr_t)f, kernelParams, extra, &buf, &len, &owned);
    if (r != CUDA_SUCCESS)
        return r;
    struct rc_call c;
    r = rc_begin(&c, GVW_OP_LAUNCH);
    if (r == CUDA_SUCCESS) {
        gvw_put_u64(c.b, (uint64_t)(uintptr_t)f);
        gvw_put_u32(c.b, gx);
        gvw_put_u32(c.b, gy);
        gvw_put_u32(c.b, gz);
        gvw_put_u32(c.b, bx);
        gvw_put_u32(c.b, by);
        gvw_put_u32(c.b, bz);
        gvw_put_u32(c.b, shmem);
        gvw_put_u64(c.b, (uint64_t)(uintptr_t)st);
        gvw_put_u32(c.b, kind);
        gvw_put_bytes(c.b, buf, len);
        gvw_put_bytes(c.b, NULL, 0);
        r = rc_end(&c, rc_post(&c));
    }
    if (owned)
        free((void *)buf);
    return r;
}

CUresult RC_API cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra)
{
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                  sharedMemBytes, hStream, 0, kernelParams, extra);
}
