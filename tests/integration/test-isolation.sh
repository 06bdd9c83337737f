#!/bin/bash
# ctest: timeout=900 labels=substrate
# Isolation guarantees of the Shadow and Monitoring VNets on the real substrate
# (isolated OVS + libvirtd LXC), on fw-nat-vpn with a shadow and a mirror:
#  - CPU limits: the VNodes serving production (NFs, source, sink) keep full
#    shares and no cap; shadow NFs are capped at the one CPU their template gives
#    them, the monitoring VNode gets a quarter of the shares and 50 % of its CPU,
#    read back from their cgroups; a swap moves the caps to the new shadow on the
#    running containers (no restart), a rollback back;
#  - a shadow NF VNode sending numbered packets to the sink, to the source and to
#    production NFs' MACs -- with the DSCP tag bit of either side, i.e. also forging
#    the tag that production delivers -- reaches no production VNode while a
#    numbered production stream runs (the sink sees it once, no duplicate, nothing
#    else); the shadow's exit rules account for exactly what the shadow emitted;
#    after a swap and its drain period the old production side is held the same way;
#  - the monitoring VNode sending out of every one of its (mirror-receiving) ports
#    reaches nothing: each port's drop rule counts exactly what it sent;
#  - CPU hogs (2 busy loops in the monitoring VNode, 2 in a shadow NF VNode) stay
#    within their caps, alone and while production's throughput (at 5 kpps, and
#    saturated) is measured with and without them (alternating pairs, medians).
# VNET_ISO_VNETD_OPTS adds vnetd options (e.g. "--shadow-cpu-quota 0
# --monitor-cpu-quota 0" or "--cpu-shares 0") and VNET_ISO_MEASURE_ONLY=1 skips the
# throughput and hog-usage assertions: how the RESULTS.md comparison was made.
source "$(dirname "$0")/lib.sh"
start_substrate
# shellcheck disable=SC2086
start_vnetd "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf" ${VNET_ISO_VNETD_OPTS:-}
GEN=$VNET_BUILD/examples/vnet-gen
SINK=$VNET_BUILD/examples/vnet-sink
NFCTL=$VNET_BUILD/examples/vnet-nf
GW=02:76:6e:00:00:01
CHAIN=fw-nat-vpn

expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/$CHAIN.json"
expect_rc 0 "$VNETCTL" chain create "$CHAIN"
expect_rc 0 "$VNETCTL" shadow create "$CHAIN"
expect_rc 0 "$VNETCTL" mirror "$CHAIN"
"$VNETCTL" --json chain show "$CHAIN" >"$T/show.json"
pass "fw-nat-vpn with a shadow and a mirror: $(virsh_t list --name | grep -c "^vnet-$CHAIN-") VNodes"

# vnode EXPR: a Python expression over the VNode 'v' (and the chain's show 'j').
vnodes() {
    json_get "$T/show.json" "' '.join(str($2) for v in j['instance']['vnodes'] if $1)"
}
dom() { virsh_t domid "$1" | tr -d ' '; }

