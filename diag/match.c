#include "diag/match.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "lib/util.h"

#define NIL UINT32_MAX
#define T_NONE UINT64_MAX
#define MAX_RECORDS (UINT32_MAX - 1)    /* hop and packet indexes are 32-bit */
#define TABLE_MIN 64
#define CHAIN_WALK_MAX 64               /* same-key entries looked at per departure */
#define HIST_BUCKETS 256                /* latency histogram: 4 per power of 2 */
#define HIST_RECOMPUTE 1024             /* matches between two TO_f updates */
#define HIST_HALVE (1u << 20)           /* halve the counts past this many */
#define HIST_MIN_SAMPLES 100            /* no p99 from fewer matches */
#define NATMAP_BITS 14

void
match_config_init(struct match_config *cfg)
{
    *cfg = (struct match_config) {
        .timeout_min_ns = 50 * 1000 * 1000,
        .timeout_p99_factor = 10,
        .link_timeout_ns = 50 * 1000 * 1000,
        .tail_margin = 0.03,
        .consumed_loss = 0.99,
        .consumed_min = 100,
        .keyless_lookahead = 8,
        .keyless_overhead = 128,
        .late_grace_ns = 1000000000ull,
    };
}

bool
match_rule_matches(const struct match_rule *r, const struct flow5 *f)
{
    return ((!r->proto || r->proto == f->proto)
            && (f->sip & r->src_mask) == (r->src & r->src_mask)
            && (f->dip & r->dst_mask) == (r->dst & r->dst_mask)
            && (!r->sport_hi || (f->sport >= r->sport_lo && f->sport <= r->sport_hi))
            && (!r->dport_hi || (f->dport >= r->dport_lo && f->dport <= r->dport_hi)));
}

double
match_stats_rate(const struct match_stats *st)
{
    uint64_t could = st->out > st->warmup_out ? st->out - st->warmup_out : 0;
    return could ? (double) st->matched / (double) could : 1.0;
}

/* ---- Records for packets in flight ------------------------------------------ */

enum node_state { NODE_FREE, NODE_PENDING, NODE_GRACE, NODE_GRACE_TIMEOUT, NODE_LINK };

/* One pending arrival (PENDING), a revocable fast-path drop (GRACE) or timeout drop
 * (GRACE_TIMEOUT), or a departure waiting for the copy that enters the next NF
 * (LINK). */
struct node {
    uint64_t key, key2;         /* table keys; key2 is a NAT's key without IP ID */
    uint64_t t;                 /* arrival time, or departure time for a link */
    uint64_t t_fl;              /* departure of the first later arrival, or T_NONE */
    uint64_t fhash;             /* NAT: hash of the flow as it entered */
    uint32_t ref;               /* hop index, or packet index for a link */
    uint32_t q;                 /* arrivals pending at the NF when it arrived */
    uint32_t next1, next2;      /* next of the same key in each table */
    uint32_t prev, next;        /* the NF's list in time order (next: free list) */
    uint8_t state;
};

/* Open addressing with linear probing: key -> FIFO (head, tail) of nodes. */
struct slot {
    uint64_t key;               /* 0: empty */
    uint32_t head, tail;
};

struct table {
    struct slot *slots;
    size_t mask, n;
};

struct list {
    uint32_t head, tail;
    size_t n;
};

struct natmap_entry {
    uint64_t out, in;           /* flow hashes: leaving -> entering */
};

struct mnf {
    char *name;
    uint32_t depth;             /* NFs on the longest path from ingress to it */
    struct match_nf cfg;        /* arrays owned by the matcher */
    bool has_nf_succ, has_source_pred;
    bool fifo, warm;
    struct table t1, t2, links_by_key;
    struct list pending, grace, grace_to, links;  /* grace_to: timeout drops */
    uint32_t cursor;            /* first pending arrival with t_fl == T_NONE */
    uint64_t timeout;           /* TO_f */
    uint32_t tail_q;            /* Q at arrival from which a drop is a tail drop */
    uint32_t hist[HIST_BUCKETS];
    uint64_t hist_n;
    uint32_t since_update;
    uint64_t p99;
    struct natmap_entry *natmap;
    struct match_stats st;
};

struct match {
    struct match_config cfg;
    struct mnf *nfs;
    size_t n_nfs;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t free_nodes;
    size_t live;
    uint32_t path_max;          /* most NFs on one path: hop slots per packet */
    struct hop *hops;           /* packet p's hops at [p * path_max, ...) */
    size_t n_hops, cap_hops;
    struct pkt *pkts;
    size_t n_pkts, cap_pkts;
    uint64_t now, t_first;
    bool any, finished;
};

static uint32_t
node_alloc(struct match *m)
{
    uint32_t idx = m->free_nodes;
    if (idx != NIL) {
        m->free_nodes = m->nodes[idx].next;
    } else {
        vnet_grow((void **) &m->nodes, &m->cap_nodes, m->n_nodes + 1, sizeof *m->nodes);
        idx = (uint32_t) m->n_nodes++;
    }
    m->live++;
    return idx;
}

