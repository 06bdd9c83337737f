/* sim.c -- the simulation engine: validation, source generation, FIFO servers.
 *
 * Paths visit NFs in increasing index order (config NFs are topologically sorted),
 * so a run serves NF 0 completely, then NF 1, and so on: an NF's arrivals are its
 * sources' packets plus the departures of the NFs before it, all known by then.
 * That is a discrete-event simulation whose event queue is one sort per NF. */
#include "tests/sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/names.h"
#include "lib/util.h"
#include "tests/sim/sim-rng.h"

/* ---- Validation. ---- */

static struct vnet_error *
check_nf(const struct sim_config *cfg, size_t i)
{
    const struct sim_nf *nf = &cfg->nfs[i];
    if (!vnet_name_valid(nf->name) || !strcmp(nf->name, "ingress")
        || !strcmp(nf->name, "egress")) {
        return vnet_error_create(VNET_ERR_INVALID, "nfs[%zu].name: expected a name "
                                 "matching [a-z0-9][a-z0-9-]{0,23} other than "
                                 "ingress/egress, got '%s'", i, nf->name);
    }
    for (size_t j = 0; j < i; j++) {
        if (!strcmp(cfg->nfs[j].name, nf->name)) {
            return vnet_error_create(VNET_ERR_INVALID, "nfs[%zu].name: '%s' is "
                                     "already nfs[%zu]", i, nf->name, j);
        }
    }
    if (!(nf->rate_pps >= 1 && nf->rate_pps <= 1e9)) {
        return vnet_error_create(VNET_ERR_INVALID, "nfs[%zu].rate_pps: expected "
                                 "1..1e9 packets per second, got %g", i, nf->rate_pps);
    }
    if (!(nf->service_jitter >= 0 && nf->service_jitter <= 0.9)) {
        return vnet_error_create(VNET_ERR_INVALID, "nfs[%zu].service_jitter: expected "
                                 "0..0.9, got %g", i, nf->service_jitter);
    }
    if (!nf->qcap) {
        return vnet_error_create(VNET_ERR_INVALID, "nfs[%zu].qcap: expected at "
                                 "least 1 packet, got 0", i);
    }
    return NULL;
}

static struct vnet_error *
check_flow(const struct sim_config *cfg, size_t i)
{
    const struct sim_flow *f = &cfg->flows[i];
    if (f->tuple.proto != IPPROTO_UDP && f->tuple.proto != IPPROTO_TCP) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].tuple.proto: expected "
                                 "%d (TCP) or %d (UDP), got %d", i, IPPROTO_TCP,
                                 IPPROTO_UDP, f->tuple.proto);
    }
    if (!(f->rate_pps >= 0 && f->rate_pps <= 1e9)) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].rate_pps: expected "
                                 "0..1e9 packets per second, got %g", i, f->rate_pps);
    }
    if (f->kind == SIM_SRC_ONOFF && (!f->on_ns || !f->off_ns)) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu]: an on-off source "
                                 "needs on_ns and off_ns > 0", i);
    }
    if (f->kind > SIM_SRC_ONOFF) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].kind: expected 0..2, "
                                 "got %d", i, (int) f->kind);
    }
    unsigned min = f->tuple.proto == IPPROTO_TCP ? SIM_FRAME_MIN_TCP : SIM_FRAME_MIN;
    if (f->frame_len < min || f->frame_len > SIM_FRAME_MAX) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].frame_len: expected "
                                 "%u..%d bytes, got %u", i, min, SIM_FRAME_MAX,
                                 f->frame_len);
    }
    if (!f->path_len || f->path_len > SIM_MAX_PATH) {
        return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].path_len: expected "
                                 "1..%d, got %u", i, SIM_MAX_PATH, f->path_len);
    }
    for (size_t j = 0; j < f->path_len; j++) {
        if (f->path[j] >= cfg->n_nfs || (j && f->path[j] <= f->path[j - 1])) {
            return vnet_error_create(VNET_ERR_INVALID, "flows[%zu].path[%zu]: expected "
                                     "an NF index < %zu greater than the previous "
                                     "one (NFs are in topological order), got %u", i,
                                     j, cfg->n_nfs, f->path[j]);
        }
    }
    return NULL;
}

