#include "diag/packet.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lib/util.h"

/* ---- XXH64 (Yann Collet's xxHash, 64-bit variant; values match the reference) -- */

#define XXH_P1 11400714785074694791ULL
#define XXH_P2 14029467366897019727ULL
#define XXH_P3 1609587929392839161ULL
#define XXH_P4 9650029242287828579ULL
#define XXH_P5 2870177450012600261ULL

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Little-endian loads, so a hash is the same on every host. */
static inline uint64_t
load64(const uint8_t *p)
{
    return ((uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16
            | (uint64_t) p[3] << 24 | (uint64_t) p[4] << 32 | (uint64_t) p[5] << 40
            | (uint64_t) p[6] << 48 | (uint64_t) p[7] << 56);
}

static inline uint32_t
load32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static inline uint64_t
xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * XXH_P2;
    acc = rotl64(acc, 31);
    return acc * XXH_P1;
}

static inline uint64_t
xxh_merge(uint64_t acc, uint64_t val)
{
    acc ^= xxh_round(0, val);
    return acc * XXH_P1 + XXH_P4;
}

uint64_t
packet_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    const uint8_t *end = p + len;
    uint64_t h;

    if (len >= 32) {
        const uint8_t *limit = end - 32;
        uint64_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2, v3 = seed;
        uint64_t v4 = seed - XXH_P1;
        do {
            v1 = xxh_round(v1, load64(p));
            v2 = xxh_round(v2, load64(p + 8));
            v3 = xxh_round(v3, load64(p + 16));
            v4 = xxh_round(v4, load64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    } else {
        h = seed + XXH_P5;
    }
    h += (uint64_t) len;
    while (end - p >= 8) {
        h ^= xxh_round(0, load64(p));
        h = rotl64(h, 27) * XXH_P1 + XXH_P4;
        p += 8;
    }
    if (end - p >= 4) {
        h ^= (uint64_t) load32(p) * XXH_P1;
        h = rotl64(h, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t) *p * XXH_P5;
        h = rotl64(h, 11) * XXH_P1;
        p++;
    }
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

/* ---- Parsing ------------------------------------------------------------------ */

/* Seeds keep the three keys of one packet apart. */
enum {
    SEED_CONTENT = 0xc0,
    SEED_INVARIANT = 0x1a,
    SEED_NOID = 0x1d,
    SEED_FLOW = 0xf1,
    SEED_V6ADDR = 0x66,
};

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ_OLD 0x9100
#define MAX_VLAN_TAGS 3
#define MAX_V6_EXT 8

static inline uint16_t
be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
nonzero(uint64_t h)
{
    return h ? h : 1;
}

/* Key hashing: a multiply-fold hash over 64-bit words, in the manner of wyhash.
 * Each pair of words, masked with secrets of its position, is multiplied into 128
 * bits and folded to 64; the pairs are independent, so their multiplies overlap,
 * and a last multiply-fold with the seed avalanches the sum.  Latency is a few
 * multiplies where XXH64 chains a dozen: keys are computed for every frame. */
static const uint64_t key_secret[] = {
    0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f5ULL, 0x06c45d188009454fULL,
    0xf88bb8a8724c81edULL, 0x1b39896a51a8749bULL, 0x53cb9f0c747ea2ebULL,
    0x2c829abe1f4532e1ULL, 0xc584133ac916ab3dULL, 0x3ee5789041c98ac3ULL,
    0xf3b8488c368cb0a7ULL, 0x657eecdd3cb13d09ULL, 0xc2d326e0055bdef7ULL,
};
#define KEY_WORDS_MAX (VNET_ARRAY_SIZE(key_secret))

static inline uint64_t
mul_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128) a * b;
    return (uint64_t) r ^ (uint64_t) (r >> 64);
}

