/* SPDX-License-Identifier: Apache-2.0 */
/* cuda.h (remote/client): what the client's driver files share. */
#ifndef GVRC_CUDA_H
#define GVRC_CUDA_H

#include "remote/client/rc.h"

#include <cudaTypedefs.h>

/* Every exported driver function is defined as `CUresult RC_API name(...)`. */
#define RC_API RC_EXPORT

/* A call with no arguments of its own and no fields back: begin, wait, end. */
CUresult rc_simple(unsigned op);

/* cuInit has run successfully in this process. */
bool rc_initialized(void);

/* The parameter layout of a function (MODULE_GET_FUNCTION, KERNEL_GET_FUNCTION), kept so that a
 * launch can pack kernelParams into one buffer. */
void rc_func_layout_set(uint64_t f, const void *pairs, size_t n);
/* Pack kernelParams (or take `extra`'s buffer) into buf and len (malloc'd when *owned). Returns
 * CUDA_SUCCESS, CUDA_ERROR_INVALID_HANDLE for a function never seen, CUDA_ERROR_NOT_SUPPORTED when
 * the server could not say the layout and the launch passes kernelParams. */
CUresult rc_pack_params(uint64_t f, void **kernelParams, void **extra, const void **buf,
                        size_t *len, bool *owned);

#endif
