/* chain-cmds.c -- chain/load, chain/list, chain/show, chain/delete: the chain
 * templates vnetd knows. */
#include <config.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/util.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/control.h"
#include "vnetd/counters.h"
#include "diag/perfsight.h"
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

/* The chain's registration plus, when it runs, its VNodes, ports and rules. */
static struct json_object *
describe(struct vnetd *d, const struct chain_entry *e)
{
    struct json_object *obj = chain_entry_to_json(e, true);
    if (d->runtime && e->state != CHAIN_DEFINED) {
        json_object_object_add(obj, "instance", chain_runtime_describe(d->runtime, e));
    }
    return obj;
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
        control_request_reply(req, describe(d, e));
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
        control_request_reply(req, describe(d, e));
    }
}

static bool
need_runtime(struct vnetd *d, struct control_request *req)
{
    if (!d->runtime) {
        control_request_fail(req, vnet_error_create(
                                 VNET_ERR_BUSY, "this vnetd runs without a substrate "
                                 "(--no-substrate): it cannot create VNodes"));
        return false;
    }
    return true;
}

static void
cmd_chain_create(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = find_or_fail(d, req, param_string(params, "name", ""));
    if (!e || !need_runtime(d, req)) {
        return;
    }
    if (e->state != CHAIN_DEFINED) {
        control_request_fail(req, vnet_error_create(
                                 VNET_ERR_BUSY, "chain '%s' is already %s", e->name,
                                 chain_state_to_string(e->state)));
        return;
    }
    for (size_t i = 0; i < e->tmpl->n_nodes; i++) {
        if (e->tmpl->nodes[i].kind != VNODE_LXC) {
            control_request_fail(req, vnet_error_create(
                                     VNET_ERR_INVALID, "chain '%s': node '%s' is of kind "
                                     "'qemu'; this vnetd runs LXC VNodes only (QEMU "
                                     "VNodes need a guest image with the NF)", e->name,
                                     e->tmpl->nodes[i].name));
            return;
        }
    }
    /* Record the intent durably before touching the substrate. */
    struct json_object *before = registry_to_json(&d->registry);
    registry_allocate_ids(&d->registry, e);
    if (!e->port_base) {
        json_object_put(before);
        control_request_fail(req, vnet_error_create(
                                 VNET_ERR_BUSY, "bridge '%s' has no free block of "
                                 "OpenFlow port numbers", e->tmpl->bridge));
        return;
    }
    e->state = CHAIN_RUNNING;
    chain_entry_set_error(e, NULL);
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    VNLOG_INFO("creating chain '%s' (id %06x, ports %u..%u)", e->name, e->chain_id,
               e->port_base, e->port_base + 255);
    chain_runtime_hold(d->runtime, e, CHAIN_OP_CREATE, req);
}

static void
cmd_chain_delete(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    const char *name = param_string(params, "name", "");
    struct chain_entry *e = find_or_fail(d, req, name);
    if (!e) {
        return;
    }
    bool keep = param_bool(params, "keep-template");
    if (e->state != CHAIN_DEFINED) {
        if (!need_runtime(d, req)) {
            return;
        }
        /* Tear down first; the runtime unregisters it once nothing is left. */
        struct json_object *before = registry_to_json(&d->registry);
        e->state = CHAIN_DELETING;
        e->remove_when_gone = !keep;
        struct vnet_error *error = vnetd_commit(d, before);
        if (error) {
            control_request_fail(req, error);
            return;
        }
        VNLOG_INFO("deleting chain '%s'", name);
        chain_runtime_hold(d->runtime, e, CHAIN_OP_DELETE, req);
        return;
    }
    if (keep) {
        control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "chain '%s' is not "
                                                    "running; nothing to tear down",
                                                    name));
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

