#!/bin/bash
# vnet-nf --mode firewall between two veths: the denied flow (udp dport 9) never
# reaches the sink and is counted as policy drops; the allowed flow passes whole;
# bad rules are refused at start with a message naming the field.
# ctest: timeout=120 labels=nf;netns
source "$(dirname "$0")/lib.sh"
EXAMPLES_BIN=$VNET_BUILD/examples

expect_rc 1 "$EXAMPLES_BIN/vnet-nf" --mode firewall --deny "udp,*,*,*,99999"
[ "$ERR" = "vnet-nf: --deny: rule 'udp,*,*,*,99999': dport: expected a port 0..65535, a range lo-hi or '*', got '99999' (see --help)" ] \
    || fail "bad rule message: $ERR"
expect_rc 1 "$EXAMPLES_BIN/vnet-nf" --mode forward --deny "udp,*,*,*,9"
grep -q -- "--deny: only with --mode firewall" <<<"$ERR" || fail "deny without firewall: $ERR"
pass "bad rules are refused with a clear message"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
source "$VNET_SOURCE/examples/traffic/veth-chain.sh"
NAME=vnt$$
on_exit chain_destroy "$NAME"
chain_create "$NAME" nf

nf_start "$T" --mode firewall --deny "udp,*,*,*,9" --deny "tcp,10.0.0.0/8,*,*,22"
on_exit "stop_pid $NF_PID"
sink_start "$T/sink.json" --dev eth0 --dst 10.9.0.2
on_exit "stop_pid $SINK_PID"
# Two flows: flow 0 to port 9 (denied), flow 1 to port 10 (allowed).
gen_run "$T/gen.json" --seq --rate 3000 --flows 2 --sport 10000 --dport 9-10 \
    --duration 1.5s --seed 2
sleep 0.2
kill -TERM "$SINK_PID"; wait "$SINK_PID"
expect_rc 0 nf_ctl "$T" stats
echo "$OUT" >"$T/stats.json"

python3 - "$T/gen.json" "$T/sink.json" "$T/stats.json" <<'PY'
import json, sys
gen, sink, st = (json.load(open(p)) for p in sys.argv[1:4])
sent = {f["dport"]: f["sent"] for f in gen["flows"]}
assert sent[9] > 0 and sent[10] > 0, gen
got = {f["dport"]: f for f in sink["flows"]}
assert 9 not in got, ("denied flow reached the sink", got[9])
f = got[10]
assert f["packets"] == sent[10] and f["seq"]["lost"] == 0, (f, sent)
fw = st["forward"]
assert fw["policy_drops"] == sent[9], (st, sent)
assert fw["tail_drops"] == 0 and fw["fault_drops"] == 0, st
assert fw["tx"] == fw["rx"] - fw["policy_drops"], st
assert st["deny"] == ["udp,*,*,*,9", "tcp,10.0.0.0/8,*,*,22"], st
PY
pass "firewall: dport 9 dropped ($(json_get "$T/stats.json" 'j["forward"]["policy_drops"]') policy drops), dport 10 passed whole"
