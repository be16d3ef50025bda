#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cli_test.sh CASE: one behaviour of the `gpuvisor` command, checked from the outside as a user
# meets it: exit statuses, messages, the environment a command is started with, and what
# `gpuvisor smi` shows. CTest runs each case as its own test (tests/cli/CMakeLists.txt), passing the
# built files in GV_BIN, GV_SHIM, GV_SIMDIR, GV_HOLD, GV_REGIONT, GV_EMPTY and GV_TESTD. Every case
# gets its own region directory and simulated machine, removed at the end, so cases run in parallel.
set -u
CASE=$1
T=$(mktemp -d)
export GPUVISOR_REGION_DIR="$T/regions"
export GPUVISOR_SIM_MACHINE="cli-$CASE-$$"
export GPUVISOR_SIM_GPUS="T4,T4"
export LD_LIBRARY_PATH="$GV_SIMDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset LD_PRELOAD GPUVISOR_SHIM GPUVISOR_NVML GPUVISOR_MEMORY GPUVISOR_COMPUTE GPUVISOR_INSTANCE \
    CUDA_VISIBLE_DEVICES CUDA_DEVICE_MEMORY_LIMIT CUDA_DEVICE_MEMORY_SHARED_CACHE \
    GPUVISOR_CONTEXT_MEMORY GPUVISOR_SIM_CONTEXT_MEMORY GPUVISOR_REGION_FD GPUVISOR_URL \
    GPUVISOR_TOKEN GPUVISOR_STATE_DIR
# No gpuvisord, even on a machine that runs one: these cases are about standalone slices.
export GPUVISOR_DAEMON="$T/no-gpuvisord.sock" GPUVISOR_URL="http://127.0.0.1:1"
mkdir -p "$GPUVISOR_REGION_DIR"
BG=""

TD=""
cleanup() {
    # The stand-in daemon removes its directory when told to stop.
    [ -n "$TD" ] && kill -TERM "$TD" 2>/dev/null && wait "$TD" 2>/dev/null
    for p in $BG; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
    rm -f "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"


# envof VAR ARGS...: the value of VAR in the environment `gpuvisor run ARGS -- env` gives its command.
envof() {
    var=$1
    shift
    "$GV_BIN" run "$@" -- env >"$T/env" 2>"$T/err" || { echo "<exit $?: $(cat "$T/err")>"; return; }
    grep "^$var=" "$T/env" | head -n 1 | cut -d= -f2-
}


# wait_ready FILE: wait (up to 10 s) for a background helper to print "ready".
wait_ready() {
    i=0
    while ! grep -q ready "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "helper never got ready: $(cat "$1")"; return 1; }
        sleep 0.05
    done
}

uuids() {
    "$GV_HOLD" uuids >"$T/uuids" || fail "cli_hold uuids"
    U0=$(sed -n 1p "$T/uuids")
    U1=$(sed -n 2p "$T/uuids")
    [ -n "$U0" ] && [ -n "$U1" ] || fail "simulated GPUs have no UUIDs"
}

G=$GV_BIN
case "$CASE" in
help)
    expect 0 "gpuvisor " "$G" --version
    grep -q '^gpuvisor [0-9]' "$T/out" || fail "--version: $(cat "$T/out")"
    expect 0 "smi" "$G" help
    expect 0 "run" "$G" --help
    expect 2 "Usage" "$G"
    expect 2 'unknown command "bogus"' "$G" bogus
    expect 0 "--memory KEY=SIZE" "$G" run --help
    expect 0 "takes effect with" "$G" run --help
    expect 0 "--json" "$G" smi --help
    ;;
bad_options)
    uuids
    expect 2 'unknown option "--bogus"' "$G" run --bogus -- true
    expect 2 '--memory: missing value' "$G" run --memory
    expect 2 '--memory: size "2XB": unknown unit' "$G" run --memory 2XB -- true
    expect 2 '--memory "0=2XB": size "2XB": unknown unit' "$G" run --memory 0=2XB -- true
    expect 2 'more than 0 bytes' "$G" run --memory 0 -- true
    expect 2 '--memory "2GiB": --memory already given' "$G" run --memory 4GiB --memory 2GiB -- true
    expect 2 'not both' "$G" run --memory 4GiB --memory 0=2GiB -- true
    expect 2 'not both' "$G" run --memory 0=2GiB --memory 4GiB -- true
    expect 2 'is not KEY=VALUE' "$G" run --memory 0=2GiB,4GiB -- true
    expect 2 'GPU "0" is given twice' "$G" run --memory 0=2GiB,0=1GiB -- true
    expect 2 'key "x" is not a GPU index' "$G" run --memory x=1GiB -- true
    expect 2 'empty entry' "$G" run --memory 0=1GiB,,1=1GiB -- true
    expect 2 '--memory: empty value' "$G" run --memory= -- true
    expect 2 'GPU index 5 is out of range' "$G" run --memory 5=1GiB -- true
    expect 2 'is not on this machine' "$G" run --memory GPU-00000000-0000-0000-0000-000000000000=1GiB -- true
    expect 2 'are the same GPU' "$G" run --memory "0=1GiB,$U0=2GiB" -- true
    expect 2 'compute share "0"' "$G" run --compute 0 -- true
    expect 2 'at most 100' "$G" run --compute 150% -- true
    expect 2 '--compute: missing value' "$G" run --compute
    expect 2 'time slice "0.5ms": out of range (1ms to 30ms)' "$G" run --timeslice 0.5ms -- true
    expect 2 'time slice "fast": not a time' "$G" run --timeslice fast -- true
    expect 2 '--timeslice: missing value' "$G" run --timeslice
    expect 2 '--compute-policy: compute policy "shared": not one of fixed, guaranteed or best-effort' \
        "$G" run --compute-policy shared -- true
    expect 2 '--priority: priority "top": not one of high, normal or low' "$G" run --priority top -- true
    expect 2 '--compute-policy: missing value' "$G" run --compute-policy
    expect 2 '--priority: missing value' "$G" run --priority
    expect 2 'GPU index 2 is out of range' "$G" run --compute 2=50 -- true
    expect 2 '--instance: instance name "a/b"' "$G" run --instance a/b -- true
    expect 2 '--instance: instance name' "$G" run --instance "" -- true
    expect 2 'already given' "$G" run --instance a --instance b -- true
    expect 2 'missing command' "$G" run --memory 1GiB
    expect 2 'missing command' "$G" run --memory 1GiB --
    expect 2 'missing command' "$G" run
    expect 2 '--devices: empty list' "$G" run --devices "" -- true
    expect 2 'empty entry' "$G" run --devices 0,,1 -- true
    expect 2 'GPU index 2 is out of range' "$G" run --devices 2 -- true
    expect 2 'is not on this machine' "$G" run --devices GPU-00000000-0000-0000-0000-000000000000 -- true
    expect 2 'is not a GPU index or UUID' "$G" run --devices 0,gpu1 -- true
    expect 2 'GPU "1" is given twice' "$G" run --devices 1,1 -- true
    expect 2 'are the same GPU' "$G" run --devices "0,$U0" -- true
    expect 2 '--devices "1": already given' "$G" run --devices 0 --devices 1 -- true
    expect 2 'smi: unknown option "--bogus"' "$G" smi --bogus
    expect 2 'smi: unexpected argument "x"' "$G" smi x
    ;;
