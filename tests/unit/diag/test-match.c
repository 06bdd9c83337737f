/* Tests diag/match.c: hop reconstruction from captured frames (spec B.2-B.5):
 * uid inheritance between NFs, content / NAT invariant / learned-mapping / keyless
 * matching, drops by the FIFO fast path and by timeout, tail vs internal, policy
 * drops (CONSUMED), a capture starting mid-stream, reordering, a DAG split and
 * merge, accounting and bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "diag/match.h"
#include "diag/packet.h"
#include "diag/trace.h"
#include "lib/util.h"

#define MS 1000000ULL
#define NONE UINT64_MAX

/* ---- Frames ---------------------------------------------------------------------- */

struct pk {
    uint32_t sip, dip;
    uint16_t sport, dport;
    uint16_t ip_id;
    uint8_t ttl, proto;         /* proto 17 (UDP) unless 6 or 50 (ESP) */
    uint32_t tag;               /* the first payload bytes */
    uint16_t plen;
    bool arp;
};

static struct pk
pk(uint32_t tag)
{
    return (struct pk) { .sip = 0x0a000001, .dip = 0x0a000002, .sport = 1000,
                         .dport = 2000, .ip_id = (uint16_t) tag, .ttl = 64, .proto = 17,
                         .tag = tag, .plen = 40 };
}

static size_t
mk(uint8_t *f, const struct pk *p)
{
    size_t l4 = p->proto == 6 ? 20 : 8;
    size_t total = 20 + l4 + p->plen;
    memset(f, 0, 14 + total);
    f[5] = 0xbb;
    f[11] = (uint8_t) p->ttl;               /* MACs change hop by hop */
    f[12] = 0x08;
    f[13] = p->arp ? 0x06 : 0x00;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t) (total >> 8), ip[3] = (uint8_t) total;
    ip[4] = (uint8_t) (p->ip_id >> 8), ip[5] = (uint8_t) p->ip_id;
    ip[8] = p->ttl;
    ip[9] = p->proto;
    ip[10] = p->ttl;                        /* "checksum" follows the TTL */
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t) (p->sip >> (24 - 8 * i));
        ip[16 + i] = (uint8_t) (p->dip >> (24 - 8 * i));
    }
    uint8_t *u = ip + 20;
    if (p->proto != 50) {
        u[0] = (uint8_t) (p->sport >> 8), u[1] = (uint8_t) p->sport;
        u[2] = (uint8_t) (p->dport >> 8), u[3] = (uint8_t) p->dport;
    }
    if (p->proto == 6) {
        u[12] = 5 << 4;
        u[13] = 0x10;
    }
    for (int i = 0; i < 4; i++) {
        u[l4 + (size_t) i] = (uint8_t) (p->tag >> (24 - 8 * i));
    }
    return 14 + total;
}

/* ---- Events ---------------------------------------------------------------------- */

struct ev {
    uint64_t t;
    uint32_t nf;
    bool out;
    struct pk p;
};

struct evs {
    struct ev *v;
    size_t n, cap;
};

static void
add(struct evs *e, uint64_t t, uint32_t nf, bool out, struct pk p)
{
    vnet_grow((void **) &e->v, &e->cap, e->n + 1, sizeof *e->v);
    e->v[e->n++] = (struct ev) { t, nf, out, p };
}

/* Time order; at equal times by NF id (ids follow the graph) and in before out. */
static int
compare_ev(const void *a_, const void *b_)
{
    const struct ev *a = a_, *b = b_;
    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    uint32_t ra = a->nf * 2 + a->out, rb = b->nf * 2 + b->out;
    return ra < rb ? -1 : ra > rb;
}

static void
run(struct match *m, struct evs *e)
{
    qsort(e->v, e->n, sizeof *e->v, compare_ev);
    for (size_t i = 0; i < e->n; i++) {
        uint8_t f[2048];
        size_t len = mk(f, &e->v[i].p);
        match_packet(m, e->v[i].nf, e->v[i].out, e->v[i].t, f, len);
    }
    free(e->v);
    *e = (struct evs) { NULL, 0, 0 };
}

/* ---- Topologies ------------------------------------------------------------------ */

struct topo {
    struct match_nf nfs[8];
    uint32_t preds[8][4], succs[8][4];
    size_t n;
};

static void
topo_nf(struct topo *t, uint32_t id, const char *name, enum match_class cls)
{
    t->nfs[id] = (struct match_nf) { .name = name, .type = id, .cls = cls,
                                     .r_peak = 1e-3 * id, .fifo = true,
                                     .preds = t->preds[id], .succs = t->succs[id] };
    t->n = VNET_MAX(t->n, (size_t) id + 1);
}

