#!/usr/bin/env python3
"""make-seeds.py -- writes the generated part of the seed corpora in tests/fuzz/corpus/.

usage: tests/fuzz/make-seeds.py [BUILD_DIR]      (default: ./build)

The seeds are checked in; this script says where they came from and regenerates
them.  It writes:
  - packet/, pcap/: Ethernet frames of every kind diag/packet.c tells apart (IPv4
    and IPv6, TCP with options, UDP, ICMP, fragments, extension headers, VLAN and
    QinQ tags, ESP, ARP, snapped frames), and capture files holding them: pcap in
    both byte orders, microsecond and nanosecond, pcapng with several interfaces
    and block types, a non-Ethernet link type, a snaplen cut, a truncated record;
    plus the first packets of a capture vnet-sim writes;
  - topology/: the topology.json vnet-sim writes for its chain, DAG and shaper
    topologies (the format of vnet-monitor's dump), and the documented options
    (classes, fifo, policy drops, ingress->egress bypass);
  - rpc/, jsonrpc/: request lines (see fuzz-rpc.c and fuzz-jsonrpc.c for the
    input formats), among them chain/load of every template in templates/chains/;
  - shadow-patch/: shadow/set and shadow/edit changes (fuzz-shadow-patch.c);
  - chain-template/: the templates of templates/chains/, their canonical form and
    variants (nodes out of order, QEMU, every optional field).
The domain XML seeds (domain-xml/) are templates/domains/lxc.xml, the production
definition of tests/unit/shadow/test-clone.c, a definition as libvirt dumps it,
metadata elements as virDomainGetMetadata() returns them, and what
domain_xml_build() and clone_domain_xml() made of lxc.xml for the NAT of
fw-nat-vpn (side 0 and its side-1 clone); they are not generated here.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def eth(ethertype, payload, tags=()):
    h = MAC_B + MAC_A
    for tpid, vid in tags:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", ethertype) + payload


def ipv4(proto, payload, src="10.70.0.10", dst="10.70.0.20", ident=0x1234, frag=0,
         options=b"", ttl=64):
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, frag, ttl, proto, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    h += options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(next_header, payload, flow=0x12345):
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    return struct.pack("!IHBB", 0x60000000 | flow, len(payload), next_header, 64) + src \
        + dst + payload


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport, seq, ack, flags, data=b"", options=b""):
    off = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0,
                       0) + options + data


def icmp(typ, code, rest, data=b""):
    return struct.pack("!BBHI", typ, code, 0, rest) + data


PAYLOAD = bytes(range(48))
FRAMES = {
    "udp4": eth(0x0800, ipv4(17, udp(20000, 5060, PAYLOAD))),
    "tcp4-syn": eth(0x0800, ipv4(6, tcp(40000, 80, 1000, 0, 0x02,
                                        options=bytes.fromhex("020405b401010402")))),
    "tcp4-data": eth(0x0800, ipv4(6, tcp(40000, 80, 1001, 5000, 0x18, PAYLOAD))),
    "icmp4-echo": eth(0x0800, ipv4(1, icmp(8, 0, 0x00420007, PAYLOAD[:16]))),
    "icmp4-unreach": eth(0x0800, ipv4(1, icmp(3, 3, 0, ipv4(17, udp(1, 2, b"x"))))),
    "frag4-first": eth(0x0800, ipv4(17, udp(20000, 53, PAYLOAD)[:24], frag=0x2000)),
    "frag4-later": eth(0x0800, ipv4(17, PAYLOAD[:16], frag=0x0003)),
    "ipv4-options": eth(0x0800, ipv4(17, udp(1000, 2000, PAYLOAD[:8]),
                                     options=bytes.fromhex("01010100"))),
    "esp4": eth(0x0800, ipv4(50, struct.pack("!II", 0x100, 1) + PAYLOAD)),
    "vlan-udp4": eth(0x0800, ipv4(17, udp(1, 2, PAYLOAD[:20])), tags=((0x8100, 10),)),
    "qinq-tcp4": eth(0x0800, ipv4(6, tcp(1, 2, 3, 4, 0x10, PAYLOAD[:8])),
                     tags=((0x88a8, 100), (0x8100, 10))),
    "udp6": eth(0x86dd, ipv6(17, udp(30000, 5004, PAYLOAD))),
    "tcp6-ext": eth(0x86dd, ipv6(0, bytes([43, 0]) + bytes(6)
                                 + bytes([44, 0, 0, 0]) + bytes(4)
                                 + bytes([6, 0, 0, 1]) + struct.pack("!I", 0xabcdef)
                                 + tcp(443, 50000, 7, 8, 0x11))),
    "frag6-later": eth(0x86dd, ipv6(44, bytes([17, 0, 0, 0x19]) + struct.pack("!I", 77)
                                    + PAYLOAD[:16])),
    "icmp6-echo": eth(0x86dd, ipv6(58, icmp(128, 0, 0x00010002, PAYLOAD[:8]))),
    "ah6-udp": eth(0x86dd, ipv6(51, bytes([17, 4]) + bytes(22) + udp(5, 6, b"ah"))),
    "arp": eth(0x0806, bytes.fromhex("0001080006040001") + MAC_A + bytes(4) + bytes(6)
               + bytes(4)),
}
# A frame the capture's snaplen cut inside the payload prefix.
SNAPPED = FRAMES["tcp4-data"][:14 + 20 + 20 + 10]


def pcap_file(frames, nanosecond=False, big_endian=False, linktype=1, snaplen=65535,
              ts=(1700000000, 0)):
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    sec, frac = ts
    for i, (data, wire_len) in enumerate(frames):
        step = 1500 if nanosecond else 2
        out += struct.pack(e + "IIII", sec, frac + i * step, len(data), wire_len) + data
    return out


def pad4(b):
    return b + bytes(-len(b) % 4)


def block(btype, body):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def option(code, value):
    return struct.pack("<HH", code, len(value)) + pad4(value)


def pcapng_file(frames):
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
                + option(4, b"vnet make-seeds") + option(0, b""))
    idb0 = block(1, struct.pack("<HHI", 1, 0, 65535) + option(9, bytes([9]))
                 + option(2, b"fw-in") + option(0, b""))
    idb1 = block(1, struct.pack("<HHI", 1, 0, 128) + option(9, bytes([6]))
                 + option(0, b""))
    out = shb + idb0 + idb1
    t = 1700000000 * 10**9
    for i, (data, wire_len) in enumerate(frames):
        iface = i % 2
        ts = t + i * 1000 if iface == 0 else (t + i * 1000) // 1000
        out += block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF,
                                    len(data), wire_len) + data + option(0, b""))
    out += block(3, struct.pack("<I", len(FRAMES["udp4"])) + FRAMES["udp4"])  # SPB
    out += block(0x40000001, b"custom block")
    return out


def packet_seeds():
    for name, f in FRAMES.items():
        write("packet", name, f)
    write("packet", "snapped-tcp4", SNAPPED)


def pcap_seeds(build):
    full = [(f, len(f)) for f in FRAMES.values()]
    write("pcap", "us-le.pcap", pcap_file(full))
    write("pcap", "ns-be.pcap", pcap_file(full[:6], nanosecond=True, big_endian=True))
    write("pcap", "snapped.pcap", pcap_file([(SNAPPED, len(FRAMES["tcp4-data"]))] * 2,
                                            snaplen=64))
    write("pcap", "backwards.pcap",
          pcap_file([(FRAMES["udp4"], len(FRAMES["udp4"]))], ts=(1700000100, 0))
          + pcap_file([(FRAMES["udp6"], len(FRAMES["udp6"]))], ts=(1700000000, 0))[24:])
    write("pcap", "raw-linktype.pcap", pcap_file(full[:1], linktype=101))
    write("pcap", "truncated-record.pcap", pcap_file(full[:2])[:-7])
    write("pcap", "capture.pcapng", pcapng_file(full[:8]))
    with tempfile.TemporaryDirectory() as tmp:
        sim = os.path.join(build, "tests", "sim", "vnet-sim")
        subprocess.run([sim, "--scenario", "S1", "--seed", "1", "--topology", "chain",
                        "--duration", "3", "--scale", "20", "--out", tmp], check=True,
                       stdout=subprocess.DEVNULL)
        data = open(os.path.join(tmp, "nat.out.pcap"), "rb").read()
        # The header and the first 8 records.
        off = 24
        for _ in range(8):
            caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
            off += 16 + caplen
        write("pcap", "vnet-sim-nat-out.pcap", data[:off])


def topology_seeds(build):
    with tempfile.TemporaryDirectory() as tmp:
        sim = os.path.join(build, "tests", "sim", "vnet-sim")
        for topo in ("chain", "dag", "shaper"):
            out = os.path.join(tmp, topo)
            subprocess.run([sim, "--scenario", "S1", "--seed", "1", "--topology", topo,
                            "--duration", "1", "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            write("topology", "vnet-sim-%s.json" % topo,
                  open(os.path.join(out, "topology.json")).read())
    doc = {
        "nfs": [
            {"name": "fw", "peak_pps": 1500000, "qcap": 1024, "type": "firewall",
             "class": "forward", "fifo": True,
             "policy_drops": [{"proto": "udp", "src": "10.0.0.0/8", "dst": "0.0.0.0/0",
                               "sport": "0-65535", "dport": 5060},
                              {"proto": 6, "dst": "192.168.1.1"}, {}]},
            {"name": "nat", "peak_pps": 2.5e5, "type": "napt", "fifo": False},
            {"name": "vpn", "class": "vpn"},
        ],
        "edges": [["ingress", "fw"], ["fw", "nat"], ["nat", "vpn"], ["vpn", "egress"],
                  ["ingress", "egress"]],
        "captures": {"fw": {"in": "fw.in.pcap", "out": "fw.out.pcap"},
                     "nat": {"in": "nat.in.pcap", "out": "nat.out.pcap"},
                     "vpn": {"in": "sub/x.pcap", "out": "vpn.out.pcap"}},
    }
    write("topology", "documented.json", json.dumps(doc, indent=1))
    # What vnet-monitor's dump writes when only the NAT is mirrored.
    write("topology", "monitor-contracted.json", json.dumps({
        "nfs": [{"name": "nat", "peak_pps": 150000, "type": "nat"}],
        "edges": [["ingress", "nat"], ["nat", "egress"]],
        "captures": {"nat": {"in": "nat.in.pcap", "out": "nat.out.pcap"}}}))
    write("topology", "lb-dag.json", json.dumps({
        "nfs": [{"name": n} for n in ("lb", "fw1", "fw2", "vpn")],
        "edges": [["ingress", "lb"], ["lb", "fw1"], ["lb", "fw2"], ["fw1", "vpn"],
                  ["fw2", "vpn"], ["vpn", "egress"]],
        "captures": {n: {"in": n + ".in.pcap", "out": n + ".out.pcap"}
                     for n in ("lb", "fw1", "fw2", "vpn")}}))
    write("topology", "cycle.json", json.dumps({
        "nfs": [{"name": "fw"}, {"name": "nat"}],
        "edges": [["ingress", "fw"], ["fw", "nat"], ["nat", "fw"], ["nat", "egress"]],
        "captures": {"fw": {"in": "fw.in.pcap", "out": "fw.out.pcap"},
                     "nat": {"in": "nat.in.pcap", "out": "nat.out.pcap"}}}))
    write("topology", "outside.json", json.dumps({
        "nfs": [{"name": "fw"}], "edges": [["ingress", "fw"], ["fw", "egress"]],
        "captures": {"fw": {"in": "outside.pcap", "out": "dir.pcap"}}}))


def request(method, params=None, ident=1):
    r = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        r["params"] = params
    return json.dumps(r)


def rpc_seeds(build):
    # The methods in list-commands' order, from the daemon itself.
    sock_dir = tempfile.mkdtemp(prefix="vnet-seeds.")
    sock = os.path.join(sock_dir, "s")
    vnetd = subprocess.Popen([os.path.join(build, "vnetd", "vnetd"), "--no-substrate",
                              "--socket", sock, "--state-dir", os.path.join(sock_dir, "st")],
                             stderr=subprocess.DEVNULL)
    try:
        import socket
        import time
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall((request("list-commands") + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            buf += s.recv(65536)
        methods = [c["name"] for c in json.loads(buf)["result"]]
    finally:
        vnetd.terminate()
        vnetd.wait()
        subprocess.run(["rm", "-rf", sock_dir])

    def line(method, params=None):
        return chr(ord("A") + methods.index(method)) + (json.dumps(params)
                                                         if params is not None else "")
    raw = chr(ord("A") + len(methods))
    templates = {}
    for f in sorted(os.listdir(os.path.join(TOP, "templates", "chains"))):
        templates[f] = open(os.path.join(TOP, "templates", "chains", f)).read()
    for m in methods:
        write("rpc", "bare-" + m.replace("/", "-"), line(m) + "\n")
    for f, text in templates.items():
        write("rpc", "load-" + f, "\n".join([
            line("chain/load", {"file": f, "text": text, "replace": True}),
            line("chain/list"),
            line("chain/show", {"name": json.loads(text)["name"]}),
            line("chain/delete", {"name": json.loads(text)["name"]}),
            line("status")]) + "\n")
    write("rpc", "session", "\n".join([
        line("version"), line("log/set", {"spec": "control:dbg,ANY:info"}),
        line("log/list"),
        line("chain/create", {"name": "fw-nat-vpn"}),
        line("chain/mirror", {"name": "fw-nat-vpn", "nodes": ["nat"], "snaplen": 128,
                              "cpus": "0", "memory": 256}),
        line("counters/diagnose", {"name": "fw-nat-vpn", "window": 1.5}),
        line("shadow/create", {"name": "fw-nat-vpn"}),
        line("shadow/set", {"name": "fw-nat-vpn", "node": "vpn",
                            "settings": {"args": "--priority udp,*,*,*,5004"}}),
        line("shadow/edit", {"name": "fw-nat-vpn", "file": "fix.json",
                             "text": '{"nodes": {"vpn": {"cpus": 2}}}'}),
        line("swap", {"name": "fw-nat-vpn"}), line("rollback", {"name": "fw-nat-vpn"}),
        line("shadow/retire", {"name": "fw-nat-vpn"}),
        line("chain/delete", {"name": "lb-2fw-vpn", "keep-template": True}),
        line("chain/delete", {"name": "lb-2fw-vpn"}),
        line("chain/show", {"name": "lb-2fw-vpn"})]) + "\n")
    write("rpc", "errors", "\n".join([
        line("chain/show", {"name": 5}), line("chain/show", {"name": "Bad Name"}),
        line("chain/show", {"name": "fw-nat-vpn", "colour": 1}), line("chain/show", []),
        line("chain/show", [1, 2]), line("chain/load", {"file": "x", "text": "{"}),
        line("log/set", {"spec": "nosuch:dbg"}),
        raw + request("nosuch/method"),
        raw + '{"jsonrpc":"2.0","method":"version"}',
        raw + '{"jsonrpc":"1.0","id":1,"method":"version"}',
        raw + '{"jsonrpc":"2.0","id":[1],"method":"version"}',
        raw + "not json", raw + "  ", raw + "[]",
        raw + request("status", ident="abc")]) + "\n")

    write("jsonrpc", "requests", b"\x40\x07" + "\n".join([
        request("version"), request("chain/show", {"name": "fw-nat-vpn"}, 2),
        request("status", [], "s1"), '{"jsonrpc":"2.0","method":"notify"}', "",
        " \t\r", "garbage", '{"jsonrpc":"2.0","id":1.5,"method":"x"}',
        '{"jsonrpc":"2.0","id":1,"method":"x","extra":true}', "42",
        '"\\u00e9\\ud83d\\ude00"', '{"a":1e400,"b":-0.0,"c":9223372036854775808}'])
          .encode() + b"\n")
    write("jsonrpc", "long-lines", b"\x00\x00" + (
        "x" * 40 + "\n" + request("version") + "\n" + "y" * 30).encode())
    write("jsonrpc", "load", b"\xff\xff" + (request(
        "chain/load", {"file": "fw-nat-vpn.json",
                       "text": templates["fw-nat-vpn.json"]}) + "\n").encode())


def shadow_patch_seeds():
    write("shadow-patch", "set-args", '0{"node": "vpn", "settings": '
          '{"args": "--priority udp,*,*,*,5004"}}')
    write("shadow-patch", "set-numbers", '0{"node": "fw", "settings": '
          '{"cpus": "2", "memory": "256", "queue": "4096", "peak_pps": "300000"}}')
    write("shadow-patch", "set-mode", '2{"node": "fw2", "settings": {"mode": "forward"}}')
    write("shadow-patch", "set-bad", '0{"node": "nat", "settings": {"colour": "red"}}')
    write("shadow-patch", "edit-args",
          '1{"nodes": {"vpn": {"nf": {"args": ["--priority", "udp,*,*,*,5004"]}}}}')
    write("shadow-patch", "edit-delete",
          '3{"nodes": {"lb": {"nf": {"peak_pps": null, "queue": 64}}, '
          '"vpn": {"memory": 512, "kind": "lxc"}}}')
    write("shadow-patch", "edit-rename", '1{"nodes": {"fw": {"name": "fw2"}}}')
    write("shadow-patch", "edit-graph", '3{"nodes": {"fw1": {"nf": null}}}')


def chain_template_seeds():
    chains = os.path.join(TOP, "templates", "chains")
    for f in sorted(os.listdir(chains)):
        write("chain-template", f, open(os.path.join(chains, f)).read())
    t = json.load(open(os.path.join(chains, "lb-2fw-vpn.json")))
    t["nodes"].reverse()
    t["bridge"]["datapath"] = "system"
    t["nodes"][0]["kind"] = "qemu"
    write("chain-template", "reordered-qemu.json", json.dumps(t))
    t = json.load(open(os.path.join(chains, "fw-nat-vpn.json")))
    nodes = [n["name"] for n in t["nodes"]]
    t["graph"] = {"edges": [["ingress", nodes[0]]]
                  + [[a, b] for a, b in zip(nodes, nodes[1:])] + [[nodes[-1], "egress"]]}
    t["nodes"][0]["nf"] = {"program": "/usr/bin/vnet-nf"}
    write("chain-template", "canonical-edges.json", json.dumps(t, separators=(",", ":")))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build"))
    packet_seeds()
    pcap_seeds(build)
    topology_seeds(build)
    rpc_seeds(build)
    shadow_patch_seeds()
    chain_template_seeds()


if __name__ == "__main__":
    main()