no_nvml)
    # A machine without NVML: plain sizes and UUIDs work, indices are refused with a way out.
    export GPUVISOR_NVML="$T/no-such-libnvidia-ml.so.1"
    expect 2 'name GPUs by UUID' "$G" run --memory 0=1GiB -- true
    expect 2 'needs NVML' "$G" run --compute 1=50 -- true
    check_eq "plain size" "$(envof GPUVISOR_MEMORY --memory 1GiB)" "1073741824"
    check_eq "UUID key" "$(envof GPUVISOR_MEMORY --memory GPU-0123ABCD-0000-0000-0000-00000000FFFF=1GiB)" \
        "GPU-0123abcd-0000-0000-0000-00000000ffff=1073741824"
    check_eq "devices as given" "$(envof CUDA_VISIBLE_DEVICES --devices 1,GPU-0123abcd-0000-0000-0000-00000000ffff)" \
        "1,GPU-0123abcd-0000-0000-0000-00000000ffff"
    expect 0 "NVML is not available" "$G" smi
    expect 0 '"available": false' "$G" smi --json
    ;;
exec_errors)
    expect 127 'cannot run "/nonexistent/cmd"' "$G" run -- /nonexistent/cmd
    expect 127 'check the name and PATH' "$G" run -- gpuvisor-no-such-command-xyz
    printf 'not a program\n' >"$T/noexec"
    chmod 644 "$T/noexec"
    expect 127 'cannot run' "$G" run -- "$T/noexec"
    expect 127 'cannot run' "$G" run -- "$T"
    ;;
status)
    expect 0 "" "$G" run -- true
    expect 1 "" "$G" run -- false
    expect 7 "" "$G" run -- sh -c 'exit 7'
    expect 143 "" "$G" run -- sh -c 'kill -TERM $$'
    expect 137 "" "$G" run -- sh -c 'kill -KILL $$'
    # Without "--" the first word that is not an option starts the command; its options are its own.
    expect 3 "" "$G" run --memory 1GiB sh -c 'exit 3' --memory
    ;;
signals)
    # A signal sent to `gpuvisor run` reaches the command, which decides what it means.
    "$G" run -- sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done' >"$T/o1" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o1" && kill -TERM "$pid"
    wait "$pid"
    check_eq "TERM forwarded, child's trap status" "$?" 42
    "$G" run -- sh -c 'echo ready; while :; do sleep 0.05; done' >"$T/o2" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o2" && kill -HUP "$pid"
    wait "$pid"
    check_eq "HUP forwarded, 128+SIGHUP" "$?" 129
    "$G" run -- sh -c 'trap "exit 44" USR1; echo ready; while :; do sleep 0.05; done' >"$T/o3" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o3" && kill -USR1 "$pid"
    wait "$pid"
    check_eq "USR1 forwarded" "$?" 44
    ;;
preload)
    shim=$(realpath "$GV_SHIM")
    empty=$(realpath "$GV_EMPTY")
    check_eq "no LD_PRELOAD" "$(envof LD_PRELOAD)" "$shim"
    check_eq "kept" "$(LD_PRELOAD=$empty envof LD_PRELOAD)" "$empty:$shim"
    check_eq "kept, spaces" "$(LD_PRELOAD="$empty $empty" envof LD_PRELOAD)" "$empty:$empty:$shim"
    check_eq "not twice" "$(LD_PRELOAD="$shim" envof LD_PRELOAD)" "$shim"
    check_eq "not twice, order kept" "$(LD_PRELOAD="$shim:$empty" envof LD_PRELOAD)" "$shim:$empty"
    check_eq "nested run" "$("$G" run -- "$G" run -- env | grep ^LD_PRELOAD=)" "LD_PRELOAD=$shim"
    mkdir "$T/other" && cp "$shim" "$T/other/libgpuvisor.so"
    check_eq "another copy replaced" "$(LD_PRELOAD="$T/other/libgpuvisor.so:$empty" envof LD_PRELOAD)" \
        "$empty:$shim"
    check_eq "GPUVISOR_SHIM" "$(GPUVISOR_SHIM="$T/other/libgpuvisor.so" envof LD_PRELOAD)" \
        "$T/other/libgpuvisor.so"
    GPUVISOR_SHIM="$T/missing.so" expect 125 'GPUVISOR_SHIM="' "$G" run -- true
    # The binary finds the library from its own place: a copy elsewhere finds none.
    mkdir -p "$T/bin" && cp "$G" "$T/bin/gpuvisor"
    expect 125 'the interposer libgpuvisor.so is not in' "$T/bin/gpuvisor" run -- true
    mkdir -p "$T/lib" && cp "$shim" "$T/lib/libgpuvisor.so"
    check_eq "found next to the binary" "$("$T/bin/gpuvisor" run -- env | grep ^LD_PRELOAD=)" \
        "LD_PRELOAD=$(realpath "$T/lib/libgpuvisor.so")"
    ;;
