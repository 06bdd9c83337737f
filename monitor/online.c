#include "monitor/online.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "diag/bandwidth.h"
#include "diag/match.h"
#include "diag/topology.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"
#include "monitor/agent-topology.h"
#include "monitor/capture.h"

#define HELD_SNAP 128           /* bytes of a frame the matcher needs, at most */
#define BW_TAU0_NS 100000ull    /* bandwidth base interval: 100 us */
#define BW_HORIZON_NS (86400ull * 1000000000ull)

static void add_u64(struct json_object *, const char *key, uint64_t);
static void add_us(struct json_object *, const char *key, uint64_t ns);

/* A captured frame waiting to be merged into time order. */
struct held {
    uint64_t ts;
    uint32_t rank;              /* match_tie_rank() */
    uint32_t tid;               /* NF id in the topology */
    uint32_t len;
    uint16_t caplen;
    bool out;
    uint8_t data[HELD_SNAP];
};

/* The frames of one capture (an NF and direction) not yet fed, in arrival order,
 * which is time order for one capture ring. */
struct stream {
    struct held *v;
    size_t head, n, cap;        /* frames v[head .. n) */
};

/* The figures of one NF over one window (or their totals/maxima). */
struct nf_fig {
    uint64_t arrivals, departures, matched, unmatched, warmup;
    uint64_t tail, internal, consumed, in_flight, reordered;
    uint64_t lat_n, lat_p50, lat_p99, lat_max;      /* ns */
    uint64_t q_p50, q_p99, q_max;                   /* packets */
};

struct window {
    uint64_t t_start, t_end;
    struct nf_fig *nfs;         /* indexed by topology id */
};

struct online {
    struct online_config cfg;
    const struct agent_topology *atopo;
    struct topology *topo;
    struct match_nf *mnfs;
    struct match_config mcfg;
    uint32_t *tid;              /* agent NF index -> topology id (0: not analysed) */

    struct stream *streams;     /* [2 id + out]: held frames of one capture */
    uint32_t *rank;             /* [2 id + out]: match_tie_rank() */

    struct match *m;            /* the current window's matcher, or NULL */
    struct match *m_next;       /* the next window's, during the overlap */
    uint64_t win_start, win_end;    /* the current window [start, end) */
    uint64_t m_last_ts, next_last_ts;  /* the last frame fed to each matcher */
    uint64_t cutoff;            /* everything before it has been fed */
    uint64_t *late_max_ns;      /* per topology id: the latest a late frame came */
    uint64_t *first_ts;         /* [2 id + out]: first frame of each capture */
    uint64_t start_ns;          /* the analysis starts here (0: not yet decided) */
    uint64_t before_start;      /* frames before it, not analysed */
    uint64_t *late;             /* per topology id: frames that came after 'cutoff'
                                 * had passed them (fed out of order) */
    uint64_t *captured_in, *captured_out;   /* per topology id, lifetime */

    struct window *ring;        /* the last cfg.keep closed windows */
    uint64_t n_windows;
    struct nf_fig *total;       /* sums, and maxima for the maxima */
    struct expb **bw;           /* arrival bandwidth per topology id */
};

void
online_config_init(struct online_config *cfg)
{
    *cfg = (struct online_config) {
        .window_ns = 1000000000ull, .holdback_ns = 250000000ull, .keep = 10,
        .overlap_ns = 200000000ull,
    };
}

