#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages that gpuvisor's build and tests need, if any is missing.
# Idempotent: prints nothing and changes nothing when everything is present.
set -eu

# Besides the build: the tests and scripts run wrk and curl (the REST benchmark and checks),
# python3 (tests/cli: the stand-in gpuvisord and reading JSON; any python3 on PATH will do),
# useradd and userdel (passwd) and setpriv (util-linux) to act as other Unix users,
# virt-xml-validate and virsh (libvirt-clients) to check the libvirt XML of `gpuvisor host xml`,
# and openssl (the command) to make the self-signed certificates of the remoting TLS tests;
# the rest they call (sh, grep, sed, awk, mktemp, stat...) is in every Debian system.
PKGS="build-essential cmake pkg-config libcmocka-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev openssl wrk curl python3 passwd util-linux libvirt-clients"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=sudo
        else
            echo "gpuvisor: missing Debian packages:$missing" >&2
            echo "gpuvisor: install them as root: apt-get install$missing" >&2
            exit 1
        fi
    else
        SUDO=
    fi
    echo "gpuvisor: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The CUDA toolkit is not a Debian package here: its headers live in /usr/local/cuda or $CUDA_HOME.
cuda=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$cuda/include/cuda.h" ] && ! command -v nvcc >/dev/null 2>&1; then
    echo "gpuvisor: CUDA toolkit headers not found in $cuda/include (set CUDA_HOME to the toolkit)" >&2
    exit 1
fi
exit 0
