/* frames.h -- builds Ethernet/IPv4 test frames with correct checksums (computed the
 * slow, obvious way, independently of examples/nf/pkt.c), for the examples' tests. */
#ifndef VNET_TESTS_EXAMPLES_FRAMES_H
#define VNET_TESTS_EXAMPLES_FRAMES_H 1

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint8_t frames_mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t frames_mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static inline void
frames_put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
frames_put32(uint8_t *p, uint32_t v)
{
    frames_put16(p, v >> 16);
    frames_put16(p + 2, v & 0xffff);
}

static inline unsigned
frames_get16(const uint8_t *p)
{
    return (unsigned) (p[0] << 8 | p[1]);
}

/* RFC 1071 straight from the definition: 16-bit one's complement sum. */
static inline uint16_t
frames_cksum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint64_t sum = 0;
    uint8_t buf[2048 + 12];
    memcpy(buf, a, alen);
    if (blen) {
        memcpy(buf + alen, b, blen);
    }
    size_t len = alen + blen;
    if (len % 2) {
        buf[len++] = 0;
    }
    for (size_t i = 0; i < len; i += 2) {
        sum += (uint64_t) (buf[i] << 8 | buf[i + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* Recomputes the IPv4 header checksum and the L4 checksum of 'f' from scratch and
 * returns them in '*ip_csum' / '*l4_csum' (frame unchanged). */
static inline void
frames_expected_csums(const uint8_t *f, uint16_t *ip_csum, uint16_t *l4_csum)
{
    uint8_t hdr[20];
    memcpy(hdr, f + 14, 20);
    hdr[10] = hdr[11] = 0;
    *ip_csum = frames_cksum(hdr, 20, NULL, 0);
    size_t ip_len = frames_get16(f + 16);
    size_t l4_len = ip_len - 20;
    uint8_t l4[2048];
    memcpy(l4, f + 34, l4_len);
    uint8_t proto = f[23];
    if (proto == 1) {
        l4[2] = l4[3] = 0;
        *l4_csum = frames_cksum(l4, l4_len, NULL, 0);
        return;
    }
    size_t off = proto == 17 ? 6 : 16;
    l4[off] = l4[off + 1] = 0;
    uint8_t pseudo[12];
    memcpy(pseudo, f + 26, 8);
    pseudo[8] = 0;
    pseudo[9] = proto;
    frames_put16(pseudo + 10, (unsigned) l4_len);
    uint16_t c = frames_cksum(pseudo, 12, l4, l4_len);
    *l4_csum = proto == 17 && c == 0 ? 0xffff : c;
}

/* Builds an IPv4 frame a -> b of protocol 'proto' (6, 17: ports; 1: echo with id =
 * sport, type 'icmp_type') with 'plen' payload bytes.  Returns the frame length. */
static inline size_t
frames_build(uint8_t *f, uint8_t proto, uint32_t sip, uint32_t dip, uint16_t sport,
             uint16_t dport, const uint8_t *payload, size_t plen, uint8_t icmp_type)
{
    size_t l4_hdr = proto == 6 ? 20 : 8;
    size_t ip_len = 20 + l4_hdr + plen;
    memset(f, 0, 14 + ip_len);
    memcpy(f, frames_mac_b, 6);
    memcpy(f + 6, frames_mac_a, 6);
    frames_put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    frames_put16(ip + 2, (unsigned) ip_len);
    frames_put16(ip + 4, 0x1234);
    ip[8] = 64;
    ip[9] = proto;
    frames_put32(ip + 12, sip);
    frames_put32(ip + 16, dip);
    uint8_t *l4 = ip + 20;
    if (proto == 1) {
        l4[0] = icmp_type;
        frames_put16(l4 + 4, sport);
        frames_put16(l4 + 6, 7);
    } else {
        frames_put16(l4, sport);
        frames_put16(l4 + 2, dport);
        if (proto == 17) {
            frames_put16(l4 + 4, (unsigned) (8 + plen));
        } else {
            frames_put32(l4 + 4, 1000);
            frames_put32(l4 + 8, 2000);
            l4[12] = 5 << 4;
            l4[13] = 0x18;
            frames_put16(l4 + 14, 65535);
        }
    }
    memcpy(l4 + l4_hdr, payload, plen);
    uint16_t ipc, l4c;
    frames_expected_csums(f, &ipc, &l4c);
    frames_put16(ip + 10, ipc);
    frames_put16(l4 + (proto == 1 ? 2 : proto == 17 ? 6 : 16), l4c);
    return 14 + ip_len;
}

#endif
