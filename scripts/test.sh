#!/bin/bash
# The test command: installs what is missing, builds, and runs every test -- unit
# tests, the same unit tests under ASan+UBSan, and the integration tests on real
# OVS and libvirtd (each starts its own isolated instances) -- then builds the fuzz
# targets with clang in ./build-fuzz (reusing build/'s Open vSwitch) and fuzzes each
# for VNET_FUZZ_SECONDS (default 25), two at a time (tests/fuzz/README.md).  Ends
# with ctest's summaries; fails if either run fails.  Extra arguments go to the
# first ctest (e.g. -L unit), and then the fuzzing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rc=0
(cd build && ctest --output-on-failure --timeout 1800 -j"$(nproc)" "$@") || rc=$?
[ $# -eq 0 ] || exit "$rc"

fuzz_rc=0
{ cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DVNET_FUZZ=ON -DVNET_ASAN_TESTS=OFF -DVNET_INTEGRATION_TESTS=OFF \
      -DVNET_WITH_DPDK=OFF -DVNET_OVS_TREE="$PWD/build/openvswitch" \
      -DVNET_FUZZ_SECONDS="${VNET_FUZZ_SECONDS:-25}" >/dev/null \
  && cmake --build build-fuzz -j"$(nproc)" --target vnet-fuzz \
  && (cd build-fuzz && ctest --output-on-failure -L fuzz -j2); } || fuzz_rc=$?
echo "test.sh: tests $([ "$rc" = 0 ] && echo passed || echo FAILED)," \
     "fuzzing $([ "$fuzz_rc" = 0 ] && echo passed || echo FAILED)"
[ "$rc" = 0 ] && [ "$fuzz_rc" = 0 ]
