/* SPDX-License-Identifier: Apache-2.0 */
/* replay.c: a fuzz target as a plain program, for machines and compilers without libFuzzer.
 *
 * Linked with one target's file in place of libFuzzer's main. With arguments it runs each file,
 * or every file of each directory, through LLVMFuzzerTestOneInput once: that replays a crash a
 * fuzzer saved, or a whole corpus. Without arguments it replays the target's seed corpus, whose
 * directory is compiled in (FUZZ_CORPUS), which is what the CTest tests labelled "fuzz-replay" do.
 * Every input is read into an allocation of exactly its size, so that an overread shows up under
 * AddressSanitizer here as it would under the fuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name the target's seed corpus directory"
#endif

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
    }
    /* Exactly n bytes (at least one, so that malloc(0) is never asked). */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

/* Run a file, or every regular file in a directory (in name order, so runs are repeatable).
 * Returns the number of inputs run, or -1. */
static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path) < 0 ? -1 : 1;
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int count = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
        if (!rc && names[i]->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(file) < 0)
                rc = -1;
            else
                count++;
        }
        free(names[i]);
    }
    free(names);
    return rc < 0 ? -1 : count;
}

int main(int argc, char **argv)
{
    static const char *seeds[] = {FUZZ_CORPUS};
    const char **paths = argc > 1 ? (const char **)argv + 1 : seeds;
    int npaths = argc > 1 ? argc - 1 : 1;
    int total = 0;
    for (int i = 0; i < npaths; i++) {
        int n = run_path(paths[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %d inputs ran without a crash\n", total);
    return 0;
}
