/* Tests shadow/flow-plan.c by interpreting the rules it produces: a packet is walked
 * from port to port through the highest-priority matching rule (the NFs forward
 * what they receive on one NIC out of the other), so the test checks where traffic
 * really goes -- production to the sink, the shadow's copy into a drop, replies
 * through the active side only -- for a chain and a DAG, before and after a swap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "shadow/flow-plan.h"

#define SOURCE 10
#define SINK 11

/* A tiny OpenFlow pipeline: table, priority, in_port, ip/tcp, tp_src/tp_dst bits,
 * reg0 bit 0, and the actions the plans use (outputs, the DSCP tag load, its move
 * to reg0, resubmit to table 1). */
enum act_kind { ACT_OUTPUT, ACT_TAG, ACT_TAG_TO_REG, ACT_RESUBMIT };
struct act {
    enum act_kind kind;
    int value;
};

struct rule {
    int table, priority, in_port;
    bool tcp, ipv6, arp;
    const char *field;
    unsigned int value, mask;
    int reg0;                   /* -1: any */
    struct act acts[8];
    int n_acts;
    int outputs[4];
    int n_outputs;
    bool drop;
};

static struct rule *
parse_rules(char **text, size_t n)
{
    struct rule *r = vnet_xcalloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const char *s = text[i];
        assert_non_null(strstr(s, "cookie=0x766e657400000101,"));
        const char *acts = strstr(s, "actions=") + 8;
        const char *t = strstr(s, "table=");
        r[i].table = t ? (int) strtol(t + 6, NULL, 10) : 0;
        sscanf(strstr(s, "priority="), "priority=%d", &r[i].priority);
        sscanf(strstr(s, "in_port="), "in_port=%d", &r[i].in_port);
        r[i].tcp = strstr(s, ",tcp,") != NULL;
        r[i].ipv6 = strstr(s, ",ipv6,") != NULL;
        r[i].arp = strstr(s, ",arp,") != NULL;
        const char *rg = strstr(s, "reg0=");
        r[i].reg0 = rg && rg < acts ? (int) strtol(rg + 5, NULL, 0) : -1;
        const char *f = strstr(s, "tp_src=") ? "tp_src" : strstr(s, "tp_dst=") ? "tp_dst"
                                                                              : NULL;
        if (f) {
            r[i].field = f;
            char fmt[32];
            snprintf(fmt, sizeof fmt, "%s=0x%%x/0x%%x", f);
            sscanf(strstr(s, f), fmt, &r[i].value, &r[i].mask);
        }
        r[i].drop = !strcmp(acts, "drop");
        for (const char *a = acts; *a; ) {
            struct act *x = &r[i].acts[r[i].n_acts];
            if (!strncmp(a, "output:", 7)) {
                *x = (struct act) { ACT_OUTPUT, (int) strtol(a + 7, NULL, 10) };
                r[i].outputs[r[i].n_outputs++] = x->value;
                r[i].n_acts++;
            } else if (!strncmp(a, "load:", 5) && !strncmp(strchr(a, '-'),
                                                          "->NXM_OF_IP_TOS[2]", 18)) {
                *x = (struct act) { ACT_TAG, (int) strtol(a + 5, NULL, 10) };
                r[i].n_acts++;
            } else if (!strncmp(a, "move:NXM_OF_IP_TOS[2]->NXM_NX_REG0[0]", 37)) {
                *x = (struct act) { ACT_TAG_TO_REG, 0 };
                r[i].n_acts++;
            } else if (!strncmp(a, "resubmit(,1)", 12)) {
                *x = (struct act) { ACT_RESUBMIT, 1 };
                r[i].n_acts++;
            }
            int depth = 0;      /* on to the next top-level comma */
            while (*a && (depth || *a != ',')) {
                depth += *a == '(' ? 1 : *a == ')' ? -1 : 0;
                a++;
            }
            a += *a == ',';
        }
    }
    return r;
}

