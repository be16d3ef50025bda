#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The main job: GPUs shared by the groups of one server, each in hard slices.
#
# Part 1, standalone (any user): two slices of one GPU made with `gpuvisor run --memory`. Tenant A
# gets 4 GiB and wants 6 GiB: its fifth gibibyte is refused with a clean out-of-memory error and it
# carries on with four. Tenant B gets 8 GiB, wants 6 GiB and gets them.
#
# Part 2, through gpuvisord (root: it adds two Unix users): the daemon owns the GPU. Two tenants,
# lab-a and lab-b, each bound to its own Unix user (gpuvisor-demo-a, gpuvisor-demo-b); the T4 is
# carved into profiles for both until it is full, and one more instance is refused with the reason.
# Each user runs a program in its tenant's instance with `gpuvisor run --instance`, and user b is
# refused when it tries lab-a's. `gpuvisor list`, `show` and `smi` show it all.
#
# Without a GPU both parts run on the simulator (a simulated Tesla T4, 16 GiB). Everything made is
# removed at the end: the daemon and its state, the instances, and the users the demo added.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
b=${BUILD:-$top/build}
gv="$b/bin/gpuvisor"
gvd="$b/bin/gpuvisord"
tenant="$b/bin/gpuvisor-demo-tenant"
for f in "$gv" "$tenant" "$b/lib/libgpuvisor.so"; do
    [ -e "$f" ] || { echo "gpuvisor demo: $f is missing: run 'make' first" >&2; exit 1; }
done

sim=0
if [ -e /dev/nvidiactl ] && ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
    echo "gpuvisor demo: running on the GPU of this machine"
else
    sim=1
    echo "gpuvisor demo: no GPU found; using the simulator (a simulated Tesla T4, 16 GiB)"
    export LD_LIBRARY_PATH="$b/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export GPUVISOR_SIM_GPUS=T4
    export GPUVISOR_SIM_MACHINE="demo-$$"
