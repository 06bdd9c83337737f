#!/bin/bash
# The test command: installs what is missing, builds, and runs every test -- unit
# tests, the same unit tests under ASan+UBSan, and the integration tests on real
# OVS and libvirtd (each starts its own isolated instances).  Ends with ctest's
# summary.  Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
exec ctest --output-on-failure --timeout 1800 -j"$(nproc)" "$@"
