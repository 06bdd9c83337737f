/* Tests diag/packet.c: XXH64 against the reference values, parsing of Ethernet,
 * VLAN/QinQ, IPv4/IPv6, TCP/UDP/ICMP and fragments, what each key ignores and what
 * it distinguishes, snaplen truncation, and garbage of every length (run under ASan
 * with buffers of the exact size, so any read past the end fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "lib/util.h"

/* A packet to build; zero fields take defaults. */
struct spec {
    int vlans;                  /* 0, 1 or 2 tags */
    bool v6;
    uint8_t proto;              /* 6 TCP (default), 17 UDP, 1 ICMP */
    uint32_t sip, dip;
    uint16_t sport, dport;
    uint16_t ip_id;
    uint8_t ttl, tos;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t frag;              /* IPv4 flags+offset field */
    uint8_t icmp_type;
    uint16_t icmp_id, icmp_seq;
    uint16_t csum;              /* written into the IP and L4 checksum fields */
    uint8_t mac_last;
    uint32_t flow_label;
    size_t plen;
    uint8_t payload_seed;
    size_t pad;                 /* Ethernet padding after the IP packet */
};

static void
put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* Builds the frame into 'f' (at least 2048 bytes); returns its length. */
static size_t
build(uint8_t *f, const struct spec *s)
{
    uint8_t proto = s->proto ? s->proto : 6;
    size_t l4h = proto == 6 ? 20 : 8;
    memset(f, 0, 2048);
    f[5] = 0x0b;
    f[11] = s->mac_last ? s->mac_last : 0x0a;
    size_t off = 12;
    for (int i = 0; i < s->vlans; i++) {
        put16(f + off, i == 0 && s->vlans == 2 ? 0x88a8 : 0x8100);
        put16(f + off + 2, 100 + (unsigned) i);
        off += 4;
    }
    put16(f + off, s->v6 ? 0x86dd : 0x0800);
    off += 2;
    uint8_t *ip = f + off;
    size_t iph = s->v6 ? 40 : 20;
    size_t total = iph + l4h + s->plen;
    if (s->v6) {
        put32(ip, 6u << 28 | (uint32_t) s->tos << 20 | (s->flow_label & 0xfffff));
        put16(ip + 4, (unsigned) (total - 40));
        ip[6] = proto == 1 ? 58 : proto;
        ip[7] = s->ttl ? s->ttl : 64;
        put32(ip + 8, 0x20010db8);
        put32(ip + 20, s->sip ? s->sip : 1);
        put32(ip + 24, 0x20010db8);
        put32(ip + 36, s->dip ? s->dip : 2);
    } else {
        ip[0] = 0x45;
        ip[1] = s->tos;
        put16(ip + 2, (unsigned) total);
        put16(ip + 4, s->ip_id);
        put16(ip + 6, s->frag);
        ip[8] = s->ttl ? s->ttl : 64;
        ip[9] = proto;
        put16(ip + 10, s->csum);
        put32(ip + 12, s->sip ? s->sip : 0x0a000001);
        put32(ip + 16, s->dip ? s->dip : 0x0a000002);
    }
    uint8_t *l4 = ip + iph;
    if (proto == 1) {
        l4[0] = s->icmp_type;
        put16(l4 + 2, s->csum);
        put16(l4 + 4, s->icmp_id);
        put16(l4 + 6, s->icmp_seq);
    } else {
        put16(l4, s->sport ? s->sport : 1234);
        put16(l4 + 2, s->dport ? s->dport : 80);
        if (proto == 6) {
            put32(l4 + 4, s->seq);
            put32(l4 + 8, s->ack);
            l4[12] = 5 << 4;
            l4[13] = s->tcp_flags ? s->tcp_flags : 0x18;
            put16(l4 + 14, 1000);
            put16(l4 + 16, s->csum);
        } else {
            put16(l4 + 4, (unsigned) (8 + s->plen));
            put16(l4 + 6, s->csum);
        }
    }
    for (size_t i = 0; i < s->plen; i++) {
        l4[l4h + i] = (uint8_t) (s->payload_seed * 31 + i * 7);
    }
    return off + total + s->pad;
}

