/* Tests shadow/pairing.c: ingress packets paired with their exit copies in each
 * chain through a NAT's rewrite, losses, late copies, chunk boundaries, RTP flows
 * classed as VoIP, and bad input named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "shadow/compare.h"
#include "shadow/pairing.h"

#define T0 1700000000000000000ull
#define MS 1000000ull

struct writer {
    FILE *f;
};

static void
w_open(struct writer *w, const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    w->f = fopen(path, "wb");
    assert_non_null(w->f);
    uint32_t hdr[6] = { 0xa1b23c4d, 0x00040002, 0, 0, 65535, 1 };  /* ns, Ethernet */
    fwrite(hdr, sizeof hdr, 1, w->f);
}

/* A UDP frame: 'seq' in the IP ID and payload; 'rtp' makes the payload RTP/PCMU. */
static void
w_pkt(struct writer *w, uint64_t t, uint32_t sip, uint16_t sport, uint16_t dport,
      uint16_t seq, int rtp)
{
    uint8_t f[14 + 20 + 8 + 24] = { 0 };
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 20 + 8 + 24;
    ip[4] = (uint8_t) (seq >> 8), ip[5] = (uint8_t) seq;
    ip[8] = 64;
    ip[9] = 17;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t) (sip >> (24 - 8 * i));
        ip[16 + i] = (uint8_t) (0x0a000014u >> (24 - 8 * i));
    }
    uint8_t *u = ip + 20;
    u[0] = (uint8_t) (sport >> 8), u[1] = (uint8_t) sport;
    u[2] = (uint8_t) (dport >> 8), u[3] = (uint8_t) dport;
    u[5] = 8 + 24;
    uint8_t *p = u + 8;
    if (rtp) {
        p[0] = 0x80;
        p[1] = 0;
    }
    p[2] = (uint8_t) (seq >> 8), p[3] = (uint8_t) seq;
    uint32_t rec[4] = { (uint32_t) (t / 1000000000ull), (uint32_t) (t % 1000000000ull),
                        sizeof f, sizeof f };
    fwrite(rec, sizeof rec, 1, w->f);
    fwrite(f, sizeof f, 1, w->f);
}

static char *
make_dir(void)
{
    char *dir = strdup("/tmp/vnet-test-pairing.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void
rm_dir(char *dir)
{
    const char *names[] = { "ingress.pcap", "exit0.pcap", "exit1.pcap" };
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    free(dir);
}

/* 200 packets of one background flow and 20 of an RTP flow enter; side 0 delivers
 * all 100 us later, rewritten by a NAT; side 1 loses every 10th background packet,
 * delivers the RTP flow 2 s late (lost for the pairing) and the rest 50 us later. */
static void
write_scenario(const char *dir)
{
    struct writer in, x0, x1;
    w_open(&in, dir, "ingress.pcap");
    w_open(&x0, dir, "exit0.pcap");
    w_open(&x1, dir, "exit1.pcap");
    for (uint16_t i = 0; i < 220; i++) {
        bool rtp = i >= 200;
        uint16_t dport = rtp ? 5004 : 5000;
        uint64_t t = T0 + (uint64_t) i * MS;
        w_pkt(&in, t, 0x0a00000a, 1000, dport, i, rtp);
        w_pkt(&x0, t + 100000, 0x0a000064, 40000, dport, i, rtp);
        if (rtp) {
            w_pkt(&x1, t + 2000 * MS, 0x0a000064, 40001, dport, i, rtp);
        } else if (i % 10) {
            w_pkt(&x1, t + 50000, 0x0a000064, 40001, dport, i, rtp);
        }
    }
    fclose(in.f);
    fclose(x0.f);
    fclose(x1.f);
}

static void
test_pairs(void **state)
{
    (void) state;
    char *dir = make_dir();
    write_scenario(dir);
    struct pairing *p = pairing_create(1000 * MS);
    assert_null(pairing_add_dir(p, dir, 1, 0, UINT64_MAX));  /* production: exit1 */
    struct compare_input in;
    pairing_input(p, &in);
    assert_int_equal(in.n_pkts, 220);
    assert_int_equal(pairing_entries(p), 220);
    size_t lost_prod = 0, voip = 0;
    for (size_t i = 0; i < in.n_pkts; i++) {
        const struct compare_pkt *c = &in.pkts[i];
        assert_int_equal(c->shadow, COMPARE_DELIVERED);
        assert_true(c->t_exit_shadow == c->t_entry + 100000);
        if (c->prod == COMPARE_LOST) {
            lost_prod++;
        } else {
            assert_true(c->t_exit_prod == c->t_entry + 50000);
        }
        if (!strcmp(in.classes[c->cls].name, "voip")) {
            voip++;
            assert_true(in.classes[c->cls].voip);
            assert_int_equal(c->flow.dport, 5004);
        }
        assert_int_equal(c->flow.sip, 0x0a00000a);      /* the flow as it entered */
    }
    assert_int_equal(lost_prod, 20 + 20);   /* every 10th, and the late RTP flow */
    assert_int_equal(voip, 20);
    pairing_destroy(p);
    rm_dir(dir);
}

/* Chunks: only entries in [lo, hi) are taken, so dumps that overlap in time,
 * read with adjacent ranges, count each packet once. */
static void
test_chunks(void **state)
{
    (void) state;
    char *dir = make_dir();
    write_scenario(dir);
    struct pairing *p = pairing_create(1000 * MS);
    assert_null(pairing_add_dir(p, dir, 0, T0, T0 + 100 * MS));
    assert_null(pairing_add_dir(p, dir, 0, T0 + 100 * MS, T0 + 150 * MS));
    assert_null(pairing_add_dir(p, dir, 0, T0 + 150 * MS, T0 + 150 * MS + 1));
    struct compare_input in;
    pairing_input(p, &in);
    assert_int_equal(in.n_pkts, 100 + 50 + 1);
    for (size_t i = 1; i < in.n_pkts; i++) {
        assert_true(in.pkts[i - 1].t_entry <= in.pkts[i].t_entry);
    }
    pairing_destroy(p);
    rm_dir(dir);
}

static void
test_missing_file(void **state)
{
    (void) state;
    char *dir = make_dir();
    struct pairing *p = pairing_create(1000 * MS);
    struct vnet_error *error = pairing_add_dir(p, dir, 0, 0, UINT64_MAX);
    assert_non_null(error);
    assert_non_null(strstr(error->message, "exit0.pcap"));
    vnet_error_destroy(error);
    pairing_destroy(p);
    rm_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
