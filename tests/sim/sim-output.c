/* sim-output.c -- what a run looks like from outside: Ethernet frames, the offline
 * capture directory (topology.json + nanosecond pcaps) and the diag_trace. */
#include "tests/sim/sim.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"

/* ---- Frames. ---- */

static void
put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t) p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += (uint32_t) p[n - 1] << 8;
    }
    return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* Locally administered MACs: NF i is 02:00:00:00:00:<i+1>; the generator and the
 * sink sit at the ends. */
static void
put_mac(uint8_t *p, int who)
{
    static const uint8_t gen[6] = { 2, 0, 0, 0, 1, 0 }, sink[6] = { 2, 0, 0, 0, 2, 0 };
    if (who < 0) {
        memcpy(p, who == -1 ? gen : sink, 6);
    } else {
        const uint8_t nf[6] = { 2, 0, 0, 0, 0, (uint8_t) (who + 1) };
        memcpy(p, nf, 6);
    }
}

size_t
sim_frame(const struct sim *s, const struct sim_pkt *p, uint32_t pos, bool out,
          uint8_t *buf)
{
    const struct sim_flow *f = &s->cfg.flows[p->flow];
    struct flow5 h = sim_header(s, p, pos, out);
    size_t len = f->frame_len, ip_len = len - 14;
    uint64_t number = (uint64_t) (p - s->pkts);
    memset(buf, 0, len);

    int src = out ? f->path[pos] : pos ? f->path[pos - 1] : -1;
    int dst = !out ? f->path[pos] : pos + 1u < f->path_len ? f->path[pos + 1] : -2;
    put_mac(buf, dst);
    put_mac(buf + 6, src);
    put16(buf + 12, 0x0800);

    uint8_t *ip = buf + 14;
    ip[0] = 0x45;
    put16(ip + 2, (uint32_t) ip_len);
    put16(ip + 4, p->ip_id);
    put16(ip + 6, 0x4000);                      /* DF */
    ip[8] = (uint8_t) (SIM_TTL - pos - (out ? 1 : 0));
    ip[9] = h.proto;
    put32(ip + 12, h.sip);
    put32(ip + 16, h.dip);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

    uint8_t *l4 = ip + 20;
    size_t l4_len = ip_len - 20;
    size_t hdr = h.proto == IPPROTO_TCP ? 20 : 8;
    uint8_t *pay = l4 + hdr;
    size_t pay_len = l4_len - hdr;
    for (size_t i = 0; i < 8; i++) {
        pay[i] = (uint8_t) (number >> (56 - 8 * i));
    }
    put32(pay + 8, p->flow);
    for (size_t i = 12; i < pay_len; i++) {
        pay[i] = (uint8_t) (number + i);
    }

    put16(l4, h.sport);
    put16(l4 + 2, h.dport);
    if (h.proto == IPPROTO_TCP) {
        /* Sequence numbers advance by the payload, from a per-flow start. */
        put32(l4 + 4, (uint32_t) (p->flow * 0x9e3779b1u
                                  + p->flow_seq * (uint32_t) pay_len));
        put32(l4 + 8, 0x10000u + p->flow);
        l4[12] = 0x50;
        l4[13] = 0x18;                          /* PSH | ACK */
        put16(l4 + 14, 65535);
    } else {
        put16(l4 + 4, (uint32_t) l4_len);
    }
    /* The pseudo-header carries the (possibly rewritten) addresses. */
    uint32_t sum = csum_add(0, ip + 12, 8);
    sum += h.proto + (uint32_t) l4_len;
    uint16_t c = csum_fold(csum_add(sum, l4, l4_len));
    if (h.proto == IPPROTO_UDP && !c) {
        c = 0xffff;
    }
    put16(l4 + (h.proto == IPPROTO_TCP ? 16 : 6), c);
    return len;
}

/* ---- topology.json ---- */

/* Edges the flows' paths use: edge[a][b] with 0 = ingress, 1..n = NFs,
 * n+1 = egress. */
static void
graph_edges(const struct sim_config *cfg, bool edge[SIM_MAX_NFS + 2][SIM_MAX_NFS + 2])
{
    memset(edge, 0, sizeof (bool) * (SIM_MAX_NFS + 2) * (SIM_MAX_NFS + 2));
    for (size_t i = 0; i < cfg->n_flows; i++) {
        const struct sim_flow *f = &cfg->flows[i];
        size_t prev = 0;
        for (size_t j = 0; j < f->path_len; j++) {
            edge[prev][f->path[j] + 1u] = true;
            prev = f->path[j] + 1u;
        }
        edge[prev][cfg->n_nfs + 1] = true;
    }
}

static const char *
node_name(const struct sim_config *cfg, size_t v)
{
    return !v ? "ingress" : v > cfg->n_nfs ? "egress" : cfg->nfs[v - 1].name;
}

