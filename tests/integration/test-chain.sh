#!/bin/bash
# ctest: timeout=900 labels=substrate
# A production chain on the real substrate (isolated OVS + libvirtd LXC): create
# fw-nat-vpn, check its VNodes, tagged ports and rules; send UDP and TCP from the
# source VNode to the sink VNode through all three NFs; check the NAT rewrote the
# source; pause the NAT and see latency rise at the sink; restart vnetd (kill -9) and
# check it re-adopts everything without duplicating; a foreign domain with a wanted
# name is never touched; delete leaves no domain, port, veth, bridge or rule behind.
source "$(dirname "$0")/lib.sh"
start_substrate
start_vnetd "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf"

# A domain vnetd did not make, holding a name the chain wants, must be left alone.
cat >"$T/foreign.xml" <<XML
<domain type='lxc'><name>vnet-fw-nat-vpn-nat</name><memory unit='MiB'>32</memory>
<os><type>exe</type><init>/bin/true</init></os></domain>
XML
virsh_t define "$T/foreign.xml" >/dev/null
expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
expect_rc 2 "$VNETCTL" chain create fw-nat-vpn
grep -q "not owned by this vnetd" <<<"$ERR" || fail "conflict message: $ERR"
virsh_t dominfo vnet-fw-nat-vpn-nat >/dev/null || fail "foreign domain was touched"
for _ in $(seq 100); do
    [ "$(virsh_t list --all --name | grep -c vnet-fw-nat-vpn)" = 1 ] && break
    sleep 0.1
done
[ "$(virsh_t list --all --name | grep -c vnet-fw-nat-vpn)" = 1 ] \
    || fail "rollback left domains: $(virsh_t list --all --name)"
virsh_t undefine vnet-fw-nat-vpn-nat >/dev/null
pass "a foreign domain is never touched; a failed create is rolled back"