env_memory)
    uuids
    check_eq "plain" "$(envof GPUVISOR_MEMORY --memory 4GiB)" 4294967296
    check_eq "plain, = form" "$(envof GPUVISOR_MEMORY --memory=1.5GiB)" 1610612736
    check_eq "indices" "$(envof GPUVISOR_MEMORY --memory 0=2GiB,1=1GiB)" "$U0=2147483648,$U1=1073741824"
    check_eq "two options" "$(envof GPUVISOR_MEMORY --memory 1=1GiB --memory 0=512MiB)" \
        "$U1=1073741824,$U0=536870912"
    upper=$(echo "$U1" | tr a-f A-F)
    check_eq "UUID and *" "$(envof GPUVISOR_MEMORY --memory "*=1GiB,$upper=2GiB")" "*=1073741824,$U1=2147483648"
    check_eq "compute plain" "$(envof GPUVISOR_COMPUTE --compute 25)" 2500
    check_eq "timeslice" "$(envof GPUVISOR_TIMESLICE --timeslice 2500us)" 2.5ms
    check_eq "compute keyed" "$(envof GPUVISOR_COMPUTE --compute 0=12.5%,1=50)" "$U0=1250,$U1=5000"
    check_eq "no --memory clears an inherited limit" "$(GPUVISOR_MEMORY=1 envof GPUVISOR_MEMORY)" ""
    check_eq "no --compute clears an inherited share" "$(GPUVISOR_COMPUTE=1 envof GPUVISOR_COMPUTE)" ""
    check_eq "compute policy" "$(envof GPUVISOR_COMPUTE_POLICY --compute 25 --compute-policy Best-Effort)" best-effort
    check_eq "priority" "$(envof GPUVISOR_PRIORITY --priority=high)" high
    check_eq "no --compute-policy clears an inherited one" \
        "$(GPUVISOR_COMPUTE_POLICY=fixed envof GPUVISOR_COMPUTE_POLICY)" ""
    check_eq "no --priority clears an inherited one" "$(GPUVISOR_PRIORITY=low envof GPUVISOR_PRIORITY)" ""
    check_eq "named instance" "$(envof GPUVISOR_INSTANCE --instance team-a.1)" "team-a.1"
    inst=$(envof GPUVISOR_INSTANCE)
    case "$inst" in run-[0-9]*) ;; *) fail "private instance name \"$inst\"" ;; esac
    a=$(envof GPUVISOR_INSTANCE)
    [ "$a" != "$inst" ] || fail "two runs got the same private instance $a"
    ;;
env_devices)
    uuids
    check_eq "indices, reordered" "$(envof CUDA_VISIBLE_DEVICES --devices 1,0)" "$U1,$U0"
    check_eq "one UUID" "$(envof CUDA_VISIBLE_DEVICES --devices "$U1")" "$U1"
    check_eq "mixed" "$(envof CUDA_VISIBLE_DEVICES --devices "0,$U1")" "$U0,$U1"
    check_eq "untouched without --devices" "$(CUDA_VISIBLE_DEVICES=0 envof CUDA_VISIBLE_DEVICES)" "0"
    ;;
private_instance)
    # A private instance is removed when the command ends; a named one stays for the next run.
    expect 0 "" "$G" run -- "$GV_REGIONT" join
    check_eq "region dir after a private run" "$(ls "$GPUVISOR_REGION_DIR")" ""
    expect 0 "" "$G" run --instance keep -- "$GV_REGIONT" join
    check_eq "region dir after a named run" "$(ls "$GPUVISOR_REGION_DIR")" "keep"
    # A member the command leaves running keeps the private instance alive.
    "$G" run -- sh -c "\"$GV_REGIONT\" hold \"\$GPUVISOR_INSTANCE\" GPU-00000000-0000-0000-0000-000000000001 64 1 >\"$T/o\" 2>&1 & echo \$! >\"$T/pid\""
    wait_ready "$T/o"
    BG="$BG $(cat "$T/pid")"
    n=$(ls "$GPUVISOR_REGION_DIR" | grep -c '^run-')
    check_eq "private instance kept while a member lives" "$n" 1
    ;;
smi_region)
    uuids
    "$GV_REGIONT" hold inst1 "$U1" 4096 3072 2500 >"$T/o" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o"
    expect 0 "" "$G" smi
    for want in 'Instance "inst1"' "3072 MiB / 4096 MiB" "25%" "$U1" "$pid" "alive" "GPU 1: 3072 MiB" \
        "Tesla T4" "$U0" "(refused: 2 slice full, 1 GPU full)"; do
        grep -qF -- "$want" "$T/out" || fail "smi: no \"$want\" in: $(cat "$T/out")"
    done
    grep -qE "^ +1 +$U1 +3072 MiB / 4096 MiB +25%" "$T/out" || fail "smi: GPU row: $(cat "$T/out")"
    expect 0 "" "$G" smi --json
    if command -v python3 >/dev/null; then
        python3 - "$T/out" "$U1" "$pid" <<'PY' || fail "smi --json: $(cat "$T/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["nvml"]["available"] is True
