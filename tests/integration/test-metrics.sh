#!/bin/bash
# ctest: timeout=120 labels=daemon
# vnetd's Prometheus endpoint: off by default; with --metrics on a loopback address
# it serves the text exposition format with the registry's chains; non-loopback or
# malformed addresses are refused with a message naming them.
source "$(dirname "$0")/lib.sh"
port=$((20000 + RANDOM % 20000))
scrape() {
    python3 - "$1" <<'PY'
import sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=5)
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
sys.stdout.write(r.read().decode())
PY
}
expect_rc 1 "$VNETD" --no-substrate --socket "$T/x.sock" --state-dir "$T/x" --metrics 10.1.2.3:9464
grep -q "only loopback" <<<"$ERR" || fail "non-loopback address: $ERR"
expect_rc 1 "$VNETD" --no-substrate --socket "$T/x.sock" --state-dir "$T/x" --metrics localhost
grep -q "ADDRESS:PORT" <<<"$ERR" || fail "malformed address: $ERR"
pass "non-loopback and malformed --metrics addresses are refused"

start_vnetd --no-substrate --metrics "127.0.0.1:$port"
expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
scrape "http://127.0.0.1:$port/metrics" >"$T/m1" || fail "scrape failed"
grep -qx "vnet_up 1" "$T/m1" || fail "no vnet_up: $(head "$T/m1")"
grep -qx "vnet_chains 1" "$T/m1" || fail "vnet_chains: $(cat "$T/m1")"
grep -qx 'vnet_chain_running{chain="fw-nat-vpn"} 0' "$T/m1" || fail "chain state: $(cat "$T/m1")"
grep -q '^# TYPE vnet_swaps_total counter' "$T/m1" || fail "no TYPE lines"
python3 - "$T/m1" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
        continue
    assert re.fullmatch(r'[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-0-9.e+]+', line), line
PY
"$VNETCTL" status >/dev/null || fail "vnetd stopped answering its socket"
pass "metrics served on 127.0.0.1:$port in the exposition format"
