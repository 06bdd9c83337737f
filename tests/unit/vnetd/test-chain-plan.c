/* Tests vnetd/chain-plan.c: names, MACs and port numbers are unique and within
 * limits, every rule parses as OpenFlow 1.5 the way the OVS adapter will send it,
 * and the steering follows the service graph in both directions. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/ovs-adapter.h"

static char *
resolve(const char *program, void *aux)
{
    return strcmp(program, "missing-nf") ? vnet_xasprintf("/opt/nf/%s", program) : NULL;
}

static const struct chain_plan_env env = {
    .vnode_init = "/usr/libexec/vnet/vnet-vnode-init",
    .control_dir = "/run/vnet/nf",
    .resolve_program = resolve,
};

static struct chain_plan *
plan_for(const char *file, uint32_t id, uint16_t base)
{
    char *path = vnet_xasprintf("%s/templates/chains/%s", VNET_SOURCE_DIR, file);
    struct chain_template *t;
    struct vnet_error *error = chain_template_load_file(path, &t);
    free(path);
    assert_null(error);
    struct chain_plan *p;
    struct chain_plan_input in = { .tmpl = { t, NULL }, .chain_id = id,
                                   .port_base = base };
    error = chain_plan_create(&in, &env, &p);
    assert_null(error);
    chain_template_destroy(t);
    return p;
}

static struct chain_template *
load(const char *file)
{
    char *path = vnet_xasprintf("%s/templates/chains/%s", VNET_SOURCE_DIR, file);
    struct chain_template *t;
    assert_null(chain_template_load_file(path, &t));
    free(path);
    return t;
}

static bool
has_flow(const struct chain_plan *p, const char *needle)
{
    for (size_t i = 0; i < p->n_flows; i++) {
        if (strstr(p->flows[i], needle)) {
            return true;
        }
    }
    return false;
}

static void
test_chain_layout(void **state)
{
    struct chain_plan *p = plan_for("fw-nat-vpn.json", 0x769177, 256);
    assert_int_equal(p->n_vnodes, 5);
    assert_string_equal(p->vnodes[0].domain, "vnet-fw-nat-vpn-fw");
    assert_string_equal(p->vnodes[3].node, "source");
    assert_string_equal(p->vnodes[4].node, "sink");
    assert_int_equal(p->cookie, 0x766e657476917701ull);

    /* Every NIC: unique name (<= 15 chars), MAC and port in the chain's block. */
    for (size_t i = 0; i < p->n_vnodes; i++) {
        for (size_t n = 0; n < p->vnodes[i].n_nics; n++) {
            const struct vnode_nic *a = &p->vnodes[i].nics[n];
            assert_true(strlen(a->ifname) <= 15);
            assert_true(a->ofport >= 256 && a->ofport < 512);
            assert_true(a->mac[0] == 0x02);
            for (size_t j = 0; j < p->n_vnodes; j++) {
                for (size_t m = 0; m < p->vnodes[j].n_nics; m++) {
                    const struct vnode_nic *b = &p->vnodes[j].nics[m];
                    if (a == b) {
                        continue;
                    }
                    assert_true(strcmp(a->ifname, b->ifname));
                    assert_true(memcmp(a->mac, b->mac, 6));
                    assert_true(a->ofport != b->ofport);
                }
            }
        }
    }

    /* The NF argv: init wrapper, resolved program, vnet NF options, template args. */
    const struct vnode_plan *nat = chain_plan_find_vnode(p, "nat", 0);
    assert_string_equal(nat->argv[0], "/usr/libexec/vnet/vnet-vnode-init");
    assert_string_equal(nat->argv[4], "/opt/nf/vnet-nf");
    assert_string_equal(nat->argv[nat->argc - 2], "--snat");
    assert_string_equal(nat->control, "/run/vnet/nf/fw-nat-vpn-nat.ctl");

    /* Forward: source -> fw.in, fw.out -> nat.in, ..., vpn.out -> sink (rewritten). */
    assert_true(has_flow(p, "priority=100,in_port=256,actions=output:258"));
    assert_true(has_flow(p, "priority=100,in_port=259,actions=output:260"));
    assert_true(has_flow(p, "priority=100,in_port=261,actions=output:262"));
    assert_true(has_flow(p, "priority=100,in_port=263,actions=mod_dl_src:02:76:6e:00:00:01,"
                         "mod_dl_dst:02:76:91:77:fd:00,output:257"));
    /* Reverse: sink -> vpn.out, vpn.in -> nat.out, ..., fw.in -> source. */
    assert_true(has_flow(p, "priority=100,in_port=257,actions=output:263"));
    assert_true(has_flow(p, "priority=100,in_port=262,actions=output:261"));
    assert_true(has_flow(p, "priority=100,in_port=258,actions=mod_dl_src:02:76:6e:00:00:01,"
                         "mod_dl_dst:02:76:91:77:fe:00,output:256"));
    /* ARP for the endpoints is answered by the switch, never forwarded. */
    assert_true(has_flow(p, "priority=200,in_port=256,arp,arp_op=1"));
    assert_true(has_flow(p, "priority=210,in_port=257,arp,arp_op=1,arp_tpa=10.70.0.20"));

    char *error = ovs_adapter_check_flows((const char *const *) p->flows, p->n_flows);
    if (error) {
        fail_msg("%s", error);
    }
    for (size_t i = 0; i < p->n_flows; i++) {
        assert_non_null(strstr(p->flows[i], "cookie=0x766e657476917701,"));
    }
    chain_plan_destroy(p);
}

