/* ctl-diagnose.c -- 'vnetctl diagnose': the diagnosers on a trace directory, in
 * vnetctl itself; for a live chain the directory is a dump of its Monitoring VNet. */
#include "vnetd/ctl-diagnose.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag/microscope.h"
#include "diag/offline.h"
#include "diag/timeline.h"
#include "diag/trace.h"
#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/ctl-html.h"

const struct ctl_option ctl_diagnose_options[] = {
    { "offline", 0, "DIR", "diagnose the trace directory DIR (topology.json and its "
      "pcaps) instead of a live chain" },
    { "window", 0, "DURATION", "live diagnosis: how much of the recent past to "
      "analyse" },
    { "report", 0, "FILE", "also write the JSON report to FILE" },
    { "keep", 0, "DIR", "live diagnosis: keep the analysed trace in DIR (default: a "
      "temporary directory, removed)" },
    { NULL, 0, NULL, NULL },
};

/* Runs Microscope over trace directory 'dir' and prints the report; 'extra' (may
 * be NULL; ownership taken) holds members added to the JSON report, and its
 * "perfsight" text (if any) is printed after the text report. */
static int
diagnose_dir(struct ctl_context *ctx, const char *dir, struct json_object *extra,
             const char *extra_text)
{
    const char *report_file = ctl_get_option(ctx, "report");
    struct diag_trace *trace = NULL;
    struct offline_summary *summary = NULL;
    struct vnet_error *error = offline_load_with(dir, NULL, &trace, &summary);
    if (error) {
        fprintf(ctx->err, "vnetctl: diagnose: %s\n", error->message);
        vnet_error_destroy(error);
        json_object_put(extra);
        return CTL_EXIT_USAGE;
    }
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    struct diag_report *report = NULL;
    error = microscope_diagnose(trace, &cfg, &report);
    struct json_object *timeline = ctl_report_is_html(report_file)
                                   ? diag_timeline_to_json(trace, VNET_MAX(
                                         (trace->t_end - trace->t_start) / 200,
                                         (uint64_t) 100000)) : NULL;
    diag_trace_destroy(trace);
    if (error) {
        fprintf(ctx->err, "vnetctl: diagnose: diagnosis of %s failed: %s\n", dir,
                error->message);
        vnet_error_destroy(error);
        offline_summary_destroy(summary);
        json_object_put(extra);
        json_object_put(timeline);
        return CTL_EXIT_DAEMON;
    }

    int rc = CTL_EXIT_OK;
    struct json_object *obj = NULL;
    if (ctx->json || report_file) {
        obj = diag_report_to_json(report);
        json_object_object_add(obj, "input", offline_summary_to_json(summary));
        if (timeline) {
            json_object_object_add(obj, "timeline", timeline);
            timeline = NULL;
        }
        if (extra) {
            json_object_object_foreach(extra, key, val) {
                json_object_object_add(obj, key, json_object_get(val));
            }
        }
    }
    if (ctx->json) {
        ctl_print_json(ctx, obj);
    } else {
        char *text = diag_report_to_text(report);
        char *input = offline_summary_to_text(summary);
        fprintf(ctx->out, "%s\n%s", text, input);
        if (extra_text) {
            fprintf(ctx->out, "\n%s", extra_text);
        }
        free(text);
        free(input);
    }
    if (report_file) {
        rc = ctl_write_report(ctx, "diagnose", report_file, obj, ctl_html_diagnosis);
    }
    json_object_put(obj);
    json_object_put(extra);
    diag_report_destroy(report);
    offline_summary_destroy(summary);
    return rc;
}


/* PerfSight findings as text lines. */
static char *
perfsight_text(struct json_object *ps)
{
    struct json_object *fs = json_object_object_get(ps, "findings");
    size_t n = json_object_array_length(fs);
    char *text = vnet_xasprintf("Counter findings (PerfSight): %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        struct json_object *f = json_object_array_get_idx(fs, i);
        char *line = vnet_xasprintf(
            "%s  %s: %s [%s] %s\n", text,
            json_object_get_string(json_object_object_get(f, "subject")),
            json_object_get_string(json_object_object_get(f, "title")),
            json_object_get_string(json_object_object_get(f, "code")),
            json_object_get_string(json_object_object_get(f, "evidence")));
        free(text);
        text = line;
    }
    return text;
}

/* Live: the last 'window' of the chain's Monitoring VNet, dumped by the agent in
 * the offline format and diagnosed like an offline trace, plus PerfSight over
 * vnetd's counters for the same window (at most the 12.8 s the agent keeps). */
