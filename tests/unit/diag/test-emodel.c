/* Tests diag/emodel.c: the spec's E.2 vectors and quality bands, the playout
 * buffer's late-loss rule and RFC 3550 jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "diag/emodel.h"

#define assert_near(a, b, tol)                                                        \
    do {                                                                              \
        double a_ = (a), b_ = (b);                                                    \
        if (!(fabs(a_ - b_) <= (tol))) {                                              \
            fail_msg("%s = %.9g, expected %.9g (+-%g)", #a, a_, b_, (double) (tol));  \
        }                                                                             \
    } while (0)

/* Rounded to three decimals, as the spec's table gives them. */
#define assert_3dp(a, milli) assert_int_equal(lround((a) * 1000), (milli))

static void
test_vectors(void **state)
{
    static const struct {
        double d_ms, e;
        long r_milli, mos_milli;
    } v[] = {
        {0, 0, 94200, 4428},
        {100, 0.01, 87607, 4276},
        {150, 0, 90600, 4353},
        {200, 0.05, 70115, 3602},
        {300, 0.02, 65632, 3386},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        double r = emodel_r(EMODEL_G711, v[i].d_ms, v[i].e);
        assert_3dp(r, v[i].r_milli);
        assert_3dp(emodel_mos(r), v[i].mos_milli);
    }
}

static void
test_impairments(void **state)
{
    assert_near(emodel_delay_impairment(100), 2.4, 1e-12);
    assert_near(emodel_delay_impairment(177.3), 0.024 * 177.3, 1e-12);
    assert_near(emodel_delay_impairment(277.3), 0.024 * 277.3 + 11, 1e-9);
    assert_near(emodel_loss_impairment(EMODEL_G711, 0), 0, 0);
    assert_near(emodel_loss_impairment(EMODEL_G711, 0.05), 30 * log(1.75), 1e-12);
    assert_near(emodel_loss_impairment(EMODEL_G729A, 0), 11, 0);
    assert_near(emodel_loss_impairment(EMODEL_G729A, 0.02), 11 + 40 * log(1.2), 1e-12);
    assert_near(emodel_r(EMODEL_G729A, 0, 0), 83.2, 1e-12);
    /* e is clamped to [0, 1]. */
    assert_near(emodel_loss_impairment(EMODEL_G711, 2), 30 * log(16), 1e-12);
    assert_near(emodel_loss_impairment(EMODEL_G711, -1), 0, 0);

    enum emodel_codec c;
    assert_int_equal(emodel_codec_from_name("G.729a", &c), 0);
    assert_int_equal(c, EMODEL_G729A);
    assert_int_equal(emodel_codec_from_name("pcmu", &c), 0);
    assert_int_equal(c, EMODEL_G711);
    assert_int_equal(emodel_codec_from_name("opus", &c), -EINVAL);
    assert_null(emodel_codec_info((enum emodel_codec) 7));
    assert_near(emodel_codec_info(EMODEL_G711)->codec_delay_ms, 20, 0);
}

static void
test_bands(void **state)
{
    /* R -> MOS quality bands of spec E.2 (G.107/G.109's table).  The table is
     * rounded loosely: the cubic gives 4.024 at R = 80 where it prints 4.03, so
     * the bands hold to 0.01 and the cubic's own values to three decimals. */
    static const struct {
        double r, band;
        long mos_milli;
    } b[] = {{90, 4.34, 4339}, {80, 4.03, 4024}, {70, 3.60, 3597},
             {60, 3.10, 3100}, {50, 2.58, 2575}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        assert_near(emodel_mos(b[i].r), b[i].band, 0.01);
        assert_3dp(emodel_mos(b[i].r), b[i].mos_milli);
    }
    assert_near(emodel_mos(-3), 1, 0);
    assert_near(emodel_mos(0), 1, 0);
    assert_near(emodel_mos(100), 4.5, 1e-12);   /* continuous at both ends */
    assert_near(emodel_mos(130), 4.5, 0);
    /* Monotone, never below 1 (the raw cubic dips to 0.99 near R = 4). */
    for (double r = 0; r < 100; r += 0.5) {
        assert_true(emodel_mos(r + 0.5) >= emodel_mos(r));
        assert_true(emodel_mos(r) >= 1);
    }
    assert_near(emodel_mos(4), 1, 0);
    assert_true(emodel_mos(20) > emodel_mos(10));
}

