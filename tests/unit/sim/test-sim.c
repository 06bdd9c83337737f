/* Tests tests/sim/sim.c: generation, FIFO service at the peak rate, tail drops,
 * pauses, CPU hogs, per-packet cost, tx batching, determinism, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)

/* One NF 'x' at 'rate_pps' fed by one flow of 'kind' at 'flow_pps'. */
static struct sim_config *
one_nf(double rate_pps, uint32_t qcap, enum sim_source kind, double flow_pps)
{
    struct sim_config *c = vnet_xzalloc(sizeof *c);
    vnet_strlcpy(c->scenario, "test", sizeof c->scenario);
    c->seed = 42;
    c->scale = 1;
    c->duration_ns = 2 * MS;
    c->nfs[0] = (struct sim_nf) { .rate_pps = rate_pps, .qcap = qcap };
    vnet_strlcpy(c->nfs[0].name, "x", sizeof c->nfs[0].name);
    c->n_nfs = 1;
    c->flows[0] = (struct sim_flow) {
        .tuple = { .sip = 0x0a000001, .dip = 0xc0a80001, .sport = 1000, .dport = 80,
                   .proto = IPPROTO_UDP },
        .kind = kind, .rate_pps = flow_pps, .path = { 0 }, .path_len = 1,
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

static const struct sim_hop *
hop(const struct sim_result *r, size_t pkt, size_t pos)
{
    return &r->hops[r->sim->pkts[pkt].hop_off + pos];
}

/* A saturated NF departs at exactly its peak rate, FIFO. */
static void
test_saturated_rate(void **state)
{
    static const double rates[] = { 1e6, 1.5e6 };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(rates); i++) {
        struct sim_config *c = one_nf(rates[i], 100000, SIM_SRC_PACED, 3e6);
        struct sim *s = create(c);
        struct sim_result *r = sim_run(s, 0);
        assert_true(s->n_pkts > 5000);
        double gap = 1e9 / rates[i];
        uint64_t first = hop(r, 0, 0)->t_dep;
        assert_int_equal(hop(r, 0, 0)->status, SIM_HOP_FORWARDED);
        for (size_t k = 1; k < s->n_pkts; k++) {
            const struct sim_hop *h = hop(r, k, 0);
            assert_int_equal(h->status, SIM_HOP_FORWARDED);
            assert_true(h->t_dep >= hop(r, k - 1, 0)->t_dep);
            /* Exactly r, up to the rounding to whole nanoseconds. */
            double want = (double) first + (double) k * gap;
            assert_true(fabs((double) h->t_dep - want) <= 1.0);
            assert_true(h->q <= k);
        }
        /* The last arrival finds the excess of 3 Mpps over r waiting. */
        double excess = (double) s->n_pkts * (1 - rates[i] / 3e6);
        assert_true(fabs(hop(r, s->n_pkts - 1, 0)->q - excess) <= 3);
        sim_result_destroy(r);
        sim_destroy(s);
        free(c);
    }
}

/* A full queue rejects arrivals at the input; Q of a drop is the full queue. */
static void
test_tail_drop(void **state)
{
    struct sim_config *c = one_nf(1e6, 10, SIM_SRC_PACED, 1);
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_BURST, .flow = 0, .start_ns = 100 * US, .len_ns = 1 * US,
        .rate_pps = 100e6,
    };
    c->n_faults = 1;
    c->duration_ns = 1 * MS;
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, 1);
    /* 100 burst packets 10 ns apart arrive within one 1 us service time. */
    size_t burst = 0, accepted = 0, dropped = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        if (s->pkts[k].fault != 0) {
            continue;
        }
        const struct sim_hop *h = hop(r, k, 0);
        burst++;
        if (h->status == SIM_HOP_FORWARDED) {
            assert_int_equal(h->q, accepted);
            accepted++;
        } else {
            assert_int_equal(h->status, SIM_HOP_DROPPED);
            assert_int_equal(h->t_dep, UINT64_MAX);
            assert_int_equal(h->q, 10);
            dropped++;
        }
    }
    assert_int_equal(burst, 100);
    assert_int_equal(accepted, 10);
    assert_int_equal(dropped, 90);
    sim_result_destroy(r);
    /* Without the burst nothing is dropped and its packets are absent. */
    r = sim_run(s, 0);
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_hop *h = hop(r, k, 0);
        assert_int_equal(h->status, s->pkts[k].fault < 0 ? SIM_HOP_FORWARDED
                         : SIM_HOP_NONE);
    }
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* A pause queues the arrivals, which then drain at the peak rate. */
static void
test_pause_queue(void **state)
{
    /* Arrivals every 10 us from t0 (a seeded phase), 1 us of service each. */
    struct sim_config *c = one_nf(1e6, 1024, SIM_SRC_PACED, 1e5);
    struct sim *s = create(c);
    uint64_t t0 = s->pkts[0].t_ingress;
    sim_destroy(s);
    /* Pause [t0 + 495 us, t0 + 590 us): nothing in service when it starts, the
     * arrivals at t0 + 500 .. 580 us wait. */
    uint64_t begin = t0 + 495 * US, end = t0 + 590 * US;
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_PAUSE, .nf = 0, .start_ns = begin, .len_ns = end - begin,
    };
    c->n_faults = 1;
    s = create(c);
    struct sim_result *r = sim_run(s, 1);
    size_t in_pause = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_hop *h = hop(r, k, 0);
        uint64_t t = h->t_arr;
        if (t < begin || t >= end + 50 * US) {
            /* Away from the pause: alone, 1 us of service. */
            assert_int_equal(h->q, 0);
            assert_int_equal(h->t_dep - t, 1 * US);
        } else if (t < end) {
            /* The i-th arrival in the pause finds i packets and leaves i+1 us after
             * the pause ends. */
            assert_int_equal(h->q, in_pause);
            in_pause++;
            assert_int_equal(h->t_dep, end + in_pause * US);
        } else if (t == end) {
            assert_int_equal(h->q, 9);      /* the backlog drains from here */
        }
    }
    assert_int_equal(in_pause, 9);
    sim_result_destroy(r);

    /* Periodic: 3 pauses of 20 us every 100 us, then nothing. */
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_PAUSE, .nf = 0, .start_ns = 200 * US, .len_ns = 20 * US,
        .period_ns = 100 * US, .count = 3,
    };
    sim_destroy(s);
    s = create(c);
    r = sim_run(s, 1);
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_hop *h = hop(r, k, 0);
        uint64_t t = h->t_arr, phase = (t - 200 * US) % (100 * US);
        bool paused = t >= 200 * US && t < 500 * US && phase < 20 * US;
        if (paused) {
            uint64_t pause_end = t - phase + 20 * US;
            assert_true(h->t_dep >= pause_end + 1 * US);
        } else if (t >= 500 * US) {
            assert_int_equal(h->t_dep - t, 1 * US);
        }
    }
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* A packet in service when a pause starts finishes after it (preempted). */
static void
test_pause_preempts(void **state)
{
    struct sim_config *c = one_nf(1e5, 1024, SIM_SRC_PACED, 1e3);
    struct sim *s = create(c);
    uint64_t t0 = s->pkts[0].t_ingress;
    sim_destroy(s);
    /* Service is 10 us; pause 30 us starting 4 us into it. */
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_PAUSE, .nf = 0, .start_ns = t0 + 4 * US, .len_ns = 30 * US,
    };
    c->n_faults = 1;
    s = create(c);
    struct sim_result *r = sim_run(s, 1);
    assert_int_equal(hop(r, 0, 0)->t_dep, t0 + 40 * US);
    assert_int_equal(hop(r, 0, 0)->q, 0);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* A CPU hog: saturated departures slow to (1 - share) x r while it is on, either
 * as a fluid rate or as slices in which the NF does not run at all. */
