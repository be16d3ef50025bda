#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# host_test.sh CASE: `gpuvisor host` against a fake sysfs tree, checked from the outside: what the
# commands print and exit with, what they wrote (the emulator logs every write in
# ROOT/.sim/writes.log), where the functions' driver links point afterwards, and the definitions
# left in the config root (the state file, mdevctl's files). Each case builds its own tree with
# `gpuvisor-sim-host build ROOT SCENARIO` in a temporary directory and runs `gpuvisor-sim-host
# kernel ROOT`, which plays the kernel's part after each write, until the case ends. CTest runs each
# case as its own test (tests/cli/CMakeLists.txt), passing the built files in GV_BIN, GV_SIMHOST and,
# for the case against the real daemon, GV_DAEMON and GV_SIMDIR.
set -u
CASE=$1
T=$(mktemp -d)
ROOT="$T/root"
CFG="$T/cfg"
unset GPUVISOR_URL GPUVISOR_TOKEN GPUVISOR_STATE_DIR GPUVISOR_SYSFS_ROOT GPUVISOR_CONFIG_ROOT
# No gpuvisord, even on a machine that runs one: --sysfs-root makes every command local anyway.
export GPUVISOR_DAEMON="$T/no-gpuvisord.sock"
KERNEL=""
BG=""