/* Returns the best matching rule of 'table' for a TCP/IPv4 packet. */
static const struct rule *
lookup(const struct rule *r, size_t n, int table, int in_port, unsigned int sport,
       unsigned int dport, int reg0)
{
    const struct rule *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (r[i].table != table || r[i].in_port != in_port || r[i].ipv6 || r[i].arp) {
            continue;
        }
        if (r[i].reg0 >= 0 && (r[i].reg0 & 1) != reg0) {
            continue;
        }
        if (r[i].field) {
            unsigned int v = !strcmp(r[i].field, "tp_src") ? sport : dport;
            if (!r[i].tcp || (v & r[i].mask) != r[i].value) {
                continue;
            }
        }
        if (!best || r[i].priority > best->priority) {
            best = &r[i];
        }
    }
    return best;
}

/* Port layout: side s, NF i: in = 100*(s+1) + 2i, out = in + 1.  An NF receiving on
 * one NIC sends out of the other. */
static int
nf_peer(int port)
{
    return port >= 100 ? (port % 2 ? port - 1 : port + 1) : -1;
}

#define OBSERVE0 60                 /* the monitor's ports for each side's exit */
#define OBSERVE1 61

struct outcome {
    int sink, source, drops;
    int observed[2];
    int drop_ports[8];
    int visited[32], n_visited;
    int sink_tag;               /* the DSCP tag bit of the last packet delivered */
};

/* Walks a packet carrying DSCP tag bit 'tag' from 'port' (as emitted there);
 * records where copies end: the sink, the source, an observation port, or a drop
 * (with the port of the dropping rule). */
static void
walk_tagged(const struct rule *r, size_t n, int port, unsigned int sport,
            unsigned int dport, int tag, struct outcome *out, int depth)
{
    assert_true(depth < 20);
    int reg0 = 0;
    const struct rule *rule = lookup(r, n, 0, port, sport, dport, reg0);
    assert_non_null(rule);
    for (int pass = 0; rule; pass++) {
        assert_true(pass < 3);
        if (rule->drop) {
            out->drop_ports[out->drops++] = port;
            return;
        }
        const struct rule *next = NULL;
        for (int k = 0; k < rule->n_acts; k++) {
            const struct act *x = &rule->acts[k];
            if (x->kind == ACT_TAG) {
                tag = x->value;
            } else if (x->kind == ACT_TAG_TO_REG) {
                reg0 = tag;
            } else if (x->kind == ACT_RESUBMIT) {
                next = lookup(r, n, 1, port, sport, dport, reg0);
                assert_non_null(next);
            } else {
                int to = x->value;
                out->visited[out->n_visited++] = to;
                if (to == SINK) {
                    out->sink++;
                    out->sink_tag = tag;
                } else if (to == OBSERVE0 || to == OBSERVE1) {
                    out->observed[to - OBSERVE0]++;
                } else if (to == SOURCE) {
                    out->source++;
                } else {
                    walk_tagged(r, n, nf_peer(to), sport, dport, tag, out, depth + 1);
                }
            }
        }
        rule = next;
    }
}

static void
walk(const struct rule *r, size_t n, int port, unsigned int sport, unsigned int dport,
     struct outcome *out, int depth)
{
    walk_tagged(r, n, port, sport, dport, 0, out, depth);
}

static uint16_t in0[4], out0[4], in1[4], out1[4];

static struct flow_graph
graph(const struct flow_edge *edges, size_t n_edges, size_t n_nfs, bool shadow,
      int active)
{
    for (size_t i = 0; i < n_nfs; i++) {
        in0[i] = (uint16_t) (100 + 2 * i);
        out0[i] = (uint16_t) (101 + 2 * i);
        in1[i] = (uint16_t) (200 + 2 * i);
        out1[i] = (uint16_t) (201 + 2 * i);
    }
    struct flow_graph g = {
        .n_nfs = n_nfs, .edges = edges, .n_edges = n_edges,
        .source = { SOURCE, { 2, 0, 0, 0, 0, 1 }, 0x0a000001 },
        .sink = { SINK, { 2, 0, 0, 0, 0, 2 }, 0x0a000002 },
        .in_ports = { in0, in1 }, .out_ports = { out0, out1 },
        .has_shadow = shadow, .active = active, .side_tag = { 0, 1 },
        .cookie = 0x766e657400000101ull, .gateway_mac = "02:76:6e:00:00:01",
    };
    return g;
}

static bool
visited(const struct outcome *o, int port)
{
    for (int i = 0; i < o->n_visited; i++) {
        if (o->visited[i] == port) {
            return true;
        }
    }
    return false;
}

