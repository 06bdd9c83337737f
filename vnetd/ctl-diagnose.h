/* ctl-diagnose.h -- 'vnetctl diagnose': ranked root causes of an NF chain's
 * performance problems.
 *
 * `vnetctl diagnose --offline DIR [--json] [--report FILE]` needs no daemon: it
 * loads the trace directory DIR (diag/offline.h: topology.json and the pcaps it
 * names), runs Microscope over it (diag/microscope.h, default configuration) and
 * prints the report as text, or with --json as the report's JSON object plus an
 * "input" member (diag/offline.h: what was read and how well it matched);
 * --report FILE also writes that JSON object to FILE, or, if FILE ends in ".html",
 * a self-contained HTML report (ctl-html.h) with per-NF queue and latency timelines.
 *
 * `vnetctl diagnose CHAIN [--window 5s] [--keep DIR] [--json]` diagnoses the live
 * chain the same way: the chain's monitoring agent dumps the last window of its
 * store in the offline format (into DIR, or a temporary directory removed
 * afterwards), which is diagnosed exactly like an offline trace, so live and
 * offline read the same thing; vnetd's counters agent adds PerfSight's findings
 * for the same window ("perfsight", null when it has no samples yet).
 *
 * Exit codes: 0 with a report, 1 for usage errors and bad input (the message names
 * the file and the problem), 2 if the diagnosis itself failed.
 *
 * Ownership: nothing outlives the call; output goes to ctx->out, errors to
 * ctx->err.  Thread-safety: no shared state. */
#ifndef VNETD_CTL_DIAGNOSE_H
#define VNETD_CTL_DIAGNOSE_H 1

#include "vnetd/ctl-commands.h"

/* The command's options: offline DIR, window DURATION, report FILE. */
extern const struct ctl_option ctl_diagnose_options[];

int ctl_cmd_diagnose(struct ctl_context *);

#endif
