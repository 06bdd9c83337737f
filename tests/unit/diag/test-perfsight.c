/* Tests diag/perfsight.c: the utility routines with wraps and resets, Algorithm 1's
 * ranking and rule book on the spec's scenarios (S3, S3b, S4b, S9, S10a-c), and
 * Algorithm 2's blocking states, elimination and interpretation (S4b, S10d-e). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag/perfsight.h"
#include "lib/error.h"

#define T_NS 100000000ull               /* the agent's 100 ms polling interval */
#define TS0 5000000000ull

/* ---- utility routines ---- */

static void
test_counter_delta(void **state)
{
    uint64_t d = 0;
    /* softnet_stat's 32-bit fields wrap modulo 2^32. */
    assert_int_equal(perfsight_counter_delta(0xffffff00u, 0x10, 32, 1000000, &d), 0);
    assert_int_equal(d, 0x110);
    /* Backwards by more than the element could have counted: a reset. */
    assert_int_equal(perfsight_counter_delta(3000000000u, 100, 32, 100000000, &d),
                     -ERANGE);
    assert_int_equal(d, 0x110);                 /* untouched on failure */
    assert_int_equal(perfsight_counter_delta(1000, 10, 64, 1000000, &d), -ERANGE);
    assert_int_equal(perfsight_counter_delta(1000, 10, 0, 1000000, &d), -ERANGE);
    /* A 64-bit wrap is plausible only right below 2^64. */
    assert_int_equal(perfsight_counter_delta(UINT64_MAX - 5, 4, 64, 1000, &d), 0);
    assert_int_equal(d, 10);
    /* A value wider than the counter is bad input. */
    assert_int_equal(perfsight_counter_delta(1ull << 32, 5, 32, 1000, &d), -EINVAL);
    /* A forward jump beyond any plausible rate is also a reset. */
    assert_int_equal(perfsight_counter_delta(0, 5000000, 64, 1000000, &d), -ERANGE);
    assert_int_equal(perfsight_counter_delta(7, 7, 32, 0, &d), 0);
    assert_int_equal(d, 0);
}

static void
test_utilities(void **state)
{
    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    struct perfsight_elem e = {
        .name = "cpu1",
        .kind = PERFSIGHT_BACKLOG,
        .counter_bits = 32,
        .explicit_drops = true,
        .s1 = {.ts_ns = TS0, .in_pkts = 0xfffff000u, .in_bytes = 0xfff00000u,
               .drops = 0xfffffff0u},
        .s2 = {.ts_ns = TS0 + T_NS, .in_pkts = 0x3000, .in_bytes = 0x500000,
               .drops = 0x100},
    };
    struct perfsight_delta d;
    assert_int_equal(perfsight_delta(&e, &cfg, &d), 0);
    assert_int_equal(d.t_ns, T_NS);
    assert_int_equal(d.in_pkts, 0x4000);
    assert_int_equal(d.in_bytes, 0x600000);
    assert_int_equal(d.drops, 0x110);
    assert_true(fabs(perfsight_get_throughput(&d) - 0x600000 * 10.0) < 1e-6);
    assert_int_equal(perfsight_get_pkt_loss(&d, true), 0x110);
    double size = 0;
    assert_int_equal(perfsight_get_avg_pkt_size(&d, &size), 0);
    assert_true(size == 384.0);

    /* Without an explicit counter the loss is the growth of in - out; a queue
     * that drained shows as negative. */
    struct perfsight_delta q = {.t_ns = T_NS, .in_pkts = 100, .out_pkts = 90};
    assert_int_equal(perfsight_get_pkt_loss(&q, false), 10);
    q.out_pkts = 130;
    assert_int_equal(perfsight_get_pkt_loss(&q, false), -30);
    q.in_pkts = 0;
    assert_int_equal(perfsight_get_avg_pkt_size(&q, &size), -EDOM);

    /* A reset anywhere discards the pair; snapshots out of order are invalid. */
    e.s2.in_pkts = 5;
    e.s1.in_pkts = 1000000000u;
    assert_int_equal(perfsight_delta(&e, &cfg, &d), -ERANGE);
    e.s2.ts_ns = TS0;
    assert_int_equal(perfsight_delta(&e, &cfg, &d), -EINVAL);
}

/* ---- Algorithm 1 ---- */

/* A host: eth0 (10 Gb/s), four per-CPU backlogs, the OVS datapath, a tap per
 * VNode (fw, nat, vpn; 1 Gb/s each), their cgroups (2 CPUs each), host CPU (8),
 * memory bandwidth (20 GB/s).  All quiet unless a test sets traffic. */
enum { ETH0, CPU0, CPU1, CPU2, CPU3, DP, TAP_FW, TAP_NAT, TAP_VPN, CG_FW, CG_NAT,
       CG_VPN, HOST_CPU, MEMBW, N_ELEMS };