/* 'n' (even, at most KEY_WORDS_MAX) words. */
static inline uint64_t
hash_words(const uint64_t *w, size_t n, uint64_t seed)
{
    uint64_t acc = n;
    for (size_t i = 0; i < n; i += 2) {
        acc += mul_fold(w[i] ^ key_secret[i], w[i + 1] ^ key_secret[i + 1]);
    }
    return nonzero(mul_fold(acc ^ 0xa0761d6478bd642fULL, seed ^ 0xe7037ed1a0b428dbULL));
}

uint64_t
packet_flow_hash(const struct flow5 *f)
{
    uint64_t w[2] = {
        (uint64_t) f->sip << 32 | f->dip,
        (uint64_t) f->sport << 24 | (uint64_t) f->dport << 8 | f->proto,
    };
    return hash_words(w, VNET_ARRAY_SIZE(w), SEED_FLOW);
}

#define PAYLOAD_WORDS (PACKET_PAYLOAD_PREFIX / 8)
_Static_assert(PACKET_PAYLOAD_PREFIX % 8 == 0, "the payload prefix is whole words");

/* What the keys are made of, gathered while parsing. */
struct fields {
    uint64_t src, dst;          /* IPv4 address, or a hash of the IPv6 one */
    uint32_t ip_len;
    uint32_t frag;              /* fragment offset << 1 | MF */
    uint32_t ports;             /* sport << 16 | dport */
    uint32_t seq, ack;
    uint8_t proto, tcp_flags, icmp_type, icmp_code;
    uint32_t icmp_rest;         /* ICMP rest-of-header (id/seq for echo) */
    uint32_t icmp_inv;          /* what of it a NAT keeps (echo: seq only) */
    uint32_t flow_label;
    uint16_t ip_id;
    uint32_t flow_sip, flow_dip;    /* for struct flow5 */
    uint8_t l3, flags;
    uint64_t payload[PAYLOAD_WORDS];    /* the prefix, zero-padded */
};

static void
make_keys(const struct fields *f, unsigned keys, struct packet_info *ret)
{
    uint64_t l4 = (uint64_t) f->proto | (uint64_t) f->tcp_flags << 8
                  | (uint64_t) f->icmp_type << 16 | (uint64_t) f->icmp_code << 24;
    uint64_t ip = (uint64_t) f->ip_len << 32 | (f->frag & 0xffff);
    uint64_t w[6 + PAYLOAD_WORDS] = {
        f->src, f->dst,
        ip | (uint64_t) f->ip_id << 16,
        (uint64_t) f->ports << 32 | f->icmp_rest,
        (uint64_t) f->seq << 32 | f->ack,
        (uint64_t) f->flow_label << 32 | l4,
    };
    memcpy(w + 6, f->payload, sizeof f->payload);
    _Static_assert(VNET_ARRAY_SIZE(w) % 2 == 0 && VNET_ARRAY_SIZE(w) <= KEY_WORDS_MAX,
                   "key words come in pairs");
    ret->content_key = hash_words(w, VNET_ARRAY_SIZE(w), SEED_CONTENT);
    if (!(keys & PACKET_KEY_INVARIANT)) {
        ret->invariant_key = ret->invariant_noid_key = 0;
        return;
    }

    uint64_t inv[4 + PAYLOAD_WORDS] = {
        ip | (uint64_t) f->ip_id << 16,
        (uint64_t) f->seq << 32 | f->ack,
        (uint64_t) f->icmp_inv << 32 | l4,
        0,
    };
    memcpy(inv + 4, f->payload, sizeof f->payload);
    ret->invariant_key = hash_words(inv, VNET_ARRAY_SIZE(inv), SEED_INVARIANT);
    inv[0] = ip;
    ret->invariant_noid_key = hash_words(inv, VNET_ARRAY_SIZE(inv), SEED_NOID);
}

/* Parses the L4 header at 'l4' ('avail' bytes captured, 'declared' bytes by the IP
 * header) and hashes the payload prefix.  Returns 0 or -EBADMSG. */
