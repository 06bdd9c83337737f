/* Tests diag/microscope.c end to end: the spec's worked example on a hand-built
 * trace, the [CHOICE] edge cases of A.5 and A.14, and small synthetic scenarios
 * from a FIFO-server trace generator (an upstream stall, a one-flow burst, a DAG,
 * tail drops, an under-provisioned NF), plus the JSON contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/attrib.h"
#include "diag/microscope.h"
#include "diag/propagate.h"
#include "diag/queueing.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

#define US 1000.0                       /* ns */
#define MPPS 1e-3                       /* packets/ns */
#define IP(a, b, c, d) ((uint32_t) (a) << 24 | (uint32_t) (b) << 16 | (c) << 8 | (d))

#define assert_near(a, b, tol)                                                    \
    do {                                                                          \
        double a_ = (a), b_ = (b);                                                \
        if (!(fabs(a_ - b_) <= (tol))) {                                          \
            fail_msg("%s = %.12g, expected %.12g", #a, a_, b_);                  \
        }                                                                         \
    } while (0)

/* ---- A FIFO-server trace generator. ---- */

struct gen_nf {
    const char *name;
    double rate;                /* service rate, packets/ns */
    double r_peak;              /* what the trace reports (0: uncalibrated) */
    uint32_t preds[4];
    size_t n_preds;
    uint32_t qcap;              /* 0: unlimited */
    double pause_at, pause_len, pause_every;    /* pauses; every 0: once */
};

struct gen_pkt {
    double t;
    struct flow5 flow;
    uint32_t path[4];
    uint32_t n;
    uint32_t seq;
};

struct gen {
    struct gen_nf nfs[8];       /* nfs[0] is SOURCE */
    size_t n_nfs;
    struct gen_pkt *pkts;
    size_t n, cap;
    uint64_t rng;
};

static void
gen_init(struct gen *g)
{
    memset(g, 0, sizeof *g);
    g->n_nfs = 1;
    g->nfs[0].name = "source";
    g->rng = 0x9e3779b97f4a7c15ULL;
}

/* Adds an NF fed by 'pred' (and optionally a second predecessor). */
static uint32_t
gen_nf(struct gen *g, const char *name, double rate_mpps, uint32_t pred)
{
    uint32_t id = (uint32_t) g->n_nfs++;
    g->nfs[id] = (struct gen_nf) {
        .name = name, .rate = rate_mpps * MPPS, .r_peak = rate_mpps * MPPS,
        .preds = { pred }, .n_preds = 1,
    };
    return id;
}

static double
gen_uniform(struct gen *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return ((g->rng >> 11) + 0.5) / 9007199254740992.0;
}

static void
gen_add(struct gen *g, double t, struct flow5 flow, const uint32_t *path, uint32_t n)
{
    vnet_grow((void **) &g->pkts, &g->cap, g->n + 1, sizeof *g->pkts);
    struct gen_pkt *p = &g->pkts[g->n];
    *p = (struct gen_pkt) { .t = t, .flow = flow, .n = n, .seq = (uint32_t) g->n };
    memcpy(p->path, path, n * sizeof *path);
    g->n++;
}

static struct flow5
flow_n(uint32_t i)
{
    return (struct flow5) { IP(10, 0, i / 256, i % 256), IP(192, 168, 1, 1),
                            (uint16_t) (10000 + i), 80, 6 };
}

/* Poisson arrivals at 'mpps' over [t0, t1), spread over 'n_flows' flows. */
static void
gen_poisson(struct gen *g, double mpps, double t0, double t1, uint32_t n_flows,
            const uint32_t *path, uint32_t n)
{
    for (double t = t0 - log(gen_uniform(g)) / (mpps * MPPS); t < t1;
         t -= log(gen_uniform(g)) / (mpps * MPPS)) {
        gen_add(g, t, flow_n((uint32_t) (gen_uniform(g) * n_flows)), path, n);
    }
}

/* Constant-rate arrivals of one flow. */
static void
gen_cbr(struct gen *g, double mpps, double t0, double t1, struct flow5 flow,
        const uint32_t *path, uint32_t n)
{
    for (double t = t0; t < t1; t += 1 / (mpps * MPPS)) {
        gen_add(g, t, flow, path, n);
    }
}

static int
compare_gen_pkt(const void *a_, const void *b_)
{
    const struct gen_pkt *a = a_, *b = b_;
    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* When service can start at 's', given the NF's pauses. */
static double
gen_pause(const struct gen_nf *nf, double s)
{
    if (!(nf->pause_len > 0) || s < nf->pause_at) {
        return s;
    }
    double phase = s - nf->pause_at;
    if (nf->pause_every > 0) {
        phase = fmod(phase, nf->pause_every);
    }
    return phase < nf->pause_len ? s + nf->pause_len - phase : s;
}

struct arrival {
    double t;
    uint32_t pkt, hop;
};

static int
compare_arrival(const void *a_, const void *b_)
{
    const struct arrival *a = a_, *b = b_;
    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    return a->pkt < b->pkt ? -1 : a->pkt > b->pkt;
}

/* Serves every NF as a FIFO queue with deterministic service, in id order (ids
 * are topological), and returns the trace (queues start empty). */
static struct diag_trace *
gen_run(struct gen *g)
{
    qsort(g->pkts, g->n, sizeof *g->pkts, compare_gen_pkt);
    double (*arr)[4] = vnet_xcalloc(g->n, sizeof *arr);
    double (*dep)[4] = vnet_xcalloc(g->n, sizeof *dep);
    uint32_t *alive = vnet_xmalloc(g->n * sizeof *alive);    /* hops not dropped */
    struct arrival *a = vnet_xmalloc(g->n * sizeof *a);
    double *deps = vnet_xmalloc(g->n * sizeof *deps);
    for (size_t i = 0; i < g->n; i++) {
        alive[i] = g->pkts[i].n;
    }
    for (uint32_t f = 1; f < g->n_nfs; f++) {
        const struct gen_nf *nf = &g->nfs[f];
        size_t m = 0;
        for (uint32_t i = 0; i < g->n; i++) {
            for (uint32_t j = 0; j < g->pkts[i].n && j < alive[i]; j++) {
                if (g->pkts[i].path[j] == f) {
                    a[m++] = (struct arrival) { j ? dep[i][j - 1] : g->pkts[i].t, i, j };
                }
            }
        }
        qsort(a, m, sizeof *a, compare_arrival);
        double busy_until = 0;
        size_t n_deps = 0, gone = 0;
        for (size_t k = 0; k < m; k++) {
            double t = a[k].t;
            while (gone < n_deps && deps[gone] <= t) {
                gone++;
            }
            arr[a[k].pkt][a[k].hop] = t;
            if (nf->qcap && n_deps - gone >= nf->qcap) {
                alive[a[k].pkt] = a[k].hop;         /* tail drop */
                continue;
            }
            double s = gen_pause(nf, VNET_MAX(t, busy_until));
            busy_until = s + 1 / nf->rate;
            dep[a[k].pkt][a[k].hop] = busy_until;
            deps[n_deps++] = busy_until;
        }
    }

    struct diag_trace *t = diag_trace_create();
    t->n_nfs = g->n_nfs;
    t->nfs = vnet_xcalloc(g->n_nfs, sizeof *t->nfs);
    for (uint32_t f = 0; f < g->n_nfs; f++) {
        struct nf_desc *d = &t->nfs[f];
        d->id = f;
        vnet_strlcpy(d->name, g->nfs[f].name, sizeof d->name);
        d->r_peak = g->nfs[f].r_peak;
        d->qcap = g->nfs[f].qcap;
        if (g->nfs[f].n_preds) {
            d->preds = vnet_xmemdup(g->nfs[f].preds, g->nfs[f].n_preds * sizeof *d->preds);
            d->n_preds = g->nfs[f].n_preds;
        }
    }
    t->acct = vnet_xcalloc(g->n_nfs, sizeof *t->acct);
    t->pkts = vnet_xcalloc(g->n, sizeof *t->pkts);
    t->hops = vnet_xcalloc(g->n * 4, sizeof *t->hops);
    for (uint32_t i = 0; i < g->n; i++) {
        const struct gen_pkt *p = &g->pkts[i];
        uint32_t n = VNET_MIN(p->n, alive[i] + 1);
        t->pkts[i] = (struct pkt) {
            .uid = i, .t_ingress = (uint64_t) llround(p->t), .flow = p->flow,
            .hop_off = (uint32_t) t->n_hops, .hop_cnt = n,
        };
        for (uint32_t j = 0; j < n; j++) {
            struct hop *h = &t->hops[t->n_hops++];
            bool dropped = j == alive[i];
            *h = (struct hop) {
                .uid = i, .nf = p->path[j], .t_arr = (uint64_t) llround(arr[i][j]),
                .t_dep = dropped ? UINT64_MAX : (uint64_t) llround(dep[i][j]),
                .status = dropped ? HOP_DROPPED_TAIL : HOP_FORWARDED,
                .f_in = p->flow, .f_out = p->flow, .len = 64,
            };
            h->t_drop = dropped ? h->t_arr : 0;
        }
    }
    t->n_pkts = g->n;
    free(arr);
    free(dep);
    free(alive);
    free(a);
    free(deps);
    free(g->pkts);
    g->pkts = NULL;
    return t;
}

/* ---- Helpers on reports. ---- */

static struct diag_report *
diagnose(const struct diag_trace *t, const struct microscope_config *cfg)
{
    struct diag_report *rep = NULL;
    struct vnet_error *e = microscope_diagnose(t, cfg, &rep);
    if (e) {
        fail_msg("%s", e->message);
    }
    return rep;
}

static const struct diag_victim *
victim_by_uid(const struct diag_report *rep, uint64_t uid, uint32_t nf)
{
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->uid == uid && v->nf == nf) {
            return v;
        }
    }
    return NULL;
}

