/* bench-accuracy -- how often Microscope names the true culprit (spec F.1 metrics)
 * on simulated scenarios S1-S9 diagnosed offline: simulate -> write the capture
 * directory and truth.json -> offline_load() -> microscope_diagnose() -> join each
 * diagnosed victim with the counterfactual truth (tests/sim/sim-truth.h).
 *
 *   bench-accuracy [--seeds N] [--classes S1,S2,...] [--input offline|direct|both]
 *                  [--s9-ms MS] [--scale F] [--jitter J] [--dir DIR] [--keep]
 *                  [--show N]
 *
 * Per class: affected victims (truth), how many the diagnoser flagged as victims
 * at the same NF ("recall"), and over those the rank of the true culprit in the
 * victim's blame list: acc@1, acc@3, mean reciprocal rank.  Then the class-specific
 * criteria of F.2: S4b's at-capacity label, S6's culprit order and ratio error,
 * S7's shaper rank, S9's false alarms (a culprit above 20% of the score in a 1 s
 * window), S2/S8 with count weighting (A.10), and S3/S4a with the peak rate
 * estimated online instead of calibrated (the expected shift of blame to source).
 * It prints figures; it asserts nothing.  "direct" diagnoses the simulator's
 * exact hop records instead of the pcaps (no matching), for comparison. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag/microscope.h"
#include "diag/offline.h"
#include "diag/trace.h"
#include "diag/u64map.h"
#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim-truth.h"
#include "tests/sim/sim.h"

#define MS UINT64_C(1000000)
#define MAX_CLASSES 16
#define MAX_RATIOS (1u << 20)

struct opts {
    unsigned seeds;
    const char *classes[MAX_CLASSES];
    size_t n_classes;
    bool offline, direct;
    uint64_t s9_ms;
    double scale;
    const char *dir;
    bool keep;
    unsigned show;              /* sample victims printed per run */
    double jitter;              /* service-time jitter of every NF */
};

/* Accuracy over a set of diagnosed affected victims. */
struct acc {
    double n, hit1, hit3, rr;
};

static void
acc_add(struct acc *a, size_t rank)
{
    a->n++;
    a->hit1 += rank == 1;
    a->hit3 += rank >= 1 && rank <= 3;
    a->rr += rank ? 1.0 / (double) rank : 0;
}

struct cls_stats {
    const char *name;
    unsigned runs, failed;
    double affected, flagged, joined, unaffected_flagged;
    struct acc acc, acc_nf[SIM_MAX_NFS];
    char nf_names[SIM_MAX_NFS][SIM_NAME_MAX];
    size_t n_nf_names;
    struct acc acc_label;       /* S4b: the at-capacity label counts as naming vpn */
    unsigned labelled_runs;
    double s6_pairs, s6_ties, s6_ordered, s6_order_ok;
    double *ratio_err;          /* S6 */
    size_t n_ratio;
    double shaper_top2, shaper_seen;    /* S7: all diagnosed victims */
    double shaper_top2_aff, shaper_seen_aff;    /* S7: affected ones */
    double shaper_share, shaper_above3;         /* S7: affected ones */
    unsigned windows, false_alarms;     /* S9 */
    double max_share;
    struct acc acc_count;       /* S2/S8 with count weighting */
    struct acc acc_online;      /* S3/S4a with the online peak rate */
    double online_score[3], calib_score[3];     /* culprit NF, source, other */
    double t_sim, t_write, t_load, t_diag;
};

static double
now_s(void)
{
    return (double) vnet_mono_ns() / 1e9;
}

/* ---- Joining diagnosis and truth. ---- */

static uint64_t
victim_key(const char *nf, const struct flow5 *f, uint64_t t_ingress)
{
    uint64_t h = 0;
    for (const char *c = nf; *c; c++) {
        h = u64map_mix(h ^ (uint8_t) *c);
    }
    h = u64map_mix(h ^ ((uint64_t) f->sip << 32 | f->dip));
    h = u64map_mix(h ^ ((uint64_t) f->sport << 24 | (uint64_t) f->dport << 8
                        | f->proto));
    h = u64map_mix(h ^ t_ingress);
    return h ? h : 1;
}

static bool
flow_eq(const struct flow5 *a, const struct flow5 *b)
{
    return a->sip == b->sip && a->dip == b->dip && a->sport == b->sport
           && a->dport == b->dport && a->proto == b->proto;
}

struct join {
    const struct diag_trace *trace;
    const struct sim_truth *truth;
    struct u64map by_key;       /* victim key -> truth victim index + 1 */
    struct u64map by_uid;       /* uid + 1 -> trace pkt index */
};

