/* payload.h -- the payload formats vnet-gen writes and vnet-sink reads.
 *
 * Sequence stamp (--seq), at the start of a UDP payload, 24 bytes, big-endian:
 *   uint32 magic 0x564e5331 ("VNS1") | uint32 flow id | uint64 sequence number
 *   (0, 1, 2, ... per flow) | uint64 send time, CLOCK_MONOTONIC nanoseconds
 *
 * RTP (--rtp, RFC 3550), a G.711 voice stream: a 12-byte header (V=2, X=1, PT=0
 * PCMU, 16-bit sequence number, 32-bit timestamp at 8 kHz, +160 per packet, SSRC),
 * then an RFC 8285 one-byte-header extension (profile 0xBEDE, 3 words) carrying one
 * element, ID 1, 8 bytes: the send time in CLOCK_MONOTONIC nanoseconds (big-endian),
 * so the sink measures one-way delay; then 160 bytes of PCMU payload (20 ms).
 * UDP payload: 12 + 16 + 160 = 188 bytes.  An RTP packet without the extension is
 * still decoded (sequence numbers and timestamps; no delay).
 *
 * Pure functions; thread-safe. */
#ifndef VNET_EXAMPLES_PAYLOAD_H
#define VNET_EXAMPLES_PAYLOAD_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_STAMP_MAGIC 0x564e5331u
#define PAYLOAD_STAMP_LEN 24

#define PAYLOAD_RTP_HDR_LEN 12
#define PAYLOAD_RTP_EXT_LEN 16
#define PAYLOAD_RTP_SAMPLES 160          /* G.711, 20 ms at 8 kHz */
#define PAYLOAD_RTP_LEN (PAYLOAD_RTP_HDR_LEN + PAYLOAD_RTP_EXT_LEN + PAYLOAD_RTP_SAMPLES)
#define PAYLOAD_RTP_CLOCK_HZ 8000

struct payload_stamp {
    uint32_t flow;
    uint64_t seq;
    uint64_t t_send_ns;
};

struct payload_rtp {
    uint8_t pt;
    bool marker;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    bool has_send_time;             /* our header extension was present */
    uint64_t t_send_ns;
};

/* Writes a stamp at 'p' (PAYLOAD_STAMP_LEN bytes). */
void payload_stamp_encode(uint8_t *p, const struct payload_stamp *);

/* Reads a stamp from 'p' of 'len' bytes.  Returns false if there is none. */
bool payload_stamp_decode(const uint8_t *p, size_t len, struct payload_stamp *);

/* Writes a full RTP packet (PAYLOAD_RTP_LEN bytes) at 'p': header, send-time
 * extension (if rtp->has_send_time; otherwise an extension-less header followed by
 * 176 payload bytes) and PCMU silence. */
void payload_rtp_encode(uint8_t *p, const struct payload_rtp *);

/* Decodes an RTP header at 'p' of 'len' bytes.  Returns false if it is not RTP
 * version 2 or is truncated. */
bool payload_rtp_decode(const uint8_t *p, size_t len, struct payload_rtp *);

#endif
