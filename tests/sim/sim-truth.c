/* sim-truth.c -- counterfactual ground truth and truth.json. */
#include "tests/sim/sim-truth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/util.h"

#define TRUTH_FORMAT "vnet-sim-truth/1"
#define TRUTH_MAX_BYTES (UINT64_C(1) << 31)

static const char *const fault_kinds[] = {
    [SIM_FAULT_PAUSE] = "pause", [SIM_FAULT_HOG] = "hog", [SIM_FAULT_COST] = "cost",
    [SIM_FAULT_RATE] = "rate", [SIM_FAULT_BURST] = "burst",
};

/* ---- Computation. ---- */

static int
compare_u64(const void *a_, const void *b_)
{
    uint64_t a = *(const uint64_t *) a_, b = *(const uint64_t *) b_;
    return (a > b) - (a < b);
}

/* Median latency per NF of run 'r'. */
static void
median_latency(const struct sim_result *r, double med[SIM_MAX_NFS])
{
    const struct sim *s = r->sim;
    for (uint32_t f = 0; f < s->cfg.n_nfs; f++) {
        uint64_t *lat = vnet_xmalloc(VNET_MAX(r->n_order[f], 1) * sizeof *lat);
        size_t n = 0;
        for (size_t k = 0; k < r->n_order[f]; k++) {
            const struct sim_pkt *p = &s->pkts[r->order[f][k].pkt];
            const struct sim_hop *h = &r->hops[p->hop_off + r->order[f][k].pos];
            if (h->status == SIM_HOP_FORWARDED) {
                lat[n++] = h->t_dep - h->t_arr;
            }
        }
        qsort(lat, n, sizeof *lat, compare_u64);
        med[f] = n ? (double) lat[n / 2] : 0;
        free(lat);
    }
}

static void
fill_fault(const struct sim *s, size_t i, struct sim_truth_fault *tf)
{
    const struct sim_fault *x = &s->cfg.faults[i];
    vnet_strlcpy(tf->kind, fault_kinds[x->kind], sizeof tf->kind);
    tf->fault = *x;
    tf->fault.start_ns += s->cfg.epoch_ns;
    if (x->kind == SIM_FAULT_BURST) {
        const struct sim_flow *f = &s->cfg.flows[x->flow];
        tf->culprit = SIM_CULPRIT_FLOW;
        tf->flow = f->tuple;
        vnet_strlcpy(tf->nf, s->cfg.nfs[f->path[0]].name, sizeof tf->nf);
    } else {
        tf->culprit = SIM_CULPRIT_NF;
        vnet_strlcpy(tf->nf, s->cfg.nfs[x->nf].name, sizeof tf->nf);
    }
}

/* Compares faulty hop 'h' with the same packet's hop in counterfactual 'cf'
 * (fault 'i' removed).  Returns whether it is affected; '*contrib' gets fault i's
 * contribution. */
static bool
compare_hop(const struct sim_result *cf, const struct sim_pkt *p, uint32_t pos,
            const struct sim_hop *h, double med_cf, double *contrib)
{
    const struct sim *s = cf->sim;
    bool dropped = h->status == SIM_HOP_DROPPED;
    double lat = dropped ? 0 : (double) (h->t_dep - h->t_arr);
    if (!sim_pkt_present(s, p, cf->fault_mask)) {
        *contrib = h->q;
        return dropped || (med_cf > 0 && lat >= 2 * med_cf);
    }
    const struct sim_hop *c = &cf->hops[p->hop_off + pos];
    if (c->status == SIM_HOP_NONE) {
        *contrib = 0;           /* dropped upstream without the fault */
        return false;
    }
    *contrib = VNET_MAX((double) h->q - (double) c->q, 0.0);
    if (dropped) {
        return c->status == SIM_HOP_FORWARDED;
    }
    return c->status == SIM_HOP_FORWARDED
           && (double) (c->t_dep - c->t_arr) <= 0.5 * lat;
}

