#include "diag/stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

double
stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

double
stats_norm_quantile(double p)
{
    /* Acklam's rational approximation (relative error 1.15e-9), then one Halley
     * step against erfc, which brings it to full double precision. */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double p_low = 0.02425;

    if (isnan(p) || p < 0 || p > 1) {
        return NAN;
    } else if (p == 0) {
        return -INFINITY;
    } else if (p == 1) {
        return INFINITY;
    }

    double x;
    if (p < p_low) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - p_low) {
        double q = p - 0.5;
        double r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }

    double e = 0.5 * erfc(-x / M_SQRT2) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

double
stats_binom_cdf(uint64_t k, uint64_t n, double p)
{
    if (k >= n || p <= 0) {
        return 1.0;
    } else if (p >= 1) {
        return 0.0;
    }
    /* Walk the pmf in log space so that large n does not underflow (1-p)^n. */
    double log_pmf = (double) n * log1p(-p);
    double log_odds = log(p) - log1p(-p);
    double sum = 0;
    for (uint64_t i = 0; i <= k; i++) {
        sum += exp(log_pmf);
        log_pmf += log((double) (n - i) / (double) (i + 1)) + log_odds;
    }
    return sum > 1 ? 1 : sum;
}

static int
cmp_double(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return a < b ? -1 : a > b;
}

static void
insertion_sort(double *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = x[i];
        size_t j = i;
        for (; j && x[j - 1] > v; j--) {
            x[j] = x[j - 1];
        }
        x[j] = v;
    }
}

static double
median_of_three(const double *x, size_t n)
{
    double a = x[0], b = x[n / 2], c = x[n - 1];
    return a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
}

/* Three-way partition around 'pivot' (runs of equal latencies are common):
 * afterwards [0,*lt) < pivot, [*lt,*gt) == pivot, [*gt,n) > pivot. */
static void
partition3(double *x, size_t n, double pivot, size_t *lt_, size_t *gt_)
{
    size_t lt = 0, i = 0, gt = n;
    while (i < gt) {
        double v = x[i];
        if (v < pivot) {
            x[i++] = x[lt];
            x[lt++] = v;
        } else if (v > pivot) {
            x[i] = x[--gt];
            x[gt] = v;
        } else {
            i++;
        }
    }
    *lt_ = lt;
    *gt_ = gt;
}

/* Quicksort recursing on the smaller side; past a depth of 2 log2(n) it hands
 * the range to qsort(), so the worst case stays O(n log n).  Faster than qsort()
 * with a comparison callback. */
static void
quicksort(double *x, size_t n, unsigned depth)
{
    while (n > 16) {
        if (!depth--) {
            qsort(x, n, sizeof *x, cmp_double);
            return;
        }
        size_t lt, gt;
        partition3(x, n, median_of_three(x, n), &lt, &gt);
        if (lt < n - gt) {
            quicksort(x, lt, depth);
            x += gt;
            n -= gt;
        } else {
            quicksort(x + gt, n - gt, depth);
            n = lt;
        }
    }
    insertion_sort(x, n);
}

void
stats_sort(double *x, size_t n)
{
    unsigned depth = 0;
    for (size_t k = n; k > 1; k >>= 1) {
        depth += 2;
    }
    quicksort(x, n, depth);
}