static void
test_hog(void **state)
{
    for (int sliced = 0; sliced < 2; sliced++) {
        struct sim_config *c = one_nf(1e6, 100000, SIM_SRC_PACED, 3e6);
        c->duration_ns = 1 * MS;
        c->faults[0] = (struct sim_fault) {
            .kind = SIM_FAULT_HOG, .nf = 0, .start_ns = 100 * US, .len_ns = 200 * US,
            .period_ns = 400 * US, .share = 0.5, .slice_ns = sliced ? 10 * US : 0,
        };
        c->n_faults = 1;
        struct sim *s = create(c);
        struct sim_result *r = sim_run(s, 1);
        /* Departures per window: 100 per 100 us off, 50 per 100 us on. */
        size_t n_on = 0, n_off = 0;
        for (size_t k = 0; k < s->n_pkts; k++) {
            uint64_t t = hop(r, k, 0)->t_dep;
            n_on += t >= 100 * US && t < 300 * US;
            n_off += t >= 300 * US && t < 500 * US;
            if (sliced && t > 100 * US && t < 300 * US) {
                /* Nothing leaves while the hog runs (first half of each slice). */
                uint64_t in_slice = (t - 100 * US) % (10 * US);
                assert_true(in_slice == 0 || in_slice > 5 * US);
            }
        }
        assert_true(n_on >= 99 && n_on <= 101);
        assert_true(n_off >= 199 && n_off <= 201);
        sim_result_destroy(r);
        sim_destroy(s);
        free(c);
    }
}

