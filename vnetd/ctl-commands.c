#include "vnetd/ctl-commands.h"
#include "vnetd/ctl-diagnose.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/rpc-client.h"
#include "lib/util.h"
#include "vnet-config.h"

const struct ctl_option ctl_global_options[] = {
    { "socket", 0, "PATH", "vnetd's control socket (default " VNET_DEFAULT_SOCKET
      ", or $VNET_SOCKET)" },
    { "json", 0, NULL, "print the result as JSON" },
    { "timeout", 0, "SECS", "give up waiting for vnetd after SECS seconds (default 150)" },
    { "help", 0, NULL, "show this help" },
    { "version", 0, NULL, "show vnetctl's version" },
    { "man", 0, NULL, "print the manual page vnetctl(8) (troff)" },
    { "bash-completion", 0, NULL, "print a bash completion script" },
    { NULL, 0, NULL, NULL },
};

const char *
ctl_get_option(const struct ctl_context *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_opts; i++) {
        if (!strcmp(ctx->opts[i].name, name)) {
            return ctx->opts[i].value ? ctx->opts[i].value : "";
        }
    }
    return NULL;
}

void
ctl_print_json(struct ctl_context *ctx, struct json_object *obj)
{
    fprintf(ctx->out, "%s\n", json_object_to_json_string_ext(
                obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                | JSON_C_TO_STRING_NOSLASHESCAPE));
}

bool
ctl_report_is_html(const char *file)
{
    size_t n = file ? strlen(file) : 0;
    return n >= 5 && !strcmp(file + n - 5, ".html");
}

