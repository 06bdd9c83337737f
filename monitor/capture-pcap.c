/* capture-pcap.c -- replays a pcap or pcapng file, the capture back end of tests
 * (the role OVS's dummy netdev plays): the monitor then runs with no NIC at all.
 * Timestamps are read at nanosecond precision. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "diag/pcap-input.h"
#include "lib/util.h"
#include "monitor/capture-provider.h"

#define BATCH 64

struct capture_pcap {
    struct capture up;
    pcap_t *pcap;
    uint8_t *buf;               /* BATCH copies of up to snaplen bytes */
    bool eof;
};

static int
pcap_cap_open(const struct capture_config *cfg, struct capture **ret, char **ret_error)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(cfg->source,
                                                        PCAP_TSTAMP_PRECISION_NANO,
                                                        errbuf);
    if (!p) {
        *ret_error = vnet_xasprintf("%s: %s", cfg->source, errbuf);
        return -EINVAL;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        *ret_error = vnet_xasprintf("%s: link type %s, expected Ethernet", cfg->source,
                                    pcap_datalink_val_to_name(pcap_datalink(p)));
        pcap_close(p);
        return -EINVAL;
    }
    struct capture_pcap *c = vnet_xzalloc(sizeof *c);
    capture_init(&c->up, &capture_pcap_class, cfg);
    c->pcap = p;
    c->buf = vnet_xmalloc((size_t) BATCH * c->up.snaplen);
    *ret = &c->up;
    return 0;
}

static void
pcap_cap_close(struct capture *c_)
{
    struct capture_pcap *c = (struct capture_pcap *) c_;
    pcap_close(c->pcap);
    free(c->buf);
    capture_uninit(c_);
    free(c);
}

static int
pcap_cap_recv(struct capture *c_, struct capture_pkt *pkts, size_t max)
{
    struct capture_pcap *c = (struct capture_pcap *) c_;
    if (c->eof) {
        return -ENODATA;
    }
    size_t n = 0;
    max = VNET_MIN(max, (size_t) BATCH);
    while (n < max) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(c->pcap, &h, &data);
        if (rc == PCAP_ERROR_BREAK) {
            c->eof = true;
            break;
        }
        uint64_t ts_ns;
        if (rc < 0 || !pcap_input_ts_ns(&h->ts, &ts_ns)) {
            /* A truncated or corrupt file (or timestamp) ends the replay; it
             * counts as loss. */
            c->up.stats.drops++;
            c->eof = true;
            break;
        }
        uint32_t caplen = VNET_MIN(h->caplen, c->up.snaplen);
        uint8_t *copy = c->buf + n * c->up.snaplen;
        memcpy(copy, data, caplen);
        pkts[n++] = (struct capture_pkt) {
            .ts_ns = ts_ns,
            .data = copy,
            .caplen = caplen,
            .len = h->len,
        };
    }
    return n ? (int) n : c->eof ? -ENODATA : 0;
}

static int
pcap_cap_fd(const struct capture *c)
{
    return -1;
}

const struct capture_class capture_pcap_class = {
    .name = "pcap",
    .open = pcap_cap_open,
    .close = pcap_cap_close,
    .recv = pcap_cap_recv,
    .fd = pcap_cap_fd,
    .update_stats = NULL,
};
