/* nat.h -- NAPT (source NAT with port translation) for the example NAT NF.
 *
 * Forward direction (inside -> outside): TCP and UDP packets get their source address
 * rewritten to the external address and their source port to an allocated external
 * port; ICMP echo requests get their identifier mapped the same way.  Mappings are
 * endpoint-independent ((proto, inside ip, inside port) -> external port) and expire
 * after an idle timeout (TCP/UDP 300 s, ICMP 60 s); an expired port is reused only
 * when the allocator reaches it again.  Reverse direction (outside -> inside): packets
 * to the external address and a mapped port are translated back; packets to the
 * external address without a mapping are dropped; other packets pass unchanged.
 *
 * Checksums are fixed incrementally (RFC 1624): the IPv4 header checksum for the
 * address, the TCP/UDP checksum for address and port (a zero UDP checksum, "none",
 * stays zero), the ICMP checksum for the identifier.  The IP ID, TTL and payload are
 * never changed, so a passive monitor can match a packet across the NAT by them.
 *
 * Bump-in-the-wire Ethernet: forward packets leave with the outside interface's MAC
 * as source (the MAC that proxy ARP announces for the external address); reverse
 * packets get the inside host's MAC as destination and the MAC it addressed as
 * source, both learnt from the mapping's forward packets.
 *
 * Not translated (dropped in the forward direction): IP fragments, protocols other
 * than TCP/UDP/ICMP echo, ICMP errors.  Non-IPv4 frames pass unchanged.
 *
 * Time is passed in ('now_ns'), so tests control expiry.  Thread-safety: one thread
 * per 'struct nf_nat'. */
#ifndef VNET_EXAMPLES_NAT_H
#define VNET_EXAMPLES_NAT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_NAT_PORT_MIN 1024
#define NF_NAT_PORT_MAX 65535

enum nf_nat_result {
    NF_NAT_TRANSLATED,       /* rewritten in place */
    NF_NAT_PASS,             /* not for the NAT: forward unchanged */
    NF_NAT_UNSUPPORTED,      /* cannot be translated: drop */
    NF_NAT_NO_MAPPING,       /* reverse packet to an unmapped external port: drop */
    NF_NAT_EXHAUSTED,        /* no free external port: drop */
};

struct nf_nat;

/* Creates a NAT with external address 'ext_ip' (host byte order) and outside MAC
 * 'out_mac'.  Never fails (allocation aborts on OOM). */
struct nf_nat *nf_nat_create(uint32_t ext_ip, const uint8_t out_mac[6]);
void nf_nat_destroy(struct nf_nat *);

/* Translates the frame 'frame' of 'len' bytes in place.  On NF_NAT_TRANSLATED,
 * '*ret_ip'/'*ret_port' (if not NULL) receive the rewritten address and port (the
 * new source for forward, the new destination for reverse); otherwise they are
 * untouched. */
enum nf_nat_result nf_nat_forward(struct nf_nat *, uint8_t *frame, size_t len,
                                  uint64_t now_ns, uint32_t *ret_ip, uint16_t *ret_port);
enum nf_nat_result nf_nat_reverse(struct nf_nat *, uint8_t *frame, size_t len,
                                  uint64_t now_ns, uint32_t *ret_ip, uint16_t *ret_port);

/* If 'frame' is an ARP request for the external address, writes a reply (from the
 * outside MAC) into 'reply' (>= 60 bytes) and returns its length; otherwise 0. */
size_t nf_nat_arp_reply(const struct nf_nat *, const uint8_t *frame, size_t len,
                        uint8_t *reply);

/* Returns the number of live (not expired at 'now_ns') mappings. */
size_t nf_nat_count(const struct nf_nat *, uint64_t now_ns);

/* Overrides the idle timeouts (tests). */
void nf_nat_set_timeouts(struct nf_nat *, uint64_t tcp_udp_ns, uint64_t icmp_ns);

#endif
