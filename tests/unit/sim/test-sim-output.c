/* Tests tests/sim/sim-output.c: frames (checksums, NAT rewriting, IP ID, TTL,
 * payload), the offline directory (topology.json shape, pcaps, byte-identical
 * reruns) and the diag_trace export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag/topology.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim.h"

#define MS UINT64_C(1000000)

static struct sim *
scenario_sim(const char *name, uint64_t seed, uint64_t duration_ns)
{
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    struct sim *s = NULL;
    assert_null(sim_scenario_config(name, seed, 1, duration_ns, NULL, c));
    assert_null(sim_create(c, &s));
    free(c);
    return s;
}

static char *
make_tmpdir(void)
{
    char *dir = vnet_xstrdup("/tmp/test-sim-output-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char *path = vnet_xasprintf("%s/%s", dir, e->d_name);
            assert_int_equal(unlink(path), 0);
            free(path);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) get16(p) << 16 | get16(p + 2);
}

/* Ones' complement sum of a region plus 'sum', folded: 0xffff when valid. */
static uint16_t
csum_verify(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += get16(p + i);
    }
    if (n & 1) {
        sum += (uint32_t) p[n - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) sum;
}

/* Checks the IPv4 and L4 checksums of 'frame' and returns the IPv4 header. */
static const uint8_t *
check_frame(const uint8_t *frame, size_t len)
{
    assert_int_equal(get16(frame + 12), 0x0800);
    const uint8_t *ip = frame + 14;
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(get16(ip + 2), len - 14);
    assert_int_equal(csum_verify(0, ip, 20), 0xffff);
    size_t l4_len = len - 34;
    uint32_t pseudo = get16(ip + 12) + get16(ip + 14) + get16(ip + 16)
                      + get16(ip + 18) + ip[9] + (uint32_t) l4_len;
    assert_int_equal(csum_verify(pseudo, ip + 20, l4_len), 0xffff);
    return ip;
}

/* Through a chain with a NAT: addresses rewritten by the NAT only, checksums valid
 * everywhere, IP ID and payload preserved, TTL down by one per NF. */
static void
test_frames(void **state)
{
    struct sim *s = scenario_sim("S1", 0, 5 * MS);
    int nat = sim_find_nf(&s->cfg, "nat");
    assert_true(nat >= 0 && s->cfg.nfs[nat].nat);
    uint8_t a[SIM_FRAME_MAX], b[SIM_FRAME_MAX];
    size_t tcp = 0;
    for (size_t k = 0; k < s->n_pkts; k += 7) {
        const struct sim_pkt *p = &s->pkts[k];
        const struct sim_flow *f = &s->cfg.flows[p->flow];
        tcp += f->tuple.proto == IPPROTO_TCP;
        for (uint32_t j = 0; j < f->path_len; j++) {
            size_t la = sim_frame(s, p, j, false, a);
            size_t lb = sim_frame(s, p, j, true, b);
            assert_int_equal(la, f->frame_len);
            assert_int_equal(lb, la);
            const uint8_t *ia = check_frame(a, la), *ib = check_frame(b, lb);
            assert_int_equal(get16(ia + 4), p->ip_id);
            assert_int_equal(get16(ib + 4), p->ip_id);
            assert_int_equal(ia[8], SIM_TTL - j);
            assert_int_equal(ib[8], SIM_TTL - j - 1);
            bool rewrites = f->path[j] == (uint32_t) nat;
            struct flow5 in = sim_header(s, p, j, false);
            struct flow5 out = sim_header(s, p, j, true);
            assert_int_equal(get32(ia + 12), in.sip);
            assert_int_equal(get32(ib + 12), out.sip);
            assert_int_equal(get16(ia + 20), in.sport);
            assert_int_equal(get16(ib + 20), out.sport);
            assert_int_equal(in.sip != out.sip, rewrites);
            assert_int_equal(in.sport != out.sport, rewrites);
            assert_int_equal(get32(ib + 16), f->tuple.dip);
            assert_int_equal(get16(ib + 22), f->tuple.dport);
            /* The payload (after the L4 header) is the same on both sides and
             * starts with the packet number. */
            size_t hdr = 34 + (f->tuple.proto == IPPROTO_TCP ? 20 : 8);
            assert_memory_equal(a + hdr, b + hdr, la - hdr);
            uint64_t number = 0;
            for (int i = 0; i < 8; i++) {
                number = number << 8 | a[hdr + i];
            }
            assert_int_equal(number, k);
            assert_int_equal(get32(a + hdr + 8), p->flow);
        }
        /* Before the NAT the source is the flow's own. */
        assert_int_equal(sim_header(s, p, 0, false).sip, f->tuple.sip);
    }
    assert_true(tcp > 0);
    sim_destroy(s);
}

