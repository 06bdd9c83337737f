/* ctl-html.c -- self-contained HTML reports (see ctl-html.h). */
#include "vnetd/ctl-html.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define W_CHART 560
#define H_CHART 120

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
    "padding:3px 8px;text-align:right}th{background:#f0f0f0}td.l,th.l{text-align:left}"
    ".verdict{font-size:28px;font-weight:bold;padding:8px 16px;display:inline-block}"
    ".SWAP{background:#d4f7d4}.KEEP{background:#f7d4d4}.INCONCLUSIVE{background:#f7f0d4}"
    ".ok{color:#070}.no{color:#a00}.chart{margin:4px 24px 12px 0;display:inline-block}"
    "svg text{font-size:11px}.small{font-size:12px;color:#555}";

/* ---- JSON access -------------------------------------------------------------- */

static struct json_object *
get(struct json_object *o, const char *key)
{
    struct json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *
str(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);
    return v ? json_object_get_string(v) : "";
}

static double
num(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);
    return v && !json_object_is_type(v, json_type_null) ? json_object_get_double(v) : NAN;
}

/* ---- Output ------------------------------------------------------------------- */

static void
esc(struct vnet_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': vnet_buf_puts(b, "&lt;"); break;
        case '>': vnet_buf_puts(b, "&gt;"); break;
        case '&': vnet_buf_puts(b, "&amp;"); break;
        case '"': vnet_buf_puts(b, "&quot;"); break;
        case '\'': vnet_buf_puts(b, "&#39;"); break;
        default: {
            char c[2] = { *s, '\0' };
            vnet_buf_puts(b, c);
        }
        }
    }
}

/* A table cell holding 'text' (escaped). */
static void
cell(struct vnet_buf *b, const char *text, bool left)
{
    vnet_buf_puts(b, left ? "<td class=\"l\">" : "<td>");
    esc(b, text);
    vnet_buf_puts(b, "</td>");
}

static void
cellf(struct vnet_buf *b, double v, const char *fmt)
{
    char buf[64];
    if (isnan(v)) {
        snprintf(buf, sizeof buf, "-");
    } else {
        snprintf(buf, sizeof buf, fmt, v);
    }
    cell(b, buf, false);
}

static void
head(struct vnet_buf *b, const char *title)
{
    vnet_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>");
    esc(b, title);
    vnet_buf_printf(b, "</title><style>%s</style></head><body>\n<h1>", css);
    esc(b, title);
    vnet_buf_puts(b, "</h1>\n");
}

/* A line chart of 'n' values (a JSON array) with the buckets of 'shade' marked. */
static void
line_chart(struct vnet_buf *b, const char *id, const char *label,
           struct json_object *values, const bool *shade, double bucket_us)
{
    size_t n = json_object_array_length(values);
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        max = fmax(max, json_object_get_double(json_object_array_get_idx(values, i)));
    }
    double top = max > 0 ? max : 1;
    vnet_buf_puts(b, "<svg class=\"chart\" id=\"");
    esc(b, id);
    vnet_buf_printf(b, "\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
                    W_CHART, H_CHART + 30);
    esc(b, label);
    vnet_buf_puts(b, "\">");
    double dx = n > 1 ? (double) (W_CHART - 50) / (double) (n - 1) : 0;
    for (size_t i = 0; shade && i < n; i++) {
        if (shade[i]) {
            vnet_buf_printf(b, "<rect class=\"fault\" x=\"%.1f\" y=\"10\" width=\"%.1f\" "
                            "height=\"%d\" fill=\"#fbd0d0\"/>", 45 + dx * (double) i - dx / 2,
                            fmax(dx, 1), H_CHART);
        }
    }
    vnet_buf_printf(b, "<line x1=\"45\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
                    H_CHART + 10, W_CHART - 5, H_CHART + 10);
    vnet_buf_puts(b, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" "
                  "points=\"");
    for (size_t i = 0; i < n; i++) {
        double v = json_object_get_double(json_object_array_get_idx(values, i));
        vnet_buf_printf(b, "%.1f,%.1f ", 45 + dx * (double) i,
                        10 + H_CHART - v / top * H_CHART);
    }
    vnet_buf_printf(b, "\"/><text x=\"0\" y=\"18\">%.4g</text><text x=\"0\" y=\"%d\">0"
                    "</text><text x=\"45\" y=\"%d\">", max, H_CHART + 10, H_CHART + 26);
    esc(b, label);
    vnet_buf_printf(b, " (%zu buckets of %.0f us)</text></svg>\n", n, bucket_us);
}