assert [g["index"] for g in doc["gpus"]] == [0, 1]
(inst,) = doc["instances"]
assert inst["name"] == "inst1" and inst["readonly"] is False
(gpu,) = inst["gpus"]
assert gpu == {"index": 1, "uuid": sys.argv[2], "memory_used_bytes": 3072 << 20,
               "memory_limit_bytes": 4096 << 20, "compute_share_percent": 25.0,
               "compute_used_last_second_ns": 0, "compute_used_total_ns": 0}, gpu
(proc,) = inst["processes"]
assert proc["pid"] == int(sys.argv[3]) and proc["alive"] is True, proc
assert proc["memory"] == [{"index": 1, "uuid": sys.argv[2], "used_bytes": 3072 << 20,
                           "context_bytes": 0, "refused_slice_full": 2,
                           "refused_gpu_full": 1}], proc
PY
    fi
    # A member killed outright: smi reclaims it, so its memory and its line are gone at once.
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    expect 0 "0 MiB / 4096 MiB" "$G" smi
    grep -q "^  $pid " "$T/out" && fail "smi still lists dead pid $pid: $(cat "$T/out")"
    # No NVML: instances are still listed, GPUs without index.
    GPUVISOR_NVML="$T/none.so" expect 0 'Instance "inst1"' "$G" smi
    grep -qE "^ +- +$U1 " "$T/out" || fail "smi without NVML: $(cat "$T/out")"
    ;;
smi_orphan)
    # The private instance of a `gpuvisor run` that is gone (a crash, say) is removed by smi once
    # its last member is gone too.
    sh -c 'exit 0' &
    dead=$!
    wait "$dead"
    "$GV_REGIONT" hold "run-$dead" GPU-00000000-0000-0000-0000-000000000001 64 1 >"$T/o" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o"
    expect 0 "Instance \"run-$dead\"" "$G" smi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    expect 0 "No instances" "$G" smi
    check_eq "region dir" "$(ls "$GPUVISOR_REGION_DIR")" ""
    ;;
shim_slice)
    # End to end through the interposer: limits by NVML index reach it as UUIDs, and two runs with
    # one --instance share one slice.
    expect 3 "oom" "$G" run --memory 0=1GiB -- "$GV_HOLD" 2048
    expect 0 "ready" "$G" run --memory 1=1GiB -- "$GV_HOLD" 2048
    expect 0 "ready" "$G" run --memory 0=1GiB -- "$GV_HOLD" 0 2048
    "$G" run --instance shared --memory 0=4GiB -- "$GV_HOLD" --wait 1024 >"$T/o" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o"
    expect 0 "1024 MiB / 4096 MiB" "$G" smi
    expect 3 "oom" "$G" run --instance shared --memory 0=4GiB -- "$GV_HOLD" 3584
    expect 0 "ready" "$G" run --instance shared --memory 0=4GiB -- "$GV_HOLD" 3000
    expect 0 "keeps it" "$G" run --instance shared --memory 0=2GiB -- true
    kill -TERM "$pid"
    wait "$pid"
    check_eq "held tenant killed through gpuvisor run" "$?" 143
    expect 0 "0 MiB / 4096 MiB" "$G" smi
    ;;
smi_context)
    # Each member's CUDA context counts against the slice (the simulated driver gives a context
    # 300 MiB, as a real one takes a few hundred): in the instance's figure and on the member's line,
    # and a second member's allocation must fit beside both contexts.
    export GPUVISOR_SIM_CONTEXT_MEMORY=300MiB
    "$G" run --instance ctx --memory 0=4GiB -- "$GV_HOLD" --wait 512 >"$T/o" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o"
    expect 0 "812 MiB / 4096 MiB" "$G" smi
    grep -q "GPU 0: 812 MiB (ctx 300 MiB)" "$T/out" || fail "smi: member line: $(cat "$T/out")"
    expect 0 '"context_bytes": 314572800' "$G" smi --json
    expect 3 "oom" "$G" run --instance ctx --memory 0=4GiB -- "$GV_HOLD" 3000
    expect 0 "ready" "$G" run --instance ctx --memory 0=4GiB -- "$GV_HOLD" 2900
    kill -TERM "$pid"
    wait "$pid"
    expect 0 "0 MiB / 4096 MiB" "$G" smi
    ;;
devices_slice)
    # --devices hides and reorders GPUs for real: the simulated driver applies CUDA_VISIBLE_DEVICES,
    # so the command's CUDA device 0 is GPU 1, and its slice is charged there.
    uuids
    expect 3 "oom" "$G" run --devices 1 --memory 1GiB -- "$GV_HOLD" 2048
    "$G" run --instance dev1 --devices 1 --memory 1=1GiB -- "$GV_HOLD" --wait 512 >"$T/o" 2>&1 &
    pid=$!
    BG="$BG $pid"
    wait_ready "$T/o"
    expect 0 "$U1  512 MiB / 1024 MiB" "$G" smi
    grep -q "$U0  512 MiB" "$T/out" && fail "the allocation was charged to GPU 0"
    kill -TERM "$pid"
    wait "$pid"
    # Reordered: device 0 of the command is GPU 1, device 1 is GPU 0.
    expect 0 "ready" "$G" run --devices 1,0 --memory "$U1=1GiB" -- "$GV_HOLD" 512 2048
    expect 3 "oom" "$G" run --devices 1,0 --memory "$U1=1GiB" -- "$GV_HOLD" 2048
    ;;
