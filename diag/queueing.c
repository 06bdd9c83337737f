#include "diag/queueing.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

/* The online peak rate needs this many busy windows before it is trusted. */
#define QUEUEING_MIN_WINDOWS 5
/* A busy window spans this many mean service times (A.3), and at least 1 us. */
#define QUEUEING_WINDOW_SERVICES 50
#define QUEUEING_MIN_WINDOW_NS 1000

void
queueing_sort_pairs(struct queueing_pair *a, struct queueing_pair *tmp, size_t n)
{
    if (n < 2) {
        return;
    }
    bool sorted = true;
    uint64_t min = a[0].key;
    for (size_t i = 1; i < n; i++) {
        if (a[i].key < a[i - 1].key) {
            sorted = false;
        }
        if (a[i].key < min) {
            min = a[i].key;
        }
    }
    if (sorted) {
        return;
    }

    /* Least-significant digit first, one byte per pass; a byte that is the same in
     * every key (relative to the minimum) needs no pass.  Each pass is stable. */
    static const int n_digits = 8;
    size_t counts[8][256];
    memset(counts, 0, sizeof counts);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].key - min;
        for (int d = 0; d < n_digits; d++) {
            counts[d][(k >> (8 * d)) & 0xff]++;
        }
    }
    struct queueing_pair *src = a, *dst = tmp;
    for (int d = 0; d < n_digits; d++) {
        size_t *c = counts[d];
        if (c[((src[0].key - min) >> (8 * d)) & 0xff] == n) {
            continue;
        }
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t x = c[b];
            c[b] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++) {
            dst[c[((src[i].key - min) >> (8 * d)) & 0xff]++] = src[i];
        }
        struct queueing_pair *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != a) {
        memcpy(a, src, n * sizeof *a);
    }
}

/* Leaves the k-th smallest of 'v[lo..hi]' at v[k], smaller ones before it and
 * larger ones after (quickselect). */
static uint64_t
select_kth(uint64_t *v, size_t lo, size_t hi, size_t k)
{
    while (lo < hi) {
        uint64_t pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) {
                i++;
            }
            while (v[j] > pivot) {
                j--;
            }
            if (i <= j) {
                uint64_t x = v[i];
                v[i] = v[j];
                v[j] = x;
                i++;
                if (j == 0) {
                    break;
                }
                j--;
            }
        }
        if (k <= j) {
            hi = j;
        } else if (k >= i) {
            lo = i;
        } else {
            break;
        }
    }
    return v[k];
}

/* Nearest-rank index of percentile 'p' (0..1) among 'n'. */
static size_t
rank_of(double p, size_t n)
{
    size_t rank = (size_t) ceil(p * (double) n);
    return rank ? rank - 1 : 0;
}

static int
compare_doubles(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return a < b ? -1 : a > b;
}

/* When the hop leaves the queue, or UINT64_MAX if not within the window. */
static uint64_t
removal_time(const struct hop *h)
{
    uint64_t t_drop = VNET_MAX(h->t_drop, h->t_arr);
    switch (h->status) {
    case HOP_FORWARDED:
        return h->t_dep;
    case HOP_DROPPED_INTERNAL:
        return t_drop;
    case HOP_CONSUMED:
        return h->t_dep != UINT64_MAX ? h->t_dep : t_drop;
    default:
        return UINT64_MAX;
    }
}

/* What the index needs of a hop, gathered per NF in one pass over the trace (the
 * trace is far larger than this and is read once) into blocks of QREC_BLOCK. */
struct qrec {
    uint64_t t_arr;
    uint64_t t_rem;             /* removal; the drop time for tail drops */
    uint32_t hop;
    uint8_t status;
};

#define QREC_BITS 15
#define QREC_BLOCK (1u << QREC_BITS)

struct qrecs {                  /* one NF's records */
    struct qrec **blocks;
    size_t n;
};