static void
host_init(struct perfsight_elem *e)
{
    static const struct {
        const char *name, *vnode;
        enum perfsight_kind kind;
        double capacity;
    } d[N_ELEMS] = {
        [ETH0] = {"eth0", NULL, PERFSIGHT_PNIC, 1.25e9},
        [CPU0] = {"cpu0", NULL, PERFSIGHT_BACKLOG, 0},
        [CPU1] = {"cpu1", NULL, PERFSIGHT_BACKLOG, 0},
        [CPU2] = {"cpu2", NULL, PERFSIGHT_BACKLOG, 0},
        [CPU3] = {"cpu3", NULL, PERFSIGHT_BACKLOG, 0},
        [DP] = {"ovs-system", NULL, PERFSIGHT_OVS_DATAPATH, 0},
        [TAP_FW] = {"tap-fw", "fw", PERFSIGHT_TAP, 1.25e8},
        [TAP_NAT] = {"tap-nat", "nat", PERFSIGHT_TAP, 1.25e8},
        [TAP_VPN] = {"tap-vpn", "vpn", PERFSIGHT_TAP, 1.25e8},
        [CG_FW] = {"cg-fw", "fw", PERFSIGHT_VNODE_CPU, 2},
        [CG_NAT] = {"cg-nat", "nat", PERFSIGHT_VNODE_CPU, 2},
        [CG_VPN] = {"cg-vpn", "vpn", PERFSIGHT_VNODE_CPU, 2},
        [HOST_CPU] = {"host", NULL, PERFSIGHT_HOST_CPU, 8},
        [MEMBW] = {"mbm", NULL, PERFSIGHT_MEMBW, 2e10},
    };
    for (int i = 0; i < N_ELEMS; i++) {
        e[i] = (struct perfsight_elem) {
            .name = d[i].name,
            .vnode = d[i].vnode,
            .kind = d[i].kind,
            .capacity = d[i].capacity,
            .counter_bits = d[i].kind == PERFSIGHT_BACKLOG ? 32 : 64,
            .explicit_drops = true,
            .s1 = {.ts_ns = TS0, .in_pkts = 1000, .in_bytes = 64000, .out_pkts = 1000,
                   .out_bytes = 64000, .drops = 7, .cpu_ns = 123456},
        };
        e[i].s2 = e[i].s1;
        e[i].s2.ts_ns = TS0 + T_NS;
    }
}

/* 'pkts' accepted (and passed on) and 'drops' dropped in the interval, with
 * packets of 'size' bytes. */
static void
traffic(struct perfsight_elem *e, uint64_t pkts, uint64_t drops, uint64_t size)
{
    e->s2.in_pkts = e->s1.in_pkts + pkts;
    e->s2.out_pkts = e->s1.out_pkts + pkts;
    e->s2.in_bytes = e->s1.in_bytes + pkts * size;
    e->s2.out_bytes = e->s1.out_bytes + pkts * size;
    e->s2.drops = e->s1.drops + drops;
}

/* 'share' of the element's CPU capacity used over the interval. */
static void
cpu_use(struct perfsight_elem *e, double share)
{
    e->s2.cpu_ns = e->s1.cpu_ns + (uint64_t) (share * e->capacity * T_NS);
}

static struct perfsight_report *
diagnose(const struct perfsight_elem *e, size_t n)
{
    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    struct perfsight_report *r = NULL;
    struct vnet_error *error = perfsight_find_contention(e, n, &cfg, &r);
    if (error) {
        fail_msg("%s", error->message);
    }
    assert_int_equal(r->algorithm, PERFSIGHT_LOSS_LOCATION);
    return r;
}

static void
assert_top(const struct perfsight_report *r, enum perfsight_code code,
           const char *subject)
{
    assert_true(r->n_findings >= 1);
    if (r->findings[0].code != code) {
        fail_msg("top finding %s, expected %s (%s)",
                 perfsight_catalogue(r->findings[0].code)->id,
                 perfsight_catalogue(code)->id, r->findings[0].evidence);
    }
    assert_string_equal(r->findings[0].subject, subject);
}

/* S9: no fault.  Drops below the noise floor (0.1% of offered, or 10 packets) are
 * not findings. */
static void
test_negative_control(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    traffic(&e[ETH0], 800000, 0, 64);
    traffic(&e[TAP_FW], 100000, 9, 64);          /* under 10 packets */
    traffic(&e[TAP_NAT], 1000000, 900, 64);      /* under 0.1% */
    cpu_use(&e[HOST_CPU], 0.3);
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    assert_int_equal(r->n_losses, 0);
    assert_int_equal(r->n_findings, 1);
    assert_top(r, PERFSIGHT_NO_LOSS, "host");
    perfsight_report_destroy(r);

    traffic(&e[TAP_NAT], 1000000, 1100, 64);     /* above */
    r = diagnose(e, N_ELEMS);
    assert_int_equal(r->n_losses, 1);
    assert_string_equal(r->losses[0].name, "tap-nat");
    perfsight_report_destroy(r);
}