daemon_choice)
    # Which kind of instance --instance means: gpuvisord's only when asked for, or when its socket
    # exists and no standalone option is given; a socket nobody answers on is a refusal (125) that
    # says how to get a standalone instance instead.
    expect 2 '--daemon: name the instance with --instance' "$G" run --daemon -- true
    expect 2 'leave out --memory' "$G" run --daemon --instance a --memory 1GiB -- true
    expect 2 'leave out --memory' "$G" run --daemon --instance a --devices 0 -- true
    expect 2 '--no-daemon asks for the opposite' "$G" run --daemon --no-daemon --instance a -- true
    expect 2 'empty socket path' "$G" run --daemon= --instance a -- true
    expect 2 'change them with gpuvisor resize a --compute-policy' "$G" run --daemon --instance a --compute-policy fixed -- true
    expect 2 '--priority: instance "a" is gpuvisord' "$G" run --daemon --instance a --priority high -- true
    expect 125 "$T/none.sock" "$G" run --daemon="$T/none.sock" --instance a -- true
    check_eq "no socket: standalone" "$(envof GPUVISOR_INSTANCE --instance solo)" solo
    check_eq "no socket: no daemon variable" "$(envof GPUVISOR_DAEMON --instance solo)" ""
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/dead.sock" ||
        { fail "cannot make a socket"; exit 1; }
    export GPUVISOR_DAEMON="$T/dead.sock"
    expect 125 "--no-daemon" "$G" run --instance solo -- true
    check_eq "--no-daemon: standalone" "$(envof GPUVISOR_INSTANCE --no-daemon --instance solo)" solo
    check_eq "limits: standalone" "$(envof GPUVISOR_INSTANCE --memory 1GiB --instance solo)" solo
    # A policy or priority is no standalone option: with the socket there it would join, so it is
    # refused, saying where the instance's are set; --no-daemon or a limit makes it standalone.
    expect 2 'is gpuvisord' "$G" run --instance solo --priority low -- true
    check_eq "--no-daemon: a priority" "$(envof GPUVISOR_PRIORITY --no-daemon --instance solo --priority low)" low
    check_eq "limits: a policy" "$(envof GPUVISOR_COMPUTE_POLICY --compute 10 --instance solo --compute-policy fixed)" fixed
    check_eq "no --instance: private" "$(envof GPUVISOR_DAEMON)" ""
    # A standalone run inside a joined one leaves the daemon's variables behind.
    check_eq "inherited daemon variables cleared" \
        "$(GPUVISOR_REGION_FD=9 envof GPUVISOR_REGION_FD --no-daemon --instance solo)" ""
    ;;
join_socket)
    # gpuvisor run --instance against gpuvisord's local socket (the stand-in of tests/local, with
    # one instance, "small", of 1 GiB on GPU 1): joined by name or id, the command gets the region's
    # descriptor, the socket, the instance's id and its GPU, and is held to its limit; an unknown
    # instance, or another user's, is refused with the daemon's message and 125.
    uuids
    "$GV_TESTD" 0123456789ab small "$(id -u)" "$U1" 1GiB 0 >"$T/td" 2>&1 &
    TD=$!
    wait_ready "$T/td" || exit 1
    SOCK=$(sed -n 's/^socket //p' "$T/td")
    export GPUVISOR_DAEMON="$SOCK"
    GPUVISOR_MEMORY=1 "$G" run --instance small -- sh -c 'env; readlink /proc/self/fd/$GPUVISOR_REGION_FD' \
        >"$T/env" 2>"$T/err" || fail "run --instance small: $(cat "$T/err")"
    for want in "GPUVISOR_INSTANCE=0123456789ab" "GPUVISOR_DAEMON=$SOCK" "CUDA_VISIBLE_DEVICES=$U1"; do
        grep -qx "$want" "$T/env" || fail "no $want in: $(cat "$T/env")"
    done
    grep -q "^GPUVISOR_REGION_FD=[0-9][0-9]*$" "$T/env" || fail "GPUVISOR_REGION_FD: $(cat "$T/env")"
    grep -q "/instances/0123456789ab$" "$T/env" || fail "the descriptor is not the region: $(cat "$T/env")"
    grep -q "^LD_PRELOAD=.*libgpuvisor.so" "$T/env" || fail "LD_PRELOAD: $(cat "$T/env")"
    grep -q "^GPUVISOR_MEMORY=" "$T/env" && fail "an inherited standalone limit stayed: $(cat "$T/env")"
    check_eq "by id" "$(envof GPUVISOR_INSTANCE --instance 0123456789ab)" 0123456789ab
    check_eq "--daemon=SOCKET" "$(GPUVISOR_DAEMON="$T/none" envof GPUVISOR_INSTANCE --daemon="$SOCK" --instance small)" 0123456789ab
    check_eq "--no-daemon" "$(envof GPUVISOR_DAEMON --no-daemon --instance small)" ""
    expect 125 "no instance nope" "$G" run --instance nope -- touch "$T/ran"
    grep -q -- "--no-daemon" "$T/err" || fail "no hint for a standalone instance: $(cat "$T/err")"
    expect 125 "no instance nope" "$G" run --daemon --instance nope -- true
    grep -q -- "--no-daemon" "$T/err" && fail "a hint though --daemon was given: $(cat "$T/err")"
    [ -e "$T/ran" ] && fail "the command ran after a refusal"
    # The instance's limit holds in the command (cli_hold: 3 = out of memory).
    expect 3 "oom" "$G" run --instance small -- "$GV_HOLD" 2048
    expect 0 "ready" "$G" run --instance small -- "$GV_HOLD" 512
    # Another Unix user is refused, by name and by id.
    if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v useradd >/dev/null; then
        u=gpuvisor-test-b
        id -u $u >/dev/null 2>&1 || useradd -M -r -s /usr/sbin/nologin $u 2>/dev/null || id -u $u >/dev/null ||
            fail "cannot add user $u"
        chmod 755 "$T"
        mkdir -p "$T/bin" "$T/lib" && cp "$G" "$T/bin/" && cp "$GV_SHIM" "$T/lib/libgpuvisor.so"
        chmod -R a+rX "$T/bin" "$T/lib"
        for key in small 0123456789ab; do
            setpriv --reuid $u --regid "$(id -g $u)" --clear-groups "$T/bin/gpuvisor" run --instance $key \
                -- touch "$T/ran" >"$T/out" 2>"$T/err"
            check_eq "user $u joining $key" "$?" 125
            grep -q "^gpuvisor: no instance $key" "$T/err" || fail "refusal of $u: $(cat "$T/err")"
        done
        [ -e "$T/ran" ] && fail "the command ran after a refusal"
    else
        echo "note: not root: the refusal of another user is not checked"
    fi
    kill -TERM "$TD"
    wait "$TD"
    check_eq "stand-in daemon stopped cleanly" "$?" 0
    TD=""
    ;;