static inline const struct qrec *
qrec_at(const struct qrecs *r, size_t k)
{
    return &r->blocks[k >> QREC_BITS][k & (QREC_BLOCK - 1)];
}

struct busy_span {
    uint64_t start, end;
};

/* Scratch shared by every NF's build. */
struct build_scratch {
    struct queueing_pair *arr, *rem, *prb, *tmp;
    uint64_t *lat;
    struct busy_span *busy;
    size_t n_busy, busy_cap;
};

/* [CHOICE] A.3 online estimate: windows of 50 mean service times (busy time over
 * removals; at least 1 us) inside busy spans, P95 of their departure rates once
 * there are 5 or more.  It covers the whole window: offline there is no
 * known-good period to freeze it from, so a configured r_peak always wins. */
static void
estimate_peak(struct queueing_nf *nf, const struct build_scratch *s, size_t n_rem)
{
    if (!nf->busy_removals || !s->n_busy) {
        return;
    }
    double service = nf->busy_ns / (double) nf->busy_removals;
    uint64_t w = (uint64_t) ceil(QUEUEING_WINDOW_SERVICES * service);
    w = VNET_MAX(w, QUEUEING_MIN_WINDOW_NS);

    double *rates = NULL;
    size_t n_rates = 0, cap = 0;
    for (size_t b = 0; b < s->n_busy; b++) {
        const struct busy_span *span = &s->busy[b];
        /* Removals are sorted by time: count those in [a, a + w). */
        size_t lo = 0, hi = n_rem;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->rem[mid].key < span->start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        size_t i = lo;
        for (uint64_t a = span->start; span->end - a >= w; a += w) {
            size_t count = 0;
            while (i < n_rem && s->rem[i].key < a + w) {
                count++;
                i++;
            }
            vnet_grow((void **) &rates, &cap, n_rates + 1, sizeof *rates);
            rates[n_rates++] = (double) count / (double) w;
        }
    }
    if (n_rates >= QUEUEING_MIN_WINDOWS) {
        qsort(rates, n_rates, sizeof *rates, compare_doubles);
        size_t rank = (size_t) ceil(0.95 * (double) n_rates);
        nf->r_est = rates[rank - 1];
    }
    nf->n_busy_windows = n_rates;
    nf->window_ns = w;
    free(rates);
}

static void
build_nf(const struct diag_trace *t, uint32_t f, const struct qrecs *rec, bool estimate,
         struct build_scratch *s, struct queueing_index *idx)
{
    struct queueing_nf *nf = &idx->nfs[f];
    size_t na = 0, np = 0, n_lat = 0, m = rec->n;

    nf->t_first = m ? UINT64_MAX : 0;
    for (size_t k = 0; k < m; k++) {
        const struct qrec *r = qrec_at(rec, k);
        nf->t_first = VNET_MIN(nf->t_first, r->t_arr);
        nf->t_last = VNET_MAX(nf->t_last, r->t_arr);
        switch (r->status) {
        case HOP_FORWARDED:
            nf->n_forwarded++;
            if (r->t_rem != UINT64_MAX) {
                s->lat[n_lat++] = r->t_rem - r->t_arr;
            }
            break;
        case HOP_DROPPED_TAIL:
            nf->n_tail_drops++;
            break;
        case HOP_DROPPED_INTERNAL:
            nf->n_internal_drops++;
            break;
        default:
            nf->n_consumed++;
            break;
        }
        if (r->status != HOP_DROPPED_TAIL) {
            s->arr[na++] = (struct queueing_pair) { r->t_arr, (uint32_t) k };
        }
        if (r->status == HOP_DROPPED_TAIL || r->status == HOP_DROPPED_INTERNAL) {
            s->prb[np++] = (struct queueing_pair) { r->t_rem, (uint32_t) k };
        }
    }
    if (n_lat) {
        /* Each selection leaves everything below it in front, where the next
         * one looks. */
        size_t k99 = rank_of(0.99, n_lat), k84 = rank_of(0.8413, n_lat);
        size_t k50 = rank_of(0.50, n_lat);
        nf->lat_p99 = select_kth(s->lat, 0, n_lat - 1, k99);
        nf->lat_p84 = select_kth(s->lat, 0, k99, k84);
        nf->lat_p50 = select_kth(s->lat, 0, k84, k50);
    }

