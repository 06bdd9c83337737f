/* capture.h -- packet capture sources for the monitoring agent.
 *
 * A 'struct capture' delivers batches of packets from one source: an AF_PACKET
 * TPACKET_V3 ring on an interface (the default), a pcap/pcapng file replayed for
 * tests, or (optional build) a DPDK port.  Back ends implement 'struct
 * capture_class' (capture-provider.h); callers pick one by name.
 *
 * Every packet carries a nanosecond timestamp from the kernel (or the file) and the
 * caller's 'tag' for the source, so a capture of many sources stays attributable.
 * Loss is never hidden: capture_get_stats() reports what the back end knows it lost
 * (kernel ring drops for AF_PACKET).
 *
 * Ownership: packets returned by capture_recv() belong to the capture and stay valid
 * until the next capture_recv() or capture_close().  Thread-safety: one thread per
 * capture. */
#ifndef MONITOR_CAPTURE_H
#define MONITOR_CAPTURE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capture;

struct capture_config {
    const char *source;         /* interface name, or file path for "pcap" */
    uint32_t tag;               /* copied into every packet of this source */
    uint32_t snaplen;           /* bytes kept per packet (0: 128) */
    uint32_t ring_mb;           /* AF_PACKET ring size (0: 16 MiB) */
    bool promiscuous;           /* AF_PACKET: receive frames for any MAC */
};

struct capture_pkt {
    uint64_t ts_ns;             /* CLOCK_REALTIME nanoseconds */
    const uint8_t *data;
    uint32_t caplen, len;
    uint32_t tag;
};

struct capture_stats {
    uint64_t packets;           /* delivered to the caller */
    uint64_t drops;             /* lost by the back end (ring full, ...) */
    uint64_t truncated;         /* packets longer than the snaplen */
};

/* Opens a capture with back end 'class_name' ("afpacket", "pcap", "dpdk").
 * Returns 0 or -errno (-ENOTSUP for an unknown or unavailable back end); on failure
 * '*ret_error' (if not NULL) gets a message naming the source (caller frees). */
int capture_open(const char *class_name, const struct capture_config *,
                 struct capture **ret, char **ret_error);
void capture_close(struct capture *);

/* Returns up to 'max' packets available now (0 if none; -ENODATA at the end of a
 * replayed file; -errno on failure).  Never blocks. */
int capture_recv(struct capture *, struct capture_pkt *pkts, size_t max);

/* A file descriptor that becomes readable when packets arrive, or -1 if the back
 * end must be polled (file replay is always ready). */
int capture_fd(const struct capture *);

void capture_get_stats(struct capture *, struct capture_stats *);
const char *capture_source(const struct capture *);

/* Lists the compiled-in back ends, e.g. "afpacket pcap" (static string). */
const char *capture_classes(void);

#endif
