/* Tests monitor/online.c: live per-NF figures from mirrored copies fed out of
 * order across ports, as the capture thread delivers them.  A fw -> nat chain at
 * 10 kpps for 3 s; the NAT stops for 100 ms in the second window; the firewall
 * drops every 50th packet in the third.  The figures must show the NAT's queue and
 * latency jump in the second window only, the drops in the third, and a complete
 * match through the NAT's rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/agent-topology.h"
#include "monitor/capture.h"
#include "monitor/online.h"

#define T0 1700000000000000000ull
#define GAP 100000ull                   /* 10 kpps */
#define N_PKTS 30000u
#define PAUSE_AT (T0 + 1500000000ull)
#define PAUSE_NS 100000000ull

struct frame {
    uint64_t t;
    size_t nf;
    bool arrivals;
    uint8_t data[96];
    uint32_t len;
};

struct port {
    struct frame *v;
    size_t n;
};

static size_t
mk(uint8_t *f, uint32_t seq, uint32_t sip, uint16_t sport, uint8_t ttl)
{
    size_t total = 20 + 8 + 40;
    memset(f, 0, 14 + total);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[3] = (uint8_t) total;
    ip[4] = (uint8_t) (seq >> 8), ip[5] = (uint8_t) seq;
    ip[8] = ttl;
    ip[9] = 17;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t) (sip >> (24 - 8 * i));
        ip[16 + i] = (uint8_t) (0x0a000002u >> (24 - 8 * i));
    }
    uint8_t *u = ip + 20;
    u[0] = (uint8_t) (sport >> 8), u[1] = (uint8_t) sport;
    u[2] = 0x07, u[3] = 0xd0;
    for (int i = 0; i < 4; i++) {
        u[8 + i] = (uint8_t) (seq >> (24 - 8 * i));
    }
    return 14 + total;
}

static void
push(struct port *p, uint64_t t, size_t nf, bool arrivals, uint32_t seq, uint32_t sip,
     uint16_t sport, uint8_t ttl)
{
    struct frame *f = &p->v[p->n++];
    f->t = t;
    f->nf = nf;
    f->arrivals = arrivals;
    f->len = (uint32_t) mk(f->data, seq, sip, sport, ttl);
}

static struct json_object *
nf_window(struct online *o, const char *nf, struct json_object **stats)
{
    *stats = online_stats_to_json(o);
    return json_object_object_get(json_object_object_get(*stats, nf), "window");
}

static double
num(struct json_object *obj, const char *key)
{
    struct json_object *v;
    assert_true(json_object_object_get_ex(obj, key, &v));
    return json_object_get_double(v);
}

