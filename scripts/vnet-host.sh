#!/bin/bash
# vnet-host.sh -- bring up (or down) the substrate vnet needs: Open vSwitch and libvirtd.
#
#   vnet-host.sh up                 system mode: start ovsdb-server/ovs-vswitchd and
#                                   libvirtd only if they are not already running
#   vnet-host.sh up --isolated DIR  an isolated instance for tests: its own network
#                                   namespace, OVS (DB and sockets in DIR/ovs, switch
#                                   in the namespace) and libvirtd (LXC driver only,
#                                   state in DIR/libvirt, private mount namespace)
#   vnet-host.sh down --isolated DIR   stop and remove everything the isolated
#                                   instance made (by the PIDs it recorded)
#   vnet-host.sh env --isolated DIR    print the vnetd options that reach it
#   vnet-host.sh restart --isolated DIR ovsdb-server|ovs-vswitchd|libvirtd
#                                   restart one daemon of it (fault-injection tests)
#
# Facts behind the choices are in shared/notes/ovs.md and libvirt.md: no OVS kernel
# module here (userspace datapath), `ip netns exec` remounts /sys and so hides the
# cgroup hierarchies from libvirtd (use nsenter --net), and the LXC driver of
# libvirt 9.0 fails on a hybrid cgroup layout unless /sys/fs/cgroup/unified is
# unmounted in libvirtd's own mount namespace.
set -euo pipefail

OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
LV_DRIVERS=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver

log() { echo "vnet-host: $*" >&2; }
die() { log "$*"; exit 1; }

hybrid_cgroups() {
    grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/mounts \
        && grep -q ' /sys/fs/cgroup/memory cgroup ' /proc/mounts
}

wait_for_socket() {   # PATH SECONDS
    local i
    for ((i = 0; i < $2 * 20; i++)); do [ -S "$1" ] && return 0; sleep 0.05; done
    return 1
}

# ---- system mode -------------------------------------------------------------------

ovs_system_up() {
    if ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
        log "Open vSwitch is running"
        return
    fi
    log "starting Open vSwitch (userspace datapath where the kernel module is absent)"
    /usr/share/openvswitch/scripts/ovs-ctl --system-id=random start --no-monitor >&2
    ovs-vsctl --timeout=10 show >/dev/null
}

libvirtd_system_up() {
    if virsh -c lxc:///system version >/dev/null 2>&1; then
        log "libvirtd is running"
        return
    fi
    if [ -e "$LV_DRIVERS/libvirt_driver_qemu.so" ] && ! id libvirt-qemu >/dev/null 2>&1; then
        # The QEMU driver resolves this user before reading qemu.conf; without it the
        # whole daemon exits (notes/libvirt.md).
        log "creating the libvirt-qemu user the QEMU driver needs"
        groupadd -r libvirt-qemu 2>/dev/null || true
        useradd -r -g libvirt-qemu -d /var/lib/libvirt -M -s /usr/sbin/nologin libvirt-qemu
    fi
    mkdir -p /var/run/libvirt /var/lib/libvirt /var/log/libvirt
    if hybrid_cgroups; then
        log "starting libvirtd in a private mount namespace (hybrid cgroup layout)"
        unshare --mount --propagation private sh -c \
            'umount /sys/fs/cgroup/unified && exec libvirtd --daemon --pid-file=/var/run/libvirtd.pid' >&2
    else
        log "starting libvirtd"
        libvirtd --daemon --pid-file=/var/run/libvirtd.pid >&2
    fi
    wait_for_socket /var/run/libvirt/libvirt-sock 10 || die "libvirtd did not start"
    for _ in $(seq 50); do
        virsh -c lxc:///system version >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "libvirtd does not answer on lxc:///system"
}

# ---- isolated mode -----------------------------------------------------------------

iso_paths() {
    DIR=$(realpath -m "$1")
    NS=vnet-$(printf '%s' "$DIR" | md5sum | cut -c1-8)
    OVS=$DIR/ovs
    LV=$DIR/libvirt
}

iso_start_ovsdb() {
    ovsdb-server "$OVS/conf.db" --remote="punix:$OVS/db.sock" \
        --pidfile="$OVS/ovsdb-server.pid" --unixctl="$OVS/ovsdb-server.ctl" \
        --log-file="$OVS/ovsdb-server.log" --detach --no-chdir
}

iso_start_vswitchd() {
    OVS_RUNDIR=$OVS ip netns exec "$NS" ovs-vswitchd "unix:$OVS/db.sock" \
        --pidfile="$OVS/ovs-vswitchd.pid" --unixctl="$OVS/ovs-vswitchd.ctl" \
        --log-file="$OVS/ovs-vswitchd.log" --detach --no-chdir
    ovs-vsctl --db="unix:$OVS/db.sock" --timeout=10 show >/dev/null
}

iso_start_libvirtd() {
    nsenter --net="/run/netns/$NS" unshare --mount --propagation private \
        "$LV/start.sh" >"$LV/libvirtd.out" 2>&1 &
    wait_for_socket "$LV/sock/libvirt-sock" 10 || { tail "$LV/libvirtd.out" >&2; die "libvirtd did not start"; }
    for _ in $(seq 50); do
        virsh -c "lxc:///system?socket=$LV/sock/libvirt-sock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
}

