# veth-chain.sh -- network-namespace test beds for the example NFs (sourced, bash).
#
# chain_create NAME nf     three namespaces joined by two veth pairs:
#     NAME-gen [eth0 10.9.0.1/24] == [eth0] NAME-nf [eth1] == [eth0 10.9.0.2/24] NAME-sink
#   the NF's side has no addresses: run vnet-nf there (--in eth0 --out eth1).
# chain_create NAME direct two namespaces, one veth pair:
#     NAME-gen [eth0 10.9.0.1/24] == [eth0 10.9.0.2/24] NAME-sink
# chain_destroy NAME       deletes the namespaces (and so the veths).
#
# After chain_create: GEN_NS, NF_NS, SINK_NS, GEN_MAC, SINK_MAC.  IPv6 is off in every
# namespace (no neighbour discovery noise in the counts); checksum offload is off on
# the end points (frames forwarded through AF_PACKET must carry real checksums, and
# TCP then needs no segmentation offload either).  Nothing leaves these namespaces.
# Needs root, iproute2 and ethtool.

chain_create() {
    local name=$1 kind=$2
    GEN_NS=$name-gen
    SINK_NS=$name-sink
    NF_NS=
    ip netns add "$GEN_NS"
    ip netns add "$SINK_NS"
    if [ "$kind" = nf ]; then
        NF_NS=$name-nf
        ip netns add "$NF_NS"
        ip -n "$GEN_NS" link add eth0 type veth peer name eth0 netns "$NF_NS"
        ip -n "$NF_NS" link add eth1 type veth peer name eth0 netns "$SINK_NS"
    else
        ip -n "$GEN_NS" link add eth0 type veth peer name eth0 netns "$SINK_NS"
    fi
    local ns
    for ns in "$GEN_NS" "$SINK_NS" $NF_NS; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
    ip -n "$GEN_NS" addr add 10.9.0.1/24 dev eth0
    ip -n "$SINK_NS" addr add 10.9.0.2/24 dev eth0
    for ns in "$GEN_NS" "$SINK_NS"; do
        ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null 2>&1
        ip -n "$ns" link set eth0 up
    done
    if [ -n "$NF_NS" ]; then
        ip -n "$NF_NS" link set eth0 up
        ip -n "$NF_NS" link set eth1 up
    fi
    GEN_MAC=$(ip netns exec "$GEN_NS" cat /sys/class/net/eth0/address)
    SINK_MAC=$(ip netns exec "$SINK_NS" cat /sys/class/net/eth0/address)
}

chain_destroy() {
    local name=$1 ns
    for ns in "$name-gen" "$name-nf" "$name-sink"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}

# Process helpers.  Set EXAMPLES_BIN (the build's examples/ directory) first.  Each
# start function waits until the program is ready and sets its *_PID; the caller
# stops it (by that PID).
#
# nf_start DIR ARGS...     vnet-nf in $NF_NS, control socket DIR/nf.sock, summary on
#                          DIR/nf.json, errors in DIR/nf.err; sets NF_PID
# nf_ctl DIR COMMAND       one control command; prints the reply (exit 2 on "error:")
# sink_start FILE ARGS...  vnet-sink in $SINK_NS, summary in FILE, errors in FILE.err;
#                          sets SINK_PID
# gen_run FILE ARGS...     vnet-gen in $GEN_NS to the sink's MAC and address, summary
#                          in FILE; waits for it to finish

nf_start() {
    local dir=$1; shift
    ip netns exec "$NF_NS" "$EXAMPLES_BIN/vnet-nf" --control "$dir/nf.sock" "$@" \
        >"$dir/nf.json" 2>"$dir/nf.err" &
    NF_PID=$!
    local i
    for i in $(seq 100); do
        if "$EXAMPLES_BIN/vnet-nf" --control "$dir/nf.sock" --command help >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$NF_PID" 2>/dev/null || { cat "$dir/nf.err" >&2; return 1; }
        sleep 0.05
    done
    echo "vnet-nf did not answer on $dir/nf.sock" >&2
    return 1
}

nf_ctl() {
    "$EXAMPLES_BIN/vnet-nf" --control "$1/nf.sock" --command "$2"
}

sink_start() {
    local file=$1; shift
    ip netns exec "$SINK_NS" "$EXAMPLES_BIN/vnet-sink" --out "$file" "$@" \
        >/dev/null 2>"$file.err" &
    SINK_PID=$!
    local i
    for i in $(seq 100); do
        grep -q "vnet-sink: ready" "$file.err" 2>/dev/null && return 0
        kill -0 "$SINK_PID" 2>/dev/null || { cat "$file.err" >&2; return 1; }
        sleep 0.05
    done
    echo "vnet-sink did not start" >&2
    return 1
}

gen_run() {
    local file=$1; shift
    ip netns exec "$GEN_NS" "$EXAMPLES_BIN/vnet-gen" --dev eth0 --dst-mac "$SINK_MAC" \
        --src 10.9.0.1 --dst 10.9.0.2 --out "$file" "$@" >/dev/null
}
