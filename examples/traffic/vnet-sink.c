/* vnet-sink.c -- traffic sink for the example chains.
 *
 * --dev IFACE: reads every frame arriving on the interface (promiscuous, any MAC)
 * from an AF_PACKET TPACKET_V3 ring and accounts it per flow (sink-stats.h): packets,
 * bytes, bad checksums, and for vnet-gen's stamped and RTP packets loss, duplicates,
 * reordering, one-way latency and jitter.  The ring's per-packet kernel timestamps
 * (CLOCK_REALTIME, converted to CLOCK_MONOTONIC) are the receive times, so the
 * ring's block timeout adds nothing to the measured latency.
 * --tcp-listen PORT: accepts TCP connections and counts what they deliver.
 *
 * Stops at SIGTERM/SIGINT or after --duration, then prints a JSON summary on stdout
 * (and writes it atomically to --out FILE).  Prints "vnet-sink: ready" on stderr
 * once it receives. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "examples/nf/pkt.h"
#include "examples/traffic/gen-plan.h"
#include "examples/traffic/sink-stats.h"
#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BLOCK_SIZE (1u << 18)       /* 256 KiB */
#define BLOCK_NR 64
#define FRAME_SIZE 2048u
#define BLOCK_TIMEOUT_MS 10
#define MAX_CONNS 64

struct ring {
    int fd;
    uint8_t *map;
    size_t size;
    unsigned int block;             /* next block to read */
    uint64_t kernel_drops;
};

struct conn {
    int fd;                         /* -1 once closed */
    char peer[32];
    uint64_t bytes, first_ns, last_ns;
};

struct sink {
    const char *dev, *out_path;
    unsigned long long tcp_port;
    uint64_t duration_ns, interval_ns;
    unsigned long long max_flows;
    struct sink_filter filter;
    struct ring ring;
    int listen_fd;
    struct conn conns[MAX_CONNS];
    size_t n_conns;
    struct sink_stats *stats;
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

static struct vnet_error *
ring_open(struct ring *r, const char *dev)
{
    struct vnet_error *error = NULL;
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int ifindex = (int) if_nametoindex(dev);
    if (!ifindex) {
        return vnet_error_from_errno(-errno, "--dev '%s'", dev);
    }
    r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        return vnet_error_from_errno(-errno, "--dev '%s': AF_PACKET socket (needs "
                                     "CAP_NET_RAW)", dev);
    }
    int version = TPACKET_V3, one = 1;
    struct tpacket_req3 req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = BLOCK_NR,
        .tp_frame_size = FRAME_SIZE,
        .tp_frame_nr = BLOCK_SIZE / FRAME_SIZE * BLOCK_NR,
        .tp_retire_blk_tov = BLOCK_TIMEOUT_MS,
    };
    if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version)
        || setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)
        || setsockopt(r->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one)) {
        error = vnet_error_from_errno(-errno, "--dev '%s': TPACKET_V3 ring", dev);
        goto fail;
    }
    r->size = (size_t) BLOCK_SIZE * BLOCK_NR;
    r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd, 0);
    if (r->map == MAP_FAILED) {
        r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    }
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        error = vnet_error_from_errno(-errno, "--dev '%s': mmap", dev);
        goto fail;
    }
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex,
                               .sll_protocol = htons(ETH_P_ALL) };
    struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
    if (bind(r->fd, (struct sockaddr *) &sll, sizeof sll)
        || setsockopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) {
        error = vnet_error_from_errno(-errno, "--dev '%s': bind", dev);
        goto fail;
    }
    return NULL;

fail:
    if (r->map) {
        munmap(r->map, r->size);
    }
    close(r->fd);
    r->fd = -1;
    return error;
}

static void
ring_close(struct ring *r)
{
    if (r->fd >= 0) {
        munmap(r->map, r->size);
        close(r->fd);
        r->fd = -1;
    }
}