fi
T=$(mktemp -d /tmp/gpuvisor-demo.XXXXXX)
export GPUVISOR_REGION_DIR="$T/regions"
DPID=""
ADDED_USERS=""
cleanup() {
    if [ -n "$DPID" ]; then
        "$gv" tenant delete lab-a --force >/dev/null 2>&1 || true
        "$gv" tenant delete lab-b --force >/dev/null 2>&1 || true
        kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    fi
    for u in $ADDED_USERS; do userdel "$u" 2>/dev/null || true; done
    rm -rf "$T"
    [ -n "${GPUVISOR_SIM_MACHINE:-}" ] && rm -f "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n$ %s\n' "$*"; }

# ------------------------------------------------------------------ part 1: standalone slices

echo
echo "== Part 1: standalone slices (gpuvisor run --memory)"
say "gpuvisor run --memory 4GiB --instance tenant-a -- gpuvisor-demo-tenant --want 6GiB"
say "gpuvisor run --memory 8GiB --instance tenant-b -- gpuvisor-demo-tenant --want 6GiB"
"$gv" run --memory 4GiB --instance tenant-a -- "$tenant" --label tenant-a --want 6GiB --hold 3 &
a=$!
"$gv" run --memory 8GiB --instance tenant-b -- "$tenant" --label tenant-b --want 6GiB --hold 3 &
bpid=$!
sleep 1.5
say "gpuvisor smi"
GPUVISOR_DAEMON="$T/none" GPUVISOR_URL="http://127.0.0.1:1" "$gv" smi
sa=0; sb=0
wait $a || sa=$?
wait $bpid || sb=$?
echo
# Tenant A ends with 3 ("did not get all it wanted"), tenant B with 0.
if [ "$sa" -eq 3 ] && [ "$sb" -eq 0 ]; then
    echo "gpuvisor demo: tenant-a was held to its 4 GiB slice with a clean out-of-memory error;"
    echo "gpuvisor demo: tenant-b got its 6 GiB inside its 8 GiB slice. OK"
    rm -rf "$GPUVISOR_REGION_DIR" # the named slices stay until removed
else
    echo "gpuvisor demo: unexpected result (tenant-a exit $sa, want 3; tenant-b exit $sb, want 0)" >&2
    exit 1
fi

# ------------------------------------------------------------------ part 2: gpuvisord

echo
echo "== Part 2: two groups of users share the GPU through gpuvisord"
why=""
[ -x "$gvd" ] || why="gpuvisord is not built (it needs libmicrohttpd, jansson and sqlite3: scripts/deps.sh)"
"$gv" help | grep -q '^  create ' || why="gpuvisor was built without libcurl or jansson"
[ "$(id -u)" = 0 ] || why="it adds two Unix users: run it as root (sudo make demo)"
for c in setpriv useradd python3; do
    command -v $c >/dev/null || why="it needs $c"
done
if [ -n "$why" ]; then
    echo "gpuvisor demo: skipping part 2: $why"
    exit 0
fi

# The demo users run programs from here: a copy of what they need, in a directory they can reach
# whatever the permissions of the build tree. gpuvisor finds the interposer beside itself.
mkdir -p "$T/bin" "$T/lib"
cp "$gv" "$tenant" "$T/bin/"
cp "$b/lib/libgpuvisor.so" "$T/lib/"
if [ $sim = 1 ]; then
    cp -r "$b/lib/sim" "$T/lib/sim"
    export LD_LIBRARY_PATH="$T/lib/sim"
fi
chmod -R a+rX "$T"
gv="$T/bin/gpuvisor"
tenant="$T/bin/gpuvisor-demo-tenant"

for u in gpuvisor-demo-a gpuvisor-demo-b; do
    if ! id -u "$u" >/dev/null 2>&1; then
        useradd -M -r -s /usr/sbin/nologin "$u"
        ADDED_USERS="$ADDED_USERS $u"
    fi
done
# as USER CMD...: run CMD as that Unix user (its own group, no others).
as() {
    u=$1
    shift
    setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups "$@"
}

STATE="$T/state"
export GPUVISOR_DAEMON="$T/run/gpuvisord.sock"
simopt=""
[ $sim = 1 ] && simopt="--sim T4"
say "gpuvisord $simopt --listen 127.0.0.1:0 --state $STATE --socket $GPUVISOR_DAEMON &"
# shellcheck disable=SC2086
"$gvd" $simopt --listen 127.0.0.1:0 --state "$STATE" --socket "$GPUVISOR_DAEMON" >"$T/gpuvisord.log" 2>&1 &
DPID=$!
i=0
while [ ! -s "$STATE/port" ] || [ ! -S "$GPUVISOR_DAEMON" ]; do
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 "$DPID" 2>/dev/null; then
        echo "gpuvisor demo: gpuvisord did not start:" >&2
        cat "$T/gpuvisord.log" >&2
        exit 1
    fi
    sleep 0.05
done
# The demo users' programs share the daemon's simulated machine.
[ $sim = 1 ] && chmod 666 "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"

say "gpuvisor gpus"
"$gv" gpus
# On the simulator the T4's own profiles; on a real GPU those of its model with two and four per
# GPU, whatever the model is.
if [ $sim = 1 ]; then
    half=T4-8C quarter=T4-4C
else
    pick() {
        "$gv" profiles --json | python3 -c '
import json, sys
gpu0 = json.load(open(sys.argv[2]))["gpus"][0]["model"]
ps = [p for p in json.load(sys.stdin)["profiles"]
      if p["model"] == gpu0 and p["kind"] == "timesliced" and p["max_instances"] == int(sys.argv[1])]
print(ps[0]["name"] if ps else "")' "$1" "$T/gpus.json"
    }
    "$gv" gpus --json >"$T/gpus.json"
    half=$(pick 2) quarter=$(pick 4)
    if [ -z "$half" ] || [ -z "$quarter" ]; then
        echo "gpuvisor demo: this GPU's model has no profiles of two and four per GPU" >&2
        exit 1
    fi
fi
say "gpuvisor profiles"
"$gv" profiles | sed -n "1p;/^$half /p;/^$quarter /p"

say "gpuvisor tenant add lab-a --user gpuvisor-demo-a"
"$gv" tenant add lab-a --user gpuvisor-demo-a | sed '$s/^gvt_.*/gvt_... (the token)/'
say "gpuvisor tenant add lab-b --user gpuvisor-demo-b"
"$gv" tenant add lab-b --user gpuvisor-demo-b | sed '$s/^gvt_.*/gvt_... (the token)/'

say "gpuvisor create --tenant lab-a --profile $half --name big"
"$gv" create --tenant lab-a --profile "$half" --name big
big=$("$gv" list --tenant lab-a --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["instances"][0]["id"])')
for n in 1 2; do
    say "gpuvisor create --tenant lab-b --profile $quarter --name small-$n"
    "$gv" create --tenant lab-b --profile "$quarter" --name "small-$n"
done
say "gpuvisor create --tenant lab-b --profile $quarter --name small-3"
if "$gv" create --tenant lab-b --profile "$quarter" --name small-3; then
    echo "gpuvisor demo: a full GPU took one more instance" >&2
    exit 1
fi
echo "gpuvisor demo: refused, the GPU is full (exit status 1, the daemon's reason above)"
say "gpuvisor list"
"$gv" list

echo
echo "gpuvisor demo: each user runs a program in its own tenant's instance:"
say "(as gpuvisor-demo-a) gpuvisor run --instance big -- gpuvisor-demo-tenant --want 10GiB"
as gpuvisor-demo-a "$gv" run --instance big -- "$tenant" --label lab-a --want 10GiB --hold 3 &
a=$!
say "(as gpuvisor-demo-b) gpuvisor run --instance small-1 -- gpuvisor-demo-tenant --want 3GiB"
as gpuvisor-demo-b "$gv" run --instance small-1 -- "$tenant" --label lab-b --want 3GiB --hold 3 &
bpid=$!
sleep 1.5
say "(as gpuvisor-demo-b) gpuvisor run --instance $big -- gpuvisor-demo-tenant --want 1GiB"
if as gpuvisor-demo-b "$gv" run --instance "$big" -- "$tenant" --label intruder --want 1GiB; then
    echo "gpuvisor demo: gpuvisor-demo-b got into lab-a's instance" >&2
    exit 1
fi
echo "gpuvisor demo: refused: gpuvisor-demo-b is not a user of lab-a"
say "gpuvisor smi"
"$gv" smi
say "gpuvisor show $big"
"$gv" show "$big"
sa=0; sb=0
wait $a || sa=$?
wait $bpid || sb=$?
echo
if [ "$sa" -eq 3 ] && [ "$sb" -eq 0 ]; then
    echo "gpuvisor demo: lab-a was held to its $half instance with a clean out-of-memory error;"
    echo "gpuvisor demo: lab-b got its 3 GiB inside its $quarter instance;"
    echo "gpuvisor demo: the GPU took no instance beyond its size, and no user got into another's. OK"
else
    echo "gpuvisor demo: unexpected result (lab-a exit $sa, want 3; lab-b exit $sb, want 0)" >&2
    exit 1
fi
