/* ctl-html.h -- self-contained HTML reports for operators.
 *
 * Each report is one file: inline SVG charts and tables, inline CSS, no scripts
 * and no external assets, so it opens anywhere and can be mailed.  Every string
 * taken from the JSON is HTML-escaped.
 *
 *  - ctl_html_diagnosis(): from the JSON report of 'vnetctl diagnose' (with its
 *    optional "timeline" of diag/timeline.h, "perfsight" findings, "chain" and
 *    "input"): the ranked culprits as bars with their explanation trees, per-NF
 *    queue and latency timelines with the fault window (the buckets where the NF's
 *    queue was at least half its maximum) shaded, the AutoFocus patterns, the
 *    per-NF table and the counter findings with their rule-book entries.
 *  - ctl_html_compare(): from the JSON result of 'vnetctl shadow compare' (with
 *    its "cdf": per class, the latency quantiles of both chains): the verdict and
 *    its clauses, the latency CDFs of both chains on the same packets, loss and MOS
 *    per class, and the statistical tests.
 *
 * Both return a string the caller frees.  No shared state. */
#ifndef VNETD_CTL_HTML_H
#define VNETD_CTL_HTML_H 1

struct json_object;

char *ctl_html_diagnosis(struct json_object *report);
char *ctl_html_compare(struct json_object *result);

#endif
