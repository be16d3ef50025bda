# SPDX-License-Identifier: Apache-2.0
# lib.sh: what the command-line test scripts share, sourced by each after it has made its directory
# $T. A check that fails says why on stderr and sets FAILED; the script exits with it at the end.
FAILED=0

fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

# expect RC SUBSTRING CMD...: run CMD, check its exit status and that SUBSTRING is in its stderr
# or stdout; an empty SUBSTRING checks the status only. Both outputs stay in $T/out and $T/err.
expect() {
    want=$1 text=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" != "$want" ]; then
        fail "$* -> exit $rc, want $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
    elif [ -n "$text" ] && ! grep -qF -- "$text" "$T/err" "$T/out"; then
        fail "$* -> no \"$text\" in: $(cat "$T/err" "$T/out")"
    fi
}

check_eq() { # what got want
    [ "$2" = "$3" ] || fail "$1: got \"$2\", want \"$3\""
}
