/* vnet-gen.c -- traffic source for the example chains.
 *
 * Raw mode (--dev): builds Ethernet/IPv4/UDP frames by hand and sends them with
 * sendmmsg() on an AF_PACKET socket, so the rate, the sizes, the flows and every
 * header field are exactly what was asked.  Patterns, combinable:
 *   --rate PPS over --flows N (Pareto-weighted, gen-plan.h), paced or --poisson;
 *   --burst "flow=I,rate=PPS,duration=USEC,at=MSEC": extra packets of one flow;
 *   --rtp: a G.711 RTP stream, 188-byte UDP payload every 20 ms (payload.h);
 *   --tos: the IPv4 TOS byte (DSCP and ECN), to test what a chain does with it;
 *   --seq: a sequence stamp (flow, number, CLOCK_MONOTONIC send time) in every
 *          background packet, for vnet-sink's loss, reordering and latency.
 * TCP mode (--tcp HOST:PORT): a kernel TCP connection, writes of --size bytes at
 * --rate writes/s (default: as fast as it goes); reports the throughput.
 *
 * Stops after --duration, --count packets (or writes) or at SIGTERM/SIGINT, then
 * prints a JSON summary on stdout (and to --out FILE). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "examples/nf/pkt.h"
#include "examples/nf/port.h"
#include "examples/traffic/gen-plan.h"
#include "examples/traffic/payload.h"
#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"

#define BATCH 64
#define MAX_FRAME 1514
#define HDR_LEN 42                  /* Ethernet + IPv4 + UDP */

struct flow {
    uint16_t sport, dport;
    uint64_t seq;                   /* next sequence number */
    uint64_t sent;
};

enum src_kind { SRC_BASE, SRC_BURST, SRC_RTP };

struct source {
    enum src_kind kind;
    struct gen_source s;
    uint32_t flow;                  /* SRC_BURST */
    uint64_t sent;
};

struct gen {
    /* Options. */
    const char *dev, *tcp, *out_path;
    uint8_t src_mac[6], dst_mac[6];
    bool have_src_mac, have_dst_mac;
    uint32_t src, dst;
    bool have_src, have_dst;
    uint64_t rate, count, duration_ns, seed, size;
    bool have_rate, seq, poisson, rtp;
    uint8_t tos;
    uint32_t n_flows;
    double alpha;
    struct gen_range sport, dport;
    uint16_t rtp_port;
    struct gen_burst *bursts;
    size_t n_bursts, bursts_cap;

