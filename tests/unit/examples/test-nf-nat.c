/* Tests examples/nf/nat.c: NAPT mappings, rewriting and checksum fixing.  Every
 * translated frame's checksums are compared with a from-scratch computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "examples/nf/nat.h"
#include "examples/nf/pkt.h"
#include "tests/unit/examples/frames.h"

#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (b) << 16 | (c) << 8 | (d))
#define EXT IP(192, 0, 2, 100)
#define INSIDE IP(10, 0, 0, 1)
#define SERVER IP(198, 51, 100, 7)
#define SEC 1000000000ull

static const uint8_t out_mac[6] = { 0x02, 0, 0, 0, 0, 0xee };

static void
assert_csums_fresh(const uint8_t *f)
{
    uint16_t ipc, l4c;
    frames_expected_csums(f, &ipc, &l4c);
    assert_int_equal(frames_get16(f + 24), ipc);
    uint8_t proto = f[23];
    size_t off = 34 + (proto == 1 ? 2 : proto == 17 ? 6 : 16);
    assert_int_equal(frames_get16(f + off), l4c);
}

static void
check_roundtrip(uint8_t proto, uint16_t sport, uint16_t dport, size_t plen)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    uint8_t f[1600], orig[1600], payload[1400];
    for (size_t i = 0; i < plen; i++) {
        payload[i] = (uint8_t) (i * 7 + proto);
    }
    size_t len = frames_build(f, proto, INSIDE, SERVER, sport, dport, payload, plen,
                              proto == 1 ? 8 : 0);
    memcpy(orig, f, len);

    uint32_t ip = 0;
    uint16_t port = 0;
    assert_int_equal(nf_nat_forward(nat, f, len, 1 * SEC, &ip, &port), NF_NAT_TRANSLATED);
    assert_int_equal(ip, EXT);
    assert_in_range(port, NF_NAT_PORT_MIN, NF_NAT_PORT_MAX);
    uint16_t mapped = port;
    struct pkt_info info;
    pkt_parse(f, len, &info);
    assert_int_equal(info.sip, EXT);
    assert_int_equal(info.dip, SERVER);
    assert_int_equal(info.sport, port);
    if (proto != 1) {
        assert_int_equal(info.dport, dport);
    }
    assert_int_equal(info.ip_id, 0x1234);                 /* IP ID kept */
    assert_int_equal(f[22], 64);                          /* TTL kept */
    assert_memory_equal(f + 6, out_mac, 6);               /* from the outside MAC */
    assert_memory_equal(f, frames_mac_b, 6);
    assert_memory_equal(f + len - plen, payload, plen);   /* payload untouched */
    assert_csums_fresh(f);

    /* The reply comes back to EXT:port and is translated to the inside host. */
    uint8_t r[1600];
    size_t rlen = frames_build(r, proto, SERVER, EXT, proto == 1 ? port : dport, port,
                               payload, plen, proto == 1 ? 0 : 0);
    memcpy(r, out_mac, 6);                                /* to the NAT's MAC */
    memcpy(r + 6, frames_mac_b, 6);
    assert_int_equal(nf_nat_reverse(nat, r, rlen, 2 * SEC, &ip, &port), NF_NAT_TRANSLATED);
    assert_int_equal(ip, INSIDE);
    assert_int_equal(port, sport);
    pkt_parse(r, rlen, &info);
    assert_int_equal(info.dip, INSIDE);
    assert_int_equal(info.sip, SERVER);
    assert_int_equal(info.dport, sport);
    assert_memory_equal(r, frames_mac_a, 6);              /* to the inside host */
    assert_memory_equal(r + 6, frames_mac_b, 6);          /* from whom it addressed */
    assert_csums_fresh(r);

    /* The same inside flow keeps its mapping; the table holds one entry. */
    memcpy(f, orig, len);
    uint16_t again;
    assert_int_equal(nf_nat_forward(nat, f, len, 3 * SEC, NULL, &again), NF_NAT_TRANSLATED);
    assert_int_equal(again, mapped);
    assert_int_equal(nf_nat_count(nat, 3 * SEC), 1);
    nf_nat_destroy(nat);
}

static void
test_udp_roundtrip(void **state)
{
    check_roundtrip(17, 5000, 53, 100);
    check_roundtrip(17, 65535, 1, 0);
    check_roundtrip(17, 1, 65535, 1);
}

static void
test_tcp_roundtrip(void **state)
{
    check_roundtrip(6, 40000, 80, 0);
    check_roundtrip(6, 12345, 443, 1333);
}

static void
test_icmp_echo_roundtrip(void **state)
{
    check_roundtrip(1, 0x4242, 0, 56);
}

static void
test_udp_zero_checksum_stays_zero(void **state)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    uint8_t f[128], payload[8] = { 1, 2, 3 };
    size_t len = frames_build(f, 17, INSIDE, SERVER, 7, 9, payload, sizeof payload, 0);
    f[40] = f[41] = 0;
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_TRANSLATED);
    assert_int_equal(frames_get16(f + 40), 0);
    uint16_t ipc, l4c;
    frames_expected_csums(f, &ipc, &l4c);
    assert_int_equal(frames_get16(f + 24), ipc);
    nf_nat_destroy(nat);
}

