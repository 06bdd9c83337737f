/* Tests diag/stats.c: the spec's test vectors (E.3), exact distributions against
 * brute-force enumeration, and calibration of the rank tests under the null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag/stats.h"

#define assert_near(a, b, tol)                                                        \
    do {                                                                              \
        double a_ = (a), b_ = (b);                                                    \
        if (!(fabs(a_ - b_) <= (tol))) {                                              \
            fail_msg("%s = %.9g, expected %.9g (+-%g)", #a, a_, b_, (double) (tol));  \
        }                                                                             \
    } while (0)

/* splitmix64: a deterministic generator so every run tests the same samples. */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_uniform(uint64_t *s)
{
    return ((rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double
rng_normal(uint64_t *s)
{
    return sqrt(-2 * log(rng_uniform(s))) * cos(2 * M_PI * rng_uniform(s));
}

static void
test_normal(void **state)
{
    assert_near(stats_norm_cdf(0), 0.5, 1e-15);
    assert_near(stats_norm_cdf(1.959963984540054), 0.975, 1e-12);
    assert_near(stats_norm_cdf(-1.7853571071357126), 0.03710170566487759, 1e-12);
    assert_near(stats_norm_quantile(0.975), 1.9599639845400536, 1e-12);
    assert_near(stats_norm_quantile(0.05), -1.6448536269514726, 1e-12);
    assert_near(stats_norm_quantile(1e-10), -6.361340902404056, 1e-9);
    assert_near(stats_norm_quantile(0.5), 0, 1e-15);
    for (double p = 0.001; p < 1; p += 0.0137) {
        assert_near(stats_norm_cdf(stats_norm_quantile(p)), p, 1e-13);
    }
    assert_true(isinf(stats_norm_quantile(0)) && stats_norm_quantile(0) < 0);
    assert_true(isinf(stats_norm_quantile(1)) && stats_norm_quantile(1) > 0);
    assert_true(isnan(stats_norm_quantile(1.5)));
}

static void
test_binomial(void **state)
{
    assert_near(stats_binom_cdf(2, 12, 0.5), 79.0 / 4096, 1e-15);
    assert_near(stats_binom_cdf(1000, 2000, 0.5), 0.5089195055729272, 1e-12);
    assert_near(stats_binom_cdf(0, 3, 0.2), 0.512, 1e-15);
    assert_near(stats_binom_cdf(3, 3, 0.2), 1, 0);
    assert_near(stats_binom_cdf(1, 3, 1.0), 0, 0);
}

static void
test_percentile(void **state)
{
    double x[] = {4, 1, 3, 2};
    assert_near(stats_percentile(x, 4, 50), 2.5, 1e-15);
    assert_near(stats_percentile(x, 4, 99), 3.97, 1e-12);
    assert_near(stats_percentile(x, 4, 0), 1, 0);
    assert_near(stats_percentile(x, 4, 100), 4, 0);
    assert_near(stats_percentile(x, 1, 99), 4, 0);
    assert_true(isnan(stats_percentile(x, 0, 50)));
    assert_near(x[0], 4, 0);                  /* the input is not reordered */
    assert_near(stats_mean(x, 4), 2.5, 1e-15);
}

static int
cmp_d(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return a < b ? -1 : a > b;
}

/* The sort against qsort(): random, few distinct values, sorted, reversed,
 * organ-pipe, sizes around the insertion-sort cut-off. */
static void
test_sort(void **state)
{
    uint64_t seed = 3;
    static const size_t sizes[] = {0, 1, 2, 15, 16, 17, 100, 1000, 20000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int shape = 0; shape < 5; shape++) {
            double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
            for (size_t i = 0; i < n; i++) {
                x[i] = shape == 0   ? rng_normal(&seed)
                       : shape == 1 ? (double) (rng_next(&seed) % 4)
                       : shape == 2 ? (double) i
                       : shape == 3 ? (double) (n - i)
                                    : (double) (i < n / 2 ? i : n - i);
                y[i] = x[i];
            }
            qsort(y, n, sizeof *y, cmp_d);
            /* Selection and in-place percentiles agree with the sorted array. */
            for (int q = 0; n && q < 5; q++) {
                double *z = malloc(n * sizeof *z);
                memcpy(z, x, n * sizeof *z);
                size_t k = rng_next(&seed) % n;
                assert_true(stats_select(z, n, k) == y[k]);
                for (size_t i = 0; i < n; i++) {
                    assert_true(i <= k ? z[i] <= y[k] : z[i] >= y[k]);
                }
                memcpy(z, x, n * sizeof *z);
                double pct = q * 24.75;
                assert_true(stats_percentile_inplace(z, n, pct) ==
                            stats_percentile_sorted(y, n, pct));
                assert_true(stats_percentile_inplace(z, n, 99) ==
                            stats_percentile_sorted(y, n, 99));
                free(z);
            }
            stats_sort(x, n);
            for (size_t i = 0; i < n; i++) {
                assert_true(x[i] == y[i]);
            }
            free(x);
            free(y);
        }
    }
}

static void
test_wilcoxon_vector(void **state)
{
    /* Differences with a zero and a tie; p-values from enumerating all 2^9 sign
     * patterns of the mid-ranks. */
    double d[] = {15, -7, 5, 20, 0, -9, 17, -12, 5, -10};
    struct stats_result r;
    assert_int_equal(stats_wilcoxon_signed_rank(d, 10, &r), 0);
    assert_int_equal(r.n, 9);
    assert_near(r.statistic, 27, 0);
    assert_true(r.exact);
    assert_near(r.p_less, 0.705078125, 1e-15);
    assert_near(r.p_greater, 0.31640625, 1e-15);
    assert_near(r.p_two, 0.6328125, 1e-15);
    assert_near(r.z, 0.533582250055877, 1e-12);

    double none[] = {0, 0, 0};
    assert_int_equal(stats_wilcoxon_signed_rank(none, 3, &r), -EDOM);
    double bad[] = {1, NAN};
    assert_int_equal(stats_wilcoxon_signed_rank(bad, 2, &r), -EINVAL);

    double pos[] = {1, 2, 3, 4, 5};
    assert_int_equal(stats_wilcoxon_signed_rank(pos, 5, &r), 0);
    assert_near(r.p_greater, 1.0 / 32, 1e-15);
    assert_near(r.p_less, 1, 1e-15);
}

static void
test_wilcoxon_normal(void **state)
{
    /* 1..60, all positive: W+ = 1830, E = 915, Var = 60*61*121/24. */
    double d[60];
    for (int i = 0; i < 60; i++) {
        d[i] = i + 1;
    }
    struct stats_result r;
    assert_int_equal(stats_wilcoxon_signed_rank(d, 60, &r), 0);
    assert_false(r.exact);
    assert_near(r.statistic, 1830, 0);
    assert_near(r.z, 915 / sqrt(60.0 * 61 * 121 / 24), 1e-12);
    assert_near(r.p_less, stats_norm_cdf(r.z), 1e-15);

    /* Ties: 60 values of |d| = 1, 30 of each sign: tie correction (t^3-t)/48. */
    for (int i = 0; i < 60; i++) {
        d[i] = i % 2 ? 1 : -1;
    }
    assert_int_equal(stats_wilcoxon_signed_rank(d, 60, &r), 0);
    double var = 60.0 * 61 * 121 / 24 - (216000.0 - 60) / 48;
    assert_near(r.statistic, 30 * 30.5, 1e-12);
    assert_near(r.z, (30 * 30.5 - 915) / sqrt(var), 1e-12);
    assert_near(r.z, 0, 1e-12);
}

/* The exact p-values agree with brute-force enumeration on random samples that
 * have zeros and ties. */
static void
test_wilcoxon_exact_vs_enumeration(void **state)
{
    uint64_t seed = 42;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + rng_next(&seed) % 12;
        double d[12];
        for (size_t i = 0; i < n; i++) {
            d[i] = (double) (int) (rng_next(&seed) % 9) - 4;   /* -4..4: ties, zeros */
        }
        struct stats_result r;
        int err = stats_wilcoxon_signed_rank(d, n, &r);
        double nz[12];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (d[i] != 0) {
                nz[m++] = d[i];
            }
        }
        if (!m) {
            assert_int_equal(err, -EDOM);
            continue;
        }
        assert_int_equal(err, 0);
        double rank[12];
        for (size_t i = 0; i < m; i++) {
            double less = 0, eq = 0;
            for (size_t j = 0; j < m; j++) {
                less += fabs(nz[j]) < fabs(nz[i]);
                eq += fabs(nz[j]) == fabs(nz[i]);
            }
            rank[i] = less + (eq + 1) / 2;
        }
        double w = 0;
        for (size_t i = 0; i < m; i++) {
            w += nz[i] > 0 ? rank[i] : 0;
        }
        double le = 0, ge = 0;
        for (uint32_t mask = 0; mask < (1u << m); mask++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) {
                s += mask & (1u << i) ? rank[i] : 0;
            }
            le += s <= w + 1e-9;
            ge += s >= w - 1e-9;
        }
        assert_near(r.statistic, w, 1e-12);
        assert_near(r.p_less, le / (1u << m), 1e-12);
        assert_near(r.p_greater, ge / (1u << m), 1e-12);
    }
}