/* Score of culprit (kind, nf) in a victim's list; FLOW sums all flows. */
static double
blame_of(const struct diag_victim *v, enum diag_culprit_kind kind, uint32_t nf)
{
    double s = 0;
    for (size_t i = 0; i < v->n_blame; i++) {
        if (v->blame[i].kind == kind && (kind == DIAG_CULPRIT_FLOW || v->blame[i].nf == nf)) {
            s += v->blame[i].score;
        }
    }
    return s;
}

static double
blame_sum(const struct diag_victim *v)
{
    double s = 0;
    for (size_t i = 0; i < v->n_blame; i++) {
        s += v->blame[i].score;
    }
    return s;
}

/* Every victim's blame sums to max(Q, 1) and is sorted. */
static void
check_victims(const struct diag_report *rep)
{
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        assert_near(blame_sum(v), VNET_MAX(v->q, 1.0), 1e-6 * VNET_MAX(v->q, 1.0));
        for (size_t j = 1; j < v->n_blame; j++) {
            assert_true(v->blame[j - 1].score >= v->blame[j].score);
        }
    }
}

static struct json_object *
report_json(const struct diag_report *rep)
{
    return diag_report_to_json(rep);
}

static struct json_object *
jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v)) {
        fail_msg("missing member '%s' in %s", key, json_object_to_json_string(o));
    }
    return v;
}

static const char *
jstr(struct json_object *o, const char *key)
{
    return json_object_get_string(jget(o, key));
}

/* The culprit named first in JSON array 'arr'. */
static const char *
first_culprit(struct json_object *arr)
{
    assert_true(json_object_array_length(arr) > 0);
    return jstr(json_object_array_get_idx(arr, 0), "culprit");
}

static struct json_object *
nf_json(struct json_object *rep, const char *name)
{
    return jget(jget(rep, "nfs"), name);
}

static void
config_small(struct microscope_config *cfg)
{
    microscope_config_init(cfg);
    cfg->min_history = 8;
}

/* ---- A hand-built trace. ---- */

static struct diag_trace *
hand_trace(const char *const *names, const double *r_mpps, size_t n_nfs)
{
    struct diag_trace *t = diag_trace_create();
    t->n_nfs = n_nfs;
    t->nfs = vnet_xcalloc(n_nfs, sizeof *t->nfs);
    t->acct = vnet_xcalloc(n_nfs, sizeof *t->acct);
    for (uint32_t f = 0; f < n_nfs; f++) {
        t->nfs[f].id = f;
        vnet_strlcpy(t->nfs[f].name, names[f], sizeof t->nfs[f].name);
        t->nfs[f].r_peak = r_mpps[f] * MPPS;
        if (f) {
            /* A chain: each NF is fed by the previous one (or SOURCE). */
            uint32_t pred = f - 1;
            t->nfs[f].preds = vnet_xmemdup(&pred, sizeof pred);
            t->nfs[f].n_preds = 1;
        }
    }
    return t;
}

static void
hand_pkt(struct diag_trace *t, uint64_t t_ingress, struct flow5 flow)
{
    if (!(t->n_pkts & (t->n_pkts - 1))) {      /* doubling: realloc copies under ASan */
        t->pkts = vnet_xrealloc(t->pkts, VNET_MAX(2 * t->n_pkts, 1) * sizeof *t->pkts);
    }
    t->pkts[t->n_pkts] = (struct pkt) {
        .uid = t->n_pkts, .t_ingress = t_ingress, .flow = flow,
        .hop_off = (uint32_t) t->n_hops,
    };
    t->n_pkts++;
}

static void
hand_hop(struct diag_trace *t, uint32_t nf, uint64_t arr, uint64_t dep)
{
    if (!(t->n_hops & (t->n_hops - 1))) {
        t->hops = vnet_xrealloc(t->hops, VNET_MAX(2 * t->n_hops, 1) * sizeof *t->hops);
    }
    struct pkt *p = &t->pkts[t->n_pkts - 1];
    t->hops[t->n_hops++] = (struct hop) {
        .uid = p->uid, .nf = nf, .t_arr = arr, .t_dep = dep, .status = HOP_FORWARDED,
        .f_in = p->flow, .f_out = p->flow,
    };
    p->hop_cnt++;
}

/* Puts the packets in t_ingress order, as a trace keeps them (stable). */
static void
hand_sort(struct diag_trace *t)
{
    for (size_t i = 1; i < t->n_pkts; i++) {
        for (size_t j = i; j > 0 && t->pkts[j].t_ingress < t->pkts[j - 1].t_ingress; j--) {
            struct pkt x = t->pkts[j];
            t->pkts[j] = t->pkts[j - 1];
            t->pkts[j - 1] = x;
        }
    }
}