/* S10a: inbound flood above the NIC rate: pNIC ring drops -> incoming bandwidth. */
static void
test_incoming_bandwidth(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    traffic(&e[ETH0], 1400000, 250000, 64);
    traffic(&e[TAP_FW], 100000, 200, 64);        /* minor, individual */
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_INCOMING_BANDWIDTH, "host");
    assert_string_equal(perfsight_catalogue(r->findings[0].code)->resource,
                        "incoming network bandwidth");
    assert_int_equal(r->findings[0].loss_pkts, 250000);
    assert_string_equal(r->losses[0].name, "eth0");
    assert_int_equal(r->losses[0].offered_pkts, 1650000);
    assert_int_equal(r->n_losses, 2);
    assert_true(r->findings[0].share > 0.99);
    perfsight_report_destroy(r);
}

/* S10b: one VM floods small packets: backlog drops with the NIC far from
 * saturation -> backlog contention; at >= 90% of line rate -> outgoing bandwidth.
 * The backlog counters are 32-bit and wrap in the interval. */
static void
test_backlog(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    e[CPU2].s1.drops = 0xffffff00u;
    e[CPU2].s1.in_pkts = 0xfffff000u;
    traffic(&e[CPU2], 500000, 40000, 64);
    e[CPU2].s2.drops &= 0xffffffffu;
    e[CPU2].s2.in_pkts &= 0xffffffffu;
    traffic(&e[CPU3], 400000, 1000, 64);
    traffic(&e[ETH0], 100000, 0, 50);            /* tx 50 MB/s: 4% of 10 Gb/s */
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_BACKLOG_CONTENTION, "host");
    assert_int_equal(r->findings[0].loss_pkts, 41000);
    assert_int_equal(r->losses[0].loss_pkts, 40000);
    assert_string_equal(r->losses[0].name, "cpu2");
    assert_non_null(strstr(r->findings[0].evidence, "NIC tx at 4%"));
    perfsight_report_destroy(r);

    traffic(&e[ETH0], 80000, 0, 1500);           /* 1.2 GB/s: 96% */
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_OUTGOING_BANDWIDTH, "host");
    perfsight_report_destroy(r);

    e[ETH0].capacity = 0;                        /* NIC rate unknown: not saturated */
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_BACKLOG_CONTENTION, "host");
    assert_non_null(strstr(r->findings[0].evidence, "NIC tx at unknown"));
    perfsight_report_destroy(r);
}

/* S3/S4b: loss confined to one VNode's tap -> that VNode is the bottleneck; its
 * cgroup tells CPU from bandwidth. */
static void
test_individual_bottleneck(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    traffic(&e[TAP_FW], 300000, 8000, 64);
    traffic(&e[TAP_NAT], 300000, 400, 64);       /* under 10% of fw's loss */
    cpu_use(&e[CG_FW], 0.99);
    cpu_use(&e[CG_NAT], 0.4);
    cpu_use(&e[HOST_CPU], 0.5);
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_VNODE_CPU_LIMIT, "fw");
    assert_int_equal(r->findings[0].loss_pkts, 8000);
    assert_int_equal(r->n_findings, 1);
    assert_int_equal(r->n_losses, 2);            /* nat is still ranked */
    assert_string_equal(r->losses[1].vnode, "nat");
    perfsight_report_destroy(r);

    /* Throttled by its quota without using all of it: still CPU. */
    cpu_use(&e[CG_FW], 0.6);
    e[CG_FW].s2.throttled_ns = e[CG_FW].s1.throttled_ns + T_NS / 20;
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_VNODE_CPU_LIMIT, "fw");
    perfsight_report_destroy(r);

    /* CPU idle, tap at 96% of its 1 Gb/s limit: bandwidth allocation. */
    e[CG_FW].s2.throttled_ns = e[CG_FW].s1.throttled_ns;
    traffic(&e[TAP_FW], 10000, 8000, 1200);
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_VNODE_BANDWIDTH_LIMIT, "fw");
    perfsight_report_destroy(r);

    /* S4b: the VPN under-provisioned, no cgroup counters for it. */
    host_init(e);
    traffic(&e[TAP_VPN], 100000, 30000, 64);
    e[CG_VPN].vnode = "vpn-old";                 /* no cgroup counters for vpn */
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_VNODE_BOTTLENECK, "vpn");
    assert_non_null(strstr(r->findings[0].evidence, "only vpn's path"));
    perfsight_report_destroy(r);
}

/* S3b/S10c: loss spread over several VNodes' paths is contention in the shared
 * stack: CPU if the host CPU is saturated, else memory bandwidth. */