static void
join_init(struct join *j, const struct diag_trace *trace, const struct sim_truth *truth)
{
    *j = (struct join) { trace, truth, U64MAP_INITIALIZER, U64MAP_INITIALIZER };
    for (size_t i = 0; i < truth->n_victims; i++) {
        const struct sim_truth_victim *v = &truth->victims[i];
        u64map_slot(&j->by_key, victim_key(truth->nf_names[v->nf], &v->flow,
                                           v->t_ingress), NULL)->u = i + 1;
    }
    for (size_t i = 0; i < trace->n_pkts; i++) {
        u64map_slot(&j->by_uid, trace->pkts[i].uid + 1, NULL)->u = i;
    }
}

static void
join_destroy(struct join *j)
{
    u64map_destroy(&j->by_key);
    u64map_destroy(&j->by_uid);
}

static const struct pkt *
join_pkt(const struct join *j, uint64_t uid)
{
    union u64map_val *v = u64map_find(&j->by_uid, uid + 1);
    return v ? &j->trace->pkts[v->u] : NULL;
}

/* The truth victim of diagnosed victim 'dv', or NULL if it was not affected. */
static const struct sim_truth_victim *
join_victim(const struct join *j, const struct diag_victim *dv)
{
    const struct pkt *p = join_pkt(j, dv->uid);
    if (!p) {
        return NULL;
    }
    const char *nf = j->trace->nfs[dv->nf].name;
    union u64map_val *v = u64map_find(&j->by_key,
                                      victim_key(nf, &p->flow, p->t_ingress));
    if (!v) {
        return NULL;
    }
    const struct sim_truth_victim *tv = &j->truth->victims[v->u - 1];
    bool same = !strcmp(j->truth->nf_names[tv->nf], nf) && flow_eq(&tv->flow, &p->flow)
                && tv->t_ingress == p->t_ingress;
    return same ? tv : NULL;
}

/* Whether blame entry 'b' names fault 'f'.  An under-provisioned NF (a rate fault)
 * is also named by its BACKLOG pseudo-culprit (sustained overload, A.5). */
static bool
blame_names(const struct diag_trace *t, const struct diag_blame *b,
            const struct sim_truth_fault *f)
{
    if (f->culprit == SIM_CULPRIT_FLOW) {
        return b->kind == DIAG_CULPRIT_FLOW && flow_eq(&b->flow, &f->flow);
    }
    bool kind = b->kind == DIAG_CULPRIT_NF
                || (b->kind == DIAG_CULPRIT_BACKLOG && f->fault.kind == SIM_FAULT_RATE);
    return kind && b->nf < t->n_nfs && !strcmp(t->nfs[b->nf].name, f->nf);
}

/* 1-based rank of fault 'f' in the blame list of 'dv', 0 if absent. */
static size_t
rank_of(const struct diag_trace *t, const struct diag_victim *dv,
        const struct sim_truth_fault *f)
{
    for (size_t i = 0; i < dv->n_blame; i++) {
        if (dv->blame[i].score > 0 && blame_names(t, &dv->blame[i], f)) {
            return i + 1;
        }
    }
    return 0;
}

/* The best rank of a true culprit of 'tv': every fault it is an affected victim
 * of whose contribution ties with the largest counts as the true culprit. */
static size_t
rank_of_truth(const struct join *j, const struct diag_victim *dv,
              const struct sim_truth_victim *tv)
{
    size_t best = 0;
    for (size_t i = 0; i < j->truth->n_faults; i++) {
        if ((tv->affected >> i & 1) && tv->contrib[i] >= tv->contrib[tv->top]) {
            size_t r = rank_of(j->trace, dv, &j->truth->faults[i]);
            best = r && (!best || r < best) ? r : best;
        }
    }
    return best;
}

static double
score_of(const struct diag_trace *t, const struct diag_victim *dv,
         const struct sim_truth_fault *f)
{
    double s = 0;
    for (size_t i = 0; i < dv->n_blame; i++) {
        s += blame_names(t, &dv->blame[i], f) ? dv->blame[i].score : 0;
    }
    return s;
}

static size_t
rank_of_nf(const struct diag_trace *t, const struct diag_victim *dv, const char *nf)
{
    for (size_t i = 0; i < dv->n_blame; i++) {
        const struct diag_blame *b = &dv->blame[i];
        if (b->kind == DIAG_CULPRIT_NF && b->score > 0
            && !strcmp(t->nfs[b->nf].name, nf)) {
            return i + 1;
        }
    }
    return 0;
}

