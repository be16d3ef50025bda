/* SPDX-License-Identifier: Apache-2.0 */
/* proc.c: reading /proc for the liveness judgements of proc.h. */
#include "region/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gvr_proc_stat(pid_t pid, char *state, uint64_t *start)
{
    char path[32], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EIO;
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
     */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -EIO;
    p += 2; /* field 3 */
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
    }
    char *end;
    *start = strtoull(p, &end, 10);
    return end == p ? -EIO : 0;
}

bool gvr_proc_gone(pid_t pid, uint64_t start)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    char state;
    uint64_t st;
    if (gvr_proc_stat(pid, &state, &st) < 0)
        return false;
    if (state == 'Z' || state == 'X' || state == 'x')
        return true;
    return start && st != start;
}

uint64_t gvr_proc_own_pidns(void)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}