    /* Raw mode state. */
    struct nf_port port;
    struct flow *flows;
    struct gen_flows weights;
    struct source *sources;
    size_t n_sources;
    struct gen_rng rng;
    uint16_t ip_id;
    uint16_t rtp_seq;
    uint32_t rtp_ts, rtp_ssrc;
    uint64_t sent, errors, bytes;
    uint64_t built;                 /* frames built, for distinct plain payloads */
    uint8_t frames[BATCH][MAX_FRAME];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    uint8_t failed[BATCH];
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

/* Sleeps until 'deadline' (CLOCK_MONOTONIC ns) or a signal. */
static void
sleep_until(uint64_t deadline)
{
    uint64_t now = vnet_mono_ns();
    if (deadline <= now) {
        return;
    }
    uint64_t wait = deadline - now;
    struct timespec ts = { (time_t) (wait / 1000000000), (long) (wait % 1000000000) };
    struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
    ppoll(&pfd, 1, &ts, NULL);
}

/* Writes Ethernet, IPv4 and UDP headers for a frame of 'len' bytes whose UDP payload
 * is already in place, and the checksums. */
static void
finish_udp(struct gen *g, uint8_t *f, size_t len, uint16_t sport, uint16_t dport)
{
    memcpy(f, g->dst_mac, 6);
    memcpy(f + 6, g->src_mac, 6);
    pkt_put16(f + 12, PKT_ETH_P_IPV4);
    uint8_t *ip = f + 14;
    size_t ip_len = len - 14;
    ip[0] = 0x45;
    ip[1] = g->tos;
    pkt_put16(ip + 2, (uint16_t) ip_len);
    pkt_put16(ip + 4, g->ip_id++);
    pkt_put16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = PKT_IPPROTO_UDP;
    pkt_put32(ip + 12, g->src);
    pkt_put32(ip + 16, g->dst);
    pkt_put16(ip + 10, pkt_ipv4_csum(ip, 20));
    uint8_t *udp = ip + 20;
    pkt_put16(udp, sport);
    pkt_put16(udp + 2, dport);
    pkt_put16(udp + 4, (uint16_t) (ip_len - 20));
    pkt_put16(udp + 6, pkt_l4_csum(g->src, g->dst, PKT_IPPROTO_UDP, udp, ip_len - 20));
}

static size_t
build_flow_packet(struct gen *g, uint8_t *f, uint32_t i, uint64_t now)
{
    struct flow *fl = &g->flows[i];
    size_t len = g->size;
    uint8_t *p = f + HDR_LEN;
    memset(p, 0, len - HDR_LEN);
    if (g->seq) {
        struct payload_stamp st = { .flow = i, .seq = fl->seq, .t_send_ns = now };
        payload_stamp_encode(p, &st);
    } else {
        /* Distinct bytes per packet, so content-based matching can tell them apart. */
        pkt_put64(p, g->built);
        pkt_put32(p + 8, i);
    }
    fl->seq++;
    fl->sent++;
    g->built++;
    finish_udp(g, f, len, fl->sport, fl->dport);
    return len;
}

static size_t
build_rtp_packet(struct gen *g, uint8_t *f, uint64_t now)
{
    struct payload_rtp rtp = {
        .pt = 0,
        .seq = g->rtp_seq++,
        .timestamp = g->rtp_ts,
        .ssrc = g->rtp_ssrc,
        .has_send_time = true,
        .t_send_ns = now,
    };
    g->rtp_ts += PAYLOAD_RTP_SAMPLES;
    payload_rtp_encode(f + HDR_LEN, &rtp);
    size_t len = HDR_LEN + PAYLOAD_RTP_LEN;
    finish_udp(g, f, len, g->rtp_port, g->rtp_port);
    return len;
}

static struct source *
earliest(struct gen *g)
{
    struct source *best = NULL;
    for (size_t i = 0; i < g->n_sources; i++) {
        if (!best || gen_source_next(&g->sources[i].s) < gen_source_next(&best->s)) {
            best = &g->sources[i];
        }
    }
    return best;
}

static void
add_source(struct gen *g, enum src_kind kind, uint32_t flow, uint64_t rate, bool poisson,
           uint64_t start, uint64_t end)
{
    g->sources = vnet_xrealloc(g->sources, (g->n_sources + 1) * sizeof *g->sources);
    struct source *s = &g->sources[g->n_sources++];
    *s = (struct source) { .kind = kind, .flow = flow };
    gen_source_init(&s->s, rate, poisson, start, end, &g->rng);
}

static struct json_object *
jdouble(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    return json_object_new_double_s(v, buf);
}

static struct json_object *
raw_summary(struct gen *g, uint64_t elapsed)
{
    char a[16], b[16];
    double secs = (double) elapsed / 1e9;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mode", json_object_new_string("raw"));
    json_object_object_add(o, "dev", json_object_new_string(g->dev));
    json_object_object_add(o, "duration_s", jdouble(secs));
    json_object_object_add(o, "sent", json_object_new_uint64(g->sent));
    json_object_object_add(o, "bytes", json_object_new_uint64(g->bytes));
    json_object_object_add(o, "errors", json_object_new_uint64(g->errors));
    json_object_object_add(o, "rate_pps", jdouble(
        secs > 0 ? (double) g->sent / secs : 0));
    json_object_object_add(o, "target_pps", json_object_new_uint64(g->rate));
    struct json_object *flows = json_object_new_array();
    for (uint32_t i = 0; i < g->n_flows; i++) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "flow", json_object_new_uint64(i));
        json_object_object_add(f, "src", json_object_new_string(
            pkt_ip_to_string(g->src, a, sizeof a)));
        json_object_object_add(f, "sport", json_object_new_int(g->flows[i].sport));
        json_object_object_add(f, "dst", json_object_new_string(
            pkt_ip_to_string(g->dst, b, sizeof b)));
        json_object_object_add(f, "dport", json_object_new_int(g->flows[i].dport));
        json_object_object_add(f, "share", jdouble(
            gen_flows_share(&g->weights, i)));
        json_object_object_add(f, "sent", json_object_new_uint64(g->flows[i].sent));
        json_object_array_add(flows, f);
    }
    json_object_object_add(o, "flows", flows);
    struct json_object *bursts = json_object_new_array();
    for (size_t i = 0; i < g->n_sources; i++) {
        const struct source *s = &g->sources[i];
        if (s->kind == SRC_BURST) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "flow", json_object_new_uint64(s->flow));
            json_object_object_add(e, "sent", json_object_new_uint64(s->sent));
            json_object_array_add(bursts, e);
        } else if (s->kind == SRC_RTP) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "sport", json_object_new_int(g->rtp_port));
            json_object_object_add(e, "dport", json_object_new_int(g->rtp_port));
            json_object_object_add(e, "ssrc", json_object_new_uint64(g->rtp_ssrc));
            json_object_object_add(e, "sent", json_object_new_uint64(s->sent));
            json_object_object_add(o, "rtp", e);
        }
    }
    json_object_object_add(o, "bursts", bursts);
    return o;
}