double
stats_percentile_sorted(const double *sorted, size_t n, double pct)
{
    if (!n) {
        return NAN;
    }
    double h = (n - 1) * (pct < 0 ? 0 : pct > 100 ? 100 : pct) / 100.0;
    size_t lo = (size_t) floor(h);
    if (lo + 1 >= n) {
        return sorted[n - 1];
    }
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

double
stats_select(double *x, size_t n, size_t k)
{
    unsigned depth = 0;
    for (size_t m = n; m > 1; m >>= 1) {
        depth += 2;
    }
    while (n > 16) {
        if (!depth--) {
            quicksort(x, n, 0);
            return x[k];
        }
        size_t lt, gt;
        partition3(x, n, median_of_three(x, n), &lt, &gt);
        if (k < lt) {
            n = lt;
        } else if (k >= gt) {
            x += gt;
            k -= gt;
            n -= gt;
        } else {
            return x[k];
        }
    }
    insertion_sort(x, n);
    return x[k];
}

double
stats_percentile_inplace(double *x, size_t n, double pct)
{
    if (!n) {
        return NAN;
    }
    double h = (n - 1) * (pct < 0 ? 0 : pct > 100 ? 100 : pct) / 100.0;
    size_t lo = (size_t) floor(h);
    double v = stats_select(x, n, lo);
    if (lo + 1 >= n || h == lo) {
        return v;
    }
    double next = x[lo + 1];        /* the smallest of what select left above */
    for (size_t i = lo + 2; i < n; i++) {
        next = fmin(next, x[i]);
    }
    return v + (h - lo) * (next - v);
}

double
stats_percentile(const double *x, size_t n, double pct)
{
    if (!n) {
        return NAN;
    }
    double *copy = vnet_xmemdup(x, n * sizeof *x);
    double v = stats_percentile_inplace(copy, n, pct);
    free(copy);
    return v;
}

double
stats_mean(const double *x, size_t n)
{
    if (!n) {
        return NAN;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
    }
    return s / n;
}

/* A value with its origin, for ranking. */
struct ranked {
    double v;
    size_t i;
};

static int
cmp_ranked(const void *a_, const void *b_)
{
    const struct ranked *a = a_, *b = b_;
    return a->v < b->v ? -1 : a->v > b->v ? 1 : (a->i > b->i) - (a->i < b->i);
}

/* Sorts 'r' by value and stores in 'rank2[r[k].i]' twice the mid-rank (an integer:
 * positions first..last, 1-based, give (first + last + 2)).  Returns the tie term
 * sum(t^3 - t). */
static double
assign_ranks(struct ranked *r, size_t n, uint64_t *rank2)
{
    qsort(r, n, sizeof *r, cmp_ranked);
    double ties = 0;
    for (size_t first = 0; first < n;) {
        size_t last = first;
        while (last + 1 < n && r[last + 1].v == r[first].v) {
            last++;
        }
        for (size_t k = first; k <= last; k++) {
            rank2[r[k].i] = first + last + 2;
        }
        double t = last - first + 1;
        ties += t * t * t - t;
        first = last + 1;
    }
    return ties;
}

static void
set_normal_p(struct stats_result *ret, double z)
{
    ret->z = z;
    ret->p_less = stats_norm_cdf(z);
    ret->p_greater = stats_norm_cdf(-z);
    ret->p_two = VNET_MIN(1.0, 2 * VNET_MIN(ret->p_less, ret->p_greater));
}

/* Exact null distribution of 2W+ given the doubled ranks: each rank carries a + or
 * - sign with probability 1/2.  Counts up to 2^50 are exact in a double. */
static void
wilcoxon_exact(const uint64_t *rank2, size_t n, uint64_t w2, struct stats_result *ret)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += rank2[i];
    }
    double *dist = vnet_xcalloc(total + 1, sizeof *dist);
    dist[0] = 1;
    uint64_t reach = 0;
    for (size_t i = 0; i < n; i++) {
        reach += rank2[i];
        for (uint64_t s = reach; s >= rank2[i]; s--) {
            dist[s] += dist[s - rank2[i]];
        }
    }
    double le = 0, ge = 0;
    for (uint64_t s = 0; s <= total; s++) {
        if (s <= w2) {
            le += dist[s];
        }
        if (s >= w2) {
            ge += dist[s];
        }
    }
    free(dist);
    ret->p_less = ldexp(le, -(int) n);
    ret->p_greater = ldexp(ge, -(int) n);
    ret->p_two = VNET_MIN(1.0, 2 * VNET_MIN(ret->p_less, ret->p_greater));
    ret->exact = true;
}

/* Ranks |d| over the non-zero differences and stores, in their original order,
 * twice their signed mid-ranks in '*ret_a2' (caller frees).  Returns how many
 * there are (0: nothing to test, nothing allocated), or -EINVAL for a NaN. */
static long
signed_ranks(const double *d, size_t n, int64_t **ret_a2, double *ret_ties)
{
    struct ranked *r = vnet_xcalloc(n ? n : 1, sizeof *r);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(d[i])) {
            free(r);
            return -EINVAL;
        }
        if (d[i] != 0) {
            r[m].v = fabs(d[i]);
            r[m].i = m;
            m++;
        }
    }
    if (!m) {
        free(r);
        return 0;
    }
    uint64_t *rank2 = vnet_xmalloc(m * sizeof *rank2);
    *ret_ties = assign_ranks(r, m, rank2);
    free(r);
    int64_t *a2 = vnet_xmalloc(m * sizeof *a2);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (d[i] != 0) {
            a2[k] = d[i] > 0 ? (int64_t) rank2[k] : -(int64_t) rank2[k];
            k++;
        }
    }
    free(rank2);
    *ret_a2 = a2;
    return (long) m;
}

