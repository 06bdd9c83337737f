#include "diag/pcap-input.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"

struct pcap_input {
    char *path;
    pcap_t *pcap;
    bool pcapng, nanosecond, done;
    uint64_t last_ts;
    struct pcap_input_pkt pkt;
    struct pcap_input_stats stats;
};

#define PCAP_INPUT_BUFFER (256 * 1024)

/* The first four bytes of the formats libpcap reads, as a little-endian word. */
#define MAGIC_PCAP_US 0xa1b2c3d4u
#define MAGIC_PCAP_NS 0xa1b23c4du
#define MAGIC_PCAP_MOD 0xa1b2cd34u
#define MAGIC_PCAPNG 0x0a0d0d0au

static uint32_t
bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

struct vnet_error *
pcap_input_open(const char *path, struct pcap_input **ret)
{
    FILE *fp = fopen(path, "rbe");
    if (!fp) {
        return vnet_error_from_errno(-errno, "%s", path);
    }
    uint8_t head[24];           /* a pcap file header */
    size_t got = fread(head, 1, sizeof head, fp);
    if (got < 4) {
        bool empty = !got && !ferror(fp);
        fclose(fp);
        return vnet_error_create(VNET_ERR_INVALID, "%s: %s (expected a pcap or pcapng "
                                 "capture)", path,
                                 empty ? "empty file" : "truncated file header");
    }
    uint32_t magic = (uint32_t) head[0] | (uint32_t) head[1] << 8
                     | (uint32_t) head[2] << 16 | (uint32_t) head[3] << 24;
    bool pcapng = magic == MAGIC_PCAPNG;
    bool ns = magic == MAGIC_PCAP_NS || bswap32(magic) == MAGIC_PCAP_NS;
    bool pcap = (ns || magic == MAGIC_PCAP_US || bswap32(magic) == MAGIC_PCAP_US
                 || magic == MAGIC_PCAP_MOD || bswap32(magic) == MAGIC_PCAP_MOD);
    if (!pcapng && !pcap) {
        fclose(fp);
        return vnet_error_create(VNET_ERR_INVALID, "%s: not a pcap or pcapng file "
                                 "(starts with %02x %02x %02x %02x)", path, head[0],
                                 head[1], head[2], head[3]);
    }
    if (pcap && got < sizeof head) {
        fclose(fp);
        return vnet_error_create(VNET_ERR_INVALID, "%s: truncated pcap file header "
                                 "(%zu of %zu bytes)", path, got, sizeof head);
    }
    rewind(fp);
    /* One thread reads a file: no stdio locking, and larger reads. */
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    setvbuf(fp, NULL, _IOFBF, PCAP_INPUT_BUFFER);

    char errbuf[PCAP_ERRBUF_SIZE] = "";
    /* libpcap owns 'fp' once it succeeds (pcap_close() closes it). */
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO,
                                                         errbuf);
    if (!p) {
        fclose(fp);
        return vnet_error_create(VNET_ERR_INVALID, "%s: %s", path,
                                 errbuf[0] ? errbuf : "unreadable capture file");
    }
    int dlt = pcap_datalink(p);
    if (dlt != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(dlt);
        struct vnet_error *error = vnet_error_create(
            VNET_ERR_INVALID, "%s: link type %s (%d); expected Ethernet (EN10MB, 1) as "
            "captured on a mirror port", path, name ? name : "unknown", dlt);
        pcap_close(p);
        return error;
    }
    struct pcap_input *in = vnet_xzalloc(sizeof *in);
    in->path = vnet_xstrdup(path);
    in->pcap = p;
    in->pcapng = pcapng;
    in->nanosecond = ns;
    *ret = in;
    return NULL;
}

struct vnet_error *
pcap_input_next(struct pcap_input *in, const struct pcap_input_pkt **ret)
{
    if (in->done) {
        *ret = NULL;
        return NULL;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(in->pcap, &h, &data);
    if (rc == PCAP_ERROR_BREAK) {
        in->done = true;
        *ret = NULL;
        return NULL;
    }
    uint64_t n = in->stats.packets + 1;
    if (rc != 1) {
        in->done = true;
        return vnet_error_create(VNET_ERR_INVALID, "%s: packet %llu: %s", in->path,
                                 (unsigned long long) n,
                                 rc == PCAP_ERROR ? pcap_geterr(in->pcap)
                                 : "unreadable record");
    }
    if (h->caplen > h->len) {
        in->done = true;
        return vnet_error_create(VNET_ERR_INVALID, "%s: packet %llu: corrupt record: "
                                 "%u bytes captured of a %u-byte packet", in->path,
                                 (unsigned long long) n, h->caplen, h->len);
    }
    uint64_t ts;
    if (!pcap_input_ts_ns(&h->ts, &ts)) {
        in->done = true;
        return vnet_error_create(VNET_ERR_INVALID, "%s: packet %llu: timestamp %lld s "
                                 "+ %lld ns is corrupt (negative, a fraction of a "
                                 "second or more, or past the year 2554, where "
                                 "nanoseconds since 1970 wrap)", in->path,
                                 (unsigned long long) n, (long long) h->ts.tv_sec,
                                 (long long) h->ts.tv_usec);
    }
    if (ts < in->last_ts) {
        in->stats.backwards++;
        ts = in->last_ts;
    }
    in->last_ts = ts;
    in->stats.packets = n;
    in->stats.snapped += h->caplen < h->len;
    in->pkt = (struct pcap_input_pkt) { ts, data, h->caplen, h->len };
    *ret = &in->pkt;
    return NULL;
}

bool
pcap_input_ts_ns(const struct timeval *tv, uint64_t *ns)
{
    if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000000
        || (uint64_t) tv->tv_sec > PCAP_INPUT_MAX_SEC) {
        return false;
    }
    *ns = (uint64_t) tv->tv_sec * 1000000000u + (uint64_t) tv->tv_usec;
    return true;
}

bool
pcap_input_is_pcapng(const struct pcap_input *in)
{
    return in->pcapng;
}

bool
pcap_input_is_nanosecond(const struct pcap_input *in)
{
    return in->nanosecond;
}

const char *
pcap_input_path(const struct pcap_input *in)
{
    return in->path;
}

const struct pcap_input_stats *
pcap_input_stats(const struct pcap_input *in)
{
    return &in->stats;
}

void
pcap_input_close(struct pcap_input *in)
{
    if (!in) {
        return;
    }
    pcap_close(in->pcap);
    free(in->path);
    free(in);
}
