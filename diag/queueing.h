/* queueing.h -- per-NF queue index for Microscope: arrivals in time order, the
 * queue each arrival finds, busy (queuing) periods, n_i / n_p, drop probes and the
 * online peak-rate estimate (../shared/specs/diagnosis.md, A.2 and A.3).
 *
 * For NF f, "arrivals" are its hops that entered the queue (every status except
 * HOP_DROPPED_TAIL), numbered by "position" in t_arr order; "removals" are the
 * departures, internal drops and consumptions.  One sweep over the merged events
 * (removals before arrivals at equal times, a packet's own removal never before its
 * arrival) gives, for every position p: the busy-period start bs[p] (the position
 * that found the queue empty) and the removal count dc[p] seen at the arrival, so
 *     n_i = p - bs[p],  n_p = dc[p] - dc[bs[p]],  Q(p) = n_i - n_p
 * in O(1), and PreSet(p) is the contiguous position range [bs[p], p).  Drops are
 * "probes": the queue observed at the drop time, without entering it.
 *
 * Ownership: a 'struct queueing_index' owns all its arrays; it keeps no pointer to
 * the trace, which the caller passes again where hop times are needed.
 * Thread-safety: none needed; an index is immutable once built. */
#ifndef DIAG_QUEUEING_H
#define DIAG_QUEUEING_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag_trace;
struct hop;
struct vnet_error;

#define QUEUEING_NONE UINT32_MAX

/* A drop victim's view of the queue at its drop time (A.4): 'end' arrivals had
 * entered and 'dc' removals had happened; the busy period began at position 'bs'
 * ('bs' == 'end' when the queue was empty). */
struct queueing_probe {
    uint64_t t;                 /* drop time */
    uint32_t hop;               /* hop index in the trace */
    uint32_t end;
    uint32_t bs;
    uint32_t dc;
};

struct queueing_nf {
    size_t n;                   /* arrivals */
    uint32_t *hop;              /* [n] hop index at each position */
    uint32_t *bs;               /* [n] busy-period start position */
    uint32_t *dc;               /* [n] removals before the arrival */
    struct queueing_probe *probes;      /* drops, by time */
    size_t n_probes;

    /* Positions before 'valid_from' (and probes before 'valid_t') lie in a busy
     * period that may have begun before the capture: not diagnosable (A.5). */
    uint32_t valid_from;
    uint64_t valid_t;

    uint64_t n_forwarded, n_tail_drops, n_internal_drops, n_consumed;
    uint64_t t_first, t_last;   /* first and last offered arrival (incl. tail drops) */
    uint64_t lat_p50, lat_p84, lat_p99;     /* forwarded packets' latency, ns */
    double busy_ns;             /* total time with Q > 0 */
    uint64_t busy_removals;     /* removals during that time */

    double r_est;               /* online peak-rate estimate, packets/ns (0: none) */
    size_t n_busy_windows;      /* windows it was estimated from */
    uint64_t window_ns;         /* their length */
};

struct queueing_index {
    size_t n_nfs;
    struct queueing_nf *nfs;    /* [n_nfs]; nfs[0] (SOURCE) stays empty */
    uint32_t *hop_pos;          /* [n_hops] position at its NF; QUEUEING_NONE for tail drops */
    uint32_t *hop_q;            /* [n_hops] queue found at arrival (at the drop for tail drops) */
};

/* Builds the index of every NF of 'trace'.  The queue of NF f is taken as empty at
 * the start of the window only when 'trace->acct' shows no unmatched departures at
 * f (nothing was in it unseen); otherwise diagnosis starts at the first observed
 * Q = 0, which under FIFO is exact: the first seen packet leaves after every unseen
 * one.  With 'estimate' the busy-window peak rate is estimated for NFs whose
 * r_peak is 0.  Returns NULL and '*ret' (free with queueing_index_destroy()), or an
 * error naming the first inconsistent hop. */
struct vnet_error *queueing_index_build(const struct diag_trace *, bool estimate,
                                        struct queueing_index **ret);
void queueing_index_destroy(struct queueing_index *);

/* Queue found by the arrival at position 'pos'. */
static inline uint32_t
queueing_q(const struct queueing_nf *nf, uint32_t pos)
{
    uint32_t bs = nf->bs[pos];
    return (pos - bs) - (nf->dc[pos] - nf->dc[bs]);
}

/* A queuing period (A.2, A.5): PreSet = positions [start, end). */
struct queueing_period {
    uint32_t start, end;
    double q;                   /* Q(p) */
    double q0;                  /* backlog at a capped start (0 if not capped) */
    double n_i, n_p;            /* counted over [start, end) */
    double tau;                 /* ns */
    bool capped;
};

/* Computes the queuing period that ends at 'end' arrivals / 'dc_end' removals at
 * time 't_end' inside the busy period that began at 'bs' ('bs' == 'end' for an
 * empty queue), capped at 't_max' ns and 'n_max' arrivals (A.5).  'hops' are the
 * trace's hops. */
void queueing_period(const struct queueing_nf *, const struct hop *hops, uint32_t bs,
                     uint32_t end, uint32_t dc_end, uint64_t t_end, uint64_t t_max,
                     uint32_t n_max, struct queueing_period *ret);

/* The period of the arrival at 'pos'. */
void queueing_period_at(const struct queueing_nf *, const struct hop *hops,
                        uint32_t pos, uint64_t t_max, uint32_t n_max,
                        struct queueing_period *ret);

/* Sorts 'n' (key, val) pairs by key, stably, in O(n) (LSD radix on the key bytes
 * that vary; already-sorted input costs one pass).  'tmp' has room for 'n'. */
struct queueing_pair {
    uint64_t key;
    uint32_t val;
};
void queueing_sort_pairs(struct queueing_pair *, struct queueing_pair *tmp, size_t n);

#endif