int
stats_wilcoxon_signed_rank(const double *d, size_t n, struct stats_result *ret)
{
    int64_t *a2;
    double ties = 0;
    long m = signed_ranks(d, n, &a2, &ties);
    if (m <= 0) {
        return m ? (int) m : -EDOM;
    }
    uint64_t w2 = 0;
    uint64_t *rank2 = vnet_xmalloc(m * sizeof *rank2);
    for (long k = 0; k < m; k++) {
        rank2[k] = a2[k] > 0 ? (uint64_t) a2[k] : (uint64_t) -a2[k];
        w2 += a2[k] > 0 ? rank2[k] : 0;
    }
    free(a2);

    struct stats_result res = {.statistic = w2 / 2.0, .n = m};
    double nn = m;
    double mean = nn * (nn + 1) / 4;
    double var = nn * (nn + 1) * (2 * nn + 1) / 24 - ties / 48;
    set_normal_p(&res, (res.statistic - mean) / sqrt(var));
    if (m <= STATS_WILCOXON_EXACT_MAX) {
        wilcoxon_exact(rank2, m, w2, &res);
    }
    free(rank2);
    *ret = res;
    return 0;
}

int
stats_wilcoxon_signed_rank_hac(const double *d, size_t n, size_t max_lag,
                               struct stats_result *ret)
{
    int64_t *a2;
    double ties = 0;
    long m = signed_ranks(d, n, &a2, &ties);
    if (m <= 0) {
        return m ? (int) m : -EDOM;
    }
    /* W+ - n(n+1)/4 = sum(a2)/4, whose variance under independence is
     * sum(a2^2)/16, the tie-corrected textbook variance.  Under dependence the
     * long-run variance of sum(a2) is estimated by prewhitening with an AR(1)
     * fit, Newey-West on the residuals, and recolouring (Andrews and Monahan):
     * Bartlett weights alone badly underestimate it for persistent series. */
    double sum = 0, v0 = 0, w2 = 0, num = 0, den = 0;
    for (long k = 0; k < m; k++) {
        sum += a2[k];
        v0 += (double) a2[k] * a2[k];
        w2 += a2[k] > 0 ? a2[k] : 0;
        if (k) {
            num += (double) a2[k] * a2[k - 1];
            den += (double) a2[k - 1] * a2[k - 1];
        }
    }
    double rho = den > 0 ? fmax(-0.97, fmin(0.97, num / den)) : 0;
    double *e = vnet_xmalloc(m * sizeof *e);
    e[0] = a2[0];
    for (long k = 1; k < m; k++) {
        e[k] = a2[k] - rho * a2[k - 1];
    }
    free(a2);
    size_t lag = max_lag ? max_lag : (size_t) floor(4 * pow(m / 100.0, 2.0 / 9));
    double v = 0;
    for (long k = 0; k < m; k++) {
        v += e[k] * e[k];
    }
    for (size_t l = 1; l <= lag && l < (size_t) m; l++) {
        double cov = 0;
        for (size_t k = 0; k + l < (size_t) m; k++) {
            cov += e[k] * e[k + l];
        }
        v += 2 * (1 - (double) l / (lag + 1)) * cov;
    }
    free(e);
    v /= (1 - rho) * (1 - rho);

    struct stats_result res = {.statistic = w2 / 2, .n = m};
    set_normal_p(&res, sum / sqrt(fmax(v, v0)));
    *ret = res;
    return 0;
}

int
stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                   struct stats_result *ret)
{
    if (!na || !nb) {
        return -EDOM;
    }
    size_t n = na + nb;
    struct ranked *r = vnet_xmalloc(n * sizeof *r);
    for (size_t i = 0; i < na; i++) {
        r[i] = (struct ranked) {a[i], i};
    }
    for (size_t j = 0; j < nb; j++) {
        r[na + j] = (struct ranked) {b[j], na + j};
    }
    uint64_t *rank2 = vnet_xmalloc(n * sizeof *rank2);
    double ties = assign_ranks(r, n, rank2);
    uint64_t ra2 = 0;
    for (size_t i = 0; i < na; i++) {
        ra2 += rank2[i];
    }
    free(rank2);
    free(r);

    double n1 = na, n2 = nb, nt = n;
    double var = n1 * n2 / 12 * ((nt + 1) - ties / (nt * (nt - 1)));
    if (!(var > 0)) {
        return -EDOM;
    }
    struct stats_result res = {.statistic = ra2 / 2.0 - n1 * (n1 + 1) / 2, .n = n};
    set_normal_p(&res, (res.statistic - n1 * n2 / 2) / sqrt(var));
    *ret = res;
    return 0;
}

