#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# daemon_test.sh CASE: the `gpuvisor` commands against a real gpuvisord, as users meet them:
# tables, --json, the daemon's refusals and their exit statuses, tokens over HTTP and Unix
# identity over the local socket, `gpuvisor smi` showing the daemon's instances, and
# `gpuvisor run --instance` joining an instance as a user of its tenant and refused for any other.
#
# Each case starts its own daemon on the simulator (two T4s) with a private state directory,
# socket and simulated machine, and lets it pick a free port (it writes it to <state>/port); all of
# it is removed at the end, even on failure. Cases that switch Unix users need root (they create
# two system users once, with useradd -M -r) and are skipped otherwise. Without a built gpuvisord
# every case is skipped (exit 77), saying so. CTest passes GV_BIN, GV_DAEMON, GV_SHIM, GV_SIMDIR,
# GV_HOLD.
set -u
CASE=$1
SKIP=77
if [ ! -x "$GV_DAEMON" ]; then
    echo "SKIP: $GV_DAEMON is not built (gpuvisord needs libmicrohttpd, jansson and sqlite3)"
    exit $SKIP
fi
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the JSON"; exit $SKIP; }

T=$(mktemp -d)
chmod 755 "$T" # other users reach the socket below it
export GPUVISOR_SIM_MACHINE="clid-$CASE-$$"
export GPUVISOR_SIM_GPUS="T4,T4"
export LD_LIBRARY_PATH="$GV_SIMDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GPUVISOR_REGION_DIR="$T/regions"
unset LD_PRELOAD GPUVISOR_SHIM GPUVISOR_MEMORY GPUVISOR_COMPUTE GPUVISOR_INSTANCE GPUVISOR_REGION_FD \
    CUDA_VISIBLE_DEVICES GPUVISOR_URL GPUVISOR_TOKEN GPUVISOR_STATE_DIR GPUVISOR_NVML
STATE="$T/state"
SOCK="$T/run/gpuvisord.sock"
export GPUVISOR_DAEMON="$SOCK"
DPID=""
BG=""
G=$GV_BIN
USER_A=gpuvisor-test-a
USER_B=gpuvisor-test-b

