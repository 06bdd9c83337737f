#include "vnetd/chain-plan.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"
#include "shadow/flow-plan.h"

/* Port numbers inside a chain's block of 256. */
#define PORT_SOURCE 0
#define PORT_SINK 1
#define PORT_NF(side, i, dir) ((side) ? 66 : 2) + 2 * (i) + (dir)
#define PORT_MONITOR(n) (192 + (n))

const char *
vnode_role_to_string(enum vnode_role role)
{
    return (role == VNODE_ROLE_SOURCE ? "source"
            : role == VNODE_ROLE_SINK ? "sink"
            : role == VNODE_ROLE_MONITOR ? "monitor" : "nf");
}

const char *
vnet_mac_to_string(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    return buf;
}

char *
chain_plan_domain_name(const char *chain, const char *node, int side)
{
    return vnet_xasprintf("vnet-%s-%s%s", chain, node, side ? "-b" : "");
}

/* MACs are locally administered: 02:<chain id (24 bits)>:<vnode>:<nic>.  Both sides
 * of an NF share them, so a clone accepts exactly the frames the original does. */
static void
make_nic(struct vnode_nic *nic, uint32_t chain_id, unsigned int vnode_tag,
         unsigned int nic_idx, const char *suffix, uint16_t ofport, uint32_t ip,
         unsigned int prefix_len)
{
    snprintf(nic->ifname, sizeof nic->ifname, "vn%06x-%.5s", chain_id & 0xffffff,
             suffix);
    snprintf(nic->guest, sizeof nic->guest, "eth%u", nic_idx);
    nic->mac[0] = 0x02;
    nic->mac[1] = (uint8_t) (chain_id >> 16);
    nic->mac[2] = (uint8_t) (chain_id >> 8);
    nic->mac[3] = (uint8_t) chain_id;
    nic->mac[4] = (uint8_t) vnode_tag;
    nic->mac[5] = (uint8_t) nic_idx;
    nic->ip = ip;
    nic->prefix_len = prefix_len;
    nic->ofport = ofport;
}

static void
argv_add(struct vnode_plan *v, size_t *cap, const char *arg)
{
    vnet_grow((void **) &v->argv, cap, v->argc + 1, sizeof *v->argv);
    v->argv[v->argc++] = vnet_xstrdup(arg);
}

static void
argv_addf(struct vnode_plan *v, size_t *cap, const char *fmt, unsigned long long n)
{
    char buf[32];
    snprintf(buf, sizeof buf, fmt, n);
    argv_add(v, &*cap, buf);
}

static void
vnode_clear(struct vnode_plan *v)
{
    free(v->domain);
    free(v->node);
    free(v->control);
    free(v->cpuset);
    free(v->nics);
    for (size_t a = 0; a < v->argc; a++) {
        free(v->argv[a]);
    }
    free(v->argv);
    if (v->original) {
        vnode_clear(v->original);
        free(v->original);
    }
}

/* Fills 'v' with NF 'i' of template 't', named and numbered for 'side'. */
static struct vnet_error *
make_nf(struct vnode_plan *v, const struct chain_plan *p, const struct chain_template *t,
        size_t i, int side, const struct chain_plan_env *env)
{
    const struct chain_node *n = &t->nodes[i];
    char *program = env->resolve_program(n->program, env->aux);
    if (!program) {
        return vnet_error_create(VNET_ERR_INVALID, "node '%s': NF program '%s' not "
                                 "found", n->name, n->program);
    }
    size_t cap = 0;
    v->domain = chain_plan_domain_name(t->name, n->name, side);
    v->node = vnet_xstrdup(n->name);
    v->role = VNODE_ROLE_NF;
    v->side = side;
    v->kind = n->kind;
    v->cpus = n->cpus;
    v->memory_mib = n->memory_mib;
    v->control = vnet_xasprintf("%s/%s-%s%s.ctl", env->control_dir, t->name, n->name,
                                side ? "-b" : "");
    v->nics = vnet_xcalloc(2, sizeof *v->nics);
    for (unsigned int dir = 0; dir < 2; dir++) {
        char sfx[8];
        snprintf(sfx, sizeof sfx, "%s%02u%c", side ? "b" : "", (unsigned) (i % 100),
                 dir ? 'o' : 'i');
        make_nic(&v->nics[dir], p->chain_id, (unsigned) i, dir, sfx,
                 (uint16_t) (p->port_base + PORT_NF(side, i, dir)),
                 (169u << 24) | (254u << 16) | ((dir + 1u) << 8) | 1, 30);
    }
    v->n_nics = 2;

    argv_add(v, &cap, env->vnode_init);
    argv_add(v, &cap, "--tx-off");
    argv_add(v, &cap, "--no-ipv6");
    argv_add(v, &cap, "--");
    argv_add(v, &cap, program);
    free(program);
    if (n->mode) {
        argv_add(v, &cap, "--mode");
        argv_add(v, &cap, n->mode);
    }
    argv_add(v, &cap, "--in");
    argv_add(v, &cap, "eth0");
    argv_add(v, &cap, "--out");
    argv_add(v, &cap, "eth1");
    if (n->peak_pps) {
        argv_add(v, &cap, "--peak-pps");
        argv_addf(v, &cap, "%llu", (unsigned long long) n->peak_pps);
    }
    if (n->queue) {
        argv_add(v, &cap, "--queue");
        argv_addf(v, &cap, "%llu", n->queue);
    }
    argv_add(v, &cap, "--control");
    argv_add(v, &cap, v->control);
    for (size_t a = 0; a < n->n_args; a++) {
        argv_add(v, &cap, n->args[a]);
    }
    return NULL;
}