/* Parses 'len' bytes copied into a buffer of exactly that size. */
static int
parse_exact(const uint8_t *frame, size_t len, struct packet_info *pi)
{
    uint8_t *copy = vnet_xmalloc(len ? len : 1);
    memcpy(copy, frame, len);
    int rc = packet_parse(copy, len, pi);
    free(copy);
    return rc;
}

static struct packet_info
parse_spec(const struct spec *s)
{
    uint8_t f[2048];
    size_t len = build(f, s);
    struct packet_info pi;
    int rc = parse_exact(f, len, &pi);
    assert_int_equal(rc, 0);
    return pi;
}

static void
test_xxh64_reference(void **state)
{
    assert_true(packet_hash64("", 0, 0) == 0xef46db3751d8e999ULL);
    assert_true(packet_hash64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL);
    assert_true(packet_hash64("abc", 3, 0) == 0x44bc2cf5ad770999ULL);
    assert_true(packet_hash64("abc", 3, 0x9e3779b1) == 0x1318df30094a85fdULL);
    const char *s = "Nobody inspects the spammish repetition";
    assert_true(packet_hash64(s, strlen(s), 0) == 0xfbcea83c8a378bf1ULL);
}

static void
test_parse_ipv4_tcp(void **state)
{
    struct spec s = { .sip = 0x0a010203, .dip = 0xc0a80001, .sport = 5555, .dport = 443,
                      .ip_id = 77, .seq = 1000, .ack = 2000, .plen = 40,
                      .tcp_flags = 0x10 | 0x40 | 0x80 };
    struct packet_info pi = parse_spec(&s);
    assert_int_equal(pi.l3, PACKET_L3_IPV4);
    assert_int_equal(pi.flow.sip, 0x0a010203);
    assert_int_equal(pi.flow.dip, 0xc0a80001);
    assert_int_equal(pi.flow.sport, 5555);
    assert_int_equal(pi.flow.dport, 443);
    assert_int_equal(pi.flow.proto, 6);
    assert_int_equal(pi.ip_len, 20 + 20 + 40);
    assert_int_equal(pi.ip_id, 77);
    assert_int_equal(pi.tcp_seq, 1000);
    assert_int_equal(pi.tcp_ack, 2000);
    assert_int_equal(pi.tcp_flags, 0x10);      /* ECE/CWR are masked */
    assert_int_equal(pi.flags, 0);
    assert_true(pi.flow_hash == packet_flow_hash(&pi.flow));
    assert_true(pi.content_key && pi.invariant_key && pi.invariant_noid_key);
}

static void
test_vlan_and_qinq(void **state)
{
    struct spec s = { .plen = 10, .ip_id = 5 };
    struct packet_info plain = parse_spec(&s);
    s.vlans = 1;
    struct packet_info one = parse_spec(&s);
    s.vlans = 2;
    struct packet_info two = parse_spec(&s);
    assert_int_equal(plain.flags & PACKET_F_VLAN, 0);
    assert_int_equal(one.flags & PACKET_F_VLAN, PACKET_F_VLAN);
    assert_int_equal(two.flags & PACKET_F_VLAN, PACKET_F_VLAN);
    assert_true(plain.content_key == one.content_key);
    assert_true(plain.content_key == two.content_key);
    assert_true(plain.invariant_key == two.invariant_key);
    assert_int_equal(two.flow.dport, 80);
}

/* What forwarding changes leaves every key alone. */
static void
test_keys_ignore_forwarding_changes(void **state)
{
    struct spec base = { .ip_id = 9, .seq = 5, .ack = 6, .plen = 50,
                         .payload_seed = 3 };
    struct packet_info a = parse_spec(&base);
    struct spec variants[6];
    for (size_t i = 0; i < VNET_ARRAY_SIZE(variants); i++) {
        variants[i] = base;
    }
    variants[0].ttl = 12;
    variants[1].csum = 0xbeef;
    variants[2].tos = 0xb9;                     /* DSCP 46 + ECN CE */
    variants[3].mac_last = 0x77;
    variants[4].tcp_flags = 0x18 | 0x40;        /* ECE set by a middlebox */
    variants[5].pad = 20;                       /* Ethernet padding */
    for (size_t i = 0; i < VNET_ARRAY_SIZE(variants); i++) {
        struct packet_info b = parse_spec(&variants[i]);
        assert_true(a.content_key == b.content_key);
        assert_true(a.invariant_key == b.invariant_key);
        assert_true(a.invariant_noid_key == b.invariant_noid_key);
    }
    /* The same for UDP and ICMP. */
    struct spec udp = { .proto = 17, .ip_id = 1, .plen = 30 };
    struct spec udp2 = udp;
    udp2.ttl = 3;
    udp2.csum = 0x1111;
    assert_true(parse_spec(&udp).content_key == parse_spec(&udp2).content_key);
    struct spec icmp = { .proto = 1, .icmp_type = 8, .icmp_id = 4, .icmp_seq = 9,
                         .plen = 16 };
    struct spec icmp2 = icmp;
    icmp2.csum = 0x2222;
    icmp2.ttl = 1;
    assert_true(parse_spec(&icmp).content_key == parse_spec(&icmp2).content_key);
}