static void
check_topology(const char *dir, const struct sim *s)
{
    char *path = vnet_xasprintf("%s/topology.json", dir);
    struct json_object *top = json_object_from_file(path);
    free(path);
    assert_non_null(top);
    struct json_object *nfs, *edges, *caps;
    assert_true(json_object_object_get_ex(top, "nfs", &nfs));
    assert_true(json_object_object_get_ex(top, "edges", &edges));
    assert_true(json_object_object_get_ex(top, "captures", &caps));
    assert_int_equal(json_object_object_length(top), 3);
    assert_int_equal(json_object_array_length(nfs), s->cfg.n_nfs);
    for (size_t i = 0; i < s->cfg.n_nfs; i++) {
        struct json_object *nf = json_object_array_get_idx(nfs, i), *v;
        assert_true(json_object_object_get_ex(nf, "name", &v));
        const char *name = json_object_get_string(v);
        assert_string_equal(name, s->cfg.nfs[i].name);
        assert_true(json_object_object_get_ex(nf, "peak_pps", &v));
        assert_true(json_object_is_type(v, json_type_int));
        assert_int_equal(json_object_get_int64(v),
                         llround(sim_peak_rate(s, (uint32_t) i, sim_all_faults(s))));
        assert_true(json_object_object_get_ex(nf, "qcap", &v));
        assert_int_equal(json_object_get_int64(v), s->cfg.nfs[i].qcap);
        assert_int_equal(json_object_object_get_ex(nf, "type", &v), s->cfg.nfs[i].nat);
        if (s->cfg.nfs[i].nat) {
            assert_string_equal(json_object_get_string(v), "nat");
        }
        struct json_object *cap, *in, *out;
        assert_true(json_object_object_get_ex(caps, name, &cap));
        assert_true(json_object_object_get_ex(cap, "in", &in));
        assert_true(json_object_object_get_ex(cap, "out", &out));
        for (int k = 0; k < 2; k++) {
            char *p = vnet_xasprintf("%s/%s", dir,
                                     json_object_get_string(k ? out : in));
            assert_int_equal(access(p, R_OK), 0);
            free(p);
        }
    }
    /* Edges: pairs of known names, from ingress, to egress, a DAG (every edge
     * goes forward in the NF order). */
    bool from_ingress = false, to_egress = false;
    for (size_t i = 0; i < json_object_array_length(edges); i++) {
        struct json_object *e = json_object_array_get_idx(edges, i);
        assert_true(json_object_is_type(e, json_type_array));
        assert_int_equal(json_object_array_length(e), 2);
        const char *a = json_object_get_string(json_object_array_get_idx(e, 0));
        const char *b = json_object_get_string(json_object_array_get_idx(e, 1));
        int ia = !strcmp(a, "ingress") ? -1 : sim_find_nf(&s->cfg, a);
        int ib = !strcmp(b, "egress") ? (int) s->cfg.n_nfs : sim_find_nf(&s->cfg, b);
        assert_true(ia >= -1 && ib >= 0 && ia < ib);
        from_ingress |= ia == -1;
        to_egress |= ib == (int) s->cfg.n_nfs;
    }
    assert_true(from_ingress && to_egress);
    json_object_put(top);

    /* The offline loader's own parser accepts it: SNAT NFs are matched by
     * invariant keys, the others by content, and the graph is the trace's. */
    struct topology *t = NULL;
    struct vnet_error *e = topology_load(dir, &t);
    if (e) {
        fail_msg("topology_load: %s", e->message);
    }
    assert_int_equal(t->n_nfs, s->cfg.n_nfs + 1);
    for (size_t i = 0; i < s->cfg.n_nfs; i++) {
        const struct topology_nf *nf = &t->nfs[topology_find_nf(t, s->cfg.nfs[i].name)];
        assert_int_equal(nf->cls, s->cfg.nfs[i].nat ? MATCH_NAT : MATCH_CONTENT);
        assert_int_equal(nf->qcap, s->cfg.nfs[i].qcap);
        assert_true(nf->fifo);
    }
    topology_destroy(t);
}