static void
test_aggregated_contention(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    traffic(&e[TAP_FW], 300000, 3000, 64);
    traffic(&e[TAP_NAT], 300000, 2500, 64);
    traffic(&e[TAP_VPN], 300000, 2000, 64);
    cpu_use(&e[CG_FW], 0.5);
    cpu_use(&e[HOST_CPU], 0.97);
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_CPU_CONTENTION, "host");
    assert_int_equal(r->findings[0].loss_pkts, 7500);
    assert_non_null(strstr(r->findings[0].evidence, "3 VNodes"));
    assert_non_null(strstr(r->findings[0].evidence, "host CPU 97%"));
    assert_int_equal(r->n_findings, 1);
    perfsight_report_destroy(r);

    cpu_use(&e[HOST_CPU], 0.45);
    e[MEMBW].s2.in_bytes = e[MEMBW].s1.in_bytes + (uint64_t) (1.8e10 * 0.1);
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_MEMBW_CONTENTION, "host");
    assert_non_null(strstr(r->findings[0].evidence, "memory bandwidth 90%"));
    perfsight_report_destroy(r);

    /* Without host CPU counters the two cannot be told apart. */
    r = diagnose(e, HOST_CPU);                   /* elements before HOST_CPU */
    assert_top(r, PERFSIGHT_STACK_CONTENTION, "host");
    perfsight_report_destroy(r);

    /* Two VNodes suffice for "aggregated". */
    traffic(&e[TAP_VPN], 300000, 0, 64);
    traffic(&e[TAP_NAT], 300000, 400, 64);       /* >= 10% of fw's 3000 */
    r = diagnose(e, N_ELEMS);
    assert_top(r, PERFSIGHT_MEMBW_CONTENTION, "host");
    assert_non_null(strstr(r->findings[0].evidence, "2 VNodes"));
    perfsight_report_destroy(r);
}

/* Several groups at once: findings ranked by loss; the vswitch and qdiscs map to
 * their rules; a tagged qdisc is the VNode's shaper. */
static void
test_ranking_and_other_elements(void **state)
{
    struct perfsight_elem e[N_ELEMS + 3];
    host_init(e);
    traffic(&e[ETH0], 1000000, 2000, 64);
    traffic(&e[DP], 1000000, 3000, 64);
    traffic(&e[TAP_FW], 100000, 5000, 64);
    e[N_ELEMS] = (struct perfsight_elem) {
        .name = "qdisc-eth0", .kind = PERFSIGHT_QDISC, .explicit_drops = true,
        .s1 = {.ts_ns = TS0}, .s2 = {.ts_ns = TS0 + T_NS, .in_pkts = 100000,
                                     .drops = 2500}};
    struct perfsight_report *r = diagnose(e, N_ELEMS + 1);
    assert_int_equal(r->n_findings, 4);
    assert_top(r, PERFSIGHT_VNODE_BOTTLENECK, "fw");   /* CPU idle, tap at 51% */
    assert_int_equal(r->findings[1].code, PERFSIGHT_VSWITCH_CPU);
    assert_int_equal(r->findings[2].code, PERFSIGHT_OUTGOING_BANDWIDTH);
    assert_int_equal(r->findings[3].code, PERFSIGHT_INCOMING_BANDWIDTH);
    assert_int_equal(r->n_losses, 4);
    for (size_t i = 1; i < r->n_losses; i++) {
        assert_true(r->losses[i - 1].loss_pkts >= r->losses[i].loss_pkts);
    }
    double shares = 0;
    for (size_t i = 0; i < r->n_findings; i++) {
        shares += r->findings[i].share;
    }
    assert_true(fabs(shares - 1) < 1e-9);
    perfsight_report_destroy(r);

    /* A shaper on fw's interface dropping: fw's bandwidth allocation. */
    host_init(e);
    e[N_ELEMS] = (struct perfsight_elem) {
        .name = "qdisc-tap-fw", .kind = PERFSIGHT_QDISC, .vnode = "fw",
        .explicit_drops = true, .s1 = {.ts_ns = TS0},
        .s2 = {.ts_ns = TS0 + T_NS, .in_pkts = 100000, .drops = 2000}};
    r = diagnose(e, N_ELEMS + 1);
    assert_top(r, PERFSIGHT_VNODE_BANDWIDTH_LIMIT, "fw");
    perfsight_report_destroy(r);
}

/* Counter resets are discarded, not fatal; in-out loss needs T >= 10x the drain
 * time; bad input is an error naming the element. */
static void
test_resets_and_input(void **state)
{
    struct perfsight_elem e[N_ELEMS + 1];
    host_init(e);
    traffic(&e[TAP_VPN], 100000, 30000, 64);
    e[TAP_FW].s2.in_pkts = 3;                    /* the tap was recreated */
    e[N_ELEMS] = (struct perfsight_elem) {
        .name = "app-nat", .kind = PERFSIGHT_APP, .vnode = "nat",
        .drain_ns = 20000000,                    /* 20 ms: needs T >= 200 ms */
        .s1 = {.ts_ns = TS0}, .s2 = {.ts_ns = TS0 + T_NS, .in_pkts = 10000,
                                     .out_pkts = 5000}};
    struct perfsight_report *r = diagnose(e, N_ELEMS + 1);
    assert_int_equal(r->n_skipped, 2);
    assert_string_equal(r->skipped[0].name, "tap-fw");
    assert_non_null(strstr(r->skipped[0].reason, "reset"));
    assert_string_equal(r->skipped[1].name, "app-nat");
    assert_non_null(strstr(r->skipped[1].reason, "drain"));
    assert_top(r, PERFSIGHT_VNODE_BOTTLENECK, "vpn");
    perfsight_report_destroy(r);

    /* With a long enough interval the in-out loss counts, for nat's path. */
    e[N_ELEMS].s2.ts_ns = TS0 + 300000000;
    r = diagnose(e, N_ELEMS + 1);
    assert_int_equal(r->n_skipped, 1);
    assert_int_equal(r->n_losses, 2);
    assert_string_equal(r->losses[1].name, "app-nat");
    assert_false(r->losses[1].explicit_drops);
    assert_int_equal(r->losses[1].loss_pkts, 5000);
    assert_top(r, PERFSIGHT_MEMBW_CONTENTION, "host");  /* vpn + nat: aggregated */
    perfsight_report_destroy(r);

    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    struct vnet_error *error;
    e[3].name = NULL;
    struct perfsight_report *none = NULL;
    error = perfsight_find_contention(e, N_ELEMS, &cfg, &none);
    assert_non_null(error);
    assert_string_equal(error->message, "element 3: no name");
    vnet_error_destroy(error);
    e[3].name = "cpu2";
    e[3].counter_bits = 16;
    error = perfsight_find_contention(e, N_ELEMS, &cfg, &none);
    assert_non_null(error);
    assert_string_equal(error->message,
                        "element 'cpu2': counter width 16, expected 32 or 64");
    vnet_error_destroy(error);
    assert_null(none);
}

