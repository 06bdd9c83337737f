/* metrics.h -- vnetd's Prometheus endpoint (off by default).
 *
 * With --metrics ADDR:PORT (loopback addresses only) vnetd answers every HTTP
 * request on that address with the text exposition format (version 0.0.4):
 *
 *   vnet_up, vnet_chains, vnet_chain_running{chain}, vnet_chain_mirrored{chain},
 *   vnet_chain_shadowed{chain}, vnet_swaps_total{chain},
 *   vnet_vnode_port_packets_total{chain,vnode,port,direction},
 *   vnet_vnode_port_dropped_total{chain,vnode,port,direction}   (OpenFlow port
 *     statistics; direction "to_vnode" or "from_vnode"),
 *   and, for a mirrored chain, from its monitoring agent's latest analysis window:
 *   vnet_nf_queue_packets{chain,nf,quantile="0.5"|"0.99"|"1"},
 *   vnet_nf_latency_seconds{chain,nf,quantile}, vnet_nf_arrivals_total{chain,nf},
 *   vnet_nf_drops_total{chain,nf,class="tail"|"internal"|"policy"},
 *   vnet_nf_match_ratio{chain,nf}, vnet_capture_dropped_total{chain,nf}.
 *
 * The agent is asked with a 100 ms timeout; an agent that does not answer in time
 * leaves its chain's NF metrics out of that scrape (vnet_monitor_up{chain} says so)
 * rather than stalling vnetd.  A client gets one response and the connection is
 * closed; requests are not parsed beyond waiting for them.
 *
 * Runs in vnetd's poll loop.  Thread-safety: main thread only. */
#ifndef VNETD_METRICS_H
#define VNETD_METRICS_H 1

struct metrics;
struct vnet_error;
struct vnetd;

/* Listens on 'addr' ("127.0.0.1:9464", "[::1]:9464").  Returns NULL and '*ret', or
 * an error naming the address and what was wrong with it. */
struct vnet_error *metrics_open(struct vnetd *, const char *addr, struct metrics **ret);
void metrics_close(struct metrics *);

void metrics_run(struct metrics *);
void metrics_wait(struct metrics *);

/* The exposition text (caller frees). */
char *metrics_render(struct vnetd *);

#endif