/* Under the null the one-sided tests reject at about their nominal level, and
 * under a shift they have power. */
static void
test_calibration(void **state)
{
    uint64_t seed = 7;
    int rej_w_small = 0, rej_w_large = 0, rej_mw = 0, pow_w = 0, pow_mw = 0;
    const int runs = 2000;
    for (int run = 0; run < runs; run++) {
        double d[100], a[40], b[40];
        for (int i = 0; i < 100; i++) {
            d[i] = rng_normal(&seed);
        }
        for (int i = 0; i < 40; i++) {
            a[i] = rng_normal(&seed);
            b[i] = rng_normal(&seed);
        }
        struct stats_result r;
        assert_int_equal(stats_wilcoxon_signed_rank(d, 30, &r), 0);   /* exact */
        rej_w_small += r.p_less < 0.05;
        assert_int_equal(stats_wilcoxon_signed_rank(d, 100, &r), 0);  /* normal */
        rej_w_large += r.p_less < 0.05;
        assert_int_equal(stats_mann_whitney(a, 40, b, 40, &r), 0);
        rej_mw += r.p_less < 0.05;

        for (int i = 0; i < 100; i++) {
            d[i] -= 0.4;
        }
        for (int i = 0; i < 40; i++) {
            a[i] -= 0.8;
        }
        assert_int_equal(stats_wilcoxon_signed_rank(d, 100, &r), 0);
        pow_w += r.p_less < 0.05;
        assert_int_equal(stats_mann_whitney(a, 40, b, 40, &r), 0);
        pow_mw += r.p_less < 0.05;
    }
    /* 2000 Bernoulli(0.05) trials: sd = 0.0049; allow about 3 sd. */
    assert_in_range(rej_w_small, 0.035 * runs, 0.065 * runs);
    assert_in_range(rej_w_large, 0.035 * runs, 0.065 * runs);
    assert_in_range(rej_mw, 0.035 * runs, 0.065 * runs);
    assert_true(pow_w > 0.95 * runs);
    assert_true(pow_mw > 0.9 * runs);
}