    queueing_sort_pairs(s->arr, s->tmp, na);
    queueing_sort_pairs(s->prb, s->tmp, np);
    nf->n = na;
    nf->hop = vnet_xmalloc(VNET_MAX(na, 1) * sizeof *nf->hop);
    nf->bs = vnet_xmalloc(VNET_MAX(na, 1) * sizeof *nf->bs);
    nf->dc = vnet_xmalloc(VNET_MAX(na, 1) * sizeof *nf->dc);
    nf->probes = vnet_xmalloc(VNET_MAX(np, 1) * sizeof *nf->probes);
    size_t nr = 0;
    for (size_t pos = 0; pos < na; pos++) {
        const struct qrec *r = qrec_at(rec, s->arr[pos].val);
        nf->hop[pos] = r->hop;
        idx->hop_pos[r->hop] = (uint32_t) pos;
        if (r->t_rem != UINT64_MAX) {
            s->rem[nr++] = (struct queueing_pair) { r->t_rem, (uint32_t) pos };
        }
    }
    queueing_sort_pairs(s->rem, s->tmp, nr);

    /* The sweep (A.2).  A removal goes before an arrival at the same time unless
     * it is that arrival's own (zero sojourn); probes see the state after both. */
    bool trusted = t->acct && !t->acct[f].unmatched_out;
    bool valid = trusted;
    nf->valid_from = trusted ? 0 : (uint32_t) na;
    nf->valid_t = trusted ? 0 : UINT64_MAX;
    uint32_t A = 0, R = 0, q = 0, cur_bs = 0, busy_r = 0;
    uint64_t busy_t = 0, t_now = 0;
    size_t ia = 0, ir = 0, ip = 0;
    s->n_busy = 0;
    while (ia < na || ir < nr || ip < np) {
        uint64_t ta = ia < na ? s->arr[ia].key : UINT64_MAX;
        uint64_t tr = ir < nr ? s->rem[ir].key : UINT64_MAX;
        uint64_t tp = ip < np ? s->prb[ip].key : UINT64_MAX;
        if (ir < nr && (tr < ta || (tr == ta && s->rem[ir].val < A)) && tr <= tp) {
            R++;
            q--;
            t_now = tr;
            ir++;
            if (!q) {
                nf->busy_ns += (double) (tr - busy_t);
                nf->busy_removals += R - busy_r;
                if (estimate) {
                    vnet_grow((void **) &s->busy, &s->busy_cap, s->n_busy + 1,
                              sizeof *s->busy);
                    s->busy[s->n_busy++] = (struct busy_span) { busy_t, tr };
                }
                if (!valid) {
                    valid = true;
                    nf->valid_from = A;
                    nf->valid_t = tr;
                }
            }
        } else if (ia < na && ta <= tp) {
            if (!q) {
                cur_bs = A;
                busy_t = ta;
                busy_r = R;
            }
            nf->bs[A] = cur_bs;
            nf->dc[A] = R;
            idx->hop_q[nf->hop[A]] = q;
            q++;
            A++;
            ia++;
            t_now = ta;
        } else {
            const struct qrec *r = qrec_at(rec, s->prb[ip].val);
            nf->probes[nf->n_probes++] = (struct queueing_probe) {
                .t = tp, .hop = r->hop, .end = A, .bs = q ? cur_bs : A, .dc = R,
            };
            if (r->status == HOP_DROPPED_TAIL) {
                idx->hop_q[r->hop] = q;
                idx->hop_pos[r->hop] = QUEUEING_NONE;
            }
            ip++;
        }
    }
    if (q && estimate) {
        /* The queue is still busy at the end of the window: its last stretch is a
         * busy span too. */
        vnet_grow((void **) &s->busy, &s->busy_cap, s->n_busy + 1, sizeof *s->busy);
        s->busy[s->n_busy++] = (struct busy_span) { busy_t, t_now };
    }
    if (estimate) {
        estimate_peak(nf, s, nr);
    }
}