cleanup() {
    [ -n "$KERNEL" ] && kill -TERM "$KERNEL" 2>/dev/null
    for p in $BG; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"



G=$GV_BIN
"$G" help | grep -q '^  host ' || { echo "SKIP: gpuvisor built without \`host\` (no jansson)"; exit 77; }
# Every case but the stand-in daemon's plays the kernel.
[ "$CASE" = daemon ] || [ -x "${GV_SIMHOST:-}" ] ||
    { echo "SKIP: gpuvisor-sim-host not built (${GV_SIMHOST:-unset})"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 reads the JSON"; exit 77; }

# H ARGS...: gpuvisor host, locally, on the fake tree.
H() {
    "$G" host "$@" --sysfs-root "$ROOT" --config-root "$CFG"
}

# The kernel: started on ROOT, ready once it prints so; a rebuilt tree needs a new one.
kernel_start() {
    "$GV_SIMHOST" kernel "$ROOT" >"$T/kernel.out" 2>&1 &
    KERNEL=$!
    i=0
    while ! grep -q ready "$T/kernel.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$KERNEL" 2>/dev/null; then
            fail "gpuvisor-sim-host kernel never got ready: $(cat "$T/kernel.out")"
            exit 1
        fi
        sleep 0.05
    done
}
kernel_stop() {
    kill -TERM "$KERNEL" 2>/dev/null
    wait "$KERNEL" 2>/dev/null
    KERNEL=""
}

# tree SCENARIO [EXTRA-SPEC-LINE...]: build ROOT (a scenario, plus lines such as faults) and start
# its kernel.
tree() {
    scen=$1
    shift
    if [ $# -gt 0 ]; then
        "$GV_SIMHOST" scenario "$scen" >"$T/spec" || { fail "no scenario $scen"; exit 1; }
        printf '%s\n' "$@" >>"$T/spec"
        "$GV_SIMHOST" build "$ROOT" --spec "$T/spec" || { fail "build $scen"; exit 1; }
    else
        "$GV_SIMHOST" build "$ROOT" "$scen" || { fail "build $scen"; exit 1; }
    fi
    kernel_start
}

# The number of writes made so far, and a check that none was made since a mark.
nwrites() { cat "$ROOT/.sim/writes.log" 2>/dev/null | wc -l | tr -d ' '; }
unchanged() { # what mark
    now=$(nwrites)
    [ "$now" = "$2" ] || fail "$1 wrote $((now - $2)) files: $(tail -n $((now - $2)) "$ROOT/.sim/writes.log")"
}

# driver BDF: the driver the function is bound to, "" when none.
driver() {
    l="$ROOT/sys/bus/pci/devices/$1/driver"
    [ -L "$l" ] && basename "$(readlink "$l")"
}

STATE="$CFG/var/lib/gpuvisor/host.json"
# state PYEXPR: evaluate PYEXPR with d = the state file.
state() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(($1))" "$STATE"; }
# js FILE PYEXPR: evaluate PYEXPR with d = the JSON in FILE.
js() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(($2))" "$1"; }

GPU=0000:41:00.0
AUDIO=0000:41:00.1

case "$CASE" in
list)
    tree all
    expect 0 "ADDRESS" H list
    for want in "0000:41:00.0  10de:1eb8  Tesla T4" "0000:40:01.1 pcieport (bridge), 0000:41:00.1 snd_hda_intel" \
        "mdev: 2 types, 0 made" "SR-IOV: 0/8 VFs, 0 vGPUs" "NVIDIA H200" "passthrough"; do
        grep -qF -- "$want" "$T/out" || fail "list: no \"$want\" in: $(cat "$T/out")"
    done
    grep -q '^0000:41:00.0 .* nvidia .* 12 .* host ' "$T/out" || fail "list row of $GPU: $(cat "$T/out")"
    grep -q '^0000:44:00.0 .* vfio-pci .* 15 .* passthrough ' "$T/out" || fail "list row of 44: $(cat "$T/out")"
    expect 0 "" H list --json
    check_eq "list --json" "$(js "$T/out" "[(g['pci'], g['driver'], g['iommu_group'], g['mode']) for g in d['gpus']]")" \
        "[('0000:41:00.0', 'nvidia', 12, 'host'), ('0000:42:00.0', 'nvidia', 13, 'host'), ('0000:43:00.0', 'nvidia', 40, 'host'), ('0000:44:00.0', 'vfio-pci', 15, 'passthrough')]"
    check_eq "list --json members" "$(js "$T/out" "[(m['pci'], m['role']) for m in d['gpus'][0]['group']]")" \
        "[('0000:40:01.1', 'bridge'), ('0000:41:00.1', 'function')]"
    check_eq "list --json vgpu" "$(js "$T/out" "d['gpus'][2]['vgpu']['sriov_total'], d['gpus'][1]['vgpu']['mdev_types']")" "(8, 2)"
    # The environment names the roots as well as the options do.
    GPUVISOR_SYSFS_ROOT="$ROOT" expect 0 "0000:43:00.0" "$G" host list --local
    check_eq "list writes nothing" "$(nwrites)" 0
    ;;
passthrough)
    tree t4-audio
    # A dry run: the exact writes, none made, nothing recorded.
    expect 0 "write $ROOT/sys/bus/pci/devices/$GPU/driver_override vfio-pci" H passthrough 41:00.0 --dry-run
    grep -qF "write $ROOT/sys/bus/pci/drivers_probe $AUDIO" "$T/out" || fail "dry run: $(cat "$T/out")"
    check_eq "dry-run writes" "$(nwrites)" 0
    [ -e "$STATE" ] && fail "dry run saved $(cat "$STATE")"
    expect 0 "" H passthrough 41:00.0 --dry-run --json
    check_eq "dry-run --json" "$(js "$T/out" "d['dry_run'], d['writes'][0]['path'].endswith('/driver_override'), d['writes'][0]['value']")" \
        "(True, True, 'vfio-pci')"
    check_eq "dry-run --json writes" "$(nwrites)" 0
    # The GPU and its audio function, both on vfio-pci; the drivers they had recorded.
    expect 0 "$GPU, $AUDIO on vfio-pci (IOMMU group 12)" H passthrough 41:00.0
    check_eq "GPU driver" "$(driver $GPU)" vfio-pci
    check_eq "audio driver" "$(driver $AUDIO)" vfio-pci
    check_eq "recorded" "$(state "[(f['pci'], f['driver']) for f in d['passthrough'][0]['functions']]")" \
        "[('$GPU', 'nvidia'), ('$AUDIO', 'snd_hda_intel')]"
    [ -e "$ROOT/dev/vfio/12" ] || fail "no dev/vfio/12 after passthrough"
    check_eq "list mode" "$(H list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["gpus"][0]["mode"])')" passthrough
    # Again: already on vfio-pci, nothing written, the record keeps the drivers they had.
    mark=$(nwrites)
    expect 0 "on vfio-pci" H passthrough $GPU
    unchanged "a second passthrough" "$mark"
    check_eq "record kept" "$(state "[f['driver'] for f in d['passthrough'][0]['functions']]")" "['nvidia', 'snd_hda_intel']"
    # Release: a dry run first, then back to the recorded drivers, the record gone.
    expect 0 "write $ROOT/sys/bus/pci/devices/$GPU/driver_override \"\"" H release $GPU --dry-run
    unchanged "release --dry-run" "$mark"
    expect 0 "Released $GPU" H release $GPU
    check_eq "GPU back" "$(driver $GPU)" nvidia
    check_eq "audio back" "$(driver $AUDIO)" snd_hda_intel
    check_eq "record removed" "$(state "len(d['passthrough'])")" 0
    expect 1 "is not given to VMs: it is on nvidia" H release $GPU
    ;;
unrecorded)
    # A GPU already on vfio-pci (by hand): nothing to write.
    tree on-vfio
    expect 0 "on vfio-pci" H passthrough $GPU
    check_eq "on-vfio writes" "$(nwrites)" 0
    # Released without a record of its drivers: the kernel's choice (the native drivers).
    expect 0 "Released $GPU" H release $GPU
    check_eq "GPU to its native driver" "$(driver $GPU)" nvidia
    check_eq "audio to its native driver" "$(driver $AUDIO)" snd_hda_intel
    ;;
