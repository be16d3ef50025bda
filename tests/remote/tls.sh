#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Remoting over TLS, end to end: a gpuvisor-remoted on tls:127.0.0.1 with a certificate made here,
# and remote_probe through it. The server's certificate is verified by default: a client that
# trusts its CA gets through (by name and by address), a client that trusts another CA, or dials
# an address the certificate does not hold, is refused before any call, with a message that says
# why; so is a client speaking plain TCP to the TLS port.
# usage: tls.sh BUILD_DIR PROBE. Exit 77 (skipped) where the build has no TLS or openssl is missing.
set -u
build=$1
probe=$2
if ! command -v openssl >/dev/null; then
    echo "skip: no openssl command to make a certificate (scripts/deps.sh installs it)"
    exit 77
fi
dir=$(mktemp -d /tmp/gvrt-tls.XXXXXX) || exit 1
server=
cleanup() {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null
        wait "$server" 2>/dev/null
    fi
    rm -f "/dev/shm/gvsim.$machine"
    rm -rf "$dir"
}
machine="${GPUVISOR_SIM_MACHINE:-remote-tls}-$$"
trap cleanup EXIT

cert() { # NAME SAN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj "/CN=$1" -addext "subjectAltName=$2" -keyout "$dir/$1.key" -out "$dir/$1.pem" \
        >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log"; exit 1; }
}
cert localhost "DNS:localhost"
cert other "DNS:localhost,IP:127.0.0.1"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
mkdir "$dir/region"

GPUVISOR_SIM_MACHINE="$machine" GPUVISOR_SIM_GPUS=T4 GPUVISOR_REGION_DIR="$dir/region" \
    LD_LIBRARY_PATH="$build/lib/sim" "$build/bin/gpuvisor-remoted" --listen tls:127.0.0.1:0 \
    --cert "$dir/localhost.pem" --key "$dir/localhost.key" --token-file "$dir/token" \
    2>"$dir/server.log" &
server=$!
port=
for _ in $(seq 400); do
    port=$(sed -n 's/.*listening on tls:127.0.0.1:\([0-9]*\)$/\1/p' "$dir/server.log")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$port" ]; then
    if grep -q "no TLS" "$dir/server.log"; then
        echo "skip: this build has no TLS: $(cat "$dir/server.log")"
        exit 77
    fi
    echo "FAIL: gpuvisor-remoted did not start: $(cat "$dir/server.log")"
    exit 1
fi

fails=0
# run WHAT ADDRESS CA -> the probe's output and status in $out, $rc
run() {
    out=$(GPUVISOR_REMOTE="tls:$2:$port" GPUVISOR_REMOTE_TOKEN_FILE="$dir/token" \
        GPUVISOR_REMOTE_CA="$3" LD_LIBRARY_PATH="$build/lib/remote" "$probe" 2>&1)
    rc=$?
}
expect_ok() {
    run "$@"
    if [ $rc -eq 0 ] && grep -q "^probe=ok" <<<"$out"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: status $rc: $out"
        fails=$((fails + 1))
    fi
}
expect_refused() { # WHAT ADDRESS CA NEEDLE
    run "$1" "$2" "$3"
    if [ $rc -ne 0 ] && grep -q "$4" <<<"$out" && ! grep -q "^probe=" <<<"$out"; then
        echo "ok: $1: $(grep -m1 "gpuvisor remote" <<<"$out")"
    else
        echo "FAIL: $1: status $rc, want a refusal saying '$4': $out"
        fails=$((fails + 1))
    fi
}

expect_ok "the server's CA, by name" localhost "$dir/localhost.pem"
expect_refused "another CA" localhost "$dir/other.pem" "certificate"
expect_refused "an address the certificate does not name" 127.0.0.1 "$dir/localhost.pem" \
    "certificate"
# Plain TCP against the TLS port: the TLS handshake fails on the server, and the client is told.
out=$(GPUVISOR_REMOTE="tcp:127.0.0.1:$port" GPUVISOR_REMOTE_TOKEN_FILE="$dir/token" \
    LD_LIBRARY_PATH="$build/lib/remote" "$probe" 2>&1)
if [ $? -ne 0 ] && grep -q "gpuvisor remote" <<<"$out"; then
    echo "ok: plain TCP on the TLS port is refused: $(grep -m1 "gpuvisor remote" <<<"$out")"
else
    echo "FAIL: plain TCP on the TLS port: $out"
    fails=$((fails + 1))
fi
if ! kill -0 "$server" 2>/dev/null; then
    echo "FAIL: the server died: $(cat "$dir/server.log")"
    fails=$((fails + 1))
fi
[ $fails -eq 0 ] || { echo "---- server log"; cat "$dir/server.log"; }
exit $((fails > 0))