static void
node_free(struct match *m, uint32_t idx)
{
    m->nodes[idx].state = NODE_FREE;
    m->nodes[idx].next = m->free_nodes;
    m->free_nodes = idx;
    m->live--;
}

/* ---- Hash tables ---------------------------------------------------------------- */

static struct slot *
table_find(const struct table *t, uint64_t key)
{
    if (!t->n) {
        return NULL;
    }
    for (size_t i = key & t->mask;; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];
        if (s->key == key) {
            return s;
        }
        if (!s->key) {
            return NULL;
        }
    }
}

static void table_grow(struct table *);

/* Returns the slot of 'key', creating an empty FIFO for it if needed.  The pointer
 * is valid until the next insertion or deletion. */
static struct slot *
table_get(struct table *t, uint64_t key)
{
    if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
        table_grow(t);
    }
    size_t i;
    for (i = key & t->mask; t->slots[i].key; i = (i + 1) & t->mask) {
        if (t->slots[i].key == key) {
            return &t->slots[i];
        }
    }
    t->slots[i] = (struct slot) { key, NIL, NIL };
    t->n++;
    return &t->slots[i];
}

static void
table_grow(struct table *t)
{
    size_t old_cap = t->slots ? t->mask + 1 : 0;
    size_t cap = old_cap ? old_cap * 2 : TABLE_MIN;
    struct slot *old = t->slots;
    t->slots = vnet_xcalloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key) {
            size_t j = old[i].key & t->mask;
            while (t->slots[j].key) {
                j = (j + 1) & t->mask;
            }
            t->slots[j] = old[i];
        }
    }
    free(old);
}

/* Deletes slot 's' by shifting later entries of its probe run back. */
static void
table_delete(struct table *t, struct slot *s)
{
    size_t i = (size_t) (s - t->slots), j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j].key) {
            break;
        }
        size_t home = t->slots[j].key & t->mask;
        /* Move it unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
    t->n--;
}

static void
table_destroy(struct table *t)
{
    free(t->slots);
}

static inline uint32_t *
next_in(struct node *n, bool second)
{
    return second ? &n->next2 : &n->next1;
}

static void
chain_push(struct match *m, struct table *t, uint64_t key, uint32_t idx, bool second)
{
    struct slot *s = table_get(t, key);
    *next_in(&m->nodes[idx], second) = NIL;
    if (s->head == NIL) {
        s->head = idx;
    } else {
        *next_in(&m->nodes[s->tail], second) = idx;
    }
    s->tail = idx;
}

/* Unlinks node 'idx' from the FIFO of slot 's' (deleting the slot once empty). */
static void
chain_unlink(struct match *m, struct table *t, struct slot *s, uint32_t idx,
             bool second)
{
    uint32_t prev = NIL, cur = s->head;
    while (cur != NIL && cur != idx) {
        prev = cur;
        cur = *next_in(&m->nodes[cur], second);
    }
    if (cur == NIL) {
        return;
    }
    uint32_t next = *next_in(&m->nodes[idx], second);
    if (prev == NIL) {
        s->head = next;
    } else {
        *next_in(&m->nodes[prev], second) = next;
    }
    if (s->tail == idx) {
        s->tail = prev;
    }
    if (s->head == NIL) {
        table_delete(t, s);
    }
}

static void
chain_remove(struct match *m, struct table *t, uint64_t key, uint32_t idx, bool second)
{
    struct slot *s = table_find(t, key);
    if (s) {
        chain_unlink(m, t, s, idx, second);
    }
}

/* ---- Lists in time order --------------------------------------------------------- */

static void
list_append(struct match *m, struct list *l, uint32_t idx)
{
    struct node *n = &m->nodes[idx];
    n->prev = l->tail;
    n->next = NIL;
    if (l->tail == NIL) {
        l->head = idx;
    } else {
        m->nodes[l->tail].next = idx;
    }
    l->tail = idx;
    l->n++;
}

static void
list_remove(struct match *m, struct list *l, uint32_t idx)
{
    struct node *n = &m->nodes[idx];
    if (n->prev == NIL) {
        l->head = n->next;
    } else {
        m->nodes[n->prev].next = n->next;
    }
    if (n->next == NIL) {
        l->tail = n->prev;
    } else {
        m->nodes[n->next].prev = n->prev;
    }
    l->n--;
}

/* ---- Latency and TO_f ------------------------------------------------------------ */

static unsigned
hist_bucket(uint64_t x)
{
    if (x < 4) {
        return (unsigned) x;
    }
    unsigned e = 63u - (unsigned) __builtin_clzll(x);
    return e * 4 + (unsigned) ((x >> (e - 2)) & 3);
}

