#include "shadow/compare.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/stats.h"
#include "lib/error.h"
#include "lib/util.h"

void
compare_config_init(struct compare_config *cfg)
{
    *cfg = (struct compare_config) {
        .subwindow_ns = 100000000,
        .alpha = 0.05,
        .min_duration_ns = 300000000000ull,
        .min_subwindows = 1000,
        .min_pairs = 10,
        .p99_gain = 0.10,
        .mos_gain = 0.1,
        .loss_gain = 0.5,
        .loss_margin = 0.001,
        .latency_margin = 0.10,
        .mos_margin = 0.1,
        .min_voip_mos = 4.0,
        .jb_ms = 40,
    };
}

const char *
compare_verdict_name(enum compare_verdict v)
{
    switch (v) {
    case COMPARE_SWAP:
        return "SWAP";
    case COMPARE_KEEP:
        return "KEEP";
    case COMPARE_INCONCLUSIVE:
        return "INCONCLUSIVE";
    }
    return "unknown";
}

static const char *const metric_names[COMPARE_N_METRICS] = {
    [COMPARE_LATENCY_P50] = "latency-p50",
    [COMPARE_LATENCY_P99] = "latency-p99",
    [COMPARE_LOSS] = "loss",
    [COMPARE_MOS] = "mos",
};

const char *
compare_metric_name(enum compare_metric m)
{
    return (unsigned) m < COMPARE_N_METRICS ? metric_names[m] : "unknown";
}

/* ---- per-packet accessors: side 0 is production, 1 the shadow ---- */

static uint8_t
outcome(const struct compare_pkt *p, int side)
{
    return side ? p->shadow : p->prod;
}

static bool
exited(const struct compare_pkt *p, int side)
{
    uint8_t o = outcome(p, side);
    return o == COMPARE_DELIVERED || o == COMPARE_ALTERED;
}

static uint64_t
exit_time(const struct compare_pkt *p, int side)
{
    return side ? p->t_exit_shadow : p->t_exit_prod;
}

static uint64_t
delay_ns(const struct compare_pkt *p, int side)
{
    return exit_time(p, side) - p->t_entry;
}

static struct vnet_error *
check_input(const struct compare_input *in)
{
    for (size_t c = 0; c < in->n_classes; c++) {
        if (!in->classes[c].name || !*in->classes[c].name) {
            return vnet_error_create(VNET_ERR_INVALID, "class %zu: no name", c);
        }
        if (in->classes[c].voip && !emodel_codec_info(in->classes[c].codec)) {
            return vnet_error_create(VNET_ERR_INVALID, "class '%s': unknown codec",
                                     in->classes[c].name);
        }
    }
    for (size_t i = 0; i < in->n_pkts; i++) {
        const struct compare_pkt *p = &in->pkts[i];
        if (p->cls >= in->n_classes) {
            return vnet_error_create(VNET_ERR_INVALID,
                                     "packet %zu: class %u, but there are %zu classes",
                                     i, p->cls, in->n_classes);
        }
        if (i && p->t_entry < in->pkts[i - 1].t_entry) {
            return vnet_error_create(VNET_ERR_INVALID,
                                     "packet %zu: entered before packet %zu (input "
                                     "must be sorted by entry time)",
                                     i, i - 1);
        }
        for (int side = 0; side < 2; side++) {
            if (outcome(p, side) > COMPARE_ALTERED) {
                return vnet_error_create(VNET_ERR_INVALID,
                                         "packet %zu: unknown outcome %u", i,
                                         outcome(p, side));
            }
            if (exited(p, side) && exit_time(p, side) < p->t_entry) {
                return vnet_error_create(VNET_ERR_INVALID,
                                         "packet %zu: left the %s before it entered",
                                         i, side ? "shadow" : "production chain");
            }
        }
    }
    return NULL;
}

/* ---- grouping ---- */

static uint64_t
flow_hash(const struct flow5 *f, uint16_t cls)
{
    uint64_t h = ((uint64_t) f->sip << 32 | f->dip) * 0x9e3779b97f4a7c15ULL;
    h ^= ((uint64_t) f->sport << 32 | (uint64_t) f->dport << 16 | f->proto) +
         ((uint64_t) cls << 40);
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

static bool
flow_eq(const struct compare_pkt *a, const struct compare_pkt *b)
{
    return a->cls == b->cls && a->flow.sip == b->flow.sip &&
           a->flow.dip == b->flow.dip && a->flow.sport == b->flow.sport &&
           a->flow.dport == b->flow.dport && a->flow.proto == b->flow.proto;
}

/* Numbers the flows (5-tuple and class) in order of first appearance: stores
 * each packet's flow in 'fidx' and the first packet of each flow in '*ret_first'.
 * Returns the number of flows. */
static size_t
number_flows(const struct compare_pkt *pkts, size_t n, size_t *fidx, size_t **ret_first)
{
    size_t cap = 16;
    while (cap < 2 * n) {
        cap *= 2;
    }
    size_t *slot = vnet_xcalloc(cap, sizeof *slot);   /* first packet + 1 */
    size_t *first = vnet_xcalloc(n + 1, sizeof *first);
    size_t *slot_flow = vnet_xcalloc(cap, sizeof *slot_flow);
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = flow_hash(&pkts[i].flow, pkts[i].cls) & (cap - 1);
        while (slot[h] && !flow_eq(&pkts[slot[h] - 1], &pkts[i])) {
            h = (h + 1) & (cap - 1);
        }
        if (!slot[h]) {
            slot[h] = i + 1;
            slot_flow[h] = nf;
            first[nf++] = i;
        }
        fidx[i] = slot_flow[h];
    }
    free(slot);
    free(slot_flow);
    *ret_first = first;
    return nf;
}

