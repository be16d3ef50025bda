#!/bin/sh
# Run every benchmark of the build directory given as $1 and print their tables.
set -e
b=${1:-build}
for x in "$b"/bench/bench_*; do
    [ -x "$x" ] || continue
    echo "== $(basename "$x")"
    "$x"
    echo
done