/* The largest latency that falls in bucket 'b'. */
static uint64_t
hist_upper(unsigned b)
{
    if (b < 4) {
        return b;
    }
    unsigned e = b / 4, mant = b % 4;
    if (e >= 61) {
        return UINT64_MAX;
    }
    return ((uint64_t) (4 + mant + 1) << (e - 2)) - 1;
}

static void
update_timeout(const struct match_config *cfg, struct mnf *nf)
{
    if (nf->hist_n < HIST_MIN_SAMPLES) {
        return;
    }
    uint64_t need = (uint64_t) ceil(0.99 * (double) nf->hist_n), seen = 0;
    unsigned b = 0;
    for (; b < HIST_BUCKETS - 1; b++) {
        seen += nf->hist[b];
        if (seen >= need) {
            break;
        }
    }
    nf->p99 = hist_upper(b);
    double to = cfg->timeout_p99_factor * (double) nf->p99;
    nf->timeout = (to >= 1.8e19 ? UINT64_MAX
                   : VNET_MAX(cfg->timeout_min_ns, (uint64_t) to));
}

static void
record_latency(const struct match_config *cfg, struct mnf *nf, uint64_t lat)
{
    nf->hist[hist_bucket(lat)]++;
    if (++nf->hist_n >= HIST_HALVE) {
        nf->hist_n = 0;
        for (unsigned b = 0; b < HIST_BUCKETS; b++) {
            nf->hist[b] /= 2;
            nf->hist_n += nf->hist[b];
        }
    }
    if (++nf->since_update >= HIST_RECOMPUTE || nf->hist_n == HIST_MIN_SAMPLES) {
        nf->since_update = 0;
        update_timeout(cfg, nf);
    }
}

/* ---- Creation -------------------------------------------------------------------- */

/* Sets each NF's depth and returns the most NFs a packet can visit: the longest
 * path of the graph (bounded by the number of NFs should the graph have a
 * cycle). */
static uint32_t
longest_path(struct match *m)
{
    size_t n = m->n_nfs;
    uint32_t *depth = vnet_xcalloc(n, sizeof *depth);
    uint32_t longest = 1;
    for (size_t round = 0; round < n; round++) {
        bool changed = false;
        for (size_t f = 1; f < n; f++) {
            uint32_t d = 1;
            for (size_t i = 0; i < m->nfs[f].cfg.n_preds; i++) {
                uint32_t p = m->nfs[f].cfg.preds[i];
                if (p != NF_SOURCE && p < n) {
                    d = VNET_MAX(d, depth[p] + 1);
                }
            }
            d = VNET_MIN(d, (uint32_t) (n - 1));
            changed |= d != depth[f];
            depth[f] = d;
            longest = VNET_MAX(longest, d);
        }
        if (!changed) {
            break;
        }
    }
    for (size_t f = 1; f < n; f++) {
        m->nfs[f].depth = depth[f];
    }
    free(depth);
    return longest;
}

struct match *
match_create(const struct match_config *cfg, const struct match_nf *nfs, size_t n_nfs)
{
    struct match *m = vnet_xzalloc(sizeof *m);
    m->cfg = *cfg;
    m->n_nfs = VNET_MAX(n_nfs, (size_t) 1);
    m->nfs = vnet_xcalloc(m->n_nfs, sizeof *m->nfs);
    m->free_nodes = NIL;
    for (size_t f = 0; f < m->n_nfs; f++) {
        struct mnf *nf = &m->nfs[f];
        nf->pending = nf->grace = nf->grace_to = nf->links = (struct list) { NIL, NIL, 0 };
        nf->cursor = NIL;
        nf->timeout = cfg->timeout_min_ns;
        if (f == 0 || f >= n_nfs) {
            nf->name = vnet_xstrdup("source");
            continue;
        }
        const struct match_nf *src = &nfs[f];
        nf->name = vnet_xstrdup(src->name ? src->name : "");
        nf->cfg = *src;
        nf->cfg.name = nf->name;
        nf->cfg.preds = src->n_preds ? vnet_xmemdup(src->preds, src->n_preds
                                                    * sizeof *src->preds) : NULL;
        nf->cfg.succs = src->n_succs ? vnet_xmemdup(src->succs, src->n_succs
                                                    * sizeof *src->succs) : NULL;
        nf->cfg.rules = src->n_rules ? vnet_xmemdup(src->rules, src->n_rules
                                                    * sizeof *src->rules) : NULL;
        nf->has_source_pred = !src->n_preds;
        for (size_t i = 0; i < src->n_preds; i++) {
            nf->has_source_pred |= src->preds[i] == NF_SOURCE || src->preds[i] >= n_nfs;
        }
        for (size_t i = 0; i < src->n_succs; i++) {
            nf->has_nf_succ |= src->succs[i] != NF_SOURCE && src->succs[i] < n_nfs;
        }
        /* Order-based alignment is FIFO by nature. */
        nf->fifo = src->fifo || src->cls == MATCH_KEYLESS;
        if (src->qcap) {
            double q = ceil((double) src->qcap * (1.0 - cfg->tail_margin));
            nf->tail_q = (uint32_t) VNET_MAX(1.0, VNET_MIN(q, (double) src->qcap));
        }
        if (src->cls == MATCH_NAT) {
            nf->natmap = vnet_xcalloc((size_t) 1 << NATMAP_BITS, sizeof *nf->natmap);
        }
    }
    m->path_max = longest_path(m);
    return m;
}

