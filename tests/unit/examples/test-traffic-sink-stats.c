/* Tests examples/traffic/sink-stats.c: histogram percentiles, loss / duplicates /
 * reordering, jitter, and whole-frame accounting with its JSON summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/traffic/payload.h"
#include "examples/traffic/sink-stats.h"
#include "tests/unit/examples/frames.h"

#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (b) << 16 | (c) << 8 | (d))
#define MS 1000000ull

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
test_hist_percentiles(void **state)
{
    struct sink_hist h;
    sink_hist_init(&h);
    assert_int_equal(sink_hist_percentile(&h, 50), 0);

    /* Exact below 64. */
    for (uint64_t v = 1; v <= 50; v++) {
        sink_hist_add(&h, v);
    }
    assert_int_equal(sink_hist_percentile(&h, 50), 25);
    assert_int_equal(sink_hist_percentile(&h, 99), 50);
    assert_int_equal(sink_hist_percentile(&h, 100), 50);
    assert_int_equal(sink_hist_percentile(&h, 0), 1);

    /* Log-normal-ish latencies from 1 us to 1 s: within 3.2% of the exact order
     * statistic; min and max exact. */
    static uint64_t v[20000];
    sink_hist_init(&h);
    srandom(9);
    for (size_t i = 0; i < 20000; i++) {
        double e = 3.0 + 6.0 * ((double) random() / RAND_MAX);
        v[i] = (uint64_t) pow(10.0, e);
        sink_hist_add(&h, v[i]);
    }
    qsort(v, 20000, sizeof *v, cmp_u64);
    static const double ps[] = { 1, 10, 50, 90, 99, 99.9 };
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        uint64_t exact = v[(size_t) ceil(ps[i] / 100 * 20000) - 1];
        uint64_t got = sink_hist_percentile(&h, ps[i]);
        assert_true(fabs((double) got - (double) exact) <= 0.032 * (double) exact);
    }
    assert_int_equal(h.min, v[0]);
    assert_int_equal(h.max, v[19999]);
    assert_int_equal(sink_hist_percentile(&h, 100), v[19999]);

    /* Huge values land in the last bucket but max stays exact. */
    sink_hist_add(&h, UINT64_MAX / 2);
    assert_int_equal(h.max, UINT64_MAX / 2);
}

static void
test_seq_loss_dup_reorder(void **state)
{
    struct sink_seq s = { 0 };
    for (uint64_t i = 0; i < 100; i++) {
        if (i % 10 != 3) {
            assert_int_equal(sink_seq_add(&s, i), SINK_SEQ_NEW);
        }
    }
    assert_int_equal(sink_seq_expected(&s), 100);
    assert_int_equal(sink_seq_lost(&s), 10);
    assert_int_equal(s.reordered, 0);

    /* Late arrivals of 13 and 23 are reorderings, not new losses; a second copy is
     * a duplicate. */
    assert_int_equal(sink_seq_add(&s, 13), SINK_SEQ_REORDERED);
    assert_int_equal(sink_seq_add(&s, 23), SINK_SEQ_REORDERED);
    assert_int_equal(sink_seq_add(&s, 23), SINK_SEQ_DUPLICATE);
    assert_int_equal(sink_seq_add(&s, 99), SINK_SEQ_DUPLICATE);
    assert_int_equal(sink_seq_add(&s, 50), SINK_SEQ_DUPLICATE);
    assert_int_equal(sink_seq_lost(&s), 8);
    assert_int_equal(s.reordered, 2);
    assert_int_equal(s.duplicates, 3);

    /* A jump beyond the window forgets the old bits but counts the gap as lost. */
    assert_int_equal(sink_seq_add(&s, 100 + SINK_SEQ_WINDOW + 5), SINK_SEQ_NEW);
    assert_int_equal(sink_seq_lost(&s), 8 + SINK_SEQ_WINDOW + 5);
    /* Within the window after the jump, a gap fills in as a reordering. */
    assert_int_equal(sink_seq_add(&s, 100 + SINK_SEQ_WINDOW), SINK_SEQ_REORDERED);
    assert_int_equal(sink_seq_add(&s, 100 + SINK_SEQ_WINDOW), SINK_SEQ_DUPLICATE);
    sink_seq_destroy(&s);

    /* Starting mid-stream, and an arrival older than the first one seen. */
    struct sink_seq t = { 0 };
    sink_seq_add(&t, 1000);
    sink_seq_add(&t, 1001);
    assert_int_equal(sink_seq_add(&t, 998), SINK_SEQ_REORDERED);
    assert_int_equal(sink_seq_expected(&t), 4);
    assert_int_equal(sink_seq_lost(&t), 1);
    sink_seq_destroy(&t);
}

