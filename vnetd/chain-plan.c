#include "vnetd/chain-plan.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"
#include "shadow/flow-plan.h"

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
chain_plan_domain_name(const char *chain, const char *node)
{
    return vnet_xasprintf("vnet-%s-%s", chain, node);
}

/* MACs are locally administered: 02:<chain id (24 bits)>:<vnode>:<nic>. */
static void
make_nic(struct vnode_nic *nic, uint32_t chain_id, unsigned int vnode_tag,
         unsigned int nic_idx, const char *suffix, uint16_t ofport, uint32_t ip,
         unsigned int prefix_len)
{
    snprintf(nic->ifname, sizeof nic->ifname, "vn%06x-%.4s", chain_id & 0xffffff, suffix);
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
    argv_add(v, cap, buf);
}

/* The steering rules, from shadow/flow-plan (which also knows how to duplicate into
 * a shadow and swap). */
static void
plan_flows(struct chain_plan *p, const struct chain_template *t)
{
    struct flow_edge *edges = vnet_xcalloc(t->n_edges + 1, sizeof *edges);
    for (size_t e = 0; e < t->n_edges; e++) {
        edges[e].from = t->edges[e].from == CHAIN_EP_INGRESS ? FLOW_EP_INGRESS
                        : t->edges[e].from;
        edges[e].to = t->edges[e].to == CHAIN_EP_EGRESS ? FLOW_EP_EGRESS
                      : t->edges[e].to;
    }
    uint16_t *in = vnet_xcalloc(p->n_nf + 1, sizeof *in);
    uint16_t *out = vnet_xcalloc(p->n_nf + 1, sizeof *out);
    for (size_t i = 0; i < p->n_nf; i++) {
        in[i] = p->vnodes[i].nics[0].ofport;
        out[i] = p->vnodes[i].nics[1].ofport;
    }
    const struct vnode_nic *src = &p->vnodes[p->n_nf].nics[0];
    const struct vnode_nic *snk = &p->vnodes[p->n_nf + 1].nics[0];
    struct flow_graph g = {
        .n_nfs = p->n_nf,
        .edges = edges,
        .n_edges = t->n_edges,
        .source = { src->ofport, { 0 }, src->ip },
        .sink = { snk->ofport, { 0 }, snk->ip },
        .in_ports = { in, NULL },
        .out_ports = { out, NULL },
        .cookie = p->cookie,
        .gateway_mac = VNET_GATEWAY_MAC,
    };
    memcpy(g.source.mac, src->mac, 6);
    memcpy(g.sink.mac, snk->mac, 6);
    p->flows = flow_plan_build(&g, &p->n_flows);
    free(in);
    free(out);
    free(edges);
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
    v->domain = chain_plan_domain_name(t->name, "monitor");
    v->node = vnet_xstrdup("monitor");
    v->role = VNODE_ROLE_MONITOR;
    v->kind = VNODE_LXC;
    v->cpus = 1;
    v->memory_mib = m->memory_mib;
    v->cpuset = m->cpuset ? vnet_xstrdup(m->cpuset) : NULL;
    v->control = vnet_xasprintf("%s/%s-monitor.ctl", env->control_dir, t->name);
    v->nics = vnet_xcalloc(2 * m->n_nodes, sizeof *v->nics);
    p->mirrors = vnet_xcalloc(2 * m->n_nodes, sizeof *p->mirrors);

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

    for (size_t k = 0; k < m->n_nodes; k++) {
        int idx = chain_template_find_node(t, m->nodes[k]);
        if (idx < 0) {
            return vnet_error_create(VNET_ERR_INVALID, "monitor: no node '%s' in chain "
                                     "'%s'", m->nodes[k], t->name);
        }
        const struct vnode_plan *nf = &p->vnodes[idx];
        for (int dir = 0; dir < 2; dir++) {
            size_t n = v->n_nics++;
            char sfx[8];
            snprintf(sfx, sizeof sfx, "m%02u%c", (unsigned) (idx % 100),
                     dir ? 'd' : 'a');
            make_nic(&v->nics[n], p->chain_id, 0xfc, (unsigned) n, sfx,
                     (uint16_t) (p->port_base + 128 + n),
                     (169u << 24) | (254u << 16) | (uint32_t) (n + 1) << 8 | 1, 30);
            snprintf(v->nics[n].guest, sizeof v->nics[n].guest, "%.7s", sfx);
            struct mirror_plan *mp = &p->mirrors[p->n_mirrors++];
            mp->name = vnet_xasprintf("vnet-%s-%s-%s", t->name, nf->node,
                                      dir ? "dep" : "arr");
            mp->node = nf->node;
            mp->arrivals = !dir;
            mp->select_dst = dir ? NULL : nf->nics[0].ifname;
            mp->select_src = dir ? nf->nics[1].ifname : NULL;
            mp->output = v->nics[n].ifname;
            char *port = vnet_xasprintf("%s=%s:%s", sfx, nf->node, dir ? "out" : "in");
            argv_add(v, &cap, "--port");
            argv_add(v, &cap, port);
            free(port);
        }
    }
    return NULL;
}

