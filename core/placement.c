/* SPDX-License-Identifier: Apache-2.0 */
/* placement.c: choosing a GPU for a new instance, and saying why none fits.
 *
 * The choice is one pass over the table that keeps the best fitting GPU under the policy's order;
 * the rules a GPU must meet are written once, in lacks(), and both gv_place and gv_place_check go
 * through it. Only when nothing fits does a second pass look for the GPU that came closest, so
 * that the refusal names a real GPU and a real shortfall the user can act on. */
#include "core/placement.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/size.h"

/* What a GPU has left before the new instance: nothing when its table is already overcommitted. */
struct room {
    uint64_t memory;
    uint32_t share;
};

static struct room room_of(const struct gv_place_gpu *g)
{
    struct room r;
    r.memory = g->memory_used <= g->memory_total ? g->memory_total - g->memory_used : 0;
    r.share = g->share_used <= GV_SHARE_FULL ? GV_SHARE_FULL - g->share_used : 0;
    return r;
}

/* The rules a GPU can break, one bit each. */
enum {
    LACK_ELIGIBLE = 1u << 0,
    LACK_PROFILE = 1u << 1,
    LACK_MEMORY = 1u << 2,
    LACK_TIME = 1u << 3,
};

/* The rules g breaks for the request (0: it fits). A share of 0 takes no time, so it always fits
 * in time, even on a GPU whose time is all promised. */
static unsigned lacks(const struct gv_place_gpu *g, struct room r, uint64_t memory, uint32_t share)
{
    unsigned l = 0;
    if (!g->eligible)
        l |= LACK_ELIGIBLE;
    if (g->profile_max && g->profile_instances >= g->profile_max)
        l |= LACK_PROFILE;
    if (memory > r.memory)
        l |= LACK_MEMORY;
    if (share > r.share)
        l |= LACK_TIME;
    return l;
}

static int check_request(uint64_t memory, uint32_t share, struct gv_error *err)
{
    if (memory == 0)
        return gv_error_set(err, -EINVAL, "an instance needs memory: 0 bytes were asked");
    if (share > GV_SHARE_FULL) {
        char s[32];
        return gv_error_set(err, -EINVAL, "compute share %s is more than a whole GPU (100%%)",
                            gv_share_format(share, s, sizeof(s)));
    }
    return 0;
}

/* Append to buf[0..len) at *at, never past its end. */
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *at = *at + (size_t)n < len ? *at + (size_t)n : len;
}

/* "GPU 1 has 2 GiB of memory left and 4 GiB was asked; it has 10% of its time left and 25% was
 * asked": every rule of `l` that g breaks, the first naming `who`, the rest "it". */
static void describe(char *buf, size_t len, const char *who, const struct gv_place_gpu *g,
                     struct room r, unsigned l, uint64_t memory, uint32_t share)
{
    char a[32], b[32];
    size_t at = 0;
    buf[0] = '\0';
    if (l & LACK_ELIGIBLE) {
        add(buf, len, &at,
            "%s is not eligible (it is not in sliced mode, or not of the model asked)", who);
        return;
    }
    if (l & LACK_PROFILE) {
        add(buf, len, &at, "%s already holds %u instance%s of this profile ", who,
            g->profile_instances, g->profile_instances == 1 ? "" : "s");
        if (g->profile_instances == g->profile_max)
            add(buf, len, &at, "(its most)");
        else
            add(buf, len, &at, "(its most is %u)", g->profile_max);
        who = "it";
    }
    if (l & LACK_MEMORY) {
        add(buf, len, &at, "%s%s has %s of memory left and %s was asked", at ? "; " : "", who,
            gv_size_format(r.memory, a, sizeof(a)), gv_size_format(memory, b, sizeof(b)));
        who = "it";
    }
    if (l & LACK_TIME)
        add(buf, len, &at, "%s%s has %s of its time left and %s was asked", at ? "; " : "", who,
            gv_share_format(r.share, a, sizeof(a)), gv_share_format(share, b, sizeof(b)));
}

/* How far an eligible GPU that does not fit is from fitting: first the number of rules it breaks,
 * then the part of the request it lacks (a full profile counts as lacking all of it). Smaller is
 * closer. */