refuse)
    # A NIC in the GPU's IOMMU group: refused, naming the NIC, nothing written.
    tree shared-nic
    expect 1 "0000:45:00.0" H passthrough $GPU
    grep -qF "IOMMU group 14" "$T/err" || fail "shared group: $(cat "$T/err")"
    check_eq "shared-nic writes" "$(nwrites)" 0
    check_eq "GPU untouched" "$(driver $GPU)" nvidia
    [ -e "$STATE" ] && fail "refusal saved $(cat "$STATE")"
    kernel_stop
    rm -rf "$ROOT"
    # vfio-pci not loaded.
    tree novfio
    expect 1 "vfio-pci is not loaded" H passthrough $GPU
    check_eq "novfio writes" "$(nwrites)" 0
    kernel_stop
    rm -rf "$ROOT"
    # A process holding the GPU's device node open: refused, naming its pid.
    tree t4-audio
    sleep 300 <"$ROOT/dev/nvidia0" &
    holder=$!
    BG="$BG $holder"
    expect 1 "process $holder" H passthrough $GPU
    grep -qF "dev/nvidia0" "$T/err" || fail "holder: $(cat "$T/err")"
    check_eq "in-use writes" "$(nwrites)" 0
    kill -9 "$holder"
    wait "$holder" 2>/dev/null
    expect 0 "on vfio-pci" H passthrough $GPU
    # No IOMMU.
    kernel_stop
    rm -rf "$ROOT" "$CFG"
    tree nogroup
    expect 1 "no IOMMU group" H passthrough $GPU
    check_eq "nogroup writes" "$(nwrites)" 0
    ;;
input)
    # Bad input: a usage error, nothing written, nothing recorded.
    tree all
    expect 2 '"41:00"' H passthrough 41:00
    expect 2 '"zz:00.0"' H passthrough zz:00.0
    expect 2 'host release' H release 0000:41:00.9
    expect 2 'is not a GPU' H passthrough 0000:60:00.0
    expect 2 'is not a GPU' H passthrough $AUDIO
    expect 2 'does not offer vGPU type "bogus"; it offers: nvidia-222 (GRID T4-1Q), nvidia-230 (GRID T4-16Q)' \
        H create 0000:42:00.0 bogus
    expect 2 'UUID "not-a-uuid"' H create 0000:42:00.0 nvidia-222 --uuid not-a-uuid
    expect 2 'UUID "c2177883-f1bb-47f0-914d-32a22e3a880"' H create 0000:42:00.0 nvidia-222 --uuid c2177883-f1bb-47f0-914d-32a22e3a880
    expect 2 'neither a UUID' H remove 12345
    expect 2 'neither a UUID' H xml nope
    expect 2 'is not a GPU' H types 0000:60:00.0
    expect 1 'no PCI device at 0000:99:00.0' H passthrough 99:00.0
    expect 1 'offers no vGPU types' H create $GPU nvidia-222
    expect 2 "an SR-IOV vGPU is named by its VF" H create 0000:43:00.0 1414 --uuid c2177883-f1bb-47f0-914d-32a22e3a8804
    check_eq "bad input writes" "$(nwrites)" 0
    [ -e "$CFG" ] && fail "bad input wrote under the config root: $(find "$CFG")"
    ;;
