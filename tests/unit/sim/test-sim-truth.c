/* Tests tests/sim/sim-truth.c: counterfactual victims and contributions on tiny
 * hand-checked runs, and truth.json written and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim-truth.h"
#include "tests/sim/sim.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)

/* NFs a (1 Mpps) and b (0.5 Mpps) in a chain, no link delay; flow 0 paced at
 * 100 kpps (every 10 us from a seeded phase) through both. */
static struct sim_config *
two_nfs(void)
{
    struct sim_config *c = vnet_xzalloc(sizeof *c);
    vnet_strlcpy(c->scenario, "hand", sizeof c->scenario);
    vnet_strlcpy(c->topology, "chain", sizeof c->topology);
    c->seed = 5;
    c->scale = 1;
    c->duration_ns = 200 * US;
    c->epoch_ns = 1000 * MS;
    c->nfs[0] = (struct sim_nf) { .name = "a", .rate_pps = 1e6, .qcap = 1024 };
    c->nfs[1] = (struct sim_nf) { .name = "b", .rate_pps = 5e5, .qcap = 1024 };
    c->n_nfs = 2;
    c->flows[0] = (struct sim_flow) {
        .tuple = { .sip = 0x0a000001, .dip = 0xc0a80001, .sport = 1000, .dport = 80,
                   .proto = IPPROTO_UDP },
        .kind = SIM_SRC_PACED, .rate_pps = 1e5, .path = { 0, 1 }, .path_len = 2,
        .frame_len = SIM_FRAME_MIN,
    };
    c->n_flows = 1;
    return c;
}

static struct sim *
create(const struct sim_config *c)
{
    struct sim *s = NULL;
    struct vnet_error *e = sim_create(c, &s);
    if (e) {
        fail_msg("sim_create: %s", e->message);
    }
    return s;
}

/* Where packets of flow 0 start: its first packet. */
static uint64_t
phase(const struct sim_config *c)
{
    struct sim *s = create(c);
    uint64_t t0 = s->pkts[0].t_ingress;
    assert_true(t0 < 10 * US);
    sim_destroy(s);
    return t0;
}

static void
assert_flow_equal(const struct flow5 *a, const struct flow5 *b)
{
    assert_int_equal(a->sip, b->sip);
    assert_int_equal(a->dip, b->dip);
    assert_int_equal(a->sport, b->sport);
    assert_int_equal(a->dport, b->dport);
    assert_int_equal(a->proto, b->proto);
}

static void
expect_victim(const struct sim_truth *t, size_t i, const char *nf, uint64_t t_ingress,
              uint32_t q, double contrib, uint64_t latency)
{
    assert_true(i < t->n_victims);
    const struct sim_truth_victim *v = &t->victims[i];
    assert_string_equal(t->nf_names[v->nf], nf);
    assert_int_equal(v->t_ingress, t_ingress);
    assert_int_equal(v->q, q);
    assert_true(v->contrib[0] == contrib);
    assert_int_equal(v->latency_ns, latency);
    assert_int_equal(v->affected, 1);
    assert_int_equal(v->top, 0);
}

/* A 25 us pause of a, starting halfway through the service of the packet that
 * arrived at t0 + 50 us.  Hand-computed (times from t0, in us):
 *   at a: 50 leaves at 76 (26 us; 1 without the pause), Q 0, contribution 0;
 *         60 finds 1, leaves at 77 (17 us); 70 finds 2, leaves at 78 (8 us);
 *         80 finds an empty queue: not a victim.
 *   at b (2 us per packet): 50 arrives at 76, leaves at 78 (2 us, as without);
 *         60 arrives at 77 behind it, leaves at 80 (3 us: not -50%);
 *         70 arrives at 78 as 50 leaves, finds 60, leaves at 82 (4 us vs 2 us:
 *         affected, contribution 1). */
