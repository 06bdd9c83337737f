#include "shadow/flow-plan.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct rules {
    char **v;
    size_t n, cap;
    uint64_t cookie;
};

static void
add(struct rules *r, const char *fmt, ...) VNET_PRINTF(2, 3);

static void
add(struct rules *r, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *body = vnet_xvasprintf(fmt, args);
    va_end(args);
    vnet_grow((void **) &r->v, &r->cap, r->n + 1, sizeof *r->v);
    r->v[r->n++] = vnet_xasprintf("cookie=0x%016llx,%s", (unsigned long long) r->cookie,
                                  body);
    free(body);
}

static const char *
mac_str(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    return buf;
}

/* A destination: a port, an endpoint (rewritten to its MAC) or a drop. */
struct dest {
    enum { DEST_PORT, DEST_ENDPOINT, DEST_DROP } kind;
    uint16_t port;
    const struct flow_endpoint *ep;
    uint16_t observe;           /* also a copy to this port (0: none) */
};

static char *
actions_for(const struct flow_graph *g, const struct dest *d, size_t n)
{
    char *acts = vnet_xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *part;
        char mac[18];
        switch (d[i].kind) {
        case DEST_ENDPOINT:
            part = d[i].observe
                ? vnet_xasprintf("mod_dl_src:%s,mod_dl_dst:%s,output:%u,output:%u",
                                 g->gateway_mac, mac_str(d[i].ep->mac, mac),
                                 d[i].ep->port, d[i].observe)
                : vnet_xasprintf("mod_dl_src:%s,mod_dl_dst:%s,output:%u",
                                 g->gateway_mac, mac_str(d[i].ep->mac, mac),
                                 d[i].ep->port);
            break;
        case DEST_PORT:
            part = vnet_xasprintf("output:%u", d[i].port);
            break;
        default:
            continue;
        }
        char *more = vnet_xasprintf("%s%s%s", acts, *acts ? "," : "", part);
        free(part);
        free(acts);
        acts = more;
    }
    if (!*acts) {
        free(acts);
        acts = vnet_xstrdup("drop");
    }
    return acts;
}

/* The side's destination for NF index 'to' reached going forward (its in port,
 * or the sink / a drop for egress). */
static struct dest
forward_dest(const struct flow_graph *g, int side, int to)
{
    if (to == FLOW_EP_EGRESS) {
        uint16_t obs = g->observe_exit[side];
        return side == g->active ? (struct dest) { DEST_ENDPOINT, 0, &g->sink, obs }
               : obs ? (struct dest) { DEST_PORT, obs, NULL, 0 }
               : (struct dest) { DEST_DROP, 0, NULL, 0 };
    }
    return (struct dest) { DEST_PORT, g->in_ports[side][to], NULL, 0 };
}

static struct dest
reverse_dest(const struct flow_graph *g, int side, int to)
{
    if (to == FLOW_EP_INGRESS) {
        return side == g->active ? (struct dest) { DEST_ENDPOINT, 0, &g->source, 0 }
                                 : (struct dest) { DEST_DROP, 0, NULL, 0 };
    }
    return (struct dest) { DEST_PORT, g->out_ports[side][to], NULL, 0 };
}

/* Emits the rules for packets arriving on 'in_port': to one of the 'n' next hops
 * per side of the sides in 'sides' (bucketed by the low bits of 'field').  With
 * 'tag' (ingress with a shadow), IP packets also get the active side's epoch tag
 * written into their DSCP bit 0 (actions prefix 'tag'). */
