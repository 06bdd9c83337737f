/* chain-plan.h -- what a running chain is made of, computed from its templates.
 *
 * A chain plan is pure data derived from the chain's template(s) and the identifiers
 * vnetd allocated for it (its id and its block of OpenFlow port numbers): every VNode
 * (libvirt domain name, role, resources, init argv, NICs with host-side veth names,
 * MACs, addresses and OpenFlow port numbers), every port mirror of its Monitoring
 * VNet, and every OpenFlow rule (shadow/flow-plan.h).  The runtime hands the VNodes
 * to the libvirt adapter and the ports, mirrors and rules to the OVS adapter, and
 * can recompute the plan at any time (after a restart) to reconcile.
 *
 * A chain has one or two sides of NF VNodes.  Side 0 is the chain as first created;
 * side 1 holds the shadow clones ("vnet-<chain>-<node>-b"), built from the shadow's
 * template (production's plus the operator's fixes).  The two sides have the same
 * guest-side MACs and addresses and their own host ports; the active side serves
 * production, the other gets a duplicate of the ingress traffic and its output is
 * dropped.  A side-1 VNode's definition is the clone (shadow/clone.h) of the
 * definition its template would give a side-0 VNode, which the plan provides as
 * its 'original'.
 *
 * No string from a template reaches a rule: rules are built only from port numbers,
 * MACs and addresses that vnetd computed.
 *
 * Isolation: the inactive side's output never reaches the sink or the source
 * (except, while 'draining' after a swap, the packets that entered while it served
 * production), and every port of the monitoring VNode is receive-only (a rule drops
 * what it sends).  With CPU limits in the environment, the VNodes serving
 * production, the source and the sink get the production shares and no cap; the
 * inactive side's NFs and the monitoring VNode get their own shares and a quota
 * (vnetd's defaults: a shadow NF gets production's shares and may use the CPUs its
 * template declares, as production's NF, and no more, so a comparison stays fair
 * and a runaway shadow is bounded; the monitor gets a quarter of the shares and
 * half a CPU).  The limits follow the role: after a swap the new production side
 * is uncapped (the libvirt adapter applies the change to the running VNodes).
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
    char *node;                 /* template node name, "source", "sink", "monitor" */
    enum vnode_role role;
    int side;                   /* NFs: 0 or 1 */
    enum vnode_kind kind;
    unsigned int cpus;
    unsigned int memory_mib;
    char **argv;                /* init program and its arguments */
    size_t argc;
    char *control;              /* control socket path, or NULL */
    char *cpuset;               /* pinned CPUs, or NULL */
    /* CPU limits (libvirt <cputune>), all 0 when the environment sets none:
     * relative weight, and at most 'cpu_quota_us' of CPU time per 'cpu_period_us'
     * (-1: no cap). */
    unsigned int cpu_shares;
    unsigned int cpu_period_us;
    int cpu_quota_us;
    struct vnode_nic *nics;
    size_t n_nics;
    struct vnode_plan *original;    /* side 1: the same VNode named as side 0 */
};

/* A Monitoring VNet: a monitoring VNode with, for each mirrored NF of the active
 * side, one NIC that receives copies of the packets OVS delivers to the NF's "in"
 * NIC (its arrivals) and one that receives copies of the packets the NF sends from
 * its "out" NIC (its departures); with a shadow, also copies of what the source
 * sends (the chain's entry) and of what each side's last NF sends (its exit). */
struct chain_plan_monitor {
    const char *const *nodes;
    size_t n_nodes;
    uint32_t snaplen;
    const char *cpuset;
    unsigned int memory_mib;
};

struct mirror_plan {
    char *name;                 /* OVS Mirror row name */
    char *what;                 /* "<nf>:in", "<nf>:out", "@ingress", "@exit0", ... */
    const char *select_dst;     /* port names (point into the plan) */
    const char *select_src;
    const char *output;
};

/* CPU limits by role (vnetd's configuration).  Quotas are in percent of each CPU
 * the VNode has (its template's 'cpus'; the monitoring VNode has one) per
 * 'period_us'; 0 means no cap. */
struct chain_plan_cpu {
    unsigned int production_shares;     /* production NFs, source, sink */
    unsigned int shadow_shares, shadow_quota_pct;
    unsigned int monitor_shares, monitor_quota_pct;
    unsigned int period_us;
};

struct chain_plan_env {
    const char *vnode_init;     /* absolute path of vnet-vnode-init */
    const char *control_dir;    /* where NF and monitor control sockets live */
    const char *store_dir;      /* the monitors' rolling capture stores */
    /* Resolves an NF program name to an absolute path (returns a malloc'd string),
     * or returns NULL if it cannot be found. */
    char *(*resolve_program)(const char *program, void *aux);
    void *aux;
    const struct chain_plan_cpu *cpu;   /* NULL: no CPU limits */
};

struct chain_plan_input {
    const struct chain_template *tmpl[2];   /* per side; NULL: the side is absent */
    int active;                             /* the side serving production */
    uint32_t chain_id;
    uint16_t port_base;
    const struct chain_plan_monitor *monitor;   /* NULL: no Monitoring VNet */
    bool draining;              /* a swap is recent: the inactive side still
                                 * delivers what entered while it served production */
};

struct chain_plan {
    char *chain;
    uint32_t chain_id;          /* 24 bits */
    char *bridge;
    uint16_t port_base;
    int active;
    uint64_t cookie;            /* of the steering rules */
    uint64_t cookie_mask;       /* matches every rule of the chain */
    struct vnode_plan *vnodes;  /* side 0 NFs, side 1 NFs, source, sink, monitor */
    size_t n_vnodes;
    size_t n_nf;                /* NFs per side */
    int nf_first[2];            /* index of a side's first NF in vnodes, or -1 */
    size_t source_idx, sink_idx;
    struct mirror_plan *mirrors;
    size_t n_mirrors;
    uint16_t observe_exit[2];   /* by side: the monitoring VNode's port that gets a
                                 * copy of what the side emits at egress (0: none) */
    char **flows;               /* ovs-ofctl flow syntax, with cookie and priority */
    size_t n_flows;
};

struct vnet_error;

/* Computes the plan.  Fails (with a message naming the node and program) only if a
 * program cannot be resolved, or if the two sides' graphs differ. */
struct vnet_error *chain_plan_create(const struct chain_plan_input *,
                                     const struct chain_plan_env *,
                                     struct chain_plan **ret);
void chain_plan_destroy(struct chain_plan *);

/* How long after a swap the side that served production keeps delivering the
 * packets that entered it before: twice the longest the chain can hold a packet
 * (each NF's queue at its peak rate) plus one second. */
uint64_t chain_plan_drain_ns(const struct chain_template *);

/* The VNode of NF 'node' on 'side', or of "source"/"sink"/"monitor" (side ignored). */
const struct vnode_plan *chain_plan_find_vnode(const struct chain_plan *,
                                               const char *node, int side);
/* Returns the domain name of VNode 'node' of 'chain' on 'side' (caller frees). */
char *chain_plan_domain_name(const char *chain, const char *node, int side);

const char *vnode_role_to_string(enum vnode_role);
/* Formats a MAC as "xx:xx:xx:xx:xx:xx" into 'buf' (18 bytes) and returns it. */
const char *vnet_mac_to_string(const uint8_t mac[6], char buf[18]);

#endif