#define T0 1000000u

/* Spec A.7 end to end.  150 PreSet packets: ingress spread 120 us; A (paused,
 * then fast) 60 us; B widens to 90 us; C (paused) 50 us; f serves 80 of them in
 * the 100 us until the victim p arrives.  r_f = 1 Mpps: Q 70, S_i 50, S_p 20,
 * T_exp 150 us, credits source 30, A 30, B 0, C 40.  A's and C's representatives
 * queued because A and C paused, so recursion keeps their shares local:
 * NF(f) 20, SOURCE 15, A 15, B 0, C 20. */
static struct diag_trace *
a7_trace(void)
{
    static const char *const names[] = { "source", "a", "b", "c", "f" };
    static const double rates[] = { 0, 2.5, 2.0, 3.0, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 5);
    const struct flow5 warm = flow_n(1), bulk = flow_n(2), late = flow_n(3);
    for (uint64_t i = 0; i < 16; i++) {
        /* Isolated packets at f only (a capture gap): a latency history. */
        hand_pkt(t, 10000 * i, warm);
        hand_hop(t, 4, 10000 * i, 10000 * i + 1000);
    }
    for (uint64_t k = 0; k < 150; k++) {
        uint64_t ing = T0 + (uint64_t) llround(k * 120000.0 / 149);
        uint64_t da = T0 + 70000 + (uint64_t) llround(k * 60000.0 / 149);
        uint64_t db = T0 + 70500 + (uint64_t) llround(k * 90000.0 / 149);
        uint64_t dc = T0 + 111000 + (uint64_t) llround(k * 50000.0 / 149);
        hand_pkt(t, ing, bulk);
        hand_hop(t, 1, ing, da);
        hand_hop(t, 2, da, db);
        hand_hop(t, 3, db, dc);
        hand_hop(t, 4, dc, T0 + 111000 + 1250 * (k + 1));
    }
    hand_pkt(t, T0 + 211000, late);             /* p: seen at f only */
    hand_hop(t, 4, T0 + 211000, T0 + 111000 + 1250 * 151);
    return t;
}

static void
test_a7_end_to_end(void **state)
{
    struct diag_trace *t = a7_trace();
    struct microscope_config cfg;
    config_small(&cfg);
    struct diag_report *rep = diagnose(t, &cfg);
    check_victims(rep);
    const struct diag_victim *p = victim_by_uid(rep, 166, 4);
    assert_non_null(p);
    assert_false(p->dropped || p->service_time);
    assert_near(p->q, 70, 0);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 4), 20, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_FLOW, 0), 15, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 1), 15, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 2), 0, 0);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 3), 20, 1e-6);
    assert_int_equal(p->n_blame, 4);
    /* The source share names the PreSet's flow. */
    bool named = false;
    for (size_t i = 0; i < p->n_blame; i++) {
        const struct diag_blame *b = &p->blame[i];
        if (b->kind == DIAG_CULPRIT_FLOW) {
            named = b->flow.sip == flow_n(2).sip && b->flow.sport == flow_n(2).sport;
        }
    }
    assert_true(named);
    diag_report_destroy(rep);

    /* EPS: input shares below it stay unresolved at f. */
    cfg.eps = 1e9;
    rep = diagnose(t, &cfg);
    p = victim_by_uid(rep, 166, 4);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 4), 20, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_UNRESOLVED, 4), 50, 1e-6);
    assert_int_equal(p->n_blame, 2);
    diag_report_destroy(rep);

    /* MAX_DEPTH 1: A's and C's local shares, nothing beyond (here their input
     * share is 0, so the bound changes nothing); depth 0 alone: unresolved. */
    cfg.eps = 0.01;
    cfg.max_depth = 1;
    rep = diagnose(t, &cfg);
    p = victim_by_uid(rep, 166, 4);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 1), 15, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 3), 20, 1e-6);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* Spec A.8 end to end: a, b -> f.  100 PreSet packets via a (ingress span 120 us,
 * a's departures 40 us), 50 via b (100 us, 95 us); r_f = 1 Mpps so T_exp = 150 us.
 * f waits until 80 us, then serves one per 0.5 us: the victim p, arriving at
 * 130 us (tau 125 us), finds n_i 150, n_p 100: Q 50, S_i 25, S_p 25.  Shares
 * SOURCE 0.40, a 0.58, b 0.02 of S_i; a and b queued because they were slow
 * (their input rate was below their peak), so recursion keeps their shares. */
static void
test_a8_end_to_end(void **state)
{
    static const char *const names[] = { "source", "a", "b", "f" };
    static const double rates[] = { 0, 2.5, 0.6, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 4);
    uint32_t preds_b = NF_SOURCE, preds_f[] = { 1, 2 };
    free(t->nfs[2].preds);
    t->nfs[2].preds = vnet_xmemdup(&preds_b, sizeof preds_b);
    free(t->nfs[3].preds);
    t->nfs[3].preds = vnet_xmemdup(preds_f, sizeof preds_f);
    t->nfs[3].n_preds = 2;

    for (uint64_t i = 0; i < 16; i++) {
        hand_pkt(t, 10000 * i, flow_n(1));
        hand_hop(t, 3, 10000 * i, 10000 * i + 1000);
    }
    /* The PreSet, in order of arrival at f (f serves FIFO). */
    struct pre {
        uint64_t ing, dep_up, nf;
    } pre[150];
    size_t n = 0;
    for (uint64_t j = 0; j < 100; j++) {
        pre[n++] = (struct pre) { T0 + (uint64_t) llround(j * 120000.0 / 99),
                                      T0 + 80000 + (uint64_t) llround(j * 40000.0 / 99), 1 };
    }
    for (uint64_t j = 0; j < 50; j++) {
        pre[n++] = (struct pre) { T0 + (uint64_t) llround(j * 100000.0 / 49),
                                      T0 + 5000 + (uint64_t) llround(j * 95000.0 / 49), 2 };
    }
    for (size_t i = 1; i < n; i++) {                /* by arrival at f */
        for (size_t j = i; j > 0 && pre[j].dep_up < pre[j - 1].dep_up; j--) {
            struct pre x = pre[j];
            pre[j] = pre[j - 1];
            pre[j - 1] = x;
        }
    }
    for (size_t m = 0; m < n; m++) {
        hand_pkt(t, pre[m].ing, flow_n(2));
        hand_hop(t, (uint32_t) pre[m].nf, pre[m].ing, pre[m].dep_up);
        hand_hop(t, 3, pre[m].dep_up, T0 + 80000 + 500 * (m + 1));
    }
    hand_pkt(t, T0 + 130000, flow_n(3));            /* p: seen at f only */
    hand_hop(t, 3, T0 + 130000, T0 + 80000 + 500 * 151);
    hand_sort(t);

    struct microscope_config cfg;
    config_small(&cfg);
    struct diag_report *rep = diagnose(t, &cfg);
    check_victims(rep);
    const struct diag_victim *p = victim_by_uid(rep, 166, 3);
    assert_non_null(p);
    assert_near(p->q, 50, 0);
    double s_i = 25, total = 20 + 50.0 / 3 + 160.0 / 3 + 5.0 / 3;
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 3), 25, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_FLOW, 0), s_i * (20 + 50.0 / 3) / total, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 1), s_i * (160.0 / 3) / total, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 2), s_i * (5.0 / 3) / total, 1e-6);
    assert_near(blame_of(p, DIAG_CULPRIT_FLOW, 0) / s_i, 0.40, 0.005);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 1) / s_i, 0.58, 0.005);
    assert_near(blame_of(p, DIAG_CULPRIT_NF, 2) / s_i, 0.02, 0.005);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* PROPAGATE with a capture gap (A.14): half of the PreSet has no upstream record,
 * so its SOURCE time is its arrival at f, not its (early) ingress. */
