#include "diag/perfsight.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"

static const char *const kind_names[PERFSIGHT_N_KINDS] = {
    [PERFSIGHT_PNIC] = "pnic",
    [PERFSIGHT_PNIC_DRIVER] = "pnic-driver",
    [PERFSIGHT_BACKLOG] = "backlog",
    [PERFSIGHT_OVS_DATAPATH] = "ovs-datapath",
    [PERFSIGHT_OVS_PORT] = "ovs-port",
    [PERFSIGHT_TAP] = "tap",
    [PERFSIGHT_VETH] = "veth",
    [PERFSIGHT_QDISC] = "qdisc",
    [PERFSIGHT_VNODE_CPU] = "vnode-cpu",
    [PERFSIGHT_APP] = "app",
    [PERFSIGHT_HOST_CPU] = "host-cpu",
    [PERFSIGHT_MEMBW] = "membw",
};

const char *
perfsight_kind_name(enum perfsight_kind kind)
{
    return (unsigned) kind < PERFSIGHT_N_KINDS ? kind_names[kind] : NULL;
}

int
perfsight_kind_from_name(const char *name, enum perfsight_kind *ret)
{
    for (size_t k = 0; name && k < PERFSIGHT_N_KINDS; k++) {
        if (!strcmp(name, kind_names[k])) {
            *ret = k;
            return 0;
        }
    }
    return -EINVAL;
}

static const struct perfsight_catalogue_entry catalogue[PERFSIGHT_N_CODES] = {
    [PERFSIGHT_NO_LOSS] = {
        "ps-no-loss", "No packet loss above the noise floor", NULL,
        "No element of the data plane lost more than the noise floor in the interval.",
        "If users still see poor performance, look at latency (Microscope) or at the "
        "middleboxes' I/O blocking (Algorithm 2)."},
    [PERFSIGHT_INCOMING_BANDWIDTH] = {
        "ps-incoming-bandwidth", "pNIC receive overflow", "incoming network bandwidth",
        "The physical NIC dropped packets because its hardware ring or FIFO was full: "
        "more traffic arrives than the host drains.",
        "Limit inbound traffic, spread it over more NIC queues (RSS) or NICs, or "
        "enlarge the rx ring (ethtool -G); check that the host drains fast enough."},
    [PERFSIGHT_MEMORY_SPACE] = {
        "ps-memory-space", "NIC driver out of receive buffers", "memory space",
        "The NIC driver could not allocate receive buffers, so arriving packets were "
        "dropped.",
        "Free host memory or reserve more for networking (vm.min_free_kbytes); look "
        "for a memory hog on the host."},
    [PERFSIGHT_OUTGOING_BANDWIDTH] = {
        "ps-outgoing-bandwidth", "Outgoing link saturated",
        "outgoing network bandwidth",
        "Packets were dropped on their way out while the host transmits at the NIC's "
        "capacity, or an egress qdisc dropped them.",
        "Add outgoing capacity, or shape the heaviest senders; check the egress qdisc "
        "configuration."},
    [PERFSIGHT_BACKLOG_CONTENTION] = {
        "ps-backlog-contention", "Per-CPU backlog overflow", "pCPU backlog",
        "A per-CPU input backlog (netdev_max_backlog) overflowed while the NIC is far "
        "from saturated: typically one sender flooding small packets.",
        "Find the VNode that sends the most small packets and rate-limit it; spread "
        "the load with RPS; raise net.core.netdev_max_backlog."},
    [PERFSIGHT_VSWITCH_CPU] = {
        "ps-vswitch-cpu", "Virtual switch cannot keep up", "virtual switch CPU",
        "Open vSwitch dropped packets itself (lost upcalls, or ports it could not "
        "drain): its handler or PMD threads are short of CPU, or flows are set up "
        "faster than it can handle.",
        "Give ovs-vswitchd more handler/PMD cores, reduce flow churn, and read "
        "dpctl/show and coverage/show."},
    [PERFSIGHT_CPU_CONTENTION] = {
        "ps-cpu-contention", "CPU contention in the shared virtualization stack",
        "host CPU",
        "Several VNodes' data paths lost packets at once while the host CPU is "
        "saturated: the shared stack does not get the CPU to move packets.",
        "Find the CPU hog; pin VNodes and the virtual switch to separate cores, or "
        "move load off the host."},
    [PERFSIGHT_MEMBW_CONTENTION] = {
        "ps-membw-contention", "Memory-bandwidth contention", "memory bandwidth",
        "Several VNodes' data paths lost packets at once while the host CPU is not "
        "saturated: by elimination, memory bandwidth is the shared resource in "
        "shortage.",
        "Check memory bandwidth (resctrl mbm_total_bytes); find the memory-intensive "
        "job and throttle it (RDT/MBA) or move it."},
    [PERFSIGHT_STACK_CONTENTION] = {
        "ps-stack-contention", "Contention in the shared virtualization stack",
        "CPU or memory bandwidth",
        "Several VNodes' data paths lost packets at once, but the host's CPU use is "
        "unknown, so CPU and memory-bandwidth contention cannot be told apart.",
        "Provide host CPU counters (a host-cpu element), or check top and resctrl by "
        "hand."},
    [PERFSIGHT_VNODE_CPU_LIMIT] = {
        "ps-vnode-cpu", "VNode short of CPU", "the VNode's CPU",
        "Only this VNode's data path lost packets, and it uses all the CPU it is "
        "allotted (or is throttled): it is the bottleneck.",
        "Give the VNode more CPUs in the shadow (vnetctl shadow set), compare, then "
        "swap; or reduce its load."},
    [PERFSIGHT_VNODE_BANDWIDTH_LIMIT] = {
        "ps-vnode-bandwidth", "VNode at its bandwidth allocation",
        "the VNode's bandwidth allocation",
        "Only this VNode's data path lost packets, and its interface runs at its "
        "configured rate limit (or its egress shaper drops).",
        "Raise the VNode's rate limit, or spread its traffic over more instances."},
    [PERFSIGHT_VNODE_BOTTLENECK] = {
        "ps-vnode-bottleneck", "VNode is the bottleneck",
        "the VNode's CPU or bandwidth allocation",
        "Only this VNode's data path lost packets: it cannot take what it is sent. "
        "Its CPU and rate counters do not show which resource is short.",
        "Provide its vnode-cpu counters, look inside it (Microscope on its queue), or "
        "try more CPUs in the shadow and compare."},
    [PERFSIGHT_CLIENT_UNDERLOADED] = {
        "ps-client-underloaded", "Client is underloaded", NULL,
        "Every middlebox waits on its input (ReadBlocked): the chain is starved by a "
        "slow source, not limited by any middlebox.",
        "Look at the client: its sending rate, application limits, or the network "
        "in front of the chain."},
    [PERFSIGHT_SINK_OVERLOADED] = {
        "ps-sink-overloaded", "Sink is overloaded", NULL,
        "The middleboxes wait on their output (WriteBlocked) all the way to the sink: "
        "the receiving end cannot keep up.",
        "Look at the server: its CPU, receive window and application."},
    [PERFSIGHT_ROOT_CAUSE] = {
        "ps-root-cause", "Middlebox is the root cause", NULL,
        "This box is neither read- nor write-blocked, and blocked neighbours point at "
        "it: its own processing limits the chain.",
        "Give it more CPU or capacity in the shadow, compare, then swap."},
    [PERFSIGHT_CANDIDATE] = {
        "ps-candidate", "Middlebox remains a candidate", NULL,
        "This box is not blocked, so it was not eliminated, but no blocked neighbour "
        "points at it.",
        "Check it alongside any root causes; collect another interval."},
    [PERFSIGHT_CANDIDATE_UNKNOWN] = {
        "ps-candidate-unknown", "Middlebox without I/O data", NULL,
        "This box did no I/O in the interval, or its counters are unusable, so it "
        "cannot be eliminated.",
        "Check its counters (I/O time and bytes): it may be idle or stalled."},
    [PERFSIGHT_NO_CANDIDATE] = {
        "ps-no-candidate", "No candidate remains", NULL,
        "Every box with counters is blocked, but the pattern matches neither a slow "
        "client nor an overloaded sink.",
        "Check the chain's topology and the endpoints' counters; the blocking may "
        "come from outside the chain."},
};

