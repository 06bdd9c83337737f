#include "diag/report.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Victims per chunk: a power of 2, so that finding victim i is a shift. */
#define VICTIM_CHUNK_BITS 16
#define BLAME_CHUNK 65536

size_t
diag_report_n_victims(const struct diag_report *rep)
{
    return rep->n_victims;
}

const struct diag_victim *
diag_report_victim(const struct diag_report *rep, size_t i)
{
    if (i >= rep->n_victims) {
        return NULL;
    }
    const struct diag_victim *chunk = rep->victims[i >> VICTIM_CHUNK_BITS].items;
    return &chunk[i & ((1u << VICTIM_CHUNK_BITS) - 1)];
}

double
diag_report_victim_weight(const struct diag_report *rep, size_t i)
{
    return i < rep->n_victims ? rep->weights[i] : 0;
}

/* Returns room for 'n' items of 'size' in the last of 'chunks', or in a new chunk
 * of at least 'chunk' items. */
static void *
chunk_alloc(struct diag_report_chunk **chunks, size_t *n_chunks, size_t n, size_t size,
            size_t chunk)
{
    struct diag_report_chunk *last = *n_chunks ? &(*chunks)[*n_chunks - 1] : NULL;
    if (!last || last->cap - last->n < n) {
        *chunks = vnet_xrealloc(*chunks, (*n_chunks + 1) * sizeof **chunks);
        last = &(*chunks)[(*n_chunks)++];
        last->cap = VNET_MAX(chunk, n);
        last->n = 0;
        last->items = vnet_xmalloc(last->cap * size);
    }
    void *p = (char *) last->items + last->n * size;
    last->n += n;
    return p;
}

struct diag_victim *
diag_report_add_victim(struct diag_report *rep, double weight)
{
    vnet_grow((void **) &rep->weights, &rep->cap_weights, rep->n_victims + 1,
              sizeof *rep->weights);
    rep->weights[rep->n_victims++] = weight;
    return chunk_alloc(&rep->victims, &rep->n_victim_chunks, 1, sizeof (struct diag_victim),
                       (size_t) 1 << VICTIM_CHUNK_BITS);
}

struct diag_blame *
diag_report_add_blames(struct diag_report *rep, size_t n)
{
    return chunk_alloc(&rep->blames, &rep->n_blame_chunks, n, sizeof (struct diag_blame),
                       BLAME_CHUNK);
}

static void
patterns_destroy(struct diag_report_pattern *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        patterns_destroy(p[i].victims, p[i].n_victims);
    }
    free(p);
}

void
diag_report_destroy(struct diag_report *rep)
{
    if (!rep) {
        return;
    }
    for (size_t i = 0; i < rep->n_victim_chunks; i++) {
        free(rep->victims[i].items);
    }
    free(rep->victims);
    free(rep->weights);
    for (size_t i = 0; i < rep->n_blame_chunks; i++) {
        free(rep->blames[i].items);
    }
    free(rep->blames);
    free(rep->culprits);
    for (size_t f = 0; f < rep->n_nfs; f++) {
        free(rep->nfs[f].culprits);
    }
    free(rep->nfs);
    patterns_destroy(rep->patterns, rep->n_patterns);
    free(rep->explanations);
    free(rep->relations);
    free(rep);
}

static const char *
nf_name(const struct diag_report *rep, uint32_t nf)
{
    return nf && nf < rep->n_nfs ? rep->nfs[nf].name : "?";
}

/* "nf:<name>", "source", "backlog:<name>" or "unresolved:<name>" into 'buf'. */
static void
culprit_name(const struct diag_report *rep, const struct diag_report_culprit *c,
             char *buf, size_t size)
{
    switch (c->kind) {
    case DIAG_CULPRIT_NF:
        snprintf(buf, size, "nf:%s", nf_name(rep, c->nf));
        break;
    case DIAG_CULPRIT_FLOW:
        snprintf(buf, size, "source");
        break;
    case DIAG_CULPRIT_BACKLOG:
        snprintf(buf, size, "backlog:%s", nf_name(rep, c->nf));
        break;
    default:
        snprintf(buf, size, "unresolved:%s", nf_name(rep, c->nf));
        break;
    }
}

static bool
is_pseudo(const struct diag_report_culprit *c)
{
    return c->kind == DIAG_CULPRIT_BACKLOG || c->kind == DIAG_CULPRIT_UNRESOLVED;
}