static void
test_capture_gap(void **state)
{
    static const char *const names[] = { "source", "a", "f" };
    static const double rates[] = { 0, 10.0, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 3);
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t at_f = T0 + 200 * k;       /* PreSet reaches f within 19.8 us */
        if (k % 2 == 0) {
            /* Via a: ingress spread 99 us, a's departures 19.8 us. */
            hand_pkt(t, T0 - 99000 + 1000 * k + 10, flow_n(1));
            hand_hop(t, 1, T0 - 99000 + 1000 * k + 10, at_f);
        } else {
            /* A gap: first seen at f, with ingress times spread over 196 us
             * that would wrongly give this group no SOURCE credit at all. */
            hand_pkt(t, 2000 * k, flow_n(2));
        }
        hand_hop(t, 2, at_f, T0 + 1000000 + k);
    }
    hand_sort(t);
    struct queueing_index *idx;
    struct propagate_paths *paths;
    assert_null(queueing_index_build(t, false, &idx));
    assert_null(propagate_paths_build(t, &paths));
    struct attrib *attrib = attrib_create(t, false, 1000000000);
    struct propagate_ctx *ctx = propagate_ctx_create(t, idx, paths, attrib);
    const struct propagate_culprit *out;
    size_t n = propagate_preset(ctx, 2, 0, 100, 1 * MPPS, &out);
    /* T_exp 100 us.  Via a (50): source 98 us -> credit 2, a 19.6 us -> 78.4.
     * Gap group (50): source = its arrivals at f, 19.6 us -> credit 80.4.
     * Weighted: source 1 + 40.2, a 39.2, of 80.4. */
    double src = 0, a = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i].source) {
            src += out[i].share;
        } else if (out[i].nf == 1) {
            a += out[i].share;
        }
    }
    assert_near(src, 41.2 / 80.4, 1e-9);
    assert_near(a, 39.2 / 80.4, 1e-9);
    propagate_ctx_destroy(ctx);
    attrib_destroy(attrib);
    propagate_paths_destroy(paths);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* A.5 special cases on one NF served at 1 packet/us. */
static struct diag_trace *
one_nf(void)
{
    static const char *const names[] = { "source", "f" };
    static const double rates[] = { 0, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 2);
    for (uint64_t i = 0; i < 16; i++) {
        hand_pkt(t, 10000 * i, flow_n(1));
        hand_hop(t, 1, 10000 * i, 10000 * i + 1000);
    }
    return t;
}

