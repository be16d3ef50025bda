#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run_remote.sh: run a driver-API program through remoting, as a GPU-less machine runs it.
#
#   run_remote.sh BUILD_DIR GPUS PROGRAM [ARGS...]
#
# Starts gpuvisor-remoted on a unix socket in a temporary directory, on the simulated machine the
# program itself will name, then runs the program with build/lib/remote first on LD_LIBRARY_PATH
# (its libcuda.so.1 and libnvidia-ml.so.1 are the remote client's) and GPUVISOR_REMOTE and
# GPUVISOR_REMOTE_TOKEN set, and stops the server and removes everything afterwards, whatever
# happened. The program's exit status is this script's; on a failure the server's log follows.
#
# A simulator test program gives itself a machine of its own, "$GPUVISOR_SIM_MACHINE-<its pid>",
# with the GPUs it names (tests/sim/simtest.c st_machine). The server must serve that machine, so
# the program's pid must be known before it starts: it is started in a subshell that waits on a
# fifo and then execs the program (keeping the pid), the server is started for that machine with
# GPUS, and the fifo lets the program go once the server listens. With GPUS empty, the program is
# taken to use $GPUVISOR_SIM_MACHINE as it is.
set -u

if [ $# -lt 3 ]; then
    echo "usage: run_remote.sh BUILD_DIR GPUS PROGRAM [ARGS...]" >&2
    exit 2
fi
build=$1
gpus=$2
shift 2
base=${GPUVISOR_SIM_MACHINE:-remote}

dir=$(mktemp -d /tmp/gvrt-run.XXXXXX) || exit 1
server=
child=
machine=
cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill -KILL "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null
        # The server stops within its 200 ms poll; past a deadline it is killed.
        for _ in $(seq 100); do
            kill -0 "$server" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$server" 2>/dev/null
        wait "$server" 2>/dev/null
    fi
    [ -n "$machine" ] && rm -f "/dev/shm/gvsim.$machine"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" > "$dir/token"
mkdir "$dir/region"
mkfifo "$dir/go"

(
    read -r _ < "$dir/go"
    export LD_LIBRARY_PATH="$build/lib/remote${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export GPUVISOR_REMOTE="unix:$dir/sock" GPUVISOR_REMOTE_TOKEN="$token" GVSIM_TEST_REMOTE=1
    exec "$@"
) &
child=$!

if [ -n "$gpus" ]; then
    machine="$base-$child"
else
    machine="$base"
fi
GPUVISOR_SIM_MACHINE="$machine" GPUVISOR_SIM_GPUS="${gpus:-T4}" GPUVISOR_REGION_DIR="$dir/region" \
    LD_LIBRARY_PATH="$build/lib/sim" \
    "$build/bin/gpuvisor-remoted" --listen "unix:$dir/sock" --token-file "$dir/token" \
    2> "$dir/server.log" &
server=$!

# Until it says it listens (printed after listen()), or it exits, or 20 s pass.
for _ in $(seq 400); do
    grep -q "listening on" "$dir/server.log" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
done
if ! grep -q "listening on" "$dir/server.log" 2>/dev/null; then
    echo "run_remote.sh: gpuvisor-remoted did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

echo go > "$dir/go"
wait "$child"
status=$?
child=
if [ "$status" -ne 0 ]; then
    echo "---- gpuvisor-remoted's log (machine $machine, GPUs ${gpus:-as named})" >&2
    cat "$dir/server.log" >&2
fi
exit "$status"
