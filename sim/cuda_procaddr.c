/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_procaddr.c: cuGetProcAddress and the error strings of the simulated driver.
 *
 * The ABI table, the look-up and the error strings are shared with the remoting client's
 * libcuda.so.1, which must offer exactly the same entry points: they live in cuabi/, and this
 * file compiles them against the simulator's own functions, every one of which must exist (the
 * table's references are strong, so a missing function fails the link). */
#include "cuabi/procaddr.c"