static void
test_seq_extend16(void **state)
{
    struct sink_seq s = { 0 };
    uint64_t base = sink_seq_extend16(&s, 65530);
    sink_seq_add(&s, base);
    uint64_t prev = base;
    for (int i = 1; i < 200000; i++) {
        uint16_t seq = (uint16_t) (65530 + i);
        if (i % 1000 == 7) {
            continue;                           /* lost */
        }
        uint64_t ext = sink_seq_extend16(&s, seq);
        assert_true(ext > prev);
        prev = ext;
        sink_seq_add(&s, ext);
    }
    assert_int_equal(sink_seq_expected(&s), 200000);
    assert_int_equal(sink_seq_lost(&s), 200);
    /* A reordered packet from before a wrap extends below the highest. */
    uint64_t hi = s.highest;
    assert_int_equal(sink_seq_extend16(&s, (uint16_t) (hi - 3)), hi - 3);
    assert_int_equal(sink_seq_extend16(&s, (uint16_t) (hi + 3)), hi + 3);
    sink_seq_destroy(&s);
}

static void
test_jitter(void **state)
{
    /* Constant delay: no jitter.  Alternating 0/1 ms extra delay: J converges to
     * 1 ms (|D| = 1 ms every packet). */
    struct sink_jitter j = { 0 };
    for (int64_t i = 0; i < 100; i++) {
        sink_jitter_add(&j, i * 20 * (int64_t) MS + 5 * (int64_t) MS, i * 20 * (int64_t) MS);
    }
    assert_true(j.j == 0.0);
    struct sink_jitter k = { 0 };
    for (int64_t i = 0; i < 500; i++) {
        int64_t extra = i % 2 ? (int64_t) MS : 0;
        sink_jitter_add(&k, i * 20 * (int64_t) MS + extra, i * 20 * (int64_t) MS);
    }
    assert_true(fabs(k.j - 1e6) < 1e3);
    /* One step of the RFC 3550 filter: J = |D| / 16. */
    struct sink_jitter m = { 0 };
    sink_jitter_add(&m, 100, 0);
    sink_jitter_add(&m, 1700, 1000);
    assert_true(fabs(m.j - 600.0 / 16) < 1e-9);
}

/* Builds a stamped UDP frame of flow 'flow' with sequence 'seq' sent at 't_send'. */
static size_t
stamped(uint8_t *f, uint16_t sport, uint32_t flow, uint64_t seq, uint64_t t_send)
{
    uint8_t payload[PAYLOAD_STAMP_LEN];
    struct payload_stamp st = { .flow = flow, .seq = seq, .t_send_ns = t_send };
    payload_stamp_encode(payload, &st);
    return frames_build(f, 17, IP(10, 0, 0, 1), IP(10, 0, 0, 2), sport, 9, payload,
                        sizeof payload, 0);
}

static struct json_object *
get(struct json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save)) {
        struct json_object *next = NULL;
        if (json_object_is_type(o, json_type_array)) {
            next = json_object_array_get_idx(o, (size_t) strtoul(key, NULL, 10));
        } else if (!json_object_object_get_ex(o, key, &next)) {
            fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
        }
        o = next;
    }
    return o;
}