/* The autocorrelation-robust variant: the same W+, a variance that grows with
 * positive autocorrelation, and a rejection rate near nominal on an AR(1) series
 * where the plain test rejects far too often. */
static void
test_wilcoxon_hac(void **state)
{
    /* Doubled signed ranks 6, 2, -4, -8: AR(1) fit rho = 36/56, residuals with
     * one Bartlett lag, recoloured by 1/(1 - rho)^2 (computed independently). */
    double d[300] = {3, 1, -2, -4};
    struct stats_result plain, hac;
    assert_int_equal(stats_wilcoxon_signed_rank(d, 4, &plain), 0);
    assert_int_equal(stats_wilcoxon_signed_rank_hac(d, 4, 1, &hac), 0);
    assert_near(hac.statistic, plain.statistic, 0);
    assert_false(hac.exact);
    assert_near(hac.z, -0.1281735311305374, 1e-12);
    assert_near(hac.p_less, stats_norm_cdf(hac.z), 1e-15);

    /* Negative autocorrelation never makes it bolder than the plain test. */
    double alt[] = {1, -2, 3, -4};
    assert_int_equal(stats_wilcoxon_signed_rank(alt, 4, &plain), 0);
    assert_int_equal(stats_wilcoxon_signed_rank_hac(alt, 4, 1, &hac), 0);
    assert_near(hac.z, plain.z, 1e-12);

    double w[] = {15, -7, 5, 20, 0, -9, 17, -12, 5, -10};
    assert_int_equal(stats_wilcoxon_signed_rank(w, 10, &plain), 0);
    assert_int_equal(stats_wilcoxon_signed_rank_hac(w, 10, 0, &hac), 0);
    assert_near(hac.statistic, 27, 0);
    assert_true(fabs(hac.z) <= fabs(plain.z) + 1e-12);
    double zeros[] = {0, 0};
    assert_int_equal(stats_wilcoxon_signed_rank_hac(zeros, 2, 0, &hac), -EDOM);

    /* Rejection rates at one-sided 5%: independent, AR(1) 0.6 and 0.9. */
    static const double rhos[] = {0, 0.6, 0.9};
    uint64_t seed = 99;
    const int runs = 2000;
    for (size_t r = 0; r < 3; r++) {
        int rej_plain = 0, rej_hac = 0;
        for (int run = 0; run < runs; run++) {
            double x = rng_normal(&seed);
            for (int i = 0; i < 300; i++) {
                x = rhos[r] * x + sqrt(1 - rhos[r] * rhos[r]) * rng_normal(&seed);
                d[i] = x;
            }
            assert_int_equal(stats_wilcoxon_signed_rank(d, 300, &plain), 0);
            assert_int_equal(stats_wilcoxon_signed_rank_hac(d, 300, 0, &hac), 0);
            rej_plain += plain.p_less < 0.05;
            rej_hac += hac.p_less < 0.05;
        }
        print_message("AR(1) rho %.1f, n 300: plain rejects %.1f%%, HAC %.1f%%\n",
                      rhos[r], 100.0 * rej_plain / runs, 100.0 * rej_hac / runs);
        if (rhos[r] > 0) {
            assert_true(rej_plain > 0.12 * runs);
        }
        assert_in_range(rej_hac, 0.02 * runs, 0.075 * runs);
    }
}

