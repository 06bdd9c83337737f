/* Tests diag/offline.c: trace directories written here (topology.json plus pcaps
 * made with pcap_dump, and a pcapng by hand) load into the expected trace with
 * nanosecond and microsecond timestamps, and each kind of bad input gives an error
 * naming the file and the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag/offline.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

#define US 1000ULL

static const char topology[] =
    "{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": 1500000, \"qcap\": 1024, "
    "\"type\": \"firewall\"}, {\"name\": \"nat\", \"peak_pps\": 1000000, "
    "\"type\": \"nat\"}],\n"
    " \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], [\"nat\", \"egress\"]],\n"
    " \"captures\": {\"fw\": {\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"},\n"
    "              \"nat\": {\"in\": \"nat.in.pcap\", \"out\": \"nat.out.pcap\"}}}\n";

struct fixture {
    char dir[64];
};

static int
setup(void **state)
{
    struct fixture *fx = vnet_xzalloc(sizeof *fx);
    vnet_strlcpy(fx->dir, "/tmp/vnet-test-offline-XXXXXX", sizeof fx->dir);
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char *p = vnet_xasprintf("%s/%s", fx->dir, e->d_name);
            assert_int_equal(unlink(p), 0);
            free(p);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(fx->dir), 0);
    free(fx);
    return 0;
}

static void
write_text(const char *dir, const char *name, const char *text)
{
    char *path = vnet_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* ---- Frames and capture files ---------------------------------------------------- */

/* A UDP frame 10.0.0.1:1000 -> 10.0.0.2:2000 carrying 'tag', or from 198.51.100.1
 * and port 40000 + (tag % 4) once NATed; 'ttl' stands for the hop. */
static size_t
udp_frame(uint8_t *f, uint32_t tag, bool natted, uint8_t ttl)
{
    memset(f, 0, 14 + 20 + 8 + 32);
    f[5] = 2, f[11] = ttl, f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45, ip[3] = 20 + 8 + 32;
    ip[4] = (uint8_t) (tag >> 8), ip[5] = (uint8_t) tag;
    ip[8] = ttl, ip[9] = 17;
    uint32_t sip = natted ? 0xc6336401 : 0x0a000001, dip = 0x0a000002;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t) (sip >> (24 - 8 * i));
        ip[16 + i] = (uint8_t) (dip >> (24 - 8 * i));
    }
    uint16_t sport = (uint16_t) ((natted ? 40000 : 1000) + tag % 4);
    uint8_t *u = ip + 20;
    u[0] = (uint8_t) (sport >> 8), u[1] = (uint8_t) sport;
    u[2] = 2000 >> 8, u[3] = 2000 & 0xff;
    u[5] = 8 + 32;
    for (int i = 0; i < 4; i++) {
        u[8 + i] = (uint8_t) (tag >> (24 - 8 * i));
    }
    return 14 + 20 + 8 + 32;
}

struct rec {
    uint64_t ts;
    uint32_t tag;
    bool natted;
    uint8_t ttl;
};

/* Writes a pcap of 'n' records at 'precision' (timestamps truncated to it). */
static void
write_pcap(const char *dir, const char *name, int dlt, int precision,
           const struct rec *r, size_t n)
{
    char *path = vnet_xasprintf("%s/%s", dir, name);
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(dlt, 65535, precision);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) {
        uint8_t f[256];
        size_t len = udp_frame(f, r[i].tag, r[i].natted, r[i].ttl);
        struct pcap_pkthdr h = { .caplen = (bpf_u_int32) len,
                                 .len = (bpf_u_int32) len };
        h.ts.tv_sec = (time_t) (r[i].ts / 1000000000u);
        uint64_t frac = r[i].ts % 1000000000u;
        h.ts.tv_usec = (suseconds_t) (precision == PCAP_TSTAMP_PRECISION_NANO ? frac
                                      : frac / 1000);
        pcap_dump((u_char *) d, &h, f);
    }
    pcap_dump_close(d);
    pcap_close(dead);
    free(path);
}

static void
put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

