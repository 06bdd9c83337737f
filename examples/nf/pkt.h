/* pkt.h -- Ethernet/IPv4/TCP/UDP/ICMP header parsing and Internet checksums for the
 * example NFs and traffic tools.
 *
 * pkt_parse() reads a frame in place and fills a 'struct pkt_info' with offsets and
 * the 5-tuple; it never writes to the frame.  Addresses, ports and the IP ID are in
 * host byte order (the value of the big-endian header field).
 *
 * Checksums: pkt_csum_*() compute the one's complement sum from scratch;
 * pkt_csum_update16/32() adjust a checksum field in place after one 16- or 32-bit
 * header word changed, following RFC 1624 (HC' = ~(~HC + ~m + m')), so a NAT never
 * touches the payload.  All functions are pure and thread-safe. */
#ifndef VNET_EXAMPLES_PKT_H
#define VNET_EXAMPLES_PKT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_ETH_LEN 14
#define PKT_ETH_P_IPV4 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_VLAN 0x8100
#define PKT_IPPROTO_ICMP 1
#define PKT_IPPROTO_TCP 6
#define PKT_IPPROTO_UDP 17

struct pkt_info {
    uint16_t ethertype;      /* after at most one 802.1Q tag */
    uint16_t l3_off;         /* offset of the IPv4 / ARP header */
    bool ipv4;               /* a well-formed IPv4 header at l3_off */
    uint8_t proto;           /* IPv4 protocol */
    uint8_t ihl;             /* IPv4 header length in bytes */
    bool frag;               /* MF set or a non-zero fragment offset */
    bool first_frag;         /* fragment offset 0 (so the L4 header is here) */
    bool l4;                 /* a complete TCP/UDP/ICMP header at l4_off */
    uint16_t l4_off;
    uint16_t ip_len;         /* IPv4 total length, clamped to the frame */
    uint16_t ip_id;
    uint32_t sip, dip;       /* host byte order */
    uint16_t sport, dport;   /* TCP/UDP ports; ICMP echo: the identifier in both */
    uint8_t icmp_type;
};

/* Parses 'frame' of 'len' bytes.  Returns true if it is IPv4 (info->ipv4) or at
 * least a readable Ethernet frame; the fields that do not apply are zero. */
bool pkt_parse(const uint8_t *frame, size_t len, struct pkt_info *info);

/* Adds 'len' bytes at 'data' to the running 32-bit one's complement sum 'sum'. */
uint32_t pkt_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds 'sum' to 16 bits and complements it: the value to store in a header. */
uint16_t pkt_csum_fold(uint32_t sum);

/* Computes the IPv4 header checksum of 'ip' (of 'ihl' bytes) from scratch, treating
 * the checksum field as zero.  Returns the value to store with pkt_put16(). */
uint16_t pkt_ipv4_csum(const uint8_t *ip, size_t ihl);

/* Computes the TCP or UDP checksum (with the IPv4 pseudo-header; addresses in host
 * byte order) of the L4 segment at 'l4' of 'l4_len' bytes from scratch, treating its
 * checksum field as zero.  Returns the value to store with pkt_put16(); for UDP a
 * computed 0 is returned as 0xffff (RFC 768). */
uint16_t pkt_l4_csum(uint32_t sip, uint32_t dip, uint8_t proto, const uint8_t *l4,
                     size_t l4_len);

/* Computes an ICMP checksum from scratch (no pseudo-header). */
uint16_t pkt_icmp_csum(const uint8_t *icmp, size_t len);

/* Adjusts the checksum field at 'csum' (big-endian, unaligned) after a 16-bit header
 * word (or a 32-bit pair of words) changed from 'old' to 'new_' (host byte order
 * values of the big-endian fields).  A UDP checksum of 0 ("none") must be left
 * alone by the caller. */
void pkt_csum_update16(uint8_t *csum, uint16_t old, uint16_t new_);
void pkt_csum_update32(uint8_t *csum, uint32_t old, uint32_t new_);

/* Unaligned big-endian loads and stores. */
static inline uint16_t
pkt_get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
pkt_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
pkt_get64(const uint8_t *p)
{
    return (uint64_t) pkt_get32(p) << 32 | pkt_get32(p + 4);
}

static inline void
pkt_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
pkt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline void
pkt_put64(uint8_t *p, uint64_t v)
{
    pkt_put32(p, (uint32_t) (v >> 32));
    pkt_put32(p + 4, (uint32_t) v);
}

/* Parses "aa:bb:cc:dd:ee:ff".  Returns 0 or -EINVAL. */
int pkt_parse_mac(const char *s, uint8_t mac[6]);

/* Parses a dotted-quad IPv4 address into host byte order.  Returns 0 or -EINVAL. */
int pkt_parse_ipv4(const char *s, uint32_t *ret_ip);

/* Formats an IPv4 address (host byte order) into 'buf' (>= 16 bytes); returns buf. */
const char *pkt_ip_to_string(uint32_t ip, char *buf, size_t size);

#endif
