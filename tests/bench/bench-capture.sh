#!/bin/bash
# bench-capture.sh -- the monitoring agent's capture and its fidelity, on veths in
# private network namespaces (no OVS, no libvirt needed).
#
# Usage: tests/bench/bench-capture.sh BUILD_DIR        (root)
#
#  capture: vnet-gen sends 64-byte UDP for 2 s at rising rates into a veth; on its
#     peer, vnet-monitor (AF_PACKET TPACKET_V3, storing every packet in its rolling
#     pcap store) and, in the same run, 'tcpdump -w /dev/null' capture it.  Each
#     prints packets/s captured, loss against what the generator sent, and CPU time
#     per packet (user + system of the capturing process over its whole life).
#  fidelity: a vnet-nf (forward, then nat) with --log-times, fed 10 kpps for 4 s
#     with a 20 ms pause in the middle.  tc mirrors the NF's input (ingress of its
#     eth0) and output (ingress of its peer) to two veths, as OVS mirrors do, and
#     vnet-monitor captures them.  Per packet, the monitor's latency (departure copy
#     - arrival copy, from the monitor's dump) is compared with the NF's own ground
#     truth (t_done - t_arr); after removing the median offset (constant-offset
#     calibration), the p50/p99/max error is printed, with the monitor's match rate.
# No assertions: this is a measurement.
set -euo pipefail
build=$(cd "${1:?usage: bench-capture.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-capture.sh: needs root" >&2; exit 1; }
EXAMPLES_BIN=$build/examples
source "$top/examples/traffic/veth-chain.sh"
MON=$build/monitor/vnet-monitor
GEN=$build/examples/vnet-gen
NF=$build/examples/vnet-nf
W=$(mktemp -d /tmp/vnet-bench-capture.XXXXXX)
NAME=vbc$$
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    chain_destroy "$NAME"
    rm -rf "$W"
}
trap cleanup EXIT
chain_create "$NAME" nf

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rpc() {  # rpc SOCKET METHOD [PARAMS-JSON]
    python3 - "$1" "$2" "${3:-null}" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[2]}
if sys.argv[3] != "null":
    req["params"] = json.loads(sys.argv[3])
