#!/bin/bash
# ctest: timeout=900 labels=substrate;faults
# Substrate faults (issue 7) while fw-nat-vpn is mirrored and shadowed with traffic:
# ovsdb-server, ovs-vswitchd and libvirtd restarted, the monitoring VNode and a
# shadow VNode killed.  vnetd reports the degraded VNet in 'status' within 1 s,
# restores what it owns, never restarts a production VNode; the production stream
# loses nothing except while ovs-vswitchd itself is down.  The driver is faults.py.
source "$(dirname "$0")/lib.sh"
start_substrate
start_vnetd_restartable

expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
expect_rc 0 "$VNETCTL" chain create fw-nat-vpn
expect_rc 0 "$VNETCTL" mirror fw-nat-vpn
expect_rc 0 "$VNETCTL" shadow create fw-nat-vpn

run_driver faults.py \
    || fail "substrate faults (vnetd log: $T/vnetd.log)"
expect_rc 0 "$VNETCTL" status
pass "vnetd still serves after the faults"
