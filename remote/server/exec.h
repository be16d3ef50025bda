/* SPDX-License-Identifier: Apache-2.0 */
/* exec.h (remote/server): what owns each of a session's handles, for the device, context, stream
 * and module groups.
 *
 * A driver frees a context's streams, events and modules with the context, a module's functions
 * with the module, a library's kernels with the library. The session must forget them then too,
 * or a stale handle from the client would pass srv_has and reach the driver after it was freed.
 * So every such handle is recorded with its owner, and destroying an owner forgets what it owns,
 * transitively. */
#ifndef GVS_EXEC_H
#define GVS_EXEC_H

#include "remote/server/srv.h"

/* srv_add, and remember that `owner` (a context, module, library or kernel; 0: none) owns it.
 * False when out of memory (nothing recorded). */
bool srv_own(struct srv *s, enum srv_kind k, uint64_t h, uint64_t owner);
/* srv_del, and forget what the handle owned. */
void srv_disown(struct srv *s, enum srv_kind k, uint64_t h);
/* Forget everything `owner` owns, transitively (a context destroyed or a primary one released). */
void srv_drop_owner(struct srv *s, uint64_t owner);

#endif