sriov_unknown)
    # An unknown type on an SR-IOV GPU whose VFs are not enabled yet: refused, nothing left written.
    tree sriov
    expect 2 'does not offer vGPU type "1499"' H create 0000:43:00.0 1499
    check_eq "VFs after a refused create" "$(cat "$ROOT/sys/bus/pci/devices/0000:43:00.0/sriov_numvfs")" 0
    [ -e "$CFG" ] && fail "a refused create wrote under the config root: $(find "$CFG")"
    ;;
options)
    tree t4-audio
    expect 0 "Usage: gpuvisor host COMMAND" "$G" host --help
    expect 0 "--dry-run" "$G" host passthrough --help
    expect 0 "--socket PATH" "$G" host help
    expect 2 "Usage: gpuvisor host" "$G" host
    expect 2 'host: unknown command "bogus"' "$G" host bogus
    expect 2 "missing the GPU's PCI address" H passthrough
    expect 2 'unexpected argument "extra"' H passthrough $GPU extra
    expect 2 'unknown option "--bogus"' H list --bogus
    expect 2 "--dry-run is for passthrough" H list --dry-run
    expect 2 "takes no --uuid" H passthrough $GPU --uuid c2177883-f1bb-47f0-914d-32a22e3a8804
    expect 2 "takes no --socket" H list --socket "$T/x.sock"
    expect 2 "takes no --socket" "$G" host list --local --url http://127.0.0.1:1
    expect 2 "--sysfs-root: missing value" "$G" host list --sysfs-root
    # A daemon named by the environment gets the commands, unless --local (or a root) says here.
    expect 125 "no socket at $T/no-gpuvisord.sock" "$G" host list
    GPUVISOR_SYSFS_ROOT="$ROOT" GPUVISOR_CONFIG_ROOT="$CFG" expect 0 "$GPU" "$G" host list --local
    check_eq "options writes" "$(nwrites)" 0
    ;;
mdev)
    tree mdev
    expect 0 "" H types $GPU
    grep -q '^nvidia-222 *GRID T4-1Q *1 GiB *16$' "$T/out" || fail "types: $(cat "$T/out")"
    grep -q '^nvidia-230 *GRID T4-16Q *16 GiB *0$' "$T/out" || fail "types: $(cat "$T/out")"
    expect 0 "" H types $GPU --json
    check_eq "types --json" "$(js "$T/out" "sorted((t['id'], t['available'], t['framebuffer']) for t in d['types'])")" \
        "[('nvidia-222', 16, 1073741824), ('nvidia-230', 0, 17179869184)]"
    # Without --uuid: a new one, alone on stdout; the instance and mdevctl's definition made.
    expect 0 "" H create $GPU nvidia-222
    U1=$(cat "$T/out")
    echo "$U1" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' || fail "create printed \"$U1\""
    [ -L "$ROOT/sys/bus/mdev/devices/$U1" ] || fail "no mdev $U1"
    DEF="$CFG/etc/mdevctl.d/$GPU/$U1"
    check_eq "mdevctl definition" "$(js "$DEF" "d['mdev_type'], d['start']")" "('nvidia-222', 'auto')"
    check_eq "recorded" "$(state "[(v['id'], v['kind'], v['type']) for v in d['vgpus']]")" "[('$U1', 'mdev', 'nvidia-222')]"
    # With --uuid (any case; by the type's name): that UUID, lowercase.
    U2=c2177883-f1bb-47f0-914d-32a22e3a8804
    expect 0 "" H create 41:00.0 "grid t4-1q" --uuid C2177883-F1BB-47F0-914D-32A22E3A8804
    check_eq "create --uuid" "$(cat "$T/out")" "$U2"
    [ -f "$CFG/etc/mdevctl.d/$GPU/$U2" ] || fail "no mdevctl definition for $U2"
    check_eq "available" "$(cat "$ROOT/sys/bus/pci/devices/$GPU/mdev_supported_types/nvidia-222/available_instances")" 14
    expect 1 "exists already" H create $GPU nvidia-222 --uuid $U2
    # None available: refused, nothing written.
    mark=$(nwrites)
    expect 1 "no nvidia-230 (GRID T4-16Q) left" H create $GPU nvidia-230
    unchanged "create with none available" "$mark"
    # A dry run prints the write and makes none.
    expect 0 "mdev_supported_types/nvidia-222/create" H create $GPU nvidia-222 --dry-run
    unchanged "create --dry-run" "$mark"
    # A GPU with vGPUs is not given whole to a VM.
    expect 1 "has vGPUs" H passthrough $GPU
    unchanged "passthrough of a vGPU parent" "$mark"
    expect 0 "ADDRESS" H list
    grep -qF "mdev: 2 types, 2 made" "$T/out" || fail "list: $(cat "$T/out")"
    # Remove: the instance, its definition and its record go.
    expect 0 "Removed vGPU $U1" H remove $U1
    [ -e "$ROOT/sys/bus/mdev/devices/$U1" ] && fail "mdev $U1 still there"
    [ -e "$DEF" ] && fail "mdevctl definition $DEF still there"
    check_eq "record removed" "$(state "[v['id'] for v in d['vgpus']]")" "['$U2']"
    expect 0 "Removed vGPU $U2" H remove C2177883-F1BB-47F0-914D-32A22E3A8804
    check_eq "all removed" "$(state "len(d['vgpus'])")" 0
    expect 1 "no mdev $U2" H remove $U2
    ;;