# A VNode whose NF cannot run stops right after every start.  vnetd starts it again
# at once twice, then backs off and reports it, so the creation fails with the
# reason instead of waiting out its timeout; libvirtd survives all of it.  (libvirt
# 9.0's LXC driver segfaults when a stopped domain's scheduler parameters are read,
# so vnetd reads the live definition instead; hitting that here needs the stop to
# fall between vnetd's start and its check -- test-libvirt-faults forces it.)
LV_PID=$(cat "$SUB/libvirt/libvirtd.pid")
lv_alive() {   # not gone, not a zombie
    local st
    st=$(awk '{print $3}' "/proc/$LV_PID/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}
python3 - "$VNET_SOURCE/templates/chains/fw-nat-vpn.json" "$T/crashy.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["name"] = "crashy"
c["nodes"][1]["nf"]["program"] = "/bin/false"
json.dump(c, open(sys.argv[2], "w"))
PY
expect_rc 0 "$VNETCTL" chain load "$T/crashy.json"
t0=$(date +%s)
expect_rc 2 "$VNETCTL" chain create crashy
grep -q "VNode 'nat'.*stopped on its own soon after each of its last 3 starts" <<<"$ERR" \
    || fail "creating a chain whose NF exits: $ERR"
secs=$(( $(date +%s) - t0 ))
[ "$secs" -lt 30 ] || fail "creating a chain whose NF exits failed only after $secs s"
starts=$(grep -c "started domain 'vnet-crashy-nat'" "$T/vnetd.log" || true)
[ "$starts" = 3 ] || fail "the NAT VNode was started $starts times, expected 3"
for _ in $(seq 100); do
    [ -z "$(virsh_t list --all --name | grep vnet-crashy)" ] && break
    sleep 0.1
done
[ -z "$(virsh_t list --all --name | grep vnet-crashy)" ] || fail "crashy's domains remain"
lv_alive || fail "libvirtd died (dmesg: $(dmesg | tail -1))"
expect_rc 0 "$VNETCTL" chain delete crashy
pass "an NF that exits at once: 3 starts, then creation fails in $secs s saying why"

expect_rc 0 "$VNETCTL" chain create fw-nat-vpn
expect_rc 0 "$VNETCTL" --json chain show fw-nat-vpn
cp "$T/out" "$T/show.json"
python3 - "$T/show.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["state"] == "running", c["state"]
inst = c["instance"]
assert inst["rules"]["installed"], inst["rules"]
roles = sorted(v["role"] for v in inst["vnodes"])
assert roles == ["nf", "nf", "nf", "sink", "source"], roles
for v in inst["vnodes"]:
    assert v["state"] == "running", v
    for n in v["nics"]:
        assert n["port_state"] == "ready", n
PY
[ "$(virsh_t list --name | grep -c '^vnet-fw-nat-vpn-')" = 5 ] || fail "expected 5 domains"
ports=$(vsctl --bare --columns=name find Interface external_ids:vnet-owner=fw-nat-vpn | grep -c .)
[ "$ports" = 8 ] || fail "expected 8 owned interfaces, got $ports"
rules=$(ofctl dump-flows vnet-br0 | grep -c 'cookie=0x766e6574')
[ "$rules" = 20 ] || fail "expected 20 rules, got $rules"
virsh_t metadata vnet-fw-nat-vpn-fw https://vnet.dev/xmlns/vnode/1 | grep -q 'chain="fw-nat-vpn"' \
    || fail "domain lacks owner metadata"
pass "chain created: 5 VNodes, 8 tagged ports, 20 rules"

if [ -n "${VNET_TRAFFIC_TEST:-1}" ] && [ -f "$(dirname "$0")/traffic-chain.sh" ]; then
    source "$(dirname "$0")/traffic-chain.sh"
fi

# kill -9 and restart: everything is re-adopted, nothing recreated or duplicated.
kill -KILL "$VNETD_PID"
for _ in $(seq 50); do kill -0 "$VNETD_PID" 2>/dev/null || break; sleep 0.1; done
before_log=$(wc -l <"$T/vnetd.log")
start_vnetd "${SUBSTRATE_OPTS[@]}" --nf-control-dir "$T/nf"
for _ in $(seq 100); do
    "$VNETCTL" --json chain show fw-nat-vpn >"$T/show2.json" 2>/dev/null \
        && [ "$(json_get "$T/show2.json" 'j["instance"]["rules"]["installed"]')" = True ] && break
    sleep 0.1
done
[ "$(json_get "$T/show2.json" 'j["instance"]["rules"]["installed"]')" = True ] \
    || fail "rules not re-adopted after restart"
sleep 3
tail -n +"$before_log" "$T/vnetd.log" | grep -E "defined domain|started domain|creating bridge" \
    && fail "restart recreated objects instead of adopting them"
[ "$(virsh_t list --name | grep -c '^vnet-fw-nat-vpn-')" = 5 ] || fail "domains duplicated"
ports=$(vsctl --bare --columns=name find Interface external_ids:vnet-owner=fw-nat-vpn | grep -c .)
[ "$ports" = 8 ] || fail "ports after restart: $ports"
rules=$(ofctl dump-flows vnet-br0 | grep -c 'cookie=0x766e6574')
[ "$rules" = 20 ] || fail "rules after restart: $rules"
pass "vnetd restarted (kill -9): re-adopted by owner tag, nothing duplicated"

# A rule deleted behind vnetd's back is restored by the audit.
ofctl del-flows vnet-br0 "cookie=0x766e657400000000/0xffffffff00000000,in_port=256"
for _ in $(seq 100); do
    [ "$(ofctl dump-flows vnet-br0 | grep -c 'cookie=0x766e6574')" = 20 ] && break
    sleep 0.1
done
[ "$(ofctl dump-flows vnet-br0 | grep -c 'cookie=0x766e6574')" = 20 ] || fail "rules not restored"
pass "a removed rule is restored by the audit"

expect_rc 0 "$VNETCTL" chain delete fw-nat-vpn
[ -z "$(virsh_t list --all --name | grep vnet-)" ] || fail "domains left: $(virsh_t list --all --name)"
[ -z "$(vsctl --bare --columns=name find Interface external_ids:vnet-owner=fw-nat-vpn)" ] \
    || fail "ports left"
vsctl br-exists vnet-br0 && fail "bridge left"
left=$(ip netns exec "$SUB_NETNS" ip -br link | grep -c 'vn' || true)
[ "$left" = 0 ] || fail "veths left: $(ip netns exec "$SUB_NETNS" ip -br link)"
expect_rc 0 "$VNETCTL" chain list
grep -q "no chains loaded" <<<"$OUT" || fail "registry: $OUT"
pass "chain delete leaves nothing behind"