/* The cost fault slows only packets to its port, from its start time. */
static void
test_cost(void **state)
{
    struct sim_config *c = one_nf(1e6, 1024, SIM_SRC_PACED, 1e4);
    c->flows[1] = c->flows[0];
    c->flows[1].tuple.dport = 5060;
    c->n_flows = 2;
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_COST, .nf = 0, .start_ns = 1 * MS, .dport = 5060,
        .factor = 3,
    };
    c->n_faults = 1;
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, 1);
    size_t slow = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_hop *h = hop(r, k, 0);
        if (h->q) {
            continue;           /* the two flows collided */
        }
        bool sip = c->flows[s->pkts[k].flow].tuple.dport == 5060;
        uint64_t want = sip && h->t_arr >= 1 * MS ? 3 * US : 1 * US;
        assert_int_equal(h->t_dep - h->t_arr, want);
        slow += want == 3 * US;
    }
    assert_true(slow > 5);
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* Tx batching: releases in groups of B; a partial batch leaves when the NF goes
 * idle, or with a timeout, that long after its first packet was done. */
static void
test_batching(void **state)
{
    struct sim_config *c = one_nf(1e6, 1024, SIM_SRC_PACED, 1);
    c->nfs[0].batch = 4;
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_BURST, .flow = 0, .start_ns = 100 * US, .len_ns = 10,
        .rate_pps = 1e9,        /* 10 packets at once (1 ns apart) */
    };
    c->n_faults = 1;
    struct sim *s = create(c);
    uint64_t start = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        if (s->pkts[k].fault == 0) {
            start = start ? start : s->pkts[k].t_ingress;
        }
    }
    struct sim_result *r = sim_run(s, 1);
    size_t i = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        if (s->pkts[k].fault != 0) {
            continue;
        }
        const struct sim_hop *h = hop(r, k, 0);
        /* Done at start + (i+1) us; released with the 4th of its group, the last
         * two when the queue empties. */
        uint64_t want = i < 8 ? start + (i / 4 * 4 + 4) * US : start + 10 * US;
        assert_true(llabs((long long) (h->t_dep - want)) <= 1);
        /* Q counts the processed packets that wait in the tx batch too. */
        assert_int_equal(h->q, i);
        i++;
    }
    assert_int_equal(i, 10);
    sim_result_destroy(r);
    sim_destroy(s);

    /* With a timeout, a lone packet leaves 'timeout' after it is done. */
    c->nfs[0].batch_timeout_ns = 5 * US;
    c->flows[0].rate_pps = 1e4;
    c->n_faults = 0;
    s = create(c);
    r = sim_run(s, 0);
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_hop *h = hop(r, k, 0);
        assert_int_equal(h->t_dep - h->t_arr, 6 * US);
    }
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

/* Service jitter: the mean rate stays, and a packet draws the same service time
 * in every run. */
static void
test_jitter(void **state)
{
    struct sim_config *c = one_nf(1e6, 100000, SIM_SRC_PACED, 3e6);
    c->nfs[0].service_jitter = 0.5;
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, 0);
    size_t n = s->n_pkts;
    double span = (double) (hop(r, n - 1, 0)->t_dep - hop(r, 0, 0)->t_dep);
    assert_true(fabs(span / (double) (n - 1) - 1000) < 20);     /* 1 us on average */
    sim_result_destroy(r);
    sim_destroy(s);

    c->flows[0].rate_pps = 1e4;
    c->faults[0] = (struct sim_fault) {
        .kind = SIM_FAULT_PAUSE, .nf = 0, .start_ns = 1 * MS, .len_ns = 10 * US,
    };
    c->n_faults = 1;
    s = create(c);
    struct sim_result *a = sim_run(s, 0), *b = sim_run(s, 1);
    uint64_t min = UINT64_MAX, max = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        uint64_t d = hop(a, k, 0)->t_dep - hop(a, k, 0)->t_arr;
        min = VNET_MIN(min, d);
        max = VNET_MAX(max, d);
        if (hop(b, k, 0)->t_arr < 1 * MS || hop(b, k, 0)->t_arr > 1 * MS + 20 * US) {
            assert_int_equal(hop(b, k, 0)->t_dep - hop(b, k, 0)->t_arr, d);
        }
    }
    assert_true(min >= 500 && max <= 1500 && max - min > 300);
    sim_result_destroy(a);
    sim_result_destroy(b);
    sim_destroy(s);
    free(c);
}

