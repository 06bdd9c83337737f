#include "diag/attrib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag/trace.h"
#include "diag/u64map.h"
#include "lib/util.h"

/* The store is flushed past this many share entries (16 B each) or snapshots. */
#define ATTRIB_STORE_ENTRIES (1u << 18)
#define ATTRIB_STORE_SNAPS (1u << 16)
/* Relations kept at most; beyond, new relations are not recorded (the victim side
 * of AutoFocus rescales what it has). */
#define ATTRIB_MAX_PAIRS (1u << 20)

struct attrib_gentry {
    uint32_t flow;
    uint32_t n;
    double rho;                 /* baseline of the flow at its first packet here */
};

struct snap {
    size_t off;
    uint32_t len;
    double pending;             /* mass charged since the last flush */
};

struct attrib {
    bool excess;
    size_t n_flows;
    struct flow5 *flows;
    uint32_t *pkt_flow;
    float *pkt_rho;
    double *flow_score;

    uint64_t gen;
    struct snap *snaps;
    size_t n_snaps, cap_snaps;
    struct attrib_share *ent;
    size_t n_ent, cap_ent;
    struct u64map pending;      /* (snap + 1) << 32 | vflow -> mass */
    struct u64map pairs;        /* (flow + 1) << 32 | vflow -> score */

    double *w;                  /* snapshot scratch */
    uint32_t *order;
    size_t cap_scratch;
};

static uint64_t
flow_hash(const struct flow5 *f)
{
    uint64_t a = (uint64_t) f->sip << 32 | f->dip;
    uint64_t b = (uint64_t) f->sport << 24 | (uint64_t) f->dport << 8 | f->proto;
    return u64map_mix(a ^ u64map_mix(b));
}

static bool
flow_equal(const struct flow5 *a, const struct flow5 *b)
{
    return a->sip == b->sip && a->dip == b->dip && a->sport == b->sport
           && a->dport == b->dport && a->proto == b->proto;
}

struct attrib *
attrib_create(const struct diag_trace *t, bool excess, uint64_t baseline_ns)
{
    struct attrib *a = vnet_xzalloc(sizeof *a);
    a->excess = excess;
    a->pkt_flow = vnet_xmalloc(VNET_MAX(t->n_pkts, 1) * sizeof *a->pkt_flow);
    a->pkt_rho = vnet_xmalloc(VNET_MAX(t->n_pkts, 1) * sizeof *a->pkt_rho);

    size_t cap = 64;
    while (cap < t->n_pkts * 2) {
        cap *= 2;
    }
    uint32_t *slots = vnet_xcalloc(cap, sizeof *slots);
    size_t flows_cap = 0;
    double *ewma = NULL;
    uint64_t *last = NULL;
    size_t state_cap = 0;
    double tau = (double) VNET_MAX(baseline_ns, 1);
    uint64_t t0 = t->n_pkts ? t->pkts[0].t_ingress : 0;
    for (size_t p = 0; p < t->n_pkts; p++) {
        t0 = VNET_MIN(t0, t->pkts[p].t_ingress);
    }
    for (size_t p = 0; p < t->n_pkts; p++) {
        const struct pkt *pkt = &t->pkts[p];
        size_t j = flow_hash(&pkt->flow) & (cap - 1);
        while (slots[j] && !flow_equal(&a->flows[slots[j] - 1], &pkt->flow)) {
            j = (j + 1) & (cap - 1);
        }
        uint32_t id;
        double rho = 0;
        uint64_t now = pkt->t_ingress;
        if (!slots[j]) {
            id = (uint32_t) a->n_flows++;
            vnet_grow((void **) &a->flows, &flows_cap, a->n_flows, sizeof *a->flows);
            vnet_grow((void **) &ewma, &state_cap, a->n_flows, sizeof *ewma);
            last = vnet_xrealloc(last, state_cap * sizeof *last);
            a->flows[id] = pkt->flow;
            ewma[id] = 0;
            last[id] = now;
            slots[j] = id + 1;
        } else {
            id = slots[j] - 1;
            /* Packets are in t_ingress order; a late one decays nothing. */
            double dt = now > last[id] ? (double) (now - last[id]) : 0.0;
            double decayed = ewma[id] * exp(-dt / tau);
            /* Unbias for the time observed so far: a flow seen steadily since the
             * window began gets its true rate, not a warm-up fraction of it. */
            double seen = 1.0 - exp(-(double) (now - t0) / tau);
            rho = seen > 0 ? decayed / seen : 0.0;
            ewma[id] = decayed;
            last[id] = VNET_MAX(last[id], now);
        }
        ewma[id] += 1.0 / tau;
        a->pkt_flow[p] = id;
        a->pkt_rho[p] = (float) rho;
    }
    free(slots);
    free(ewma);
    free(last);
    a->flow_score = vnet_xcalloc(VNET_MAX(a->n_flows, 1), sizeof *a->flow_score);
    a->gen = 1;
    return a;
}