static void
test_dag_split(void **state)
{
    struct chain_plan *p = plan_for("lb-2fw-vpn.json", 0x000001, 512);
    char *error = ovs_adapter_check_flows((const char *const *) p->flows, p->n_flows);
    if (error) {
        fail_msg("%s", error);
    }
    const struct vnode_plan *lb = chain_plan_find_vnode(p, "lb", 0);
    const struct vnode_plan *fw1 = chain_plan_find_vnode(p, "fw1", 0);
    const struct vnode_plan *fw2 = chain_plan_find_vnode(p, "fw2", 0);
    const struct vnode_plan *vpn = chain_plan_find_vnode(p, "vpn", 0);
    char buf[160];
    /* lb's output is spread by the source port's low bit, for TCP and UDP. */
    snprintf(buf, sizeof buf, "in_port=%u,udp,tp_src=0x0/0x1,actions=output:%u",
             lb->nics[1].ofport, fw1->nics[0].ofport);
    assert_true(has_flow(p, buf));
    snprintf(buf, sizeof buf, "in_port=%u,tcp,tp_src=0x1/0x1,actions=output:%u",
             lb->nics[1].ofport, fw2->nics[0].ofport);
    assert_true(has_flow(p, buf));
    /* Replies at the merge go back the same way, by destination port. */
    snprintf(buf, sizeof buf, "in_port=%u,tcp,tp_dst=0x1/0x1,actions=output:%u",
             vpn->nics[0].ofport, fw2->nics[1].ofport);
    assert_true(has_flow(p, buf));
    snprintf(buf, sizeof buf, "in_port=%u,udp,tp_dst=0x0/0x1,actions=output:%u",
             vpn->nics[0].ofport, fw1->nics[1].ofport);
    assert_true(has_flow(p, buf));
    /* Both firewalls feed the VPN. */
    snprintf(buf, sizeof buf, "priority=100,in_port=%u,actions=output:%u",
             fw2->nics[1].ofport, vpn->nics[0].ofport);
    assert_true(has_flow(p, buf));
    chain_plan_destroy(p);
}

static void
test_missing_program(void **state)
{
    char *path = vnet_xasprintf("%s/templates/chains/fw-nat-vpn.json", VNET_SOURCE_DIR);
    struct chain_template *t;
    assert_null(chain_template_load_file(path, &t));
    free(path);
    free(t->nodes[1].program);
    t->nodes[1].program = vnet_xstrdup("missing-nf");
    struct chain_plan *p;
    struct chain_plan_input in = { .tmpl = { t, NULL }, .chain_id = 1,
                                   .port_base = 256 };
    struct vnet_error *error = chain_plan_create(&in, &env, &p);
    assert_non_null(error);
    assert_string_equal(error->message, "node 'nat': NF program 'missing-nf' not found");
    vnet_error_destroy(error);
    chain_template_destroy(t);
}

static void
test_bad_rules_are_caught(void **state)
{
    const char *const bad[] = { "priority=100,in_port=1,actions=output:2",
                                "priority=100,in_prt=1,actions=output:2" };
    char *error = ovs_adapter_check_flows(bad, 2);
    assert_non_null(error);
    assert_non_null(strstr(error, "rule 1:"));
    free(error);
}

/* A shadow side: clones with their own names and ports, the same guest MACs, a
 * side-0 'original' to clone from, rules that duplicate at ingress, and the
 * comparison mirrors when monitored. */
