#!/bin/bash
# bench-crashloop.sh BUILD_DIR -- creating a chain whose NF exits at once, many times.
#
# test-chain's "crashy" case as a loop: fw-nat-vpn with the NAT's program replaced
# by /bin/false.  vnetd must start the NAT 3 times and then fail the create with
# the reason.  libvirt 9.0 sometimes never reports such a container's end (its
# init exits before libvirtd connects to the controller; the domain's log says
# "Dropping event 1 because libvirtd is not connected"); vnetd destroys a running
# domain whose controller is gone (a "ghost") after a 2 s grace.
#
#   baseline: the create time of the working chain (CRASHLOOP_BASE creates,
#             default 5, median);
#   loop:     CRASHLOOP_N (default 40) creates of the crashy chain, each followed
#             by its delete; with CRASHLOOP_HOG=1 two busy loops run meanwhile.
# Prints how many failed as designed (exit 2 and the crash-loop reason), the time
# to that failure (min / median / max, and the median as a ratio to the
# baseline), the ghosts vnetd destroyed and the exit events libvirt dropped.
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"
bench_substrate crashloop "${1:?usage: bench-crashloop.sh BUILD_DIR}"
N=${CRASHLOOP_N:-40}
BASE=${CRASHLOOP_BASE:-5}

python3 - "$top/templates/chains/fw-nat-vpn.json" "$W/crashy.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["name"] = "crashy"
c["nodes"][1]["nf"]["program"] = "/bin/false"
json.dump(c, open(sys.argv[2], "w"))
PY

gone() {    # waits until no domain of chain $1 is left
    for _ in $(seq 100); do
        [ -z "$(virsh -q -c "$URI" list --all --name | grep "vnet-$1-")" ] && return
        sleep 0.1
    done
}

: >"$W/base.txt"
for _ in $(seq "$BASE"); do
    "$VNETCTL" chain load "$top/templates/chains/fw-nat-vpn.json" >/dev/null
    t0=$(now)
    "$VNETCTL" chain create fw-nat-vpn >/dev/null
    echo $(( ($(now) - t0) / 1000000 )) >>"$W/base.txt"
    "$VNETCTL" chain delete fw-nat-vpn >/dev/null
    gone fw-nat-vpn
done
base=$(median <"$W/base.txt")

hogs=()
if [ -n "${CRASHLOOP_HOG:-}" ]; then
    for _ in 1 2; do sh -c 'while :; do :; done' & hogs+=($!); done
fi
: >"$W/times.txt"
ok=0
for i in $(seq "$N"); do
    "$VNETCTL" chain load "$W/crashy.json" >/dev/null
    t0=$(now)
    rc=0
    "$VNETCTL" chain create crashy >/dev/null 2>"$W/err" || rc=$?
    ms=$(( ($(now) - t0) / 1000000 ))
    echo "$ms" >>"$W/times.txt"
    if [ "$rc" = 2 ] && grep -q "stopped on its own soon after each of its last 3" "$W/err"
    then
        ok=$((ok + 1))
    else
        echo "create $i: exit $rc after $ms ms: $(head -c 300 "$W/err")"
    fi
    gone crashy
    "$VNETCTL" chain delete crashy >/dev/null 2>&1 || true
done
[ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}"

sorted=$(sort -n "$W/times.txt")
med=$(median <"$W/times.txt")
starts=$(grep -c "started domain 'vnet-crashy-nat'" "$W/vnetd.log" || true)
ghosts=$(grep -c "vnet-crashy-nat: libvirt reports it running, but its container's" \
         "$W/vnetd.log" || true)
dropped=$(grep -c "Dropping event" "$SUB/libvirt/log/lxc/vnet-crashy-nat.log" || true)
echo "working chain created in $base ms (median of $BASE; the baseline)"
echo "crashy creates failing as designed: $ok of $N${CRASHLOOP_HOG:+ (2 busy loops running)}"
echo "time to that failure: min $(head -1 <<<"$sorted") ms, median $med ms," \
     "max $(tail -1 <<<"$sorted") ms; median / baseline = $(awk -v a="$med" -v b="$base" \
     'BEGIN { printf "%.2f", a / b }')"
echo "NAT starts: $starts; ghosts destroyed by vnetd: $ghosts; exit events libvirt" \
     "dropped (domain log): $dropped"