/* A pause with moderate input: S_i < 0, clamped; all of Q is f's own. */
static void
test_clamp_negative_input(void **state)
{
    struct diag_trace *t = one_nf();
    /* 20 packets 5 us apart (0.2 Mpps) while f pauses 100 us, then drains. */
    for (uint64_t k = 0; k < 20; k++) {
        hand_pkt(t, T0 + 5000 * k, flow_n(2));
        hand_hop(t, 1, T0 + 5000 * k, T0 + 100000 + 1000 * (k + 1));
    }
    struct microscope_config cfg;
    config_small(&cfg);
    struct diag_report *rep = diagnose(t, &cfg);
    check_victims(rep);
    const struct diag_victim *v = victim_by_uid(rep, 16 + 19, 1);
    assert_non_null(v);
    assert_near(v->q, 19, 0);
    assert_int_equal(v->n_blame, 1);
    assert_near(blame_of(v, DIAG_CULPRIT_NF, 1), 19, 1e-9);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* An NF faster than its calibrated rate: S_p < 0, clamped; all of Q is input. */
static void
test_clamp_negative_processing(void **state)
{
    struct diag_trace *t = one_nf();
    /* A burst of 30 at once; from 5 us on, f serves one per 0.3 us although r_f
     * says 1 us.  The victim arrives at 10 us: n_i 30, n_p 16, r*tau 10, so
     * S_i 20 and S_p -6, clamped to S_i' = Q = 14. */
    for (uint64_t k = 0; k < 30; k++) {
        hand_pkt(t, T0, flow_n(2));
        hand_hop(t, 1, T0, T0 + 5000 + 300 * (k + 1));
    }
    hand_pkt(t, T0 + 10000, flow_n(3));
    hand_hop(t, 1, T0 + 10000, T0 + 5000 + 300 * 31);
    struct microscope_config cfg;
    config_small(&cfg);
    struct diag_report *rep = diagnose(t, &cfg);
    check_victims(rep);
    const struct diag_victim *v = victim_by_uid(rep, 16 + 30, 1);
    assert_non_null(v);
    assert_near(v->q, 14, 0);
    assert_near(blame_of(v, DIAG_CULPRIT_NF, 1), 0, 0);
    assert_near(blame_of(v, DIAG_CULPRIT_FLOW, 0), 14, 1e-9);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* Q = 0 but slow: the whole victim weight (1) goes to the NF, tagged. */
static void
test_service_time(void **state)
{
    struct diag_trace *t = one_nf();
    hand_pkt(t, T0, flow_n(2));
    hand_hop(t, 1, T0, T0 + 50000);
    struct microscope_config cfg;
    config_small(&cfg);
    struct diag_report *rep = diagnose(t, &cfg);
    const struct diag_victim *v = victim_by_uid(rep, 16, 1);
    assert_non_null(v);
    assert_true(v->service_time);
    assert_near(v->q, 0, 0);
    assert_int_equal(v->n_blame, 1);
    assert_int_equal(v->blame[0].kind, DIAG_CULPRIT_NF);
    assert_int_equal(v->blame[0].nf, 1);
    assert_near(v->blame[0].score, 1, 0);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* The window starts inside a busy period: without accounting that rules out
 * unseen queued packets, arrivals before the first observed Q = 0 are found as
 * victims but not diagnosed. */
static void
test_window_starts_busy(void **state)
{
    struct diag_trace *t = one_nf();
    for (uint64_t k = 0; k < 20; k++) {
        hand_pkt(t, T0 + 5000 * k, flow_n(2));
        hand_hop(t, 1, T0 + 5000 * k, T0 + 100000 + 1000 * (k + 1));
    }
    struct microscope_config cfg;
    config_small(&cfg);
    t->acct[1].unmatched_out = 1;
    struct diag_report *rep = diagnose(t, &cfg);
    /* The 16 history packets each empty the queue: the first one's departure is
     * the first observed Q = 0, so only the very first arrival (not a victim)
     * is out of reach; all 20 burst packets are victims and diagnosed. */
    struct json_object *j = report_json(rep);
    struct json_object *f = nf_json(j, "f");
    assert_int_equal(json_object_get_int(jget(f, "victims")), 20);
    assert_int_equal(json_object_get_int(jget(f, "diagnosed")), 20);
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);

    /* Busy from the first packet on and never seen empty before the last
     * departure: nothing is diagnosed.  (Each latency is 4.5 % above the one
     * before it, more than the history's 2.2 % resolution: all but the first
     * are victims.) */
    static const char *const names[] = { "source", "f" };
    static const double rates[] = { 0, 1.0 };
    t = hand_trace(names, rates, 2);
    t->acct[1].unmatched_out = 1;
    for (uint64_t k = 0; k < 20; k++) {
        hand_pkt(t, T0 + 5000 * k, flow_n(2));
        hand_hop(t, 1, T0 + 5000 * k, T0 + 100000 + 10000 * (k + 1));
    }
    cfg.min_history = 1;
    rep = diagnose(t, &cfg);
    j = report_json(rep);
    f = nf_json(j, "f");
    assert_int_equal(json_object_get_int(jget(f, "victims")), 19);
    assert_int_equal(json_object_get_int(jget(f, "diagnosed")), 0);
    assert_int_equal(diag_report_n_victims(rep), 0);
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* A fault at the very start of the window does not poison the history: its
 * packets are judged against the window's latency quantiles, not taken as the
 * norm. */
static void
test_cold_start(void **state)
{
    static const char *const names[] = { "source", "f" };
    static const double rates[] = { 0, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 2);
    /* f pauses 200 us while 40 packets arrive, then 400 packets pass idle. */
    for (uint64_t k = 0; k < 40; k++) {
        hand_pkt(t, 5000 * k, flow_n(1));
        hand_hop(t, 1, 5000 * k, 200000 + 1000 * (k + 1));
    }
    for (uint64_t k = 0; k < 400; k++) {
        hand_pkt(t, 300000 + 10000 * k, flow_n(2));
        hand_hop(t, 1, 300000 + 10000 * k, 300000 + 10000 * k + 1000);
    }
    struct diag_report *rep = diagnose(t, NULL);
    size_t stalled = 0, idle = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->uid < 40) {
            stalled++;
            assert_int_equal(v->blame[0].kind, DIAG_CULPRIT_NF);
        } else {
            idle++;
        }
    }
    assert_int_equal(stalled, 40);
    assert_int_equal(idle, 0);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* Steady noise stays noise: over 20 s of isolated packets whose latencies vary
 * at random (log-normal), about the slowest 16 % are victims at k = 1 -- not a
 * share that grows as the history learns only from what is below the threshold
 * (a non-victim history ratcheted down to 60-70 % victims on real mirrors). */
static void
test_victims_do_not_ratchet(void **state)
{
    static const char *const names[] = { "source", "f" };
    static const double rates[] = { 0, 1.0 };
    struct diag_trace *t = hand_trace(names, rates, 2);
    uint64_t x = 88172645463325252ull;          /* xorshift64 */
    const size_t n = 40000;
    for (uint64_t k = 0; k < n; k++) {
        double u[2];
        for (int i = 0; i < 2; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            u[i] = ((double) (x >> 11) + 0.5) / 9007199254740992.0;
        }
        double z = sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
        uint64_t lat = (uint64_t) llround(100000.0 * exp(0.5 * z));
        hand_pkt(t, 500000 * k, flow_n(1));
        hand_hop(t, 1, 500000 * k, 500000 * k + VNET_MIN(lat, 499000));
    }
    struct diag_report *rep = diagnose(t, NULL);
    struct json_object *j = report_json(rep);
    double victims = json_object_get_int(jget(nf_json(j, "f"), "victims"));
    assert_in_range((uint64_t) victims, (uint64_t) (0.12 * n), (uint64_t) (0.20 * n));
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* A queue that never empties, capped at T_max: the backlog at the capped start
 * is a pseudo-culprit, and the rest splits as usual. */
static void
test_backlog(void **state)
{
    struct diag_trace *t = one_nf();
    /* 400 packets every 0.5 us into a 1 us server: Q grows by 1 per us. */
    for (uint64_t k = 0; k < 400; k++) {
        hand_pkt(t, T0 + 500 * k, flow_n(2));
        hand_hop(t, 1, T0 + 500 * k, T0 + 1000 * (k + 1));
    }
    struct microscope_config cfg;
    config_small(&cfg);
    cfg.t_max_ns = 80000;
    struct diag_report *rep = diagnose(t, &cfg);
    check_victims(rep);
    const struct diag_victim *v = victim_by_uid(rep, 16 + 399, 1);
    assert_non_null(v);
    /* At t = 199.5 us: 399 arrived, 199 served: Q = 200.  The cap starts at
     * 120 us on its 10 us grid (position 240), which found Q = 120. */
    assert_near(v->q, 200, 0);
    assert_near(blame_of(v, DIAG_CULPRIT_BACKLOG, 1), 120, 1e-9);
    /* The capped period, 79.5 us: 159 arrived, 79 served, r_f*tau 79.5: S_p 0.5,
     * S_i 79.5, all of it source (the PreSet came straight from ingress). */
    assert_near(blame_of(v, DIAG_CULPRIT_NF, 1), 0.5, 1e-6);
    assert_near(blame_of(v, DIAG_CULPRIT_FLOW, 0), 79.5, 1e-6);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* ---- Scenarios from the generator. ---- */

#define MS 1000000.0

/* GEN -> nat (1.5 Mpps) -> vpn (1.0 Mpps), 0.6 Mpps Poisson over 32 flows; nat
 * stalls for 300 us at 10 ms and then releases its backlog back-to-back, which
 * queues vpn. */
static struct diag_trace *
stall_trace(void)
{
    struct gen g;
    gen_init(&g);
    uint32_t nat = gen_nf(&g, "nat", 1.5, NF_SOURCE);
    uint32_t vpn = gen_nf(&g, "vpn", 1.0, nat);
    g.nfs[nat].pause_at = 10 * MS;
    g.nfs[nat].pause_len = 300 * US;
    const uint32_t path[] = { nat, vpn };
    gen_poisson(&g, 0.6, 0, 20 * MS, 32, path, 2);
    return gen_run(&g);
}

static void
test_upstream_stall(void **state)
{
    struct diag_trace *t = stall_trace();
    struct diag_report *rep = diagnose(t, NULL);
    check_victims(rep);
    struct json_object *j = report_json(rep);
    /* The queue at vpn was caused by nat: vpn's own list names nat first, not
     * "source" (its input) and not vpn (it served at its peak rate). */
    assert_string_equal(first_culprit(jget(nf_json(j, "vpn"), "culprits")), "nf:nat");
    assert_string_equal(first_culprit(jget(nf_json(j, "nat"), "culprits")), "nf:nat");
    assert_string_equal(first_culprit(jget(j, "culprits")), "nf:nat");

    /* Per victim: the large queues at vpn put nat first. */
    size_t big = 0, nat_first = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->nf == 2 && v->q >= 20) {
            big++;
            nat_first += v->blame[0].kind == DIAG_CULPRIT_NF && v->blame[0].nf == 1;
        }
    }
    assert_true(big >= 20);
    assert_true(nat_first >= big * 9 / 10);

    /* The explanation of nat names a victim and the hop that shrank the spread. */
    struct json_object *x = json_object_array_get_idx(jget(j, "explanations"), 0);
    assert_string_equal(jstr(x, "culprit"), "nf:nat");
    char *text = diag_report_to_text(rep);
    assert_non_null(strstr(text, "1. nf:nat"));
    assert_non_null(strstr(text, "e.g. packet"));
    free(text);
    json_object_put(j);
    diag_report_destroy(rep);

    /* Bounding the recursion at depth 1 leaves nat's input share unresolved. */
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    cfg.max_depth = 1;
    rep = diagnose(t, &cfg);
    double unresolved = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->nf == 2) {
            unresolved += blame_of(v, DIAG_CULPRIT_UNRESOLVED, 1);
        }
    }
    assert_true(unresolved > 0);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* The same stall with nat's peak rate unknown: estimated from its busy windows,
 * or, without estimation, nat is uncalibrated and blame stops at it. */
static void
test_uncalibrated(void **state)
{
    struct diag_trace *t = stall_trace();
    t->nfs[1].r_peak = 0;
    struct diag_report *rep = diagnose(t, NULL);
    struct json_object *j = report_json(rep);
    struct json_object *nat = nf_json(j, "nat");
    assert_string_equal(jstr(nat, "r_source"), "estimated");
    assert_near(json_object_get_double(jget(nat, "r_pps")), 1.5e6, 0.05e6);
    assert_string_equal(first_culprit(jget(nf_json(j, "vpn"), "culprits")), "nf:nat");
    json_object_put(j);
    diag_report_destroy(rep);

    struct microscope_config cfg;
    microscope_config_init(&cfg);
    cfg.estimate_peak = false;
    rep = diagnose(t, &cfg);
    j = report_json(rep);
    nat = nf_json(j, "nat");
    assert_false(json_object_get_boolean(jget(nat, "calibrated")));
    assert_true(json_object_get_int(jget(nat, "victims")) > 0);
    assert_int_equal(json_object_get_int(jget(nat, "diagnosed")), 0);
    struct json_object *uncal = jget(j, "uncalibrated");
    assert_int_equal(json_object_array_length(uncal), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(uncal, 0)), "nat");
    assert_string_equal(first_culprit(jget(nf_json(j, "vpn"), "pseudo_culprits")),
                        "unresolved:nat");
    json_object_put(j);
    diag_report_destroy(rep);

    t->nfs[2].r_peak = 0;
    struct vnet_error *e = microscope_diagnose(t, &cfg, &rep);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "no NF has a peak rate"));
    vnet_error_destroy(e);
    diag_trace_destroy(t);
}