struct sim_truth *
sim_truth_compute(const struct sim_result *faulty)
{
    const struct sim *s = faulty->sim;
    const struct sim_config *cfg = &s->cfg;
    struct sim_truth *t = vnet_xzalloc(sizeof *t);
    vnet_strlcpy(t->scenario, cfg->scenario, sizeof t->scenario);
    vnet_strlcpy(t->topology, cfg->topology, sizeof t->topology);
    t->seed = cfg->seed;
    t->scale = cfg->scale;
    t->duration_ns = cfg->duration_ns;
    t->epoch_ns = cfg->epoch_ns;
    t->n_nfs = cfg->n_nfs;
    for (size_t f = 0; f < cfg->n_nfs; f++) {
        vnet_strlcpy(t->nf_names[f], cfg->nfs[f].name, sizeof t->nf_names[f]);
    }
    t->n_faults = cfg->n_faults;
    struct sim_result *cf[SIM_MAX_FAULTS] = { NULL };
    double med[SIM_MAX_FAULTS][SIM_MAX_NFS];
    for (size_t i = 0; i < cfg->n_faults; i++) {
        fill_fault(s, i, &t->faults[i]);
        cf[i] = sim_run(s, faulty->fault_mask & ~(UINT32_C(1) << i));
        median_latency(cf[i], med[i]);
    }

    size_t allocated = 0;
    for (uint32_t f = 0; f < cfg->n_nfs; f++) {
        for (size_t k = 0; k < faulty->n_order[f]; k++) {
            const struct sim_arrival *a = &faulty->order[f][k];
            const struct sim_pkt *p = &s->pkts[a->pkt];
            const struct sim_hop *h = &faulty->hops[p->hop_off + a->pos];
            t->nfs[f].packets++;
            t->nfs[f].drops += h->status == SIM_HOP_DROPPED;
            struct sim_truth_victim v = { .nf = f, .top = -1 };
            for (size_t i = 0; i < cfg->n_faults; i++) {
                if (!(faulty->fault_mask >> i & 1)) {
                    continue;
                }
                if (compare_hop(cf[i], p, a->pos, h, med[i][f], &v.contrib[i])) {
                    v.affected |= UINT32_C(1) << i;
                    if (v.top < 0 || v.contrib[i] > v.contrib[v.top]) {
                        v.top = (int) i;
                    }
                }
            }
            if (!v.affected) {
                continue;
            }
            t->nfs[f].affected++;
            v.dropped = h->status == SIM_HOP_DROPPED;
            v.flow = cfg->flows[p->flow].tuple;
            v.t_ingress = cfg->epoch_ns + p->t_ingress;
            v.ip_id = p->ip_id;
            v.pkt = a->pkt;
            v.q = h->q;
            v.latency_ns = v.dropped ? 0 : h->t_dep - h->t_arr;
            if (t->n_victims == allocated) {
                vnet_grow((void **) &t->victims, &allocated, t->n_victims + 1,
                          sizeof *t->victims);
            }
            t->victims[t->n_victims++] = v;
        }
    }
    for (size_t i = 0; i < cfg->n_faults; i++) {
        sim_result_destroy(cf[i]);
    }
    return t;
}

void
sim_truth_destroy(struct sim_truth *t)
{
    if (t) {
        free(t->victims);
        free(t);
    }
}

const char *
sim_truth_culprit_name(const struct sim_truth_fault *f, char *buf, size_t size)
{
    if (f->culprit == SIM_CULPRIT_FLOW) {
        vnet_strlcpy(buf, "source", size);
    } else {
        snprintf(buf, size, "nf:%s", f->nf);
    }
    return buf;
}

/* ---- JSON. ---- */

static const char *
proto_name(uint8_t proto, char *buf, size_t size)
{
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        return proto == IPPROTO_TCP ? "tcp" : "udp";
    }
    snprintf(buf, size, "%u", proto);
    return buf;
}

void
sim_flow_to_json(const struct flow5 *f, struct json_object *o)
{
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], proto[8];
    struct in_addr a = { htonl(f->sip) }, b = { htonl(f->dip) };
    inet_ntop(AF_INET, &a, src, sizeof src);
    inet_ntop(AF_INET, &b, dst, sizeof dst);
    json_object_object_add(o, "src", json_object_new_string(src));
    json_object_object_add(o, "dst", json_object_new_string(dst));
    json_object_object_add(o, "sport", json_object_new_int(f->sport));
    json_object_object_add(o, "dport", json_object_new_int(f->dport));
    json_object_object_add(o, "proto", json_object_new_string(
                               proto_name(f->proto, proto, sizeof proto)));
}

