/* ctl-compare.c -- 'vnetctl shadow compare CHAIN': production and its shadow on the
 * same packets.
 *
 * vnetctl observes for --duration (default 10 s): every 15 s at most it asks the
 * chain's monitoring agent to dump the entry and both exits (the agent keeps only
 * its last seconds), pairs each ingress packet with its exit copies in each chain
 * (shadow/pairing.h), and at the end runs the significance procedure of
 * shadow/compare.h over everything observed.  The verdict's observation clause
 * needs 5 minutes by default; --min-duration lowers it for demonstrations and
 * tests (the JSON says which minimum applied).  --report FILE also writes the result
 * to FILE: HTML if its name ends in ".html" (ctl-html.h), else JSON.  With
 * --offline DIR the same runs on saved captures of the entry and both exits. */
#include "vnetd/ctl-commands.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"
#include "shadow/compare.h"
#include "shadow/pairing.h"
#include "vnetd/ctl-html.h"

#define CHUNK_NS 15000000000ull         /* well inside the agent's 30 s store */
#define EXIT_TIMEOUT_NS 1000000000ull   /* later than this at an exit: lost */

const struct ctl_option ctl_compare_options[] = {
    { "duration", 0, "DURATION", "how long to observe (default 10s)" },
    { "offline", 0, "DIR", "compare saved captures instead: DIR/ingress.pcap, "
      "exit0.pcap, exit1.pcap" },
    { "production-side", 0, "N", "with --offline: which exit is production's (0)" },
    { "min-duration", 0, "DURATION", "observation the verdict requires (default 5m)" },
    { "latency-margin", 0, "PCT", "how much slower a class may get in the shadow "
      "and still allow SWAP (default 10%)" },
    { "report", 0, "FILE", "also write the JSON result to FILE" },
    { NULL, 0, NULL, NULL },
};

static void
sleep_until(uint64_t wall_ns)
{
    for (uint64_t now = vnet_wall_ns(); now < wall_ns; now = vnet_wall_ns()) {
        uint64_t d = wall_ns - now;
        struct timespec ts = { (time_t) (d / 1000000000ull), (long) (d % 1000000000ull) };
        nanosleep(&ts, NULL);
    }
}

static int
cmp_double(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return a < b ? -1 : a > b;
}

/* Per class with deliveries: 101 quantiles (0..100 %) of each chain's latency in
 * microseconds, over the packets it delivered: {"<class>": {"production": [...],
 * "shadow": [...]}}. */
static struct json_object *
latency_cdfs(const struct compare_input *in)
{
    struct json_object *o = json_object_new_object();
    double *v = vnet_xmalloc((in->n_pkts + 1) * sizeof *v);
    for (size_t c = 0; c < in->n_classes; c++) {
        struct json_object *cls = NULL;
        for (int s = 0; s < 2; s++) {
            size_t n = 0;
            for (size_t i = 0; i < in->n_pkts; i++) {
                const struct compare_pkt *p = &in->pkts[i];
                uint8_t out = s ? p->shadow : p->prod;
                uint64_t t = s ? p->t_exit_shadow : p->t_exit_prod;
                if (p->cls == c && out == COMPARE_DELIVERED && t >= p->t_entry) {
                    v[n++] = (double) (t - p->t_entry) / 1e3;
                }
            }
            if (!n) {
                continue;
            }
            qsort(v, n, sizeof *v, cmp_double);
            struct json_object *q = json_object_new_array();
            for (int k = 0; k <= 100; k++) {
                json_object_array_add(q, json_object_new_double(
                                          v[(size_t) ((double) (n - 1) * k / 100.0)]));
            }
            if (!cls) {
                cls = json_object_new_object();
            }
            json_object_object_add(cls, s ? "shadow" : "production", q);
        }
        if (cls) {
            json_object_object_add(o, in->classes[c].name, cls);
        }
    }
    free(v);
    return o;
}

