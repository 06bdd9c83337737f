/* chain-template.h -- the chain template: what a production NF chain looks like.
 *
 * A template (JSON, documented in vnet-chain(5) and templates/chains/) names the
 * VNodes of a chain (kind, NF program and parameters, CPUs, memory), the service
 * graph between the reserved endpoints "ingress" and "egress" (an ordered chain or
 * DAG edges), the addressing of the traffic source and sink, and the OVS bridge.
 *
 * chain_template_parse() validates everything and returns an error naming the file,
 * the JSON path and what was expected.  A parsed template is immutable; its graph is
 * always held as edges, with nodes in a topological order.
 *
 * Ownership: the caller owns a returned template (chain_template_destroy()). */
#ifndef VNET_CHAIN_TEMPLATE_H
#define VNET_CHAIN_TEMPLATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "names.h"

struct json_object;
struct vnet_error;

#define CHAIN_INGRESS "ingress"
#define CHAIN_EGRESS "egress"
#define CHAIN_MAX_NODES 32
#define CHAIN_MAX_ARGS 64
#define CHAIN_BRIDGE_MAX 15     /* IFNAMSIZ - 1: an OVS bridge is also a netdev */

enum vnode_kind { VNODE_LXC, VNODE_QEMU };

struct chain_node {
    char *name;
    enum vnode_kind kind;
    char *program;          /* NF executable, run as the VNode's init */
    char *mode;             /* NF mode (--mode), or NULL */
    char **args;            /* further NF arguments, passed verbatim */
    size_t n_args;
    unsigned int cpus;
    unsigned int memory_mib;
    uint64_t peak_pps;      /* calibrated peak rate for diagnosis; 0 = unknown */
    unsigned int queue;     /* NF queue capacity in packets; 0 = program default */
};

struct chain_edge {
    int from, to;           /* node indexes, or CHAIN_EP_INGRESS / CHAIN_EP_EGRESS */
};
#define CHAIN_EP_INGRESS (-1)
#define CHAIN_EP_EGRESS (-2)

struct chain_template {
    char *name;
    char *description;
    char *bridge;
    char *datapath;                 /* "auto", "netdev" or "system" */
    uint32_t subnet;                /* host byte order */
    unsigned int prefix_len;
    uint32_t source_ip, sink_ip;    /* host byte order */
    struct chain_node *nodes;       /* in topological order */
    size_t n_nodes;
    struct chain_edge *edges;
    size_t n_edges;
};

/* Parses and validates the JSON text 'text' of 'len' bytes; 'label' (usually the
 * file name) prefixes every error message. */
struct vnet_error *chain_template_parse(const char *label, const char *text, size_t len,
                                        struct chain_template **ret);
struct vnet_error *chain_template_from_json(const char *label, struct json_object *,
                                            struct chain_template **ret);
/* Reads and parses the file 'path'; errors name the file's base name. */
struct vnet_error *chain_template_load_file(const char *path,
                                            struct chain_template **ret);

/* Returns the canonical JSON form (graph as edges).  Parsing it again yields an
 * equal template. */
struct json_object *chain_template_to_json(const struct chain_template *);

struct chain_template *chain_template_clone(const struct chain_template *);
void chain_template_destroy(struct chain_template *);

/* Returns the index of node 'name', or -1. */
int chain_template_find_node(const struct chain_template *, const char *name);
/* Returns the name of endpoint or node 'idx' (see struct chain_edge). */
const char *chain_template_endpoint_name(const struct chain_template *, int idx);

const char *vnode_kind_to_string(enum vnode_kind);

#endif