static void
mnf_free(struct mnf *nf)
{
    free(nf->name);
    free((void *) nf->cfg.preds);
    free((void *) nf->cfg.succs);
    free((void *) nf->cfg.rules);
    table_destroy(&nf->t1);
    table_destroy(&nf->t2);
    table_destroy(&nf->links_by_key);
    free(nf->natmap);
}

void
match_destroy(struct match *m)
{
    if (!m) {
        return;
    }
    for (size_t f = 0; f < m->n_nfs; f++) {
        mnf_free(&m->nfs[f]);
    }
    free(m->nfs);
    free(m->nodes);
    free(m->hops);
    free(m->pkts);
    free(m);
}

/* ---- Removing pending arrivals -------------------------------------------------- */

static void
unindex(struct match *m, struct mnf *nf, uint32_t idx)
{
    struct node *n = &m->nodes[idx];
    if (nf->cfg.cls == MATCH_CONTENT) {
        chain_remove(m, &nf->t1, n->key, idx, false);
    } else if (nf->cfg.cls == MATCH_NAT) {
        chain_remove(m, &nf->t1, n->key, idx, false);
        chain_remove(m, &nf->t2, n->key2, idx, true);
    }
}

static void
pending_remove(struct match *m, struct mnf *nf, uint32_t idx)
{
    if (nf->cursor == idx) {
        nf->cursor = m->nodes[idx].next;
    }
    list_remove(m, &nf->pending, idx);
    if (!nf->pending.n) {
        nf->warm = true;        /* Q = 0 observed (B.4) */
    }
}

/* Marks the hop of pending arrival 'n' dropped; 't_lost' is when it was given up
 * for if no later arrival has left. */
static void
drop_hop(struct match *m, struct mnf *nf, const struct node *n, uint64_t t_lost)
{
    struct hop *h = &m->hops[n->ref];
    bool tail = nf->tail_q && n->q >= nf->tail_q;
    h->status = tail ? HOP_DROPPED_TAIL : HOP_DROPPED_INTERNAL;
    h->t_drop = tail ? h->t_arr : n->t_fl != T_NONE ? n->t_fl : t_lost;
}

/* The FIFO fast path: pending arrival 'idx' left at 't' before older ones. */
static void
drop_overtaken(struct match *m, struct mnf *nf, uint32_t idx, uint64_t t)
{
    while (nf->pending.head != idx && nf->pending.head != NIL) {
        uint32_t old = nf->pending.head;
        struct node *n = &m->nodes[old];
        drop_hop(m, nf, n, t);
        nf->st.drops_fifo++;
        pending_remove(m, nf, old);
        if (nf->cfg.cls == MATCH_KEYLESS) {
            node_free(m, old);
        } else {
            /* Still findable by key for TO_f, in case the NF reorders. */
            n->state = NODE_GRACE;
            list_append(m, &nf->grace, old);
        }
    }
}

static void
expire(struct match *m, struct mnf *nf, uint64_t now)
{
    uint64_t to = nf->timeout;
    while (nf->pending.head != NIL) {
        uint32_t idx = nf->pending.head;
        struct node *n = &m->nodes[idx];
        if (n->t >= now || now - n->t <= to) {
            break;
        }
        uint64_t t_lost = n->t > UINT64_MAX - to ? UINT64_MAX : n->t + to;
        drop_hop(m, nf, n, t_lost);
        nf->st.drops_timeout++;
        pending_remove(m, nf, idx);
        if (nf->cfg.cls == MATCH_KEYLESS) {
            unindex(m, nf, idx);
            node_free(m, idx);
        } else {
            /* Revocable for another TO_f: an NF that stalls longer than TO_f (a
             * pause) still sends it, and then it was only late. */
            n->state = NODE_GRACE_TIMEOUT;
            list_append(m, &nf->grace_to, idx);
        }
    }
    /* A fast-path drop stays revocable until TO_f after the arrival, a timeout
     * drop for 'late_grace_ns' after it was declared. */
    for (int k = 1; k <= 2; k++) {
        struct list *l = k == 1 ? &nf->grace : &nf->grace_to;
        uint64_t keep = k == 1 ? to : to + m->cfg.late_grace_ns;
        while (l->head != NIL) {
            uint32_t idx = l->head;
            struct node *n = &m->nodes[idx];
            if (n->t >= now || now - n->t <= keep) {
                break;
            }
            list_remove(m, l, idx);
            unindex(m, nf, idx);
            node_free(m, idx);
        }
    }
    while (nf->links.head != NIL) {
        uint32_t idx = nf->links.head;
        struct node *n = &m->nodes[idx];
        if (n->t >= now || now - n->t <= m->cfg.link_timeout_ns) {
            break;
        }
        list_remove(m, &nf->links, idx);
        chain_remove(m, &nf->links_by_key, n->key, idx, false);
        node_free(m, idx);
    }
}