struct json_object *
sim_topology_to_json(const struct sim *s, uint32_t fault_mask)
{
    const struct sim_config *cfg = &s->cfg;
    struct json_object *top = json_object_new_object();
    struct json_object *nfs = json_object_new_array();
    struct json_object *caps = json_object_new_object();
    for (size_t i = 0; i < cfg->n_nfs; i++) {
        const struct sim_nf *nf = &cfg->nfs[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(nf->name));
        double rate = sim_peak_rate(s, (uint32_t) i, fault_mask);
        json_object_object_add(o, "peak_pps", json_object_new_int64(llround(rate)));
        json_object_object_add(o, "qcap", json_object_new_int64(nf->qcap));
        if (nf->nat) {
            json_object_object_add(o, "type", json_object_new_string("nat"));
        }
        json_object_array_add(nfs, o);

        struct json_object *c = json_object_new_object();
        char *in = vnet_xasprintf("%s.in.pcap", nf->name);
        char *out = vnet_xasprintf("%s.out.pcap", nf->name);
        json_object_object_add(c, "in", json_object_new_string(in));
        json_object_object_add(c, "out", json_object_new_string(out));
        json_object_object_add(caps, nf->name, c);
        free(in);
        free(out);
    }
    bool edge[SIM_MAX_NFS + 2][SIM_MAX_NFS + 2];
    graph_edges(cfg, edge);
    struct json_object *edges = json_object_new_array();
    for (size_t a = 0; a <= cfg->n_nfs; a++) {
        for (size_t b = 1; b <= cfg->n_nfs + 1; b++) {
            if (edge[a][b]) {
                struct json_object *e = json_object_new_array();
                json_object_array_add(e, json_object_new_string(node_name(cfg, a)));
                json_object_array_add(e, json_object_new_string(node_name(cfg, b)));
                json_object_array_add(edges, e);
            }
        }
    }
    json_object_object_add(top, "nfs", nfs);
    json_object_object_add(top, "edges", edges);
    json_object_object_add(top, "captures", caps);
    return top;
}

/* ---- The capture directory. ---- */

static struct vnet_error *
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    if (!f) {
        return vnet_error_from_errno(-errno, "%s", path);
    }
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
    int err = ok ? 0 : errno;
    if (fclose(f) && ok) {
        ok = false;
        err = errno;
    }
    return ok ? NULL : vnet_error_from_errno(-(err ? err : EIO), "%s", path);
}

