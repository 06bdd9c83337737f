/* perfsight.h -- counter-based diagnosis of the software data plane (PerfSight).
 *
 * The data plane is modelled as elements (pNIC, driver, per-CPU backlog, OVS
 * datapath and ports, tap/veth per VNode, qdiscs, the middlebox application) that
 * keep cumulative counters.  A counters agent (vnetd) takes two snapshots of every
 * element T apart (about 100 ms) and hands them here as plain structs; nothing in
 * this module reads a counter itself.  See ../shared/specs/diagnosis.md, part C.
 *
 *  - perfsight_find_contention() is Algorithm 1: it ranks where packets were lost
 *    (above a noise floor) and maps the drop locations through the rule book to
 *    the resource in shortage (incoming/outgoing bandwidth, memory space, backlog,
 *    CPU or memory-bandwidth contention, one VNode as the bottleneck).
 *  - perfsight_find_root_cause() is Algorithm 2: for blocking (TCP) chains it
 *    classifies each middlebox as ReadBlocked / WriteBlocked from its I/O time and
 *    bytes, eliminates candidates and interprets what remains.
 *
 * Both return a report of findings, each with a catalogue entry (code, title,
 * meaning, what to do), rendered to JSON or text.
 *
 * Counter semantics the agent fills in (per element kind, spec C.4):
 *   in_pkts/in_bytes    packets the element accepted (not counting its drops)
 *   out_pkts/out_bytes  packets it passed on
 *   drops               packets it discarded (only if 'explicit_drops'; else the
 *                       loss is (in - out) growth, which also moves with queues)
 *     pnic        rx_packets/bytes in, tx_packets/bytes out,
 *                 drops = rx_missed + rx_fifo + rx_over errors
 *     pnic-driver drops = rx buffer allocation failures (ethtool -S)
 *     backlog     one per CPU from /proc/net/softnet_stat (32-bit counters):
 *                 in = processed (col 1), drops = dropped (col 2)
 *     ovs-datapath  drops = lost upcalls (dpctl/show)
 *     ovs-port    Interface statistics; 'vnode' set for a port toward a VNode,
 *                 drops = tx drops / ovs_tx_failure_drops toward it
 *     tap, veth   host side toward the VNode: in/out = tx_packets, drops = tx_dropped
 *     qdisc       tc -s: in/out = sent, drops = dropped; 'vnode' set for a
 *                 shaper on a VNode's interface
 *     app         the middlebox's socket: drops = RcvbufErrors / backlog drops;
 *                 io_time_in/out = time inside read/write calls (Algorithm 2)
 *     vnode-cpu   cgroup cpu.stat: cpu_ns = usage, throttled_ns = throttled time;
 *                 capacity = CPUs allotted
 *     host-cpu    cpu_ns = busy time summed over CPUs; capacity = CPU count
 *     membw       in_bytes = RDT/MBM mbm_total_bytes; capacity = bytes/s
 *
 * Ownership: the input is borrowed for the duration of a call; a report owns
 * copies of every string and is freed with perfsight_report_destroy().  Pure: no
 * I/O, no logging, no globals.  Thread-safety: reentrant. */
#ifndef DIAG_PERFSIGHT_H
#define DIAG_PERFSIGHT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct vnet_error;

/* One snapshot of an element's cumulative counters (spec C.1's struct, with two
 * CPU counters for the elements that account CPU rather than packets). */
struct elem_stats {
    uint64_t ts_ns;
    uint64_t in_pkts, in_bytes;
    uint64_t out_pkts, out_bytes;
    uint64_t drops;             /* explicit drop counter, if any */
    uint64_t io_time_in_ns;     /* time spent inside read calls */
    uint64_t io_time_out_ns;    /* time spent inside write calls */
    uint64_t cpu_ns;            /* vnode-cpu, host-cpu: CPU time used */
    uint64_t throttled_ns;      /* vnode-cpu: time throttled by its quota */
};

enum perfsight_kind {
    PERFSIGHT_PNIC,
    PERFSIGHT_PNIC_DRIVER,
    PERFSIGHT_BACKLOG,
    PERFSIGHT_OVS_DATAPATH,
    PERFSIGHT_OVS_PORT,
    PERFSIGHT_TAP,
    PERFSIGHT_VETH,
    PERFSIGHT_QDISC,
    PERFSIGHT_VNODE_CPU,
    PERFSIGHT_APP,
    PERFSIGHT_HOST_CPU,
    PERFSIGHT_MEMBW,
    PERFSIGHT_N_KINDS
};

/* "pnic", "pnic-driver", "backlog", "ovs-datapath", "ovs-port", "tap", "veth",
 * "qdisc", "vnode-cpu", "app", "host-cpu", "membw"; NULL if out of range. */
const char *perfsight_kind_name(enum perfsight_kind);
/* Returns 0 and '*ret', or -EINVAL for an unknown name. */
int perfsight_kind_from_name(const char *, enum perfsight_kind *ret);

