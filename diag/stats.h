/* stats.h -- the statistics of the shadow-vs-production comparison.
 *
 * Rank tests on small samples of sub-window statistics (Wilcoxon signed-rank for
 * paired data, Mann-Whitney U for unpaired data), the two-sample Kolmogorov-Smirnov
 * distribution-change detector, McNemar's test for paired binary outcomes (a packet
 * lost in one chain but not the other), Holm-Bonferroni across a family of tests,
 * and the normal distribution and percentiles they rest on.  See
 * ../shared/specs/diagnosis.md, part E.3.
 *
 * Direction conventions: for a paired test the sample is d = x - y; 'p_less' is the
 * one-sided p-value for "d tends to be negative" (x smaller, e.g. the shadow's
 * latency lower than production's).  For two samples a and b, 'p_less' is for "a
 * tends to be smaller than b".
 *
 * Everything here is pure: no I/O, no globals.  Functions never keep pointers to
 * their inputs.  Thread-safety: all functions are reentrant. */
#ifndef DIAG_STATS_H
#define DIAG_STATS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Samples up to this many non-zero differences get the exact (permutation)
 * distribution of the Wilcoxon signed-rank statistic; above it, the tie-corrected
 * normal approximation. */
#define STATS_WILCOXON_EXACT_MAX 50

/* McNemar uses the exact binomial when b + c is below this. */
#define STATS_MCNEMAR_EXACT_BELOW 25

struct stats_result {
    double statistic;   /* W+, U_A, D, McNemar chi^2 (or b when exact) */
    double z;           /* normal score; NAN when not defined (KS, exact McNemar) */
    double p_less;      /* one-sided p: first sample / difference smaller */
    double p_greater;   /* one-sided p: first sample / difference larger */
    double p_two;       /* two-sided p */
    size_t n;           /* effective n: non-zero differences (Wilcoxon), n1+n2,
                         * or b+c (McNemar) */
    bool exact;         /* p-values from the exact distribution */
};

/* The standard normal CDF Phi(z). */
double stats_norm_cdf(double z);

/* The standard normal quantile Phi^-1(p) to about 1e-15 relative error; -INFINITY /
 * INFINITY at 0 / 1, NAN outside [0, 1]. */
double stats_norm_quantile(double p);

/* P(X <= k) for X ~ Binomial(n, p). */
double stats_binom_cdf(uint64_t k, uint64_t n, double p);

/* Sorts 'x' ascending (NaNs are not allowed). */
void stats_sort(double *x, size_t n);

/* The 'pct'-th percentile (0..100) of the ascending array 'sorted', with linear
 * interpolation between closest ranks (Hyndman-Fan type 7, the default of R and
 * NumPy).  NAN when n is 0. */
double stats_percentile_sorted(const double *sorted, size_t n, double pct);

/* Same for an unsorted array, in a private copy. */
double stats_percentile(const double *x, size_t n, double pct);

/* Same, in expected linear time, reordering 'x' (quickselect).  Several
 * percentiles of one array may be taken in turn. */
double stats_percentile_inplace(double *x, size_t n, double pct);

/* The k-th smallest (0-based, k < n) of 'x', in expected linear time; reorders
 * 'x' so that x[k] holds it, smaller values come before and larger after. */
double stats_select(double *x, size_t n, size_t k);

double stats_mean(const double *x, size_t n);

/* Wilcoxon signed-rank test on paired differences 'd' (e.g. shadow - production).
 * Zeros are excluded (Wilcoxon's convention); ties in |d| get mid-ranks.  W+ is the
 * sum of the ranks of the positive differences.  With at most
 * STATS_WILCOXON_EXACT_MAX non-zero differences the p-values come from the exact
 * permutation distribution of W+ given the observed ranks (correct with ties too);
 * otherwise from z = (W+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - sum(t^3-t)/48), without
 * continuity correction.  'z' is reported in both cases.
 * Returns 0, or -EDOM if no difference is non-zero (nothing to test), or -EINVAL
 * for a NaN. */
int stats_wilcoxon_signed_rank(const double *d, size_t n, struct stats_result *ret);

/* The signed-rank test for a series of differences that may be autocorrelated
 * (consecutive sub-windows while congestion outlasts one): the same W+, with the
 * long-run variance of the signed-rank sum estimated by AR(1) prewhitening and
 * Newey-West on the residuals (Bartlett weights over 'max_lag' lags; 0 picks
 * floor(4 (n/100)^(2/9))), never taken below the independent-case variance, so
 * it only ever becomes more cautious.  Normal approximation only ('exact' is
 * false).  Returns as stats_wilcoxon_signed_rank(). */
int stats_wilcoxon_signed_rank_hac(const double *d, size_t n, size_t max_lag,
                                   struct stats_result *ret);

/* Mann-Whitney U test.  U_A = sum_ij [a_i > b_j] + 1/2 [a_i = b_j];
 * z = (U_A - n1 n2/2) / sqrt(n1 n2/12 ((N+1) - sum(t^3-t)/(N(N-1)))), no continuity
 * correction.  Returns 0, or -EDOM if a sample is empty or all values are tied. */
int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                       struct stats_result *ret);

/* Two-sample Kolmogorov-Smirnov test: D = sup |F_a - F_b|, with the asymptotic
 * p-value p = Q_KS((sqrt(ne) + 0.12 + 0.11/sqrt(ne)) D), ne = n1 n2/(n1+n2).  KS is
 * two-sided: only 'p_two' is set ('p_less'/'p_greater' are NAN); pair it with a
 * direction check on the medians.  Returns 0, or -EDOM if a sample is empty. */
int stats_ks2(const double *a, size_t na, const double *b, size_t nb,
              struct stats_result *ret);

/* The Kolmogorov distribution's tail Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1)
 * exp(-2 j^2 lambda^2), in [0, 1]. */
double stats_ks_q(double lambda);

/* McNemar's test for paired binary outcomes: 'b' pairs changed one way (e.g. lost
 * only in the shadow), 'c' the other (lost only in production).  p_less is for
 * "b < c".  With b + c < STATS_MCNEMAR_EXACT_BELOW the p-values are exact binomial
 * (statistic = b); otherwise chi^2 = (|b-c| - 1)^2/(b+c) with continuity correction
 * and z = sign(b-c) sqrt(chi^2).  b = c = 0 gives p = 1. */
void stats_mcnemar(uint64_t b, uint64_t c, struct stats_result *ret);

/* Holm-Bonferroni step-down over 'n' p-values at family level 'alpha'.  Stores the
 * adjusted p-values in 'ret_adj' (may be NULL) and whether each hypothesis is
 * rejected in 'ret_reject' (may be NULL).  A NaN p-value counts as 1. */
void stats_holm(const double *p, size_t n, double alpha, double *ret_adj,
                bool *ret_reject);

#endif
