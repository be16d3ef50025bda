/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_procaddr.c: cuGetProcAddress and the error strings of the remoting client's libcuda.so.1.
 *
 * The client offers exactly the simulated driver's entry points, so it answers from the same
 * table (cuabi/). cuGetExportTable answers CUDA_ERROR_NOT_SUPPORTED: the CUDA runtime's private
 * tables are not served remotely. */
/* The library is built with hidden visibility; these are entry points. */
#pragma GCC visibility push(default)
#include "cuabi/procaddr.c"
#pragma GCC visibility pop