void
attrib_destroy(struct attrib *a)
{
    if (!a) {
        return;
    }
    free(a->flows);
    free(a->pkt_flow);
    free(a->pkt_rho);
    free(a->flow_score);
    free(a->snaps);
    free(a->ent);
    u64map_destroy(&a->pending);
    u64map_destroy(&a->pairs);
    free(a->w);
    free(a->order);
    free(a);
}

size_t
attrib_n_flows(const struct attrib *a)
{
    return a->n_flows;
}

const struct flow5 *
attrib_flow(const struct attrib *a, uint32_t flow)
{
    return &a->flows[flow];
}

uint32_t
attrib_pkt_flow(const struct attrib *a, uint32_t pkt)
{
    return a->pkt_flow[pkt];
}

void
attrib_group_init(struct attrib_group *g)
{
    *g = (struct attrib_group) { .snap = ATTRIB_NONE };
}

void
attrib_group_reset(struct attrib_group *g)
{
    /* Clearing only the used slots keeps a reset as cheap as the adds were. */
    for (size_t i = 0; i < g->n_e; i++) {
        size_t j = u64map_mix(g->e[i].flow) & (g->n_slots - 1);
        while (g->slots[j]) {
            g->slots[j] = 0;
            j = (j + 1) & (g->n_slots - 1);
        }
    }
    g->n_e = 0;
    g->n = 0;
    g->snap = ATTRIB_NONE;
}

void
attrib_group_destroy(struct attrib_group *g)
{
    free(g->e);
    free(g->slots);
}

static void
group_rehash(struct attrib_group *g, size_t n_slots)
{
    free(g->slots);
    g->slots = vnet_xcalloc(n_slots, sizeof *g->slots);
    g->n_slots = n_slots;
    for (size_t i = 0; i < g->n_e; i++) {
        size_t j = u64map_mix(g->e[i].flow) & (n_slots - 1);
        while (g->slots[j]) {
            j = (j + 1) & (n_slots - 1);
        }
        g->slots[j] = (uint32_t) i + 1;
    }
}

void
attrib_group_add(struct attrib_group *g, const struct attrib *a, uint32_t pkt)
{
    uint32_t flow = a->pkt_flow[pkt];
    g->n++;
    if ((g->n_e + 1) * 2 > g->n_slots) {
        group_rehash(g, g->n_slots ? g->n_slots * 2 : 16);
    }
    size_t j = u64map_mix(flow) & (g->n_slots - 1);
    while (g->slots[j]) {
        struct attrib_gentry *e = &g->e[g->slots[j] - 1];
        if (e->flow == flow) {
            e->n++;
            return;
        }
        j = (j + 1) & (g->n_slots - 1);
    }
    vnet_grow((void **) &g->e, &g->cap_e, g->n_e + 1, sizeof *g->e);
    g->e[g->n_e] = (struct attrib_gentry) { flow, 1, a->pkt_rho[pkt] };
    g->slots[j] = (uint32_t) ++g->n_e;
}

static int
compare_by_weight(const void *a_, const void *b_, void *w_)
{
    const double *w = w_;
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    if (w[a] != w[b]) {
        return w[a] > w[b] ? -1 : 1;
    }
    return a < b ? -1 : a > b;
}

/* Sorts 'order[0..n)' by descending 'w' (ties: first seen first); insertion sort
 * for the common small case. */
static void
sort_by_weight(uint32_t *order, size_t n, double *w)
{
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = order[i];
            size_t j = i;
            while (j > 0 && w[order[j - 1]] < w[x]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
        return;
    }
    qsort_r(order, n, sizeof *order, compare_by_weight, w);
}