static struct acc *
acc_for_nf(struct cls_stats *c, const char *nf)
{
    for (size_t i = 0; i < c->n_nf_names; i++) {
        if (!strcmp(c->nf_names[i], nf)) {
            return &c->acc_nf[i];
        }
    }
    if (c->n_nf_names == SIM_MAX_NFS) {
        return &c->acc_nf[SIM_MAX_NFS - 1];
    }
    vnet_strlcpy(c->nf_names[c->n_nf_names], nf, SIM_NAME_MAX);
    return &c->acc_nf[c->n_nf_names++];
}

static bool
labelled_at_capacity(const struct diag_report *rep, const char *nf)
{
    struct json_object *o = diag_report_to_json(rep), *labels;
    bool found = false;
    if (json_object_object_get_ex(o, "labels", &labels)) {
        for (size_t i = 0; i < json_object_array_length(labels); i++) {
            struct json_object *l = json_object_array_get_idx(labels, i), *n, *k;
            found |= json_object_object_get_ex(l, "nf", &n)
                     && json_object_object_get_ex(l, "label", &k)
                     && !strcmp(json_object_get_string(n), nf)
                     && !strcmp(json_object_get_string(k), "at-capacity");
        }
    }
    json_object_put(o);
    return found;
}

/* ---- Evaluation of one report. ---- */

static void
format_blame(const struct diag_trace *t, const struct diag_blame *b, char *buf,
             size_t size)
{
    static const char *const kinds[] = { "nf", "flow", "backlog", "unresolved" };
    if (b->kind == DIAG_CULPRIT_FLOW) {
        char f[80];
        sim_flow_format(&b->flow, f, sizeof f);
        snprintf(buf, size, "flow(%s)", f);
    } else {
        snprintf(buf, size, "%s:%s", kinds[b->kind], t->nfs[b->nf].name);
    }
}

/* Prints 'n' joined victims spread over the report, with truth and blame. */
static void
show_victims(const struct join *j, const struct diag_report *rep, unsigned n)
{
    size_t total = diag_report_n_victims(rep), shown = 0;
    for (size_t i = 0; i < total && shown < n; i++) {
        const struct diag_victim *dv = diag_report_victim(rep, i);
        const struct sim_truth_victim *tv = join_victim(j, dv);
        if (!tv || (i % VNET_MAX(total / (n * 4), 1))) {
            continue;
        }
        char name[64], f[80];
        sim_flow_format(&tv->flow, f, sizeof f);
        printf("  victim at %s pkt %u (%s) q %u%s truth %s (%.1f); blame:",
               j->trace->nfs[dv->nf].name, tv->pkt, f, tv->q,
               tv->dropped ? " dropped" : "",
               sim_truth_culprit_name(&j->truth->faults[tv->top], name, sizeof name),
               tv->contrib[tv->top]);
        for (size_t k = 0; k < dv->n_blame && k < 4; k++) {
            char b[128];
            format_blame(j->trace, &dv->blame[k], b, sizeof b);
            printf(" %s=%.2f", b, dv->blame[k].score);
        }
        printf("\n");
        shown++;
    }
}

static void
eval_main(struct cls_stats *c, const struct join *j, const struct diag_report *rep)
{
    const struct diag_trace *t = j->trace;
    const struct sim_truth *truth = j->truth;
    bool s4b = !strcmp(c->name, "S4b"), s6 = !strcmp(c->name, "S6");
    bool s7 = !strcmp(c->name, "S7");
    bool labelled = s4b && labelled_at_capacity(rep, "vpn");
    c->labelled_runs += labelled;
    c->affected += (double) truth->n_victims;
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *dv = diag_report_victim(rep, i);
        c->flagged++;
        if (s7) {
            size_t r = rank_of_nf(t, dv, "shaper");
            c->shaper_seen++;
            c->shaper_top2 += r == 1 || r == 2;
        }
        const struct sim_truth_victim *tv = join_victim(j, dv);
        if (!tv) {
            c->unaffected_flagged++;
            continue;
        }
        c->joined++;
        if (s7) {
            size_t r = rank_of_nf(t, dv, "shaper");
            double sum = 0, mine = 0;
            for (size_t k = 0; k < dv->n_blame; k++) {
                const struct diag_blame *b = &dv->blame[k];
                sum += b->score;
                mine += b->kind == DIAG_CULPRIT_NF && !strcmp(t->nfs[b->nf].name,
                                                              "shaper") ? b->score : 0;
            }
            c->shaper_seen_aff++;
            c->shaper_top2_aff += r == 1 || r == 2;
            c->shaper_share += sum > 0 ? mine / sum : 0;
            c->shaper_above3 += (r == 1 || r == 2) && mine >= 1;
        }
        size_t rank = rank_of_truth(j, dv, tv);
        acc_add(&c->acc, rank);
        acc_add(acc_for_nf(c, truth->nf_names[tv->nf]), rank);
        if (s4b) {
            /* Spec F.2: SOURCE dominant plus the label is the expected answer. */
            bool source_first = dv->n_blame && dv->blame[0].kind == DIAG_CULPRIT_FLOW;
            acc_add(&c->acc_label, rank == 1 || (labelled && source_first) ? 1 : rank);
        }
        if (s6 && truth->n_faults == 2 && tv->affected == 3
            && tv->contrib[0] > 0 && tv->contrib[1] > 0) {
            double s_nat = score_of(t, dv, &truth->faults[0]);
            double s_mon = score_of(t, dv, &truth->faults[1]);
            c->s6_pairs++;
            if (tv->contrib[1] == tv->contrib[0]) {
                c->s6_ties++;           /* either pause alone would not queue it */
            } else {
                c->s6_ordered++;
                c->s6_order_ok += (s_mon > s_nat) == (tv->contrib[1] > tv->contrib[0]);
            }
            double rt = tv->contrib[1] / tv->contrib[0];
            double err = s_nat > 0 ? fabs((s_mon / s_nat) / rt - 1) : INFINITY;
            if (c->n_ratio < MAX_RATIOS) {
                c->ratio_err[c->n_ratio++] = err;
            }
        }
    }
}

