/* Tests diag/propagate.c: NET and PROPAGATE on the spec's worked examples (A.7,
 * A.8), their edge cases, and the path trie (path groups, capture gaps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag/propagate.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

#define TOL 1e-9
#define assert_near(a, b, tol)                                                    \
    do {                                                                          \
        double a_ = (a), b_ = (b);                                                \
        if (!(fabs(a_ - b_) <= (tol))) {                                          \
            fail_msg("%s = %.12g, expected %.12g", #a, a_, b_);                  \
        }                                                                         \
    } while (0)

/* A.7: source -> A -> B -> C -> f, B widens the spread. */
static void
test_net_a7(void **state)
{
    const double spans[] = { 120, 60, 90, 50 };
    double credit[4];
    double discarded = propagate_net(150, spans, 4, credit);
    assert_near(credit[0], 30, TOL);
    assert_near(credit[1], 30, TOL);     /* A's shrink 60 minus B's widening 30 */
    assert_near(credit[2], 0, TOL);
    assert_near(credit[3], 40, TOL);
    assert_near(discarded, 0, TOL);
    /* With no discard the credits sum to T_exp - T_C. */
    assert_near(credit[0] + credit[1] + credit[2] + credit[3], 150 - 50, TOL);
}

/* The A.7 result: NF(f) 20, SOURCE 15, A 15, B 0, C 20 for Q = 70, S_i = 50. */
static void
test_split_a7(void **state)
{
    const double spans[] = { 120, 60, 90, 50 };
    const uint32_t nfs[] = { NF_SOURCE, 1, 2, 3 };    /* A, B, C */
    struct propagate_group g = { .n = 150, .k = 4, .spans = spans, .nfs = nfs };
    double src, nf[5], credit[8];
    propagate_split(150, &g, 1, &src, nf, 5, credit);
    double s_i = 50;
    assert_near(s_i * src, 15, TOL);
    assert_near(s_i * nf[1], 15, TOL);
    assert_near(s_i * nf[2], 0, TOL);
    assert_near(s_i * nf[3], 20, TOL);
    assert_near(nf[4], 0, TOL);
    assert_near(src + nf[1] + nf[2] + nf[3], 1, TOL);
}

/* A.8: g1 via A (100 packets), g2 via B (50 packets). */
static void
test_split_a8(void **state)
{
    const double s1[] = { 120, 40 }, s2[] = { 100, 95 };
    const uint32_t n1[] = { NF_SOURCE, 1 }, n2[] = { NF_SOURCE, 2 };
    struct propagate_group g[] = {
        { .n = 100, .k = 2, .spans = s1, .nfs = n1 },
        { .n = 50, .k = 2, .spans = s2, .nfs = n2 },
    };
    double src[2], nf[3], credit[4];
    propagate_split(150, g, 2, src, nf, 3, credit);
    /* Raw: src 20 + 16.67, A 53.33, B 1.67, of 91.67. */
    assert_near(src[0], 20.0 / (275.0 / 3), TOL);
    assert_near(src[1], (50.0 / 3) / (275.0 / 3), TOL);
    assert_near(src[0] + src[1], 0.40, 0.005);
    assert_near(nf[1], 0.58, 0.005);
    assert_near(nf[2], 0.02, 0.005);
    assert_near(src[0] + src[1] + nf[1] + nf[2], 1, TOL);
}

/* Fully interleaved paths: two groups with the spans of the whole PreSet give the
 * single-path answer (the normalisation is a no-op up to a common factor). */
static void
test_split_interleaved(void **state)
{
    const double spans[] = { 120, 60 };
    const uint32_t nfs[] = { NF_SOURCE, 1 };
    struct propagate_group one = { .n = 150, .k = 2, .spans = spans, .nfs = nfs };
    struct propagate_group two[] = {
        { .n = 90, .k = 2, .spans = spans, .nfs = nfs },
        { .n = 60, .k = 2, .spans = spans, .nfs = nfs },
    };
    double src1, src2[2], nf1[2], nf2[2], credit[4];
    propagate_split(150, &one, 1, &src1, nf1, 2, credit);
    propagate_split(150, two, 2, src2, nf2, 2, credit);
    assert_near(src1, src2[0] + src2[1], TOL);
    assert_near(nf1[1], nf2[1], TOL);
    assert_near(src2[0] / src2[1], 90.0 / 60.0, TOL);
}

