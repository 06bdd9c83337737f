#!/bin/bash
# The vnet quickstart on the local default setup (the host's Open vSwitch and
# libvirtd, vnetd on /run/vnet/vnetd.sock).  It starts what is missing and tells the
# story of a misbehaving NF chain, with faults it injects itself:
#   1. the example chain fw -> nat -> vpn as real LXC VNodes on OVS, carrying a VoIP
#      call and bursty background traffic; its VPN gateway (5 kpps) queues the
#      bursts, and the call suffers;
#   2. a Monitoring VNet beside it: live per-NF figures;
#   3. a 100 ms stall injected into the NAT: 'vnetctl diagnose' names the culprit;
#   4. a Shadow VNet fed the same traffic, fixed (strict priority for RTP at its
#      VPN), compared with production packet by packet: the verdict;
#   5. swap: the call sounds better; rollback: it does not; then everything goes.
# Usage: examples/quickstart.sh BUILD_DIR
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
nf=$build/examples/vnet-nf
gw=02:76:6e:00:00:01
work=$(mktemp -d /tmp/vnet-quickstart.XXXXXX)
started=""
created=""
metrics_port=${VNET_METRICS_PORT:-$((20000 + RANDOM % 20000))}

n=0
step() { n=$((n + 1)); printf '\n[%d] %s\n' "$n" "$*"; }
cleanup() {
    local rc=$?
    set +e
    if [ -n "$created" ]; then
        step "deleting the chain, its Monitoring VNet and its shadow (everything vnet made goes)"
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
        --pidfile /run/vnet/vnetd.pid --metrics "127.0.0.1:$metrics_port"
    started=$(cat /run/vnet/vnetd.pid)
    echo "vnetd running (pid $started), log in /var/log/vnet/vnetd.log"
fi
"$vnetctl" status

# sink FILE SECONDS: the sink VNode records what arrives (background).
start_sink() {
    "$vnetctl" chain exec "$chain" sink -- "$sink" --dev eth0 --duration "$2" \
        --out "$1" >/dev/null 2>"$work/sink.err" &
    sink_job=$!
    for _ in $(seq 50); do grep -q ready "$work/sink.err" 2>/dev/null && return; sleep 0.1; done
    echo "vnet-sink did not start: $(cat "$work/sink.err")" >&2
    return 1
}
# traffic SECONDS: a G.711 call (RTP, port 5004) and 3 kpps of background UDP with
# a 150 ms burst at 15 kpps every 2 s, from the source VNode.
traffic() {
    local bursts=() at
    for ((at = 1000; at < $1 * 1000; at += 2000)); do
        bursts+=(--burst "flow=0,rate=15000,duration=150000,at=$at")
    done
    "$vnetctl" chain exec "$chain" source -- "$gen" --dev eth0 --dst-mac "$gw" \
        --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --seq --rate 3000 --poisson \
        --rtp --rtp-port 5004 "${bursts[@]}" --duration "$1" >"$work/gen.json"
}
# call FILE LABEL: what the receiver heard.
call() {
    python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rtp = [f for f in s["flows"] if f["dport"] == 5004][0]
bg = [f for f in s["flows"] if f["dport"] == 5000][0]
e = rtp["emodel"]
print(f"  {sys.argv[2]}: the call's MOS {e['mos']:.2f} (R {e['r']:.0f}; {100 * e['effective_loss']:.1f}% "
      f"lost or too late for the 40 ms playout buffer, latency p99 "
      f"{rtp['latency_us']['p99'] / 1000:.0f} ms); background latency p99 "
      f"{bg['latency_us']['p99'] / 1000:.0f} ms, lost {bg['seq']['lost']}")
open(sys.argv[1] + ".mos", "w").write(str(e["mos"]))
PY
}

step "registering the example chain (its VPN gateway shapes to 5 kpps with a 4096-packet queue)"
"$vnetctl" chain delete "$chain" >/dev/null 2>&1 || true
python3 - "$top/templates/chains/$chain.json" "$work/$chain.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
for n in t["nodes"]:
    if n["name"] == "vpn":
        n["nf"]["peak_pps"], n["nf"]["queue"] = 5000, 4096
json.dump(t, open(sys.argv[2], "w"), indent=2)
PY
"$vnetctl" chain load "$work/$chain.json"
"$vnetctl" chain show "$chain"

step "creating it: LXC VNodes on an OVS bridge, steered by OpenFlow rules"
"$vnetctl" chain create "$chain"
created=1
"$vnetctl" chain show "$chain"

step "a VoIP call and bursty background traffic through fw -> nat -> vpn for 8 s"
start_sink "$work/before.json" 11
traffic 8
wait "$sink_job"
call "$work/before.json" "production"

step "mirroring the chain into a Monitoring VNet (production runs no extra code)"
"$vnetctl" mirror "$chain"
start_sink "$work/mon.json" 10
"$vnetctl" chain exec "$chain" source -- "$gen" --dev eth0 --dst-mac "$gw" \
    --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --seq --rate 2000 --duration 7 \
    >"$work/gen.json" &
gen_job=$!
sleep 3
"$vnetctl" monitor show "$chain"

if [ -n "$started" ]; then
    echo "  vnetd's Prometheus metrics (http://127.0.0.1:$metrics_port/metrics), the NAT's lines:"
    python3 - "http://127.0.0.1:$metrics_port/metrics" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
for line in text.splitlines():     # every sample must parse as exposition text
    if line and not line.startswith("#"):
        assert re.fullmatch(r'[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-0-9.e+]+', line), line
        if 'nf="nat"' in line and ("queue" in line or "latency" in line):
            print("    " + line)
PY
fi

step "injecting a fault under steady 2 kpps: the NAT stalls for 100 ms; then 'vnetctl diagnose'"
nat_ctl=$("$vnetctl" --json chain show "$chain" | python3 -c '
import json, sys
print([v["control"] for v in json.load(sys.stdin)["instance"]["vnodes"]
       if v.get("node") == "nat" and v["role"] == "nf"][0])')
"$nf" --control "$nat_ctl" --command "pause 100000"
wait "$gen_job"
wait "$sink_job"
sleep 1
"$vnetctl" --json diagnose "$chain" --window 12s --report "$work/diagnosis.html" \
    >"$work/diagnosis.json"
python3 - "$work/diagnosis.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["culprits"][:3]:
    print(f"  {c['culprit']:<14} {100 * c['share']:5.1f}% of the blame")
for name, nf in d["nfs"].items():
    print(f"  at {name:<5} {nf['victims']:>6} victims, latency p99 {nf['latency_p99_us'] / 1000:.1f} ms, "
          f"blamed: {', '.join(x['culprit'] for x in nf['culprits'][:2])}")
c = d["culprits"][0]
print(f"  => top culprit: {c['culprit']} ({100 * c['share']:.0f}% of the blame for "
      f"{d['victims']} delayed packets)")
PY

step "creating a Shadow VNet: a clone of the chain fed a duplicate of the real traffic"
"$vnetctl" shadow create "$chain"
"$vnetctl" shadow show "$chain" | head -12

step "fixing the shadow only: strict priority for the call's RTP at its VPN gateway"
"$vnetctl" shadow set "$chain" vpn "args=--priority udp,*,*,*,5004"

step "comparing production and shadow on the same packets for 35 s"
start_sink "$work/cmp.json" 42
traffic 39 &
gen_job=$!
sleep 1
"$vnetctl" shadow compare "$chain" --duration 35s --min-duration 30s \
    --report "$work/compare.html"
wait "$gen_job"
wait "$sink_job"

step "swapping: the shadow serves production, in one atomic OpenFlow bundle"
"$vnetctl" swap "$chain"
start_sink "$work/after.json" 11
traffic 8
wait "$sink_job"
call "$work/before.json" "before the swap"
call "$work/after.json" "after the swap "

step "rolling back (and retiring the shadow)"
"$vnetctl" rollback "$chain"
"$vnetctl" shadow retire "$chain"
"$vnetctl" unmirror "$chain"

mkdir -p /var/lib/vnet/quickstart
cp "$work/diagnosis.html" "$work/diagnosis.json" "$work/compare.html" /var/lib/vnet/quickstart/
echo
echo "reports (self-contained HTML, open in any browser):"
echo "  /var/lib/vnet/quickstart/diagnosis.html   the NAT stall: culprits, queues, patterns"
echo "  /var/lib/vnet/quickstart/compare.html     production vs shadow: verdict, latency CDFs, MOS"
python3 - "$work/before.json.mos" "$work/after.json.mos" <<'PY'
import sys
b, a = (float(open(p).read()) for p in sys.argv[1:3])
print(f"the call: MOS {b:.2f} before the fix, {a:.2f} after the swap")
PY