# ---- CPU limits, read back from the containers' cgroups ---------------------------
# cg DOMAIN FILE: a file of the domain's cgroup (cgroup v1 'cpu'/'cpuacct'
# controllers, as on this hybrid host, or cgroup v2).
cg() {
    local d=$1 f=$2 id
    id=$(dom "$d")
    local leaf="machine/lxc-$id-$d.libvirt-lxc"
    if [ -d /sys/fs/cgroup/cpu/machine ]; then
        case $f in cpuacct.*) cat "/sys/fs/cgroup/cpuacct/$leaf/$f" ;;
                   *) cat "/sys/fs/cgroup/cpu/$leaf/$f" ;; esac
    else
        case $f in
        cpu.cfs_quota_us) awk '{print $1 == "max" ? -1 : $1}' "/sys/fs/cgroup/$leaf/cpu.max" ;;
        cpu.cfs_period_us) awk '{print $2}' "/sys/fs/cgroup/$leaf/cpu.max" ;;
        cpu.shares) cat "/sys/fs/cgroup/$leaf/cpu.weight" ;;
        cpuacct.usage) awk '$1 == "usage_usec" {print $2 * 1000}' "/sys/fs/cgroup/$leaf/cpu.stat" ;;
        *) cat "/sys/fs/cgroup/$leaf/$f" ;;
        esac
    fi
}
# cg_usage DOMAIN: CPU time (ns) used so far by the processes of the domain's cpu
# cgroup, the one its quota applies to.  (On cgroup v1 a program run with 'chain
# exec' joins the container's cpu cgroup but not its cpuacct one, so this sums the
# processes' own times instead of reading cpuacct.)
cg_usage() {
    if [ -d /sys/fs/cgroup/cpu/machine ]; then
        python3 - "/sys/fs/cgroup/cpu/machine/lxc-$(dom "$1")-$1.libvirt-lxc/cgroup.procs" <<'PY'
import os, sys
ticks = 0
for pid in open(sys.argv[1]).read().split():
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    ticks += int(f[11]) + int(f[12])        # utime, stime
print(ticks * 1000000000 // os.sysconf("SC_CLK_TCK"))
PY
    else
        cg "$1" cpuacct.usage
    fi
}
limits() { echo "$(cg "$1" cpu.shares) $(cg "$1" cpu.cfs_quota_us) $(cg "$1" cpu.cfs_period_us)"; }
# check_limits PRODUCTION_SIDE: every VNode's shares/quota/period as its role says.
check_limits() {
    local prod=$1 d want got
    for d in $(vnodes "True" "v['domain']"); do
        case $d in
        *-monitor) want="256 50000 100000" ;;
        *-fw|*-nat|*-vpn) [ "$prod" = 0 ] && want="1024 -1 100000" || want="1024 100000 100000" ;;
        *-fw-b|*-nat-b|*-vpn-b) [ "$prod" = 1 ] && want="1024 -1 100000" || want="1024 100000 100000" ;;
        *) want="1024 -1 100000" ;;
        esac
        got=$(limits "$d")
        [ "$got" = "$want" ] || return 1
    done
}
wait_limits() {
    for _ in $(seq 50); do check_limits "$1" && return 0; sleep 0.2; done
    for d in $(vnodes "True" "v['domain']"); do echo "  $d: $(limits "$d")" >&2; done
    fail "CPU limits do not follow the roles (production side $1)"
}
if [ -z "${VNET_ISO_VNETD_OPTS:-}" ]; then
    wait_limits 0
    pass "cgroups: production shares 1024, no cap; shadow NFs 1024 and a quota of 100000 us per 100000 us (their template's 1 CPU); the monitor 256 and 50000 us"
fi

# ---- rule and port counters --------------------------------------------------------
flows() { ofctl --no-names dump-flows vnet-br0 >"$1"; }
ports() { ofctl --no-names dump-ports vnet-br0 >"$1"; }
SHOW=$T/show.json
cat >"$T/account.py" <<'PY'
# account.py SHOW FLOWS_BEFORE FLOWS_AFTER PORTS_BEFORE PORTS_AFTER
# Prints a JSON object over the window between the two dumps: per in_port, the
# table-0 and table-1 packet deltas ("noise": the IPv6 link-local frames the host
# side of a veth sends, dropped by rules of their own); the rules that moved
# packets from a non-production port to a production one ("leaks", must be none);
# per production port, what the rules sent there and what OVS transmitted to it
# ("extra" = transmitted - sent by rules: frames that reached the VNode some other
# way, only the host kernel's own IPv6 frames are expected).
import json, re, sys
show = json.load(open(sys.argv[1]))
def parse_flows(path):
    rules = {}
    for line in open(path):
        m = re.search(r"n_packets=(\d+)", line)
        if not m:
            continue
        key = re.sub(r"(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, ?", "", line).strip()
        t = re.search(r"table=(\d+)", line)
        p = re.search(r"in_port=(\d+)", line)
        rules[key] = dict(n=int(m.group(1)), table=int(t.group(1)) if t else 0,
                          in_port=int(p.group(1)) if p else None,
                          outputs=[int(x) for x in re.findall(r"output:(\d+)", line.split("actions=")[1])],
                          noise="ipv6_dst=ff00::/8" in line)
    return rules
