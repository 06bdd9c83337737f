#!/bin/bash
# bench-chain.sh -- the 3-NF chain on the real substrate: create/delete time and
# forwarding rate, each as a ratio against a baseline measured in the same run.
#
# Usage: tests/bench/bench-chain.sh BUILD_DIR        (root; an isolated OVS + libvirtd)
#
#  create/delete: 'vnetctl chain create' / 'chain delete --keep-template' of
#     fw-nat-vpn (5 VNodes, 8 ports, 20 rules), REPS times, against the same libvirt
#     and OVS work done by hand in one virsh and one ovs-vsctl call each (define +
#     start the same 5 domains, add the 8 ports; destroy + undefine, del-port).
#  forwarding: vnet-gen for 2 s from the source VNode at 10k, 25k, 50k and 100k pps
#     and at its maximum rate, 64-byte UDP; what the sink VNode receives through fw -> nat -> vpn, against the same
#     stream switched straight from the source port to the sink port.  Run with the
#     template's peak rates (the VPN gateway shapes to 100 kpps) and uncapped.
# No assertions: this is a measurement.
set -euo pipefail
REPS=${REPS:-5}
source "$(dirname "$0")/lib-bench.sh"
bench_substrate bench-chain "${1:?usage: bench-chain.sh BUILD_DIR}"
cp "$top/templates/chains/fw-nat-vpn.json" "$W/capped.json"
bench_uncapped_template "$W/capped.json" "$W/uncapped.json"
"$VNETCTL" chain load "$W/capped.json" >/dev/null

echo "== create/delete of fw-nat-vpn ($REPS repetitions, medians)"
: >"$W/create"; : >"$W/delete"
for _ in $(seq "$REPS"); do
    t0=$(now); "$VNETCTL" chain create fw-nat-vpn >/dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000000)) >>"$W/create"
    t0=$(now); "$VNETCTL" chain delete --keep-template fw-nat-vpn >/dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000000)) >>"$W/delete"
done
# The baseline: the same domains and ports, by hand.
"$VNETCTL" chain create fw-nat-vpn >/dev/null
mkdir -p "$W/xml"
doms=$(virsh -q -c "$URI" list --name)
ports=$(ovs-vsctl --db=unix:$SUB/ovs/db.sock --bare --columns=name find Interface external_ids:vnet-owner=fw-nat-vpn)
for d in $doms; do virsh -q -c "$URI" dumpxml --inactive "$d" | sed "s/<name>$d</<name>raw-$d</; /<uuid>/d; /<metadata>/,/<\/metadata>/d" >"$W/xml/$d.xml"; done
"$VNETCTL" chain delete --keep-template fw-nat-vpn >/dev/null
: >"$W/rawc"; : >"$W/rawd"
for _ in $(seq "$REPS"); do
    cmds=""; for d in $doms; do cmds+="define $W/xml/$d.xml; start raw-$d; "; done
    addp=(); for p in $ports; do addp+=(-- add-port br-raw "$p"); done
    ovs-vsctl --db=unix:$SUB/ovs/db.sock add-br br-raw -- set bridge br-raw datapath_type=netdev
    t0=$(now)
    virsh -q -c "$URI" "$cmds" >/dev/null
    ovs-vsctl --db=unix:$SUB/ovs/db.sock "${addp[@]}" >/dev/null 2>&1
    t1=$(now)
    echo $(((t1 - t0) / 1000000)) >>"$W/rawc"
    cmds=""; for d in $doms; do cmds+="destroy raw-$d; undefine raw-$d; "; done
    t0=$(now)
    virsh -q -c "$URI" "$cmds" >/dev/null
    ovs-vsctl --db=unix:$SUB/ovs/db.sock del-br br-raw
    t1=$(now)
    echo $(((t1 - t0) / 1000000)) >>"$W/rawd"
done
c=$(median <"$W/create"); d=$(median <"$W/delete")
rc=$(median <"$W/rawc"); rd=$(median <"$W/rawd")
printf 'create: %s ms (by hand: %s ms, ratio %.2f)\n' "$c" "$rc" "$(echo "$c / $rc" | bc -l)"
printf 'delete: %s ms (by hand: %s ms, ratio %.2f)\n' "$d" "$rd" "$(echo "$d / $rd" | bc -l)"
echo "  all runs (ms): create $(tr '\n' ' ' <"$W/create")/ delete $(tr '\n' ' ' <"$W/delete")"

GEN=$build/examples/vnet-gen; SINK=$build/examples/vnet-sink
# blast LABEL [RATE] : 2 s at RATE (default: the generator's maximum); prints offered
# and received pps.
blast() {
    "$VNETCTL" chain exec fw-nat-vpn sink -- "$SINK" --dev eth0 --duration 4 --out "$W/s.json" >/dev/null 2>&1 &
    local job=$!
    sleep 0.7
    "$VNETCTL" chain exec fw-nat-vpn source -- "$GEN" --dev eth0 --dst-mac 02:76:6e:00:00:01 \
        --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --rate "${2:-2000000}" --seq \
        --duration 2 >"$W/g.json"
    wait "$job"
    python3 - "$W/g.json" "$W/s.json" "$1" <<'PY'
import json, sys
g, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in s["flows"] if f["dport"] == 5000]
rx = f[0]["seq"]["received"] if f else 0
print(f"{sys.argv[3]}: offered {g['rate_pps']:.0f} pps, received {rx / g['duration_s']:.0f} pps, "
      f"loss {100 * (1 - rx / max(g['sent'], 1)):.1f}%")
open("/dev/shm/vnet-bench-last", "w").write(str(rx / g["duration_s"]))
PY
}
direct() {   # switch source -> sink straight, above the chain's rules
    local sink_mac; sink_mac=$(virsh -q -c "$URI" domiflist vnet-fw-nat-vpn-sink | awk '{print $5}')
    ovs-ofctl -O OpenFlow15 add-flow vnet-br0 "cookie=0x1,priority=500,in_port=256,actions=mod_dl_dst:$sink_mac,output:257"
}
echo "== forwarding, 64-byte UDP at the generator's maximum"
for variant in capped uncapped; do
    "$VNETCTL" chain delete fw-nat-vpn >/dev/null
    "$VNETCTL" chain load "$W/$variant.json" >/dev/null
    "$VNETCTL" chain create fw-nat-vpn >/dev/null
    for rate in 10000 25000 50000 100000; do blast "  chain ($variant) at $rate pps" "$rate"; done
    blast "chain ($variant)"; chain=$(cat /dev/shm/vnet-bench-last)
    direct
    for rate in 10000 25000 50000 100000; do blast "  direct at $rate pps" "$rate"; done
    blast "direct (baseline)"; base=$(cat /dev/shm/vnet-bench-last)
    ovs-ofctl -O OpenFlow15 del-flows vnet-br0 "cookie=0x1/-1"
    printf 'chain/direct (%s): %.3f\n' "$variant" "$(echo "$chain / $base" | bc -l)"
done
rm -f /dev/shm/vnet-bench-last
