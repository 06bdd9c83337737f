# lib.sh -- shared helpers for the integration tests (sourced, bash).
#
# Every test works in its own temporary directory ($T) and registers cleanup
# actions with on_exit; they run in reverse order when the test ends, pass or fail.
# Processes are only ever stopped by the PIDs the test itself started.

set -euo pipefail
: "${VNET_BUILD:?set by ctest}"
: "${VNET_SOURCE:?set by ctest}"
VNETD=$VNET_BUILD/vnetd/vnetd
VNETCTL=$VNET_BUILD/vnetd/vnetctl

T=$(mktemp -d /tmp/vnet-it.XXXXXX)
_cleanups=()
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
    local rc=$?
    set +e
    for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}"; done
    if [ $rc -ne 0 ] && [ -n "${KEEP_ON_FAILURE:-}" ]; then
        echo "test failed; kept $T"
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap _run_cleanups EXIT

pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }
skip() { echo "skip - $*"; exit 77; }

# expect_rc RC CMD... : runs CMD, fails unless it exits with RC; output in $OUT/$ERR.
expect_rc() {
    local want=$1; shift
    set +e
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    set -e
    OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stdout: $OUT; stderr: $ERR"
}

# stop_pid PID : TERM, then KILL after 5 s; only for PIDs this test started.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# start_vnetd [ARGS...] : starts vnetd on $T/vnetd.sock with state in $T/state;
# sets VNETD_PID.
start_vnetd() {
    export VNET_SOCKET=$T/vnetd.sock
    "$VNETD" --socket "$VNET_SOCKET" --state-dir "$T/state" --log-file "$T/vnetd.log" \
        --pidfile "$T/vnetd.pid" --detach "$@"
    VNETD_PID=$(cat "$T/vnetd.pid")
    on_exit "stop_pid $VNETD_PID"
}

# start_substrate : an isolated OVS + libvirtd for this test (own netns, own
# rundirs); sets SUB and SUBSTRATE_OPTS (vnetd options reaching it).
start_substrate() {
    [ "$(id -u)" = 0 ] || skip "needs root for OVS, libvirtd and network namespaces"
    SUB=$T/substrate
    on_exit "$VNET_SOURCE/scripts/vnet-host.sh down --isolated $SUB"
    "$VNET_SOURCE/scripts/vnet-host.sh" up --isolated "$SUB" 2>"$T/substrate.log" \
        || { cat "$T/substrate.log"; fail "isolated substrate did not start"; }
    read -r -a SUBSTRATE_OPTS <<<"$("$VNET_SOURCE/scripts/vnet-host.sh" env --isolated "$SUB")"
    SUB_NETNS=$(cat "$SUB/netns")
    LIBVIRT_URI="lxc:///system?socket=$SUB/libvirt/sock/libvirt-sock"
    export OVS_RUNDIR=$SUB/ovs
}

# vsctl ARGS... / ofctl ARGS... : the test's own OVS instance.
vsctl() { ovs-vsctl --db="unix:$SUB/ovs/db.sock" --timeout=10 "$@"; }
ofctl() { ovs-ofctl -O OpenFlow15 "$@"; }
virsh_t() { virsh -q -c "$LIBVIRT_URI" "$@"; }

# json_get FILE PYEXPR : evaluates a Python expression over the JSON in FILE ('j').
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# start_vnetd_restartable [ARGS...] : vnetd on the test's substrate for a Python
# driver (substrate.py) that restarts it: VNETD_ARGS holds its options, and the
# cleanup stops whichever vnetd runs at the end.
start_vnetd_restartable() {
    mkdir -p "$T/nf"
    VNETD_ARGS=(--socket "$T/vnetd.sock" --state-dir "$T/state" --log-file "$T/vnetd.log"
                --pidfile "$T/vnetd.pid" "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf" "$@")
    export VNET_SOCKET=$T/vnetd.sock
    "$VNETD" "${VNETD_ARGS[@]}" --detach
    on_exit 'stop_pid "$(cat "$T/vnetd.pid")"'
}

# run_driver SCRIPT.py : runs a Python driver of tests/integration with the
# environment substrate.py reads.
run_driver() {
    VNETD=$VNETD VNETCTL=$VNETCTL LIBVIRT_URI=$LIBVIRT_URI T=$T SUB=$SUB \
    OVSDB=$SUB/ovs/db.sock SUB_NETNS=$SUB_NETNS VNET_GEN=$VNET_BUILD/examples/vnet-gen \
    VNET_SINK=$VNET_BUILD/examples/vnet-sink VNET_SOURCE=$VNET_SOURCE \
    VNETD_ARGS=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
                 "${VNETD_ARGS[@]}") \
        python3 "$VNET_SOURCE/tests/integration/$1"
}