rest_offline | rest_fake)
    # The commands for gpuvisord as a client, against no daemon and against a stand-in that
    # answers from the JSON fixtures and logs what it got (fake_gpuvisord.py). The real daemon is
    # daemon_test.sh's.
    "$G" help | grep -q '^  gpus ' || { echo "SKIP: built without libcurl or jansson"; exit 77; }
    command -v python3 >/dev/null || { echo "SKIP: python3 runs the stand-in daemon"; exit 77; }
    unset GPUVISOR_URL
    if [ "$CASE" = rest_offline ]; then
        expect 125 "cannot reach gpuvisord at the socket $T/none.sock" "$G" gpus --socket "$T/none.sock"
        expect 125 "start it" "$G" list --socket "$T/none.sock"
        expect 125 "cannot reach gpuvisord at http://127.0.0.1:1" "$G" gpus --url http://127.0.0.1:1
        GPUVISOR_URL=http://127.0.0.1:1 expect 125 "cannot reach gpuvisord at http://127.0.0.1:1" "$G" list
        expect 125 "no socket at $T/no-gpuvisord.sock, and http://127.0.0.1:7700" "$G" gpus
        expect 2 "give one" "$G" list --url http://127.0.0.1:1 --socket "$T/x"
        expect 2 'not an http:// or https:// URL' "$G" list --url 127.0.0.1:1
        expect 2 'create: give --profile NAME' "$G" create
        expect 2 '--memory: size "2XB": unknown unit' "$G" create --memory 2XB
        expect 2 '--compute-policy: compute policy "greedy": not one of fixed, guaranteed or best-effort' \
            "$G" create --memory 1GiB --compute-policy greedy
        expect 2 '--priority: priority "urgent": not one of high, normal or low' \
            "$G" resize train --priority urgent
        expect 2 'give --memory SIZE, --compute PCT, --compute-policy POLICY or --priority PRIORITY' \
            "$G" resize train
        expect 0 '--compute-policy POLICY' "$G" create --help
        expect 0 '--priority PRIORITY' "$G" resize --help
        expect 2 'tenant: unknown command "bogus"' "$G" tenant bogus
        expect 2 'Usage: gpuvisor tenant' "$G" tenant
        expect 0 'Usage: gpuvisor tenant delete NAME [--force]' "$G" tenant delete --help
        expect 0 '--token TOKEN' "$G" events --help
        expect 0 'Usage: gpuvisor create' "$G" create --help
        exit $FAILED
    fi
    LOG="$T/requests"
    python3 "$(dirname "$0")/fake_gpuvisord.py" "$T/fake.sock" "$LOG" 2>"$T/fake.err" &
    BG="$BG $!"
    i=0
    while [ ! -S "$T/fake.sock" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "stand-in daemon never started: $(cat "$T/fake.err")"; exit 1; }
        sleep 0.05
    done
    export GPUVISOR_DAEMON="$T/fake.sock"
    last() { tail -n 1 "$LOG" | python3 -c "import json, sys; d = json.load(sys.stdin); print(($1))"; }
    # The socket found where GPUVISOR_DAEMON says, no token sent over it.
    expect 0 "Tesla T4" "$G" gpus
    check_eq "gpus request" "$(last "d['method'], d['path'], d['auth']")" "('GET', '/v1/gpus', None)"
    expect 0 "" "$G" gpus --json
    python3 -c 'import json, sys; assert len(json.load(open(sys.argv[1]))["gpus"]) == 2' "$T/out" ||
        fail "gpus --json: $(cat "$T/out")"
    expect 0 "Changed GPU 0." "$G" gpus set 0 --timeslice 5ms --mode sliced
    check_eq "gpus set request" "$(last "d['method'], d['path'], sorted(d['body'].items())")" \
        "('PATCH', '/v1/gpus/0', [('mode', 'sliced'), ('timeslice', '5ms')])"
    expect 0 "" "$G" gpus set 0 --timeslice default --json
    check_eq "gpus set default" "$(last "d['body']")" "{'timeslice': None}"
    python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["timeslice"] == "5ms"' "$T/out" ||
        fail "gpus set --json: $(cat "$T/out")"
    expect 0 "Usage: gpuvisor gpus set GPU" "$G" gpus set --help
    expect 0 "T4-4C" "$G" profiles --token gvt_given
    check_eq "token sent" "$(last "d['auth']")" "Bearer gvt_given"
    GPUVISOR_TOKEN=gvt_env expect 0 "train" "$G" list --tenant lab-a
    check_eq "list request" "$(last "d['path'], d['auth']")" "('/v1/instances?tenant=lab-a', 'Bearer gvt_env')"
    expect 0 "Run a command in it with: gpuvisor run --instance 0123456789ab -- CMD" \
        "$G" create --memory 4GiB --compute 25 --name train --tenant lab-a --gpu 0
    check_eq "create request" "$(last "d['method'], d['type'], sorted(d['body'].items())")" \
        "('POST', 'application/json', [('compute', '25%'), ('gpu', 0), ('memory', 4294967296), ('name', 'train'), ('tenant', 'lab-a')])"
    expect 0 "Instance 0123456789ab \"train\", tenant lab-a" "$G" show train
    expect 0 "Instance train now has 4 GiB, 25%; policy fixed, priority high." "$G" resize train --memory 4GiB
    check_eq "resize request" "$(last "d['method'], d['body']")" "('PATCH', {'memory': 4294967296})"
    expect 0 "policy fixed, priority high" "$G" resize train --compute-policy FIXED --priority high
    check_eq "resize policy request" "$(last "sorted(d['body'].items())")" "[('policy', 'fixed'), ('priority', 'high')]"
    expect 0 "; policy fixed, priority high." "$G" create --profile T4-4C --compute-policy best-effort --priority low
    check_eq "create policy request" "$(last "sorted(d['body'].items())")" \
        "[('policy', 'best-effort'), ('priority', 'low'), ('profile', 'T4-4C')]"
    expect 0 "  Policy:    fixed, priority high" "$G" show train
    expect 0 "POLICY       PRIORITY" "$G" list
    expect 0 "best-effort  low" "$G" profiles
    expect 0 "Deleted instance train." "$G" delete train
    expect 0 "" "$G" delete train --json
    check_eq "delete --json prints nothing" "$(cat "$T/out")" ""
    expect 1 'gpuvisor: no instance "nope"' "$G" show nope
    expect 1 "gpuvisor: GPU 0 has 2 GiB of memory left, 4 GiB asked" "$G" create --profile refuse
    grep -q '^gpuvisor: GPU 0 has 2 GiB' "$T/err" || fail "refusal not on stderr: $(cat "$T/err")"
    expect 125 "is not JSON" "$G" show garbage
    expect 0 "gvt_AAAA" "$G" tenant add lab-a --user alice --quota-memory 8GiB
    check_eq "tenant add request" "$(last "sorted(d['body'].items())")" "[('name', 'lab-a'), ('quota', {'memory': 8589934592}), ('users', ['alice'])]"
    expect 0 "lab-a  alice,1001" "$G" tenant list
    expect 0 "Changed tenant lab-a" "$G" tenant set lab-a --quota-instances none
    check_eq "tenant set request" "$(last "d['method'], d['path'], d['body']")" \
        "('PATCH', '/v1/tenants/lab-a', {'quota': {'instances': None}})"
    expect 0 "Deleted tenant lab-a." "$G" tenant delete lab-a --force
    check_eq "tenant delete request" "$(last "d['path']")" "/v1/tenants/lab-a?force=1"
    expect 0 "New token for tenant lab-a" "$G" tenant token lab-a
    expect 0 "instance.create" "$G" events --after 3 --limit 10
    check_eq "events request" "$(last "d['path']")" "/v1/events?after=3&limit=10"
    # smi: the daemon's instances after its own, each in full; under "daemon" in JSON.
    expect 0 "Instances of gpuvisord ($T/fake.sock)" "$G" smi
    grep -qF 'Instance 0123456789ab "train", tenant lab-a' "$T/out" || fail "smi: $(cat "$T/out")"
    grep -qF "4242  alice" "$T/out" || fail "smi members: $(cat "$T/out")"
    expect 0 "" "$G" smi --json
    python3 - "$T/out" <<'PY' || fail "smi --json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["daemon"]["instances"][0]["usage"]["memory_used"] == 1610612736, d["daemon"]