/* ---- JSON. ---- */

/* A double printed with 10 significant digits instead of json-c's 17. */
static struct json_object *
jnum(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.10g", v);
    return json_object_new_double_s(v, buf);
}

static void
jadd(struct json_object *o, const char *key, struct json_object *v)
{
    json_object_object_add(o, key, v);
}

static struct json_object *
culprit_json(const struct diag_report *rep, const struct diag_report_culprit *c,
             bool share)
{
    char name[DIAG_NF_NAME_MAX + 16];
    culprit_name(rep, c, name, sizeof name);
    struct json_object *o = json_object_new_object();
    jadd(o, "culprit", json_object_new_string(name));
    jadd(o, "score", jnum(c->score));
    if (share) {
        jadd(o, "share", jnum(c->share));
    }
    return o;
}

/* Two arrays from one sorted list: NF and source culprits (the contract's
 * "culprits") and the pseudo-culprits BACKLOG / UNRESOLVED. */
static void
culprits_json(const struct diag_report *rep, const struct diag_report_culprit *list,
              size_t n, bool share, struct json_object *obj)
{
    struct json_object *real = json_object_new_array();
    struct json_object *pseudo = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(is_pseudo(&list[i]) ? pseudo : real,
                              culprit_json(rep, &list[i], share));
    }
    jadd(obj, "culprits", real);
    jadd(obj, "pseudo_culprits", pseudo);
}

static void
cluster_json(const struct autofocus_cluster *c, struct json_object *o)
{
    char buf[32];
    uint16_t lo, hi;
    autofocus_format_ip(c, AUTOFOCUS_SRC, buf, sizeof buf);
    jadd(o, "src", json_object_new_string(buf));
    autofocus_format_ip(c, AUTOFOCUS_DST, buf, sizeof buf);
    jadd(o, "dst", json_object_new_string(buf));
    autofocus_port_range(c, AUTOFOCUS_SPORT, &lo, &hi);
    snprintf(buf, sizeof buf, "%u-%u", lo, hi);
    jadd(o, "sport", json_object_new_string(buf));
    autofocus_port_range(c, AUTOFOCUS_DPORT, &lo, &hi);
    snprintf(buf, sizeof buf, "%u-%u", lo, hi);
    jadd(o, "dport", json_object_new_string(buf));
    autofocus_format_proto(c, buf, sizeof buf);
    jadd(o, "proto", json_object_new_string(buf));
}

static struct json_object *
pattern_json(const struct diag_report *rep, const struct diag_report_pattern *p)
{
    struct json_object *o = json_object_new_object();
    struct diag_report_culprit cu = { .kind = p->kind, .nf = p->nf };
    char name[DIAG_NF_NAME_MAX + 16];
    culprit_name(rep, &cu, name, sizeof name);
    jadd(o, "culprit", json_object_new_string(name));
    cluster_json(&p->cluster, o);
    jadd(o, "score", jnum(p->score));
    if (p->rest) {
        jadd(o, "rest", json_object_new_boolean(true));
    }
    if (p->kind == DIAG_CULPRIT_FLOW && !p->rest) {
        jadd(o, "weight", jnum(p->cluster.weight));
        struct json_object *v = json_object_new_array();
        for (size_t i = 0; i < p->n_victims; i++) {
            const struct diag_report_pattern *vp = &p->victims[i];
            struct json_object *vo = json_object_new_object();
            cluster_json(&vp->cluster, vo);
            jadd(vo, "score", jnum(vp->score));
            if (vp->rest) {
                jadd(vo, "rest", json_object_new_boolean(true));
            }
            json_object_array_add(v, vo);
        }
        jadd(o, "victims", v);
    }
    return o;
}

static struct json_object *
flow_json(const struct flow5 *f)
{
    struct autofocus_cluster c;
    memset(&c, 0, sizeof c);
    c.key = *f;
    c.level[AUTOFOCUS_SRC] = c.level[AUTOFOCUS_DST] = 32;
    c.level[AUTOFOCUS_SPORT] = c.level[AUTOFOCUS_DPORT] = AUTOFOCUS_PORT_EXACT;
    c.level[AUTOFOCUS_PROTO] = AUTOFOCUS_PROTO_EXACT;
    struct json_object *o = json_object_new_object();
    cluster_json(&c, o);
    return o;
}

