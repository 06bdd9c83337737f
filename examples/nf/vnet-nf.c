/* vnet-nf.c -- a sample network function: a bump in the wire between two interfaces.
 *
 * Frames entering --in leave through --out after processing (the forward direction);
 * frames entering --out leave through --in (the reverse direction, so replies and
 * TCP work).  Modes: forward (no change), firewall (--deny rules), nat (NAPT to
 * --snat), shaper (forward at a fixed --peak-pps).
 *
 * Structure: one thread, one poll loop.  The receive path reads both interfaces with
 * recvmmsg() straight into the free slots of one FIFO (queue.h); a full queue
 * tail-drops.  The service path takes packets from the head as fast as the peak rate
 * and the fault knobs allow (server.h), processes them and sends each direction's
 * batch with sendmmsg().  When there is nothing to receive and the next packet may
 * not start yet, the loop sleeps in ppoll() until the service time, an arrival, a
 * control command or a signal.
 *
 * Why recvmmsg() and not a TPACKET_V3 ring: a V3 ring hands packets over one block
 * at a time, when the block fills or its timeout (>= 1 ms) expires, which would add
 * up to a millisecond of batching delay to every NF hop at low rates and distort the
 * very latencies the monitor measures.  recvmmsg() returns what is there now, and
 * batches by itself under load.
 *
 * The hosts on either side must send complete frames: checksums computed (not left
 * to an offload) and no segmentation offload, e.g. `ethtool -K IFACE tx off` on
 * their veths.  A frame forwarded through AF_PACKET keeps the checksum state it had,
 * and a TSO super-frame larger than a queue slot is dropped and counted "oversize".
 *
 * Usage: vnet-nf --help.  Control socket protocol: control.h.  Ground-truth log
 * format: timelog.h. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "examples/nf/control.h"
#include "examples/nf/nat.h"
#include "examples/nf/pkt.h"
#include "examples/nf/port.h"
#include "examples/nf/queue.h"
#include "examples/nf/rule.h"
#include "examples/nf/server.h"
#include "examples/nf/timelog.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

VNLOG_DEFINE_THIS_MODULE(nf);

#define BATCH 64
#define SPIN_NS 20000               /* waits shorter than this do not sleep */
#define CMSG_LEN_TS CMSG_SPACE(sizeof(struct timespec))

enum nf_mode { MODE_FORWARD, MODE_FIREWALL, MODE_NAT, MODE_SHAPER };
static const char *const mode_names[] = { "forward", "firewall", "nat", "shaper" };

struct dir_stats {
    uint64_t rx, tx, tail_drops, policy_drops, fault_drops, tx_errors, oversize;
    uint64_t kernel_drops;          /* the receive socket overflowed before we read */
};

struct nf {
    enum nf_mode mode;
    struct nf_port ports[2];        /* [0] --in, [1] --out */
    struct nf_queue q;
    struct nf_queue hq;             /* --priority: served before 'q' */
    struct nf_server srv;
    struct nf_rule *rules;
    size_t n_rules;
    struct nf_rule *prio;           /* --priority rules (forward direction) */
    size_t n_prio;
    struct nf_nat *nat;
    uint32_t snat_ip;
    struct nf_control *ctl;
    struct nf_timelog *log;
    int stop_fd;                    /* eventfd written by the signal handler */

    struct dir_stats st[2];         /* by enum nf_dir */
    uint64_t arp_replies, nat_unsupported, nat_no_mapping, nat_exhausted;
    uint64_t start_ns;
    uint64_t next_service;          /* when the head packet may start, if waiting */

    /* Receive batch. */
    struct mmsghdr rx_msgs[BATCH];
    struct iovec rx_iov[BATCH];
    struct sockaddr_ll rx_addr[BATCH];
    uint8_t rx_cmsg[BATCH][CMSG_LEN_TS];
    uint8_t (*scratch)[NF_SLOT_DATA];   /* frames read while the queue is full */

