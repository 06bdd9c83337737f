# lib-bench.sh -- shared set-up of the benchmarks on the real substrate (sourced).
#
# bench_substrate NAME BUILD_DIR: an isolated OVS + libvirtd and a vnetd on it, in a
#   temporary directory $W that is removed at exit (with the substrate and vnetd);
#   sets W, SUB, VNETCTL, VNET_SOCKET, OVS_RUNDIR, URI.
# bench_uncapped_template SRC DST: SRC with every NF's peak rate far above what a
#   veth path carries (the host becomes the bottleneck).
# bench_run RATE: 64-byte UDP at RATE pps for 2 s from fw-nat-vpn's source VNode to
#   its sink VNode; prints "received_pps p50_us p99_us".
# now: nanoseconds; median: the median of the numbers on stdin.

bench_substrate() {
    local name=$1
    build=$(cd "$2" && pwd)
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    [ "$(id -u)" = 0 ] || { echo "$name: needs root" >&2; exit 1; }
    W=$(mktemp -d "/tmp/vnet-$name.XXXXXX")
    SUB=$W/sub
    export VNET_SOCKET=$W/vnetd.sock OVS_RUNDIR=$SUB/ovs
    VNETCTL=$build/vnetd/vnetctl
    URI="lxc:///system?socket=$SUB/libvirt/sock/libvirt-sock"
    _bench_vnetd_pid=""
    trap _bench_cleanup EXIT
    "$top/scripts/vnet-host.sh" up --isolated "$SUB" 2>/dev/null
    local opts
    read -r -a opts <<<"$("$top/scripts/vnet-host.sh" env --isolated "$SUB")"
    "$build/vnetd/vnetd" --socket "$VNET_SOCKET" --state-dir "$W/state" \
        --log-file "$W/vnetd.log" --pidfile "$W/vnetd.pid" --nf-control-dir "$W/nf" \
        --detach "${opts[@]}"
    _bench_vnetd_pid=$(cat "$W/vnetd.pid")
}

_bench_cleanup() {
    [ -n "$_bench_vnetd_pid" ] && { kill "$_bench_vnetd_pid"; sleep 0.5; }
    "$top/scripts/vnet-host.sh" down --isolated "$SUB"
    rm -rf "$W"
}

bench_uncapped_template() {
    python3 - "$1" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
for n in t["nodes"]:
    n["nf"]["peak_pps"] = 10000000
json.dump(t, open(sys.argv[2], "w"))
PY
}

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_run() {
    "$VNETCTL" chain exec fw-nat-vpn sink -- "$build/examples/vnet-sink" --dev eth0 \
        --duration 3.5 --out "$W/s.json" >/dev/null 2>"$W/sink.err" &
    local job=$!
    for _ in $(seq 50); do grep -q ready "$W/sink.err" 2>/dev/null && break; sleep 0.1; done
    "$VNETCTL" chain exec fw-nat-vpn source -- "$build/examples/vnet-gen" --dev eth0 \
        --dst-mac 02:76:6e:00:00:01 --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 \
        --rate "$1" --seq --duration 2 >"$W/g.json"
    wait "$job"
    python3 - "$W/g.json" "$W/s.json" <<'PY'
import json, sys
g, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in s["flows"] if f["dport"] == 5000]
rx = f[0]["seq"]["received"] if f else 0
lat = f[0]["latency_us"] if f else {"p50": 0, "p99": 0}
print(f"{rx / g['duration_s']:.0f} {lat['p50']} {lat['p99']}")
PY
}