static int
diagnose_live(struct ctl_context *ctx)
{
    const char *chain = ctx->argv[0];
    const char *window_opt = ctl_get_option(ctx, "window");
    const char *keep = ctl_get_option(ctx, "keep");
    uint64_t window_ns = 5000000000ull;
    if (window_opt && (vnet_parse_duration(window_opt, &window_ns)
                       || window_ns < 100000000ull || window_ns > 3600000000000ull)) {
        fprintf(ctx->err, "vnetctl: diagnose: --window: expected a duration from 100ms "
                "to 1h such as 5s, got '%s'\n", window_opt);
        return CTL_EXIT_USAGE;
    }
    char *dir;
    if (keep && *keep) {
        char *cwd = getcwd(NULL, 0);
        dir = keep[0] == '/' || !cwd ? vnet_xstrdup(keep)
                                     : vnet_xasprintf("%s/%s", cwd, keep);
        free(cwd);
    } else {
        char tmpl[] = "/tmp/vnet-diagnose.XXXXXX";
        if (!mkdtemp(tmpl)) {
            fprintf(ctx->err, "vnetctl: diagnose: cannot create a directory in /tmp: "
                    "%s\n", strerror(errno));
            return CTL_EXIT_USAGE;
        }
        dir = vnet_xstrdup(tmpl);
    }
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "dir", json_object_new_string(dir));
    json_object_object_add(params, "seconds",
                           json_object_new_double((double) window_ns / 1e9));
    struct json_object *dumped;
    int rc = ctl_call_monitor(ctx, "dump", params, &dumped);
    if (rc) {
        if (!keep) {
            vnet_remove_flat_dir(dir);
        }
        free(dir);
        return rc;
    }
    json_object_put(dumped);

    struct json_object *extra = json_object_new_object();
    json_object_object_add(extra, "chain", json_object_new_string(chain));
    json_object_object_add(extra, "window_s",
                           json_object_new_double((double) window_ns / 1e9));
    if (keep) {
        json_object_object_add(extra, "trace_dir", json_object_new_string(dir));
    }
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "name", json_object_new_string(chain));
    json_object_object_add(p, "window", json_object_new_double(
                               VNET_MIN((double) window_ns / 1e9, 12.0)));
    struct json_object *ps = NULL;
    char *ps_text = NULL;
    FILE *err = ctx->err;
    ctx->err = fopen("/dev/null", "w");     /* a missing PerfSight is reported below */
    int ps_rc = ctl_call(ctx, "counters/diagnose", p, &ps);
    if (ctx->err) {
        fclose(ctx->err);
    }
    ctx->err = err;
    if (!ps_rc) {
        ps_text = perfsight_text(ps);
        json_object_object_add(extra, "perfsight", ps);
    } else {
        json_object_object_add(extra, "perfsight", NULL);
        ps_text = vnet_xstrdup("Counter findings (PerfSight): not available (the "
                               "counters agent has no two samples yet)\n");
    }
    rc = diagnose_dir(ctx, dir, extra, ps_text);
    free(ps_text);
    if (!keep) {
        vnet_remove_flat_dir(dir);
    }
    free(dir);
    return rc;
}

int
ctl_cmd_diagnose(struct ctl_context *ctx)
{
    const char *dir = ctl_get_option(ctx, "offline");
    const char *report_file = ctl_get_option(ctx, "report");
    if (report_file && !*report_file) {
        fprintf(ctx->err, "vnetctl: diagnose: --report needs a FILE\n");
        return CTL_EXIT_USAGE;
    }
    if (dir && ctx->argc > 0) {
        fprintf(ctx->err, "vnetctl: diagnose: give CHAIN or --offline DIR, not both "
                "('%s' and '%s')\n", ctx->argv[0], dir);
        return CTL_EXIT_USAGE;
    }
    if (!dir) {
        if (ctx->argc == 0) {
            fprintf(ctx->err, "vnetctl: diagnose: give CHAIN (live, from its "
                    "Monitoring VNet) or --offline DIR\n");
            return CTL_EXIT_USAGE;
        }
        return diagnose_live(ctx);
    }
    if (!*dir) {
        fprintf(ctx->err, "vnetctl: diagnose: --offline needs a DIR\n");
        return CTL_EXIT_USAGE;
    }
    if (ctl_get_option(ctx, "window") || ctl_get_option(ctx, "keep")) {
        fprintf(ctx->err, "vnetctl: diagnose: --window and --keep apply to live "
                "diagnosis; an offline trace is analysed whole\n");
        return CTL_EXIT_USAGE;
    }
    return diagnose_dir(ctx, dir, NULL, NULL);
}