cleanup() {
    for p in $BG; do kill -9 "$p" 2>/dev/null; done
    [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
    rm -f "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"



# jget FILE EXPR: a value of the JSON in FILE, EXPR in Python over `d` ("d['id']").
jget() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Start gpuvisord and wait (up to 20 s) for its port file and socket.
start_daemon() {
    "$GV_DAEMON" --sim T4,T4 --listen 127.0.0.1:0 --state "$STATE" --socket "$SOCK" \
        >"$T/daemon.log" 2>&1 &
    DPID=$!
    i=0
    while [ ! -s "$STATE/port" ] || [ ! -S "$SOCK" ]; do
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$DPID" 2>/dev/null; then
            fail "gpuvisord did not start: $(cat "$T/daemon.log")"
            exit 1
        fi
        sleep 0.05
    done
    PORT=$(cat "$STATE/port")
    URL="http://127.0.0.1:$PORT"
    # Tenant processes of other users share the daemon's simulated machine.
    [ -e "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE" ] && chmod 666 "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
}

# The test users, made once (concurrent cases may race to add them: either wins).
need_users() {
    if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! command -v useradd >/dev/null; then
        echo "SKIP: switching Unix users needs root, setpriv and useradd"
        exit $SKIP
    fi
    for u in $USER_A $USER_B; do
        id -u "$u" >/dev/null 2>&1 || useradd -M -r -s /usr/sbin/nologin "$u" 2>/dev/null ||
            id -u "$u" >/dev/null 2>&1 || { fail "cannot create user $u"; exit 1; }
    done
    # What the users run, where they can reach it whatever the build tree's permissions; gpuvisor
    # finds the interposer beside itself.
    mkdir -p "$T/bin" "$T/lib"
    cp "$GV_BIN" "$GV_HOLD" "$T/bin/"
    cp "$GV_SHIM" "$T/lib/libgpuvisor.so"
    cp "$(dirname "$GV_SHIM")/libgpuvisor-cli.so" "$T/lib/"
    cp -r "$GV_SIMDIR" "$T/lib/sim"
    chmod -R a+rX "$T/bin" "$T/lib"
    G="$T/bin/gpuvisor"
    GV_HOLD="$T/bin/$(basename "$GV_HOLD")"
    export LD_LIBRARY_PATH="$T/lib/sim"
}

# as USER CMD...: run CMD as that user, with no supplementary groups.
as() {
    u=$1
    shift
    setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups "$@"
}

# A tenant named $1 for user $2 (or none), over the socket as root (the admin by Unix identity).
tenant() {
    if [ -n "${2:-}" ]; then
        expect 0 "Created tenant $1" "$G" tenant add "$1" --user "$2"
    else
        expect 0 "Created tenant $1" "$G" tenant add "$1"
    fi
    tail -n 1 "$T/out"
}

# create ARGS...: create an instance (as the caller), its id on stdout.
create() {
    "$G" create --json "$@" >"$T/created" 2>"$T/err" || { fail "create $*: $(cat "$T/err")"; return; }
    jget "$T/created" "d['id']"
}

case "$CASE" in
admin)
    # The admin over the local socket, by Unix identity: every command, as tables and as JSON.
    start_daemon
    expect 0 "Tesla T4" "$G" gpus
    grep -qE '^ +0 +T4 +Tesla T4 +GPU-' "$T/out" || fail "gpus: $(cat "$T/out")"
    grep -qE '^ +1 +T4 ' "$T/out" || fail "gpus: no GPU 1: $(cat "$T/out")"
    expect 0 "" "$G" gpus --json
    check_eq "gpus --json" "$(jget "$T/out" "len(d['gpus'])")" 2
    # Time slices: the daemon's default, one set for GPU 1, then back to the default.
    expect 0 "TIMESLICE" "$G" gpus
    grep -qE '^ +0 +T4 .* sliced +10ms$' "$T/out" || fail "gpus: no time slice: $(cat "$T/out")"
    expect 0 "Changed GPU 1." "$G" gpus set 1 --timeslice 2.5ms
    grep -qE '^ +1 +T4 .* sliced +2.5ms$' "$T/out" || fail "gpus set: $(cat "$T/out")"
    expect 0 "" "$G" gpus --json
    check_eq "gpus set" "$(jget "$T/out" "[g['timeslice'] for g in d['gpus']]")" "['10ms', '2.5ms']"
    expect 0 "" "$G" gpus set 1 --timeslice default --mode whole --json
    check_eq "gpus set --json" "$(jget "$T/out" "(d['index'], d['mode'], d['timeslice'])")" "(1, 'whole', '10ms')"
    expect 0 "Changed GPU 1." "$G" gpus set 1 --mode sliced
    expect 1 'gpuvisor: mode "turbo": unknown' "$G" gpus set 1 --mode turbo
    expect 1 "gpuvisor: GPU 7: no such GPU" "$G" gpus set 7 --timeslice 5ms
    expect 2 'gpuvisor: --timeslice: time slice "31ms": out of range' "$G" gpus set 1 --timeslice 31ms
    expect 2 "nothing to change" "$G" gpus set 1
    expect 0 "T4-4C" "$G" profiles
    grep -qE '^T4-4C +T4 .* 4 GiB +25% +guaranteed +normal +4 +built-in' "$T/out" || fail "profiles: $(cat "$T/out")"
    expect 0 "" "$G" profiles --json
    check_eq "profiles --json" "$(jget "$T/out" "[p['max_instances'] for p in d['profiles'] if p['name'] == 'T4-4C'][0]")" 4

    tok=$(tenant lab-a alice)
    case "$tok" in gvt_*) ;; *) fail "tenant add: no token on the last line: $tok" ;; esac
    expect 0 "shown only this once" "$G" tenant add lab-b --group lab --quota-memory 8GiB \
        --quota-compute 50 --quota-instances 2
    expect 1 "gpuvisor: " "$G" tenant add lab-a
    expect 0 "lab-a" "$G" tenant list
    grep -qE '^lab-b +- +lab +0 B / 8 GiB +0% / 50% +0 / 2$' "$T/out" || fail "tenant list: $(cat "$T/out")"
    expect 0 "" "$G" tenant list --json
    check_eq "tenant list --json" "$(jget "$T/out" "sorted(t['name'] for t in d['tenants'])")" "['lab-a', 'lab-b']"
    expect 0 "Changed tenant lab-b" "$G" tenant set lab-b --quota-instances none --user bob
    expect 0 "" "$G" tenant list --json
    check_eq "tenant set" "$(jget "$T/out" "[(t['users'], t['quota']['instances']) for t in d['tenants'] if t['name'] == 'lab-b'][0]")" "(['bob'], None)"
    expect 0 "New token for tenant lab-a" "$G" tenant token lab-a
    new=$(tail -n 1 "$T/out")
    [ "$new" != "$tok" ] || fail "tenant token gave the old token"

    # Instances: by profile, by size, on a named GPU; the admin names the tenant.
    expect 1 "tenant" "$G" create --profile T4-4C
    id=$(create --profile T4-4C --tenant lab-a --name train)
    check_eq "create --json" "$(jget "$T/created" "(d['tenant'], d['name'], d['profile'], d['memory'], d['compute'])")" \
        "('lab-a', 'train', 'T4-4C', 4294967296, 25.0)"
    check_eq "join command" "$(jget "$T/created" "d['join']['command']")" "gpuvisor run --instance $id -- CMD"
    expect 0 "Created instance" "$G" create --memory 1.5GiB --compute 12.5 --gpu 1 --tenant lab-b
    grep -qF "for tenant lab-b on GPU 1" "$T/out" || fail "create: $(cat "$T/out")"
    grep -qF "1.5 GiB, 12.5%" "$T/out" || fail "create: $(cat "$T/out")"
    expect 0 "$id" "$G" list
    grep -qE "^$id +train +lab-a +0 +4 GiB +25% +guaranteed +normal +T4-4C " "$T/out" || fail "list: $(cat "$T/out")"
    expect 0 "" "$G" list --tenant lab-b --json
    check_eq "list --tenant" "$(jget "$T/out" "[i['tenant'] for i in d['instances']]")" "['lab-b']"
    expect 0 "Instance $id \"train\", tenant lab-a" "$G" show "$id"
    grep -qF "Memory:    0 B used of 4 GiB" "$T/out" || fail "show: $(cat "$T/out")"
    expect 0 "" "$G" show "$id" --json
    check_eq "show --json" "$(jget "$T/out" "d['usage']['members']")" "[]"
    expect 0 "Instance $id now has 6 GiB, 25%; policy guaranteed, priority normal." "$G" resize "$id" --memory 6GiB
    # Compute policy and priority: set at create and by resize, shown by list and show; a bad name
    # is refused before anything is sent.
    expect 0 "policy best-effort, priority low" "$G" create --memory 1GiB --tenant lab-b \
        --compute-policy best-effort --priority low
    expect 0 "policy fixed, priority normal." "$G" resize "$id" --compute-policy fixed
    expect 0 "" "$G" resize "$id" --priority HIGH --json
    check_eq "resize --json" "$(jget "$T/out" "(d['policy'], d['priority'])")" "('fixed', 'high')"
    expect 0 "  Policy:    fixed, priority high" "$G" show "$id"
    expect 0 "$id" "$G" list
    grep -qE "^$id +train +lab-a +0 +6 GiB +25% +fixed +high " "$T/out" || fail "list: $(cat "$T/out")"
    expect 2 'compute policy "fast"' "$G" resize "$id" --compute-policy fast
    expect 0 "no compute limit" "$G" resize "$id" --compute none
    expect 1 "gpuvisor: " "$G" resize "$id" --memory 64GiB
    expect 1 "gpuvisor: " "$G" show 000000000000
    expect 1 "gpuvisor: " "$G" tenant delete lab-a
    expect 0 "Deleted instance $id." "$G" delete "$id"
    expect 1 "gpuvisor: " "$G" delete "$id"
    expect 0 "Deleted tenant lab-b." "$G" tenant delete lab-b --force
    expect 0 "No instances" "$G" list
    expect 0 "instance.create" "$G" events
    grep -qE '^ +[0-9]+ +[0-9TZ:.+-]+ +(admin|uid:0) +tenant.create +lab-a' "$T/out" || fail "events: $(cat "$T/out")"
    expect 0 "" "$G" events --json --limit 2
    check_eq "events --limit" "$(jget "$T/out" "len(d['events'])")" 2
    after=$(jget "$T/out" "d['next']")
    expect 0 "" "$G" events --json --after "$after"
    check_eq "events --after" "$(jget "$T/out" "all(e['seq'] > $after for e in d['events'])")" True
    ;;