/* ---- Diagnosis ---------------------------------------------------------------- */

static void
culprit_bars(struct vnet_buf *b, struct json_object *culprits)
{
    size_t n = VNET_MIN(json_object_array_length(culprits), (size_t) 12);
    vnet_buf_printf(b, "<svg id=\"culprit-bars\" width=\"%d\" height=\"%zu\" role=\"img\" "
                    "aria-label=\"ranked culprits\">", W_CHART + 200, 24 * n + 8);
    for (size_t i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(culprits, i);
        double share = num(c, "share");
        share = isnan(share) ? 0 : share;
        vnet_buf_printf(b, "<text x=\"0\" y=\"%zu\">", 24 * i + 18);
        esc(b, str(c, "culprit"));
        vnet_buf_printf(b, "</text><rect class=\"bar\" x=\"170\" y=\"%zu\" width=\"%.1f\" "
                        "height=\"16\" fill=\"%s\"/><text x=\"%.1f\" y=\"%zu\">%.1f %%"
                        "</text>", 24 * i + 5, fmax(share * W_CHART, 1),
                        i ? "#7aa6e0" : "#d9534f", 175 + share * W_CHART, 24 * i + 18,
                        100 * share);
    }
    vnet_buf_puts(b, "</svg>\n");
}

static void
explanations(struct vnet_buf *b, struct json_object *report)
{
    struct json_object *culprits = get(report, "culprits");
    struct json_object *expl = get(report, "explanations");
    size_t n = VNET_MIN(json_object_array_length(culprits), (size_t) 5);
    vnet_buf_puts(b, "<h2 id=\"explanations\">Why: an example victim per culprit</h2>\n<ul>");
    for (size_t i = 0; i < n; i++) {
        const char *name = str(json_object_array_get_idx(culprits, i), "culprit");
        for (size_t k = 0; k < json_object_array_length(expl); k++) {
            struct json_object *x = json_object_array_get_idx(expl, k);
            if (strcmp(str(x, "culprit"), name)) {
                continue;
            }
            struct json_object *v = get(x, "victim");
            vnet_buf_puts(b, "<li><b>");
            esc(b, name);
            vnet_buf_puts(b, "</b>: packet at ");
            esc(b, str(v, "nf"));
            vnet_buf_printf(b, " found a queue of %.0f over %.1f us (arrivals n_i %.0f, "
                            "service deficit n_p %.0f at r %.0f pps): input excess S_i "
                            "%.1f, NF shortfall S_p %.1f, backlog %.0f; blamed %.1f",
                            num(v, "q"), num(v, "tau_us"), num(v, "n_i"), num(v, "n_p"),
                            num(v, "r_pps"), num(v, "s_i"), num(v, "s_p"),
                            num(v, "backlog"), num(x, "score"));
            struct json_object *in = get(x, "input");
            if (in) {
                vnet_buf_printf(b, "<ul><li>input spread expected %.1f us; ",
                                num(in, "t_exp_us"));
                struct json_object *hops = get(in, "hops");
                for (size_t h = 0; h < json_object_array_length(hops); h++) {
                    struct json_object *hp = json_object_array_get_idx(hops, h);
                    esc(b, str(hp, "hop"));
                    vnet_buf_printf(b, " %.1f us (credit %.1f)%s", num(hp, "span_us"),
                                    num(hp, "credit_us"),
                                    h + 1 < json_object_array_length(hops) ? ", " : "");
                }
                vnet_buf_puts(b, "; shrank most: ");
                esc(b, str(in, "shrank"));
                vnet_buf_puts(b, "</li></ul>");
            }
            vnet_buf_puts(b, "</li>\n");
            break;
        }
    }
    vnet_buf_puts(b, "</ul>\n");
}