static void
make_endpoint(struct vnode_plan *v, const struct chain_plan *p,
              const struct chain_template *t, bool sink, const struct chain_plan_env *env)
{
    size_t cap = 0;
    const char *node = sink ? "sink" : "source";
    v->domain = chain_plan_domain_name(t->name, node, 0);
    v->node = vnet_xstrdup(node);
    v->role = sink ? VNODE_ROLE_SINK : VNODE_ROLE_SOURCE;
    v->kind = VNODE_LXC;
    v->cpus = 1;
    v->memory_mib = 256;
    v->nics = vnet_xcalloc(1, sizeof *v->nics);
    make_nic(&v->nics[0], p->chain_id, sink ? 0xfd : 0xfe, 0, sink ? "snk" : "src",
             (uint16_t) (p->port_base + (sink ? PORT_SINK : PORT_SOURCE)),
             sink ? t->sink_ip : t->source_ip, t->prefix_len);
    v->n_nics = 1;
    argv_add(v, &cap, env->vnode_init);
    argv_add(v, &cap, "--tx-off");
    argv_add(v, &cap, "--no-ipv6");
}

/* Sets the CPU limits of 'v': 'shares', and a cap of 'quota_pct' % of each of the
 * VNode's CPUs (0: no cap). */
static void
set_cpu(struct vnode_plan *v, const struct chain_plan_cpu *cpu, unsigned int shares,
        unsigned int quota_pct)
{
    if (!cpu) {
        return;
    }
    uint64_t cpus = v->cpus ? v->cpus : 1;
    v->cpu_shares = shares;
    v->cpu_period_us = cpu->period_us;
    v->cpu_quota_us = quota_pct ? (int) (cpu->period_us * cpus * quota_pct / 100) : -1;
}

/* Every VNode's limits follow its role: production, shadow (the inactive side) or
 * monitor.  A side-1 VNode's 'original' carries its limits too: its definition is
 * cloned from the original's. */
static void
plan_cpu(struct chain_plan *p, const struct chain_plan_cpu *cpu)
{
    for (size_t i = 0; i < p->n_vnodes; i++) {
        struct vnode_plan *v = &p->vnodes[i];
        if (v->role == VNODE_ROLE_MONITOR) {
            set_cpu(v, cpu, cpu ? cpu->monitor_shares : 0,
                    cpu ? cpu->monitor_quota_pct : 0);
        } else if (v->role == VNODE_ROLE_NF && v->side != p->active) {
            set_cpu(v, cpu, cpu ? cpu->shadow_shares : 0,
                    cpu ? cpu->shadow_quota_pct : 0);
        } else {
            set_cpu(v, cpu, cpu ? cpu->production_shares : 0, 0);
        }
        if (v->original) {
            v->original->cpu_shares = v->cpu_shares;
            v->original->cpu_period_us = v->cpu_period_us;
            v->original->cpu_quota_us = v->cpu_quota_us;
        }
    }
}

uint64_t
chain_plan_drain_ns(const struct chain_template *t)
{
    uint64_t hold_ns = 0;
    for (size_t i = 0; i < t->n_nodes; i++) {
        const struct chain_node *n = &t->nodes[i];
        if (n->peak_pps) {
            hold_ns += (uint64_t) (n->queue ? n->queue : 1024) * 1000000000ull
                       / n->peak_pps;
        }
    }
    return 1000000000ull + 2 * hold_ns;
}

