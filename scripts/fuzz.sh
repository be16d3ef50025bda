#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fuzz every parser (`make fuzz`): build the targets of fuzz/ with clang and libFuzzer into
# build-fuzz/ and run each for FUZZ_SECONDS seconds (default 60), one after the other.
# Each target starts from its seeds (fuzz/corpus/<target>, read only) and from what earlier runs
# found (build-fuzz/corpus/<target>, where new inputs go); a crash is saved under
# build-fuzz/crashes/<target>/ and can be replayed with the plain build's program:
#   build/fuzz/fuzz_<target> build-fuzz/crashes/<target>/crash-...
# Variables: FUZZ_SECONDS, FUZZ_TARGETS (default: every target built, gpuvisord's parsers included
# when its libraries are installed), FUZZ_CC (default clang), FUZZ_BUILD.
set -eu

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-}
cc=${FUZZ_CC:-clang}
build=${FUZZ_BUILD:-build-fuzz}
src=$(cd "$(dirname "$0")/.." && pwd)

# libFuzzer ships with clang's runtime libraries, which Debian packages apart from clang.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$probe/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" 2>"$probe/log"; then
    echo "gpuvisor: make fuzz needs clang with libFuzzer, and \"$cc\" cannot link a fuzzer:" >&2
    sed 's/^/  /' "$probe/log" | head -5 >&2
    echo "gpuvisor: on Debian install them as root: apt-get install clang libclang-rt-14-dev" >&2
    echo "gpuvisor: (or set FUZZ_CC to a clang that has libFuzzer)" >&2
    exit 1
fi

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DGV_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc 2>/dev/null || echo 2)"

if [ -z "$targets" ]; then
    for f in "$build"/fuzz/fuzz_*; do
        [ -x "$f" ] && targets="$targets ${f##*/fuzz_}"
    done
fi
failed=""
for t in $targets; do
    mkdir -p "$build/corpus/$t" "$build/crashes/$t"
    echo "== fuzz_$t: $seconds s"
    if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t/" "$build/corpus/$t" "$src/fuzz/corpus/$t"; then
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "gpuvisor: fuzzing found crashes in:$failed (inputs in $build/crashes/)" >&2
    exit 1
fi
echo "gpuvisor: no crashes in $seconds s per target"
