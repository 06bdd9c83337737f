#include "diag/bandwidth.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "lib/util.h"

/* The open base interval shared by EXPB and DBM: intervals 0..cur-1 are closed. */
struct base_clock {
    uint64_t t0, tau0;
    uint64_t cur;
    uint64_t late;
};

/* Returns the index of the interval that holds 't': the open one if 't' belongs
 * to an interval already closed (counted late). */
static uint64_t
clock_index(struct base_clock *c, uint64_t t)
{
    uint64_t idx = t < c->t0 ? 0 : (t - c->t0) / c->tau0;
    if (idx < c->cur) {
        c->late++;
        return c->cur;
    }
    return idx;
}

/* The number of intervals that have ended by 't'. */
static uint64_t
clock_ended(const struct base_clock *c, uint64_t t)
{
    return t < c->t0 ? 0 : (t - c->t0) / c->tau0;
}

static double
per_second(double bytes, uint64_t ns)
{
    return bytes * 1e9 / ns;
}

/* Fills mean/std/peak from window sums y[0..m) at scale 'scale_ns'. */
static void
stats_from_windows(const double *y, size_t m, uint64_t t0, uint64_t scale_ns,
                   struct bandwidth_stats *ret)
{
    double sum = 0, peak = -1;
    size_t peak_j = 0;
    for (size_t j = 0; j < m; j++) {
        sum += y[j];
        if (y[j] > peak) {
            peak = y[j];
            peak_j = j;
        }
    }
    double mean = sum / m, ss = 0;
    for (size_t j = 0; j < m; j++) {
        ss += (y[j] - mean) * (y[j] - mean);
    }
    *ret = (struct bandwidth_stats) {
        .scale_ns = scale_ns,
        .windows = m,
        .mean_Bps = per_second(mean, scale_ns),
        .std_Bps = per_second(sqrt(ss / m), scale_ns),
        .peak_lo_Bps = per_second(peak, scale_ns),
        .peak_hi_Bps = per_second(peak, scale_ns),
        .peak_t_ns = t0 + peak_j * scale_ns,
        .exact = true,
    };
}

int
bandwidth_exact(const uint64_t *x, size_t n, uint64_t t0_ns, uint64_t tau0_ns,
                uint64_t k, struct bandwidth_stats *ret)
{
    if (!k || !tau0_ns) {
        return -EINVAL;
    }
    size_t m = n / k;
    if (!m) {
        return -EDOM;
    }
    double *y = vnet_xcalloc(m, sizeof *y);
    for (size_t i = 0; i < m * k; i++) {
        y[i / k] += x[i];
    }
    stats_from_windows(y, m, t0_ns, k * tau0_ns, ret);
    free(y);
    return 0;
}

/* ---- EXPB ---- */

#define EXPB_LEVELS_MAX 63

struct expb {
    struct base_clock clock;
    size_t n_levels;
    struct expb_level lv[];     /* lv[0].acc is the open base interval */
};

struct expb *
expb_create(uint64_t t0_ns, uint64_t tau0_ns, uint64_t horizon_ns)
{
    if (!tau0_ns) {
        return NULL;
    }
    size_t top = 0;             /* L = ceil(log2(horizon / tau0)) */
    while (top + 1 < EXPB_LEVELS_MAX &&
           ((unsigned __int128) tau0_ns << top) < horizon_ns) {
        top++;
    }
    struct expb *e = vnet_xzalloc(sizeof *e + (top + 1) * sizeof e->lv[0]);
    e->clock = (struct base_clock) {.t0 = t0_ns, .tau0 = tau0_ns};
    e->n_levels = top + 1;
    return e;
}

void
expb_destroy(struct expb *e)
{
    free(e);
}

/* Level 'l' completes, in order, one window of sum 'y' (if 'has_y') and then
 * 'z' windows without traffic.  Accounts them and carries upward level by level
 * in O(levels), so that an idle gap of any length costs no more than a packet. */
