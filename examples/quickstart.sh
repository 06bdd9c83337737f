#!/bin/bash
# The vnet quickstart on the local default setup (the host's Open vSwitch and
# libvirtd, vnetd on /run/vnet/vnetd.sock).  It starts what is missing, creates the
# example chain as real LXC VNodes on OVS, sends traffic from its source VNode to its
# sink VNode through the firewall, the NAT and the VPN gateway, and removes
# everything it made.  Usage: examples/quickstart.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: quickstart.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
vnetd=$build/vnetd/vnetd
vnetctl=$build/vnetd/vnetctl
gen=$build/examples/vnet-gen
sink=$build/examples/vnet-sink
socket=${VNET_SOCKET:-/run/vnet/vnetd.sock}
export VNET_SOCKET=$socket
chain=fw-nat-vpn
work=$(mktemp -d /tmp/vnet-quickstart.XXXXXX)
started=""
created=""

n=0
step() { n=$((n + 1)); printf '\n[%d] %s\n' "$n" "$*"; }
cleanup() {
    local rc=$?
    set +e
    if [ -n "$created" ]; then
        step "deleting the chain (everything it made goes)"
        "$vnetctl" chain delete "$chain"
    fi
    if [ -n "$started" ]; then
        step "stopping the vnetd this quickstart started (pid $started)"
        kill -TERM "$started" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$started" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
    [ $rc = 0 ] && printf '\nquickstart finished\n' || printf '\nquickstart FAILED (%d)\n' $rc
    exit $rc
}
trap cleanup EXIT

step "bringing up Open vSwitch and libvirtd if they are not running"
"$top/scripts/vnet-host.sh" up

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
"$vnetctl" chain delete "$chain" >/dev/null 2>&1 || true
"$vnetctl" chain load "$top/templates/chains/$chain.json"
"$vnetctl" chain show "$chain"

step "creating it: LXC VNodes on an OVS bridge, steered by OpenFlow rules"
"$vnetctl" chain create "$chain"
created=1

step "sending 2 s of numbered UDP (2000 pps) from the source VNode to the sink VNode"
"$vnetctl" chain exec "$chain" sink -- "$sink" --dev eth0 --duration 4 \
    --out "$work/sink.json" >/dev/null 2>&1 &
sink_job=$!
sleep 1
"$vnetctl" chain exec "$chain" source -- "$gen" --dev eth0 --dst-mac 02:76:6e:00:00:01 \
    --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --rate 2000 --seq --duration 2 \
    >"$work/gen.json"
wait "$sink_job"
python3 - "$work/gen.json" "$work/sink.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
f = [f for f in sink["flows"] if f["dport"] == 5000][0]
print(f"  sent {gen['sent']} packets from 10.70.0.10; the sink received "
      f"{f['seq']['received']} from {f['src']} (the NAT's address), "
      f"lost {f['seq']['lost']}, latency p50 {f['latency_us']['p50']:.0f} us "
      f"p99 {f['latency_us']['p99']:.0f} us")
print("  sink summary: " + json.dumps(f))
PY

step "the chain's VNodes, ports and counters"
"$vnetctl" chain show "$chain"
