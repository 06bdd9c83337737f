#include "diag/autofocus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/u64map.h"
#include "lib/util.h"

static uint32_t
dim_get(const struct flow5 *f, int d)
{
    switch (d) {
    case AUTOFOCUS_SRC:
        return f->sip;
    case AUTOFOCUS_DST:
        return f->dip;
    case AUTOFOCUS_SPORT:
        return f->sport;
    case AUTOFOCUS_DPORT:
        return f->dport;
    default:
        return f->proto;
    }
}

static void
dim_set(struct flow5 *f, int d, uint32_t v)
{
    switch (d) {
    case AUTOFOCUS_SRC:
        f->sip = v;
        break;
    case AUTOFOCUS_DST:
        f->dip = v;
        break;
    case AUTOFOCUS_SPORT:
        f->sport = (uint16_t) v;
        break;
    case AUTOFOCUS_DPORT:
        f->dport = (uint16_t) v;
        break;
    default:
        f->proto = (uint8_t) v;
        break;
    }
}

/* Generalises value 'v' of dimension 'd' to level value 'level'. */
static uint32_t
dim_mask(int d, uint8_t level, uint32_t v)
{
    switch (d) {
    case AUTOFOCUS_SRC:
    case AUTOFOCUS_DST:
        return level >= 32 ? v : level ? v & (UINT32_MAX << (32 - level)) : 0;
    case AUTOFOCUS_SPORT:
    case AUTOFOCUS_DPORT:
        return level == AUTOFOCUS_PORT_EXACT ? v
               : level == AUTOFOCUS_PORT_CLASS ? (v < 1024 ? 0 : 1024) : 0;
    default:
        return level == AUTOFOCUS_PROTO_EXACT ? v : 0;
    }
}

static uint8_t
dim_root(int d)
{
    switch (d) {
    case AUTOFOCUS_SRC:
    case AUTOFOCUS_DST:
        return 0;
    case AUTOFOCUS_SPORT:
    case AUTOFOCUS_DPORT:
        return AUTOFOCUS_PORT_ANY;
    default:
        return AUTOFOCUS_PROTO_ANY;
    }
}

void
autofocus_hier_default(struct autofocus_hier *h)
{
    static const uint8_t ip[] = { 32, 24, 16, 8, 0 };
    static const uint8_t port[] = {
        AUTOFOCUS_PORT_EXACT, AUTOFOCUS_PORT_CLASS, AUTOFOCUS_PORT_ANY,
    };
    static const uint8_t proto[] = { AUTOFOCUS_PROTO_EXACT, AUTOFOCUS_PROTO_ANY };
    memset(h, 0, sizeof *h);
    for (int d = AUTOFOCUS_SRC; d <= AUTOFOCUS_DST; d++) {
        h->n[d] = sizeof ip;
        memcpy(h->level[d], ip, sizeof ip);
    }
    for (int d = AUTOFOCUS_SPORT; d <= AUTOFOCUS_DPORT; d++) {
        h->n[d] = sizeof port;
        memcpy(h->level[d], port, sizeof port);
    }
    h->n[AUTOFOCUS_PROTO] = sizeof proto;
    memcpy(h->level[AUTOFOCUS_PROTO], proto, sizeof proto);
}

void
autofocus_hier_1d(struct autofocus_hier *h, enum autofocus_dim dim)
{
    autofocus_hier_default(h);
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        if (d != (int) dim) {
            h->n[d] = 1;
            h->level[d][0] = dim_root(d);
        }
    }
}

/* A cluster while it is being found: level indexes into the hierarchy. */
struct ckey {
    uint32_t v[AUTOFOCUS_DIMS];
    uint8_t li[AUTOFOCUS_DIMS];
    uint8_t pad[3];
};

struct cslot {
    struct ckey key;
    double w;
    uint32_t id;                /* heavy-cluster index + 1 once heavy, else 0 */
    bool used;
};

struct cmap {
    struct cslot *slots;
    size_t n, cap;
};

static uint64_t
ckey_hash(const struct ckey *k)
{
    uint64_t x = 0;
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        x = u64map_mix(x ^ ((uint64_t) k->li[d] << 32 | k->v[d]));
    }
    return x;
}

static struct cslot *
cmap_slot(struct cmap *m, const struct ckey *k)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct cslot *slots = vnet_xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].used) {
                size_t j = ckey_hash(&m->slots[i].key) & (cap - 1);
                while (slots[j].used) {
                    j = (j + 1) & (cap - 1);
                }
                slots[j] = m->slots[i];
            }
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t j = ckey_hash(k) & (m->cap - 1);
    while (m->slots[j].used && memcmp(&m->slots[j].key, k, sizeof *k)) {
        j = (j + 1) & (m->cap - 1);
    }
    if (!m->slots[j].used) {
        m->slots[j] = (struct cslot) { .key = *k, .used = true };
        m->n++;
    }
    return &m->slots[j];
}