static void
topo_edge(struct topo *t, uint32_t from, uint32_t to)
{
    if (from != NF_SOURCE) {
        t->succs[from][t->nfs[from].n_succs++] = to;
    }
    if (to != NF_EGRESS) {
        t->preds[to][t->nfs[to].n_preds++] = from;
    }
}

/* ingress -> 1 -> 2 -> ... -> n -> egress with the given classes. */
static void
topo_chain(struct topo *t, const enum match_class *cls, size_t n)
{
    static const char *const names[] = { "source", "a", "b", "c", "d", "e", "f", "g" };
    memset(t, 0, sizeof *t);
    for (uint32_t i = 1; i <= n; i++) {
        topo_nf(t, i, names[i], cls[i - 1]);
    }
    for (uint32_t i = 1; i <= n; i++) {
        topo_edge(t, i - 1, i);
    }
    topo_edge(t, (uint32_t) n, NF_EGRESS);
}

static struct match *
create(struct topo *t)
{
    struct match_config cfg;
    match_config_init(&cfg);
    return match_create(&cfg, t->nfs, t->n);
}

static const struct hop *
hop_of(const struct diag_trace *t, size_t pkt, size_t k)
{
    assert_true(k < t->pkts[pkt].hop_cnt);
    return &t->hops[t->pkts[pkt].hop_off + k];
}

/* The packet whose ingress time is 't'. */
static size_t
pkt_at(const struct diag_trace *t, uint64_t ingress)
{
    for (size_t i = 0; i < t->n_pkts; i++) {
        if (t->pkts[i].t_ingress == ingress) {
            return i;
        }
    }
    fail_msg("no packet entered at %llu", (unsigned long long) ingress);
    return 0;
}

static void
check_trace_shape(const struct diag_trace *t)
{
    size_t total = 0;
    for (size_t i = 0; i < t->n_pkts; i++) {
        const struct pkt *p = &t->pkts[i];
        if (i) {
            assert_true(t->pkts[i - 1].t_ingress <= p->t_ingress);
        }
        assert_int_equal(p->hop_off, total);
        total += p->hop_cnt;
        for (uint32_t k = 0; k < p->hop_cnt; k++) {
            const struct hop *h = &t->hops[p->hop_off + k];
            assert_true(h->uid == p->uid);
            if (k) {
                assert_true(t->hops[p->hop_off + k - 1].t_arr <= h->t_arr);
            } else {
                assert_true(h->t_arr == p->t_ingress);
            }
        }
    }
    assert_int_equal(total, t->n_hops);
}

/* ---- Tests ----------------------------------------------------------------------- */

/* Two forwarding NFs: uids carry across the OVS hop although TTL, "checksum" and
 * MACs change at each NF. */
static void
test_content_chain(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT, MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    tp.nfs[2].qcap = 64;
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 50; i++) {
        struct pk p = pk(i);
        uint64_t t0 = 1000 + 1000 * (uint64_t) i, d1 = t0 + 100 + i, a2 = d1 + 10;
        add(&e, t0, 1, false, p);
        p.ttl--;
        add(&e, d1, 1, true, p);
        add(&e, a2, 2, false, p);
        p.ttl--;
        add(&e, a2 + 200, 2, true, p);
    }
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.in_flight, 0);
    struct diag_trace *t = match_finish(m, 60000);
    check_trace_shape(t);
    assert_int_equal(t->n_pkts, 50);
    assert_int_equal(t->n_hops, 100);
    for (uint32_t i = 0; i < 50; i++) {
        uint64_t t0 = 1000 + 1000 * (uint64_t) i;
        size_t p = pkt_at(t, t0);
        assert_int_equal(t->pkts[p].hop_cnt, 2);
        assert_int_equal(t->pkts[p].flow.dport, 2000);
        const struct hop *h1 = hop_of(t, p, 0), *h2 = hop_of(t, p, 1);
        assert_int_equal(h1->nf, 1);
        assert_int_equal(h2->nf, 2);
        assert_true(h1->t_arr == t0 && h1->t_dep == t0 + 100 + i);
        assert_true(h2->t_arr == t0 + 110 + i && h2->t_dep == t0 + 310 + i);
        assert_int_equal(h1->status, HOP_FORWARDED);
        assert_int_equal(h2->status, HOP_FORWARDED);
        assert_int_equal(h1->len, 20 + 8 + 40);
    }
    assert_int_equal(t->n_nfs, 3);
    assert_string_equal(t->nfs[1].name, "a");
    assert_int_equal(t->nfs[2].qcap, 64);
    assert_true(t->nfs[2].r_peak == 2e-3);
    assert_int_equal(t->nfs[1].n_preds, 1);
    assert_int_equal(t->nfs[1].preds[0], NF_SOURCE);
    assert_int_equal(t->nfs[1].succs[0], 2);
    assert_int_equal(t->nfs[2].succs[0], NF_EGRESS);
    for (uint32_t f = 1; f <= 2; f++) {
        assert_int_equal(t->acct[f].in_pkts, 50);
        assert_int_equal(t->acct[f].out_pkts, 50);
        assert_int_equal(t->acct[f].unmatched_out, 0);
        match_get_stats(m, f, &st);
        assert_int_equal(st.matched, 50);
        assert_true(match_stats_rate(&st) == 1.0);
        assert_int_equal(st.orphan_in, 0);
    }
    assert_true(t->t_start == 1000 && t->t_end == 60000);
    assert_int_equal(match_in_flight(m), 0);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* A NAT rewrites the source address and port: matched by the invariant key, and
 * the next NF inherits the uid through the rewritten bytes. */