char *
online_create(const struct agent_topology *atopo, const struct online_config *cfg,
              struct online **ret)
{
    struct json_object *tj = agent_topology_to_json(atopo);
    struct topology *topo;
    struct vnet_error *error = topology_from_json(".", tj, false, &topo);
    json_object_put(tj);
    if (error) {
        char *msg = vnet_xasprintf("the chain's topology: %s", error->message);
        vnet_error_destroy(error);
        return msg;
    }
    struct online *o = vnet_xzalloc(sizeof *o);
    if (cfg) {
        o->cfg = *cfg;
    } else {
        online_config_init(&o->cfg);
    }
    o->cfg.keep = VNET_MAX(o->cfg.keep, 1);
    o->atopo = atopo;
    o->topo = topo;
    o->mnfs = vnet_xcalloc(topo->n_nfs, sizeof *o->mnfs);
    topology_to_match(topo, o->mnfs);
    match_config_init(&o->mcfg);
    o->tid = vnet_xcalloc(atopo->n_nfs + 1, sizeof *o->tid);
    for (size_t i = 0; i < atopo->n_nfs; i++) {
        int id = topology_find_nf(topo, atopo->nfs[i].name);
        o->tid[i] = id > 0 ? (uint32_t) id : 0;
    }
    o->captured_in = vnet_xcalloc(topo->n_nfs, sizeof *o->captured_in);
    o->captured_out = vnet_xcalloc(topo->n_nfs, sizeof *o->captured_out);
    o->late = vnet_xcalloc(topo->n_nfs, sizeof *o->late);
    o->late_max_ns = vnet_xcalloc(topo->n_nfs, sizeof *o->late_max_ns);
    o->first_ts = vnet_xcalloc(2 * topo->n_nfs, sizeof *o->first_ts);
    o->streams = vnet_xcalloc(2 * topo->n_nfs, sizeof *o->streams);
    o->rank = vnet_xcalloc(2 * topo->n_nfs, sizeof *o->rank);
    struct match *rk = match_create(&o->mcfg, o->mnfs, topo->n_nfs);
    for (uint32_t id = 1; id < topo->n_nfs; id++) {
        o->rank[2 * id] = match_tie_rank(rk, id, false);
        o->rank[2 * id + 1] = match_tie_rank(rk, id, true);
    }
    match_destroy(rk);
    o->ring = vnet_xcalloc(o->cfg.keep, sizeof *o->ring);
    for (size_t i = 0; i < o->cfg.keep; i++) {
        o->ring[i].nfs = vnet_xcalloc(topo->n_nfs, sizeof *o->ring[i].nfs);
    }
    o->total = vnet_xcalloc(topo->n_nfs, sizeof *o->total);
    o->bw = vnet_xcalloc(topo->n_nfs, sizeof *o->bw);
    *ret = o;
    return NULL;
}

void
online_destroy(struct online *o)
{
    if (!o) {
        return;
    }
    match_destroy(o->m);
    match_destroy(o->m_next);
    for (size_t i = 0; i < o->topo->n_nfs; i++) {
        expb_destroy(o->bw[i]);
    }
    for (size_t i = 0; i < o->cfg.keep; i++) {
        free(o->ring[i].nfs);
    }
    free(o->bw);
    free(o->total);
    free(o->ring);
    free(o->captured_in);
    free(o->captured_out);
    free(o->late);
    free(o->late_max_ns);
    free(o->first_ts);
    for (size_t i = 0; i < 2 * o->topo->n_nfs; i++) {
        free(o->streams[i].v);
    }
    free(o->streams);
    free(o->rank);
    free(o->tid);
    free(o->mnfs);
    topology_destroy(o->topo);
    free(o);
}