http)
    # Over HTTP a token is needed: the admin's from the state directory, or a tenant's, which sees
    # only its own instances.
    start_daemon
    tok_a=$(tenant lab-a)
    tenant lab-b >/dev/null
    a1=$(create --profile T4-4C --tenant lab-a --name one)
    create --profile T4-4C --tenant lab-b >/dev/null
    H="--url $URL"
    expect 1 "no token was sent" "$G" list $H
    expect 0 "lab-b" "$G" list $H --state "$STATE"
    GPUVISOR_STATE_DIR="$STATE" expect 0 "lab-b" "$G" list $H
    GPUVISOR_URL="$URL" GPUVISOR_STATE_DIR="$STATE" expect 0 "Tesla T4" "$G" gpus
    expect 1 "gpuvisor: " "$G" list $H --token gvt_wrong
    expect 0 "$a1" "$G" list $H --token "$tok_a"
    grep -q "lab-b" "$T/out" && fail "tenant lab-a sees lab-b's instance: $(cat "$T/out")"
    GPUVISOR_TOKEN="$tok_a" expect 0 "Instance $a1 \"one\"" "$G" show one $H
    GPUVISOR_TOKEN="$tok_a" expect 0 "Created instance" "$G" create --memory 1GiB $H
    GPUVISOR_TOKEN="$tok_a" expect 1 "gpuvisor: " "$G" tenant add evil $H
    GPUVISOR_TOKEN="$tok_a" expect 1 "only the admin" "$G" gpus set 0 --timeslice 5ms $H
    GPUVISOR_TOKEN="$tok_a" expect 0 "lab-a" "$G" tenant list $H
    grep -q "lab-b" "$T/out" && fail "tenant lab-a sees tenant lab-b: $(cat "$T/out")"
    # --url and --socket are one or the other.
    expect 2 "give one" "$G" list --url "$URL" --socket "$SOCK"
    expect 2 'not an http:// or https:// URL' "$G" list --url 127.0.0.1:1
    ;;
