/* Tests examples/traffic/gen-plan.c: flow weights, arrival processes, options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/traffic/gen-plan.h"
#include "lib/error.h"

static int
cmp_desc(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void
test_pareto_weights_heavy_tailed(void **state)
{
    struct gen_rng rng;
    gen_rng_seed(&rng, 1);
    struct gen_flows f;
    gen_flows_init(&f, 1000, 1.2, &rng);
    double shares[1000], total = 0;
    for (size_t i = 0; i < 1000; i++) {
        shares[i] = gen_flows_share(&f, i);
        total += shares[i];
    }
    assert_true(fabs(total - 1.0) < 1e-9);
    qsort(shares, 1000, sizeof *shares, cmp_desc);
    double top = 0;
    for (size_t i = 0; i < 100; i++) {
        top += shares[i];
    }
    /* Pareto(1.2): the top 10% of flows carry about half the traffic. */
    assert_true(top > 0.35);
    assert_true(shares[999] < shares[0] / 20);

    /* Picks follow the shares. */
    size_t counts[1000] = { 0 };
    for (int i = 0; i < 200000; i++) {
        counts[gen_flows_pick(&f, gen_rng_uniform(&rng))]++;
    }
    for (size_t i = 0; i < 1000; i++) {
        double expect = gen_flows_share(&f, i) * 200000;
        assert_true(fabs((double) counts[i] - expect) < 6 * sqrt(expect) + 3);
    }
    assert_int_equal(gen_flows_pick(&f, 1.0), 999);
    gen_flows_destroy(&f);

    gen_flows_init(&f, 1, 1.2, &rng);
    assert_true(gen_flows_share(&f, 0) == 1.0);
    assert_int_equal(gen_flows_pick(&f, 0.3), 0);
    gen_flows_destroy(&f);
}

static void
test_rng_distributions(void **state)
{
    struct gen_rng a, b;
    gen_rng_seed(&a, 42);
    gen_rng_seed(&b, 42);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(gen_rng_next(&a), gen_rng_next(&b));     /* repeatable */
    }
    double sum = 0, min = 1;
    for (int i = 0; i < 100000; i++) {
        double u = gen_rng_uniform(&a);
        assert_true(u > 0 && u <= 1);
        min = fmin(min, u);
        sum += gen_rng_exponential(&a, 10.0);
    }
    assert_true(fabs(sum / 100000 - 10.0) < 0.2);
    for (int i = 0; i < 1000; i++) {
        assert_true(gen_rng_pareto(&a, 1.5, 2.0) >= 2.0);
    }
}

static void
test_sources(void **state)
{
    struct gen_rng rng;
    gen_rng_seed(&rng, 5);
    struct gen_source s;
    /* Paced: exactly every 1/rate inside the window. */
    gen_source_init(&s, 1000, false, 5000000, 10000000, &rng);
    uint64_t times[10];
    int n = 0;
    while (gen_source_next(&s) != UINT64_MAX) {
        assert_true(n < 10);
        times[n++] = gen_source_next(&s);
        gen_source_advance(&s, &rng);
    }
    assert_int_equal(n, 5);
    assert_int_equal(times[0], 5000000);
    assert_int_equal(times[4], 9000000);

    /* Poisson: the right count on average, irregular gaps. */
    gen_source_init(&s, 10000, true, 0, 1000000000, &rng);
    n = 0;
    uint64_t prev = 0, min_gap = UINT64_MAX, max_gap = 0;
    while (gen_source_next(&s) != UINT64_MAX) {
        uint64_t t = gen_source_next(&s);
        if (n) {
            min_gap = t - prev < min_gap ? t - prev : min_gap;
            max_gap = t - prev > max_gap ? t - prev : max_gap;
        }
        prev = t;
        n++;
        gen_source_advance(&s, &rng);
    }
    assert_in_range(n, 9600, 10400);
    assert_true(min_gap < 10000 && max_gap > 500000);

    /* Open-ended. */
    gen_source_init(&s, 1, false, 0, 0, &rng);
    for (int i = 0; i < 100; i++) {
        gen_source_advance(&s, &rng);
    }
    assert_int_equal(gen_source_next(&s), 100000000000ull);
}

static void
expect_burst_error(const char *text, const char *message)
{
    struct gen_burst b = { .flow = 99 };
    struct vnet_error *error = gen_burst_parse(text, &b);
    assert_non_null(error);
    assert_string_equal(error->message, message);
    assert_int_equal(b.flow, 99);
    vnet_error_destroy(error);
}

static void
test_burst_parse(void **state)
{
    struct gen_burst b;
    assert_null(gen_burst_parse("flow=3,rate=150000,duration=340,at=1500", &b));
    assert_int_equal(b.flow, 3);
    assert_int_equal(b.rate_pps, 150000);
    assert_int_equal(b.duration_ns, 340000);
    assert_int_equal(b.at_ns, 1500000000ull);
    assert_null(gen_burst_parse("at=0,duration=1,rate=1,flow=0", &b));
    assert_int_equal(b.at_ns, 0);

    expect_burst_error("flow=1,rate=10,duration=5", "burst 'flow=1,rate=10,duration=5': "
                       "missing at=: expected flow=I,rate=PPS,duration=USEC,at=MSEC");
    expect_burst_error("flow=1,rate=0,duration=5,at=1", "burst 'flow=1,rate=0,duration=5,"
                       "at=1': rate: expected packets per second, 1..100000000, got '0'");
    expect_burst_error("flow=1,rate=10,duration=5,at=1,flow=2", "burst 'flow=1,rate=10,"
                       "duration=5,at=1,flow=2': flow: expected a flow index (once), "
                       "got '2'");
    expect_burst_error("flow=1,speed=10", "burst 'flow=1,speed=10': unknown item 'speed': "
                       "expected flow=I,rate=PPS,duration=USEC,at=MSEC");
    expect_burst_error("flow", "burst 'flow': unknown item 'flow': expected flow=I,"
                       "rate=PPS,duration=USEC,at=MSEC");
    expect_burst_error("flow=x,rate=1,duration=1,at=1", "burst 'flow=x,rate=1,duration=1,"
                       "at=1': flow: expected a flow index, got 'x'");
}

static void
test_range_parse(void **state)
{
    struct gen_range r = { 1, 1 };
    assert_int_equal(gen_range_parse("9", &r), 0);
    assert_true(r.lo == 9 && r.hi == 9);
    assert_int_equal(gen_range_parse("1000-2000", &r), 0);
    assert_true(r.lo == 1000 && r.hi == 2000);
    assert_int_equal(gen_range_parse("0-65535", &r), 0);
    assert_true(r.lo == 0 && r.hi == 65535);
    assert_int_equal(gen_range_parse("2000-1000", &r), -EINVAL);
    assert_int_equal(gen_range_parse("65536", &r), -EINVAL);
    assert_int_equal(gen_range_parse("-", &r), -EINVAL);
    assert_int_equal(gen_range_parse("", &r), -EINVAL);
    assert_int_equal(gen_range_parse("1-2-3", &r), -EINVAL);
    assert_true(r.lo == 0 && r.hi == 65535);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pareto_weights_heavy_tailed),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_burst_parse),
        cmocka_unit_test(test_range_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