sriov)
    tree sriov
    PF=0000:43:00.0
    expect 1 "no virtual functions enabled" H types $PF
    # The first create enables the VFs, then sets a type on a free one; the VF is its id.
    expect 0 "" H create $PF 1414
    VF=$(cat "$T/out")
    check_eq "sriov_numvfs" "$(cat "$ROOT/sys/bus/pci/devices/$PF/sriov_numvfs")" 8
    echo "$VF" | grep -Eq '^0000:43:0[0-9a-f]\.[0-7]$' || fail "create printed \"$VF\""
    check_eq "current_vgpu_type" "$(cat "$ROOT/sys/bus/pci/devices/$VF/nvidia/current_vgpu_type")" 1414
    expect 0 "NVIDIA H200X-1-18C" H types $PF
    grep -q '^1415 *NVIDIA H200X-2-35C *35 GiB' "$T/out" || fail "types: $(cat "$T/out")"
    # By name, without the vendor's prefix.
    expect 0 "" H create $PF H200X-2-35C
    VF2=$(cat "$T/out")
    [ "$VF2" != "$VF" ] || fail "the same VF twice: $VF"
    check_eq "second type" "$(cat "$ROOT/sys/bus/pci/devices/$VF2/nvidia/current_vgpu_type")" 1415
    check_eq "recorded" "$(state "[(v['id'], v['kind'], v['type'], v['numvfs']) for v in d['vgpus']]")" \
        "[('$VF', 'sriov', '1414', 8), ('$VF2', 'sriov', '1415', 8)]"
    expect 0 "SR-IOV: 8/8 VFs, 2 vGPUs" H list
    mark=$(nwrites)
    expect 0 "write $ROOT/sys/bus/pci/devices/$VF/nvidia/current_vgpu_type 0" H remove $VF --dry-run
    unchanged "remove --dry-run" "$mark"
    expect 0 "Removed vGPU $VF" H remove $VF
    check_eq "VF freed" "$(cat "$ROOT/sys/bus/pci/devices/$VF/nvidia/current_vgpu_type")" 0
    check_eq "record removed" "$(state "[v['id'] for v in d['vgpus']]")" "['$VF2']"
    expect 1 "no vGPU at $VF" H remove $VF
    ;;
