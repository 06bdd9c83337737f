/* capture-provider.h -- the interface a capture back end implements.
 *
 * Like OVS's netdev providers: each back end defines one 'struct capture_class'
 * and embeds 'struct capture' at the start of its own state. */
#ifndef MONITOR_CAPTURE_PROVIDER_H
#define MONITOR_CAPTURE_PROVIDER_H 1

#include "monitor/capture.h"

struct capture {
    const struct capture_class *class;
    char *source;
    uint32_t tag;
    uint32_t snaplen;
    struct capture_stats stats;
};

struct capture_class {
    const char *name;
    /* Allocates and opens; fills '*ret' (whose base the caller initialised through
     * capture_init()). */
    int (*open)(const struct capture_config *, struct capture **ret, char **ret_error);
    void (*close)(struct capture *);
    int (*recv)(struct capture *, struct capture_pkt *, size_t max);
    int (*fd)(const struct capture *);
    /* Refreshes capture->stats.drops from the back end, if it counts them. */
    void (*update_stats)(struct capture *);
};

void capture_init(struct capture *, const struct capture_class *,
                  const struct capture_config *);
void capture_uninit(struct capture *);

extern const struct capture_class capture_afpacket_class;
extern const struct capture_class capture_pcap_class;
#ifdef VNET_HAVE_DPDK
extern const struct capture_class capture_dpdk_class;
#endif

#endif
