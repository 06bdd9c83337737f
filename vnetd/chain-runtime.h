/* chain-runtime.h -- turns the registry's chains into running VNodes, ports and
 * rules, and reports on them.
 *
 * The runtime derives, from every chain the registry wants running, a chain plan
 * (chain-plan.h) and from the plans the complete desired state of both adapters:
 * the libvirt domains (built with domain-xml.h), the OVS bridges and ports (a
 * VNode's ports are wanted once its domain runs, because its veth exists only
 * then), and one rule set per chain.  It pushes that state whenever the registry or
 * what the adapters observe changes; the adapters converge.  Because everything is
 * recomputed from the registry, a restarted vnetd re-adopts what it finds by owner
 * tag instead of creating it twice, finishes interrupted deletions, and removes
 * objects of chains it no longer knows.
 *
 * Long operations ("chain create", "chain delete") are control requests the runtime
 * holds until the substrate has converged (or failed, or timed out), then answers.
 * A failed create is rolled back: the chain returns to "defined" and everything made
 * for it is removed.
 *
 * Thread-safety: main thread only. */
#ifndef VNETD_CHAIN_RUNTIME_H
#define VNETD_CHAIN_RUNTIME_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chain_entry;
struct chain_plan_cpu;
struct chain_runtime;
struct control_request;
struct json_object;
struct libvirt_adapter;
struct ovs_adapter;
struct vnetd;

struct chain_runtime_config {
    const char *libvirt_uri;
    const char *ovs_db;
    const char *ovs_rundir;
    const char *datapath;           /* "auto", "netdev" or "system" */
    const char *templates_dir;      /* holds domains/lxc.xml */
    const char *vnode_init;         /* absolute path of vnet-vnode-init */
    const char *nf_path;            /* colon-separated directories for NF programs */
    const char *control_dir;        /* NF and monitor control sockets */
    const char *store_dir;          /* monitors' rolling capture stores */
    unsigned int op_timeout_s;      /* long operations give up after this */
    const struct chain_plan_cpu *cpu;   /* CPU limits by role (copied); NULL: none */
};

/* What a held request waits for. */
enum chain_op {
    CHAIN_OP_CREATE,                /* the chain runs */
    CHAIN_OP_DELETE,                /* the chain is torn down */
    CHAIN_OP_MIRROR,                /* its Monitoring VNet runs */
    CHAIN_OP_UNMIRROR,              /* its Monitoring VNet is gone */
    CHAIN_OP_CONVERGE,              /* everything it wants runs (shadow create, set,
                                     * edit, swap, rollback) */
    CHAIN_OP_RETIRE,                /* its inactive side is gone */
    CHAIN_OP_SWAP,                  /* the rules of its new production side are
                                     * installed (swap, rollback: the rest, such as
                                     * the monitor following production, converges
                                     * after the reply) */
};

struct chain_runtime *chain_runtime_create(struct vnetd *,
                                           const struct chain_runtime_config *);
void chain_runtime_destroy(struct chain_runtime *);

void chain_runtime_run(struct chain_runtime *);
void chain_runtime_wait(struct chain_runtime *);

/* Recompute the desired state (call after changing the registry). */
void chain_runtime_changed(struct chain_runtime *);

/* Holds 'req' until chain 'e' reaches the state 'op' waits for, then answers it. */
void chain_runtime_hold(struct chain_runtime *, struct chain_entry *, enum chain_op,
                        struct control_request *);

/* NULL if every NF VNode of side 'side' of chain 'e' runs, has its ports ready and
 * its NF answers on its control socket; otherwise why not (written to 'buf'). */
const char *chain_runtime_side_progress(struct chain_runtime *,
                                        const struct chain_entry *, int side,
                                        char *buf, size_t size);

/* The counters agent (PerfSight input) of this runtime. */
struct counters *chain_runtime_counters(struct chain_runtime *);

/* The monitoring VNode's control socket for chain 'e', or NULL if it has none. */
const char *chain_runtime_monitor_control(struct chain_runtime *,
                                          const struct chain_entry *);

/* Describes the chain's VNodes, ports and rules as observed now. */
struct json_object *chain_runtime_describe(struct chain_runtime *,
                                           const struct chain_entry *);
/* {"libvirt": {...}, "ovs": {...}} for 'status'. */
struct json_object *chain_runtime_status(struct chain_runtime *);

#endif