int
ctl_write_report(struct ctl_context *ctx, const char *what, const char *file,
                 struct json_object *obj, char *(*html)(struct json_object *))
{
    char *with_nl;
    if (html && ctl_report_is_html(file)) {
        with_nl = html(obj);
    } else {
        with_nl = vnet_xasprintf("%s\n", json_object_to_json_string_ext(
                                     obj, JSON_C_TO_STRING_PRETTY
                                     | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    int err = vnet_atomic_write(file, with_nl, strlen(with_nl), 0644);
    free(with_nl);
    if (err) {
        fprintf(ctx->err, "vnetctl: %s: cannot write the report to %s: %s\n", what, file,
                strerror(-err));
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int
ctl_call(struct ctl_context *ctx, const char *method, struct json_object *params,
         struct json_object **ret_result)
{
    if (!ctx->client) {
        int err = rpc_client_open(ctx->socket, &ctx->client);
        if (err) {
            fprintf(ctx->err, "vnetctl: cannot connect to vnetd at %s: %s%s\n",
                    ctx->socket, strerror(-err),
                    err == -ENOENT || err == -ECONNREFUSED
                    ? " (is vnetd running? start it with 'vnetd --detach')"
                    : err == -EACCES ? " (needs root or the control socket's group)" : "");
            json_object_put(params);
            return CTL_EXIT_USAGE;
        }
    }
    struct vnet_error *error = NULL;
    int rc = rpc_client_call(ctx->client, method, params, ctx->timeout_ms, ret_result,
                             &error);
    if (rc < 0) {
        fprintf(ctx->err, "vnetctl: %s: %s\n", method,
                rc == -ETIMEDOUT ? "vnetd did not answer in time"
                : rc == -EPROTO ? "vnetd sent a malformed reply" : strerror(-rc));
        return CTL_EXIT_USAGE;
    }
    if (rc > 0) {
        fprintf(ctx->err, "vnetctl: %s\n", error->message);
        vnet_error_destroy(error);
        return CTL_EXIT_DAEMON;
    }
    return CTL_EXIT_OK;
}

/* Calls 'method' and prints the result as JSON if --json was given, otherwise
 * with 'print' (if NULL, as JSON too). */
static int
call_and_print(struct ctl_context *ctx, const char *method, struct json_object *params,
               void (*print)(struct ctl_context *, struct json_object *))
{
    struct json_object *result;
    int rc = ctl_call(ctx, method, params, &result);
    if (rc == CTL_EXIT_OK) {
        if (ctx->json || !print) {
            ctl_print_json(ctx, result);
        } else {
            print(ctx, result);
        }
        json_object_put(result);
    }
    return rc;
}

static const char *
get_str(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : "";
}

static int64_t
get_int(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_int64(v) : 0;
}

static struct json_object *
name_params(const char *name)
{
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "name", json_object_new_string(name));
    return params;
}

/* ---- version, status, log ---------------------------------------------------- */

static void
print_version(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "vnetctl %s\nvnetd %s\n", VNET_VERSION, get_str(r, "version"));
}

static int
cmd_version(struct ctl_context *ctx)
{
    return call_and_print(ctx, "version", NULL, print_version);
}

/* "HH:MM:SS.mmm" (local time) of wall-clock milliseconds 'ms'. */
static const char *
ctl_format_time_ms(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    size_t n = strftime(buf, size, "%H:%M:%S", localtime_r(&secs, &tm));
    snprintf(buf + n, size - n, ".%03d", (int) (ms % 1000));
    return buf;
}

static void
print_status(struct ctl_context *ctx, struct json_object *r)
{
    struct json_object *v;
    double uptime = json_object_object_get_ex(r, "uptime_s", &v)
                    ? json_object_get_double(v) : 0;
    fprintf(ctx->out, "vnetd %s (pid %" PRId64 "), up %.0f s\n", get_str(r, "version"),
            get_int(r, "pid"), uptime);
    fprintf(ctx->out, "socket:  %s (%" PRId64 " clients)\n", get_str(r, "socket"),
            get_int(r, "clients"));
    fprintf(ctx->out, "state:   %s (generation %" PRId64 ")\n", get_str(r, "state_file"),
            get_int(r, "state_generation"));
    fprintf(ctx->out, "chains:  %" PRId64 "\n", get_int(r, "chains"));
    struct json_object *sub, *health, *list;
    if (json_object_object_get_ex(r, "substrate", &sub)
        && json_object_object_get_ex(sub, "health", &health)) {
        if (json_object_object_get_ex(health, "vnets", &list)) {
            for (size_t i = 0; i < json_object_array_length(list); i++) {
                struct json_object *vn = json_object_array_get_idx(list, i);
                fprintf(ctx->out, "  %-20s %-11s %s", get_str(vn, "chain"),
                        get_str(vn, "vnet"), get_str(vn, "state"));
                if (json_object_object_get_ex(vn, "problem", NULL)) {
                    char when[32];
                    fprintf(ctx->out, " since %s: %s", ctl_format_time_ms(
                                get_int(vn, "since_ms"), when, sizeof when),
                            get_str(vn, "problem"));
                }
                fputc('\n', ctx->out);
            }
        }
        if (json_object_object_get_ex(health, "events", &list)
            && json_object_array_length(list)) {
            size_t n = json_object_array_length(list);
            fprintf(ctx->out, "recent health changes:\n");
            for (size_t i = n > 8 ? n - 8 : 0; i < n; i++) {
                struct json_object *ev = json_object_array_get_idx(list, i);
                char when[32];
                fprintf(ctx->out, "  %s %s %s: %s%s%s\n", ctl_format_time_ms(
                            get_int(ev, "time_ms"), when, sizeof when),
                        get_str(ev, "chain"), get_str(ev, "vnet"), get_str(ev, "state"),
                        json_object_object_get_ex(ev, "problem", NULL) ? ", " : "",
                        json_object_object_get_ex(ev, "problem", NULL)
                        ? get_str(ev, "problem") : "");
            }
        }
    }
    struct json_object *notices;
    if (json_object_object_get_ex(r, "notices", &notices)
        && json_object_array_length(notices)) {
        fprintf(ctx->out, "notices at start-up:\n");
        for (size_t i = 0; i < json_object_array_length(notices); i++) {
            fprintf(ctx->out, "  - %s\n",
                    json_object_get_string(json_object_array_get_idx(notices, i)));
        }
    }
}

static int
cmd_status(struct ctl_context *ctx)
{
    return call_and_print(ctx, "status", NULL, print_status);
}

static void
print_levels(struct ctl_context *ctx, struct json_object *r)
{
    json_object_object_foreach(r, module, level) {
        fprintf(ctx->out, "%-12s %s\n", module, json_object_get_string(level));
    }
}

static int
cmd_log_set(struct ctl_context *ctx)
{
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "spec", json_object_new_string(ctx->argv[0]));
    return call_and_print(ctx, "log/set", params, print_levels);
}

static int
cmd_log_list(struct ctl_context *ctx)
{
    return call_and_print(ctx, "log/list", NULL, print_levels);
}

static void
print_methods(struct ctl_context *ctx, struct json_object *r)
{
    for (size_t i = 0; i < json_object_array_length(r); i++) {
        struct json_object *m = json_object_array_get_idx(r, i);
        fprintf(ctx->out, "%-20s %s%s\n", get_str(m, "name"), get_str(m, "synopsis"),
                json_object_get_boolean(json_object_object_get(m, "read_only"))
                ? "" : " [changes state]");
    }
}

static int
cmd_list_commands(struct ctl_context *ctx)
{
    return call_and_print(ctx, "list-commands", NULL, print_methods);
}

/* ---- chains ------------------------------------------------------------------- */

static int
cmd_chain_load(struct ctl_context *ctx)
{
    const char *path = ctx->argv[0];
    char *text;
    int err = vnet_read_file(path, 1024 * 1024, &text, NULL);
    if (err) {
        fprintf(ctx->err, "vnetctl: %s: %s\n", path,
                err == -EFBIG ? "larger than 1 MiB" : strerror(-err));
        return CTL_EXIT_USAGE;
    }
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "file", json_object_new_string(vnet_basename(path)));
    json_object_object_add(params, "text", json_object_new_string(text));
    free(text);
    if (ctl_get_option(ctx, "replace")) {
        json_object_object_add(params, "replace", json_object_new_boolean(true));
    }
    struct json_object *result;
    int rc = ctl_call(ctx, "chain/load", params, &result);
    if (rc == CTL_EXIT_OK) {
        if (ctx->json) {
            ctl_print_json(ctx, result);
        } else {
            struct json_object *tmpl = json_object_object_get(result, "template");
            fprintf(ctx->out, "loaded chain '%s' (%zu nodes) from %s\n",
                    get_str(result, "name"),
                    json_object_array_length(json_object_object_get(tmpl, "nodes")),
                    get_str(result, "source"));
        }
        json_object_put(result);
    }
    return rc;
}

static void
print_chain_list(struct ctl_context *ctx, struct json_object *r)
{
    size_t n = json_object_array_length(r);
    if (!n) {
        fprintf(ctx->out, "no chains loaded\n");
        return;
    }
    fprintf(ctx->out, "%-24s %-9s %5s  %-15s  %s\n", "NAME", "STATE", "NODES",
            "BRIDGE", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(r, i);
        fprintf(ctx->out, "%-24s %-9s %5" PRId64 "  %-15s  %s\n", get_str(c, "name"),
                get_str(c, "state"), get_int(c, "nodes"), get_str(c, "bridge"),
                get_str(c, "description"));
    }
}

static int
cmd_chain_list(struct ctl_context *ctx)
{
    return call_and_print(ctx, "chain/list", NULL, print_chain_list);
}

static void
print_instance(struct ctl_context *ctx, struct json_object *inst)
{
    struct json_object *vnodes = json_object_object_get(inst, "vnodes");
    struct json_object *rules = json_object_object_get(inst, "rules");
    fprintf(ctx->out, "  bridge %s, %" PRId64 " rules %s\n", get_str(inst, "bridge"),
            get_int(rules, "count"),
            json_object_get_boolean(json_object_object_get(rules, "installed"))
            ? "installed" : "NOT installed");
    if (*get_str(rules, "error")) {
        fprintf(ctx->out, "  rules error: %s\n", get_str(rules, "error"));
    }
    fprintf(ctx->out, "  %-8s %-6s %-8s %-14s %6s %-7s %10s %10s %8s\n", "VNODE", "ROLE",
            "STATE", "PORT", "OFPORT", "PORT_ST", "TO_VNODE", "FROM_VNODE", "DROPPED");
    for (size_t i = 0; i < json_object_array_length(vnodes); i++) {
        struct json_object *v = json_object_array_get_idx(vnodes, i);
        struct json_object *nics = json_object_object_get(v, "nics");
        for (size_t n = 0; n < json_object_array_length(nics); n++) {
            struct json_object *nic = json_object_array_get_idx(nics, n);
            fprintf(ctx->out, "  %-8s %-6s %-8s %-14s %6" PRId64 " %-7s %10" PRId64
                    " %10" PRId64 " %8" PRId64 "\n",
                    n ? "" : get_str(v, "node"), n ? "" : get_str(v, "role"),
                    n ? "" : get_str(v, "state"), get_str(nic, "port"),
                    get_int(nic, "ofport"), get_str(nic, "port_state"),
                    get_int(nic, "to_vnode_packets"), get_int(nic, "from_vnode_packets"),
                    get_int(nic, "to_vnode_dropped") + get_int(nic, "from_vnode_dropped"));
            if (*get_str(nic, "error")) {
                fprintf(ctx->out, "      port error: %s\n", get_str(nic, "error"));
            }
        }
        if (*get_str(v, "error")) {
            fprintf(ctx->out, "      VNode error: %s\n", get_str(v, "error"));
        }
    }
}

static void
print_chain(struct ctl_context *ctx, struct json_object *r)
{
    struct json_object *t = json_object_object_get(r, "template");
    struct json_object *br = json_object_object_get(t, "bridge");
    struct json_object *addr = json_object_object_get(t, "addressing");
    time_t loaded = (time_t) get_int(r, "loaded_at");
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&loaded));

    fprintf(ctx->out, "chain %s: %s\n", get_str(r, "name"), get_str(t, "description"));
    fprintf(ctx->out, "  state %s; loaded from %s at %s\n", get_str(r, "state"),
            get_str(r, "source"), when);
    if (*get_str(r, "last_error")) {
        fprintf(ctx->out, "  last error: %s\n", get_str(r, "last_error"));
    }
    fprintf(ctx->out, "  bridge %s (datapath %s)\n", get_str(br, "name"),
            get_str(br, "datapath"));
    fprintf(ctx->out, "  subnet %s: source %s, sink %s\n", get_str(addr, "subnet"),
            get_str(addr, "source"), get_str(addr, "sink"));
    struct json_object *nodes = json_object_object_get(t, "nodes");
    fprintf(ctx->out, "  %-10s %-5s %4s %7s %10s %6s  %s\n", "NODE", "KIND", "CPUS",
            "MEM_MiB", "PEAK_PPS", "QUEUE", "NF");
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        struct json_object *n = json_object_array_get_idx(nodes, i);
        struct json_object *nf = json_object_object_get(n, "nf");
        struct json_object *args = json_object_object_get(nf, "args");
        char *cmd = vnet_xasprintf("%s%s%s", get_str(nf, "program"),
                                   *get_str(nf, "mode") ? " --mode " : "",
                                   get_str(nf, "mode"));
        for (size_t a = 0; a < json_object_array_length(args); a++) {
            char *more = vnet_xasprintf("%s %s", cmd, json_object_get_string(
                                            json_object_array_get_idx(args, a)));
            free(cmd);
            cmd = more;
        }
        char peak[32], queue[32];
        snprintf(peak, sizeof peak, "%" PRId64, get_int(nf, "peak_pps"));
        snprintf(queue, sizeof queue, "%" PRId64, get_int(nf, "queue"));
        fprintf(ctx->out, "  %-10s %-5s %4" PRId64 " %7" PRId64 " %10s %6s  %s\n",
                get_str(n, "name"), get_str(n, "kind"), get_int(n, "cpus"),
                get_int(n, "memory"), get_int(nf, "peak_pps") ? peak : "-",
                get_int(nf, "queue") ? queue : "-", cmd);
        free(cmd);
    }
    struct json_object *edges = json_object_object_get(
        json_object_object_get(t, "graph"), "edges");
    fprintf(ctx->out, "  graph:");
    for (size_t i = 0; i < json_object_array_length(edges); i++) {
        struct json_object *e = json_object_array_get_idx(edges, i);
        fprintf(ctx->out, "%s %s -> %s", i ? "," : "",
                json_object_get_string(json_object_array_get_idx(e, 0)),
                json_object_get_string(json_object_array_get_idx(e, 1)));
    }
    fprintf(ctx->out, "\n");
    struct json_object *inst = json_object_object_get(r, "instance");
    if (inst) {
        print_instance(ctx, inst);
    }
}