/* ---- Arrivals -------------------------------------------------------------------- */

/* Takes the oldest departure from 'pred' with content key 'key'; returns its packet
 * index or NIL. */
static uint32_t
link_take(struct match *m, struct mnf *pred, uint64_t key)
{
    struct slot *s = table_find(&pred->links_by_key, key);
    if (!s) {
        return NIL;
    }
    uint32_t idx = s->head;
    uint32_t pkt = m->nodes[idx].ref;
    chain_unlink(m, &pred->links_by_key, s, idx, false);
    list_remove(m, &pred->links, idx);
    node_free(m, idx);
    return pkt;
}

static void
link_put(struct match *m, struct mnf *nf, uint64_t key, uint64_t t, uint32_t pkt)
{
    uint32_t idx = node_alloc(m);
    struct node *n = &m->nodes[idx];
    n->state = NODE_LINK;
    n->key = key;
    n->t = t;
    n->ref = pkt;
    chain_push(m, &nf->links_by_key, key, idx, false);
    list_append(m, &nf->links, idx);
}

static void
on_arrival(struct match *m, uint32_t f, uint64_t t, const struct packet_info *pi)
{
    struct mnf *nf = &m->nfs[f];
    if ((m->n_pkts + 1) * m->path_max >= MAX_RECORDS) {
        nf->st.skipped_in++;
        return;
    }
    nf->st.in++;
    uint32_t pkt = NIL;
    for (size_t i = 0; i < nf->cfg.n_preds && pkt == NIL; i++) {
        uint32_t p = nf->cfg.preds[i];
        if (p != NF_SOURCE && p < m->n_nfs) {
            pkt = link_take(m, &m->nfs[p], pi->content_key);
        }
    }
    if (pkt == NIL || m->pkts[pkt].hop_cnt >= m->path_max) {
        /* A new packet: from ingress, or after a gap upstream (A.14). */
        if (!nf->has_source_pred) {
            nf->st.orphan_in++;
        }
        vnet_grow((void **) &m->pkts, &m->cap_pkts, m->n_pkts + 1, sizeof *m->pkts);
        pkt = (uint32_t) m->n_pkts++;
        m->pkts[pkt] = (struct pkt) { .uid = (uint64_t) pkt + 1, .t_ingress = t,
                                      .flow = pi->flow };
        vnet_grow((void **) &m->hops, &m->cap_hops, m->n_pkts * m->path_max,
                  sizeof *m->hops);
    }
    uint32_t h = pkt * m->path_max + m->pkts[pkt].hop_cnt++;
    m->n_hops++;
    m->hops[h] = (struct hop) {
        .uid = (uint64_t) pkt + 1, .t_arr = t, .t_dep = UINT64_MAX, .f_in = pi->flow,
        .nf = f, .len = (uint16_t) VNET_MIN(pi->ip_len, 65535u),
        .status = HOP_FORWARDED,
    };

    uint32_t idx = node_alloc(m);
    struct node *n = &m->nodes[idx];
    n->state = NODE_PENDING;
    n->t = t;
    n->t_fl = T_NONE;
    n->ref = h;
    n->q = (uint32_t) VNET_MIN(nf->pending.n, (size_t) UINT32_MAX);
    n->fhash = pi->flow_hash;
    n->key = n->key2 = 0;
    if (nf->cfg.cls == MATCH_CONTENT) {
        n->key = pi->content_key;
        chain_push(m, &nf->t1, n->key, idx, false);
    } else if (nf->cfg.cls == MATCH_NAT) {
        n->key = pi->invariant_key;
        n->key2 = pi->invariant_noid_key;
        chain_push(m, &nf->t1, n->key, idx, false);
        chain_push(m, &nf->t2, n->key2, idx, true);
    }
    list_append(m, &nf->pending, idx);
    if (nf->cursor == NIL) {
        nf->cursor = idx;
    }
}

/* ---- Departures ------------------------------------------------------------------ */

/* The oldest pending arrival of 'key' in table 't' (chain 'second') whose flow hash
 * is 'fhash' (0: any); failing that, the oldest revocable drop. */