static void
test_nat_invariant(void **state)
{
    enum match_class cls[] = { MATCH_NAT, MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 20; i++) {
        struct pk p = pk(i);
        p.sport = (uint16_t) (1000 + i % 3);    /* three flows */
        uint64_t t0 = 1000 * (uint64_t) i;
        add(&e, t0, 1, false, p);
        p.sip = 0xc6336401;
        p.sport = (uint16_t) (40000 + i % 3);
        p.ttl--;
        add(&e, t0 + 50, 1, true, p);
        add(&e, t0 + 60, 2, false, p);
        add(&e, t0 + 90, 2, true, p);
    }
    run(m, &e);
    struct diag_trace *t = match_finish(m, 30000);
    check_trace_shape(t);
    assert_int_equal(t->n_pkts, 20);
    for (uint32_t i = 0; i < 20; i++) {
        size_t p = pkt_at(t, 1000 * (uint64_t) i);
        const struct hop *nat = hop_of(t, p, 0), *b = hop_of(t, p, 1);
        assert_int_equal(nat->status, HOP_FORWARDED);
        assert_true(nat->t_dep == 1000 * (uint64_t) i + 50);
        assert_int_equal(nat->f_in.sip, 0x0a000001);
        assert_int_equal(nat->f_in.sport, 1000 + i % 3);
        assert_int_equal(nat->f_out.sip, 0xc6336401);
        assert_int_equal(nat->f_out.sport, 40000 + i % 3);
        assert_int_equal(b->f_in.sport, 40000 + i % 3);
        assert_int_equal(t->pkts[p].flow.sport, 1000 + i % 3);
    }
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.matched, 20);
    assert_int_equal(st.matched_mapping, 0);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* A NAT that randomises the IP ID: the invariant key never matches, the learned
 * flow mapping does.  Two flows send identical payloads, so only the mapping tells
 * their packets apart when the NAT drops one. */
static void
test_nat_random_ipid(void **state)
{
    enum match_class cls[] = { MATCH_NAT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    uint16_t rnd = 12345;
    for (uint32_t i = 0; i < 10; i++) {
        for (uint32_t fl = 0; fl < 2; fl++) {
            struct pk p = pk(7);                /* same payload for all */
            p.ip_id = (uint16_t) (100 * fl + i);
            p.sport = (uint16_t) (1000 + fl);
            uint64_t t0 = 10000 * (uint64_t) i + 10 * fl;
            add(&e, t0, 1, false, p);
            if (i == 3 && fl == 0) {
                continue;                       /* A4 dies inside the NAT */
            }
            rnd = (uint16_t) (rnd * 75 + 74);
            p.ip_id = rnd;
            p.sip = 0xc6336401;
            p.sport = (uint16_t) (50000 + fl);
            add(&e, t0 + 500, 1, true, p);
        }
    }
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.matched, 19);
    assert_int_equal(st.unmatched_out, 0);
    /* The first packet of each flow is matched by age and teaches the mapping. */
    assert_int_equal(st.matched_mapping, 17);
    struct diag_trace *t = match_finish(m, 200000);
    check_trace_shape(t);
    for (uint32_t i = 0; i < 10; i++) {
        for (uint32_t fl = 0; fl < 2; fl++) {
            uint64_t t0 = 10000 * (uint64_t) i + 10 * fl;
            const struct hop *h = hop_of(t, pkt_at(t, t0), 0);
            assert_int_equal(h->f_in.sport, 1000 + fl);
            if (i == 3 && fl == 0) {
                assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
                assert_true(h->t_drop == t0 + 10 + 500);   /* when B4 left */
            } else {
                assert_int_equal(h->status, HOP_FORWARDED);
                assert_true(h->t_dep == t0 + 500);
                assert_int_equal(h->f_out.sport, 50000 + fl);
            }
        }
    }
    diag_trace_destroy(t);
    match_destroy(m);
}