static struct vnet_error *
get_ip(struct json_object *o, const struct jpath *path, const char *key, uint32_t *ret)
{
    const char *s;
    struct vnet_error *e = jv_get_string(o, path, key, true, &s);
    if (e) {
        return e;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        struct jpath p = JPATH_KEY(path, key);
        return jv_error_expected(&p, "an IPv4 address", json_object_object_get(o, key));
    }
    *ret = ntohl(a.s_addr);
    return NULL;
}

static struct vnet_error *
flow_from_json(struct json_object *o, const struct jpath *path, struct flow5 *ret)
{
    struct flow5 f = { 0 };
    int64_t sport, dport;
    const char *proto;
    struct vnet_error *e = get_ip(o, path, "src", &f.sip);
    if (!e) {
        e = get_ip(o, path, "dst", &f.dip);
    }
    if (!e) {
        e = jv_get_int(o, path, "sport", true, 0, 65535, &sport);
    }
    if (!e) {
        e = jv_get_int(o, path, "dport", true, 0, 65535, &dport);
    }
    if (!e) {
        e = jv_get_string(o, path, "proto", true, &proto);
    }
    if (e) {
        return e;
    }
    unsigned long long n;
    if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
        f.proto = !strcmp(proto, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
    } else if (!vnet_parse_uint(proto, 0, 255, &n)) {
        f.proto = (uint8_t) n;
    } else {
        struct jpath p = JPATH_KEY(path, "proto");
        return jv_error_expected(&p, "tcp, udp or a protocol number",
                                 json_object_object_get(o, "proto"));
    }
    f.sport = (uint16_t) sport;
    f.dport = (uint16_t) dport;
    *ret = f;
    return NULL;
}

struct vnet_error *
sim_flow_from_json(struct json_object *o, struct flow5 *ret)
{
    struct jpath root = JPATH_ROOT;
    return flow_from_json(o, &root, ret);
}

static void
add_int(struct json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

static struct json_object *
fault_to_json(const struct sim_truth_fault *tf)
{
    const struct sim_fault *x = &tf->fault;
    char name[SIM_NAME_MAX + 8];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string(tf->kind));
    json_object_object_add(o, "culprit", json_object_new_string(
                               sim_truth_culprit_name(tf, name, sizeof name)));
    json_object_object_add(o, "nf", json_object_new_string(tf->nf));
    if (tf->culprit == SIM_CULPRIT_FLOW) {
        struct json_object *flow = json_object_new_object();
        sim_flow_to_json(&tf->flow, flow);
        json_object_object_add(o, "flow", flow);
    }
    add_int(o, "start_ns", (int64_t) x->start_ns);
    add_int(o, "len_ns", (int64_t) x->len_ns);
    add_int(o, "period_ns", (int64_t) x->period_ns);
    add_int(o, "count", x->count);
    switch (x->kind) {
    case SIM_FAULT_HOG:
        json_object_object_add(o, "share", json_object_new_double(x->share));
        add_int(o, "slice_ns", (int64_t) x->slice_ns);
        break;
    case SIM_FAULT_COST:
        add_int(o, "dport", x->dport);
        json_object_object_add(o, "factor", json_object_new_double(x->factor));
        break;
    case SIM_FAULT_RATE:
        json_object_object_add(o, "factor", json_object_new_double(x->factor));
        break;
    case SIM_FAULT_BURST:
        json_object_object_add(o, "rate_pps", json_object_new_double(x->rate_pps));
        break;
    case SIM_FAULT_PAUSE:
        break;
    }
    return o;
}

