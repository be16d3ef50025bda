#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real-GPU checks, for a machine with an NVIDIA GPU, the CUDA toolkit and PyTorch. Builds the
# interposer and the CLI from the toolchain alone, then checks with PyTorch:
#   1. under --memory 4GiB, torch.cuda.mem_get_info() reports 4 GiB total, and allocating past the
#      slice raises PyTorch's out-of-memory error;
#   2. a matmul loop with the interposer and no limit runs at least 99% as fast as without it;
#   3. two matmul loops at --compute 30 and --compute 60, at once on one GPU, get 30% and 60% of
#      it: each one's throughput against the same loop's unlimited throughput, within 5 points;
#   4. with PyTorch's stream-ordered allocator (backend:cudaMallocAsync, which raises the default
#      pool's release threshold to the maximum), growing allocations freed each time never make
#      the process hold more than its 4 GiB slice on the GPU (as nvidia-smi sees it), and
#      allocating past the slice raises PyTorch's out-of-memory error;
#   5. nvidia-smi run inside a 4 GiB slice (NVML only, no CUDA) reports a 4 GiB GPU;
#   6. where gpuvisord builds (libmicrohttpd, jansson, SQLite present): the daemon takes its
#      inventory from the real NVML, and a 4 GiB instance it makes is what PyTorch sees when it
#      runs there through `gpuvisor run --instance`;
#   7. where `gpuvisor host` builds (jansson present), on the real sysfs and without changing it:
#      `host list` finds the GPU nvidia-smi reports, at the same PCI address, on the nvidia driver;
#      `host passthrough --dry-run` either prints the writes for the GPU's functions or refuses
#      with the reason (IOMMU off, a process holding the GPU); `host xml` prints its <hostdev>.
#   8. two PyTorch training loops (an MLP on random data, for a fixed window of wall time) at 30%
#      and 60% under each compute policy: guaranteed, at once, get 1/3 and 2/3 of the loop's
#      unlimited rate, and alone nearly all of it; fixed get 30% and 60% at once and alone, within
#      5 points (skipped when PyTorch or a GPU is missing).
#   9. remoting on the real driver: tests/remote/remote_probe (a driver-API program with a fill
#      kernel nvcc compiles to a cubin) runs against the vendor's driver and through a
#      gpuvisor-remoted on it with --memory 4GiB: the slice is what the device shows, allocating
#      past it is refused, copies and the kernel's work check out, and the remote copy rates and
#      launch rates are printed beside the local ones (skipped without nvcc).
# Prints a summary; exits non-zero if a check fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b="$top/build-gpu"
py=${PYTHON:-python3}
fails=0
summary=()
note() { summary+=("$1"); echo "gpu-check: $1"; }

echo "gpu-check: building in $b"
cmake -S "$top" -B "$b" -DCMAKE_BUILD_TYPE=Release >"$b.log" 2>&1 &&
    cmake --build "$b" -j "$(nproc)" --target gpuvisor gpuvisor_cli >>"$b.log" 2>&1 &&
    { cmake --build "$b" -j "$(nproc)" --target gpuvisor-remoted gvremote_cuda gvremote_nvml \
        remote_probe >>"$b.log" 2>&1 || echo "gpu-check: remoting did not build (see $b.log)"; } || {
    tail -30 "$b.log"
    echo "gpu-check: build failed"
    exit 1
}
gv="$b/bin/gpuvisor"
nvidia-smi -L 2>/dev/null || true
export GPUVISOR_REGION_DIR
GPUVISOR_REGION_DIR=$(mktemp -d /tmp/gpuvisor-gpucheck.XXXXXX)
trap 'rm -rf "$GPUVISOR_REGION_DIR"' EXIT