static void
test_shadow_side(void **state)
{
    struct chain_template *t = load("fw-nat-vpn.json");
    struct chain_template *s = load("fw-nat-vpn.json");
    s->nodes[1].cpus = 2;                       /* the fix tried on the shadow */
    const char *nodes[] = { "nat" };
    struct chain_plan_monitor mon = { nodes, 1, 128, NULL, 128 };
    for (int active = 0; active < 2; active++) {
        struct chain_plan_input in = { .tmpl = { t, s }, .active = active,
                                       .chain_id = 0x10, .port_base = 512,
                                       .monitor = &mon };
        struct chain_plan *p;
        assert_null(chain_plan_create(&in, &env, &p));
        assert_int_equal(p->n_vnodes, 3 + 3 + 2 + 1);
        const struct vnode_plan *a = chain_plan_find_vnode(p, "nat", 0);
        const struct vnode_plan *b = chain_plan_find_vnode(p, "nat", 1);
        assert_string_equal(a->domain, "vnet-fw-nat-vpn-nat");
        assert_string_equal(b->domain, "vnet-fw-nat-vpn-nat-b");
        assert_string_equal(b->nics[0].ifname, "vn000010-b01i");
        assert_memory_equal(a->nics[0].mac, b->nics[0].mac, 6);
        assert_true(a->nics[0].ofport != b->nics[0].ofport);
        assert_int_equal(b->cpus, 2);
        assert_non_null(b->original);
        assert_string_equal(b->original->domain, "vnet-fw-nat-vpn-nat");
        assert_int_equal(b->original->cpus, 2);     /* from the shadow's template */
        assert_string_equal(b->control, "/run/vnet/nf/fw-nat-vpn-nat-b.ctl");
        char *error = ovs_adapter_check_flows((const char *const *) p->flows,
                                              p->n_flows);
        if (error) {
            fail_msg("%s", error);
        }
        /* Ingress is duplicated into both sides' firewalls. */
        char buf[128];
        snprintf(buf, sizeof buf, "in_port=512,actions=output:%u,output:%u",
                 chain_plan_find_vnode(p, "fw", active)->nics[0].ofport,
                 chain_plan_find_vnode(p, "fw", !active)->nics[0].ofport);
        assert_true(has_flow(p, buf));
        /* The monitor mirrors production's NAT and the entry; the exits are copied
         * to it by the rules (the shadow's exit traffic is dropped, which a port
         * mirror would not copy). */
        assert_int_equal(p->n_mirrors, 3);
        assert_string_equal(p->mirrors[0].what, "nat:in");
        assert_string_equal(p->mirrors[0].select_dst,
                            chain_plan_find_vnode(p, "nat", active)->nics[0].ifname);
        assert_string_equal(p->mirrors[2].what, "@ingress");
        assert_true(p->observe_exit[0] && p->observe_exit[1]
                    && p->observe_exit[0] != p->observe_exit[1]);
        snprintf(buf, sizeof buf, "in_port=%u,actions=output:%u",
                 chain_plan_find_vnode(p, "vpn", !active)->nics[1].ofport,
                 p->observe_exit[!active]);
        assert_true(has_flow(p, buf));
        snprintf(buf, sizeof buf, "output:%u,output:%u",
                 chain_plan_find_vnode(p, "sink", 0)->nics[0].ofport,
                 p->observe_exit[active]);
        assert_true(has_flow(p, buf));
        chain_plan_destroy(p);
    }
    /* A shadow whose graph differs is refused. */
    free(s->nodes[2].name);
    s->nodes[2].name = vnet_xstrdup("ids");
    struct chain_plan_input in = { .tmpl = { t, s }, .chain_id = 0x10,
                                   .port_base = 512 };
    struct chain_plan *p;
    struct vnet_error *e = chain_plan_create(&in, &env, &p);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "must stay those of production"));
    vnet_error_destroy(e);
    chain_template_destroy(t);
    chain_template_destroy(s);
}

static size_t
count_flows(const struct chain_plan *p, const char *a, const char *b)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_flows; i++) {
        n += strstr(p->flows[i], a) && strstr(p->flows[i], b);
    }
    return n;
}

static void
assert_cpu(const struct vnode_plan *v, unsigned int shares, int quota)
{
    assert_int_equal(v->cpu_shares, shares);
    assert_int_equal(v->cpu_quota_us, quota);
    assert_int_equal(v->cpu_period_us, shares ? 100000 : 0);
}

/* Isolation by role: production VNodes keep their shares and no cap, the shadow
 * side and the monitor get fewer shares and a quota, and the limits follow a swap;
 * the monitor's ports only receive; the shadow's exits deliver its own tag only
 * while draining. */