static void
ring_read_drops(struct ring *r)
{
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    if (!getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) {
        r->kernel_drops += st.tp_drops;     /* the kernel resets them on read */
    }
}

/* Accounts every block the kernel has handed over. */
static void
ring_drain(struct ring *r, struct sink_stats *stats)
{
    for (;;) {
        struct tpacket_block_desc *desc =
            (struct tpacket_block_desc *) (r->map + (size_t) r->block * BLOCK_SIZE);
        if (!(__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE)
              & TP_STATUS_USER)) {
            return;
        }
        /* Kernel stamps are CLOCK_REALTIME; the payload stamps CLOCK_MONOTONIC. */
        int64_t offset = (int64_t) vnet_mono_ns() - (int64_t) vnet_wall_ns();
        uint32_t n = desc->hdr.bh1.num_pkts;
        struct tpacket3_hdr *h =
            (struct tpacket3_hdr *) ((uint8_t *) desc + desc->hdr.bh1.offset_to_first_pkt);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t real = (uint64_t) h->tp_sec * 1000000000ull + h->tp_nsec;
            uint64_t t_rx = (uint64_t) ((int64_t) real + offset);
            bool csum_valid = !(h->tp_status & TP_STATUS_CSUMNOTREADY);
            sink_stats_frame(stats, (uint8_t *) h + h->tp_mac, h->tp_snaplen, t_rx,
                             csum_valid);
            h = (struct tpacket3_hdr *) ((uint8_t *) h + h->tp_next_offset);
        }
        __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        r->block = (r->block + 1) % BLOCK_NR;
    }
}

static struct vnet_error *
tcp_listen(struct sink *s)
{
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0) {
        return vnet_error_from_errno(-errno, "--tcp-listen: socket");
    }
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t) s->tcp_port) };
    if (bind(s->listen_fd, (struct sockaddr *) &sin, sizeof sin)
        || listen(s->listen_fd, 16)) {
        return vnet_error_from_errno(-errno, "--tcp-listen %llu", s->tcp_port);
    }
    return NULL;
}

static void
tcp_accept(struct sink *s)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(s->listen_fd, (struct sockaddr *) &peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        if (s->n_conns == MAX_CONNS) {
            close(fd);
            continue;
        }
        struct conn *c = &s->conns[s->n_conns++];
        char ip[16];
        *c = (struct conn) { .fd = fd };
        snprintf(c->peer, sizeof c->peer, "%s:%u",
                 pkt_ip_to_string(ntohl(peer.sin_addr.s_addr), ip, sizeof ip),
                 ntohs(peer.sin_port));
    }
}

static void
tcp_read(struct conn *c)
{
    static uint8_t buf[1 << 16];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            uint64_t now = vnet_mono_ns();
            if (!c->bytes) {
                c->first_ns = now;
            }
            c->bytes += (uint64_t) r;
            c->last_ns = now;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        close(c->fd);
        c->fd = -1;
        return;
    }
}

static struct json_object *
jdouble(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    return json_object_new_double_s(v, buf);
}

static struct json_object *
summary(struct sink *s)
{
    struct json_object *o = sink_stats_to_json(s->stats, vnet_mono_ns(), s->max_flows);
    if (s->dev) {
        ring_read_drops(&s->ring);
        json_object_object_add(o, "dev", json_object_new_string(s->dev));
        json_object_object_add(o, "kernel_drops", json_object_new_uint64(s->ring.kernel_drops));
    }
    if (s->listen_fd >= 0) {
        struct json_object *conns = json_object_new_array();
        for (size_t i = 0; i < s->n_conns; i++) {
            const struct conn *c = &s->conns[i];
            double secs = (double) (c->last_ns - c->first_ns) / 1e9;
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "peer", json_object_new_string(c->peer));
            json_object_object_add(e, "bytes", json_object_new_uint64(c->bytes));
            json_object_object_add(e, "duration_s", jdouble(secs));
            json_object_object_add(e, "mbit_s", jdouble(
                secs > 0 ? (double) c->bytes * 8 / secs / 1e6 : 0));
            json_object_array_add(conns, e);
        }
        json_object_object_add(o, "tcp", conns);
    }
    return o;
}

