/* pcap-input.h -- reading capture files (pcap, nanosecond pcap, pcapng) for offline
 * diagnosis, through libpcap.
 *
 * Timestamps are read at nanosecond precision whatever the file holds (microsecond
 * files are scaled).  Only Ethernet (DLT_EN10MB) captures are accepted: mirrored
 * OVS ports deliver Ethernet frames.  Problems come back as errors that name the
 * file and the problem: not a capture file, empty, wrong link type, a truncated
 * header or packet record, a record that claims more captured bytes than the
 * packet had, a timestamp past PCAP_INPUT_MAX_SEC (pcapng's 64-bit timestamps reach
 * further than 64-bit nanoseconds).
 *
 * A timestamp earlier than the previous packet's (captures of several queues are
 * not strictly ordered) is raised to it, so a file always reads in time order;
 * 'backwards' counts such packets.
 *
 * Ownership: the packet returned by pcap_input_next() belongs to the reader and
 * stays valid until the next call or pcap_input_close().  Thread-safety: one thread
 * per reader. */
#ifndef DIAG_PCAP_INPUT_H
#define DIAG_PCAP_INPUT_H 1

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

struct pcap_input;
struct vnet_error;

/* The last second whose nanoseconds fit in 64 bits (in the year 2554). */
#define PCAP_INPUT_MAX_SEC ((UINT64_MAX - 999999999u) / 1000000000u)

/* Converts the timestamp of a record read at nanosecond precision ('tv_usec'
 * holds nanoseconds) into '*ns' since the epoch.  Returns false, leaving '*ns'
 * alone, if it is negative, its fraction is a second or more, or its second is
 * past PCAP_INPUT_MAX_SEC.  Shared by every reader of foreign capture files. */
bool pcap_input_ts_ns(const struct timeval *, uint64_t *ns);

struct pcap_input_pkt {
    uint64_t ts_ns;             /* since the epoch */
    const uint8_t *data;
    uint32_t caplen;            /* bytes in 'data' */
    uint32_t len;               /* bytes the packet had on the wire */
};

struct pcap_input_stats {
    uint64_t packets;           /* read so far */
    uint64_t snapped;           /* packets cut by the snaplen (caplen < len) */
    uint64_t backwards;         /* timestamps raised to keep time order */
};

/* Opens capture file 'path'.  Returns NULL and '*ret', or an error "<path>: ...". */
struct vnet_error *pcap_input_open(const char *path, struct pcap_input **ret);

/* Reads the next packet.  Returns NULL and '*ret' (NULL at the end of the file),
 * or an error "<path>: packet N: ..." for a truncated or corrupt record, after
 * which the reader only returns the same end. */
struct vnet_error *pcap_input_next(struct pcap_input *,
                                   const struct pcap_input_pkt **ret);

/* True if the file is pcapng; true if it is a pcap file of nanosecond timestamps
 * (pcapng gives a resolution per interface, which libpcap converts). */
bool pcap_input_is_pcapng(const struct pcap_input *);
bool pcap_input_is_nanosecond(const struct pcap_input *);

const char *pcap_input_path(const struct pcap_input *);
const struct pcap_input_stats *pcap_input_stats(const struct pcap_input *);

void pcap_input_close(struct pcap_input *);

#endif