# 1. The slice as PyTorch sees it.
out=$("$gv" run --memory 4GiB -- "$py" - <<'PYEOF' 2>&1
import torch
free, total = torch.cuda.mem_get_info()
print(f"mem_get_info total={total} free={free}")
xs = []
try:
    for i in range(64):
        xs.append(torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda"))
    print("oom=none allocated=%d MiB" % (len(xs) * 256))
except torch.cuda.OutOfMemoryError as e:
    print("oom=raised allocated=%d MiB" % (len(xs) * 256))
PYEOF
)
echo "$out"
total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$out")
if [ "${total:-0}" = $((4 * 1024 * 1024 * 1024)) ]; then
    note "PASS mem_get_info under --memory 4GiB: total $total bytes"
else
    note "FAIL mem_get_info under --memory 4GiB: total '${total:-?}', want 4294967296"
    fails=$((fails + 1))
fi
if grep -q "oom=raised" <<<"$out"; then
    note "PASS allocating past the slice raises torch.cuda.OutOfMemoryError ($(sed -n 's/.*allocated=\(.*\)/\1/p' <<<"$out") before it)"
else
    note "FAIL allocating past the slice did not raise OutOfMemoryError"
    fails=$((fails + 1))
fi

# 2. Matmul throughput with and without the interposer, alternating runs; medians.
bench=$(mktemp /tmp/gpuvisor-mm.XXXXXX.py)
cat >"$bench" <<'PYEOF'
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
for _ in range(10):
    a @ b
torch.cuda.synchronize()
n, t0 = 200, time.perf_counter()
for _ in range(n):
    a @ b
torch.cuda.synchronize()
print("tflops=%.2f" % (n * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12))
PYEOF
direct=() shimmed=()
for i in 1 2 3 4 5; do
    direct+=("$("$py" "$bench" | sed -n 's/tflops=//p')")
    shimmed+=("$("$gv" run -- "$py" "$bench" | sed -n 's/tflops=//p')")
done
rm -f "$bench"
med() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
md=$(med "${direct[@]}")
ms=$(med "${shimmed[@]}")
ratio=$(awk -v s="$ms" -v d="$md" 'BEGIN { if (d > 0) printf "%.4f", s / d; else print "0" }')
if awk -v r="$ratio" 'BEGIN { exit !(r >= 0.99) }'; then
    note "PASS matmul with the interposer: $ms TFLOPS vs $md direct (ratio $ratio, median of 5)"
else
    note "FAIL matmul with the interposer: $ms TFLOPS vs $md direct (ratio $ratio < 0.99)"
    fails=$((fails + 1))
fi

# 3. GPU-time shares. Each loop runs matmuls for the same wall-clock window (they wait for a common
# start time, after CUDA's start-up, so the windows overlap) and reports matmuls per second; the
# unlimited run alone gives the GPU's full rate. Throughput is a fair measure of GPU time here
# because every matmul is the same work.
share_py=$(mktemp /tmp/gpuvisor-share.XXXXXX.py)
cat >"$share_py" <<'PYEOF'
import os, sys, time, torch
start, window = float(sys.argv[1]), float(sys.argv[2])
a = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
b = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
for _ in range(20):
    a @ b
torch.cuda.synchronize()
while time.time() < start:
    time.sleep(0.001)
n, t0 = 0, time.time()
while time.time() < start + window:
    for _ in range(8):
        a @ b
    torch.cuda.synchronize()
    n += 8
print("rate=%.3f" % (n / (time.time() - t0)))
PYEOF
window=20
rate() { sed -n 's/^rate=//p' <<<"$1" | tail -1; }
t=$(( $(date +%s) + 15 ))
full=$(rate "$("$gv" run -- "$py" "$share_py" "$t" "$window" 2>&1)")
t=$(( $(date +%s) + 15 ))
out30=$(mktemp) out60=$(mktemp)
"$gv" run --compute 30 -- "$py" "$share_py" "$t" "$window" >"$out30" 2>&1 &
p30=$!
"$gv" run --compute 60 -- "$py" "$share_py" "$t" "$window" >"$out60" 2>&1 &
p60=$!
wait "$p30" "$p60"
r30=$(rate "$(cat "$out30")")
r60=$(rate "$(cat "$out60")")
rm -f "$share_py" "$out30" "$out60"
for pair in "30 ${r30:-0}" "60 ${r60:-0}"; do
    set -- $pair
    got=$(awk -v r="$2" -v f="${full:-0}" 'BEGIN { if (f > 0) printf "%.2f", 100 * r / f; else print "0" }')
    err=$(awk -v g="$got" -v w="$1" 'BEGIN { printf "%+.2f", g - w }')
    line="--compute $1 next to --compute $(( $1 == 30 ? 60 : 30 )): $got% of the unlimited rate ($2 vs ${full:-?} matmuls/s), error $err points"
    if awk -v e="$err" 'BEGIN { exit !(e >= -5 && e <= 5) }'; then
        note "PASS $line"
    else
        note "FAIL $line"
        fails=$((fails + 1))
    fi
done

# 4. Stream-ordered memory under PyTorch's cudaMallocAsync backend.
out=$(PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync "$gv" run --memory 4GiB -- "$py" - <<'PYEOF' 2>&1
import os, subprocess, torch
def held():
    q = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                        "--format=csv,noheader,nounits"], capture_output=True, text=True).stdout
    return sum(int(m) for p, m in (l.split(",") for l in q.splitlines() if l.strip())
               if int(p) == os.getpid())