static uint32_t
chain_pick(const struct match *m, const struct table *t, uint64_t key, bool second,
           uint64_t fhash, struct slot **ret_slot)
{
    struct slot *s = table_find(t, key);
    if (!s) {
        return NIL;
    }
    *ret_slot = s;
    uint32_t grace = NIL;
    unsigned walked = 0;
    for (uint32_t c = s->head; c != NIL && walked < CHAIN_WALK_MAX; walked++) {
        const struct node *n = &m->nodes[c];
        if (!fhash || n->fhash == fhash) {
            if (n->state == NODE_PENDING) {
                return c;
            }
            if (grace == NIL) {
                grace = c;
            }
        }
        c = second ? n->next2 : n->next1;
    }
    return grace;
}

static uint32_t
keyless_pick(const struct match *m, const struct mnf *nf, uint64_t t,
             const struct packet_info *pi)
{
    uint32_t c = nf->pending.head;
    for (uint32_t k = 0; c != NIL && k < m->cfg.keyless_lookahead; k++) {
        const struct node *n = &m->nodes[c];
        uint32_t in_len = m->hops[n->ref].len;
        uint32_t diff = in_len > pi->ip_len ? in_len - pi->ip_len : pi->ip_len - in_len;
        if (n->t <= t && diff <= m->cfg.keyless_overhead) {
            return c;
        }
        c = n->next;
    }
    return NIL;
}

static struct natmap_entry *
natmap_entry(struct mnf *nf, uint64_t out_hash)
{
    return &nf->natmap[out_hash & (((size_t) 1 << NATMAP_BITS) - 1)];
}

static void
on_departure(struct match *m, uint32_t f, uint64_t t, const struct packet_info *pi)
{
    struct mnf *nf = &m->nfs[f];
    nf->st.out++;
    uint32_t idx = NIL;
    struct slot *slot = NULL;   /* of 'idx' in nf->t1, for a content NF */
    bool via_mapping = false;
    switch (nf->cfg.cls) {
    case MATCH_CONTENT:
        idx = chain_pick(m, &nf->t1, pi->content_key, false, 0, &slot);
        break;
    case MATCH_NAT:
        idx = chain_pick(m, &nf->t1, pi->invariant_key, false, 0, &slot);
        if (idx == NIL) {
            /* B.2 option 2: within the learned mapping, without the IP ID. */
            struct natmap_entry *e = natmap_entry(nf, pi->flow_hash);
            uint64_t want = e->out == pi->flow_hash ? e->in : 0;
            idx = chain_pick(m, &nf->t2, pi->invariant_noid_key, true, want, &slot);
            via_mapping = idx != NIL && want;
        }
        slot = NULL;
        break;
    case MATCH_KEYLESS:
        idx = keyless_pick(m, nf, t, pi);
        break;
    }
    if (idx == NIL) {
        if (nf->warm) {
            nf->st.unmatched_out++;
        } else {
            nf->st.warmup_out++;
        }
        return;
    }

    struct node *n = &m->nodes[idx];
    if (n->state == NODE_GRACE_TIMEOUT) {
        /* Given up for after TO_f, yet here it is: the NF stalled, it was late. */
        nf->st.drops_timeout--;
        nf->st.late++;
        list_remove(m, &nf->grace_to, idx);
    } else if (n->state == NODE_GRACE) {
        /* Declared dropped by the fast path, yet here it is: the NF reorders. */
        nf->st.drops_fifo--;
        nf->fifo = false;
        list_remove(m, &nf->grace, idx);
    } else {
        if (n->t_fl == T_NONE) {
            for (uint32_t c = nf->cursor; c != NIL && c != idx; c = m->nodes[c].next) {
                m->nodes[c].t_fl = t;
            }
            nf->cursor = idx;
        }
        if (nf->fifo) {
            drop_overtaken(m, nf, idx, t);
        }
        pending_remove(m, nf, idx);
    }
    if (n->t_fl != T_NONE) {
        nf->st.reordered++;
    }
    struct hop *h = &m->hops[n->ref];
    h->t_dep = VNET_MAX(t, h->t_arr);
    h->t_drop = 0;
    h->status = HOP_FORWARDED;
    h->f_out = pi->flow;
    record_latency(&m->cfg, nf, h->t_dep - h->t_arr);
    nf->st.matched++;
    if (nf->cfg.cls == MATCH_NAT) {
        nf->st.matched_mapping += via_mapping;
        *natmap_entry(nf, pi->flow_hash) = (struct natmap_entry) { pi->flow_hash,
                                                                   n->fhash };
    }
    uint32_t pkt = (uint32_t) (h->uid - 1);
    if (slot) {
        chain_unlink(m, &nf->t1, slot, idx, false);
    } else {
        unindex(m, nf, idx);
    }
    node_free(m, idx);
    if (nf->has_nf_succ) {
        link_put(m, nf, pi->content_key, t, pkt);
    }
}

/* ---- Feeding --------------------------------------------------------------------- */