static int
cmd_chain_show(struct ctl_context *ctx)
{
    return call_and_print(ctx, "chain/show", name_params(ctx->argv[0]), print_chain);
}

static void
print_created(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "chain '%s' is running\n", get_str(r, "name"));
    print_instance(ctx, r);
}

static int
cmd_chain_create(struct ctl_context *ctx)
{
    return call_and_print(ctx, "chain/create", name_params(ctx->argv[0]), print_created);
}

static void
print_deleted(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "deleted chain '%s'\n", get_str(r, "deleted"));
}

static int
cmd_chain_delete(struct ctl_context *ctx)
{
    struct json_object *params = name_params(ctx->argv[0]);
    if (ctl_get_option(ctx, "keep-template")) {
        json_object_object_add(params, "keep-template", json_object_new_boolean(true));
    }
    return call_and_print(ctx, "chain/delete", params, print_deleted);
}

static void
print_mirrored(struct ctl_context *ctx, struct json_object *r)
{
    struct json_object *mirrors = json_object_object_get(r, "mirrors");
    fprintf(ctx->out, "chain '%s' is mirrored: %zu mirrors into its monitoring VNode\n",
            get_str(r, "name"), json_object_array_length(mirrors));
    for (size_t i = 0; i < json_object_array_length(mirrors); i++) {
        struct json_object *m = json_object_array_get_idx(mirrors, i);
        fprintf(ctx->out, "  %-10s %-10s -> %s\n", get_str(m, "node"),
                get_str(m, "direction"), get_str(m, "output"));
    }
}