static const struct vnode_plan *
nf_vnode(const struct chain_plan *p, int side, size_t i)
{
    return &p->vnodes[p->nf_first[side] + (int) i];
}

/* The steering rules, from shadow/flow-plan (which also duplicates into a shadow
 * and swaps). */
static void
plan_flows(struct chain_plan *p, const struct chain_template *t, bool draining)
{
    const struct vnode_plan *mon = NULL;
    for (size_t i = 0; i < p->n_vnodes; i++) {
        mon = p->vnodes[i].role == VNODE_ROLE_MONITOR ? &p->vnodes[i] : mon;
    }
    struct flow_edge *edges = vnet_xcalloc(t->n_edges + 1, sizeof *edges);
    for (size_t e = 0; e < t->n_edges; e++) {
        edges[e].from = t->edges[e].from == CHAIN_EP_INGRESS ? FLOW_EP_INGRESS
                        : t->edges[e].from;
        edges[e].to = t->edges[e].to == CHAIN_EP_EGRESS ? FLOW_EP_EGRESS
                      : t->edges[e].to;
    }
    uint16_t *ports[2][2] = { { NULL, NULL }, { NULL, NULL } };
    for (int side = 0; side < 2; side++) {
        if (p->nf_first[side] < 0) {
            continue;
        }
        for (int dir = 0; dir < 2; dir++) {
            ports[side][dir] = vnet_xcalloc(p->n_nf + 1, sizeof *ports[side][dir]);
            for (size_t i = 0; i < p->n_nf; i++) {
                ports[side][dir][i] = nf_vnode(p, side, i)->nics[dir].ofport;
            }
        }
    }
    const struct vnode_nic *src = &p->vnodes[p->source_idx].nics[0];
    const struct vnode_nic *snk = &p->vnodes[p->sink_idx].nics[0];
    int other = !p->active;
    struct flow_graph g = {
        .n_nfs = p->n_nf,
        .edges = edges,
        .n_edges = t->n_edges,
        .source = { src->ofport, { 0 }, src->ip },
        .sink = { snk->ofport, { 0 }, snk->ip },
        /* flow-plan numbers the active side 0 when it is alone. */
        .in_ports = { ports[p->active][0], ports[other][0] },
        .out_ports = { ports[p->active][1], ports[other][1] },
        .has_shadow = p->nf_first[other] >= 0,
        .active = 0,
        .observe_exit = { p->observe_exit[p->active], p->observe_exit[other] },
        .side_tag = { p->active, other },
        .draining = draining,
        .cookie = p->cookie,
        .gateway_mac = VNET_GATEWAY_MAC,
    };
    /* Every port of the monitoring VNode only receives. */
    uint16_t *mon_ports = vnet_xcalloc(mon ? mon->n_nics + 1 : 1, sizeof *mon_ports);
    for (size_t n = 0; mon && n < mon->n_nics; n++) {
        mon_ports[g.n_receive_only++] = mon->nics[n].ofport;
    }
    g.receive_only = mon_ports;
    memcpy(g.source.mac, src->mac, 6);
    memcpy(g.sink.mac, snk->mac, 6);
    p->flows = flow_plan_build(&g, &p->n_flows);
    free(mon_ports);
    for (int side = 0; side < 2; side++) {
        free(ports[side][0]);
        free(ports[side][1]);
    }
    free(edges);
}

/* Adds a monitoring VNode NIC receiving the copies of mirror 'what' and returns
 * its OpenFlow port.  With 'by_rule' no Mirror row is planned: the steering rules
 * output the copies to the port themselves (OVS does not mirror a packet that the
 * flow table drops, and the shadow's exit traffic is dropped). */
static uint16_t
add_mirror(struct chain_plan *p, struct vnode_plan *mon, const char *sfx,
           const char *what, const char *select_dst, const char *select_src,
           bool by_rule, size_t *cap)
{
    size_t n = mon->n_nics++;
    make_nic(&mon->nics[n], p->chain_id, 0xfc, (unsigned) n, sfx,
             (uint16_t) (p->port_base + PORT_MONITOR(n)),
             (169u << 24) | (254u << 16) | (uint32_t) (n + 1) << 8 | 1, 30);
    snprintf(mon->nics[n].guest, sizeof mon->nics[n].guest, "%.7s", sfx);
    if (!by_rule) {
        struct mirror_plan *mp = &p->mirrors[p->n_mirrors++];
        mp->name = vnet_xasprintf("vnet-%s-%s", p->chain, sfx);
        mp->what = vnet_xstrdup(what);
        mp->select_dst = select_dst;
        mp->select_src = select_src;
        mp->output = mon->nics[n].ifname;
    }
    char *port = vnet_xasprintf("%s=%s", mon->nics[n].guest, what);
    argv_add(mon, cap, "--port");
    argv_add(mon, cap, port);
    free(port);
    return mon->nics[n].ofport;
}

