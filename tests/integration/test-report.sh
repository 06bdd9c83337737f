#!/bin/bash
# ctest: timeout=300 labels=report
# HTML reports, rendered in headless Chromium: 'diagnose --offline --report X.html'
# on a simulated NF interrupt (S1) and 'shadow compare --offline --report X.html' on
# saved captures of a chain whose shadow fixes a VoIP call.  Each page must render
# (screenshot), hold the expected elements (ranked culprit bars, timelines with the
# fault window shaded, patterns, per-NF table; verdict, latency CDFs of both
# chains, per-class table, tests) and log no console error.  JSON reports stay JSON.
source "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || skip "chromium is not installed (scripts/install-deps.sh installs it)"

render() {  # render HTML PNG: screenshot and DOM of a page; fails on console errors
    local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
                 --disable-background-networking --disable-component-update --disable-sync
                 --user-data-dir="$T/chromium" --enable-logging=stderr --v=0)
    timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=1280,2400 --screenshot="$2" \
        "file://$1" >"$T/shot.out" 2>"$T/shot.err" || fail "chromium: $(tail -5 "$T/shot.err")"
    timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "file://$1" >"$T/dom.html" \
        2>"$T/dom.err" || fail "chromium --dump-dom: $(tail -5 "$T/dom.err")"
    python3 - "$2" <<'PY' || fail "screenshot $2 is not a rendered page"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", d[16:24])
assert w >= 800 and h >= 800 and len(d) > 20000, (w, h, len(d))
PY
    if grep -h "CONSOLE" "$T/shot.err" "$T/dom.err" | grep -qiE "error|uncaught"; then
        fail "console errors: $(grep -h CONSOLE "$T/shot.err" "$T/dom.err")"
    fi
}
has() {  # has NEEDLE... : the rendered DOM holds every needle
    for n in "$@"; do grep -qF -- "$n" "$T/dom.html" || fail "the page lacks '$n'"; done
}

# Diagnosis of a simulated NF interrupt.
"$VNET_BUILD/tests/sim/vnet-sim" --scenario S1 --seed 3 --out "$T/s1" >/dev/null
expect_rc 0 "$VNETCTL" diagnose --offline "$T/s1" --report "$T/diagnosis.html"
expect_rc 0 "$VNETCTL" --json diagnose --offline "$T/s1" --report "$T/diagnosis.json"
top=$(json_get "$T/out" 'j["culprits"][0]["culprit"]')
json_get "$T/diagnosis.json" 'j["culprits"][0]["culprit"]' >/dev/null \
    || fail "the .json report is not JSON"
grep -q "<svg" "$T/diagnosis.html" || fail "no SVG in the HTML report"
grep -qE "<script|https?://" "$T/diagnosis.html" && fail "the report is not self-contained"
render "$T/diagnosis.html" "$T/diagnosis.png"
has 'id="culprit-bars"' 'id="timelines"' 'class="fault"' 'id="patterns-table"' \
    'id="nf-table"' 'id="explanations"' "$top"
pass "diagnosis report: rendered ($(stat -c %s "$T/diagnosis.png") byte screenshot), culprit $top first, fault window shaded"

# A comparison from saved captures: production delays the call by up to 300 ms in
# bursts, the shadow does not; background traffic is the same in both.
mkdir -p "$T/cmp"
python3 - "$T/cmp" <<'PY'
import random, struct, sys
random.seed(7)
d = sys.argv[1]
def writer(name):
    f = open(f"{d}/{name}", "wb")
    f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 65535, 1))
    return f
def frame(sip, sport, dport, ipid, rtp, seq):
    payload = bytes([0x80, 0, seq >> 8 & 255, seq & 255]) + bytes(28) if rtp \
        else bytes([1, 2, seq >> 8 & 255, seq & 255]) + bytes(28)
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ipid, 0, 64, 17, 0,
                     bytes(sip), bytes([10, 70, 0, 20])) + udp
    return bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00" + ip
def put(f, t, fr):
    f.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(fr), len(fr)) + fr)
ing, x0, x1 = writer("ingress.pcap"), writer("exit0.pcap"), writer("exit1.pcap")
t0, pk = 1_700_000_000 * 10**9, []
for i in range(40 * 50):                       # the call: 50 pps for 40 s
    pk.append((t0 + i * 20_000_000, True, i))
for i in range(40 * 1000):                     # background: 1000 pps
    pk.append((t0 + i * 1_000_000 + 300_000, False, i))
pk.sort()
ex0, ex1 = [], []
for n, (t, rtp, seq) in enumerate(pk):
    sip, sport, dport = [10, 70, 0, 10], 10000, 5004 if rtp else 5000
    put(ing, t, frame(sip, sport, dport, n & 0xffff, rtp, seq))
    phase = (t - t0) % 2_000_000_000
    burst = 300_000_000 * max(0, 1 - phase / 600_000_000)
    base = random.randint(200_000, 900_000)
    nat = [10, 70, 0, 100]
    ex0.append((t + base + int(burst), frame(nat, 1024, dport, n & 0xffff, rtp, seq)))
    ex1.append((t + base + (0 if rtp else int(burst)), frame(nat, 1024, dport, n & 0xffff, rtp, seq)))
for f, ex in ((x0, ex0), (x1, ex1)):
    for t, fr in sorted(ex, key=lambda e: e[0]):
        put(f, t, fr)
PY
expect_rc 0 "$VNETCTL" --json shadow compare --offline "$T/cmp" --production-side 0 \
    --min-duration 30s --report "$T/compare.html"
verdict=$(json_get "$T/out" 'j["verdict"]')
[ "$verdict" = SWAP ] || fail "offline comparison verdict $verdict: $OUT"
render "$T/compare.html" "$T/compare.png"
has 'id="verdict"' '>SWAP<' 'id="cdf-voip"' 'class="cdf-production"' 'class="cdf-shadow"' \
    'id="class-table"' 'id="test-table"' 'id="clauses"'
pass "comparison report: rendered, verdict SWAP, latency CDFs of both chains per class"

expect_rc 1 "$VNETCTL" shadow compare --offline "$T/nowhere" --production-side 0
grep -q "nowhere" <<<"$ERR" || fail "missing capture directory: $ERR"
expect_rc 1 "$VNETCTL" shadow compare --offline "$T/cmp" --production-side 2
grep -q -- "--production-side" <<<"$ERR" || fail "bad production side: $ERR"
for bad in 0 150 ten -5; do
    expect_rc 1 "$VNETCTL" shadow compare --offline "$T/cmp" --latency-margin "$bad"
    grep -q -- "--latency-margin: expected a percentage" <<<"$ERR" \
        || fail "bad latency margin '$bad': $ERR"
done
expect_rc 0 "$VNETCTL" --json shadow compare --offline "$T/cmp" --min-duration 30s \
    --latency-margin 20%
[ "$(json_get "$T/out" 'j["latency_margin"]')" = 0.2 ] || fail "latency margin: $OUT"
grep -q "latency +20%" "$T/out" || fail "the margin is not in the clauses: $OUT"
pass "bad comparison input is named"