static void
test_random_frames_checksums(void **state)
{
    /* Many flows, random addresses, ports and payloads: every rewrite must equal a
     * recomputation, in both directions. */
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    srandom(3);
    for (int i = 0; i < 3000; i++) {
        uint8_t f[1600], payload[1400];
        size_t plen = (size_t) random() % 600;
        for (size_t j = 0; j < plen; j++) {
            payload[j] = (uint8_t) random();
        }
        uint8_t proto = (uint8_t[]) { 6, 17, 1 }[i % 3];
        uint32_t sip = (uint32_t) random(), dip = (uint32_t) random();
        uint16_t sport = (uint16_t) random(), dport = (uint16_t) random();
        size_t len = frames_build(f, proto, sip, dip, sport, dport, payload, plen, 8);
        uint16_t port;
        assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, &port), NF_NAT_TRANSLATED);
        assert_csums_fresh(f);

        size_t rlen = frames_build(f, proto, dip, EXT, proto == 1 ? port : dport, port,
                                   payload, plen, 0);
        uint32_t ip;
        uint16_t back;
        assert_int_equal(nf_nat_reverse(nat, f, rlen, SEC, &ip, &back), NF_NAT_TRANSLATED);
        assert_int_equal(ip, sip);
        assert_int_equal(back, sport);
        assert_csums_fresh(f);
    }
    nf_nat_destroy(nat);
}

static void
test_pass_drop_and_unsupported(void **state)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    uint8_t f[128], payload[8] = { 0 };

    /* Reverse traffic not for EXT passes untouched; for EXT without mapping drops. */
    size_t len = frames_build(f, 17, SERVER, IP(10, 9, 9, 9), 53, 5000, payload, 8, 0);
    uint8_t copy[128];
    memcpy(copy, f, len);
    assert_int_equal(nf_nat_reverse(nat, f, len, SEC, NULL, NULL), NF_NAT_PASS);
    assert_memory_equal(f, copy, len);
    len = frames_build(f, 17, SERVER, EXT, 53, 5000, payload, 8, 0);
    assert_int_equal(nf_nat_reverse(nat, f, len, SEC, NULL, NULL), NF_NAT_NO_MAPPING);
    len = frames_build(f, 6, SERVER, EXT, 53, 1024, payload, 8, 0);
    assert_int_equal(nf_nat_reverse(nat, f, len, SEC, NULL, NULL), NF_NAT_NO_MAPPING);

    /* Forward: fragments, ICMP errors, echo replies, GRE cannot be translated. */
    len = frames_build(f, 17, INSIDE, SERVER, 1, 2, payload, 8, 0);
    frames_put16(f + 20, 0x2000);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_UNSUPPORTED);
    len = frames_build(f, 1, INSIDE, SERVER, 1, 0, payload, 8, 3);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_UNSUPPORTED);
    len = frames_build(f, 1, INSIDE, SERVER, 1, 0, payload, 8, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_UNSUPPORTED);
    len = frames_build(f, 17, INSIDE, SERVER, 1, 2, payload, 8, 0);
    f[23] = 47;
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_UNSUPPORTED);

    /* Non-IPv4 passes both ways. */
    frames_put16(f + 12, 0x86dd);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_PASS);
    assert_int_equal(nf_nat_reverse(nat, f, len, SEC, NULL, NULL), NF_NAT_PASS);
    assert_int_equal(nf_nat_count(nat, SEC), 0);
    nf_nat_destroy(nat);
}

static void
test_expiry_and_reuse(void **state)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    nf_nat_set_timeouts(nat, 10 * SEC, 5 * SEC);
    uint8_t f[128], payload[8] = { 0 };
    uint16_t p1, p2;

    size_t len = frames_build(f, 17, INSIDE, SERVER, 1000, 53, payload, 8, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, 0, NULL, &p1), NF_NAT_TRANSLATED);
    assert_int_equal(p1, NF_NAT_PORT_MIN);
    len = frames_build(f, 17, INSIDE, SERVER, 1001, 53, payload, 8, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, 0, NULL, &p2), NF_NAT_TRANSLATED);
    assert_int_equal(p2, NF_NAT_PORT_MIN + 1);
    assert_int_equal(nf_nat_count(nat, 5 * SEC), 2);

    /* Reverse traffic keeps a mapping alive; after the timeout replies are dropped. */
    size_t rlen = frames_build(f, 17, SERVER, EXT, 53, p1, payload, 8, 0);
    assert_int_equal(nf_nat_reverse(nat, f, rlen, 8 * SEC, NULL, NULL), NF_NAT_TRANSLATED);
    assert_int_equal(nf_nat_count(nat, 15 * SEC), 1);
    rlen = frames_build(f, 17, SERVER, EXT, 53, p2, payload, 8, 0);
    assert_int_equal(nf_nat_reverse(nat, f, rlen, 15 * SEC, NULL, NULL), NF_NAT_NO_MAPPING);

    /* An expired flow that speaks again before its port is reused gets it back. */
    len = frames_build(f, 17, INSIDE, SERVER, 1001, 53, payload, 8, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, 15 * SEC, NULL, &p2), NF_NAT_TRANSLATED);
    assert_int_equal(p2, NF_NAT_PORT_MIN + 1);
    nf_nat_destroy(nat);
}