/* The same as a pcapng file with nanosecond resolution. */
static void
write_pcapng(const char *dir, const char *name, const struct rec *r, size_t n)
{
    size_t cap = 64 + n * 128, o = 0;
    uint8_t *b = vnet_xzalloc(cap);
    put32le(b, 0x0a0d0d0a), put32le(b + 4, 28), put32le(b + 8, 0x1a2b3c4d);
    b[12] = 1;
    memset(b + 16, 0xff, 8);
    put32le(b + 24, 28);
    o = 28;
    put32le(b + o, 1), put32le(b + o + 4, 32), b[o + 8] = 1;
    put32le(b + o + 12, 65535);
    b[o + 16] = 9, b[o + 18] = 1, b[o + 20] = 9;    /* if_tsresol = 9 */
    put32le(b + o + 28, 32);
    o += 32;
    for (size_t i = 0; i < n; i++) {
        uint8_t f[256];
        size_t len = udp_frame(f, r[i].tag, r[i].natted, r[i].ttl);
        size_t padded = (len + 3) & ~(size_t) 3, blk = 32 + padded;
        put32le(b + o, 6), put32le(b + o + 4, (uint32_t) blk);
        put32le(b + o + 12, (uint32_t) (r[i].ts >> 32));
        put32le(b + o + 16, (uint32_t) r[i].ts);
        put32le(b + o + 20, (uint32_t) len), put32le(b + o + 24, (uint32_t) len);
        memcpy(b + o + 28, f, len);
        put32le(b + o + blk - 4, (uint32_t) blk);
        o += blk;
    }
    char *path = vnet_xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, o, fp), o);
    fclose(fp);
    free(path);
    free(b);
}

/* The scenario: 'n' packets 10 us apart (plus 'base'); fw takes 'fw_lat', drops
 * packet 'lost' (n: none); the OVS hop takes 'hop'; nat takes 3 us and rewrites
 * source address and port. */
struct scenario {
    uint64_t base, fw_lat, hop;
    uint32_t n, lost;
    int precision;
    bool pcapng_nat_in;
};

static void
write_scenario(const char *dir, const struct scenario *s)
{
    struct rec *r[4];
    size_t cnt[4] = { 0 };
    for (int k = 0; k < 4; k++) {
        r[k] = vnet_xcalloc(s->n, sizeof *r[k]);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t t0 = s->base + 10 * US * i;
        r[0][cnt[0]++] = (struct rec) { t0, i, false, 64 };
        if (i == s->lost) {
            continue;
        }
        uint64_t d = t0 + s->fw_lat;
        r[1][cnt[1]++] = (struct rec) { d, i, false, 63 };
        r[2][cnt[2]++] = (struct rec) { d + s->hop, i, false, 63 };
        r[3][cnt[3]++] = (struct rec) { d + s->hop + 3 * US, i, true, 62 };
    }
    static const char *const names[] = { "fw.in.pcap", "fw.out.pcap", "nat.in.pcap",
                                         "nat.out.pcap" };
    for (int k = 0; k < 4; k++) {
        if (k == 2 && s->pcapng_nat_in) {
            write_pcapng(dir, names[k], r[k], cnt[k]);
        } else {
            write_pcap(dir, names[k], DLT_EN10MB, s->precision, r[k], cnt[k]);
        }
        free(r[k]);
    }
    write_text(dir, "topology.json", topology);
}

static struct diag_trace *
load_ok(const char *dir, struct offline_summary **ret_summary)
{
    struct diag_trace *t = NULL;
    struct vnet_error *error = (ret_summary
                                ? offline_load_with(dir, NULL, &t, ret_summary)
                                : offline_load(dir, &t));
    if (error) {
        fail_msg("%s", error->message);
    }
    assert_non_null(t);
    return t;
}

/* Checks the trace of a scenario: every packet through fw and nat (but the lost
 * one), times as written (at the file's precision). */
