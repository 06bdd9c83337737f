/* nat.c -- NAPT mappings and in-place header rewriting. */
#include "examples/nf/nat.h"

#include <stdlib.h>
#include <string.h>

#include "examples/nf/pkt.h"
#include "lib/util.h"

#define N_PROTOS 3                  /* ICMP, TCP, UDP */
#define N_PORTS 65536
#define N_BUCKETS 65536             /* inside-key hash buckets (power of 2) */

struct nat_entry {
    uint32_t int_ip;
    uint16_t int_port;
    bool used;
    uint32_t next;                  /* next entry in the bucket, index + 1; 0 ends */
    uint64_t last_ns;
    uint8_t int_mac[6];             /* the inside host */
    uint8_t peer_mac[6];            /* the MAC the inside host sent to */
};

struct nf_nat {
    uint32_t ext_ip;
    uint8_t out_mac[6];
    uint64_t timeout_ns[N_PROTOS];
    struct nat_entry *ports[N_PROTOS];   /* by external port; allocated on first use */
    uint32_t *buckets;                   /* entry index + 1 (proto * N_PORTS + port) */
    uint32_t next_port[N_PROTOS];
};

static int
proto_index(uint8_t proto)
{
    switch (proto) {
    case PKT_IPPROTO_ICMP:
        return 0;
    case PKT_IPPROTO_TCP:
        return 1;
    case PKT_IPPROTO_UDP:
        return 2;
    default:
        return -1;
    }
}

struct nf_nat *
nf_nat_create(uint32_t ext_ip, const uint8_t out_mac[6])
{
    struct nf_nat *nat = vnet_xzalloc(sizeof *nat);
    nat->ext_ip = ext_ip;
    memcpy(nat->out_mac, out_mac, 6);
    nat->timeout_ns[0] = 60ull * 1000000000;
    nat->timeout_ns[1] = nat->timeout_ns[2] = 300ull * 1000000000;
    nat->buckets = vnet_xcalloc(N_BUCKETS, sizeof *nat->buckets);
    for (int i = 0; i < N_PROTOS; i++) {
        nat->next_port[i] = NF_NAT_PORT_MIN;
    }
    return nat;
}

void
nf_nat_destroy(struct nf_nat *nat)
{
    if (nat) {
        for (int i = 0; i < N_PROTOS; i++) {
            free(nat->ports[i]);
        }
        free(nat->buckets);
        free(nat);
    }
}

void
nf_nat_set_timeouts(struct nf_nat *nat, uint64_t tcp_udp_ns, uint64_t icmp_ns)
{
    nat->timeout_ns[0] = icmp_ns;
    nat->timeout_ns[1] = nat->timeout_ns[2] = tcp_udp_ns;
}

static uint32_t
bucket_of(int pi, uint32_t ip, uint16_t port)
{
    uint64_t h = ((uint64_t) ip << 24 | (uint64_t) port << 8 | (uint64_t) pi)
                 * 0x9e3779b97f4a7c15ull;
    return (uint32_t) (h >> 48) & (N_BUCKETS - 1);
}

static struct nat_entry *
entry_at(struct nf_nat *nat, uint32_t idx)
{
    return &nat->ports[idx / N_PORTS][idx % N_PORTS];
}

static bool
live(const struct nf_nat *nat, int pi, const struct nat_entry *e, uint64_t now_ns)
{
    return e->used && now_ns - e->last_ns <= nat->timeout_ns[pi];
}

static void
unlink_entry(struct nf_nat *nat, int pi, uint16_t ext_port)
{
    struct nat_entry *e = &nat->ports[pi][ext_port];
    uint32_t idx = (uint32_t) pi * N_PORTS + ext_port + 1;
    uint32_t *link = &nat->buckets[bucket_of(pi, e->int_ip, e->int_port)];
    while (*link) {
        if (*link == idx) {
            *link = e->next;
            break;
        }
        link = &entry_at(nat, *link - 1)->next;
    }
    e->used = false;
    e->next = 0;
}