static void
run(struct sink *s)
{
    uint64_t t0 = vnet_mono_ns();
    uint64_t deadline = s->duration_ns ? t0 + s->duration_ns : UINT64_MAX;
    uint64_t next_stats = t0 + 1000000000;
    fprintf(stderr, "vnet-sink: ready\n");
    while (!stop_requested) {
        struct pollfd fds[3 + MAX_CONNS];
        nfds_t n = 0;
        fds[n++] = (struct pollfd) { .fd = stop_fd, .events = POLLIN };
        if (s->dev) {
            ring_drain(&s->ring, s->stats);
            fds[n++] = (struct pollfd) { .fd = s->ring.fd, .events = POLLIN };
        }
        if (s->listen_fd >= 0) {
            fds[n++] = (struct pollfd) { .fd = s->listen_fd, .events = POLLIN };
            for (size_t i = 0; i < s->n_conns; i++) {
                if (s->conns[i].fd >= 0) {
                    fds[n++] = (struct pollfd) { .fd = s->conns[i].fd, .events = POLLIN };
                }
            }
        }
        uint64_t now = vnet_mono_ns();
        if (now >= deadline) {
            break;
        }
        if (s->dev && now >= next_stats) {
            ring_read_drops(&s->ring);      /* the kernel counter is only 32 bits */
            next_stats = now + 1000000000;
        }
        uint64_t wake = VNET_MIN(deadline, next_stats);
        int timeout = (int) VNET_MIN((wake - now + 999999) / 1000000, 1000u);
        if (poll(fds, n, timeout) < 0 && errno != EINTR) {
            break;
        }
        if (s->listen_fd >= 0) {
            tcp_accept(s);
            for (size_t i = 0; i < s->n_conns; i++) {
                if (s->conns[i].fd >= 0) {
                    tcp_read(&s->conns[i]);
                }
            }
        }
    }
    if (s->dev) {
        ring_drain(&s->ring, s->stats);
    }
    for (size_t i = 0; i < s->n_conns; i++) {
        if (s->conns[i].fd >= 0) {
            tcp_read(&s->conns[i]);
        }
    }
}

static void __attribute__((noreturn))
usage(void)
{
    printf("usage: vnet-sink [--dev IFACE] [--tcp-listen PORT] [options]\n"
           "  --dev IFACE        count frames arriving on IFACE (AF_PACKET, promiscuous)\n"
           "  --dst IP           only packets to this IPv4 address\n"
           "  --dport LO[-HI]    only packets to these TCP/UDP ports\n"
           "  --rtp-port LO[-HI] decode UDP to these ports as RTP (vnet-gen's RTP is\n"
           "                     recognised anyway)\n"
           "  --tcp-listen PORT  accept TCP connections and count their bytes\n"
           "  --interval D       latency percentiles per interval of D (e.g. 100ms)\n"
           "  --duration D       stop after D (default: at SIGTERM/SIGINT)\n"
           "  --max-flows N      list at most N flows in the summary (default 10000)\n"
           "  --out FILE         also write the JSON summary to FILE\n");
    exit(0);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("vnet-sink: ", stderr);
    vfprintf(stderr, fmt, args);
    fputs(" (see --help)\n", stderr);
    va_end(args);
    exit(1);
}

