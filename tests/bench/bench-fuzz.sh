#!/bin/bash
# bench-fuzz.sh -- long fuzzing runs of every libFuzzer target (tests/fuzz).
#
# Usage: tests/bench/bench-fuzz.sh BUILD_FUZZ_DIR     (a -DVNET_FUZZ=ON clang build;
#                                                      no root, no substrate needed)
#
# Runs each target in turn (one at a time) for FUZZ_SECONDS (default 600), from its
# seed corpus and regression inputs, at the lowest CPU priority, and prints per
# target: executions, executions per second, the coverage of the seeds and at the
# end (libFuzzer's "cov", code edges, and "ft", features), the corpus it grew
# (units / bytes), peak RSS and crashes.  A run stops at its first crash, leak or
# slow input, which is kept in ./fuzz-artifacts (FUZZ_ARTIFACTS) to be fixed and
# added to tests/fuzz/regressions/NAME/.  FUZZ_TARGETS limits the run to some
# targets (names without the "fuzz-" prefix).
# No assertions: this is a measurement.
set -euo pipefail
build=$(cd "${1:?usage: bench-fuzz.sh BUILD_FUZZ_DIR}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-600}
artifacts=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)
W=$(mktemp -d /tmp/vnet-bench-fuzz.XXXXXX)
trap 'rm -rf "$W"' EXIT

targets=${FUZZ_TARGETS:-$(cd "$build/tests/fuzz" && ls fuzz-* | grep -v '\.' | sed 's/^fuzz-//')}
[ -n "$targets" ] || { echo "bench-fuzz.sh: no fuzz targets in $build/tests/fuzz" \
                            "(cmake --build $build --target vnet-fuzz)" >&2; exit 1; }

# field LOG PATTERN: the number after PATTERN on the last line holding it.
field() { grep -o "$2 *[0-9][0-9/a-zA-Z]*" "$1" | tail -1 | sed "s/^$2 *//"; }

echo "== libFuzzer, ${seconds} s per target, one at a time (nice 19), $(nproc) cores"
printf '  %-15s %12s %9s %13s %13s %16s %8s %8s\n' target executions exec/s \
    "seeds cov/ft" "end cov/ft" "corpus" "rss MB" crashes
for t in $targets; do
    bin=$build/tests/fuzz/fuzz-$t
    log=$W/$t.log
    seeds=("$top/tests/fuzz/corpus/$t")
    [ -d "$top/tests/fuzz/regressions/$t" ] && seeds+=("$top/tests/fuzz/regressions/$t")
    before=$(ls "$artifacts" | grep -c "^fuzz-$t-" || true)
    VNET_FUZZ_ARTIFACTS=$artifacts nice -n 19 "$top/tests/fuzz/run-fuzz.sh" "$bin" \
        "$seconds" "${seeds[@]}" >"$log" 2>&1 || true
    after=$(ls "$artifacts" | grep -c "^fuzz-$t-" || true)
    inited=$(grep -m1 'INITED' "$log" || true)
    done_line=$(grep -E '(DONE|NEW|REDUCE|pulse) +cov:' "$log" | tail -1)
    seed_cov="$(echo "$inited" | grep -o 'cov: [0-9]*' | sed 's/cov: //')/$(echo "$inited" \
        | grep -o 'ft: [0-9]*' | sed 's/ft: //')"
    end_cov="$(echo "$done_line" | grep -o 'cov: [0-9]*' | sed 's/cov: //')/$(echo \
        "$done_line" | grep -o 'ft: [0-9]*' | sed 's/ft: //')"
    corp=$(echo "$done_line" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | sed 's/corp: //')
    printf '  %-15s %12s %9s %13s %13s %16s %8s %8s\n' "$t" \
        "$(field "$log" 'stat::number_of_executed_units:')" \
        "$(field "$log" 'stat::average_exec_per_sec:')" "$seed_cov" "$end_cov" \
        "$corp" "$(field "$log" 'stat::peak_rss_mb:')" "$((after - before))"
    if [ "$after" != "$before" ]; then
        grep -E 'ERROR:|SUMMARY:|property violated' "$log" | head -3 | sed 's/^/      /'
        ls "$artifacts" | grep "^fuzz-$t-" | tail -$((after - before)) \
            | sed "s|^|      kept: $artifacts/|"
    fi
done