struct perfsight_elem {
    const char *name;           /* "eth0", "cpu3", "tap-fw" (required) */
    enum perfsight_kind kind;
    const char *vnode;          /* owning VNode; NULL for shared elements */
    unsigned counter_bits;      /* 32 (softnet_stat) or 64; 0 means 64 */
    bool explicit_drops;        /* 'drops' is a real counter */
    double capacity;            /* bytes/s (pnic, tap, veth, app, membw) or CPUs
                                 * (vnode-cpu, host-cpu); 0 = unknown */
    uint64_t drain_ns;          /* buffer drain time, for in-out loss; 0 = unknown */
    struct elem_stats s1, s2;   /* two snapshots, s1 earlier */
};

struct perfsight_config {
    double noise_floor;         /* loss below this share of offered packets is
                                 * noise (default 0.001) */
    uint64_t min_loss_pkts;     /* and so is loss below this count (default 10) */
    double spread_fraction;     /* a VNode's path counts as losing if it lost at
                                 * least this share of the worst VNode (0.1) */
    double nic_saturation;      /* tx >= this x NIC rate: outgoing bandwidth (0.9) */
    double cpu_saturation;      /* CPU use >= this x capacity: saturated (0.9) */
    double throttle_floor;      /* VNode throttled >= this share of T: CPU-bound
                                 * (0.01) */
    double max_pps;             /* plausibility bounds that tell a counter wrap */
    double max_Bps;             /* from a reset (1e9 pkt/s, 1e11 B/s) */
    double io_time_floor;       /* Algorithm 2 with C from history: blocked also
                                 * needs I/O time > this share of T (0.3) */
};
void perfsight_config_init(struct perfsight_config *);

/* ---- utility routines (spec C.2) ---- */

/* The increase from 'v1' to 'v2' of a counter 'bits' wide (0 = 64): modulo
 * 2^bits when it went backwards by a plausible wrap (an increase of at most
 * 'max_delta').  Returns 0 and '*ret', -ERANGE for a reset (backwards with no
 * plausible wrap, or a jump beyond 'max_delta'), or -EINVAL for a value wider
 * than the counter. */
int perfsight_counter_delta(uint64_t v1, uint64_t v2, unsigned bits, uint64_t max_delta,
                            uint64_t *ret);

struct perfsight_delta {
    uint64_t t_ns;
    uint64_t in_pkts, in_bytes, out_pkts, out_bytes, drops;
    uint64_t io_in_ns, io_out_ns, cpu_ns, throttled_ns;
};

/* The counter increases of 'e' between its snapshots.  Returns 0, -EINVAL for a
 * snapshot pair out of order or a value wider than the counter, or -ERANGE when a
 * counter was reset (the pair must be discarded). */
int perfsight_delta(const struct perfsight_elem *e, const struct perfsight_config *,
                    struct perfsight_delta *ret);

/* GetThroughput: accepted bytes per second. */
double perfsight_get_throughput(const struct perfsight_delta *);
/* GetPktLoss: the drop counter's increase if 'explicit_drops', else the growth
 * of in - out (negative when a queue drained). */
int64_t perfsight_get_pkt_loss(const struct perfsight_delta *, bool explicit_drops);
/* GetAvgPktSize: accepted bytes per packet.  Returns 0 and '*ret', or -EDOM when
 * no packet was accepted (undefined). */
int perfsight_get_avg_pkt_size(const struct perfsight_delta *, double *ret);

/* ---- findings and their catalogue ---- */

enum perfsight_code {
    /* Algorithm 1 */
    PERFSIGHT_NO_LOSS,
    PERFSIGHT_INCOMING_BANDWIDTH,
    PERFSIGHT_MEMORY_SPACE,
    PERFSIGHT_OUTGOING_BANDWIDTH,
    PERFSIGHT_BACKLOG_CONTENTION,
    PERFSIGHT_VSWITCH_CPU,
    PERFSIGHT_CPU_CONTENTION,
    PERFSIGHT_MEMBW_CONTENTION,
    PERFSIGHT_STACK_CONTENTION,
    PERFSIGHT_VNODE_CPU_LIMIT,
    PERFSIGHT_VNODE_BANDWIDTH_LIMIT,
    PERFSIGHT_VNODE_BOTTLENECK,
    /* Algorithm 2 */
    PERFSIGHT_CLIENT_UNDERLOADED,
    PERFSIGHT_SINK_OVERLOADED,
    PERFSIGHT_ROOT_CAUSE,
    PERFSIGHT_CANDIDATE,
    PERFSIGHT_CANDIDATE_UNKNOWN,
    PERFSIGHT_NO_CANDIDATE,
    PERFSIGHT_N_CODES
};

struct perfsight_catalogue_entry {
    const char *id;             /* stable machine name, e.g. "ps-cpu-contention" */
    const char *title;
    const char *resource;       /* the resource in shortage, or NULL */
    const char *meaning;
    const char *action;         /* what to do */
};

