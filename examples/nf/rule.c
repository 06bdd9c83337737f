/* rule.c -- parsing and matching of 5-tuple deny rules. */
#include "examples/nf/rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/nf/pkt.h"
#include "lib/error.h"

static const struct {
    const char *name;
    uint8_t proto;
} proto_names[] = {
    { "icmp", PKT_IPPROTO_ICMP },
    { "tcp", PKT_IPPROTO_TCP },
    { "udp", PKT_IPPROTO_UDP },
};

static struct vnet_error *
parse_proto(const char *s, struct nf_rule *r)
{
    if (!strcmp(s, "*")) {
        r->any_proto = true;
        return NULL;
    }
    for (size_t i = 0; i < VNET_ARRAY_SIZE(proto_names); i++) {
        if (!strcasecmp(s, proto_names[i].name)) {
            r->proto = proto_names[i].proto;
            return NULL;
        }
    }
    unsigned long long v;
    if (!vnet_parse_uint(s, 0, 255, &v)) {
        r->proto = (uint8_t) v;
        return NULL;
    }
    return vnet_error_create(VNET_ERR_INVALID,
                             "proto: expected tcp, udp, icmp, 0..255 or '*', got '%s'", s);
}

static struct vnet_error *
parse_net(const char *field, const char *s, uint32_t *ret_addr, uint32_t *ret_mask)
{
    if (!strcmp(s, "*")) {
        *ret_addr = *ret_mask = 0;
        return NULL;
    }
    char buf[32];
    unsigned long long len = 32;
    const char *slash = strchr(s, '/');
    if (!vnet_strlcpy(buf, s, sizeof buf)) {
        goto bad;
    }
    if (slash) {
        buf[slash - s] = '\0';
        if (vnet_parse_uint(slash + 1, 0, 32, &len)) {
            goto bad;
        }
    }
    uint32_t addr;
    if (pkt_parse_ipv4(buf, &addr)) {
        goto bad;
    }
    *ret_mask = len ? ~0u << (32 - len) : 0;
    *ret_addr = addr & *ret_mask;
    return NULL;

bad:
    return vnet_error_create(VNET_ERR_INVALID,
                             "%s: expected a.b.c.d, a.b.c.d/len (len 0..32) or '*', got '%s'",
                             field, s);
}

static struct vnet_error *
parse_ports(const char *field, const char *s, bool *ret_any, uint16_t *ret_lo,
            uint16_t *ret_hi)
{
    if (!strcmp(s, "*")) {
        *ret_any = true;
        *ret_lo = 0;
        *ret_hi = 65535;
        return NULL;
    }
    char buf[16];
    unsigned long long lo, hi;
    const char *dash = strchr(s, '-');
    if (!vnet_strlcpy(buf, s, sizeof buf)) {
        goto bad;
    }
    if (dash) {
        buf[dash - s] = '\0';
        if (vnet_parse_uint(buf, 0, 65535, &lo) || vnet_parse_uint(dash + 1, 0, 65535, &hi)
            || lo > hi) {
            goto bad;
        }
    } else {
        if (vnet_parse_uint(buf, 0, 65535, &lo)) {
            goto bad;
        }
        hi = lo;
    }
    *ret_any = false;
    *ret_lo = (uint16_t) lo;
    *ret_hi = (uint16_t) hi;
    return NULL;

bad:
    return vnet_error_create(VNET_ERR_INVALID,
                             "%s: expected a port 0..65535, a range lo-hi or '*', got '%s'",
                             field, s);
}

struct vnet_error *
nf_rule_parse(const char *text, struct nf_rule *rule)
{
    char *copy = vnet_xstrdup(text);
    char *fields[5];
    size_t n = 0;
    struct vnet_error *error = NULL;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (n == VNET_ARRAY_SIZE(fields)) {
            n++;
            break;
        }
        fields[n++] = p;
        if (!comma) {
            break;
        }
        *comma = '\0';
        p = comma + 1;
    }
    if (n != VNET_ARRAY_SIZE(fields)) {
        error = vnet_error_create(VNET_ERR_INVALID,
                                  "expected 5 comma-separated fields "
                                  "proto,src,sport,dst,dport");
        goto out;
    }

    struct nf_rule r = { 0 };
    if ((error = parse_proto(fields[0], &r))
        || (error = parse_net("src", fields[1], &r.src, &r.src_mask))
        || (error = parse_ports("sport", fields[2], &r.any_sport, &r.sport_lo, &r.sport_hi))
        || (error = parse_net("dst", fields[3], &r.dst, &r.dst_mask))
        || (error = parse_ports("dport", fields[4], &r.any_dport, &r.dport_lo,
                                &r.dport_hi))) {
        goto out;
    }
    *rule = r;

out:
    free(copy);
    return vnet_error_wrap(error, "rule '%s'", text);
}

bool
nf_rule_match(const struct nf_rule *r, const struct pkt_info *info)
{
    if (!info->ipv4) {
        return false;
    }
    if (!r->any_proto && r->proto != info->proto) {
        return false;
    }
    if ((info->sip & r->src_mask) != r->src || (info->dip & r->dst_mask) != r->dst) {
        return false;
    }
    if (r->any_sport && r->any_dport) {
        return true;
    }
    if (!info->l4) {
        return false;
    }
    return (r->any_sport || (info->sport >= r->sport_lo && info->sport <= r->sport_hi))
           && (r->any_dport || (info->dport >= r->dport_lo && info->dport <= r->dport_hi));
}

int
nf_rules_match(const struct nf_rule *rules, size_t n, const struct pkt_info *info)
{
    for (size_t i = 0; i < n; i++) {
        if (nf_rule_match(&rules[i], info)) {
            return (int) i;
        }
    }
    return -1;
}

static void
format_net(char *buf, size_t size, uint32_t addr, uint32_t mask)
{
    if (!mask) {
        snprintf(buf, size, "*");
        return;
    }
    char ip[16];
    int len = 32 - __builtin_ctz(mask);
    pkt_ip_to_string(addr, ip, sizeof ip);
    if (len == 32) {
        snprintf(buf, size, "%s", ip);
    } else {
        snprintf(buf, size, "%s/%d", ip, len);
    }
}

static void
format_ports(char *buf, size_t size, bool any, uint16_t lo, uint16_t hi)
{
    if (any) {
        snprintf(buf, size, "*");
    } else if (lo == hi) {
        snprintf(buf, size, "%u", lo);
    } else {
        snprintf(buf, size, "%u-%u", lo, hi);
    }
}

void
nf_rule_format(const struct nf_rule *r, char *buf, size_t size)
{
    char proto[8], src[24], dst[24], sport[12], dport[12];
    const char *pname = NULL;
    for (size_t i = 0; i < VNET_ARRAY_SIZE(proto_names); i++) {
        if (proto_names[i].proto == r->proto) {
            pname = proto_names[i].name;
        }
    }
    if (r->any_proto) {
        snprintf(proto, sizeof proto, "*");
    } else if (pname) {
        snprintf(proto, sizeof proto, "%s", pname);
    } else {
        snprintf(proto, sizeof proto, "%u", r->proto);
    }
    format_net(src, sizeof src, r->src, r->src_mask);
    format_net(dst, sizeof dst, r->dst, r->dst_mask);
    format_ports(sport, sizeof sport, r->any_sport, r->sport_lo, r->sport_hi);
    format_ports(dport, sizeof dport, r->any_dport, r->dport_lo, r->dport_hi);
    snprintf(buf, size, "%s,%s,%s,%s,%s", proto, src, sport, dst, dport);
}