/* Groups 0..n-1 by 'key' (< k), keeping their order: members of group g are
 * idx[off[g] .. off[g+1]). */
static void
group_by(const size_t *key, size_t n, size_t k, size_t **ret_off, size_t **ret_idx)
{
    size_t *off = vnet_xcalloc(k + 1, sizeof *off);
    size_t *idx = vnet_xcalloc(n + 1, sizeof *idx);
    for (size_t i = 0; i < n; i++) {
        off[key[i] + 1]++;
    }
    for (size_t g = 0; g < k; g++) {
        off[g + 1] += off[g];
    }
    size_t *fill = vnet_xcalloc(k + 1, sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        idx[off[key[i]] + fill[key[i]]++] = i;
    }
    free(fill);
    *ret_off = off;
    *ret_idx = idx;
}

/* ---- per-side metrics ---- */

struct scratch {                /* sized for the largest group */
    double *a, *b;
    struct exit_rec {
        uint64_t t_exit, t_entry;
    } *ex;
    uint64_t *delays;
};

/* Counts and latency percentiles of one side over the packets idx[0..n). */
static void
basic_side(const struct compare_pkt *pkts, const size_t *idx, size_t n, int side,
           struct scratch *s, struct compare_side *out)
{
    *out = (struct compare_side) {.sent = n, .r = NAN, .mos = NAN,
                                  .jitter_us = NAN, .ipdv_p99_us = NAN};
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const struct compare_pkt *p = &pkts[idx[k]];
        switch (outcome(p, side)) {
        case COMPARE_DELIVERED:
            out->delivered++;
            break;
        case COMPARE_LOST:
            out->lost++;
            break;
        case COMPARE_CONSUMED:
            out->consumed++;
            break;
        case COMPARE_ALTERED:
            out->altered++;
            break;
        }
        if (exited(p, side)) {
            s->a[m++] = delay_ns(p, side) / 1e3;
        }
    }
    out->loss = n ? (double) out->lost / n : 0;
    out->mean_us = stats_mean(s->a, m);
    out->p50_us = stats_percentile_inplace(s->a, m, 50);
    out->p99_us = stats_percentile_inplace(s->a, m, 99);
}

static int
cmp_exit(const void *a_, const void *b_)
{
    const struct exit_rec *a = a_, *b = b_;
    if (a->t_exit != b->t_exit) {
        return a->t_exit < b->t_exit ? -1 : 1;
    }
    return (a->t_entry > b->t_entry) - (a->t_entry < b->t_entry);
}

/* A flow's side: basic metrics plus jitter and reordering (in exit order), delay
 * variation (in entry order; the |differences| are also appended to 'ipdv_out'
 * for the class) and, for VoIP, the E-model.  Stores the flow's minimum delay,
 * the playout reference of its sub-window MOS, in '*ret_dmin'. */
static void
flow_side(const struct compare_pkt *pkts, const size_t *idx, size_t n, int side,
          const struct emodel_config *ecfg, bool voip, struct scratch *s,
          struct compare_side *out, double *ipdv_out, size_t *n_ipdv_out,
          uint64_t *ret_dmin)
{
    basic_side(pkts, idx, n, side, s, out);

    size_t m = 0, nd = 0;
    uint64_t dmin = UINT64_MAX;
    bool have_prev = false;
    uint64_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        const struct compare_pkt *p = &pkts[idx[k]];
        s->delays[k] = EMODEL_LOST;
        if (!exited(p, side)) {
            continue;
        }
        uint64_t d = delay_ns(p, side);
        s->delays[k] = d;
        dmin = VNET_MIN(dmin, d);
        if (have_prev) {
            s->b[nd++] = fabs((double) d - (double) prev) / 1e3;
        }
        prev = d;
        have_prev = true;
        s->ex[m++] = (struct exit_rec) {exit_time(p, side), p->t_entry};
    }
    memcpy(ipdv_out + *n_ipdv_out, s->b, nd * sizeof *s->b);
    *n_ipdv_out += nd;
    out->ipdv_p99_us = stats_percentile_inplace(s->b, nd, 99);

    qsort(s->ex, m, sizeof *s->ex, cmp_exit);
    struct emodel_jitter j;
    emodel_jitter_init(&j);
    uint64_t max_entry = 0;
    for (size_t k = 0; k < m; k++) {
        emodel_jitter_update(&j, s->ex[k].t_entry, s->ex[k].t_exit);
        out->reordered += k && s->ex[k].t_entry < max_entry;
        max_entry = VNET_MAX(max_entry, s->ex[k].t_entry);
    }
    out->jitter_us = m >= 2 ? j.j_ns / 1e3 : NAN;

    if (voip && n) {
        struct emodel_result e;
        emodel_assess(ecfg, s->delays, n, EMODEL_LOST, &e);
        out->r = e.r;
        out->mos = e.mos;
    }
    *ret_dmin = dmin;
}

/* ---- sub-windows ---- */

/* The per-window series of one class, for the tests and the loss bound. */
struct series {
    double *d50, *d99, *dmos;   /* shadow - production, paired windows */
    size_t n_pairs, n_mos;
    double *sent, *dlost;       /* per window with packets */
    size_t n_windows;
};