static void
check_scenario(const struct diag_trace *t, const struct scenario *s, uint64_t unit)
{
    assert_int_equal(t->n_nfs, 3);
    assert_string_equal(t->nfs[1].name, "fw");
    assert_string_equal(t->nfs[2].name, "nat");
    assert_true(t->nfs[1].r_peak == 1500000 / 1e9);
    assert_true(t->nfs[2].r_peak == 1000000 / 1e9);
    assert_int_equal(t->nfs[1].qcap, 1024);
    assert_int_equal(t->nfs[2].qcap, 0);
    assert_int_equal(t->nfs[1].preds[0], NF_SOURCE);
    assert_int_equal(t->nfs[1].succs[0], 2);
    assert_int_equal(t->nfs[2].succs[0], NF_EGRESS);
    assert_true(t->nfs[1].type != t->nfs[2].type);
    assert_int_equal(t->n_pkts, s->n);
    assert_int_equal(t->n_hops, 2 * s->n - (s->lost < s->n));
    for (uint32_t i = 0; i < s->n; i++) {
        const struct pkt *p = &t->pkts[i];
        uint64_t t0 = (s->base + 10 * US * i) / unit * unit;
        assert_true(p->t_ingress == t0);
        assert_int_equal(p->flow.sport, 1000 + i % 4);
        const struct hop *fw = &t->hops[p->hop_off];
        assert_int_equal(fw->nf, 1);
        if (i == s->lost) {
            assert_int_equal(p->hop_cnt, 1);
            assert_int_equal(fw->status, HOP_DROPPED_INTERNAL);
            continue;
        }
        assert_int_equal(p->hop_cnt, 2);
        uint64_t d = s->base + 10 * US * i + s->fw_lat;
        assert_int_equal(fw->status, HOP_FORWARDED);
        assert_true(fw->t_dep == d / unit * unit);
        const struct hop *nat = &t->hops[p->hop_off + 1];
        assert_int_equal(nat->nf, 2);
        assert_true(nat->t_arr == (d + s->hop) / unit * unit);
        assert_true(nat->t_dep == (d + s->hop + 3 * US) / unit * unit);
        assert_int_equal(nat->f_out.sport, 40000 + i % 4);
        assert_int_equal(nat->f_out.sip, 0xc6336401);
    }
    for (uint32_t f = 1; f <= 2; f++) {
        assert_int_equal(t->acct[f].unmatched_out, 0);
    }
    assert_int_equal(t->acct[1].in_pkts, s->n);
}

static void
test_nanosecond_chain(void **state)
{
    struct fixture *fx = *state;
    struct scenario s = { .base = 1700000000000000000ULL + 123, .fw_lat = 2345,
                          .hop = 77, .n = 200, .lost = 50,
                          .precision = PCAP_TSTAMP_PRECISION_NANO };
    write_scenario(fx->dir, &s);
    struct offline_summary *sum = NULL;
    struct diag_trace *t = load_ok(fx->dir, &sum);
    check_scenario(t, &s, 1);
    assert_true(t->t_start == s.base);

    assert_int_equal(sum->n_nfs, 3);
    assert_int_equal(sum->frames, 200 + 3 * 199);
    assert_int_equal(sum->n_hops, t->n_hops);
    assert_string_equal(sum->nfs[1].name, "fw");
    assert_int_equal(sum->nfs[1].cls, MATCH_CONTENT);
    assert_int_equal(sum->nfs[2].cls, MATCH_NAT);
    assert_int_equal(sum->nfs[1].match.matched, 199);
    assert_int_equal(sum->nfs[1].match.internal_drops, 1);
    assert_int_equal(sum->nfs[1].in.packets, 200);
    assert_int_equal(sum->nfs[2].out.packets, 199);

    struct json_object *j = offline_summary_to_json(sum);
    struct json_object *fw = json_object_object_get(json_object_object_get(j, "nfs"),
                                                    "fw");
    assert_non_null(fw);
    assert_int_equal(json_object_get_int(json_object_object_get(fw, "in")), 200);
    struct json_object *rate = json_object_object_get(fw, "match_rate");
    assert_true(json_object_get_double(rate) == 1.0);
    assert_int_equal(json_object_get_int(json_object_object_get(
                         json_object_object_get(fw, "drops"), "internal")), 1);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(json_object_object_get(j, "nfs"),
                                                   "nat"), "class")), "nat");
    assert_int_equal(json_object_get_int(json_object_object_get(j, "packets")), 200);
    json_object_put(j);
    char *text = offline_summary_to_text(sum);
    assert_non_null(strstr(text, "200 packets, 399 hops"));
    assert_non_null(strstr(text, "  fw           forward        200        199  "
                           "100.00%"));
    free(text);
    offline_summary_destroy(sum);
    diag_trace_destroy(t);
}

/* Microsecond pcaps: fw's departure and nat's arrival fall in the same
 * microsecond; the tie order (upstream first, arrivals before departures) still
 * links and matches them. */