static void
test_assess(void **state)
{
    /* 100 packets: 94 at 10 ms, 3 at 55 ms (beyond d_min + 40 ms: late), one at
     * exactly 50 ms (on time), 2 lost.  e = 5/100; mean over the 98 received. */
    uint64_t d[100];
    for (int i = 0; i < 94; i++) {
        d[i] = 10000000;
    }
    d[94] = d[95] = d[96] = 55000000;
    d[97] = 50000000;
    d[98] = d[99] = EMODEL_LOST;

    struct emodel_config cfg;
    emodel_config_init(&cfg);
    assert_int_equal(cfg.codec, EMODEL_G711);
    assert_near(cfg.jb_ms, 40, 0);

    struct emodel_result r;
    assert_int_equal(emodel_assess(&cfg, d, 100, EMODEL_LOST, &r), 0);
    assert_int_equal(r.sent, 100);
    assert_int_equal(r.received, 98);
    assert_int_equal(r.late, 3);
    assert_near(r.e, 0.05, 1e-15);
    assert_near(r.d_min_ms, 10, 1e-12);
    assert_near(r.mean_net_ms, 1155.0 / 98, 1e-9);
    assert_near(r.mouth_to_ear_ms, 1155.0 / 98 + 60, 1e-9);
    assert_near(r.r, 75.68866921908018, 1e-9);
    assert_near(r.mos, 3.8511836157762436, 1e-9);

    /* The pieces agree with the whole. */
    assert_false(emodel_late(&cfg, 50000000, 10000000));
    assert_true(emodel_late(&cfg, 50000001, 10000000));
    struct emodel_result part = {.e = 0.05, .mean_net_ms = 1155.0 / 98};
    emodel_score(&cfg, &part);
    assert_near(part.mouth_to_ear_ms, r.mouth_to_ear_ms, 1e-12);
    assert_near(part.mos, r.mos, 1e-12);

    /* A stream-wide reference: with d_min = 20 ms nothing here is late. */
    assert_int_equal(emodel_assess(&cfg, d, 100, 20000000, &r), 0);
    assert_int_equal(r.late, 0);
    assert_near(r.e, 0.02, 1e-15);

    /* A deeper buffer trades late loss for delay. */
    cfg.jb_ms = 60;
    assert_int_equal(emodel_assess(&cfg, d, 100, EMODEL_LOST, &r), 0);
    assert_int_equal(r.late, 0);
    assert_near(r.mouth_to_ear_ms, 1155.0 / 98 + 80, 1e-9);

    /* Everything lost: e = 1, no delay to speak of. */
    uint64_t lost[3] = {EMODEL_LOST, EMODEL_LOST, EMODEL_LOST};
    assert_int_equal(emodel_assess(&cfg, lost, 3, EMODEL_LOST, &r), 0);
    assert_near(r.e, 1, 0);
    assert_near(r.mean_net_ms, 0, 0);
    assert_true(r.mos < 1.5);

    assert_int_equal(emodel_assess(&cfg, d, 0, EMODEL_LOST, &r), -EDOM);
}

static void
test_jitter(void **state)
{
    struct emodel_jitter j;
    emodel_jitter_init(&j);
    /* Transit times 10, 12, 11, 15 ns: |D| = 2, 1, 4. */
    static const uint64_t send[] = {0, 20, 40, 60};
    static const uint64_t recv[] = {10, 32, 51, 75};
    for (int i = 0; i < 4; i++) {
        emodel_jitter_update(&j, send[i], recv[i]);
    }
    assert_near(j.j_ns, 0.41845703125, 1e-15);

    /* Constant transit, even negative (receiver clock behind): no jitter. */
    emodel_jitter_init(&j);
    for (uint64_t t = 1000; t < 2000; t += 20) {
        emodel_jitter_update(&j, t, t - 500);
    }
    assert_near(j.j_ns, 0, 0);

    /* Alternating +-1 ms transit converges to about 2 ms (|D| = 2 ms each time). */
    emodel_jitter_init(&j);
    for (int i = 0; i < 500; i++) {
        uint64_t s = (uint64_t) i * 20000000;
        emodel_jitter_update(&j, s, s + 5000000 + (i % 2) * 2000000);
    }
    assert_near(j.j_ns, 2000000, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_impairments),
        cmocka_unit_test(test_bands),
        cmocka_unit_test(test_assess),
        cmocka_unit_test(test_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