/* Finds or creates the mapping of (pi, ip, port).  Returns the external port, or
 * -1 if every port is taken by a live mapping. */
static int
lookup_or_map(struct nf_nat *nat, int pi, uint32_t ip, uint16_t port, uint64_t now_ns)
{
    if (!nat->ports[pi]) {
        nat->ports[pi] = vnet_xcalloc(N_PORTS, sizeof *nat->ports[pi]);
    }
    uint32_t b = bucket_of(pi, ip, port);
    for (uint32_t i = nat->buckets[b]; i; i = entry_at(nat, i - 1)->next) {
        struct nat_entry *e = entry_at(nat, i - 1);
        if (e->int_ip == ip && e->int_port == port && (i - 1) / N_PORTS == (uint32_t) pi) {
            if (!live(nat, pi, e, now_ns)) {
                /* Expired but not reused yet: revive it (same external port). */
                e->last_ns = now_ns;
            }
            return (int) ((i - 1) % N_PORTS);
        }
    }

    uint32_t n_ports = NF_NAT_PORT_MAX - NF_NAT_PORT_MIN + 1;
    for (uint32_t tries = 0; tries < n_ports; tries++) {
        uint32_t p = nat->next_port[pi];
        nat->next_port[pi] = p == NF_NAT_PORT_MAX ? NF_NAT_PORT_MIN : p + 1;
        struct nat_entry *e = &nat->ports[pi][p];
        if (e->used) {
            if (live(nat, pi, e, now_ns)) {
                continue;
            }
            unlink_entry(nat, pi, (uint16_t) p);
        }
        e->used = true;
        e->int_ip = ip;
        e->int_port = port;
        e->last_ns = now_ns;
        e->next = nat->buckets[b];
        nat->buckets[b] = (uint32_t) pi * N_PORTS + p + 1;
        return (int) p;
    }
    return -1;
}

/* Rewrites the address at 'ip_field' and the port at 'port_field' (NULL for none,
 * ICMP: the identifier), fixing the IPv4, L4 checksums. */
static void
rewrite(uint8_t *frame, const struct pkt_info *info, size_t addr_off, uint32_t new_ip,
        size_t port_off, uint16_t new_port)
{
    uint8_t *ip = frame + info->l3_off;
    uint8_t *l4 = frame + info->l4_off;
    uint32_t old_ip = pkt_get32(ip + addr_off);
    uint16_t old_port = pkt_get16(l4 + port_off);

    pkt_put32(ip + addr_off, new_ip);
    pkt_csum_update32(ip + 10, old_ip, new_ip);
    pkt_put16(l4 + port_off, new_port);

    uint8_t *csum;
    switch (info->proto) {
    case PKT_IPPROTO_TCP:
        csum = l4 + 16;
        pkt_csum_update32(csum, old_ip, new_ip);
        pkt_csum_update16(csum, old_port, new_port);
        break;
    case PKT_IPPROTO_UDP:
        csum = l4 + 6;
        if (pkt_get16(csum)) {
            pkt_csum_update32(csum, old_ip, new_ip);
            pkt_csum_update16(csum, old_port, new_port);
            if (!pkt_get16(csum)) {
                pkt_put16(csum, 0xffff);
            }
        }
        break;
    default:
        pkt_csum_update16(l4 + 2, old_port, new_port);
        break;
    }
}

/* ICMP echo: only requests go out, only replies come back. */
static bool
translatable(const struct pkt_info *info, bool forward)
{
    if (!info->l4 || info->frag) {
        return false;
    }
    if (info->proto == PKT_IPPROTO_ICMP) {
        return info->icmp_type == (forward ? 8 : 0);
    }
    return true;
}

