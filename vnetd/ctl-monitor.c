/* ctl-monitor.c -- 'vnetctl monitor show|dump CHAIN': asks vnetd where the chain's
 * monitoring agent listens, then talks to the agent directly, so a long dump never
 * occupies vnetd's loop. */
#include "vnetd/ctl-commands.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/rpc-client.h"
#include "lib/util.h"

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

static double
get_double(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_double(v) : 0;
}

int
ctl_call_monitor(struct ctl_context *ctx, const char *method, struct json_object *params,
             struct json_object **ret)
{
    struct json_object *shown;
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(ctx->argv[0]));
    int rc = ctl_call(ctx, "chain/show", p, &shown);
    if (rc) {
        json_object_put(params);
        return rc;
    }
    const char *control = NULL;
    struct json_object *vnodes = json_object_object_get(
        json_object_object_get(shown, "instance"), "vnodes");
    for (size_t i = 0; i < json_object_array_length(vnodes); i++) {
        struct json_object *v = json_object_array_get_idx(vnodes, i);
        if (!strcmp(get_str(v, "role"), "monitor")) {
            control = get_str(v, "control");
        }
    }
    if (!control || !*control) {
        fprintf(ctx->err, "vnetctl: chain '%s' has no Monitoring VNet (create one with "
                "'vnetctl mirror %s')\n", ctx->argv[0], ctx->argv[0]);
        json_object_put(shown);
        json_object_put(params);
        return CTL_EXIT_DAEMON;
    }
    struct rpc_client *client;
    int err = rpc_client_open(control, &client);
    if (err) {
        fprintf(ctx->err, "vnetctl: the monitoring agent of '%s' does not answer at %s: "
                "%s\n", ctx->argv[0], control, strerror(-err));
        json_object_put(shown);
        json_object_put(params);
        return CTL_EXIT_DAEMON;
    }
    struct vnet_error *error = NULL;
    rc = rpc_client_call(client, method, params, ctx->timeout_ms, ret, &error);
    rpc_client_close(client);
    json_object_put(shown);
    if (rc > 0) {
        fprintf(ctx->err, "vnetctl: monitor: %s\n", error->message);
        vnet_error_destroy(error);
        return CTL_EXIT_DAEMON;
    }
    if (rc < 0) {
        fprintf(ctx->err, "vnetctl: monitor: %s\n", strerror(-rc));
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

static void
print_stats(struct ctl_context *ctx, struct json_object *r)
{
    fprintf(ctx->out, "Monitoring VNet of chain %s (agent up %.0f s, %" PRId64
            " windows analysed)\n", get_str(r, "chain"), get_double(r, "uptime_s"),
            get_int(r, "windows"));
    struct json_object *nfs = json_object_object_get(r, "nfs");
    fprintf(ctx->out, "  %-8s %8s %8s %13s %17s %19s %8s %9s\n", "NF", "IN_PPS", "OUT_PPS",
            "QUEUE 50/99/MAX", "LATENCY_US 50/99", "DROPS TAIL/INT/POL", "MATCH",
            "CAP_LOSS");
    json_object_object_foreach(nfs, name, nf) {
        struct json_object *w = json_object_object_get(nf, "window");
        int64_t loss = get_int(nf, "capture_drops") + get_int(nf, "mirror_port_drops");
        if (!w) {
            fprintf(ctx->out, "  %-8s (no window analysed yet: %" PRId64 " in, %" PRId64
                    " out captured)\n", name, get_int(nf, "arrivals"),
                    get_int(nf, "departures"));
            continue;
        }
        double sec = get_double(w, "seconds") > 0 ? get_double(w, "seconds") : 1;
        char q[32], lat[32], drops[32];
        snprintf(q, sizeof q, "%" PRId64 "/%" PRId64 "/%" PRId64, get_int(w, "queue_p50"),
                 get_int(w, "queue_p99"), get_int(w, "queue_max"));
        snprintf(lat, sizeof lat, "%.0f/%.0f", get_double(w, "latency_p50_us"),
                 get_double(w, "latency_p99_us"));
        snprintf(drops, sizeof drops, "%" PRId64 "/%" PRId64 "/%" PRId64,
                 get_int(w, "drops_tail"), get_int(w, "drops_internal"),
                 get_int(w, "drops_policy"));
        fprintf(ctx->out, "  %-8s %8.0f %8.0f %13s %17s %19s %7.2f%% %9" PRId64 "\n", name,
                (double) get_int(w, "arrivals") / sec,
                (double) get_int(w, "departures") / sec, q, lat, drops,
                100 * get_double(w, "match_rate"), loss);
    }
    double win_s = 0;
    json_object_object_foreach(nfs, n1, nf1) {
        (void) n1;
        struct json_object *w = json_object_object_get(nf1, "window");
        win_s = w ? get_double(w, "seconds") : win_s;
    }
    fprintf(ctx->out, "  (rates and quantiles over the last %.1f s window; recent maxima:",
            win_s);
    json_object_object_foreach(nfs, n2, nf2) {
        struct json_object *m = json_object_object_get(nf2, "recent_max");
        if (m) {
            fprintf(ctx->out, " %s queue %" PRId64 " latency %.1f ms;", n2,
                    get_int(m, "queue_max"), get_double(m, "latency_max_us") / 1e3);
        }
    }
    fprintf(ctx->out, ")\n");
    struct json_object *ports = json_object_object_get(r, "ports");
    fprintf(ctx->out, "  %-14s %-8s %-10s %10s %10s %8s\n", "CAPTURE", "NF", "DIRECTION",
            "PACKETS", "RATE_PPS", "LOST");
    for (size_t i = 0; i < json_object_array_length(ports); i++) {
        struct json_object *p = json_object_array_get_idx(ports, i);
        fprintf(ctx->out, "  %-14s %-8s %-10s %10" PRId64 " %10.0f %8" PRId64 "\n",
                get_str(p, "source"), get_str(p, "nf"), get_str(p, "direction"),
                get_int(p, "packets"), get_double(p, "rate_pps"),
                get_int(p, "capture_drops"));
    }
}

int
ctl_cmd_monitor_show(struct ctl_context *ctx)
{
    struct json_object *r;
    int rc = ctl_call_monitor(ctx, "stats", NULL, &r);
    if (!rc) {
        if (ctx->json) {
            ctl_print_json(ctx, r);
        } else {
            print_stats(ctx, r);
        }
        json_object_put(r);
    }
    return rc;
}

int
ctl_cmd_monitor_dump(struct ctl_context *ctx)
{
    const char *last = ctl_get_option(ctx, "last");
    uint64_t ns = 5000000000ull;
    if (last && vnet_parse_duration(last, &ns)) {
        fprintf(ctx->err, "vnetctl: --last: expected a duration such as 5s or 500ms, "
                "got '%s'\n", last);
        return CTL_EXIT_USAGE;
    }
    /* The agent creates the directory: give it an absolute path. */
    char *dir = realpath(ctx->argv[1], NULL);
    if (!dir) {
        char *cwd = getcwd(NULL, 0);
        dir = (ctx->argv[1][0] == '/' || !cwd
               ? vnet_xstrdup(ctx->argv[1])
               : vnet_xasprintf("%s/%s", cwd, ctx->argv[1]));
        free(cwd);
    }
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "dir", json_object_new_string(dir));
    free(dir);
    json_object_object_add(params, "seconds", json_object_new_double((double) ns / 1e9));
    struct json_object *r;
    int rc = ctl_call_monitor(ctx, "dump", params, &r);
    if (!rc) {
        if (ctx->json) {
            ctl_print_json(ctx, r);
        } else {
            fprintf(ctx->out, "wrote the last %.3g s of chain '%s' to %s:\n",
                    get_double(r, "seconds"), ctx->argv[0], get_str(r, "dir"));
            json_object_object_foreach(json_object_object_get(r, "files"), f, n) {
                fprintf(ctx->out, "  %-20s %" PRId64 " packets\n", f,
                        json_object_get_int64(n));
            }
            fprintf(ctx->out, "  topology.json\n");
        }
        json_object_put(r);
    }
    return rc;
}
