/* SPDX-License-Identifier: Apache-2.0 */
/* hostsim.h: a fake sysfs tree and the kernel's part in it, for testing the host/ library.
 *
 * The host library reads the PCI tree the kernel shows under /sys and changes it by writing files
 * (driver_override, unbind, drivers_probe, mdev create, sriov_numvfs, current_vgpu_type). Tests
 * cannot touch a real host, so this builds the same tree under a temporary ROOT from a short text
 * spec and plays the kernel: after each write it moves driver links, creates and removes mdevs and
 * SR-IOV virtual functions, and keeps the counters the kernel keeps. Every link is relative, so the
 * tree works wherever ROOT is. The emulator's own records live in ROOT/.sim (native driver of each
 * function, faults, writes.log); nothing in the product reads them.
 *
 * Spec: one item per line, `#` starts a comment, values with spaces in double quotes.
 *   gpu BDF [key=value...]        a GPU function (defaults: vendor=10de class=030200)
 *   fn BDF [key=value...]         any other function (default class=040300)
 *       keys: vendor device class subsystem_vendor subsystem_device (hex, no 0x)
 *             driver=NAME (bound now; "" or absent: unbound) native=NAME (the driver the kernel
 *             picks on a probe with no override; default: driver) override=NAME (driver_override)
 *             group=N (its IOMMU group; absent or the word `nogroup`: no IOMMU) minor=N (NVIDIA
 *             device minor: dev/nvidiaN, proc/driver/nvidia/gpus/BDF/information while on
 *             nvidia; a `gpu` of vendor 10de gets the next free one by default)
 *             drm=card0,renderD128 (drm/ dirs while on its native driver, dev/dri/ nodes)
 *   module NAME                   sys/module/NAME (vfio_pci: drivers/vfio-pci, dev/vfio/vfio too)
 *   driver NAME                   an extra sys/bus/pci/drivers/NAME
 *   mdev-type BDF TYPE name=".." available=N [description=".."]
 *   sriov BDF totalvfs=N types="ID:NAME:CAPACITY,..." [numvfs=N]
 *       VF k (from 0) is at devfn(PF) + 4 + k, on nvidia, in a new IOMMU group of its own.
 *       CAPACITY: how many VFs of the PF may hold that type at once.
 *   fault busy RELPATH            writes to RELPATH fail with EBUSY (nothing happens)
 *   fault nobind BDF              bind and drivers_probe leave BDF unbound
 *
 * Writes made through a symlinked path (sys/bus/pci/devices/BDF/...) act on the real device;
 * gvsim_host_write logs the path as given, the inotify kernel the real one (sys/devices/...).
 *
 * gvsim_host_write is the exact kernel: the reaction is over, or the write refused, when it
 * returns. The inotify kernel (`gpuvisor-sim-host kernel`) reacts a moment after the writer closed
 * the file, so a reader may see a written value before the kernel's answer to it (a refused value
 * stays in the file until then); tests of refusals use gvsim_host_write. It makes new VFs last to
 * first, so that every VF is whole when virtfn0 shows, and writes sriov_numvfs before them. */
#ifndef GVSIM_HOSTSIM_H
#define GVSIM_HOSTSIM_H

#include <stddef.h>

#include "core/error.h"

/* Build the tree described by spec under root (created if missing; may already hold other files).
 * Returns 0, or -EINVAL with the line and what is wrong, or -errno from the filesystem. */
int gvsim_host_build(const char *root, const char *spec, struct gv_error *err);

/* The spec text of a built-in scenario, or NULL when there is none by that name. */
const char *gvsim_host_scenario(const char *name);
/* The names of the built-in scenarios, NULL-terminated. */
extern const char *const gvsim_host_scenarios[];

/* The kernel, synchronously: path is absolute, under root. A "busy" fault returns -EBUSY and
 * writes nothing. Otherwise the file is written (O_WRONLY|O_TRUNC, never created), the write is
 * logged, and the kernel reacts (gvsim_host_react). Returns 0 or the reaction's -errno: -EINVAL for
 * a value the kernel refuses (a malformed UUID, a vGPU type the VF cannot create), -ENODEV for an
 * unknown device, -EBUSY for sriov_numvfs N>0 while VFs exist, -ERANGE above sriov_totalvfs,
 * -ENOSPC for an mdev type with no instance left, -ENOENT for a file that does not exist. */
int gvsim_host_write(const char *root, const char *path, const char *value, size_t len);

/* What the kernel does after value was written to relpath (relative to root; symlinked paths are
 * resolved). Faults "nobind" apply; "busy" is the writer's business. 0 or -errno as above. */
int gvsim_host_react(const char *root, const char *relpath, const char *value);

/* A file under root has been written by someone (the inotify kernel calls this): read it, ignore
 * it under a "busy" fault, else log and react. 0 or -errno. */
int gvsim_host_event(const char *root, const char *relpath);

/* fn is called with each folder of the tree (relative to root) just before the kernel puts a
 * writable file in it, so that an inotify kernel watches the folder before anyone can see the file
 * and write it (a new mdev's remove, a new VF's current_vgpu_type). NULL: none. */
void gvsim_host_on_writable_dir(void (*fn)(void *arg, const char *reldir), void *arg);

/* writes.log: one line per write, "<path relative to root> <value without its newline>". Copies
 * it into buf (NUL-terminated, truncated to fit). Returns its length or -errno. */
int gvsim_host_writes(const char *root, char *buf, size_t len);

#endif