errors)
    # What the daemon refuses: exit status 1 and its message (where no daemon is: cli_test.sh).
    start_daemon
    tenant lab-a >/dev/null
    # Four T4-4C fill one T4, eight both: the ninth is refused with the reason.
    for _ in 1 2 3 4 5 6 7 8; do create --profile T4-4C --tenant lab-a >/dev/null; done
    expect 1 "gpuvisor: " "$G" create --profile T4-4C --tenant lab-a
    grep -q "GPU" "$T/err" || fail "the refusal does not say which GPU: $(cat "$T/err")"
    expect 1 "gpuvisor: " "$G" create --profile NO-SUCH --tenant lab-a
    expect 1 "gpuvisor: " "$G" create --memory 1GiB --tenant no-such
    expect 1 "gpuvisor: " "$G" create --memory 1GiB --tenant lab-a --gpu 7
    expect 1 "gpuvisor: " "$G" tenant set no-such --quota-instances 1
    expect 1 "gpuvisor: " "$G" tenant token no-such
    expect 2 "unknown option" "$G" list --bogus
    expect 0 "gpus" "$G" help
    ;;
join)
    # gpuvisor run --instance: a user of the tenant joins (by id or by name), with the region's
    # descriptor, the daemon's socket and the instance's GPU in its environment; a user outside the
    # tenant is refused with the daemon's message and 125; the limits hold in the process.
    need_users
    start_daemon
    tenant lab-a $USER_A >/dev/null
    tenant lab-b $USER_B >/dev/null
    id=$(create --memory 1GiB --tenant lab-a --name small --gpu 1)
    uuid=$(jget "$T/created" "d['uuid']")
    as $USER_A "$G" run --instance "$id" -- sh -c 'env; ls -l /proc/self/fd/$GPUVISOR_REGION_FD' \
        >"$T/env" 2>"$T/err" || fail "run --instance as $USER_A: $(cat "$T/err")"
    grep -qx "GPUVISOR_INSTANCE=$id" "$T/env" || fail "GPUVISOR_INSTANCE: $(cat "$T/env")"
    grep -qx "GPUVISOR_DAEMON=$SOCK" "$T/env" || fail "GPUVISOR_DAEMON: $(cat "$T/env")"
    grep -qx "CUDA_VISIBLE_DEVICES=$uuid" "$T/env" || fail "CUDA_VISIBLE_DEVICES: $(cat "$T/env")"
    grep -q "^GPUVISOR_REGION_FD=[0-9]" "$T/env" || fail "GPUVISOR_REGION_FD: $(cat "$T/env")"
    grep -q "^LD_PRELOAD=.*libgpuvisor.so" "$T/env" || fail "LD_PRELOAD: $(cat "$T/env")"
    grep -q "instances/$id" "$T/env" || fail "the descriptor is not the instance's region: $(cat "$T/env")"
    grep -q "^GPUVISOR_MEMORY=" "$T/env" && fail "a standalone limit in a daemon run: $(cat "$T/env")"
    as $USER_A "$G" run --instance small -- env >"$T/env" 2>"$T/err" || fail "run by name: $(cat "$T/err")"
    grep -qx "GPUVISOR_INSTANCE=$id" "$T/env" || fail "by name: GPUVISOR_INSTANCE: $(cat "$T/env")"
    # Refused: a user of another tenant, by id and by name; nothing runs.
    as $USER_B "$G" run --instance "$id" -- touch "$T/ran" >"$T/out" 2>"$T/err"
    check_eq "refused exit status" "$?" 125
    grep -q "^gpuvisor: " "$T/err" || fail "refusal message: $(cat "$T/err")"
    [ -e "$T/ran" ] && fail "the command ran after a refusal"
    as $USER_B "$G" run --daemon --instance small -- true >"$T/out" 2>"$T/err"
    check_eq "refused by name" "$?" 125
    # The limit holds in the joined process (cli_hold: 3 = out of memory).
    as $USER_A "$G" run --instance "$id" -- "$GV_HOLD" 2048 >"$T/out" 2>&1
    check_eq "2 GiB in a 1 GiB instance" "$?" 3
    as $USER_A "$G" run --instance "$id" -- "$GV_HOLD" 512 >"$T/out" 2>&1
    check_eq "512 MiB in a 1 GiB instance" "$?" 0
    # Over the socket a tenant's user needs no token, and sees its own instances only.
    tok_b=$(create --memory 1GiB --tenant lab-b)
    as $USER_A "$G" list >"$T/out" 2>"$T/err" || fail "list as $USER_A: $(cat "$T/err")"
    grep -q "$id" "$T/out" || fail "$USER_A does not see its instance: $(cat "$T/out")"
    grep -q "$tok_b" "$T/out" && fail "$USER_A sees lab-b's instance: $(cat "$T/out")"
    ;;