/* One side's accumulators within the current window. */
struct window_side {
    double *lat;                /* latencies (us) of the packets that left */
    size_t n_lat;
    uint64_t lost;              /* LOST (the loss metric) */
    uint64_t gone, late;        /* VoIP: not played (lost or consumed), late */
    double delay_ms;            /* VoIP: sum over the packets that left */
};

static double
window_mos(const struct window_side *w, uint64_t sent, const struct emodel_config *ecfg)
{
    struct emodel_result e = {
        .e = (double) (w->gone + w->late) / sent,
        .mean_net_ms = w->n_lat ? w->delay_ms / w->n_lat : 0,
    };
    emodel_score(ecfg, &e);
    return e.mos;
}

static void
close_window(struct series *sr, struct window_side w[2], uint64_t sent, bool voip,
             const struct emodel_config *ecfg)
{
    if (!sent) {
        return;
    }
    sr->sent[sr->n_windows] = sent;
    sr->dlost[sr->n_windows++] = (double) w[1].lost - (double) w[0].lost;
    if (w[0].n_lat && w[1].n_lat) {
        double q[2][2];
        for (int side = 0; side < 2; side++) {
            q[side][0] = stats_percentile_inplace(w[side].lat, w[side].n_lat, 50);
            q[side][1] = stats_percentile_inplace(w[side].lat, w[side].n_lat, 99);
        }
        sr->d50[sr->n_pairs] = q[1][0] - q[0][0];
        sr->d99[sr->n_pairs++] = q[1][1] - q[0][1];
    }
    if (voip) {
        sr->dmos[sr->n_mos++] =
            window_mos(&w[1], sent, ecfg) - window_mos(&w[0], sent, ecfg);
    }
}

/* Walks a class's packets (in entry order) window by window. */
static void
class_series(const struct compare_pkt *pkts, const size_t *idx, size_t n, uint64_t t0,
             const struct compare_config *cfg, bool voip,
             const struct emodel_config *ecfg, const size_t *fidx,
             uint64_t (*flow_dmin)[2], struct series *sr)
{
    struct window_side w[2] = {0};
    for (int side = 0; side < 2; side++) {
        w[side].lat = vnet_xcalloc(n + 1, sizeof *w[side].lat);
    }
    uint64_t cur = UINT64_MAX, sent = 0;
    for (size_t k = 0; k < n; k++) {
        const struct compare_pkt *p = &pkts[idx[k]];
        uint64_t win = (p->t_entry - t0) / cfg->subwindow_ns;
        if (win != cur) {
            close_window(sr, w, sent, voip, ecfg);
            for (int side = 0; side < 2; side++) {
                double *keep = w[side].lat;
                w[side] = (struct window_side) {.lat = keep};
            }
            sent = 0;
            cur = win;
        }
        sent++;
        for (int side = 0; side < 2; side++) {
            struct window_side *ws = &w[side];
            ws->lost += outcome(p, side) == COMPARE_LOST;
            if (!exited(p, side)) {
                ws->gone++;
                continue;
            }
            uint64_t d = delay_ns(p, side);
            ws->lat[ws->n_lat++] = d / 1e3;
            ws->delay_ms += d / 1e6;
            ws->late += voip && emodel_late(ecfg, d, flow_dmin[fidx[idx[k]]][side]);
        }
    }
    close_window(sr, w, sent, voip, ecfg);
    free(w[0].lat);
    free(w[1].lat);
}

/* The loss increase r = sum(dlost)/sum(sent) over windows and its standard
 * error from the ratio estimator's variance across windows: losses come in
 * bursts, so packets are not independent, but windows nearly are.  The error is
 * INFINITY with fewer than two windows and some difference. */
static void
loss_increase(const struct series *sr, double *ret_inc, double *ret_se)
{
    double ss = 0, sd = 0;
    for (size_t w = 0; w < sr->n_windows; w++) {
        ss += sr->sent[w];
        sd += sr->dlost[w];
    }
    double r = ss ? sd / ss : 0, var = 0;
    bool any = false;
    for (size_t w = 0; w < sr->n_windows; w++) {
        double e = sr->dlost[w] - r * sr->sent[w];
        var += e * e;
        any |= sr->dlost[w] != 0;
    }
    size_t n = sr->n_windows;
    *ret_inc = r;
    if (n < 2) {
        *ret_se = any ? INFINITY : 0;
        return;
    }
    *ret_se = sqrt(var * n / (n - 1)) / ss;
}

/* ---- tests ---- */

/* Appends a test on 'x' (shadow - production per window) with the Wilcoxon
 * signed-rank test; 'higher_better' for MOS.  Sub-windows decorrelate packets,
 * but congestion can outlast a sub-window, so the variance is the
 * autocorrelation-robust one: with the plain test, identical chains under slow
 * congestion came out "significantly different" in about a fifth of the runs. */
static void
add_wilcoxon(struct compare_result *res, size_t cls, enum compare_metric metric,
             const double *x, size_t n, bool higher_better, double effect,
             bool practical)
{
    struct stats_result sr;
    struct compare_test t = {
        .cls = cls, .metric = metric, .method = "wilcoxon-signed-rank", .n = n,
        .effect = effect, .practical = practical, .statistic = NAN, .z = NAN,
        .p_two = 1,
    };
    if (!stats_wilcoxon_signed_rank_hac(x, n, 0, &sr)) {
        double p_better = higher_better ? sr.p_greater : sr.p_less;
        double p_worse = higher_better ? sr.p_less : sr.p_greater;
        t.statistic = sr.statistic;
        t.z = sr.z;
        t.p_two = sr.p_two;
        t.direction = p_better < p_worse ? -1 : p_worse < p_better ? 1 : 0;
    }
    res->tests[res->n_tests++] = t;
}

