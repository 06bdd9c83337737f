/* payload.c -- sequence stamps and RTP headers. */
#include "examples/traffic/payload.h"

#include <string.h>

#include "examples/nf/pkt.h"

#define RTP_EXT_PROFILE 0xbede      /* RFC 8285 one-byte header */
#define RTP_EXT_ID_SEND_TIME 1
#define PCMU_SILENCE 0xff

void
payload_stamp_encode(uint8_t *p, const struct payload_stamp *s)
{
    pkt_put32(p, PAYLOAD_STAMP_MAGIC);
    pkt_put32(p + 4, s->flow);
    pkt_put64(p + 8, s->seq);
    pkt_put64(p + 16, s->t_send_ns);
}

bool
payload_stamp_decode(const uint8_t *p, size_t len, struct payload_stamp *s)
{
    if (len < PAYLOAD_STAMP_LEN || pkt_get32(p) != PAYLOAD_STAMP_MAGIC) {
        return false;
    }
    s->flow = pkt_get32(p + 4);
    s->seq = pkt_get64(p + 8);
    s->t_send_ns = pkt_get64(p + 16);
    return true;
}

void
payload_rtp_encode(uint8_t *p, const struct payload_rtp *r)
{
    p[0] = (uint8_t) (0x80 | (r->has_send_time ? 0x10 : 0));
    p[1] = (uint8_t) ((r->marker ? 0x80 : 0) | (r->pt & 0x7f));
    pkt_put16(p + 2, r->seq);
    pkt_put32(p + 4, r->timestamp);
    pkt_put32(p + 8, r->ssrc);
    uint8_t *body = p + PAYLOAD_RTP_HDR_LEN;
    if (r->has_send_time) {
        pkt_put16(body, RTP_EXT_PROFILE);
        pkt_put16(body + 2, 3);                          /* length in 32-bit words */
        body[4] = RTP_EXT_ID_SEND_TIME << 4 | (8 - 1);   /* ID 1, 8 bytes */
        pkt_put64(body + 5, r->t_send_ns);
        memset(body + 13, 0, 3);                         /* padding */
        body += PAYLOAD_RTP_EXT_LEN;
    }
    memset(body, PCMU_SILENCE, (size_t) (p + PAYLOAD_RTP_LEN - body));
}

/* Looks for the send-time element in a one-byte-header extension block. */
static bool
find_send_time(const uint8_t *ext, size_t len, uint64_t *ret)
{
    size_t i = 0;
    while (i < len) {
        uint8_t id = ext[i] >> 4, n = (uint8_t) ((ext[i] & 0x0f) + 1);
        if (ext[i] == 0) {                  /* padding */
            i++;
            continue;
        }
        if (id == 15 || i + 1 + n > len) {
            return false;
        }
        if (id == RTP_EXT_ID_SEND_TIME && n == 8) {
            *ret = pkt_get64(ext + i + 1);
            return true;
        }
        i += 1 + n;
    }
    return false;
}

bool
payload_rtp_decode(const uint8_t *p, size_t len, struct payload_rtp *r)
{
    if (len < PAYLOAD_RTP_HDR_LEN || (p[0] >> 6) != 2) {
        return false;
    }
    size_t off = PAYLOAD_RTP_HDR_LEN + (size_t) (p[0] & 0x0f) * 4;   /* CSRCs */
    if (len < off) {
        return false;
    }
    *r = (struct payload_rtp) {
        .marker = (p[1] & 0x80) != 0,
        .pt = p[1] & 0x7f,
        .seq = pkt_get16(p + 2),
        .timestamp = pkt_get32(p + 4),
        .ssrc = pkt_get32(p + 8),
    };
    if ((p[0] & 0x10) && len >= off + 4) {
        size_t ext_len = (size_t) pkt_get16(p + off + 2) * 4;
        if (pkt_get16(p + off) == RTP_EXT_PROFILE && len >= off + 4 + ext_len) {
            r->has_send_time = find_send_time(p + off + 4, ext_len, &r->t_send_ns);
        }
    }
    return true;
}