def parse_ports(path):
    tx, port = {}, None
    for line in open(path):
        m = re.match(r"\s*port\s+(\S+): rx pkts=", line)
        if m:
            port = int(m.group(1)) if m.group(1).isdigit() else None   # not LOCAL
        m = re.match(r"\s*tx pkts=(\d+)", line)
        if m and port is not None:
            tx[port] = int(m.group(1))
    return tx
before, after = parse_flows(sys.argv[2]), parse_flows(sys.argv[3])
pb, pa = parse_ports(sys.argv[4]), parse_ports(sys.argv[5])
prod = {}
for v in show["instance"]["vnodes"]:
    if v["role"] in ("source", "sink") or v.get("serves") == "production":
        for n in v["nics"]:
            prod[n["ofport"]] = f"{v['node']}:{n['guest']}"
out = {"table0": {}, "table1": {}, "table1_drop": {}, "noise": {}, "leaks": [],
       "to_prod": {}, "extra": {}}
routed = {p: 0 for p in prod}
for key, r in after.items():
    d = r["n"] - before.get(key, {"n": 0})["n"]
    if d <= 0 or r["in_port"] is None:
        continue
    p = str(r["in_port"])
    if r["noise"]:
        out["noise"][p] = out["noise"].get(p, 0) + d
        continue
    t = "table%d" % r["table"]
    out[t][p] = out[t].get(p, 0) + d
    if r["table"] == 1 and not any(o in prod for o in r["outputs"]):
        out["table1_drop"][p] = out["table1_drop"].get(p, 0) + d
    if r["in_port"] not in prod and any(o in prod for o in r["outputs"]):
        out["leaks"].append(f"{d} packets: {key}")
    for o in r["outputs"]:
        if o in routed:
            routed[o] += d
for port, name in prod.items():
    out["to_prod"][name] = routed[port]
    out["extra"][name] = pa.get(port, 0) - pb.get(port, 0) - routed[port]
print(json.dumps(out))
PY
account() { python3 "$T/account.py" "$SHOW" "$T/$1.flows0" "$T/$1.flows1" "$T/$1.ports0" "$T/$1.ports1"; }
nf_tx() {  # nf_tx CONTROL: packets the NF forwarded out of its "out" NIC
    "$NFCTL" --control "$1" --command stats \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["forward"]["tx"])'
}

# start_sink NODE FILE SECONDS: vnet-sink on the VNode's eth0 until it is ready.
start_sink() {
    "$VNETCTL" chain exec "$CHAIN" "$1" -- "$SINK" --out "$2" --dev eth0 \
        --duration "$3" 2>"$2.err" >/dev/null &
    SINK_JOBS+=($!)
    for _ in $(seq 50); do grep -q ready "$2.err" 2>/dev/null && return; sleep 0.1; done
    fail "vnet-sink in $1 did not start: $(cat "$2.err")"
}
# inject [--shadow] NODE DEV DST_MAC SRC DST DPORT TOS: 1000 numbered packets at
# 2 kpps from inside the VNode.
inject() {
    local sh=()
    [ "$1" = --shadow ] && { sh=(--shadow); shift; }
    "$VNETCTL" chain exec "$CHAIN" "$1" "${sh[@]}" -- "$GEN" --dev "$2" --dst-mac "$3" \
        --src "$4" --dst "$5" --dport "$6" --tos "$7" --seq --rate 2000 --count 1000 \
        >"$T/inject-$1-$6.json" || fail "vnet-gen in $1 ($2) failed"
    [ "$(json_get "$T/inject-$1-$6.json" 'j["sent"]')" = 1000 ] \
        || fail "vnet-gen in $1 sent $(cat "$T/inject-$1-$6.json")"
}
mac_of() { vnodes "v['node'] == '$1' and v.get('serves', 'production') == '$2'" "v['nics'][$3]['mac']"; }
port_of() { vnodes "v['node'] == '$1' and v.get('serves', 'production') == '$2'" "v['nics'][$3]['ofport']"; }
ctl_of() { vnodes "v['node'] == '$1' and v.get('serves') == '$2'" "v['control']"; }
# sink_saw FILE PYCOND: true if a flow of the sink's summary matches (over 'f').
sink_flows() { json_get "$1" "sum(f['packets'] for f in j['flows'] if $2)"; }