static void
test_isolation(void **state)
{
    struct chain_template *t = load("fw-nat-vpn.json");
    struct chain_template *s = load("fw-nat-vpn.json");
    s->nodes[1].cpus = 2;                   /* a quota is per CPU of the VNode */
    const char *nodes[] = { "fw", "nat", "vpn" };
    struct chain_plan_monitor mon = { nodes, 3, 128, NULL, 128 };
    struct chain_plan_cpu cpu = { 1024, 256, 50, 128, 25, 100000 };
    struct chain_plan_env cenv = env;
    cenv.cpu = &cpu;
    for (int active = 0; active < 2; active++) {
        for (int draining = 0; draining < 2; draining++) {
            struct chain_plan_input in = { .tmpl = { t, s }, .active = active,
                                           .chain_id = 0x10, .port_base = 512,
                                           .monitor = &mon, .draining = draining };
            struct chain_plan *p;
            assert_null(chain_plan_create(&in, &cenv, &p));
            for (size_t k = 0; k < 3; k++) {
                assert_cpu(chain_plan_find_vnode(p, nodes[k], active), 1024, -1);
                const struct vnode_plan *sh = chain_plan_find_vnode(p, nodes[k],
                                                                    !active);
                assert_cpu(sh, 256, 50000 * (int) sh->cpus);
                assert_int_equal(sh->cpus, k == 1 && !active ? 2 : 1);
                if (sh->original) {
                    assert_cpu(sh->original, 256, 50000 * (int) sh->cpus);
                }
            }
            assert_cpu(chain_plan_find_vnode(p, "source", 0), 1024, -1);
            assert_cpu(chain_plan_find_vnode(p, "sink", 0), 1024, -1);
            const struct vnode_plan *m = chain_plan_find_vnode(p, "monitor", 0);
            assert_cpu(m, 128, 25000);
            /* Every monitor port drops its input, and nothing else uses it as
             * an input. */
            assert_int_equal(m->n_nics, 3 * 2 + 3);
            for (size_t n = 0; n < m->n_nics; n++) {
                char buf[64];
                snprintf(buf, sizeof buf, "priority=300,in_port=%u,actions=drop",
                         m->nics[n].ofport);
                assert_true(has_flow(p, buf));
                snprintf(buf, sizeof buf, "in_port=%u,", m->nics[n].ofport);
                assert_int_equal(count_flows(p, buf, "actions="), 1);
            }
            /* The shadow's exits (forward at its VPN, reverse at its firewall)
             * deliver its own tag only while draining: the table-1 rules that
             * clear the tag are the delivering ones. */
            char out_port[32], in_port[32];
            snprintf(out_port, sizeof out_port, "in_port=%u,",
                     chain_plan_find_vnode(p, "vpn", !active)->nics[1].ofport);
            snprintf(in_port, sizeof in_port, "in_port=%u,",
                     chain_plan_find_vnode(p, "fw", !active)->nics[0].ofport);
            assert_int_equal(count_flows(p, out_port, "load:0->NXM_OF_IP_TOS[2]"),
                             draining ? 2 : 0);
            assert_int_equal(count_flows(p, in_port, "load:0->NXM_OF_IP_TOS[2]"),
                             draining ? 2 : 0);
            snprintf(out_port, sizeof out_port, "in_port=%u,",
                     chain_plan_find_vnode(p, "vpn", active)->nics[1].ofport);
            assert_int_equal(count_flows(p, out_port, "load:0->NXM_OF_IP_TOS[2]"), 2);
            char *error = ovs_adapter_check_flows((const char *const *) p->flows,
                                                  p->n_flows);
            if (error) {
                fail_msg("%s", error);
            }
            chain_plan_destroy(p);
        }
    }
    /* Without limits in the environment, no VNode gets any. */
    struct chain_plan_input in = { .tmpl = { t, s }, .chain_id = 0x10,
                                   .port_base = 512, .monitor = &mon };
    struct chain_plan *p;
    assert_null(chain_plan_create(&in, &env, &p));
    for (size_t i = 0; i < p->n_vnodes; i++) {
        assert_cpu(&p->vnodes[i], 0, 0);
    }
    chain_plan_destroy(p);
    /* fw, nat, vpn hold 1024 packets each at 200, 150 and 100 kpps: 22.2 ms. */
    assert_int_equal(chain_plan_drain_ns(t), 1000000000ull + 2 * (5120000 + 6826666
                                                                  + 10240000));
    chain_template_destroy(t);
    chain_template_destroy(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_layout),
        cmocka_unit_test(test_dag_split),
        cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_shadow_side),
        cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_bad_rules_are_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
