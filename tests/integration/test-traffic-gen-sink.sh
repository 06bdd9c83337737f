#!/bin/bash
# vnet-gen and vnet-sink over one veth pair (no NF): per-flow counts agree for
# Pareto-weighted flows, a burst, an RTP stream and Poisson arrivals; --count and
# --duration stop them; the sink's --dport filter and its SIGINT summary work; TCP
# mode reports matching byte counts; bad options get clear usage errors.
# ctest: timeout=120 labels=traffic;netns
source "$(dirname "$0")/lib.sh"
EXAMPLES_BIN=$VNET_BUILD/examples
GEN=$EXAMPLES_BIN/vnet-gen
SINK=$EXAMPLES_BIN/vnet-sink

expect_rc 1 "$GEN" --dev eth0 --src 10.0.0.1 --dst 10.0.0.2
grep -q -- "--dev: raw mode needs --dst-mac, --src and --dst" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$GEN" --dev eth0 --dst-mac 02:00:00:00:00:01 --src 10.0.0.1 --dst 10.0.0.2 \
    --burst "flow=5,rate=10,duration=10,at=0"
grep -q -- "--burst: flow=5, but there are only 1 flows (0..0)" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$GEN" --dev eth0 --dst-mac 02:00:00:00:00:01 --src 10.0.0.1 --dst 10.0.0.2 \
    --seq --size 60
grep -q -- "--size: expected 66..1514 bytes with --seq, got 60" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$GEN" --dev eth0 --dst-mac 02:00:00:00:00:01 --src 10.0.0.1 --dst 10.0.0.2 \
    --flows 10 --sport 1 --dport 1-5
grep -q -- "--flows: 10 flows need as many (sport, dport) pairs; --sport and --dport give 5" \
    <<<"$ERR" || fail "$ERR"
expect_rc 1 "$GEN" --tcp 10.0.0.1 --duration 1s
grep -q -- "--tcp: expected IPV4:PORT, got '10.0.0.1'" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$GEN" --dev eth0 --tcp 10.0.0.1:5
expect_rc 1 "$GEN" --rate 10
grep -q "expected exactly one of --dev IFACE (raw mode) or --tcp IP:PORT" <<<"$ERR" \
    || fail "$ERR"
expect_rc 1 "$SINK"
grep -q "expected --dev IFACE and/or --tcp-listen PORT" <<<"$ERR" || fail "$ERR"
expect_rc 1 "$SINK" --dev eth0 --interval 0
expect_rc 1 "$SINK" --dev nosuchdev0
grep -q "vnet-sink: --dev 'nosuchdev0'" <<<"$ERR" || fail "$ERR"
expect_rc 0 "$GEN" --help
expect_rc 0 "$SINK" --help
pass "usage errors name the option and what was expected"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
source "$VNET_SOURCE/examples/traffic/veth-chain.sh"
NAME=vnt$$
on_exit chain_destroy "$NAME"
chain_create "$NAME" direct

# Pareto flows + a burst on flow 1 + RTP, paced; the sink stops by itself.
sink_start "$T/s1.json" --dev eth0 --duration 2.5s
on_exit "stop_pid $SINK_PID"
gen_run "$T/g1.json" --seq --rate 2000 --flows 20 --sport 40000-40019 --rtp \
    --burst "flow=1,rate=5000,duration=200000,at=500" --duration 1.5s --seed 9
wait "$SINK_PID"
python3 - "$T/g1.json" "$T/s1.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
assert gen["errors"] == 0 and len(gen["flows"]) == 20, gen
assert 995 <= gen["bursts"][0]["sent"] <= 1001, gen["bursts"]
assert 74 <= gen["rtp"]["sent"] <= 76, gen["rtp"]
shares = sorted((f["share"] for f in gen["flows"]), reverse=True)
assert shares[0] > 3 * shares[-1], shares               # heavy-tailed weights
got = {f["sport"]: f for f in sink["flows"]}
for f in gen["flows"]:
    s = got[f["sport"]]
    assert s["packets"] == f["sent"], (f, s)
    assert s["seq"]["lost"] == 0 and s["seq"]["flow"] == f["flow"], s
rtp = got[5004]
assert rtp["seq"]["kind"] == "rtp" and rtp["packets"] == gen["rtp"]["sent"], rtp
assert abs(rtp["rate_pps"] - 50) < 1 and rtp["jitter_us"] < 5000, rtp
assert sink["rx"] == gen["sent"], (sink["rx"], gen["sent"])
PY
pass "flows, burst and RTP: every packet accounted to its flow"

# Poisson arrivals with --count; the sink filters on --dport and stops on SIGINT.
sink_start "$T/s2.json" --dev eth0 --dport 10 --dst 10.9.0.2
gen_run "$T/g2.json" --seq --poisson --rate 5000 --flows 2 --sport 1000 --dport 9-10 \
    --count 5000
sleep 0.2
kill -INT "$SINK_PID"; wait "$SINK_PID"
python3 - "$T/g2.json" "$T/s2.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
assert gen["sent"] == 5000, gen
assert 0.8 <= gen["duration_s"] <= 1.25, gen             # ~1 s of Poisson(5000/s)
sent10 = [f["sent"] for f in gen["flows"] if f["dport"] == 10][0]
assert [f["dport"] for f in sink["flows"]] == [10], sink["flows"]
assert sink["flows"][0]["packets"] == sent10 and sink["filtered"] >= 5000 - sent10, sink
PY
pass "Poisson + --count; sink --dport filter and SIGINT summary"

# --rate R --duration D sends R * D packets even when the generator wakes late:
# stopped for 1 s from 0.3 s into a 1 s run, it sends what was due on resuming
# (it once stopped at the clock's deadline, one packet short of 48000 in 24 s).
sink_start "$T/s4.json" --dev eth0 --duration 3s
on_exit "stop_pid $SINK_PID"
ip netns exec "$GEN_NS" "$EXAMPLES_BIN/vnet-gen" --dev eth0 --dst-mac "$SINK_MAC" \
    --src 10.9.0.1 --dst 10.9.0.2 --out "$T/g4.json" --seq --rate 1000 --duration 1s \
    >/dev/null &
GEN_PID=$!
sleep 0.3
kill -STOP "$GEN_PID"
sleep 1
kill -CONT "$GEN_PID"
wait "$GEN_PID"
wait "$SINK_PID"
python3 - "$T/g4.json" "$T/s4.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
assert gen["sent"] == 1000 and gen["errors"] == 0, gen
assert sink["rx"] == 1000 and sink["flows"][0]["seq"]["lost"] == 0, sink
PY
pass "a generator stopped past its deadline still sends rate x duration packets"

# TCP: byte counts on both ends agree.
sink_start "$T/s3.json" --tcp-listen 5001
ip netns exec "$GEN_NS" "$GEN" --tcp 10.9.0.2:5001 --count 2000 --size 1000 >"$T/g3.json"
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
python3 - "$T/g3.json" "$T/s3.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
assert gen["writes"] == 2000 and gen["bytes"] == 2000000, gen
assert [c["bytes"] for c in sink["tcp"]] == [2000000], sink["tcp"]
assert sink["tcp"][0]["peer"].startswith("10.9.0.1:"), sink["tcp"]
PY
expect_rc 1 ip netns exec "$GEN_NS" "$GEN" --tcp 10.9.0.2:5002 --count 1
grep -q "vnet-gen: --tcp 10.9.0.2:5002: connect: Connection refused" <<<"$ERR" || fail "$ERR"
pass "TCP mode: 2000000 bytes sent and received; refused connection reported"