assert len(d["daemon"]["instances"]) == 1  # the fixture's second instance answers 404: gone
PY

    # Over HTTP: a token is needed; the admin token file of --state is sent; a 401 says how to
    # give one.
    export FAKE_NEED_TOKEN=1
    python3 "$(dirname "$0")/fake_gpuvisord.py" tcp "$T/tcp" 2>"$T/fake2.err" &
    BG="$BG $!"
    i=0
    while [ ! -s "$T/tcp.port" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "stand-in daemon (tcp) never started: $(cat "$T/fake2.err")"; exit 1; }
        sleep 0.05
    done
    URL="http://127.0.0.1:$(cat "$T/tcp.port")"
    LOG="$T/tcp"
    expect 1 "no token was sent" "$G" gpus --url "$URL" --state "$T/nostate"
    mkdir -p "$T/state" && printf 'gvt_admin\n' >"$T/state/admin.token" && chmod 600 "$T/state/admin.token"
    expect 0 "Tesla T4" "$G" gpus --url "$URL" --state "$T/state"
    check_eq "admin token file" "$(last "d['auth']")" "Bearer gvt_admin"
    GPUVISOR_URL="$URL" GPUVISOR_STATE_DIR="$T/state" expect 0 "Tesla T4" "$G" gpus
    GPUVISOR_URL="$URL" expect 0 "Tesla T4" "$G" gpus --token gvt_t
    check_eq "--token over the file" "$(last "d['auth']")" "Bearer gvt_t"
    # The admin token file is never sent over the socket: the daemon knows the user there.
    LOG="$T/requests"
    expect 0 "Tesla T4" "$G" gpus --state "$T/state"
    check_eq "no token over the socket" "$(last "d['auth']")" "None"
    ;;