/* FIFO fast path: a departure drops the older arrivals still pending. */
static void
test_drop_fifo_fast_path(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 10; i++) {
        add(&e, 100 * (uint64_t) i, 1, false, pk(i));
        if (i != 4) {
            add(&e, 100 * (uint64_t) i + 30, 1, true, pk(i));
        }
    }
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.drops_fifo, 1);
    assert_int_equal(st.drops_timeout, 0);
    struct diag_trace *t = match_finish(m, 1000);
    const struct hop *h = hop_of(t, pkt_at(t, 400), 0);
    assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
    assert_true(h->t_drop == 530);
    assert_true(h->t_dep == NONE);
    assert_int_equal(hop_of(t, pkt_at(t, 500), 0)->status, HOP_FORWARDED);
    match_get_stats(m, 1, &st);
    assert_int_equal(st.internal_drops, 1);
    assert_int_equal(st.tail_drops, 0);
    assert_int_equal(st.consumed, 0);
    assert_int_equal(st.matched, 9);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* Timeouts: at a non-FIFO NF the drop waits for TO_f and is dated by the first later
 * arrival's departure; at the end, an arrival older than TO_f is dropped (dated
 * when it was given up), a younger one stays in flight. */
static void
test_drop_timeout(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT, MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    tp.nfs[1].fifo = false;
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 10; i++) {
        uint64_t t0 = 1000 * (uint64_t) i;
        add(&e, t0, 1, false, pk(i));
        if (i != 4) {
            add(&e, t0 + 300, 1, true, pk(i));
        }
    }
    /* b: one packet at 1 ms (lost), one at 60 ms (still inside at the end). */
    struct pk lost = pk(100), late = pk(101);
    lost.sport = late.sport = 7;                /* not from a */
    add(&e, 1 * MS, 2, false, lost);
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.drops_timeout, 0);
    match_advance(m, 40 * MS);
    match_get_stats(m, 1, &st);
    assert_int_equal(st.drops_timeout, 0);
    match_advance(m, 4000 + 50 * MS + 1);
    match_get_stats(m, 1, &st);
    assert_int_equal(st.drops_timeout, 1);
    assert_int_equal(st.drops_fifo, 0);
    assert_true(st.fifo == false);
    match_get_stats(m, 2, &st);
    assert_int_equal(st.drops_timeout, 0);     /* 1 ms + 50 ms is still to come */
    uint8_t f[2048];
    size_t len = mk(f, &late);
    match_packet(m, 2, false, 60 * MS, f, len);
    match_get_stats(m, 2, &st);
    assert_int_equal(st.drops_timeout, 1);

    struct diag_trace *t = match_finish(m, 70 * MS);
    const struct hop *h = hop_of(t, pkt_at(t, 4000), 0);
    assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
    assert_true(h->t_drop == 5300);
    h = hop_of(t, pkt_at(t, 1 * MS), 0);
    assert_int_equal(h->nf, 2);
    assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
    assert_true(h->t_drop == 51 * MS);
    h = hop_of(t, pkt_at(t, 60 * MS), 0);
    assert_int_equal(h->status, HOP_FORWARDED);
    assert_true(h->t_dep == NONE);
    match_get_stats(m, 2, &st);
    assert_int_equal(st.in_flight, 1);
    assert_int_equal(st.drops_timeout, 1);
    assert_int_equal(st.orphan_in, 2);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* Tail drops are the ones that found the queue at qcap (t_drop = arrival); the
 * others are internal.  Without a qcap, every drop is internal. */
static void
test_tail_vs_internal(void **state)
{
    for (int with_qcap = 0; with_qcap < 2; with_qcap++) {
        enum match_class cls[] = { MATCH_CONTENT };
        struct topo tp;
        topo_chain(&tp, cls, 1);
        tp.nfs[1].qcap = with_qcap ? 8 : 0;
        struct match *m = create(&tp);
        struct evs e = { NULL, 0, 0 };
        for (uint32_t i = 0; i < 12; i++) {     /* a burst: 8 fit, 4 overflow */
            add(&e, i, 1, false, pk(i));
            if (i < 8) {
                add(&e, 1000 + 100 * (uint64_t) i, 1, true, pk(i));
            }
        }
        add(&e, 5000, 1, false, pk(12));
        add(&e, 5100, 1, true, pk(12));
        add(&e, 6000, 1, false, pk(13));        /* lost inside, queue empty */
        add(&e, 6010, 1, false, pk(14));
        add(&e, 6100, 1, true, pk(14));
        run(m, &e);
        struct diag_trace *t = match_finish(m, 7000);
        for (uint32_t i = 8; i < 12; i++) {
            const struct hop *h = hop_of(t, pkt_at(t, i), 0);
            assert_int_equal(h->status, with_qcap ? HOP_DROPPED_TAIL
                                                  : HOP_DROPPED_INTERNAL);
            assert_true(h->t_drop == (with_qcap ? i : 5100));
        }
        const struct hop *h = hop_of(t, pkt_at(t, 6000), 0);
        assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
        assert_true(h->t_drop == 6100);
        struct match_stats st;
        match_get_stats(m, 1, &st);
        assert_int_equal(st.tail_drops, with_qcap ? 4 : 0);
        assert_int_equal(st.internal_drops, with_qcap ? 1 : 5);
        assert_int_equal(st.drops_fifo, 5);
        diag_trace_destroy(t);
        match_destroy(m);
    }
}