static struct vnet_error *
check_fault(const struct sim_config *cfg, size_t i)
{
    const struct sim_fault *f = &cfg->faults[i];
    if (f->kind == SIM_FAULT_BURST) {
        if (f->flow >= cfg->n_flows) {
            return vnet_error_create(VNET_ERR_INVALID, "faults[%zu].flow: expected a "
                                     "flow index < %zu, got %u", i, cfg->n_flows,
                                     f->flow);
        }
        if (!(f->rate_pps > 0 && f->rate_pps <= 1e9) || !f->len_ns
            || (f->period_ns && f->period_ns <= f->len_ns)) {
            return vnet_error_create(VNET_ERR_INVALID, "faults[%zu]: a burst needs "
                                     "rate_pps in (0, 1e9], len_ns > 0 and a period "
                                     "(if any) longer than it", i);
        }
        return NULL;
    }
    if (f->nf >= cfg->n_nfs) {
        return vnet_error_create(VNET_ERR_INVALID, "faults[%zu].nf: expected an NF "
                                 "index < %zu, got %u", i, cfg->n_nfs, f->nf);
    }
    switch (f->kind) {
    case SIM_FAULT_PAUSE:
        if (!f->len_ns || (f->period_ns && f->period_ns <= f->len_ns)) {
            return vnet_error_create(VNET_ERR_INVALID, "faults[%zu]: a pause needs "
                                     "len_ns > 0 and a period (if any) longer than "
                                     "it", i);
        }
        return NULL;
    case SIM_FAULT_HOG:
        if (!f->len_ns || f->period_ns < f->len_ns || !(f->share > 0 && f->share < 1)) {
            return vnet_error_create(VNET_ERR_INVALID, "faults[%zu]: a hog needs "
                                     "0 < len_ns <= period_ns and 0 < share < 1", i);
        }
        return NULL;
    case SIM_FAULT_COST:
    case SIM_FAULT_RATE:
        if (!(f->factor > 0 && f->factor <= 1e6)) {
            return vnet_error_create(VNET_ERR_INVALID, "faults[%zu].factor: expected "
                                     "(0, 1e6], got %g", i, f->factor);
        }
        return NULL;
    case SIM_FAULT_BURST:
        break;
    }
    return vnet_error_create(VNET_ERR_INVALID, "faults[%zu].kind: expected 0..4, got "
                             "%d", i, (int) f->kind);
}

static struct vnet_error *
check_config(const struct sim_config *cfg)
{
    if (!cfg->n_nfs || cfg->n_nfs > SIM_MAX_NFS) {
        return vnet_error_create(VNET_ERR_INVALID, "n_nfs: expected 1..%d, got %zu",
                                 SIM_MAX_NFS, cfg->n_nfs);
    }
    if (!cfg->n_flows || cfg->n_flows > SIM_MAX_FLOWS) {
        return vnet_error_create(VNET_ERR_INVALID, "n_flows: expected 1..%d, got %zu",
                                 SIM_MAX_FLOWS, cfg->n_flows);
    }
    if (cfg->n_faults > SIM_MAX_FAULTS) {
        return vnet_error_create(VNET_ERR_INVALID, "n_faults: expected 0..%d, got "
                                 "%zu", SIM_MAX_FAULTS, cfg->n_faults);
    }
    if (!cfg->duration_ns || cfg->duration_ns > UINT64_C(3600000000000)) {
        return vnet_error_create(VNET_ERR_INVALID, "duration_ns: expected 1 ns..1 h, "
                                 "got %" PRIu64, cfg->duration_ns);
    }
    struct vnet_error *error = NULL;
    for (size_t i = 0; i < cfg->n_nfs && !error; i++) {
        error = check_nf(cfg, i);
    }
    for (size_t i = 0; i < cfg->n_flows && !error; i++) {
        error = check_flow(cfg, i);
    }
    for (size_t i = 0; i < cfg->n_faults && !error; i++) {
        error = check_fault(cfg, i);
    }
    return error;
}