static void
test_catalogue_and_kinds(void **state)
{
    for (int c = 0; c < PERFSIGHT_N_CODES; c++) {
        const struct perfsight_catalogue_entry *e = perfsight_catalogue(c);
        assert_non_null(e);
        assert_true(e->id && !strncmp(e->id, "ps-", 3));
        assert_true(e->title && *e->title && e->meaning && *e->meaning && e->action &&
                    *e->action);
        for (int d = 0; d < c; d++) {
            assert_string_not_equal(e->id, perfsight_catalogue(d)->id);
        }
    }
    assert_null(perfsight_catalogue(PERFSIGHT_N_CODES));
    for (int k = 0; k < PERFSIGHT_N_KINDS; k++) {
        enum perfsight_kind back;
        assert_int_equal(perfsight_kind_from_name(perfsight_kind_name(k), &back), 0);
        assert_int_equal(back, k);
    }
    enum perfsight_kind kind;
    assert_int_equal(perfsight_kind_from_name("nic", &kind), -EINVAL);
    assert_null(perfsight_kind_name(PERFSIGHT_N_KINDS));
}

static void
test_a1_rendering(void **state)
{
    struct perfsight_elem e[N_ELEMS];
    host_init(e);
    traffic(&e[ETH0], 1400000, 250000, 64);
    e[CPU1].s2.in_pkts = 0;                      /* reset */
    struct perfsight_report *r = diagnose(e, N_ELEMS);
    struct json_object *j = perfsight_report_to_json(r);
    struct json_object *v, *f;
    assert_true(json_object_object_get_ex(j, "algorithm", &v));
    assert_string_equal(json_object_get_string(v), "loss-location");
    assert_true(json_object_object_get_ex(j, "findings", &v));
    assert_int_equal(json_object_array_length(v), 1);
    f = json_object_array_get_idx(v, 0);
    const char *keys[] = {"code", "title", "resource", "subject", "evidence",
                          "meaning", "action"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_true(json_object_object_get_ex(f, keys[i], &v));
        assert_true(json_object_get_string_len(v) > 0);
    }
    json_object_object_get_ex(f, "code", &v);
    assert_string_equal(json_object_get_string(v), "ps-incoming-bandwidth");
    json_object_object_get_ex(f, "loss_pkts", &v);
    assert_int_equal(json_object_get_int64(v), 250000);
    assert_true(json_object_object_get_ex(j, "losses", &v));
    f = json_object_array_get_idx(v, 0);
    json_object_object_get_ex(f, "kind", &v);
    assert_string_equal(json_object_get_string(v), "pnic");
    json_object_object_get_ex(f, "vnode", &v);
    assert_null(v);
    assert_true(json_object_object_get_ex(j, "skipped", &v));
    assert_int_equal(json_object_array_length(v), 1);
    json_object_put(j);

    char *text = perfsight_report_to_text(r);
    assert_non_null(
        strstr(text, "[ps-incoming-bandwidth] host: pNIC receive overflow"));
    assert_non_null(strstr(text, "resource in shortage: incoming network bandwidth"));
    assert_non_null(strstr(text, "what to do: "));
    assert_non_null(strstr(text, "Skipped cpu1: counter reset"));
    free(text);
    perfsight_report_destroy(r);
    perfsight_report_destroy(NULL);
}

/* ---- Algorithm 2 ---- */

#define C_BPS 1.25e8                            /* 1 Gb/s vNICs */
#define T2 1000000000ull                        /* 1 s */

/* Bytes moved and time spent in read/write calls over T2. */
static void
io(struct perfsight_mbox *m, double in_bytes, double in_time, double out_bytes,
   double out_time)
{
    m->has_stats = true;
    m->s1 = (struct elem_stats) {.ts_ns = TS0, .in_bytes = 1000, .out_bytes = 2000,
                                 .io_time_in_ns = 300, .io_time_out_ns = 400};
    m->s2 = m->s1;
    m->s2.ts_ns += T2;
    m->s2.in_bytes += (uint64_t) in_bytes;
    m->s2.out_bytes += (uint64_t) out_bytes;
    m->s2.io_time_in_ns += (uint64_t) (in_time * T2);
    m->s2.io_time_out_ns += (uint64_t) (out_time * T2);
}

