/* vnetd.h -- the daemon's context, shared by the modules that register commands.
 *
 * There is one 'struct vnetd' per process.  Command modules (builtin-cmds.c,
 * chain-cmds.c, ...) get it as their handler 'aux'. */
#ifndef VNETD_VNETD_H
#define VNETD_VNETD_H 1

#include <stdbool.h>
#include <stdint.h>

#include "vnetd/registry.h"

struct chain_runtime;
struct control_server;
struct json_object;
struct state_file;
struct vnet_error;

struct vnetd {
    struct control_server *control;
    struct registry registry;
    struct state_file *state;
    struct json_object *notices;   /* recoveries done at start-up, shown by 'status' */
    struct chain_runtime *runtime; /* NULL when started with --no-substrate */
    uint64_t start_ns;
    const char *socket_path;
    bool exiting;
};

/* Persists the registry after a change.  'before' is registry_to_json() taken
 * before the change (ownership taken): if the state cannot be saved, the registry is
 * restored from it and an error is returned, so memory and disk never disagree. */
struct vnet_error *vnetd_commit(struct vnetd *, struct json_object *before);

void builtin_cmds_register(struct vnetd *);
void chain_cmds_register(struct vnetd *);
void shadow_cmds_register(struct vnetd *);

#endif
