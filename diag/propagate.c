#include "diag/propagate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diag/attrib.h"
#include "diag/queueing.h"
#include "diag/trace.h"
#include "diag/u64map.h"
#include "lib/error.h"
#include "lib/util.h"

/* PreSet states kept per NF: recursion can come to one NF from two downstream
 * branches in turn, and each would otherwise reset the other's state. */
#define PROPAGATE_SLOTS 2

double
propagate_net(double t_exp, const double *spans, size_t k, double *credit)
{
    double prev = t_exp, discarded = 0;
    for (size_t j = 0; j < k; j++) {
        double delta = prev - spans[j];
        if (delta >= 0) {
            credit[j] = delta;
        } else {
            /* Hop j widened the spread: cancel the credit of the nearest earlier
             * hops that narrowed it.  Walking back over positive credits is the
             * spec's stack: a hop is popped exactly when its credit reaches 0. */
            credit[j] = 0;
            double deficit = -delta;
            for (size_t i = j; i-- > 0 && deficit > 0;) {
                if (credit[i] > 0) {
                    double take = VNET_MIN(credit[i], deficit);
                    credit[i] -= take;
                    deficit -= take;
                }
            }
            discarded += deficit;
        }
        prev = spans[j];
    }
    return discarded;
}

/* [CHOICE] NET over spans clamped at T_exp.  A spread of at least T_exp is one f
 * absorbs without excess, so narrowing it down to T_exp is harmless and earns no
 * credit.  Without the clamp, a hop that releases a backlog gathered over a long
 * time (SOURCE span >> T_exp) earns the whole source span, which over-blames the
 * path whose packets were sparsest: two NFs stalling together, one carrying twice
 * the other's rate, would split the first victims 2:1 towards the slower path
 * although both push the same rate into f.  The worked examples of A.7 and A.8
 * have every span below T_exp and are unchanged.  'credit' holds 2k. */
static void
net_clamped(double t_exp, const double *spans, size_t k, double *credit)
{
    double *clamped = &credit[k];
    for (size_t j = 0; j < k; j++) {
        clamped[j] = VNET_MIN(spans[j], t_exp);
    }
    propagate_net(t_exp, clamped, k, credit);
}

void
propagate_split(double t_exp, const struct propagate_group *g, size_t n_groups,
                double *src, double *nf, size_t n_nfs, double *credit)
{
    memset(nf, 0, n_nfs * sizeof *nf);
    double n_i = 0, total = 0;
    for (size_t i = 0; i < n_groups; i++) {
        n_i += (double) g[i].n;
    }
    for (size_t i = 0; i < n_groups; i++) {
        src[i] = 0;
        if (!g[i].n || !g[i].k) {
            continue;
        }
        net_clamped(t_exp, g[i].spans, g[i].k, credit);
        double w = (double) g[i].n / n_i;
        src[i] = w * credit[0];
        total += src[i];
        for (size_t j = 1; j < g[i].k; j++) {
            if (g[i].nfs[j] < n_nfs) {
                nf[g[i].nfs[j]] += w * credit[j];
                total += w * credit[j];
            }
        }
    }
    if (!(total > 0)) {
        memset(nf, 0, n_nfs * sizeof *nf);
        for (size_t i = 0; i < n_groups; i++) {
            src[i] = n_i > 0 ? (double) g[i].n / n_i : 0;
        }
        return;
    }
    for (size_t i = 0; i < n_groups; i++) {
        src[i] /= total;
    }
    for (size_t x = 0; x < n_nfs; x++) {
        nf[x] /= total;
    }
}

/* ---- The path trie. ---- */

struct trie_build {
    struct propagate_paths *p;
    size_t cap_nodes, cap_nfs, n_nfs;
    struct u64map children;     /* (parent + 1) << 32 | nf -> child + 1 */
};