/* Which side serves production, from vnetd; -1 (message printed) without a shadow. */
static int
production_side(struct ctl_context *ctx, int *rc)
{
    struct json_object *p = json_object_new_object(), *r;
    json_object_object_add(p, "name", json_object_new_string(ctx->argv[0]));
    *rc = ctl_call(ctx, "shadow/show", p, &r);
    if (*rc) {
        return -1;
    }
    struct json_object *sh, *side;
    int s = -1;
    if (json_object_object_get_ex(r, "shadow", &sh)
        && json_object_object_get_ex(sh, "production_side", &side)) {
        s = json_object_get_int(side);
    } else {
        fprintf(ctx->err, "vnetctl: shadow compare: chain '%s' has no shadow (create one "
                "with 'vnetctl shadow create %s')\n", ctx->argv[0], ctx->argv[0]);
        *rc = CTL_EXIT_DAEMON;
    }
    json_object_put(r);
    return s;
}

/* Observes chain ctx->argv[0] live for 'duration' into 'pairing'. */
static int
observe(struct ctl_context *ctx, int prod, uint64_t duration, struct pairing *pairing)
{
    char tmpl[] = "/tmp/vnet-compare.XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(ctx->err, "vnetctl: shadow compare: cannot create a directory in /tmp: "
                "%s\n", strerror(errno));
        return CTL_EXIT_USAGE;
    }
    if (!ctx->json) {
        fprintf(ctx->out, "observing chain '%s' (production: side %d) for %.0f s...\n",
                ctx->argv[0], prod, (double) duration / 1e9);
        fflush(ctx->out);
    }
    uint64_t t0 = vnet_wall_ns(), done = t0, end = t0 + duration;
    int rc = CTL_EXIT_OK;
    for (unsigned int k = 0; done < end && !rc; k++) {
        uint64_t target = VNET_MIN(done + CHUNK_NS, end);
        sleep_until(target + EXIT_TIMEOUT_NS + 300000000ull);
        char *dir = vnet_xasprintf("%s/%u", tmpl, k);
        struct json_object *params = json_object_new_object(), *r;
        json_object_object_add(params, "dir", json_object_new_string(dir));
        json_object_object_add(params, "seconds", json_object_new_double(
                                   (double) (vnet_wall_ns() - done) / 1e9 + 0.5));
        json_object_object_add(params, "comparison", json_object_new_boolean(true));
        rc = ctl_call_monitor(ctx, "dump", params, &r);
        if (!rc) {
            json_object_put(r);
            struct vnet_error *error = pairing_add_dir(pairing, dir, prod, done, target);
            if (error) {
                fprintf(ctx->err, "vnetctl: shadow compare: %s\n", error->message);
                vnet_error_destroy(error);
                rc = CTL_EXIT_DAEMON;
            }
        }
        vnet_remove_flat_dir(dir);
        free(dir);
        done = target;
    }
    vnet_remove_flat_dir(tmpl);
    return rc;
}