/* Returns the entry of 'code', or NULL if out of range. */
const struct perfsight_catalogue_entry *perfsight_catalogue(enum perfsight_code);

struct perfsight_finding {
    enum perfsight_code code;
    char *subject;              /* element, VNode, middlebox, or "host" */
    uint64_t loss_pkts;         /* Algorithm 1: packets lost in this group */
    double share;               /* of all loss above the noise floor */
    char *evidence;             /* the numbers behind the rule, one line */
};

struct perfsight_loss { /* one ranked loss location (Algorithm 1) */
    size_t elem;                /* index into the input array */
    char *name;
    char *vnode;                /* NULL for shared elements */
    enum perfsight_kind kind;
    uint64_t loss_pkts;
    uint64_t offered_pkts;      /* accepted + dropped */
    double loss_rate;           /* loss / offered (1 when nothing was accepted) */
    double throughput_Bps;
    bool explicit_drops;
};

struct perfsight_skip { /* an element left out, and why */
    char *name;
    char *reason;
};

enum perfsight_role {
    PERFSIGHT_ROLE_MIDDLEBOX,
    PERFSIGHT_ROLE_SOURCE,      /* the client end of the chain */
    PERFSIGHT_ROLE_SINK,        /* the server end */
};

enum perfsight_mb_state {
    PERFSIGHT_MB_NORMAL,
    PERFSIGHT_MB_READ_BLOCKED,
    PERFSIGHT_MB_WRITE_BLOCKED,
    PERFSIGHT_MB_UNKNOWN,       /* no I/O at all in the interval, or no stats */
};

/* Algorithm 2's input: one middlebox or endpoint of a blocking (TCP) chain. */
struct perfsight_mbox {
    const char *name;           /* required */
    enum perfsight_role role;
    bool has_stats;             /* endpoints often have none */
    struct elem_stats s1, s2;   /* in/out bytes and io_time_in/out used */
    double capacity_Bps;        /* C, the vNIC's rate limit; 0 = unknown */
    double hist_max_Bps;        /* highest I/O throughput of earlier rounds */
    const size_t *succs;        /* indices of successors in the same array */
    size_t n_succs;
};

struct perfsight_mb_result {
    char *name;
    enum perfsight_role role;
    enum perfsight_mb_state state;
    double rho_in, rho_out;     /* dt C / db; > 1 means blocked; INFINITY when
                                 * db = 0 < dt; NAN without data */
    double io_frac_in, io_frac_out; /* dt / T */
    double capacity_Bps;        /* C used */
    bool capacity_from_history;
    double hist_max_Bps;        /* updated: the caller keeps it for next round */
    bool candidate;
};

enum perfsight_algorithm {
    PERFSIGHT_LOSS_LOCATION,    /* Algorithm 1 */
    PERFSIGHT_IO_BLOCKING,      /* Algorithm 2 */
};

struct perfsight_report {
    enum perfsight_algorithm algorithm;
    uint64_t interval_ns;       /* the longest snapshot interval seen */
    struct perfsight_finding *findings; /* most important first */
    size_t n_findings;
    struct perfsight_loss *losses; /* Algorithm 1, descending loss */
    size_t n_losses;
    struct perfsight_mb_result *mbs; /* Algorithm 2, in input order */
    size_t n_mbs;
    struct perfsight_skip *skipped;
    size_t n_skipped;
};

/* Algorithm 1 over the elements of one host.  Elements whose counters were reset
 * or that cannot give a reliable loss are listed in 'skipped', not fatal.
 * Returns NULL and '*ret' (caller destroys), or an error naming the element for
 * input that is not usable at all (no name, unknown kind). */
struct vnet_error *perfsight_find_contention(const struct perfsight_elem *, size_t n,
                                             const struct perfsight_config *,
                                             struct perfsight_report **ret);

/* Algorithm 2 over a blocking chain or DAG.  [CHOICE]s of spec C.5: ReadBlocked is
 * checked first (both ratios are reported); the guarded elimination removes a
 * blocked box and walks on only through boxes blocked the same way; unknown C
 * falls back to the historical maximum with the I/O-time floor; a box without any
 * I/O stays a candidate.  Interpretation: every non-source box ReadBlocked ->
 * "client underloaded"; only sinks left and a WriteBlocked chain ending at a sink
 * -> "sink overloaded"; otherwise the candidates, those that blocked neighbours
 * point at first.  Returns NULL and '*ret', or an error for a bad graph. */
struct vnet_error *perfsight_find_root_cause(const struct perfsight_mbox *, size_t n,
                                             const struct perfsight_config *,
                                             struct perfsight_report **ret);

struct json_object *perfsight_report_to_json(const struct perfsight_report *);
char *perfsight_report_to_text(const struct perfsight_report *); /* caller frees */
void perfsight_report_destroy(struct perfsight_report *);

#endif
