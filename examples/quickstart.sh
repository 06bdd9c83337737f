#!/bin/bash
# The vnet quickstart on the local default setup: start vnetd (unless one is already
# running on the default socket), register the example chain, show it, and stop what
# it started.  Usage: examples/quickstart.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: quickstart.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
vnetd=$build/vnetd/vnetd
vnetctl=$build/vnetd/vnetctl
socket=${VNET_SOCKET:-/run/vnet/vnetd.sock}
export VNET_SOCKET=$socket
started=""

step() { printf '\n==> %s\n' "$*"; }
cleanup() {
    if [ -n "$started" ]; then
        step "stopping the vnetd this quickstart started (pid $started)"
        kill -TERM "$started" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$started" 2>/dev/null || break; sleep 0.1; done
    fi
}
trap cleanup EXIT

step "starting vnetd"
if "$vnetctl" status >/dev/null 2>&1; then
    echo "a vnetd already answers on $socket; using it"
else
    mkdir -p /var/log/vnet
    "$vnetd" --detach --socket "$socket" --log-file /var/log/vnet/vnetd.log \
        --pidfile /run/vnet/vnetd.pid
    started=$(cat /run/vnet/vnetd.pid)
    echo "vnetd running (pid $started), log in /var/log/vnet/vnetd.log"
fi
"$vnetctl" status

step "registering the example chain"
"$vnetctl" chain load --replace "$top/templates/chains/fw-nat-vpn.json"
"$vnetctl" chain list

step "showing it"
"$vnetctl" chain show fw-nat-vpn

step "done"