/* Different packets get different keys; a NAT rewrite keeps the invariant keys. */
static void
test_keys_distinguish(void **state)
{
    struct spec base = { .ip_id = 9, .seq = 5, .ack = 6, .plen = 50,
                         .payload_seed = 3 };
    struct packet_info a = parse_spec(&base);
    struct spec s;

    s = base, s.ip_id = 10;
    struct packet_info id = parse_spec(&s);
    assert_true(a.content_key != id.content_key);
    assert_true(a.invariant_key != id.invariant_key);
    assert_true(a.invariant_noid_key == id.invariant_noid_key);

    s = base, s.payload_seed = 4;
    struct packet_info pay = parse_spec(&s);
    assert_true(a.content_key != pay.content_key);
    assert_true(a.invariant_key != pay.invariant_key);
    assert_true(a.invariant_noid_key != pay.invariant_noid_key);

    s = base, s.seq = 6;
    assert_true(a.content_key != parse_spec(&s).content_key);
    assert_true(a.invariant_noid_key != parse_spec(&s).invariant_noid_key);
    s = base, s.ack = 7;
    assert_true(a.invariant_key != parse_spec(&s).invariant_key);
    s = base, s.plen = 51;
    assert_true(a.content_key != parse_spec(&s).content_key);
    assert_true(a.invariant_key != parse_spec(&s).invariant_key);
    s = base, s.tcp_flags = 0x11;
    assert_true(a.invariant_key != parse_spec(&s).invariant_key);

    /* NAPT: addresses and ports rewritten, checksums updated. */
    s = base, s.sip = 0xc6336401, s.sport = 40000, s.csum = 0x4321;
    struct packet_info nat = parse_spec(&s);
    assert_true(a.content_key != nat.content_key);
    assert_true(a.invariant_key == nat.invariant_key);
    assert_true(a.invariant_noid_key == nat.invariant_noid_key);
    assert_true(a.flow_hash != nat.flow_hash);
    s = base, s.dip = 0x0a0000fe, s.dport = 8080;
    assert_true(a.content_key != parse_spec(&s).content_key);
    assert_true(a.invariant_key == parse_spec(&s).invariant_key);

    /* Only the prefix of the payload counts. */
    uint8_t f1[2048], f2[2048];
    size_t len = build(f1, &base);
    memcpy(f2, f1, len);
    f2[len - 1] ^= 0xff;                        /* payload byte 49 */
    struct packet_info p1, p2;
    assert_int_equal(packet_parse(f1, len, &p1), 0);
    assert_int_equal(packet_parse(f2, len, &p2), 0);
    assert_true(p1.content_key == p2.content_key);
    f2[len - 1] = f1[len - 1];
    f2[len - 50 + PACKET_PAYLOAD_PREFIX - 1] ^= 1;  /* the last byte of the prefix */
    assert_int_equal(packet_parse(f2, len, &p2), 0);
    assert_true(p1.content_key != p2.content_key);

    /* ICMP echo: NAPT rewrites the identifier, not the sequence number. */
    struct spec icmp = { .proto = 1, .icmp_type = 8, .icmp_id = 4, .icmp_seq = 9,
                         .plen = 16 };
    struct packet_info e1 = parse_spec(&icmp);
    icmp.icmp_id = 5000;
    icmp.sip = 0x01020304;
    struct packet_info e2 = parse_spec(&icmp);
    assert_true(e1.content_key != e2.content_key);
    assert_true(e1.invariant_key == e2.invariant_key);
    icmp.icmp_seq = 10;
    assert_true(e1.invariant_key != parse_spec(&icmp).invariant_key);
    assert_int_equal(e1.flow.sport, 0);
    assert_int_equal(e1.flow.proto, 1);

    /* The three keys of one packet differ from each other. */
    assert_true(a.content_key != a.invariant_key);
    assert_true(a.invariant_key != a.invariant_noid_key);
}