/* Policy drops: a flow losing >= 99% of >= 100 packets, or matching a known rule,
 * is CONSUMED; lighter or shorter losses stay drops. */
static void
test_consumed(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    struct match_rule ssh = { .proto = 17, .dport_lo = 22, .dport_hi = 22 };
    tp.nfs[1].rules = &ssh;
    tp.nfs[1].n_rules = 1;
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 150; i++) {
        uint64_t t0 = 10000 * (uint64_t) i;
        static const uint16_t ports[] = { 5060, 80, 53, 443, 22 };
        for (uint32_t k = 0; k < 5; k++) {
            if ((k == 3 && i >= 50) || (k == 4 && i >= 5)) {
                continue;
            }
            struct pk p = pk(i * 8 + k);
            p.dport = ports[k];
            add(&e, t0 + k, 1, false, p);
            bool leaves = k == 1 || (k == 2 && i % 2 == 0);
            if (leaves) {
                add(&e, t0 + 500 + k, 1, true, p);
            }
        }
    }
    run(m, &e);
    struct diag_trace *t = match_finish(m, 2000 * MS);
    size_t count[5][4] = { { 0 } };
    for (size_t i = 0; i < t->n_hops; i++) {
        const struct hop *h = &t->hops[i];
        int k = h->f_in.dport == 5060 ? 0 : h->f_in.dport == 80 ? 1
                : h->f_in.dport == 53 ? 2 : h->f_in.dport == 443 ? 3 : 4;
        count[k][h->status]++;
    }
    assert_int_equal(count[0][HOP_CONSUMED], 150);      /* 100% of 150 */
    assert_int_equal(count[1][HOP_FORWARDED], 150);
    assert_int_equal(count[2][HOP_FORWARDED], 75);      /* 50% loss: victims */
    assert_int_equal(count[2][HOP_DROPPED_INTERNAL], 75);
    assert_int_equal(count[3][HOP_DROPPED_INTERNAL], 50);  /* 100% of only 50 */
    assert_int_equal(count[4][HOP_CONSUMED], 5);        /* the known rule */
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.consumed, 155);
    assert_int_equal(st.internal_drops, 125);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* The capture starts while packets are inside the NF: their departures are
 * warm-up until the first Q = 0; an unmatched departure later is counted as such.
 * Both reach the trace's unmatched_out. */
static void
test_midstream_and_rate(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    add(&e, 0, 1, true, pk(900));               /* entered before the capture */
    add(&e, 5, 1, false, pk(1));
    add(&e, 10, 1, true, pk(901));
    add(&e, 20, 1, true, pk(1));                /* Q = 0 */
    for (uint32_t i = 2; i < 100; i++) {
        add(&e, 100 * (uint64_t) i, 1, false, pk(i));
        add(&e, 100 * (uint64_t) i + 10, 1, true, pk(i));
    }
    add(&e, 20000, 1, true, pk(902));           /* generated by the NF */
    add(&e, 20001, 1, true, pk(903));
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.in, 99);
    assert_int_equal(st.out, 103);
    assert_int_equal(st.warmup_out, 2);
    assert_int_equal(st.unmatched_out, 2);
    assert_int_equal(st.matched, 99);
    assert_true(match_stats_rate(&st) == 99.0 / 101.0);
    struct diag_trace *t = match_finish(m, 30000);
    assert_int_equal(t->acct[1].in_pkts, 99);
    assert_int_equal(t->acct[1].out_pkts, 103);
    assert_int_equal(t->acct[1].unmatched_out, 4);
    assert_int_equal(t->n_hops, 99);
    match_add_capture_drops(m, 1, 3);
    match_get_stats(m, 1, &st);
    assert_int_equal(st.capture_drops, 3);
    diag_trace_destroy(t);
    match_destroy(m);

    /* Capture losses reported before the end reach the trace. */
    m = create(&tp);
    match_add_capture_drops(m, 1, 7);
    t = match_finish(m, 0);
    assert_int_equal(t->acct[1].capture_drops, 7);
    assert_int_equal(t->n_pkts, 0);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* An NF declared FIFO that reorders: the fast-path drop is revoked when the packet
 * leaves after all, and the fast path is switched off. */