static void
steer(const struct flow_graph *g, struct rules *r, uint16_t in_port,
      const int *next, size_t n, const int *sides, size_t n_sides, bool forward,
      const char *field, const char *tag)
{
    struct dest d[2];
    for (size_t s = 0; s < n_sides; s++) {
        d[s] = forward ? forward_dest(g, sides[s], next[0])
                       : reverse_dest(g, sides[s], next[0]);
    }
    char *acts = actions_for(g, d, n_sides);
    add(r, "priority=100,in_port=%u,actions=%s", in_port, acts);
    if (tag) {
        add(r, "priority=101,in_port=%u,ip,actions=%s,%s", in_port, tag, acts);
        add(r, "priority=101,in_port=%u,ipv6,actions=%s,%s", in_port, tag, acts);
    }
    free(acts);
    if (n < 2) {
        return;
    }
    unsigned int bits = 1;
    while ((1u << bits) < n) {
        bits++;
    }
    unsigned int mask = (1u << bits) - 1;
    static const char *const protos[] = { "tcp", "udp" };
    for (size_t pr = 0; pr < 2; pr++) {
        for (unsigned int b = 0; b <= mask; b++) {
            for (size_t s = 0; s < n_sides; s++) {
                d[s] = forward ? forward_dest(g, sides[s], next[b % n])
                               : reverse_dest(g, sides[s], next[b % n]);
            }
            acts = actions_for(g, d, n_sides);
            add(r, "priority=110,in_port=%u,%s,%s=0x%x/0x%x,actions=%s%s%s", in_port,
                protos[pr], field, b, mask, tag ? tag : "", tag ? "," : "", acts);
            free(acts);
        }
    }
}

/* An exit of side 'side' with a shadow: forward, its last NF's out port 'port'
 * (whose only successor is egress); reverse, its first NF's in port (whose only
 * predecessor is ingress).  An IP packet is delivered by the side whose tag it got
 * where it entered, i.e. by the side that served production then, so a swap
 * neither loses the packets in flight in the old production side nor delivers
 * their duplicates from the new one (reverse packets are not duplicated, but
 * those in flight in the old side still arrive).  The tag bit is cleared on
 * delivery.  Forward, the other packets go to the side's observation port, or are
 * dropped.  Non-IP frames follow the active side (the priority-100 rule). */
static void
tagged_exit(const struct flow_graph *g, struct rules *r, int side, uint16_t port,
            bool forward)
{
    static const char *const l3[] = { "ip", "ipv6" };
    uint16_t obs = forward ? g->observe_exit[side] : 0;
    struct dest deliver = { DEST_ENDPOINT, 0, forward ? &g->sink : &g->source, obs };
    struct dest other = obs ? (struct dest) { DEST_PORT, obs, NULL, 0 }
                            : (struct dest) { DEST_DROP, 0, NULL, 0 };
    char *yes = actions_for(g, &deliver, 1);
    char *no = actions_for(g, &other, 1);
    /* The inactive side delivers only while it drains what entered while it
     * served production: at any other time its own tag is forged. */
    bool delivers = side == g->active || g->draining;
    for (size_t k = 0; k < 2; k++) {
        add(r, "priority=101,in_port=%u,%s,actions=move:NXM_OF_IP_TOS[2]->NXM_NX_REG0[0],"
            "resubmit(,1)", port, l3[k]);
        for (int tag = 0; tag < 2; tag++) {
            bool ours = tag == g->side_tag[side] && delivers;
            add(r, "table=1,priority=100,in_port=%u,%s,reg0=0x%x/0x1,actions=%s%s",
                port, l3[k], (unsigned) tag, ours ? "load:0->NXM_OF_IP_TOS[2]," : "",
                ours ? yes : no);
        }
    }
    free(yes);
    free(no);
}

static size_t
successors(const struct flow_graph *g, int from, int *out)
{
    size_t n = 0;
    for (size_t e = 0; e < g->n_edges; e++) {
        if (g->edges[e].from == from) {
            out[n++] = g->edges[e].to;
        }
    }
    return n;
}

static size_t
predecessors(const struct flow_graph *g, int to, int *out)
{
    size_t n = 0;
    for (size_t e = 0; e < g->n_edges; e++) {
        if (g->edges[e].to == to) {
            out[n++] = g->edges[e].from;
        }
    }
    return n;
}

