/* flow-plan.h -- the OpenFlow rules that steer a chain, duplicate its traffic into a
 * shadow and swap the two.
 *
 * A chain is a service graph of NFs between the endpoints ingress (the traffic
 * source's port) and egress (the sink's port).  Each NF has an "in" port (where
 * forward traffic enters it) and an "out" port.  A chain can have two sides: side 0
 * (the original production NFs) and side 1 (their shadow clones); one side is
 * active.  The rules:
 *
 *   - forward traffic from the source goes to the active side's first NFs and, if a
 *     shadow exists, a copy goes to the shadow side's first NFs (one flow, two
 *     outputs: the duplicate is made by the switch, not by a probe);
 *   - each side forwards along the graph; the active side delivers to the sink, the
 *     inactive side's output is dropped by a rule of its own (so the rule's counters
 *     account for every packet the shadow emitted).  With an observation port for a
 *     side's exit (the Monitoring VNet's), the rule also outputs a copy there; for
 *     the inactive side that copy is the only output ("observed, then dropped":
 *     an OVS port mirror would not copy a packet the flow table drops);
 *   - reverse traffic from the sink goes back through the active side only; the
 *     inactive side's reverse emissions are dropped likewise;
 *   - where the graph fans out, TCP/UDP flows are spread by the low bits of the L4
 *     source port (destination port for reverse traffic), identically on both
 *     sides, so a flow takes the same path in production and in its shadow;
 *   - ARP requests from the endpoints are answered by the switch, IPv6 link-local
 *     noise from any port is dropped.
 *
 *   - with a shadow, ingress writes the active side's tag into bit 0 of the DSCP of
 *     every IP packet (both copies), and each side's exit delivers only the packets
 *     tagged with its own tag (clearing the bit): a packet is delivered by the side
 *     that served production when it entered, exactly once, even while a swap
 *     leaves packets in flight in both sides.  Replies from the sink are tagged and
 *     delivered back to the source the same way.  DSCP bit 0 is 0 in every standard
 *     codepoint (RFC 2474 pool 1); pools 2 and 3 would lose it.  The tag cannot
 *     tell an untagged packet from tag 0: an IP packet an NF of side 0 generates
 *     itself (not a copy of ingress traffic; an ICMP error, say) while side 0 is
 *     the shadow and drains (below) would be delivered.  The sample NFs generate
 *     none.  A graph whose exit NF also fans out elsewhere keeps the untagged exit
 *     rule.
 *
 *   - isolation: a tag is a bit of the packet, which any NF can set.  So the
 *     inactive side delivers packets carrying its own tag only while 'draining'
 *     (for a bounded time after a swap: the packets that entered while it served
 *     production); otherwise its exits observe or drop everything, and a shadow NF
 *     that forges the tag reaches neither the sink nor the source;
 *   - the 'receive_only' ports (the Monitoring VNet's mirror outputs) drop every
 *     frame they receive, with a rule of their own that counts them, so a
 *     monitoring VNode cannot inject into the chain whatever else the bridge holds.
 *
 * A swap is the same plan with the other side active; the OVS adapter installs a
 * plan as one atomic bundle, so no packet sees a mix.  Pure: no I/O.
 *
 * Ownership: flow_plan_build() returns a malloc'd array of malloc'd strings. */
#ifndef SHADOW_FLOW_PLAN_H
#define SHADOW_FLOW_PLAN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOW_EP_INGRESS (-1)
#define FLOW_EP_EGRESS (-2)

struct flow_edge {
    int from, to;               /* NF indexes or FLOW_EP_* */
};

struct flow_endpoint {
    uint16_t port;
    uint8_t mac[6];
    uint32_t ip;                /* host byte order */
};

struct flow_graph {
    size_t n_nfs;
    const struct flow_edge *edges;
    size_t n_edges;
    struct flow_endpoint source, sink;
    /* Ports of each side: in_ports[side][nf], out_ports[side][nf]. */
    const uint16_t *in_ports[2];
    const uint16_t *out_ports[2];
    bool has_shadow;            /* side 1 exists */
    int active;                 /* 0 or 1 */
    uint16_t observe_exit[2];   /* by side: a port that gets a copy of what the side
                                 * emits at egress (the monitor's), or 0 */
    int side_tag[2];            /* by side: its epoch tag (0 or 1; the chain's real
                                 * side number), with a shadow */
    bool draining;              /* the inactive side still delivers the packets
                                 * tagged with its own side (after a swap) */
    const uint16_t *receive_only;   /* ports whose input is dropped */
    size_t n_receive_only;
    uint64_t cookie;
    const char *gateway_mac;    /* "xx:xx:..." answered to the endpoints' ARP */
};

/* Returns the rules (ovs-ofctl syntax, each with the cookie) and their number. */
char **flow_plan_build(const struct flow_graph *, size_t *ret_n);
void flow_plan_free(char **rules, size_t n);

#endif
