#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# contrib/'s Grafana dashboard and Prometheus files against the daemon they watch. The files must
# parse, and every metric and label they name must be one a real gpuvisord exports: the test starts
# one on the simulator (a T4), makes a tenant with quotas and an instance so that every family has
# series, reads /metrics with the admin token and looks each name up. A renamed metric in
# daemon/metrics.c then fails here instead of leaving an empty panel or an alert that never fires.
# usage: check_contrib.sh SOURCE_DIR BUILD_DIR
# Exits 77 (skipped) without a JSON parser (python3 or jq) or curl.
set -eu
src=$1
b=$2
dash="$src/contrib/grafana/gpuvisor.json"
scrape="$src/contrib/prometheus/prometheus.yml"
rules="$src/contrib/prometheus/gpuvisor.rules.yml"
gvd="$b/bin/gpuvisord"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# ---------------------------------------------------------------- the files parse

have_yaml=0
if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
    have_yaml=1
fi
if command -v python3 >/dev/null; then
    python3 -m json.tool "$dash" >/dev/null || bad "$dash is not valid JSON"
elif command -v jq >/dev/null; then
    jq . "$dash" >/dev/null || bad "$dash is not valid JSON"
else
    echo "SKIP: neither python3 nor jq to parse JSON"
    exit 77
fi
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

if [ $have_yaml = 1 ]; then
    # Parsed, and shaped as Prometheus reads them: a scrape job with a token file, rule groups
    # whose every rule has an alert name, an expression and a summary.
    python3 - "$scrape" "$rules" <<'PY' || bad "the YAML files are not what Prometheus reads"
import sys, yaml
scrape = yaml.safe_load(open(sys.argv[1]))
jobs = [j for j in scrape["scrape_configs"] if j["job_name"] == "gpuvisor"]
assert jobs, "no gpuvisor job"
assert jobs[0]["authorization"]["credentials_file"], "no token file"
assert jobs[0].get("honor_labels") is True, "honor_labels is needed for the instance label"
rules = yaml.safe_load(open(sys.argv[2]))
n = 0
for g in rules["groups"]:
    for r in g["rules"]:
        assert r["alert"] and r["expr"] and r["annotations"]["summary"], r
        n += 1
assert n >= 4, "fewer alerts than expected"
print("YAML: %d alert rules" % n)
PY
else
    # No YAML parser: at least no tabs (YAML forbids them for indenting) and the top-level keys.
    for f in "$scrape" "$rules"; do
        if grep -q "$(printf '\t')" "$f"; then bad "$f has tabs"; fi
    done
    grep -q '^scrape_configs:' "$scrape" || bad "$scrape has no scrape_configs"
    grep -q '^groups:' "$rules" || bad "$rules has no groups"
    echo "YAML: no python3-yaml; checked tabs and top-level keys only"
fi
if command -v promtool >/dev/null; then
    promtool check rules "$rules" || bad "promtool check rules $rules"
fi

# ---------------------------------------------------------------- a real gpuvisord's /metrics

