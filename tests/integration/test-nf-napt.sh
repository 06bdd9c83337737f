#!/bin/bash
# vnet-nf --mode nat between two veths: UDP flows leave with the --snat address and
# allocated ports, checksums intact (the sink verifies them) and no loss; the sink's
# ARP for the NAT address is answered by proxy ARP; kernel TCP (vnet-gen --tcp to
# vnet-sink --tcp-listen) works end to end through the translation.
# ctest: timeout=120 labels=nf;netns
source "$(dirname "$0")/lib.sh"
EXAMPLES_BIN=$VNET_BUILD/examples

expect_rc 1 "$EXAMPLES_BIN/vnet-nf" --mode nat
grep -q -- "--mode nat: needs --snat IP" <<<"$ERR" || fail "nat without --snat: $ERR"
expect_rc 1 "$EXAMPLES_BIN/vnet-nf" --mode nat --snat 10.9.0
grep -q -- "--snat: expected an IPv4 address a.b.c.d, got '10.9.0'" <<<"$ERR" \
    || fail "bad --snat: $ERR"
pass "bad NAT options are refused"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
source "$VNET_SOURCE/examples/traffic/veth-chain.sh"
NAME=vnt$$
on_exit chain_destroy "$NAME"
chain_create "$NAME" nf

nf_start "$T" --mode nat --snat 10.9.0.100
on_exit "stop_pid $NF_PID"
sink_start "$T/sink.json" --dev eth0 --dst 10.9.0.2 --tcp-listen 5001
on_exit "stop_pid $SINK_PID"

gen_run "$T/gen.json" --seq --rate 3000 --flows 4 --sport 20000-20003 --duration 1s \
    --seed 3
ip netns exec "$GEN_NS" "$EXAMPLES_BIN/vnet-gen" --tcp 10.9.0.2:5001 --rate 3000 \
    --duration 1.5s >"$T/tcp.json" || fail "TCP through the NAT: $(cat "$T/tcp.json")"
sleep 0.3
kill -TERM "$SINK_PID"; wait "$SINK_PID"
expect_rc 0 nf_ctl "$T" stats
echo "$OUT" >"$T/stats.json"

python3 - "$T/gen.json" "$T/sink.json" "$T/tcp.json" "$T/stats.json" <<'PY'
import json, sys
gen, sink, tcp, st = (json.load(open(p)) for p in sys.argv[1:5])
udp = [f for f in sink["flows"] if f["proto"] == "udp"]
assert len(udp) == 4, sink["flows"]
ports = set()
for f in udp:
    assert f["src"] == "10.9.0.100", f                 # rewritten source address
    assert 1024 <= f["sport"] <= 65535 and not 20000 <= f["sport"] <= 20003, f
    assert f["bad_csum"] == 0 and f["seq"]["lost"] == 0, f
    ports.add(f["sport"])
assert len(ports) == 4
by_flow = {f["seq"]["flow"]: f["packets"] for f in udp}
assert by_flow == {f["flow"]: f["sent"] for f in gen["flows"]}, (by_flow, gen["flows"])

tcp_flows = [f for f in sink["flows"] if f["proto"] == "tcp"]
assert tcp_flows and all(f["src"] == "10.9.0.100" and f["bad_csum"] == 0
                         for f in tcp_flows), tcp_flows
conns = sink["tcp"]
assert len(conns) == 1 and conns[0]["peer"].startswith("10.9.0.100:"), conns
assert tcp["bytes"] > 1000000 and conns[0]["bytes"] == tcp["bytes"], (tcp, conns)
assert "error" not in tcp, tcp

nat = st["nat"]
assert nat["ip"] == "10.9.0.100" and nat["mappings"] >= 5, nat
assert nat["arp_replies"] >= 1, nat
assert st["reverse"]["tx"] > 1000, st                 # the TCP ACKs came back
assert st["forward"]["tail_drops"] == 0 and st["forward"]["tx_errors"] == 0, st
PY
pass "NAT: UDP rewritten to 10.9.0.100 with clean checksums; TCP $(json_get "$T/tcp.json" 'j["bytes"]') bytes through it"

# The sink learnt the NAT address from proxy ARP: the NF's out MAC.
nf_mac=$(ip netns exec "$NF_NS" cat /sys/class/net/eth1/address)
ip -n "$SINK_NS" neigh show 10.9.0.100 | grep -q "$nf_mac" \
    || fail "sink's neighbour entry for 10.9.0.100: $(ip -n "$SINK_NS" neigh show)"
pass "proxy ARP answered with the NF's MAC"