reboot)
    tree all
    U=c2177883-f1bb-47f0-914d-32a22e3a8804
    expect 0 "" H passthrough $GPU
    expect 0 "" H create 0000:42:00.0 nvidia-222 --uuid $U
    expect 0 "" H create 0000:43:00.0 1416
    VF=$(cat "$T/out")
    # The reboot: nothing of it survives in sysfs; the definitions do.
    kernel_stop
    rm -rf "$ROOT"
    tree all
    # A definition mdevctl made (or another tool), not in gpuvisor's state: apply picks it up.
    U3=9e4c3b2a-1d2e-4f3a-8b7c-6d5e4f3a2b1c
    printf '{"mdev_type": "nvidia-222", "start": "auto", "attrs": []}\n' >"$CFG/etc/mdevctl.d/0000:42:00.0/$U3"
    check_eq "bare tree" "$(driver $GPU)" nvidia
    expect 0 "write $ROOT/sys/bus/pci/devices/0000:43:00.0/sriov_numvfs 8" H apply --dry-run
    check_eq "apply --dry-run writes" "$(nwrites)" 0
    expect 0 "apply: 4 done, 0 already in place, 0 failed." H apply
    check_eq "GPU after apply" "$(driver $GPU)" vfio-pci
    check_eq "audio after apply" "$(driver $AUDIO)" vfio-pci
    [ -L "$ROOT/sys/bus/mdev/devices/$U" ] || fail "mdev $U not re-created"
    [ -L "$ROOT/sys/bus/mdev/devices/$U3" ] || fail "mdevctl's mdev $U3 not created"
    check_eq "VF type after apply" "$(cat "$ROOT/sys/bus/pci/devices/$VF/nvidia/current_vgpu_type")" 1416
    mark=$(nwrites)
    expect 0 "apply: 0 done, 4 already in place, 0 failed." H apply
    unchanged "a second apply" "$mark"
    expect 0 "" H apply --json
    check_eq "apply --json" "$(js "$T/out" "d['done'], d['already'], d['failed']")" "(0, 4, 0)"
    # The record made before the reboot still gives the functions back to their drivers.
    expect 0 "Released $GPU" H release $GPU
    check_eq "released after reboot" "$(driver $AUDIO)" snd_hda_intel
    ;;
fault)
    # The audio function cannot be bound: the passthrough fails, naming it, and is undone.
    tree t4-audio "fault nobind $AUDIO"
    expect 1 "$AUDIO" H passthrough $GPU
    grep -qF "roll" "$T/err" || fail "no rollback said: $(cat "$T/err")"
    check_eq "GPU back on nvidia" "$(driver $GPU)" nvidia
    check_eq "override cleared" "$(cat "$ROOT/sys/bus/pci/devices/$GPU/driver_override")" "(null)"
    [ -e "$STATE" ] && [ "$(state "len(d['passthrough'])")" != 0 ] && fail "a failed passthrough was recorded: $(cat "$STATE")"
    # apply reports a definition it cannot make, and carries on with the others.
    mkdir -p "$CFG/var/lib/gpuvisor"
    printf '{"version": 1, "passthrough": [{"pci": "%s", "iommu_group": 12, "functions": [{"pci": "%s", "driver": "nvidia"}, {"pci": "%s", "driver": "snd_hda_intel"}]}], "vgpus": []}\n' \
        $GPU $GPU $AUDIO >"$STATE"
    expect 1 "1 failed" H apply
    check_eq "GPU after a failed apply" "$(driver $GPU)" nvidia
    ;;