static double
relative(double shadow, double prod)
{
    if (prod > 0) {
        return (shadow - prod) / prod;
    }
    return shadow > 0 ? INFINITY : 0;
}

static void
add_class_tests(struct compare_result *res, size_t c, const struct series *sr,
                double loss_se, const struct compare_config *cfg)
{
    const struct compare_class_result *cr = &res->classes[c];
    if (sr->n_pairs >= cfg->min_pairs) {
        add_wilcoxon(res, c, COMPARE_LATENCY_P50, sr->d50, sr->n_pairs, false,
                     relative(cr->shadow.p50_us, cr->prod.p50_us), false);
        double e99 = relative(cr->shadow.p99_us, cr->prod.p99_us);
        add_wilcoxon(res, c, COMPARE_LATENCY_P99, sr->d99, sr->n_pairs, false, e99,
                     e99 <= -cfg->p99_gain);
    }
    if (cr->voip && sr->n_mos >= cfg->min_pairs) {
        double gain = cr->shadow.mos - cr->prod.mos;
        add_wilcoxon(res, c, COMPARE_MOS, sr->dmos, sr->n_mos, true, gain,
                     gain >= cfg->mos_gain);
    }

    /* McNemar takes packets as independent; losses come in bursts.  The
     * window-clustered z of the loss increase must agree: the larger p counts. */
    struct stats_result mc;
    stats_mcnemar(cr->lost_only_shadow, cr->lost_only_prod, &mc);
    double z = loss_se > 0 ? cr->loss_increase / loss_se : 0;
    double p_clustered =
        isinf(loss_se) ? 1 : VNET_MIN(1.0, 2 * stats_norm_cdf(-fabs(z)));
    double el = relative(cr->shadow.loss, cr->prod.loss);
    res->tests[res->n_tests++] = (struct compare_test) {
        .cls = c,
        .metric = COMPARE_LOSS,
        .method = "mcnemar+window-z",
        .n = mc.n,
        .statistic = mc.statistic,
        .z = mc.z,
        .p_two = fmax(mc.p_two, p_clustered),
        .direction = mc.p_less < mc.p_greater ? -1 : mc.p_greater < mc.p_less ? 1 : 0,
        .effect = el,
        .practical = cr->prod.loss > 0 && el <= -cfg->loss_gain,
    };
}

/* ---- the swap rule ---- */

static void VNET_PRINTF(2, 3)
appendf(char **s, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *more = vnet_xvasprintf(fmt, args);
    va_end(args);
    if (!*s) {
        *s = more;
        return;
    }
    char *joined = vnet_xasprintf("%s%s", *s, more);
    free(*s);
    free(more);
    *s = joined;
}

static char *
flow_to_string(const struct flow5 *f)
{
    const char *proto = f->proto == 17 ? "udp" : f->proto == 6 ? "tcp" : NULL;
    char p[16];
    snprintf(p, sizeof p, "%u", f->proto);
    return vnet_xasprintf("%u.%u.%u.%u:%u > %u.%u.%u.%u:%u %s", f->sip >> 24,
                          (f->sip >> 16) & 255, (f->sip >> 8) & 255, f->sip & 255,
                          f->sport, f->dip >> 24, (f->dip >> 16) & 255,
                          (f->dip >> 8) & 255, f->dip & 255, f->dport,
                          proto ? proto : p);
}

static void
describe_test(char **s, const struct compare_result *res, const struct compare_test *t)
{
    const struct compare_class_result *cr = &res->classes[t->cls];
    if (t->metric == COMPARE_MOS) {
        appendf(s, "MOS of class '%s' %+.2f (%.2f -> %.2f)", cr->name, t->effect,
                cr->prod.mos, cr->shadow.mos);
    } else if (t->metric == COMPARE_LOSS) {
        appendf(s, "loss of class '%s' %.3f%% -> %.3f%%", cr->name,
                100 * cr->prod.loss, 100 * cr->shadow.loss);
    } else {
        bool p99 = t->metric == COMPARE_LATENCY_P99;
        appendf(s, "%s latency of class '%s' %+.1f%% (%.1f -> %.1f us)",
                p99 ? "P99" : "median", cr->name, 100 * t->effect,
                p99 ? cr->prod.p99_us : cr->prod.p50_us,
                p99 ? cr->shadow.p99_us : cr->shadow.p50_us);
    }
    appendf(s, ", %s p_holm %.2g", t->method, t->p_holm);
}