static struct json_object *
victim_to_json(const struct sim_truth *t, const struct sim_truth_victim *v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "nf", json_object_new_string(t->nf_names[v->nf]));
    sim_flow_to_json(&v->flow, o);
    add_int(o, "ip_id", v->ip_id);
    add_int(o, "t_ingress_ns", (int64_t) v->t_ingress);
    add_int(o, "pkt", v->pkt);
    json_object_object_add(o, "dropped", json_object_new_boolean(v->dropped));
    add_int(o, "q", v->q);
    add_int(o, "latency_ns", (int64_t) v->latency_ns);
    /* By descending contribution, the true culprit first. */
    size_t order[SIM_MAX_FAULTS], n = 0;
    if (v->top >= 0) {
        order[n++] = (size_t) v->top;
    }
    for (size_t i = 0; i < t->n_faults; i++) {
        if ((int) i == v->top) {
            continue;
        }
        size_t j = n++;
        while (j > (v->top >= 0) && v->contrib[order[j - 1]] < v->contrib[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    struct json_object *culprits = json_object_new_array();
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        char name[SIM_NAME_MAX + 8];
        struct json_object *c = json_object_new_object();
        add_int(c, "fault", (int64_t) i);
        json_object_object_add(c, "culprit", json_object_new_string(
                                   sim_truth_culprit_name(&t->faults[i], name,
                                                          sizeof name)));
        json_object_object_add(c, "contribution",
                               json_object_new_double(v->contrib[i]));
        json_object_object_add(c, "affected",
                               json_object_new_boolean(v->affected >> i & 1));
        json_object_array_add(culprits, c);
    }
    json_object_object_add(o, "culprits", culprits);
    return o;
}

/* Everything but "victims". */
static struct json_object *
truth_header_to_json(const struct sim_truth *t)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "format", json_object_new_string(TRUTH_FORMAT));
    json_object_object_add(o, "scenario", json_object_new_string(t->scenario));
    json_object_object_add(o, "topology", json_object_new_string(t->topology));
    add_int(o, "seed", (int64_t) t->seed);
    json_object_object_add(o, "scale", json_object_new_double(t->scale));
    add_int(o, "duration_ns", (int64_t) t->duration_ns);
    add_int(o, "epoch_ns", (int64_t) t->epoch_ns);
    json_object_object_add(o, "join", json_object_new_string(
        "a victim is (nf, src, dst, sport, dport, proto, t_ingress_ns): the packet's "
        "5-tuple at ingress and the pcap timestamp of its arrival at the first NF of "
        "its path (diag_trace pkt.t_ingress); distinct per flow"));
    json_object_object_add(o, "criterion", json_object_new_string(
        "affected victim of a fault: its latency at nf drops by >= 50%, or it is no "
        "longer dropped there, when that fault alone is removed (same arrivals); a "
        "burst's own packets: dropped, or latency >= 2x the nf's median without the "
        "burst.  contribution: the reduction of Q(p), clamped at 0"));
    struct json_object *faults = json_object_new_array();
    for (size_t i = 0; i < t->n_faults; i++) {
        json_object_array_add(faults, fault_to_json(&t->faults[i]));
    }
    json_object_object_add(o, "faults", faults);
    struct json_object *nfs = json_object_new_object();
    for (size_t f = 0; f < t->n_nfs; f++) {
        struct json_object *n = json_object_new_object();
        add_int(n, "packets", (int64_t) t->nfs[f].packets);
        add_int(n, "drops", (int64_t) t->nfs[f].drops);
        add_int(n, "affected", (int64_t) t->nfs[f].affected);
        json_object_object_add(nfs, t->nf_names[f], n);
    }
    json_object_object_add(o, "nfs", nfs);
    return o;
}

struct json_object *
sim_truth_to_json(const struct sim_truth *t)
{
    struct json_object *o = truth_header_to_json(t);
    struct json_object *victims = json_object_new_array();
    for (size_t i = 0; i < t->n_victims; i++) {
        json_object_array_add(victims, victim_to_json(t, &t->victims[i]));
    }
    json_object_object_add(o, "victims", victims);
    return o;
}

static int
find_name(const struct sim_truth *t, const char *name)
{
    for (size_t f = 0; f < t->n_nfs; f++) {
        if (!strcmp(t->nf_names[f], name)) {
            return (int) f;
        }
    }
    return -1;
}

