# traffic-chain.sh -- sourced by test-chain.sh once fw-nat-vpn runs: real traffic
# from the source VNode to the sink VNode through the firewall, the NAT and the VPN.
GEN=$VNET_BUILD/examples/vnet-gen
SINK=$VNET_BUILD/examples/vnet-sink
NFCTL=$VNET_BUILD/examples/vnet-nf
GW=02:76:6e:00:00:01            # the switch answers every endpoint ARP with it

# start_sink FILE ARGS... : vnet-sink in the sink VNode until it finishes.
start_sink() {
    local out=$1; shift
    "$VNETCTL" chain exec fw-nat-vpn sink -- "$SINK" --out "$out" "$@" 2>"$T/sink.err" &
    SINK_JOB=$!
    for _ in $(seq 50); do grep -q ready "$T/sink.err" 2>/dev/null && return; sleep 0.1; done
    fail "vnet-sink did not start: $(cat "$T/sink.err")"
}
gen_udp() {
    "$VNETCTL" chain exec fw-nat-vpn source -- "$GEN" --dev eth0 --dst-mac "$GW" \
        --src 10.70.0.10 --dst 10.70.0.20 --seq "$@" >"$T/gen.json"
}

# UDP: every packet arrives, rewritten by the NAT to its public address.
start_sink "$T/udp.json" --dev eth0 --duration 4
gen_udp --dport 5000 --rate 2000 --duration 2
wait "$SINK_JOB"
python3 - "$T/udp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["flows"] if f["dport"] == 5000]
assert len(f) == 1, d["flows"]
f = f[0]
assert f["src"] == "10.70.0.100", f          # SNAT by the nat NF
assert f["seq"]["received"] == 4000 and f["seq"]["lost"] == 0, f["seq"]
assert f["bad_csum"] == 0 and f["seq"]["duplicates"] == 0, f
PY
pass "UDP through fw, nat, vpn: 4000/4000, source rewritten to 10.70.0.100"

# When libvirt never learns a container's init pid, 'chain exec' finds the init
# through the LXC controller itself: same namespaces as through libvirt, and
# traffic flows from there.
ns_of() {
    "$VNETCTL" chain exec fw-nat-vpn source -- stat -L -c %i /proc/self/ns/net \
        /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/uts /proc/self/ns/ipc
}
via_libvirt=$(ns_of) || fail "chain exec: $via_libvirt"
found=$(VNETCTL_TEST_FIND_INIT=1 ns_of) || fail "chain exec finding the init: $found"
[ "$via_libvirt" = "$found" ] || fail "namespaces differ: libvirt $via_libvirt, found $found"
[ "$via_libvirt" != "$(stat -L -c %i /proc/self/ns/net /proc/self/ns/pid /proc/self/ns/mnt \
    /proc/self/ns/uts /proc/self/ns/ipc)" ] || fail "chain exec stayed in the host's namespaces"
start_sink "$T/found.json" --dev eth0 --duration 3
VNETCTL_TEST_FIND_INIT=1 gen_udp --dport 5002 --rate 1000 --duration 1
wait "$SINK_JOB"
python3 - "$T/found.json" <<'PY'
import json, sys
f = [f for f in json.load(open(sys.argv[1]))["flows"] if f["dport"] == 5002][0]
assert f["seq"]["received"] == 1000 and f["seq"]["lost"] == 0, f["seq"]
PY
pass "chain exec without libvirt's init pid: same namespaces, 1000/1000 delivered"

# The firewall's rule denies UDP to port 9: nothing of it reaches the sink.
start_sink "$T/deny.json" --dev eth0 --duration 3
gen_udp --dport 9 --rate 1000 --duration 1
wait "$SINK_JOB"
python3 - "$T/deny.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not [f for f in d["flows"] if f["dport"] == 9], d["flows"]
PY
"$NFCTL" --control "$T/nf/fw-nat-vpn-fw.ctl" --command stats >"$T/fw.json"
[ "$(json_get "$T/fw.json" 'j["forward"]["policy_drops"]')" -ge 1000 ] \
    || fail "firewall policy drops: $(cat "$T/fw.json")"
pass "the firewall drops the denied flow and counts it"

# Kernel TCP end to end (the NAT translates the replies back).
start_sink "$T/tcp.json" --tcp-listen 5001 --duration 4
"$VNETCTL" chain exec fw-nat-vpn source -- "$GEN" --tcp 10.70.0.20:5001 --duration 2 \
    >"$T/tcpgen.json" || fail "TCP through the chain failed"
wait "$SINK_JOB"
python3 - "$T/tcp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["tcp"] and d["tcp"][0]["bytes"] > 1000000, d["tcp"]
assert d["tcp"][0]["peer"].startswith("10.70.0.100:"), d["tcp"]
PY
pass "TCP through the chain: $(json_get "$T/tcp.json" 'round(j["tcp"][0]["mbit_s"])') Mbit/s"

# Pausing the NAT for 50 ms shows up as latency at the sink.
start_sink "$T/pause.json" --dev eth0 --duration 4
gen_udp --dport 5000 --rate 2000 --duration 2 &
GEN_JOB=$!
sleep 1
"$NFCTL" --control "$T/nf/fw-nat-vpn-nat.ctl" --command "pause 50000" >/dev/null
wait "$GEN_JOB"
wait "$SINK_JOB"
python3 - "$T/pause.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["flows"] if f["dport"] == 5000][0]
assert f["latency_us"]["max"] >= 40000, f["latency_us"]
assert f["seq"]["lost"] == 0, f["seq"]
PY
pass "a 50 ms NAT pause raises the sink's latency to $(json_get "$T/pause.json" 'round(j["latency_us"]["max"]/1000,1)') ms"