/* Shares of the blame of joined victims: [0] the true culprit NF, [1] source
 * flows, [2] everything else. */
static void
blame_shares(const struct join *j, const struct diag_report *rep, double out[3])
{
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *dv = diag_report_victim(rep, i);
        const struct sim_truth_victim *tv = join_victim(j, dv);
        if (!tv) {
            continue;
        }
        const struct sim_truth_fault *f = &j->truth->faults[tv->top];
        for (size_t k = 0; k < dv->n_blame; k++) {
            const struct diag_blame *b = &dv->blame[k];
            size_t slot = blame_names(j->trace, b, f) ? 0
                          : b->kind == DIAG_CULPRIT_FLOW ? 1 : 2;
            out[slot] += b->score;
        }
    }
}

static void
eval_acc_only(struct acc *a, const struct join *j, const struct diag_report *rep)
{
    for (size_t i = 0; i < diag_report_n_victims(rep); i++) {
        const struct diag_victim *dv = diag_report_victim(rep, i);
        const struct sim_truth_victim *tv = join_victim(j, dv);
        if (tv) {
            acc_add(a, rank_of_truth(j, dv, tv));
        }
    }
}

/* When victim 'dv' arrived (or was dropped) at its NF. */
static uint64_t
victim_time(const struct join *j, const struct diag_victim *dv)
{
    const struct pkt *p = join_pkt(j, dv->uid);
    uint64_t at = p ? p->t_ingress : j->trace->t_start;
    for (uint32_t h = 0; p && h < p->hop_cnt; h++) {
        const struct hop *hp = &j->trace->hops[p->hop_off + h];
        if (hp->nf == dv->nf) {
            at = hp->status == HOP_FORWARDED ? hp->t_arr : hp->t_drop;
        }
    }
    return at;
}

static uint64_t
culprit_key(const struct diag_blame *b)
{
    if (b->kind == DIAG_CULPRIT_FLOW) {
        return victim_key("flow", &b->flow, 0);
    }
    return u64map_mix((uint64_t) b->kind << 32 | b->nf) | 1;
}

/* S9: per full 1 s window of victim times, the largest share of one culprit (an
 * NF, a pseudo-culprit or one named source flow; "other flows" is not one
 * culprit).  A share above 20% is a false alarm. */