static void
test_microsecond_chain(void **state)
{
    struct fixture *fx = *state;
    struct scenario s = { .base = 1700000000000000000ULL, .fw_lat = 400, .hop = 300,
                          .n = 100, .lost = 100,
                          .precision = PCAP_TSTAMP_PRECISION_MICRO };
    write_scenario(fx->dir, &s);
    struct diag_trace *t = load_ok(fx->dir, NULL);
    check_scenario(t, &s, 1000);
    /* Arrival, departure and the next arrival share one microsecond. */
    assert_true(t->hops[0].t_arr == t->hops[0].t_dep);
    assert_true(t->hops[1].t_arr == t->hops[0].t_dep);
    diag_trace_destroy(t);
}

static void
test_pcapng_input(void **state)
{
    struct fixture *fx = *state;
    struct scenario s = { .base = 1700000000000000000ULL + 5, .fw_lat = 1500, .hop = 50,
                          .n = 30, .lost = 7, .precision = PCAP_TSTAMP_PRECISION_NANO,
                          .pcapng_nat_in = true };
    write_scenario(fx->dir, &s);
    struct diag_trace *t = load_ok(fx->dir, NULL);
    check_scenario(t, &s, 1);
    diag_trace_destroy(t);
}

/* ---- Bad input ------------------------------------------------------------------ */

static char *
load_error(const char *dir)
{
    struct diag_trace *t = NULL;
    struct vnet_error *error = offline_load(dir, &t);
    if (!error) {
        diag_trace_destroy(t);
        fail_msg("%s loaded", dir);
    }
    assert_null(t);
    char *msg = vnet_xstrdup(error->message);
    vnet_error_destroy(error);
    return msg;
}

static void
expect_load_error(const char *dir, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *want = vnet_xvasprintf(fmt, args);
    va_end(args);
    char *msg = load_error(dir);
    assert_string_equal(msg, want);
    free(msg);
    free(want);
}

static const struct scenario small = {
    .base = 1000000000, .fw_lat = 1000, .hop = 10, .n = 10, .lost = 10,
    .precision = PCAP_TSTAMP_PRECISION_NANO,
};

static void
test_missing_and_escaping_files(void **state)
{
    struct fixture *fx = *state;
    char *nodir = vnet_xasprintf("%s/none", fx->dir);
    expect_load_error(nodir, "%s: No such file or directory", nodir);
    free(nodir);
    expect_load_error(fx->dir, "%s/topology.json: missing (a trace directory holds "
                      "topology.json and the pcaps it names)", fx->dir);

    write_scenario(fx->dir, &small);
    char *path = vnet_xasprintf("%s/nat.out.pcap", fx->dir);
    assert_int_equal(unlink(path), 0);
    free(path);
    expect_load_error(fx->dir, "%s/topology.json: $.captures.nat.out: file "
                      "\"nat.out.pcap\" does not exist in %s", fx->dir, fx->dir);

    write_text(fx->dir, "topology.json", "{\"nfs\": [{\"name\": \"fw\"}], \"edges\": "
               "[[\"ingress\", \"fw\"], [\"fw\", \"egress\"]], \"captures\": {\"fw\": "
               "{\"in\": \"../fw.in.pcap\", \"out\": \"fw.out.pcap\"}}}");
    expect_load_error(fx->dir, "%s/topology.json: $.captures.fw.in: expected a file "
                      "name inside the trace directory (relative, without \"..\"), got "
                      "\"../fw.in.pcap\"", fx->dir);
}

