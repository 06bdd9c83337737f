/* sim.h -- a deterministic discrete-event simulator of NF chains: the ground-truth
 * harness of spec F (../shared/specs/diagnosis.md, F.1).
 *
 * A 'struct sim_config' describes a service graph of NFs, the source flows that
 * feed it and the faults injected into it.  Each NF is a FIFO server: it accepts a
 * packet unless 'qcap' packets are already in its receive queue (the one in service
 * included), serves packets one at a time at its peak rate (times a per-packet cost
 * factor), and releases them singly or in tx batches.  Its speed over time is 1
 * except where a fault says otherwise (a pause: 0; a CPU hog: slices of 0 or a
 * reduced rate).  Packets move from an NF's output to the next NF's input after a
 * fixed link delay.
 *
 * sim_create() validates a config and generates every source packet once, from the
 * seed only; sim_run() then serves them with any subset of the faults enabled, so a
 * fault-free counterfactual run sees identical arrivals (a BURST fault's extra
 * packets are simply absent from runs without it).  Same config, same seed: same
 * packets, same times, byte for byte.
 *
 * Outputs: the hop records of a run (struct sim_result), the diag_trace the
 * diagnosers read (sim_to_trace(), exact times, no matching), the offline capture
 * format of `vnetctl diagnose --offline` (sim_write_offline(): topology.json and
 * per-NF in/out nanosecond pcaps), and the counterfactual ground truth
 * (sim-truth.h).  The reference topologies and scenarios S1-S9 are in
 * sim-scenario.h.
 *
 * Time: the simulation clock starts at 0 ns; 'epoch_ns' is added to every
 * timestamp written out (pcaps, traces, truth), so outputs look like a capture.
 *
 * Ownership: a 'struct sim' owns its packets; a 'struct sim_result' owns its hops
 * and refers to the sim it came from, which must outlive it.  Not thread-safe;
 * independent sims may run in parallel. */
#ifndef SIM_H
#define SIM_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/trace.h"

struct vnet_error;
struct json_object;

#define SIM_MAX_NFS 8
#define SIM_MAX_PATH SIM_MAX_NFS
#define SIM_MAX_FLOWS 256
#define SIM_MAX_FAULTS 4
#define SIM_NAME_MAX 24
#define SIM_FRAME_MIN 60        /* UDP: Ethernet + IPv4 + UDP + 18 payload bytes */
#define SIM_FRAME_MIN_TCP 66    /* TCP: the 12-byte payload tag needs this much */
#define SIM_FRAME_MAX 1514
#define SIM_TTL 64              /* at ingress; every NF decrements it */

struct sim_nf {
    char name[SIM_NAME_MAX];    /* [a-z0-9][a-z0-9-]*, not "ingress"/"egress" */
    bool nat;                   /* SNAT: rewrites source address and port */
    double rate_pps;            /* peak rate, packets per second */
    uint32_t qcap;              /* receive queue capacity, packet in service included */
    uint32_t batch;             /* tx: release in batches of this many (0, 1: singly) */
    uint64_t batch_timeout_ns;  /* 0: a partial batch leaves when the NF goes idle
                                 * (DPDK style); otherwise it leaves this long after
                                 * its first packet was processed */
    double service_jitter;      /* 0..0.9: each packet's service time is uniform in
                                 * (1 +- jitter) x 1/rate, drawn from the seed, the
                                 * NF and the packet number (the same in every
                                 * run); the mean rate stays 'rate_pps' */
};

enum sim_source {
    SIM_SRC_POISSON,            /* exponential gaps, mean rate 'rate_pps' */
    SIM_SRC_PACED,              /* constant gaps at 'rate_pps', random phase */
    SIM_SRC_ONOFF,              /* paced at 'rate_pps' while on; exponential on/off */
};

struct sim_flow {
    struct flow5 tuple;         /* header at ingress; proto IPPROTO_UDP or _TCP */
    enum sim_source kind;
    double rate_pps;
    uint64_t on_ns, off_ns;     /* SIM_SRC_ONOFF: mean on and off periods */
    uint64_t start_ns, stop_ns; /* sends in [start, stop); stop 0: until the end */
    uint8_t path[SIM_MAX_PATH]; /* NF indexes in visiting order, strictly increasing */
    uint8_t path_len;           /* >= 1 */
    uint16_t frame_len;         /* captured bytes (no FCS), >= SIM_FRAME_MIN(_TCP) */
};

