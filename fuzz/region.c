/* SPDX-License-Identifier: Apache-2.0 */
/* region.c (fuzz): opening an instance region file whatever its bytes (gvr_open), then reading
 * and using it the way the interposer and `gpuvisor smi` do.
 *
 * A region file lives in a shared directory (/dev/shm/gpuvisor) and is mapped into every tenant's
 * process, so a damaged file, one from another build, or one written by a hostile tenant must be
 * refused with a message or used within bounds; it must never crash the process that opens it.
 * Each input is tried twice:
 *   - as the whole file: this reaches the header checks, which refuse anything that is not a region
 *     of this layout and size;
 *   - as patches over a genuine region made by gvr_open: a list of (offset, length, bytes) records,
 *     so that the fuzzer can change any field of the layout (device count, limits, member slots)
 *     behind a header that passes, which whole files of random bytes practically never do.
 * Each file is opened read-write (then joined, its GPUs walked, a byte charged and given back, and
 * snapshot, as the interposer does) and then read-only (and snapshot, as smi does). In that order
 * because a file whose header says it is still being made is made by a read-write opener, while a
 * read-only opener waits seconds for someone to make it, by design.
 *
 * Patches never reach the region's mutex: its bytes are put back as a genuine region has them,
 * either free or as a holder that died left them (the input's length chooses). A lock word that
 * says a live process holds the mutex makes every locker wait, which is the lock doing its job;
 * and the mutex's other fields are glibc's to check, not gpuvisor's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "region/region.h"

#define NAME "fz"

static char dir[64];
static uint8_t *genuine; /* the bytes of a freshly made region with two GPUs */
static uint8_t *died;    /* the same after a process died holding its mutex */
static size_t genuine_size;
static size_t lock_at; /* where the mutex is: the first bytes the death changed */

static void remove_dir(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, NAME);
    unlink(path);
    rmdir(dir);
}

static uint8_t *read_file(size_t *size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, NAME);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
        perror("fuzz_region: read the region");
        abort();
    }
    *size = (size_t)st.st_size;
    uint8_t *bytes = malloc(*size);
    if (!bytes || pread(fd, bytes, *size, 0) != (ssize_t)*size)
        abort();
    close(fd);
    return bytes;
}

/* Once per process: a private region directory, and a genuine region's bytes to patch. */
static void prepare(void)
{
    if (genuine)
        return;
    snprintf(dir, sizeof(dir), "/tmp/gvr-fuzz-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_region: mkdtemp");
        abort();
    }
    atexit(remove_dir);
    struct gvr_device_limit lim[2] = {{.memory = 1 << 20, .share = 2500},
                                      {.memory = 0, .share = 0}};
    for (int i = 0; i < GVR_UUID_LEN; i++) {
        lim[0].uuid[i] = (uint8_t)(0x10 + i);
        lim[1].uuid[i] = (uint8_t)(0x80 + i);
    }
    struct gvr_region r;
    struct gv_error err = {0};
    if (gvr_open(&r, dir, NAME, GVR_CREATE, lim, 2, &err) < 0) {
        fprintf(stderr, "fuzz_region: make a region: %s\n", err.msg);
        abort();
    }
    gvr_close(&r);
    genuine = read_file(&genuine_size);

    /* A child takes the mutex and dies holding it. The mutex is the only thing that changes, and
     * it sits on a 64-byte boundary (region.c aligns it so), which the first change gives away. */
    pid_t pid = fork();
    if (pid == 0) {
        struct gvr_region c;
        _exit(gvr_open(&c, dir, NAME, 0, NULL, 0, NULL) < 0 || gvr_testhook_lock(&c) < 0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fuzz_region: a child could not take the region's mutex\n");
        abort();
    }
    size_t died_size;
    died = read_file(&died_size);
    fuzz_check(died_size == genuine_size);
    while (lock_at < genuine_size && genuine[lock_at] == died[lock_at])
        lock_at++;
    fuzz_check(lock_at < genuine_size);
    lock_at &= ~(size_t)63;
    fuzz_check(lock_at + sizeof(pthread_mutex_t) <= genuine_size);
}

static void write_file(const uint8_t *bytes, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, NAME);
    unlink(path); /* a fresh file each time: nobody maps the old one any more */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || (n && write(fd, bytes, n) != (ssize_t)n) || close(fd) < 0) {
        perror("fuzz_region: write the region file");
        abort();
    }
}

static void snapshot(const struct gvr_region *r)
{
    static struct gvr_snapshot s; /* large: keep it off the stack */
    fuzz_check(gvr_snapshot(r, &s) == 0);
    fuzz_check(s.ndev <= GVR_MAX_DEVICES);
    fuzz_check(s.nmember <= GVR_MAX_MEMBERS);
    fuzz_check(memchr(s.name, 0, sizeof(s.name)) != NULL);
}

static void use_readonly(void)
{
    struct gvr_region r;
    struct gv_error err = {0};
    int rc = gvr_open(&r, dir, NAME, GVR_READONLY, NULL, 0, &err);
    if (rc < 0) {
        fuzz_check(fuzz_msg_ok(err));
        return;
    }
    snapshot(&r);
    fuzz_check(gvr_join(&r, NULL) == -EROFS);
    gvr_close(&r);
}

static void use_readwrite(void)
{
    struct gvr_region r;
    struct gv_error err = {0};
    int rc = gvr_open(&r, dir, NAME, 0, NULL, 0, &err);
    if (rc < 0) {
        fuzz_check(fuzz_msg_ok(err));
        return;
    }
    /* As the interposer after its open: every GPU's share and figures, then its own use. */
    unsigned ndev = gvr_device_count(&r);
    for (unsigned d = 0; d < ndev; d++) {
        struct gvr_device_limit l;
        gvr_device_get(&r, d, &l);
        gvr_device_find(&r, l.uuid);
        gvr_share(&r, d);
        gvr_used(&r, d);
        gvr_limit(&r, d);
        gvr_available(&r, d);
        gvr_budget(&r, d);
    }
    if (gvr_join(&r, NULL) == 0) {
        /* Only safety is asked of a damaged file, not sound figures: a free slot that holds bytes
         * (which a sound region never has) may make the charge wrap its counter and the uncharge
         * fail. */
        if (gvr_charge(&r, 0, 1) == 0) {
            gvr_member_used(&r, 0);
            gvr_uncharge(&r, 0, 1);
        }
        snapshot(&r);
        gvr_leave(&r);
    }
    snapshot(&r);
    gvr_close(&r);
}

/* Patches: records of a 16-bit little-endian offset into the file, a length byte (at most 64
 * bytes are copied) and that many bytes. */
static size_t apply_patches(uint8_t *file, size_t fsize, const uint8_t *data, size_t size)
{
    size_t records = 0;
    while (size >= 3) {
        size_t off = ((size_t)data[0] | (size_t)data[1] << 8) % fsize;
        size_t len = data[2] % 65;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        if (len > fsize - off)
            len = fsize - off;
        memcpy(file + off, data, len);
        data += len;
        size -= len;
        records++;
    }
    return records;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prepare();

    write_file(data, size);
    use_readwrite();
    use_readonly();

    uint8_t *file = malloc(genuine_size);
    if (!file)
        abort();
    memcpy(file, genuine, genuine_size);
    if (apply_patches(file, genuine_size, data, size)) {
        const uint8_t *mutex = (size & 1 ? died : genuine) + lock_at;
        memcpy(file + lock_at, mutex, sizeof(pthread_mutex_t));
        write_file(file, genuine_size);
        use_readwrite();
        use_readonly();
    }
    free(file);
    return 0;
}
