#!/bin/bash
# bench-nf.sh -- forwarding rate of vnet-nf on veths, as a ratio to a direct veth.
#
# Usage: tests/bench/bench-nf.sh BUILD_DIR [MODE...]     (root; default modes: forward nat)
#
# For each setup it searches the highest offered rate (64-byte frames, 66 with the
# sequence stamp) that vnet-sink receives with zero loss in a 1 s run: doubling from
# BENCH_START pps (default 20000) until loss, then bisecting BENCH_STEPS times
# (default 4).  Setups, in the same run and on the same machine:
#   direct         vnet-gen -- veth -- vnet-sink            (the baseline)
#   nf-MODE        vnet-gen -- veth -- vnet-nf -- veth -- vnet-sink
# and also reports the sink's latency p50 at BENCH_LAT_PPS (default 10000) pps.
# Figures are printed as ratios against the baseline: absolute numbers on a shared
# 2-core machine say little.  When the generator cannot reach an offered rate (its
# achieved rate < 97% of the target), the search stops there and the figure is
# marked ">=" (generator-bound).  No assertions: this is a measurement, not a test.
set -euo pipefail
build=${1:?usage: bench-nf.sh BUILD_DIR [MODE...]}
shift
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(forward nat)
[ "$(id -u)" = 0 ] || { echo "bench-nf.sh: needs root (network namespaces)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/../.." && pwd)
EXAMPLES_BIN=$(cd "$build/examples" && pwd)
source "$top/examples/traffic/veth-chain.sh"
start=${BENCH_START:-20000}
steps=${BENCH_STEPS:-4}
lat_pps=${BENCH_LAT_PPS:-10000}

W=$(mktemp -d /tmp/vnet-bench.XXXXXX)
NAME=vnb$$
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    chain_destroy "$NAME"
    rm -rf "$W"
}
trap cleanup EXIT

# trial RATE -> prints "LOSS ACHIEVED_PPS P50_US"
trial() {
    local rate=$1
    sink_start "$W/sink.json" --dev eth0 --dst 10.9.0.2
    gen_run "$W/gen.json" --seq --rate "$rate" --duration 1s
    sleep 0.2
    kill -TERM "$SINK_PID"
    wait "$SINK_PID"
    python3 - "$W/gen.json" "$W/sink.json" <<'PY'
import json, sys
gen, sink = (json.load(open(p)) for p in sys.argv[1:3])
flows = sink["flows"]
lost = gen["sent"] - sum(f["packets"] for f in flows)
p50 = flows[0]["latency_us"]["p50"] if flows else 0
print(max(lost, 0), round(gen["rate_pps"]), p50)
PY
}

# search LABEL -> sets RESULT (pps) and BOUND ("" or ">=")
search() {
    local label=$1 lo=0 hi=0 rate=$start loss achieved p50
    BOUND=""
    while :; do
        read -r loss achieved p50 < <(trial "$rate")
        printf '  %-12s offered %7d pps: achieved %7d, lost %d\n' "$label" "$rate" \
            "$achieved" "$loss" >&2
        if [ "$loss" -gt 0 ]; then
            hi=$rate
            break
        fi
        lo=$rate
        if [ "$achieved" -lt $((rate * 97 / 100)) ]; then
            BOUND=">="
            lo=$achieved
            break
        fi
        rate=$((rate * 2))
    done
    if [ -z "$BOUND" ]; then
        local i
        for ((i = 0; i < steps; i++)); do
            rate=$(((lo + hi) / 2))
            read -r loss achieved p50 < <(trial "$rate")
            printf '  %-12s offered %7d pps: achieved %7d, lost %d\n' "$label" "$rate" \
                "$achieved" "$loss" >&2
            if [ "$loss" -gt 0 ]; then hi=$rate; else lo=$rate; fi
        done
    fi
    RESULT=$lo
}

latency() {
    local loss achieved p50
    read -r loss achieved p50 < <(trial "$lat_pps")
    LATENCY=$p50
}

declare -A rate bound lat
echo "== direct veth (baseline)" >&2
chain_create "$NAME" direct
search direct
rate[direct]=$RESULT; bound[direct]=$BOUND
latency; lat[direct]=$LATENCY
chain_destroy "$NAME"

chain_create "$NAME" nf
for mode in "${modes[@]}"; do
    echo "== vnet-nf --mode $mode" >&2
    args=(--mode "$mode")
    case $mode in
    nat) args+=(--snat 10.9.0.100) ;;
    firewall) for p in 1 2 3 4 5 6 7 8; do args+=(--deny "tcp,*,*,*,$p"); done ;;
    shaper) echo "bench-nf.sh: shaper is rate-limited by design; skipped" >&2; continue ;;
    esac
    nf_start "$W" "${args[@]}"
    pids+=("$NF_PID")
    search "nf-$mode"
    rate[nf-$mode]=$RESULT; bound[nf-$mode]=$BOUND
    latency; lat[nf-$mode]=$LATENCY
    kill -TERM "$NF_PID"; wait "$NF_PID" || true
    pids=()
done

base=${rate[direct]}
printf '\nvnet-nf forwarding on veths (64 B frames, zero-loss rate, 1 s trials)\n'
printf '%-14s %-12s %-10s %s\n' setup "rate/base" "p50/base" "(absolute: pps, p50 us)"
for setup in direct "${modes[@]/#/nf-}"; do
    [ -n "${rate[$setup]:-}" ] || continue
    python3 - "$setup" "${bound[$setup]}" "${bound[direct]}" "${rate[$setup]}" "$base" \
        "${lat[$setup]}" "${lat[direct]}" <<'PY'
import sys
setup, bound, bbound = sys.argv[1:4]
r, base, l, lbase = map(float, sys.argv[4:])
# A generator-bound baseline is a lower bound, so ratios against it are upper bounds.
rel = {("", ""): "", (">=", ""): ">=", ("", ">="): "<=", (">=", ">="): "~"}[bound, bbound]
if setup == "direct":
    rel = ""
print("%-14s %-12s %-10s (%s%d pps, %.1f us)" % (
    setup, "%s%.2f" % (rel, r / base), "%.2f" % (l / lbase if lbase else 0),
    bound, r, l))
PY
done