static void
expb_feed_run(struct expb *e, size_t l, bool has_y, uint64_t y, uint64_t z)
{
    for (; l < e->n_levels && (has_y || z); l++) {
        struct expb_level *lv = &e->lv[l];
        if (has_y) {
            double old_mean = lv->m ? (double) lv->s1 / lv->m : 0;
            lv->m++;
            lv->s1 += y;
            lv->m2 += (y - old_mean) * (y - (double) lv->s1 / lv->m);
            lv->peak = VNET_MAX(lv->peak, y);
        }
        if (z) {
            /* Merging z zeros (mean 0, no spread) into m windows of mean mu adds
             * mu^2 m z / (m + z) to the sum of squared deviations. */
            double mu = lv->m ? (double) lv->s1 / lv->m : 0;
            lv->m2 += mu * mu * ((double) lv->m * z / (lv->m + z));
            lv->m += z;
        }
        if (l + 1 >= e->n_levels) {
            return;
        }

        /* Pair these windows up into the next level's. */
        struct expb_level *up = &e->lv[l + 1];
        bool next_has_y = false;
        uint64_t next_y = 0;
        if (up->fill) {             /* the first one completes a pending window */
            next_has_y = true;
            next_y = up->acc + (has_y ? y : 0);
            if (!has_y) {
                z--;
            }
            up->acc = 0;
            up->fill = 0;
        } else if (has_y) {
            if (!z) {
                up->acc = y;
                up->fill = 1;
                return;
            }
            next_has_y = true;
            next_y = y;
            z--;
        }
        if (z & 1) {
            up->fill = 1;           /* a zero window waits for its pair */
        }
        has_y = next_has_y;
        y = next_y;
        z /= 2;
    }
}

static void
expb_close_until(struct expb *e, uint64_t idx)
{
    if (e->clock.cur >= idx) {
        return;
    }
    uint64_t x = e->lv[0].acc;
    e->lv[0].acc = 0;
    expb_feed_run(e, 0, true, x, idx - e->clock.cur - 1);
    e->clock.cur = idx;
}

void
expb_add(struct expb *e, uint64_t t_ns, uint64_t bytes)
{
    expb_close_until(e, clock_index(&e->clock, t_ns));
    e->lv[0].acc += bytes;
}

void
expb_advance(struct expb *e, uint64_t t_ns)
{
    expb_close_until(e, clock_ended(&e->clock, t_ns));
}

uint64_t
expb_intervals(const struct expb *e)
{
    return e->clock.cur;
}

uint64_t
expb_late(const struct expb *e)
{
    return e->clock.late;
}

size_t
expb_n_levels(const struct expb *e)
{
    return e->n_levels;
}

const struct expb_level *
expb_level(const struct expb *e, size_t l)
{
    return l < e->n_levels ? &e->lv[l] : NULL;
}

static double
level_var(const struct expb_level *lv)
{
    return lv->m ? lv->m2 / lv->m : 0;
}

/* The variance of window sums of k intervals from levels 'a' and a+1, at
 * position x = log2(k) - a (interpolating for x in (0, 1), extrapolating above). */
static double
loglog_var(const struct expb *e, size_t a, double x)
{
    double va = level_var(&e->lv[a]), vb = level_var(&e->lv[a + 1]);
    if (va > 0 && vb > 0) {
        return exp(log(va) + x * (log(vb) - log(va)));
    }
    double v = va + x * (vb - va);   /* a level without variance: stay linear */
    return v > 0 ? v : 0;
}

int
expb_query(const struct expb *e, uint64_t scale_ns, struct bandwidth_stats *ret)
{
    uint64_t tau0 = e->clock.tau0;
    uint64_t k = scale_ns / tau0;
    if (!k) {
        return -EINVAL;
    }
    uint64_t n = e->clock.cur;
    if (n / k == 0) {
        return -EDOM;
    }
    size_t l = 63 - __builtin_clzll(k);
    if (l >= e->n_levels) {
        return -ERANGE;
    }

    uint64_t t_ns = k * tau0;
    const struct expb_level *lv = &e->lv[l];
    struct bandwidth_stats r = {.scale_ns = t_ns, .windows = n / k,
                                .peak_t_ns = UINT64_MAX};
    if (k == 1ull << l) {
        r.mean_Bps = per_second((double) lv->s1 / lv->m, t_ns);
        r.std_Bps = per_second(sqrt(level_var(lv)), t_ns);
        r.peak_lo_Bps = r.peak_hi_Bps = per_second(lv->peak, t_ns);
        r.exact = true;
        *ret = r;
        return 0;
    }

    double x = log2((double) k) - l;
    double var;
    if (l + 1 < e->n_levels && e->lv[l + 1].m >= 2) {
        var = loglog_var(e, l, x);
    } else {
        /* k >= 3 here, so l >= 1, and level l-1 has at least two windows. */
        var = loglog_var(e, l - 1, x + 1);
    }
    r.mean_Bps = per_second((double) e->lv[0].s1 / n, tau0);
    r.std_Bps = per_second(sqrt(var), t_ns);
    r.peak_hi_Bps = per_second(lv->peak, tau0 << l);
    r.peak_lo_Bps = l + 1 < e->n_levels && e->lv[l + 1].m
                        ? per_second(e->lv[l + 1].peak, tau0 << (l + 1))
                        : r.mean_Bps;
    r.peak_lo_Bps = VNET_MIN(r.peak_lo_Bps, r.peak_hi_Bps);
    *ret = r;
    return 0;
}