enum nf_nat_result
nf_nat_forward(struct nf_nat *nat, uint8_t *frame, size_t len, uint64_t now_ns,
               uint32_t *ret_ip, uint16_t *ret_port)
{
    struct pkt_info info;
    pkt_parse(frame, len, &info);
    if (!info.ipv4) {
        return NF_NAT_PASS;
    }
    int pi = proto_index(info.proto);
    if (pi < 0 || !translatable(&info, true)) {
        return NF_NAT_UNSUPPORTED;
    }
    int ext_port = lookup_or_map(nat, pi, info.sip, info.sport, now_ns);
    if (ext_port < 0) {
        return NF_NAT_EXHAUSTED;
    }
    struct nat_entry *e = &nat->ports[pi][ext_port];
    e->last_ns = now_ns;
    memcpy(e->int_mac, frame + 6, 6);
    memcpy(e->peer_mac, frame, 6);
    memcpy(frame + 6, nat->out_mac, 6);

    size_t port_off = pi == 0 ? 4 : 0;
    rewrite(frame, &info, 12, nat->ext_ip, port_off, (uint16_t) ext_port);
    if (ret_ip) {
        *ret_ip = nat->ext_ip;
    }
    if (ret_port) {
        *ret_port = (uint16_t) ext_port;
    }
    return NF_NAT_TRANSLATED;
}

enum nf_nat_result
nf_nat_reverse(struct nf_nat *nat, uint8_t *frame, size_t len, uint64_t now_ns,
               uint32_t *ret_ip, uint16_t *ret_port)
{
    struct pkt_info info;
    pkt_parse(frame, len, &info);
    if (!info.ipv4 || info.dip != nat->ext_ip) {
        return NF_NAT_PASS;
    }
    int pi = proto_index(info.proto);
    if (pi < 0 || !translatable(&info, false)) {
        return NF_NAT_NO_MAPPING;
    }
    struct nat_entry *e = nat->ports[pi] ? &nat->ports[pi][info.dport] : NULL;
    if (!e || !live(nat, pi, e, now_ns)) {
        return NF_NAT_NO_MAPPING;
    }
    e->last_ns = now_ns;
    memcpy(frame, e->int_mac, 6);
    memcpy(frame + 6, e->peer_mac, 6);

    size_t port_off = pi == 0 ? 4 : 2;
    rewrite(frame, &info, 16, e->int_ip, port_off, e->int_port);
    if (ret_ip) {
        *ret_ip = e->int_ip;
    }
    if (ret_port) {
        *ret_port = e->int_port;
    }
    return NF_NAT_TRANSLATED;
}

size_t
nf_nat_arp_reply(const struct nf_nat *nat, const uint8_t *frame, size_t len,
                 uint8_t *reply)
{
    struct pkt_info info;
    pkt_parse(frame, len, &info);
    const uint8_t *arp = frame + info.l3_off;
    if (info.ethertype != PKT_ETH_P_ARP || len < info.l3_off + 28u
        || pkt_get16(arp) != 1 || pkt_get16(arp + 2) != PKT_ETH_P_IPV4 || arp[4] != 6
        || arp[5] != 4 || pkt_get16(arp + 6) != 1 || pkt_get32(arp + 24) != nat->ext_ip) {
        return 0;
    }
    memset(reply, 0, 60);
    memcpy(reply, arp + 8, 6);              /* to the requester */
    memcpy(reply + 6, nat->out_mac, 6);
    pkt_put16(reply + 12, PKT_ETH_P_ARP);
    uint8_t *r = reply + 14;
    pkt_put16(r, 1);
    pkt_put16(r + 2, PKT_ETH_P_IPV4);
    r[4] = 6;
    r[5] = 4;
    pkt_put16(r + 6, 2);                    /* reply */
    memcpy(r + 8, nat->out_mac, 6);
    pkt_put32(r + 14, nat->ext_ip);
    memcpy(r + 18, arp + 8, 10);            /* requester's MAC and IP */
    return 60;
}

size_t
nf_nat_count(const struct nf_nat *nat, uint64_t now_ns)
{
    size_t n = 0;
    for (int pi = 0; pi < N_PROTOS; pi++) {
        if (!nat->ports[pi]) {
            continue;
        }
        for (uint32_t p = NF_NAT_PORT_MIN; p <= NF_NAT_PORT_MAX; p++) {
            n += live(nat, pi, &nat->ports[pi][p], now_ns);
        }
    }
    return n;
}