/* Checks a cpuset such as "1", "0-1" or "0,2-3" against the CPUs of this host. */
static bool
cpuset_valid(const char *s, long n_cpus)
{
    if (!*s || strlen(s) > 64) {
        return false;
    }
    const char *p = s;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo >= n_cpus) {
            return false;
        }
        p = end;
        if (*p == '-') {
            p++;
            hi = strtol(p, &end, 10);
            if (end == p || hi < lo || hi >= n_cpus) {
                return false;
            }
            p = end;
        }
        if (*p == ',') {
            p++;
            if (!*p) {
                return false;
            }
        } else if (*p) {
            return false;
        }
    }
    return true;
}

static void
cmd_chain_mirror(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = find_or_fail(d, req, param_string(params, "name", ""));
    if (!e || !need_runtime(d, req)) {
        return;
    }
    if (e->state != CHAIN_RUNNING) {
        control_request_fail(req, vnet_error_create(
                                 VNET_ERR_BUSY, "chain '%s' is %s; create it first",
                                 e->name, chain_state_to_string(e->state)));
        return;
    }
    if (e->monitor) {
        control_request_fail(req, vnet_error_create(
                                 VNET_ERR_BUSY, "chain '%s' already has a Monitoring "
                                 "VNet%s", e->name, e->monitor->removing
                                 ? " being removed" : "; 'unmirror' it first"));
        return;
    }
    struct monitor_spec *m = vnet_xzalloc(sizeof *m);
    struct json_object *nodes, *v;
    if (json_object_object_get_ex(params, "nodes", &nodes)) {
        size_t n = json_object_array_length(nodes);
        m->nodes = vnet_xcalloc(n ? n : 1, sizeof *m->nodes);
        for (size_t i = 0; i < n; i++) {
            const char *node = json_object_get_string(json_object_array_get_idx(nodes,
                                                                                 i));
            if (!json_object_is_type(json_object_array_get_idx(nodes, i),
                                     json_type_string)
                || chain_template_find_node(e->tmpl, node) < 0) {
                control_request_fail(req, vnet_error_create(
                                         VNET_ERR_INVALID, "params.nodes[%zu]: chain "
                                         "'%s' has no NF named '%s'", i, e->name,
                                         node ? node : "?"));
                monitor_spec_destroy(m);
                return;
            }
            m->nodes[m->n_nodes++] = vnet_xstrdup(node);
        }
    }
    if (!m->n_nodes) {
        free(m->nodes);
        m->nodes = vnet_xcalloc(e->tmpl->n_nodes, sizeof *m->nodes);
        for (size_t i = 0; i < e->tmpl->n_nodes; i++) {
            m->nodes[m->n_nodes++] = vnet_xstrdup(e->tmpl->nodes[i].name);
        }
    }
    m->snaplen = 128;
    m->memory_mib = 256;
    if (json_object_object_get_ex(params, "snaplen", &v)) {
        int64_t x = json_object_get_int64(v);
        if (x < 64 || x > 65535) {
            control_request_fail(req, vnet_error_create(
                                     VNET_ERR_INVALID, "params.snaplen: expected 64..65535 "
                                     "bytes, got %lld", (long long) x));
            monitor_spec_destroy(m);
            return;
        }
        m->snaplen = (uint32_t) x;
    }
    if (json_object_object_get_ex(params, "memory", &v)) {
        int64_t x = json_object_get_int64(v);
        if (x < 32 || x > 65536) {
            control_request_fail(req, vnet_error_create(
                                     VNET_ERR_INVALID, "params.memory: expected 32..65536 "
                                     "MiB, got %lld", (long long) x));
            monitor_spec_destroy(m);
            return;
        }
        m->memory_mib = (unsigned) x;
    }
    const char *cpus = param_string(params, "cpus", NULL);
    if (cpus) {
        long n_cpus = sysconf(_SC_NPROCESSORS_CONF);
        if (!cpuset_valid(cpus, n_cpus)) {
            control_request_fail(req, vnet_error_create(
                                     VNET_ERR_INVALID, "params.cpus: expected a CPU list "
                                     "such as \"1\" or \"0-1\" within 0..%ld, got '%s'",
                                     n_cpus - 1, cpus));
            monitor_spec_destroy(m);
            return;
        }
        m->cpus = vnet_xstrdup(cpus);
    }
    struct json_object *before = registry_to_json(&d->registry);
    e->monitor = m;
    chain_entry_set_error(e, NULL);
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    VNLOG_INFO("mirroring chain '%s' (%zu NFs, snaplen %u)", e->name, m->n_nodes,
               m->snaplen);
    chain_runtime_hold(d->runtime, e, CHAIN_OP_MIRROR, req);
}

