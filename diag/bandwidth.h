/* bandwidth.h -- bandwidth at all time scales in bounded memory (spec part D).
 *
 * Packets add their bytes to base intervals of length tau0 ('i = (t - t0)/tau0').
 * At a scale T = k tau0 the window sums y_j of k consecutive intervals give the
 * bandwidths b_j = y_j / T over M = floor(N/k) windows aligned to t0; the questions
 * are the mean, standard deviation and peak (and when) of b_j, for any T >= tau0,
 * asked after the fact without keeping the trace.
 *
 *  - EXPB (exponential bucketing) keeps per-level aggregates for windows of 2^l
 *    intervals, carried like a binary counter.  O(log) memory; exact statistics at
 *    dyadic scales; interpolated variance and a peak range in between; no "when".
 *  - DBM (dynamic bucket merge) keeps an approximate time series in at most m
 *    buckets, merging the cheapest adjacent pair on overflow.  It answers any
 *    scale with a time for the peak, and finds microbursts.
 *  - bandwidth_exact() computes the same statistics from the full series, as the
 *    reference the two are tested against.
 *
 * Packets must arrive in time order; a packet for an interval already closed is
 * counted in the current one instead (and in the 'late' counter), so a slightly
 * disordered capture loses only timing precision.  Rates are bytes per second.
 *
 * Ownership: expb_create()/dbm_create() return objects the caller frees with the
 * matching _destroy().  Pure: no I/O, no globals.  Thread-safety: one thread per
 * object; queries on a const object may run concurrently. */
#ifndef DIAG_BANDWIDTH_H
#define DIAG_BANDWIDTH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bandwidth_stats {
    uint64_t scale_ns;          /* T actually used: k tau0 */
    uint64_t windows;           /* M */
    double mean_Bps;
    double std_Bps;             /* population standard deviation over the M windows */
    double peak_lo_Bps;         /* the peak, or a range when not exact (EXPB) */
    double peak_hi_Bps;
    uint64_t peak_t_ns;         /* start of the peak window; UINT64_MAX if unknown */
    bool exact;                 /* EXPB: a dyadic scale; exact computation */
};

/* Statistics of the series x[0..n) of bytes per base interval at scale k tau0.
 * Returns 0, -EINVAL if 'k' or 'tau0_ns' is 0, or -EDOM if n < k (no window). */
int bandwidth_exact(const uint64_t *x, size_t n, uint64_t t0_ns, uint64_t tau0_ns,
                    uint64_t k, struct bandwidth_stats *ret);

/* ---- EXPB ---- */

/* One level: windows of 2^l base intervals.  [CHOICE] Instead of the spec's raw
 * sum of squares s2 it keeps the sum of squared deviations (Welford) 'm2': the
 * variance s2/m - (s1/m)^2 cancels catastrophically on smooth traffic, whose
 * windows differ little relative to their size. */
struct expb_level {
    uint64_t acc;               /* current partial window */
    uint32_t fill;              /* lower-level windows in it (0 or 1) */
    uint64_t s1;                /* sum of completed window sums */
    double m2;                  /* sum of squared deviations from their mean */
    uint64_t m;                 /* completed windows */
    uint64_t peak;              /* largest window sum */
};

struct expb;

/* Creates an EXPB for intervals of 'tau0_ns' from 't0_ns', with levels up to
 * ceil(log2(horizon/tau0)) (at most 62).  Returns NULL if 'tau0_ns' is 0. */
struct expb *expb_create(uint64_t t0_ns, uint64_t tau0_ns, uint64_t horizon_ns);
void expb_destroy(struct expb *);

/* Accounts a packet of 'bytes' at 't_ns', closing the intervals before it. */
void expb_add(struct expb *, uint64_t t_ns, uint64_t bytes);

/* Closes every base interval that ends at or before 't_ns'. */
void expb_advance(struct expb *, uint64_t t_ns);

