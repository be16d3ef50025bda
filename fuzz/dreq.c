/* SPDX-License-Identifier: Apache-2.0 */
/* dreq.c (fuzz): a request of gpuvisord's local protocol (region/daemon.c), which the daemon reads
 * from any process of any user that connects to its socket.
 *
 * The input's first bytes are the request (a shorter input is padded with zeros, as a request
 * whose last bytes are zero). Properties:
 *   - the check agrees with a plain restatement of daemon.h's rule: a known operation, known flags,
 *     the fields it does not use zero, and where it uses a key, a valid instance name, terminated,
 *     with zeros after it;
 *   - a refusal is -EPROTO with a terminated, non-empty message. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "region/daemon.h"
#include "region/region.h"

static bool zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* daemon.h's rule, written out again. */
static bool expect(const struct gvr_dreq *q)
{
    bool key = false, uuid = false, until = false, want = false;
    uint32_t flags = 0;
    switch (q->op) {
    case GVR_DOP_JOIN:
        key = true;
        break;
    case GVR_DOP_HELLO:
        key = uuid = true;
        break;
    case GVR_DOP_TAKE:
        until = want = true;
        flags = GVR_DFLAG_CHECK;
        break;
    case GVR_DOP_EXTEND:
        until = want = true; /* want: the device time used */
        break;
    case GVR_DOP_RELEASE:
        want = true;
        break;
    case GVR_DOP_IDLE:
        want = true;
        flags = GVR_DFLAG_QUIET;
        break;
    case GVR_DOP_WANT:
        want = true;
        break;
    default:
        return false;
    }
    if ((q->flags & ~flags) || (!until && q->until) || (!want && q->want) ||
        (!uuid && !zero(q->uuid, sizeof(q->uuid))))
        return false;
    if (!key)
        return zero(q->key, sizeof(q->key));
    size_t n = 0;
    while (n < sizeof(q->key) && q->key[n])
        if (!name_char(q->key[n++]))
            return false;
    if (n == 0 || n > GVR_NAME_MAX || n == sizeof(q->key) || !strcmp(q->key, ".") ||
        !strcmp(q->key, ".."))
        return false;
    return zero(q->key + n, sizeof(q->key) - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gvr_dreq *q = malloc(sizeof(*q));
    if (!q)
        abort();
    memset(q, 0, sizeof(*q));
    memcpy(q, data, size < sizeof(*q) ? size : sizeof(*q));
    struct gv_error err = {0};
    int rc = gvr_dreq_check(q, &err);
    fuzz_check((rc == 0) == expect(q));
    if (rc)
        fuzz_check(rc == -EPROTO && err.code == rc && fuzz_msg_ok(err) && err.msg[0]);
    free(q);
    return 0;
}