const struct perfsight_catalogue_entry *
perfsight_catalogue(enum perfsight_code code)
{
    return (unsigned) code < PERFSIGHT_N_CODES ? &catalogue[code] : NULL;
}

void
perfsight_config_init(struct perfsight_config *cfg)
{
    *cfg = (struct perfsight_config) {
        .noise_floor = 0.001,
        .min_loss_pkts = 10,
        .spread_fraction = 0.1,
        .nic_saturation = 0.9,
        .cpu_saturation = 0.9,
        .throttle_floor = 0.01,
        .max_pps = 1e9,
        .max_Bps = 1e11,
        .io_time_floor = 0.3,
    };
}

/* ---- utility routines ---- */

int
perfsight_counter_delta(uint64_t v1, uint64_t v2, unsigned bits, uint64_t max_delta,
                        uint64_t *ret)
{
    uint64_t mask = bits && bits < 64 ? (1ull << bits) - 1 : UINT64_MAX;
    if (v1 > mask || v2 > mask) {
        return -EINVAL;
    }
    uint64_t d = (v2 - v1) & mask;
    if (d > max_delta) {
        return -ERANGE;
    }
    *ret = d;
    return 0;
}

int
perfsight_delta(const struct perfsight_elem *e, const struct perfsight_config *cfg,
                struct perfsight_delta *ret)
{
    const struct elem_stats *a = &e->s1, *b = &e->s2;
    if (b->ts_ns <= a->ts_ns) {
        return -EINVAL;
    }
    uint64_t t = b->ts_ns - a->ts_ns;
    double secs = t / 1e9;
    /* A wrap is plausible only for an increase the element could have made in
     * the interval; anything else that went backwards was a reset. */
    uint64_t max_pkts = (uint64_t) fmin(cfg->max_pps * secs + 1, 0x1p63);
    uint64_t max_bytes = (uint64_t) fmin(cfg->max_Bps * secs + 1, 0x1p63);
    uint64_t max_time = t > UINT64_MAX / 4096 ? UINT64_MAX : t * 4096;
    struct perfsight_delta d = {.t_ns = t};
    const struct {
        uint64_t v1, v2, max;
        uint64_t *out;
    } c[] = {
        {a->in_pkts, b->in_pkts, max_pkts, &d.in_pkts},
        {a->in_bytes, b->in_bytes, max_bytes, &d.in_bytes},
        {a->out_pkts, b->out_pkts, max_pkts, &d.out_pkts},
        {a->out_bytes, b->out_bytes, max_bytes, &d.out_bytes},
        {a->drops, b->drops, max_pkts, &d.drops},
        {a->io_time_in_ns, b->io_time_in_ns, max_time, &d.io_in_ns},
        {a->io_time_out_ns, b->io_time_out_ns, max_time, &d.io_out_ns},
        {a->cpu_ns, b->cpu_ns, max_time, &d.cpu_ns},
        {a->throttled_ns, b->throttled_ns, max_time, &d.throttled_ns},
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(c); i++) {
        int err = perfsight_counter_delta(c[i].v1, c[i].v2, e->counter_bits, c[i].max,
                                          c[i].out);
        if (err) {
            return err;
        }
    }
    *ret = d;
    return 0;
}

double
perfsight_get_throughput(const struct perfsight_delta *d)
{
    return d->in_bytes * 1e9 / d->t_ns;
}

int64_t
perfsight_get_pkt_loss(const struct perfsight_delta *d, bool explicit_drops)
{
    if (explicit_drops) {
        return (int64_t) d->drops;
    }
    return (int64_t) d->in_pkts - (int64_t) d->out_pkts;
}

int
perfsight_get_avg_pkt_size(const struct perfsight_delta *d, double *ret)
{
    if (!d->in_pkts) {
        return -EDOM;
    }
    *ret = (double) d->in_bytes / d->in_pkts;
    return 0;
}

/* ---- report building ---- */

static void VNET_PRINTF(2, 3)
appendf(char **s, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *more = vnet_xvasprintf(fmt, args);
    va_end(args);
    if (!*s) {
        *s = more;
        return;
    }
    char *joined = vnet_xasprintf("%s%s", *s, more);
    free(*s);
    free(more);
    *s = joined;
}