s.sendall((json.dumps(req) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    buf += s.recv(65536)
print(json.dumps(json.loads(buf)["result"]))
PY
}
wait_sock() { for _ in $(seq 50); do [ -S "$1" ] && return; sleep 0.1; done; echo "no socket $1" >&2; exit 1; }
gen() {  # gen RATE DURATION : from the generator namespace, JSON summary on stdout
    ip netns exec "$GEN_NS" "$GEN" --dev eth0 --dst-mac "$SINK_MAC" --src 10.9.0.1 \
        --dst 10.9.0.2 --dport 5000 --seq --rate "$1" --duration "$2"
}
sent_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sent'])" "$1"; }
hz=$(getconf CLK_TCK)

# Every packet reaches the capture twice, as an NF's arrival (eth0) and, mirrored
# by tc to a second veth, as its departure (cap1): the monitor matches the pairs,
# as it would for an NF that forwards everything.
ip -n "$NF_NS" link add cap0 type veth peer name cap1
ip -n "$NF_NS" link set cap0 up
ip -n "$NF_NS" link set cap1 up
ip netns exec "$NF_NS" tc qdisc add dev eth0 clsact
ip netns exec "$NF_NS" tc filter add dev eth0 ingress u32 match u32 0 0 action mirred egress mirror dev cap0

echo "== capture: 64-byte UDP into a veth, 2 s per rate (two captured copies per packet)"
printf '  %-12s %10s | %-34s | %-34s\n' "offered" "sent" "vnet-monitor (pkt/s, loss, ns/copy)" \
    "tcpdump -i any (pkt/s, loss, ns/copy)"
for rate in ${CAPTURE_RATES:-50000 100000 200000 0}; do
    label=$rate; [ "$rate" = 0 ] && { rate=5000000; label=max; }
    # vnet-monitor
    rm -rf "$W/store" "$W/m.ctl"
    ip netns exec "$NF_NS" "$MON" --chain bench --control "$W/m.ctl" --store "$W/store" \
        --nf x=0 --edge ingress:x --edge x:egress --port eth0=x:in --port cap1=x:out >"$W/mon.log" 2>&1 &
    mpid=$!; pids+=("$mpid"); wait_sock "$W/m.ctl"
    sleep 0.3
    gen "$rate" 2 >"$W/g.json"
    sleep 0.5
    rpc "$W/m.ctl" stats >"$W/ms.json"
    mt=$(cpu_ticks "$mpid")
    kill -TERM "$mpid"; wait "$mpid" || true
    sent=$(sent_of "$W/g.json")
    mres=$(python3 - "$W/ms.json" "$sent" "$mt" "$hz" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); sent = int(sys.argv[2])
pk = sum(p["packets"] for p in s["ports"]); dr = sum(p["capture_drops"] for p in s["ports"])
cpu_ns = int(sys.argv[3]) / int(sys.argv[4]) * 1e9
print(f"{pk / 4:>9.0f} {100 * (1 - pk / (2 * sent)):6.2f}% {cpu_ns / max(pk, 1):7.0f} "
      f"(ring drops {dr})")
PY
)
    # tcpdump on the same veth
    ip netns exec "$NF_NS" tcpdump -i any -Q in -w /dev/null -s 128 -B 16384 udp >"$W/td.out" 2>"$W/td.err" &
    tpid=$!; pids+=("$tpid")
    for _ in $(seq 50); do grep -q listening "$W/td.err" && break; sleep 0.1; done
    sleep 0.3
    gen "$rate" 2 >"$W/g2.json"
    sleep 0.5
    tt=$(cpu_ticks "$tpid")
    kill -TERM "$tpid"; wait "$tpid" || true
    sent2=$(sent_of "$W/g2.json")
    tres=$(python3 - "$W/td.err" "$sent2" "$tt" "$hz" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); sent = int(sys.argv[2])
cap = int(re.search(r"(\d+) packets? captured", t).group(1))
drop = int(re.search(r"(\d+) packets? dropped by kernel", t).group(1))
cpu_ns = int(sys.argv[3]) / int(sys.argv[4]) * 1e9
print(f"{cap / 4:>9.0f} {100 * (1 - cap / (2 * sent)):6.2f}% {cpu_ns / max(cap, 1):7.0f} (kernel drops {drop})")
PY
)
    printf '  %-12s %10s | %-34s | %-34s\n' "$label" "$sent" "$mres" "$tres"
done

echo "== fidelity: per-packet latency, monitor vs the NF's own log (10 kpps, 4 s, 20 ms pause)"
# Mirror the NF's input and output with tc to two veths in its namespace.
ip -n "$NF_NS" link add mi0 type veth peer name mi1
ip -n "$SINK_NS" link add mo0 type veth peer name mo1 netns "$NF_NS"
for l in mi0 mi1 mo1; do ip -n "$NF_NS" link set "$l" up; done
ip -n "$SINK_NS" link set mo0 up
ip netns exec "$NF_NS" tc filter del dev eth0 ingress
ip netns exec "$NF_NS" tc filter add dev eth0 ingress u32 match u32 0 0 action mirred egress mirror dev mi0
# The NF sends with PACKET_QDISC_BYPASS (no egress hook on its eth1): its output is
# mirrored where it arrives, on the peer's ingress, as an OVS port mirror would.
ip netns exec "$SINK_NS" tc qdisc add dev eth0 clsact
ip netns exec "$SINK_NS" tc filter add dev eth0 ingress u32 match u32 0 0 action mirred egress mirror dev mo0
for mode in forward nat; do
    extra=(); type=forward
    [ "$mode" = nat ] && { extra=(--snat 10.9.0.100); type=nat; }
    rm -rf "$W/store" "$W/m.ctl" "$W/nf.ctl" "$W/dump" "$W/times.log"
    ip netns exec "$NF_NS" "$NF" --mode "$mode" --in eth0 --out eth1 "${extra[@]}" \
        --control "$W/nf.ctl" --log-times "$W/times.log" >"$W/nf.out" 2>"$W/nf.err" &
    nfpid=$!; pids+=("$nfpid"); wait_sock "$W/nf.ctl"
    ip netns exec "$NF_NS" "$MON" --chain bench --control "$W/m.ctl" --store "$W/store" \
        --nf "x=0,type=$type" --edge ingress:x --edge x:egress --port mi1=x:in \
        --port mo1=x:out >"$W/mon.log" 2>&1 &
    mpid=$!; pids+=("$mpid"); wait_sock "$W/m.ctl"
    sleep 0.5
    gen 10000 4 >"$W/g.json" &
    gjob=$!
    sleep 2
    "$NF" --control "$W/nf.ctl" --command "pause 20000" >/dev/null
    wait "$gjob"
    sleep 1.5
    rpc "$W/m.ctl" stats >"$W/ms.json"
    rpc "$W/m.ctl" dump "{\"dir\": \"$W/dump\", \"seconds\": 30}" >/dev/null
    kill -TERM "$mpid" "$nfpid"; wait "$mpid" || true; wait "$nfpid" || true
    [ -n "${BENCH_KEEP:-}" ] && cp -r "$W" /tmp/bench-capture-kept
    python3 - "$W/times.log" "$W/dump/x.in.pcap" "$W/dump/x.out.pcap" "$W/ms.json" "$mode" <<'PY'