static const struct flow_edge chain_edges[] = {
    { FLOW_EP_INGRESS, 0 }, { 0, 1 }, { 1, 2 }, { 2, FLOW_EP_EGRESS },
};

static void
test_chain_with_shadow(void **state)
{
    for (int active = 0; active < 2; active++) {
        struct flow_graph g = graph(chain_edges, 4, 3, true, active);
        size_t n;
        char **text = flow_plan_build(&g, &n);
        struct rule *r = parse_rules(text, n);
        int shadow_side = !active;
        int base_active = active ? 200 : 100, base_shadow = active ? 100 : 200;

        /* Forward: one copy reaches the sink through the active side; the other goes
         * through every shadow NF and is dropped at the shadow's exit. */
        struct outcome o = { 0 };
        walk(r, n, SOURCE, 1234, 80, &o, 0);
        assert_int_equal(o.sink, 1);
        assert_int_equal(o.source, 0);
        assert_int_equal(o.drops, 1);
        assert_int_equal(o.drop_ports[0], base_shadow + 5);     /* shadow NF 2 out */
        for (int i = 0; i < 3; i++) {
            assert_true(visited(&o, base_active + 2 * i));
            assert_true(visited(&o, base_shadow + 2 * i));
        }
        (void) shadow_side;

        /* Reverse: replies from the sink reach the source via the active side only. */
        memset(&o, 0, sizeof o);
        walk(r, n, SINK, 80, 1234, &o, 0);
        assert_int_equal(o.source, 1);
        assert_int_equal(o.sink, 0);
        assert_int_equal(o.drops, 0);
        assert_false(visited(&o, base_shadow + 5));
        /* What the shadow's first NF emits backwards (carrying, like all traffic
         * that entered since, the active side's tag) is dropped too. */
        memset(&o, 0, sizeof o);
        walk_tagged(r, n, base_shadow, 80, 1234, active, &o, 0);
        assert_int_equal(o.source, 0);
        assert_int_equal(o.drops, 1);
        flow_plan_free(text, n);
        free(r);
    }
}

/* With the Monitoring VNet observing the exits: the active side's output reaches
 * the sink and a copy the monitor; the shadow's output reaches the monitor only
 * (an OVS port mirror would not copy it, the flow table drops it). */
static void
test_observed_exits(void **state)
{
    (void) state;
    for (int active = 0; active < 2; active++) {
        struct flow_graph g = graph(chain_edges, 4, 3, true, active);
        g.observe_exit[0] = OBSERVE0;
        g.observe_exit[1] = OBSERVE1;
        size_t n;
        char **text = flow_plan_build(&g, &n);
        struct rule *r = parse_rules(text, n);
        struct outcome o = { 0 };
        walk(r, n, SOURCE, 1234, 80, &o, 0);
        assert_int_equal(o.sink, 1);
        assert_int_equal(o.drops, 0);
        assert_int_equal(o.observed[active], 1);
        assert_int_equal(o.observed[!active], 1);
        /* Replies are not observed at the exits, and never take the shadow. */
        memset(&o, 0, sizeof o);
        walk(r, n, SINK, 80, 1234, &o, 0);
        assert_int_equal(o.source, 1);
        assert_int_equal(o.observed[0] + o.observed[1], 0);
        flow_plan_free(text, n);
        free(r);
    }
}

/* A swap while packets are in flight: a packet that entered while side A served
 * production (tagged A) is delivered by side A's exit even after the swap, and its
 * duplicate leaving side B is not; a packet entering after the swap is delivered
 * by B only.  Delivered packets leave with the tag bit cleared. */
