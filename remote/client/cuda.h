/* SPDX-License-Identifier: Apache-2.0 */
/* cuda.h (remote/client): what the client's driver files share. */
#ifndef GVRC_CUDA_H
#define GVRC_CUDA_H

#include "remote/client/rc.h"

#include <cudaTypedefs.h>

/* Every exported driver function is defined as `CUresult RC_API name(...)`. */
#define RC_API RC_EXPORT

/* cuInit has run successfully in this process. */
bool rc_initialized(void);

/* Pack kernelParams (or take `extra`'s buffer) into buf and len (malloc'd when *owned), by the
 * layout the server sent with the function. Returns CUDA_SUCCESS, CUDA_ERROR_INVALID_HANDLE for a
 * function never seen, CUDA_ERROR_NOT_SUPPORTED when the server's driver could not say the layout
 * and the launch passes kernelParams. */
CUresult rc_pack_params(uint64_t f, void **kernelParams, void **extra, const void **buf,
                        size_t *len, bool *owned);

#endif