smi)
    # smi shows the daemon's instances, marked with tenant and id, with live usage; as JSON under
    # "daemon". Without a daemon, nothing of it and no error.
    start_daemon
    tenant lab-a >/dev/null
    id=$(create --memory 2GiB --compute 25 --tenant lab-a --name watch)
    "$G" run --instance "$id" -- "$GV_HOLD" --wait 512 >"$T/hold" 2>&1 &
    BG="$BG $!"
    i=0
    while ! grep -q ready "$T/hold"; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "holder never got ready: $(cat "$T/hold")"; break; }
        sleep 0.05
    done
    expect 0 "Instances of gpuvisord ($SOCK)" "$G" smi
    grep -qF "Instance $id \"watch\", tenant lab-a" "$T/out" || fail "smi: $(cat "$T/out")"
    grep -qF "512 MiB used of 2 GiB" "$T/out" || fail "smi usage: $(cat "$T/out")"
    expect 0 "" "$G" smi --json
    check_eq "smi --json" "$(jget "$T/out" "[(i['id'], i['tenant'], i['usage']['memory_used']) for i in d['daemon']['instances']]")" \
        "[('$id', 'lab-a', 536870912)]"
    kill -9 "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=""
    expect 0 "" "$G" smi
    grep -q "gpuvisord" "$T/out" "$T/err" && fail "smi without a daemon: $(cat "$T/out" "$T/err")"
    expect 0 "" "$G" smi --json
    check_eq "smi --json without a daemon" "$(jget "$T/out" "d['daemon']")" None
    ;;
*)
    echo "daemon_test.sh: unknown case $CASE" >&2
    exit 2
    ;;
esac
exit $FAILED