# Restarts one daemon of an isolated instance (fault-injection tests): stops it by
# its recorded PID, starts it again with the same state.
iso_restart() {
    iso_paths "$1"
    [ -e "$DIR/.up" ] || die "$DIR is not up"
    case "$2" in
    ovsdb-server) kill_pidfile "$OVS/ovsdb-server.pid"; iso_start_ovsdb ;;
    ovs-vswitchd) kill_pidfile "$OVS/ovs-vswitchd.pid"; iso_start_vswitchd ;;
    libvirtd)     kill_pidfile "$LV/libvirtd.pid"; rm -f "$LV/sock/libvirt-sock"
                  iso_start_libvirtd ;;
    *) die "restart: expected ovsdb-server, ovs-vswitchd or libvirtd, got '$2'" ;;
    esac
    log "restarted $2 of $DIR"
}

iso_up() {
    iso_paths "$1"
    [ -e "$DIR/.up" ] && die "$DIR is already up"
    mkdir -p "$OVS" "$LV"/{run,lib,cache,log,etc,sock,drivers}
    echo "$NS" >"$DIR/netns"
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up

    ovsdb-tool create "$OVS/conf.db" "$OVS_SCHEMA"
    iso_start_ovsdb
    ovs-vsctl --db="unix:$OVS/db.sock" --no-wait init
    iso_start_vswitchd

    # libvirtd: LXC driver only (the QEMU driver needs host users), state in $LV.
    cp /etc/libvirt/*.conf "$LV/etc/" 2>/dev/null || true
    cat >"$LV/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$LV/sock"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    cp "$LV_DRIVERS/libvirt_driver_lxc.so" "$LV/drivers/"
    local umount_unified=""
    hybrid_cgroups && umount_unified="umount /sys/fs/cgroup/unified"
    cat >"$LV/start.sh" <<START
#!/bin/sh
set -e
mount --make-rprivate /
$umount_unified
mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
mount --bind "$LV/run" /run/libvirt
mount --bind "$LV/lib" /var/lib/libvirt
mount --bind "$LV/cache" /var/cache/libvirt
mount --bind "$LV/log" /var/log/libvirt
mount --bind "$LV/etc" /etc/libvirt
mount --bind "$LV/drivers" "$LV_DRIVERS"
exec libvirtd --config "$LV/etc/libvirtd.conf" --pid-file "$LV/libvirtd.pid"
START
    chmod +x "$LV/start.sh"
    iso_start_libvirtd
    touch "$DIR/.up"
    log "isolated substrate up in $DIR (netns $NS)"
}

iso_env() {
    iso_paths "$1"
    echo "--libvirt-uri lxc:///system?socket=$LV/sock/libvirt-sock --ovs-db unix:$OVS/db.sock --ovs-rundir $OVS"
}

kill_pidfile() {   # PIDFILE
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

iso_down() {
    iso_paths "$1"
    [ -d "$DIR" ] || return 0
    local uri="lxc:///system?socket=$LV/sock/libvirt-sock"
    if [ -S "$LV/sock/libvirt-sock" ]; then
        # Every domain of this private libvirtd is the test's own.
        for dom in $(virsh -c "$uri" list --all --name 2>/dev/null); do
            virsh -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
            virsh -c "$uri" undefine "$dom" >/dev/null 2>&1 || true
        done
    fi
    kill_pidfile "$LV/libvirtd.pid"
    if [ -S "$OVS/ovs-vswitchd.ctl" ]; then
        ovs-appctl -t "$OVS/ovs-vswitchd.ctl" exit --cleanup >/dev/null 2>&1 || true
    fi
    kill_pidfile "$OVS/ovs-vswitchd.pid"
    kill_pidfile "$OVS/ovsdb-server.pid"
    # Whatever still runs in the instance's network namespace is its own: container
    # controllers (libvirt_lxc) outlive a libvirtd that died before it could
    # destroy them.
    if [ -f "$DIR/netns" ]; then
        local pids
        pids=$(ip netns pids "$(cat "$DIR/netns")" 2>/dev/null || true)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
        ip netns delete "$(cat "$DIR/netns")" 2>/dev/null || true
    fi
    rm -f "$DIR/.up"
}

cmd=${1:-}
shift || true
iso=""
if [ "${1:-}" = "--isolated" ]; then
    iso=${2:?--isolated needs a directory}
fi
case "$cmd" in
up)
    if [ -n "$iso" ]; then iso_up "$iso"; else ovs_system_up; libvirtd_system_up; fi ;;
down)
    [ -n "$iso" ] || die "down only stops isolated instances (--isolated DIR)"
    iso_down "$iso" ;;
env)
    [ -n "$iso" ] || die "env needs --isolated DIR"
    iso_env "$iso" ;;
restart)
    # vnet-host.sh restart --isolated DIR ovsdb-server|ovs-vswitchd|libvirtd
    [ -n "$iso" ] || die "restart only restarts isolated instances (--isolated DIR)"
    iso_restart "$iso" "${3:-}" ;;
*)
    die "usage: vnet-host.sh up|down|env [--isolated DIR] | restart --isolated DIR DAEMON" ;;
esac