    /* Service batch. */
    struct mmsghdr tx_msgs[2][BATCH];   /* by output port */
    struct iovec tx_iov[2][BATCH];
    uint32_t tx_slot[2][BATCH];         /* queue index (from the head) of each */
    uint8_t tx_failed[2][BATCH];
    uint8_t status[BATCH];
    struct nf_timelog_record recs[BATCH];
};

static volatile sig_atomic_t stop_requested;
static int stop_fd = -1;

static void
on_signal(int sig)
{
    (void) sig;
    stop_requested = 1;
    uint64_t one = 1;
    ssize_t w = write(stop_fd, &one, sizeof one);
    (void) w;
}

/* Ground truth for --log-times. */
static void
fill_record(struct nf_timelog_record *rec, const uint8_t *frame, size_t len, int dir,
            uint64_t t_arr, uint32_t qlen)
{
    struct pkt_info info;
    pkt_parse(frame, len, &info);
    *rec = (struct nf_timelog_record) {
        .t_arr_ns = t_arr,
        .sip = info.sip,
        .dip = info.dip,
        .sport = info.sport,
        .dport = info.dport,
        .ip_id = info.ip_id,
        .len = (uint16_t) VNET_MIN(len, 65535u),
        .proto = info.proto,
        .dir = (uint8_t) dir,
        .qlen = qlen,
    };
}

static void
log_drop(struct nf *nf, const uint8_t *frame, size_t len, int dir, uint64_t t_arr,
         uint32_t qlen, enum nf_timelog_status status)
{
    struct nf_timelog_record rec;
    fill_record(&rec, frame, len, dir, t_arr, qlen);
    rec.t_done_ns = t_arr;
    rec.status = (uint8_t) status;
    nf_timelog_write(nf->log, &rec);
}

