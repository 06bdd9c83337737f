/* Tests diag/autofocus.c on hand-computed examples: the one-dimensional COMPRESS
 * rule of spec A.12 and multi-dimensional compression with the default
 * hierarchies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/autofocus.h"

#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (uint32_t) (b) << 16 | (c) << 8 | (d))

static struct autofocus_record
rec(uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport, uint8_t proto,
    double w)
{
    return (struct autofocus_record) { { sip, dip, sport, dport, proto }, w };
}

static void
assert_cluster(const struct autofocus_cluster *c, const char *src, const char *dst,
               const char *sport, const char *dport, const char *proto, double weight,
               double residual)
{
    char buf[32];
    uint16_t lo, hi;
    autofocus_format_ip(c, AUTOFOCUS_SRC, buf, sizeof buf);
    assert_string_equal(buf, src);
    autofocus_format_ip(c, AUTOFOCUS_DST, buf, sizeof buf);
    assert_string_equal(buf, dst);
    autofocus_port_range(c, AUTOFOCUS_SPORT, &lo, &hi);
    snprintf(buf, sizeof buf, "%u-%u", lo, hi);
    assert_string_equal(buf, sport);
    autofocus_port_range(c, AUTOFOCUS_DPORT, &lo, &hi);
    snprintf(buf, sizeof buf, "%u-%u", lo, hi);
    assert_string_equal(buf, dport);
    autofocus_format_proto(c, buf, sizeof buf);
    assert_string_equal(buf, proto);
    assert_true(c->weight == weight);
    assert_true(c->residual == residual);
}

/* Source prefixes /32 /24 /16 /8 /0, H = 5 of 50:
 *   10.0.0.1 30 -> reported (30)
 *   10.0.0.0/24 38, minus 30 below = 8 -> reported
 *   10.0.0.0/16 41, minus 38 = 3 -> not
 *   10.0.0.0/8 44, minus 38 = 6 -> reported
 *   20.0.0.1 6 -> reported; its prefixes add nothing; /0: 50 - 50 = 0 -> not. */
static void
test_1d_compress(void **state)
{
    const struct autofocus_record r[] = {
        rec(IP(10, 0, 0, 1), IP(1, 1, 1, 1), 1, 80, 6, 30),
        rec(IP(10, 0, 0, 2), IP(2, 2, 2, 2), 2, 81, 17, 4),
        rec(IP(10, 0, 0, 3), IP(3, 3, 3, 3), 3, 82, 6, 4),
        rec(IP(10, 0, 1, 1), IP(4, 4, 4, 4), 4, 83, 6, 3),
        rec(IP(10, 1, 0, 1), IP(5, 5, 5, 5), 5, 84, 6, 3),
        rec(IP(20, 0, 0, 1), IP(6, 6, 6, 6), 6, 85, 6, 6),
    };
    struct autofocus_hier h;
    autofocus_hier_1d(&h, AUTOFOCUS_SRC);
    struct autofocus_cluster *c;
    size_t n = autofocus_run(r, 6, &h, 5, &c);
    assert_int_equal(n, 4);
    assert_cluster(&c[0], "10.0.0.1/32", "0.0.0.0/0", "0-65535", "0-65535", "*", 30, 30);
    assert_cluster(&c[1], "10.0.0.0/24", "0.0.0.0/0", "0-65535", "0-65535", "*", 38, 8);
    assert_cluster(&c[2], "20.0.0.1/32", "0.0.0.0/0", "0-65535", "0-65535", "*", 6, 6);
    assert_cluster(&c[3], "10.0.0.0/8", "0.0.0.0/0", "0-65535", "0-65535", "*", 44, 6);
    free(c);

    /* A threshold above the total reports nothing; so does no weight. */
    assert_int_equal(autofocus_run(r, 6, &h, 51, &c), 0);
    assert_null(c);
    assert_int_equal(autofocus_run(r, 0, &h, 1, &c), 0);
}

/* The port hierarchy in one dimension: exact -> low/high -> any, H = 10 of 40. */
static void
test_1d_ports(void **state)
{
    const struct autofocus_record r[] = {
        rec(1, 1, 1, 80, 6, 12),
        rec(1, 1, 1, 443, 6, 6),
        rec(1, 1, 1, 22, 6, 6),
        rec(1, 1, 1, 5060, 17, 9),
        rec(1, 1, 1, 5061, 17, 7),
    };
    struct autofocus_hier h;
    autofocus_hier_1d(&h, AUTOFOCUS_DPORT);
    struct autofocus_cluster *c;
    size_t n = autofocus_run(r, 5, &h, 10, &c);
    /* 80: 12 -> reported; low: 24 - 12 = 12 -> reported; high: 16 -> reported;
     * any: 40 - 40 = 0. */
    assert_int_equal(n, 3);
    assert_cluster(&c[0], "0.0.0.0/0", "0.0.0.0/0", "0-65535", "1024-65535", "*", 16, 16);
    assert_cluster(&c[1], "0.0.0.0/0", "0.0.0.0/0", "0-65535", "80-80", "*", 12, 12);
    assert_cluster(&c[2], "0.0.0.0/0", "0.0.0.0/0", "0-65535", "0-1023", "*", 24, 12);
    free(c);
}