/* Adds the monitoring VNode and its mirrors. */
static struct vnet_error *
plan_monitor(struct chain_plan *p, const struct chain_template *t,
             const struct chain_plan_env *env, const struct chain_plan_monitor *m)
{
    char *program = env->resolve_program("vnet-monitor", env->aux);
    if (!program) {
        return vnet_error_create(VNET_ERR_INVALID, "monitoring VNode: program "
                                 "'vnet-monitor' not found");
    }
    struct vnode_plan *v = &p->vnodes[p->n_vnodes++];
    size_t cap = 0;
    v->domain = chain_plan_domain_name(t->name, "monitor", 0);
    v->node = vnet_xstrdup("monitor");
    v->role = VNODE_ROLE_MONITOR;
    v->kind = VNODE_LXC;
    v->cpus = 1;
    v->memory_mib = m->memory_mib;
    v->cpuset = m->cpuset ? vnet_xstrdup(m->cpuset) : NULL;
    v->control = vnet_xasprintf("%s/%s-monitor.ctl", env->control_dir, t->name);
    v->nics = vnet_xcalloc(2 * m->n_nodes + 3, sizeof *v->nics);
    p->mirrors = vnet_xcalloc(2 * m->n_nodes + 3, sizeof *p->mirrors);

    argv_add(v, &cap, env->vnode_init);
    argv_add(v, &cap, "--no-ipv6");
    argv_add(v, &cap, "--");
    argv_add(v, &cap, program);
    free(program);
    argv_add(v, &cap, "--chain");
    argv_add(v, &cap, t->name);
    argv_add(v, &cap, "--control");
    argv_add(v, &cap, v->control);
    char *store = vnet_xasprintf("%s/%s", env->store_dir, t->name);
    argv_add(v, &cap, "--store");
    argv_add(v, &cap, store);
    free(store);
    argv_add(v, &cap, "--snaplen");
    argv_addf(v, &cap, "%llu", m->snaplen);
    /* The service graph and peak rates, for matching and diagnosis. */
    for (size_t i = 0; i < t->n_nodes; i++) {
        const struct chain_node *n = &t->nodes[i];
        char *desc = vnet_xasprintf("%s=%llu,qcap=%u,type=%s", n->name,
                                    (unsigned long long) n->peak_pps, n->queue,
                                    n->mode ? n->mode : "forward");
        argv_add(v, &cap, "--nf");
        argv_add(v, &cap, desc);
        free(desc);
    }
    for (size_t e = 0; e < t->n_edges; e++) {
        char *edge = vnet_xasprintf("%s:%s",
                                    chain_template_endpoint_name(t, t->edges[e].from),
                                    chain_template_endpoint_name(t, t->edges[e].to));
        argv_add(v, &cap, "--edge");
        argv_add(v, &cap, edge);
        free(edge);
    }
    /* Mirrors follow the production (active) side. */
    for (size_t k = 0; k < m->n_nodes; k++) {
        int idx = chain_template_find_node(t, m->nodes[k]);
        if (idx < 0) {
            return vnet_error_create(VNET_ERR_INVALID, "monitor: no node '%s' in chain "
                                     "'%s'", m->nodes[k], t->name);
        }
        const struct vnode_plan *nf = nf_vnode(p, p->active, (size_t) idx);
        char sfx[8], what[64];
        snprintf(sfx, sizeof sfx, "m%02ua", (unsigned) (idx % 100));
        snprintf(what, sizeof what, "%s:in", nf->node);
        add_mirror(p, v, sfx, what, nf->nics[0].ifname, NULL, false, &cap);
        snprintf(sfx, sizeof sfx, "m%02ud", (unsigned) (idx % 100));
        snprintf(what, sizeof what, "%s:out", nf->node);
        add_mirror(p, v, sfx, what, NULL, nf->nics[1].ifname, false, &cap);
    }
    /* With a shadow: the chain's entry and each side's exit, for the comparison of
     * the two on the same packets. */
    if (p->nf_first[0] >= 0 && p->nf_first[1] >= 0) {
        int exit_nf = -1;
        for (size_t e = 0; e < t->n_edges; e++) {
            if (t->edges[e].to == CHAIN_EP_EGRESS && t->edges[e].from >= 0) {
                exit_nf = t->edges[e].from;
                break;
            }
        }
        add_mirror(p, v, "mxi", "@ingress", NULL,
                   p->vnodes[p->source_idx].nics[0].ifname, false, &cap);
        for (int side = 0; exit_nf >= 0 && side < 2; side++) {
            p->observe_exit[side] = add_mirror(p, v, side ? "mx1" : "mx0",
                                               side ? "@exit1" : "@exit0", NULL, NULL,
                                               true, &cap);
        }
    }
    return NULL;
}

