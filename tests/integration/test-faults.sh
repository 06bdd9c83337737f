#!/bin/bash
# ctest: timeout=900 labels=substrate;faults
# Substrate faults (issue 7) while fw-nat-vpn is mirrored and shadowed with traffic:
# ovsdb-server, ovs-vswitchd and libvirtd restarted, the monitoring VNode and a
# shadow VNode killed.  vnetd reports the degraded VNet in 'status' within 1 s,
# restores what it owns, never restarts a production VNode; the production stream
# loses nothing except while ovs-vswitchd itself is down.  The driver is faults.py.
source "$(dirname "$0")/lib.sh"
start_substrate
mkdir -p "$T/nf"
VNETD_ARGS=(--socket "$T/vnetd.sock" --state-dir "$T/state" --log-file "$T/vnetd.log"
            --pidfile "$T/vnetd.pid" "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf")
export VNET_SOCKET=$T/vnetd.sock
"$VNETD" "${VNETD_ARGS[@]}" --detach
on_exit 'stop_pid "$(cat "$T/vnetd.pid")"'

expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
expect_rc 0 "$VNETCTL" chain create fw-nat-vpn
expect_rc 0 "$VNETCTL" mirror fw-nat-vpn
expect_rc 0 "$VNETCTL" shadow create fw-nat-vpn

VNETD=$VNETD VNETCTL=$VNETCTL LIBVIRT_URI=$LIBVIRT_URI T=$T SUB=$SUB \
OVSDB=$SUB/ovs/db.sock SUB_NETNS=$SUB_NETNS VNET_GEN=$VNET_BUILD/examples/vnet-gen \
VNET_SINK=$VNET_BUILD/examples/vnet-sink \
VNETD_ARGS=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${VNETD_ARGS[@]}") \
    python3 "$VNET_SOURCE/tests/integration/faults.py" \
    || fail "substrate faults (vnetd log: $T/vnetd.log)"
expect_rc 0 "$VNETCTL" status
pass "vnetd still serves after the faults"