static void
decide(struct compare_result *res, const struct compare_input *in,
       const struct compare_config *cfg)
{
    struct compare_reason *cl = res->clauses;

    /* (i) */
    const struct compare_test *best = NULL;
    for (size_t i = 0; i < res->n_tests; i++) {
        const struct compare_test *t = &res->tests[i];
        if (t->significant && t->direction < 0 && t->metric != COMPARE_LATENCY_P50 &&
            (!best || (t->practical && !best->practical) ||
             (t->practical == best->practical && t->p_holm < best->p_holm))) {
            best = t;
        }
    }
    cl[COMPARE_CLAUSE_IMPROVEMENT].ok = best && best->practical;
    if (cl[COMPARE_CLAUSE_IMPROVEMENT].ok) {
        appendf(&cl[COMPARE_CLAUSE_IMPROVEMENT].text, "better: ");
        describe_test(&cl[COMPARE_CLAUSE_IMPROVEMENT].text, res, best);
    } else {
        appendf(&cl[COMPARE_CLAUSE_IMPROVEMENT].text,
                "no key metric significantly better by a practical margin (P99 "
                "-%.0f%%, MOS +%.2f, loss -%.0f%%)",
                100 * cfg->p99_gain, cfg->mos_gain, 100 * cfg->loss_gain);
        if (best) {
            appendf(&cl[COMPARE_CLAUSE_IMPROVEMENT].text, "; closest: ");
            describe_test(&cl[COMPARE_CLAUSE_IMPROVEMENT].text, res, best);
        }
    }

    /* (ii) A significant change for the worse counts unless it stays inside the
     * non-inferiority margin of its metric (latency +10 %, MOS -0.1); loss has its
     * own bound below.  Changes inside the margin are reported, not held against
     * the shadow. */
    bool regression = false, unproven = false;
    char *text = NULL, *tolerated = NULL;
    for (size_t i = 0; i < res->n_tests; i++) {
        const struct compare_test *t = &res->tests[i];
        if (!t->significant || t->direction <= 0) {
            continue;
        }
        bool within = (t->metric == COMPARE_LATENCY_P50 || t->metric == COMPARE_LATENCY_P99)
                      ? t->effect <= cfg->latency_margin
                      : t->metric == COMPARE_MOS ? t->effect >= -cfg->mos_margin : false;
        char **into = within ? &tolerated : &text;
        appendf(into, "%s%s: ", *into ? "; " : "", within ? "within margin" : "worse");
        describe_test(into, res, t);
        regression |= !within;
    }
    for (size_t c = 0; c < res->n_classes; c++) {
        const struct compare_class_result *cr = &res->classes[c];
        if (!(cr->loss_increase_ucb < cfg->loss_margin)) {
            appendf(&text, "%sloss of class '%s' may rise by up to %.3f pp (one-sided "
                    "%.0f%% bound; margin %.3f pp)",
                    text ? "; " : "", cr->name, 100 * cr->loss_increase_ucb,
                    100 * (1 - cfg->alpha), 100 * cfg->loss_margin);
            unproven = true;
        }
    }
    cl[COMPARE_CLAUSE_NO_REGRESSION].ok = !regression && !unproven;
    if (!text) {
        text = vnet_xasprintf("no metric significantly worse beyond its margin (latency "
                              "+%.0f%%, MOS -%.2f); loss increase under %.3f pp in every "
                              "class", 100 * cfg->latency_margin, cfg->mos_margin,
                              100 * cfg->loss_margin);
    }
    if (tolerated) {
        appendf(&text, " (%s)", tolerated);
        free(tolerated);
    }
    cl[COMPARE_CLAUSE_NO_REGRESSION].text = text;

    /* (iii) */
    text = NULL;
    size_t n_voip = 0;
    double worst = INFINITY;
    for (size_t f = 0; f < res->n_flows; f++) {
        const struct compare_flow_result *fr = &res->flows[f];
        if (!in->classes[fr->cls].voip) {
            continue;
        }
        n_voip++;
        worst = fmin(worst, fr->shadow.mos);
        if (!(fr->shadow.mos >= cfg->min_voip_mos)) {
            char *fs = flow_to_string(&fr->flow);
            appendf(&text, "%sVoIP flow %s has MOS %.2f < %.2f in the shadow",
                    text ? "; " : "", fs, fr->shadow.mos, cfg->min_voip_mos);
            free(fs);
        }
    }
    cl[COMPARE_CLAUSE_VOIP_QUALITY].ok = !text;
    cl[COMPARE_CLAUSE_VOIP_QUALITY].text =
        text ? text
        : n_voip
            ? vnet_xasprintf("all %zu VoIP flows have MOS >= %.2f in the shadow "
                             "(lowest %.2f)",
                             n_voip, cfg->min_voip_mos, worst)
            : vnet_xstrdup("no VoIP flows");

    /* (iv) */
    cl[COMPARE_CLAUSE_OBSERVATION].ok = res->duration_ns >= cfg->min_duration_ns &&
                                        res->n_subwindows >= cfg->min_subwindows;
    cl[COMPARE_CLAUSE_OBSERVATION].text = vnet_xasprintf(
        "observed %.1f s and %llu sub-windows of %.0f ms; need %.1f s and %llu",
        res->duration_ns / 1e9, (unsigned long long) res->n_subwindows,
        cfg->subwindow_ns / 1e6, cfg->min_duration_ns / 1e9,
        (unsigned long long) cfg->min_subwindows);

    /* (v) */
    text = NULL;
    uint64_t reverse = 0;
    for (size_t c = 0; c < res->n_classes; c++) {
        const struct compare_class_result *cr = &res->classes[c];
        reverse += cr->structural_reverse;
        if (cr->structural && !in->classes[c].untrusted) {
            appendf(&text, "%sthe shadow consumed or diverted %llu packets of class "
                    "'%s' that production delivered",
                    text ? "; " : "", (unsigned long long) cr->structural, cr->name);
        }
    }
    cl[COMPARE_CLAUSE_STRUCTURE].ok = !text;
    if (!text) {
        text = vnet_xstrdup("no legitimate packet consumed or diverted by the shadow "
                            "alone");
    }
    if (reverse) {
        appendf(&text, " (%llu packets consumed or diverted by production were "
                "delivered by the shadow)", (unsigned long long) reverse);
    }
    cl[COMPARE_CLAUSE_STRUCTURE].text = text;

    /* A definite defect of the shadow is a KEEP whatever the amount of data; then
     * too little data is INCONCLUSIVE; with enough, no practical improvement is a
     * KEEP; an improvement whose loss non-inferiority is not yet shown waits. */
    if (regression || !cl[COMPARE_CLAUSE_VOIP_QUALITY].ok ||
        !cl[COMPARE_CLAUSE_STRUCTURE].ok) {
        res->verdict = COMPARE_KEEP;
    } else if (!cl[COMPARE_CLAUSE_OBSERVATION].ok) {
        res->verdict = COMPARE_INCONCLUSIVE;
    } else if (!cl[COMPARE_CLAUSE_IMPROVEMENT].ok) {
        res->verdict = COMPARE_KEEP;
    } else if (unproven) {
        res->verdict = COMPARE_INCONCLUSIVE;
    } else {
        res->verdict = COMPARE_SWAP;
    }
}