static uint32_t
trie_child(struct trie_build *b, uint32_t parent, uint32_t nf)
{
    union u64map_val *slot = u64map_slot(&b->children,
                                         ((uint64_t) parent + 1) << 32 | nf, NULL);
    if (slot->u) {
        return (uint32_t) slot->u - 1;
    }
    struct propagate_paths *p = b->p;
    struct propagate_path par = p->nodes[parent];
    uint32_t id = (uint32_t) p->n_nodes++;
    vnet_grow((void **) &p->nodes, &b->cap_nodes, p->n_nodes, sizeof *p->nodes);
    size_t off = b->n_nfs;
    b->n_nfs += par.depth + 1;
    vnet_grow((void **) &p->path_nfs, &b->cap_nfs, b->n_nfs, sizeof *p->path_nfs);
    memcpy(&p->path_nfs[off], &p->path_nfs[par.off], par.depth * sizeof *p->path_nfs);
    p->path_nfs[off + par.depth] = nf;
    p->nodes[id] = (struct propagate_path) {
        .parent = parent, .depth = par.depth + 1, .off = (uint32_t) off, .gap = par.gap,
    };
    p->max_depth = VNET_MAX(p->max_depth, par.depth + 1);
    slot->u = id + 1;
    return id;
}

/* Does NF 'nf' accept packets from 'prev' (NF_SOURCE for ingress)? */
static bool
pred_ok(const struct diag_trace *t, const uint64_t *bits, size_t words, uint32_t prev,
        uint32_t nf)
{
    if (!t->nfs[nf].n_preds || prev >= t->n_nfs) {
        return true;
    }
    return bits[nf * words + prev / 64] >> (prev % 64) & 1;
}

struct vnet_error *
propagate_paths_build(const struct diag_trace *t, struct propagate_paths **ret)
{
    if (t->n_pkts >= UINT32_MAX) {
        return vnet_error_create(VNET_ERR_INVALID, "%zu packets: at most %" PRIu32
                                 " per analysis window", t->n_pkts, UINT32_MAX - 1);
    }
    struct propagate_paths *p = vnet_xzalloc(sizeof *p);
    struct trie_build b = { .p = p };
    struct vnet_error *error = NULL;
    size_t words = (t->n_nfs + 63) / 64;
    uint64_t *bits = vnet_xcalloc(VNET_MAX(t->n_nfs * words, 1), sizeof *bits);
    for (size_t f = 0; f < t->n_nfs; f++) {
        for (size_t i = 0; i < t->nfs[f].n_preds; i++) {
            uint32_t pr = t->nfs[f].preds[i];
            if (pr < t->n_nfs) {
                bits[f * words + pr / 64] |= UINT64_C(1) << (pr % 64);
            }
        }
    }

    p->n_nodes = 2;         /* 0: from ingress; 1: after a capture gap */
    vnet_grow((void **) &p->nodes, &b.cap_nodes, 2, sizeof *p->nodes);
    vnet_grow((void **) &p->path_nfs, &b.cap_nfs, 1, sizeof *p->path_nfs);
    p->nodes[0] = (struct propagate_path) { .gap = false };
    p->nodes[1] = (struct propagate_path) { .parent = 1, .gap = true };
    p->hop_path = vnet_xmalloc(VNET_MAX(t->n_hops, 1) * sizeof *p->hop_path);
    p->hop_pkt = vnet_xmalloc(VNET_MAX(t->n_hops, 1) * sizeof *p->hop_pkt);
    memset(p->hop_pkt, 0xff, VNET_MAX(t->n_hops, 1) * sizeof *p->hop_pkt);

    for (size_t k = 0; k < t->n_pkts && !error; k++) {
        const struct pkt *pk = &t->pkts[k];
        if (pk->hop_off > t->n_hops || pk->hop_cnt > t->n_hops - pk->hop_off) {
            error = vnet_error_create(VNET_ERR_INVALID, "packet %zu (uid %" PRIu64
                                      "): hops %" PRIu32 "..+%" PRIu32 " outside the "
                                      "%zu hops", k, pk->uid, pk->hop_off,
                                      pk->hop_cnt, t->n_hops);
            break;
        }
        uint32_t prev = NF_SOURCE, node = 0;
        for (uint32_t j = 0; j < pk->hop_cnt; j++) {
            size_t h = (size_t) pk->hop_off + j;
            uint32_t nf = t->hops[h].nf;
            if (p->hop_pkt[h] != UINT32_MAX) {
                error = vnet_error_create(VNET_ERR_INVALID, "hop %zu belongs to "
                                          "packets %" PRIu32 " and %zu", h,
                                          p->hop_pkt[h], k);
                break;
            }
            if (nf < t->n_nfs && !pred_ok(t, bits, words, prev, nf)) {
                node = 1;
            } else if (j) {
                node = trie_child(&b, node, prev);
            }
            p->hop_path[h] = node;
            p->hop_pkt[h] = (uint32_t) k;
            prev = nf;
        }
    }
    for (size_t h = 0; h < t->n_hops && !error; h++) {
        if (p->hop_pkt[h] == UINT32_MAX) {
            error = vnet_error_create(VNET_ERR_INVALID, "hop %zu (uid %" PRIu64
                                      ") belongs to no packet", h, t->hops[h].uid);
        }
    }
    free(bits);
    u64map_destroy(&b.children);
    if (error) {
        propagate_paths_destroy(p);
        return error;
    }
    *ret = p;
    return NULL;
}