static void
test_frames_and_summary(void **state)
{
    const uint64_t t0 = 1000 * MS;
    struct sink_filter filter = { .dport_lo = 0, .dport_hi = 65535,
                                  .rtp_port_lo = 1, .rtp_port_hi = 0 };
    struct sink_stats *s = sink_stats_create(&filter, 100 * MS, t0);
    uint8_t f[256];

    /* Flow A: 1000 packets every 1 ms, 100 us latency, except 50 ms of latency for
     * packets 500..509 (a pause), 5 lost, one duplicated. */
    for (uint64_t i = 0; i < 1000; i++) {
        if (i % 200 == 17) {
            continue;
        }
        uint64_t sent = t0 + i * MS;
        uint64_t lat = i >= 500 && i < 510 ? 50 * MS : 100000;
        size_t len = stamped(f, 1111, 0, i, sent);
        sink_stats_frame(s, f, len, sent + lat, true);
        if (i == 300) {
            sink_stats_frame(s, f, len, sent + lat, true);
        }
    }
    /* Flow B: an RTP stream of 50 packets, one reordered pair. */
    for (int i = 0; i < 50; i++) {
        int k = i == 20 ? 21 : i == 21 ? 20 : i;
        uint8_t p[PAYLOAD_RTP_LEN];
        struct payload_rtp rtp = { .seq = (uint16_t) (65520 + k),
                                   .timestamp = (uint32_t) k * 160, .ssrc = 77,
                                   .has_send_time = true,
                                   .t_send_ns = t0 + (uint64_t) k * 20 * MS };
        payload_rtp_encode(p, &rtp);
        size_t len = frames_build(f, 17, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 5004, 5004, p,
                                  sizeof p, 0);
        sink_stats_frame(s, f, len, t0 + (uint64_t) i * 20 * MS + 2 * MS, true);
    }
    /* A frame with a broken UDP checksum, one whose checksum the sender left to an
     * offload (not checked), an ARP frame, and TCP without payload decoding. */
    size_t len = stamped(f, 2222, 1, 0, t0);
    f[len - 1] ^= 0xff;
    sink_stats_frame(s, f, len, t0 + MS, true);
    sink_stats_frame(s, f, len, t0 + MS, false);
    frames_put16(f + 12, 0x0806);
    sink_stats_frame(s, f, len, t0 + MS, true);
    len = frames_build(f, 6, IP(10, 0, 0, 3), IP(10, 0, 0, 2), 4000, 80, f, 0, 0);
    sink_stats_frame(s, f, len, t0 + MS, true);

    assert_int_equal(sink_stats_packets(s), 995 + 1 + 50 + 2 + 1);
    struct json_object *o = sink_stats_to_json(s, t0 + 2000 * MS, 100);
    assert_int_equal(json_object_get_int(get(o, "other")), 1);
    assert_int_equal(json_object_array_length(get(o, "flows")), 4);

    struct json_object *a = get(o, "flows.0");
    assert_string_equal(json_object_get_string(get(a, "src")), "10.0.0.1");
    assert_int_equal(json_object_get_int(get(a, "sport")), 1111);
    assert_int_equal(json_object_get_int(get(a, "packets")), 996);
    assert_string_equal(json_object_get_string(get(a, "seq.kind")), "stamp");
    assert_int_equal(json_object_get_int(get(a, "seq.expected")), 1000);
    assert_int_equal(json_object_get_int(get(a, "seq.lost")), 5);
    assert_int_equal(json_object_get_int(get(a, "seq.duplicates")), 1);
    assert_int_equal(json_object_get_int(get(a, "seq.reordered")), 0);
    assert_int_equal(json_object_get_int(get(a, "latency_us.n")), 995);
    double p50 = json_object_get_double(get(a, "latency_us.p50"));
    assert_true(p50 > 97 && p50 < 103);
    assert_true(json_object_get_double(get(a, "latency_us.max")) == 50000.0);
    assert_int_equal(json_object_get_int(get(a, "bad_csum")), 0);
    double rate = json_object_get_double(get(a, "rate_pps"));
    assert_true(rate > 990 && rate < 1010);

    struct json_object *b = get(o, "flows.1");
    assert_string_equal(json_object_get_string(get(b, "seq.kind")), "rtp");
    assert_int_equal(json_object_get_int(get(b, "seq.ssrc")), 77);
    assert_int_equal(json_object_get_int(get(b, "seq.expected")), 50);
    assert_int_equal(json_object_get_int(get(b, "seq.lost")), 0);
    assert_int_equal(json_object_get_int(get(b, "seq.reordered")), 1);
    double lat = json_object_get_double(get(b, "latency_us.p50"));
    assert_true(lat > 1950 && lat < 2050);

    struct json_object *c = get(o, "flows.2");
    assert_int_equal(json_object_get_int(get(c, "packets")), 2);
    assert_int_equal(json_object_get_int(get(c, "bad_csum")), 1);
    struct json_object *d = get(o, "flows.3");
    assert_string_equal(json_object_get_string(get(d, "proto")), "tcp");
    assert_false(json_object_object_get_ex(d, "seq", NULL));

    /* The pause shows in its 100 ms interval: packets 500..509 are received at
     * t0 + 550..559 ms (interval 5), the others near their send time. */
    struct json_object *series = get(o, "intervals");
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(series); i++) {
        struct json_object *e = json_object_array_get_idx(series, i);
        double t = json_object_get_double(get(e, "t_s"));
        double p99 = json_object_get_double(get(e, "p99_us"));
        if (fabs(t - 0.5) < 1e-9) {
            found = true;
            assert_true(p99 > 48000);
        } else {
            assert_true(p99 < 3000);
        }
    }
    assert_true(found);
    json_object_put(o);
    sink_stats_destroy(s);
}