static struct perfsight_report *
report_create(enum perfsight_algorithm alg, size_t n)
{
    struct perfsight_report *r = vnet_xzalloc(sizeof *r);
    r->algorithm = alg;
    /* Every element or box yields at most one finding, loss entry or skip, plus
     * the few shared groups. */
    r->findings = vnet_xcalloc(n + PERFSIGHT_N_KINDS + 1, sizeof *r->findings);
    r->skipped = vnet_xcalloc(n + 1, sizeof *r->skipped);
    return r;
}

/* Takes ownership of 'evidence'. */
static void
add_finding(struct perfsight_report *r, enum perfsight_code code, const char *subject,
            uint64_t loss, double share, char *evidence)
{
    r->findings[r->n_findings++] = (struct perfsight_finding) {
        .code = code,
        .subject = vnet_xstrdup(subject),
        .loss_pkts = loss,
        .share = share,
        .evidence = evidence ? evidence : vnet_xstrdup(""),
    };
}

#define SKIP_RESET "counter reset: snapshot pair discarded"
#define SKIP_INVALID "snapshots out of order or wider than the counter"

static void
add_skip(struct perfsight_report *r, const char *name, const char *reason)
{
    r->skipped[r->n_skipped++] =
        (struct perfsight_skip) {vnet_xstrdup(name), vnet_xstrdup(reason)};
}

void
perfsight_report_destroy(struct perfsight_report *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        free(r->findings[i].subject);
        free(r->findings[i].evidence);
    }
    for (size_t i = 0; i < r->n_losses; i++) {
        free(r->losses[i].name);
        free(r->losses[i].vnode);
    }
    for (size_t i = 0; i < r->n_mbs; i++) {
        free(r->mbs[i].name);
    }
    for (size_t i = 0; i < r->n_skipped; i++) {
        free(r->skipped[i].name);
        free(r->skipped[i].reason);
    }
    free(r->findings);
    free(r->losses);
    free(r->mbs);
    free(r->skipped);
    free(r);
}

/* ---- Algorithm 1 ---- */

static bool
counts_packets(enum perfsight_kind k)
{
    return k != PERFSIGHT_VNODE_CPU && k != PERFSIGHT_HOST_CPU &&
           k != PERFSIGHT_MEMBW;
}

/* The VNode whose data path an element belongs to, or NULL for the shared stack.
 * Taps, veths and applications always belong to one (named after themselves if
 * the agent gave no VNode); OVS ports and qdiscs only when tagged. */
static const char *
path_owner(const struct perfsight_elem *e)
{
    switch (e->kind) {
    case PERFSIGHT_TAP:
    case PERFSIGHT_VETH:
    case PERFSIGHT_APP:
        return e->vnode ? e->vnode : e->name;
    case PERFSIGHT_OVS_PORT:
    case PERFSIGHT_QDISC:
        return e->vnode;
    default:
        return NULL;
    }
}

/* What Algorithm 1 knows about one round: the elements, their deltas and
 * utilizations. */
struct a1_ctx {
    const struct perfsight_elem *elems;
    size_t n;
    const struct perfsight_config *cfg;
    struct perfsight_delta *d;
    bool *usable;
    struct perfsight_report *r;
    uint64_t total_loss;
};

/* The VNode an element is accounted to: its data path's owner, or the VNode it
 * describes (vnode-cpu). */
static const char *
elem_vnode(const struct perfsight_elem *e)
{
    const char *owner = path_owner(e);
    return owner ? owner : e->vnode;
}

/* The highest use of 'kind' elements against their capacity (of 'vnode' only,
 * unless NULL): CPU kinds by cpu_ns, bandwidth kinds by bytes (sent if
 * 'tx_side', else accepted).  -1 if unknown. */
static double
max_util(const struct a1_ctx *c, enum perfsight_kind kind, const char *vnode,
         bool tx_side)
{
    double best = -1;
    for (size_t i = 0; i < c->n; i++) {
        const struct perfsight_elem *e = &c->elems[i];
        if (!c->usable[i] || e->kind != kind || !(e->capacity > 0) ||
            (vnode && (!elem_vnode(e) || strcmp(elem_vnode(e), vnode)))) {
            continue;
        }
        const struct perfsight_delta *d = &c->d[i];
        double use;
        if (kind == PERFSIGHT_VNODE_CPU || kind == PERFSIGHT_HOST_CPU) {
            use = (double) d->cpu_ns / d->t_ns;
        } else {
            use = (tx_side ? d->out_bytes : d->in_bytes) * 1e9 / d->t_ns;
        }
        best = fmax(best, use / e->capacity);
    }
    return best;
}

static double
vnode_throttled(const struct a1_ctx *c, const char *vnode)
{
    double best = -1;
    for (size_t i = 0; i < c->n; i++) {
        const struct perfsight_elem *e = &c->elems[i];
        if (c->usable[i] && e->kind == PERFSIGHT_VNODE_CPU && e->vnode &&
            !strcmp(e->vnode, vnode)) {
            best = fmax(best, (double) c->d[i].throttled_ns / c->d[i].t_ns);
        }
    }
    return best;
}

static char *
pct_or_unknown(double util)
{
    return util < 0 ? vnet_xstrdup("unknown") : vnet_xasprintf("%.0f%%", 100 * util);
}