static int
parse_l4(const uint8_t *l4, size_t avail, size_t declared, bool first_fragment,
         bool v6, struct fields *f)
{
    size_t hdr = 0;
    if (first_fragment) {
        switch (f->proto) {
        case 6:                 /* TCP */
            if (avail < 20 || declared < 20) {
                return -EBADMSG;
            }
            hdr = (size_t) (l4[12] >> 4) * 4;
            if (hdr < 20 || hdr > declared) {
                return -EBADMSG;
            }
            f->ports = be32(l4);
            f->seq = be32(l4 + 4);
            f->ack = be32(l4 + 8);
            f->tcp_flags = l4[13] & 0x3f;
            break;
        case 17:                /* UDP */
        case 136:               /* UDP-Lite */
            if (avail < 8 || declared < 8) {
                return -EBADMSG;
            }
            hdr = 8;
            f->ports = be32(l4);
            break;
        case 1:                 /* ICMP */
        case 58:                /* ICMPv6 */
            if (avail < 8 || declared < 8) {
                return -EBADMSG;
            }
            hdr = 8;
            f->icmp_type = l4[0];
            f->icmp_code = l4[1];
            f->icmp_rest = be32(l4 + 4);
            /* Echo request/reply: NAPT rewrites the identifier, not the sequence. */
            bool echo = (v6 ? (l4[0] == 128 || l4[0] == 129)
                         : (l4[0] == 8 || l4[0] == 0));
            f->icmp_inv = echo ? (f->icmp_rest & 0xffff) : f->icmp_rest;
            break;
        default:                /* ESP, GRE, ...: all of it is payload */
            break;
        }
    }
    size_t want = declared > hdr ? declared - hdr : 0;
    want = VNET_MIN(want, (size_t) PACKET_PAYLOAD_PREFIX);
    size_t have = avail > hdr ? avail - hdr : 0;
    if (have < want) {
        f->flags |= PACKET_F_TRUNCATED;
        want = have;
    }
    const uint8_t *p = l4 + hdr;
    for (size_t i = 0, at = 0; i < PAYLOAD_WORDS; i++, at += 8) {
        if (want >= at + 8) {
            f->payload[i] = load64(p + at);
        } else {
            uint64_t v = 0;
            for (size_t k = at; k < want; k++) {
                v |= (uint64_t) p[k] << (8 * (k - at));
            }
            f->payload[i] = v;
        }
    }
    return 0;
}

static int
parse_ipv4(const uint8_t *ip, size_t avail, struct fields *f)
{
    if (avail < 20 || ip[0] >> 4 != 4) {
        return -EBADMSG;
    }
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    size_t total = be16(ip + 2);
    if (ihl < 20 || ihl > avail || total < ihl) {
        return -EBADMSG;
    }
    uint16_t frag = be16(ip + 6);
    uint32_t offset = frag & 0x1fff;
    f->frag = offset << 1 | ((frag >> 13) & 1);
    f->ip_id = be16(ip + 4);
    f->ip_len = (uint32_t) total;
    f->proto = ip[9];
    f->src = be32(ip + 12);
    f->dst = be32(ip + 16);
    f->flow_sip = be32(ip + 12);
    f->flow_dip = be32(ip + 16);
    f->l3 = PACKET_L3_IPV4;
    if (offset) {
        f->flags |= PACKET_F_FRAGMENT;
    }
    return parse_l4(ip + ihl, avail - ihl, total - ihl, offset == 0, false, f);
}

static uint32_t
fold_v6(const uint8_t *addr)
{
    uint64_t h = packet_hash64(addr, 16, SEED_V6ADDR);
    return (uint32_t) (h ^ (h >> 32));
}

