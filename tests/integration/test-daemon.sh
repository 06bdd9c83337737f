#!/bin/bash
# vnetd + vnetctl end to end: load/list/show/delete chains, clear errors for bad
# templates and bad requests with the daemon still up, kill -9 and restart with the
# registry intact, and a corrupt state file reported and recovered from.
source "$(dirname "$0")/lib.sh"

start_vnetd --no-substrate
expect_rc 0 "$VNETCTL" status
grep -q "chains:  0" <<<"$OUT" || fail "fresh daemon should have no chains: $OUT"
pass "vnetd starts and answers"

expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/lb-2fw-vpn.json"
expect_rc 0 "$VNETCTL" --json chain show fw-nat-vpn
python3 - "$T/out" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["name"] == "fw-nat-vpn", c
assert [n["name"] for n in c["template"]["nodes"]] == ["fw", "nat", "vpn"]
assert c["template"]["graph"]["edges"][0] == ["ingress", "fw"]
PY
pass "chain load + --json chain show"

expect_rc 2 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
grep -q "already loaded" <<<"$ERR" || fail "duplicate load: $ERR"

sed 's/"cpus": 1/"cpus": "two"/' "$VNET_SOURCE/templates/chains/fw-nat-vpn.json" >"$T/fw-nat.json"
expect_rc 2 "$VNETCTL" chain load "$T/fw-nat.json"
[ "$ERR" = 'vnetctl: fw-nat.json: $.nodes[0].cpus: expected integer 1..64, got "two"' ] \
    || fail "bad template message: $ERR"
printf '{"name": "x",' >"$T/torn.json"
expect_rc 2 "$VNETCTL" chain load "$T/torn.json"
grep -q 'torn.json: invalid JSON at line 1' <<<"$ERR" || fail "torn template: $ERR"
expect_rc 1 "$VNETCTL" chain load "$T/missing.json"
grep -q "missing.json: No such file" <<<"$ERR" || fail "missing file: $ERR"
expect_rc 2 "$VNETCTL" chain show nosuch
expect_rc 1 "$VNETCTL" chain show
grep -q "takes 1 argument" <<<"$ERR" || fail "arity message: $ERR"
expect_rc 1 "$VNETCTL" frobnicate
expect_rc 1 "$VNETCTL" chain show 'Bad Name' --bogus
expect_rc 0 "$VNETCTL" status
pass "bad input gets clear errors and vnetd stays up"

# Raw garbage on the socket: the daemon answers with errors and keeps serving.
python3 - "$VNET_SOCKET" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'\x00\xffgarbage\n{"jsonrpc":"2.0","id":1,"method":"chain/show","params":{"name":"../etc"}}\n'
          b'{"jsonrpc":"2.0","id":2,"method":"chain/list"}\n')
buf = b""
while buf.count(b"\n") < 3:
    d = s.recv(65536)
    assert d, "server closed"
    buf += d
r = [json.loads(l) for l in buf.split(b"\n") if l]
assert r[0]["error"]["code"] == -32700, r[0]
assert "expected a name" in r[1]["error"]["message"], r[1]
assert len(r[2]["result"]) == 2, r[2]
PY
pass "garbage on the socket is answered, not fatal"

# kill -9 and restart: the registry survives.
kill -KILL "$VNETD_PID"
for _ in $(seq 50); do kill -0 "$VNETD_PID" 2>/dev/null || break; sleep 0.1; done
expect_rc 1 "$VNETCTL" chain list
grep -q "is vnetd running" <<<"$ERR" || fail "no-daemon message: $ERR"
start_vnetd --no-substrate
expect_rc 0 "$VNETCTL" chain list
grep -q fw-nat-vpn <<<"$OUT" && grep -q lb-2fw-vpn <<<"$OUT" || fail "after kill -9: $OUT"
pass "kill -9 + restart keeps the chains"

expect_rc 0 "$VNETCTL" chain delete lb-2fw-vpn
expect_rc 0 "$VNETCTL" log set "control:dbg"
expect_rc 2 "$VNETCTL" log set "nosuch:dbg"
stop_pid "$VNETD_PID"

# A corrupt state file is reported and the last good copy restored, not reset.
printf '{"format": "vnet-state", "trunc' >"$T/state/state.json"
start_vnetd --no-substrate
expect_rc 0 "$VNETCTL" status
grep -q "restored the last good state" <<<"$OUT" || fail "recovery notice: $OUT"
ls "$T/state" | grep -q 'state.json.corrupt-' || fail "corrupt copy not kept"
expect_rc 0 "$VNETCTL" chain list
grep -q fw-nat-vpn <<<"$OUT" || fail "restored registry: $OUT"
stop_pid "$VNETD_PID"

# No good copy: vnetd refuses to start rather than silently starting empty.
printf 'junk' >"$T/state/state.json"
printf 'junk' >"$T/state/state.json.bak"
expect_rc 1 "$VNETD" --socket "$T/v2.sock" --state-dir "$T/state"
grep -q -- "--reset-state" <<<"$ERR" || fail "refusal message: $ERR"
pass "corrupt state detected, reported, never silently reset"