static void
test_exhaustion_and_wraparound(void **state)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    nf_nat_set_timeouts(nat, 10 * SEC, 10 * SEC);
    uint8_t f[128], payload[8] = { 0 };
    const uint32_t n = NF_NAT_PORT_MAX - NF_NAT_PORT_MIN + 1;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = frames_build(f, 6, IP(10, 0, (i >> 8) & 0xff, i & 0xff), SERVER,
                                  (uint16_t) (1 + (i >> 16)), 80, payload, 0, 0);
        uint16_t port;
        assert_int_equal(nf_nat_forward(nat, f, len, 0, NULL, &port), NF_NAT_TRANSLATED);
        assert_int_equal(port, NF_NAT_PORT_MIN + i);
    }
    assert_int_equal(nf_nat_count(nat, 0), n);
    size_t len = frames_build(f, 6, IP(10, 1, 0, 0), SERVER, 9, 80, payload, 0, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_EXHAUSTED);
    /* UDP has its own ports. */
    len = frames_build(f, 17, IP(10, 1, 0, 0), SERVER, 9, 80, payload, 0, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, SEC, NULL, NULL), NF_NAT_TRANSLATED);

    /* Once the old mappings expire, the allocator wraps and reuses the first port;
     * the old owner's replies no longer reach it. */
    uint16_t port;
    len = frames_build(f, 6, IP(10, 1, 0, 0), SERVER, 9, 80, payload, 0, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, 20 * SEC, NULL, &port), NF_NAT_TRANSLATED);
    assert_int_equal(port, NF_NAT_PORT_MIN);
    size_t rlen = frames_build(f, 6, SERVER, EXT, 80, NF_NAT_PORT_MIN, payload, 0, 0);
    uint32_t ip;
    assert_int_equal(nf_nat_reverse(nat, f, rlen, 20 * SEC, &ip, NULL), NF_NAT_TRANSLATED);
    assert_int_equal(ip, IP(10, 1, 0, 0));
    /* And the old owner, speaking again, gets a fresh port. */
    len = frames_build(f, 6, IP(10, 0, 0, 0), SERVER, 1, 80, payload, 0, 0);
    assert_int_equal(nf_nat_forward(nat, f, len, 20 * SEC, NULL, &port), NF_NAT_TRANSLATED);
    assert_int_equal(port, NF_NAT_PORT_MIN + 1);
    nf_nat_destroy(nat);
}

static void
test_proxy_arp(void **state)
{
    struct nf_nat *nat = nf_nat_create(EXT, out_mac);
    uint8_t req[60] = { 0 }, reply[60];
    memset(req, 0xff, 6);
    memcpy(req + 6, frames_mac_b, 6);
    frames_put16(req + 12, 0x0806);
    uint8_t *a = req + 14;
    frames_put16(a, 1);
    frames_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    frames_put16(a + 6, 1);
    memcpy(a + 8, frames_mac_b, 6);
    frames_put32(a + 14, SERVER);
    frames_put32(a + 24, EXT);

    assert_int_equal(nf_nat_arp_reply(nat, req, 60, reply), 60);
    assert_memory_equal(reply, frames_mac_b, 6);
    assert_memory_equal(reply + 6, out_mac, 6);
    assert_int_equal(frames_get16(reply + 12), 0x0806);
    const uint8_t *r = reply + 14;
    assert_int_equal(frames_get16(r + 6), 2);
    assert_memory_equal(r + 8, out_mac, 6);
    assert_int_equal(frames_get16(r + 14), EXT >> 16);
    assert_int_equal(frames_get16(r + 16), EXT & 0xffff);
    assert_memory_equal(r + 18, frames_mac_b, 6);
    assert_int_equal(frames_get16(r + 24), SERVER >> 16);

    /* Other targets, replies and truncated requests get no answer. */
    frames_put32(a + 24, SERVER);
    assert_int_equal(nf_nat_arp_reply(nat, req, 60, reply), 0);
    frames_put32(a + 24, EXT);
    frames_put16(a + 6, 2);
    assert_int_equal(nf_nat_arp_reply(nat, req, 60, reply), 0);
    frames_put16(a + 6, 1);
    assert_int_equal(nf_nat_arp_reply(nat, req, 40, reply), 0);
    nf_nat_destroy(nat);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_roundtrip),
        cmocka_unit_test(test_tcp_roundtrip),
        cmocka_unit_test(test_icmp_echo_roundtrip),
        cmocka_unit_test(test_udp_zero_checksum_stays_zero),
        cmocka_unit_test(test_random_frames_checksums),
        cmocka_unit_test(test_pass_drop_and_unsupported),
        cmocka_unit_test(test_expiry_and_reuse),
        cmocka_unit_test(test_exhaustion_and_wraparound),
        cmocka_unit_test(test_proxy_arp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
