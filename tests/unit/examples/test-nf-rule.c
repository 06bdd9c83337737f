/* Tests examples/nf/rule.c: firewall rule parsing and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "examples/nf/pkt.h"
#include "examples/nf/rule.h"
#include "lib/error.h"

#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (b) << 16 | (c) << 8 | (d))

static struct nf_rule
parse_ok(const char *text)
{
    struct nf_rule r;
    struct vnet_error *error = nf_rule_parse(text, &r);
    if (error) {
        fail_msg("'%s': %s", text, error->message);
    }
    return r;
}

static void
expect_error(const char *text, const char *message)
{
    struct nf_rule r;
    memset(&r, 0x5a, sizeof r);
    struct vnet_error *error = nf_rule_parse(text, &r);
    assert_non_null(error);
    assert_string_equal(error->message, message);
    assert_int_equal(((uint8_t *) &r)[0], 0x5a);      /* untouched */
    vnet_error_destroy(error);
}

static struct pkt_info
pkt(uint8_t proto, uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport)
{
    return (struct pkt_info) { .ipv4 = true, .l4 = true, .first_frag = true,
                               .proto = proto, .sip = sip, .dip = dip,
                               .sport = sport, .dport = dport };
}

static bool
match(const struct nf_rule *r, struct pkt_info p)
{
    return nf_rule_match(r, &p);
}

static int
matches(const struct nf_rule *rules, size_t n, struct pkt_info p)
{
    return nf_rules_match(rules, n, &p);
}

static void
test_parse_and_format(void **state)
{
    static const char *const canonical[] = {
        "udp,*,*,*,9",
        "tcp,10.0.0.0/8,*,*,22",
        "*,*,*,*,*",
        "icmp,1.2.3.4,*,5.6.7.0/24,*",
        "47,*,*,*,*",
        "udp,*,1000-2000,192.168.0.1,53",
        "tcp,0.0.0.0/1,0,*,0-65535",
    };
    for (size_t i = 0; i < sizeof canonical / sizeof *canonical; i++) {
        struct nf_rule r = parse_ok(canonical[i]);
        char buf[96];
        nf_rule_format(&r, buf, sizeof buf);
        assert_string_equal(buf, canonical[i]);
    }
    /* Host bits are masked off; protocol names are case-insensitive; 17 is udp. */
    char buf[96];
    struct nf_rule r = parse_ok("TCP,10.1.2.3/8,*,*,22");
    nf_rule_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "tcp,10.0.0.0/8,*,*,22");
    r = parse_ok("17,*,*,*,9");
    nf_rule_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "udp,*,*,*,9");
    r = parse_ok("*,0.0.0.0/0,*,*,*");
    assert_int_equal(r.src_mask, 0);
}

static void
test_parse_errors(void **state)
{
    expect_error("udp,*,*,*", "rule 'udp,*,*,*': expected 5 comma-separated fields "
                 "proto,src,sport,dst,dport");
    expect_error("udp,*,*,*,9,1", "rule 'udp,*,*,*,9,1': expected 5 comma-separated "
                 "fields proto,src,sport,dst,dport");
    expect_error("", "rule '': expected 5 comma-separated fields proto,src,sport,dst,dport");
    expect_error("sctp,*,*,*,9", "rule 'sctp,*,*,*,9': proto: expected tcp, udp, icmp, "
                 "0..255 or '*', got 'sctp'");
    expect_error("256,*,*,*,9", "rule '256,*,*,*,9': proto: expected tcp, udp, icmp, "
                 "0..255 or '*', got '256'");
    expect_error("udp,10.0.0/8,*,*,9", "rule 'udp,10.0.0/8,*,*,9': src: expected a.b.c.d, "
                 "a.b.c.d/len (len 0..32) or '*', got '10.0.0/8'");
    expect_error("udp,*,*,10.0.0.1/33,9", "rule 'udp,*,*,10.0.0.1/33,9': dst: expected "
                 "a.b.c.d, a.b.c.d/len (len 0..32) or '*', got '10.0.0.1/33'");
    expect_error("udp,*,*,*,", "rule 'udp,*,*,*,': dport: expected a port 0..65535, a "
                 "range lo-hi or '*', got ''");
    expect_error("udp,*,70000,*,9", "rule 'udp,*,70000,*,9': sport: expected a port "
                 "0..65535, a range lo-hi or '*', got '70000'");
    expect_error("udp,*,*,*,20-10", "rule 'udp,*,*,*,20-10': dport: expected a port "
                 "0..65535, a range lo-hi or '*', got '20-10'");
    expect_error("udp,*,*,*,-5", "rule 'udp,*,*,*,-5': dport: expected a port 0..65535, "
                 "a range lo-hi or '*', got '-5'");
    expect_error("udp, *,*,*,9", "rule 'udp, *,*,*,9': src: expected a.b.c.d, "
                 "a.b.c.d/len (len 0..32) or '*', got ' *'");
}