# ---- (a) the shadow cannot reach production ----------------------------------------
# Side 0 serves production: its tag is DSCP bit 0 clear (TOS 0), the shadow's is
# set (TOS 4).  A shadow NF emitting TOS 4 forges the tag its own exit would
# deliver if it served production.
VPNB_OUT=$(port_of vpn shadow 1); FWB_IN=$(port_of fw shadow 0); NATB_OUT=$(port_of nat shadow 1)
VPNB_CTL=$(ctl_of vpn shadow); NATB_CTL=$(ctl_of nat shadow)
NAT_MAC=$(mac_of nat production 0); VPN_MAC=$(mac_of vpn production 0)
SINK_MAC=$(mac_of sink production 0); SRC_MAC=$(mac_of source production 0)
SINK_JOBS=()
start_sink sink "$T/a-sink.json" 12
start_sink source "$T/a-source.json" 12
flows "$T/a.flows0"; ports "$T/a.ports0"
vpnb0=$(nf_tx "$VPNB_CTL"); natb0=$(nf_tx "$NATB_CTL")
# The production stream: 3000 numbered packets; the shadow gets their duplicates.
"$VNETCTL" chain exec "$CHAIN" source -- "$GEN" --dev eth0 --dst-mac "$GW" \
    --src 10.70.0.10 --dst 10.70.0.20 --dport 6000 --seq --rate 1000 --count 3000 \
    >"$T/a-prod.json" &
PROD_JOB=$!
sleep 0.3
inject --shadow vpn eth1 "$GW" 10.70.0.100 10.70.0.20 7001 0
inject --shadow vpn eth1 "$GW" 10.70.0.100 10.70.0.20 7002 4
inject --shadow vpn eth1 "$NAT_MAC" 10.70.0.100 10.70.0.20 7003 4
inject --shadow vpn eth1 "$SINK_MAC" 10.70.0.100 10.70.0.20 7004 4
inject --shadow fw eth0 "$SRC_MAC" 10.70.0.20 10.70.0.10 7005 4
inject --shadow nat eth1 "$VPN_MAC" 10.70.0.100 10.70.0.20 7006 4
wait "$PROD_JOB"
sleep 0.5
# The NFs' counts first: a stray frame they forward later shows only in the rules.
vpnb1=$(nf_tx "$VPNB_CTL"); natb1=$(nf_tx "$NATB_CTL")
flows "$T/a.flows1"; ports "$T/a.ports1"
wait "${SINK_JOBS[@]}"
SINK_JOBS=()
account a >"$T/a.json"
python3 - "$T/a.json" "$T/a-sink.json" "$T/a-source.json" "$VPNB_OUT" "$FWB_IN" \
    "$NATB_OUT" "$((vpnb1 - vpnb0))" "$((natb1 - natb0))" <<'PY' || fail "shadow isolation"
import json, sys
a = json.load(open(sys.argv[1]))
sink, source = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
vpnb_out, fwb_in, natb_out = sys.argv[4:7]
vpnb_fwd, natb_fwd = int(sys.argv[7]), int(sys.argv[8])
print("accounting:", json.dumps(a), file=sys.stderr)
assert not a["leaks"], a["leaks"]
prod = [f for f in sink["flows"] if f["dport"] == 6000]
assert len(prod) == 1 and prod[0]["seq"]["received"] == 3000, sink["flows"]
assert prod[0]["seq"]["duplicates"] == 0 and prod[0]["seq"]["lost"] == 0, prod[0]["seq"]
injected = [f for f in sink["flows"] + source["flows"] if 7000 < f["dport"] < 7100]
assert not injected, injected
# Production VNodes received what production's rules sent them (the stream
# forward; the sink's ICMP errors backwards) and nothing else.
for name in ("fw:eth0", "nat:eth0", "vpn:eth0", "sink:eth0"):
    assert a["to_prod"][name] == 3000, (name, a["to_prod"])