static struct json_object *
run_raw(struct gen *g, struct vnet_error **ret_error)
{
    struct vnet_error *error = nf_port_open(&g->port, g->dev, 0);
    if (error) {
        *ret_error = error;
        return NULL;
    }
    if (!g->have_src_mac) {
        memcpy(g->src_mac, g->port.mac, 6);
    }
    gen_rng_seed(&g->rng, g->seed);
    g->rtp_ssrc = (uint32_t) gen_rng_next(&g->rng);
    g->ip_id = (uint16_t) gen_rng_next(&g->rng);
    g->flows = vnet_xcalloc(g->n_flows, sizeof *g->flows);
    uint32_t sspan = (uint32_t) (g->sport.hi - g->sport.lo) + 1;
    uint32_t dspan = (uint32_t) (g->dport.hi - g->dport.lo) + 1;
    for (uint32_t i = 0; i < g->n_flows; i++) {
        g->flows[i].sport = (uint16_t) (g->sport.lo + i % sspan);
        g->flows[i].dport = (uint16_t) (g->dport.lo + (i / sspan) % dspan);
    }
    gen_flows_init(&g->weights, g->n_flows, g->alpha, &g->rng);

    uint64_t t0 = vnet_mono_ns();
    if (g->rate) {
        add_source(g, SRC_BASE, 0, g->rate, g->poisson, t0, 0);
    }
    for (size_t i = 0; i < g->n_bursts; i++) {
        const struct gen_burst *b = &g->bursts[i];
        uint64_t start = t0 + b->at_ns;
        add_source(g, SRC_BURST, b->flow, b->rate_pps, false, start, start + b->duration_ns);
    }
    if (g->rtp) {
        add_source(g, SRC_RTP, 0, 1000 / 20, false, t0, 0);
    }
    uint64_t deadline = g->duration_ns ? t0 + g->duration_ns : UINT64_MAX;

    /* The deadline bounds the schedule, not the clock: every packet scheduled
     * before it is sent, even when a late wake-up (or a stopped process) finds
     * the clock past it -- --rate R --duration D sends R * D packets. */
    while (!stop_requested) {
        uint64_t now = vnet_mono_ns();
        if (g->count && g->sent >= g->count) {
            break;
        }
        unsigned int n = 0;
        while (n < BATCH && (!g->count || g->sent + n < g->count)) {
            struct source *s = earliest(g);
            uint64_t due = s ? gen_source_next(&s->s) : UINT64_MAX;
            if (due > now || due >= deadline) {
                break;
            }
            uint8_t *f = g->frames[n];
            size_t len;
            switch (s->kind) {
            case SRC_BASE:
                len = build_flow_packet(g, f, (uint32_t) gen_flows_pick(
                    &g->weights, gen_rng_uniform(&g->rng)), now);
                break;
            case SRC_BURST:
                len = build_flow_packet(g, f, s->flow, now);
                break;
            default:
                len = build_rtp_packet(g, f, now);
                break;
            }
            s->sent++;
            gen_source_advance(&s->s, &g->rng);
            g->iov[n] = (struct iovec) { f, len };
            g->msgs[n].msg_hdr = (struct msghdr) { .msg_iov = &g->iov[n], .msg_iovlen = 1 };
            n++;
        }
        if (n) {
            unsigned int sent = nf_port_send(&g->port, g->msgs, n, g->failed);
            g->sent += n;
            g->errors += n - sent;
            for (unsigned int i = 0; i < n; i++) {
                g->bytes += g->failed[i] ? 0 : g->iov[i].iov_len;
            }
            continue;
        }
        struct source *s = earliest(g);
        uint64_t next = s ? gen_source_next(&s->s) : UINT64_MAX;
        if (next >= deadline) {     /* nothing left to send in time */
            if (deadline != UINT64_MAX) {
                sleep_until(deadline);
            }
            break;
        }
        sleep_until(next);
    }
    /* 'sent' counts what was handed to the kernel; failures are in 'errors'. */
    g->sent -= g->errors;
    return raw_summary(g, vnet_mono_ns() - t0);
}