struct heavy {
    struct ckey key;
    double w, residual;
    int depth;
    bool reported;
};

static int
compare_depth(const void *a_, const void *b_, void *heavy_)
{
    const struct heavy *heavy = heavy_;
    const struct heavy *a = &heavy[*(const uint32_t *) a_];
    const struct heavy *b = &heavy[*(const uint32_t *) b_];
    if (a->depth != b->depth) {
        return a->depth > b->depth ? -1 : 1;
    }
    return memcmp(&a->key, &b->key, sizeof a->key);
}

static int
compare_output(const void *a_, const void *b_)
{
    const struct autofocus_cluster *a = a_, *b = b_;
    if (a->residual != b->residual) {
        return a->residual > b->residual ? -1 : 1;
    }
    if (a->depth != b->depth) {
        return a->depth > b->depth ? -1 : 1;
    }
    return memcmp(&a->key, &b->key, sizeof a->key) < 0 ? -1 : 1;
}

/* Is heavy cluster 'r' inside heavy cluster 'c'? */
static bool
ckey_inside(const struct autofocus_hier *h, const struct ckey *r, const struct ckey *c)
{
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        if (r->li[d] > c->li[d]
            || dim_mask(d, h->level[d][c->li[d]], r->v[d]) != c->v[d]) {
            return false;
        }
    }
    return true;
}

/* The generalisations of one record whose every one-dimensional projection is
 * heavy, enumerated like an odometer. */
struct odometer {
    uint8_t n[AUTOFOCUS_DIMS];
    uint8_t li[AUTOFOCUS_DIMS][AUTOFOCUS_MAX_LEVELS];
    uint8_t at[AUTOFOCUS_DIMS];
};

static bool
odometer_start(struct odometer *o, const struct autofocus_hier *h,
               struct u64map *proj, const struct flow5 *f, double threshold)
{
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        o->n[d] = 0;
        o->at[d] = 0;
        uint32_t v = dim_get(f, d);
        for (uint8_t l = 0; l < h->n[d]; l++) {
            uint64_t key = ((uint64_t) l + 1) << 32 | dim_mask(d, h->level[d][l], v);
            union u64map_val *w = u64map_find(&proj[d], key);
            if (w && w->d >= threshold) {
                o->li[d][o->n[d]++] = l;
            }
        }
        if (!o->n[d]) {
            return false;
        }
    }
    return true;
}

static void
odometer_key(const struct odometer *o, const struct autofocus_hier *h,
             const struct flow5 *f, struct ckey *k)
{
    memset(k, 0, sizeof *k);
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        uint8_t l = o->li[d][o->at[d]];
        k->li[d] = l;
        k->v[d] = dim_mask(d, h->level[d][l], dim_get(f, d));
    }
}

static bool
odometer_next(struct odometer *o)
{
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        if (++o->at[d] < o->n[d]) {
            return true;
        }
        o->at[d] = 0;
    }
    return false;
}

/* Lists the records of each heavy cluster: members[start[c] .. start[c + 1]). */
static uint32_t *
collect_members(const struct autofocus_record *rec, size_t n,
                const struct autofocus_hier *h, struct u64map *proj, double threshold,
                struct cmap *map, size_t n_heavy, size_t **ret_start)
{
    size_t *start = vnet_xcalloc(n_heavy + 2, sizeof *start);
    uint32_t *members = NULL;
    struct odometer o;
    struct ckey k;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (!(rec[i].weight > 0)
                || !odometer_start(&o, h, proj, &rec[i].flow, threshold)) {
                continue;
            }
            do {
                odometer_key(&o, h, &rec[i].flow, &k);
                uint32_t id = cmap_slot(map, &k)->id;
                if (!id) {
                    continue;
                } else if (!pass) {
                    start[id + 1]++;
                } else {
                    members[start[id]++] = (uint32_t) i;
                }
            } while (odometer_next(&o));
        }
        if (!pass) {
            /* start[c + 2] counted cluster c (id c + 1); after the prefix sum,
             * start[c + 1] is where c begins, and filling advances it to where c
             * ends, which leaves c's members in [start[c], start[c + 1]). */
            for (size_t c = 2; c < n_heavy + 2; c++) {
                start[c] += start[c - 1];
            }
            members = vnet_xmalloc(VNET_MAX(start[n_heavy + 1], 1) * sizeof *members);
        }
    }
    *ret_start = start;
    return members;
}