static int
cmp_loss(const void *a_, const void *b_)
{
    const struct perfsight_loss *a = a_, *b = b_;
    if (a->loss_pkts != b->loss_pkts) {
        return a->loss_pkts > b->loss_pkts ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

/* Shared-stack loss groups and the rule for each. */
enum shared_group { SG_PNIC, SG_DRIVER, SG_BACKLOG, SG_VSWITCH, SG_QDISC, SG_N };

static enum shared_group
shared_group_of(enum perfsight_kind k)
{
    switch (k) {
    case PERFSIGHT_PNIC:
        return SG_PNIC;
    case PERFSIGHT_PNIC_DRIVER:
        return SG_DRIVER;
    case PERFSIGHT_BACKLOG:
        return SG_BACKLOG;
    case PERFSIGHT_QDISC:
        return SG_QDISC;
    default:
        return SG_VSWITCH;      /* ovs-datapath, untagged ovs-port */
    }
}

static void
add_shared_findings(struct a1_ctx *c)
{
    static const char *const what[SG_N] = {
        [SG_PNIC] = "rx ring/FIFO drops",
        [SG_DRIVER] = "rx buffer allocation failures",
        [SG_BACKLOG] = "backlog drops",
        [SG_VSWITCH] = "virtual switch drops",
        [SG_QDISC] = "egress qdisc drops",
    };
    uint64_t loss[SG_N] = {0};
    char *where[SG_N] = {NULL};
    for (size_t i = 0; i < c->r->n_losses; i++) {
        const struct perfsight_loss *l = &c->r->losses[i];
        if (path_owner(&c->elems[l->elem])) {
            continue;
        }
        enum shared_group g = shared_group_of(l->kind);
        loss[g] += l->loss_pkts;
        appendf(&where[g], "%s%s %llu of %llu (%.2f%%)", where[g] ? ", " : "", l->name,
                (unsigned long long) l->loss_pkts, (unsigned long long) l->offered_pkts,
                100 * l->loss_rate);
    }

    double tx = max_util(c, PERFSIGHT_PNIC, NULL, true);
    for (int g = 0; g < SG_N; g++) {
        if (!loss[g]) {
            continue;
        }
        char *ev = vnet_xasprintf("%s: %s", what[g], where[g]);
        enum perfsight_code code;
        switch ((enum shared_group) g) {
        case SG_PNIC:
            code = PERFSIGHT_INCOMING_BANDWIDTH;
            break;
        case SG_DRIVER:
            code = PERFSIGHT_MEMORY_SPACE;
            break;
        case SG_BACKLOG:
        case SG_QDISC: {
            /* A shared egress qdisc drops only when shaping or when the NIC's tx
             * is saturated, so its drops are outgoing bandwidth either way; the
             * backlog is when the NIC is saturated. */
            char *u = pct_or_unknown(tx);
            appendf(&ev, "; NIC tx at %s of line rate (saturated at %.0f%%)", u,
                    100 * c->cfg->nic_saturation);
            free(u);
            code = g == SG_QDISC || tx >= c->cfg->nic_saturation
                       ? PERFSIGHT_OUTGOING_BANDWIDTH
                       : PERFSIGHT_BACKLOG_CONTENTION;
            break;
        }
        default:
            code = PERFSIGHT_VSWITCH_CPU;
            break;
        }
        add_finding(c->r, code, "host", loss[g], (double) loss[g] / c->total_loss, ev);
        free(where[g]);
    }
}

struct vnode_loss {
    const char *vnode;
    uint64_t loss;
    char *where;
};

static int
cmp_vnode_loss(const void *a_, const void *b_)
{
    const struct vnode_loss *a = a_, *b = b_;
    if (a->loss != b->loss) {
        return a->loss > b->loss ? -1 : 1;
    }
    return strcmp(a->vnode, b->vnode);
}

/* Contention vs bottleneck: loss on several VNodes' paths is contention in the
 * shared stack, loss confined to one VNode makes it the bottleneck.  A VNode
 * becomes a suspect only through drops on its path: high CPU alone (a
 * busy-polling NF) is no evidence (spec C.3); it only tells CPU from bandwidth
 * once drops point at the VNode. */
static void
add_vnode_findings(struct a1_ctx *c)
{
    struct vnode_loss *v = vnet_xcalloc(c->r->n_losses + 1, sizeof *v);
    size_t nv = 0;
    for (size_t i = 0; i < c->r->n_losses; i++) {
        const struct perfsight_loss *l = &c->r->losses[i];
        const char *owner = path_owner(&c->elems[l->elem]);
        if (!owner) {
            continue;
        }
        size_t k = 0;
        while (k < nv && strcmp(v[k].vnode, owner)) {
            k++;
        }
        if (k == nv) {
            v[nv++] = (struct vnode_loss) {.vnode = owner};
        }
        v[k].loss += l->loss_pkts;
        appendf(&v[k].where, "%s%s %llu of %llu (%.2f%%)", v[k].where ? ", " : "",
                l->name, (unsigned long long) l->loss_pkts,
                (unsigned long long) l->offered_pkts, 100 * l->loss_rate);
    }
    if (!nv) {
        free(v);
        return;
    }
    qsort(v, nv, sizeof *v, cmp_vnode_loss);

    size_t affected = 0;
    uint64_t loss = 0;
    while (affected < nv &&
           v[affected].loss >= c->cfg->spread_fraction * (double) v[0].loss) {
        loss += v[affected++].loss;
    }

    if (affected >= 2) {
        char *ev = vnet_xasprintf("drops on the paths of %zu VNodes:", affected);
        for (size_t k = 0; k < affected; k++) {
            appendf(&ev, " %s (%s)%s", v[k].vnode, v[k].where,
                    k + 1 < affected ? ";" : "");
        }
        double cpu = max_util(c, PERFSIGHT_HOST_CPU, NULL, false);
        double mem = max_util(c, PERFSIGHT_MEMBW, NULL, false);
        char *cpu_s = pct_or_unknown(cpu), *mem_s = pct_or_unknown(mem);
        appendf(&ev, "; host CPU %s (saturated at %.0f%%); memory bandwidth %s", cpu_s,
                100 * c->cfg->cpu_saturation, mem_s);
        free(cpu_s);
        free(mem_s);
        enum perfsight_code code = cpu < 0 ? PERFSIGHT_STACK_CONTENTION
                                   : cpu >= c->cfg->cpu_saturation
                                       ? PERFSIGHT_CPU_CONTENTION
                                       : PERFSIGHT_MEMBW_CONTENTION;
        add_finding(c->r, code, "host", loss, (double) loss / c->total_loss, ev);
    } else {
        const char *vn = v[0].vnode;
        double cpu = max_util(c, PERFSIGHT_VNODE_CPU, vn, false);
        double thr = vnode_throttled(c, vn);
        double bw = fmax(fmax(max_util(c, PERFSIGHT_TAP, vn, false),
                              max_util(c, PERFSIGHT_VETH, vn, false)),
                         max_util(c, PERFSIGHT_APP, vn, false));
        bool shaper = false;
        for (size_t i = 0; i < c->r->n_losses; i++) {
            const struct perfsight_loss *l = &c->r->losses[i];
            shaper |= l->kind == PERFSIGHT_QDISC && l->vnode && !strcmp(l->vnode, vn);
        }
        char *ev = vnet_xasprintf("only %s's path lost packets: %s", vn, v[0].where);
        char *cpu_s = pct_or_unknown(cpu), *thr_s = pct_or_unknown(thr);
        char *bw_s = pct_or_unknown(bw);
        appendf(&ev, "; VNode CPU %s of its allotment, throttled %s of the time, "
                "interface at %s of its rate limit", cpu_s, thr_s, bw_s);
        free(cpu_s);
        free(thr_s);
        free(bw_s);
        enum perfsight_code code;
        if (cpu >= c->cfg->cpu_saturation || thr >= c->cfg->throttle_floor) {
            code = PERFSIGHT_VNODE_CPU_LIMIT;
        } else if (shaper || bw >= c->cfg->nic_saturation) {
            code = PERFSIGHT_VNODE_BANDWIDTH_LIMIT;
        } else {
            code = PERFSIGHT_VNODE_BOTTLENECK;
        }
        add_finding(c->r, code, vn, loss, (double) loss / c->total_loss, ev);
    }
    for (size_t k = 0; k < nv; k++) {
        free(v[k].where);
    }
    free(v);
}

static int
cmp_finding(const void *a_, const void *b_)
{
    const struct perfsight_finding *a = a_, *b = b_;
    return (a->loss_pkts < b->loss_pkts) - (a->loss_pkts > b->loss_pkts);
}

static struct vnet_error *
check_elem(const struct perfsight_elem *e, size_t i)
{
    if (!e->name || !*e->name) {
        return vnet_error_create(VNET_ERR_INVALID, "element %zu: no name", i);
    }
    if ((unsigned) e->kind >= PERFSIGHT_N_KINDS) {
        return vnet_error_create(VNET_ERR_INVALID, "element '%s': unknown kind %d",
                                 e->name, (int) e->kind);
    }
    if (e->counter_bits && e->counter_bits != 32 && e->counter_bits != 64) {
        return vnet_error_create(VNET_ERR_INVALID,
                                 "element '%s': counter width %u, expected 32 or 64",
                                 e->name, e->counter_bits);
    }
    return NULL;
}

struct vnet_error *
perfsight_find_contention(const struct perfsight_elem *elems, size_t n,
                          const struct perfsight_config *cfg,
                          struct perfsight_report **ret)
{
    for (size_t i = 0; i < n; i++) {
        struct vnet_error *error = check_elem(&elems[i], i);
        if (error) {
            return error;
        }
    }

    struct a1_ctx c = {
        .elems = elems,
        .n = n,
        .cfg = cfg,
        .d = vnet_xcalloc(n + 1, sizeof *c.d),
        .usable = vnet_xcalloc(n + 1, sizeof *c.usable),
        .r = report_create(PERFSIGHT_LOSS_LOCATION, n),
    };
    c.r->losses = vnet_xcalloc(n + 1, sizeof *c.r->losses);

    for (size_t i = 0; i < n; i++) {
        const struct perfsight_elem *e = &elems[i];
        int err = perfsight_delta(e, cfg, &c.d[i]);
        if (err) {
            add_skip(c.r, e->name,
                     err == -ERANGE ? SKIP_RESET : SKIP_INVALID);
            continue;
        }
        c.usable[i] = true;
        c.r->interval_ns = VNET_MAX(c.r->interval_ns, c.d[i].t_ns);
        if (!counts_packets(e->kind)) {
            continue;
        }
        if (!e->explicit_drops && e->drain_ns && c.d[i].t_ns < 10 * e->drain_ns) {
            /* Over a short interval a growing queue looks like loss (spec C.2). */
            add_skip(c.r, e->name,
                     "in-out loss unreliable: interval under 10x the drain time");
            continue;
        }
        int64_t loss = perfsight_get_pkt_loss(&c.d[i], e->explicit_drops);
        uint64_t offered = c.d[i].in_pkts + (e->explicit_drops ? c.d[i].drops : 0);
        if (loss <= 0 || (uint64_t) loss < cfg->min_loss_pkts ||
            (double) loss < cfg->noise_floor * offered) {
            continue;
        }
        c.r->losses[c.r->n_losses++] = (struct perfsight_loss) {
            .elem = i,
            .name = vnet_xstrdup(e->name),
            .vnode = e->vnode ? vnet_xstrdup(e->vnode) : NULL,
            .kind = e->kind,
            .loss_pkts = loss,
            .offered_pkts = offered,
            .loss_rate = offered ? (double) loss / offered : 1,
            .throughput_Bps = perfsight_get_throughput(&c.d[i]),
            .explicit_drops = e->explicit_drops,
        };
        c.total_loss += loss;
    }
    qsort(c.r->losses, c.r->n_losses, sizeof *c.r->losses, cmp_loss);

    if (!c.r->n_losses) {
        add_finding(c.r, PERFSIGHT_NO_LOSS, "host", 0, 0,
                    vnet_xasprintf("%zu elements checked, %zu skipped", n,
                                   c.r->n_skipped));
    } else {
        add_shared_findings(&c);
        add_vnode_findings(&c);
        /* Stable for equal loss: insertion order (shared stack first). */
        for (size_t i = 1; i < c.r->n_findings; i++) {
            for (size_t j = i; j && cmp_finding(&c.r->findings[j - 1],
                                                &c.r->findings[j]) > 0; j--) {
                struct perfsight_finding t = c.r->findings[j];
                c.r->findings[j] = c.r->findings[j - 1];
                c.r->findings[j - 1] = t;
            }
        }
    }
    free(c.d);
    free(c.usable);
    *ret = c.r;
    return NULL;
}

/* ---- Algorithm 2 ---- */

enum io_dir_state { IO_NO_DATA, IO_OK, IO_BLOCKED };

/* Blocked if dt > db / C; with C from history also only if dt/T is above the
 * floor, so that an idle box is not called blocked. */
static enum io_dir_state
io_dir(uint64_t dt, uint64_t db, uint64_t t, double c_Bps, bool from_history,
       const struct perfsight_config *cfg, double *rho, double *frac)
{
    *frac = (double) dt / t;
    if (!db && !dt) {
        *rho = NAN;
        return IO_NO_DATA;
    }
    *rho = db ? dt * (c_Bps / 1e9) / db : INFINITY;
    bool blocked = *rho > 1;
    if (from_history && *frac <= cfg->io_time_floor) {
        blocked = false;
    }
    return blocked ? IO_BLOCKED : IO_OK;
}

static void
mb_classify(const struct perfsight_mbox *mb, const struct perfsight_config *cfg,
            struct perfsight_mb_result *res, struct perfsight_report *r)
{
    *res = (struct perfsight_mb_result) {
        .name = vnet_xstrdup(mb->name),
        .role = mb->role,
        .state = PERFSIGHT_MB_UNKNOWN,
        .rho_in = NAN, .rho_out = NAN, .io_frac_in = NAN, .io_frac_out = NAN,
        .hist_max_Bps = mb->hist_max_Bps,
    };
    if (!mb->has_stats) {
        return;
    }
    struct perfsight_elem e = {.name = mb->name, .kind = PERFSIGHT_APP,
                               .s1 = mb->s1, .s2 = mb->s2};
    struct perfsight_delta d;
    int err = perfsight_delta(&e, cfg, &d);
    if (err) {
        add_skip(r, mb->name, err == -ERANGE ? SKIP_RESET : SKIP_INVALID);
        return;
    }
    r->interval_ns = VNET_MAX(r->interval_ns, d.t_ns);
    double rate_in = d.in_bytes * 1e9 / d.t_ns, rate_out = d.out_bytes * 1e9 / d.t_ns;
    res->hist_max_Bps = fmax(mb->hist_max_Bps, fmax(rate_in, rate_out));
    res->capacity_from_history = !(mb->capacity_Bps > 0);
    res->capacity_Bps =
        res->capacity_from_history ? res->hist_max_Bps : mb->capacity_Bps;

    enum io_dir_state in = io_dir(d.io_in_ns, d.in_bytes, d.t_ns, res->capacity_Bps,
                                  res->capacity_from_history, cfg, &res->rho_in,
                                  &res->io_frac_in);
    enum io_dir_state out = io_dir(d.io_out_ns, d.out_bytes, d.t_ns, res->capacity_Bps,
                                   res->capacity_from_history, cfg, &res->rho_out,
                                   &res->io_frac_out);
    res->state = in == IO_BLOCKED    ? PERFSIGHT_MB_READ_BLOCKED
                 : out == IO_BLOCKED ? PERFSIGHT_MB_WRITE_BLOCKED
                 : in == IO_NO_DATA && out == IO_NO_DATA ? PERFSIGHT_MB_UNKNOWN
                                                         : PERFSIGHT_MB_NORMAL;
}

/* The graph with predecessor lists (CSR) alongside the successors. */
struct a2_graph {
    const struct perfsight_mbox *mb;
    size_t n;
    size_t *pred_off, *preds;
};

/* Follows a blocked chain from 'start' through boxes in 'state' (upstream through
 * predecessors for ReadBlocked, downstream through successors for WriteBlocked)
 * and marks in 'pointed' the boxes where it ends: the neighbours that are not
 * blocked that way and so explain the blocking.  Sets '*to_sink' when a
 * WriteBlocked chain ends at a sink (or at a box without successors). */
static void
walk_chain(const struct a2_graph *g, const struct perfsight_mb_result *res,
           size_t start, enum perfsight_mb_state state, bool *seen, bool *pointed,
           bool *to_sink)
{
    bool up = state == PERFSIGHT_MB_READ_BLOCKED;
    size_t *stack = vnet_xmalloc(g->n * sizeof *stack);
    size_t top = 0;
    memset(seen, 0, g->n * sizeof *seen);
    stack[top++] = start;
    seen[start] = true;
    while (top) {
        size_t b = stack[--top];
        size_t cnt = up ? g->pred_off[b + 1] - g->pred_off[b] : g->mb[b].n_succs;
        if (!up && !cnt) {
            *to_sink = true;
        }
        for (size_t k = 0; k < cnt; k++) {
            size_t nb = up ? g->preds[g->pred_off[b] + k] : g->mb[b].succs[k];
            if (res[nb].state == state) {
                if (!seen[nb]) {
                    seen[nb] = true;
                    stack[top++] = nb;
                }
            } else {
                pointed[nb] = true;
                if (!up && g->mb[nb].role == PERFSIGHT_ROLE_SINK) {
                    *to_sink = true;
                }
            }
        }
    }
    free(stack);
}

static const char *const state_names[] = {
    [PERFSIGHT_MB_NORMAL] = "normal",
    [PERFSIGHT_MB_READ_BLOCKED] = "read-blocked",
    [PERFSIGHT_MB_WRITE_BLOCKED] = "write-blocked",
    [PERFSIGHT_MB_UNKNOWN] = "unknown",
};
static const char *const role_names[] = {
    [PERFSIGHT_ROLE_MIDDLEBOX] = "middlebox",
    [PERFSIGHT_ROLE_SOURCE] = "source",
    [PERFSIGHT_ROLE_SINK] = "sink",
};

/* A ratio for text: "-" when undefined, "inf" when blocked without bytes. */
static const char *
fmt_ratio(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        return "-";
    } else if (isinf(v)) {
        return "inf";
    }
    snprintf(buf, size, "%.2f", v);
    return buf;
}

static char *
mb_evidence(const struct perfsight_mb_result *m)
{
    char b1[32], b2[32];
    char *s = vnet_xasprintf("%s; rho_in %s, rho_out %s", state_names[m->state],
                             fmt_ratio(m->rho_in, b1, sizeof b1),
                             fmt_ratio(m->rho_out, b2, sizeof b2));
    if (!isnan(m->io_frac_in)) {
        appendf(&s, "; I/O time %.0f%% in, %.0f%% out; C %.3g B/s (%s)",
                100 * m->io_frac_in, 100 * m->io_frac_out, m->capacity_Bps,
                m->capacity_from_history ? "historical max" : "configured");
    }
    return s;
}

struct vnet_error *
perfsight_find_root_cause(const struct perfsight_mbox *mb, size_t n,
                          const struct perfsight_config *cfg,
                          struct perfsight_report **ret)
{
    for (size_t i = 0; i < n; i++) {
        if (!mb[i].name || !*mb[i].name) {
            return vnet_error_create(VNET_ERR_INVALID, "middlebox %zu: no name", i);
        }
        if ((unsigned) mb[i].role > PERFSIGHT_ROLE_SINK) {
            return vnet_error_create(VNET_ERR_INVALID, "middlebox '%s': unknown role",
                                     mb[i].name);
        }
        for (size_t k = 0; k < mb[i].n_succs; k++) {
            if (mb[i].succs[k] >= n || mb[i].succs[k] == i) {
                return vnet_error_create(VNET_ERR_INVALID,
                                         "middlebox '%s': successor %zu is not another "
                                         "box of the chain",
                                         mb[i].name, mb[i].succs[k]);
            }
        }
    }

    struct perfsight_report *r = report_create(PERFSIGHT_IO_BLOCKING, n);
    r->mbs = vnet_xcalloc(n + 1, sizeof *r->mbs);
    r->n_mbs = n;
    for (size_t i = 0; i < n; i++) {
        mb_classify(&mb[i], cfg, &r->mbs[i], r);
    }

    struct a2_graph g = {.mb = mb, .n = n};
    g.pred_off = vnet_xcalloc(n + 1, sizeof *g.pred_off);
    size_t n_edges = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < mb[i].n_succs; k++) {
            g.pred_off[mb[i].succs[k] + 1]++;
            n_edges++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        g.pred_off[i + 1] += g.pred_off[i];
    }
    g.preds = vnet_xcalloc(n_edges + 1, sizeof *g.preds);
    size_t *fill = vnet_xcalloc(n + 1, sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < mb[i].n_succs; k++) {
            size_t s = mb[i].succs[k];
            g.preds[g.pred_off[s] + fill[s]++] = i;
        }
    }
    free(fill);

    /* Candidate elimination.  Every middlebox starts as a candidate, endpoints
     * only with stats.  The guarded rule removes a blocked box and then walks on
     * (successors of a ReadBlocked box, predecessors of a WriteBlocked one) only
     * through boxes blocked the same way -- which remove themselves anyway -- so
     * exactly the blocked boxes leave the set, and a box at a DAG merge that
     * another input overloads survives.  The walks in the other direction find
     * where each blocked chain ends: the boxes that explain it. */
    bool *seen = vnet_xcalloc(n + 1, sizeof *seen);
    bool *pointed = vnet_xcalloc(n + 1, sizeof *pointed);
    bool to_sink = false;
    size_t nonsource = 0, nonsource_read = 0;
    for (size_t i = 0; i < n; i++) {
        struct perfsight_mb_result *m = &r->mbs[i];
        bool blocked = m->state == PERFSIGHT_MB_READ_BLOCKED ||
                       m->state == PERFSIGHT_MB_WRITE_BLOCKED;
        m->candidate = (mb[i].role == PERFSIGHT_ROLE_MIDDLEBOX || mb[i].has_stats) &&
                       !blocked;
        if (blocked) {
            walk_chain(&g, r->mbs, i, m->state, seen, pointed, &to_sink);
        }
        if (mb[i].has_stats && mb[i].role != PERFSIGHT_ROLE_SOURCE) {
            nonsource++;
            nonsource_read += m->state == PERFSIGHT_MB_READ_BLOCKED;
        }
    }

    size_t cand_nonsink = 0;
    for (size_t i = 0; i < n; i++) {
        cand_nonsink += r->mbs[i].candidate && mb[i].role != PERFSIGHT_ROLE_SINK;
    }
    if (nonsource && nonsource_read == nonsource) {
        const char *client = "client";
        for (size_t i = 0; i < n; i++) {
            if (mb[i].role == PERFSIGHT_ROLE_SOURCE) {
                client = mb[i].name;
                break;
            }
        }
        add_finding(r, PERFSIGHT_CLIENT_UNDERLOADED, client, 0, 0,
                    vnet_xasprintf("all %zu boxes with counters are read-blocked",
                                   nonsource));
    } else if (!cand_nonsink && to_sink) {
        const char *sink = "server";
        for (size_t i = 0; i < n; i++) {
            if (mb[i].role == PERFSIGHT_ROLE_SINK) {
                sink = mb[i].name;
                break;
            }
        }
        char *ev = NULL;
        for (size_t i = 0; i < n; i++) {
            if (r->mbs[i].state == PERFSIGHT_MB_WRITE_BLOCKED) {
                appendf(&ev, "%s%s", ev ? ", " : "write-blocked: ", mb[i].name);
            }
        }
        add_finding(r, PERFSIGHT_SINK_OVERLOADED, sink, 0, 0, ev);
    } else {
        /* Those that blocked chains point at first. */
        static const enum perfsight_code order[] = {
            PERFSIGHT_ROOT_CAUSE, PERFSIGHT_CANDIDATE, PERFSIGHT_CANDIDATE_UNKNOWN};
        for (size_t pass = 0; pass < VNET_ARRAY_SIZE(order); pass++) {
            for (size_t i = 0; i < n; i++) {
                const struct perfsight_mb_result *m = &r->mbs[i];
                if (!m->candidate) {
                    continue;
                }
                enum perfsight_code code = pointed[i] ? PERFSIGHT_ROOT_CAUSE
                                           : m->state == PERFSIGHT_MB_UNKNOWN
                                               ? PERFSIGHT_CANDIDATE_UNKNOWN
                                               : PERFSIGHT_CANDIDATE;
                if (code == order[pass]) {
                    add_finding(r, code, m->name, 0, 0, mb_evidence(m));
                }
            }
        }
        if (!r->n_findings) {
            add_finding(r, PERFSIGHT_NO_CANDIDATE, "chain", 0, 0, NULL);
        }
    }

    free(seen);
    free(pointed);
    free(g.pred_off);
    free(g.preds);
    *ret = r;
    return NULL;
}

