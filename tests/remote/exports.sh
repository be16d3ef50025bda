#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The remoting client's libraries export exactly the entry points of the simulated driver's: every
# driver and NVML call the simulator implements can be made through remoting, and nothing more is
# offered. usage: exports.sh SIM_LIBCUDA REMOTE_LIBCUDA SIM_LIBNVML REMOTE_LIBNVML
set -eu
syms() { nm -D --defined-only "$1" | awk '{print $3}' | grep "^$2" | sort; }
status=0
for pair in "$1 $2 cu" "$3 $4 nvml"; do
    set -- $pair
    a=$(syms "$1" "$3")
    b=$(syms "$2" "$3")
    if [ "$a" != "$b" ]; then
        echo "exports differ between $1 and $2:"
        t=$(mktemp -d)
        printf '%s\n' "$a" >"$t/a"
        printf '%s\n' "$b" >"$t/b"
        diff "$t/a" "$t/b" || true
        rm -rf "$t"
        status=1
    else
        echo "$(printf '%s\n' "$a" | wc -l) $3* entry points, the same in both"
    fi
done
exit $status
