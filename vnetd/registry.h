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

struct chain_entry {
    char *name;
    struct chain_template *tmpl;
    char *source;               /* file the template came from, for 'chain show' */
    int64_t loaded_at;          /* wall-clock seconds */
};

struct registry {
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

/* Serialisation for the state file: {"chains": [{"name", "source", "loaded_at",
 * "template"}...]}. */
struct json_object *registry_to_json(const struct registry *);
/* Rebuilds a registry from registry_to_json() output, validating every template
 * again.  On error '*reg' is left empty. */
struct vnet_error *registry_from_json(struct registry *, struct json_object *);

/* A chain's public description, for 'chain show' and 'chain list'. */
struct json_object *chain_entry_to_json(const struct chain_entry *, bool with_template);

#endif