static int
parse_ipv6(const uint8_t *ip, size_t avail, struct fields *f)
{
    if (avail < 40 || ip[0] >> 4 != 6) {
        return -EBADMSG;
    }
    size_t declared = be16(ip + 4);
    uint8_t next = ip[6];
    f->flow_label = be32(ip) & 0xfffff;
    f->src = packet_hash64(ip + 8, 16, SEED_V6ADDR);
    f->dst = packet_hash64(ip + 24, 16, SEED_V6ADDR);
    f->ip_len = (uint32_t) (40 + declared);
    f->flow_sip = fold_v6(ip + 8);
    f->flow_dip = fold_v6(ip + 24);
    f->l3 = PACKET_L3_IPV6;

    const uint8_t *p = ip + 40;
    size_t left = avail - 40;
    bool first = true;
    for (int i = 0; i < MAX_V6_EXT; i++) {
        size_t len;
        if (next == 0 || next == 43 || next == 60) {        /* HBH, routing, dest */
            if (left < 8) {
                return -EBADMSG;
            }
            len = ((size_t) p[1] + 1) * 8;
        } else if (next == 51) {                            /* AH */
            if (left < 8) {
                return -EBADMSG;
            }
            len = ((size_t) p[1] + 2) * 4;
        } else if (next == 44) {                            /* fragment */
            if (left < 8) {
                return -EBADMSG;
            }
            len = 8;
            uint32_t offset = be16(p + 2) >> 3;
            f->frag = offset << 1 | (p[3] & 1);
            f->ip_id = (uint16_t) be32(p + 4);
            if (offset) {
                first = false;
                f->flags |= PACKET_F_FRAGMENT;
            }
        } else {
            break;
        }
        if (len > left || len > declared) {
            return -EBADMSG;
        }
        next = p[0];
        p += len;
        left -= len;
        declared -= len;
    }
    f->proto = next;
    return parse_l4(p, left, declared, first, true, f);
}

int
packet_parse(const uint8_t *frame, size_t caplen, struct packet_info *ret)
{
    return packet_parse_keys(frame, caplen, PACKET_KEY_ALL, ret);
}

int
packet_parse_keys(const uint8_t *frame, size_t caplen, unsigned keys,
                  struct packet_info *ret)
{
    if (!frame || caplen < 14) {
        return -EBADMSG;
    }
    struct fields f;
    /* The payload words are always written; zeroing them too costs a rep stos. */
    memset(&f, 0, offsetof(struct fields, payload));
    size_t off = 12;
    uint16_t type = be16(frame + off);
    for (int tags = 0; type == ETH_P_8021Q || type == ETH_P_8021AD
                       || type == ETH_P_QINQ_OLD; tags++) {
        if (tags == MAX_VLAN_TAGS || caplen < off + 6) {
            return -EBADMSG;
        }
        f.flags |= PACKET_F_VLAN;
        off += 4;
        type = be16(frame + off);
    }
    off += 2;
    int err;
    if (type == ETH_P_IPV4) {
        err = parse_ipv4(frame + off, caplen - off, &f);
    } else if (type == ETH_P_IPV6) {
        err = parse_ipv6(frame + off, caplen - off, &f);
    } else {
        return -EPROTONOSUPPORT;
    }
    if (err) {
        return err;
    }
    /* Field by field: a copy of a whole struct built narrower would stall. */
    bool ports = f.proto == 6 || f.proto == 17 || f.proto == 136;
    ret->flow.sip = f.flow_sip;
    ret->flow.dip = f.flow_dip;
    ret->flow.sport = ports ? (uint16_t) (f.ports >> 16) : 0;
    ret->flow.dport = ports ? (uint16_t) f.ports : 0;
    ret->flow.proto = f.proto;
    ret->ip_len = f.ip_len;
    ret->ip_id = f.ip_id;
    ret->tcp_seq = f.seq;
    ret->tcp_ack = f.ack;
    ret->tcp_flags = f.tcp_flags;
    ret->l3 = f.l3;
    ret->flags = f.flags;
    make_keys(&f, keys, ret);
    ret->flow_hash = keys & PACKET_KEY_INVARIANT ? packet_flow_hash(&ret->flow) : 0;
    return 0;
}