T=$(mktemp -d /tmp/gv-contrib.XXXXXX)
DPID=""
machine="ctest-contrib-$$"
cleanup() {
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    rm -rf "$T"
    rm -f "/dev/shm/gvsim.$machine"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/state" "$T/run"
LD_LIBRARY_PATH="$b/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" GPUVISOR_SIM_MACHINE="$machine" \
    GPUVISOR_SYSFS_ROOT="$T" GPUVISOR_CONFIG_ROOT="$T" GPUVISOR_REGION_DIR="$T/regions" \
    "$gvd" --sim T4 --listen 127.0.0.1:0 --state "$T/state" --socket "$T/run/gpuvisord.sock" \
    --threads 2 2>"$T/log" &
DPID=$!
# It writes its port once it listens; wait for that, up to 30 s.
end=$(($(date +%s) + 30))
while ! [ -s "$T/state/port" ]; do
    if ! kill -0 "$DPID" 2>/dev/null; then
        echo "FAIL: gpuvisord exited:"; cat "$T/log"; exit 1
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
        echo "FAIL: gpuvisord did not start within 30 s:"; cat "$T/log"; exit 1
    fi
    sleep 0.05
done
url="http://127.0.0.1:$(cat "$T/state/port")"
token=$(cat "$T/state/admin.token")
api() { # METHOD PATH [JSON]: the body on stdout; fails on a status other than 2xx
    curl -sS -f -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$url$2"
}
# A tenant with every quota and an instance with a compute share: each series family has samples.
api POST /v1/tenants \
    '{"name": "lab-a", "quota": {"memory": "8GiB", "compute": 100, "instances": 4}}' >/dev/null ||
    { echo "FAIL: cannot create a tenant:"; cat "$T/log"; exit 1; }
api POST /v1/instances '{"memory": "1GiB", "compute": 25, "tenant": "lab-a", "name": "train"}' \
    >/dev/null || { echo "FAIL: cannot create an instance:"; cat "$T/log"; exit 1; }
api GET /metrics >"$T/metrics" || { echo "FAIL: GET /metrics"; exit 1; }

# What it exports: the families (TYPE lines and sample names) and the label names of samples.
{
    sed -n 's/^# TYPE \([a-zA-Z_:][a-zA-Z0-9_:]*\) .*/\1/p' "$T/metrics"
    grep -v '^#' "$T/metrics" | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\)[{ ].*/\1/p'
} | sort -u >"$T/exported"
grep -v '^#' "$T/metrics" | grep -o '[{,][a-zA-Z_][a-zA-Z0-9_]*="' | tr -d '{,="' |
    sort -u >"$T/labels"
# Labels Prometheus adds at the scrape (prometheus.yml: job, and host from the target's address).
printf '%s\n' job host __name__ >>"$T/labels"
echo "gpuvisord exports $(wc -l <"$T/exported") metric names, labels: $(sort -u "$T/labels" | tr '\n' ' ')"

# ---------------------------------------------------------------- every name referenced exists

files="$dash $scrape $rules"
# shellcheck disable=SC2086
grep -oh 'gpuvisor_[a-z_]*' $files | sort -u >"$T/names"
[ -s "$T/names" ] || bad "no gpuvisor metric named in $files"
while read -r name; do
    if grep -qx "$name" "$T/exported"; then
        continue
    fi
    # A histogram's or summary's parts are named after their family.
    base=$(printf '%s\n' "$name" | sed 's/_\(bucket\|sum\|count\)$//')
    if [ "$base" != "$name" ] && grep -q "^# TYPE $base \(histogram\|summary\)$" "$T/metrics"; then
        continue
    fi
    bad "$name is referenced but gpuvisord does not export it"
done <"$T/names"
echo "referenced: $(wc -l <"$T/names") metric names"

# Label names in the queries and annotations: grouping clauses, selectors, legends ({{name}}),
# alert templates ({{ $labels.name }}) and label_values(metric, name).
# shellcheck disable=SC2086
{
    grep -oh '\(by\|without\|on\|ignoring\|group_left\|group_right\) *([a-zA-Z0-9_, ]*)' $files |
        sed 's/^[a-z_]* *(//; s/)$//' | tr ',' '\n'
    grep -oh '[{,] *[a-zA-Z_][a-zA-Z0-9_]* *\(=~\|!~\|!=\|=\) *\\\?"' $files |
        sed 's/^[{,] *//; s/ *[=!~].*//'
    grep -oh '{{ *[a-zA-Z_][a-zA-Z0-9_]* *}}' $files | tr -d '{} '
    grep -oh '\$labels\.[a-zA-Z_][a-zA-Z0-9_]*' $files | sed 's/^\$labels\.//'
    grep -oh 'label_values([^)]*)' $files | sed 's/.*, *//; s/)$//'
} | tr -d ' ' | grep -v '^$' | sort -u >"$T/used_labels"
while read -r l; do
    grep -qx "$l" "$T/labels" || bad "label $l is referenced but no gpuvisord series has it"
done <"$T/used_labels"
echo "referenced: $(wc -l <"$T/used_labels") label names: $(tr '\n' ' ' <"$T/used_labels")"

[ $fail = 0 ] && echo "contrib: dashboard and rules match gpuvisord's metrics"
exit $fail