static struct vnet_error *
fault_from_json(struct json_object *o, const struct jpath *path,
                const struct sim_truth *t, struct sim_truth_fault *ret)
{
    struct sim_truth_fault tf = { .culprit = SIM_CULPRIT_NF };
    const char *kind, *culprit, *nf;
    int64_t start = 0, len = 0, period = 0, count = 0;
    struct vnet_error *e = jv_get_string(o, path, "kind", true, &kind);
    if (!e) {
        e = jv_get_string(o, path, "culprit", true, &culprit);
    }
    if (!e) {
        e = jv_get_string(o, path, "nf", true, &nf);
    }
    if (!e) {
        e = jv_get_int(o, path, "start_ns", false, 0, INT64_MAX, &start);
    }
    if (!e) {
        e = jv_get_int(o, path, "len_ns", false, 0, INT64_MAX, &len);
    }
    if (!e) {
        e = jv_get_int(o, path, "period_ns", false, 0, INT64_MAX, &period);
    }
    if (!e) {
        e = jv_get_int(o, path, "count", false, 0, UINT32_MAX, &count);
    }
    if (e) {
        return e;
    }
    size_t k;
    for (k = 0; k < VNET_ARRAY_SIZE(fault_kinds); k++) {
        if (!strcmp(kind, fault_kinds[k])) {
            break;
        }
    }
    if (k == VNET_ARRAY_SIZE(fault_kinds)) {
        struct jpath p = JPATH_KEY(path, "kind");
        return jv_error_expected(&p, "pause, hog, cost, rate or burst",
                                 json_object_object_get(o, "kind"));
    }
    if (find_name(t, nf) < 0) {
        struct jpath p = JPATH_KEY(path, "nf");
        return jv_error_expected(&p, "the name of an NF in \"nfs\"",
                                 json_object_object_get(o, "nf"));
    }
    vnet_strlcpy(tf.kind, kind, sizeof tf.kind);
    vnet_strlcpy(tf.nf, nf, sizeof tf.nf);
    tf.fault = (struct sim_fault) {
        .kind = (enum sim_fault_kind) k, .nf = (uint32_t) find_name(t, nf),
        .start_ns = (uint64_t) start, .len_ns = (uint64_t) len,
        .period_ns = (uint64_t) period, .count = (uint32_t) count,
    };
    if (!strcmp(culprit, "source")) {
        struct json_object *flow;
        struct jpath p = JPATH_KEY(path, "flow");
        tf.culprit = SIM_CULPRIT_FLOW;
        e = jv_get_member(o, path, "flow", true, &flow);
        if (!e) {
            e = flow_from_json(flow, &p, &tf.flow);
        }
        if (e) {
            return e;
        }
    } else if (strncmp(culprit, "nf:", 3) || strcmp(culprit + 3, nf)) {
        struct jpath p = JPATH_KEY(path, "culprit");
        return jv_error_expected(&p, "\"source\" or \"nf:\" + the fault's nf",
                                 json_object_object_get(o, "culprit"));
    }
    *ret = tf;
    return NULL;
}