static void
test_reordering(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    uint64_t arr[] = { 0, 1, 2, 20, 21 }, dep[] = { 11, 10, 12, 31, 30 };
    for (uint32_t i = 0; i < 5; i++) {
        add(&e, arr[i], 1, false, pk(i));
        add(&e, dep[i], 1, true, pk(i));
    }
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.reordered, 2);
    assert_int_equal(st.drops_fifo, 0);
    assert_false(st.fifo);
    struct diag_trace *t = match_finish(m, 100);
    for (uint32_t i = 0; i < 5; i++) {
        const struct hop *h = hop_of(t, pkt_at(t, arr[i]), 0);
        assert_int_equal(h->status, HOP_FORWARDED);
        assert_true(h->t_dep == dep[i]);
    }
    match_get_stats(m, 1, &st);
    assert_int_equal(st.internal_drops + st.tail_drops + st.consumed, 0);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* A DAG: lb splits between fw1 and fw2, which merge into vpn. */
static void
test_dag_split_merge(void **state)
{
    struct topo tp;
    memset(&tp, 0, sizeof tp);
    topo_nf(&tp, 1, "lb", MATCH_CONTENT);
    topo_nf(&tp, 2, "fw1", MATCH_CONTENT);
    topo_nf(&tp, 3, "fw2", MATCH_CONTENT);
    topo_nf(&tp, 4, "vpn", MATCH_CONTENT);
    topo_edge(&tp, NF_SOURCE, 1);
    topo_edge(&tp, 1, 2);
    topo_edge(&tp, 1, 3);
    topo_edge(&tp, 2, 4);
    topo_edge(&tp, 3, 4);
    topo_edge(&tp, 4, NF_EGRESS);
    struct match *m = create(&tp);
    assert_int_equal(match_tie_rank(m, 1, false), 2);
    assert_int_equal(match_tie_rank(m, 1, true), 3);
    assert_int_equal(match_tie_rank(m, 2, true), match_tie_rank(m, 3, true));
    assert_int_equal(match_tie_rank(m, 4, false), 6);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 40; i++) {
        struct pk p = pk(i);
        uint64_t t0 = 1000 * (uint64_t) i;
        uint32_t fw = 2 + i % 2;
        add(&e, t0, 1, false, p);
        add(&e, t0 + 10, 1, true, p);
        add(&e, t0 + 20, fw, false, p);
        add(&e, t0 + 40 + 5 * fw, fw, true, p);
        add(&e, t0 + 70, 4, false, p);
        add(&e, t0 + 90, 4, true, p);
    }
    run(m, &e);
    struct diag_trace *t = match_finish(m, 50000);
    check_trace_shape(t);
    assert_int_equal(t->n_pkts, 40);
    for (uint32_t i = 0; i < 40; i++) {
        size_t p = pkt_at(t, 1000 * (uint64_t) i);
        assert_int_equal(t->pkts[p].hop_cnt, 3);
        assert_int_equal(hop_of(t, p, 0)->nf, 1);
        assert_int_equal(hop_of(t, p, 1)->nf, 2 + i % 2);
        assert_int_equal(hop_of(t, p, 2)->nf, 4);
        uint64_t fw_dep = 1000 * (uint64_t) i + 40 + 5 * (2 + i % 2);
        assert_true(hop_of(t, p, 1)->t_dep == fw_dep);
    }
    assert_int_equal(t->nfs[1].n_succs, 2);
    assert_int_equal(t->nfs[4].n_preds, 2);
    assert_int_equal(t->nfs[4].preds[1], 3);
    for (uint32_t f = 2; f <= 4; f++) {
        struct match_stats st;
        match_get_stats(m, f, &st);
        assert_int_equal(st.orphan_in, 0);
        assert_int_equal(st.matched, f == 4 ? 40 : 20);
    }
    diag_trace_destroy(t);
    match_destroy(m);
}

/* A keyless (encrypting) NF aligned by arrival order and length; one input dies
 * inside it; the next NF inherits the uid through the encrypted bytes. */