static struct perfsight_report *
root_cause(const struct perfsight_mbox *m, size_t n)
{
    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    struct perfsight_report *r = NULL;
    struct vnet_error *error = perfsight_find_root_cause(m, n, &cfg, &r);
    if (error) {
        fail_msg("%s", error->message);
    }
    assert_int_equal(r->algorithm, PERFSIGHT_IO_BLOCKING);
    return r;
}

static size_t
candidates(const struct perfsight_report *r, const char **names)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_mbs; i++) {
        if (r->mbs[i].candidate) {
            names[k++] = r->mbs[i].name;
        }
    }
    return k;
}

/* client -> lb -> proxy -> server */
static const size_t s_lb[] = {1}, s_proxy[] = {2}, s_server[] = {3};

static void
chain_init(struct perfsight_mbox *m)
{
    m[0] = (struct perfsight_mbox) {.name = "client", .role = PERFSIGHT_ROLE_SOURCE,
                                    .capacity_Bps = C_BPS, .succs = s_lb, .n_succs = 1};
    m[1] = (struct perfsight_mbox) {.name = "lb", .capacity_Bps = C_BPS,
                                    .succs = s_proxy, .n_succs = 1};
    m[2] = (struct perfsight_mbox) {.name = "proxy", .capacity_Bps = C_BPS,
                                    .succs = s_server, .n_succs = 1};
    m[3] = (struct perfsight_mbox) {.name = "server", .role = PERFSIGHT_ROLE_SINK,
                                    .capacity_Bps = C_BPS};
}

/* S10d: the server is CPU-starved: everything before it waits to write. */
static void
test_sink_overloaded(void **state)
{
    struct perfsight_mbox m[4];
    chain_init(m);
    /* 10 MB/s where 125 MB/s fit: reading takes 8% at most unblocked. */
    io(&m[0], 0, 0, 1e7, 0.85);
    io(&m[1], 1e7, 0.05, 1e7, 0.8);
    io(&m[2], 1e7, 0.04, 1e7, 0.7);
    io(&m[3], 1e7, 0.01, 0, 0);
    struct perfsight_report *r = root_cause(m, 4);
    assert_int_equal(r->mbs[0].state, PERFSIGHT_MB_WRITE_BLOCKED);
    assert_int_equal(r->mbs[1].state, PERFSIGHT_MB_WRITE_BLOCKED);
    assert_int_equal(r->mbs[2].state, PERFSIGHT_MB_WRITE_BLOCKED);
    assert_int_equal(r->mbs[3].state, PERFSIGHT_MB_NORMAL);
    assert_true(fabs(r->mbs[1].rho_out - 0.8 * 12.5) < 1e-6);
    assert_true(fabs(r->mbs[1].rho_in - 0.05 * 12.5) < 1e-6);
    const char *c[4];
    assert_int_equal(candidates(r, c), 1);
    assert_string_equal(c[0], "server");
    assert_int_equal(r->n_findings, 1);
    assert_int_equal(r->findings[0].code, PERFSIGHT_SINK_OVERLOADED);
    assert_string_equal(r->findings[0].subject, "server");
    assert_string_equal(r->findings[0].evidence, "write-blocked: client, lb, proxy");
    perfsight_report_destroy(r);

    /* Without the server's counters: cand is empty, the chain ends at the sink. */
    m[3].has_stats = false;
    r = root_cause(m, 4);
    assert_int_equal(candidates(r, c), 0);
    assert_int_equal(r->findings[0].code, PERFSIGHT_SINK_OVERLOADED);
    perfsight_report_destroy(r);
}

/* S10e: the client is rate-limited to 10%: everyone waits to read. */
static void
test_client_underloaded(void **state)
{
    struct perfsight_mbox m[4];
    chain_init(m);
    io(&m[0], 0, 0, 1.25e7, 0.02);
    io(&m[1], 1.25e7, 0.9, 1.25e7, 0.02);
    io(&m[2], 1.25e7, 0.9, 1.25e7, 0.02);
    io(&m[3], 1.25e7, 0.95, 0, 0);
    struct perfsight_report *r = root_cause(m, 4);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(r->mbs[i].state, PERFSIGHT_MB_READ_BLOCKED);
    }
    assert_int_equal(r->mbs[0].state, PERFSIGHT_MB_NORMAL);
    assert_int_equal(r->n_findings, 1);
    assert_int_equal(r->findings[0].code, PERFSIGHT_CLIENT_UNDERLOADED);
    assert_string_equal(r->findings[0].subject, "client");
    perfsight_report_destroy(r);

    m[0].has_stats = false;                      /* cand = {} */
    r = root_cause(m, 4);
    const char *c[4];
    assert_int_equal(candidates(r, c), 0);
    assert_int_equal(r->findings[0].code, PERFSIGHT_CLIENT_UNDERLOADED);
    perfsight_report_destroy(r);
}