struct vnet_error *
sim_json_write(struct json_object *obj, const char *path)
{
    return write_text(path, json_object_to_json_string_ext(
                          obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                          | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Writes the frames of NF 'f' entering (out = false) or leaving it to 'path'. */
static struct vnet_error *
write_pcap(const struct sim_result *r, uint32_t f, bool out, const char *path)
{
    const struct sim *s = r->sim;
    pcap_t *pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535,
                                                      PCAP_TSTAMP_PRECISION_NANO);
    if (!pd) {
        return vnet_error_create(VNET_ERR_INTERNAL, "%s: pcap_open_dead failed", path);
    }
    pcap_dumper_t *d = pcap_dump_open(pd, path);
    if (!d) {
        struct vnet_error *e = vnet_error_create(VNET_ERR_IO, "%s: %s", path,
                                                 pcap_geterr(pd));
        pcap_close(pd);
        return e;
    }
    uint8_t buf[SIM_FRAME_MAX];
    for (size_t k = 0; k < r->n_order[f]; k++) {
        const struct sim_arrival *a = &r->order[f][k];
        const struct sim_pkt *p = &s->pkts[a->pkt];
        const struct sim_hop *h = &r->hops[p->hop_off + a->pos];
        if (out && h->status != SIM_HOP_FORWARDED) {
            continue;
        }
        uint64_t t = s->cfg.epoch_ns + (out ? h->t_dep : h->t_arr);
        size_t len = sim_frame(s, p, a->pos, out, buf);
        struct pcap_pkthdr ph = {
            .ts = { .tv_sec = (time_t) (t / 1000000000u),
                    .tv_usec = (suseconds_t) (t % 1000000000u) },
            .caplen = (bpf_u_int32) len, .len = (bpf_u_int32) len,
        };
        pcap_dump((u_char *) d, &ph, buf);
    }
    bool ok = !pcap_dump_flush(d);
    pcap_dump_close(d);
    pcap_close(pd);
    return ok ? NULL : vnet_error_create(VNET_ERR_IO, "%s: write failed", path);
}

struct vnet_error *
sim_write_offline(const struct sim_result *r, const char *dir)
{
    const struct sim *s = r->sim;
    int err = vnet_mkdir_p(dir, 0755);
    if (err) {
        return vnet_error_from_errno(err, "%s", dir);
    }
    struct vnet_error *error = NULL;
    for (uint32_t f = 0; f < s->cfg.n_nfs && !error; f++) {
        for (int out = 0; out < 2 && !error; out++) {
            char *path = vnet_xasprintf("%s/%s.%s.pcap", dir, s->cfg.nfs[f].name,
                                        out ? "out" : "in");
            error = write_pcap(r, f, out, path);
            free(path);
        }
    }
    if (!error) {
        struct json_object *top = sim_topology_to_json(s, r->fault_mask);
        char *path = vnet_xasprintf("%s/topology.json", dir);
        error = sim_json_write(top, path);
        free(path);
        json_object_put(top);
    }
    return error;
}

/* ---- The trace. ---- */

static void
add_id(uint32_t **ids, size_t *n, uint32_t id)
{
    *ids = vnet_xrealloc(*ids, (*n + 1) * sizeof **ids);
    (*ids)[(*n)++] = id;
}

struct diag_trace *
sim_to_trace(const struct sim_result *r)
{
    const struct sim *s = r->sim;
    const struct sim_config *cfg = &s->cfg;
    uint64_t epoch = cfg->epoch_ns;
    struct diag_trace *t = diag_trace_create();
    t->n_nfs = cfg->n_nfs + 1;
    t->nfs = vnet_xcalloc(t->n_nfs, sizeof *t->nfs);
    t->acct = vnet_xcalloc(t->n_nfs, sizeof *t->acct);
    vnet_strlcpy(t->nfs[0].name, "source", sizeof t->nfs[0].name);
    for (size_t i = 0; i < cfg->n_nfs; i++) {
        struct nf_desc *d = &t->nfs[i + 1];
        d->id = (uint32_t) i + 1;
        vnet_strlcpy(d->name, cfg->nfs[i].name, sizeof d->name);
        d->type = (uint32_t) i + 1;
        d->r_peak = sim_peak_rate(s, (uint32_t) i, r->fault_mask) * 1e-9;
        d->qcap = cfg->nfs[i].qcap;
    }
    bool edge[SIM_MAX_NFS + 2][SIM_MAX_NFS + 2];
    graph_edges(cfg, edge);
    for (size_t a = 0; a <= cfg->n_nfs; a++) {
        for (size_t b = 1; b <= cfg->n_nfs + 1; b++) {
            if (!edge[a][b]) {
                continue;
            }
            uint32_t to = b > cfg->n_nfs ? NF_EGRESS : (uint32_t) b;
            add_id(&t->nfs[a].succs, &t->nfs[a].n_succs, to);
            if (b <= cfg->n_nfs) {
                add_id(&t->nfs[b].preds, &t->nfs[b].n_preds, (uint32_t) a);
            }
        }
    }

    t->pkts = vnet_xcalloc(VNET_MAX(s->n_pkts, 1), sizeof *t->pkts);
    t->hops = vnet_xcalloc(VNET_MAX(s->n_hops, 1), sizeof *t->hops);
    uint64_t last = cfg->duration_ns;
    for (size_t k = 0; k < s->n_pkts; k++) {
        const struct sim_pkt *p = &s->pkts[k];
        if (!sim_pkt_present(s, p, r->fault_mask)) {
            continue;
        }
        const struct sim_flow *f = &cfg->flows[p->flow];
        struct pkt *tp = &t->pkts[t->n_pkts++];
        *tp = (struct pkt) {
            .uid = k, .t_ingress = epoch + p->t_ingress, .flow = f->tuple,
            .hop_off = (uint32_t) t->n_hops,
        };
        for (uint32_t j = 0; j < f->path_len; j++) {
            const struct sim_hop *h = &r->hops[p->hop_off + j];
            if (h->status == SIM_HOP_NONE) {
                break;
            }
            uint32_t nf = f->path[j] + 1u;
            bool fwd = h->status == SIM_HOP_FORWARDED;
            t->hops[t->n_hops++] = (struct hop) {
                .uid = k, .nf = nf, .t_arr = epoch + h->t_arr,
                .t_dep = fwd ? epoch + h->t_dep : UINT64_MAX,
                .t_drop = fwd ? 0 : epoch + h->t_arr,
                .status = fwd ? HOP_FORWARDED : HOP_DROPPED_TAIL,
                .f_in = sim_header(s, p, j, false), .f_out = sim_header(s, p, j, true),
                .len = (uint16_t) (f->frame_len - 14),
            };
            tp->hop_cnt++;
            t->acct[nf].in_pkts++;
            if (fwd) {
                t->acct[nf].out_pkts++;
                last = VNET_MAX(last, h->t_dep);
            }
        }
    }
    t->t_start = epoch;
    t->t_end = epoch + last + 1;
    return t;
}