most = 0
for mib in range(256, 4096, 256):
    try:
        x = torch.empty(mib * 1024 * 1024, dtype=torch.uint8, device="cuda")
        del x
    except torch.cuda.OutOfMemoryError:
        pass
    torch.cuda.synchronize()
    most = max(most, held())
try:
    x = torch.empty(5 * 1024**3, dtype=torch.uint8, device="cuda")
    print("oom=none")
except torch.cuda.OutOfMemoryError:
    print("oom=raised")
print("most_held_mib=%d" % most)
PYEOF
)
echo "$out"
most=$(sed -n 's/^most_held_mib=//p' <<<"$out")
if [ -n "$most" ] && [ "$most" -le 4096 ]; then
    note "PASS cudaMallocAsync under --memory 4GiB: the process held at most $most MiB on the GPU"
else
    note "FAIL cudaMallocAsync under --memory 4GiB: the process held ${most:-?} MiB on the GPU (slice 4096)"
    fails=$((fails + 1))
fi
if grep -q "oom=raised" <<<"$out"; then
    note "PASS cudaMallocAsync: allocating past the slice raises OutOfMemoryError"
else
    note "FAIL cudaMallocAsync: allocating past the slice did not raise OutOfMemoryError"
    fails=$((fails + 1))
fi

# 5. NVML alone inside a slice.
smi_total=$("$gv" run --memory 4GiB -- nvidia-smi --id=0 --query-gpu=memory.total \
    --format=csv,noheader,nounits 2>&1 | tail -1 | tr -d ' ')
if [ "$smi_total" = 4096 ]; then
    note "PASS nvidia-smi inside a 4 GiB slice reports $smi_total MiB"
else
    note "FAIL nvidia-smi inside a 4 GiB slice reports '${smi_total:-?}' MiB, want 4096"
    fails=$((fails + 1))
fi