/* ---- Source generation. ---- */

struct gen_pkt {
    uint64_t t;
    int8_t fault;
};

struct gen_buf {
    struct gen_pkt *p;
    size_t n, allocated;
};

static void
gen_push(struct gen_buf *b, double t, int8_t fault)
{
    if (b->n == b->allocated) {
        vnet_grow((void **) &b->p, &b->allocated, b->n + 1, sizeof *b->p);
    }
    b->p[b->n++] = (struct gen_pkt) { (uint64_t) llround(t), fault };
}

static int
compare_gen(const void *a_, const void *b_)
{
    const struct gen_pkt *a = a_, *b = b_;
    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    return (a->fault > b->fault) - (a->fault < b->fault);
}

/* The background packets of flow 'i' and the bursts it carries, in time order with
 * distinct nanoseconds (so (flow, ingress time) names a packet). */
static void
gen_flow(const struct sim_config *cfg, size_t i, struct gen_buf *b)
{
    const struct sim_flow *f = &cfg->flows[i];
    struct sim_rng rng;
    sim_rng_init(&rng, cfg->seed, i + 1);
    double stop = (double) (f->stop_ns && f->stop_ns < cfg->duration_ns
                            ? f->stop_ns : cfg->duration_ns);
    double gap = f->rate_pps > 0 ? 1e9 / f->rate_pps : 0;
    double t = (double) f->start_ns;
    if (gap > 0) {
        switch (f->kind) {
        case SIM_SRC_POISSON:
            for (t += sim_rng_exp(&rng, gap); t < stop; t += sim_rng_exp(&rng, gap)) {
                gen_push(b, t, -1);
            }
            break;
        case SIM_SRC_PACED:
            for (t += sim_rng_uniform(&rng) * gap; t < stop; t += gap) {
                gen_push(b, t, -1);
            }
            break;
        case SIM_SRC_ONOFF: {
            /* Start in a random phase of an off period. */
            t += sim_rng_uniform(&rng) * (double) f->off_ns;
            while (t < stop) {
                double on_end = t + sim_rng_exp(&rng, (double) f->on_ns);
                for (; t < on_end && t < stop; t += gap) {
                    gen_push(b, t, -1);
                }
                t = on_end + sim_rng_exp(&rng, (double) f->off_ns);
            }
            break;
        }
        }
    }
    for (size_t k = 0; k < cfg->n_faults; k++) {
        const struct sim_fault *x = &cfg->faults[k];
        if (x->kind != SIM_FAULT_BURST || x->flow != i) {
            continue;
        }
        double bgap = 1e9 / x->rate_pps;
        for (uint64_t rep = 0; !x->count || rep < x->count; rep++) {
            double start = (double) x->start_ns + (double) rep * (double) x->period_ns;
            if (start >= stop) {
                break;
            }
            double end = VNET_MIN(start + (double) x->len_ns, stop);
            for (double u = start; u < end; u += bgap) {
                gen_push(b, u, (int8_t) k);
            }
            if (!x->period_ns) {
                break;
            }
        }
    }
    if (b->n) {
        qsort(b->p, b->n, sizeof *b->p, compare_gen);
    }
    for (size_t k = 1; k < b->n; k++) {
        if (b->p[k].t <= b->p[k - 1].t) {
            b->p[k].t = b->p[k - 1].t + 1;
        }
    }
}

static int
compare_pkt(const void *a_, const void *b_)
{
    const struct sim_pkt *a = a_, *b = b_;
    if (a->t_ingress != b->t_ingress) {
        return a->t_ingress < b->t_ingress ? -1 : 1;
    }
    if (a->flow != b->flow) {
        return a->flow < b->flow ? -1 : 1;
    }
    return (a->flow_seq > b->flow_seq) - (a->flow_seq < b->flow_seq);
}