static void
eval_windows(struct cls_stats *c, const struct join *j, const struct diag_report *rep)
{
    const struct diag_trace *t = j->trace;
    size_t n = diag_report_n_victims(rep);
    if (!t->n_pkts) {
        return;
    }
    /* Windows at least 99% inside the capture (the last ingress ends it). */
    uint64_t span = t->pkts[t->n_pkts - 1].t_ingress - t->t_start;
    uint64_t n_win = (span + 10000000u) / 1000000000u;
    uint64_t *win = vnet_xmalloc(VNET_MAX(n, 1) * sizeof *win);
    for (size_t i = 0; i < n; i++) {
        uint64_t at = victim_time(j, diag_report_victim(rep, i));
        win[i] = (at - t->t_start) / 1000000000u;
    }
    struct u64map scores = U64MAP_INITIALIZER;
    const struct flow5 zero = { 0 };
    for (uint64_t w = 0; w < n_win; w++) {
        double total = 0, top = 0;
        uint64_t top_key = 0;
        u64map_clear(&scores);
        for (size_t i = 0; i < n; i++) {
            const struct diag_victim *dv = diag_report_victim(rep, i);
            for (size_t k = 0; win[i] == w && k < dv->n_blame; k++) {
                const struct diag_blame *b = &dv->blame[k];
                double wgt = diag_report_victim_weight(rep, i) * b->score;
                total += wgt;
                if (b->kind == DIAG_CULPRIT_FLOW && flow_eq(&b->flow, &zero)) {
                    continue;
                }
                union u64map_val *v = u64map_slot(&scores, culprit_key(b), NULL);
                v->d += wgt;
                if (v->d > top) {
                    top = v->d;
                    top_key = culprit_key(b);
                }
            }
        }
        if (total <= 0) {
            continue;
        }
        c->windows++;
        c->max_share = VNET_MAX(c->max_share, top / total);
        if (top / total > 0.2) {
            c->false_alarms++;
            for (size_t i = 0; i < n && top_key; i++) {
                const struct diag_victim *dv = diag_report_victim(rep, i);
                for (size_t k = 0; k < dv->n_blame && top_key; k++) {
                    if (culprit_key(&dv->blame[k]) == top_key) {
                        char name[128];
                        format_blame(t, &dv->blame[k], name, sizeof name);
                        printf("S9 false alarm: window %" PRIu64 " %s %.1f%% of %.0f\n",
                               w, name, 100 * top / total, total);
                        top_key = 0;
                    }
                }
            }
        }
    }
    u64map_destroy(&scores);
    free(win);
}

/* ---- One run. ---- */

static void
remove_run_dir(const char *dir, const struct sim_config *cfg)
{
    for (size_t f = 0; f < cfg->n_nfs; f++) {
        for (int out = 0; out < 2; out++) {
            char *p = vnet_xasprintf("%s/%s.%s.pcap", dir, cfg->nfs[f].name,
                                     out ? "out" : "in");
            unlink(p);
            free(p);
        }
    }
    char *p = vnet_xasprintf("%s/topology.json", dir);
    unlink(p);
    free(p);
    p = vnet_xasprintf("%s/truth.json", dir);
    unlink(p);
    free(p);
    rmdir(dir);
}

static struct vnet_error *
diagnose(const struct diag_trace *t, bool excess, struct diag_report **ret)
{
    struct microscope_config mc;
    microscope_config_init(&mc);
    mc.victims_per_s = 0;       /* every victim, so every one can be joined */
    mc.excess_weighting = excess;
    return microscope_diagnose(t, &mc, ret);
}