# 6. gpuvisord on the real driver (skipped where its libraries are missing).
if cmake --build "$b" -j "$(nproc)" --target gpuvisord gpuvisor_cli_rest >>"$b.log" 2>&1; then
    d=$(mktemp -d /tmp/gpuvisor-gpucheck-daemon.XXXXXX)
    "$b/bin/gpuvisord" --listen 127.0.0.1:0 --state "$d/state" --socket "$d/run/gpuvisord.sock" \
        --config-root "$d/conf" 2>"$d/log" &
    dpid=$!
    for _ in $(seq 100); do [ -S "$d/run/gpuvisord.sock" ] && break; sleep 0.1; done
    sock=(--socket "$d/run/gpuvisord.sock")
    "$gv" gpus "${sock[@]}" || true
    id=$("$gv" tenant add gpucheck --user root "${sock[@]}" >/dev/null &&
        "$gv" create --memory 4GiB --tenant gpucheck --json "${sock[@]}" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    out=$("$gv" run --instance "${id:-none}" --daemon="$d/run/gpuvisord.sock" -- "$py" -c \
        'import torch; f, t = torch.cuda.mem_get_info(); print(f"total={t}")' 2>&1)
    echo "$out"
    total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$out")
    if [ "${total:-0}" = $((4 * 1024 * 1024 * 1024)) ]; then
        note "PASS gpuvisord on the real driver: PyTorch in its 4 GiB instance sees $total bytes"
    else
        note "FAIL gpuvisord on the real driver: PyTorch in its 4 GiB instance sees '${total:-?}'"
        sed -n '1,20p' "$d/log"
        fails=$((fails + 1))
    fi
    kill "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    rm -rf "$d"
else
    note "SKIP gpuvisord: not built here (libmicrohttpd, jansson or SQLite missing: see $b.log)"
fi

# 7. The host's view of the GPU, read-only (a dry run writes nothing).
if cmake --build "$b" -j "$(nproc)" --target gpuvisor_cli_rest >>"$b.log" 2>&1 &&
    "$gv" host --help >/dev/null 2>&1; then
    h=$(mktemp -d /tmp/gpuvisor-gpucheck-host.XXXXXX)
    # host COMMAND ARGS...: on this machine's sysfs, definitions in a scratch folder.
    host() { "$gv" host "$@" --local --config-root "$h"; }
    want=$(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader 2>/dev/null | head -1 |
        tr 'A-F' 'a-f')
    bdf=${want: -12}
    host list || true
    got=$(host list --json 2>"$h/err" | "$py" -c '
import json, sys
want = sys.argv[1]
for g in json.load(sys.stdin)["gpus"]:
    if g["pci"] == want:
        print(g["pci"], g["driver"], g["mode"], g["iommu_group"], g["model"])' "$bdf")
    echo "host list: $got (nvidia-smi: $want)"
    if [ -n "$got" ] && [ "$(cut -d' ' -f2 <<<"$got")" = nvidia ]; then
        note "PASS host list: the GPU at $bdf on nvidia, mode $(cut -d' ' -f3 <<<"$got"), IOMMU group $(cut -d' ' -f4 <<<"$got")"
    else
        note "FAIL host list does not show nvidia-smi's GPU ${want:-?} on nvidia: '${got}' $(head -c 300 "$h/err")"
        fails=$((fails + 1))
    fi
    host passthrough "$bdf" --dry-run >"$h/plan" 2>&1
    echo "host passthrough --dry-run (exit $?):"
    cat "$h/plan"
    if grep -q "^write .*driver_override vfio-pci" "$h/plan" || grep -qi "IOMMU\|has .* open\|vfio-pci is not loaded" "$h/plan"; then
        note "PASS host passthrough --dry-run: $(grep -c '^write ' "$h/plan") writes planned, or refused: $(grep -v '^write\|^#' "$h/plan" | head -1 | cut -c1-120)"
    else
        note "FAIL host passthrough --dry-run: neither a plan nor a reason: $(head -c 300 "$h/plan")"
        fails=$((fails + 1))
    fi
    host xml "$bdf" || true
    rm -rf "$h"
else
    note "SKIP gpuvisor host: not built here (jansson or libcurl missing: see $b.log)"
fi

# 8. Training loops under the compute policies. Each loop trains an MLP on random data for the
# same window of wall time (after a common start, once CUDA is up) and reports iterations per
# second; every iteration is the same work, so its rate against the unlimited loop's is its part
# of the GPU. Each policy's 30 and 60 run alone, then at once.
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
    note "SKIP training loops under the compute policies: no PyTorch ($py -c 'import torch' fails)"
elif ! nvidia-smi -L >/dev/null 2>&1 ||
    ! "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' >/dev/null 2>&1; then
    note "SKIP training loops under the compute policies: no GPU (nvidia-smi or torch.cuda fails)"
else
    train_py=$(mktemp /tmp/gpuvisor-train.XXXXXX.py)
    cat >"$train_py" <<'PYEOF'
import sys, time, torch
start, window = float(sys.argv[1]), float(sys.argv[2])
dev = "cuda" if torch.cuda.is_available() else "cpu"
width, depth, batch = (4096, 4, 2048) if dev == "cuda" else (256, 2, 64)
torch.manual_seed(0)
layers = []
for _ in range(depth):
    layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10)).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(batch, width, device=dev)