remote_env)
    # --remote: the client's libraries first, no interposer, the server's address and token.
    R=$(realpath "$(dirname "$G")/../lib/remote")
    [ -r "$R/libcuda.so.1" ] || { echo "skip: the remoting client is not built"; exit 77; }
    shim=$(realpath "$GV_SHIM")
    empty=$(realpath "$GV_EMPTY")
    printf 'secret\n' >"$T/tok"
    A="--remote unix:$T/s --remote-token-file $T/tok"
    check_eq "address" "$(envof GPUVISOR_REMOTE $A)" "unix:$T/s"
    check_eq "tcp address" "$(envof GPUVISOR_REMOTE --remote tcp:[::1]:7070 --remote-token-file "$T/tok")" \
        "tcp:[::1]:7070"
    check_eq "token file, absolute" "$(cd "$T" && envof GPUVISOR_REMOTE_TOKEN_FILE --remote tls:h:1 --remote-token-file tok)" \
        "$(realpath "$T/tok")"
    check_eq "the file wins over an inherited token" \
        "$(GPUVISOR_REMOTE_TOKEN=old envof GPUVISOR_REMOTE_TOKEN $A)" ""
    check_eq "an inherited token kept" \
        "$(GPUVISOR_REMOTE_TOKEN=old envof GPUVISOR_REMOTE_TOKEN --remote tcp:h:1)" "old"
    check_eq "an inherited token file kept" \
        "$(GPUVISOR_REMOTE_TOKEN_FILE=/x envof GPUVISOR_REMOTE_TOKEN_FILE --remote tcp:h:1)" "/x"
    check_eq "library path" "$(envof LD_LIBRARY_PATH $A)" "$R:$GV_SIMDIR"
    check_eq "library path, not twice" "$(LD_LIBRARY_PATH="/a:$R:/b" envof LD_LIBRARY_PATH $A)" "$R:/a:/b"
    check_eq "no interposer" "$(envof LD_PRELOAD $A)" ""
    check_eq "interposer dropped, rest kept" "$(LD_PRELOAD="$shim:$empty" envof LD_PRELOAD $A)" "$empty"
    check_eq "local slice cleared" "$(GPUVISOR_MEMORY=1GiB GPUVISOR_INSTANCE=x envof GPUVISOR_MEMORY $A)" ""
    check_eq "CA passed as is" "$(GPUVISOR_REMOTE_CA=/ca.pem envof GPUVISOR_REMOTE_CA $A)" "/ca.pem"
    check_eq "an instance of the server's gpuvisord to join" \
        "$(envof GPUVISOR_REMOTE_INSTANCE $A --instance train)" "train"
    check_eq "no instance named" "$(envof GPUVISOR_REMOTE_INSTANCE $A)" ""
    # Found from the binary's place, as the interposer is.
    mkdir -p "$T/bin" && cp "$G" "$T/bin/gpuvisor"
    expect 125 'the remoting client gpuvisor/remote/libcuda.so.1 is not in' "$T/bin/gpuvisor" run $A -- true
    ;;
remote_refused)
    printf 'secret\n' >"$T/tok"
    A="--remote unix:$T/s --remote-token-file $T/tok"
    for o in "--memory 1GiB" "--compute 50" "--compute-policy fixed" "--priority low" \
        "--timeslice 5ms" "--devices 0" "--daemon" "--no-daemon"; do
        name=${o%% *}
        # shellcheck disable=SC2086
        expect 2 "$name: with --remote the server sets the slice" "$G" run $A $o -- true
        # shellcheck disable=SC2086
        expect 2 "$name: with --remote the server sets the slice" "$G" run $o $A -- true
    done
    expect 2 'an address is unix:PATH, tcp:HOST:PORT or tls:HOST:PORT' "$G" run --remote http://h:1 -- true
    expect 2 'a unix socket path of 1 to' "$G" run --remote unix: -- true
    expect 2 'a host and a port' "$G" run --remote tcp:host -- true
    expect 2 'a host and a port' "$G" run --remote tcp::7070 -- true
    expect 2 'a host and a port' "$G" run --remote tls:h:70000 -- true
    expect 2 'a host and a port' "$G" run --remote tcp:h:7x -- true
    expect 2 '--remote: missing value' "$G" run --remote
    expect 2 'already given' "$G" run --remote tcp:h:1 --remote tcp:h:2 -- true
    expect 2 '--remote-token-file goes with --remote' "$G" run --remote-token-file "$T/tok" -- true
    expect 2 "--remote-token-file \"$T/none\"" "$G" run --remote tcp:h:1 --remote-token-file "$T/none" -- true
    expect 2 'empty file name' "$G" run --remote tcp:h:1 --remote-token-file= -- true
    expect 2 '--remote needs a token' "$G" run --remote tcp:h:1 -- true
    ;;
remote_run)
    # End to end: a tenant under `gpuvisor run --remote` gets the slice gpuvisor-remoted gives.
    D=$(dirname "$G")
    [ -x "$D/gpuvisor-remoted" ] || { echo "skip: gpuvisor-remoted is not built"; exit 77; }
    printf 'secret\n' >"$T/tok"
    # Without the GPUVISOR_DAEMON of this script, which would make the sessions look for gpuvisord.
    env -u GPUVISOR_DAEMON "$D/gpuvisor-remoted" --listen "unix:$T/s" --token-file "$T/tok" \
        --memory 1GiB 2>"$T/srv.err" &
    BG="$BG $!"
    i=0
    while ! grep -q "listening on" "$T/srv.err" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "gpuvisor-remoted never listened: $(cat "$T/srv.err")"; exit 1; }
        sleep 0.05
    done
    expect 0 "ready" "$G" run --remote "unix:$T/s" --remote-token-file "$T/tok" -- "$GV_HOLD" 512
    expect 3 "oom" "$G" run --remote "unix:$T/s" --remote-token-file "$T/tok" -- "$GV_HOLD" 2048
    printf 'wrong\n' >"$T/bad"
    expect 1 "" "$G" run --remote "unix:$T/s" --remote-token-file "$T/bad" -- "$GV_HOLD" 1
    ;;
*)
    echo "cli_test.sh: unknown case $CASE" >&2
    exit 2
    ;;
esac
exit $FAILED