static void
timelines(struct vnet_buf *b, struct json_object *tl)
{
    vnet_buf_puts(b, "<h2 id=\"timelines\">Queue and latency per NF</h2>\n<p class=\"small\">"
                  "Shaded: the fault window, where the NF's queue was at least half its "
                  "maximum (if that reached 16 packets).</p>\n");
    double bucket_us = num(tl, "bucket_us");
    json_object_object_foreach(get(tl, "nfs"), name, nf) {
        struct json_object *q = get(nf, "queue_max"), *l = get(nf, "latency_max_us");
        size_t n = json_object_array_length(q);
        int64_t qmax = 0;
        for (size_t i = 0; i < n; i++) {
            qmax = VNET_MAX(qmax, json_object_get_int64(json_object_array_get_idx(q, i)));
        }
        bool *shade = vnet_xcalloc(n + 1, sizeof *shade);
        for (size_t i = 0; i < n && qmax >= 16; i++) {
            shade[i] = 2 * json_object_get_int64(json_object_array_get_idx(q, i)) >= qmax;
        }
        vnet_buf_puts(b, "<div><h3>");
        esc(b, name);
        vnet_buf_puts(b, "</h3>");
        char id[96], label[96];
        snprintf(id, sizeof id, "queue-%s", name);
        snprintf(label, sizeof label, "%s queue length (packets)", name);
        line_chart(b, id, label, q, shade, bucket_us);
        snprintf(id, sizeof id, "latency-%s", name);
        snprintf(label, sizeof label, "%s latency (us)", name);
        line_chart(b, id, label, l, shade, bucket_us);
        vnet_buf_puts(b, "</div>\n");
        free(shade);
    }
}

static void
patterns(struct vnet_buf *b, struct json_object *pats)
{
    vnet_buf_puts(b, "<h2 id=\"patterns\">AutoFocus patterns</h2>\n<table id=\"patterns-table\">"
                  "<tr><th class=\"l\">culprit</th><th class=\"l\">src</th><th class=\"l\">"
                  "dst</th><th>sport</th><th>dport</th><th>proto</th><th>score</th></tr>\n");
    size_t n = VNET_MIN(json_object_array_length(pats), (size_t) 40);
    for (size_t i = 0; i < n; i++) {
        struct json_object *p = json_object_array_get_idx(pats, i);
        vnet_buf_puts(b, "<tr>");
        cell(b, str(p, "culprit"), true);
        cell(b, str(p, "src"), true);
        cell(b, str(p, "dst"), true);
        cell(b, str(p, "sport"), false);
        cell(b, str(p, "dport"), false);
        cell(b, str(p, "proto"), false);
        cellf(b, num(p, "score"), "%.1f");
        vnet_buf_puts(b, "</tr>\n");
    }
    vnet_buf_puts(b, "</table>\n");
}

static void
nf_table(struct vnet_buf *b, struct json_object *nfs)
{
    vnet_buf_puts(b, "<h2 id=\"nfs\">Per NF</h2>\n<table id=\"nf-table\"><tr><th class=\"l\">"
                  "NF</th><th>packets</th><th>drops</th><th>latency p50 (us)</th><th>"
                  "latency p99 (us)</th><th>victims</th><th class=\"l\">blamed for its "
                  "victims</th></tr>\n");
    json_object_object_foreach(nfs, name, nf) {
        vnet_buf_puts(b, "<tr>");
        cell(b, name, true);
        cellf(b, num(nf, "packets"), "%.0f");
        cellf(b, num(nf, "drops"), "%.0f");
        cellf(b, num(nf, "latency_p50_us"), "%.1f");
        cellf(b, num(nf, "latency_p99_us"), "%.1f");
        cellf(b, num(nf, "victims"), "%.0f");
        struct vnet_buf c = VNET_BUF_INITIALIZER;
        struct json_object *cs = get(nf, "culprits");
        for (size_t i = 0; i < VNET_MIN(json_object_array_length(cs), (size_t) 3); i++) {
            struct json_object *x = json_object_array_get_idx(cs, i);
            vnet_buf_printf(&c, "%s%s %.0f", i ? ", " : "", str(x, "culprit"),
                            num(x, "score"));
        }
        char *ct = vnet_buf_steal(&c);
        cell(b, ct, true);
        free(ct);
        vnet_buf_puts(b, "</tr>\n");
    }
    vnet_buf_puts(b, "</table>\n");
}

static void
perfsight(struct vnet_buf *b, struct json_object *ps)
{
    vnet_buf_puts(b, "<h2 id=\"perfsight\">Counter findings (PerfSight)</h2>\n");
    struct json_object *fs = get(ps, "findings");
    if (!ps || json_object_is_type(ps, json_type_null)) {
        vnet_buf_puts(b, "<p>Not available (offline trace, or no counter samples yet)."
                      "</p>\n");
        return;
    }
    if (!json_object_array_length(fs)) {
        vnet_buf_puts(b, "<p>No element lost packets in the window.</p>\n");
        return;
    }
    vnet_buf_puts(b, "<table id=\"perfsight-table\"><tr><th class=\"l\">element</th><th "
                  "class=\"l\">finding</th><th class=\"l\">rule</th><th class=\"l\">"
                  "resource</th><th class=\"l\">evidence</th><th class=\"l\">what to do"
                  "</th></tr>\n");
    for (size_t i = 0; i < json_object_array_length(fs); i++) {
        struct json_object *f = json_object_array_get_idx(fs, i);
        vnet_buf_puts(b, "<tr>");
        cell(b, str(f, "subject"), true);
        cell(b, str(f, "title"), true);
        cell(b, str(f, "code"), true);
        cell(b, str(f, "resource"), true);
        cell(b, str(f, "evidence"), true);
        cell(b, str(f, "action"), true);
        vnet_buf_puts(b, "</tr>\n");
    }
    vnet_buf_puts(b, "</table>\n");
}