y = torch.randn(batch, 10, device=dev)
def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss
for _ in range(5):
    step()
if dev == "cuda":
    torch.cuda.synchronize()
while time.time() < start:
    time.sleep(0.001)
n, t0 = 0, time.time()
while time.time() < start + window:
    for _ in range(4):
        loss = step()
    loss.item()  # waits for the results, as a loop that logs its loss does
    n += 4
print("its=%.3f" % (n / (time.time() - t0)))
PYEOF
    window=15
    # The policy as an option once `gpuvisor run` has it, else in the interposer's variable.
    if "$gv" run --help 2>&1 | grep -q -- --compute-policy; then
        run_policy() { local p=$1; shift; "$gv" run --compute-policy "$p" "$@"; }
    else
        run_policy() { local p=$1; shift; GPUVISOR_COMPUTE_POLICY=$p "$gv" run "$@"; }
    fi
    # loops POLICY PCT...: one loop per PCT at once (POLICY none: no limit), from a common start;
    # prints each one's iterations per second, one a line (0 for a loop that failed).
    loops() {
        local policy=$1 t=$(( $(date +%s) + 15 )) outs=() pids=() pct o r
        shift
        for pct in "$@"; do
            o=$(mktemp)
            outs+=("$o")
            if [ "$policy" = none ]; then
                "$gv" run -- "$py" "$train_py" "$t" "$window" >"$o" 2>&1 &
            else
                run_policy "$policy" --compute "$pct" -- "$py" "$train_py" "$t" "$window" >"$o" 2>&1 &
            fi
            pids+=($!)
        done
        wait "${pids[@]}"
        for o in "${outs[@]}"; do
            r=$(sed -n 's/^its=//p' "$o" | tail -1)
            [ -n "$r" ] || tail -5 "$o" >&2
            echo "${r:-0}"
            rm -f "$o"
        done
    }
    pct_of() { awk -v r="$1" -v f="$2" 'BEGIN { if (f > 0) printf "%.2f", 100 * r / f; else print "0" }'; }
    # judge TEXT GOT WANT: within 5 points of WANT; WANT ">=N": at least N.
    judge() {
        local ok
        case $3 in
        '>='*) ok=$(awk -v g="$2" -v w="${3#>=}" 'BEGIN { print (g >= w) }') ;;
        *) ok=$(awk -v g="$2" -v w="$3" 'BEGIN { print (g >= w - 5 && g <= w + 5) }') ;;
        esac
        if [ "$ok" = 1 ]; then
            note "PASS $1: $2% of the unlimited rate (want $3)"
        else
            note "FAIL $1: $2% of the unlimited rate (want $3)"
            fails=$((fails + 1))
        fi
    }
    full=$(loops none 100)
    echo "training loop alone, no limit: $full it/s"
    for policy in guaranteed fixed; do
        a30=$(loops "$policy" 30)
        a60=$(loops "$policy" 60)
        both=$(loops "$policy" 30 60)
        b30=$(sed -n 1p <<<"$both")
        b60=$(sed -n 2p <<<"$both")
        echo "$policy: alone 30 $a30 it/s, 60 $a60 it/s; at once 30 $b30 it/s, 60 $b60 it/s; unlimited $full it/s"
        if [ "$policy" = guaranteed ]; then
            want30=33.3 want60=66.7 alone30='>=95' alone60='>=95'
        else
            want30=30 want60=60 alone30=30 alone60=60
        fi
        judge "training, $policy 30 beside $policy 60 ($b30 it/s)" "$(pct_of "$b30" "$full")" "$want30"
        judge "training, $policy 60 beside $policy 30 ($b60 it/s)" "$(pct_of "$b60" "$full")" "$want60"
        judge "training, $policy 30 alone ($a30 it/s)" "$(pct_of "$a30" "$full")" "$alone30"
        judge "training, $policy 60 alone ($a60 it/s)" "$(pct_of "$a60" "$full")" "$alone60"
    done
    rm -f "$train_py"