static void
parse_options(struct sink *s, int argc, char *argv[])
{
    enum { O_DEV = 256, O_DST, O_DPORT, O_RTP_PORT, O_TCP, O_INTERVAL, O_DURATION,
           O_MAX_FLOWS, O_OUT };
    static const struct option options[] = {
        { "dev", required_argument, NULL, O_DEV },
        { "dst", required_argument, NULL, O_DST },
        { "dport", required_argument, NULL, O_DPORT },
        { "rtp-port", required_argument, NULL, O_RTP_PORT },
        { "tcp-listen", required_argument, NULL, O_TCP },
        { "interval", required_argument, NULL, O_INTERVAL },
        { "duration", required_argument, NULL, O_DURATION },
        { "max-flows", required_argument, NULL, O_MAX_FLOWS },
        { "out", required_argument, NULL, O_OUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    struct gen_range range;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case O_DEV:
            s->dev = optarg;
            break;
        case O_DST:
            if (pkt_parse_ipv4(optarg, &s->filter.dst)) {
                usage_error("--dst: expected an IPv4 address a.b.c.d, got '%s'", optarg);
            }
            s->filter.has_dst = true;
            break;
        case O_DPORT:
        case O_RTP_PORT:
            if (gen_range_parse(optarg, &range)) {
                usage_error("--%s: expected a port N or a range LO-HI (0..65535), got '%s'",
                            opt == O_DPORT ? "dport" : "rtp-port", optarg);
            }
            if (opt == O_DPORT) {
                s->filter.dport_lo = range.lo;
                s->filter.dport_hi = range.hi;
            } else {
                s->filter.rtp_port_lo = range.lo;
                s->filter.rtp_port_hi = range.hi;
            }
            break;
        case O_TCP:
            if (vnet_parse_uint(optarg, 1, 65535, &s->tcp_port)) {
                usage_error("--tcp-listen: expected a port 1..65535, got '%s'", optarg);
            }
            break;
        case O_INTERVAL:
        case O_DURATION:
            if (vnet_parse_duration(optarg, opt == O_INTERVAL ? &s->interval_ns
                                                                : &s->duration_ns)
                || !(opt == O_INTERVAL ? s->interval_ns : s->duration_ns)) {
                usage_error("--%s: expected a duration such as 5s or 100ms, got '%s'",
                            opt == O_INTERVAL ? "interval" : "duration", optarg);
            }
            break;
        case O_MAX_FLOWS:
            if (vnet_parse_uint(optarg, 0, 100000000, &s->max_flows)) {
                usage_error("--max-flows: expected an integer 0..100000000, got '%s'",
                            optarg);
            }
            break;
        case O_OUT:
            s->out_path = optarg;
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
    if (!s->dev && !s->tcp_port) {
        usage_error("expected --dev IFACE and/or --tcp-listen PORT");
    }
}

int
main(int argc, char *argv[])
{
    static struct sink sink_storage;
    struct sink *s = &sink_storage;
    s->filter = (struct sink_filter) { .dport_hi = 65535, .rtp_port_lo = 1,
                                       .rtp_port_hi = 0 };
    s->max_flows = 10000;
    s->listen_fd = -1;
    s->ring.fd = -1;
    parse_options(s, argc, argv);

    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) {
        fprintf(stderr, "vnet-sink: eventfd: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    struct vnet_error *error = NULL;
    if ((s->dev && (error = ring_open(&s->ring, s->dev)))
        || (s->tcp_port && (error = tcp_listen(s)))) {
        fprintf(stderr, "vnet-sink: %s\n", error->message);
        vnet_error_destroy(error);
        goto out;
    }
    s->stats = sink_stats_create(&s->filter, s->interval_ns, vnet_mono_ns());
    run(s);

    struct json_object *o = summary(s);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    printf("%s\n", text);
    fflush(stdout);
    rc = 0;
    if (s->out_path) {
        char *line = vnet_xasprintf("%s\n", text);
        int r = vnet_atomic_write(s->out_path, line, strlen(line), 0644);
        free(line);
        if (r) {
            fprintf(stderr, "vnet-sink: --out '%s': %s\n", s->out_path, strerror(-r));
            rc = 1;
        }
    }
    json_object_put(o);

out:
    ring_close(&s->ring);
    for (size_t i = 0; i < s->n_conns; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    sink_stats_destroy(s->stats);
    close(stop_fd);
    return rc;
}