int
ctl_cmd_shadow_compare(struct ctl_context *ctx)
{
    uint64_t duration = 10000000000ull, min_duration = 0;
    const char *d = ctl_get_option(ctx, "duration");
    const char *md = ctl_get_option(ctx, "min-duration");
    const char *report_file = ctl_get_option(ctx, "report");
    const char *offline = ctl_get_option(ctx, "offline");
    const char *ps = ctl_get_option(ctx, "production-side");
    const char *lm = ctl_get_option(ctx, "latency-margin");
    double latency_margin = -1;
    if (lm) {
        char *end;
        errno = 0;
        double v = strtod(lm, &end);
        if (*end == '%') {
            end++;
        }
        if (end == lm || *end || errno || !(v > 0 && v <= 100)) {
            fprintf(ctx->err, "vnetctl: shadow compare: --latency-margin: expected a "
                    "percentage above 0 and at most 100, such as 10 or 20%%, got '%s'\n",
                    lm);
            return CTL_EXIT_USAGE;
        }
        latency_margin = v / 100;
    }
    if (d && (vnet_parse_duration(d, &duration) || duration < 1000000000ull
              || duration > 86400000000000ull)) {
        fprintf(ctx->err, "vnetctl: shadow compare: --duration: expected 1s to 24h, such "
                "as 10s or 5m, got '%s'\n", d);
        return CTL_EXIT_USAGE;
    }
    if (md && (vnet_parse_duration(md, &min_duration) || min_duration < 1000000000ull)) {
        fprintf(ctx->err, "vnetctl: shadow compare: --min-duration: expected a duration "
                "of at least 1s, got '%s'\n", md);
        return CTL_EXIT_USAGE;
    }
    if (report_file && !*report_file) {
        fprintf(ctx->err, "vnetctl: shadow compare: --report needs a FILE\n");
        return CTL_EXIT_USAGE;
    }
    if (!offline == !ctx->argc) {
        fprintf(ctx->err, "vnetctl: shadow compare: give CHAIN (live) or --offline DIR "
                "(a directory of ingress.pcap, exit0.pcap and exit1.pcap)\n");
        return CTL_EXIT_USAGE;
    }
    if (ps && (!offline || (strcmp(ps, "0") && strcmp(ps, "1")))) {
        fprintf(ctx->err, "vnetctl: shadow compare: --production-side: expected 0 or 1 "
                "with --offline, got '%s'\n", ps);
        return CTL_EXIT_USAGE;
    }
    int rc = CTL_EXIT_OK;
    int prod;
    struct pairing *pairing = pairing_create(EXIT_TIMEOUT_NS);
    if (offline) {
        prod = ps && ps[0] == '1';  /* checked above: "0" or "1" */
        struct vnet_error *error = pairing_add_dir(pairing, offline, prod, 0, UINT64_MAX);
        if (error) {
            fprintf(ctx->err, "vnetctl: shadow compare: %s\n", error->message);
            vnet_error_destroy(error);
            pairing_destroy(pairing);
            return CTL_EXIT_USAGE;
        }
    } else {
        prod = production_side(ctx, &rc);
        if (prod >= 0) {
            rc = observe(ctx, prod, duration, pairing);
        }
    }
    if (rc) {
        pairing_destroy(pairing);
        return rc;
    }

    struct compare_input in;
    pairing_input(pairing, &in);
    struct compare_config cfg;
    compare_config_init(&cfg);
    if (min_duration) {
        cfg.min_duration_ns = min_duration;
        cfg.min_subwindows = min_duration / cfg.subwindow_ns;
    }
    if (latency_margin > 0) {
        cfg.latency_margin = latency_margin;
    }
    struct compare_result *res;
    struct vnet_error *error = compare_run(&in, &cfg, &res);
    if (error) {
        fprintf(ctx->err, "vnetctl: shadow compare: %s\n", error->message);
        vnet_error_destroy(error);
        pairing_destroy(pairing);
        return CTL_EXIT_DAEMON;
    }
    struct json_object *obj = compare_result_to_json(res);
    json_object_object_add(obj, "chain", json_object_new_string(
                               offline ? offline : ctx->argv[0]));
    json_object_object_add(obj, "production_side", json_object_new_int(prod));
    json_object_object_add(obj, "observed_s", json_object_new_double(
                               offline ? (double) res->duration_ns / 1e9
                                       : (double) duration / 1e9));
    json_object_object_add(obj, "min_duration_s", json_object_new_double(
                               (double) cfg.min_duration_ns / 1e9));
    json_object_object_add(obj, "latency_margin", json_object_new_double(
                               cfg.latency_margin));
    json_object_object_add(obj, "ingress_packets", json_object_new_int64(
                               (int64_t) pairing_entries(pairing)));
    json_object_object_add(obj, "not_compared", json_object_new_int64(
                               (int64_t) pairing_skipped(pairing)));
    if (ctl_report_is_html(report_file)) {
        json_object_object_add(obj, "cdf", latency_cdfs(&in));
    }
    if (ctx->json) {
        ctl_print_json(ctx, obj);
    } else {
        char *text = compare_result_to_text(res);
        fprintf(ctx->out, "%s", text);
        free(text);
    }
    if (report_file) {
        rc = ctl_write_report(ctx, "shadow compare", report_file, obj, ctl_html_compare);
    }
    json_object_put(obj);
    compare_result_destroy(res);
    pairing_destroy(pairing);
    return rc;
}