/* Reads one batch from port 'pi' into the queue.  Returns the number of frames read. */
static unsigned int
rx_batch(struct nf *nf, int pi)
{
    struct nf_port *port = &nf->ports[pi];
    int dir = pi == 0 ? NF_DIR_FORWARD : NF_DIR_REVERSE;
    struct dir_stats *st = &nf->st[dir];
    uint32_t room = nf_queue_room(&nf->q);
    bool stamps = nf->log != NULL;

    for (unsigned int i = 0; i < BATCH; i++) {
        nf->rx_iov[i].iov_base = i < room ? nf_queue_tail(&nf->q, i)->data : nf->scratch[i];
        nf->rx_iov[i].iov_len = NF_SLOT_DATA;
        nf->rx_msgs[i].msg_hdr = (struct msghdr) {
            .msg_name = &nf->rx_addr[i],
            .msg_namelen = sizeof nf->rx_addr[i],
            .msg_iov = &nf->rx_iov[i],
            .msg_iovlen = 1,
            .msg_control = stamps ? nf->rx_cmsg[i] : NULL,
            .msg_controllen = stamps ? CMSG_LEN_TS : 0,
        };
    }
    int r = recvmmsg(port->fd, nf->rx_msgs, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (r <= 0) {
        return 0;
    }

    uint64_t wall = 0;
    uint32_t kept = 0, kept_h = 0;
    uint32_t room_h = nf->n_prio ? nf_queue_room(&nf->hq) : 0;
    for (int i = 0; i < r; i++) {
        if (nf->rx_addr[i].sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        st->rx++;
        uint8_t *data = nf->rx_iov[i].iov_base;
        size_t len = nf->rx_msgs[i].msg_len;
        uint64_t t_arr = 0;
        if (stamps) {
            t_arr = nf_port_rx_stamp(&nf->rx_msgs[i].msg_hdr);
            if (!t_arr) {
                t_arr = wall ? wall : (wall = vnet_wall_ns());
            }
        }
        bool prio = false;
        if (nf->n_prio && dir == NF_DIR_FORWARD) {
            struct pkt_info info;
            pkt_parse(data, VNET_MIN(len, (size_t) NF_SLOT_DATA), &info);
            prio = nf_rules_match(nf->prio, nf->n_prio, &info) >= 0;
        }
        uint32_t qlen = prio ? nf->hq.count + kept_h : nf->q.count + nf->hq.count + kept;
        if (len > NF_SLOT_DATA) {
            st->oversize++;
            if (nf->log) {
                log_drop(nf, data, NF_SLOT_DATA, dir, t_arr, qlen, NF_TL_OVERSIZE);
            }
            continue;
        }
        if (nf->nat && dir == NF_DIR_REVERSE) {
            uint8_t reply[60];
            size_t rlen = nf_nat_arp_reply(nf->nat, data, len, reply);
            if (rlen) {
                struct iovec iov = { reply, rlen };
                struct mmsghdr m = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
                uint8_t failed;
                nf->arp_replies += nf_port_send(port, &m, 1, &failed);
                continue;
            }
        }
        if (prio ? kept_h >= room_h : kept >= room) {
            st->tail_drops++;
            if (nf->log) {
                log_drop(nf, data, len, dir, t_arr, qlen, NF_TL_TAIL);
            }
            continue;
        }
        struct nf_slot *slot = prio ? nf_queue_tail(&nf->hq, kept_h++)
                                    : nf_queue_tail(&nf->q, kept++);
        if (slot->data != data) {
            memcpy(slot->data, data, len);
        }
        slot->len = (uint16_t) len;
        slot->dir = (uint8_t) dir;
        slot->t_arr_ns = t_arr;
        slot->qlen_at_arr = qlen;
    }
    nf_queue_push(&nf->q, kept);
    if (kept_h) {
        nf_queue_push(&nf->hq, kept_h);
    }
    return (unsigned int) r;
}

/* Applies the NF's function to one packet.  Returns its fate. */
static enum nf_timelog_status
process(struct nf *nf, struct nf_slot *slot, uint64_t now, struct nf_timelog_record *rec)
{
    if (nf->mode == MODE_FIREWALL && nf->n_rules) {
        struct pkt_info info;
        pkt_parse(slot->data, slot->len, &info);
        if (nf_rules_match(nf->rules, nf->n_rules, &info) >= 0) {
            return NF_TL_POLICY;
        }
    }
    if (nf_server_fault_drop(&nf->srv)) {
        return NF_TL_FAULT;
    }
    if (nf->mode == MODE_NAT) {
        uint32_t ip = 0;
        uint16_t port = 0;
        enum nf_nat_result r = slot->dir == NF_DIR_FORWARD
            ? nf_nat_forward(nf->nat, slot->data, slot->len, now, &ip, &port)
            : nf_nat_reverse(nf->nat, slot->data, slot->len, now, &ip, &port);
        switch (r) {
        case NF_NAT_TRANSLATED:
            if (rec) {
                rec->xlate_ip = ip;
                rec->xlate_port = port;
            }
            break;
        case NF_NAT_PASS:
            break;
        case NF_NAT_UNSUPPORTED:
            nf->nat_unsupported++;
            return NF_TL_POLICY;
        case NF_NAT_NO_MAPPING:
            nf->nat_no_mapping++;
            return NF_TL_POLICY;
        case NF_NAT_EXHAUSTED:
            nf->nat_exhausted++;
            return NF_TL_POLICY;
        }
    }
    return NF_TL_FORWARDED;
}

/* Processes and sends the first 'k' packets of 'q'. */
static void
serve_queue(struct nf *nf, struct nf_queue *q, unsigned int k, uint64_t now)
{
    unsigned int ntx[2] = { 0, 0 };
    for (unsigned int i = 0; i < k; i++) {
        struct nf_slot *slot = nf_queue_head(q, i);
        struct nf_timelog_record *rec = nf->log ? &nf->recs[i] : NULL;
        if (rec) {
            fill_record(rec, slot->data, slot->len, slot->dir, slot->t_arr_ns,
                        slot->qlen_at_arr);
        }
        enum nf_timelog_status status = process(nf, slot, now, rec);
        nf->status[i] = (uint8_t) status;
        struct dir_stats *st = &nf->st[slot->dir];
        if (status == NF_TL_POLICY) {
            st->policy_drops++;
        } else if (status == NF_TL_FAULT) {
            st->fault_drops++;
        } else {
            int out = slot->dir == NF_DIR_FORWARD ? 1 : 0;
            unsigned int j = ntx[out]++;
            nf->tx_iov[out][j] = (struct iovec) { slot->data, slot->len };
            nf->tx_msgs[out][j].msg_hdr = (struct msghdr) {
                .msg_iov = &nf->tx_iov[out][j],
                .msg_iovlen = 1,
            };
            nf->tx_slot[out][j] = i;
        }
    }
    for (int out = 0; out < 2; out++) {
        if (!ntx[out]) {
            continue;
        }
        nf_port_send(&nf->ports[out], nf->tx_msgs[out], ntx[out], nf->tx_failed[out]);
        for (unsigned int j = 0; j < ntx[out]; j++) {
            uint32_t i = nf->tx_slot[out][j];
            struct dir_stats *st = &nf->st[nf_queue_head(q, i)->dir];
            if (nf->tx_failed[out][j]) {
                st->tx_errors++;
                nf->status[i] = NF_TL_TX_ERROR;
            } else {
                st->tx++;
            }
        }
    }
    if (nf->log) {
        uint64_t wall = vnet_wall_ns();
        for (unsigned int i = 0; i < k; i++) {
            nf->recs[i].t_done_ns = wall;
            nf->recs[i].status = nf->status[i];
            nf_timelog_write(nf->log, &nf->recs[i]);
        }
    }
    nf_queue_pop(q, k);
}

/* Serves what the peak rate allows now, the priority queue first.  Returns the
 * number of packets served. */
static unsigned int
serve(struct nf *nf, uint64_t now)
{
    unsigned int want = VNET_MIN(nf->q.count + nf->hq.count, (uint32_t) BATCH);
    if (!want) {
        return 0;
    }
    unsigned int k = nf_server_grant(&nf->srv, now, want, &nf->next_service);
    unsigned int kh = VNET_MIN(k, nf->hq.count);
    if (kh) {
        serve_queue(nf, &nf->hq, kh, now);
    }
    if (k > kh) {
        serve_queue(nf, &nf->q, k - kh, now);
    }
    return k;
}

static struct json_object *
jdouble(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    return json_object_new_double_s(v, buf);
}

static struct json_object *
dir_to_json(const struct dir_stats *st)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "rx", json_object_new_uint64(st->rx));
    json_object_object_add(o, "tx", json_object_new_uint64(st->tx));
    json_object_object_add(o, "tail_drops", json_object_new_uint64(st->tail_drops));
    json_object_object_add(o, "policy_drops", json_object_new_uint64(st->policy_drops));
    json_object_object_add(o, "fault_drops", json_object_new_uint64(st->fault_drops));
    json_object_object_add(o, "tx_errors", json_object_new_uint64(st->tx_errors));
    json_object_object_add(o, "oversize", json_object_new_uint64(st->oversize));
    json_object_object_add(o, "kernel_drops", json_object_new_uint64(st->kernel_drops));
    return o;
}