import json, struct, sys
def pcap(path):
    f = open(path, "rb"); h = f.read(24)
    ns = struct.unpack("<I", h[:4])[0] == 0xa1b23c4d
    out = {}
    while True:
        r = f.read(16)
        if len(r) < 16: break
        s, us, cl, l = struct.unpack("<IIII", r); d = f.read(cl)
        if len(d) < 42 or d[12:14] != b"\x08\x00" or d[23] != 17: continue
        key = (struct.unpack(">H", d[18:20])[0], struct.unpack(">H", d[36:38])[0])
        out.setdefault(key, s * 10**9 + (us if ns else us * 1000))
    return out
tin, tout = pcap(sys.argv[2]), pcap(sys.argv[3])
log = open(sys.argv[1], "rb").read()
assert log[:8] == b"VNFTLOG1"
rs = struct.unpack("<I", log[8:12])[0]
err, err_in, n_truth, err_idle = [], [], 0, []
for off in range(16, len(log) - rs + 1, rs):
    t_arr, t_done, sip, dip, xip, sport, dport, xport, ipid, ln, proto, st, d = \
        struct.unpack("<QQIIIHHHHHBBB", log[off:off + 41])
    qlen = struct.unpack("<I", log[off + 44:off + 48])[0]
    if proto != 17 or st != 0 or d != 0: continue
    n_truth += 1
    k = (ipid, dport)
    if k in tin and k in tout:
        err.append((tout[k] - tin[k]) - (t_done - t_arr))
        if qlen == 0:
            err_idle.append(err[-1])
        err_in.append(tin[k] - t_arr)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")
off = pct(err, 50)
dev = [abs(e - off) for e in err]
dev_idle = [abs(e - off) for e in err_idle]
s = json.load(open(sys.argv[4]))
tot = s["nfs"]["x"].get("total", {})
print(f"  {sys.argv[5]}: {len(err)}/{n_truth} packets joined; latency error after a "
      f"{off / 1e3:.1f} us offset: p50 {pct(dev, 50) / 1e3:.1f} us, p99 {pct(dev, 99) / 1e3:.1f} us, "
      f"max {max(dev) / 1e3:.1f} us (packets that found the NF idle: p99 "
      f"{pct(dev_idle, 99) / 1e3:.1f} us, n {len(dev_idle)}); arrival stamp vs NF p50 {pct(err_in, 50) / 1e3:.1f} us; "
      f"monitor match rate {100 * tot.get('match_rate', float('nan')):.2f}% "
      f"({tot.get('matched', 0)} matched, {tot.get('unmatched', 0)} unmatched, "
      f"{tot.get('drops_internal', 0) + tot.get('drops_tail', 0)} drops)")
PY
done