static void
test_swap_in_flight(void **state)
{
    (void) state;
    for (int a = 0; a < 2; a++) {
        struct flow_graph before = graph(chain_edges, 4, 3, true, a);
        struct flow_graph after = graph(chain_edges, 4, 3, true, !a);
        after.draining = true;
        size_t nb, na;
        char **tb = flow_plan_build(&before, &nb), **ta = flow_plan_build(&after, &na);
        struct rule *rb = parse_rules(tb, nb), *ra = parse_rules(ta, na);
        /* Entered before the swap: ingress of the old plan tags it 'a'. */
        const struct rule *in = lookup(rb, nb, 0, SOURCE, 1234, 80, 0);
        assert_non_null(in);
        int tag = -1;
        for (int k = 0; k < in->n_acts; k++) {
            tag = in->acts[k].kind == ACT_TAG ? in->acts[k].value : tag;
        }
        assert_int_equal(tag, a);
        /* Both copies are still in the side's last NF when the swap lands. */
        int exit_a = (a ? 200 : 100) + 4, exit_b = (a ? 100 : 200) + 4;
        struct outcome oa = { 0 }, ob = { 0 };
        walk_tagged(ra, na, exit_a + 1, 1234, 80, tag, &oa, 0);
        walk_tagged(ra, na, exit_b + 1, 1234, 80, tag, &ob, 0);
        assert_int_equal(oa.sink + ob.sink, 1);         /* exactly once */
        assert_int_equal(oa.sink, 1);                   /* by the old production */
        assert_int_equal(oa.sink_tag, 0);
        /* Entered after the swap: delivered by the new production only. */
        struct outcome o = { 0 };
        walk(ra, na, SOURCE, 1234, 80, &o, 0);
        assert_int_equal(o.sink, 1);
        assert_int_equal(o.sink_tag, 0);
        assert_int_equal(o.drops, 1);
        assert_int_equal(o.drop_ports[0], exit_a + 1);  /* the old side's copy */
        /* A reply in flight in the old side's first NF reaches the source. */
        int first_a = a ? 200 : 100;
        memset(&o, 0, sizeof o);
        walk_tagged(ra, na, first_a, 80, 1234, a, &o, 0);
        assert_int_equal(o.source, 1);
        assert_int_equal(o.drops, 0);
        /* A reply after the swap goes through the new side only. */
        memset(&o, 0, sizeof o);
        walk(ra, na, SINK, 80, 1234, &o, 0);
        assert_int_equal(o.source, 1);
        assert_false(visited(&o, first_a + 1));
        flow_plan_free(tb, nb);
        flow_plan_free(ta, na);
        free(rb);
        free(ra);
    }
}

/* Isolation: a shadow NF that sets the DSCP bit to its own side's tag reaches
 * neither the sink (forward) nor the source (reverse), observed or not; only the
 * side that has just stopped serving production, while it drains, delivers its
 * own tag. */
static void
test_shadow_cannot_forge_tag(void **state)
{
    (void) state;
    for (int active = 0; active < 2; active++) {
        for (int observed = 0; observed < 2; observed++) {
            for (int draining = 0; draining < 2; draining++) {
                struct flow_graph g = graph(chain_edges, 4, 3, true, active);
                g.draining = draining;
                g.observe_exit[0] = observed ? OBSERVE0 : 0;
                g.observe_exit[1] = observed ? OBSERVE1 : 0;
                size_t n;
                char **text = flow_plan_build(&g, &n);
                struct rule *r = parse_rules(text, n);
                int shadow = !active, base = shadow ? 200 : 100;
                for (int tag = 0; tag < 2; tag++) {
                    bool forged = tag == shadow;
                    struct outcome fwd = { 0 }, rev = { 0 };
                    walk_tagged(r, n, base + 5, 1234, 80, tag, &fwd, 0);
                    walk_tagged(r, n, base, 80, 1234, tag, &rev, 0);
                    assert_int_equal(fwd.sink, forged && draining);
                    assert_int_equal(rev.source, forged && draining);
                    if (!fwd.sink) {
                        assert_int_equal(fwd.drops + fwd.observed[shadow], 1);
                        assert_int_equal(fwd.observed[active], 0);
                    }
                    assert_int_equal(rev.sink + rev.observed[0] + rev.observed[1], 0);
                    /* From a middle NF it can only reach the next shadow NF. */
                    struct outcome mid = { 0 };
                    walk_tagged(r, n, base + 1, 1234, 80, tag, &mid, 0);
                    assert_false(visited(&mid, (active ? 200 : 100) + 4));
                    assert_int_equal(mid.sink, forged && draining);
                }
                flow_plan_free(text, n);
                free(r);
            }
        }
    }
}

/* The monitoring VNode's ports only receive: anything sent from them hits a drop
 * rule of their own that outranks every other rule. */