void
propagate_paths_destroy(struct propagate_paths *p)
{
    if (!p) {
        return;
    }
    free(p->nodes);
    free(p->path_nfs);
    free(p->hop_path);
    free(p->hop_pkt);
    free(p);
}

/* ---- Incremental PreSet state. ---- */

struct acc_group {
    uint32_t path, k;           /* path node and its depth */
    size_t n;
    uint64_t *lo, *hi;          /* [k + 1] earliest / latest time at SOURCE and hops */
    uint32_t *best;             /* [k + 1] REPRESENTATIVE candidate hop (index 0 unused) */
    struct attrib_group flows;
};

struct acc_slot {
    bool live;
    uint32_t start, end;
    uint64_t used;
    struct acc_group *groups;
    size_t n_groups, cap_groups;
    uint32_t *group_of;         /* [n_nodes] group index + 1, or 0 */
};

struct propagate_ctx {
    const struct diag_trace *t;
    const struct queueing_index *idx;
    const struct propagate_paths *paths;
    struct attrib *attrib;
    struct acc_slot *slots;     /* [n_nfs * PROPAGATE_SLOTS] */
    uint64_t clock;
    size_t width;               /* max_depth + 1 */

    struct propagate_culprit *out;
    size_t n_out, cap_out;

    size_t cap_groups;          /* scratch for the split, per group */
    struct propagate_group *pg;
    double *spans, *src;
    uint32_t *nfs;
    double *nfw;                /* [n_nfs] */
    double *credit;             /* [2 * width] */

    struct propagate_evidence ev;
    double *ev_spans, *ev_credit;
    uint32_t *ev_nfs;
};

struct propagate_ctx *
propagate_ctx_create(const struct diag_trace *t, const struct queueing_index *idx,
                     const struct propagate_paths *paths, struct attrib *attrib)
{
    struct propagate_ctx *c = vnet_xzalloc(sizeof *c);
    c->t = t;
    c->idx = idx;
    c->paths = paths;
    c->attrib = attrib;
    c->width = (size_t) paths->max_depth + 1;
    c->slots = vnet_xcalloc(VNET_MAX(t->n_nfs, 1) * PROPAGATE_SLOTS, sizeof *c->slots);
    c->nfw = vnet_xcalloc(VNET_MAX(t->n_nfs, 1), sizeof *c->nfw);
    c->credit = vnet_xcalloc(2 * c->width, sizeof *c->credit);
    c->ev_spans = vnet_xcalloc(c->width, sizeof *c->ev_spans);
    c->ev_credit = vnet_xcalloc(c->width, sizeof *c->ev_credit);
    c->ev_nfs = vnet_xcalloc(c->width, sizeof *c->ev_nfs);
    return c;
}

void
propagate_ctx_destroy(struct propagate_ctx *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->t->n_nfs * PROPAGATE_SLOTS; i++) {
        struct acc_slot *s = &c->slots[i];
        for (size_t g = 0; g < s->cap_groups; g++) {
            if (s->groups[g].lo) {
                free(s->groups[g].lo);
                free(s->groups[g].hi);
                free(s->groups[g].best);
                attrib_group_destroy(&s->groups[g].flows);
            }
        }
        free(s->groups);
        free(s->group_of);
    }
    free(c->slots);
    free(c->out);
    free(c->pg);
    free(c->spans);
    free(c->src);
    free(c->nfs);
    free(c->nfw);
    free(c->credit);
    free(c->ev_spans);
    free(c->ev_credit);
    free(c->ev_nfs);
    free(c);
}

static void
slot_reset(struct acc_slot *s, uint32_t start)
{
    for (size_t g = 0; g < s->n_groups; g++) {
        s->group_of[s->groups[g].path] = 0;
        attrib_group_reset(&s->groups[g].flows);
    }
    s->n_groups = 0;
    s->start = s->end = start;
    s->live = true;
}