/* ---- DBM ---- */

const char *
dbm_policy_name(enum dbm_policy p)
{
    switch (p) {
    case DBM_MIN_SUM:
        return "min-sum";
    case DBM_SIMILARITY:
        return "similarity";
    case DBM_ENERGY_LOSS:
        return "energy-loss";
    }
    return "unknown";
}

struct dbm_node {
    struct dbm_bucket b;
    int32_t prev, next;         /* -1 at the ends; 'next' links the free list */
    uint32_t version;           /* bumped on every change: stale heap entries */
    bool live;
};

struct dbm_pair {               /* a candidate merge of adjacent buckets */
    double cost;
    uint64_t t;                 /* left bucket's start: deterministic ties */
    int32_t left, right;
    uint32_t v_left, v_right;
};

struct dbm {
    struct base_clock clock;
    uint64_t open_bytes, open_pkts;
    uint64_t total_bytes;
    enum dbm_policy policy;
    size_t m;

    struct dbm_node *nodes;     /* m + 1 slots */
    int32_t head, tail, free_list;
    size_t n;

    struct dbm_pair *heap;      /* min-heap with lazy deletion */
    size_t heap_n, heap_cap;
};

struct dbm *
dbm_create(uint64_t t0_ns, uint64_t tau0_ns, size_t m, enum dbm_policy policy)
{
    if (!tau0_ns || m < 2 || m >= INT32_MAX) {
        return NULL;
    }
    struct dbm *d = vnet_xzalloc(sizeof *d);
    d->clock = (struct base_clock) {.t0 = t0_ns, .tau0 = tau0_ns};
    d->policy = policy;
    d->m = m;
    d->nodes = vnet_xcalloc(m + 1, sizeof *d->nodes);
    for (size_t i = 0; i <= m; i++) {
        d->nodes[i].next = i < m ? (int32_t) i + 1 : -1;
    }
    d->head = d->tail = -1;
    d->free_list = 0;
    d->heap_cap = 4 * (m + 1) + 16;
    d->heap = vnet_xcalloc(d->heap_cap, sizeof *d->heap);
    return d;
}

void
dbm_destroy(struct dbm *d)
{
    if (d) {
        free(d->nodes);
        free(d->heap);
        free(d);
    }
}

static double
merge_cost(const struct dbm *d, const struct dbm_bucket *l, const struct dbm_bucket *r)
{
    double bl = l->bytes, br = r->bytes;
    double dl = l->t_end - l->t_start, dr = r->t_end - r->t_start;
    switch (d->policy) {
    case DBM_MIN_SUM:
        return bl + br;
    case DBM_SIMILARITY:
        return fabs(bl / dl - br / dr) * (dl + dr);
    case DBM_ENERGY_LOSS:
        /* The merged bucket also spreads its bytes over the gap between the two
         * (intervals without traffic), so the gap belongs to its span: counting it
         * keeps a burst from being smeared across idle time. */
        return bl * bl / dl + br * br / dr -
               (bl + br) * (bl + br) / (r->t_end - l->t_start);
    }
    return bl + br;
}

static bool
pair_less(const struct dbm_pair *a, const struct dbm_pair *b)
{
    return a->cost < b->cost || (a->cost == b->cost && a->t < b->t);
}