/* Reads a pcap and checks its records against the run. */
static void
check_pcap(const char *dir, const struct sim_result *r, uint32_t f, bool out)
{
    const struct sim *s = r->sim;
    char *path = vnet_xasprintf("%s/%s.%s.pcap", dir, s->cfg.nfs[f].name,
                                out ? "out" : "in");
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(
        path, PCAP_TSTAMP_PRECISION_NANO, err);
    free(path);
    assert_non_null(p);
    assert_int_equal(pcap_datalink(p), DLT_EN10MB);
    struct pcap_pkthdr *ph;
    const u_char *data;
    uint8_t want[SIM_FRAME_MAX];
    size_t k = 0, n = 0;
    uint64_t last = 0;
    while (pcap_next_ex(p, &ph, &data) == 1) {
        while (out && r->hops[s->pkts[r->order[f][k].pkt].hop_off
                              + r->order[f][k].pos].status != SIM_HOP_FORWARDED) {
            k++;
        }
        const struct sim_arrival *a = &r->order[f][k++];
        const struct sim_pkt *pk = &s->pkts[a->pkt];
        const struct sim_hop *h = &r->hops[pk->hop_off + a->pos];
        uint64_t t = (uint64_t) ph->ts.tv_sec * 1000000000u + (uint64_t) ph->ts.tv_usec;
        assert_int_equal(t, s->cfg.epoch_ns + (out ? h->t_dep : h->t_arr));
        assert_true(t >= last);
        last = t;
        size_t len = sim_frame(s, pk, a->pos, out, want);
        assert_int_equal(ph->caplen, len);
        assert_memory_equal(data, want, len);
        n++;
    }
    pcap_close(p);
    size_t expect = 0;
    for (size_t i = 0; i < r->n_order[f]; i++) {
        const struct sim_arrival *a = &r->order[f][i];
        expect += !out || r->hops[s->pkts[a->pkt].hop_off + a->pos].status
                          == SIM_HOP_FORWARDED;
    }
    assert_int_equal(n, expect);
}

static bool
same_file(const char *a, const char *b)
{
    char *da, *db;
    size_t la, lb;
    assert_int_equal(vnet_read_file(a, 1 << 30, &da, &la), 0);
    assert_int_equal(vnet_read_file(b, 1 << 30, &db, &lb), 0);
    bool same = la == lb && !memcmp(da, db, la);
    free(da);
    free(db);
    return same;
}

/* The offline directory: contract shape, pcaps that hold the run (drops in the
 * in-capture only), and the same bytes on a rerun. */
static void
test_offline_dir(void **state)
{
    static const char *const names[] = { "S8", "S6" };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(names); i++) {
        struct sim *s = scenario_sim(names[i], 3, 60 * MS);
        struct sim_result *r = sim_run(s, sim_all_faults(s));
        char *d1 = make_tmpdir(), *d2 = make_tmpdir();
        assert_null(sim_write_offline(r, d1));
        check_topology(d1, s);
        size_t drops = 0;
        for (uint32_t f = 0; f < s->cfg.n_nfs; f++) {
            check_pcap(d1, r, f, false);
            check_pcap(d1, r, f, true);
            for (size_t k = 0; k < r->n_order[f]; k++) {
                const struct sim_arrival *a = &r->order[f][k];
                drops += r->hops[s->pkts[a->pkt].hop_off + a->pos].status
                         == SIM_HOP_DROPPED;
            }
        }
        assert_int_equal(drops > 0, !strcmp(names[i], "S8"));
        sim_result_destroy(r);
        sim_destroy(s);

        s = scenario_sim(names[i], 3, 60 * MS);
        r = sim_run(s, sim_all_faults(s));
        assert_null(sim_write_offline(r, d2));
        static const char *const files[] = {
            "topology.json", "fw.in.pcap", "fw.out.pcap", "nat.in.pcap",
            "nat.out.pcap", "vpn.in.pcap", "vpn.out.pcap",
        };
        for (size_t k = 0; k < VNET_ARRAY_SIZE(files); k++) {
            char *a = vnet_xasprintf("%s/%s", d1, files[k]);
            char *b = vnet_xasprintf("%s/%s", d2, files[k]);
            if (!access(a, R_OK) || !access(b, R_OK)) {
                assert_true(same_file(a, b));
            }
            free(a);
            free(b);
        }
        remove_dir(d1);
        remove_dir(d2);
        free(d1);
        free(d2);
        sim_result_destroy(r);
        sim_destroy(s);
    }
}

/* An under-provisioned NF (S4b) advertises its real peak rate: calibration would
 * measure it. */
