/* counters.h -- vnetd's counters agent: element statistics for PerfSight.
 *
 * Every 100 ms the agent samples, for every running chain, the counters of the
 * PerfSight elements it can read on this host (diag/perfsight.h):
 *   - each VNode NIC, as the switch sees it (OpenFlow port statistics, so it works
 *     whatever network namespace the switch and the veths live in): packets sent
 *     toward the VNode and those dropped on the way ("veth");
 *   - each VNode's CPU time and CFS throttling from its cgroup ("vnode-cpu");
 *   - the host's per-CPU backlog from /proc/net/softnet_stat ("backlog") and its
 *     CPU time from /proc/stat ("host-cpu").
 * It keeps a ring of snapshots per element (12.8 s), so a diagnosis compares the
 * newest snapshot with the one a window earlier.  Counters it cannot read here
 * (pNIC ethtool counters, qdiscs inside VNodes, sockets of TCP NFs) are absent,
 * not invented.
 *
 * Runs in vnetd's poll loop.  Thread-safety: main thread only. */
#ifndef VNETD_COUNTERS_H
#define VNETD_COUNTERS_H 1

#include <stddef.h>
#include <stdint.h>

struct counters;
struct json_object;
struct ovs_adapter;
struct perfsight_report;
struct vnet_error;

struct counters_target {
    const char *chain;
    const char *bridge;
    const char *vnode;          /* display name: the NF, "source", "nat-b", ... */
    const char *domain;         /* libvirt domain (for its cgroup) */
    unsigned int cpus;
    const char *ifname;         /* one NIC; a VNode appears once per NIC */
    uint16_t ofport;
};

struct counters *counters_create(struct ovs_adapter *);
void counters_destroy(struct counters *);

/* Replaces the set of things to sample (copied). */
void counters_set_targets(struct counters *, const struct counters_target *, size_t n);

void counters_run(struct counters *);
void counters_wait(struct counters *);

/* Runs PerfSight Algorithm 1 over chain 'chain''s elements and the host's, between
 * the newest snapshot and the one 'window_ns' before it.  Returns NULL and '*ret',
 * or an error when there are not yet two snapshots. */
struct vnet_error *counters_diagnose(struct counters *, const char *chain,
                                     uint64_t window_ns, struct perfsight_report **ret);

/* {"samples", "elements", "interval_ms", "cpu_us_per_sample", "cpu_share"} */
struct json_object *counters_status(const struct counters *);

#endif
