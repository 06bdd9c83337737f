#!/bin/bash
# vnet-nf's control socket on a live NF between two veths: "pause 50000" raises the
# sink's latency p99 by >= 40 ms in the interval where the stall drains; "drop 0.5"
# drops about half, counted as fault drops and seen as loss by the sink; "slow"
# needs a peak rate; bad commands are rejected, change nothing, and the NF keeps
# forwarding; "reset" zeroes the counters.
# ctest: timeout=120 labels=nf;netns
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
source "$VNET_SOURCE/examples/traffic/veth-chain.sh"
EXAMPLES_BIN=$VNET_BUILD/examples
NAME=vnt$$
on_exit chain_destroy "$NAME"
chain_create "$NAME" nf

nf_start "$T" --mode forward --seed 5
on_exit "stop_pid $NF_PID"

# 1. pause: a 50 ms stall at 2000 pps queues ~100 packets that leave together.
sink_start "$T/pause.json" --dev eth0 --dst 10.9.0.2 --interval 100ms
on_exit "stop_pid $SINK_PID"
gen_run "$T/gen-pause.json" --seq --rate 2000 --duration 3s &
GEN_PID=$!
sleep 1.5
expect_rc 0 nf_ctl "$T" "pause 50000"
[ "$OUT" = ok ] || fail "pause: $OUT"
wait "$GEN_PID" || fail "vnet-gen failed"
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
python3 - "$T/pause.json" <<'PY'
import json, statistics, sys
s = json.load(open(sys.argv[1]))
iv = [i for i in s["intervals"] if i["n_lat"] >= 50]
p99 = [i["p99_us"] for i in iv]
base = statistics.median(p99)
peak = max(p99)
print("latency p99 per 100 ms: baseline %.0f us, during the pause %.0f us" % (base, peak))
assert peak - base >= 40000, (base, peak, iv)
assert sum(1 for v in p99 if v - base >= 40000) <= 2, iv    # one stall, not many
f = s["flows"][0]
assert f["seq"]["lost"] == 0, f                             # queued, not dropped
PY
expect_rc 0 nf_ctl "$T" stats
python3 -c "import json,sys; s=json.loads(sys.argv[1]); assert s['queue']['max'] >= 80, s" "$OUT" \
    || fail "queue did not build up during the pause: $OUT"
pass "pause 50000: sink latency p99 +>= 40 ms in the stall's interval, no loss"

# 2. drop 0.5 for a fixed number of packets.
expect_rc 0 nf_ctl "$T" reset
expect_rc 0 nf_ctl "$T" "drop 0.5"
sink_start "$T/drop.json" --dev eth0 --dst 10.9.0.2
gen_run "$T/gen-drop.json" --seq --rate 4000 --count 4000
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
expect_rc 0 nf_ctl "$T" stats
echo "$OUT" >"$T/drop-stats.json"
python3 - "$T/drop.json" "$T/drop-stats.json" <<'PY'
import json, sys
s, st = (json.load(open(p)) for p in sys.argv[1:3])
drops = st["forward"]["fault_drops"]
got = s["flows"][0]["packets"]
assert 1800 <= drops <= 2200, st                            # 2000 +- 6 sigma
assert got + drops == 4000, (got, drops)
assert st["faults"]["drop_ratio"] == 0.5, st
print("drop 0.5: %d of 4000 dropped" % drops)
PY
expect_rc 0 nf_ctl "$T" "drop 0"
pass "drop 0.5: about half dropped, counted as fault drops"

# 3. Bad commands: clear errors, nothing changes, the NF keeps forwarding.
expect_rc 2 nf_ctl "$T" "slow 3 100"
[ "$OUT" = "error: slow needs a finite peak rate; set one first with 'peak <pps>'" ] \
    || fail "slow without a peak: $OUT"
expect_rc 2 nf_ctl "$T" "drop 2"
[ "$OUT" = "error: usage: drop <ratio>: drop this fraction (0..1) of served packets" ] \
    || fail "drop 2: $OUT"
expect_rc 2 nf_ctl "$T" "queue 0"
expect_rc 2 nf_ctl "$T" "explode now"
grep -q "^error: unknown command 'explode'" <<<"$OUT" || fail "unknown command: $OUT"
expect_rc 2 nf_ctl "$T" ""
python3 - "$T/nf.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"\x00\xff\xfegarbage\n" + b"x" * 1000 + b"\nstats\n")
buf = b""
while buf.count(b"\n") < 3:
    d = s.recv(65536)
    assert d, "NF closed the connection"
    buf += d
lines = buf.split(b"\n")
assert lines[0] == b"error: not a text command", lines[0]
assert lines[1] == b"error: command longer than 255 bytes", lines[1]
assert lines[2].startswith(b"{"), lines[2]
PY
expect_rc 0 nf_ctl "$T" stats
python3 -c "
import json, sys; s = json.loads(sys.argv[1])
assert s['faults']['drop_ratio'] == 0 and s['peak_pps'] == 0, s
assert s['queue']['capacity'] == 1024, s" "$OUT" || fail "a bad command changed state: $OUT"
sink_start "$T/after.json" --dev eth0 --dst 10.9.0.2
gen_run "$T/gen-after.json" --seq --rate 3000 --count 3000
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
[ "$(json_get "$T/after.json" 'j["flows"][0]["packets"]')" = 3000 ] \
    || fail "NF lost packets after bad commands: $(cat "$T/after.json")"
pass "bad commands rejected, state unchanged, forwarding intact"

# 4. slow with a peak rate, and queue resizing.
expect_rc 0 nf_ctl "$T" "peak 3000"
expect_rc 0 nf_ctl "$T" "slow 2 5000"
expect_rc 0 nf_ctl "$T" "queue 64"
expect_rc 0 nf_ctl "$T" stats
python3 -c "
import json, sys; s = json.loads(sys.argv[1])
assert s['faults']['slow_factor'] == 2 and s['faults']['slow_ms_left'] > 4000, s
assert s['queue']['capacity'] == 64 and s['peak_pps'] == 3000, s" "$OUT" || fail "$OUT"
sink_start "$T/slow.json" --dev eth0 --dst 10.9.0.2
gen_run "$T/gen-slow.json" --seq --rate 3000 --duration 1s
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
python3 - "$T/slow.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["flows"][0]
assert abs(f["rate_pps"] - 1500) <= 75, f       # peak 3000 / factor 2
PY
pass "slow 2 at peak 3000 serves 1500 pps; queue resized"