char *
ctl_html_diagnosis(struct json_object *report)
{
    struct vnet_buf b = VNET_BUF_INITIALIZER;
    const char *chain = str(report, "chain");
    char *title = *chain ? vnet_xasprintf("vnet diagnosis of chain %s", chain)
                         : vnet_xasprintf("vnet diagnosis of %s",
                                          str(get(report, "input"), "dir"));
    head(&b, title);
    free(title);
    struct json_object *culprits = get(report, "culprits");
    vnet_buf_printf(&b, "<p>%.0f victim packets (delayed or dropped), %zu culprits.</p>\n",
                    num(report, "victims"), json_object_array_length(culprits));
    vnet_buf_puts(&b, "<h2 id=\"culprits\">Ranked culprits</h2>\n");
    culprit_bars(&b, culprits);
    explanations(&b, report);
    if (get(report, "timeline")) {
        timelines(&b, get(report, "timeline"));
    }
    patterns(&b, get(report, "patterns"));
    nf_table(&b, get(report, "nfs"));
    perfsight(&b, get(report, "perfsight"));
    vnet_buf_puts(&b, "</body></html>\n");
    return vnet_buf_steal(&b);
}

/* ---- Comparison --------------------------------------------------------------- */

/* Latency CDFs of both chains for one class: x on a log scale. */
static void
cdf_chart(struct vnet_buf *b, const char *cls, struct json_object *cdf)
{
    static const char *const sides[] = { "production", "shadow" };
    static const char *const colors[] = { "#d9534f", "#2e8b57" };
    double lo = INFINITY, hi = 0;
    for (int s = 0; s < 2; s++) {
        struct json_object *q = get(cdf, sides[s]);
        for (size_t i = 0; i < json_object_array_length(q); i++) {
            double v = json_object_get_double(json_object_array_get_idx(q, i));
            if (v > 0) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    }
    if (!(hi > 0)) {
        return;
    }
    lo = log10(lo);
    hi = fmax(log10(hi), lo + 1e-6);
    vnet_buf_puts(b, "<svg class=\"chart\" id=\"cdf-");
    esc(b, cls);
    vnet_buf_printf(b, "\" width=\"%d\" height=\"%d\" role=\"img\" "
                    "aria-label=\"latency CDF\">", W_CHART, H_CHART + 40);
    for (int s = 0; s < 2; s++) {
        struct json_object *q = get(cdf, sides[s]);
        size_t n = json_object_array_length(q);
        vnet_buf_printf(b, "<polyline class=\"cdf-%s\" fill=\"none\" stroke=\"%s\" "
                        "stroke-width=\"2\" points=\"", sides[s], colors[s]);
        for (size_t i = 0; i < n; i++) {
            double v = fmax(json_object_get_double(json_object_array_get_idx(q, i)), 1e-9);
            double x = 45 + (log10(v) - lo) / (hi - lo) * (W_CHART - 60);
            double y = 10 + H_CHART - (double) i / (double) (n > 1 ? n - 1 : 1) * H_CHART;
            vnet_buf_printf(b, "%.1f,%.1f ", fmax(x, 45), y);
        }
        vnet_buf_printf(b, "\"/><text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>",
                        60 + 120 * s, H_CHART + 36, colors[s], sides[s]);
    }
    vnet_buf_printf(b, "<text x=\"0\" y=\"18\">1.0</text><text x=\"0\" y=\"%d\">0</text>"
                    "<text x=\"45\" y=\"%d\">%.0f us</text><text x=\"%d\" y=\"%d\">"
                    "%.0f us (log scale)</text></svg>\n", H_CHART + 10, H_CHART + 24,
                    pow(10, lo), W_CHART - 170, H_CHART + 24, pow(10, hi));
}

char *
ctl_html_compare(struct json_object *res)
{
    struct vnet_buf b = VNET_BUF_INITIALIZER;
    char *title = vnet_xasprintf("vnet shadow comparison of chain %s", str(res, "chain"));
    head(&b, title);
    free(title);
    const char *verdict = str(res, "verdict");
    vnet_buf_puts(&b, "<p>Verdict: <span id=\"verdict\" class=\"verdict ");
    esc(&b, verdict);
    vnet_buf_puts(&b, "\">");
    esc(&b, verdict);
    vnet_buf_printf(&b, "</span></p>\n<p class=\"small\">%.0f s observed (minimum %.0f s), "
                    "%.0f ingress packets; production is side %.0f.</p>\n",
                    num(res, "observed_s"), num(res, "min_duration_s"),
                    num(res, "ingress_packets"), num(res, "production_side"));
    vnet_buf_puts(&b, "<h2 id=\"clauses\">Why</h2>\n<ul>");
    struct json_object *cl = get(res, "clauses");
    for (size_t i = 0; i < json_object_array_length(cl); i++) {
        struct json_object *c = json_object_array_get_idx(cl, i);
        bool ok = json_object_get_boolean(get(c, "ok"));
        vnet_buf_printf(&b, "<li class=\"%s\">(%s) %s ", ok ? "ok" : "no", str(c, "clause"),
                        ok ? "&#10003;" : "&#10007;");
        esc(&b, str(c, "name"));
        vnet_buf_puts(&b, ": ");
        esc(&b, str(c, "text"));
        vnet_buf_puts(&b, "</li>\n");
    }
    vnet_buf_puts(&b, "</ul>\n<h2 id=\"cdfs\">Latency on the same packets</h2>\n");
    json_object_object_foreach(get(res, "cdf"), cls, cdf) {
        vnet_buf_puts(&b, "<div><h3>");
        esc(&b, cls);
        vnet_buf_puts(&b, "</h3>");
        cdf_chart(&b, cls, cdf);
        vnet_buf_puts(&b, "</div>\n");
    }
    vnet_buf_puts(&b, "<h2 id=\"classes\">Loss, latency and MOS per class</h2>\n<table "
                  "id=\"class-table\"><tr><th class=\"l\">class</th><th class=\"l\">chain"
                  "</th><th>sent</th><th>loss %</th><th>p50 us</th><th>p99 us</th><th>"
                  "jitter us</th><th>reordered</th><th>MOS</th></tr>\n");
    struct json_object *classes = get(res, "classes");
    for (size_t i = 0; i < json_object_array_length(classes); i++) {
        struct json_object *c = json_object_array_get_idx(classes, i);
        static const char *const sides[] = { "production", "shadow" };
        for (int s = 0; s < 2; s++) {
            struct json_object *x = get(c, sides[s]);
            if (!(num(x, "sent") > 0)) {
                continue;
            }
            vnet_buf_puts(&b, "<tr>");
            cell(&b, str(c, "name"), true);
            cell(&b, sides[s], true);
            cellf(&b, num(x, "sent"), "%.0f");
            cellf(&b, 100 * num(x, "loss"), "%.3f");
            cellf(&b, num(x, "p50_us"), "%.1f");
            cellf(&b, num(x, "p99_us"), "%.1f");
            cellf(&b, num(x, "jitter_us"), "%.1f");
            cellf(&b, num(x, "reordered"), "%.0f");
            cellf(&b, num(x, "mos"), "%.2f");
            vnet_buf_puts(&b, "</tr>\n");
        }
    }
    vnet_buf_puts(&b, "</table>\n<h2 id=\"tests\">Statistical tests (Holm-corrected)</h2>\n"
                  "<table id=\"test-table\"><tr><th class=\"l\">class</th><th class=\"l\">"
                  "metric</th><th class=\"l\">method</th><th>n</th><th>p</th><th>p Holm"
                  "</th><th class=\"l\">direction</th><th>effect</th></tr>\n");
    struct json_object *tests = get(res, "tests");
    for (size_t i = 0; i < json_object_array_length(tests); i++) {
        struct json_object *t = json_object_array_get_idx(tests, i);
        vnet_buf_puts(&b, "<tr>");
        cell(&b, str(t, "class"), true);
        cell(&b, str(t, "metric"), true);
        cell(&b, str(t, "method"), true);
        cellf(&b, num(t, "n"), "%.0f");
        cellf(&b, num(t, "p"), "%.3g");
        cellf(&b, num(t, "p_holm"), "%.3g");
        cell(&b, str(t, "direction"), true);
        cellf(&b, num(t, "effect"), "%.3g");
        vnet_buf_puts(&b, "</tr>\n");
    }
    vnet_buf_puts(&b, "</table>\n</body></html>\n");
    return vnet_buf_steal(&b);
}