/* Both sides must have the same graph: the shadow is the same chain, fixed. */
static bool
same_graph(const struct chain_template *a, const struct chain_template *b)
{
    if (a->n_nodes != b->n_nodes || a->n_edges != b->n_edges) {
        return false;
    }
    for (size_t i = 0; i < a->n_nodes; i++) {
        if (strcmp(a->nodes[i].name, b->nodes[i].name)) {
            return false;
        }
    }
    return !memcmp(a->edges, b->edges, a->n_edges * sizeof *a->edges)
           && a->source_ip == b->source_ip && a->sink_ip == b->sink_ip
           && !strcmp(a->bridge, b->bridge);
}

struct vnet_error *
chain_plan_create(const struct chain_plan_input *in, const struct chain_plan_env *env,
                  struct chain_plan **ret)
{
    const struct chain_template *t = in->tmpl[in->active];
    const struct chain_template *o = in->tmpl[!in->active];
    if (!t) {
        return vnet_error_create(VNET_ERR_INTERNAL, "the active side has no template");
    }
    if (o && !same_graph(t, o)) {
        return vnet_error_create(VNET_ERR_INVALID, "the shadow's nodes, graph, "
                                 "addressing and bridge must stay those of production");
    }
    struct chain_plan *p = vnet_xzalloc(sizeof *p);
    p->chain = vnet_xstrdup(t->name);
    p->chain_id = in->chain_id & 0xffffff;
    p->bridge = vnet_xstrdup(t->bridge);
    p->port_base = in->port_base;
    p->active = in->active;
    p->cookie = (VNET_COOKIE_TAG << 32) | ((uint64_t) p->chain_id << 8)
                | VNET_COOKIE_ROLE_STEER;
    p->cookie_mask = ~0xffull;
    p->n_nf = t->n_nodes;
    p->vnodes = vnet_xcalloc(2 * t->n_nodes + 3, sizeof *p->vnodes);

    struct vnet_error *error = NULL;
    for (int side = 0; side < 2 && !error; side++) {
        p->nf_first[side] = -1;
        const struct chain_template *st = in->tmpl[side];
        if (!st) {
            continue;
        }
        p->nf_first[side] = (int) p->n_vnodes;
        for (size_t i = 0; i < st->n_nodes && !error; i++) {
            struct vnode_plan *v = &p->vnodes[p->n_vnodes++];
            error = make_nf(v, p, st, i, side, env);
            if (!error && side) {
                v->original = vnet_xzalloc(sizeof *v->original);
                error = make_nf(v->original, p, st, i, 0, env);
            }
        }
    }
    if (!error) {
        p->source_idx = p->n_vnodes;
        make_endpoint(&p->vnodes[p->n_vnodes++], p, t, false, env);
        p->sink_idx = p->n_vnodes;
        make_endpoint(&p->vnodes[p->n_vnodes++], p, t, true, env);
        if (in->monitor) {
            error = plan_monitor(p, t, env, in->monitor);
        }
        if (!error) {
            plan_flows(p, t, in->draining);     /* after the monitor: it may observe
                                                 * the exits */
            plan_cpu(p, env->cpu);
        }
    }
    if (error) {
        chain_plan_destroy(p);
        return error;
    }
    *ret = p;
    return NULL;
}

void
chain_plan_destroy(struct chain_plan *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_vnodes; i++) {
        vnode_clear(&p->vnodes[i]);
    }
    free(p->vnodes);
    for (size_t m = 0; m < p->n_mirrors; m++) {
        free(p->mirrors[m].name);
        free(p->mirrors[m].what);
    }
    free(p->mirrors);
    flow_plan_free(p->flows, p->n_flows);
    free(p->chain);
    free(p->bridge);
    free(p);
}

const struct vnode_plan *
chain_plan_find_vnode(const struct chain_plan *p, const char *node, int side)
{
    for (size_t i = 0; i < p->n_vnodes; i++) {
        const struct vnode_plan *v = &p->vnodes[i];
        if (!strcmp(v->node, node) && (v->role != VNODE_ROLE_NF || v->side == side)) {
            return v;
        }
    }
    return NULL;
}
