/* SPDX-License-Identifier: Apache-2.0 */
/* catalogue.h: the GPU models gpuvisor knows and the virtual-GPU profiles each can be cut into.
 *
 * A model is one board (a T4, an H200 NVL, an H200 SXM ...): the facts the simulator needs to stand
 * in for it and the daemon needs to plan with. A profile is one way to cut it: time-sliced vGPU
 * profiles ("T4-4C": 4 GiB, a quarter of the time, four per GPU) and MIG-like partitions
 * ("H200-1g.18gb": one seventh of the SMs). Custom profiles are a memory size and a share. */
#ifndef GV_CATALOGUE_H
#define GV_CATALOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum gv_profile_kind {
    GV_PROFILE_TIMESLICED, /* NVIDIA vGPU style: whole GPU, a share of its time */
    GV_PROFILE_MIG,        /* a hardware-style partition: a fraction of the SMs and memory */
    GV_PROFILE_CUSTOM,     /* memory and share given by the user */
};

struct gv_profile {
    const char *name; /* "4C", "1g.18gb"; "custom" for custom profiles */
    enum gv_profile_kind kind;
    uint64_t memory;        /* bytes */
    uint32_t share;         /* basis points of GPU time (GV_SHARE_FULL = all) */
    uint32_t max_instances; /* per GPU; 0 for custom profiles (limited by memory and share) */
    uint32_t slices;        /* MIG: compute slices out of 7; 0 otherwise */
};

struct gv_model {
    const char *name;    /* catalogue name and vGPU board prefix: "T4", "A100D", "H200X" */
    const char *product; /* as the driver names it: "Tesla T4", "NVIDIA H200 NVL" */
    const char *aliases; /* other accepted names, comma-separated: "A100-80GB,A100-80GB-PCIE" */
    uint64_t memory;     /* bytes */
    uint32_t sms;        /* streaming multiprocessors */
    uint32_t cc_major, cc_minor;
    uint32_t pci_device_id; /* PCI device id (vendor 0x10de) */
    uint64_t mem_bandwidth; /* bytes per second */
    uint32_t clock_khz;     /* boost clock */
    uint32_t mem_clock_khz; /* memory clock */
    uint32_t mem_bus_width; /* bits */
    uint32_t l2_bytes;
    uint32_t max_threads_per_sm;
    const struct gv_profile *profiles;
    size_t nprofiles;
};

size_t gv_model_count(void);
const struct gv_model *gv_model_at(size_t i);

/* Find a model by name or alias, case-insensitive ("t4", "Tesla T4", "H200", "a100-80gb").
 * Returns NULL with a message listing near matches in err. */
const struct gv_model *gv_model_find(const char *name, struct gv_error *err);

/* Find a profile. `name` may carry the board prefix ("T4-4C", "h200-1g.18gb") or not ("4C"), in
 * which case `model` must be given. On success fills *profile and, if model_out is not NULL, the
 * model it belongs to. Unknown names get -ENOENT and a message that lists the near matches. */
int gv_profile_find(const char *name, const struct gv_model *model,
                    const struct gv_profile **profile, const struct gv_model **model_out,
                    struct gv_error *err);

/* A custom profile of `memory` bytes and `share` basis points. -EINVAL on zero memory or a share
 * outside (0, 100%]; -ERANGE when `model` is given and the memory exceeds it. */
int gv_profile_custom(uint64_t memory, uint32_t share, const struct gv_model *model,
                      struct gv_profile *out, struct gv_error *err);

#endif