static void
run_one(struct cls_stats *c, const struct opts *o, uint64_t seed, bool offline)
{
    struct sim_config *cfg = vnet_xmalloc(sizeof *cfg);
    uint64_t duration = !strcmp(c->name, "S9") ? o->s9_ms * MS : 0;
    struct sim *sim = NULL;
    struct sim_result *r = NULL;
    struct sim_truth *truth = NULL, *loaded = NULL;
    struct diag_trace *trace = NULL;
    struct diag_report *rep = NULL;
    char *dir = vnet_xasprintf("%s/%s-%" PRIu64, o->dir, c->name, seed);
    char *truth_path = vnet_xasprintf("%s/truth.json", dir);

    double t0 = now_s();
    struct vnet_error *e = sim_scenario_config(c->name, seed, o->scale, duration, NULL,
                                               cfg);
    for (size_t i = 0; !e && i < cfg->n_nfs; i++) {
        cfg->nfs[i].service_jitter = o->jitter;
    }
    if (!e) {
        e = sim_create(cfg, &sim);
    }
    if (!e) {
        r = sim_run(sim, sim_all_faults(sim));
        truth = sim_truth_compute(r);
        c->t_sim += now_s() - t0;
        t0 = now_s();
        e = sim_write_offline(r, dir);
        if (!e) {
            e = sim_truth_write(truth, truth_path);
        }
        c->t_write += now_s() - t0;
    }
    if (!e) {
        /* The join goes through truth.json, as any other consumer would. */
        e = sim_truth_load(truth_path, &loaded);
    }
    if (!e) {
        t0 = now_s();
        if (offline) {
            e = offline_load(dir, &trace);
        } else {
            trace = sim_to_trace(r);
        }
        c->t_load += now_s() - t0;
    }
    if (!e) {
        t0 = now_s();
        e = diagnose(trace, true, &rep);
        c->t_diag += now_s() - t0;
    }
    if (e) {
        fprintf(stderr, "bench-accuracy: %s seed %" PRIu64 ": %s\n", c->name, seed,
                e->message);
        vnet_error_destroy(e);
        c->failed++;
        goto out;
    }
    c->runs++;
    struct join j;
    join_init(&j, trace, loaded);
    eval_main(c, &j, rep);
    if (o->show) {
        printf("%s seed %" PRIu64 ":\n", c->name, seed);
        show_victims(&j, rep, o->show);
    }
    if (!strcmp(c->name, "S9")) {
        eval_windows(c, &j, rep);
    }
    if (!strcmp(c->name, "S2") || !strcmp(c->name, "S8")) {
        struct diag_report *rc = NULL;
        if (!(e = diagnose(trace, false, &rc))) {
            eval_acc_only(&c->acc_count, &j, rc);
        }
        diag_report_destroy(rc);
    }
    if (!strcmp(c->name, "S3") || !strcmp(c->name, "S4a")) {
        /* Forget fw's calibrated rate: Microscope estimates it from busy windows,
         * which during the fault measure the degraded rate (A.3). */
        int fw = diag_trace_find_nf(trace, "fw");
        double saved = trace->nfs[fw].r_peak;
        struct diag_report *ro = NULL;
        blame_shares(&j, rep, c->calib_score);
        trace->nfs[fw].r_peak = 0;
        if (!(e = diagnose(trace, true, &ro))) {
            eval_acc_only(&c->acc_online, &j, ro);
            blame_shares(&j, ro, c->online_score);
        }
        trace->nfs[fw].r_peak = saved;
        diag_report_destroy(ro);
    }
    if (e) {
        fprintf(stderr, "bench-accuracy: %s seed %" PRIu64 " (variant): %s\n",
                c->name, seed, e->message);
        vnet_error_destroy(e);
    }
    join_destroy(&j);
out:
    if (!o->keep) {
        remove_run_dir(dir, cfg);
    }
    diag_report_destroy(rep);
    diag_trace_destroy(trace);
    sim_truth_destroy(loaded);
    sim_truth_destroy(truth);
    sim_result_destroy(r);
    sim_destroy(sim);
    free(truth_path);
    free(dir);
    free(cfg);
}

/* ---- Output. ---- */

static int
compare_double(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return (a > b) - (a < b);
}

static void
print_acc(const char *label, const struct acc *a)
{
    if (a->n > 0) {
        printf("%s acc@1 %5.1f%%  acc@3 %5.1f%%  MRR %.3f  (%.0f victims)\n", label,
               100 * a->hit1 / a->n, 100 * a->hit3 / a->n, a->rr / a->n, a->n);
    } else {
        printf("%s no diagnosed affected victim\n", label);
    }
}

static void
print_class(struct cls_stats *c)
{
    const struct acc *a = &c->acc;
    printf("%-4s %4u %3u %9.0f %9.0f %9.0f %6.1f%%", c->name, c->runs, c->failed,
           c->affected, c->flagged, c->joined,
           c->affected > 0 ? 100 * c->joined / c->affected : 0.0);
    if (a->n > 0) {
        printf("  %5.1f%%  %5.1f%%  %.3f", 100 * a->hit1 / a->n, 100 * a->hit3 / a->n,
               a->rr / a->n);
    } else {
        printf("  %6s  %6s  %5s", "-", "-", "-");
    }
    printf("  %5.1fs %5.1fs %5.1fs %5.1fs\n", c->t_sim, c->t_write, c->t_load,
           c->t_diag);
    for (size_t i = 0; i < c->n_nf_names; i++) {
        const struct acc *x = &c->acc_nf[i];
        if (x->n > 0) {
            printf("       at %-7s acc@1 %5.1f%%  acc@3 %5.1f%%  MRR %.3f  (%.0f)\n",
                   c->nf_names[i], 100 * x->hit1 / x->n, 100 * x->hit3 / x->n,
                   x->rr / x->n, x->n);
        }
    }
}