static void
test_filter(void **state)
{
    struct sink_filter filter = { .has_dst = true, .dst = IP(10, 0, 0, 2),
                                  .dport_lo = 9, .dport_hi = 10,
                                  .rtp_port_lo = 1, .rtp_port_hi = 0 };
    struct sink_stats *s = sink_stats_create(&filter, 0, 0);
    uint8_t f[256], p[4] = { 0 };
    size_t len = frames_build(f, 17, 1, IP(10, 0, 0, 2), 1, 9, p, 4, 0);
    sink_stats_frame(s, f, len, 1, true);
    len = frames_build(f, 17, 1, IP(10, 0, 0, 2), 1, 11, p, 4, 0);
    sink_stats_frame(s, f, len, 1, true);
    len = frames_build(f, 17, 1, IP(10, 0, 0, 3), 1, 9, p, 4, 0);
    sink_stats_frame(s, f, len, 1, true);
    len = frames_build(f, 1, 1, IP(10, 0, 0, 2), 1, 0, p, 4, 8);
    sink_stats_frame(s, f, len, 1, true);
    assert_int_equal(sink_stats_packets(s), 1);
    struct json_object *o = sink_stats_to_json(s, 10, 0);
    assert_int_equal(json_object_get_int(get(o, "filtered")), 3);
    assert_int_equal(json_object_array_length(get(o, "flows")), 0);
    assert_int_equal(json_object_get_int(get(o, "flows_omitted")), 1);
    assert_false(json_object_object_get_ex(o, "intervals", NULL));
    json_object_put(o);
    sink_stats_destroy(s);
}

static void
test_many_flows(void **state)
{
    /* The flow table grows; every flow keeps its own counters. */
    struct sink_filter filter = { .dport_hi = 65535, .rtp_port_lo = 1 };
    struct sink_stats *s = sink_stats_create(&filter, 0, 0);
    uint8_t f[256];
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 5000; i++) {
            size_t len = stamped(f, (uint16_t) (10000 + i), i, (uint64_t) round, 5);
            sink_stats_frame(s, f, len, 10, true);
        }
    }
    struct json_object *o = sink_stats_to_json(s, 20, 100000);
    assert_int_equal(json_object_array_length(get(o, "flows")), 5000);
    for (size_t i = 0; i < 5000; i += 499) {
        struct json_object *fl = json_object_array_get_idx(get(o, "flows"), i);
        assert_int_equal(json_object_get_int(get(fl, "packets")), 3);
        assert_int_equal(json_object_get_int(get(fl, "seq.lost")), 0);
        assert_int_equal(json_object_get_int(get(fl, "sport")), 10000 + (int) i);
    }
    json_object_put(o);
    sink_stats_destroy(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_seq_loss_dup_reorder),
        cmocka_unit_test(test_seq_extend16),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_frames_and_summary),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_many_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
