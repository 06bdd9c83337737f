/* Tests examples/nf/pkt.c: header parsing and checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "examples/nf/pkt.h"
#include "tests/unit/examples/frames.h"

#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (b) << 16 | (c) << 8 | (d))

static void
test_parse_udp_tcp_icmp(void **state)
{
    uint8_t f[256], payload[10] = "abcdefghi";
    struct pkt_info info;

    size_t len = frames_build(f, 17, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1234, 9, payload,
                              sizeof payload, 0);
    assert_true(pkt_parse(f, len, &info));
    assert_true(info.ipv4);
    assert_true(info.l4);
    assert_int_equal(info.proto, PKT_IPPROTO_UDP);
    assert_int_equal(info.sip, IP(10, 0, 0, 1));
    assert_int_equal(info.dip, IP(10, 0, 0, 2));
    assert_int_equal(info.sport, 1234);
    assert_int_equal(info.dport, 9);
    assert_int_equal(info.ip_id, 0x1234);
    assert_int_equal(info.l3_off, 14);
    assert_int_equal(info.l4_off, 34);
    assert_int_equal(info.ip_len, 20 + 8 + 10);
    assert_false(info.frag);

    len = frames_build(f, 6, IP(1, 2, 3, 4), IP(5, 6, 7, 8), 40000, 22, payload, 0, 0);
    assert_true(pkt_parse(f, len, &info));
    assert_int_equal(info.proto, PKT_IPPROTO_TCP);
    assert_int_equal(info.dport, 22);

    len = frames_build(f, 1, IP(1, 2, 3, 4), IP(5, 6, 7, 8), 77, 0, payload, 4, 8);
    assert_true(pkt_parse(f, len, &info));
    assert_int_equal(info.icmp_type, 8);
    assert_int_equal(info.sport, 77);
    assert_int_equal(info.dport, 77);
}

static void
test_parse_vlan_frag_and_garbage(void **state)
{
    uint8_t f[256], g[260], payload[4] = { 0 };
    struct pkt_info info;
    size_t len = frames_build(f, 17, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, payload, 4, 0);

    /* One 802.1Q tag in front of the IPv4 header. */
    memcpy(g, f, 12);
    frames_put16(g + 12, 0x8100);
    frames_put16(g + 14, 100);
    memcpy(g + 16, f + 12, len - 12);
    assert_true(pkt_parse(g, len + 4, &info));
    assert_true(info.ipv4);
    assert_int_equal(info.l3_off, 18);
    assert_int_equal(info.dport, 2);

    /* A non-first fragment has no L4 header; a first one (MF) has. */
    frames_put16(f + 20, 0x0010);
    assert_true(pkt_parse(f, len, &info));
    assert_true(info.frag);
    assert_false(info.first_frag);
    assert_false(info.l4);
    frames_put16(f + 20, 0x2000);
    assert_true(pkt_parse(f, len, &info));
    assert_true(info.frag && info.first_frag && info.l4);
    frames_put16(f + 20, 0);

    /* Truncated, wrong version, bad IHL, IP length below IHL, ARP. */
    assert_false(pkt_parse(f, 10, &info));
    assert_true(pkt_parse(f, 30, &info));
    assert_false(info.ipv4);
    f[14] = 0x65;
    assert_true(pkt_parse(f, len, &info));
    assert_false(info.ipv4);
    f[14] = 0x44;
    assert_true(pkt_parse(f, len, &info));
    assert_false(info.ipv4);
    f[14] = 0x45;
    frames_put16(f + 16, 10);
    assert_true(pkt_parse(f, len, &info));
    assert_false(info.ipv4);
    frames_put16(f + 12, 0x0806);
    assert_true(pkt_parse(f, len, &info));
    assert_int_equal(info.ethertype, PKT_ETH_P_ARP);
    assert_false(info.ipv4);

    /* An IP length beyond the frame is clamped; a UDP header cut off means no L4. */
    len = frames_build(f, 17, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, payload, 4, 0);
    assert_true(pkt_parse(f, 14 + 20 + 4, &info));
    assert_true(info.ipv4);
    assert_int_equal(info.ip_len, 24);
    assert_false(info.l4);
}

static void
test_checksum_vectors(void **state)
{
    /* RFC 1071 section 3 example: the sum of these words is 0xddf2. */
    static const uint8_t data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    assert_int_equal(pkt_csum_fold(pkt_csum_add(0, data, sizeof data)), (uint16_t) ~0xddf2);
    /* Odd length pads with a zero byte. */
    static const uint8_t odd[] = { 0x12, 0x34, 0x56 };
    assert_int_equal(pkt_csum_fold(pkt_csum_add(0, odd, 3)), (uint16_t) ~(0x1234 + 0x5600));

    /* A real IPv4 header (Wikipedia's example): checksum 0xb861. */
    static const uint8_t hdr[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40,
                                     0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
                                     0x00, 0xc7 };
    assert_int_equal(pkt_ipv4_csum(hdr, 20), 0xb861);
}