/* Five dimensions, H = 20 of 100: A and D stand alone; B and C (10 each) are only
 * heavy together with A, in 10.0.0.0/24 -> 192.168.0.1 high -> 80 tcp, whose
 * residual after A is 20; D and E (25 + 15) never leave 15 behind. */
static void
test_multi_d(void **state)
{
    const struct autofocus_record r[] = {
        rec(IP(10, 0, 0, 1), IP(192, 168, 0, 1), 1234, 80, 6, 40),
        rec(IP(10, 0, 0, 2), IP(192, 168, 0, 1), 1235, 80, 6, 10),
        rec(IP(10, 0, 0, 3), IP(192, 168, 0, 1), 1236, 80, 6, 10),
        rec(IP(172, 16, 0, 1), IP(192, 168, 5, 5), 5000, 53, 17, 25),
        rec(IP(172, 17, 0, 1), IP(8, 8, 8, 8), 5001, 53, 17, 15),
    };
    struct autofocus_hier h;
    autofocus_hier_default(&h);
    struct autofocus_cluster *c;
    size_t n = autofocus_run(r, 5, &h, 20, &c);
    assert_int_equal(n, 3);
    assert_cluster(&c[0], "10.0.0.1/32", "192.168.0.1/32", "1234-1234", "80-80", "tcp",
                   40, 40);
    assert_cluster(&c[1], "172.16.0.1/32", "192.168.5.5/32", "5000-5000", "53-53", "udp",
                   25, 25);
    assert_cluster(&c[2], "10.0.0.0/24", "192.168.0.1/32", "1024-65535", "80-80", "tcp",
                   60, 20);
    assert_true(autofocus_contains(&c[2], &r[1].flow));
    assert_false(autofocus_contains(&c[2], &r[3].flow));
    free(c);

    /* At H = 15, E stands alone too and nothing general survives. */
    n = autofocus_run(r, 5, &h, 15, &c);
    assert_int_equal(n, 4);
    assert_cluster(&c[3], "172.17.0.1/32", "8.8.8.8/32", "5001-5001", "53-53", "udp",
                   15, 15);
    free(c);

    /* At H = 35: A stands alone; D + E qualify only together, in their most
     * specific common cluster 172/8 -> * high -> 53 udp (depth 5).  Then
     * (* -> 192.168/16, high -> low, any proto) holds A, B, C, D = 85: A is
     * explained by A, but D's reported cluster is not inside it, so its residual
     * is B + C + D = 45 (the conditioned residual of multi-D AutoFocus counts
     * overlaps this way).  The root explains nothing more. */
    n = autofocus_run(r, 5, &h, 35, &c);
    assert_int_equal(n, 3);
    assert_cluster(&c[0], "0.0.0.0/0", "192.168.0.0/16", "1024-65535", "0-1023", "*",
                   85, 45);
    assert_cluster(&c[1], "10.0.0.1/32", "192.168.0.1/32", "1234-1234", "80-80", "tcp",
                   40, 40);
    assert_cluster(&c[2], "172.0.0.0/8", "0.0.0.0/0", "1024-65535", "53-53", "udp",
                   40, 40);
    free(c);
}

static void
test_root_and_proto(void **state)
{
    struct autofocus_cluster c;
    autofocus_root(&c);
    const struct flow5 f = { IP(1, 2, 3, 4), IP(5, 6, 7, 8), 1, 2, 132 };
    assert_true(autofocus_contains(&c, &f));
    char buf[16];
    autofocus_format_proto(&c, buf, sizeof buf);
    assert_string_equal(buf, "*");
    c.level[AUTOFOCUS_PROTO] = AUTOFOCUS_PROTO_EXACT;
    c.key.proto = 132;
    autofocus_format_proto(&c, buf, sizeof buf);
    assert_string_equal(buf, "132");
    c.key.proto = 1;
    autofocus_format_proto(&c, buf, sizeof buf);
    assert_string_equal(buf, "icmp");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_1d_compress),
        cmocka_unit_test(test_1d_ports),
        cmocka_unit_test(test_multi_d),
        cmocka_unit_test(test_root_and_proto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
