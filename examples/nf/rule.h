/* rule.h -- the firewall's 5-tuple deny rules.
 *
 * A rule is written "proto,src,sport,dst,dport":
 *   proto  tcp | udp | icmp | a protocol number 0..255 | *
 *   src    a.b.c.d | a.b.c.d/len | *        (likewise dst)
 *   sport  N | lo-hi | *                    (likewise dport)
 * e.g. "udp,*,*,*,9" or "tcp,10.0.0.0/8,*,*,22".  A rule with a port constraint
 * matches only packets that carry ports (TCP/UDP, first fragment); for ICMP echo
 * the identifier stands in for both ports.  Non-IPv4 frames match no rule.
 *
 * Rules are plain values; matching is a linear scan, which is right for the handful
 * of rules a test configures.  Thread-safety: none needed (no shared state). */
#ifndef VNET_EXAMPLES_RULE_H
#define VNET_EXAMPLES_RULE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt_info;
struct vnet_error;

struct nf_rule {
    bool any_proto;
    uint8_t proto;
    uint32_t src, src_mask;         /* host byte order; mask 0 = any */
    uint32_t dst, dst_mask;
    bool any_sport, any_dport;
    uint16_t sport_lo, sport_hi;
    uint16_t dport_lo, dport_hi;
};

/* Parses 'text'.  Returns NULL and fills '*rule', or an error naming the field and
 * what was expected ('*rule' untouched then). */
struct vnet_error *nf_rule_parse(const char *text, struct nf_rule *rule);

/* Returns true if 'rule' matches the packet described by 'info'. */
bool nf_rule_match(const struct nf_rule *rule, const struct pkt_info *info);

/* Returns the index of the first rule of 'rules[n]' that matches, or -1. */
int nf_rules_match(const struct nf_rule *rules, size_t n, const struct pkt_info *info);

/* Writes the canonical text form of 'rule' into 'buf' ("udp,*,*,*,9"). */
void nf_rule_format(const struct nf_rule *rule, char *buf, size_t size);

#endif