static struct vnet_error *
victim_from_json(struct json_object *o, const struct jpath *path,
                 const struct sim_truth *t, struct sim_truth_victim *ret)
{
    struct sim_truth_victim v = { .top = -1 };
    const char *nf;
    int64_t ip_id, t_in, pkt, q, lat;
    struct json_object *culprits;
    struct vnet_error *e = jv_get_string(o, path, "nf", true, &nf);
    if (!e) {
        e = flow_from_json(o, path, &v.flow);
    }
    if (!e) {
        e = jv_get_int(o, path, "ip_id", true, 0, 65535, &ip_id);
    }
    if (!e) {
        e = jv_get_int(o, path, "t_ingress_ns", true, 0, INT64_MAX, &t_in);
    }
    if (!e) {
        e = jv_get_int(o, path, "pkt", true, 0, UINT32_MAX, &pkt);
    }
    if (!e) {
        e = jv_get_bool(o, path, "dropped", true, &v.dropped);
    }
    if (!e) {
        e = jv_get_int(o, path, "q", true, 0, UINT32_MAX, &q);
    }
    if (!e) {
        e = jv_get_int(o, path, "latency_ns", true, 0, INT64_MAX, &lat);
    }
    if (!e) {
        e = jv_get_array(o, path, "culprits", true, 0, t->n_faults, &culprits);
    }
    if (e) {
        return e;
    }
    int f = find_name(t, nf);
    if (f < 0) {
        struct jpath p = JPATH_KEY(path, "nf");
        return jv_error_expected(&p, "the name of an NF in \"nfs\"",
                                 json_object_object_get(o, "nf"));
    }
    struct jpath cpath = JPATH_KEY(path, "culprits");
    for (size_t i = 0; i < json_object_array_length(culprits); i++) {
        struct json_object *c = json_object_array_get_idx(culprits, i);
        struct jpath p = JPATH_INDEX(&cpath, i);
        int64_t fault;
        double contrib;
        bool affected;
        e = jv_get_int(c, &p, "fault", true, 0, (int64_t) t->n_faults - 1, &fault);
        if (!e) {
            e = jv_get_double(c, &p, "contribution", true, 0, 1e12, &contrib);
        }
        if (!e) {
            e = jv_get_bool(c, &p, "affected", true, &affected);
        }
        if (e) {
            return e;
        }
        v.contrib[fault] = contrib;
        if (affected) {
            v.affected |= UINT32_C(1) << fault;
            if (v.top < 0) {
                v.top = (int) fault;
            }
        }
    }
    if (v.top < 0) {
        return jv_error(path, "expected at least one affected culprit");
    }
    v.nf = (uint32_t) f;
    v.ip_id = (uint16_t) ip_id;
    v.t_ingress = (uint64_t) t_in;
    v.pkt = (uint32_t) pkt;
    v.q = (uint32_t) q;
    v.latency_ns = (uint64_t) lat;
    *ret = v;
    return NULL;
}

static struct vnet_error *
header_from_json(struct json_object *o, const struct jpath *root, struct sim_truth *t)
{
    const char *format, *scenario, *topology;
    int64_t seed, duration, epoch;
    struct json_object *nfs;
    struct vnet_error *e = jv_get_string(o, root, "format", true, &format);
    if (!e && strcmp(format, TRUTH_FORMAT)) {
        struct jpath p = JPATH_KEY(root, "format");
        return jv_error_expected(&p, "\"" TRUTH_FORMAT "\"",
                                 json_object_object_get(o, "format"));
    }
    if (!e) {
        e = jv_get_string(o, root, "scenario", true, &scenario);
    }
    if (!e) {
        e = jv_get_string(o, root, "topology", true, &topology);
    }
    if (!e) {
        e = jv_get_int(o, root, "seed", true, 0, INT64_MAX, &seed);
    }
    if (!e) {
        e = jv_get_double(o, root, "scale", true, 1, 1000, &t->scale);
    }
    if (!e) {
        e = jv_get_int(o, root, "duration_ns", true, 0, INT64_MAX, &duration);
    }
    if (!e) {
        e = jv_get_int(o, root, "epoch_ns", true, 0, INT64_MAX, &epoch);
    }
    if (!e) {
        e = jv_get_member(o, root, "nfs", true, &nfs);
    }
    if (e) {
        return e;
    }
    struct jpath npath = JPATH_KEY(root, "nfs");
    if (!json_object_is_type(nfs, json_type_object)
        || json_object_object_length(nfs) > SIM_MAX_NFS) {
        return jv_error_expected(&npath, "an object of at most 8 NFs", nfs);
    }
    json_object_object_foreach(nfs, name, val) {
        struct jpath p = JPATH_KEY(&npath, name);
        int64_t packets = 0, drops = 0, affected = 0;
        if (!e) {
            e = jv_get_int(val, &p, "packets", true, 0, INT64_MAX, &packets);
        }
        if (!e) {
            e = jv_get_int(val, &p, "drops", true, 0, INT64_MAX, &drops);
        }
        if (!e) {
            e = jv_get_int(val, &p, "affected", true, 0, INT64_MAX, &affected);
        }
        vnet_strlcpy(t->nf_names[t->n_nfs], name, sizeof t->nf_names[0]);
        t->nfs[t->n_nfs++] = (struct sim_truth_nf) {
            (uint64_t) packets, (uint64_t) drops, (uint64_t) affected,
        };
    }
    vnet_strlcpy(t->scenario, scenario, sizeof t->scenario);
    vnet_strlcpy(t->topology, topology, sizeof t->topology);
    t->seed = (uint64_t) seed;
    t->duration_ns = (uint64_t) duration;
    t->epoch_ns = (uint64_t) epoch;
    return e;
}