static void
test_mann_whitney_vector(void **state)
{
    double a[] = {10, 12, 13, 15, 18, 20, 22, 25};
    double b[] = {14, 16, 19, 21, 24, 27, 30, 33};
    struct stats_result r;
    assert_int_equal(stats_mann_whitney(a, 8, b, 8, &r), 0);
    assert_near(r.statistic, 15, 0);
    assert_near(r.z, -1.785, 5e-4);
    assert_near(r.p_less, 0.037, 5e-4);
    assert_near(r.p_greater, 1 - r.p_less, 1e-12);

    /* U_A + U_B = n1 n2, and the direction flips. */
    struct stats_result rb;
    assert_int_equal(stats_mann_whitney(b, 8, a, 8, &rb), 0);
    assert_near(rb.statistic, 64 - 15, 0);
    assert_near(rb.z, -r.z, 1e-12);

    /* Ties count one half; the variance shrinks by the tie term. */
    double c[] = {1, 2, 2};
    double e[] = {2, 3};
    assert_int_equal(stats_mann_whitney(c, 3, e, 2, &r), 0);
    assert_near(r.statistic, 0 + 0.5 + 0.5, 1e-12);       /* 2 vs 2 twice */
    double var = 3.0 * 2 / 12 * (6 - (27.0 - 3) / 20);
    assert_near(r.z, (1 - 3) / sqrt(var), 1e-12);

    double same[] = {5, 5};
    assert_int_equal(stats_mann_whitney(same, 2, same, 2, &r), -EDOM);
    assert_int_equal(stats_mann_whitney(a, 0, b, 8, &r), -EDOM);
}