static int
cmd_mirror(struct ctl_context *ctx)
{
    struct json_object *params = name_params(ctx->argv[0]);
    const char *nodes = ctl_get_option(ctx, "nodes");
    if (nodes) {
        struct json_object *array = json_object_new_array();
        char *copy = vnet_xstrdup(nodes), *save = NULL;
        for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
            json_object_array_add(array, json_object_new_string(n));
        }
        free(copy);
        json_object_object_add(params, "nodes", array);
    }
    static const char *const ints[] = { "snaplen", "memory" };
    for (size_t i = 0; i < 2; i++) {
        const char *v = ctl_get_option(ctx, ints[i]);
        unsigned long long x;
        if (v && vnet_parse_uint(v, 0, 1 << 30, &x)) {
            fprintf(ctx->err, "vnetctl: --%s: expected a number, got '%s'\n", ints[i], v);
            json_object_put(params);
            return CTL_EXIT_USAGE;
        }
        if (v) {
            json_object_object_add(params, ints[i], json_object_new_int64((int64_t) x));
        }
    }
    const char *cpus = ctl_get_option(ctx, "cpus");
    if (cpus) {
        json_object_object_add(params, "cpus", json_object_new_string(cpus));
    }
    return call_and_print(ctx, "chain/mirror", params, print_mirrored);
}