assert all(abs(n) <= 5 for n in a["extra"].values()), a["extra"]
# Every packet the shadow's VPN emitted (4 x 1000 injected + what its NF forwarded:
# the stream's duplicates and the 1000 injected at the shadow's NAT) hit its exit
# rules, and every one was dropped (or only copied to the monitor).  The NFs also
# forward the host's IPv6 link-local frames, which their own rules drop ("noise").
def emitted(port, injected, forwarded):
    ip = a["table0"].get(port, 0)
    assert injected + forwarded - a["noise"].get(port, 0) <= ip <= injected + forwarded, \
        (port, ip, injected, forwarded, a)
    return ip
vpnb = emitted(vpnb_out, 4000, vpnb_fwd)
assert a["table1_drop"].get(vpnb_out) == vpnb == a["table1"].get(vpnb_out), a
assert vpnb >= 4000 + 3000 + 1000 * 0.9, vpnb      # the NF did forward them
assert emitted(fwb_in, 1000, 0) == 1000 == a["table1_drop"].get(fwb_in), a
emitted(natb_out, 1000, natb_fwd)
print(f"shadow VPN exit: {vpnb} IP packets emitted, {a['table1_drop'][vpnb_out]} dropped;"
      f" shadow firewall (reverse): 1000 emitted, 1000 dropped", file=sys.stderr)
PY
pass "a shadow NF sending to the sink, the source and production NFs' MACs (either tag) reaches none; its exit rules dropped exactly what it emitted; the production stream arrived once, 3000/3000"

# ---- (b) the monitoring VNode cannot inject ----------------------------------------
SINK_JOBS=()
start_sink sink "$T/b-sink.json" 8
flows "$T/b.flows0"; ports "$T/b.ports0"
mon_ports=$(vnodes "v['role'] == 'monitor'" "' '.join(n['guest'] + ':' + str(n['ofport']) for n in v['nics'])")
i=0
for gp in $mon_ports; do
    guest=${gp%%:*}
    # Alternately to the sink through the gateway MAC and to a production NF's MAC.
    mac=$([ $((i % 2)) = 0 ] && echo "$GW" || echo "$NAT_MAC")
    "$VNETCTL" chain exec "$CHAIN" monitor -- "$GEN" --dev "$guest" --dst-mac "$mac" \
        --src 10.70.0.10 --dst 10.70.0.20 --dport $((7100 + i)) --seq --rate 5000 \
        --count 500 >"$T/b-gen-$guest.json" || fail "vnet-gen on the monitor's $guest"
    i=$((i + 1))
done
sleep 0.5
flows "$T/b.flows1"; ports "$T/b.ports1"
wait "${SINK_JOBS[@]}"
SINK_JOBS=()
account b >"$T/b.json"
python3 - "$T/b.json" "$T/b-sink.json" "$mon_ports" <<'PY' || fail "monitor isolation"
import json, sys
a, sink = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("accounting:", json.dumps(a), file=sys.stderr)
assert not a["leaks"], a["leaks"]
assert not [f for f in sink["flows"] if 7100 <= f["dport"] < 7200], sink["flows"]
assert all(n == 0 for n in a["to_prod"].values()), a["to_prod"]
assert all(abs(n) <= 5 for n in a["extra"].values()), a["extra"]
for gp in sys.argv[3].split():
    guest, port = gp.split(":")
    assert a["table0"].get(port) == 500, (guest, port, a["table0"])
PY
n_mon=$(wc -w <<<"$mon_ports")
pass "the monitoring VNode sent 500 packets out of each of its $n_mon ports: each port's drop rule counted 500, production VNodes received none"

# ---- swap: the limits and the isolation follow the roles ---------------------------
ids_before=$(for d in $(vnodes "v['role'] == 'nf'" "v['domain']"); do echo "$d=$(dom "$d")"; done)
expect_rc 0 "$VNETCTL" swap "$CHAIN"
if [ -z "${VNET_ISO_VNETD_OPTS:-}" ]; then
    wait_limits 1