static void
test_rate_fault_peak(void **state)
{
    struct sim *s = scenario_sim("S4b", 1, 5 * MS);
    int vpn = sim_find_nf(&s->cfg, "vpn");
    assert_true(fabs(sim_peak_rate(s, (uint32_t) vpn, 1) - 480000) < 1e-6);
    assert_true(fabs(sim_peak_rate(s, (uint32_t) vpn, 0) - 1e6) < 1e-6);
    struct json_object *top = sim_topology_to_json(s, 1), *nfs, *v;
    assert_true(json_object_object_get_ex(top, "nfs", &nfs));
    assert_true(json_object_object_get_ex(json_object_array_get_idx(nfs, vpn),
                                          "peak_pps", &v));
    assert_int_equal(json_object_get_int64(v), 480000);
    json_object_put(top);
    struct sim_result *r = sim_run(s, 1);
    struct diag_trace *t = sim_to_trace(r);
    assert_true(fabs(t->nfs[vpn + 1].r_peak - 4.8e-4) < 1e-12);
    diag_trace_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
}

static void
test_write_error(void **state)
{
    struct sim *s = scenario_sim("S9", 1, 1 * MS);
    struct sim_result *r = sim_run(s, 0);
    struct vnet_error *e = sim_write_offline(r, "/proc/no/such/dir");
    assert_non_null(e);
    assert_non_null(strstr(e->message, "/proc/no/such/dir"));
    vnet_error_destroy(e);
    sim_result_destroy(r);
    sim_destroy(s);
}

/* The trace holds the run exactly: graph, hops in path order, drops, NAT
 * headers, epoch-based times. */
static void
test_trace(void **state)
{
    struct sim *s = scenario_sim("S8", 5, 60 * MS);
    struct sim_result *r = sim_run(s, sim_all_faults(s));
    struct diag_trace *t = sim_to_trace(r);
    assert_int_equal(t->n_nfs, 4);
    assert_string_equal(t->nfs[0].name, "source");
    assert_int_equal(t->nfs[0].n_succs, 1);
    assert_int_equal(t->nfs[0].succs[0], 1);
    assert_int_equal(diag_trace_find_nf(t, "vpn"), 3);
    assert_int_equal(t->nfs[3].n_preds, 1);
    assert_int_equal(t->nfs[3].preds[0], 2);
    assert_int_equal(t->nfs[3].succs[0], NF_EGRESS);
    assert_true(t->nfs[1].preds[0] == NF_SOURCE);
    assert_true(fabs(t->nfs[1].r_peak - 2e-3) < 1e-12);
    assert_int_equal(t->nfs[3].qcap, 128);
    assert_int_equal(t->n_pkts, s->n_pkts);
    size_t drops = 0;
    for (size_t i = 0; i < t->n_pkts; i++) {
        const struct pkt *p = &t->pkts[i];
        const struct sim_pkt *sp = &s->pkts[p->uid];
        assert_int_equal(p->t_ingress, s->cfg.epoch_ns + sp->t_ingress);
        assert_true(i == 0 || p->t_ingress >= t->pkts[i - 1].t_ingress);
        assert_true(p->hop_cnt >= 1 && p->hop_cnt <= 3);
        for (uint32_t j = 0; j < p->hop_cnt; j++) {
            const struct hop *h = &t->hops[p->hop_off + j];
            assert_int_equal(h->uid, p->uid);
            assert_int_equal(h->nf, j + 1);
            assert_int_equal(h->t_arr,
                             s->cfg.epoch_ns + r->hops[sp->hop_off + j].t_arr);
            if (h->status == HOP_DROPPED_TAIL) {
                assert_int_equal(j, p->hop_cnt - 1);
                assert_int_equal(h->t_drop, h->t_arr);
                drops++;
            } else {
                assert_int_equal(h->status, HOP_FORWARDED);
                assert_true(h->t_dep > h->t_arr);
            }
            assert_int_equal(h->f_out.sip != h->f_in.sip, j == 1);
        }
    }
    assert_true(drops > 0);
    assert_int_equal(t->acct[3].in_pkts - t->acct[3].out_pkts, drops);
    diag_trace_destroy(t);
    sim_result_destroy(r);

    /* Without the burst its packets are not in the trace. */
    r = sim_run(s, 0);
    t = sim_to_trace(r);
    size_t burst = 0;
    for (size_t k = 0; k < s->n_pkts; k++) {
        burst += s->pkts[k].fault >= 0;
    }
    assert_int_equal(t->n_pkts + burst, s->n_pkts);
    diag_trace_destroy(t);
    sim_result_destroy(r);
    sim_destroy(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_offline_dir),
        cmocka_unit_test(test_rate_fault_peak),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