/* Widening beyond every earlier shrink is discarded; the stack pops in order. */
static void
test_net_discard(void **state)
{
    const double spans[] = { 110, 50, 200 };
    double credit[3];
    double discarded = propagate_net(100, spans, 3, credit);
    assert_near(credit[0], 0, TOL);
    assert_near(credit[1], 0, TOL);
    assert_near(credit[2], 0, TOL);
    assert_near(discarded, 10 + 90, TOL);

    /* Widening cancels the nearest shrink first, then earlier ones. */
    const double s2[] = { 80, 60, 50, 75 };
    double c2[4];
    discarded = propagate_net(100, s2, 4, c2);
    assert_near(c2[0], 20, TOL);
    assert_near(c2[1], 20 - 15, TOL);    /* 25 of widening: 10 from hop 2, 15 here */
    assert_near(c2[2], 0, TOL);
    assert_near(c2[3], 0, TOL);
    assert_near(discarded, 0, TOL);
}

/* No credit left (noise): every group's SOURCE gets its packet share. */
static void
test_split_no_credit(void **state)
{
    const double s1[] = { 200, 210 }, s2[] = { 190, 300 };
    const uint32_t n1[] = { NF_SOURCE, 1 }, n2[] = { NF_SOURCE, 2 };
    struct propagate_group g[] = {
        { .n = 30, .k = 2, .spans = s1, .nfs = n1 },
        { .n = 10, .k = 2, .spans = s2, .nfs = n2 },
    };
    double src[2], nf[3], credit[4];
    propagate_split(150, g, 2, src, nf, 3, credit);
    assert_near(src[0], 0.75, TOL);
    assert_near(src[1], 0.25, TOL);
    assert_near(nf[1], 0, TOL);
    assert_near(nf[2], 0, TOL);
}

/* Spans beyond T_exp are clamped: narrowing a spread down to T_exp builds no
 * excess.  Two paths whose NFs released their backlogs at the same rate into f
 * share the blame evenly, however long each backlog took to gather. */
static void
test_split_clamp(void **state)
{
    const double s1[] = { 100, 10 }, s2[] = { 50, 10 };
    const uint32_t n1[] = { NF_SOURCE, 1 }, n2[] = { NF_SOURCE, 2 };
    struct propagate_group g[] = {
        { .n = 15, .k = 2, .spans = s1, .nfs = n1 },
        { .n = 15, .k = 2, .spans = s2, .nfs = n2 },
    };
    double src[2], nf[3], credit[4];
    propagate_split(40, g, 2, src, nf, 3, credit);
    assert_near(src[0] + src[1], 0, TOL);
    assert_near(nf[1], 0.5, TOL);   /* credit 30 each, not 90 and 40 */
    assert_near(nf[2], 0.5, TOL);
}

/* ---- The path trie. ---- */

static void
set_preds(struct nf_desc *nf, const uint32_t *preds, size_t n)
{
    nf->preds = vnet_xmemdup(preds, n * sizeof *preds);
    nf->n_preds = n;
}

/* SOURCE -> fw(1) -> nat(2) -> vpn(3); mon(4) has no predecessor list. */
static struct diag_trace *
chain_trace(void)
{
    struct diag_trace *t = diag_trace_create();
    t->n_nfs = 5;
    t->nfs = vnet_xcalloc(t->n_nfs, sizeof *t->nfs);
    static const char *names[] = { "source", "fw", "nat", "vpn", "mon" };
    for (uint32_t i = 0; i < t->n_nfs; i++) {
        t->nfs[i].id = i;
        vnet_strlcpy(t->nfs[i].name, names[i], sizeof t->nfs[i].name);
    }
    const uint32_t p1[] = { NF_SOURCE }, p2[] = { 1 }, p3[] = { 2 };
    set_preds(&t->nfs[1], p1, 1);
    set_preds(&t->nfs[2], p2, 1);
    set_preds(&t->nfs[3], p3, 1);
    return t;
}