void
online_packet(struct online *o, size_t nf, bool arrivals, const struct capture_pkt *pkt)
{
    uint32_t tid = nf < o->atopo->n_nfs ? o->tid[nf] : 0;
    if (!tid) {
        return;
    }
    struct stream *st = &o->streams[2 * tid + !arrivals];
    if (st->n == st->cap) {
        if (st->cap && st->head >= st->cap / 2) {
            memmove(st->v, st->v + st->head, (st->n - st->head) * sizeof *st->v);
            st->n -= st->head;
            st->head = 0;
        } else {
            st->cap = st->cap ? 2 * st->cap : 1024;
            st->v = vnet_xrealloc(st->v, st->cap * sizeof *st->v);
        }
    }
    struct held *h = &st->v[st->n++];
    h->ts = pkt->ts_ns;
    h->tid = tid;
    h->out = !arrivals;
    h->len = pkt->len;
    h->caplen = (uint16_t) VNET_MIN(pkt->caplen, HELD_SNAP);
    memcpy(h->data, pkt->data, h->caplen);
    h->rank = o->rank[2 * tid + !arrivals];
    (arrivals ? o->captured_in : o->captured_out)[tid]++;
    uint64_t *first = &o->first_ts[2 * tid + !arrivals];
    if (!*first || pkt->ts_ns < *first) {
        *first = pkt->ts_ns;
    }
    if (pkt->ts_ns < o->cutoff) {
        o->late[tid]++;
        o->late_max_ns[tid] = VNET_MAX(o->late_max_ns[tid], o->cutoff - pkt->ts_ns);
    }
}

/* Orders frames by time, then rank; NULL 'b' (no frame) comes after any frame. */
static int
cmp_held(const struct held *a, const struct held *b)
{
    if (!b) {
        return -1;
    }
    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* Sorts v[0..n) ascending: LSD radix sort on 11-bit digits of v - min, as many
 * passes as the range needs (3 for a window's times in ns << 2). */
static void
sort_u64(uint64_t *v, size_t n)
{
    if (n < 2) {
        return;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = VNET_MIN(lo, v[i]);
        hi = VNET_MAX(hi, v[i]);
    }
    uint64_t *tmp = vnet_xmalloc(n * sizeof *tmp);
    uint64_t *src = v, *dst = tmp;
    for (unsigned int shift = 0; shift < 64 && (hi - lo) >> shift; shift += 11) {
        size_t count[2048] = { 0 };
        for (size_t i = 0; i < n; i++) {
            count[((src[i] - lo) >> shift) & 2047]++;
        }
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            dst[count[((src[i] - lo) >> shift) & 2047]++] = src[i];
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) {
        memcpy(v, src, n * sizeof *v);
    }
    free(tmp);
}

/* The value at percentile 'pct' of the ascending 'v[0..n)' (nearest rank). */
static uint64_t
pct_u64(const uint64_t *v, size_t n, double pct)
{
    if (!n) {
        return 0;
    }
    size_t k = (size_t) (pct / 100.0 * (double) n + 0.999999);
    return v[VNET_MIN(VNET_MAX(k, 1), n) - 1];
}

/* The figures of NF 'tid' for the hops of 'w''s trace that arrived in [ws, we).
 * The queue is replayed over every hop of the trace, so packets that arrived in
 * the lead-in before 'ws' are counted in the queue the window's arrivals see. */
static void
reduce_nf(const struct diag_trace *t, uint32_t tid, uint64_t ws, uint64_t we,
          struct nf_fig *f)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_hops; i++) {
        n += t->hops[i].nf == tid;
    }
    uint64_t *lat = vnet_xcalloc(n + 1, sizeof *lat);
    uint64_t *ev = vnet_xcalloc(2 * n + 1, sizeof *ev);
    size_t n_lat = 0, n_ev = 0;
    for (size_t i = 0; i < t->n_hops; i++) {
        const struct hop *h = &t->hops[i];
        if (h->nf != tid) {
            continue;
        }
        bool in = h->t_arr >= ws && h->t_arr < we;
        /* Events: t << 2 | 2 for an arrival (| 1 if in the window), t << 2 for a
         * departure or drop, so that at equal times the departure goes first. */
        ev[n_ev++] = h->t_arr << 2 | 2 | in;
        uint64_t t_leave = UINT64_MAX;
        switch (h->status) {
        case HOP_FORWARDED:
            if (h->t_dep != UINT64_MAX) {
                if (in) {
                    lat[n_lat++] = h->t_dep - h->t_arr;
                }
                t_leave = h->t_dep;
            } else {
                f->in_flight += in;
            }
            break;
        case HOP_DROPPED_TAIL:
            t_leave = h->t_arr;     /* never queued: leaves at once */
            f->tail += in;
            break;
        case HOP_DROPPED_INTERNAL:
            t_leave = VNET_MAX(h->t_drop, h->t_arr);
            f->internal += in;
            break;
        default:
            t_leave = VNET_MAX(h->t_drop, h->t_arr);
            f->consumed += in;
            break;
        }
        f->arrivals += in;
        if (t_leave != UINT64_MAX) {
            ev[n_ev++] = t_leave << 2;
        }
    }
    sort_u64(lat, n_lat);
    f->matched = f->lat_n = n_lat;
    f->lat_p50 = pct_u64(lat, n_lat, 50);
    f->lat_p99 = pct_u64(lat, n_lat, 99);
    f->lat_max = n_lat ? lat[n_lat - 1] : 0;

    sort_u64(ev, n_ev);
    uint64_t *qs = lat;         /* reuse: one sample per arrival, n >= arrivals */
    size_t n_q = 0;
    int64_t q = 0;
    for (size_t i = 0; i < n_ev; i++) {
        if (ev[i] & 2) {
            if (ev[i] & 1) {
                qs[n_q++] = (uint64_t) VNET_MAX(q, 0);
            }
            q++;
        } else {
            q--;
        }
    }
    sort_u64(qs, n_q);
    f->q_p50 = pct_u64(qs, n_q, 50);
    f->q_p99 = pct_u64(qs, n_q, 99);
    f->q_max = n_q ? qs[n_q - 1] : 0;
    free(lat);
    free(ev);
}