enum sim_fault_kind {
    SIM_FAULT_PAUSE,            /* 'nf' stops for 'len_ns' at 'start_ns', repeated every
                                 * 'period_ns' (0: once) 'count' times (0: no limit) */
    SIM_FAULT_HOG,              /* a CPU hog shares 'nf''s core: on for 'len_ns' of
                                 * every 'period_ns' from 'start_ns' ('count' cycles,
                                 * 0: no limit), taking 'share' of the CPU while on:
                                 * in slices ('slice_ns': the NF stops for share x
                                 * slice of every slice) or, with slice 0, as a rate
                                 * reduced to (1 - share) */
    SIM_FAULT_COST,             /* packets to dst port 'dport' whose service starts in
                                 * [start_ns, start_ns + len_ns) (len 0: from start_ns
                                 * on) cost 'factor' x at 'nf' */
    SIM_FAULT_RATE,             /* 'nf' is provisioned for 'factor' x its nominal
                                 * rate: its real peak rate, which the outputs
                                 * advertise (S4b; unlike a hog or a cost fault,
                                 * calibration would measure it) */
    SIM_FAULT_BURST,            /* flow 'flow' adds packets paced at 'rate_pps' in
                                 * [start_ns, start_ns + len_ns), repeated every
                                 * 'period_ns' (0: once) 'count' times (0: no limit) */
};

struct sim_fault {
    enum sim_fault_kind kind;
    uint32_t nf;                /* NF index (all kinds but BURST) */
    uint32_t flow;              /* BURST: flow index */
    uint64_t start_ns, len_ns, period_ns;
    uint32_t count;
    double share;               /* HOG */
    uint64_t slice_ns;          /* HOG */
    uint16_t dport;             /* COST */
    double factor;              /* COST, RATE */
    double rate_pps;            /* BURST */
};

struct sim_config {
    char scenario[16];          /* labels for the outputs */
    char topology[16];
    uint64_t seed;
    double scale;               /* informational: how the scenario was scaled */
    uint64_t duration_ns;       /* sources send in [0, duration) */
    uint64_t link_delay_ns;     /* NF output -> next NF input */
    uint64_t epoch_ns;          /* added to every timestamp written out */
    struct sim_nf nfs[SIM_MAX_NFS];     /* in a topological order */
    size_t n_nfs;
    struct sim_flow flows[SIM_MAX_FLOWS];
    size_t n_flows;
    struct sim_fault faults[SIM_MAX_FAULTS];
    size_t n_faults;
};

/* One generated packet; the same in every run of a sim. */
struct sim_pkt {
    uint64_t t_ingress;         /* arrival at the first NF of its path (sim clock) */
    uint32_t flow;              /* index in config.flows */
    uint32_t flow_seq;          /* its position within its flow */
    uint32_t hop_off;           /* its hops: result.hops[hop_off .. + path_len) */
    int8_t fault;               /* the BURST fault that added it, or -1 */
    uint16_t ip_id;             /* unique per packet within its flow (mod 2^16) */
};

struct sim {
    struct sim_config cfg;
    struct sim_pkt *pkts;       /* by t_ingress; the index is the packet number */
    size_t n_pkts;
    size_t n_hops;              /* sum of the path lengths */
};

enum sim_hop_status {
    SIM_HOP_NONE,               /* not reached (absent, or dropped upstream) */
    SIM_HOP_FORWARDED,
    SIM_HOP_DROPPED,            /* tail drop at the input: the queue was full */
};

struct sim_hop {
    uint64_t t_arr;             /* sim clock */
    uint64_t t_dep;             /* UINT64_MAX unless forwarded */
    uint32_t q;                 /* packets between the NF's two mirror points just
                                 * before t_arr (departures at t_arr excluded): Q(p) of
                                 * spec A.2, for a drop the queue at the drop */
    uint8_t status;             /* enum sim_hop_status */
};