/* Visits the heavy clusters from the most to the least specific and reports those
 * whose residual -- the weight of their records that no reported cluster inside
 * them contains -- reaches the threshold.  Each record keeps the list of reported
 * clusters that contain it, so the residual is exact. */
static void
compress(const struct autofocus_record *rec, size_t n, const struct autofocus_hier *h,
         double threshold, struct heavy *heavy, size_t n_heavy, const size_t *start,
         const uint32_t *members)
{
    uint32_t *order = vnet_xmalloc(VNET_MAX(n_heavy, 1) * sizeof *order);
    for (size_t c = 0; c < n_heavy; c++) {
        order[c] = (uint32_t) c;
    }
    qsort_r(order, n_heavy, sizeof *order, compare_depth, heavy);
    uint32_t *head = vnet_xmalloc(VNET_MAX(n, 1) * sizeof *head);
    memset(head, 0xff, VNET_MAX(n, 1) * sizeof *head);
    struct link {
        uint32_t cluster, next;
    } *links = NULL;
    size_t n_links = 0, cap_links = 0;
    for (size_t oi = 0; oi < n_heavy; oi++) {
        uint32_t c = order[oi];
        double residual = 0;
        for (size_t m = start[c]; m < start[c + 1]; m++) {
            uint32_t x = members[m];
            bool covered = false;
            for (uint32_t l = head[x]; l != UINT32_MAX && !covered; l = links[l].next) {
                covered = ckey_inside(h, &heavy[links[l].cluster].key, &heavy[c].key);
            }
            if (!covered) {
                residual += rec[x].weight;
            }
        }
        heavy[c].residual = residual;
        if (residual >= threshold) {
            heavy[c].reported = true;
            for (size_t m = start[c]; m < start[c + 1]; m++) {
                uint32_t x = members[m];
                vnet_grow((void **) &links, &cap_links, n_links + 1, sizeof *links);
                links[n_links] = (struct link) { c, head[x] };
                head[x] = (uint32_t) n_links++;
            }
        }
    }
    free(order);
    free(head);
    free(links);
}

/* Records that agree at their most specific heavy level in every dimension (and
 * so at every heavier level) belong to exactly the same heavy clusters: merging
 * them first makes the lattice walk independent of the number of small flows.
 * Returns the merged records (caller frees) and updates '*n'. */
static struct autofocus_record *
merge_records(const struct autofocus_record *rec, size_t *n,
              const struct autofocus_hier *h, struct u64map *proj, double threshold)
{
    struct autofocus_record *out = vnet_xmalloc(VNET_MAX(*n, 1) * sizeof *out);
    struct cmap map = { 0 };
    size_t n_out = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!(rec[i].weight > 0)) {
            continue;
        }
        struct ckey k;
        memset(&k, 0, sizeof k);
        bool heavy = true;
        for (int d = 0; d < AUTOFOCUS_DIMS && heavy; d++) {
            uint32_t v = dim_get(&rec[i].flow, d);
            heavy = false;
            for (uint8_t l = 0; l < h->n[d] && !heavy; l++) {
                uint32_t masked = dim_mask(d, h->level[d][l], v);
                union u64map_val *w = u64map_find(&proj[d], ((uint64_t) l + 1) << 32
                                                             | masked);
                if (w && w->d >= threshold) {
                    heavy = true;
                    k.li[d] = l;
                    k.v[d] = masked;
                }
            }
        }
        if (!heavy) {
            continue;
        }
        struct cslot *slot = cmap_slot(&map, &k);
        if (!slot->id) {
            slot->id = (uint32_t) ++n_out;
            out[n_out - 1] = (struct autofocus_record) { rec[i].flow, 0 };
        }
        out[slot->id - 1].weight += rec[i].weight;
    }
    free(map.slots);
    *n = n_out;
    return out;
}

size_t
autofocus_run(const struct autofocus_record *in, size_t n_in,
              const struct autofocus_hier *h, double threshold,
              struct autofocus_cluster **ret)
{
    *ret = NULL;
    double total = 0;
    for (size_t i = 0; i < n_in; i++) {
        total += in[i].weight > 0 ? in[i].weight : 0;
    }
    if (!(threshold > 0) || total < threshold) {
        return 0;
    }

