/* ovs-adapter.h -- vnetd's view of Open vSwitch: desired rows and rules in, status out.
 *
 * The adapter keeps an OVSDB IDL replica of the Open_vSwitch database and one
 * OpenFlow connection per bridge it uses, all driven by vnetd's poll loop
 * (ovs_adapter_run() / ovs_adapter_wait(); nothing blocks except an OpenFlow bundle
 * to the local switch, which is timed).  Callers declare the complete desired state
 * -- bridges, ports and per-chain rule sets -- and the adapter converges:
 *
 *   - rows are created, fixed and deleted in single OVSDB transactions; every row it
 *     creates carries external_ids vnet-owner (the chain, or "vnetd" for bridges)
 *     and vnet-instance (this vnetd), and only rows with this instance's tag are
 *     ever modified or deleted.  After a commit it waits for ovs-vswitchd to apply
 *     it (cur_cfg reaching next_cfg) before reporting ports ready;
 *   - a chain's rules are installed as one atomic, ordered OpenFlow 1.5 bundle that
 *     deletes the chain's previous rules (by cookie) and adds the new ones, so
 *     traffic never sees a mix.  Rules are re-checked every few seconds (flow
 *     counts per cookie) and reinstalled after ovs-vswitchd restarts; rules of
 *     unknown chains of this instance are removed.
 *
 * The IDL reconnects with backoff by itself when ovsdb-server restarts; OpenFlow
 * connections are reopened with backoff.  Works with datapath_type "netdev" and
 * "system".
 *
 * Thread-safety: main thread only. */
#ifndef VNETD_OVS_ADAPTER_H
#define VNETD_OVS_ADAPTER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ovs_adapter;

struct ovs_bridge_spec {
    const char *name;
    const char *datapath;       /* "netdev" or "system" */
};

struct ovs_port_spec {
    const char *bridge;
    const char *name;           /* port = interface name (a veth's host side) */
    uint16_t ofport;            /* requested OpenFlow port number */
    const char *chain;          /* owner */
    const char *role;           /* e.g. "nf-in", "source", "mirror" */
    bool keep_only;             /* keep the port if it exists, but neither create
                                 * nor re-create it (its VNode's state is unknown) */
};

struct ovs_flowset_spec {
    const char *bridge;
    const char *chain;
    uint64_t cookie;            /* of every rule in the set */
    uint64_t cookie_mask;       /* selects all of the chain's rules for deletion */
    const char *const *flows;   /* ovs-ofctl syntax; each includes its cookie */
    size_t n_flows;
    const char *const *ports;   /* install only once these ports are ready */
    size_t n_ports;
};

/* A port mirror: copies of what OVS sends to 'select_dst' (the packets arriving at
 * the VNode behind it) or receives from 'select_src' (the packets it sent) go to
 * 'output'.  OVS 3.1 does not revalidate installed datapath flows when mirrors
 * change (notes/ovs.md), so every change is followed by a revalidation. */
struct ovs_mirror_spec {
    const char *bridge;
    const char *name;
    const char *chain;          /* owner */
    const char *select_dst;     /* port name or NULL */
    const char *select_src;     /* port name or NULL */
    const char *output;         /* port name */
    uint32_t snaplen;           /* 0: whole packets */
};

enum ovs_port_state { OVS_PORT_ABSENT, OVS_PORT_PENDING, OVS_PORT_READY, OVS_PORT_ERROR };

struct ovs_port_status {
    enum ovs_port_state state;
    int64_t ofport;
    char error[160];
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped;
};

/* 'db' is an OVSDB remote ("unix:/run/openvswitch/db.sock"); 'rundir' holds the
 * bridges' OpenFlow management sockets; 'instance' is this vnetd's owner id. */
struct ovs_adapter *ovs_adapter_create(const char *db, const char *rundir,
                                       const char *instance);
void ovs_adapter_destroy(struct ovs_adapter *);

/* Replaces the desired state (copied).  Until the first call nothing is changed. */
void ovs_adapter_set_desired(struct ovs_adapter *,
                             const struct ovs_bridge_spec *, size_t n_bridges,
                             const struct ovs_port_spec *, size_t n_ports,
                             const struct ovs_flowset_spec *, size_t n_flowsets,
                             const struct ovs_mirror_spec *, size_t n_mirrors);

/* Returns true if the status of anything changed since the last call. */
bool ovs_adapter_run(struct ovs_adapter *);
void ovs_adapter_wait(struct ovs_adapter *);

bool ovs_adapter_connected(const struct ovs_adapter *);
/* True while vnetd holds an OpenFlow connection to ovs-vswitchd for 'bridge'. */
bool ovs_adapter_switch_connected(const struct ovs_adapter *, const char *bridge);
void ovs_adapter_port_status(const struct ovs_adapter *, const char *name,
                             struct ovs_port_status *ret);
/* True if the chain's desired rule set is installed as currently desired. */
bool ovs_adapter_flows_installed(const struct ovs_adapter *, const char *chain);
/* The last error installing the chain's rules, or NULL. */
const char *ovs_adapter_flows_error(const struct ovs_adapter *, const char *chain);
/* True if mirror 'name' exists as desired and the datapath was revalidated since. */
bool ovs_adapter_mirror_ready(const struct ovs_adapter *, const char *name);
/* Packets copied by mirror 'name' so far (its OVS statistics), or 0. */
uint64_t ovs_adapter_mirror_packets(const struct ovs_adapter *, const char *name);
/* Rows (ports, mirrors) and rule sets of 'chain' that still exist. */
size_t ovs_adapter_n_owned(const struct ovs_adapter *, const char *chain);
/* True when the database and rules match the desired state. */
bool ovs_adapter_converged(const struct ovs_adapter *);
/* Latency of the last applied bundle, in microseconds. */
uint64_t ovs_adapter_last_bundle_us(const struct ovs_adapter *);

struct ovs_port_counters {
    uint16_t ofport;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped;
};

/* Fetches the OpenFlow statistics of every port of 'bridge' (one multipart
 * request on the bridge's connection, about a millisecond on a local switch).
 * Returns the number of ports with '*ret' (caller frees), or -errno. */
int ovs_adapter_dump_ports(struct ovs_adapter *, const char *bridge,
                           struct ovs_port_counters **ret);

/* Parses every rule of a flow set the way the adapter will; returns NULL or a
 * message (caller frees) naming the bad rule.  For unit tests of flow plans. */
char *ovs_adapter_check_flows(const char *const *flows, size_t n);

#endif