void
match_parsed(struct match *m, uint32_t nf, bool out, uint64_t t_ns,
             const struct packet_info *pi)
{
    if (m->finished || nf == NF_SOURCE || nf >= m->n_nfs) {
        return;
    }
    if (!m->any) {
        m->any = true;
        m->t_first = t_ns;
    }
    m->now = VNET_MAX(m->now, t_ns);
    expire(m, &m->nfs[nf], m->now);
    if (out) {
        on_departure(m, nf, t_ns, pi);
    } else {
        on_arrival(m, nf, t_ns, pi);
    }
}

void
match_packet(struct match *m, uint32_t nf, bool out, uint64_t t_ns,
             const uint8_t *frame, size_t caplen)
{
    if (m->finished || nf == NF_SOURCE || nf >= m->n_nfs) {
        return;
    }
    struct packet_info pi;
    unsigned keys = (m->nfs[nf].cfg.cls == MATCH_NAT ? PACKET_KEY_ALL
                     : PACKET_KEY_CONTENT);
    if (packet_parse_keys(frame, caplen, keys, &pi)) {
        if (out) {
            m->nfs[nf].st.skipped_out++;
        } else {
            m->nfs[nf].st.skipped_in++;
        }
        return;
    }
    match_parsed(m, nf, out, t_ns, &pi);
}

void
match_advance(struct match *m, uint64_t now_ns)
{
    if (m->finished) {
        return;
    }
    m->now = VNET_MAX(m->now, now_ns);
    for (size_t f = 1; f < m->n_nfs; f++) {
        expire(m, &m->nfs[f], m->now);
    }
}

uint32_t
match_tie_rank(const struct match *m, uint32_t nf, bool out)
{
    uint32_t depth = nf != NF_SOURCE && nf < m->n_nfs ? m->nfs[nf].depth : 0;
    return depth * 2 + out;
}

void
match_add_capture_drops(struct match *m, uint32_t nf, uint64_t n)
{
    if (nf != NF_SOURCE && nf < m->n_nfs) {
        m->nfs[nf].st.capture_drops += n;
    }
}

void
match_get_stats(const struct match *m, uint32_t nf, struct match_stats *ret)
{
    if (nf == NF_SOURCE || nf >= m->n_nfs) {
        *ret = (struct match_stats) { .fifo = false };
        return;
    }
    const struct mnf *x = &m->nfs[nf];
    *ret = x->st;
    ret->timeout_ns = x->timeout;
    ret->latency_p99_ns = x->p99;
    ret->fifo = x->fifo;
    if (!m->finished) {
        ret->in_flight = x->pending.n;
    }
}

size_t
match_in_flight(const struct match *m)
{
    return m->live;
}

/* ---- The end: policy drops and the trace ----------------------------------------- */

struct flow_count {
    uint64_t arrivals, drops;
};

static uint64_t
flow_at_nf(const struct hop *h)
{
    uint64_t k = packet_flow_hash(&h->f_in) ^ (h->nf * 0x9e3779b97f4a7c15ULL);
    return k ? k : 1;
}

static bool
is_drop(uint8_t status)
{
    return status == HOP_DROPPED_TAIL || status == HOP_DROPPED_INTERNAL;
}

/* B.5: drops matching a known rule, and drops of flows that lost >= consumed_loss
 * of >= consumed_min packets at an NF, are CONSUMED.  Then counts the classes. */
static void
classify_drops(struct match *m)
{
    bool *lossy = vnet_xcalloc(m->n_nfs, sizeof *lossy);
    bool any = false;
    for (size_t f = 1; f < m->n_nfs; f++) {
        const struct match_stats *st = &m->nfs[f].st;
        lossy[f] = st->drops_fifo + st->drops_timeout > 0;
        any |= lossy[f];
    }
    if (!any) {
        free(lossy);
        return;
    }
    struct table flows = { NULL, 0, 0 };
    struct flow_count *counts = NULL;
    size_t n_counts = 0, cap_counts = 0;
    for (size_t i = 0; i < m->n_hops; i++) {
        const struct hop *h = &m->hops[i];
        if (!lossy[h->nf]) {
            continue;
        }
        struct slot *s = table_get(&flows, flow_at_nf(h));
        if (s->head == NIL) {
            vnet_grow((void **) &counts, &cap_counts, n_counts + 1, sizeof *counts);
            counts[n_counts] = (struct flow_count) { 0, 0 };
            s->head = (uint32_t) n_counts++;
        }
        counts[s->head].arrivals++;
        counts[s->head].drops += is_drop(h->status);
    }
    for (size_t i = 0; i < m->n_hops; i++) {
        struct hop *h = &m->hops[i];
        if (!lossy[h->nf] || !is_drop(h->status)) {
            continue;
        }
        struct mnf *nf = &m->nfs[h->nf];
        bool consumed = false;
        for (size_t r = 0; r < nf->cfg.n_rules && !consumed; r++) {
            consumed = match_rule_matches(&nf->cfg.rules[r], &h->f_in);
        }
        const struct flow_count *c = &counts[table_find(&flows, flow_at_nf(h))->head];
        double loss = (double) c->drops / (double) c->arrivals;
        consumed |= c->arrivals >= m->cfg.consumed_min && loss >= m->cfg.consumed_loss;
        if (consumed) {
            h->status = HOP_CONSUMED;
            nf->st.consumed++;
        } else if (h->status == HOP_DROPPED_TAIL) {
            nf->st.tail_drops++;
        } else {
            nf->st.internal_drops++;
        }
    }
    table_destroy(&flows);
    free(counts);
    free(lossy);
}