    /* One-dimensional projections: a cluster can only be heavy if each is. */
    struct u64map proj[AUTOFOCUS_DIMS];
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        proj[d] = (struct u64map) U64MAP_INITIALIZER;
    }
    for (size_t i = 0; i < n_in; i++) {
        if (!(in[i].weight > 0)) {
            continue;
        }
        for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
            uint32_t v = dim_get(&in[i].flow, d);
            for (uint8_t l = 0; l < h->n[d]; l++) {
                uint64_t key = ((uint64_t) l + 1) << 32 | dim_mask(d, h->level[d][l], v);
                u64map_slot(&proj[d], key, NULL)->d += in[i].weight;
            }
        }
    }

    size_t n = n_in;
    struct autofocus_record *rec = merge_records(in, &n, h, proj, threshold);

    /* Heavy clusters. */
    struct cmap map = { 0 };
    struct odometer o;
    struct ckey k;
    for (size_t i = 0; i < n; i++) {
        if (!(rec[i].weight > 0) || !odometer_start(&o, h, proj, &rec[i].flow, threshold)) {
            continue;
        }
        do {
            odometer_key(&o, h, &rec[i].flow, &k);
            cmap_slot(&map, &k)->w += rec[i].weight;
        } while (odometer_next(&o));
    }
    struct heavy *heavy = NULL;
    size_t n_heavy = 0, cap_heavy = 0;
    for (size_t i = 0; i < map.cap; i++) {
        struct cslot *s = &map.slots[i];
        if (s->used && s->w >= threshold) {
            vnet_grow((void **) &heavy, &cap_heavy, n_heavy + 1, sizeof *heavy);
            int depth = 0;
            for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
                depth += h->n[d] - 1 - s->key.li[d];
            }
            heavy[n_heavy] = (struct heavy) { .key = s->key, .w = s->w, .depth = depth };
            s->id = (uint32_t) ++n_heavy;
        }
    }

    size_t *start;
    uint32_t *members = collect_members(rec, n, h, proj, threshold, &map, n_heavy,
                                        &start);
    compress(rec, n, h, threshold, heavy, n_heavy, start, members);
    free(members);

    size_t n_out = 0;
    struct autofocus_cluster *out = vnet_xmalloc(VNET_MAX(n_heavy, 1) * sizeof *out);
    for (size_t c = 0; c < n_heavy; c++) {
        if (!heavy[c].reported) {
            continue;
        }
        struct autofocus_cluster *x = &out[n_out++];
        memset(x, 0, sizeof *x);
        for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
            x->level[d] = h->level[d][heavy[c].key.li[d]];
            dim_set(&x->key, d, heavy[c].key.v[d]);
        }
        x->depth = (uint8_t) heavy[c].depth;
        x->weight = heavy[c].w;
        x->residual = heavy[c].residual;
    }
    qsort(out, n_out, sizeof *out, compare_output);

    free(start);
    free(heavy);
    free(map.slots);
    free(rec);
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        u64map_destroy(&proj[d]);
    }
    if (!n_out) {
        free(out);
        out = NULL;
    }
    *ret = out;
    return n_out;
}

bool
autofocus_contains(const struct autofocus_cluster *c, const struct flow5 *flow)
{
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        if (dim_mask(d, c->level[d], dim_get(flow, d)) != dim_get(&c->key, d)) {
            return false;
        }
    }
    return true;
}

void
autofocus_format_ip(const struct autofocus_cluster *c, enum autofocus_dim d,
                    char *buf, size_t size)
{
    uint32_t ip = dim_get(&c->key, d);
    snprintf(buf, size, "%u.%u.%u.%u/%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
             ip & 0xff, c->level[d]);
}

void
autofocus_port_range(const struct autofocus_cluster *c, enum autofocus_dim d,
                     uint16_t *lo, uint16_t *hi)
{
    uint16_t v = (uint16_t) dim_get(&c->key, d);
    switch (c->level[d]) {
    case AUTOFOCUS_PORT_EXACT:
        *lo = *hi = v;
        break;
    case AUTOFOCUS_PORT_CLASS:
        *lo = v < 1024 ? 0 : 1024;
        *hi = v < 1024 ? 1023 : 65535;
        break;
    default:
        *lo = 0;
        *hi = 65535;
        break;
    }
}

void
autofocus_format_proto(const struct autofocus_cluster *c, char *buf, size_t size)
{
    if (c->level[AUTOFOCUS_PROTO] != AUTOFOCUS_PROTO_EXACT) {
        snprintf(buf, size, "*");
        return;
    }
    switch (c->key.proto) {
    case 1:
        snprintf(buf, size, "icmp");
        break;
    case 6:
        snprintf(buf, size, "tcp");
        break;
    case 17:
        snprintf(buf, size, "udp");
        break;
    default:
        snprintf(buf, size, "%u", c->key.proto);
        break;
    }
}

void
autofocus_root(struct autofocus_cluster *c)
{
    memset(c, 0, sizeof *c);
    for (int d = 0; d < AUTOFOCUS_DIMS; d++) {
        c->level[d] = dim_root(d);
    }
}