fi

# 9. Remoting on the real driver.
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
probe="$b/tests/remote_probe"
if [ ! -x "$b/bin/gpuvisor-remoted" ] || [ ! -x "$probe" ]; then
    note "remoting: skipped (not built)"
elif [ ! -x "$nvcc" ]; then
    note "remoting: skipped (no nvcc for the probe's kernel)"
else
    rt=$(mktemp -d /tmp/gpuvisor-remote.XXXXXX)
    cat >"$rt/fill.cu" <<'CUEOF'
extern "C" __global__ void fill_u32(unsigned *p, unsigned v, unsigned long long n)
{
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        p[i] = v;
}
CUEOF
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
    if ! "$nvcc" -cubin -arch="sm_${arch:-90}" -o "$rt/fill.cubin" "$rt/fill.cu" >"$rt/nvcc.log" 2>&1; then
        note "remoting: FAIL (nvcc: $(tail -1 "$rt/nvcc.log"))"
        fails=$((fails + 1))
    else
        head -c 24 /dev/urandom | base64 >"$rt/token"
        local_out=$("$probe" "$rt/fill.cubin" 2>&1)
        echo "$local_out" | sed 's/^/  local: /'
        "$b/bin/gpuvisor-remoted" --listen "unix:$rt/sock" --token-file "$rt/token" \
            --memory 4GiB 2>"$rt/server.log" &
        srv=$!
        for _ in $(seq 100); do grep -q "listening on" "$rt/server.log" && break; sleep 0.1; done
        remote_out=$(GPUVISOR_REMOTE="unix:$rt/sock" GPUVISOR_REMOTE_TOKEN_FILE="$rt/token" \
            PROBE_FILL_MIB=1 LD_LIBRARY_PATH="$b/lib/remote" "$probe" "$rt/fill.cubin" 2>&1)
        echo "$remote_out" | sed 's/^/  remote: /'
        kill "$srv" 2>/dev/null
        wait "$srv" 2>/dev/null
        val() { sed -n "s/^$1=//p" <<<"$2" | head -1; }
        total=$(val memory_total "$remote_out")
        got=$(val allocated_mib "$remote_out")
        if [ "$(val probe "$local_out")" != ok ]; then
            note "remoting: FAIL (the probe fails on the local driver too)"
            fails=$((fails + 1))
        elif [ "$(val probe "$remote_out")" = ok ] && [ "$total" = 4294967296 ] &&
            [ -n "$got" ] && [ "$got" -le 4096 ]; then
            note "remoting: ok (a 4 GiB slice; $got MiB allocated before the refusal; HtoD $(val htod_gbps "$remote_out") GB/s remote vs $(val htod_gbps "$local_out") local; DtoH $(val dtoh_gbps "$remote_out") vs $(val dtoh_gbps "$local_out"); launches $(val launches_pipelined_per_s "$remote_out")/s pipelined, $(val launches_synced_per_s "$remote_out")/s each synchronized)"
        else
            note "remoting: FAIL (total $total, allocated ${got:-?} MiB; server log: $(tail -2 "$rt/server.log" | tr '\n' ' '))"
            fails=$((fails + 1))
        fi
    fi
    rm -rf "$rt"
fi

echo
echo "== gpu-check summary"
printf '  %s\n' "${summary[@]}"
exit $((fails > 0))