static void
test_receive_only_ports(void **state)
{
    (void) state;
    static const uint16_t mon[] = { 60, 61, 62 };
    struct flow_graph g = graph(chain_edges, 4, 3, true, 0);
    g.observe_exit[0] = OBSERVE0;
    g.observe_exit[1] = OBSERVE1;
    g.receive_only = mon;
    g.n_receive_only = 3;
    size_t n;
    char **text = flow_plan_build(&g, &n);
    struct rule *r = parse_rules(text, n);
    int top = 0;
    for (size_t i = 0; i < n; i++) {
        top = r[i].priority > top && r[i].in_port != 60 && r[i].in_port != 61
              && r[i].in_port != 62 ? r[i].priority : top;
    }
    for (size_t k = 0; k < 3; k++) {
        size_t rules = 0;
        for (size_t i = 0; i < n; i++) {
            if (r[i].in_port == mon[k]) {
                rules++;
                assert_true(r[i].drop);
                assert_true(r[i].priority > top);
                assert_false(r[i].tcp || r[i].ipv6 || r[i].arp || r[i].field);
            }
        }
        assert_int_equal(rules, 1);
        struct outcome o = { 0 };
        walk(r, n, mon[k], 1234, 80, &o, 0);
        assert_int_equal(o.drops, 1);
        assert_int_equal(o.n_visited, 0);
    }
    /* Production still flows, and the exits are still observed. */
    struct outcome o = { 0 };
    walk(r, n, SOURCE, 1234, 80, &o, 0);
    assert_int_equal(o.sink, 1);
    assert_int_equal(o.observed[0] + o.observed[1], 2);
    flow_plan_free(text, n);
    free(r);
}

static void
test_no_shadow(void **state)
{
    struct flow_graph g = graph(chain_edges, 4, 3, false, 0);
    size_t n;
    char **text = flow_plan_build(&g, &n);
    struct rule *r = parse_rules(text, n);
    struct outcome o = { 0 };
    walk(r, n, SOURCE, 1, 2, &o, 0);
    assert_int_equal(o.sink, 1);
    assert_int_equal(o.drops, 0);
    for (size_t i = 0; i < n; i++) {
        /* No rule mentions a shadow port. */
        assert_null(strstr(text[i], "output:20"));
    }
    /* The sink gets frames addressed to its own MAC from the gateway MAC. */
    bool rewritten = false;
    for (size_t i = 0; i < n; i++) {
        rewritten |= strstr(text[i], "mod_dl_src:02:76:6e:00:00:01,mod_dl_dst:02:00:00:"
                            "00:00:02,output:11") != NULL;
    }
    assert_true(rewritten);
    flow_plan_free(text, n);
    free(r);
}

/* DAG: ingress -> lb(0) -> {fw1(1), fw2(2)} -> vpn(3) -> egress.  Both directions of
 * a flow, and its shadow copy, take the same branch. */
static void
test_dag_symmetry(void **state)
{
    static const struct flow_edge edges[] = {
        { FLOW_EP_INGRESS, 0 }, { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 },
        { 3, FLOW_EP_EGRESS },
    };
    struct flow_graph g = graph(edges, 6, 4, true, 0);
    size_t n;
    char **text = flow_plan_build(&g, &n);
    struct rule *r = parse_rules(text, n);
    for (unsigned int sport = 1000; sport < 1004; sport++) {
        int branch = sport % 2 ? 2 : 1;          /* fw2 for odd source ports */
        struct outcome fwd = { 0 }, rev = { 0 };
        walk(r, n, SOURCE, sport, 80, &fwd, 0);
        walk(r, n, SINK, 80, sport, &rev, 0);
        assert_int_equal(fwd.sink, 1);
        assert_int_equal(rev.source, 1);
        assert_true(visited(&fwd, 100 + 2 * branch));       /* production branch */
        assert_true(visited(&fwd, 200 + 2 * branch));       /* same branch in shadow */
        assert_false(visited(&fwd, 100 + 2 * (3 - branch)));
        assert_true(visited(&rev, 101 + 2 * branch));       /* reply: same firewall */
        assert_false(visited(&rev, 101 + 2 * (3 - branch)));
    }
    flow_plan_free(text, n);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_with_shadow),
        cmocka_unit_test(test_observed_exits),
        cmocka_unit_test(test_swap_in_flight),
        cmocka_unit_test(test_shadow_cannot_forge_tag),
        cmocka_unit_test(test_receive_only_ports),
        cmocka_unit_test(test_no_shadow),
        cmocka_unit_test(test_dag_symmetry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
