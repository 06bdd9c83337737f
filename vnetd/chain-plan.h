/* chain-plan.h -- what a running chain is made of, computed from its template.
 *
 * A chain plan is pure data derived from a chain template and the identifiers vnetd
 * allocated for the chain (its id and its block of OpenFlow port numbers): every
 * VNode (libvirt domain name, role, resources, init argv, NICs with host-side veth
 * names, MACs, addresses and OpenFlow port numbers) and every OpenFlow rule that
 * steers traffic along the service graph.  The runtime hands the VNodes to the
 * libvirt adapter, the ports and rules to the OVS adapter, and can recompute the
 * plan at any time (after a restart) to reconcile.
 *
 * Steering (all rules carry the chain's cookie, so they are replaced or removed as a
 * set): each NF VNode has an "in" NIC (eth0) and an "out" NIC (eth1).  Forward
 * traffic goes source -> NF in ... NF out -> next NF in ... -> sink; reverse traffic
 * (replies) retraces the path from the sink back to the source.  Where the graph
 * fans out, flows are spread over the successors by the low bits of the L4 source
 * port (reverse: destination port), so both directions of a flow take the same
 * branch in diamond-shaped DAGs.  The source and sink VNodes get every ARP request
 * answered by OVS with a virtual gateway MAC, and frames delivered to them are
 * rewritten to their own MAC, so no broadcast ever crosses the chain.
 *
 * No string from a template reaches a rule: rules are built only from port numbers,
 * MACs and addresses that vnetd computed.
 *
 * Ownership: chain_plan_create() returns a plan the caller destroys. */
#ifndef VNETD_CHAIN_PLAN_H
#define VNETD_CHAIN_PLAN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/chain-template.h"

#define VNET_COOKIE_TAG 0x766e6574ull   /* "vnet" in the cookie's high 32 bits */
#define VNET_COOKIE_ROLE_STEER 0x01
#define VNET_PORTS_PER_CHAIN 256
#define VNET_GATEWAY_MAC "02:76:6e:00:00:01"

enum vnode_role { VNODE_ROLE_NF, VNODE_ROLE_SOURCE, VNODE_ROLE_SINK,
                  VNODE_ROLE_MONITOR };

struct vnode_nic {
    char ifname[16];            /* host-side veth, also the OVS port name */
    char guest[8];              /* name inside the VNode */
    uint8_t mac[6];
    uint32_t ip;                /* host byte order */
    unsigned int prefix_len;
    uint16_t ofport;
};

struct vnode_plan {
    char *domain;               /* libvirt domain name */
    char *node;                 /* template node name, "source" or "sink" */
    enum vnode_role role;
    enum vnode_kind kind;
    unsigned int cpus;
    unsigned int memory_mib;
    char **argv;                /* init program and its arguments */
    size_t argc;
    char *control;              /* control socket path, or NULL */
    char *cpuset;               /* pinned CPUs, or NULL */
    struct vnode_nic *nics;
    size_t n_nics;
};

/* A Monitoring VNet: a monitoring VNode with, for each mirrored NF, one NIC that
 * receives copies of the packets OVS delivers to the NF's "in" NIC (its arrivals)
 * and one that receives copies of the packets the NF sends from its "out" NIC (its
 * departures). */
struct chain_plan_monitor {
    const char *const *nodes;
    size_t n_nodes;
    uint32_t snaplen;
    const char *cpuset;
    unsigned int memory_mib;
};

struct mirror_plan {
    char *name;                 /* OVS Mirror row name */
    const char *node;           /* mirrored NF */
    bool arrivals;              /* else departures */
    const char *select_dst;     /* port names (point into the plan) */
    const char *select_src;
    const char *output;
};

struct chain_plan_env {
    const char *vnode_init;     /* absolute path of vnet-vnode-init */
    const char *control_dir;    /* where NF and monitor control sockets live */
    const char *store_dir;      /* the monitors' rolling capture stores */
    /* Resolves an NF program name to an absolute path (returns a malloc'd string),
     * or returns NULL if it cannot be found. */
    char *(*resolve_program)(const char *program, void *aux);
    void *aux;
};

struct chain_plan {
    char *chain;
    uint32_t chain_id;          /* 24 bits */
    char *bridge;
    uint16_t port_base;
    uint64_t cookie;            /* of the steering rules */
    uint64_t cookie_mask;       /* matches every rule of the chain */
    struct vnode_plan *vnodes;  /* NFs in topological order, source, sink, then the
                                 * monitoring VNode if there is one */
    size_t n_vnodes;
    size_t n_nf;                /* vnodes[n_nf] is the source, [n_nf + 1] the sink */
    struct mirror_plan *mirrors;
    size_t n_mirrors;
    char **flows;               /* ovs-ofctl flow syntax, with cookie and priority */
    size_t n_flows;
};

struct vnet_error;

/* Computes the plan, with a Monitoring VNet if 'monitor' is not NULL.  Fails (with a
 * message naming the node and program) only if a program cannot be resolved. */
struct vnet_error *chain_plan_create(const struct chain_template *, uint32_t chain_id,
                                     uint16_t port_base, const struct chain_plan_env *,
                                     const struct chain_plan_monitor *,
                                     struct chain_plan **ret);
void chain_plan_destroy(struct chain_plan *);

const struct vnode_plan *chain_plan_find_vnode(const struct chain_plan *,
                                               const char *node);
/* Returns the domain name of VNode 'node' of 'chain' (caller frees). */
char *chain_plan_domain_name(const char *chain, const char *node);

const char *vnode_role_to_string(enum vnode_role);
/* Formats a MAC as "xx:xx:xx:xx:xx:xx" into 'buf' (18 bytes) and returns it. */
const char *vnet_mac_to_string(const uint8_t mac[6], char buf[18]);

#endif