xml)
    # Each kind of device inside a minimal domain: valid for libvirt's schema, and defined.
    command -v virt-xml-validate >/dev/null || { echo "SKIP: virt-xml-validate missing (Debian package libvirt-clients)"; exit 77; }
    tree all
    U=c2177883-f1bb-47f0-914d-32a22e3a8804
    expect 0 "" H passthrough $GPU
    expect 0 "" H create 0000:42:00.0 nvidia-222 --uuid $U
    expect 0 "" H create 0000:43:00.0 1414
    VF=$(cat "$T/out")
    n=0
    for id in $GPU $U "$VF"; do
        n=$((n + 1))
        expect 0 "<hostdev mode='subsystem'" H xml "$id"
        cp "$T/out" "$T/hostdev$n.xml"
        {
            printf "<domain type='kvm'>\n  <name>gv-host-test-%s</name>\n  <memory unit='MiB'>1024</memory>\n" $n
            printf "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices>\n"
            cat "$T/hostdev$n.xml"
            printf "  </devices>\n</domain>\n"
        } >"$T/domain$n.xml"
        virt-xml-validate "$T/domain$n.xml" domain >"$T/v.out" 2>&1 || fail "virt-xml-validate $id: $(cat "$T/v.out") in $(cat "$T/domain$n.xml")"
        if command -v virsh >/dev/null; then
            virsh -q -c test:///default define "$T/domain$n.xml" >"$T/v.out" 2>&1 || fail "virsh define $id: $(cat "$T/v.out")"
        else
            echo "virsh missing (Debian package libvirt-clients): define not checked" >&2
        fi
    done
    grep -c "<hostdev" "$T/hostdev1.xml" | grep -qx 2 || fail "GPU XML without its audio function: $(cat "$T/hostdev1.xml")"
    grep -qF "function='0x1'" "$T/hostdev1.xml" || fail "GPU XML: $(cat "$T/hostdev1.xml")"
    grep -qF "type='mdev'" "$T/hostdev2.xml" && grep -qF "uuid='$U'" "$T/hostdev2.xml" || fail "mdev XML: $(cat "$T/hostdev2.xml")"
    grep -qF "bus='0x43'" "$T/hostdev3.xml" || fail "VF XML: $(cat "$T/hostdev3.xml")"
    expect 0 "" H xml $U --json
    check_eq "xml --json" "$(js "$T/out" "'uuid=' in d['xml']")" True
    expect 1 "" H xml 9e4c3b2a-1d2e-4f3a-8b7c-6d5e4f3a2b1c
    ;;
