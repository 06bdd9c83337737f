#!/bin/bash
# The quickstart: installs what is missing, builds, and runs the demo on the local
# default setup (examples/quickstart.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec examples/quickstart.sh "$PWD/build"