fi
ids_after=$(for d in $(vnodes "v['role'] == 'nf'" "v['domain']"); do echo "$d=$(dom "$d")"; done)
[ "$ids_before" = "$ids_after" ] || fail "a swap restarted NF VNodes: $ids_before / $ids_after"
# After the drain period (about 1 s for this template), the old production side --
# whose tag is the one normal packets carry -- delivers nothing.
sleep 2.5
"$VNETCTL" --json chain show "$CHAIN" >"$T/show-swapped.json"
SINK_JOBS=()
start_sink sink "$T/s-sink.json" 4
inject --shadow vpn eth1 "$GW" 10.70.0.100 10.70.0.20 7201 0
inject --shadow vpn eth1 "$GW" 10.70.0.100 10.70.0.20 7202 4
wait "${SINK_JOBS[@]}"
SINK_JOBS=()
[ "$(sink_flows "$T/s-sink.json" "7200 < f['dport'] < 7300")" = 0 ] \
    || fail "after the swap the old production side reached the sink: $(cat "$T/s-sink.json")"
expect_rc 0 "$VNETCTL" rollback "$CHAIN"
if [ -z "${VNET_ISO_VNETD_OPTS:-}" ]; then
    wait_limits 0
fi
pass "swap: caps moved to the new shadow without restarting any VNode, and the old production side is isolated once drained; rollback moved them back"

# ---- (c) CPU hogs in the monitor and in a shadow NF vs production throughput -------
MON_DOM=vnet-$CHAIN-monitor
HOG_DOM=vnet-$CHAIN-vpn-b
# start_hogs / stop_hogs: two busy loops in the monitoring VNode and two in the
# shadow VPN (each also ends by itself after 60 s).  A loop runs under 'timeout'
# under the VNode-side process of 'chain exec' under our vnetctl: stopping that
# 'timeout' (by its PID) stops the loop.
start_hogs() {
    HOG_JOBS=()
    for _ in 1 2; do
        "$VNETCTL" chain exec "$CHAIN" monitor -- timeout 60 sh -c 'while :; do :; done' &
        HOG_JOBS+=($!)
        "$VNETCTL" chain exec "$CHAIN" vpn --shadow -- timeout 60 sh -c 'while :; do :; done' &
        HOG_JOBS+=($!)
    done
}
# stop_inner JOB: TERM the program a 'chain exec' we started (JOB) runs in the VNode.
stop_inner() {
    local child t
    for child in $(pgrep -P "$1"); do
        for t in $(pgrep -P "$child"); do kill -TERM "$t" 2>/dev/null || true; done
    done
}
stop_hogs() {
    local job
    for job in "${HOG_JOBS[@]}"; do stop_inner "$job"; done
    wait "${HOG_JOBS[@]}" 2>/dev/null || true
    HOG_JOBS=()
}
HOG_JOBS=()
on_exit 'stop_hogs'
# measure RATE: the packets per second production delivers (64-byte UDP offered at
# RATE for 2 s, source to sink through fw -> nat -> vpn), and the CPU (fraction of a
# CPU) the monitor's and the shadow VPN's cgroups used meanwhile.  The sink runs
# until the generator is done (on a busy host 'chain exec' may take seconds to
# start either), then is stopped.
measure() {
    rm -f "$T/c-sink.err" "$T/c-sink.json"
    "$VNETCTL" chain exec "$CHAIN" sink -- "$SINK" --dev eth0 --dport 5000 \
        --duration 60 --out "$T/c-sink.json" >/dev/null 2>"$T/c-sink.err" &
    local job=$!
    for _ in $(seq 300); do grep -q ready "$T/c-sink.err" 2>/dev/null && break; sleep 0.1; done
    local m0 h0 t0 m1 h1 t1
    m0=$(cg_usage "$MON_DOM"); h0=$(cg_usage "$HOG_DOM"); t0=$(date +%s%N)
    "$VNETCTL" chain exec "$CHAIN" source -- "$GEN" --dev eth0 --dst-mac "$GW" \
        --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --rate "$1" --seq \
        --duration 2 >"$T/c-gen.json"
    m1=$(cg_usage "$MON_DOM"); h1=$(cg_usage "$HOG_DOM"); t1=$(date +%s%N)
    sleep 0.5
    stop_inner "$job"
    wait "$job" || true
    python3 - "$T/c-gen.json" "$T/c-sink.json" "$((m1 - m0))" "$((h1 - h0))" \
        "$((t1 - t0))" <<'PY'
import json, sys
g, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in s["flows"] if f["dport"] == 5000]
rx = f[0]["seq"]["received"] if f else 0
m, h, t = (int(x) for x in sys.argv[3:6])
print(f"{rx / g['duration_s']:.0f} {m / t:.3f} {h / t:.3f}")
PY
}
throttled() { cg "$1" cpu.stat | awk '$1 == "nr_throttled" {print $2}'; }
# hogs_alone MON_CAP HOG_CAP: the hogs with no traffic for 3 s; each cgroup's use
# must stay within its cap (a fraction of a CPU) plus 0.1: the kernel hands out
# quota in 5 ms slices per CPU, so a period can overrun by 10 ms here.  Sets
# HA_MON, HA_HOG (use) and HA_TMON, HA_THOG (periods in which each was throttled).
hogs_alone() {
    local tm0 th0 m0 h0 t0 m1 h1 t1
    tm0=$(throttled "$MON_DOM"); th0=$(throttled "$HOG_DOM")
    start_hogs
    sleep 0.5
    m0=$(cg_usage "$MON_DOM"); h0=$(cg_usage "$HOG_DOM"); t0=$(date +%s%N)
    sleep 3
    m1=$(cg_usage "$MON_DOM"); h1=$(cg_usage "$HOG_DOM"); t1=$(date +%s%N)
    stop_hogs
    HA_TMON=$(($(throttled "$MON_DOM") - tm0)); HA_THOG=$(($(throttled "$HOG_DOM") - th0))
    read -r HA_MON HA_HOG <<<"$(python3 -c "print(f'{$((m1 - m0)) / $((t1 - t0)):.3f} {$((h1 - h0)) / $((t1 - t0)):.3f}')")"
    echo "hogs alone (caps $1 / $2): monitor $HA_MON, shadow VPN $HA_HOG of a CPU; throttled in $HA_TMON / $HA_THOG periods" >&2
    python3 -c "import sys; sys.exit(0 if $HA_MON <= $1 + 0.1 and $HA_HOG <= $2 + 0.1 else 1)" \
        || fail "two busy loops per VNode exceeded the caps ($1 / $2 CPU): monitor $HA_MON, shadow VPN $HA_HOG"
}
if [ -z "${VNET_ISO_VNETD_OPTS:-}" ]; then
    hogs_alone 0.5 1.0
    pass "two busy loops in the monitor and in the shadow VPN: their cgroups used $HA_MON and $HA_HOG of a CPU (caps 0.5 and 1.0; throttled in $HA_TMON and $HA_THOG periods of 100 ms: on a busy host they often get less than their caps)"
