/* timelog.h -- per-packet ground truth written by vnet-nf --log-times FILE.
 *
 * Used to measure how faithfully the passive monitor reconstructs each NF's queue
 * (specs/diagnosis.md, S11).  Binary, host byte order (little-endian on x86-64):
 *
 *   header (16 bytes):  char magic[8] = "VNFTLOG1"; uint32 record_size (48);
 *                       uint32 reserved (0)
 *   then one 48-byte 'struct nf_timelog_record' per packet, in the order the NF
 *   finished with them (departure or drop).  Python: struct "<QQIIIHHHHHBBB3xI".
 *
 * Times are CLOCK_REALTIME nanoseconds, the clock of kernel capture timestamps
 * (pcap), so they compare directly with a monitor's capture on the same host:
 * t_arr is the kernel's receive stamp of the frame on the NF's interface (the moment
 * it entered the NF's socket queue), t_done the time sendmmsg() returned for the
 * batch that carried it, or the moment it was dropped.
 *
 * Records are buffered (1 MiB) and flushed when the NF stops: the file is complete
 * after a clean stop (SIGTERM/SIGINT), not after SIGKILL.
 *
 * Status values map onto the diagnosis model's hop status: FORWARDED; TAIL (the
 * queue was full: DROPPED_TAIL); POLICY (firewall deny or a NAT that cannot
 * translate: CONSUMED); FAULT (the 'drop' fault: DROPPED_INTERNAL); TX_ERROR (the
 * kernel refused the send); OVERSIZE (frame larger than a queue slot). */
#ifndef VNET_EXAMPLES_TIMELOG_H
#define VNET_EXAMPLES_TIMELOG_H 1

#include <stdint.h>

struct vnet_error;

enum nf_timelog_status {
    NF_TL_FORWARDED = 0,
    NF_TL_TAIL = 1,
    NF_TL_POLICY = 2,
    NF_TL_FAULT = 3,
    NF_TL_TX_ERROR = 4,
    NF_TL_OVERSIZE = 5,
};

struct nf_timelog_record {
    uint64_t t_arr_ns;
    uint64_t t_done_ns;
    uint32_t sip, dip;              /* IPv4 addresses as received (0 if not IPv4) */
    uint32_t xlate_ip;              /* NAT: new source (forward) / destination (reverse) */
    uint16_t sport, dport;          /* as received; ICMP echo: the identifier in both */
    uint16_t xlate_port;            /* NAT: the rewritten port; else 0 */
    uint16_t ip_id;
    uint16_t len;                   /* frame length */
    uint8_t proto;
    uint8_t status;                 /* enum nf_timelog_status */
    uint8_t dir;                    /* 0 forward (--in to --out), 1 reverse */
    uint8_t pad[3];
    uint32_t qlen;                  /* packets queued ahead of it on arrival */
};

_Static_assert(sizeof(struct nf_timelog_record) == 48, "record layout is a file format");

#define NF_TIMELOG_MAGIC "VNFTLOG1"

struct nf_timelog;

/* Creates (truncates) 'path' and writes the header.  Returns NULL and '*ret_log', or
 * an error naming the file. */
struct vnet_error *nf_timelog_open(const char *path, struct nf_timelog **ret_log);

/* Appends one record (buffered). */
void nf_timelog_write(struct nf_timelog *, const struct nf_timelog_record *);

/* Flushes and closes.  Returns 0 or -errno of the first failed write.  Accepts NULL. */
int nf_timelog_close(struct nf_timelog *);

#endif