static void
test_pause_counterfactual(void **state)
{
    struct sim_config *c = two_nfs();
    uint64_t t0 = phase(c);
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_PAUSE, .nf = 0, .start_ns = t0 + 50500, .len_ns = 25 * US,
    };
    c->n_faults = 1;
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, sim_all_faults(s));
    struct sim_truth *t = sim_truth_compute(r);
    uint64_t e = c->epoch_ns + t0;
    assert_int_equal(t->n_victims, 4);
    expect_victim(t, 0, "a", e + 50 * US, 0, 0, 26 * US);
    expect_victim(t, 1, "a", e + 60 * US, 1, 1, 17 * US);
    expect_victim(t, 2, "a", e + 70 * US, 2, 2, 8 * US);
    expect_victim(t, 3, "b", e + 70 * US, 1, 1, 4 * US);
    assert_int_equal(t->nfs[0].affected, 3);
    assert_int_equal(t->nfs[1].affected, 1);
    assert_int_equal(t->nfs[0].packets, s->n_pkts);
    assert_string_equal(t->faults[0].kind, "pause");
    assert_int_equal(t->faults[0].culprit, SIM_CULPRIT_NF);
    assert_string_equal(t->faults[0].nf, "a");
    assert_int_equal(t->faults[0].fault.start_ns, e + 50500);
    char name[64];
    assert_string_equal(sim_truth_culprit_name(&t->faults[0], name, sizeof name),
                        "nf:a");
    sim_truth_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* A burst of 20 packets 10 ns apart at t0 + 55 us into a (qcap 16): 16 accepted,
 * 4 tail-dropped with Q = 16.  The burst's own accepted packet i leaves at
 * 56 + i us, so its latency is (1 + 0.99 i) us: affected (>= 2x the 1 us median)
 * from i = 2 on, contributing its Q = i.  Background packets: the one at 60 finds
 * 11 (5 burst packets gone), leaves at 72 (12 us); the one at 70 finds 2, leaves at
 * 73; both are affected with contributions 11 and 2. */
static void
test_burst_counterfactual(void **state)
{
    struct sim_config *c = two_nfs();
    c->n_nfs = 1;
    c->nfs[0].qcap = 16;
    c->flows[0].path_len = 1;
    uint64_t t0 = phase(c);
    c->flows[1] = c->flows[0];
    c->flows[1].tuple.sip = 0x0a000002;
    c->flows[1].rate_pps = 0;
    c->n_flows = 2;
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_BURST, .flow = 1, .start_ns = t0 + 55 * US, .len_ns = 200,
        .rate_pps = 1e8,
    };
    c->n_faults = 1;
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, 1);
    struct sim_truth *t = sim_truth_compute(r);
    assert_int_equal(t->faults[0].culprit, SIM_CULPRIT_FLOW);
    assert_int_equal(t->faults[0].flow.sip, 0x0a000002);
    uint64_t e = c->epoch_ns + t0;
    size_t n_burst = 0, n_drop = 0;
    size_t i = 0;
    for (uint32_t k = 0; k < 20; k++) {
        uint64_t arr = e + 55 * US + 10 * k;
        if (k < 2) {
            continue;
        }
        const struct sim_truth_victim *v = &t->victims[i++];
        assert_int_equal(v->t_ingress, arr);
        assert_int_equal(v->flow.sip, 0x0a000002);
        if (k < 16) {
            assert_false(v->dropped);
            assert_int_equal(v->q, k);
            assert_true(v->contrib[0] == k);
            assert_int_equal(v->latency_ns, e + 56 * US + k * US - arr);
            n_burst++;
        } else {
            assert_true(v->dropped);
            assert_int_equal(v->q, 16);
            assert_true(v->contrib[0] == 16);
            n_drop++;
        }
    }
    expect_victim(t, i++, "a", e + 60 * US, 11, 11, 12 * US);
    expect_victim(t, i++, "a", e + 70 * US, 2, 2, 3 * US);
    assert_int_equal(i, t->n_victims);
    assert_int_equal(n_burst, 14);
    assert_int_equal(n_drop, 4);
    assert_int_equal(t->nfs[0].drops, 4);
    sim_truth_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* Two faults: contributions from each counterfactual, the larger one first. */