double
stats_ks_q(double lambda)
{
    if (!(lambda > 0)) {
        return 1.0;
    }
    double sum = 0;
    if (lambda < 1.18) {
        /* The theta-function form converges fast for small lambda, where the
         * alternating series does not. */
        double y = exp(-M_PI * M_PI / (8 * lambda * lambda));
        for (int j = 1; j <= 50; j++) {
            double term = pow(y, (2.0 * j - 1) * (2.0 * j - 1));
            sum += term;
            if (term < 1e-17) {
                break;
            }
        }
        double q = 1 - sqrt(2 * M_PI) / lambda * sum;
        return q < 0 ? 0 : q > 1 ? 1 : q;
    }
    for (int j = 1; j <= 100; j++) {
        double term = exp(-2.0 * j * j * lambda * lambda);
        sum += (j & 1 ? 2 : -2) * term;
        if (term < 1e-17) {
            break;
        }
    }
    return sum < 0 ? 0 : sum > 1 ? 1 : sum;
}

int
stats_ks2(const double *a, size_t na, const double *b, size_t nb,
          struct stats_result *ret)
{
    if (!na || !nb) {
        return -EDOM;
    }
    double *sa = vnet_xmemdup(a, na * sizeof *a);
    double *sb = vnet_xmemdup(b, nb * sizeof *b);
    stats_sort(sa, na);
    stats_sort(sb, nb);
    size_t i = 0, j = 0;
    double dmax = 0;
    while (i < na && j < nb) {
        double v = VNET_MIN(sa[i], sb[j]);
        while (i < na && sa[i] == v) {
            i++;
        }
        while (j < nb && sb[j] == v) {
            j++;
        }
        double diff = fabs((double) i / na - (double) j / nb);
        dmax = VNET_MAX(dmax, diff);
    }
    free(sa);
    free(sb);

    double ne = (double) na * nb / (na + nb);
    double lambda = (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * dmax;
    *ret = (struct stats_result) {
        .statistic = dmax,
        .z = NAN,
        .p_less = NAN,
        .p_greater = NAN,
        .p_two = stats_ks_q(lambda),
        .n = na + nb,
    };
    return 0;
}

void
stats_mcnemar(uint64_t b, uint64_t c, struct stats_result *ret)
{
    uint64_t n = b + c;
    struct stats_result res = {.n = n, .z = NAN};
    if (!n) {
        res.p_less = res.p_greater = res.p_two = 1;
        res.exact = true;
    } else if (n < STATS_MCNEMAR_EXACT_BELOW) {
        res.statistic = b;
        res.p_less = stats_binom_cdf(b, n, 0.5);
        res.p_greater = b ? 1 - stats_binom_cdf(b - 1, n, 0.5) : 1;
        res.p_two = VNET_MIN(1.0, 2 * VNET_MIN(res.p_less, res.p_greater));
        res.exact = true;
    } else {
        double diff = (double) b - (double) c;
        double num = fabs(diff) > 1 ? fabs(diff) - 1 : 0;
        res.statistic = num * num / n;
        set_normal_p(&res, (diff < 0 ? -num : num) / sqrt((double) n));
        res.p_two = erfc(sqrt(res.statistic / 2));
    }
    *ret = res;
}

void
stats_holm(const double *p, size_t n, double alpha, double *ret_adj, bool *ret_reject)
{
    if (!n) {
        return;
    }
    struct ranked *r = vnet_xmalloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        r[i] = (struct ranked) {isnan(p[i]) ? 1.0 : p[i], i};
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    double running = 0;
    for (size_t k = 0; k < n; k++) {
        double adj = VNET_MIN(1.0, (double) (n - k) * r[k].v);
        running = VNET_MAX(running, adj);
        if (ret_adj) {
            ret_adj[r[k].i] = running;
        }
        if (ret_reject) {
            ret_reject[r[k].i] = running <= alpha;
        }
    }
    free(r);
}