static void
test_ks_vector(void **state)
{
    double a[] = {10, 12, 13, 15, 18, 20, 22, 25};
    double b[] = {14, 16, 19, 21, 24, 27, 30, 33};
    struct stats_result r;
    assert_int_equal(stats_ks2(a, 8, b, 8, &r), 0);
    assert_near(r.statistic, 0.375, 1e-15);
    assert_near(r.p_two, 0.5189424992880708, 1e-9);
    assert_near(r.p_two, 0.52, 0.005);
    assert_true(isnan(r.p_less));

    double c[] = {1, 2, 2, 3};
    double e[] = {2, 2, 4, 5};
    assert_int_equal(stats_ks2(c, 4, e, 4, &r), 0);
    assert_near(r.statistic, 0.5, 1e-15);      /* ties step together */
    assert_int_equal(stats_ks2(c, 4, c, 4, &r), 0);
    assert_near(r.statistic, 0, 0);
    assert_near(r.p_two, 1, 0);
    assert_int_equal(stats_ks2(c, 0, e, 4, &r), -EDOM);

    /* Both branches of Q_KS agree where they meet, and the tails are right. */
    assert_near(stats_ks_q(1.18 - 1e-9), stats_ks_q(1.18), 1e-8);
    assert_near(stats_ks_q(0.1), 1, 1e-12);
    assert_near(stats_ks_q(1.36), 0.0494, 5e-4);     /* the classic 5% point */
    assert_near(stats_ks_q(3), 2 * exp(-18), 1e-12);
}

static void
test_mcnemar(void **state)
{
    struct stats_result r;
    stats_mcnemar(2, 10, &r);
    assert_true(r.exact);
    assert_near(r.p_less, 79.0 / 4096, 1e-15);
    assert_near(r.p_two, 2 * 79.0 / 4096, 1e-15);
    assert_near(r.p_greater, 1 - stats_binom_cdf(1, 12, 0.5), 1e-15);

    stats_mcnemar(10, 30, &r);
    assert_false(r.exact);
    assert_near(r.statistic, 9.025, 1e-12);
    assert_near(r.p_two, 0.002663119259138554, 1e-12);
    assert_near(r.z, -sqrt(9.025), 1e-12);
    assert_true(r.p_less < 0.01 && r.p_greater > 0.99);

    stats_mcnemar(0, 0, &r);
    assert_near(r.p_two, 1, 0);
    assert_near(r.p_less, 1, 0);
    stats_mcnemar(13, 12, &r);                  /* |b-c| = 1: chi^2 = 0 */
    assert_near(r.statistic, 0, 0);
    assert_near(r.p_two, 1, 1e-15);
}

static void
test_holm(void **state)
{
    double p[] = {0.01, 0.04, 0.03, 0.005, NAN};
    double adj[5];
    bool rej[5];
    stats_holm(p, 4, 0.05, adj, rej);
    assert_near(adj[3], 0.02, 1e-15);
    assert_near(adj[0], 0.03, 1e-15);
    assert_near(adj[2], 0.06, 1e-15);
    assert_near(adj[1], 0.06, 1e-15);   /* monotone: not below its predecessor */
    assert_true(rej[3] && rej[0] && !rej[2] && !rej[1]);

    stats_holm(p, 5, 0.05, adj, rej);
    assert_near(adj[4], 1, 0);
    assert_false(rej[4]);
    assert_near(adj[3], 0.025, 1e-15);
    stats_holm(p, 0, 0.05, NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_binomial),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_wilcoxon_vector),
        cmocka_unit_test(test_wilcoxon_normal),
        cmocka_unit_test(test_wilcoxon_exact_vs_enumeration),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_wilcoxon_hac),
        cmocka_unit_test(test_mann_whitney_vector),
        cmocka_unit_test(test_ks_vector),
        cmocka_unit_test(test_mcnemar),
        cmocka_unit_test(test_holm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
