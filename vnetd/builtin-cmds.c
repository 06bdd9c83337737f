/* builtin-cmds.c -- version, list-commands, log/set, log/list, status. */
#include <config.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnet-config.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/control.h"
#include "vnetd/state-file.h"
#include "vnetd/vnetd.h"

static void
cmd_version(struct control_request *req, struct json_object *params, void *aux)
{
    struct json_object *result = json_object_new_object();
    json_object_object_add(result, "version", json_object_new_string(VNET_VERSION));
    json_object_object_add(result, "program", json_object_new_string("vnetd"));
    control_request_reply(req, result);
}

static void
cmd_list_commands(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    control_request_reply(req, control_server_commands_to_json(d->control));
}

static void
cmd_log_set(struct control_request *req, struct json_object *params, void *aux)
{
    const char *spec = json_object_get_string(json_object_object_get(params, "spec"));
    char *msg = vnlog_set_levels(spec);
    if (msg) {
        control_request_fail(req, vnet_error_create(VNET_ERR_INVALID, "%s", msg));
        free(msg);
        return;
    }
    control_request_reply(req, vnlog_levels_to_json());
}

static void
cmd_log_list(struct control_request *req, struct json_object *params, void *aux)
{
    control_request_reply(req, vnlog_levels_to_json());
}

static void
cmd_status(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "version", json_object_new_string(VNET_VERSION));
    json_object_object_add(r, "pid", json_object_new_int((int) getpid()));
    json_object_object_add(r, "uptime_s", json_object_new_double(
                               (double) (vnet_mono_ns() - d->start_ns) / 1e9));
    json_object_object_add(r, "socket", json_object_new_string(d->socket_path));
    json_object_object_add(r, "state_file",
                           json_object_new_string(state_file_path(d->state)));
    json_object_object_add(r, "state_generation", json_object_new_int64(
                               (int64_t) state_file_generation(d->state)));
    json_object_object_add(r, "chains", json_object_new_int((int) d->registry.n_chains));
    json_object_object_add(r, "clients", json_object_new_int(
                               (int) control_server_n_clients(d->control)));
    json_object_object_add(r, "notices", json_object_get(d->notices));
    json_object_object_add(r, "instance", json_object_new_string(d->registry.instance));
    if (d->runtime) {
        json_object_object_add(r, "substrate", chain_runtime_status(d->runtime));
    }
    control_request_reply(req, r);
}

static const struct control_param log_set_params[] = {
    { "spec", CP_STRING, true },
    { NULL, 0, false },
};

static const struct control_command builtin_commands[] = {
    { "version", "show the daemon's version", true, NULL, cmd_version },
    { "list-commands", "list the methods this daemon serves", true, NULL,
      cmd_list_commands },
    { "log/set", "set log levels: spec=\"module:level,...\"", false, log_set_params,
      cmd_log_set },
    { "log/list", "show the log level of every module", true, NULL, cmd_log_list },
    { "status", "daemon health, state file and counts", true, NULL, cmd_status },
    { NULL, NULL, false, NULL, NULL },
};

void
builtin_cmds_register(struct vnetd *d)
{
    control_server_register(d->control, builtin_commands, d);
}
