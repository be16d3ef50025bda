/* SPDX-License-Identifier: Apache-2.0 */
/* hooks.h: declarations of the wrappers listed in hooks.def.
 *
 * Each wrapper is the C function gvs_<abi> whose symbol name is <abi> (an asm label), so the shim
 * exports exactly the driver's ABI names while its own code can never call a wrapper by mistake
 * when it means the driver. The declaration takes its type from the toolkit's PFN typedef, so a
 * definition whose signature differs from the driver's does not compile. */
#ifndef GVS_HOOKS_H
#define GVS_HOOKS_H

#include "shim/shim.h"

#define HOOK(name, version, ptsz, abi, pfn)                                                        \
    extern GVS_EXPORT __typeof__(*(pfn)0) gvs_##abi __asm__(#abi);
#include "shim/hooks.def"
#undef HOOK

/* The first lines of a wrapper: the interposer set up, and the driver has the function. */
#define ENTER(fn)                                                                                  \
    do {                                                                                           \
        if (!gvs_init())                                                                           \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
        if (!gvs_real.fn)                                                                          \
            return CUDA_ERROR_NOT_FOUND;                                                           \
    } while (0)

#endif
