/* chain-cmds.c -- chain/load, chain/list, chain/show, chain/delete: the chain
 * templates vnetd knows. */
#include <config.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/util.h"
#include "vnetd/control.h"
#include "vnetd/registry.h"
#include "vnetd/vnetd.h"

VNLOG_DEFINE_THIS_MODULE(chain);

static const char *
param_string(struct json_object *params, const char *key, const char *dflt)
{
    struct json_object *v;
    return (params && json_object_object_get_ex(params, key, &v)
            ? json_object_get_string(v) : dflt);
}

static bool
param_bool(struct json_object *params, const char *key)
{
    struct json_object *v;
    return params && json_object_object_get_ex(params, key, &v)
           && json_object_get_boolean(v);
}

static void
cmd_chain_load(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    const char *file = param_string(params, "file", "template");
    const char *text = param_string(params, "text", "");
    bool replace = param_bool(params, "replace");
    struct chain_template *tmpl;

    struct vnet_error *error = chain_template_parse(vnet_basename(file), text,
                                                    strlen(text), &tmpl);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    char *name = vnet_xstrdup(tmpl->name);
    struct json_object *before = registry_to_json(&d->registry);
    error = registry_add(&d->registry, tmpl, file, (int64_t) time(NULL), replace);
    if (error) {
        json_object_put(before);
    } else {
        error = vnetd_commit(d, before);
    }
    if (error) {
        control_request_fail(req, error);
    } else {
        VNLOG_INFO("loaded chain '%s' from '%s'", name, file);
        struct chain_entry *e = registry_find(&d->registry, name);
        control_request_reply(req, chain_entry_to_json(e, true));
    }
    free(name);
}

static void
cmd_chain_list(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct json_object *array = json_object_new_array();
    for (size_t i = 0; i < d->registry.n_chains; i++) {
        json_object_array_add(array, chain_entry_to_json(d->registry.chains[i], false));
    }
    control_request_reply(req, array);
}

static struct chain_entry *
find_or_fail(struct vnetd *d, struct control_request *req, const char *name)
{
    struct chain_entry *e = registry_find(&d->registry, name);
    if (!e) {
        control_request_fail(req, vnet_error_create(VNET_ERR_NOT_FOUND,
                                                    "no chain named '%s' is loaded",
                                                    name));
    }
    return e;
}

static void
cmd_chain_show(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = find_or_fail(d, req, param_string(params, "name", ""));
    if (e) {
        control_request_reply(req, chain_entry_to_json(e, true));
    }
}

static void
cmd_chain_delete(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    const char *name = param_string(params, "name", "");
    if (!find_or_fail(d, req, name)) {
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    registry_remove(&d->registry, name);
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    VNLOG_INFO("deleted chain '%s'", name);
    struct json_object *result = json_object_new_object();
    json_object_object_add(result, "deleted", json_object_new_string(name));
    control_request_reply(req, result);
}

static const struct control_param load_params[] = {
    { "file", CP_STRING, true },
    { "text", CP_STRING, true },
    { "replace", CP_BOOL, false },
    { NULL, 0, false },
};

static const struct control_param name_params[] = {
    { "name", CP_NAME, true },
    { NULL, 0, false },
};

static const struct control_command chain_commands[] = {
    { "chain/load", "register a chain template: file=NAME text=JSON [replace]", false,
      load_params, cmd_chain_load },
    { "chain/list", "list the registered chains", true, NULL, cmd_chain_list },
    { "chain/show", "show one chain: name=CHAIN", true, name_params, cmd_chain_show },
    { "chain/delete", "remove a chain: name=CHAIN", false, name_params,
      cmd_chain_delete },
    { NULL, NULL, false, NULL, NULL },
};

void
chain_cmds_register(struct vnetd *d)
{
    control_server_register(d->control, chain_commands, d);
}