/* TCP mode. */

static int
tcp_connect(const char *hostport, struct sockaddr_in *sin, struct vnet_error **ret_error)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    unsigned long long port;
    uint32_t ip;
    if (!colon || (size_t) (colon - hostport) >= sizeof host
        || vnet_parse_uint(colon + 1, 1, 65535, &port)) {
        goto bad;
    }
    memcpy(host, hostport, (size_t) (colon - hostport));
    host[colon - hostport] = '\0';
    if (pkt_parse_ipv4(host, &ip)) {
        goto bad;
    }
    *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(ip) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *ret_error = vnet_error_from_errno(-errno, "--tcp: socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *) sin, sizeof *sin) && errno != EINPROGRESS) {
        goto fail;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int r = poll(&pfd, 1, 3000);
    int err = 0;
    socklen_t len = sizeof err;
    if (r == 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        errno = err ? err : errno;
        goto fail;
    }
    /* Blocking writes, but never for long: the stop flag is checked between them. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = { 0, 200000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;

fail:
    *ret_error = vnet_error_from_errno(-errno, "--tcp %s: connect", hostport);
    close(fd);
    return -1;

bad:
    *ret_error = vnet_error_create(VNET_ERR_INVALID,
                                   "--tcp: expected IPV4:PORT, got '%s'", hostport);
    return -1;
}

static struct json_object *
run_tcp(struct gen *g, struct vnet_error **ret_error)
{
    struct sockaddr_in sin;
    int fd = tcp_connect(g->tcp, &sin, ret_error);
    if (fd < 0) {
        return NULL;
    }
    size_t size = g->size;
    uint8_t *buf = vnet_xzalloc(size);
    uint64_t t0 = vnet_mono_ns();
    uint64_t deadline = g->duration_ns ? t0 + g->duration_ns : UINT64_MAX;
    double interval = g->rate ? 1e9 / (double) g->rate : 0;
    double next = (double) t0;
    uint64_t writes = 0, bytes = 0;
    int err = 0;
    while (!stop_requested && (!g->count || writes < g->count)) {
        uint64_t now = vnet_mono_ns();
        if (now >= deadline) {
            break;
        }
        if (interval && next > (double) now) {
            sleep_until(VNET_MIN((uint64_t) next, deadline));
            continue;
        }
        pkt_put64(buf, writes);
        ssize_t w = send(fd, buf, size, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        bytes += (uint64_t) w;
        writes++;
        next += interval;
    }
    uint64_t elapsed = vnet_mono_ns() - t0;
    close(fd);
    free(buf);

    double secs = (double) elapsed / 1e9;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mode", json_object_new_string("tcp"));
    json_object_object_add(o, "peer", json_object_new_string(g->tcp));
    json_object_object_add(o, "duration_s", jdouble(secs));
    json_object_object_add(o, "writes", json_object_new_uint64(writes));
    json_object_object_add(o, "bytes", json_object_new_uint64(bytes));
    json_object_object_add(o, "mbit_s", jdouble(
        secs > 0 ? (double) bytes * 8 / secs / 1e6 : 0));
    if (err) {
        json_object_object_add(o, "error", json_object_new_string(strerror(err)));
    }
    return o;
}

/* Command line. */

static void __attribute__((noreturn))
usage(void)
{
    printf("usage: vnet-gen --dev IFACE --dst-mac MAC --src IP --dst IP [options]\n"
           "       vnet-gen --tcp IP:PORT [--rate N] [--size BYTES] [options]\n"
           "Raw mode (AF_PACKET on --dev):\n"
           "  --src-mac MAC      source MAC (default: the interface's)\n"
           "  --dst-mac MAC      destination MAC (required)\n"
           "  --src IP --dst IP  IPv4 addresses (required)\n"
           "  --rate PPS         base rate over all flows (default 1000; 0 with --rtp)\n"
           "  --flows N          flows sharing it with Pareto weights (default 1)\n"
           "  --pareto ALPHA     Pareto shape of the flow weights (default 1.2)\n"
           "  --poisson          Poisson arrivals (default: paced)\n"
           "  --sport LO[-HI]    source ports of the flows (default 10000-59999)\n"
           "  --dport LO[-HI]    destination ports (default 9)\n"
           "  --size BYTES       frame size without FCS (default 60, with --seq 66; <= 1514)\n"
           "  --seq              stamp each packet (flow, number, send time)\n"
           "  --tos N            IPv4 TOS byte, DSCP << 2 | ECN (default 0)\n"
           "  --burst SPEC       flow=I,rate=PPS,duration=USEC,at=MSEC (repeatable)\n"
           "  --rtp              add a G.711 RTP stream (188 B payload every 20 ms)\n"
           "  --rtp-port P       its UDP ports (default 5004)\n"
           "TCP mode: --tcp IP:PORT, writes of --size bytes (default 1448) at --rate\n"
           "          writes/s (default unlimited)\n"
           "Both: --duration D (e.g. 5s, 500ms), --count N, --seed N, --out FILE\n"
           "Prints a JSON summary when done (SIGTERM/SIGINT stop it early).\n");
    exit(0);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("vnet-gen: ", stderr);
    vfprintf(stderr, fmt, args);
    fputs(" (see --help)\n", stderr);
    va_end(args);
    exit(1);
}

static uint64_t
uint_opt(const char *opt, const char *arg, unsigned long long min, unsigned long long max)
{
    unsigned long long v;
    if (vnet_parse_uint(arg, min, max, &v)) {
        usage_error("%s: expected an integer %llu..%llu, got '%s'", opt, min, max, arg);
    }
    return v;
}

static void
parse_options(struct gen *g, int argc, char *argv[])
{
    enum { O_DEV = 256, O_SRC_MAC, O_DST_MAC, O_SRC, O_DST, O_RATE, O_FLOWS, O_PARETO,
           O_POISSON, O_SPORT, O_DPORT, O_SIZE, O_SEQ, O_BURST, O_RTP, O_RTP_PORT, O_TCP,
           O_DURATION, O_COUNT, O_SEED, O_OUT, O_TOS };
    static const struct option options[] = {
        { "dev", required_argument, NULL, O_DEV },
        { "src-mac", required_argument, NULL, O_SRC_MAC },
        { "dst-mac", required_argument, NULL, O_DST_MAC },
        { "src", required_argument, NULL, O_SRC },
        { "dst", required_argument, NULL, O_DST },
        { "rate", required_argument, NULL, O_RATE },
        { "flows", required_argument, NULL, O_FLOWS },
        { "pareto", required_argument, NULL, O_PARETO },
        { "poisson", no_argument, NULL, O_POISSON },
        { "sport", required_argument, NULL, O_SPORT },
        { "dport", required_argument, NULL, O_DPORT },
        { "size", required_argument, NULL, O_SIZE },
        { "seq", no_argument, NULL, O_SEQ },
        { "tos", required_argument, NULL, O_TOS },
        { "burst", required_argument, NULL, O_BURST },
        { "rtp", no_argument, NULL, O_RTP },
        { "rtp-port", required_argument, NULL, O_RTP_PORT },
        { "tcp", required_argument, NULL, O_TCP },
        { "duration", required_argument, NULL, O_DURATION },
        { "count", required_argument, NULL, O_COUNT },
        { "seed", required_argument, NULL, O_SEED },
        { "out", required_argument, NULL, O_OUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case O_DEV:
            g->dev = optarg;
            break;
        case O_SRC_MAC:
        case O_DST_MAC:
            if (pkt_parse_mac(optarg, opt == O_SRC_MAC ? g->src_mac : g->dst_mac)) {
                usage_error("--%s: expected aa:bb:cc:dd:ee:ff, got '%s'",
                            opt == O_SRC_MAC ? "src-mac" : "dst-mac", optarg);
            }
            *(opt == O_SRC_MAC ? &g->have_src_mac : &g->have_dst_mac) = true;
            break;
        case O_SRC:
        case O_DST:
            if (pkt_parse_ipv4(optarg, opt == O_SRC ? &g->src : &g->dst)) {
                usage_error("--%s: expected an IPv4 address a.b.c.d, got '%s'",
                            opt == O_SRC ? "src" : "dst", optarg);
            }
            *(opt == O_SRC ? &g->have_src : &g->have_dst) = true;
            break;
        case O_RATE:
            g->rate = uint_opt("--rate", optarg, 0, 100000000);
            g->have_rate = true;
            break;
        case O_FLOWS:
            g->n_flows = (uint32_t) uint_opt("--flows", optarg, 1, 1000000);
            break;
        case O_PARETO: {
            char *end;
            errno = 0;
            g->alpha = strtod(optarg, &end);
            if (*end || errno || !(g->alpha > 0.0 && g->alpha <= 100.0)) {
                usage_error("--pareto: expected a shape > 0 (e.g. 1.2), got '%s'", optarg);
            }
            break;
        }
        case O_POISSON:
            g->poisson = true;
            break;
        case O_SPORT:
        case O_DPORT:
            if (gen_range_parse(optarg, opt == O_SPORT ? &g->sport : &g->dport)) {
                usage_error("--%s: expected a port N or a range LO-HI (0..65535), got '%s'",
                            opt == O_SPORT ? "sport" : "dport", optarg);
            }
            break;
        case O_SIZE:
            g->size = uint_opt("--size", optarg, 1, 65536);
            break;
        case O_SEQ:
            g->seq = true;
            break;
        case O_TOS:
            g->tos = (uint8_t) uint_opt("--tos", optarg, 0, 255);
            break;
        case O_BURST: {
            vnet_grow((void **) &g->bursts, &g->bursts_cap, g->n_bursts + 1,
                      sizeof *g->bursts);
            struct vnet_error *error = gen_burst_parse(optarg, &g->bursts[g->n_bursts]);
            if (error) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", error->message);
                vnet_error_destroy(error);
                usage_error("--burst: %s", msg);
            }
            g->n_bursts++;
            break;
        }
        case O_RTP:
            g->rtp = true;
            break;
        case O_RTP_PORT:
            g->rtp_port = (uint16_t) uint_opt("--rtp-port", optarg, 1, 65535);
            break;
        case O_TCP:
            g->tcp = optarg;
            break;
        case O_DURATION:
            if (vnet_parse_duration(optarg, &g->duration_ns) || !g->duration_ns) {
                usage_error("--duration: expected a duration such as 5s or 500ms, got '%s'",
                            optarg);
            }
            break;
        case O_COUNT:
            g->count = uint_opt("--count", optarg, 1, UINT64_MAX);
            break;
        case O_SEED:
            g->seed = uint_opt("--seed", optarg, 0, UINT64_MAX);
            break;
        case O_OUT:
            g->out_path = optarg;
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
}

static void
check_options(struct gen *g)
{
    if (!!g->dev == !!g->tcp) {
        usage_error("expected exactly one of --dev IFACE (raw mode) or --tcp IP:PORT");
    }
    if (g->tcp) {
        if (g->rtp || g->seq || g->n_bursts || g->have_dst_mac || g->have_src
            || g->tos) {
            usage_error("--tcp: --rtp, --seq, --burst, --tos, --dst-mac and --src are "
                        "raw-mode options (use --dev)");
        }
        if (!g->size) {
            g->size = 1448;
        }
        return;
    }
    if (!g->have_dst_mac || !g->have_src || !g->have_dst) {
        usage_error("--dev: raw mode needs --dst-mac, --src and --dst");
    }
    if (!g->have_rate) {
        g->rate = g->rtp ? 0 : 1000;
    }
    size_t min = g->seq ? HDR_LEN + PAYLOAD_STAMP_LEN : 60;
    if (!g->size) {
        g->size = min;
    }
    if (g->size < min || g->size > MAX_FRAME) {
        usage_error("--size: expected %zu..%d bytes%s, got %llu", min, MAX_FRAME,
                    g->seq ? " with --seq" : "", (unsigned long long) g->size);
    }
    uint64_t pairs = (uint64_t) (g->sport.hi - g->sport.lo + 1) * (g->dport.hi - g->dport.lo + 1);
    if (g->n_flows > pairs) {
        usage_error("--flows: %u flows need as many (sport, dport) pairs; --sport and "
                    "--dport give %llu", g->n_flows, (unsigned long long) pairs);
    }
    for (size_t i = 0; i < g->n_bursts; i++) {
        if (g->bursts[i].flow >= g->n_flows) {
            usage_error("--burst: flow=%u, but there are only %u flows (0..%u)",
                        g->bursts[i].flow, g->n_flows, g->n_flows - 1);
        }
    }
    if (!g->rate && !g->rtp && !g->n_bursts) {
        usage_error("--rate 0: nothing to send (add --rtp or --burst)");
    }
}

int
main(int argc, char *argv[])
{
    static struct gen gen_storage;
    struct gen *g = &gen_storage;
    g->n_flows = 1;
    g->alpha = 1.2;
    g->sport = (struct gen_range) { 10000, 59999 };
    g->dport = (struct gen_range) { 9, 9 };
    g->rtp_port = 5004;
    g->seed = vnet_mono_ns() ^ (uint64_t) getpid();
    g->port.fd = -1;
    parse_options(g, argc, argv);
    check_options(g);

    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) {
        fprintf(stderr, "vnet-gen: eventfd: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    struct vnet_error *error = NULL;
    struct json_object *summary = g->tcp ? run_tcp(g, &error) : run_raw(g, &error);
    int rc = 0;
    if (error) {
        fprintf(stderr, "vnet-gen: %s\n", error->message);
        vnet_error_destroy(error);
        rc = 1;
    } else {
        const char *text = json_object_to_json_string_ext(summary, JSON_C_TO_STRING_PLAIN);
        printf("%s\n", text);
        fflush(stdout);
        if (g->out_path) {
            char *line = vnet_xasprintf("%s\n", text);
            int r = vnet_atomic_write(g->out_path, line, strlen(line), 0644);
            free(line);
            if (r) {
                fprintf(stderr, "vnet-gen: --out '%s': %s\n", g->out_path, strerror(-r));
                rc = 1;
            }
        }
        json_object_put(summary);
    }
    nf_port_close(&g->port);
    gen_flows_destroy(&g->weights);
    free(g->flows);
    free(g->sources);
    free(g->bursts);
    close(stop_fd);
    return rc;
}
