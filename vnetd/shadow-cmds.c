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
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/control.h"
#include "vnetd/registry.h"
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

/* Replaces the inactive side's template by 'tj' (validated; ownership of 'tj'
 * taken).  'what' prefixes error messages. */
static struct vnet_error *
replace_inactive(struct chain_entry *e, struct json_object *tj, const char *what)
{
    struct chain_template *t;
    struct vnet_error *error = chain_template_from_json(what, tj, &t);
    json_object_put(tj);
    if (error) {
        return error;
    }
    struct chain_template **slot = inactive_template(e);
    const struct chain_template *prod = chain_entry_side_template(e, e->shadow->active);
    bool same = t->n_nodes == prod->n_nodes && t->n_edges == prod->n_edges
                && !memcmp(t->edges, prod->edges, t->n_edges * sizeof *t->edges);
    for (size_t i = 0; same && i < t->n_nodes; i++) {
        same = !strcmp(t->nodes[i].name, prod->nodes[i].name);
    }
    if (!same) {
        chain_template_destroy(t);
        return vnet_error_create(VNET_ERR_INVALID, "%s: the shadow must keep "
                                 "production's nodes and graph (change NF modes, "
                                 "arguments and resources instead)", what);
    }
    chain_template_destroy(*slot);
    *slot = t;
    return NULL;
}

static struct json_object *
find_node_json(struct json_object *tj, const char *node)
{
    struct json_object *nodes = json_object_object_get(tj, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        struct json_object *n = json_object_array_get_idx(nodes, i);
        if (!strcmp(json_object_get_string(json_object_object_get(n, "name")), node)) {
            return n;
        }
    }
    return NULL;
}

/* Applies one "key=value" setting to a node's JSON. */
static struct vnet_error *
apply_setting(struct json_object *node, const char *key, struct json_object *value)
{
    struct json_object *nf = json_object_object_get(node, "nf");
    static const struct { const char *key, *field; bool in_nf, integer; } map[] = {
        { "cpus", "cpus", false, true }, { "memory", "memory", false, true },
        { "queue", "queue", true, true }, { "peak_pps", "peak_pps", true, true },
        { "mode", "mode", true, false }, { "args", "args", true, false },
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(map); i++) {
        if (strcmp(map[i].key, key)) {
            continue;
        }
        const char *text = json_object_get_string(value);
        struct json_object *v;
        if (!strcmp(key, "args")) {
            /* Split on spaces: no quoting, no shell semantics. */
            v = json_object_new_array();
            char *copy = vnet_xstrdup(text), *save = NULL;
            for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                json_object_array_add(v, json_object_new_string(w));
            }
            free(copy);
        } else if (map[i].integer) {
            unsigned long long n;
            if (vnet_parse_uint(text, 0, 1ull << 40, &n)) {
                return vnet_error_create(VNET_ERR_INVALID, "%s: expected a number, got "
                                         "'%s'", key, text);
            }
            v = json_object_new_int64((int64_t) n);
        } else {
            v = json_object_new_string(text);
        }
        json_object_object_add(map[i].in_nf ? nf : node, map[i].field, v);
        return NULL;
    }
    return vnet_error_create(VNET_ERR_INVALID, "'%s': unknown setting (expected cpus, "
                             "memory, queue, peak_pps, mode or args)", key);
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
    struct json_object *tj = chain_template_to_json(*inactive_template(e));
    struct json_object *nj = find_node_json(tj, node);
    struct vnet_error *error = NULL;
    if (!nj) {
        error = vnet_error_create(VNET_ERR_NOT_FOUND, "chain '%s' has no NF '%s'",
                                  e->name, node);
    }
    struct json_object *settings = json_object_object_get(params, "settings");
    if (!error && !json_object_object_length(settings)) {
        error = vnet_error_create(VNET_ERR_INVALID, "no setting given (KEY=VALUE)");
    }
    if (!error) {
        json_object_object_foreach(settings, key, value) {
            if (!json_object_is_type(value, json_type_string)) {
                error = vnet_error_create(VNET_ERR_INVALID, "params.settings.%s: expected "
                                          "a string", key);
                break;
            }
            if ((error = apply_setting(nj, key, value))) {
                break;
            }
        }
    }
    if (error) {
        json_object_put(tj);
        control_request_fail(req, vnet_error_wrap(error, "shadow set %s", node));
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    char *what = vnet_xasprintf("shadow set %s", node);
    error = replace_inactive(e, tj, what);
    free(what);
    if (error) {
        json_object_put(before);
        control_request_fail(req, error);
        return;
    }
    VNLOG_INFO("chain '%s': shadow NF '%s' changed", e->name, node);
    commit_and_hold(d, e, before, CHAIN_OP_CONVERGE, req);
}

/* RFC 7396 JSON merge patch of 'patch' into 'target'. */
static void
merge_patch(struct json_object *target, struct json_object *patch)
{
    json_object_object_foreach(patch, key, value) {
        struct json_object *cur = json_object_object_get(target, key);
        if (!value) {
            json_object_object_del(target, key);
        } else if (json_object_is_type(value, json_type_object)
                   && json_object_is_type(cur, json_type_object)) {
            merge_patch(cur, value);
        } else {
            json_object_object_add(target, key, json_object_get(value));
        }
    }
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
    struct json_object *patch;
    struct vnet_error *error = jv_parse(text, strlen(text), &patch);
    if (error) {
        control_request_fail(req, vnet_error_wrap(error, "%s", file));
        return;
    }
    static const char *const fields[] = { "nodes", NULL };
    struct jpath root = JPATH_ROOT;
    struct json_object *nodes = NULL;
    error = jv_check_object(patch, &root, fields);
    if (!error) {
        error = jv_get_member(patch, &root, "nodes", true, &nodes);
    }
    if (!error && !json_object_is_type(nodes, json_type_object)) {
        struct jpath p = JPATH_KEY(&root, "nodes");
        error = jv_error_expected(&p, "an object keyed by node name", nodes);
    }
    struct json_object *tj = chain_template_to_json(*inactive_template(e));
    if (!error) {
        struct jpath p_nodes = JPATH_KEY(&root, "nodes");
        json_object_object_foreach(nodes, node, change) {
            struct jpath p = JPATH_KEY(&p_nodes, node);
            struct json_object *nj = find_node_json(tj, node);
            if (!nj) {
                error = jv_error(&p, "chain '%s' has no NF named \"%s\"", e->name, node);
                break;
            }
            if (!json_object_is_type(change, json_type_object)) {
                error = jv_error_expected(&p, "an object (a merge patch of the node)",
                                          change);
                break;
            }
            if (json_object_object_get(change, "name")) {
                error = jv_error(&p, "a node cannot be renamed in a shadow");
                break;
            }
            merge_patch(nj, change);
        }
    }
    json_object_put(patch);
    if (error) {
        json_object_put(tj);
        control_request_fail(req, vnet_error_wrap(error, "%s", file));
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    error = replace_inactive(e, tj, file);
    if (error) {
        json_object_put(before);
        control_request_fail(req, error);
        return;
    }
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
    struct json_object *before = registry_to_json(&d->registry);
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