static void
qrecs_destroy(struct qrecs *recs, size_t n_nfs)
{
    for (size_t f = 0; f < n_nfs; f++) {
        for (size_t b = 0; b * QREC_BLOCK < recs[f].n; b++) {
            free(recs[f].blocks[b]);
        }
        free(recs[f].blocks);
    }
    free(recs);
}

/* Gathers every hop into its NF's records, checking it on the way. */
static struct vnet_error *
gather(const struct diag_trace *t, struct qrecs **ret)
{
    size_t n_nfs = t->n_nfs;
    struct qrecs *recs = vnet_xcalloc(n_nfs, sizeof *recs);
    for (size_t h = 0; h < t->n_hops; h++) {
        const struct hop *hop = &t->hops[h];
        struct vnet_error *error = NULL;
        uint64_t rem = hop->status == HOP_DROPPED_TAIL ? VNET_MAX(hop->t_drop, hop->t_arr)
                                                       : removal_time(hop);
        if (hop->nf == NF_SOURCE || hop->nf >= n_nfs) {
            error = vnet_error_create(VNET_ERR_INVALID, "hop %zu: NF id %" PRIu32
                                      " is not one of the %zu NFs", h, hop->nf,
                                      n_nfs ? n_nfs - 1 : 0);
        } else if (hop->status > HOP_CONSUMED) {
            error = vnet_error_create(VNET_ERR_INVALID, "hop %zu: unknown status %u", h,
                                      hop->status);
        } else if (rem < hop->t_arr) {
            error = vnet_error_create(VNET_ERR_INVALID, "hop %zu at NF '%s': leaves at %"
                                      PRIu64 " before it arrives at %" PRIu64, h,
                                      t->nfs[hop->nf].name, rem, hop->t_arr);
        }
        if (error) {
            qrecs_destroy(recs, n_nfs);
            return error;
        }
        struct qrecs *r = &recs[hop->nf];
        if (!(r->n & (QREC_BLOCK - 1))) {
            size_t b = r->n >> QREC_BITS;
            r->blocks = vnet_xrealloc(r->blocks, (b + 1) * sizeof *r->blocks);
            r->blocks[b] = vnet_xmalloc(QREC_BLOCK * sizeof **r->blocks);
        }
        r->blocks[r->n >> QREC_BITS][r->n & (QREC_BLOCK - 1)] = (struct qrec) {
            .t_arr = hop->t_arr, .t_rem = rem, .hop = (uint32_t) h, .status = hop->status,
        };
        r->n++;
    }
    *ret = recs;
    return NULL;
}

struct vnet_error *
queueing_index_build(const struct diag_trace *t, bool estimate,
                     struct queueing_index **ret)
{
    if (t->n_hops >= UINT32_MAX) {
        return vnet_error_create(VNET_ERR_INVALID, "%zu hops: at most %" PRIu32
                                 " per analysis window", t->n_hops, UINT32_MAX - 1);
    }
    struct qrecs *recs = NULL;
    struct vnet_error *error = gather(t, &recs);
    if (error) {
        return error;
    }
    size_t n_nfs = t->n_nfs, max_m = 1;
    for (size_t f = 0; f < n_nfs; f++) {
        max_m = VNET_MAX(max_m, recs[f].n);
    }