struct vnet_error *
sim_create(const struct sim_config *cfg, struct sim **ret)
{
    struct vnet_error *error = check_config(cfg);
    if (error) {
        return error;
    }
    struct sim *s = vnet_xzalloc(sizeof *s);
    s->cfg = *cfg;
    size_t allocated = 0;
    for (size_t i = 0; i < cfg->n_flows; i++) {
        struct gen_buf b = { 0 };
        gen_flow(cfg, i, &b);
        struct sim_rng rng;
        sim_rng_init(&rng, cfg->seed, UINT64_C(1) << 32 | i);
        uint16_t id0 = (uint16_t) sim_rng_next(&rng);
        vnet_grow((void **) &s->pkts, &allocated, s->n_pkts + b.n, sizeof *s->pkts);
        for (size_t k = 0; k < b.n; k++) {
            s->pkts[s->n_pkts++] = (struct sim_pkt) {
                .t_ingress = b.p[k].t, .flow = (uint32_t) i, .flow_seq = (uint32_t) k,
                .fault = b.p[k].fault, .ip_id = (uint16_t) (id0 + k),
            };
        }
        free(b.p);
    }
    if (s->n_pkts) {
        qsort(s->pkts, s->n_pkts, sizeof *s->pkts, compare_pkt);
    }
    for (size_t k = 0; k < s->n_pkts; k++) {
        s->pkts[k].hop_off = (uint32_t) s->n_hops;
        s->n_hops += cfg->flows[s->pkts[k].flow].path_len;
    }
    *ret = s;
    return NULL;
}

void
sim_destroy(struct sim *s)
{
    if (s) {
        free(s->pkts);
        free(s);
    }
}

uint32_t
sim_all_faults(const struct sim *s)
{
    return (uint32_t) ((UINT64_C(1) << s->cfg.n_faults) - 1);
}

bool
sim_pkt_present(const struct sim *s, const struct sim_pkt *p, uint32_t fault_mask)
{
    return p->fault < 0 || (fault_mask >> p->fault & 1);
}

int
sim_path_pos(const struct sim_flow *flow, uint32_t nf)
{
    for (int j = 0; j < flow->path_len; j++) {
        if (flow->path[j] == nf) {
            return j;
        }
    }
    return -1;
}

double
sim_peak_rate(const struct sim *s, uint32_t nf, uint32_t fault_mask)
{
    double rate = s->cfg.nfs[nf].rate_pps;
    for (size_t i = 0; i < s->cfg.n_faults; i++) {
        const struct sim_fault *x = &s->cfg.faults[i];
        if ((fault_mask >> i & 1) && x->kind == SIM_FAULT_RATE && x->nf == nf) {
            rate *= x->factor;
        }
    }
    return rate;
}

int
sim_find_nf(const struct sim_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_nfs; i++) {
        if (!strcmp(cfg->nfs[i].name, name)) {
            return (int) i;
        }
    }
    return -1;
}

struct flow5
sim_header(const struct sim *s, const struct sim_pkt *p, uint32_t pos, bool out)
{
    const struct sim_flow *f = &s->cfg.flows[p->flow];
    struct flow5 h = f->tuple;
    uint32_t end = pos + (out ? 1 : 0);
    for (uint32_t j = 0; j < end && j < f->path_len; j++) {
        if (s->cfg.nfs[f->path[j]].nat) {
            /* One public address per NAT, one port per flow: 198.51.100.<nf+1>. */
            h.sip = (198u << 24) | (51u << 16) | (100u << 8) | (f->path[j] + 1u);
            h.sport = (uint16_t) (20000 + p->flow);
        }
    }
    return h;
}