/* ---- rendering ---- */

static void
jadd_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void
jadd_num(struct json_object *o, const char *key, double v)
{
    json_object_object_add(o, key, isfinite(v) ? json_object_new_double(v) : NULL);
}

static void
jadd_int(struct json_object *o, const char *key, uint64_t v)
{
    json_object_object_add(o, key, json_object_new_int64((int64_t) v));
}

static void
jadd_bool(struct json_object *o, const char *key, bool v)
{
    json_object_object_add(o, key, json_object_new_boolean(v));
}

struct json_object *
perfsight_report_to_json(const struct perfsight_report *r)
{
    bool a1 = r->algorithm == PERFSIGHT_LOSS_LOCATION;
    struct json_object *obj = json_object_new_object();
    jadd_str(obj, "algorithm", a1 ? "loss-location" : "io-blocking");
    jadd_int(obj, "interval_ns", r->interval_ns);

    struct json_object *fs = json_object_new_array();
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct perfsight_finding *f = &r->findings[i];
        const struct perfsight_catalogue_entry *c = &catalogue[f->code];
        struct json_object *o = json_object_new_object();
        jadd_str(o, "code", c->id);
        jadd_str(o, "title", c->title);
        jadd_str(o, "resource", c->resource);
        jadd_str(o, "subject", f->subject);
        if (a1) {
            jadd_int(o, "loss_pkts", f->loss_pkts);
            jadd_num(o, "share", f->share);
        }
        jadd_str(o, "evidence", f->evidence);
        jadd_str(o, "meaning", c->meaning);
        jadd_str(o, "action", c->action);
        json_object_array_add(fs, o);
    }
    json_object_object_add(obj, "findings", fs);

    if (a1) {
        struct json_object *ls = json_object_new_array();
        for (size_t i = 0; i < r->n_losses; i++) {
            const struct perfsight_loss *l = &r->losses[i];
            struct json_object *o = json_object_new_object();
            jadd_str(o, "element", l->name);
            jadd_str(o, "kind", kind_names[l->kind]);
            jadd_str(o, "vnode", l->vnode);
            jadd_int(o, "loss_pkts", l->loss_pkts);
            jadd_int(o, "offered_pkts", l->offered_pkts);
            jadd_num(o, "loss_rate", l->loss_rate);
            jadd_num(o, "throughput_Bps", l->throughput_Bps);
            jadd_bool(o, "explicit_drops", l->explicit_drops);
            json_object_array_add(ls, o);
        }
        json_object_object_add(obj, "losses", ls);
    } else {
        struct json_object *ms = json_object_new_array();
        struct json_object *cand = json_object_new_array();
        for (size_t i = 0; i < r->n_mbs; i++) {
            const struct perfsight_mb_result *m = &r->mbs[i];
            struct json_object *o = json_object_new_object();
            jadd_str(o, "name", m->name);
            jadd_str(o, "role", role_names[m->role]);
            jadd_str(o, "state", state_names[m->state]);
            jadd_num(o, "rho_in", m->rho_in);
            jadd_num(o, "rho_out", m->rho_out);
            jadd_num(o, "io_fraction_in", m->io_frac_in);
            jadd_num(o, "io_fraction_out", m->io_frac_out);
            jadd_num(o, "capacity_Bps", m->capacity_Bps);
            jadd_str(o, "capacity_source",
                     m->capacity_from_history ? "history" : "configured");
            jadd_num(o, "hist_max_Bps", m->hist_max_Bps);
            jadd_bool(o, "candidate", m->candidate);
            json_object_array_add(ms, o);
            if (m->candidate) {
                json_object_array_add(cand, json_object_new_string(m->name));
            }
        }
        json_object_object_add(obj, "middleboxes", ms);
        json_object_object_add(obj, "candidates", cand);
    }

    struct json_object *sk = json_object_new_array();
    for (size_t i = 0; i < r->n_skipped; i++) {
        struct json_object *o = json_object_new_object();
        jadd_str(o, "element", r->skipped[i].name);
        jadd_str(o, "reason", r->skipped[i].reason);
        json_object_array_add(sk, o);
    }
    json_object_object_add(obj, "skipped", sk);
    return obj;
}