daemon)
    # With gpuvisord: the routes of docs/api.md, and the answers shown as locally.
    LOG="$T/requests"
    python3 "$(dirname "$0")/host_fake_gpuvisord.py" "$T/fake.sock" "$LOG" 2>"$T/fake.err" &
    BG="$BG $!"
    i=0
    while [ ! -S "$T/fake.sock" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { fail "stand-in daemon never started: $(cat "$T/fake.err")"; exit 1; }
        sleep 0.05
    done
    export GPUVISOR_DAEMON="$T/fake.sock"
    last() { tail -n 1 "$LOG" | python3 -c "import json, sys; d = json.load(sys.stdin); print(($1))"; }
    D="$G host"
    expect 0 "0000:41:00.1 snd_hda_intel" $D list
    check_eq "list request" "$(last "d['method'], d['path']")" "('GET', '/v1/host/gpus')"
    expect 0 "" $D list --json
    check_eq "list --json" "$(js "$T/out" "d['gpus'][0]['pci']")" "0000:41:00.0"
    expect 0 "GRID T4-1Q" $D types 41:00.0
    check_eq "types request" "$(last "d['path']")" "/v1/host/gpus/0000%3A41%3A00.0/types"
    expect 0 "on vfio-pci" $D passthrough 41:00.0
    check_eq "passthrough request" "$(last "d['method'], d['path'], d['body']")" "('POST', '/v1/host/passthrough', {'pci': '0000:41:00.0'})"
    expect 0 "write /sys/bus/pci/devices/0000:41:00.0/driver_override vfio-pci" $D passthrough 41:00.0 --dry-run
    grep -qF 'driver/unbind ""' "$T/out" || fail "dry run: $(cat "$T/out")"
    grep -qxF '# and the definition /etc/mdevctl.d/0000:41:00.0/x' "$T/out" || fail "dry run notes: $(cat "$T/out")"
    check_eq "dry-run request" "$(last "d['path']")" "/v1/host/passthrough?dry_run=1"
    expect 0 "Released 0000:41:00.0" $D release 41:00.0
    check_eq "release request" "$(last "d['method'], d['path']")" "('DELETE', '/v1/host/passthrough/0000%3A41%3A00.0')"
    expect 0 "" $D create 41:00.0 nvidia-222 --uuid C2177883-F1BB-47F0-914D-32A22E3A8804
    check_eq "create prints the id" "$(cat "$T/out")" "c2177883-f1bb-47f0-914d-32a22e3a8804"
    check_eq "create request" "$(last "d['method'], d['path'], sorted(d['body'].items())")" \
        "('POST', '/v1/host/vgpus', [('parent', '0000:41:00.0'), ('type', 'nvidia-222'), ('uuid', 'c2177883-f1bb-47f0-914d-32a22e3a8804')])"
    expect 2 'does not offer vGPU type "badtype"' $D create 41:00.0 badtype
    expect 0 "Removed vGPU c2177883-f1bb-47f0-914d-32a22e3a8804" $D remove c2177883-f1bb-47f0-914d-32a22e3a8804
    check_eq "remove request" "$(last "d['method'], d['path']")" "('DELETE', '/v1/host/vgpus/c2177883-f1bb-47f0-914d-32a22e3a8804')"
    expect 0 "<hostdev mode='subsystem' type='mdev'" $D xml c2177883-f1bb-47f0-914d-32a22e3a8804
    expect 0 "apply: 1 done, 2 already in place, 0 failed." $D apply
    check_eq "apply request" "$(last "d['method'], d['path']")" "('POST', '/v1/host/apply')"
    # Bad input is refused before anything is sent.
    n=$(wc -l <"$LOG")
    expect 2 '"41:00"' $D passthrough 41:00
    expect 2 'UUID "x"' $D create 41:00.0 nvidia-222 --uuid x
    check_eq "nothing sent for bad input" "$(wc -l <"$LOG")" "$n"
    # The daemon's refusal, on stderr, exit 1.
    expect 1 "process 4242" $D create 41:00.0 refuse
    ;;
gpuvisord)
    # The real daemon on the fake tree: the commands go to it, and it does the work.
    [ -x "${GV_DAEMON:-}" ] && "$GV_DAEMON" --help 2>&1 | grep -q -- --sysfs-root ||
        { echo "SKIP: gpuvisord with host routes not built (${GV_DAEMON:-unset})"; exit 77; }
    tree all
    export GPUVISOR_SIM_MACHINE="clih-$$" GPUVISOR_SIM_GPUS="T4,T4"
    export LD_LIBRARY_PATH="${GV_SIMDIR:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    SOCK="$T/run/gpuvisord.sock"
    "$GV_DAEMON" --sim T4,T4 --listen 127.0.0.1:0 --state "$T/state" --socket "$SOCK" \
        --sysfs-root "$ROOT" --config-root "$CFG" >"$T/daemon.log" 2>&1 &
    DPID=$!
    BG="$BG $DPID"
    i=0
    while [ ! -S "$SOCK" ]; do
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$DPID" 2>/dev/null; then
            fail "gpuvisord did not start: $(cat "$T/daemon.log")"
            exit 1
        fi
        sleep 0.05
    done
    export GPUVISOR_DAEMON="$SOCK"
    D="$G host"
    expect 0 "0000:40:01.1 pcieport (bridge), 0000:41:00.1 snd_hda_intel" $D list
    expect 0 "write $ROOT/sys/bus/pci/devices/$GPU/driver_override vfio-pci" $D passthrough $GPU --dry-run
    check_eq "dry run through gpuvisord writes" "$(nwrites)" 0
    expect 0 "$GPU, $AUDIO on vfio-pci (IOMMU group 12)" $D passthrough $GPU
    check_eq "GPU on vfio-pci" "$(driver $GPU)" vfio-pci
    expect 0 "function='0x1'" $D xml $GPU
    expect 2 '"41:00"' $D passthrough 41:00
    expect 2 "is not a GPU" $D passthrough 0000:60:00.0
    expect 0 "" $D create 0000:42:00.0 nvidia-222
    U=$(cat "$T/out")
    [ -L "$ROOT/sys/bus/mdev/devices/$U" ] || fail "no mdev $U made through gpuvisord"
    expect 0 "Removed vGPU $U" $D remove "$U"
    expect 0 "Released $GPU" $D release $GPU
    check_eq "GPU back" "$(driver $GPU)" nvidia
    expect 0 "already in place" $D apply
    rm -f "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
    ;;
*)
    echo "unknown case $CASE" >&2
    exit 2
    ;;
esac
exit $FAILED
