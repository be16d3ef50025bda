#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The main job: two tenants share one GPU, each in a hard memory slice.
#
# Tenant A gets 4 GiB and wants 6 GiB: its fifth gibibyte is refused with a clean out-of-memory
# error and it carries on with four. Tenant B gets 8 GiB, wants 6 GiB and gets them, undisturbed.
# While both hold their memory, `gpuvisor smi` shows the GPU and the two slices. On a machine
# without a GPU the demo runs on the simulator (a simulated Tesla T4 with 16 GiB).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
b=${BUILD:-$top/build}
gv="$b/bin/gpuvisor"
tenant="$b/bin/gpuvisor-demo-tenant"
for f in "$gv" "$tenant" "$b/lib/libgpuvisor.so"; do
    [ -e "$f" ] || { echo "gpuvisor demo: $f is missing: run 'make' first" >&2; exit 1; }
done

if [ -e /dev/nvidiactl ] && ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
    echo "gpuvisor demo: running on the GPU of this machine"
else
    echo "gpuvisor demo: no GPU found; using the simulator (a simulated Tesla T4, 16 GiB)"
    export LD_LIBRARY_PATH="$b/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export GPUVISOR_SIM_GPUS=T4
    export GPUVISOR_SIM_MACHINE="demo-$$"
fi
regions=$(mktemp -d /tmp/gpuvisor-demo.XXXXXX)
export GPUVISOR_REGION_DIR="$regions"
cleanup() {
    rm -rf "$regions"
    [ -n "${GPUVISOR_SIM_MACHINE:-}" ] && rm -f "/dev/shm/gvsim.$GPUVISOR_SIM_MACHINE"
    return 0
}
trap cleanup EXIT

echo
echo "\$ gpuvisor run --memory 4GiB --instance tenant-a -- gpuvisor-demo-tenant --want 6GiB"
echo "\$ gpuvisor run --memory 8GiB --instance tenant-b -- gpuvisor-demo-tenant --want 6GiB"
"$gv" run --memory 4GiB --instance tenant-a -- "$tenant" --label tenant-a --want 6GiB --hold 4 &
a=$!
"$gv" run --memory 8GiB --instance tenant-b -- "$tenant" --label tenant-b --want 6GiB --hold 4 &
bpid=$!
sleep 2
echo
echo "\$ gpuvisor smi"
"$gv" smi
echo
sa=0; sb=0
wait $a || sa=$?
wait $bpid || sb=$?
echo
# Tenant A ends with 3 ("did not get all it wanted"), tenant B with 0.
if [ "$sa" -eq 3 ] && [ "$sb" -eq 0 ]; then
    echo "gpuvisor demo: tenant-a was held to its 4 GiB slice with a clean out-of-memory error;"
    echo "gpuvisor demo: tenant-b got its 6 GiB inside its 8 GiB slice. OK"
else
    echo "gpuvisor demo: unexpected result (tenant-a exit $sa, want 3; tenant-b exit $sb, want 0)" >&2
    exit 1
fi