fi

# Production under the hogs, runs alternating without and with them: at 5 kpps (a
# load production carries; the other tests run 1-3 kpps) for the assertion, and
# offered far above capacity (60 kpps; the chain carries 10-20 kpps on this busy
# host) for the record.
MODERATE=${VNET_ISO_RATE:-5000}
: >"$T/c.txt"
for rep in 1 2 3 4 5; do
    echo "off $(measure "$MODERATE")" >>"$T/c.txt"
    [ "$rep" -gt 3 ] || echo "sat-off $(measure 60000)" >>"$T/c.txt"
    start_hogs
    sleep 1
    echo "on $(measure "$MODERATE")" >>"$T/c.txt"
    [ "$rep" -gt 3 ] || echo "sat-on $(measure 60000)" >>"$T/c.txt"
    stop_hogs
    echo "rep $rep: $(grep -c . "$T/c.txt") runs; last: $(tail -1 "$T/c.txt")" >&2
done
python3 - "$T/c.txt" "${VNET_ISO_MEASURE_ONLY:-}" "$MODERATE" >"$T/c-verdict.txt" <<'PY' || fail "CPU isolation: $(cat "$T/c-verdict.txt")"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rate = float(sys.argv[3])
get = lambda k: [r for r in rows if r[0] == k]
def pairs(a, b, floor):
    # Each run with the hogs against the run just before it (the host's other load
    # drifts over a minute).  A run without them below 'floor' means the host could
    # not carry production then (ovs-vswitchd's userspace datapath, which runs
    # outside the VNodes, did not get the CPU): that pair says nothing.
    return [float(y[1]) / float(x[1]) for x, y in zip(get(a), get(b))
            if float(x[1]) >= floor]
