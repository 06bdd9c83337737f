/* Tests diag/queueing.c: the queue each arrival finds, busy periods, n_i / n_p,
 * ties, drops, the start-of-window rule, the T_max / N_max cap, the online peak
 * rate and the radix sort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag/queueing.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

#define NONE UINT64_MAX
#define F(ARR, DEP) { (ARR), (DEP), HOP_FORWARDED, 0 }      /* forwarded */

struct row {
    uint64_t t_arr, t_dep;
    uint8_t status;
    uint64_t t_drop;
};

/* One NF ("fw", id 1); each row is a packet visiting only it. */
static struct diag_trace *
single_nf(const struct row *rows, size_t n, bool trusted_start)
{
    struct diag_trace *t = diag_trace_create();
    t->n_nfs = 2;
    t->nfs = vnet_xcalloc(2, sizeof *t->nfs);
    vnet_strlcpy(t->nfs[1].name, "fw", sizeof t->nfs[1].name);
    t->nfs[1].id = 1;
    t->n_pkts = t->n_hops = n;
    t->pkts = vnet_xcalloc(n, sizeof *t->pkts);
    t->hops = vnet_xcalloc(n, sizeof *t->hops);
    for (size_t i = 0; i < n; i++) {
        t->pkts[i] = (struct pkt) {
            .uid = i, .t_ingress = rows[i].t_arr, .hop_off = (uint32_t) i, .hop_cnt = 1,
        };
        t->hops[i] = (struct hop) {
            .uid = i, .nf = 1, .t_arr = rows[i].t_arr, .t_dep = rows[i].t_dep,
            .status = rows[i].status, .t_drop = rows[i].t_drop,
        };
    }
    if (trusted_start) {
        t->acct = vnet_xcalloc(2, sizeof *t->acct);
    }
    return t;
}

static struct queueing_index *
build(const struct diag_trace *t, bool estimate)
{
    struct queueing_index *idx = NULL;
    struct vnet_error *e = queueing_index_build(t, estimate, &idx);
    if (e) {
        fail_msg("%s", e->message);
    }
    return idx;
}

/* Positions are by t_arr; at t = 30 a departure and an arrival tie (departure
 * first); at t = 50 the queue empties as the next packet arrives. */