/* ---- the run ---- */

struct vnet_error *
compare_run(const struct compare_input *in, const struct compare_config *cfg,
            struct compare_result **ret)
{
    struct vnet_error *error = check_input(in);
    if (error) {
        return error;
    }
    const struct compare_pkt *pkts = in->pkts;
    size_t n = in->n_pkts;
    struct compare_result *res = vnet_xzalloc(sizeof *res);
    res->n_pkts = n;
    res->n_classes = in->n_classes;
    res->classes = vnet_xcalloc(in->n_classes + 1, sizeof *res->classes);
    res->tests =
        vnet_xcalloc(in->n_classes * COMPARE_N_METRICS + 1, sizeof *res->tests);

    uint64_t t0 = n ? pkts[0].t_entry : 0;
    res->duration_ns = n ? pkts[n - 1].t_entry - t0 : 0;
    for (size_t i = 0; i < n; i++) {
        res->n_subwindows += !i || (pkts[i].t_entry - t0) / cfg->subwindow_ns !=
                                       (pkts[i - 1].t_entry - t0) / cfg->subwindow_ns;
    }

    size_t *fidx = vnet_xcalloc(n + 1, sizeof *fidx), *first;
    size_t nf = number_flows(pkts, n, fidx, &first);
    size_t *foff, *fmem, *coff, *cmem;
    group_by(fidx, n, nf, &foff, &fmem);
    size_t *ckey = vnet_xcalloc(n + 1, sizeof *ckey);
    for (size_t i = 0; i < n; i++) {
        ckey[i] = pkts[i].cls;
    }
    group_by(ckey, n, in->n_classes, &coff, &cmem);
    free(ckey);

    struct scratch s = {
        .a = vnet_xcalloc(n + 1, sizeof *s.a),
        .b = vnet_xcalloc(n + 1, sizeof *s.b),
        .ex = vnet_xcalloc(n + 1, sizeof *s.ex),
        .delays = vnet_xcalloc(n + 1, sizeof *s.delays),
    };
    double *ipdv[2] = {vnet_xcalloc(n + 1, sizeof(double)),
                       vnet_xcalloc(n + 1, sizeof(double))};
    uint64_t (*dmin)[2] = vnet_xcalloc(nf + 1, sizeof *dmin);

    res->n_flows = nf;
    res->flows = vnet_xcalloc(nf + 1, sizeof *res->flows);
    for (size_t c = 0; c < in->n_classes; c++) {
        const struct compare_class *cls = &in->classes[c];
        struct compare_class_result *cr = &res->classes[c];
        struct emodel_config ecfg = {.codec = cls->codec, .jb_ms = cfg->jb_ms};
        const size_t *members = cmem + coff[c];
        size_t nc = coff[c + 1] - coff[c];

        cr->name = vnet_xstrdup(cls->name);
        cr->voip = cls->voip;
        cr->min_flow_mos_shadow = NAN;
        for (int side = 0; side < 2; side++) {
            struct compare_side *cs = side ? &cr->shadow : &cr->prod;
            basic_side(pkts, members, nc, side, &s, cs);
            cs->jitter_us = cs->r = cs->mos = 0;
        }

        /* The class's flows, and what of them adds up to the class. */
        size_t n_flows = 0, n_ipdv[2] = {0, 0}, n_jitter[2] = {0, 0};
        for (size_t f = 0; f < nf; f++) {
            if (pkts[first[f]].cls != c) {
                continue;
            }
            struct compare_flow_result *fr = &res->flows[f];
            fr->flow = pkts[first[f]].flow;
            fr->cls = c;
            for (int side = 0; side < 2; side++) {
                struct compare_side *fs = side ? &fr->shadow : &fr->prod;
                struct compare_side *cs = side ? &cr->shadow : &cr->prod;
                flow_side(pkts, fmem + foff[f], foff[f + 1] - foff[f], side, &ecfg,
                          cls->voip, &s, fs, ipdv[side], &n_ipdv[side], &dmin[f][side]);
                cs->reordered += fs->reordered;
                if (!isnan(fs->jitter_us)) {
                    cs->jitter_us += fs->jitter_us;
                    n_jitter[side]++;
                }
                cs->r += fs->r;
                cs->mos += fs->mos;
            }
            cr->min_flow_mos_shadow = n_flows ? fmin(cr->min_flow_mos_shadow,
                                                     fr->shadow.mos)
                                              : fr->shadow.mos;
            n_flows++;
        }
        for (int side = 0; side < 2; side++) {
            struct compare_side *cs = side ? &cr->shadow : &cr->prod;
            cs->jitter_us = n_jitter[side] ? cs->jitter_us / n_jitter[side] : NAN;
            cs->r = cls->voip && n_flows ? cs->r / n_flows : NAN;
            cs->mos = cls->voip && n_flows ? cs->mos / n_flows : NAN;
            cs->ipdv_p99_us = stats_percentile_inplace(ipdv[side], n_ipdv[side], 99);
        }

        for (size_t k = 0; k < nc; k++) {
            const struct compare_pkt *p = &pkts[members[k]];
            bool lp = p->prod == COMPARE_LOST, ls = p->shadow == COMPARE_LOST;
            cr->lost_only_shadow += ls && !lp;
            cr->lost_only_prod += lp && !ls;
            bool sp = p->prod == COMPARE_CONSUMED || p->prod == COMPARE_ALTERED;
            bool ss = p->shadow == COMPARE_CONSUMED || p->shadow == COMPARE_ALTERED;
            cr->structural += ss && p->prod == COMPARE_DELIVERED;
            cr->structural_reverse += sp && p->shadow == COMPARE_DELIVERED;
        }

        struct series sr = {
            .d50 = vnet_xcalloc(nc + 1, sizeof(double)),
            .d99 = vnet_xcalloc(nc + 1, sizeof(double)),
            .dmos = vnet_xcalloc(nc + 1, sizeof(double)),
            .sent = vnet_xcalloc(nc + 1, sizeof(double)),
            .dlost = vnet_xcalloc(nc + 1, sizeof(double)),
        };
        class_series(pkts, members, nc, t0, cfg, cls->voip, &ecfg, fidx, dmin, &sr);
        cr->n_pairs = sr.n_pairs;
        double se;
        loss_increase(&sr, &cr->loss_increase, &se);
        cr->loss_increase_ucb =
            cr->loss_increase + stats_norm_quantile(1 - cfg->alpha) * se;
        add_class_tests(res, c, &sr, se, cfg);
        free(sr.d50);
        free(sr.d99);
        free(sr.dmos);
        free(sr.sent);
        free(sr.dlost);
    }