static struct acc_group *
slot_group(struct propagate_ctx *c, struct acc_slot *s, uint32_t path)
{
    uint32_t gi = s->group_of[path];
    if (gi) {
        return &s->groups[gi - 1];
    }
    if (s->n_groups == s->cap_groups) {
        size_t cap = s->cap_groups ? s->cap_groups * 2 : 4;
        s->groups = vnet_xrealloc(s->groups, cap * sizeof *s->groups);
        memset(&s->groups[s->cap_groups], 0,
               (cap - s->cap_groups) * sizeof *s->groups);
        s->cap_groups = cap;
    }
    struct acc_group *g = &s->groups[s->n_groups++];
    if (!g->lo) {
        g->lo = vnet_xmalloc(c->width * sizeof *g->lo);
        g->hi = vnet_xmalloc(c->width * sizeof *g->hi);
        g->best = vnet_xmalloc(c->width * sizeof *g->best);
        attrib_group_init(&g->flows);
    }
    g->path = path;
    g->k = c->paths->nodes[path].depth;
    g->n = 0;
    for (size_t j = 0; j <= g->k; j++) {
        g->lo[j] = UINT64_MAX;
        g->hi[j] = 0;
        g->best[j] = UINT32_MAX;
    }
    s->group_of[path] = (uint32_t) s->n_groups;
    return g;
}

static void
slot_extend(struct propagate_ctx *c, uint32_t f, struct acc_slot *s, uint32_t end)
{
    const struct queueing_nf *qn = &c->idx->nfs[f];
    const struct hop *hops = c->t->hops;
    const uint32_t *hop_q = c->idx->hop_q, *hop_pos = c->idx->hop_pos;
    for (uint32_t pos = s->end; pos < end; pos++) {
        uint32_t h = qn->hop[pos];
        uint32_t path = c->paths->hop_path[h];
        uint32_t pkt = c->paths->hop_pkt[h];
        struct acc_group *g = slot_group(c, s, path);
        uint32_t k = g->k;
        g->n++;

        /* SOURCE time: ingress, or the arrival after a capture gap (A.14). */
        uint64_t t = c->paths->nodes[path].gap ? hops[h - k].t_arr
                                               : c->t->pkts[pkt].t_ingress;
        g->lo[0] = VNET_MIN(g->lo[0], t);
        g->hi[0] = VNET_MAX(g->hi[0], t);
        for (uint32_t j = 1; j <= k; j++) {
            uint32_t hu = h - k + j - 1;
            /* Departure from the hop; its successor's arrival if it was not seen. */
            t = hops[hu].t_dep;
            if (t == UINT64_MAX || t > hops[hu + 1].t_arr) {
                t = hops[hu + 1].t_arr;
            }
            g->lo[j] = VNET_MIN(g->lo[j], t);
            g->hi[j] = VNET_MAX(g->hi[j], t);
            /* REPRESENTATIVE (A.9): the largest queue at that hop, ties to the
             * later arrival. */
            if (hop_pos[hu] != QUEUEING_NONE) {
                uint32_t b = g->best[j];
                if (b == UINT32_MAX || hop_q[hu] > hop_q[b]
                    || (hop_q[hu] == hop_q[b] && hop_pos[hu] > hop_pos[b])) {
                    g->best[j] = hu;
                }
            }
        }
        attrib_group_add(&g->flows, c->attrib, pkt);
    }
    s->end = end;
}

static struct acc_slot *
slot_get(struct propagate_ctx *c, uint32_t f, uint32_t start, uint32_t end)
{
    struct acc_slot *base = &c->slots[(size_t) f * PROPAGATE_SLOTS];
    struct acc_slot *s = NULL;
    for (int i = 0; i < PROPAGATE_SLOTS; i++) {
        struct acc_slot *x = &base[i];
        if (x->live && x->start == start && x->end <= end && (!s || x->end > s->end)) {
            s = x;
        }
    }
    if (!s) {
        s = &base[0];
        for (int i = 1; i < PROPAGATE_SLOTS; i++) {
            if (base[i].used < s->used) {
                s = &base[i];
            }
        }
        if (!s->group_of) {
            s->group_of = vnet_xcalloc(c->paths->n_nodes, sizeof *s->group_of);
        }
        slot_reset(s, start);
    }
    s->used = ++c->clock;
    slot_extend(c, f, s, end);
    return s;
}

static void
add_out(struct propagate_ctx *c, struct propagate_culprit x)
{
    vnet_grow((void **) &c->out, &c->cap_out, c->n_out + 1, sizeof *c->out);
    c->out[c->n_out++] = x;
}