static void
test_queue_found(void **state)
{
    const struct row rows[] = {
        F(0, 10), F(2, 20), F(5, 30), F(30, 40), F(35, 50), F(12, 34), F(50, 55),
    };
    struct diag_trace *t = single_nf(rows, 7, true);
    struct queueing_index *idx = build(t, false);
    const struct queueing_nf *nf = &idx->nfs[1];
    assert_int_equal(nf->n, 7);
    static const uint32_t hop_at[] = { 0, 1, 2, 5, 3, 4, 6 };
    static const uint32_t q[] = { 0, 1, 2, 2, 1, 1, 0 };
    static const uint32_t bs[] = { 0, 0, 0, 0, 0, 0, 6 };
    static const uint32_t dc[] = { 0, 0, 0, 1, 3, 4, 6 };
    for (uint32_t pos = 0; pos < 7; pos++) {
        assert_int_equal(nf->hop[pos], hop_at[pos]);
        assert_int_equal(queueing_q(nf, pos), q[pos]);
        assert_int_equal(idx->hop_q[hop_at[pos]], q[pos]);
        assert_int_equal(idx->hop_pos[hop_at[pos]], pos);
        assert_int_equal(nf->bs[pos], bs[pos]);
        assert_int_equal(nf->dc[pos], dc[pos]);
    }
    assert_int_equal(nf->valid_from, 0);

    /* The period of position 5 (t = 35): n_i 5, n_p 4, tau 35, PreSet [0, 5). */
    struct queueing_period p;
    queueing_period_at(nf, t->hops, 5, 0, 0, &p);
    assert_int_equal(p.start, 0);
    assert_int_equal(p.end, 5);
    assert_true(p.n_i == 5 && p.n_p == 4 && p.q == 1 && p.tau == 35 && p.q0 == 0);
    assert_false(p.capped);
    /* Position 6 starts a busy period: Q = 0, empty PreSet. */
    queueing_period_at(nf, t->hops, 6, 0, 0, &p);
    assert_true(p.q == 0 && p.start == 6 && p.end == 6);

    assert_int_equal(nf->lat_p50, 15);      /* latencies 10 18 25 10 15 22 5 */
    assert_int_equal(nf->lat_p84, 22);
    assert_int_equal(nf->lat_p99, 25);
    assert_true(nf->busy_ns == 55 && nf->busy_removals == 7);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* A zero-sojourn packet leaves at its own arrival time: it never makes Q negative
 * and the next same-time arrival sees the queue without it. */
static void
test_zero_sojourn(void **state)
{
    const struct row rows[] = { F(10, 10), F(10, 20), F(10, 30) };
    struct diag_trace *t = single_nf(rows, 3, true);
    struct queueing_index *idx = build(t, false);
    const struct queueing_nf *nf = &idx->nfs[1];
    assert_int_equal(queueing_q(nf, 0), 0);
    assert_int_equal(queueing_q(nf, 1), 0);
    assert_int_equal(queueing_q(nf, 2), 1);
    assert_int_equal(nf->bs[2], 1);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* A tail drop never enters the queue but probes it at its drop time; an internal
 * drop is in the queue until it is dropped; a consumed packet leaves normally. */
static void
test_drops(void **state)
{
    const struct row rows[] = {
        F(0, 100),
        F(10, 110),
        { 20, NONE, HOP_DROPPED_TAIL, 0 },          /* drop time 0: at arrival */
        { 30, NONE, HOP_DROPPED_INTERNAL, 60 },
        F(40, 120),
        { 50, NONE, HOP_CONSUMED, 0 },              /* absorbed on arrival */
        F(130, 140),
    };
    struct diag_trace *t = single_nf(rows, 7, true);
    struct queueing_index *idx = build(t, false);
    const struct queueing_nf *nf = &idx->nfs[1];
    assert_int_equal(nf->n, 6);
    assert_int_equal(nf->n_tail_drops, 1);
    assert_int_equal(nf->n_internal_drops, 1);
    assert_int_equal(nf->n_consumed, 1);
    assert_int_equal(idx->hop_pos[2], QUEUEING_NONE);
    assert_int_equal(idx->hop_q[2], 2);             /* found packets 0 and 1 */
    assert_int_equal(queueing_q(nf, 2), 2);         /* hop 3: not counting the tail drop */
    assert_int_equal(queueing_q(nf, 3), 3);         /* hop 4 at 40: 0, 1, 3 */
    assert_int_equal(queueing_q(nf, 4), 4);         /* hop 5 at 50: 0, 1, 3, 4 */

    assert_int_equal(nf->n_probes, 2);
    const struct queueing_probe *tail = &nf->probes[0], *in = &nf->probes[1];
    assert_int_equal(tail->hop, 2);
    assert_true(tail->t == 20 && tail->end == 2 && tail->bs == 0 && tail->dc == 0);
    assert_int_equal(in->hop, 3);
    /* At 60: arrivals 0, 1, 3, 4, 5 (5 consumed at 50); removals 5, then 3. */
    assert_true(in->t == 60 && in->end == 5 && in->bs == 0 && in->dc == 2);
    struct queueing_period p;
    queueing_period(nf, t->hops, in->bs, in->end, in->dc, in->t, 0, 0, &p);
    assert_true(p.q == 3 && p.n_i == 5 && p.n_p == 2 && p.tau == 60);
    assert_int_equal(nf->n_forwarded, 4);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* Without proof that nothing was queued unseen, diagnosis starts where the queue
 * is first observed to empty. */
static void
test_window_starts_busy(void **state)
{
    const struct row rows[] = { F(0, 50), F(10, 60), F(20, 70), F(80, 90), F(85, 95) };
    struct diag_trace *t = single_nf(rows, 5, false);
    struct queueing_index *idx = build(t, false);
    assert_int_equal(idx->nfs[1].valid_from, 3);
    assert_int_equal(idx->nfs[1].valid_t, 70);
    queueing_index_destroy(idx);

    t->acct = vnet_xcalloc(2, sizeof *t->acct);
    t->acct[1].unmatched_out = 4;       /* departures of packets queued before */
    idx = build(t, false);
    assert_int_equal(idx->nfs[1].valid_from, 3);
    queueing_index_destroy(idx);

    t->acct[1].unmatched_out = 0;
    idx = build(t, false);
    assert_int_equal(idx->nfs[1].valid_from, 0);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* A queue that never empties: 100 arrivals 10 ns apart, served every 20 ns. */
static struct diag_trace *
overload(void)
{
    struct row rows[100];
    for (int i = 0; i < 100; i++) {
        rows[i] = (struct row) F(10 * (uint64_t) i, 20 * (uint64_t) i + 20);
    }
    return single_nf(rows, 100, true);
}

static void
test_cap(void **state)
{
    struct diag_trace *t = overload();
    struct queueing_index *idx = build(t, false);
    const struct queueing_nf *nf = &idx->nfs[1];
    struct queueing_period p;

    /* Uncapped: position 90 at t = 900 found 90 - 45 departed = 45. */
    queueing_period_at(nf, t->hops, 90, 0, 0, &p);
    assert_true(p.q == 45 && p.n_i == 90 && p.n_p == 45 && p.tau == 900 && !p.capped);

    /* T_max = 400 ns: the start snaps to the 50 ns grid at or after 900 - 400. */
    queueing_period_at(nf, t->hops, 90, 400, 0, &p);
    assert_true(p.capped);
    assert_int_equal(p.start, 50);                  /* t = 500 */
    assert_true(p.tau == 400 && p.n_i == 40);
    assert_true(p.q0 == 50 - 25);                   /* queue found by position 50 */
    assert_true(p.n_p == 45 - 25);
    assert_true(p.n_i - p.n_p == p.q - p.q0);
    /* The next arrivals share the start until the grid moves. */
    queueing_period_at(nf, t->hops, 94, 400, 0, &p);
    assert_int_equal(p.start, 55);
    queueing_period_at(nf, t->hops, 93, 400, 0, &p);
    assert_int_equal(p.start, 55);
    queueing_period_at(nf, t->hops, 95, 400, 0, &p);
    assert_int_equal(p.start, 55);

    /* N_max = 16: the start snaps to a grid of 2 arrivals, n_i in (14, 16]. */
    queueing_period_at(nf, t->hops, 91, 0, 16, &p);
    assert_int_equal(p.start, 76);
    assert_true(p.n_i == 15 && p.capped);
    assert_true(p.n_i - p.n_p == p.q - p.q0);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
}

/* Online peak rate (A.3): a saturated NF serving one packet per 100 ns. */
static void
test_peak_estimate(void **state)
{
    struct row *rows = vnet_xcalloc(2000, sizeof *rows);
    for (uint64_t i = 0; i < 1000; i++) {
        rows[i] = (struct row) F(i, 100 * i + 100);                 /* a burst */
        rows[1000 + i] = (struct row) F(1000000 + 1000 * i,
                                         1000000 + 1000 * i + 100);
    }
    struct diag_trace *t = single_nf(rows, 2000, true);
    struct queueing_index *idx = build(t, true);
    const struct queueing_nf *nf = &idx->nfs[1];
    /* Mean service 100 ns over busy time -> windows of 5 us: 20 in the burst (the
     * first holds 49 departures, the others 50), none in the idle tail. */
    assert_int_equal(nf->window_ns, 5000);
    assert_int_equal(nf->n_busy_windows, 20);
    assert_true(fabs(nf->r_est - 0.01) < 1e-12);
    queueing_index_destroy(idx);

    /* A configured rate is not estimated. */
    t->nfs[1].r_peak = 0.02;
    idx = build(t, true);
    assert_true(idx->nfs[1].r_est == 0 && idx->nfs[1].n_busy_windows == 0);
    queueing_index_destroy(idx);

    /* Too few busy windows: no estimate. */
    t->nfs[1].r_peak = 0;
    t->n_hops = t->n_pkts = 30;
    idx = build(t, true);
    assert_true(idx->nfs[1].r_est == 0);
    queueing_index_destroy(idx);
    diag_trace_destroy(t);
    free(rows);
}

static void
test_errors(void **state)
{
    const struct row rows[] = { F(10, 5) };
    struct diag_trace *t = single_nf(rows, 1, true);
    struct queueing_index *idx = NULL;
    struct vnet_error *e = queueing_index_build(t, false, &idx);
    assert_non_null(e);
    assert_string_equal(e->message, "hop 0 at NF 'fw': leaves at 5 before it arrives at 10");
    vnet_error_destroy(e);
    t->hops[0].t_dep = 20;
    t->hops[0].nf = 2;
    e = queueing_index_build(t, false, &idx);
    assert_non_null(e);
    assert_string_equal(e->message, "hop 0: NF id 2 is not one of the 1 NFs");
    vnet_error_destroy(e);
    assert_null(idx);
    diag_trace_destroy(t);
}

static void
test_sort_pairs(void **state)
{
    enum { N = 5000 };
    struct queueing_pair *a = vnet_xmalloc(N * sizeof *a);
    struct queueing_pair *tmp = vnet_xmalloc(N * sizeof *tmp);
    uint64_t x = 88172645463325252ULL;
    for (uint32_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Few distinct keys with large high bits: ties and every byte matter. */
        a[i] = (struct queueing_pair) { (x % 97) << 40 | (x % 13), i };
    }
    queueing_sort_pairs(a, tmp, N);
    for (uint32_t i = 1; i < N; i++) {
        assert_true(a[i - 1].key <= a[i].key);
        if (a[i - 1].key == a[i].key) {
            assert_true(a[i - 1].val < a[i].val);       /* stable */
        }
    }
    free(a);
    free(tmp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_found),
        cmocka_unit_test(test_zero_sojourn),
        cmocka_unit_test(test_drops),
        cmocka_unit_test(test_window_starts_busy),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_peak_estimate),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sort_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
