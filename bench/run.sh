#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every benchmark of the build directory given as $1 and print their tables. Programs that
# talk to the driver run against the simulator in $1/lib/sim. BENCH_COMPUTE_ONLY=A,C limits
# bench_compute to those of its tables (see its header).
set -e
b=$(cd "${1:-build}" && pwd)
export LD_LIBRARY_PATH="$b/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for x in "$b"/bench/bench_*; do
    [ -x "$x" ] || continue
    echo "== $(basename "$x")"
    case "$(basename "$x")" in
    bench_shim | bench_compute | bench_local) "$x" "$b/lib/libgpuvisor.so" ;;
    bench_startup) "$x" "$b/bin/gpuvisor" "$b/lib/libgpuvisor.so" ;;
    bench_daemon) "$x" "$b/bin/gpuvisord" ;;
    bench_remote) "$x" "$b" ;;
    *) "$x" ;;
    esac
    echo
done