static void
add_pkt(struct diag_trace *t, const uint32_t *nfs, uint32_t n)
{
    t->pkts = vnet_xrealloc(t->pkts, (t->n_pkts + 1) * sizeof *t->pkts);
    t->hops = vnet_xrealloc(t->hops, (t->n_hops + n) * sizeof *t->hops);
    t->pkts[t->n_pkts] = (struct pkt) {
        .uid = t->n_pkts, .t_ingress = 1000 * t->n_pkts,
        .hop_off = (uint32_t) t->n_hops, .hop_cnt = n,
    };
    for (uint32_t j = 0; j < n; j++) {
        t->hops[t->n_hops + j] = (struct hop) {
            .uid = t->n_pkts, .nf = nfs[j], .t_arr = 1000 * t->n_pkts + 10 * j,
            .t_dep = 1000 * t->n_pkts + 10 * j + 5,
        };
    }
    t->n_pkts++;
    t->n_hops += n;
}

static void
test_paths(void **state)
{
    struct diag_trace *t = chain_trace();
    const uint32_t full[] = { 1, 2, 3 }, gap[] = { 2, 3 }, only[] = { 3 },
                   hole[] = { 1, 3 }, free_nf[] = { 1, 4 };
    add_pkt(t, full, 3);        /* hops 0..2 */
    add_pkt(t, gap, 2);         /* 3..4: nat without fw: a capture gap */
    add_pkt(t, only, 1);        /* 5: vpn with no upstream record */
    add_pkt(t, hole, 2);        /* 6..7: fw then vpn, nat missing */
    add_pkt(t, full, 3);        /* 8..10 */
    add_pkt(t, free_nf, 2);     /* 11..12: mon accepts anything */
    struct propagate_paths *p;
    assert_null(propagate_paths_build(t, &p));

    const struct propagate_path *n = p->nodes;
    assert_int_equal(p->hop_path[0], 0);        /* fw: from ingress, empty */
    assert_false(n[p->hop_path[0]].gap);
    assert_int_equal(n[p->hop_path[2]].depth, 2);   /* vpn after fw, nat */
    assert_int_equal(p->path_nfs[n[p->hop_path[2]].off], 1);
    assert_int_equal(p->path_nfs[n[p->hop_path[2]].off + 1], 2);
    assert_int_equal(p->hop_path[8], p->hop_path[0]);
    assert_int_equal(p->hop_path[10], p->hop_path[2]);      /* same path, same group */

    assert_true(n[p->hop_path[3]].gap);         /* nat after a gap */
    assert_int_equal(n[p->hop_path[3]].depth, 0);
    assert_true(n[p->hop_path[4]].gap);         /* vpn after gap + nat */
    assert_int_equal(n[p->hop_path[4]].depth, 1);
    assert_true(p->hop_path[4] != p->hop_path[2]);
    assert_true(n[p->hop_path[5]].gap);
    assert_int_equal(n[p->hop_path[5]].depth, 0);
    assert_true(n[p->hop_path[7]].gap);         /* vpn does not accept fw */
    assert_false(n[p->hop_path[12]].gap);       /* mon has no predecessor list */
    assert_int_equal(n[p->hop_path[12]].depth, 1);
    assert_int_equal(p->max_depth, 2);
    for (size_t h = 0; h < t->n_hops; h++) {
        assert_int_equal(p->hop_pkt[h], t->hops[h].uid);
    }
    propagate_paths_destroy(p);
    diag_trace_destroy(t);
}

static void
test_paths_errors(void **state)
{
    struct diag_trace *t = chain_trace();
    const uint32_t full[] = { 1, 2, 3 };
    add_pkt(t, full, 3);
    add_pkt(t, full, 3);
    struct propagate_paths *p = NULL;

    t->pkts[1].hop_off = 1;         /* overlaps packet 0 */
    struct vnet_error *e = propagate_paths_build(t, &p);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "belongs to packets 0 and 1"));
    vnet_error_destroy(e);

    t->pkts[1].hop_off = 3;
    t->pkts[1].hop_cnt = 4;         /* runs past the end */
    e = propagate_paths_build(t, &p);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "outside the 6 hops"));
    vnet_error_destroy(e);

    t->pkts[1].hop_cnt = 2;         /* hop 5 belongs to nobody */
    e = propagate_paths_build(t, &p);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "hop 5 (uid 1) belongs to no packet"));
    vnet_error_destroy(e);
    assert_null(p);
    diag_trace_destroy(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_a7),
        cmocka_unit_test(test_split_a7),
        cmocka_unit_test(test_split_a8),
        cmocka_unit_test(test_split_interleaved),
        cmocka_unit_test(test_net_discard),
        cmocka_unit_test(test_split_no_credit),
        cmocka_unit_test(test_split_clamp),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_paths_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