static void
hop_name(const struct diag_report *rep, uint32_t nf, char *buf, size_t size)
{
    if (nf == NF_SOURCE) {
        snprintf(buf, size, "source");
    } else {
        snprintf(buf, size, "nf:%s", nf_name(rep, nf));
    }
}

/* The hop with the largest NET credit: the one that shrank the spread most. */
static size_t
shrank_most(const struct diag_report_explanation *x)
{
    size_t best = 0;
    for (size_t j = 1; j < x->n_hops; j++) {
        if (x->hop_credit[j] > x->hop_credit[best]) {
            best = j;
        }
    }
    return best;
}

static struct json_object *
explanation_json(const struct diag_report *rep, const struct diag_report_explanation *x)
{
    struct json_object *o = culprit_json(rep, &x->culprit, false);
    jadd(o, "score", jnum(x->score));
    struct json_object *v = json_object_new_object();
    jadd(v, "uid", json_object_new_uint64(x->uid));
    jadd(v, "nf", json_object_new_string(nf_name(rep, x->nf)));
    jadd(v, "dropped", json_object_new_boolean(x->dropped));
    jadd(v, "service_time", json_object_new_boolean(x->service_time));
    jadd(v, "q", jnum(x->q));
    jadd(v, "backlog", jnum(x->q0));
    jadd(v, "tau_us", jnum(x->tau_ns / 1e3));
    jadd(v, "n_i", jnum(x->n_i));
    jadd(v, "n_p", jnum(x->n_p));
    jadd(v, "s_i", jnum(x->s_i));
    jadd(v, "s_p", jnum(x->s_p));
    jadd(v, "r_pps", jnum(x->r * 1e9));
    jadd(o, "victim", v);
    if (x->n_hops) {
        struct json_object *in = json_object_new_object();
        jadd(in, "t_exp_us", jnum(x->t_exp_ns / 1e3));
        struct json_object *hops = json_object_new_array();
        char name[DIAG_NF_NAME_MAX + 16];
        for (size_t j = 0; j < x->n_hops; j++) {
            struct json_object *h = json_object_new_object();
            hop_name(rep, x->hop_nf[j], name, sizeof name);
            jadd(h, "hop", json_object_new_string(name));
            jadd(h, "span_us", jnum(x->hop_span_ns[j] / 1e3));
            jadd(h, "credit_us", jnum(x->hop_credit[j] / 1e3));
            json_object_array_add(hops, h);
        }
        jadd(in, "hops", hops);
        hop_name(rep, x->hop_nf[shrank_most(x)], name, sizeof name);
        jadd(in, "shrank", json_object_new_string(name));
        jadd(o, "input", in);
    }
    return o;
}

