#!/bin/sh
# Builds libopenvswitch.a (and the generated IDL headers) from Debian's
# openvswitch-source tarball into DEST.  Called by the build (cmake/libopenvswitch.cmake)
# only when DEST/.vnet-built is missing, so a rebuild does not redo it.
#
# usage: build-libopenvswitch.sh TARBALL DEST
set -eu
tarball=$1
dest=$2
jobs=$(nproc 2>/dev/null || echo 2)

if [ -f "$dest/.vnet-built" ]; then
    exit 0
fi
[ -r "$tarball" ] || {
    echo "libopenvswitch: $tarball not found (apt-get install openvswitch-source)" >&2
    exit 1
}
mkdir -p "$dest"
echo "libopenvswitch: extracting $tarball"
tar xzf "$tarball" -C "$dest" --strip-components=1
cd "$dest"
echo "libopenvswitch: configuring (log: $dest/vnet-configure.log)"
# SSL, libcap-ng, AF_XDP and unbound are disabled so that the library's link
# dependencies are fixed: -latomic -lm -lpthread (see libopenvswitch.cmake).
ac_cv_search_ub_ctx_create=no ./configure --prefix=/usr --localstatedir=/var \
    --sysconfdir=/etc --disable-ssl --disable-libcapng --disable-afxdp \
    >vnet-configure.log 2>&1 || { tail -20 vnet-configure.log >&2; exit 1; }
echo "libopenvswitch: building with -j$jobs (log: $dest/vnet-make.log)"
# The generated headers first: a plain 'make lib/libopenvswitch.la' fails on
# odp-netlink.h (notes/ovs.md).
make -j"$jobs" ofproto/ipfix-entities.def include/odp-netlink.h \
    include/odp-netlink-macros.h lib/vswitch-idl.c lib/vswitch-idl.h \
    lib/vswitch-idl.ovsidl lib/ovsdb-server-idl.c lib/ovsdb-server-idl.h \
    lib/ovsdb-server-idl.ovsidl >vnet-make.log 2>&1 \
    && make -j"$jobs" lib/libopenvswitch.la >>vnet-make.log 2>&1 \
    || { tail -30 vnet-make.log >&2; exit 1; }
grep -q '^LIBS = -latomic -lm *$' Makefile || {
    echo "libopenvswitch: unexpected link libraries: $(grep '^LIBS =' Makefile)" >&2
    exit 1
}
# OVS's own JSON library exports json_object_put(), which json-c also exports with
# another meaning; rename OVS's (definition and internal references) so vnetd can
# link both.  It is the only symbol the two libraries, libvirt and libxml2 share.
objcopy --redefine-sym json_object_put=ovs_json_object_put lib/.libs/libopenvswitch.a
touch .vnet-built
echo "libopenvswitch: done"
