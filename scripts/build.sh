#!/bin/bash
# Configures and builds vnet in ./build (libopenvswitch is built once and cached there).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)"