/* Packets move along the path with the link delay; FIFO at every NF. */
static void
test_chain_paths(void **state)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    struct vnet_error *e = sim_topology_config("chain", 3, 1, 10 * MS, c);
    assert_null(e);
    struct sim *s = create(c);
    struct sim_result *r = sim_run(s, 0);
    assert_int_equal(s->n_hops, 3 * s->n_pkts);
    for (size_t k = 0; k < s->n_pkts; k++) {
        assert_int_equal(hop(r, k, 0)->t_arr, s->pkts[k].t_ingress);
        for (size_t j = 1; j < 3; j++) {
            assert_int_equal(hop(r, k, j)->t_arr, hop(r, k, j - 1)->t_dep
                             + c->link_delay_ns);
        }
    }
    for (size_t f = 0; f < 3; f++) {
        assert_int_equal(r->n_order[f], s->n_pkts);
        for (size_t k = 1; k < r->n_order[f]; k++) {
            const struct sim_hop *a = hop(r, r->order[f][k - 1].pkt, f);
            const struct sim_hop *b = hop(r, r->order[f][k].pkt, f);
            assert_true(a->t_arr <= b->t_arr && a->t_dep <= b->t_dep);
        }
    }
    /* Offered load is about 0.6 Mpps over 10 ms. */
    assert_true(s->n_pkts > 5400 && s->n_pkts < 6600);
    /* Packets of a flow have distinct ingress times and consecutive IP IDs. */
    for (size_t k = 0; k < s->n_pkts; k++) {
        for (size_t m = k + 1; m < s->n_pkts && m < k + 64; m++) {
            if (s->pkts[m].flow == s->pkts[k].flow) {
                assert_true(s->pkts[m].t_ingress > s->pkts[k].t_ingress);
                assert_int_equal(s->pkts[m].flow_seq, s->pkts[k].flow_seq + 1);
                assert_int_equal((uint16_t) (s->pkts[m].ip_id - s->pkts[k].ip_id), 1);
                break;
            }
        }
    }
    sim_result_destroy(r);
    sim_destroy(s);
    free(c);
}

static bool
same_pkt(const struct sim_pkt *a, const struct sim_pkt *b)
{
    return a->t_ingress == b->t_ingress && a->flow == b->flow
           && a->flow_seq == b->flow_seq && a->hop_off == b->hop_off
           && a->fault == b->fault && a->ip_id == b->ip_id;
}

/* Same config and seed: identical packets and hops (and files: see
 * test-sim-output); another seed differs. */
static void
test_determinism(void **state)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    assert_null(sim_scenario_config("S5", 11, 1, 20 * MS, NULL, c));
    struct sim *a = create(c), *b = create(c);
    assert_int_equal(a->n_pkts, b->n_pkts);
    for (size_t k = 0; k < a->n_pkts; k++) {
        assert_true(same_pkt(&a->pkts[k], &b->pkts[k]));
    }
    struct sim_result *ra = sim_run(a, sim_all_faults(a));
    struct sim_result *rb = sim_run(b, sim_all_faults(b));
    for (size_t k = 0; k < a->n_hops; k++) {
        const struct sim_hop *x = &ra->hops[k], *y = &rb->hops[k];
        assert_int_equal(x->t_arr, y->t_arr);
        assert_int_equal(x->t_dep, y->t_dep);
        assert_int_equal(x->q, y->q);
        assert_int_equal(x->status, y->status);
    }
    sim_result_destroy(ra);
    sim_result_destroy(rb);
    sim_destroy(b);
    assert_null(sim_scenario_config("S5", 12, 1, 20 * MS, NULL, c));
    b = create(c);
    bool differ = a->n_pkts != b->n_pkts;
    for (size_t k = 0; k < a->n_pkts && !differ; k++) {
        differ = !same_pkt(&a->pkts[k], &b->pkts[k]);
    }
    assert_true(differ);
    sim_destroy(a);
    sim_destroy(b);
    free(c);
}

static void
expect_error(const struct sim_config *c, const char *message)
{
    struct sim *s = NULL;
    struct vnet_error *e = sim_create(c, &s);
    assert_non_null(e);
    assert_null(s);
    assert_string_equal(e->message, message);
    vnet_error_destroy(e);
}

