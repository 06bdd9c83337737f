#include "monitor/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "monitor/capture-provider.h"

static const struct capture_class *const classes[] = {
    &capture_afpacket_class,
    &capture_pcap_class,
#ifdef VNET_HAVE_DPDK
    &capture_dpdk_class,
#endif
};

const char *
capture_classes(void)
{
#ifdef VNET_HAVE_DPDK
    return "afpacket pcap dpdk";
#else
    return "afpacket pcap";
#endif
}

void
capture_init(struct capture *c, const struct capture_class *class,
             const struct capture_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->class = class;
    c->source = vnet_xstrdup(cfg->source);
    c->tag = cfg->tag;
    c->snaplen = cfg->snaplen ? cfg->snaplen : 128;
}

void
capture_uninit(struct capture *c)
{
    free(c->source);
}

int
capture_open(const char *class_name, const struct capture_config *cfg,
             struct capture **ret, char **ret_error)
{
    for (size_t i = 0; i < VNET_ARRAY_SIZE(classes); i++) {
        if (!strcmp(classes[i]->name, class_name)) {
            char *error = NULL;
            int rc = classes[i]->open(cfg, ret, &error);
            if (rc && ret_error) {
                *ret_error = error ? error : vnet_xasprintf("%s: %s", cfg->source,
                                                            strerror(-rc));
            } else {
                free(error);
            }
            return rc;
        }
    }
    if (ret_error) {
        *ret_error = vnet_xasprintf("unknown capture back end '%s' (available: %s)",
                                    class_name, capture_classes());
    }
    return -ENOTSUP;
}

void
capture_close(struct capture *c)
{
    if (c) {
        c->class->close(c);
    }
}

int
capture_recv(struct capture *c, struct capture_pkt *pkts, size_t max)
{
    int n = c->class->recv(c, pkts, max);
    if (n > 0) {
        c->stats.packets += (uint64_t) n;
        for (int i = 0; i < n; i++) {
            pkts[i].tag = c->tag;
            c->stats.truncated += pkts[i].len > pkts[i].caplen;
        }
    }
    return n;
}

int
capture_fd(const struct capture *c)
{
    return c->class->fd(c);
}

void
capture_get_stats(struct capture *c, struct capture_stats *st)
{
    if (c->class->update_stats) {
        c->class->update_stats(c);
    }
    *st = c->stats;
}

const char *
capture_source(const struct capture *c)
{
    return c->source;
}