char *
perfsight_report_to_text(const struct perfsight_report *r)
{
    char *s = NULL;
    bool a1 = r->algorithm == PERFSIGHT_LOSS_LOCATION;
    appendf(&s, "PerfSight %s over %.1f ms:\n",
            a1 ? "loss locations" : "I/O blocking", r->interval_ns / 1e6);
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct perfsight_finding *f = &r->findings[i];
        const struct perfsight_catalogue_entry *c = &catalogue[f->code];
        appendf(&s, "%2zu. [%s] %s: %s\n", i + 1, c->id, f->subject, c->title);
        if (c->resource) {
            appendf(&s, "    resource in shortage: %s\n", c->resource);
        }
        if (a1 && f->loss_pkts) {
            appendf(&s, "    lost %llu packets (%.0f%% of the loss above the noise "
                    "floor)\n", (unsigned long long) f->loss_pkts, 100 * f->share);
        }
        if (*f->evidence) {
            appendf(&s, "    evidence: %s\n", f->evidence);
        }
        appendf(&s, "    meaning: %s\n    what to do: %s\n", c->meaning, c->action);
    }
    if (a1 && r->n_losses) {
        appendf(&s, "Ranked loss locations:\n");
        for (size_t i = 0; i < r->n_losses; i++) {
            const struct perfsight_loss *l = &r->losses[i];
            appendf(&s, "  %-16s %-12s %-12s %10llu of %llu (%.2f%%)\n", l->name,
                    kind_names[l->kind], l->vnode ? l->vnode : "-",
                    (unsigned long long) l->loss_pkts,
                    (unsigned long long) l->offered_pkts, 100 * l->loss_rate);
        }
    }
    if (!a1) {
        appendf(&s, "Middleboxes:\n");
        for (size_t i = 0; i < r->n_mbs; i++) {
            const struct perfsight_mb_result *m = &r->mbs[i];
            char b1[32], b2[32];
            appendf(&s, "  %-16s %-9s %-13s rho_in %6s rho_out %6s%s\n", m->name,
                    role_names[m->role], state_names[m->state],
                    fmt_ratio(m->rho_in, b1, sizeof b1),
                    fmt_ratio(m->rho_out, b2, sizeof b2),
                    m->candidate ? "  candidate" : "");
        }
    }
    for (size_t i = 0; i < r->n_skipped; i++) {
        appendf(&s, "Skipped %s: %s\n", r->skipped[i].name, r->skipped[i].reason);
    }
    return s;
}