static void
test_chain_windows(void **state)
{
    (void) state;
    struct agent_topology topo = { 0 };
    const char *nfs[] = { "fw=200000,type=firewall", "nat=200000,type=nat" };
    const char *edges[] = { "ingress:fw", "fw:nat", "nat:egress" };
    const char *ports[] = { "p0=fw:in", "p1=fw:out", "p2=nat:in", "p3=nat:out" };
    for (size_t i = 0; i < 2; i++) {
        assert_null(agent_topology_add_nf(&topo, nfs[i]));
    }
    for (size_t i = 0; i < 3; i++) {
        assert_null(agent_topology_add_edge(&topo, edges[i]));
    }
    for (size_t i = 0; i < 4; i++) {
        assert_null(agent_topology_add_port(&topo, ports[i]));
    }
    assert_null(agent_topology_finish(&topo));

    struct port port[4];
    for (size_t i = 0; i < 4; i++) {
        port[i] = (struct port) { calloc(N_PKTS, sizeof(struct frame)), 0 };
    }
    uint64_t nat_free = 0;              /* when the NAT can next send */
    for (uint32_t i = 0; i < N_PKTS; i++) {
        uint64_t t = T0 + i * GAP;
        push(&port[0], t, 0, true, i, 0x0a000001, 1000, 64);
        bool window3 = t >= T0 + 2000000000ull;
        if (window3 && i % 50 == 0) {
            continue;                   /* dropped by the firewall */
        }
        push(&port[1], t + 10000, 0, false, i, 0x0a000001, 1000, 63);
        uint64_t ta = t + 15000;
        push(&port[2], ta, 1, true, i, 0x0a000001, 1000, 63);
        uint64_t start = ta;
        if (ta >= PAUSE_AT && ta < PAUSE_AT + PAUSE_NS) {
            start = PAUSE_AT + PAUSE_NS;
        }
        uint64_t td = (start > nat_free ? start : nat_free) + 20000;
        nat_free = td;
        push(&port[3], td, 1, false, i, 0xc6336401, 40000, 62);
    }

    struct online_config cfg;
    online_config_init(&cfg);
    struct online *o;
    assert_null(online_create(&topo, &cfg, &o));
    size_t next[4] = { 0 };
    uint64_t seen_windows = 0;
    bool checked[3] = { false };
    /* Deliver in 10 ms chunks, port by port: copies of one chunk reach the online
     * analysis out of time order across ports, as from several capture rings. */
    for (uint64_t now = T0 + 10000000; now < T0 + 3400000000ull; now += 10000000) {
        for (size_t k = 0; k < 4; k++) {
            while (next[k] < port[k].n && port[k].v[next[k]].t < now) {
                const struct frame *f = &port[k].v[next[k]++];
                struct capture_pkt pkt = { .ts_ns = f->t, .data = f->data,
                                           .caplen = f->len, .len = f->len };
                online_packet(o, f->nf, f->arrivals, &pkt);
            }
        }
        online_advance(o, now + cfg.holdback_ns);
        if (online_windows(o) == seen_windows) {
            continue;
        }
        seen_windows = online_windows(o);
        struct json_object *stats;
        struct json_object *nat = nf_window(o, "nat", &stats);
        struct json_object *fw = json_object_object_get(
            json_object_object_get(stats, "fw"), "window");
        assert_non_null(nat);
        assert_non_null(fw);
        if (seen_windows == 1) {
            assert_true(num(nat, "queue_max") <= 1);
            assert_true(num(nat, "latency_p99_us") < 25);
            assert_true(num(nat, "latency_p50_us") >= 19.9);
            assert_true(num(fw, "latency_p50_us") > 9.9 && num(fw, "latency_p50_us") < 10.1);
            assert_true(num(nat, "match_rate") >= 0.999);
            assert_int_equal((int) num(fw, "drops_internal") + (int) num(fw, "drops_tail")
                             + (int) num(fw, "drops_policy"), 0);
            checked[0] = true;
        } else if (seen_windows == 2) {
            /* 100 ms at 10 kpps: about 1000 packets wait behind the pause. */
            if (getenv("TEST_ONLINE_DEBUG")) {
                fprintf(stderr, "%s\n", json_object_to_json_string(stats));
            }
            assert_true(num(nat, "queue_max") >= 950 && num(nat, "queue_max") <= 1001);
            assert_true(num(nat, "latency_max_us") >= 99000);
            assert_true(num(nat, "latency_p99_us") >= 10000);
            assert_true(num(nat, "match_rate") >= 0.999);
            assert_true(num(fw, "queue_max") <= 1);
            checked[1] = true;
        } else if (seen_windows == 3) {
            uint64_t drops = (uint64_t) (num(fw, "drops_internal") + num(fw, "drops_tail")
                                         + num(fw, "drops_policy"));
            assert_true(drops >= 195 && drops <= 200);
            assert_true(num(nat, "queue_max") <= 1);
            struct json_object *recent = json_object_object_get(
                json_object_object_get(stats, "nat"), "recent_max");
            assert_true(num(recent, "queue_max") >= 950);
            checked[2] = true;
        }
        json_object_put(stats);
    }
    assert_true(checked[0] && checked[1] && checked[2]);
    online_advance(o, UINT64_MAX);
    struct json_object *stats = online_stats_to_json(o);
    struct json_object *fw = json_object_object_get(stats, "fw");
    assert_int_equal(num(fw, "arrivals"), N_PKTS);
    struct json_object *bw = json_object_object_get(json_object_object_get(fw, "bandwidth"),
                                                    "100ms");
    assert_non_null(bw);
    if (getenv("TEST_ONLINE_DEBUG")) {
        fprintf(stderr, "%s\n", json_object_to_json_string(
                    json_object_object_get(fw, "bandwidth")));
    }
    /* 10 kpps of 82-byte frames: 6.56 Mbit/s at the peak; the mean also counts
     * the idle 0.4 s the analysis advanced through after the stream ended. */
    assert_true(num(bw, "peak_bps_hi") > 6.5e6 && num(bw, "peak_bps_hi") < 6.62e6);
    assert_true(num(bw, "mean_bps") > 5.5e6 && num(bw, "mean_bps") < 6.56e6);
    json_object_put(stats);
    online_destroy(o);
    for (size_t i = 0; i < 4; i++) {
        free(port[i].v);
    }
    agent_topology_destroy(&topo);
}

/* A frame of an NF the topology does not analyse is ignored, and an empty analysis
 * reports no window rather than zeros that look like measurements. */
static void
test_no_window_yet(void **state)
{
    (void) state;
    struct agent_topology topo = { 0 };
    assert_null(agent_topology_add_nf(&topo, "fw=0"));
    assert_null(agent_topology_add_edge(&topo, "ingress:fw"));
    assert_null(agent_topology_add_edge(&topo, "fw:egress"));
    assert_null(agent_topology_add_port(&topo, "p0=fw:in"));
    assert_null(agent_topology_add_port(&topo, "p1=fw:out"));
    assert_null(agent_topology_finish(&topo));
    struct online *o;
    assert_null(online_create(&topo, NULL, &o));
    uint8_t f[96];
    struct capture_pkt pkt = { .ts_ns = T0, .data = f,
                               .caplen = (uint32_t) mk(f, 1, 1, 1, 64) };
    pkt.len = pkt.caplen;
    online_packet(o, 5, true, &pkt);
    online_packet(o, 0, true, &pkt);
    online_advance(o, T0 + 1000);
    assert_int_equal(online_windows(o), 0);
    struct json_object *stats = online_stats_to_json(o);
    struct json_object *fw = json_object_object_get(stats, "fw");
    assert_non_null(fw);
    assert_false(json_object_object_get_ex(fw, "window", NULL));
    assert_int_equal(num(fw, "arrivals"), 1);
    json_object_put(stats);
    online_destroy(o);
    agent_topology_destroy(&topo);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_windows),
        cmocka_unit_test(test_no_window_yet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