static void
heap_swap(struct dbm_pair *h, size_t i, size_t j)
{
    struct dbm_pair tmp = h[i];
    h[i] = h[j];
    h[j] = tmp;
}

static void
heap_sift_up(struct dbm_pair *h, size_t i)
{
    while (i && pair_less(&h[i], &h[(i - 1) / 2])) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void
heap_sift_down(struct dbm_pair *h, size_t n, size_t i)
{
    for (;;) {
        size_t best = i, l = 2 * i + 1, r = l + 1;
        if (l < n && pair_less(&h[l], &h[best])) {
            best = l;
        }
        if (r < n && pair_less(&h[r], &h[best])) {
            best = r;
        }
        if (best == i) {
            return;
        }
        heap_swap(h, i, best);
        i = best;
    }
}

static void dbm_rebuild_heap(struct dbm *);

static void
dbm_push_pair(struct dbm *d, int32_t left)
{
    int32_t right = left >= 0 ? d->nodes[left].next : -1;
    if (left < 0 || right < 0) {
        return;
    }
    if (d->heap_n == d->heap_cap) {
        /* Only stale entries can fill it: there are at most m live pairs. */
        dbm_rebuild_heap(d);
    }
    const struct dbm_node *l = &d->nodes[left], *r = &d->nodes[right];
    d->heap[d->heap_n] = (struct dbm_pair) {
        .cost = merge_cost(d, &l->b, &r->b),
        .t = l->b.t_start,
        .left = left,
        .right = right,
        .v_left = l->version,
        .v_right = r->version,
    };
    heap_sift_up(d->heap, d->heap_n++);
}

static void
dbm_rebuild_heap(struct dbm *d)
{
    d->heap_n = 0;
    for (int32_t i = d->head; i >= 0 && d->nodes[i].next >= 0; i = d->nodes[i].next) {
        dbm_push_pair(d, i);
    }
}

static bool
pair_valid(const struct dbm *d, const struct dbm_pair *p)
{
    const struct dbm_node *l = &d->nodes[p->left], *r = &d->nodes[p->right];
    return l->live && r->live && l->version == p->v_left && r->version == p->v_right &&
           l->next == p->right;
}

/* Merges the cheapest valid adjacent pair. */
static void
dbm_merge_cheapest(struct dbm *d)
{
    while (d->heap_n) {
        struct dbm_pair p = d->heap[0];
        d->heap[0] = d->heap[--d->heap_n];
        heap_sift_down(d->heap, d->heap_n, 0);
        if (!pair_valid(d, &p)) {
            continue;
        }
        struct dbm_node *l = &d->nodes[p.left], *r = &d->nodes[p.right];
        l->b.t_end = r->b.t_end;
        l->b.bytes += r->b.bytes;
        l->b.pkts += r->b.pkts;
        l->version++;
        l->next = r->next;
        if (r->next >= 0) {
            d->nodes[r->next].prev = p.left;
        } else {
            d->tail = p.left;
        }
        r->live = false;
        r->version++;
        r->next = d->free_list;
        d->free_list = p.right;
        d->n--;
        dbm_push_pair(d, l->prev);
        dbm_push_pair(d, p.left);
        return;
    }
}

static void
dbm_append(struct dbm *d, uint64_t idx, uint64_t bytes, uint64_t pkts)
{
    int32_t i = d->free_list;
    struct dbm_node *node = &d->nodes[i];
    d->free_list = node->next;
    uint64_t t = d->clock.t0 + idx * d->clock.tau0;
    node->b = (struct dbm_bucket) {t, t + d->clock.tau0, bytes, pkts};
    node->prev = d->tail;
    node->next = -1;
    node->version++;
    node->live = true;
    if (d->tail >= 0) {
        d->nodes[d->tail].next = i;
    } else {
        d->head = i;
    }
    d->tail = i;
    d->n++;
    dbm_push_pair(d, node->prev);
    if (d->n > d->m) {
        dbm_merge_cheapest(d);
    }
}

static void
dbm_close_until(struct dbm *d, uint64_t idx)
{
    if (idx <= d->clock.cur) {
        return;
    }
    if (d->open_bytes || d->open_pkts) {
        dbm_append(d, d->clock.cur, d->open_bytes, d->open_pkts);
        d->total_bytes += d->open_bytes;
    }
    d->open_bytes = d->open_pkts = 0;
    d->clock.cur = idx;         /* empty intervals make no bucket */
}

void
dbm_add(struct dbm *d, uint64_t t_ns, uint64_t bytes)
{
    dbm_close_until(d, clock_index(&d->clock, t_ns));
    d->open_bytes += bytes;
    d->open_pkts++;
}

void
dbm_advance(struct dbm *d, uint64_t t_ns)
{
    dbm_close_until(d, clock_ended(&d->clock, t_ns));
}

uint64_t
dbm_intervals(const struct dbm *d)
{
    return d->clock.cur;
}

uint64_t
dbm_late(const struct dbm *d)
{
    return d->clock.late;
}

uint64_t
dbm_total_bytes(const struct dbm *d)
{
    return d->total_bytes;
}

size_t
dbm_n_buckets(const struct dbm *d)
{
    return d->n;
}

size_t
dbm_buckets(const struct dbm *d, struct dbm_bucket **ret)
{
    struct dbm_bucket *out = vnet_xcalloc(d->n ? d->n : 1, sizeof *out);
    size_t k = 0;
    for (int32_t i = d->head; i >= 0; i = d->nodes[i].next) {
        out[k++] = d->nodes[i].b;
    }
    *ret = out;
    return k;
}

/* A fine scale over a long span would need more memory than it is worth. */
#define DBM_MAX_WINDOWS (1u << 24)

long
dbm_series(const struct dbm *d, uint64_t scale_ns, double **ret)
{
    uint64_t k = scale_ns / d->clock.tau0;
    if (!k) {
        return -EINVAL;
    }
    uint64_t m = d->clock.cur / k;
    if (!m) {
        return -EDOM;
    } else if (m > DBM_MAX_WINDOWS) {
        return -E2BIG;
    }
    uint64_t t_ns = k * d->clock.tau0, t0 = d->clock.t0, end = t0 + m * t_ns;
    double *y = vnet_xcalloc(m, sizeof *y);
    for (int32_t i = d->head; i >= 0; i = d->nodes[i].next) {
        const struct dbm_bucket *b = &d->nodes[i].b;
        double span = b->t_end - b->t_start;
        for (uint64_t s = b->t_start; s < b->t_end && s < end;) {
            uint64_t j = (s - t0) / t_ns;
            uint64_t w_end = VNET_MIN(t0 + (j + 1) * t_ns, b->t_end);
            y[j] += b->bytes * ((w_end - s) / span);
            s = w_end;
        }
    }
    *ret = y;
    return (long) m;
}

int
dbm_query(const struct dbm *d, uint64_t scale_ns, struct bandwidth_stats *ret)
{
    double *y;
    long m = dbm_series(d, scale_ns, &y);
    if (m < 0) {
        return (int) m;
    }
    uint64_t k = scale_ns / d->clock.tau0;
    stats_from_windows(y, m, d->clock.t0, k * d->clock.tau0, ret);
    ret->exact = false;
    free(y);
    return 0;
}

size_t
dbm_bursts(const struct dbm *d, double min_Bps, uint64_t min_ns,
           struct dbm_bucket **ret)
{
    struct dbm_bucket *out = vnet_xcalloc(d->n ? d->n : 1, sizeof *out);
    size_t k = 0;
    bool open = false;
    for (int32_t i = d->head; i >= 0; i = d->nodes[i].next) {
        const struct dbm_bucket *b = &d->nodes[i].b;
        bool hot = per_second(b->bytes, b->t_end - b->t_start) >= min_Bps;
        if (hot && open && out[k - 1].t_end == b->t_start) {
            out[k - 1].t_end = b->t_end;
            out[k - 1].bytes += b->bytes;
            out[k - 1].pkts += b->pkts;
            continue;
        }
        if (open && out[k - 1].t_end - out[k - 1].t_start < min_ns) {
            k--;                /* the run that just ended is too short */
        }
        open = hot;
        if (hot) {
            out[k++] = *b;
        }
    }
    if (open && out[k - 1].t_end - out[k - 1].t_start < min_ns) {
        k--;
    }
    *ret = out;
    return k;
}