    /* Holm across classes x metrics: per-flow sub-window tests would have little
     * power, so flows are tested as their categories (spec E.3, step 1). */
    double *p = vnet_xcalloc(res->n_tests + 1, sizeof *p), *adj;
    bool *rej = vnet_xcalloc(res->n_tests + 1, sizeof *rej);
    adj = vnet_xcalloc(res->n_tests + 1, sizeof *adj);
    for (size_t i = 0; i < res->n_tests; i++) {
        p[i] = res->tests[i].p_two;
    }
    stats_holm(p, res->n_tests, cfg->alpha, adj, rej);
    for (size_t i = 0; i < res->n_tests; i++) {
        res->tests[i].p_holm = adj[i];
        res->tests[i].significant = rej[i] && res->tests[i].direction;
    }
    free(p);
    free(adj);
    free(rej);

    decide(res, in, cfg);

    free(s.a);
    free(s.b);
    free(s.ex);
    free(s.delays);
    free(ipdv[0]);
    free(ipdv[1]);
    free(dmin);
    free(fidx);
    free(first);
    free(foff);
    free(fmem);
    free(coff);
    free(cmem);
    *ret = res;
    return NULL;
}

void
compare_result_destroy(struct compare_result *res)
{
    if (!res) {
        return;
    }
    for (size_t c = 0; c < res->n_classes; c++) {
        free(res->classes[c].name);
    }
    for (int k = 0; k < COMPARE_N_CLAUSES; k++) {
        free(res->clauses[k].text);
    }
    free(res->classes);
    free(res->flows);
    free(res->tests);
    free(res);
}

/* ---- rendering ---- */

static const char *const clause_ids[COMPARE_N_CLAUSES] = {"i", "ii", "iii", "iv", "v"};
static const char *const clause_names[COMPARE_N_CLAUSES] = {
    "improvement", "no-regression", "voip-quality", "observation", "structure"};

static void
jadd_num(struct json_object *o, const char *key, double v)
{
    json_object_object_add(o, key, isfinite(v) ? json_object_new_double(v) : NULL);
}

static void
jadd_int(struct json_object *o, const char *key, uint64_t v)
{
    json_object_object_add(o, key, json_object_new_int64((int64_t) v));
}

static void
jadd_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *
side_to_json(const struct compare_side *s)
{
    struct json_object *o = json_object_new_object();
    jadd_int(o, "sent", s->sent);
    jadd_int(o, "delivered", s->delivered);
    jadd_int(o, "lost", s->lost);
    jadd_int(o, "consumed", s->consumed);
    jadd_int(o, "altered", s->altered);
    jadd_num(o, "loss", s->loss);
    jadd_num(o, "mean_us", s->mean_us);
    jadd_num(o, "p50_us", s->p50_us);
    jadd_num(o, "p99_us", s->p99_us);
    jadd_num(o, "jitter_us", s->jitter_us);
    jadd_num(o, "ipdv_p99_us", s->ipdv_p99_us);
    jadd_int(o, "reordered", s->reordered);
    jadd_num(o, "r", s->r);
    jadd_num(o, "mos", s->mos);
    return o;
}

