/* shadow-cmds.c -- shadow/create, shadow/show, shadow/set, shadow/edit,
 * shadow/retire, swap and rollback: the Shadow VNet of a chain.
 *
 * A fix is always applied to the inactive side (the shadow), never to the side
 * serving production.  Every change is recorded in the registry before the
 * substrate is touched, so a crash in the middle leaves either the old or the new
 * state: a swap is one persisted flip of the active side followed by one atomic
 * OpenFlow bundle, which the runtime (re)applies until it is in place. */
#include <config.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/control.h"
#include "vnetd/registry.h"
#include "vnetd/shadow-fix.h"
#include "vnetd/vnetd.h"

VNLOG_DEFINE_THIS_MODULE(shadow);

static const char *
param_string(struct json_object *params, const char *key)
{
    struct json_object *v;
    return params && json_object_object_get_ex(params, key, &v)
           ? json_object_get_string(v) : NULL;
}

/* Finds a running chain with the runtime available; fails 'req' otherwise. */
static struct chain_entry *
running_chain(struct vnetd *d, struct control_request *req, struct json_object *params,
              bool need_shadow)
{
    const char *name = param_string(params, "name");
    struct chain_entry *e = registry_find(&d->registry, name);
    const char *why = (!e ? "is not loaded"
                       : !d->runtime ? "cannot run here (vnetd has no substrate)"
                       : e->state != CHAIN_RUNNING ? "is not running"
                       : need_shadow && !e->shadow ? "has no Shadow VNet ('vnetctl "
                                                      "shadow create' first)"
                       : need_shadow && e->shadow->retiring ? "has its shadow being "
                                                              "retired"
                       : NULL);
    if (why) {
        control_request_fail(req, vnet_error_create(e ? VNET_ERR_BUSY : VNET_ERR_NOT_FOUND,
                                                    "chain '%s' %s", name, why));
        return NULL;
    }
    return e;
}

/* Commits the registry change begun at 'before' and holds 'req' until 'op'. */
static void
commit_and_hold(struct vnetd *d, struct chain_entry *e, struct json_object *before,
                enum chain_op op, struct control_request *req)
{
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    chain_runtime_hold(d->runtime, e, op, req);
}

static void
cmd_shadow_create(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, false);
    if (!e) {
        return;
    }
    if (e->shadow) {
        control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "chain '%s' already "
                                                    "has a Shadow VNet", e->name));
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    struct shadow_spec *sh = vnet_xzalloc(sizeof *sh);
    sh->tmpl = chain_template_clone(e->tmpl);
    sh->active = e->base_side;
    e->shadow = sh;
    VNLOG_INFO("creating the Shadow VNet of chain '%s'", e->name);
    commit_and_hold(d, e, before, CHAIN_OP_CONVERGE, req);
}

/* The template of the inactive side: where fixes go. */
static struct chain_template **
inactive_template(struct chain_entry *e)
{
    int inactive = !e->shadow->active;
    return inactive == e->base_side ? &e->tmpl : &e->shadow->tmpl;
}

/* Makes 't' the inactive side's template (ownership taken). */
static void
replace_inactive(struct chain_entry *e, struct chain_template *t)
{
    struct chain_template **slot = inactive_template(e);
    chain_template_destroy(*slot);
    *slot = t;
}

static void
cmd_shadow_set(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, true);
    if (!e) {
        return;
    }
    const char *node = param_string(params, "node");
    struct chain_template *t;
    struct vnet_error *error = shadow_fix_set(
        *inactive_template(e), chain_entry_side_template(e, e->shadow->active), e->name,
        node, json_object_object_get(params, "settings"), &t);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    replace_inactive(e, t);
    VNLOG_INFO("chain '%s': shadow NF '%s' changed", e->name, node);
    commit_and_hold(d, e, before, CHAIN_OP_CONVERGE, req);
}

static void
cmd_shadow_edit(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, true);
    if (!e) {
        return;
    }
    const char *file = vnet_basename(param_string(params, "file"));
    const char *text = param_string(params, "text");
    struct chain_template *t;
    struct vnet_error *error = shadow_fix_edit(
        *inactive_template(e), chain_entry_side_template(e, e->shadow->active), e->name,
        file, text, strlen(text), &t);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    replace_inactive(e, t);
    VNLOG_INFO("chain '%s': shadow edited with '%s'", e->name, file);
    commit_and_hold(d, e, before, CHAIN_OP_CONVERGE, req);
}