static void
arp_responder(const struct flow_graph *g, struct rules *r, const struct flow_endpoint *ep)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr in = { .s_addr = htonl(ep->ip) };
    inet_ntop(AF_INET, &in, ip, sizeof ip);
    /* Gratuitous ARP for its own address is not answered. */
    add(r, "priority=210,in_port=%u,arp,arp_op=1,arp_tpa=%s,actions=drop", ep->port, ip);
    char hex[13];
    unsigned int m[6];
    sscanf(g->gateway_mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
           &m[5]);
    snprintf(hex, sizeof hex, "%02x%02x%02x%02x%02x%02x", m[0] & 0xff, m[1] & 0xff,
             m[2] & 0xff, m[3] & 0xff, m[4] & 0xff, m[5] & 0xff);
    add(r, "priority=200,in_port=%u,arp,arp_op=1,actions="
        "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:%s,"
        "load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_NX_REG0[],move:NXM_OF_ARP_TPA[]->NXM_OF_ARP_SPA[],"
        "move:NXM_NX_REG0[]->NXM_OF_ARP_TPA[],load:0x%s->NXM_NX_ARP_SHA[],in_port",
        ep->port, g->gateway_mac, hex);
}

/* A mirror output port only receives: whatever its VNode sends is dropped here,
 * above every other rule, and counted. */
static void
drop_input(struct rules *r, uint16_t port)
{
    add(r, "priority=300,in_port=%u,actions=drop", port);
}

/* The host side of a veth sends IPv6 router solicitations and MLD reports when it
 * comes up, and OVS's userspace datapath picks them up as received: keep that
 * link-local noise out of the chain (its addressing is IPv4). */
static void
drop_ipv6_noise(struct rules *r, uint16_t port)
{
    add(r, "priority=190,in_port=%u,ipv6,ipv6_dst=ff00::/8,actions=drop", port);
}

char **
flow_plan_build(const struct flow_graph *g, size_t *ret_n)
{
    struct rules r = { .cookie = g->cookie };
    int *next = vnet_xcalloc(g->n_edges + 1, sizeof *next);
    int both[2] = { g->active, !g->active };
    int n_sides = g->has_shadow ? 2 : 1;
    int active_only[1] = { g->active };

    arp_responder(g, &r, &g->source);
    arp_responder(g, &r, &g->sink);
    drop_ipv6_noise(&r, g->source.port);
    drop_ipv6_noise(&r, g->sink.port);
    for (size_t i = 0; i < g->n_receive_only; i++) {
        drop_input(&r, g->receive_only[i]);
    }
    for (int side = 0; side < n_sides; side++) {
        for (size_t i = 0; i < g->n_nfs; i++) {
            drop_ipv6_noise(&r, g->in_ports[side][i]);
            drop_ipv6_noise(&r, g->out_ports[side][i]);
        }
    }

    /* Ingress: to the active side, and a duplicate to the shadow side, tagged with
     * the active side's epoch. */
    char *tag = g->has_shadow ? vnet_xasprintf("load:%d->NXM_OF_IP_TOS[2]",
                                               g->side_tag[g->active] & 1)
                              : NULL;
    size_t n = successors(g, FLOW_EP_INGRESS, next);
    if (n) {
        steer(g, &r, g->source.port, next, n, both, (size_t) n_sides, true, "tp_src",
              tag);
    }
    /* Egress: replies go back through the active side only, tagged likewise. */
    n = predecessors(g, FLOW_EP_EGRESS, next);
    if (n) {
        steer(g, &r, g->sink.port, next, n, active_only, 1, false, "tp_dst", tag);
    }
    for (int side = 0; side < n_sides; side++) {
        int one[1] = { side };
        for (size_t i = 0; i < g->n_nfs; i++) {
            n = successors(g, (int) i, next);
            if (n) {
                steer(g, &r, g->out_ports[side][i], next, n, one, 1, true, "tp_src",
                      NULL);
            }
            if (g->has_shadow && n == 1 && next[0] == FLOW_EP_EGRESS) {
                tagged_exit(g, &r, side, g->out_ports[side][i], true);
            }
            n = predecessors(g, (int) i, next);
            if (n) {
                steer(g, &r, g->in_ports[side][i], next, n, one, 1, false, "tp_dst",
                      NULL);
            }
            if (g->has_shadow && n == 1 && next[0] == FLOW_EP_INGRESS) {
                tagged_exit(g, &r, side, g->in_ports[side][i], false);
            }
        }
    }
    free(tag);
    free(next);
    *ret_n = r.n;
    return r.v;
}

void
flow_plan_free(char **rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i]);
    }
    free(rules);
}