/* Ends the current window's matcher at 't_finish' and records its figures; the
 * next window's matcher, if any, becomes current. */
static void
close_window(struct online *o, uint64_t t_finish)
{
    struct window *w = &o->ring[o->n_windows % o->cfg.keep];
    struct diag_trace *t = match_finish(o->m, VNET_MAX(t_finish, o->m_last_ts));
    w->t_start = o->win_start;
    w->t_end = o->win_end;
    for (uint32_t id = 1; id < o->topo->n_nfs; id++) {
        struct match_stats st;
        match_get_stats(o->m, id, &st);
        struct nf_fig *f = &w->nfs[id];
        /* Over everything this matcher saw, lead-in and tail included. */
        *f = (struct nf_fig) {
            .unmatched = st.unmatched_out, .warmup = st.warmup_out,
            .reordered = st.reordered,
        };
        reduce_nf(t, id, o->win_start, o->win_end, f);
        for (size_t i = 0; i < t->n_hops; i++) {
            const struct hop *h = &t->hops[i];
            f->departures += h->nf == id && h->status == HOP_FORWARDED
                             && h->t_dep >= o->win_start && h->t_dep < o->win_end;
        }
        struct nf_fig *tot = &o->total[id];
        tot->arrivals += f->arrivals;
        tot->departures += f->departures;
        tot->matched += f->matched;
        tot->unmatched += f->unmatched;
        tot->warmup += f->warmup;
        tot->tail += f->tail;
        tot->internal += f->internal;
        tot->consumed += f->consumed;
        tot->reordered += f->reordered;
        tot->lat_n += f->lat_n;
        tot->lat_max = VNET_MAX(tot->lat_max, f->lat_max);
        tot->q_max = VNET_MAX(tot->q_max, f->q_max);
    }
    diag_trace_destroy(t);
    match_destroy(o->m);
    o->n_windows++;
    o->m = o->m_next;
    o->m_last_ts = o->next_last_ts;
    o->m_next = NULL;
    if (o->m) {
        o->win_start = o->win_end;
        o->win_end += o->cfg.window_ns;
    }
}

/* Window k's matcher sees [start_k - overlap, end_k + overlap): a packet that
 * arrives just before a boundary and leaves after it (a stall across the
 * boundary) is matched in the window it arrived in, and the queue a window's
 * first arrivals see includes what arrived before it. */