static void
test_keyless(void **state)
{
    enum match_class cls[] = { MATCH_KEYLESS, MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    uint16_t lens[] = { 100, 1000, 100, 1000, 300 };
    for (uint32_t i = 0; i < 5; i++) {
        struct pk p = pk(i);
        p.plen = lens[i];
        uint64_t t0 = 1000 * (uint64_t) i;
        add(&e, t0, 1, false, p);
        if (i == 1) {
            continue;
        }
        struct pk esp = { .sip = 0xcb007101, .dip = 0xcb007102, .ip_id = 0,
                          .ttl = 64, .proto = 50, .tag = 0xe5b00000 + i,
                          .plen = (uint16_t) (lens[i] + 50) };
        add(&e, t0 + 400, 1, true, esp);
        add(&e, t0 + 410, 2, false, esp);
        add(&e, t0 + 450, 2, true, esp);
    }
    run(m, &e);
    struct diag_trace *t = match_finish(m, 10000);
    check_trace_shape(t);
    assert_int_equal(t->n_pkts, 5);
    for (uint32_t i = 0; i < 5; i++) {
        size_t p = pkt_at(t, 1000 * (uint64_t) i);
        const struct hop *h = hop_of(t, p, 0);
        if (i == 1) {
            assert_int_equal(t->pkts[p].hop_cnt, 1);
            assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
            assert_true(h->t_drop == 2400);
            continue;
        }
        assert_int_equal(t->pkts[p].hop_cnt, 2);
        assert_true(h->t_dep == 1000 * (uint64_t) i + 400);
        assert_int_equal(h->f_out.proto, 50);
        assert_int_equal(hop_of(t, p, 1)->nf, 2);
    }
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.matched, 4);
    assert_int_equal(st.drops_fifo, 1);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* An arrival no predecessor was seen sending (capture gap upstream) starts a new
 * packet at that NF; frames that are not IP are counted and left out. */
static void
test_orphans_and_non_ip(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT, MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    add(&e, 0, 1, false, pk(1));
    add(&e, 10, 1, true, pk(1));
    add(&e, 20, 2, false, pk(1));
    add(&e, 30, 2, true, pk(1));
    add(&e, 100, 2, false, pk(2));              /* a's copies were lost */
    add(&e, 130, 2, true, pk(2));
    struct pk arp = pk(3);
    arp.arp = true;
    add(&e, 200, 1, false, arp);
    add(&e, 210, 1, true, arp);
    run(m, &e);
    struct diag_trace *t = match_finish(m, 1000);
    check_trace_shape(t);
    assert_int_equal(t->n_pkts, 2);
    size_t p = pkt_at(t, 100);
    assert_int_equal(t->pkts[p].hop_cnt, 1);
    assert_int_equal(hop_of(t, p, 0)->nf, 2);
    struct match_stats st;
    match_get_stats(m, 2, &st);
    assert_int_equal(st.orphan_in, 1);
    match_get_stats(m, 1, &st);
    assert_int_equal(st.skipped_in, 1);
    assert_int_equal(st.skipped_out, 1);
    assert_int_equal(st.in, 1);
    assert_int_equal(st.out, 1);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* TO_f follows 10 x p99 latency: with 20 ms latencies a 150 ms sojourn is no drop,
 * and an arrival is given up only after about 210 ms. */
static void
test_timeout_follows_latency(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT };
    struct topo tp;
    topo_chain(&tp, cls, 1);
    tp.nfs[1].fifo = false;
    struct match *m = create(&tp);
    struct evs e = { NULL, 0, 0 };
    for (uint32_t i = 0; i < 200; i++) {
        add(&e, i * MS, 1, false, pk(i));
        add(&e, i * MS + 20 * MS, 1, true, pk(i));
    }
    add(&e, 300 * MS, 1, false, pk(1000));
    add(&e, 450 * MS, 1, true, pk(1000));
    add(&e, 460 * MS, 1, false, pk(1001));      /* never leaves */
    run(m, &e);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_true(st.latency_p99_ns >= 20 * MS && st.latency_p99_ns < 21 * MS);
    assert_true(st.timeout_ns == 10 * st.latency_p99_ns);
    assert_int_equal(st.matched, 201);
    assert_int_equal(st.drops_timeout, 0);
    struct diag_trace *t = match_finish(m, 460 * MS + 250 * MS);
    const struct hop *h = hop_of(t, pkt_at(t, 460 * MS), 0);
    assert_int_equal(h->status, HOP_DROPPED_INTERNAL);
    assert_true(h->t_drop == 460 * MS + st.timeout_ns);
    diag_trace_destroy(t);
    match_destroy(m);
}

/* Memory follows packets in flight, not the length of the stream. */
static void
test_bounded_memory(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT, MATCH_NAT };
    struct topo tp;
    topo_chain(&tp, cls, 2);
    struct match *m = create(&tp);
    size_t max_live = 0;
    const uint32_t n = 200000;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t0 = 1000 * (uint64_t) i;
        struct pk p = pk(i);
        p.sport = (uint16_t) (1 + i % 50);
        uint8_t f[2048];
        size_t len = mk(f, &p);
        match_packet(m, 1, false, t0, f, len);
        if (i % 100 == 7) {
            continue;                           /* 1% lost in a */
        }
        p.ttl--;
        len = mk(f, &p);
        match_packet(m, 1, true, t0 + 400, f, len);
        match_packet(m, 2, false, t0 + 410, f, len);
        p.sip = 0xc6336401;
        len = mk(f, &p);
        match_packet(m, 2, true, t0 + 900, f, len);
        max_live = VNET_MAX(max_live, match_in_flight(m));
    }
    /* About 50 ms of revocable drops (500) plus a few packets in flight. */
    assert_true(max_live < 1000);
    struct diag_trace *t = match_finish(m, 1000 * (uint64_t) n + 100 * MS);
    assert_int_equal(t->n_pkts, n);
    assert_int_equal(t->n_hops, n + n - n / 100);
    assert_int_equal(match_in_flight(m), 0);
    struct match_stats st;
    match_get_stats(m, 1, &st);
    assert_int_equal(st.internal_drops, n / 100);
    match_get_stats(m, 2, &st);
    assert_int_equal(st.matched, n - n / 100);
    diag_trace_destroy(t);
    match_destroy(m);
}

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Garbage: random frames (mostly parseable, keys colliding often), NF ids out of
 * range, time going backwards.  Nothing may crash (ASan), and the trace must stay
 * well formed. */