struct distance {
    unsigned rules;
    double missing;
};

static struct distance distance_of(struct room r, unsigned l, uint64_t memory, uint32_t share)
{
    struct distance d = {0, 0.0};
    if (l & LACK_PROFILE) {
        d.rules++;
        d.missing += 1.0;
    }
    if (l & LACK_MEMORY) {
        d.rules++;
        d.missing += (double)(memory - r.memory) / (double)memory;
    }
    if (l & LACK_TIME) {
        d.rules++;
        d.missing += (double)(share - r.share) / (double)share;
    }
    return d;
}

static bool closer(struct distance a, struct distance b)
{
    return a.rules < b.rules || (a.rules == b.rules && a.missing < b.missing);
}

/* Nothing fits: name the eligible GPU that came closest and what it lacks. */
static int refuse(const struct gv_place_gpu *gpus, size_t n, uint64_t memory, uint32_t share,
                  struct gv_error *err)
{
    size_t best = n;
    struct distance bd = {0, 0.0};
    for (size_t i = 0; i < n; i++) {
        const struct gv_place_gpu *g = &gpus[i];
        if (!g->eligible)
            continue;
        struct room r = room_of(g);
        struct distance d = distance_of(r, lacks(g, r, memory, share), memory, share);
        if (best == n || closer(d, bd)) {
            best = i;
            bd = d;
        }
    }
    if (best == n) {
        if (n == 0)
            return gv_error_set(err, -ENOSPC, "no GPU is eligible: there is no GPU");
        return gv_error_set(err, -ENOSPC,
                            "no GPU is eligible: none of the %zu GPU%s is in sliced mode and of "
                            "the model asked",
                            n, n == 1 ? "" : "s");
    }
    char who[32], why[200];
    const struct gv_place_gpu *g = &gpus[best];
    struct room r = room_of(g);
    snprintf(who, sizeof(who), "GPU %zu", best);
    describe(why, sizeof(why), who, g, r, lacks(g, r, memory, share), memory, share);
    return gv_error_set(err, -ENOSPC, "no GPU has room: %s", why);
}

int gv_place(const struct gv_place_gpu *gpus, size_t n, uint64_t memory, uint32_t share,
             enum gv_place_policy policy, struct gv_error *err)
{
    int rc = check_request(memory, share, err);
    if (rc)
        return rc;
    if (policy != GV_PLACE_BINPACK && policy != GV_PLACE_SPREAD)
        return gv_error_set(err, -EINVAL, "unknown placement policy %d", (int)policy);
    if (n > (size_t)INT_MAX || (!gpus && n))
        return gv_error_set(err, -EINVAL, "a table of %zu GPUs cannot be placed on", n);

    /* The best so far, by what it would have left after the new instance. */
    size_t best = n;
    uint64_t best_memory = 0;
    uint32_t best_share = 0, best_instances = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gv_place_gpu *g = &gpus[i];
        struct room r = room_of(g);
        if (lacks(g, r, memory, share))
            continue;
        uint64_t m = r.memory - memory;
        uint32_t s = r.share - share;
        bool better;
        if (best == n)
            better = true;
        else if (policy == GV_PLACE_BINPACK)
            better = m < best_memory || (m == best_memory && s < best_share);
        else
            better = m > best_memory ||
                     (m == best_memory &&
                      (s > best_share || (s == best_share && g->instances < best_instances)));
        if (better) {
            best = i;
            best_memory = m;
            best_share = s;
            best_instances = g->instances;
        }
    }
    if (best == n)
        return refuse(gpus, n, memory, share, err);
    return (int)best;
}

int gv_place_check(const struct gv_place_gpu *g, uint64_t memory, uint32_t share,
                   struct gv_error *err)
{
    int rc = check_request(memory, share, err);
    if (rc)
        return rc;
    if (!g)
        return gv_error_set(err, -EINVAL, "no GPU given to check");
    struct room r = room_of(g);
    unsigned l = lacks(g, r, memory, share);
    if (!l)
        return 0;
    char why[200];
    describe(why, sizeof(why), "the GPU", g, r, l, memory, share);
    return gv_error_set(err, -ENOSPC, "%s", why);
}