uint32_t
attrib_group_snapshot(struct attrib *a, struct attrib_group *g, double span_ns)
{
    if (g->snap != ATTRIB_NONE && g->snap_gen == a->gen
        && (g->n - g->snap_n) * 32 < g->snap_n) {
        return g->snap;
    }
    size_t n = g->n_e;
    if (n > a->cap_scratch) {
        a->cap_scratch = n * 2;
        a->w = vnet_xrealloc(a->w, a->cap_scratch * sizeof *a->w);
        a->order = vnet_xrealloc(a->order, a->cap_scratch * sizeof *a->order);
    }
    double sum = 0;
    if (a->excess) {
        for (size_t i = 0; i < n; i++) {
            double e = g->e[i].n - g->e[i].rho * span_ns;
            a->w[i] = e > 0 ? e : 0;
            sum += a->w[i];
        }
    }
    if (!(sum > 0)) {
        sum = 0;
        for (size_t i = 0; i < n; i++) {
            a->w[i] = g->e[i].n;
            sum += a->w[i];
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (a->w[i] > 0) {
            a->order[m++] = (uint32_t) i;
        }
    }
    sort_by_weight(a->order, m, a->w);

    vnet_grow((void **) &a->snaps, &a->cap_snaps, a->n_snaps + 1, sizeof *a->snaps);
    vnet_grow((void **) &a->ent, &a->cap_ent, a->n_ent + m, sizeof *a->ent);
    uint32_t id = (uint32_t) a->n_snaps++;
    a->snaps[id] = (struct snap) { .off = a->n_ent, .len = (uint32_t) m };
    for (size_t i = 0; i < m; i++) {
        uint32_t k = a->order[i];
        a->ent[a->n_ent++] = (struct attrib_share) { g->e[k].flow, a->w[k] / sum };
    }
    g->snap = id;
    g->snap_n = g->n;
    g->snap_gen = a->gen;
    return id;
}

const struct attrib_share *
attrib_snapshot(const struct attrib *a, uint32_t snap, size_t *n)
{
    *n = a->snaps[snap].len;
    return &a->ent[a->snaps[snap].off];
}

void
attrib_charge(struct attrib *a, uint32_t snap, double mass, uint32_t vflow)
{
    a->snaps[snap].pending += mass;
    u64map_slot(&a->pending, ((uint64_t) snap + 1) << 32 | vflow, NULL)->d += mass;
}

bool
attrib_full(const struct attrib *a)
{
    return a->n_ent > ATTRIB_STORE_ENTRIES || a->n_snaps > ATTRIB_STORE_SNAPS;
}

static void
pair_add(struct attrib *a, uint32_t flow, uint32_t vflow, double score)
{
    uint64_t key = ((uint64_t) flow + 1) << 32 | vflow;
    union u64map_val *v = u64map_find(&a->pairs, key);
    if (!v && a->pairs.n < ATTRIB_MAX_PAIRS) {
        v = u64map_slot(&a->pairs, key, NULL);
    }
    if (v) {
        v->d += score;
    }
}

void
attrib_flush(struct attrib *a)
{
    for (size_t s = 0; s < a->n_snaps; s++) {
        const struct snap *sn = &a->snaps[s];
        if (sn->pending > 0) {
            for (uint32_t i = 0; i < sn->len; i++) {
                const struct attrib_share *e = &a->ent[sn->off + i];
                a->flow_score[e->flow] += sn->pending * e->share;
            }
        }
    }
    for (size_t i = 0; i < a->pending.cap; i++) {
        uint64_t key = a->pending.keys[i];
        if (!key) {
            continue;
        }
        const struct snap *sn = &a->snaps[(key >> 32) - 1];
        uint32_t vflow = (uint32_t) key;
        uint32_t top = VNET_MIN(sn->len, ATTRIB_TOP);
        for (uint32_t k = 0; k < top; k++) {
            const struct attrib_share *e = &a->ent[sn->off + k];
            pair_add(a, e->flow, vflow, a->pending.vals[i].d * e->share);
        }
    }
    u64map_clear(&a->pending);
    a->n_snaps = 0;
    a->n_ent = 0;
    a->gen++;
}

const double *
attrib_flow_scores(const struct attrib *a)
{
    return a->flow_score;
}

const struct u64map *
attrib_pairs(const struct attrib *a)
{
    return &a->pairs;
}
