#!/bin/bash
# run-fuzz.sh -- fuzzes one libFuzzer target for a bounded time: the ctest tests
# "fuzz-NAME" of a -DVNET_FUZZ=ON build.
#
# usage: run-fuzz.sh BINARY SECONDS SEED_DIR...
#
# The fuzzer starts from the seed directories (tests/fuzz/corpus/NAME and
# regressions/NAME) and writes what it finds to a temporary corpus, so the source
# tree is never changed.  A crash, a sanitizer report, a leak or a slow input
# (-timeout) fails the run; the input is kept in $VNET_FUZZ_ARTIFACTS (default
# ./fuzz-artifacts) to be fixed and added to tests/fuzz/regressions/NAME/.
# Extra libFuzzer options may come in $VNET_FUZZ_OPTIONS.
set -euo pipefail
bin=${1:?usage: run-fuzz.sh BINARY SECONDS SEED_DIR...}
seconds=${2:?usage: run-fuzz.sh BINARY SECONDS SEED_DIR...}
shift 2
base=/tmp
[ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/vnet-run-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/tmp"
artifacts=${VNET_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$artifacts"
name=$(basename "$bin")

# The target's own files (state, sockets, captures) go to $work/tmp.
rc=0
TMPDIR=$work/tmp UBSAN_OPTIONS=print_stacktrace=1 "$bin" -max_total_time="$seconds" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" ${VNET_FUZZ_OPTIONS:-} "$work/corpus" "$@" || rc=$?
if [ "$rc" != 0 ]; then
    echo "run-fuzz: $name failed (exit $rc); inputs kept in $artifacts:" >&2
    ls -l "$artifacts" | grep -F "$name-" >&2 || true
fi
exit "$rc"