/* S4b under TCP: gen -> fw -> nat -> vpn -> sink with the VPN under-provisioned:
 * predecessors WriteBlocked, successors ReadBlocked, cand = {vpn}. */
static void
test_middlebox_root_cause(void **state)
{
    static const size_t s1[] = {1}, s2[] = {2}, s3[] = {3}, s4[] = {4};
    struct perfsight_mbox m[5] = {
        {.name = "gen", .role = PERFSIGHT_ROLE_SOURCE, .succs = s1, .n_succs = 1},
        {.name = "fw", .succs = s2, .n_succs = 1},
        {.name = "nat", .succs = s3, .n_succs = 1},
        {.name = "vpn", .succs = s4, .n_succs = 1},
        {.name = "sink", .role = PERFSIGHT_ROLE_SINK},
    };
    for (int i = 0; i < 5; i++) {
        m[i].capacity_Bps = C_BPS;
    }
    io(&m[0], 0, 0, 5e7, 0.7);
    io(&m[1], 5e7, 0.1, 5e7, 0.7);
    io(&m[2], 5e7, 0.1, 5e7, 0.6);
    io(&m[3], 5e7, 0.1, 5e7, 0.1);               /* rho 0.25 both ways: busy CPU */
    io(&m[4], 5e7, 0.9, 0, 0);
    struct perfsight_report *r = root_cause(m, 5);
    const char *c[5];
    assert_int_equal(candidates(r, c), 1);
    assert_string_equal(c[0], "vpn");
    assert_int_equal(r->n_findings, 1);
    assert_int_equal(r->findings[0].code, PERFSIGHT_ROOT_CAUSE);
    assert_string_equal(r->findings[0].subject, "vpn");
    assert_non_null(strstr(r->findings[0].evidence, "normal; rho_in 0.25"));
    perfsight_report_destroy(r);

    /* Both directions blocked: ReadBlocked is checked first, both ratios kept.
     * An idle box stays a candidate as unknown. */
    io(&m[2], 5e7, 0.9, 5e7, 0.9);
    m[3].s2 = m[3].s1;
    m[3].s2.ts_ns += T2;
    r = root_cause(m, 5);
    assert_int_equal(r->mbs[2].state, PERFSIGHT_MB_READ_BLOCKED);
    assert_true(r->mbs[2].rho_out > 1);
    assert_int_equal(r->mbs[3].state, PERFSIGHT_MB_UNKNOWN);
    assert_true(isnan(r->mbs[3].rho_in));
    assert_int_equal(candidates(r, c), 1);
    assert_int_equal(r->findings[0].code, PERFSIGHT_ROOT_CAUSE);   /* pointed at */
    assert_string_equal(r->findings[0].subject, "vpn");
    perfsight_report_destroy(r);
}

/* The guarded elimination on a DAG merge: src1 -> x -> m -> sink, src2 -> m.  src1
 * is slow, so x is ReadBlocked; m is overloaded by src2, which is WriteBlocked.
 * The unguarded rule would drop m as x's successor; the guarded one keeps it. */
static void
test_dag_guarded(void **state)
{
    static const size_t sx[] = {2}, sm[] = {3}, sms[] = {4};
    struct perfsight_mbox m[5] = {
        {.name = "src1", .role = PERFSIGHT_ROLE_SOURCE, .succs = sx, .n_succs = 1},
        {.name = "src2", .role = PERFSIGHT_ROLE_SOURCE, .succs = sm, .n_succs = 1},
        {.name = "x", .succs = sm, .n_succs = 1},
        {.name = "m", .succs = sms, .n_succs = 1},
        {.name = "sink", .role = PERFSIGHT_ROLE_SINK},
    };
    for (int i = 0; i < 5; i++) {
        m[i].capacity_Bps = C_BPS;
    }
    io(&m[1], 0, 0, 6e7, 0.8);                   /* src2: write-blocked */
    io(&m[2], 1e6, 0.9, 1e6, 0.01);              /* x: read-blocked */
    io(&m[3], 6.1e7, 0.1, 6.1e7, 0.1);           /* m: normal, saturated CPU */
    io(&m[4], 6.1e7, 0.2, 0, 0);                 /* sink: keeps up */
    struct perfsight_report *r = root_cause(m, 5);
    assert_int_equal(r->mbs[2].state, PERFSIGHT_MB_READ_BLOCKED);
    assert_int_equal(r->mbs[1].state, PERFSIGHT_MB_WRITE_BLOCKED);
    assert_true(r->mbs[3].candidate);
    assert_false(r->mbs[0].candidate);           /* an endpoint without stats */
    assert_int_equal(r->findings[0].code, PERFSIGHT_ROOT_CAUSE);
    assert_string_equal(r->findings[0].subject, "m");
    /* The sink is a candidate with nothing pointing at it. */
    assert_int_equal(r->n_findings, 2);
    assert_int_equal(r->findings[1].code, PERFSIGHT_CANDIDATE);
    assert_string_equal(r->findings[1].subject, "sink");
    perfsight_report_destroy(r);
}