struct vnet_error *
sim_truth_from_json(struct json_object *o, struct sim_truth **ret)
{
    struct jpath root = JPATH_ROOT;
    struct sim_truth *t = vnet_xzalloc(sizeof *t);
    struct json_object *faults, *victims;
    struct vnet_error *e = header_from_json(o, &root, t);
    if (!e) {
        e = jv_get_array(o, &root, "faults", true, 0, SIM_MAX_FAULTS, &faults);
    }
    if (!e) {
        e = jv_get_array(o, &root, "victims", true, 0, SIZE_MAX, &victims);
    }
    struct jpath fpath = JPATH_KEY(&root, "faults");
    for (size_t i = 0; !e && i < json_object_array_length(faults); i++) {
        struct jpath p = JPATH_INDEX(&fpath, i);
        e = fault_from_json(json_object_array_get_idx(faults, i), &p, t,
                            &t->faults[t->n_faults++]);
    }
    if (!e) {
        size_t n = json_object_array_length(victims);
        t->victims = vnet_xcalloc(VNET_MAX(n, 1), sizeof *t->victims);
        struct jpath vpath = JPATH_KEY(&root, "victims");
        for (size_t i = 0; !e && i < n; i++) {
            struct jpath p = JPATH_INDEX(&vpath, i);
            e = victim_from_json(json_object_array_get_idx(victims, i), &p, t,
                                 &t->victims[t->n_victims++]);
        }
    }
    if (e) {
        sim_truth_destroy(t);
        return e;
    }
    *ret = t;
    return NULL;
}

/* ---- Files. ---- */

struct vnet_error *
sim_truth_write(const struct sim_truth *t, const char *path)
{
    FILE *f = fopen(path, "we");
    if (!f) {
        return vnet_error_from_errno(-errno, "%s", path);
    }
    /* Pretty at the top, one line per fault and per victim; victims are streamed
     * (a run can have 10^5 of them). */
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_SPACED
                      | JSON_C_TO_STRING_NOSLASHESCAPE;
    struct json_object *o = truth_header_to_json(t);
    fputs("{\n", f);
    json_object_object_foreach(o, key, val) {
        fprintf(f, "  \"%s\": ", key);
        if (json_object_is_type(val, json_type_array)) {
            size_t n = json_object_array_length(val);
            fputs("[\n", f);
            for (size_t i = 0; i < n; i++) {
                fprintf(f, "    %s%s\n", json_object_to_json_string_ext(
                            json_object_array_get_idx(val, i), flags),
                        i + 1 < n ? "," : "");
            }
            fputs("  ],\n", f);
        } else {
            fprintf(f, "%s,\n", json_object_to_json_string_ext(val, flags));
        }
    }
    json_object_put(o);
    fputs("  \"victims\": [\n", f);
    for (size_t i = 0; i < t->n_victims; i++) {
        struct json_object *v = victim_to_json(t, &t->victims[i]);
        fprintf(f, "    %s%s\n", json_object_to_json_string_ext(v, flags),
                i + 1 < t->n_victims ? "," : "");
        json_object_put(v);
    }
    fputs("  ]\n}\n", f);
    bool ok = !ferror(f);
    int err = errno;
    if (fclose(f)) {
        ok = false;
        err = errno;
    }
    return ok ? NULL : vnet_error_from_errno(-(err ? err : EIO), "%s", path);
}

struct vnet_error *
sim_truth_load(const char *path, struct sim_truth **ret)
{
    char *text;
    size_t len;
    int err = vnet_read_file(path, TRUTH_MAX_BYTES, &text, &len);
    if (err) {
        return vnet_error_from_errno(err, "%s", path);
    }
    struct json_object *o;
    struct vnet_error *e = jv_parse(text, len, &o);
    free(text);
    if (!e) {
        e = sim_truth_from_json(o, ret);
        json_object_put(o);
    }
    return vnet_error_wrap(e, "%s", path);
}
