/* packet.h -- the identity of a captured packet: its flow and its match keys.
 *
 * Hop reconstruction (match.h) recognises one packet on both sides of an NF, and on
 * both ends of the OVS hop between two NFs, by 64-bit keys computed here from the
 * captured frame (../shared/specs/diagnosis.md, B.2):
 *
 *  - the content key: IP source and destination, protocol, IP ID, IP total length,
 *    fragment offset and MF, L4 ports, TCP sequence, acknowledgement and flags
 *    (FIN..URG), ICMP type/code/rest-of-header, the IPv6 flow label, and the first
 *    PACKET_PAYLOAD_PREFIX payload bytes.  It leaves out what forwarding and
 *    non-rewriting NFs change: TTL/hop limit, checksums, DSCP/ECN, the TCP ECE/CWR
 *    flags, MAC addresses, VLAN tags.  Used for non-rewriting NFs and for the OVS
 *    hop between NFs (identical bytes);
 *  - the invariant key: what a NAT (SNAT, DNAT, NAPT) leaves alone: protocol, IP ID,
 *    IP total length, fragment offset, TCP sequence/acknowledgement/flags, ICMP
 *    type/code (and the echo sequence number, not its identifier) and the payload
 *    prefix; addresses, ports and checksums are out;
 *  - the invariant key without the IP ID, for NATs that randomise it (match.h then
 *    matches within a learned flow mapping).
 *
 * The payload prefix is min(PACKET_PAYLOAD_PREFIX, the payload the IP header
 * declares) bytes, so Ethernet padding never enters a key; when the capture's
 * snaplen cut it shorter, the key covers what was captured and PACKET_F_TRUNCATED
 * says so (both copies of a packet are cut alike when the snaplens are equal).
 * 32 bytes fit a 128-byte snaplen behind QinQ tags and a TCP header with options.
 *
 * The keys hash their fields as 64-bit words with a multiply-fold hash in the
 * manner of wyhash (a few independent 64x64->128-bit multiplies: cheap enough for
 * every captured frame, and the same value on every host); packet_hash64() is
 * XXH64 for byte strings.  Parsing never reads outside [frame, frame + caplen),
 * whatever the bytes say.
 *
 * Pure functions; thread-safe. */
#ifndef DIAG_PACKET_H
#define DIAG_PACKET_H 1

#include <stddef.h>
#include <stdint.h>

#include "diag/trace.h"

#define PACKET_PAYLOAD_PREFIX 32

enum packet_l3 {
    PACKET_L3_IPV4 = 4,
    PACKET_L3_IPV6 = 6,
};

enum packet_flags {
    PACKET_F_TRUNCATED = 1 << 0,  /* the snaplen cut the payload prefix short */
    PACKET_F_FRAGMENT = 1 << 1,   /* a non-first fragment: no L4 header */
    PACKET_F_VLAN = 1 << 2,       /* carried 802.1Q/802.1ad tags */
};

struct packet_info {
    struct flow5 flow;          /* IPv6 addresses are folded to 32 bits (hash) */
    uint64_t content_key;       /* never 0 */
    uint64_t invariant_key;     /* never 0 */
    uint64_t invariant_noid_key;  /* never 0 */
    uint64_t flow_hash;         /* packet_flow_hash(&flow) (0 if not computed) */
    uint32_t ip_len;            /* IPv4 total length; IPv6 40 + payload length */
    uint32_t tcp_seq, tcp_ack;  /* 0 unless TCP */
    uint16_t ip_id;             /* IPv4 ID; IPv6 low 16 bits of a fragment ID */
    uint8_t l3;                 /* enum packet_l3 */
    uint8_t tcp_flags;          /* FIN..URG (0x3f) */
    uint8_t flags;              /* enum packet_flags */
};

/* Parses the Ethernet frame 'frame' of which 'caplen' bytes were captured.
 * Returns 0 and fills '*ret'; -EPROTONOSUPPORT if it carries neither IPv4 nor IPv6
 * (ARP, LLDP, ...); -EBADMSG if its headers are malformed or cut before the end
 * of the L4 header.  '*ret' is untouched on failure. */
int packet_parse(const uint8_t *frame, size_t caplen, struct packet_info *ret);

/* The same, computing only the keys in 'keys' (the others are 0): the content key
 * always; with PACKET_KEY_INVARIANT also both invariant keys and the flow hash. */
enum packet_keys {
    PACKET_KEY_CONTENT = 1 << 0,
    PACKET_KEY_INVARIANT = 1 << 1,
    PACKET_KEY_ALL = PACKET_KEY_CONTENT | PACKET_KEY_INVARIANT,
};
int packet_parse_keys(const uint8_t *frame, size_t caplen, unsigned keys,
                      struct packet_info *ret);

/* XXH64 of 'len' bytes at 'data' with 'seed'. */
uint64_t packet_hash64(const void *data, size_t len, uint64_t seed);

/* A 64-bit hash of a 5-tuple (never 0). */
uint64_t packet_flow_hash(const struct flow5 *);

#endif