static const struct flow5 burst_flow = { IP(172, 16, 9, 9), IP(192, 168, 7, 7), 4444, 5555, 17 };

static bool
is_burst_flow(const struct flow5 *f)
{
    return f->sip == burst_flow.sip && f->dip == burst_flow.dip
           && f->sport == burst_flow.sport && f->dport == burst_flow.dport
           && f->proto == burst_flow.proto;
}

/* GEN -> fw (2.0 Mpps) -> nat (1.5 Mpps) with 0.6 Mpps of background; one flow
 * sends 3 Mpps (1.5 x r_fw) for 340 us at 10 ms. */
static struct diag_trace *
burst_trace(void)
{
    struct gen g;
    gen_init(&g);
    uint32_t fw = gen_nf(&g, "fw", 2.0, NF_SOURCE);
    uint32_t nat = gen_nf(&g, "nat", 1.5, fw);
    const uint32_t path[] = { fw, nat };
    gen_poisson(&g, 0.6, 0, 20 * MS, 32, path, 2);
    gen_cbr(&g, 3.0, 10 * MS, 10 * MS + 340 * US, burst_flow, path, 2);
    return gen_run(&g);
}

/* Score of the burst flow over the victims at 'nf' with Q >= 20, and the share
 * of those victims whose first source flow is the burst. */
static double
burst_blame(const struct diag_report *rep, uint32_t nf, double *first_share)
{
    double score = 0;
    size_t n = 0, first = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->nf != nf || v->q < 20) {
            continue;
        }
        n++;
        bool seen = false;
        for (size_t k = 0; k < v->n_blame; k++) {
            const struct diag_blame *b = &v->blame[k];
            if (b->kind == DIAG_CULPRIT_FLOW && is_burst_flow(&b->flow)) {
                score += b->score;
                first += !seen;
            }
            seen |= b->kind == DIAG_CULPRIT_FLOW;
        }
    }
    *first_share = n ? (double) first / (double) n : 0;
    return score;
}