struct json_object *
diag_report_to_json(const struct diag_report *rep)
{
    struct json_object *o = json_object_new_object();
    culprits_json(rep, rep->culprits, rep->n_culprits, true, o);

    struct json_object *pats = json_object_new_array();
    for (size_t i = 0; i < rep->n_patterns; i++) {
        json_object_array_add(pats, pattern_json(rep, &rep->patterns[i]));
    }
    jadd(o, "patterns", pats);
    jadd(o, "victims", json_object_new_uint64(rep->victims_found));
    jadd(o, "victims_diagnosed", json_object_new_uint64(rep->n_victims));
    jadd(o, "victim_packets", json_object_new_uint64(rep->victim_packets));
    jadd(o, "total_score", jnum(rep->total_score));

    struct json_object *nfs = json_object_new_object();
    struct json_object *uncal = json_object_new_array();
    struct json_object *labels = json_object_new_array();
    for (size_t f = 1; f < rep->n_nfs; f++) {
        const struct diag_report_nf *nf = &rep->nfs[f];
        struct json_object *n = json_object_new_object();
        jadd(n, "packets", json_object_new_uint64(nf->packets));
        jadd(n, "drops", json_object_new_uint64(nf->drops));
        jadd(n, "latency_p50_us", jnum((double) nf->lat_p50_ns / 1e3));
        jadd(n, "latency_p99_us", jnum((double) nf->lat_p99_ns / 1e3));
        jadd(n, "victims", json_object_new_uint64(nf->victims));
        jadd(n, "diagnosed", json_object_new_uint64(nf->diagnosed));
        jadd(n, "calibrated", json_object_new_boolean(nf->calibrated));
        if (nf->calibrated) {
            jadd(n, "r_pps", jnum(nf->r_pps));
            jadd(n, "r_source", json_object_new_string(nf->estimated ? "estimated"
                                                                     : "config"));
        }
        jadd(n, "busy_windows", json_object_new_uint64(nf->busy_windows));
        jadd(n, "arrival_pps", jnum(nf->arrival_pps));
        culprits_json(rep, nf->culprits, nf->n_culprits, false, n);
        if (nf->at_capacity) {
            char text[DIAG_NF_NAME_MAX + 48];
            snprintf(text, sizeof text, "%s at capacity (under-provisioned)", nf->name);
            struct json_object *l = json_object_new_object();
            jadd(l, "nf", json_object_new_string(nf->name));
            jadd(l, "label", json_object_new_string("at-capacity"));
            jadd(l, "text", json_object_new_string(text));
            jadd(l, "mean_local_share", jnum(nf->mean_local));
            json_object_array_add(labels, l);
        }
        if (!nf->calibrated) {
            json_object_array_add(uncal, json_object_new_string(nf->name));
        }
        jadd(nfs, nf->name, n);
    }
    jadd(o, "nfs", nfs);
    jadd(o, "uncalibrated", uncal);
    jadd(o, "labels", labels);

    struct json_object *expl = json_object_new_array();
    for (size_t i = 0; i < rep->n_explanations; i++) {
        json_object_array_add(expl, explanation_json(rep, &rep->explanations[i]));
    }
    jadd(o, "explanations", expl);

    struct json_object *rels = json_object_new_array();
    for (size_t i = 0; i < rep->n_relations; i++) {
        const struct diag_report_relation *r = &rep->relations[i];
        struct json_object *ro = culprit_json(rep, &r->culprit, false);
        jadd(ro, "score", jnum(r->score));
        jadd(ro, "victim_nf", json_object_new_string(nf_name(rep, r->vnf)));
        jadd(ro, "victim_flow", flow_json(&r->vflow));
        json_object_array_add(rels, ro);
    }
    jadd(o, "relations", rels);
    return o;
}

/* ---- Text. ---- */

struct text {
    char *s;
    size_t len, cap;
};

static void VNET_PRINTF(2, 3)
text_add(struct text *t, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *piece = vnet_xvasprintf(fmt, args);
    va_end(args);
    size_t n = strlen(piece);
    vnet_grow((void **) &t->s, &t->cap, t->len + n + 1, 1);
    memcpy(t->s + t->len, piece, n + 1);
    t->len += n;
    free(piece);
}

static void
text_cluster(struct text *t, const struct autofocus_cluster *c)
{
    char src[32], dst[32], proto[16];
    uint16_t slo, shi, dlo, dhi;
    autofocus_format_ip(c, AUTOFOCUS_SRC, src, sizeof src);
    autofocus_format_ip(c, AUTOFOCUS_DST, dst, sizeof dst);
    autofocus_port_range(c, AUTOFOCUS_SPORT, &slo, &shi);
    autofocus_port_range(c, AUTOFOCUS_DPORT, &dlo, &dhi);
    autofocus_format_proto(c, proto, sizeof proto);
    text_add(t, "%s:%u-%u -> %s:%u-%u %s", src, slo, shi, dst, dlo, dhi, proto);
}

static void
text_explanation(struct text *t, const struct diag_report *rep,
                 const struct diag_report_explanation *x)
{
    text_add(t, "        e.g. packet %llu at %s%s: ", (unsigned long long) x->uid,
             nf_name(rep, x->nf), x->dropped ? " (dropped)" : "");
    if (x->service_time) {
        text_add(t, "found an empty queue; its own service was slow\n");
        return;
    }
    text_add(t, "queue %.0f over %.1f us (n_i %.0f, n_p %.0f, r %.3f Mpps): "
             "S_i %.1f, S_p %.1f", x->q, x->tau_ns / 1e3, x->n_i, x->n_p, x->r * 1e3,
             x->s_i, x->s_p);
    if (x->q0 > 0) {
        text_add(t, ", backlog %.0f", x->q0);
    }
    text_add(t, "; blamed %.1f\n", x->score);
    if (!x->n_hops) {
        return;
    }
    text_add(t, "        input spread: expected %.1f us;", x->t_exp_ns / 1e3);
    char name[DIAG_NF_NAME_MAX + 16];
    for (size_t j = 0; j < x->n_hops; j++) {
        hop_name(rep, x->hop_nf[j], name, sizeof name);
        text_add(t, " %s %.1f us (credit %.1f)%s", name, x->hop_span_ns[j] / 1e3,
                 x->hop_credit[j] / 1e3, j + 1 < x->n_hops ? "," : "");
    }
    hop_name(rep, x->hop_nf[shrank_most(x)], name, sizeof name);
    text_add(t, "; shrank most: %s\n", name);
}