static void
test_ipv6(void **state)
{
    struct spec s = { .v6 = true, .proto = 17, .sport = 53, .dport = 5353, .plen = 20,
                      .flow_label = 0x12345 };
    struct packet_info a = parse_spec(&s);
    assert_int_equal(a.l3, PACKET_L3_IPV6);
    assert_int_equal(a.flow.proto, 17);
    assert_int_equal(a.flow.sport, 53);
    assert_int_equal(a.ip_len, 40 + 8 + 20);
    struct spec t = s;
    t.ttl = 7;
    t.tos = 0xff;
    assert_true(parse_spec(&t).content_key == a.content_key);
    t = s;
    t.flow_label = 1;
    assert_true(parse_spec(&t).content_key != a.content_key);
    t = s;
    t.dip = 3;
    struct packet_info other = parse_spec(&t);
    assert_true(other.content_key != a.content_key);
    assert_true(other.flow.dip != a.flow.dip);

    /* A hop-by-hop options header before UDP. */
    uint8_t f[2048];
    size_t len = build(f, &s);
    uint8_t g[2048];
    memcpy(g, f, 14 + 40);
    g[14 + 6] = 0;                              /* next header: hop-by-hop */
    put16(g + 14 + 4, (unsigned) (len - 14 - 40 + 8));
    uint8_t *hbh = g + 14 + 40;
    memset(hbh, 0, 8);
    hbh[0] = 17;
    hbh[2] = 1;                                 /* PadN */
    hbh[3] = 4;
    memcpy(hbh + 8, f + 14 + 40, len - 14 - 40);
    struct packet_info h;
    assert_int_equal(parse_exact(g, len + 8, &h), 0);
    assert_int_equal(h.flow.proto, 17);
    assert_int_equal(h.flow.dport, 5353);
    /* A header longer than the packet is malformed. */
    hbh[1] = 200;
    assert_int_equal(parse_exact(g, len + 8, &h), -EBADMSG);
}

static void
test_fragments(void **state)
{
    struct spec s = { .proto = 17, .ip_id = 42, .plen = 40, .frag = 0x2000 };  /* MF */
    struct packet_info first = parse_spec(&s);
    assert_int_equal(first.flags & PACKET_F_FRAGMENT, 0);
    assert_int_equal(first.flow.dport, 80);
    s.frag = 185;                               /* offset 1480, last fragment */
    struct packet_info later = parse_spec(&s);
    assert_int_equal(later.flags & PACKET_F_FRAGMENT, PACKET_F_FRAGMENT);
    assert_int_equal(later.flow.sport, 0);
    assert_int_equal(later.flow.dport, 0);
    assert_true(first.content_key != later.content_key);
    assert_true(first.invariant_key != later.invariant_key);
}

