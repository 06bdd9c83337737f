/* ctl-diagnose.c -- 'vnetctl diagnose --offline DIR': the diagnosers on a trace
 * directory, in vnetctl itself (no daemon). */
#include "vnetd/ctl-diagnose.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/microscope.h"
#include "diag/offline.h"
#include "diag/trace.h"
#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"

const struct ctl_option ctl_diagnose_options[] = {
    { "offline", 0, "DIR", "diagnose the trace directory DIR (topology.json and its "
      "pcaps) instead of a live chain" },
    { "window", 0, "DURATION", "live diagnosis: how much of the recent past to "
      "analyse" },
    { "report", 0, "FILE", "also write the JSON report to FILE" },
    { NULL, 0, NULL, NULL },
};

int
ctl_cmd_diagnose(struct ctl_context *ctx)
{
    const char *dir = ctl_get_option(ctx, "offline");
    const char *report_file = ctl_get_option(ctx, "report");
    if (!dir || !*dir) {
        fprintf(ctx->err, "vnetctl: diagnose: give --offline DIR (live diagnosis of "
                "CHAIN needs the Monitoring VNet)\n");
        return CTL_EXIT_USAGE;
    }
    if (ctx->argc > 0) {
        fprintf(ctx->err, "vnetctl: diagnose: give CHAIN or --offline DIR, not both "
                "('%s' and '%s')\n", ctx->argv[0], dir);
        return CTL_EXIT_USAGE;
    }
    if (ctl_get_option(ctx, "window")) {
        fprintf(ctx->err, "vnetctl: diagnose: --window applies to live diagnosis; an "
                "offline trace is analysed whole\n");
        return CTL_EXIT_USAGE;
    }
    if (report_file && !*report_file) {
        fprintf(ctx->err, "vnetctl: diagnose: --report needs a FILE\n");
        return CTL_EXIT_USAGE;
    }

    struct diag_trace *trace = NULL;
    struct offline_summary *summary = NULL;
    struct vnet_error *error = offline_load_with(dir, NULL, &trace, &summary);
    if (error) {
        fprintf(ctx->err, "vnetctl: diagnose: %s\n", error->message);
        vnet_error_destroy(error);
        return CTL_EXIT_USAGE;
    }
    struct microscope_config cfg;
    microscope_config_init(&cfg);
    struct diag_report *report = NULL;
    error = microscope_diagnose(trace, &cfg, &report);
    diag_trace_destroy(trace);
    if (error) {
        fprintf(ctx->err, "vnetctl: diagnose: diagnosis of %s failed: %s\n", dir,
                error->message);
        vnet_error_destroy(error);
        offline_summary_destroy(summary);
        return CTL_EXIT_DAEMON;
    }

    int rc = CTL_EXIT_OK;
    struct json_object *obj = NULL;
    if (ctx->json || report_file) {
        obj = diag_report_to_json(report);
        json_object_object_add(obj, "input", offline_summary_to_json(summary));
    }
    if (ctx->json) {
        ctl_print_json(ctx, obj);
    } else {
        char *text = diag_report_to_text(report);
        char *input = offline_summary_to_text(summary);
        fprintf(ctx->out, "%s\n%s", text, input);
        free(text);
        free(input);
    }
    if (report_file) {
        const char *s = json_object_to_json_string_ext(
            obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *with_nl = vnet_xasprintf("%s\n", s);
        int err = vnet_atomic_write(report_file, with_nl, strlen(with_nl), 0644);
        free(with_nl);
        if (err) {
            fprintf(ctx->err, "vnetctl: diagnose: cannot write the report to %s: %s\n",
                    report_file, strerror(-err));
            rc = CTL_EXIT_USAGE;
        }
    }
    json_object_put(obj);
    diag_report_destroy(report);
    offline_summary_destroy(summary);
    return rc;
}
