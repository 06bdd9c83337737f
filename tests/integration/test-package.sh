#!/bin/bash
# ctest: timeout=600 labels=package
# The Debian package: CPack builds it from this build; it holds the daemon, the CLI,
# the agents, the templates, the systemd unit, the default configuration, the man
# pages (vnetctl(8) generated from the command table) and the bash completion; it
# declares its dependencies; installed with dpkg it runs (vnetd answers vnetctl on a
# private socket); it is removed again at the end, pass or fail.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to install the package"
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || skip "needs dpkg-deb and cpack"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$VNET_BUILD/CMakeCache.txt")
[ "$prefix" = /usr ] || skip "this build installs under $prefix, not /usr"
if dpkg-query -W -f='${Status}' vnet 2>/dev/null | grep -q 'install ok installed'; then
    skip "a vnet package is already installed on this host; not touching it"
fi

(cd "$T" && cpack -G DEB --config "$VNET_BUILD/CPackConfig.cmake" -B "$T/pkg") \
    >"$T/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$T/cpack.log")"
deb=$(ls "$T"/pkg/*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' >"$T/contents"
for f in ./usr/sbin/vnetd ./usr/bin/vnetctl ./usr/bin/vnet-monitor ./usr/bin/vnet-nf \
         ./usr/libexec/vnet/vnet-vnode-init ./usr/lib/systemd/system/vnetd.service \
         ./etc/vnet/vnetd.conf ./usr/share/man/man8/vnetctl.8 ./usr/share/man/man8/vnetd.8 \
         ./usr/share/man/man5/vnet-chain.5 ./usr/share/bash-completion/completions/vnetctl \
         ./usr/share/vnet/templates/chains/fw-nat-vpn.json \
         ./usr/share/vnet/templates/domains/lxc.xml; do
    grep -qxF "$f" "$T/contents" || fail "the package lacks $f"
done
grep -q 'test-\|-asan' "$T/contents" && fail "the package carries test binaries"
dpkg-deb -f "$deb" Depends >"$T/depends"
for d in openvswitch-switch libvirt-daemon-driver-lxc libjson-c5 libxml2 libpcap0.8; do
    grep -q "$d" "$T/depends" || fail "Depends lacks $d: $(cat "$T/depends")"
done
pass "package built: $(basename "$deb"), $(wc -l <"$T/contents") entries, Depends: $(cat "$T/depends")"

# The manual page lists every command of the table; the completion knows them.
mkdir -p "$T/root"
dpkg-deb -x "$deb" "$T/root"
man8=$T/root/usr/share/man/man8/vnetctl.8
for c in "chain create" "mirror" "shadow compare" "swap" "rollback" "diagnose"; do
    grep -qF ".B ${c// /\\ }" "$man8" || grep -qF "$c" "$man8" || fail "vnetctl.8 lacks '$c'"
done
bash -c "source '$T/root/usr/share/bash-completion/completions/vnetctl'; complete -p vnetctl" \
    >/dev/null || fail "the bash completion does not load"
out=$(bash -c "source '$T/root/usr/share/bash-completion/completions/vnetctl';
    COMP_WORDS=(vnetctl shadow co); COMP_CWORD=2; _vnetctl; echo \${COMPREPLY[*]}")
[ "$out" = compare ] || fail "completing 'vnetctl shadow co' gave '$out'"
pass "man pages and bash completion generated from the command table"

# Installed, it runs.
on_exit "dpkg -r vnet >/dev/null 2>&1"
dpkg -i "$deb" >"$T/dpkg.log" 2>&1 || fail "dpkg -i: $(tail -20 "$T/dpkg.log")"
/usr/sbin/vnetd --version | grep -q "vnetd" || fail "installed vnetd does not run"
/usr/sbin/vnetd --no-substrate --socket "$T/pkg.sock" --state-dir "$T/pkgstate" \
    --pidfile "$T/pkg.pid" --log-file "$T/pkg.log" --detach
on_exit "stop_pid $(cat "$T/pkg.pid")"
VNET_SOCKET=$T/pkg.sock /usr/bin/vnetctl chain load /usr/share/vnet/templates/chains/fw-nat-vpn.json \
    >/dev/null || fail "installed vnetctl cannot load the installed template"
VNET_SOCKET=$T/pkg.sock /usr/bin/vnetctl chain list | grep -q fw-nat-vpn || fail "chain list"
grep -q "ExecStart=/usr/sbin/vnetd" /usr/lib/systemd/system/vnetd.service \
    || fail "the unit does not start the installed vnetd"
if command -v man >/dev/null; then
    MANPAGER=cat MANWIDTH=100 man vnetctl 2>/dev/null | grep -q "shadow compare" \
        || fail "'man vnetctl' does not show the installed page"
    MANPAGER=cat man 5 vnet-chain 2>/dev/null | grep -q "peak_pps" || fail "'man 5 vnet-chain'"
fi
pass "dpkg -i installs it; vnetd --version, man vnetctl, and the installed vnetctl with the installed templates work"