void
sim_flow_format(const struct flow5 *f, char *buf, size_t size)
{
    const char *proto = f->proto == IPPROTO_TCP ? "tcp"
                        : f->proto == IPPROTO_UDP ? "udp" : "ip";
    snprintf(buf, size, "%s %u.%u.%u.%u:%u > %u.%u.%u.%u:%u", proto,
             f->sip >> 24, f->sip >> 16 & 255, f->sip >> 8 & 255, f->sip & 255,
             f->sport, f->dip >> 24, f->dip >> 16 & 255, f->dip >> 8 & 255,
             f->dip & 255, f->dport);
}

/* ---- Service. ---- */

/* The speed of one NF over time: 1, except where enabled faults say otherwise. */
struct speed_model {
    const struct sim_fault *pause[SIM_MAX_FAULTS], *hog[SIM_MAX_FAULTS];
    size_t n_pause, n_hog;
};

/* Returns the speed at 't' and in '*next' when it may change next (> t). */
static double
speed_at(const struct speed_model *m, double t, double *next)
{
    double sp = 1, nx = INFINITY;
    for (size_t i = 0; i < m->n_pause; i++) {
        const struct sim_fault *f = m->pause[i];
        double start = (double) f->start_ns, len = (double) f->len_ns;
        double period = (double) f->period_ns;
        if (t < start) {
            nx = VNET_MIN(nx, start);
            continue;
        }
        double k = period > 0 ? floor((t - start) / period) : 0;
        if (f->count && k >= f->count) {
            continue;
        }
        double s_k = start + k * period;
        if (t < s_k + len) {
            sp = 0;
            nx = VNET_MIN(nx, s_k + len);
        } else if (period > 0 && (!f->count || k + 1 < f->count)) {
            nx = VNET_MIN(nx, s_k + period);
        }
    }
    for (size_t i = 0; i < m->n_hog; i++) {
        const struct sim_fault *f = m->hog[i];
        double start = (double) f->start_ns, on = (double) f->len_ns;
        double cycle = (double) f->period_ns, slice = (double) f->slice_ns;
        if (t < start) {
            nx = VNET_MIN(nx, start);
            continue;
        }
        double k = floor((t - start) / cycle);
        if (f->count && k >= f->count) {
            continue;
        }
        double c0 = start + k * cycle;
        if (t >= c0 + on) {
            if (!f->count || k + 1 < f->count) {
                nx = VNET_MIN(nx, c0 + cycle);
            }
        } else if (slice <= 0) {
            sp *= 1 - f->share;
            nx = VNET_MIN(nx, c0 + on);
        } else {
            /* Each slice: the hog runs first for share x slice, then the NF. */
            double s0 = c0 + floor((t - c0) / slice) * slice;
            double hog_end = s0 + f->share * slice;
            if (t < hog_end) {
                sp = 0;
                nx = VNET_MIN(nx, VNET_MIN(hog_end, c0 + on));
            } else {
                nx = VNET_MIN(nx, VNET_MIN(s0 + slice, c0 + on));
            }
        }
    }
    /* Rounding at a boundary must not stall the caller's loop. */
    *next = nx > t ? nx : t + 1e-3;
    return sp;
}

/* When 'work' ns of full-speed processing started at 't' is done. */
static double
finish_time(const struct speed_model *m, double t, double work)
{
    for (;;) {
        double next, sp = speed_at(m, t, &next);
        if (sp > 0) {
            double need = work / sp;
            if (t + need <= next) {
                return t + need;
            }
            work -= (next - t) * sp;
        }
        t = next;
    }
}

static int
compare_arrival_time(const struct sim_result *r, const struct sim_arrival *a,
                     const struct sim_arrival *b)
{
    const struct sim_pkt *pa = &r->sim->pkts[a->pkt], *pb = &r->sim->pkts[b->pkt];
    uint64_t ta = r->hops[pa->hop_off + a->pos].t_arr;
    uint64_t tb = r->hops[pb->hop_off + b->pos].t_arr;
    if (ta != tb) {
        return ta < tb ? -1 : 1;
    }
    return (a->pkt > b->pkt) - (a->pkt < b->pkt);
}