static void
feed(struct online *o, struct held *h)
{
    uint64_t ov = o->cfg.overlap_ns;
    while (o->m && h->ts >= o->win_end + ov) {
        close_window(o, o->win_end + ov);
    }
    if (!o->m) {
        uint64_t start = h->ts;
        if (o->win_end && h->ts >= o->win_end) {
            /* Keep windows aligned after an idle gap. */
            start = h->ts - (h->ts - o->win_end) % o->cfg.window_ns;
        }
        o->m = match_create(&o->mcfg, o->mnfs, o->topo->n_nfs);
        o->m_last_ts = 0;
        o->win_start = start;
        o->win_end = start + o->cfg.window_ns;
    }
    if (!o->m_next && h->ts + ov >= o->win_end) {
        o->m_next = match_create(&o->mcfg, o->mnfs, o->topo->n_nfs);
        o->next_last_ts = 0;
    }
    if (!h->out) {
        if (!o->bw[h->tid]) {
            o->bw[h->tid] = expb_create(h->ts, BW_TAU0_NS, BW_HORIZON_NS);
        }
        expb_add(o->bw[h->tid], h->ts, h->len);
    }
    match_packet(o->m, h->tid, h->out, h->ts, h->data, h->caplen);
    o->m_last_ts = VNET_MAX(o->m_last_ts, h->ts);
    if (o->m_next) {
        match_packet(o->m_next, h->tid, h->out, h->ts, h->data, h->caplen);
        o->next_last_ts = VNET_MAX(o->next_last_ts, h->ts);
    }
}

/* Captures begin one after the other, and OVS applies a new mirror flow by flow:
 * for a moment some of an NF's copies are captured and others not, which would
 * look like drops (arrivals seen, departures not) or generated packets.  So the
 * analysis starts once every capture of every NF has delivered its first frame
 * (plus 10 ms), or 1 s after the first frame for captures that stay silent.
 * Returns true once the start is decided. */
static bool
decide_start(struct online *o, uint64_t cutoff, bool all)
{
    uint64_t first = UINT64_MAX, last = 0;
    bool every = true;
    for (uint32_t id = 1; id < o->topo->n_nfs; id++) {
        for (int d = 0; d < 2; d++) {
            uint64_t t = o->first_ts[2 * id + d];
            if (!t) {
                every = false;
            } else {
                first = VNET_MIN(first, t);
                last = VNET_MAX(last, t);
            }
        }
    }
    if (first == UINT64_MAX) {
        return false;
    }
    if (every || all || cutoff > first + 1000000000ull) {
        o->start_ns = last + 10000000ull;
        return true;
    }
    return false;
}

void
online_advance(struct online *o, uint64_t now_ns)
{
    bool all = now_ns == UINT64_MAX;
    uint64_t cutoff = all ? UINT64_MAX
                      : now_ns > o->cfg.holdback_ns ? now_ns - o->cfg.holdback_ns : 0;
    if (!o->start_ns && !decide_start(o, cutoff, all)) {
        return;                 /* still waiting for every capture to begin */
    }
    o->cutoff = VNET_MAX(o->cutoff, cutoff);
    /* Merge the streams in (time, rank) order up to the cutoff: a linear scan
     * over the few streams per frame. */
    size_t n_streams = 2 * o->topo->n_nfs;
    for (;;) {
        struct stream *best = NULL;
        for (size_t i = 2; i < n_streams; i++) {
            struct stream *st = &o->streams[i];
            if (st->head < st->n && cmp_held(&st->v[st->head],
                                             best ? &best->v[best->head] : NULL) < 0) {
                best = st;
            }
        }
        if (!best || best->v[best->head].ts >= cutoff) {
            break;
        }
        struct held *h = &best->v[best->head++];
        if (h->ts < o->start_ns) {
            o->before_start++;
        } else {
            feed(o, h);
        }
        if (best->head == best->n) {
            best->head = best->n = 0;
        }
    }
    while (o->m && !all && cutoff >= o->win_end + o->cfg.overlap_ns) {
        close_window(o, o->win_end + o->cfg.overlap_ns);
    }
    if (all) {
        if (o->m_next && o->next_last_ts < o->win_end) {
            match_destroy(o->m_next);   /* nothing arrived in its window */
            o->m_next = NULL;
        }
        while (o->m) {
            uint64_t last = VNET_MAX(o->m_last_ts, o->next_last_ts);
            if (o->m_next) {
                close_window(o, last + 1);  /* the next window closes in turn */
            } else {
                o->win_end = VNET_MIN(o->win_end, last + 1);
                close_window(o, last + 1);
            }
        }
    } else if (o->m && cutoff > o->win_start) {
        match_advance(o->m, cutoff);
        if (o->m_next) {
            match_advance(o->m_next, cutoff);
        }
    }
    for (uint32_t id = 1; id < o->topo->n_nfs && !all; id++) {
        if (o->bw[id]) {
            expb_advance(o->bw[id], cutoff);
        }
    }
}

