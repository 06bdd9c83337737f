#!/bin/bash
# bench-shadow.sh -- Shadow VNets on the real substrate: clone time, swap losses and
# duplicates, swap time, and what a shadow costs production.
#
# Usage: tests/bench/bench-shadow.sh BUILD_DIR      (root; isolated OVS + libvirtd)
#
#  clone: from 'vnetctl shadow create' to the shadow's first NF receiving the
#     duplicate of a running 2 kpps stream (REPS times, median), 3-NF chain.
#  swap: a numbered UDP stream at SWAP_PPS through the chain while 'vnetctl swap'
#     and 'vnetctl rollback' alternate SWAPS times each; the sink counts lost and
#     duplicated packets; each command's wall time (vnetctl returns once the bundle
#     is applied) is recorded.
#  production cost: max throughput and latency at 50% load with the shadow on vs
#     off, alternated, REPS repetitions, medians.
# PARTS="clone swap cost" (the default) chooses the parts.
# No assertions: this is a measurement.
set -euo pipefail
REPS=${REPS:-5}
SWAPS=${SWAPS:-20}
SWAP_PPS=${SWAP_PPS:-10000}
PARTS=${PARTS:-clone swap cost}
source "$(dirname "$0")/lib-bench.sh"
bench_substrate bench-shadow "${1:?usage: bench-shadow.sh BUILD_DIR}"
NF=$build/examples/vnet-nf
GEN=$build/examples/vnet-gen; SINK=$build/examples/vnet-sink
bench_uncapped_template "$top/templates/chains/fw-nat-vpn.json" "$W/uncapped.json"
"$VNETCTL" chain load "$W/uncapped.json" >/dev/null
"$VNETCTL" chain create fw-nat-vpn >/dev/null
gen() {  # gen RATE SECONDS [ARGS...]
    local rate=$1 secs=$2; shift 2
    "$VNETCTL" chain exec fw-nat-vpn source -- "$GEN" --dev eth0 --dst-mac 02:76:6e:00:00:01 \
        --src 10.70.0.10 --dst 10.70.0.20 --dport 5000 --seq --rate "$rate" \
        --duration "$secs" "$@"
}
start_sink() {
    "$VNETCTL" chain exec fw-nat-vpn sink -- "$SINK" --dev eth0 --duration "$2" \
        --out "$1" >/dev/null 2>"$W/sink.err" &
    sink_job=$!
    for _ in $(seq 50); do grep -q ready "$W/sink.err" 2>/dev/null && return; sleep 0.1; done
}
rx_of() {  # rx_of CONTROL: forward packets the NF received (0 if it does not answer)
    "$NF" --control "$1" --command stats 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["forward"]["rx"])' 2>/dev/null \
        || echo 0
}

part() { [[ " $PARTS " == *" $1 "* ]]; }

if part clone; then
echo "== clone: 'shadow create' to the shadow's first NF receiving duplicates ($REPS runs)"
: >"$W/clone"
gen 2000 $((REPS * 8 + 5)) >/dev/null &
gen_job=$!
sleep 1
for _ in $(seq "$REPS"); do
    t0=$(now)
    "$VNETCTL" shadow create fw-nat-vpn >/dev/null
    t1=$(now)
    while [ "$(rx_of "$W/nf/fw-nat-vpn-fw-b.ctl")" = 0 ]; do sleep 0.005; done
    t2=$(now)
    echo "$(((t2 - t0) / 1000000)) $(((t1 - t0) / 1000000))" >>"$W/clone"
    "$VNETCTL" shadow retire fw-nat-vpn >/dev/null
    sleep 1
done
wait "$gen_job" || true
printf 'clone: median %s ms to duplicates (command returned after %s ms); runs: %s\n' \
    "$(awk '{print $1}' "$W/clone" | median)" "$(awk '{print $2}' "$W/clone" | median)" \
    "$(awk '{print $1}' "$W/clone" | tr '\n' ' ')"

fi

if part swap; then
echo "== swap: $SWAPS swaps and $SWAPS rollbacks under a numbered stream at $SWAP_PPS pps"
"$VNETCTL" shadow create fw-nat-vpn >/dev/null
sleep 2
secs=$((SWAPS / 2 + 6))
start_sink "$W/swap.json" $((secs + 3))
gen "$SWAP_PPS" "$secs" >"$W/g.json" &
gen_job=$!
sleep 2
: >"$W/swaptimes"
for _ in $(seq "$SWAPS"); do
    t0=$(now); "$VNETCTL" swap fw-nat-vpn >/dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000)) >>"$W/swaptimes"
    sleep 0.2
    t0=$(now); "$VNETCTL" rollback fw-nat-vpn >/dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000)) >>"$W/swaptimes"
    sleep 0.2
done
wait "$gen_job"
wait "$sink_job"
python3 - "$W/g.json" "$W/swap.json" "$W/swaptimes" <<'PY'
import json, sys
g, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in s["flows"] if f["dport"] == 5000][0]["seq"]
t = sorted(int(x) for x in open(sys.argv[3])) or [0]
print(f"swap: sent {g['sent']}, received {f['received']}, lost {f['lost']}, "
      f"duplicated {f['duplicates']}, reordered {f['reordered']}; command to applied: "
      f"median {t[len(t) // 2] / 1000:.1f} ms, max {t[-1] / 1000:.1f} ms over {len(t)} commands")
PY
"$VNETCTL" shadow retire fw-nat-vpn >/dev/null
sleep 1

fi

if part cost; then
echo "== production cost of a shadow ($REPS repetitions, alternated, medians)"
bench_run 5000000 >/dev/null
max0=$(bench_run 5000000 | awk '{print $1}')
half=$((max0 / 2))
: >"$W/off.max"; : >"$W/on.max"; : >"$W/off.lat"; : >"$W/on.lat"
for rep in $(seq "$REPS"); do
    order="off on"; [ $((rep % 2)) = 0 ] && order="on off"
    for state in $order; do
        [ "$state" = on ] && { "$VNETCTL" shadow create fw-nat-vpn >/dev/null; sleep 1.5; }
        bench_run 5000000 | awk '{print $1}' >>"$W/$state.max"
        bench_run "$half" | awk '{print $2, $3}' >>"$W/$state.lat"
        [ "$state" = on ] && { "$VNETCTL" shadow retire fw-nat-vpn >/dev/null; sleep 1; }
    done
done
offm=$(median <"$W/off.max"); onm=$(median <"$W/on.max")
off99=$(awk '{print $2}' "$W/off.lat" | median); on99=$(awk '{print $2}' "$W/on.lat" | median)
printf 'production with a shadow: max pps off %s on %s (on/off %.3f); p99 at %s pps off %s on %s us (on/off %.2f)\n' \
    "$offm" "$onm" "$(echo "$onm / $offm" | bc -l)" "$half" "$off99" "$on99" "$(echo "$on99 / $off99" | bc -l)"
fi