mod, sat = pairs("off", "on", rate / 2), pairs("sat-off", "sat-on", 2000)
med = lambda v: statistics.median(v) if v else float("nan")
pps = lambda k: [int(float(r[1])) for r in get(k)]
print(f"at {rate:.0f} pps offered, delivered without / with the hogs: {pps('off')} / "
      f"{pps('on')} pps, median ratio {med(mod):.2f} over {len(mod)} valid pairs; "
      f"saturated (60 kpps offered): {pps('sat-off')} / {pps('sat-on')} pps, median "
      f"ratio {med(sat):.2f} over {len(sat)} pairs; hogs' cgroups meanwhile: monitor "
      f"{[r[2] for r in get('on') + get('sat-on')]}, shadow VPN "
      f"{[r[3] for r in get('on') + get('sat-on')]} of a CPU")
if sys.argv[2]:
    sys.exit(0)
on = get("on") + get("sat-on")
# The caps hold under load too (plus the 10 ms per period of slices, see above).
assert max(float(r[2]) for r in on) <= 0.6 and max(float(r[3]) for r in on) <= 1.1, on
# The hogs really competed for the CPU: the test is not vacuous.
assert all(float(r[2]) + float(r[3]) >= 0.3 for r in on), on
if len(mod) < 3:
    print("INCONCLUSIVE: the host was too busy to carry production in most runs")
    sys.exit(0)
# At a load production carries, hogs held by their limits cost it little; this
# shared host alone moves a single run by up to half (0.43-1.0 of 5 kpps delivered
# in a quiet configuration), hence the median of 5 pairs and 0.6.  Saturated
# throughput is only recorded: near the userspace switch's capacity a little CPU
# less moves it off a cliff (0.07-0.88 with the same limits, depending on the host).
assert med(mod) >= 0.6, mod
PY
cat "$T/c-verdict.txt" >&2
pass "under the hogs production delivered $(sed -n 's/.*pps, median ratio \([0-9.na]*\) over \([0-9]*\) valid pairs.*/\1 of what it delivered without them at 5 kpps (median of \2 paired runs)/p' "$T/c-verdict.txt")$(grep -q INCONCLUSIVE "$T/c-verdict.txt" && echo ' -- INCONCLUSIVE: host too busy' || true)"



# A cap that binds even on a busy host: vnetd restarted with 20 % caps re-adopts
# the running VNodes and applies the new limits to them live.
[ -z "${VNET_ISO_VNETD_OPTS:-}" ] || exit 0
ids_before=$(for d in $(vnodes "True" "v['domain']"); do echo "$d=$(dom "$d")"; done)
stop_pid "$VNETD_PID"
start_vnetd "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf" --shadow-cpu-quota 20 \
    --monitor-cpu-quota 20
for _ in $(seq 50); do
    [ "$(limits "$HOG_DOM")" = "1024 20000 100000" ] && [ "$(limits "$MON_DOM")" = "256 20000 100000" ] && break
    sleep 0.2
done
[ "$(limits "$HOG_DOM")" = "1024 20000 100000" ] && [ "$(limits "$MON_DOM")" = "256 20000 100000" ] \
    || fail "the new caps were not applied: $(limits "$HOG_DOM") / $(limits "$MON_DOM")"
ids_after=$(for d in $(vnodes "True" "v['domain']"); do echo "$d=$(dom "$d")"; done)
[ "$ids_before" = "$ids_after" ] || fail "new limits restarted VNodes: $ids_before / $ids_after"
hogs_alone 0.2 0.2
[ "$HA_TMON" -gt 0 ] && [ "$HA_THOG" -gt 0 ] || fail "the hogs were never throttled at a 20 % cap"
pass "vnetd restarted with 20 % caps applied them to the running VNodes (none restarted); two busy loops each: $HA_MON and $HA_HOG of a CPU, throttled in $HA_TMON and $HA_THOG periods of 100 ms"