static void
test_two_faults(void **state)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    assert_null(sim_scenario_config("S6", 2, 1, 30 * MS, NULL, c));
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, sim_all_faults(s));
    struct sim_truth *t = sim_truth_compute(r);
    assert_int_equal(t->n_faults, 2);
    assert_string_equal(t->faults[0].nf, "nat");
    assert_string_equal(t->faults[1].nf, "mon");
    size_t both = 0, mon_first = 0;
    for (size_t i = 0; i < t->n_victims; i++) {
        const struct sim_truth_victim *v = &t->victims[i];
        assert_true(v->affected & (1u << v->top));
        for (int f = 0; f < 2; f++) {
            if (v->affected >> f & 1) {
                assert_true(v->contrib[v->top] >= v->contrib[f]);
            }
        }
        if (!strcmp(t->nf_names[v->nf], "vpn") && v->affected == 3) {
            both++;
            mon_first += v->top == 1;
        }
    }
    /* mon carries twice nat's traffic, so its pause contributes more at vpn. */
    assert_true(both > 10);
    assert_true(mon_first * 2 > both);
    sim_truth_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* truth.json: written one victim per line, read back the same. */
static void
test_json_roundtrip(void **state)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    assert_null(sim_scenario_config("S8", 1, 1, 40 * MS, NULL, c));
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, sim_all_faults(s));
    struct sim_truth *t = sim_truth_compute(r);
    assert_true(t->n_victims > 100);
    char path[] = "/tmp/test-sim-truth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_null(sim_truth_write(t, path));
    struct sim_truth *u = NULL;
    struct vnet_error *e = sim_truth_load(path, &u);
    if (e) {
        fail_msg("%s", e->message);
    }
    assert_string_equal(u->scenario, "S8");
    assert_string_equal(u->topology, "chain");
    assert_int_equal(u->seed, 1);
    assert_int_equal(u->epoch_ns, t->epoch_ns);
    assert_int_equal(u->n_nfs, 3);
    assert_int_equal(u->n_faults, 1);
    assert_int_equal(u->faults[0].culprit, SIM_CULPRIT_FLOW);
    assert_flow_equal(&u->faults[0].flow, &t->faults[0].flow);
    assert_int_equal(u->faults[0].fault.start_ns, t->faults[0].fault.start_ns);
    assert_int_equal(u->n_victims, t->n_victims);
    for (size_t f = 0; f < 3; f++) {
        assert_string_equal(u->nf_names[f], t->nf_names[f]);
        assert_memory_equal(&u->nfs[f], &t->nfs[f], sizeof u->nfs[f]);
    }
    for (size_t i = 0; i < t->n_victims; i++) {
        const struct sim_truth_victim *a = &t->victims[i], *b = &u->victims[i];
        assert_int_equal(a->nf, b->nf);
        assert_int_equal(a->dropped, b->dropped);
        assert_flow_equal(&a->flow, &b->flow);
        assert_int_equal(a->t_ingress, b->t_ingress);
        assert_int_equal(a->ip_id, b->ip_id);
        assert_int_equal(a->pkt, b->pkt);
        assert_int_equal(a->q, b->q);
        assert_int_equal(a->latency_ns, b->latency_ns);
        assert_int_equal(a->affected, b->affected);
        assert_int_equal(a->top, b->top);
        assert_true(a->contrib[0] == b->contrib[0]);
    }
    sim_truth_destroy(u);

    /* A file that is not a truth file says where and what. */
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"other\"}\n", f);
    fclose(f);
    e = sim_truth_load(path, &u);
    assert_non_null(e);
    char *want = vnet_xasprintf("%s: $.format: expected \"vnet-sim-truth/1\", got "
                                "\"other\"", path);
    assert_string_equal(e->message, want);
    free(want);
    vnet_error_destroy(e);
    unlink(path);

    sim_truth_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_counterfactual),
        cmocka_unit_test(test_burst_counterfactual),
        cmocka_unit_test(test_two_faults),
        cmocka_unit_test(test_json_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