static void
test_truncated_and_malformed(void **state)
{
    struct spec s = { .plen = 100, .ip_id = 3 };
    uint8_t f[2048];
    size_t len = build(f, &s);
    struct packet_info full, cut, cut2;
    assert_int_equal(parse_exact(f, len, &full), 0);
    assert_int_equal(full.flags & PACKET_F_TRUNCATED, 0);

    /* A 128-byte snaplen keeps the whole prefix; 60 bytes keep 6 payload bytes. */
    assert_int_equal(parse_exact(f, 128, &cut), 0);
    assert_int_equal(cut.flags & PACKET_F_TRUNCATED, 0);
    assert_true(cut.content_key == full.content_key);
    assert_int_equal(parse_exact(f, 60, &cut), 0);
    assert_int_equal(cut.flags & PACKET_F_TRUNCATED, PACKET_F_TRUNCATED);
    assert_int_equal(cut.ip_len, full.ip_len);
    assert_int_equal(parse_exact(f, 60, &cut2), 0);
    assert_true(cut.content_key == cut2.content_key);   /* cut alike, keyed alike */

    /* Cut inside the TCP header, the IP header, the Ethernet header. */
    assert_int_equal(parse_exact(f, 14 + 20 + 19, &cut), -EBADMSG);
    assert_int_equal(parse_exact(f, 14 + 19, &cut), -EBADMSG);
    assert_int_equal(parse_exact(f, 13, &cut), -EBADMSG);
    assert_int_equal(packet_parse(NULL, 0, &cut), -EBADMSG);

    /* Header fields that contradict each other. */
    uint8_t g[2048];
    memcpy(g, f, len);
    g[14] = 0x44;                               /* IHL 16 bytes */
    assert_int_equal(parse_exact(g, len, &cut), -EBADMSG);
    memcpy(g, f, len);
    g[14] = 0x65;                               /* version 6 in an IPv4 frame */
    assert_int_equal(parse_exact(g, len, &cut), -EBADMSG);
    memcpy(g, f, len);
    put16(g + 16, 30);                          /* total length < IP + TCP header */
    assert_int_equal(parse_exact(g, len, &cut), -EBADMSG);
    memcpy(g, f, len);
    g[14 + 20 + 12] = 0x20;                     /* TCP data offset 8 bytes */
    assert_int_equal(parse_exact(g, len, &cut), -EBADMSG);
    memcpy(g, f, len);
    put16(g + 12, 0x8100);                      /* a VLAN tag cut short */
    assert_int_equal(parse_exact(g, 17, &cut), -EBADMSG);

    /* ARP is not IP; neither is LLDP. */
    memcpy(g, f, len);
    put16(g + 12, 0x0806);
    assert_int_equal(parse_exact(g, 42, &cut), -EPROTONOSUPPORT);
    put16(g + 12, 0x88cc);
    assert_int_equal(parse_exact(g, 60, &cut), -EPROTONOSUPPORT);
}

/* Deterministic xorshift so a failure reproduces. */
static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every prefix of valid frames, random bit flips in their headers, and random
 * bytes behind plausible ethertypes: parse must never read out of bounds (ASan) and
 * must either succeed or say why not. */
static void
test_garbage(void **state)
{
    struct spec specs[] = {
        { .plen = 60 }, { .vlans = 2, .proto = 17, .plen = 20 },
        { .v6 = true, .plen = 10 }, { .v6 = true, .proto = 1, .icmp_type = 128 },
        { .proto = 1, .icmp_type = 3, .plen = 28 }, { .proto = 50, .plen = 40 },
    };
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < VNET_ARRAY_SIZE(specs); i++) {
        uint8_t f[2048];
        size_t len = build(f, &specs[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            struct packet_info pi;
            int rc = parse_exact(f, cut, &pi);
            assert_true(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
            rc ? failed++ : ok++;
        }
        for (int round = 0; round < 3000; round++) {
            uint8_t g[2048];
            memcpy(g, f, len);
            int flips = 1 + (int) (next_rand(&seed) % 4);
            for (int k = 0; k < flips; k++) {
                size_t pos = 12 + next_rand(&seed) % VNET_MIN(len - 12, (size_t) 80);
                g[pos] ^= (uint8_t) (1u << (next_rand(&seed) % 8));
            }
            size_t cut = next_rand(&seed) % (len + 1);
            struct packet_info pi;
            int rc = parse_exact(g, cut, &pi);
            assert_true(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
        }
    }
    static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100 };
    for (int round = 0; round < 20000; round++) {
        uint8_t g[256];
        size_t len = next_rand(&seed) % sizeof g;
        for (size_t k = 0; k < len; k++) {
            g[k] = (uint8_t) next_rand(&seed);
        }
        if (len >= 14) {
            put16(g + 12, types[next_rand(&seed) % VNET_ARRAY_SIZE(types)]);
        }
        if (len >= 15 && round % 2) {
            g[14] = (uint8_t) ((round % 4 ? 0x40 : 0x60) | (g[14] & 0x0f));
        }
        struct packet_info pi;
        int rc = parse_exact(g, len, &pi);
        assert_true(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
    }
    assert_true(ok > 0 && failed > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_reference),
        cmocka_unit_test(test_parse_ipv4_tcp),
        cmocka_unit_test(test_vlan_and_qinq),
        cmocka_unit_test(test_keys_ignore_forwarding_changes),
        cmocka_unit_test(test_keys_distinguish),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_truncated_and_malformed),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
