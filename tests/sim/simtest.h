/* SPDX-License-Identifier: Apache-2.0 */
/* simtest.h: a tiny harness for simulator test programs.
 *
 * Test programs are plain driver-API programs (they may fork, be killed, time things), so they use
 * this harness rather than cmocka: CHECK/CHECK_CU abort the current test with file:line and the
 * driver's error name; RUN runs a test function and counts. main() ends with st_summary(), which
 * prints "N passed, N failed" and returns the exit status. */
#ifndef SIMTEST_H
#define SIMTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cuda.h>

extern int st_failed_now;

void st_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *st_cu_name(CUresult r);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            st_fail(__FILE__, __LINE__, "check failed: %s", #cond);                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Fail the current test with a message and return. */
#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        st_fail(__FILE__, __LINE__, "%s", msg);                                                    \
        return;                                                                                    \
    } while (0)

#define CHECK_CU(call, want)                                                                       \
    do {                                                                                           \
        CUresult st_r_ = (call);                                                                   \
        if (st_r_ != (want)) {                                                                     \
            st_fail(__FILE__, __LINE__, "%s returned %s, want %s", #call, st_cu_name(st_r_),       \
                    st_cu_name(want));                                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define OK(call) CHECK_CU(call, CUDA_SUCCESS)

/* Run one test; prints "ok NAME" or "FAIL NAME". */
void st_run(const char *name, void (*fn)(void));
#define RUN(fn) st_run(#fn, fn)

/* Give this process (and its children) a simulated machine of its own, named after the test
 * and the pid, with the given GPUs ("T4", "T4,H200"). Call before cuInit. Removes the machine's
 * file at exit. */
void st_machine(const char *gpus);

/* Whether the program runs through gpuvisor's remoting (tests/remote/run_remote.sh sets
 * GVSIM_TEST_REMOTE=1). Where the remote driver answers differently by design (docs/remote.md: an
 * error that only the device finds comes back at the next synchronization), a test checks the
 * remote answer instead. */
bool st_remote(void);

/* Print "N passed, N failed" and return the exit status for main. */
int st_summary(void);

uint64_t st_now_ns(void);

#endif