static void
test_l4_checksums_match_scratch(void **state)
{
    srandom(7);
    for (int iter = 0; iter < 500; iter++) {
        uint8_t f[1600], payload[1400];
        size_t plen = (size_t) random() % sizeof payload;
        for (size_t i = 0; i < plen; i++) {
            payload[i] = (uint8_t) random();
        }
        uint8_t proto = iter % 2 ? 6 : 17;
        size_t len = frames_build(f, proto, (uint32_t) random(), (uint32_t) random(),
                                  (uint16_t) random(), (uint16_t) random(), payload, plen, 0);
        struct pkt_info info;
        assert_true(pkt_parse(f, len, &info));
        size_t off = proto == 17 ? 6 : 16;
        uint16_t want = (uint16_t) frames_get16(f + info.l4_off + off);
        assert_int_equal(pkt_l4_csum(info.sip, info.dip, proto, f + info.l4_off,
                                     info.ip_len - 20), want);
        assert_int_equal(pkt_ipv4_csum(f + 14, 20), frames_get16(f + 24));
    }
}

static void
test_incremental_update(void **state)
{
    /* RFC 1624 section 4 example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives
     * HC' = 0x0000, as a recomputation does (eq. 2 would give -0, 0xffff). */
    uint8_t c[2] = { 0xdd, 0x2f };
    pkt_csum_update16(c, 0x5555, 0x3285);
    assert_int_equal(frames_get16(c), 0x0000);

    srandom(11);
    for (int iter = 0; iter < 2000; iter++) {
        uint8_t words[40];
        for (size_t i = 0; i < sizeof words; i++) {
            words[i] = (uint8_t) random();
        }
        uint8_t cs[2];
        frames_put16(cs, pkt_csum_fold(pkt_csum_add(0, words, sizeof words)));
        size_t at = (size_t) (random() % 9) * 4;
        uint32_t old = (uint32_t) words[at] << 24 | words[at + 1] << 16 | words[at + 2] << 8
                       | words[at + 3];
        uint32_t new_ = (uint32_t) random();
        if (iter % 2) {
            pkt_csum_update32(cs, old, new_);
            frames_put32(words + at, new_);
        } else {
            pkt_csum_update16(cs, (uint16_t) (old >> 16), (uint16_t) new_);
            frames_put16(words + at, (uint16_t) new_);
        }
        /* Verifying the updated checksum over the new data gives zero. */
        uint32_t sum = pkt_csum_add(0, words, sizeof words);
        sum = pkt_csum_add(sum, cs, 2);
        assert_int_equal(pkt_csum_fold(sum), 0);
    }
}

static void
test_parse_mac_and_ip(void **state)
{
    uint8_t mac[6];
    assert_int_equal(pkt_parse_mac("02:00:0a:FF:00:01", mac), 0);
    assert_int_equal(mac[3], 0xff);
    assert_int_equal(pkt_parse_mac("02:00:0a:ff:00", mac), -EINVAL);
    assert_int_equal(pkt_parse_mac("02:00:0a:ff:00:01:02", mac), -EINVAL);
    assert_int_equal(pkt_parse_mac("2:0:a:ff:0:1", mac), -EINVAL);
    assert_int_equal(pkt_parse_mac("zz:00:0a:ff:00:01", mac), -EINVAL);

    uint32_t ip;
    char buf[16];
    assert_int_equal(pkt_parse_ipv4("192.168.1.254", &ip), 0);
    assert_int_equal(ip, IP(192, 168, 1, 254));
    assert_string_equal(pkt_ip_to_string(ip, buf, sizeof buf), "192.168.1.254");
    assert_int_equal(pkt_parse_ipv4("192.168.1", &ip), -EINVAL);
    assert_int_equal(pkt_parse_ipv4("256.1.1.1", &ip), -EINVAL);
    assert_int_equal(pkt_parse_ipv4(NULL, &ip), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_udp_tcp_icmp),
        cmocka_unit_test(test_parse_vlan_frag_and_garbage),
        cmocka_unit_test(test_checksum_vectors),
        cmocka_unit_test(test_l4_checksums_match_scratch),
        cmocka_unit_test(test_incremental_update),
        cmocka_unit_test(test_parse_mac_and_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
