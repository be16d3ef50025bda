/* SPDX-License-Identifier: Apache-2.0 */
/* test_machine.c: the shared machine file: configuration, device identity, memory accounting
 * across processes, and what happens to a process's share when it exits or is killed.
 *
 * The configuration tests run in forked children before this process attaches, each with its own
 * environment, and read the one-line message the child prints. The accounting tests call the
 * machine's own interface (sim.h) from several processes at once. */
#include "simtest.h"

#include "sim/sim.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GiB (1ull << 30)

/* Run cuInit in a child with the given variables (NULL: unset) and capture its stderr. */
static CUresult init_in_child(const char *machine, const char *gpus, char *msg, size_t cap)
{
    int errp[2], resp[2];
    if (pipe(errp) || pipe(resp))
        return CUDA_ERROR_UNKNOWN;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(errp[1], 2);
        if (machine)
            setenv("GPUVISOR_SIM_MACHINE", machine, 1);
        if (gpus)
            setenv("GPUVISOR_SIM_GPUS", gpus, 1);
        else
            unsetenv("GPUVISOR_SIM_GPUS");
        CUresult r = cuInit(0);
        if (write(resp[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(2);
        _exit(0);
    }
    close(errp[1]);
    close(resp[1]);
    CUresult r = CUDA_ERROR_UNKNOWN;
    if (read(resp[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
        r = CUDA_ERROR_UNKNOWN;
    ssize_t n = read(errp[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    waitpid(pid, NULL, 0);
    close(errp[0]);
    close(resp[0]);
    return r;
}

static void test_bad_configuration(void)
{
    char msg[512];
    const char *name = getenv("GPUVISOR_SIM_MACHINE");
    CHECK_CU(init_in_child(name, "T5", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
    printf("     %s", msg);
    CHECK(strstr(msg, "GPUVISOR_SIM_GPUS=\"T5\"") && strstr(msg, "T4"));
    CHECK(strchr(msg, '\n') == msg + strlen(msg) - 1); /* one line */
    CHECK_CU(init_in_child(name, "T4,,T4", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
    CHECK(strstr(msg, "GPUVISOR_SIM_GPUS=\"T4,,T4\"") && strstr(msg, "empty"));
    CHECK_CU(
        init_in_child(name, "T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4,T4", msg, sizeof(msg)),
        CUDA_ERROR_INVALID_VALUE);
    CHECK(strstr(msg, "at most 16"));
    CHECK_CU(init_in_child("bad/name", "T4", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
    printf("     %s", msg);
    CHECK(strstr(msg, "GPUVISOR_SIM_MACHINE=\"bad/name\""));
    CHECK_CU(init_in_child("", "T4", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
    char longname[80];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    CHECK_CU(init_in_child(longname, "T4", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
}

/* A machine's devices are fixed by its first process: later ones that name others are refused,
 * and those that name none take the machine's. (Children forked before this process attaches:
 * a child of an attached process keeps its parent's machine.) */
static void test_devices_fixed_at_creation(void)
{
    char msg[512];
    const char *name = getenv("GPUVISOR_SIM_MACHINE");
    CHECK_CU(init_in_child(name, "T4,T4", msg, sizeof(msg)), CUDA_SUCCESS);
    CHECK_CU(init_in_child(name, "H200", msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
    printf("     %s", msg);
    CHECK(strstr(msg, "GPUVISOR_SIM_GPUS=\"H200\"") && strstr(msg, "T4,T4"));
    CHECK_CU(init_in_child(name, NULL, msg, sizeof(msg)), CUDA_SUCCESS);
    CHECK_CU(init_in_child(name, "t4, T4", msg, sizeof(msg)), CUDA_SUCCESS);
}

static void test_device_identity(void)
{
    CHECK(gvsim_device_count() == 2);
    const struct gvsim_dev_info *a = gvsim_dev(0), *b = gvsim_dev(1);
    CHECK(a && b && !gvsim_dev(2) && !gvsim_dev(-1));
    CHECK(a->index == 0 && b->index == 1);
    CHECK(strcmp(a->model->name, "T4") == 0 && a->total == a->model->memory);
    CHECK(memcmp(a->uuid, b->uuid, 16) != 0);
    CHECK(strncmp(a->uuid_str, "GPU-", 4) == 0 && strlen(a->uuid_str) == 40);
    CHECK(strcmp(a->uuid_str, b->uuid_str) != 0);
    CHECK(strcmp(a->bus_id, "00000000:41:00.0") == 0);
    CHECK(strcmp(b->bus_id, "00000000:42:00.0") == 0);
    CHECK(a->pci_bus != b->pci_bus);
}

static bool holds(pid_t pid, int dev, uint64_t *mem)
{
    struct gvsim_proc_usage u[16];
    int n = gvsim_dev_processes(dev, u, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (u[i].pid == pid) {
            if (mem)
                *mem = u[i].mem;
            return true;
        }
    return false;
}

static void test_charge_and_info(void)
{
    uint64_t free0, used0, total;
    gvsim_mem_info(0, &free0, &used0, &total);
    CHECK(total == gvsim_dev(0)->total && free0 + used0 == total);
    CHECK(gvsim_mem_charge(0, 3 * GiB) == 0);
    uint64_t free1, used1;
    gvsim_mem_info(0, &free1, &used1, NULL);
    CHECK(used1 == used0 + 3 * GiB && free1 == free0 - 3 * GiB);
    uint64_t mine = 0;
    CHECK(holds(getpid(), 0, &mine) && mine >= 3 * GiB);
    CHECK(gvsim_mem_charge(0, total) == -ENOMEM);
    gvsim_mem_info(0, &free1, &used1, NULL);
    CHECK(used1 == used0 + 3 * GiB);        /* a failed charge changes nothing */
    CHECK(gvsim_mem_charge(1, free0) == 0); /* the other device is separate */
    gvsim_mem_uncharge(1, free0);
    gvsim_mem_uncharge(0, 3 * GiB);
    gvsim_mem_info(0, &free1, &used1, NULL);
    CHECK(used1 == used0);
    CHECK(gvsim_mem_charge(7, 1) != 0);
}

/* Four processes charge 256 MiB at a time as fast as they can until the device is full: together
 * they get exactly what was free, never more. Then they exit and it is all free again. */
static void test_charge_race(void)
{
    uint64_t free0, total;
    gvsim_mem_info(0, &free0, NULL, &total);
    uint64_t unit = 256ull << 20;
    int res[2];
    CHECK(pipe(res) == 0);
    pid_t kids[4];
    fflush(stdout);
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            uint64_t got = 0;
            while (gvsim_mem_charge(0, unit) == 0)
                got++;
            uint64_t f;
            gvsim_mem_info(0, &f, NULL, NULL);
            if (write(res[1], &got, sizeof(got)) != (ssize_t)sizeof(got))
                _exit(2);
            usleep(100000); /* hold it while the others finish */
            exit(0);
        }
    }
    uint64_t sum = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t got = 0;
        CHECK(read(res[0], &got, sizeof(got)) == sizeof(got));
        sum += got;
    }
    uint64_t free_mid;
    gvsim_mem_info(0, &free_mid, NULL, NULL);
    for (int k = 0; k < 4; k++)
        waitpid(kids[k], NULL, 0);
    uint64_t free_end;
    gvsim_mem_info(0, &free_end, NULL, NULL);
    printf("     4 racing processes charged %llu x 256 MiB of %llu free\n", (unsigned long long)sum,
           (unsigned long long)(free0 / unit));
    CHECK(sum == free0 / unit);
    CHECK(free_mid < unit);
    CHECK(free_end == free0);
    close(res[0]);
    close(res[1]);
}

/* A forked child has a slot of its own: its charges are its own, it cannot give back the
 * parent's, and killing it returns only its share, within a second, zombie or not. */
static void test_fork_and_kill(void)
{
    uint64_t free0;
    gvsim_mem_info(0, &free0, NULL, NULL);
    CHECK(gvsim_mem_charge(0, 1 * GiB) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        gvsim_mem_uncharge(0, 1 * GiB); /* the parent's: not the child's to give back */
        if (gvsim_mem_charge(0, 2 * GiB) != 0 || write(ready[1], "r", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    uint64_t mine = 0, child = 0, f;
    CHECK(holds(getpid(), 0, &mine) && mine == 1 * GiB);
    CHECK(holds(pid, 0, &child) && child == 2 * GiB);
    gvsim_mem_info(0, &f, NULL, NULL);
    CHECK(f == free0 - 3 * GiB);
    kill(pid, SIGKILL);
    uint64_t t0 = st_now_ns();
    while (holds(pid, 0, NULL) && st_now_ns() - t0 < 2000000000ull)
        usleep(1000);
    uint64_t took = st_now_ns() - t0;
    CHECK(took < 1000000000ull);
    gvsim_mem_info(0, &f, NULL, NULL);
    CHECK(f == free0 - 1 * GiB);
    waitpid(pid, NULL, 0);
    gvsim_mem_uncharge(0, 1 * GiB);
    gvsim_mem_info(0, &f, NULL, NULL);
    CHECK(f == free0);
    close(ready[0]);
    close(ready[1]);
}

/* A child that exits normally gives its memory back at exit; one that never charges is never
 * listed; a context alone lists a process with no memory. */
static void test_exit_and_listing(void)
{
    uint64_t free0, f;
    gvsim_mem_info(0, &free0, NULL, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (gvsim_mem_charge(0, 1 * GiB) != 0)
            _exit(2);
        exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gvsim_mem_info(0, &f, NULL, NULL);
    CHECK(f == free0);
    CHECK(!holds(pid, 0, NULL));
    gvsim_ctx_attach_dev(1);
    uint64_t mem = 1;
    CHECK(holds(getpid(), 1, &mem) && mem == 0);
    gvsim_ctx_detach_dev(1);
    CHECK(!holds(getpid(), 1, NULL));
}

int main(void)
{
    st_machine("T4,T4");
    RUN(test_bad_configuration);
    RUN(test_devices_fixed_at_creation);
    if (cuInit(0) != CUDA_SUCCESS) {
        fprintf(stderr, "cuInit failed\n");
        return 1;
    }
    RUN(test_device_identity);
    RUN(test_charge_and_info);
    RUN(test_charge_race);
    RUN(test_fork_and_kill);
    RUN(test_exit_and_listing);
    return st_summary();
}
