/* registry.h -- vnetd's desired state: the chains it knows and what was asked of them.
 *
 * The registry is the single source of truth that is persisted (state-file.h) after
 * every change and before the change is acknowledged to a client, so a crash never
 * loses an acknowledged change.  It holds plain data; the modules that act on the
 * substrate (OVS, libvirt) read it and reconcile towards it.
 *
 * Ownership: the registry owns its entries and their templates. */
#ifndef VNETD_REGISTRY_H
#define VNETD_REGISTRY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chain_template;
struct json_object;
struct vnet_error;

/* What the operator asked for a chain; the runtime converges the substrate to it. */
enum chain_state {
    CHAIN_DEFINED,              /* template registered, nothing running */
    CHAIN_RUNNING,              /* VNodes, ports and rules wanted */
    CHAIN_DELETING,             /* everything it made is being removed */
};

/* A Monitoring VNet asked for a chain ('vnetctl mirror'). */
struct monitor_spec {
    char **nodes;               /* mirrored NFs, in template order */
    size_t n_nodes;
    uint32_t snaplen;           /* bytes kept per packet, by OVS and the capture */
    char *cpus;                 /* cpuset of the monitoring VNode, or NULL */
    unsigned int memory_mib;
    bool removing;              /* 'vnetctl unmirror' in progress */
};

/* A Shadow VNet ('vnetctl shadow create').  The chain has two sides of NF VNodes:
 * side 'base' runs the chain's template, the other side runs 'tmpl', the shadow's
 * template (the chain's plus the fixes tried on it).  'active' is the side serving
 * production; a swap flips it.  Retiring removes the inactive side; if that is the
 * base side, the other side becomes the chain's base from then on. */
struct shadow_spec {
    struct chain_template *tmpl;
    int active;
    unsigned int swaps;
    bool retiring;
    uint64_t drain_until_ns;    /* monotonic (persisted as wall-clock time): until
                                 * then the side that served production before the
                                 * last swap still delivers the packets that
                                 * entered it */
};

struct chain_entry {
    char *name;
    struct chain_template *tmpl;
    char *source;               /* file the template came from, for 'chain show' */
    int64_t loaded_at;          /* wall-clock seconds */
    enum chain_state state;
    bool remove_when_gone;      /* DELETING: unregister once torn down */
    uint32_t chain_id;          /* 24-bit id used in names, MACs and cookies; 0 = none */
    uint16_t port_base;         /* first OpenFlow port number of its block; 0 = none */
    char *last_error;           /* why the last operation failed, or NULL */
    struct monitor_spec *monitor;   /* Monitoring VNet, or NULL */
    int base_side;                  /* the side (0 or 1) 'tmpl' runs on */
    struct shadow_spec *shadow;     /* Shadow VNet, or NULL */
};

struct registry {
    char *instance;                 /* this vnetd's owner id, fixed at first start */
    struct chain_entry **chains;    /* sorted by name */
    size_t n_chains, cap_chains;
};

void registry_init(struct registry *);
void registry_destroy(struct registry *);

struct chain_entry *registry_find(const struct registry *, const char *name);

/* Adds a chain for 'tmpl' (ownership taken).  Fails with VNET_ERR_EXISTS if the name
 * is taken, unless 'replace'. */
struct vnet_error *registry_add(struct registry *, struct chain_template *tmpl,
                                const char *source, int64_t loaded_at, bool replace);
/* Removes and frees chain 'name'; returns false if there is none. */
bool registry_remove(struct registry *, const char *name);

/* Allocates an unused chain id for 'e' (derived from its name) and the lowest free
 * block of OpenFlow port numbers on its bridge. */
void registry_allocate_ids(struct registry *, struct chain_entry *);
void chain_entry_set_error(struct chain_entry *, const char *msg);
void monitor_spec_destroy(struct monitor_spec *);
void shadow_spec_destroy(struct shadow_spec *);
/* The template of 'side' of chain 'e', or NULL if that side does not exist. */
const struct chain_template *chain_entry_side_template(const struct chain_entry *,
                                                        int side);
/* The side serving production. */
int chain_entry_active_side(const struct chain_entry *);
struct json_object *monitor_spec_to_json(const struct monitor_spec *);
const char *chain_state_to_string(enum chain_state);

/* Serialisation for the state file: {"instance", "chains": [{"name", "source",
 * "loaded_at", "template", "state", "chain_id", "port_base", ...}...]}. */
struct json_object *registry_to_json(const struct registry *);
/* Rebuilds a registry from registry_to_json() output, validating every template
 * again.  On error '*reg' is left empty. */
struct vnet_error *registry_from_json(struct registry *, struct json_object *);

/* A chain's public description, for 'chain show' and 'chain list'. */
struct json_object *chain_entry_to_json(const struct chain_entry *, bool with_template);

#endif