static void
print_specials(struct cls_stats *c)
{
    if (!strcmp(c->name, "S4b")) {
        printf("S4b: at-capacity label for vpn in %u of %u runs\n", c->labelled_runs,
               c->runs);
        print_acc("S4b: label-aware (source first + label = vpn named):",
                  &c->acc_label);
    }
    if (!strcmp(c->name, "S6")) {
        qsort(c->ratio_err, c->n_ratio, sizeof *c->ratio_err, compare_double);
        double med = c->n_ratio ? c->ratio_err[c->n_ratio / 2] : NAN;
        printf("S6: vpn victims of both pauses: %.0f, %.0f with equal contributions; "
               "order mon/nat as the counterfactual for %.1f%% of the others; median "
               "ratio error (all) %.1f%%\n", c->s6_pairs, c->s6_ties,
               c->s6_ordered > 0 ? 100 * c->s6_order_ok / c->s6_ordered : 0.0,
               100 * med);
    }
    if (!strcmp(c->name, "S7")) {
        printf("S7: shaper ranked 1st or 2nd for %.0f of %.0f affected victims "
               "(%.2f%%); for %.0f of all %.0f diagnosed victims (%.2f%%)\n",
               c->shaper_top2_aff, c->shaper_seen_aff,
               c->shaper_seen_aff > 0 ? 100 * c->shaper_top2_aff / c->shaper_seen_aff
                                      : 0.0,
               c->shaper_top2, c->shaper_seen,
               c->shaper_seen > 0 ? 100 * c->shaper_top2 / c->shaper_seen : 0.0);
        if (c->shaper_seen_aff > 0) {
            printf("S7: among affected victims the shaper's mean share of the blame "
                   "is %.2f%%; it ranks 1st/2nd with at least 1 packet of blame for "
                   "%.2f%%\n", 100 * c->shaper_share / c->shaper_seen_aff,
                   100 * c->shaper_above3 / c->shaper_seen_aff);
        }
    }
    if (!strcmp(c->name, "S9")) {
        printf("S9: %u windows of 1 s, %u with a culprit above 20%% of the score "
               "(largest share %.1f%%); %.1f false alarms per 10 min\n", c->windows,
               c->false_alarms, 100 * c->max_share,
               c->windows ? 600.0 * c->false_alarms / c->windows : 0.0);
    }
    if (!strcmp(c->name, "S2") || !strcmp(c->name, "S8")) {
        char label[64];
        snprintf(label, sizeof label, "%s: count weighting (A.10 default):", c->name);
        print_acc(label, &c->acc_count);
    }
    if (!strcmp(c->name, "S3") || !strcmp(c->name, "S4a")) {
        char label[64];
        snprintf(label, sizeof label, "%s: r_fw estimated online:", c->name);
        print_acc(label, &c->acc_online);
        for (int k = 0; k < 2; k++) {
            const double *s = k ? c->online_score : c->calib_score;
            double sum = s[0] + s[1] + s[2];
            if (sum > 0) {
                printf("%s: blame with r_fw %s: nf:fw %.1f%%, source %.1f%%, other "
                       "%.1f%%\n", c->name, k ? "online" : "calibrated",
                       100 * s[0] / sum, 100 * s[1] / sum, 100 * s[2] / sum);
            }
        }
    }
}

static void
run_all(const struct opts *o, bool offline)
{
    struct cls_stats *stats = vnet_xcalloc(o->n_classes, sizeof *stats);
    printf("\n== input: %s (%u seeds per class, scale %g, service jitter %g) ==\n",
           offline ? "offline (pcaps -> offline_load)" : "direct (exact hops)",
           o->seeds, o->scale, o->jitter);
    printf("%-4s %4s %3s %9s %9s %9s %7s  %6s  %6s  %5s  %6s %6s %6s %6s\n", "cls",
           "runs", "err", "affected", "flagged", "joined", "recall", "acc@1", "acc@3",
           "MRR", "sim", "write", "load", "diag");
    struct acc overall = { 0 }, overall_label = { 0 };
    for (size_t i = 0; i < o->n_classes; i++) {
        struct cls_stats *c = &stats[i];
        c->name = sim_scenario_find(o->classes[i])->name;
        c->ratio_err = vnet_xmalloc(MAX_RATIOS * sizeof *c->ratio_err);
        for (uint64_t seed = 1; seed <= o->seeds; seed++) {
            run_one(c, o, seed, offline);
        }
        print_class(c);
        fflush(stdout);
        if (strcmp(c->name, "S9")) {
            overall.n += c->acc.n;
            overall.hit1 += c->acc.hit1;
            overall.hit3 += c->acc.hit3;
            overall.rr += c->acc.rr;
            const struct acc *l = !strcmp(c->name, "S4b") ? &c->acc_label : &c->acc;
            overall_label.n += l->n;
            overall_label.hit1 += l->hit1;
            overall_label.hit3 += l->hit3;
            overall_label.rr += l->rr;
        }
    }
    print_acc("overall (S9 excluded, victim-weighted):", &overall);
    print_acc("overall, S4b label-aware:", &overall_label);
    double mean1 = 0;
    size_t n_cls = 0;
    for (size_t i = 0; i < o->n_classes; i++) {
        if (strcmp(stats[i].name, "S9") && stats[i].acc.n > 0) {
            mean1 += stats[i].acc.hit1 / stats[i].acc.n;
            n_cls++;
        }
    }
    if (n_cls) {
        printf("mean of per-class acc@1 (S9 excluded): %.1f%%\n", 100 * mean1 / n_cls);
    }
    for (size_t i = 0; i < o->n_classes; i++) {
        print_specials(&stats[i]);
        free(stats[i].ratio_err);
    }
    free(stats);
}