uint64_t
online_windows(const struct online *o)
{
    return o->n_windows;
}

uint64_t
online_frames_before_start(const struct online *o)
{
    return o->before_start;
}

static void
add_u64(struct json_object *obj, const char *key, uint64_t v)
{
    json_object_object_add(obj, key, json_object_new_int64((int64_t) v));
}

static void
add_us(struct json_object *obj, const char *key, uint64_t ns)
{
    json_object_object_add(obj, key, json_object_new_double((double) ns / 1e3));
}

static double
match_rate(const struct nf_fig *f)
{
    uint64_t could = f->matched + f->unmatched;
    return could ? (double) f->matched / (double) could : 1.0;
}

static struct json_object *
fig_to_json(const struct nf_fig *f, bool quantiles)
{
    struct json_object *obj = json_object_new_object();
    add_u64(obj, "arrivals", f->arrivals);
    add_u64(obj, "departures", f->departures);
    add_u64(obj, "matched", f->matched);
    json_object_object_add(obj, "match_rate", json_object_new_double(match_rate(f)));
    add_u64(obj, "unmatched", f->unmatched);
    add_u64(obj, "warmup", f->warmup);
    add_u64(obj, "drops_tail", f->tail);
    add_u64(obj, "drops_internal", f->internal);
    add_u64(obj, "drops_policy", f->consumed);
    add_u64(obj, "reordered", f->reordered);
    if (quantiles) {
        add_u64(obj, "in_flight", f->in_flight);
        add_us(obj, "latency_p50_us", f->lat_p50);
        add_us(obj, "latency_p99_us", f->lat_p99);
        add_u64(obj, "queue_p50", f->q_p50);
        add_u64(obj, "queue_p99", f->q_p99);
    }
    add_us(obj, "latency_max_us", f->lat_max);
    add_u64(obj, "queue_max", f->q_max);
    return obj;
}

static struct json_object *
bandwidth_to_json(const struct expb *e)
{
    static const struct { const char *name; uint64_t ns; } scales[] = {
        { "1ms", 1000000ull }, { "10ms", 10000000ull }, { "100ms", 100000000ull },
        { "1s", 1000000000ull },
    };
    struct json_object *obj = json_object_new_object();
    for (size_t i = 0; e && i < sizeof scales / sizeof *scales; i++) {
        struct bandwidth_stats bs;
        if (expb_query(e, scales[i].ns, &bs)) {
            continue;
        }
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "mean_bps", json_object_new_double(8 * bs.mean_Bps));
        json_object_object_add(s, "peak_bps_lo",
                               json_object_new_double(8 * bs.peak_lo_Bps));
        json_object_object_add(s, "peak_bps_hi",
                               json_object_new_double(8 * bs.peak_hi_Bps));
        json_object_object_add(obj, scales[i].name, s);
    }
    return obj;
}