/* Merges the arrival streams of an NF: each upstream delivers in time order, so a
 * bottom-up merge sort over the concatenation is cheap. */
static void
sort_arrivals(const struct sim_result *r, struct sim_arrival *a, size_t n)
{
    struct sim_arrival *tmp = vnet_xmalloc(VNET_MAX(n, 1) * sizeof *tmp);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = VNET_MIN(lo + w, n), hi = VNET_MIN(lo + 2 * w, n);
            if (mid == hi || compare_arrival_time(r, &a[mid - 1], &a[mid]) <= 0) {
                continue;
            }
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                tmp[k++] = compare_arrival_time(r, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
            }
            while (i < mid) {
                tmp[k++] = a[i++];
            }
            while (j < hi) {
                tmp[k++] = a[j++];
            }
            memcpy(&a[lo], &tmp[lo], (hi - lo) * sizeof *a);
        }
    }
    free(tmp);
}

struct tx_batch {
    const struct sim_nf *nf;
    struct sim_hop **pending;   /* processed, not yet released */
    size_t n;
    double first_done;          /* processing end of pending[0] */
};

static void
batch_release(struct tx_batch *b, double t)
{
    uint64_t dep = (uint64_t) llround(t);
    for (size_t i = 0; i < b->n; i++) {
        b->pending[i]->t_dep = dep;
    }
    b->n = 0;
}

/* Serves NF 'f' over its arrivals in 'a' (time order). */
static void
serve_nf(struct sim_result *r, uint32_t f, const struct sim_arrival *a, size_t n)
{
    const struct sim_config *cfg = &r->sim->cfg;
    const struct sim_nf *nf = &cfg->nfs[f];
    struct speed_model m = { .n_pause = 0 };
    const struct sim_fault *cost[SIM_MAX_FAULTS];
    size_t n_cost = 0;
    for (size_t i = 0; i < cfg->n_faults; i++) {
        const struct sim_fault *x = &cfg->faults[i];
        if (!(r->fault_mask >> i & 1) || x->kind == SIM_FAULT_BURST || x->nf != f) {
            continue;
        }
        switch (x->kind) {
        case SIM_FAULT_PAUSE:
            m.pause[m.n_pause++] = x;
            break;
        case SIM_FAULT_HOG:
            m.hog[m.n_hog++] = x;
            break;
        case SIM_FAULT_COST:
            cost[n_cost++] = x;
            break;
        case SIM_FAULT_RATE:
        case SIM_FAULT_BURST:
            break;
        }
    }
    double service = 1e9 / sim_peak_rate(r->sim, f, r->fault_mask);
    uint32_t batch = VNET_MAX(nf->batch, 1);
    struct tx_batch b = { .nf = nf };
    b.pending = vnet_xmalloc(batch * sizeof *b.pending);
    /* Processing ends of accepted packets, in order: the receive queue at time t
     * is the accepted packets whose processing has not ended by t. */
    uint64_t *done = vnet_xmalloc(VNET_MAX(n, 1) * sizeof *done);
    size_t n_acc = 0, gone = 0;
    double busy_until = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        const struct sim_pkt *p = &r->sim->pkts[a[k].pkt];
        struct sim_hop *h = &r->hops[p->hop_off + a[k].pos];
        uint64_t t = h->t_arr;
        while (gone < n_acc && done[gone] <= t) {
            gone++;
        }
        if (n_acc - gone >= nf->qcap) {
            h->status = SIM_HOP_DROPPED;
            continue;
        }
        if (b.n && !nf->batch_timeout_ns && (double) t >= busy_until) {
            batch_release(&b, busy_until);      /* went idle: flush */
        }
        double start = VNET_MAX((double) t, busy_until), work = service;
        if (nf->service_jitter > 0) {
            /* A hash, not a stream: every run draws the same for this packet. */
            uint64_t x = cfg->seed ^ ((uint64_t) f << 56) ^ a[k].pkt;
            double u = (double) (sim_splitmix64(&x) >> 11) * 0x1.0p-53;
            work *= 1 + nf->service_jitter * (2 * u - 1);
        }
        for (size_t i = 0; i < n_cost; i++) {
            const struct sim_fault *c = cost[i];
            if (cfg->flows[p->flow].tuple.dport == c->dport
                && start >= (double) c->start_ns
                && (!c->len_ns || start < (double) (c->start_ns + c->len_ns))) {
                work *= c->factor;
            }
        }
        double end = finish_time(&m, start, work);
        busy_until = end;
        done[n_acc++] = (uint64_t) llround(end);
        h->status = SIM_HOP_FORWARDED;
        if (b.n && nf->batch_timeout_ns
            && end > b.first_done + (double) nf->batch_timeout_ns) {
            batch_release(&b, b.first_done + (double) nf->batch_timeout_ns);
        }
        if (!b.n) {
            b.first_done = end;
        }
        b.pending[b.n++] = h;
        if (b.n == batch) {
            batch_release(&b, end);
        }
    }
    if (b.n) {
        batch_release(&b, nf->batch_timeout_ns
                      ? b.first_done + (double) nf->batch_timeout_ns : busy_until);
    }
    free(b.pending);
    free(done);

    /* Q(p): accepted arrivals before p minus departures up to t_arr(p);
     * departures leave in acceptance order (FIFO). */
    struct sim_hop **acc = vnet_xmalloc(VNET_MAX(n, 1) * sizeof *acc);
    size_t accepted = 0, departed = 0;
    for (size_t k = 0; k < n; k++) {
        const struct sim_pkt *p = &r->sim->pkts[a[k].pkt];
        struct sim_hop *h = &r->hops[p->hop_off + a[k].pos];
        while (departed < accepted && acc[departed]->t_dep <= h->t_arr) {
            departed++;
        }
        h->q = (uint32_t) (accepted - departed);
        if (h->status == SIM_HOP_FORWARDED) {
            acc[accepted++] = h;
        }
    }
    free(acc);
}