static void
test_validation(void **state)
{
    struct sim_config *c = one_nf(1e6, 16, SIM_SRC_POISSON, 1e5);
    c->nfs[0].qcap = 0;
    expect_error(c, "nfs[0].qcap: expected at least 1 packet, got 0");
    c->nfs[0].qcap = 16;
    c->nfs[0].service_jitter = 1;
    expect_error(c, "nfs[0].service_jitter: expected 0..0.9, got 1");
    c->nfs[0].service_jitter = 0;
    vnet_strlcpy(c->nfs[0].name, "egress", sizeof c->nfs[0].name);
    expect_error(c, "nfs[0].name: expected a name matching [a-z0-9][a-z0-9-]{0,23} "
                 "other than ingress/egress, got 'egress'");
    vnet_strlcpy(c->nfs[0].name, "x", sizeof c->nfs[0].name);
    c->flows[0].path[0] = 3;
    expect_error(c, "flows[0].path[0]: expected an NF index < 1 greater than the "
                 "previous one (NFs are in topological order), got 3");
    c->flows[0].path[0] = 0;
    c->flows[0].tuple.proto = IPPROTO_TCP;
    expect_error(c, "flows[0].frame_len: expected 66..1514 bytes, got 60");
    c->flows[0].tuple.proto = IPPROTO_UDP;
    c->faults[0] = (struct sim_fault) { .kind = SIM_FAULT_PAUSE, .nf = 0,
                                        .len_ns = 10, .period_ns = 5 };
    c->n_faults = 1;
    expect_error(c, "faults[0]: a pause needs len_ns > 0 and a period (if any) longer "
                 "than it");
    free(c);

    struct sim_config *d = vnet_xmalloc(sizeof *d);
    struct vnet_error *e = sim_scenario_config("S6", 1, 1, 0, "chain", d);
    assert_string_equal(e->message, "topology: scenario S6 injects a fault into "
                        "'mon', which topology chain lacks");
    vnet_error_destroy(e);
    e = sim_scenario_config("S10", 1, 1, 0, NULL, d);
    assert_string_equal(e->message, "scenario: expected S1..S9 (S4a, S4b), got 'S10'");
    vnet_error_destroy(e);
    e = sim_scenario_config("S1", 1, 0.5, 0, NULL, d);
    assert_string_equal(e->message, "scale: expected a factor 1..1000, got 0.5");
    vnet_error_destroy(e);
    e = sim_scenario_config("S1", 1, 1, 0, "ring", d);
    assert_string_equal(e->message, "topology: expected chain, dag or shaper, got "
                        "'ring'");
    vnet_error_destroy(e);
    free(d);
}

/* Every scenario builds and runs; scaling keeps the run in packet units. */
static void
test_scenarios(void **state)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    for (size_t i = 0; i < sim_scenario_count(); i++) {
        const struct sim_scenario *sc = sim_scenario_at(i);
        for (uint64_t seed = 0; seed < 8; seed += 5) {
            assert_null(sim_scenario_config(sc->name, seed, 1, 5 * MS, NULL, c));
            assert_string_equal(c->scenario, sc->name);
            struct sim *s = create(c);
            struct sim_result *r = sim_run(s, sim_all_faults(s));
            assert_true(s->n_pkts > 1000);
            sim_result_destroy(r);
            sim_destroy(s);
        }
    }
    /* S1's topology and pause length follow the seed. */
    assert_null(sim_scenario_config("S1", 1, 1, 0, NULL, c));
    assert_string_equal(c->topology, "chain");
    assert_int_equal(c->faults[0].len_ns, 100 * US);
    assert_null(sim_scenario_config("S1", 7, 1, 0, NULL, c));
    assert_string_equal(c->topology, "dag");
    assert_int_equal(c->faults[0].len_ns, 1000 * US);

    struct sim_config *x = vnet_xmalloc(sizeof *x);
    assert_null(sim_scenario_config("S2", 4, 1, 0, NULL, c));
    assert_null(sim_scenario_config("S2", 4, 10, 0, NULL, x));
    assert_int_equal(x->duration_ns, 10 * c->duration_ns);
    assert_int_equal(x->faults[0].start_ns, 10 * c->faults[0].start_ns);
    assert_true(fabs(x->faults[0].rate_pps * 10 - c->faults[0].rate_pps) < 1e-6);
    assert_true(fabs(x->nfs[0].rate_pps * 10 - c->nfs[0].rate_pps) < 1e-6);
    free(x);
    free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saturated_rate),
        cmocka_unit_test(test_tail_drop),
        cmocka_unit_test(test_pause_queue),
        cmocka_unit_test(test_pause_preempts),
        cmocka_unit_test(test_hog),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_chain_paths),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