static void
test_garbage_stream(void **state)
{
    enum match_class cls[] = { MATCH_CONTENT, MATCH_NAT, MATCH_KEYLESS };
    struct topo tp;
    topo_chain(&tp, cls, 3);
    tp.nfs[1].qcap = 4;
    tp.nfs[2].fifo = false;
    struct match *m = create(&tp);
    uint64_t seed = 42, t = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next_rand(&seed);
        t += r % 3000;
        if (r % 97 == 0) {
            t -= VNET_MIN(t, (uint64_t) 5000);
        }
        struct pk p = pk((uint32_t) (r >> 40) % 64);
        p.sport = (uint16_t) (r >> 20) % 4;
        p.ip_id = (uint16_t) ((r >> 30) % 8);
        p.sip = r % 5 == 0 ? 0xc6336401 : p.sip;
        p.plen = (uint16_t) ((r >> 50) % 200);
        p.arp = r % 101 == 0;
        uint8_t f[2048];
        size_t len = mk(f, &p);
        if (r % 13 == 0) {
            f[14 + (r >> 8) % 20] ^= (uint8_t) (r >> 16);
        }
        size_t cut = r % 7 == 0 ? (r >> 33) % (len + 1) : len;
        uint32_t nf = (uint32_t) ((r >> 12) % 5);            /* 0 and 4 are invalid */
        match_packet(m, nf, (r >> 3) & 1, t, f, cut);
        if (r % 1000 == 0) {
            match_advance(m, t);
        }
    }
    struct diag_trace *tr = match_finish(m, t);
    assert_true(tr->n_pkts > 0);
    size_t total = 0;
    for (size_t i = 0; i < tr->n_pkts; i++) {
        const struct pkt *p = &tr->pkts[i];
        assert_true(p->hop_cnt >= 1 && p->hop_cnt <= 3);
        assert_int_equal(p->hop_off, total);
        total += p->hop_cnt;
        if (i) {
            assert_true(tr->pkts[i - 1].t_ingress <= p->t_ingress);
        }
        for (uint32_t k = 0; k < p->hop_cnt; k++) {
            const struct hop *h = &tr->hops[p->hop_off + k];
            assert_true(h->uid == p->uid);
            assert_true(h->nf >= 1 && h->nf <= 3);
            assert_true(h->status <= HOP_CONSUMED);
            assert_true(h->t_dep == NONE || h->t_dep >= h->t_arr);
        }
    }
    assert_int_equal(total, tr->n_hops);
    for (uint32_t f = 1; f <= 3; f++) {
        struct match_stats st;
        match_get_stats(m, f, &st);
        assert_true(st.matched <= st.out);
        assert_true(st.matched + st.warmup_out + st.unmatched_out == st.out);
        assert_int_equal(tr->acct[f].in_pkts, st.in);
    }
    diag_trace_destroy(tr);
    match_destroy(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_chain),
        cmocka_unit_test(test_nat_invariant),
        cmocka_unit_test(test_nat_random_ipid),
        cmocka_unit_test(test_drop_fifo_fast_path),
        cmocka_unit_test(test_drop_timeout),
        cmocka_unit_test(test_tail_vs_internal),
        cmocka_unit_test(test_consumed),
        cmocka_unit_test(test_midstream_and_rate),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_dag_split_merge),
        cmocka_unit_test(test_keyless),
        cmocka_unit_test(test_orphans_and_non_ip),
        cmocka_unit_test(test_timeout_follows_latency),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_garbage_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
