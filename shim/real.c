/* SPDX-License-Identifier: Apache-2.0 */
/* real.c: finding the real driver, and the dlsym wrapper.
 *
 * The CUDA runtime loads the driver with dlopen("libcuda.so.1") and looks it up with dlsym on that
 * handle; a preloaded symbol is not found that way, so the shim wraps dlsym itself and answers with
 * its wrapper when the handle is the driver's (or NVML's) and the name is one it wraps. Everything
 * else goes to the real dlsym, which is found with dlvsym so that our own wrapper is never in the
 * way. dlsym(RTLD_NEXT, ...) is resolved relative to the caller, not to the shim. */
#include "shim/shim.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct gvs_real gvs_real;

typedef void *(*dlsym_fn)(void *, const char *);
static dlsym_fn real_dlsym_fn;
static void *cuda_handle, *nvml_handle;

void *gvs_real_dlsym(void *handle, const char *name)
{
    dlsym_fn f = __atomic_load_n(&real_dlsym_fn, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
        if (!f)
            f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
        if (!f)
            return NULL;
        __atomic_store_n(&real_dlsym_fn, f, __ATOMIC_RELEASE);
    }
    return f(handle, name);
}

/* The handle of an already loaded library, kept once found (which also keeps it loaded). */
static void *loaded(void **slot, const char *soname)
{
    void *h = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (h)
        return h;
    h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
        void *expected = NULL;
        if (!__atomic_compare_exchange_n(slot, &expected, h, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            dlclose(h);
        h = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    }
    return h;
}

void *gvs_cuda_handle(void)
{
    return loaded(&cuda_handle, "libcuda.so.1");
}

void *gvs_nvml_handle(void)
{
    return loaded(&nvml_handle, "libnvidia-ml.so.1");
}

/* dlsym(RTLD_NEXT, name) as the caller meant it: the first definition in the objects loaded after
 * the caller's. */
static void *next_after(const void *caller, const char *name)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return NULL;
    for (struct link_map *l = lm->l_next; l; l = l->l_next) {
        void *h = dlopen(l->l_name[0] ? l->l_name : NULL, RTLD_LAZY | RTLD_NOLOAD);
        if (!h)
            continue;
        void *sym = gvs_real_dlsym(h, name);
        dlclose(h);
        if (sym)
            return sym;
    }
    return NULL;
}

GVS_EXPORT void *dlsym(void *handle, const char *name)
{
    if (handle == RTLD_NEXT)
        return next_after(__builtin_return_address(0), name);
    if (handle != RTLD_DEFAULT) {
        if (name[0] == 'c' && name[1] == 'u' && handle == gvs_cuda_handle()) {
            void *hook = gvs_hook_for_symbol(name);
            if (hook)
                return hook;
        } else if (name[0] == 'n' && name[1] == 'v' && handle == gvs_nvml_handle()) {
            void *hook = gvs_nvml_hook_for_symbol(name);
            if (hook)
                return hook;
        }
    }
    return gvs_real_dlsym(handle, name);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void init(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "gpuvisor: cannot load the CUDA driver (libcuda.so.1): %s\n", dlerror());
        return;
    }
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&cuda_handle, &expected, h, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        dlclose(h);
    h = cuda_handle;
#define HOOK(name, version, ptsz, abi, pfn) gvs_real.abi = (pfn)gvs_real_dlsym(h, #abi);
#include "shim/hooks.def"
#undef HOOK
#define REAL(abi, pfn) gvs_real.abi = (pfn)gvs_real_dlsym(h, #abi);
    GVS_PLAIN_REALS(REAL)
#undef REAL
    gvs_instance_init();
    init_ok = true;
}

bool gvs_init(void)
{
    pthread_once(&init_once, init);
    return init_ok;
}