struct sim_arrival {            /* one entry of an NF's arrival order */
    uint32_t pkt;
    uint8_t pos;                /* index in the packet's path */
};

struct sim_result {
    const struct sim *sim;
    uint32_t fault_mask;        /* bit i: fault i enabled */
    struct sim_hop *hops;       /* sim->n_hops */
    struct sim_arrival *order[SIM_MAX_NFS];     /* arrivals per NF, in time order
                                                 * (ties by packet number) */
    size_t n_order[SIM_MAX_NFS];
};

/* Validates 'cfg' and generates its packets.  Returns NULL and '*ret' (destroy
 * with sim_destroy()), or an error naming the offending field. */
struct vnet_error *sim_create(const struct sim_config *cfg, struct sim **ret);
void sim_destroy(struct sim *);

/* Serves every packet with the faults in 'fault_mask' enabled. */
struct sim_result *sim_run(const struct sim *, uint32_t fault_mask);
void sim_result_destroy(struct sim_result *);

/* All faults enabled. */
uint32_t sim_all_faults(const struct sim *);

/* Whether packet 'p' exists in runs with 'fault_mask'. */
bool sim_pkt_present(const struct sim *, const struct sim_pkt *p, uint32_t fault_mask);

/* Position of NF 'nf' in the path of 'flow', or -1. */
int sim_path_pos(const struct sim_flow *flow, uint32_t nf);

/* The header of packet 'p' entering (out = false) or leaving (out = true) the NF at
 * position 'pos' of its path: SNAT NFs rewrite the source address and port. */
struct flow5 sim_header(const struct sim *, const struct sim_pkt *p, uint32_t pos,
                        bool out);

/* The peak rate of NF 'nf' (packets per second) in runs with 'fault_mask': its
 * nominal rate times the factors of enabled SIM_FAULT_RATE faults. */
double sim_peak_rate(const struct sim *, uint32_t nf, uint32_t fault_mask);

/* Index of the NF named 'name', or -1. */
int sim_find_nf(const struct sim_config *, const char *name);

/* "udp 10.1.0.1:1024 > 192.168.0.1:80" into 'buf' (at least 64 bytes). */
void sim_flow_format(const struct flow5 *, char *buf, size_t size);

/* ---- Outputs (sim-output.c). ---- */

/* Builds the Ethernet frame of packet 'p' as captured entering (out = false) or
 * leaving (out = true) the NF at position 'pos' of its path, into 'buf'
 * (SIM_FRAME_MAX bytes).  Returns its length.  The payload starts with the packet
 * number (8 bytes, big endian) and the flow index (4 bytes); the TTL is SIM_TTL
 * minus the NFs passed; checksums are valid. */
size_t sim_frame(const struct sim *, const struct sim_pkt *p, uint32_t pos, bool out,
                 uint8_t *buf);

/* The topology.json object of the offline contract for runs with 'fault_mask':
 * "nfs" (name, peak_pps = sim_peak_rate(), qcap, "type": "nat" for SNAT NFs),
 * "edges" (the DAG the flows' paths use, with "ingress" and "egress"), "captures"
 * ({"<nf>": {"in": "<nf>.in.pcap", "out": "<nf>.out.pcap"}}). */
struct json_object *sim_topology_to_json(const struct sim *, uint32_t fault_mask);

/* Writes 'dir'/topology.json and 'dir'/<nf>.in.pcap, <nf>.out.pcap for 'result'
 * (creating 'dir' if needed).  In-captures hold every arrival, tail drops included
 * (the mirror copies what the switch delivers); out-captures every departure. */
struct vnet_error *sim_write_offline(const struct sim_result *, const char *dir);

/* Writes 'obj' pretty-printed to 'path'. */
struct vnet_error *sim_json_write(struct json_object *obj, const char *path);

/* The run as a diag_trace with exact hop times: NF ids are config indexes + 1,
 * uids are packet numbers, times carry 'epoch_ns', r_peak is sim_peak_rate() (as
 * calibrated: hogs and costs do not lower it) and qcap the configured one.  Caller
 * destroys it with diag_trace_destroy(). */
struct diag_trace *sim_to_trace(const struct sim_result *);

#endif