/* Closed base intervals so far (N), packets counted late, and the levels. */
uint64_t expb_intervals(const struct expb *);
uint64_t expb_late(const struct expb *);
size_t expb_n_levels(const struct expb *);
const struct expb_level *expb_level(const struct expb *, size_t l);

/* Statistics at scale 'scale_ns' (rounded down to a multiple of tau0).  At
 * k = 2^l they are exact.  [CHOICE] Otherwise: the mean is the exact long-run mean
 * over all N intervals; the variance of window sums is interpolated linearly in
 * log-log space between the bracketing dyadic levels (extrapolated from the two
 * levels below when the upper one has fewer than two windows); the peak is the
 * range between the two bracketing dyadic peak bandwidths.  'peak_t_ns' is
 * UINT64_MAX.  Returns 0, -EINVAL for a scale below tau0, -EDOM when fewer than k
 * intervals have closed, or -ERANGE beyond the horizon. */
int expb_query(const struct expb *, uint64_t scale_ns, struct bandwidth_stats *ret);

/* ---- DBM ---- */

enum dbm_policy {
    DBM_MIN_SUM,        /* bytes_L + bytes_R: the 4B/m error bound holds */
    DBM_SIMILARITY,     /* |rate_L - rate_R| (d_L + d_R) */
    DBM_ENERGY_LOSS,    /* increase in squared error of the uniform assumption */
};

/* Returns "min-sum", "similarity" or "energy-loss". */
const char *dbm_policy_name(enum dbm_policy);

struct dbm_bucket {
    uint64_t t_start, t_end;    /* [t_start, t_end) */
    uint64_t bytes, pkts;
};

struct dbm;

/* Creates a DBM with at most 'm' (>= 2) buckets.  Returns NULL if 'tau0_ns' is 0
 * or 'm' < 2. */
struct dbm *dbm_create(uint64_t t0_ns, uint64_t tau0_ns, size_t m, enum dbm_policy);
void dbm_destroy(struct dbm *);

/* Accounts a packet of 'bytes' at 't_ns', closing the intervals before it.  A
 * closed interval with traffic becomes a bucket; empty ones create none (gaps
 * between buckets mean no traffic). */
void dbm_add(struct dbm *, uint64_t t_ns, uint64_t bytes);

/* Closes every base interval that ends at or before 't_ns'. */
void dbm_advance(struct dbm *, uint64_t t_ns);

uint64_t dbm_intervals(const struct dbm *);
uint64_t dbm_late(const struct dbm *);
uint64_t dbm_total_bytes(const struct dbm *);   /* in closed intervals */
size_t dbm_n_buckets(const struct dbm *);

/* Copies the buckets in time order into a new array (caller frees); returns how
 * many. */
size_t dbm_buckets(const struct dbm *, struct dbm_bucket **ret);

/* The window sums at scale 'scale_ns' (rounded down to a multiple of tau0), each
 * bucket spread uniformly over its span.  Stores a new array of M values (caller
 * frees) in '*ret'.  Returns M, -EINVAL for a scale below tau0, -EDOM when no
 * whole window has closed, or -E2BIG beyond 2^24 windows (use a coarser scale). */
long dbm_series(const struct dbm *, uint64_t scale_ns, double **ret);

/* Mean, std and peak with its time at scale 'scale_ns', from dbm_series(). */
int dbm_query(const struct dbm *, uint64_t scale_ns, struct bandwidth_stats *ret);

/* Microbursts: maximal runs of contiguous buckets whose rate is at least
 * 'min_Bps' and that last at least 'min_ns', as a new array of merged spans
 * (caller frees).  Returns how many.  The duration floor keeps out single busy
 * base intervals, which Poisson traffic alone produces at fine tau0. */
size_t dbm_bursts(const struct dbm *, double min_Bps, uint64_t min_ns,
                  struct dbm_bucket **ret);

#endif