static void
print_unmirrored(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "removed the Monitoring VNet of chain '%s'\n",
            get_str(r, "unmirrored"));
}

static int
cmd_unmirror(struct ctl_context *ctx)
{
    return call_and_print(ctx, "chain/unmirror", name_params(ctx->argv[0]),
                          print_unmirrored);
}

static const struct ctl_option mirror_options[] = {
    { "nodes", 0, "A,B", "mirror only these NFs (default: all)" },
    { "snaplen", 0, "N", "bytes kept per packet (default 128)" },
    { "cpus", 0, "LIST", "CPUs of the monitoring VNode, e.g. 1 or 0-1" },
    { "memory", 0, "MiB", "memory limit of the monitoring VNode (default 256)" },
    { NULL, 0, NULL, NULL },
};

static const struct ctl_option exec_options[] = {
    { "shadow", 0, NULL, "enter the NF's shadow VNode (default: the one serving "
      "production)" },
    { NULL, 0, NULL, NULL },
};

static const struct ctl_option dump_options[] = {
    { "last", 0, "DURATION", "how much of the recent past to write (default 5s)" },
    { NULL, 0, NULL, NULL },
};

/* ---- shadow ------------------------------------------------------------------ */

static void
print_shadow(struct ctl_context *ctx, struct json_object *r)
{
    struct json_object *sh = json_object_object_get(r, "shadow");
    if (sh) {
        fprintf(ctx->out, "chain '%s': side %" PRId64 " serves production, side %"
                PRId64 " is the shadow (%" PRId64 " swaps)\n", get_str(r, "name"),
                get_int(sh, "production_side"), get_int(sh, "shadow_side"),
                get_int(sh, "swaps"));
        fprintf(ctx->out, "  note: %s\n", get_str(sh, "note"));
    } else {
        fprintf(ctx->out, "chain '%s' converged\n", get_str(r, "name"));
    }
    struct json_object *vnodes = json_object_object_get(r, "vnodes");
    for (size_t i = 0; i < json_object_array_length(vnodes); i++) {
        struct json_object *v = json_object_array_get_idx(vnodes, i);
        if (strcmp(get_str(v, "role"), "nf")) {
            continue;
        }
        fprintf(ctx->out, "  %-24s side %" PRId64 " %-10s %s\n", get_str(v, "domain"),
                get_int(v, "side"), get_str(v, "serves"), get_str(v, "state"));
    }
}