static int
compare_pkts(const void *a_, const void *b_)
{
    const struct pkt *a = a_, *b = b_;
    if (a->t_ingress != b->t_ingress) {
        return a->t_ingress < b->t_ingress ? -1 : 1;
    }
    return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* Packs each packet's hop slots together (they are in path order already), in
 * the order of the packets sorted by ingress time.  Packets are created in time
 * order when frames come in time order: then the packing is in place. */
static void
group_hops(struct match *m)
{
    bool sorted = true;
    for (size_t p = 1; p < m->n_pkts && sorted; p++) {
        sorted = m->pkts[p - 1].t_ingress <= m->pkts[p].t_ingress;
    }
    struct hop *dst = m->hops;
    if (!sorted) {
        qsort(m->pkts, m->n_pkts, sizeof *m->pkts, compare_pkts);
        dst = vnet_xmalloc(VNET_MAX(m->n_hops, (size_t) 1) * sizeof *dst);
    }
    size_t off = 0;
    for (size_t p = 0; p < m->n_pkts; p++) {
        uint32_t cnt = m->pkts[p].hop_cnt;
        size_t src = (m->pkts[p].uid - 1) * m->path_max;
        if (dst != m->hops || src != off) {
            memmove(&dst[off], &m->hops[src], cnt * sizeof *m->hops);
        }
        m->pkts[p].hop_off = (uint32_t) off;
        off += cnt;
    }
    if (dst != m->hops) {
        free(m->hops);
        m->hops = dst;
        m->cap_hops = VNET_MAX(m->n_hops, (size_t) 1);
    }
}

static uint32_t *
copy_ids(const uint32_t *ids, size_t n)
{
    return n ? vnet_xmemdup(ids, n * sizeof *ids) : NULL;
}

struct diag_trace *
match_finish(struct match *m, uint64_t t_end_ns)
{
    struct diag_trace *t = diag_trace_create();
    if (m->finished) {
        return t;
    }
    m->now = VNET_MAX(m->now, t_end_ns);
    for (size_t f = 1; f < m->n_nfs; f++) {
        struct mnf *nf = &m->nfs[f];
        expire(m, nf, m->now);
        nf->st.in_flight = nf->pending.n;
    }
    group_hops(m);
    classify_drops(m);

    t->n_nfs = m->n_nfs;
    t->nfs = vnet_xcalloc(m->n_nfs, sizeof *t->nfs);
    t->acct = vnet_xcalloc(m->n_nfs, sizeof *t->acct);
    for (size_t f = 0; f < m->n_nfs; f++) {
        const struct mnf *nf = &m->nfs[f];
        struct nf_desc *d = &t->nfs[f];
        d->id = (uint32_t) f;
        vnet_strlcpy(d->name, nf->name, sizeof d->name);
        d->type = nf->cfg.type;
        d->r_peak = nf->cfg.r_peak;
        d->qcap = nf->cfg.qcap;
        d->preds = copy_ids(nf->cfg.preds, nf->cfg.n_preds);
        d->n_preds = nf->cfg.n_preds;
        d->succs = copy_ids(nf->cfg.succs, nf->cfg.n_succs);
        d->n_succs = nf->cfg.n_succs;
        t->acct[f] = (struct nf_accounting) {
            .in_pkts = nf->st.in, .out_pkts = nf->st.out,
            .unmatched_out = nf->st.warmup_out + nf->st.unmatched_out,
            .capture_drops = nf->st.capture_drops,
        };
    }
    t->pkts = m->n_pkts ? vnet_xrealloc(m->pkts, m->n_pkts * sizeof *m->pkts) : NULL;
    if (!m->n_pkts) {
        free(m->pkts);
    }
    t->n_pkts = m->n_pkts;
    t->hops = m->n_hops ? vnet_xrealloc(m->hops, m->n_hops * sizeof *m->hops) : NULL;
    if (!m->n_hops) {
        free(m->hops);
    }
    t->n_hops = m->n_hops;
    m->pkts = NULL;
    m->hops = NULL;
    t->t_start = m->any ? VNET_MIN(m->t_first, m->now) : m->now;
    t->t_end = m->now;
    m->finished = true;
    /* Nothing is in flight for the matcher any more. */
    free(m->nodes);
    m->nodes = NULL;
    m->n_nodes = m->cap_nodes = m->live = 0;
    m->free_nodes = NIL;
    return t;
}