struct sim_result *
sim_run(const struct sim *s, uint32_t fault_mask)
{
    const struct sim_config *cfg = &s->cfg;
    struct sim_result *r = vnet_xzalloc(sizeof *r);
    r->sim = s;
    r->fault_mask = fault_mask;
    r->hops = vnet_xcalloc(VNET_MAX(s->n_hops, 1), sizeof *r->hops);
    for (size_t i = 0; i < s->n_hops; i++) {
        r->hops[i] = (struct sim_hop) { .t_dep = UINT64_MAX, .status = SIM_HOP_NONE };
    }
    for (uint32_t f = 0; f < cfg->n_nfs; f++) {
        size_t n = 0, allocated = 0;
        struct sim_arrival *a = NULL;
        for (uint32_t k = 0; k < s->n_pkts; k++) {
            const struct sim_pkt *p = &s->pkts[k];
            if (!sim_pkt_present(s, p, fault_mask)) {
                continue;
            }
            int pos = sim_path_pos(&cfg->flows[p->flow], f);
            if (pos < 0) {
                continue;
            }
            struct sim_hop *h = &r->hops[p->hop_off + pos];
            if (pos == 0) {
                h->t_arr = p->t_ingress;
            } else if (h[-1].status == SIM_HOP_FORWARDED) {
                h->t_arr = h[-1].t_dep + cfg->link_delay_ns;
            } else {
                continue;
            }
            if (n == allocated) {
                vnet_grow((void **) &a, &allocated, n + 1, sizeof *a);
            }
            a[n++] = (struct sim_arrival) { k, (uint8_t) pos };
        }
        sort_arrivals(r, a, n);
        serve_nf(r, f, a, n);
        r->order[f] = a;
        r->n_order[f] = n;
    }
    return r;
}

void
sim_result_destroy(struct sim_result *r)
{
    if (!r) {
        return;
    }
    for (size_t f = 0; f < SIM_MAX_NFS; f++) {
        free(r->order[f]);
    }
    free(r->hops);
    free(r);
}