static int
cmd_shadow_create(struct ctl_context *ctx)
{
    return call_and_print(ctx, "shadow/create", name_params(ctx->argv[0]), print_shadow);
}

static int
cmd_shadow_show(struct ctl_context *ctx)
{
    return call_and_print(ctx, "shadow/show", name_params(ctx->argv[0]), print_shadow);
}

static int
cmd_shadow_set(struct ctl_context *ctx)
{
    struct json_object *params = name_params(ctx->argv[0]);
    json_object_object_add(params, "node", json_object_new_string(ctx->argv[1]));
    struct json_object *settings = json_object_new_object();
    for (int i = 2; i < ctx->argc; i++) {
        const char *eq = strchr(ctx->argv[i], '=');
        if (!eq || eq == ctx->argv[i]) {
            fprintf(ctx->err, "vnetctl: '%s': expected KEY=VALUE\n", ctx->argv[i]);
            json_object_put(params);
            json_object_put(settings);
            return CTL_EXIT_USAGE;
        }
        char *key = vnet_xstrndup(ctx->argv[i], (size_t) (eq - ctx->argv[i]));
        json_object_object_add(settings, key, json_object_new_string(eq + 1));
        free(key);
    }
    json_object_object_add(params, "settings", settings);
    return call_and_print(ctx, "shadow/set", params, print_shadow);
}

static int
cmd_shadow_edit(struct ctl_context *ctx)
{
    const char *path = ctl_get_option(ctx, "file");
    if (!path) {
        fprintf(ctx->err, "vnetctl: 'shadow edit' needs -f PATCH.json\n");
        return CTL_EXIT_USAGE;
    }
    char *text;
    int err = vnet_read_file(path, 1024 * 1024, &text, NULL);
    if (err) {
        fprintf(ctx->err, "vnetctl: %s: %s\n", path, strerror(-err));
        return CTL_EXIT_USAGE;
    }
    struct json_object *params = name_params(ctx->argv[0]);
    json_object_object_add(params, "file", json_object_new_string(vnet_basename(path)));
    json_object_object_add(params, "text", json_object_new_string(text));
    free(text);
    return call_and_print(ctx, "shadow/edit", params, print_shadow);
}

static void
print_retired(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "retired the shadow of chain '%s' (side %" PRId64 " removed)\n",
            get_str(r, "retired"), get_int(r, "removed_side"));
}

static int
cmd_shadow_retire(struct ctl_context *ctx)
{
    return call_and_print(ctx, "shadow/retire", name_params(ctx->argv[0]),
                          print_retired);
}

static int
cmd_swap(struct ctl_context *ctx)
{
    return call_and_print(ctx, "swap", name_params(ctx->argv[0]), print_shadow);
}

static int
cmd_rollback(struct ctl_context *ctx)
{
    return call_and_print(ctx, "rollback", name_params(ctx->argv[0]), print_shadow);
}

static const struct ctl_option edit_options[] = {
    { "file", 'f', "PATCH.json", "a JSON merge patch {\"nodes\": {NF: {...}}}" },
    { NULL, 0, NULL, NULL },
};

