/* SPDX-License-Identifier: Apache-2.0 */
/* nvml_wire.h: what the NVML ops of the remoting protocol (ops.def, "NVML") carry besides their
 * schema: the selectors of the ops that serve several NVML functions, and the packed records of
 * the list calls. The client (client/nvml.c) and the server (server/nvml.c) both use these
 * definitions, so the format has one owner.
 *
 * Records are packed field by field with the wire's little-endian writers, never as C structures:
 * the NVML structures have padding, and a wire format must not depend on a compiler's layout. */
#ifndef GV_NVML_WIRE_H
#define GV_NVML_WIRE_H

#include "remote/wire.h"

/* NVML_DEVICE_FIND: what the text is. */
enum gvn_find { GVN_FIND_UUID = 0, GVN_FIND_PCI_BUS_ID = 1 };

/* NVML_DEVICE_TEXT. */
enum gvn_text { GVN_TEXT_NAME = 0, GVN_TEXT_UUID = 1 };

/* NVML_DEVICE_VALUE: the reply's two numbers are (value, 0), or (major, minor) for the capability.
 * The request's third field is the clock type for GVN_VALUE_MAX_CLOCK, else 0. */
enum gvn_value {
    GVN_VALUE_INDEX = 0,
    GVN_VALUE_MINOR = 1,
    GVN_VALUE_CAPABILITY = 2,
    GVN_VALUE_MAX_CLOCK = 3,
    GVN_VALUE_BUS_WIDTH = 4,
};

/* NVML_DEVICE_MEMORY: which NVML function answers (their "used" figures differ: the older one
 * counts the driver's reserved memory as used). */
enum gvn_memory { GVN_MEMORY_V1 = 1, GVN_MEMORY_V2 = 2 };

/* A process record: pid u32, used bytes u64, GPU instance u32, compute instance u32. */
#define GVN_PROCESS_BYTES 20u
/* A utilization sample: pid u32, time stamp u64, sm, memory, encoder, decoder u32. */
#define GVN_SAMPLE_BYTES 28u
/* The most records a reply carries: far more processes than a GPU runs, far less than a frame. */
#define GVN_MAX_RECORDS 4096u

#endif