/* Adds the kernel's drop counts of the receive sockets (reset by each read). */
static void
read_kernel_drops(struct nf *nf)
{
    for (int pi = 0; pi < 2; pi++) {
        struct tpacket_stats st;
        socklen_t len = sizeof st;
        if (!getsockopt(nf->ports[pi].fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) {
            nf->st[pi == 0 ? NF_DIR_FORWARD : NF_DIR_REVERSE].kernel_drops += st.tp_drops;
        }
    }
}

static char *
stats_to_string(struct nf *nf)
{
    uint64_t now = vnet_mono_ns();
    read_kernel_drops(nf);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mode", json_object_new_string(mode_names[nf->mode]));
    json_object_object_add(o, "uptime_s",
                           jdouble((double) (now - nf->start_ns) / 1e9));
    json_object_object_add(o, "peak_pps", json_object_new_uint64(nf->srv.peak_pps));
    json_object_object_add(o, "forward", dir_to_json(&nf->st[NF_DIR_FORWARD]));
    json_object_object_add(o, "reverse", dir_to_json(&nf->st[NF_DIR_REVERSE]));

    struct json_object *q = json_object_new_object();
    json_object_object_add(q, "len", json_object_new_uint64(nf->q.count));
    json_object_object_add(q, "max", json_object_new_uint64(nf->q.max_count));
    json_object_object_add(q, "capacity", json_object_new_uint64(nf->q.capacity));
    json_object_object_add(o, "queue", q);
    if (nf->n_prio) {
        struct json_object *h = json_object_new_object();
        json_object_object_add(h, "len", json_object_new_uint64(nf->hq.count));
        json_object_object_add(h, "max", json_object_new_uint64(nf->hq.max_count));
        struct json_object *rules = json_object_new_array();
        for (size_t i = 0; i < nf->n_prio; i++) {
            char buf[96];
            nf_rule_format(&nf->prio[i], buf, sizeof buf);
            json_object_array_add(rules, json_object_new_string(buf));
        }
        json_object_object_add(h, "rules", rules);
        json_object_object_add(o, "priority_queue", h);
    }

    struct json_object *f = json_object_new_object();
    uint64_t pause_left = nf->srv.pause_until > now ? nf->srv.pause_until - now : 0;
    uint64_t slow_left = nf->srv.slow_until > now ? nf->srv.slow_until - now : 0;
    json_object_object_add(f, "pause_us_left", json_object_new_uint64(pause_left / 1000));
    json_object_object_add(f, "slow_factor",
                           jdouble(nf_server_factor(&nf->srv, now)));
    json_object_object_add(f, "slow_ms_left", json_object_new_uint64(slow_left / 1000000));
    json_object_object_add(f, "drop_ratio", jdouble(nf->srv.drop_ratio));
    json_object_object_add(o, "faults", f);

    if (nf->nat) {
        char ip[16];
        struct json_object *n = json_object_new_object();
        json_object_object_add(n, "ip", json_object_new_string(
            pkt_ip_to_string(nf->snat_ip, ip, sizeof ip)));
        json_object_object_add(n, "mappings",
                               json_object_new_uint64(nf_nat_count(nf->nat, now)));
        json_object_object_add(n, "arp_replies", json_object_new_uint64(nf->arp_replies));
        json_object_object_add(n, "unsupported", json_object_new_uint64(nf->nat_unsupported));
        json_object_object_add(n, "no_mapping", json_object_new_uint64(nf->nat_no_mapping));
        json_object_object_add(n, "exhausted", json_object_new_uint64(nf->nat_exhausted));
        json_object_object_add(o, "nat", n);
    }
    if (nf->mode == MODE_FIREWALL) {
        struct json_object *rules = json_object_new_array();
        for (size_t i = 0; i < nf->n_rules; i++) {
            char buf[96];
            nf_rule_format(&nf->rules[i], buf, sizeof buf);
            json_object_array_add(rules, json_object_new_string(buf));
        }
        json_object_object_add(o, "deny", rules);
    }
    char *s = vnet_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static char *
on_command(const struct nf_cmd *cmd, void *aux)
{
    struct nf *nf = aux;
    uint64_t now = vnet_mono_ns();
    switch (cmd->type) {
    case NF_CMD_PAUSE:
        nf_server_pause(&nf->srv, now, cmd->value);
        break;
    case NF_CMD_SLOW:
        if (nf_server_slow(&nf->srv, now, cmd->real, cmd->value)) {
            return vnet_xstrdup("error: slow needs a finite peak rate; "
                                "set one first with 'peak <pps>'");
        }
        break;
    case NF_CMD_DROP:
        nf_server_set_drop(&nf->srv, cmd->real);
        break;
    case NF_CMD_PEAK:
        if (nf->mode == MODE_SHAPER && !cmd->value) {
            return vnet_xstrdup("error: a shaper needs a peak rate > 0");
        }
        nf_server_set_peak(&nf->srv, cmd->value);
        break;
    case NF_CMD_QUEUE:
        nf_queue_set_capacity(&nf->q, (uint32_t) cmd->value);
        nf_queue_set_capacity(&nf->hq, (uint32_t) cmd->value);
        break;
    case NF_CMD_STATS:
        return stats_to_string(nf);
    case NF_CMD_RESET:
        read_kernel_drops(nf);
        memset(nf->st, 0, sizeof nf->st);
        nf->arp_replies = nf->nat_unsupported = nf->nat_no_mapping = nf->nat_exhausted = 0;
        nf->q.max_count = nf->q.count;
        nf->hq.max_count = nf->hq.count;
        break;
    case NF_CMD_HELP:
        return vnet_xstrdup(nf_cmd_help());
    }
    return vnet_xstrdup("ok");
}

static void
run(struct nf *nf)
{
    struct pollfd fds[3 + 1 + NF_CONTROL_MAX_CLIENTS];
    unsigned int busy = 0;
    while (!stop_requested) {
        uint64_t now = vnet_mono_ns();
        unsigned int got = rx_batch(nf, 0) + rx_batch(nf, 1);
        unsigned int served = serve(nf, now);
        if (got || served) {
            if (nf->ctl && ++busy % 64 == 0) {
                nf_control_run(nf->ctl, on_command, nf);
            }
            continue;
        }

        unsigned int n = 0;
        fds[n++] = (struct pollfd) { .fd = nf->ports[0].fd, .events = POLLIN };
        fds[n++] = (struct pollfd) { .fd = nf->ports[1].fd, .events = POLLIN };
        fds[n++] = (struct pollfd) { .fd = nf->stop_fd, .events = POLLIN };
        if (nf->ctl) {
            n += nf_control_pollfds(nf->ctl, &fds[n]);
        }
        struct timespec ts, *tsp = NULL;
        if (nf->q.count || nf->hq.count) {
            uint64_t wait = nf->next_service > now ? nf->next_service - now : 0;
            if (wait < SPIN_NS) {
                /* A wake-up from ppoll() takes tens of microseconds here: at high
                 * peak rates that would cost capacity (server.h), so spin. */
                continue;
            }
            ts = (struct timespec) { (time_t) (wait / 1000000000), (long) (wait % 1000000000) };
            tsp = &ts;
        }
        if (ppoll(fds, n, tsp, NULL) < 0 && errno != EINTR) {
            VNLOG_ERR("poll: %s", strerror(errno));
            break;
        }
        if (nf->ctl) {
            nf_control_run(nf->ctl, on_command, nf);
        }
    }
}

static void __attribute__((noreturn))
usage(void)
{
    printf("usage: vnet-nf [--mode forward|firewall|nat|shaper] [--in IFACE] [--out IFACE]\n"
           "               [--peak-pps N] [--queue N] [--deny RULE]... [--snat IP]\n"
           "               [--control PATH] [--log-times FILE] [--seed N]\n"
           "       vnet-nf --control PATH --command 'CMD'\n"
           "Forwards frames --in -> --out (forward) and --out -> --in (reverse).\n"
           "  --mode M        forward (default), firewall, nat or shaper\n"
           "  --in/--out IF   interfaces (default eth0, eth1); set up if down and made\n"
           "                  promiscuous while it runs\n"
           "  --peak-pps N    service rate in packets/s (0 = unlimited; shaper: required)\n"
           "  --queue N       FIFO capacity in packets, 1..65536 (default 1024)\n"
           "  --deny RULE     firewall: drop 'proto,src,sport,dst,dport' ('*' = any,\n"
           "                  a.b.c.d[/len], port N or lo-hi); repeatable\n"
           "  --priority RULE serve matching packets (same syntax) from a second queue\n"
           "                  before all others (strict priority, any mode); repeatable\n"
           "  --snat IP       nat: NAPT to IP, proxy ARP for IP on --out\n"
           "  --control PATH  unix stream socket for run-time commands (line protocol):\n"
           "                  %s\n"
           "  --log-times F   write per-packet ground truth (binary, see timelog.h)\n"
           "  --seed N        seed of the 'drop' fault's random draws\n"
           "  --command CMD   client: send CMD to the NF at --control, print the reply\n"
           "                  (exit 0 ok, 2 if the NF answered an error)\n"
           "Prints its counters as JSON on stdout when it stops (SIGTERM/SIGINT).\n",
           nf_cmd_help());
    exit(0);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("vnet-nf: ", stderr);
    vfprintf(stderr, fmt, args);
    fputs(" (see --help)\n", stderr);
    va_end(args);
    exit(1);
}

/* Parses rule 'arg' of option 'opt' onto the array '*rules' or exits with usage. */
static void
add_rule_opt(const char *opt, const char *arg, struct nf_rule **rules, size_t *n,
             size_t *cap)
{
    vnet_grow((void **) rules, cap, *n + 1, sizeof **rules);
    struct vnet_error *error = nf_rule_parse(arg, &(*rules)[*n]);
    if (error) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", error->message);
        vnet_error_destroy(error);
        usage_error("%s: %s", opt, msg);
    }
    (*n)++;
}

static uint64_t
parse_uint_opt(const char *opt, const char *arg, unsigned long long min,
               unsigned long long max)
{
    unsigned long long v;
    if (vnet_parse_uint(arg, min, max, &v)) {
        usage_error("%s: expected an integer %llu..%llu, got '%s'", opt, min, max, arg);
    }
    return v;
}

static int
client(const char *path, const char *command)
{
    char *reply = NULL;
    int r = nf_control_request(path, command, 5000, &reply);
    if (r) {
        fprintf(stderr, "vnet-nf: --control '%s': %s\n", path, strerror(-r));
        return 1;
    }
    printf("%s\n", reply);
    int rc = strncmp(reply, "error:", 6) ? 0 : 2;
    free(reply);
    return rc;
}

int
main(int argc, char *argv[])
{
    enum { OPT_MODE = 256, OPT_IN, OPT_OUT, OPT_PEAK, OPT_QUEUE, OPT_DENY, OPT_PRIO, OPT_SNAT,
           OPT_CONTROL, OPT_LOG, OPT_SEED, OPT_COMMAND };
    static const struct option options[] = {
        { "mode", required_argument, NULL, OPT_MODE },
        { "in", required_argument, NULL, OPT_IN },
        { "out", required_argument, NULL, OPT_OUT },
        { "peak-pps", required_argument, NULL, OPT_PEAK },
        { "queue", required_argument, NULL, OPT_QUEUE },
        { "deny", required_argument, NULL, OPT_DENY },
        { "priority", required_argument, NULL, OPT_PRIO },
        { "snat", required_argument, NULL, OPT_SNAT },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "log-times", required_argument, NULL, OPT_LOG },
        { "seed", required_argument, NULL, OPT_SEED },
        { "command", required_argument, NULL, OPT_COMMAND },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct nf nf_storage;
    struct nf *nf = &nf_storage;
    const char *in = "eth0", *out = "eth1", *snat = NULL, *control = NULL;
    const char *log_path = NULL, *command = NULL;
    uint64_t peak = 0, queue = 1024, seed = 0;
    size_t rules_cap = 0, prio_cap = 0;
    bool have_mode = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MODE:
            have_mode = false;
            for (size_t i = 0; i < VNET_ARRAY_SIZE(mode_names); i++) {
                if (!strcmp(optarg, mode_names[i])) {
                    nf->mode = (enum nf_mode) i;
                    have_mode = true;
                }
            }
            if (!have_mode) {
                usage_error("--mode: expected forward, firewall, nat or shaper, got '%s'",
                            optarg);
            }
            break;
        case OPT_IN:
            in = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_PEAK:
            peak = parse_uint_opt("--peak-pps", optarg, 0, 100000000);
            break;
        case OPT_QUEUE:
            queue = parse_uint_opt("--queue", optarg, 1, NF_QUEUE_MAX);
            break;
        case OPT_DENY:
            add_rule_opt("--deny", optarg, &nf->rules, &nf->n_rules, &rules_cap);
            break;
        case OPT_PRIO:
            add_rule_opt("--priority", optarg, &nf->prio, &nf->n_prio, &prio_cap);
            break;
        case OPT_SNAT:
            snat = optarg;
            break;
        case OPT_CONTROL:
            control = optarg;
            break;
        case OPT_LOG:
            log_path = optarg;
            break;
        case OPT_SEED:
            seed = parse_uint_opt("--seed", optarg, 0, UINT64_MAX);
            break;
        case OPT_COMMAND:
            command = optarg;
            break;
        case 'h':
            usage();
        default:
            exit(1);
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (command) {
        if (!control) {
            usage_error("--command: needs --control PATH of the NF to talk to");
        }
        return client(control, command);
    }
    if (nf->n_rules && nf->mode != MODE_FIREWALL) {
        usage_error("--deny: only with --mode firewall");
    }
    if (snat && nf->mode != MODE_NAT) {
        usage_error("--snat: only with --mode nat");
    }
    if (nf->mode == MODE_NAT && !snat) {
        usage_error("--mode nat: needs --snat IP");
    }
    if (snat && pkt_parse_ipv4(snat, &nf->snat_ip)) {
        usage_error("--snat: expected an IPv4 address a.b.c.d, got '%s'", snat);
    }
    if (nf->mode == MODE_SHAPER && !peak) {
        usage_error("--mode shaper: needs --peak-pps N > 0");
    }
    if (!strcmp(in, out)) {
        usage_error("--in and --out: must be different interfaces, both are '%s'", in);
    }

    int rc = 1;
    struct vnet_error *error = NULL;
    nf->ports[0].fd = nf->ports[1].fd = -1;
    nf->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (nf->stop_fd < 0) {
        error = vnet_error_from_errno(-errno, "eventfd");
        goto out;
    }
    stop_fd = nf->stop_fd;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Sub-millisecond pacing needs precise wake-ups (default slack: 50 us). */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    unsigned int flags = NF_PORT_RX | NF_PORT_PROMISC | NF_PORT_UP
                         | (log_path ? NF_PORT_TIMESTAMPS : 0);
    if ((error = nf_port_open(&nf->ports[0], in, flags))
        || (error = nf_port_open(&nf->ports[1], out, flags))) {
        goto out;
    }
    if (control && (error = nf_control_open(control, &nf->ctl))) {
        goto out;
    }
    if (log_path && (error = nf_timelog_open(log_path, &nf->log))) {
        goto out;
    }
    if (nf->mode == MODE_NAT) {
        nf->nat = nf_nat_create(nf->snat_ip, nf->ports[1].mac);
    }
    nf_queue_init(&nf->q, (uint32_t) queue);
    nf_queue_init(&nf->hq, (uint32_t) queue);
    nf_server_init(&nf->srv, peak, seed ? seed : vnet_mono_ns() ^ (uint64_t) getpid());
    nf->scratch = vnet_xmalloc(BATCH * sizeof *nf->scratch);
    nf->start_ns = vnet_mono_ns();

    VNLOG_INFO("%s: %s <-> %s, peak %llu pps, queue %llu%s%s", mode_names[nf->mode], in, out,
               (unsigned long long) peak, (unsigned long long) queue,
               control ? ", control " : "", control ? control : "");
    run(nf);

    char *stats = stats_to_string(nf);
    printf("%s\n", stats);
    fflush(stdout);
    free(stats);
    rc = 0;

out:
    if (error) {
        fprintf(stderr, "vnet-nf: %s\n", error->message);
        vnet_error_destroy(error);
    }
    if (nf_timelog_close(nf->log)) {
        fprintf(stderr, "vnet-nf: --log-times '%s': write failed\n", log_path);
        rc = 1;
    }
    nf_control_close(nf->ctl);
    nf_port_close(&nf->ports[0]);
    nf_port_close(&nf->ports[1]);
    nf_nat_destroy(nf->nat);
    if (nf->q.slots) {
        nf_queue_destroy(&nf->q);
        nf_queue_destroy(&nf->hq);
    }
    free(nf->scratch);
    free(nf->rules);
    free(nf->prio);
    if (nf->stop_fd >= 0) {
        close(nf->stop_fd);
    }
    return rc;
}