struct vnet_error *
chain_plan_create(const struct chain_template *t, uint32_t chain_id, uint16_t port_base,
                  const struct chain_plan_env *env, const struct chain_plan_monitor *mon,
                  struct chain_plan **ret)
{
    struct chain_plan *p = vnet_xzalloc(sizeof *p);
    p->chain = vnet_xstrdup(t->name);
    p->chain_id = chain_id & 0xffffff;
    p->bridge = vnet_xstrdup(t->bridge);
    p->port_base = port_base;
    p->cookie = (VNET_COOKIE_TAG << 32) | ((uint64_t) p->chain_id << 8)
                | VNET_COOKIE_ROLE_STEER;
    p->cookie_mask = ~0xffull;
    p->n_nf = t->n_nodes;
    p->n_vnodes = t->n_nodes + 2;
    p->vnodes = vnet_xcalloc(p->n_vnodes + 1, sizeof *p->vnodes);

    for (size_t i = 0; i < t->n_nodes; i++) {
        const struct chain_node *n = &t->nodes[i];
        struct vnode_plan *v = &p->vnodes[i];
        size_t cap = 0;
        char *program = env->resolve_program(n->program, env->aux);
        if (!program) {
            chain_plan_destroy(p);
            return vnet_error_create(VNET_ERR_INVALID, "node '%s': NF program '%s' not "
                                     "found", n->name, n->program);
        }
        v->domain = chain_plan_domain_name(t->name, n->name);
        v->node = vnet_xstrdup(n->name);
        v->role = VNODE_ROLE_NF;
        v->kind = n->kind;
        v->cpus = n->cpus;
        v->memory_mib = n->memory_mib;
        v->control = vnet_xasprintf("%s/%s-%s.ctl", env->control_dir, t->name, n->name);
        v->nics = vnet_xcalloc(2, sizeof *v->nics);
        char sfx[8];
        snprintf(sfx, sizeof sfx, "%02ui", (unsigned) (i % 100));
        make_nic(&v->nics[0], p->chain_id, (unsigned) i, 0, sfx,
                 (uint16_t) (port_base + 2 + 2 * i), (169u << 24) | (254u << 16)
                 | (1u << 8) | 1, 30);
        snprintf(sfx, sizeof sfx, "%02uo", (unsigned) (i % 100));
        make_nic(&v->nics[1], p->chain_id, (unsigned) i, 1, sfx,
                 (uint16_t) (port_base + 3 + 2 * i), (169u << 24) | (254u << 16)
                 | (2u << 8) | 1, 30);
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
    }

    static const struct { const char *node, *sfx; enum vnode_role role; } ends[] = {
        { "source", "src", VNODE_ROLE_SOURCE }, { "sink", "snk", VNODE_ROLE_SINK },
    };
    for (size_t k = 0; k < 2; k++) {
        struct vnode_plan *v = &p->vnodes[t->n_nodes + k];
        size_t cap = 0;
        v->domain = chain_plan_domain_name(t->name, ends[k].node);
        v->node = vnet_xstrdup(ends[k].node);
        v->role = ends[k].role;
        v->kind = VNODE_LXC;
        v->cpus = 1;
        v->memory_mib = 256;
        v->nics = vnet_xcalloc(1, sizeof *v->nics);
        make_nic(&v->nics[0], p->chain_id, 0xfe - (unsigned) k, 0, ends[k].sfx,
                 (uint16_t) (port_base + k), k ? t->sink_ip : t->source_ip,
                 t->prefix_len);
        v->n_nics = 1;
        argv_add(v, &cap, env->vnode_init);
        argv_add(v, &cap, "--tx-off");
        argv_add(v, &cap, "--no-ipv6");
    }

    plan_flows(p, t);
    if (mon) {
        struct vnet_error *error = plan_monitor(p, t, env, mon);
        if (error) {
            chain_plan_destroy(p);
            return error;
        }
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
        struct vnode_plan *v = &p->vnodes[i];
        free(v->domain);
        free(v->node);
        free(v->control);
        free(v->cpuset);
        free(v->nics);
        for (size_t a = 0; a < v->argc; a++) {
            free(v->argv[a]);
        }
        free(v->argv);
    }
    free(p->vnodes);
    for (size_t m = 0; m < p->n_mirrors; m++) {
        free(p->mirrors[m].name);
    }
    free(p->mirrors);
    flow_plan_free(p->flows, p->n_flows);
    free(p->chain);
    free(p->bridge);
    free(p);
}

const struct vnode_plan *
chain_plan_find_vnode(const struct chain_plan *p, const char *node)
{
    for (size_t i = 0; i < p->n_vnodes; i++) {
        if (!strcmp(p->vnodes[i].node, node)) {
            return &p->vnodes[i];
        }
    }
    return NULL;
}