static const struct ctl_option chain_load_options[] = {
    { "replace", 0, NULL, "replace a loaded chain of the same name" },
    { NULL, 0, NULL, NULL },
};

static const struct ctl_option chain_delete_options[] = {
    { "keep-template", 0, NULL, "tear the chain down but keep its template loaded" },
    { NULL, 0, NULL, NULL },
};

const struct ctl_command ctl_commands[] = {
    { "version", 0, 0, "", "show the versions of vnetctl and vnetd", true, NULL,
      cmd_version },
    { "status", 0, 0, "", "show vnetd's health, state file and counts", true, NULL,
      cmd_status },
    { "list-commands", 0, 0, "", "list the methods vnetd serves", true, NULL,
      cmd_list_commands },
    { "log set", 1, 1, "SPEC", "set log levels, e.g. \"control:dbg\" or \"warn\"",
      false, NULL, cmd_log_set },
    { "log list", 0, 0, "", "show every log module's level", true, NULL, cmd_log_list },
    { "chain load", 1, 1, "FILE", "register the chain template in FILE", false,
      chain_load_options, cmd_chain_load },
    { "chain list", 0, 0, "", "list the registered chains", true, NULL,
      cmd_chain_list },
    { "chain show", 1, 1, "NAME", "show a chain's template and state", true, NULL,
      cmd_chain_show },
    { "chain create", 1, 1, "NAME", "create the chain's VNodes, ports and rules", false,
      NULL, cmd_chain_create },
    { "chain delete", 1, 1, "NAME", "tear a chain down and remove it from vnetd", false,
      chain_delete_options, cmd_chain_delete },
    { "mirror", 1, 1, "CHAIN", "create a Monitoring VNet beside the running chain",
      false, mirror_options, cmd_mirror },
    { "unmirror", 1, 1, "CHAIN", "remove the chain's Monitoring VNet", false, NULL,
      cmd_unmirror },
    { "diagnose", 0, 1, "[CHAIN]",
      "ranked root causes of a chain's performance problems (offline: --offline DIR)",
      true, ctl_diagnose_options, ctl_cmd_diagnose },
    { "shadow create", 1, 1, "CHAIN",
      "clone the chain into a Shadow VNet fed a duplicate of the ingress traffic", false,
      NULL, cmd_shadow_create },
    { "shadow show", 1, 1, "CHAIN", "which side serves production, and the shadow",
      true, NULL, cmd_shadow_show },
    { "shadow set", 3, 16, "CHAIN NODE KEY=VALUE [KEY=VALUE...]",
      "change a shadow NF: cpus, memory, queue, peak_pps, mode or args", false, NULL,
      cmd_shadow_set },
    { "shadow edit", 1, 1, "CHAIN", "apply a template patch to the shadow", false,
      edit_options, cmd_shadow_edit },
    { "shadow compare", 0, 1, "[CHAIN]",
      "compare production and shadow on the same packets: SWAP, KEEP or INCONCLUSIVE",
      true, ctl_compare_options, ctl_cmd_shadow_compare },
    { "shadow retire", 1, 1, "CHAIN", "remove the side that does not serve production",
      false, NULL, cmd_shadow_retire },
    { "swap", 1, 1, "CHAIN", "atomically make the shadow serve production", false,
      NULL, cmd_swap },
    { "rollback", 1, 1, "CHAIN", "swap back to the original side", false, NULL,
      cmd_rollback },
    { "monitor show", 1, 1, "CHAIN", "live per-NF figures from the Monitoring VNet",
      true, NULL, ctl_cmd_monitor_show },
    { "monitor dump", 2, 2, "CHAIN DIR",
      "write a recent window as an offline trace directory (topology.json + pcaps)",
      false, dump_options, ctl_cmd_monitor_dump },
    { "chain exec", 3, 64, "CHAIN NODE -- PROGRAM [ARG...]",
      "run a program inside a VNode (an NF, source, sink or monitor; no shell); exits "
      "with its status", false, exec_options, ctl_cmd_chain_exec },
    { NULL, 0, 0, NULL, NULL, false, NULL, NULL },
};