char *
diag_report_to_text(const struct diag_report *rep)
{
    struct text t = { 0 };
    char name[DIAG_NF_NAME_MAX + 16];
    text_add(&t, "Microscope: %llu victims (%llu packets, %zu diagnosed), "
             "total score %.1f packets\n", (unsigned long long) rep->victims_found,
             (unsigned long long) rep->victim_packets, rep->n_victims, rep->total_score);

    text_add(&t, "Culprits:\n");
    if (!rep->n_culprits) {
        text_add(&t, "    none\n");
    }
    for (size_t i = 0; i < rep->n_culprits; i++) {
        const struct diag_report_culprit *c = &rep->culprits[i];
        culprit_name(rep, c, name, sizeof name);
        text_add(&t, "  %2zu. %-24s %12.1f  %5.1f%%\n", i + 1, name, c->score,
                 100 * c->share);
        for (size_t j = 0; j < rep->n_explanations; j++) {
            const struct diag_report_explanation *x = &rep->explanations[j];
            if (x->culprit.kind == c->kind && x->culprit.nf == c->nf) {
                text_explanation(&t, rep, x);
            }
        }
    }

    if (rep->n_patterns) {
        text_add(&t, "Patterns:\n");
    }
    for (size_t i = 0; i < rep->n_patterns; i++) {
        const struct diag_report_pattern *p = &rep->patterns[i];
        struct diag_report_culprit cu = { .kind = p->kind, .nf = p->nf };
        culprit_name(rep, &cu, name, sizeof name);
        text_add(&t, "    %s %s ", name,
                 p->kind == DIAG_CULPRIT_FLOW ? "traffic" : "-> victims");
        if (p->rest) {
            text_add(&t, "(rest)");
        } else {
            text_cluster(&t, &p->cluster);
        }
        text_add(&t, " : %.1f\n", p->score);
        for (size_t j = 0; j < p->n_victims; j++) {
            text_add(&t, "        -> victims ");
            if (p->victims[j].rest) {
                text_add(&t, "(rest)");
            } else {
                text_cluster(&t, &p->victims[j].cluster);
            }
            text_add(&t, " : %.1f\n", p->victims[j].score);
        }
    }

    text_add(&t, "Per NF:\n");
    for (size_t f = 1; f < rep->n_nfs; f++) {
        const struct diag_report_nf *nf = &rep->nfs[f];
        text_add(&t, "    %-12s %llu packets, %llu drops, latency p50 %.1f us p99 %.1f us,"
                 " %llu victims (%llu diagnosed)", nf->name,
                 (unsigned long long) nf->packets, (unsigned long long) nf->drops,
                 (double) nf->lat_p50_ns / 1e3, (double) nf->lat_p99_ns / 1e3,
                 (unsigned long long) nf->victims, (unsigned long long) nf->diagnosed);
        if (!nf->calibrated) {
            text_add(&t, "; uncalibrated (no peak rate): not diagnosed\n");
            continue;
        }
        text_add(&t, "; r %.3f Mpps%s", nf->r_pps / 1e6,
                 nf->estimated ? " (estimated)" : "");
        for (size_t i = 0; i < nf->n_culprits && i < 3; i++) {
            culprit_name(rep, &nf->culprits[i], name, sizeof name);
            text_add(&t, "%s %s %.1f", i ? "," : "; culprits", name,
                     nf->culprits[i].score);
        }
        text_add(&t, "\n");
        if (nf->at_capacity) {
            text_add(&t, "        label: %s at capacity (under-provisioned)\n",
                     nf->name);
        }
    }
    return t.s;
}