    struct queueing_index *idx = vnet_xzalloc(sizeof *idx);
    idx->n_nfs = n_nfs;
    idx->nfs = vnet_xcalloc(VNET_MAX(n_nfs, 1), sizeof *idx->nfs);
    idx->hop_pos = vnet_xmalloc(VNET_MAX(t->n_hops, 1) * sizeof *idx->hop_pos);
    idx->hop_q = vnet_xmalloc(VNET_MAX(t->n_hops, 1) * sizeof *idx->hop_q);
    struct build_scratch s = {
        .arr = vnet_xmalloc(max_m * sizeof *s.arr),
        .rem = vnet_xmalloc(max_m * sizeof *s.rem),
        .prb = vnet_xmalloc(max_m * sizeof *s.prb),
        .tmp = vnet_xmalloc(max_m * sizeof *s.tmp),
        .lat = vnet_xmalloc(max_m * sizeof *s.lat),
    };
    for (uint32_t f = 1; f < n_nfs; f++) {
        bool est = estimate && !(t->nfs[f].r_peak > 0);
        build_nf(t, f, &recs[f], est, &s, idx);
    }
    free(s.arr);
    free(s.rem);
    free(s.prb);
    free(s.tmp);
    free(s.lat);
    free(s.busy);
    qrecs_destroy(recs, n_nfs);
    *ret = idx;
    return NULL;
}

void
queueing_index_destroy(struct queueing_index *idx)
{
    if (!idx) {
        return;
    }
    for (size_t f = 0; f < idx->n_nfs; f++) {
        struct queueing_nf *nf = &idx->nfs[f];
        free(nf->hop);
        free(nf->bs);
        free(nf->dc);
        free(nf->probes);
    }
    free(idx->nfs);
    free(idx->hop_pos);
    free(idx->hop_q);
    free(idx);
}

void
queueing_period(const struct queueing_nf *nf, const struct hop *hops, uint32_t bs,
                uint32_t end, uint32_t dc_end, uint64_t t_end, uint64_t t_max,
                uint32_t n_max, struct queueing_period *ret)
{
    *ret = (struct queueing_period) { .start = end, .end = end };
    if (bs >= end) {
        return;
    }
    uint32_t dcb = nf->dc[bs];
    uint32_t q = (end - bs) - (dc_end - dcb);
    uint64_t tb = hops[nf->hop[bs]].t_arr;
    uint32_t c = bs;

    /* [CHOICE] The cap start is snapped to a grid of T_max/8 (and N_max/8 arrivals)
     * anchored at the busy start, so that consecutive victims of a long busy period
     * share one PreSet start and propagation stays amortised (A.13); the capped
     * period therefore spans (7/8, 1] of the cap. */
    bool time_cap = t_max && t_end - tb > t_max;
    bool count_cap = n_max && end - bs > n_max;
    if (time_cap) {
        uint64_t step = VNET_MAX(t_max / 8, 1);
        uint64_t lo = t_end - t_max;
        uint64_t t0 = tb + (lo - tb + step - 1) / step * step;
        uint32_t a = bs, b = end;
        while (a < b) {
            uint32_t mid = a + (b - a) / 2;
            if (hops[nf->hop[mid]].t_arr < t0) {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        c = a;
    }
    if (count_cap) {
        uint32_t step = VNET_MAX(n_max / 8, 1);
        uint32_t lo = end - n_max;
        uint32_t cn = bs + (lo - bs + step - 1) / step * step;
        c = VNET_MAX(c, VNET_MIN(cn, end));
    }
    uint32_t dcc = c < end ? nf->dc[c] : dc_end;
    ret->start = c;
    ret->q = q;
    ret->capped = c != bs;
    ret->q0 = (double) ((c - bs) - (dcc - dcb));
    ret->n_i = end - c;
    ret->n_p = dc_end - dcc;
    ret->tau = c < end ? (double) (t_end - hops[nf->hop[c]].t_arr) : 0.0;
}

void
queueing_period_at(const struct queueing_nf *nf, const struct hop *hops, uint32_t pos,
                   uint64_t t_max, uint32_t n_max, struct queueing_period *ret)
{
    queueing_period(nf, hops, nf->bs[pos], pos, nf->dc[pos], hops[nf->hop[pos]].t_arr,
                    t_max, n_max, ret);
}