static void
flip(struct control_request *req, struct json_object *params, void *aux, bool rollback)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, true);
    if (!e) {
        return;
    }
    if (rollback && e->shadow->active == e->base_side) {
        control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "chain '%s' runs its "
                                                    "original side: nothing to roll "
                                                    "back", e->name));
        return;
    }
    /* Traffic goes to the other side only once every NF there forwards: right
     * after 'shadow create' or 'shadow set' its NFs may still be starting. */
    char why[300];
    if (d->runtime && chain_runtime_side_progress(d->runtime, e, !e->shadow->active,
                                                  why, sizeof why)) {
        control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "chain '%s': side %d "
                                                    "is not ready to serve production: "
                                                    "%s; try again", e->name,
                                                    !e->shadow->active, why));
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    /* Packets in the old production side are still delivered for a while; after
     * that its exits stop delivering (a shadow's output never reaches production). */
    e->shadow->drain_until_ns = vnet_mono_ns() + chain_plan_drain_ns(
        chain_entry_side_template(e, e->shadow->active));
    e->shadow->active = !e->shadow->active;
    e->shadow->swaps++;
    VNLOG_INFO("chain '%s': %s, side %d now serves production", e->name,
               rollback ? "rollback" : "swap", e->shadow->active);
    commit_and_hold(d, e, before, CHAIN_OP_SWAP, req);
}

static void
cmd_swap(struct control_request *req, struct json_object *params, void *aux)
{
    flip(req, params, aux, false);
}

static void
cmd_rollback(struct control_request *req, struct json_object *params, void *aux)
{
    flip(req, params, aux, true);
}

static void
cmd_shadow_retire(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, true);
    if (!e) {
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    e->shadow->retiring = true;
    VNLOG_INFO("chain '%s': retiring side %d", e->name, !e->shadow->active);
    commit_and_hold(d, e, before, CHAIN_OP_RETIRE, req);
}

static void
cmd_shadow_show(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = running_chain(d, req, params, true);
    if (!e) {
        return;
    }
    struct json_object *r = chain_runtime_describe(d->runtime, e);
    struct json_object *sh = json_object_new_object();
    int active = e->shadow->active;
    json_object_object_add(sh, "production_side", json_object_new_int(active));
    json_object_object_add(sh, "shadow_side", json_object_new_int(!active));
    json_object_object_add(sh, "swaps", json_object_new_int((int) e->shadow->swaps));
    json_object_object_add(sh, "production_template", chain_template_to_json(
                               chain_entry_side_template(e, active)));
    json_object_object_add(sh, "shadow_template", chain_template_to_json(
                               chain_entry_side_template(e, !active)));
    json_object_object_add(sh, "note", json_object_new_string(
                               "shadow VNodes start from their configuration: the live "
                               "state of stateful NFs (NAT mappings, firewall "
                               "connection tables) is not cloned"));
    json_object_object_add(r, "shadow", sh);
    control_request_reply(req, r);
}

static const struct control_param name_params[] = {
    { "name", CP_NAME, true },
    { NULL, 0, false },
};

static const struct control_param set_params[] = {
    { "name", CP_NAME, true },
    { "node", CP_NAME, true },
    { "settings", CP_OBJECT, true },
    { NULL, 0, false },
};

static const struct control_param edit_params[] = {
    { "name", CP_NAME, true },
    { "file", CP_STRING, true },
    { "text", CP_STRING, true },
    { NULL, 0, false },
};

static const struct control_command shadow_commands[] = {
    { "shadow/create", "clone the chain into a Shadow VNet fed duplicated traffic: "
      "name=CHAIN", false, name_params, cmd_shadow_create },
    { "shadow/show", "the chain's two sides: name=CHAIN", true, name_params,
      cmd_shadow_show },
    { "shadow/set", "change a shadow NF: name=CHAIN node=NF settings={KEY: VALUE}",
      false, set_params, cmd_shadow_set },
    { "shadow/edit", "merge-patch the shadow's template: name=CHAIN file=F text=JSON",
      false, edit_params, cmd_shadow_edit },
    { "shadow/retire", "remove the side not serving production: name=CHAIN", false,
      name_params, cmd_shadow_retire },
    { "swap", "atomically make the shadow serve production: name=CHAIN", false,
      name_params, cmd_swap },
    { "rollback", "swap back to the original side: name=CHAIN", false, name_params,
      cmd_rollback },
    { NULL, NULL, false, NULL, NULL },
};

void
shadow_cmds_register(struct vnetd *d)
{
    control_server_register(d->control, shadow_commands, d);
}