static void
cmd_chain_unmirror(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = find_or_fail(d, req, param_string(params, "name", ""));
    if (!e || !need_runtime(d, req)) {
        return;
    }
    if (!e->monitor) {
        control_request_fail(req, vnet_error_create(VNET_ERR_NOT_FOUND, "chain '%s' has "
                                                    "no Monitoring VNet", e->name));
        return;
    }
    struct json_object *before = registry_to_json(&d->registry);
    e->monitor->removing = true;
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    VNLOG_INFO("removing the Monitoring VNet of chain '%s'", e->name);
    chain_runtime_hold(d->runtime, e, CHAIN_OP_UNMIRROR, req);
}

/* PerfSight over the counters the agent sampled. */
static void
cmd_counters_diagnose(struct control_request *req, struct json_object *params, void *aux)
{
    struct vnetd *d = aux;
    struct chain_entry *e = find_or_fail(d, req, param_string(params, "name", ""));
    if (!e || !need_runtime(d, req)) {
        return;
    }
    struct json_object *w;
    double window = 1.0;
    if (json_object_object_get_ex(params, "window", &w)) {
        window = json_object_get_double(w);
        if (!(window >= 0.1 && window <= 12)) {
            control_request_fail(req, vnet_error_create(
                                     VNET_ERR_INVALID, "params.window: expected "
                                     "0.1..12 seconds, got %g", window));
            return;
        }
    }
    struct perfsight_report *report;
    struct vnet_error *error = counters_diagnose(chain_runtime_counters(d->runtime),
                                                 e->name, (uint64_t) (window * 1e9),
                                                 &report);
    if (error) {
        control_request_fail(req, error);
        return;
    }
    struct json_object *r = perfsight_report_to_json(report);
    perfsight_report_destroy(report);
    control_request_reply(req, r);
}

static const struct control_param counters_params[] = {
    { "name", CP_NAME, true },
    { "window", CP_NUMBER, false },
    { NULL, 0, false },
};

static const struct control_param mirror_params[] = {
    { "name", CP_NAME, true },
    { "nodes", CP_ARRAY, false },
    { "snaplen", CP_INT, false },
    { "cpus", CP_STRING, false },
    { "memory", CP_INT, false },
    { NULL, 0, false },
};

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

static const struct control_param delete_params[] = {
    { "name", CP_NAME, true },
    { "keep-template", CP_BOOL, false },
    { NULL, 0, false },
};

static const struct control_command chain_commands[] = {
    { "chain/load", "register a chain template: file=NAME text=JSON [replace]", false,
      load_params, cmd_chain_load },
    { "chain/list", "list the registered chains", true, NULL, cmd_chain_list },
    { "chain/show", "show one chain: name=CHAIN", true, name_params, cmd_chain_show },
    { "chain/create", "create the chain's VNodes, ports and rules: name=CHAIN", false,
      name_params, cmd_chain_create },
    { "chain/delete", "tear down and remove a chain: name=CHAIN [keep-template]",
      false, delete_params, cmd_chain_delete },
    { "chain/mirror", "create the chain's Monitoring VNet: name=CHAIN [nodes] [snaplen] "
      "[cpus] [memory]", false, mirror_params, cmd_chain_mirror },
    { "chain/unmirror", "remove the chain's Monitoring VNet: name=CHAIN", false,
      name_params, cmd_chain_unmirror },
    { "counters/diagnose", "PerfSight over the sampled counters: name=CHAIN "
      "[window=SECONDS]", true, counters_params, cmd_counters_diagnose },
    { NULL, NULL, false, NULL, NULL },
};

void
chain_cmds_register(struct vnetd *d)
{
    control_server_register(d->control, chain_commands, d);
}