size_t
propagate_preset(struct propagate_ctx *c, uint32_t f, uint32_t start, uint32_t end,
                 double r, const struct propagate_culprit **ret)
{
    struct acc_slot *s = slot_get(c, f, start, end);
    size_t ng = s->n_groups, w = c->width, n_nfs = c->t->n_nfs;
    if (ng > c->cap_groups) {
        c->cap_groups = ng * 2;
        c->pg = vnet_xrealloc(c->pg, c->cap_groups * sizeof *c->pg);
        c->src = vnet_xrealloc(c->src, c->cap_groups * sizeof *c->src);
        c->spans = vnet_xrealloc(c->spans, c->cap_groups * w * sizeof *c->spans);
        c->nfs = vnet_xrealloc(c->nfs, c->cap_groups * w * sizeof *c->nfs);
    }
    size_t biggest = 0;
    for (size_t i = 0; i < ng; i++) {
        const struct acc_group *g = &s->groups[i];
        const struct propagate_path *node = &c->paths->nodes[g->path];
        double *spans = &c->spans[i * w];
        uint32_t *nfs = &c->nfs[i * w];
        nfs[0] = NF_SOURCE;
        memcpy(&nfs[1], &c->paths->path_nfs[node->off], g->k * sizeof *nfs);
        for (size_t j = 0; j <= g->k; j++) {
            spans[j] = (double) (g->hi[j] - g->lo[j]);
        }
        c->pg[i] = (struct propagate_group) { g->n, g->k + 1, spans, nfs };
        if (g->n > s->groups[biggest].n) {
            biggest = i;
        }
    }
    double n_i = (double) (end - start);
    double t_exp = n_i / r;
    propagate_split(t_exp, c->pg, ng, c->src, c->nfw, n_nfs, c->credit);

    c->n_out = 0;
    for (size_t i = 0; i < ng; i++) {
        if (c->src[i] > 0) {
            struct acc_group *g = &s->groups[i];
            uint32_t snap = attrib_group_snapshot(c->attrib, &g->flows, c->spans[i * w]);
            add_out(c, (struct propagate_culprit) {
                .source = true, .nf = NF_SOURCE,
                .rep_pos = QUEUEING_NONE, .snap = snap, .share = c->src[i],
            });
        }
    }
    for (uint32_t x = 1; x < n_nfs; x++) {
        if (!(c->nfw[x] > 0)) {
            continue;
        }
        uint32_t best = UINT32_MAX;
        const uint32_t *hop_q = c->idx->hop_q, *hop_pos = c->idx->hop_pos;
        for (size_t i = 0; i < ng; i++) {
            const struct acc_group *g = &s->groups[i];
            for (size_t j = 1; j <= g->k; j++) {
                uint32_t b = g->best[j];
                if (c->nfs[i * w + j] != x || b == UINT32_MAX) {
                    continue;
                }
                if (best == UINT32_MAX || hop_q[b] > hop_q[best]
                    || (hop_q[b] == hop_q[best] && hop_pos[b] > hop_pos[best])) {
                    best = b;
                }
            }
        }
        add_out(c, (struct propagate_culprit) {
            .source = false, .nf = x,
            .rep_pos = best != UINT32_MAX ? hop_pos[best] : QUEUEING_NONE,
            .snap = ATTRIB_NONE, .share = c->nfw[x],
        });
    }

    if (ng) {
        const struct propagate_group *pg = &c->pg[biggest];
        memcpy(c->ev_spans, pg->spans, pg->k * sizeof *c->ev_spans);
        memcpy(c->ev_nfs, pg->nfs, pg->k * sizeof *c->ev_nfs);
        net_clamped(t_exp, pg->spans, pg->k, c->credit);
        memcpy(c->ev_credit, c->credit, pg->k * sizeof *c->ev_credit);
        c->ev = (struct propagate_evidence) {
            .t_exp = t_exp, .n = pg->n, .n_i = end - start, .k = pg->k,
            .nfs = c->ev_nfs, .spans = c->ev_spans, .credit = c->ev_credit,
        };
    } else {
        c->ev = (struct propagate_evidence) { .t_exp = t_exp };
    }
    *ret = c->out;
    return c->n_out;
}

void
propagate_last_evidence(const struct propagate_ctx *c, struct propagate_evidence *ev)
{
    *ev = c->ev;
}