static void
test_burst(void **state)
{
    struct diag_trace *t = burst_trace();
    struct diag_report *rep = diagnose(t, NULL);
    check_victims(rep);
    struct json_object *j = report_json(rep);
    assert_string_equal(first_culprit(jget(j, "culprits")), "source");
    assert_string_equal(first_culprit(jget(nf_json(j, "fw"), "culprits")), "source");

    /* The top AutoFocus line is the burst flow's 5-tuple, with its victims. */
    struct json_object *top = json_object_array_get_idx(jget(j, "patterns"), 0);
    assert_string_equal(jstr(top, "culprit"), "source");
    assert_string_equal(jstr(top, "src"), "172.16.9.9/32");
    assert_string_equal(jstr(top, "dst"), "192.168.7.7/32");
    assert_string_equal(jstr(top, "sport"), "4444-4444");
    assert_string_equal(jstr(top, "dport"), "5555-5555");
    assert_string_equal(jstr(top, "proto"), "udp");
    assert_true(json_object_array_length(jget(top, "victims")) > 0);

    double first;
    double excess = burst_blame(rep, 1, &first);
    assert_true(first >= 0.9);
    json_object_put(j);
    diag_report_destroy(rep);

    /* Count weighting shares the blame with the steady background. */
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    cfg.excess_weighting = false;
    rep = diagnose(t, &cfg);
    double counts = burst_blame(rep, 1, &first);
    assert_true(counts > 0);
    assert_true(excess > counts * 1.02);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* A.4 sampling: at most 'victims_per_s' victims per NF and second are diagnosed,
 * evenly spread, each standing for the ones skipped. */
static void
test_sampling(void **state)
{
    struct diag_trace *t = burst_trace();
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    cfg.victims_per_s = 0;
    struct diag_report *all = diagnose(t, &cfg);
    cfg.victims_per_s = 200;
    struct diag_report *some = diagnose(t, &cfg);
    check_victims(some);

    struct json_object *ja = report_json(all), *js = report_json(some);
    for (uint32_t f = 1; f <= 2; f++) {
        const char *name = f == 1 ? "fw" : "nat";
        int64_t found = json_object_get_int64(jget(nf_json(ja, name), "victims"));
        int64_t diagnosed = json_object_get_int64(jget(nf_json(ja, name), "diagnosed"));
        assert_true(diagnosed > 400);
        assert_int_equal(json_object_get_int64(jget(nf_json(js, name), "victims")), found);
        assert_true(json_object_get_int64(jget(nf_json(js, name), "diagnosed")) <= 200);
        double weights = 0;
        for (size_t i = 0; i < diag_report_n_victims(some); i++) {
            if (diag_report_victim(some, i)->nf == f) {
                weights += diag_report_victim_weight(some, i);
            }
        }
        assert_near(weights, (double) diagnosed, 1e-6 * diagnosed);
    }
    for (size_t i = 0; i < diag_report_n_victims(all); i++) {
        assert_near(diag_report_victim_weight(all, i), 1, 0);
    }
    /* The weighted totals estimate the full ones. */
    double ta = json_object_get_double(jget(ja, "total_score"));
    double ts = json_object_get_double(jget(js, "total_score"));
    assert_near(ts, ta, 0.15 * ta);
    assert_string_equal(first_culprit(jget(js, "culprits")), "source");
    json_object_put(ja);
    json_object_put(js);
    diag_report_destroy(all);
    diag_report_destroy(some);
    diag_trace_destroy(t);
}

/* DAG (spec F.1, scenario S6): flow A -> vpn directly, GEN -> nat -> vpn,
 * GEN -> mon -> vpn; nat and mon stall 200 us at once and mon carries twice nat's
 * rate.  Victims at vpn have PreSets over three paths. */
static void
test_dag(void **state)
{
    struct gen g;
    gen_init(&g);
    uint32_t nat = gen_nf(&g, "nat", 1.5, NF_SOURCE);
    uint32_t mon = gen_nf(&g, "mon", 1.5, NF_SOURCE);
    uint32_t vpn = gen_nf(&g, "vpn", 1.0, NF_SOURCE);
    g.nfs[vpn].preds[1] = nat;
    g.nfs[vpn].preds[2] = mon;
    g.nfs[vpn].n_preds = 3;
    for (uint32_t f = nat; f <= mon; f++) {
        g.nfs[f].pause_at = 10 * MS;
        g.nfs[f].pause_len = 200 * US;
    }
    const uint32_t p_nat[] = { nat, vpn }, p_mon[] = { mon, vpn }, p_a[] = { vpn };
    gen_poisson(&g, 0.15, 0, 20 * MS, 16, p_nat, 2);
    gen_poisson(&g, 0.30, 0, 20 * MS, 16, p_mon, 2);
    gen_cbr(&g, 0.15, 0, 20 * MS, flow_n(999), p_a, 1);
    struct diag_trace *t = gen_run(&g);
    struct diag_report *rep = diagnose(t, NULL);
    check_victims(rep);
    /* The victims of the stalls (large queues at vpn) blame the two stalled NFs.
     * Both release their backlogs at 1.5 Mpps, so the first victims' queues are
     * due to both alike (an even split); mon's backlog lasts twice as long, so
     * later victims blame mon more, and mon ranks first for most. */
    size_t affected = 0, mon_first = 0, a_victims = 0, a_upstream = 0;
    double s_mon = 0, s_nat = 0, q_sum = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (v->nf != vpn || v->q < 20) {
            continue;
        }
        affected++;
        mon_first += v->blame[0].kind == DIAG_CULPRIT_NF && v->blame[0].nf == mon;
        s_mon += blame_of(v, DIAG_CULPRIT_NF, mon);
        s_nat += blame_of(v, DIAG_CULPRIT_NF, nat);
        q_sum += v->q;
        /* Flow A never passed nat or mon, yet its victims blame them. */
        if (t->pkts[v->uid].hop_cnt == 1) {
            a_victims++;
            a_upstream += v->blame[0].kind == DIAG_CULPRIT_NF
                          && (v->blame[0].nf == mon || v->blame[0].nf == nat);
        }
    }
    assert_true(affected >= 20);
    assert_true(mon_first >= affected * 8 / 10);
    assert_true(s_mon > 1.1 * s_nat);
    assert_true(s_mon + s_nat >= 0.8 * q_sum);
    assert_true(a_victims > 0);
    assert_true(a_upstream >= a_victims * 9 / 10);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* Tail drops at a small vpn queue behind a burst (spec S8): drop victims are
 * diagnosed with Q = qcap at their drop time; fw only widens the spread, so the
 * burst flow is blamed. */
static void
test_drop_victims(void **state)
{
    struct gen g;
    gen_init(&g);
    uint32_t fw = gen_nf(&g, "fw", 2.0, NF_SOURCE);
    uint32_t vpn = gen_nf(&g, "vpn", 1.0, fw);
    g.nfs[vpn].qcap = 32;
    const uint32_t path[] = { fw, vpn };
    gen_poisson(&g, 0.4, 0, 20 * MS, 32, path, 2);
    gen_cbr(&g, 3.0, 10 * MS, 10 * MS + 200 * US, burst_flow, path, 2);
    struct diag_trace *t = gen_run(&g);
    struct diag_report *rep = diagnose(t, NULL);
    check_victims(rep);
    size_t drops = 0, burst_first = 0;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *v = diag_report_victim(rep, i);
        if (!v->dropped) {
            continue;
        }
        drops++;
        assert_int_equal(v->nf, vpn);
        assert_near(v->q, 32, 0);
        burst_first += v->blame[0].kind == DIAG_CULPRIT_FLOW
                       && is_burst_flow(&v->blame[0].flow);
    }
    assert_true(drops >= 50);
    assert_true(burst_first >= drops * 85 / 100);
    struct json_object *j = report_json(rep);
    assert_int_equal(json_object_get_int(jget(nf_json(j, "vpn"), "drops")), drops);
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* An under-provisioned NF (spec S4b): vpn's peak rate is 0.8 x the offered
 * load.  Its own processing is not at fault, source is, and it is labelled. */
static void
test_at_capacity(void **state)
{
    struct gen g;
    gen_init(&g);
    uint32_t fw = gen_nf(&g, "fw", 2.0, NF_SOURCE);
    uint32_t vpn = gen_nf(&g, "vpn", 0.48, fw);
    g.nfs[vpn].qcap = 256;
    const uint32_t path[] = { fw, vpn };
    gen_poisson(&g, 0.6, 0, 30 * MS, 64, path, 2);
    struct diag_trace *t = gen_run(&g);
    struct diag_report *rep = diagnose(t, NULL);
    check_victims(rep);
    struct json_object *j = report_json(rep);
    struct json_object *labels = jget(j, "labels");
    assert_int_equal(json_object_array_length(labels), 1);
    struct json_object *l = json_object_array_get_idx(labels, 0);
    assert_string_equal(jstr(l, "nf"), "vpn");
    assert_string_equal(jstr(l, "label"), "at-capacity");
    assert_string_equal(jstr(l, "text"), "vpn at capacity (under-provisioned)");
    char *text = diag_report_to_text(rep);
    assert_non_null(strstr(text, "label: vpn at capacity (under-provisioned)"));
    free(text);
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* The amortised PreSet state gives what a fresh computation gives, prefix after
 * prefix of the longest busy period at vpn. */
static void
test_incremental_preset(void **state)
{
    struct diag_trace *t = stall_trace();
    struct queueing_index *idx;
    struct propagate_paths *paths;
    assert_null(queueing_index_build(t, false, &idx));
    assert_null(propagate_paths_build(t, &paths));
    struct attrib *a1 = attrib_create(t, true, 1000000000);
    struct attrib *a2 = attrib_create(t, true, 1000000000);
    struct propagate_ctx *inc = propagate_ctx_create(t, idx, paths, a1);

    const struct queueing_nf *qn = &idx->nfs[2];
    uint32_t best = 0, len = 0;
    for (uint32_t pos = 0; pos < qn->n; pos++) {
        if (pos - qn->bs[pos] > len) {
            len = pos - qn->bs[pos];
            best = qn->bs[pos];
        }
    }
    assert_true(len > 100);
    for (uint32_t end = best + 1; end <= best + len; end += 7) {
        const struct propagate_culprit *o1, *o2;
        size_t n1 = propagate_preset(inc, 2, best, end, 1 * MPPS, &o1);
        struct propagate_culprit *c1 = vnet_xmemdup(o1, VNET_MAX(n1, 1) * sizeof *o1);
        struct propagate_ctx *fresh = propagate_ctx_create(t, idx, paths, a2);
        size_t n2 = propagate_preset(fresh, 2, best, end, 1 * MPPS, &o2);
        assert_int_equal(n1, n2);
        for (size_t i = 0; i < n1; i++) {
            assert_int_equal(c1[i].source, o2[i].source);
            assert_int_equal(c1[i].nf, o2[i].nf);
            assert_int_equal(c1[i].rep_pos, o2[i].rep_pos);
            assert_near(c1[i].share, o2[i].share, 1e-12);
        }
        propagate_ctx_destroy(fresh);
        free(c1);
        attrib_flush(a2);
    }
    propagate_ctx_destroy(inc);
    attrib_destroy(a1);
    attrib_destroy(a2);
    propagate_paths_destroy(paths);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* The JSON contract of `vnetctl diagnose --offline --json`. */
static void
test_json_contract(void **state)
{
    struct diag_trace *t = burst_trace();
    struct diag_report *rep = diagnose(t, NULL);
    struct json_object *j = report_json(rep);
    /* Round-trip through text, as a consumer sees it. */
    struct json_object *rt = json_tokener_parse(json_object_to_json_string(j));
    assert_non_null(rt);

    struct json_object *cul = jget(rt, "culprits");
    double prev = INFINITY, shares = 0;
    for (size_t i = 0; i < json_object_array_length(cul); i++) {
        struct json_object *c = json_object_array_get_idx(cul, i);
        const char *name = jstr(c, "culprit");
        assert_true(!strcmp(name, "source") || !strncmp(name, "nf:", 3));
        double score = json_object_get_double(jget(c, "score"));
        double share = json_object_get_double(jget(c, "share"));
        assert_true(score <= prev && share >= 0 && share <= 1);
        prev = score;
        shares += share;
    }
    struct json_object *pseudo = jget(rt, "pseudo_culprits");
    for (size_t i = 0; i < json_object_array_length(pseudo); i++) {
        shares += json_object_get_double(jget(json_object_array_get_idx(pseudo, i),
                                              "share"));
    }
    assert_near(shares, 1, 1e-6);

    struct json_object *pats = jget(rt, "patterns");
    assert_true(json_object_array_length(pats) > 0);
    prev = INFINITY;
    for (size_t i = 0; i < json_object_array_length(pats); i++) {
        struct json_object *p = json_object_array_get_idx(pats, i);
        const char *name = jstr(p, "culprit");
        assert_true(!strcmp(name, "source") || !strncmp(name, "nf:", 3));
        assert_non_null(strchr(jstr(p, "src"), '/'));
        assert_non_null(strchr(jstr(p, "dst"), '/'));
        assert_non_null(strchr(jstr(p, "sport"), '-'));
        assert_non_null(strchr(jstr(p, "dport"), '-'));
        const char *proto = jstr(p, "proto");
        assert_true(!strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "*"));
        double score = json_object_get_double(jget(p, "score"));
        assert_true(score <= prev);
        prev = score;
    }

    struct json_object *nfs = jget(rt, "nfs");
    int64_t victims = 0;
    static const char *const names[] = { "fw", "nat" };
    for (size_t i = 0; i < 2; i++) {
        struct json_object *n = jget(nfs, names[i]);
        assert_int_equal(json_object_get_int64(jget(n, "packets")), t->n_pkts);
        jget(n, "drops");
        assert_true(json_object_get_double(jget(n, "latency_p50_us")) > 0);
        assert_true(json_object_get_double(jget(n, "latency_p99_us"))
                    >= json_object_get_double(jget(n, "latency_p50_us")));
        victims += json_object_get_int64(jget(n, "victims"));
        struct json_object *c = jget(n, "culprits");
        for (size_t k = 0; k < json_object_array_length(c); k++) {
            jget(json_object_array_get_idx(c, k), "culprit");
            jget(json_object_array_get_idx(c, k), "score");
        }
    }
    assert_int_equal(json_object_get_int64(jget(rt, "victims")), victims);
    assert_true(victims > 0);
    json_object_put(rt);
    json_object_put(j);
    diag_report_destroy(rep);
    diag_trace_destroy(t);
}

/* No victims: an empty but complete report. */
static void
test_no_victims(void **state)
{
    struct diag_trace *t = one_nf();
    struct diag_report *rep = diagnose(t, NULL);
    assert_int_equal(diag_report_n_victims(rep), 0);
    assert_null(diag_report_victim(rep, 0));
    struct json_object *j = report_json(rep);
    assert_int_equal(json_object_array_length(jget(j, "culprits")), 0);
    assert_int_equal(json_object_array_length(jget(j, "patterns")), 0);
    assert_int_equal(json_object_get_int(jget(j, "victims")), 0);
    assert_int_equal(json_object_get_int(jget(nf_json(j, "f"), "packets")), 16);
    json_object_put(j);
    char *text = diag_report_to_text(rep);
    assert_non_null(strstr(text, "Culprits:\n    none\n"));
    free(text);
    diag_report_destroy(rep);
    diag_report_destroy(NULL);
    diag_trace_destroy(t);
}

static void
test_bad_input(void **state)
{
    struct diag_trace *t = one_nf();
    struct diag_report *rep = NULL;
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    cfg.autofocus_h = 0;
    struct vnet_error *e = microscope_diagnose(t, &cfg, &rep);
    assert_non_null(e);
    vnet_error_destroy(e);
    t->hops[3].t_dep = 5;
    e = microscope_diagnose(t, NULL, &rep);
    assert_non_null(e);
    assert_string_equal(e->message, "microscope: hop 3 at NF 'f': leaves at 5 before it "
                        "arrives at 30000");
    vnet_error_destroy(e);
    assert_null(rep);
    diag_trace_destroy(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a7_end_to_end),
        cmocka_unit_test(test_a8_end_to_end),
        cmocka_unit_test(test_capture_gap),
        cmocka_unit_test(test_clamp_negative_input),
        cmocka_unit_test(test_clamp_negative_processing),
        cmocka_unit_test(test_service_time),
        cmocka_unit_test(test_window_starts_busy),
        cmocka_unit_test(test_cold_start),
        cmocka_unit_test(test_victims_do_not_ratchet),
        cmocka_unit_test(test_backlog),
        cmocka_unit_test(test_upstream_stall),
        cmocka_unit_test(test_uncalibrated),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_dag),
        cmocka_unit_test(test_drop_victims),
        cmocka_unit_test(test_at_capacity),
        cmocka_unit_test(test_incremental_preset),
        cmocka_unit_test(test_json_contract),
        cmocka_unit_test(test_no_victims),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