static void
test_bad_topologies(void **state)
{
    struct fixture *fx = *state;
    write_scenario(fx->dir, &small);
    /* nat is in the graph but has no captures. */
    write_text(fx->dir, "topology.json", "{\"nfs\": [{\"name\": \"fw\"}, {\"name\": "
               "\"nat\"}], \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
               "[\"nat\", \"egress\"]], \"captures\": {\"fw\": {\"in\": "
               "\"fw.in.pcap\", \"out\": \"fw.out.pcap\"}}}");
    expect_load_error(fx->dir, "%s/topology.json: $.captures: no capture files for NF "
                      "\"nat\"; expected \"nat\": {\"in\": FILE, \"out\": FILE}",
                      fx->dir);
    /* ... and the other way round. */
    write_text(fx->dir, "topology.json", "{\"nfs\": [{\"name\": \"fw\"}], \"edges\": "
               "[[\"ingress\", \"fw\"], [\"fw\", \"egress\"]], \"captures\": {\"fw\": "
               "{\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"}, \"nat\": {\"in\": "
               "\"nat.in.pcap\", \"out\": \"nat.out.pcap\"}}}");
    expect_load_error(fx->dir, "%s/topology.json: $.captures.nat: unknown NF \"nat\"; "
                      "expected an NF name from $.nfs", fx->dir);
    write_text(fx->dir, "topology.json", "{\"nfs\": [{\"name\": \"fw\"}, {\"name\": "
               "\"nat\"}], \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
               "[\"nat\", \"fw\"], [\"nat\", \"egress\"]], \"captures\": {\"fw\": "
               "{\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"}, \"nat\": {\"in\": "
               "\"nat.in.pcap\", \"out\": \"nat.out.pcap\"}}}");
    expect_load_error(fx->dir, "%s/topology.json: $.edges: the graph has a cycle "
                      "(fw -> nat -> fw); expected a DAG", fx->dir);
    write_text(fx->dir, "topology.json", "{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": "
               "0}]}");
    expect_load_error(fx->dir, "%s/topology.json: $.nfs[0].peak_pps: expected a peak "
                      "rate in packets/s, 1..1e9, got 0", fx->dir);
    write_text(fx->dir, "topology.json", "{\"nfs\": [");
    char *msg = load_error(fx->dir);
    char *prefix = vnet_xasprintf("%s/topology.json: ", fx->dir);
    assert_true(!strncmp(msg, prefix, strlen(prefix)));
    free(prefix);
    free(msg);
}

static void
test_bad_captures(void **state)
{
    struct fixture *fx = *state;
    write_scenario(fx->dir, &small);
    struct rec r = { 1000, 1, false, 64 };

    /* A capture of another link type. */
    write_pcap(fx->dir, "fw.in.pcap", DLT_RAW, PCAP_TSTAMP_PRECISION_NANO, &r, 1);
    expect_load_error(fx->dir, "%s/fw.in.pcap: link type RAW (%d); expected Ethernet "
                      "(EN10MB, 1) as captured on a mirror port", fx->dir, DLT_RAW);

    /* An input capture without packets; an empty file. */
    write_pcap(fx->dir, "fw.in.pcap", DLT_EN10MB, PCAP_TSTAMP_PRECISION_NANO, &r, 0);
    expect_load_error(fx->dir, "%s/fw.in.pcap: no packets: NF \"fw\" received nothing "
                      "in this capture (expected the copies of its input)", fx->dir);
    write_text(fx->dir, "fw.in.pcap", "");
    expect_load_error(fx->dir, "%s/fw.in.pcap: empty file (expected a pcap or pcapng "
                      "capture)", fx->dir);
    write_text(fx->dir, "fw.in.pcap", "not a capture");
    expect_load_error(fx->dir, "%s/fw.in.pcap: not a pcap or pcapng file (starts with "
                      "6e 6f 74 20)", fx->dir);

    /* A truncated capture: the error names the file and the packet. */
    write_scenario(fx->dir, &small);
    char *path = vnet_xasprintf("%s/nat.in.pcap", fx->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 10), 0);
    free(path);
    expect_load_error(fx->dir, "%s/nat.in.pcap: packet 10: truncated dump file; tried "
                      "to read 74 captured bytes, only got 64", fx->dir);
}

/* An NF that sent nothing is legal input: everything it received is lost there. */
static void
test_empty_output_capture(void **state)
{
    struct fixture *fx = *state;
    write_scenario(fx->dir, &small);
    write_pcap(fx->dir, "nat.out.pcap", DLT_EN10MB, PCAP_TSTAMP_PRECISION_NANO, NULL,
               0);
    struct offline_summary *sum;
    struct diag_trace *t = load_ok(fx->dir, &sum);
    assert_int_equal(t->n_pkts, 10);
    assert_int_equal(sum->nfs[2].match.out, 0);
    assert_int_equal(sum->nfs[2].match.in, 10);
    /* The window ends at the last capture: nothing has timed out yet. */
    assert_int_equal(sum->nfs[2].match.in_flight, 10);
    offline_summary_destroy(sum);
    diag_trace_destroy(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nanosecond_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_microsecond_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcapng_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_escaping_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_topologies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_output_capture, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