struct json_object *
compare_result_to_json(const struct compare_result *res)
{
    struct json_object *obj = json_object_new_object();
    jadd_str(obj, "verdict", compare_verdict_name(res->verdict));
    struct json_object *cls = json_object_new_array();
    for (int k = 0; k < COMPARE_N_CLAUSES; k++) {
        struct json_object *o = json_object_new_object();
        jadd_str(o, "clause", clause_ids[k]);
        jadd_str(o, "name", clause_names[k]);
        json_object_object_add(o, "ok", json_object_new_boolean(res->clauses[k].ok));
        jadd_str(o, "text", res->clauses[k].text);
        json_object_array_add(cls, o);
    }
    json_object_object_add(obj, "clauses", cls);
    jadd_int(obj, "packets", res->n_pkts);
    jadd_num(obj, "duration_s", res->duration_ns / 1e9);
    jadd_int(obj, "subwindows", res->n_subwindows);

    struct json_object *classes = json_object_new_array();
    for (size_t c = 0; c < res->n_classes; c++) {
        const struct compare_class_result *cr = &res->classes[c];
        struct json_object *o = json_object_new_object();
        jadd_str(o, "name", cr->name);
        json_object_object_add(o, "voip", json_object_new_boolean(cr->voip));
        json_object_object_add(o, "production", side_to_json(&cr->prod));
        json_object_object_add(o, "shadow", side_to_json(&cr->shadow));
        jadd_int(o, "paired_subwindows", cr->n_pairs);
        jadd_int(o, "lost_only_shadow", cr->lost_only_shadow);
        jadd_int(o, "lost_only_production", cr->lost_only_prod);
        jadd_num(o, "loss_increase", cr->loss_increase);
        jadd_num(o, "loss_increase_ucb", cr->loss_increase_ucb);
        jadd_int(o, "structural", cr->structural);
        jadd_int(o, "structural_reverse", cr->structural_reverse);
        json_object_array_add(classes, o);
    }
    json_object_object_add(obj, "classes", classes);

    struct json_object *flows = json_object_new_array();
    for (size_t f = 0; f < res->n_flows; f++) {
        const struct compare_flow_result *fr = &res->flows[f];
        struct json_object *o = json_object_new_object();
        char *fs = flow_to_string(&fr->flow);
        jadd_str(o, "flow", fs);
        free(fs);
        jadd_str(o, "class", res->classes[fr->cls].name);
        json_object_object_add(o, "production", side_to_json(&fr->prod));
        json_object_object_add(o, "shadow", side_to_json(&fr->shadow));
        json_object_array_add(flows, o);
    }
    json_object_object_add(obj, "flows", flows);

    struct json_object *tests = json_object_new_array();
    for (size_t i = 0; i < res->n_tests; i++) {
        const struct compare_test *t = &res->tests[i];
        struct json_object *o = json_object_new_object();
        jadd_str(o, "class", res->classes[t->cls].name);
        jadd_str(o, "metric", metric_names[t->metric]);
        jadd_str(o, "method", t->method);
        jadd_int(o, "n", t->n);
        jadd_num(o, "statistic", t->statistic);
        jadd_num(o, "z", t->z);
        jadd_num(o, "p", t->p_two);
        jadd_num(o, "p_holm", t->p_holm);
        jadd_str(o, "direction", t->direction < 0   ? "shadow-better"
                                 : t->direction > 0 ? "shadow-worse"
                                                    : "none");
        json_object_object_add(o, "significant",
                               json_object_new_boolean(t->significant));
        jadd_num(o, "effect", t->effect);
        json_object_object_add(o, "practical", json_object_new_boolean(t->practical));
        json_object_array_add(tests, o);
    }
    json_object_object_add(obj, "tests", tests);
    return obj;
}

static void
side_line(char **s, const char *cls, const char *chain, const struct compare_side *c)
{
    appendf(s, "  %-12s %-10s %8llu %8.3f%% %10.1f %10.1f %10.1f %8llu", cls, chain,
            (unsigned long long) c->sent, 100 * c->loss, c->p50_us, c->p99_us,
            c->jitter_us, (unsigned long long) c->reordered);
    if (!isnan(c->mos)) {
        appendf(s, " %5.2f", c->mos);
    }
    appendf(s, "\n");
}

char *
compare_result_to_text(const struct compare_result *res)
{
    char *s = vnet_xasprintf("Verdict: %s\n", compare_verdict_name(res->verdict));
    for (int k = 0; k < COMPARE_N_CLAUSES; k++) {
        appendf(&s, "  (%s)%*s %-4s %s\n", clause_ids[k],
                3 - (int) strlen(clause_ids[k]), "", res->clauses[k].ok ? "ok" : "FAIL",
                res->clauses[k].text);
    }
    appendf(&s, "\n  %-12s %-10s %8s %9s %10s %10s %10s %8s %5s\n", "class", "chain",
            "sent", "loss", "p50 us", "p99 us", "jitter us", "reorder", "MOS");
    for (size_t c = 0; c < res->n_classes; c++) {
        const struct compare_class_result *cr = &res->classes[c];
        side_line(&s, cr->name, "production", &cr->prod);
        side_line(&s, "", "shadow", &cr->shadow);
    }
    if (res->n_tests) {
        appendf(&s, "\nTests (Holm across %zu):\n", res->n_tests);
    }
    for (size_t i = 0; i < res->n_tests; i++) {
        const struct compare_test *t = &res->tests[i];
        appendf(&s, "  %-12s %-12s %-21s n=%-6zu p=%-9.3g p_holm=%-9.3g %s%s\n",
                res->classes[t->cls].name, metric_names[t->metric], t->method, t->n,
                t->p_two, t->p_holm,
                !t->significant    ? "not significant"
                : t->direction < 0 ? "shadow better"
                                   : "shadow worse",
                t->practical ? ", practical" : "");
    }
    return s;
}