static void
usage(FILE *f)
{
    fputs("usage: bench-accuracy [--seeds N] [--classes S1,S2,...]\n"
          "                      [--input offline|direct|both] [--s9-ms MS]\n"
          "                      [--scale F] [--jitter J] [--dir DIR] [--keep]\n"
          "                      [--show N]\n", f);
}

static int
parse_classes(struct opts *o, char *list)
{
    o->n_classes = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!sim_scenario_find(tok) || o->n_classes == MAX_CLASSES) {
            fprintf(stderr, "bench-accuracy: --classes: expected names from S1..S9, "
                    "got '%s'\n", tok);
            return -EINVAL;
        }
        o->classes[o->n_classes++] = tok;
    }
    return o->n_classes ? 0 : -EINVAL;
}

int
main(int argc, char *argv[])
{
    static const struct option options[] = {
        { "seeds", required_argument, NULL, 'n' },
        { "classes", required_argument, NULL, 'c' },
        { "input", required_argument, NULL, 'i' },
        { "s9-ms", required_argument, NULL, '9' },
        { "scale", required_argument, NULL, 'x' },
        { "dir", required_argument, NULL, 'd' },
        { "keep", no_argument, NULL, 'k' },
        { "show", required_argument, NULL, 's' },
        { "jitter", required_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts o = { .seeds = 20, .offline = true, .s9_ms = 2000, .scale = 1,
                      .dir = "/tmp/bench-accuracy" };
    for (size_t i = 0; i < sim_scenario_count(); i++) {
        o.classes[o.n_classes++] = sim_scenario_at(i)->name;
    }
    unsigned long long v;
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (vnet_parse_uint(optarg, 1, 100000, &v)) {
                fprintf(stderr, "bench-accuracy: --seeds: expected 1..100000, got "
                        "'%s'\n", optarg);
                return 1;
            }
            o.seeds = (unsigned) v;
            break;
        case 'c':
            if (parse_classes(&o, optarg)) {
                return 1;
            }
            break;
        case 'i':
            o.offline = !strcmp(optarg, "offline") || !strcmp(optarg, "both");
            o.direct = !strcmp(optarg, "direct") || !strcmp(optarg, "both");
            if (!o.offline && !o.direct) {
                fprintf(stderr, "bench-accuracy: --input: expected offline, direct or "
                        "both, got '%s'\n", optarg);
                return 1;
            }
            break;
        case '9':
            if (vnet_parse_uint(optarg, 1, 3600000, &v)) {
                fprintf(stderr, "bench-accuracy: --s9-ms: expected 1..3600000, got "
                        "'%s'\n", optarg);
                return 1;
            }
            o.s9_ms = v;
            break;
        case 'x':
            errno = 0;
            o.scale = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(o.scale >= 1 && o.scale <= 1000)) {
                fprintf(stderr, "bench-accuracy: --scale: expected 1..1000, got "
                        "'%s'\n", optarg);
                return 1;
            }
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'j':
            errno = 0;
            o.jitter = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(o.jitter >= 0 && o.jitter <= 0.9)) {
                fprintf(stderr, "bench-accuracy: --jitter: expected 0..0.9, got "
                        "'%s'\n", optarg);
                return 1;
            }
            break;
        case 'k':
            o.keep = true;
            break;
        case 's':
            if (vnet_parse_uint(optarg, 0, 1000, &v)) {
                fprintf(stderr, "bench-accuracy: --show: expected 0..1000, got "
                        "'%s'\n", optarg);
                return 1;
            }
            o.show = (unsigned) v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    int err = vnet_mkdir_p(o.dir, 0755);
    if (err) {
        fprintf(stderr, "bench-accuracy: --dir: %s: %s\n", o.dir, strerror(-err));
        return 1;
    }
    printf("bench-accuracy: Microscope vs counterfactual truth (spec F); columns: "
           "affected = truth victims, flagged = diagnosed victims, joined = both, "
           "recall = joined/affected; times are totals per class\n");
    if (o.offline) {
        run_all(&o, true);
    }
    if (o.direct) {
        run_all(&o, false);
    }
    return 0;
}
