#!/bin/bash
# Installs, with apt-get, the Debian 12 packages vnet needs to build, test and run.
# Only missing packages are installed; run as root.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config binutils
    libjson-c-dev libxml2-dev libpcap-dev libcmocka-dev libvirt-dev
    # the fuzz targets (tests/fuzz): clang and its libFuzzer runtime
    clang libclang-rt-14-dev
    # the substrate: Open vSwitch (+ its source, for libopenvswitch) and libvirt LXC
    openvswitch-switch openvswitch-source
    libvirt-daemon libvirt-daemon-driver-lxc libvirt-clients
    # tools used by the host bring-up, tests and benchmarks
    iproute2 ethtool procps psmisc util-linux tcpdump python3
    # the HTML reports' rendering test (headless)
    chromium
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