static void
test_match(void **state)
{
    struct nf_rule udp9 = parse_ok("udp,*,*,*,9");
    assert_true(match(&udp9, pkt(17, IP(1, 1, 1, 1), 5, IP(2, 2, 2, 2), 9)));
    assert_false(match(&udp9, pkt(6, IP(1, 1, 1, 1), 5, IP(2, 2, 2, 2), 9)));
    assert_false(match(&udp9, pkt(17, IP(1, 1, 1, 1), 9, IP(2, 2, 2, 2), 10)));

    struct nf_rule ssh = parse_ok("tcp,10.0.0.0/8,*,*,22");
    assert_true(match(&ssh, pkt(6, IP(10, 200, 0, 1), 40000, IP(8, 8, 8, 8), 22)));
    assert_false(match(&ssh, pkt(6, IP(11, 0, 0, 1), 40000, IP(8, 8, 8, 8), 22)));

    struct nf_rule range = parse_ok("*,*,1000-2000,192.168.0.0/16,*");
    assert_true(match(&range, pkt(17, 0, 1000, IP(192, 168, 3, 4), 1)));
    assert_true(match(&range, pkt(6, 0, 2000, IP(192, 168, 3, 4), 1)));
    assert_false(match(&range, pkt(6, 0, 2001, IP(192, 168, 3, 4), 1)));
    assert_false(match(&range, pkt(6, 0, 999, IP(192, 168, 3, 4), 1)));
    assert_false(match(&range, pkt(6, 0, 1500, IP(192, 169, 3, 4), 1)));

    /* Port rules never match packets without ports (non-first fragment, other
     * protocols); address-only rules do. */
    struct pkt_info frag = pkt(17, IP(1, 1, 1, 1), 0, IP(2, 2, 2, 2), 0);
    frag.l4 = false;
    frag.frag = true;
    assert_false(nf_rule_match(&udp9, &frag));
    struct nf_rule host = parse_ok("*,1.1.1.1,*,*,*");
    assert_true(nf_rule_match(&host, &frag));

    /* Non-IPv4 matches nothing, not even "*,*,*,*,*". */
    struct nf_rule all = parse_ok("*,*,*,*,*");
    struct pkt_info arp = { .ethertype = PKT_ETH_P_ARP };
    assert_false(nf_rule_match(&all, &arp));

    struct nf_rule rules[] = { udp9, ssh, all };
    assert_int_equal(matches(rules, 3, pkt(6, IP(10, 0, 0, 1), 1, 0, 22)), 1);
    assert_int_equal(matches(rules, 2, pkt(6, IP(10, 0, 0, 1), 1, 0, 23)), -1);
    assert_int_equal(matches(rules, 3, pkt(6, IP(10, 0, 0, 1), 1, 0, 23)), 2);
    assert_int_equal(matches(rules, 0, pkt(17, 0, 0, 0, 9)), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