/* For every analysed NF:
 *   "arrivals", "departures": frames captured so far (not yet analysed included);
 *   "window": the latest closed window's figures, with "t_start", "t_end";
 *   "recent_max": latency_max_us and queue_max over the kept windows;
 *   "total": the sums over every closed window (maxima for the _max figures);
 *   "bandwidth": arrival bandwidth at 1 ms .. 1 s, over the agent's life. */
/* The kept windows, oldest first: [{"t_start_ns", "seconds", "nfs": {"<nf>":
 * {"arrivals", "drops", "queue_max", "latency_p99_us", "latency_max_us"}}}]. */
struct json_object *
online_timeline_to_json(struct online *o)
{
    struct json_object *arr = json_object_new_array();
    size_t kept = (size_t) VNET_MIN(o->n_windows, o->cfg.keep);
    for (size_t k = 0; k < kept; k++) {
        const struct window *w = &o->ring[(o->n_windows - kept + k) % o->cfg.keep];
        struct json_object *e = json_object_new_object();
        add_u64(e, "t_start_ns", w->t_start);
        json_object_object_add(e, "seconds", json_object_new_double(
                                   (double) (w->t_end - w->t_start) / 1e9));
        struct json_object *nfs = json_object_new_object();
        for (uint32_t id = 1; id < o->topo->n_nfs; id++) {
            const struct nf_fig *f = &w->nfs[id];
            struct json_object *n = json_object_new_object();
            add_u64(n, "arrivals", f->arrivals);
            add_u64(n, "drops", f->tail + f->internal + f->consumed);
            add_u64(n, "queue_max", f->q_max);
            add_us(n, "latency_p99_us", f->lat_p99);
            add_us(n, "latency_max_us", f->lat_max);
            json_object_object_add(nfs, o->topo->nfs[id].name, n);
        }
        json_object_object_add(e, "nfs", nfs);
        json_object_array_add(arr, e);
    }
    return arr;
}

struct json_object *
online_stats_to_json(struct online *o)
{
    struct json_object *obj = json_object_new_object();
    size_t kept = (size_t) VNET_MIN(o->n_windows, o->cfg.keep);
    const struct window *last = o->n_windows
        ? &o->ring[(o->n_windows - 1) % o->cfg.keep] : NULL;
    for (uint32_t id = 1; id < o->topo->n_nfs; id++) {
        struct json_object *n = json_object_new_object();
        add_u64(n, "arrivals", o->captured_in[id]);
        add_u64(n, "departures", o->captured_out[id]);
        add_u64(n, "late_frames", o->late[id]);
        add_us(n, "late_max_us", o->late_max_ns[id]);
        if (last) {
            struct json_object *w = fig_to_json(&last->nfs[id], true);
            add_u64(w, "t_start_ns", last->t_start);
            json_object_object_add(w, "seconds", json_object_new_double(
                                       (double) (last->t_end - last->t_start) / 1e9));
            json_object_object_add(n, "window", w);
            struct nf_fig mx = { 0 };
            for (size_t k = 0; k < kept; k++) {
                mx.lat_max = VNET_MAX(mx.lat_max, o->ring[k].nfs[id].lat_max);
                mx.q_max = VNET_MAX(mx.q_max, o->ring[k].nfs[id].q_max);
            }
            struct json_object *r = json_object_new_object();
            add_us(r, "latency_max_us", mx.lat_max);
            add_u64(r, "queue_max", mx.q_max);
            json_object_object_add(r, "seconds", json_object_new_double(
                (double) kept * (double) o->cfg.window_ns / 1e9));
            json_object_object_add(n, "recent_max", r);
            json_object_object_add(n, "total", fig_to_json(&o->total[id], false));
        }
        json_object_object_add(n, "bandwidth", bandwidth_to_json(o->bw[id]));
        json_object_object_add(obj, o->topo->nfs[id].name, n);
    }
    return obj;
}
