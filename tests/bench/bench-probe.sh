#!/bin/bash
# bench-probe.sh -- the probe effect of a Monitoring VNet on the production chain.
#
# Usage: tests/bench/bench-probe.sh BUILD_DIR [VARIANT...]   (root; isolated OVS + libvirtd)
#
# fw-nat-vpn (peak rates uncapped, so the host is the bottleneck) runs on an
# isolated substrate.  For each variant, REPS repetitions alternate "monitoring off"
# and "monitoring on" (the order flips every repetition); each measures
#   - max throughput: vnet-gen at its maximum rate for 2 s, packets/s at the sink;
#   - latency at 50% load: half the first off-run's max for 2 s, sink p50/p99.
# Medians per state and the on/off ratios are printed.  Variants (mirror options):
#   default          'vnetctl mirror fw-nat-vpn'
#   snaplen64        --snaplen 64
#   nat-only         --nodes nat (mirror only the NF under suspicion)
#   cpu1             --cpus 1 (pin the monitoring VNode to CPU 1)
# No assertions: this is a measurement.
set -euo pipefail
bdir=${1:?usage: bench-probe.sh BUILD_DIR [VARIANT...]}
shift
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(default nat-only snaplen64 cpu1)
REPS=${REPS:-5}
source "$(dirname "$0")/lib-bench.sh"
bench_substrate bench-probe "$bdir"
bench_uncapped_template "$top/templates/chains/fw-nat-vpn.json" "$W/uncapped.json"
"$VNETCTL" chain load "$W/uncapped.json" >/dev/null
"$VNETCTL" chain create fw-nat-vpn >/dev/null
GEN=$build/examples/vnet-gen; SINK=$build/examples/vnet-sink

mirror_on() {
    case $1 in
    default) "$VNETCTL" mirror fw-nat-vpn >/dev/null ;;
    snaplen64) "$VNETCTL" mirror fw-nat-vpn --snaplen 64 >/dev/null ;;
    nat-only) "$VNETCTL" mirror fw-nat-vpn --nodes nat >/dev/null ;;
    cpu1) "$VNETCTL" mirror fw-nat-vpn --cpus 1 >/dev/null ;;
    *) echo "unknown variant $1" >&2; exit 1 ;;
    esac
    # Until the agent analyses: its capture and analysis run during the measurement.
    for _ in $(seq 60); do
        "$VNETCTL" --json monitor show fw-nat-vpn >"$W/m.json" 2>/dev/null && break
        sleep 0.25
    done
    sleep 1
}
mirror_off() { "$VNETCTL" unmirror fw-nat-vpn >/dev/null; sleep 1; }

bench_run 5000000 >/dev/null          # warm-up
max0=$(bench_run 5000000 | awk '{print $1}')
half=$((max0 / 2))
echo "== probe effect on fw-nat-vpn (uncapped): $REPS repetitions per variant, medians"
echo "   calibration: max $max0 pps with monitoring off; latency measured at $half pps"
for v in "${variants[@]}"; do
    : >"$W/off.max"; : >"$W/on.max"; : >"$W/off.lat"; : >"$W/on.lat"
    for rep in $(seq "$REPS"); do
        order="off on"; [ $((rep % 2)) = 0 ] && order="on off"
        for state in $order; do
            [ "$state" = on ] && mirror_on "$v"
            bench_run 5000000 | awk '{print $1}' >>"$W/$state.max"
            bench_run "$half" | awk '{print $2, $3}' >>"$W/$state.lat"
            [ "$state" = on ] && mirror_off
        done
    done
    offm=$(median <"$W/off.max"); onm=$(median <"$W/on.max")
    off50=$(awk '{print $1}' "$W/off.lat" | median); on50=$(awk '{print $1}' "$W/on.lat" | median)
    off99=$(awk '{print $2}' "$W/off.lat" | median); on99=$(awk '{print $2}' "$W/on.lat" | median)
    printf '%-10s max pps off %s on %s (on/off %.3f, cost %.1f%%); at 50%%: p50 off %s on %s us; p99 off %s on %s us (on/off %.2f)\n' \
        "$v" "$offm" "$onm" "$(echo "$onm / $offm" | bc -l)" "$(echo "100 * (1 - $onm / $offm)" | bc -l)" \
        "$off50" "$on50" "$off99" "$on99" "$(echo "$on99 / $off99" | bc -l)"
    echo "           runs: off $(tr '\n' ' ' <"$W/off.max")/ on $(tr '\n' ' ' <"$W/on.max")"
done
