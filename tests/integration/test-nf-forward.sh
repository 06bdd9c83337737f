#!/bin/bash
# vnet-nf in forward mode between two veths (gen -- nf -- sink namespaces): a
# numbered stream and an RTP stream pass with no loss, duplicates, reordering or bad
# checksums; the NF's counters and its --log-times ground truth agree with the
# generator; it sets a down interface up; interfaces are promiscuous only while it
# runs; SIGTERM stops it fast.
# ctest: timeout=120 labels=nf;netns
source "$(dirname "$0")/lib.sh"
EXAMPLES_BIN=$VNET_BUILD/examples
NF=$EXAMPLES_BIN/vnet-nf

expect_rc 1 "$NF" --mode bogus
[ "$ERR" = "vnet-nf: --mode: expected forward, firewall, nat or shaper, got 'bogus' (see --help)" ] \
    || fail "bad mode: $ERR"
expect_rc 1 "$NF" --in eth0 --out eth0
grep -q -- "--in and --out: must be different interfaces, both are 'eth0'" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$NF" --queue 0
grep -q -- "--queue: expected an integer 1..65536, got '0'" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$NF" --command stats
grep -q -- "--command: needs --control PATH" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$NF" --control "$T/none.sock" --command stats
[ "$ERR" = "vnet-nf: --control '$T/none.sock': No such file or directory" ] || fail "$ERR"
expect_rc 1 "$NF" --in nosuch0 --out nosuch1
[ "$ERR" = "vnet-nf: interface 'nosuch0': No such device" ] || fail "missing interface: $ERR"
expect_rc 0 "$NF" --help
pass "usage errors name the option and what was expected"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
source "$VNET_SOURCE/examples/traffic/veth-chain.sh"
NAME=vnt$$
on_exit chain_destroy "$NAME"
chain_create "$NAME" nf

# A container NIC without an address starts down: the NF sets it up.
ip -n "$NF_NS" link set eth1 down
nf_start "$T" --mode forward --log-times "$T/times.bin"
on_exit "stop_pid $NF_PID"
ip -n "$NF_NS" link show eth1 | grep -q "state UP" || fail "eth1 not set up: $(ip -n "$NF_NS" link show eth1)"
# Packet-socket membership counts in 'promiscuity' (not in the user-set PROMISC flag).
promisc() { ip -d -n "$NF_NS" link show "$1" | grep -o 'promiscuity [0-9]*'; }
[ "$(promisc eth0)" = "promiscuity 1" ] || fail "eth0 not promiscuous while running"
[ "$(promisc eth1)" = "promiscuity 1" ] || fail "eth1 not promiscuous while running"

sink_start "$T/sink.json" --dev eth0 --dst 10.9.0.2
on_exit "stop_pid $SINK_PID"
gen_run "$T/gen.json" --seq --rate 5000 --flows 3 --dport 9-11 --sport 10000 \
    --duration 2s --rtp --seed 1
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"

python3 - "$T/gen.json" "$T/sink.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
assert gen["errors"] == 0, gen
assert 9900 <= gen["sent"] - gen["rtp"]["sent"] <= 10100, gen
sent = {(f["sport"], f["dport"]): f["sent"] for f in gen["flows"]}
sent[(5004, 5004)] = gen["rtp"]["sent"]
got = {(f["sport"], f["dport"]): f for f in sink["flows"]}
assert set(got) == set(sent), (got.keys(), sent)
for key, f in got.items():
    q = f["seq"]
    assert f["src"] == "10.9.0.1" and f["dst"] == "10.9.0.2", f
    assert f["packets"] == sent[key], (key, f, sent[key])
    assert q["lost"] == 0 and q["duplicates"] == 0 and q["reordered"] == 0, f
    assert f["bad_csum"] == 0, f
    assert f["latency_us"]["n"] == f["packets"], f
assert got[(5004, 5004)]["seq"]["kind"] == "rtp"
assert sink["kernel_drops"] == 0, sink
PY
pass "forward: $(json_get "$T/gen.json" 'j["sent"]') packets, no loss, dup, reordering or bad checksum"

expect_rc 0 nf_ctl "$T" stats
python3 - "$T/gen.json" <<PY
import json, sys
s = json.loads('''$OUT''')
gen = json.load(open(sys.argv[1]))
f = s["forward"]
# A few frames besides the generator's may cross (ARP); nothing may be lost.
assert gen["sent"] <= f["rx"] <= gen["sent"] + 10, (s, gen["sent"])
assert f["tx"] == f["rx"], s
for k in ("tail_drops", "policy_drops", "fault_drops", "tx_errors", "oversize"):
    assert f[k] == 0 and s["reverse"][k] == 0, (k, s)
assert s["mode"] == "forward" and s["queue"]["capacity"] == 1024, s
PY
pass "NF counters match the generator"

# SIGTERM: stops within 0.5 s, prints its counters, leaves the interfaces as they were.
t0=$(date +%s%N)
kill -TERM "$NF_PID"
wait "$NF_PID"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -lt 500 ] || fail "vnet-nf took $ms ms to stop after SIGTERM"
json_get "$T/nf.json" 'j["forward"]["tx"]' >/dev/null || fail "no final JSON: $(cat "$T/nf.json")"
[ "$(promisc eth0)" = "promiscuity 0" ] || fail "eth0 left promiscuous"
[ "$(promisc eth1)" = "promiscuity 0" ] || fail "eth1 left promiscuous"
[ -e "$T/nf.sock" ] && fail "control socket left behind"
pass "SIGTERM: stopped in $ms ms, interfaces restored"

# The ground truth: one record per packet, arrival <= departure, the identities of
# the generator's packets, queue lengths plausible.
python3 - "$T/times.bin" "$T/gen.json" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
gen = json.load(open(sys.argv[2]))
assert data[:8] == b"VNFTLOG1", data[:16]
size, _ = struct.unpack("<II", data[8:16])
assert size == 48 and (len(data) - 16) % 48 == 0
recs = [struct.unpack("<QQIIIHHHHHBBB3xI", data[16 + i * 48:16 + (i + 1) * 48])
        for i in range((len(data) - 16) // 48)]
udp = [r for r in recs if r[10] == 17 and r[2] == 0x0a090001]
assert len(udp) == gen["sent"], (len(udp), gen["sent"])
ids = set()
for (t_arr, t_done, sip, dip, xip, sport, dport, xport, ipid, ln, proto, status, d, q) in udp:
    assert status == 0 and d == 0, (status, d)
    assert 0 < t_arr <= t_done < t_arr + 1_000_000_000, (t_arr, t_done)
    assert dip == 0x0a090002 and xip == 0 and xport == 0
    assert q < 1024
    ids.add(ipid)
assert len(ids) == len(udp), "IP IDs of the generator are distinct"
lat = sorted(r[1] - r[0] for r in udp)
print("NF latency from the ground truth: p50 %.1f us, p99 %.1f us"
      % (lat[len(lat) // 2] / 1e3, lat[len(lat) * 99 // 100] / 1e3))
PY
pass "--log-times: one record per packet, consistent"