/* Unknown C: the historical maximum, and blocked only with I/O time > 30% of T. */
static void
test_history_capacity(void **state)
{
    static const size_t s1[] = {1};
    struct perfsight_mbox m[2] = {
        {.name = "a", .succs = s1, .n_succs = 1, .hist_max_Bps = 1e8},
        {.name = "b", .hist_max_Bps = 1e8},
    };
    io(&m[0], 1e6, 0.2, 1e6, 0.0);               /* rho_in 20, but 20% of T */
    io(&m[1], 1e6, 0.5, 3e8, 0.1);               /* 300 MB/s: a new maximum */
    struct perfsight_report *r = root_cause(m, 2);
    assert_true(r->mbs[0].capacity_from_history);
    assert_true(fabs(r->mbs[0].capacity_Bps - 1e8) < 1e-3);
    assert_true(fabs(r->mbs[0].rho_in - 20) < 1e-9);
    assert_int_equal(r->mbs[0].state, PERFSIGHT_MB_NORMAL);
    assert_true(fabs(r->mbs[1].hist_max_Bps - 3e8) < 1e-3);
    assert_int_equal(r->mbs[1].state, PERFSIGHT_MB_READ_BLOCKED);
    perfsight_report_destroy(r);

    io(&m[0], 1e6, 0.4, 1e6, 0.0);
    r = root_cause(m, 2);
    assert_int_equal(r->mbs[0].state, PERFSIGHT_MB_READ_BLOCKED);
    perfsight_report_destroy(r);

    /* No bytes but time in the call: blocked (rho infinite). */
    io(&m[0], 0, 0.5, 1e6, 0.0);
    r = root_cause(m, 2);
    assert_int_equal(r->mbs[0].state, PERFSIGHT_MB_READ_BLOCKED);
    assert_true(isinf(r->mbs[0].rho_in));
    char *text = perfsight_report_to_text(r);
    assert_non_null(strstr(text, "rho_in    inf"));
    free(text);
    perfsight_report_destroy(r);
}

static void
test_a2_input_and_rendering(void **state)
{
    struct perfsight_mbox m[4];
    chain_init(m);
    io(&m[0], 0, 0, 1e7, 0.85);
    io(&m[1], 1e7, 0.05, 1e7, 0.8);
    io(&m[2], 1e7, 0.04, 1e7, 0.7);
    io(&m[3], 1e7, 0.01, 0, 0);
    m[2].s1.in_bytes = 1ull << 40;               /* proxy's counters were reset */
    struct perfsight_report *r = root_cause(m, 4);
    assert_int_equal(r->n_skipped, 1);
    assert_int_equal(r->mbs[2].state, PERFSIGHT_MB_UNKNOWN);
    assert_true(r->mbs[2].candidate);            /* unknown stays a candidate */

    struct json_object *j = perfsight_report_to_json(r), *v;
    assert_true(json_object_object_get_ex(j, "algorithm", &v));
    assert_string_equal(json_object_get_string(v), "io-blocking");
    assert_true(json_object_object_get_ex(j, "candidates", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)),
                        "proxy");
    assert_true(json_object_object_get_ex(j, "middleboxes", &v));
    struct json_object *lb = json_object_array_get_idx(v, 1), *x;
    json_object_object_get_ex(lb, "state", &x);
    assert_string_equal(json_object_get_string(x), "write-blocked");
    json_object_object_get_ex(lb, "capacity_source", &x);
    assert_string_equal(json_object_get_string(x), "configured");
    json_object_object_get_ex(json_object_array_get_idx(v, 2), "rho_in", &x);
    assert_null(x);
    json_object_put(j);
    char *text = perfsight_report_to_text(r);
    assert_non_null(strstr(text, "PerfSight I/O blocking"));
    assert_non_null(strstr(text, "[ps-root-cause] proxy"));
    free(text);
    perfsight_report_destroy(r);

    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    static const size_t bad[] = {9};
    m[1].succs = bad;
    struct perfsight_report *none = NULL;
    struct vnet_error *error = perfsight_find_root_cause(m, 4, &cfg, &none);
    assert_non_null(error);
    assert_string_equal(error->message,
                        "middlebox 'lb': successor 9 is not another box of the chain");
    assert_null(none);
    vnet_error_destroy(error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_delta),
        cmocka_unit_test(test_utilities),
        cmocka_unit_test(test_negative_control),
        cmocka_unit_test(test_incoming_bandwidth),
        cmocka_unit_test(test_backlog),
        cmocka_unit_test(test_individual_bottleneck),
        cmocka_unit_test(test_aggregated_contention),
        cmocka_unit_test(test_ranking_and_other_elements),
        cmocka_unit_test(test_resets_and_input),
        cmocka_unit_test(test_catalogue_and_kinds),
        cmocka_unit_test(test_a1_rendering),
        cmocka_unit_test(test_sink_overloaded),
        cmocka_unit_test(test_client_underloaded),
        cmocka_unit_test(test_middlebox_root_cause),
        cmocka_unit_test(test_dag_guarded),
        cmocka_unit_test(test_history_capacity),
        cmocka_unit_test(test_a2_input_and_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
