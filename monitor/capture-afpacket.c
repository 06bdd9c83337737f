/* capture-afpacket.c -- the default back end: an AF_PACKET TPACKET_V3 ring.
 *
 * Measured on these machines (notes/dpdk.md): a TPACKET_V3 ring with poll(2) lost
 * nothing at the rates veths carry, at 5-7% of a core, with kernel per-packet
 * timestamps good to a few microseconds.  A classic BPF program "ret #snaplen"
 * truncates packets in the kernel, so only headers and a payload prefix are copied
 * into the ring.  Drops are read from the kernel's PACKET_STATISTICS. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "monitor/capture-provider.h"

#define BLOCK_SIZE (1u << 18)       /* 256 KiB */
#define FRAME_SIZE 2048u
#define BLOCK_TIMEOUT_MS 10         /* bounds the buffering delay */

struct capture_afpacket {
    struct capture up;
    int fd;
    uint8_t *ring;
    size_t ring_size;
    unsigned int n_blocks;
    unsigned int block;             /* current block */
    struct tpacket3_hdr *next;      /* next packet in the current block */
    uint32_t left;                  /* packets left in the current block */
    bool holding;                   /* the current block is being read */
};

static struct capture_afpacket *
afp(struct capture *c)
{
    return (struct capture_afpacket *) c;
}

static struct tpacket_block_desc *
block_desc(struct capture_afpacket *a, unsigned int i)
{
    return (struct tpacket_block_desc *) (a->ring + (size_t) i * BLOCK_SIZE);
}

static int
fail(struct capture_afpacket *a, char **ret_error, const char *what, int err)
{
    *ret_error = vnet_xasprintf("%s: %s: %s", a->up.source, what, strerror(err));
    if (a->ring) {
        munmap(a->ring, a->ring_size);
    }
    if (a->fd >= 0) {
        close(a->fd);
    }
    capture_uninit(&a->up);
    free(a);
    return -err;
}

static int
afpacket_open(const struct capture_config *cfg, struct capture **ret, char **ret_error)
{
    struct capture_afpacket *a = vnet_xzalloc(sizeof *a);
    capture_init(&a->up, &capture_afpacket_class, cfg);
    /* Protocol 0: the socket receives nothing until bind() names the interface;
     * with ETH_P_ALL here it would take every interface's frames meanwhile and
     * count them as ring drops. */
    a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (a->fd < 0) {
        return fail(a, ret_error, "socket", errno);
    }
    unsigned int ifindex = if_nametoindex(cfg->source);
    if (!ifindex) {
        return fail(a, ret_error, "no such interface", errno);
    }
    int version = TPACKET_V3;
    if (setsockopt(a->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) {
        return fail(a, ret_error, "TPACKET_V3", errno);
    }
    struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, a->up.snaplen);
    struct sock_fprog prog = { .len = 1, .filter = &insn };
    if (setsockopt(a->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
        return fail(a, ret_error, "snaplen filter", errno);
    }
    uint32_t ring_mb = cfg->ring_mb ? cfg->ring_mb : 16;
    struct tpacket_req3 req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = ring_mb * (1u << 20) / BLOCK_SIZE,
        .tp_frame_size = FRAME_SIZE,
        .tp_retire_blk_tov = BLOCK_TIMEOUT_MS,
    };
    req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
    if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
        return fail(a, ret_error, "PACKET_RX_RING", errno);
    }
    a->n_blocks = req.tp_block_nr;
    a->ring_size = (size_t) req.tp_block_size * req.tp_block_nr;
    a->ring = mmap(NULL, a->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
    if (a->ring == MAP_FAILED) {
        a->ring = NULL;
        return fail(a, ret_error, "mmap", errno);
    }
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = (int) ifindex,
    };
    if (bind(a->fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
        return fail(a, ret_error, "bind", errno);
    }
    if (cfg->promiscuous) {
        struct packet_mreq mr = { .mr_ifindex = (int) ifindex, .mr_type = PACKET_MR_PROMISC };
        if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
            return fail(a, ret_error, "promiscuous mode", errno);
        }
    }
    *ret = &a->up;
    return 0;
}

static void
afpacket_close(struct capture *c)
{
    struct capture_afpacket *a = afp(c);
    munmap(a->ring, a->ring_size);
    close(a->fd);          /* also drops the promiscuous membership */
    capture_uninit(c);
    free(a);
}

static void
release_block(struct capture_afpacket *a)
{
    if (a->holding) {
        block_desc(a, a->block)->hdr.bh1.block_status = TP_STATUS_KERNEL;
        __sync_synchronize();
        a->block = (a->block + 1) % a->n_blocks;
        a->holding = false;
    }
}

static int
afpacket_recv(struct capture *c, struct capture_pkt *pkts, size_t max)
{
    struct capture_afpacket *a = afp(c);
    size_t n = 0;
    /* Packets handed out last time are released now. */
    if (a->holding && !a->left) {
        release_block(a);
    }
    while (n < max) {
        if (!a->holding) {
            struct tpacket_block_desc *bd = block_desc(a, a->block);
            __sync_synchronize();
            if (!(bd->hdr.bh1.block_status & TP_STATUS_USER)) {
                break;
            }
            a->holding = true;
            a->left = bd->hdr.bh1.num_pkts;
            a->next = (struct tpacket3_hdr *) ((uint8_t *) bd
                                               + bd->hdr.bh1.offset_to_first_pkt);
        }
        while (a->left && n < max) {
            struct tpacket3_hdr *h = a->next;
            const struct sockaddr_ll *sll = (const struct sockaddr_ll *)
                ((const uint8_t *) h + TPACKET_ALIGN(sizeof *h));
            if (sll->sll_pkttype != PACKET_OUTGOING) {
                pkts[n++] = (struct capture_pkt) {
                    .ts_ns = (uint64_t) h->tp_sec * 1000000000ull + h->tp_nsec,
                    .data = (const uint8_t *) h + h->tp_mac,
                    .caplen = h->tp_snaplen,
                    .len = h->tp_len,
                };
            }
            a->next = (struct tpacket3_hdr *) ((uint8_t *) h + h->tp_next_offset);
            a->left--;
        }
        if (!a->left) {
            if (n) {
                break;          /* keep the block until the caller is done */
            }
            release_block(a);
        }
    }
    return (int) n;
}

static int
afpacket_fd(const struct capture *c)
{
    return ((const struct capture_afpacket *) c)->fd;
}

static void
afpacket_update_stats(struct capture *c)
{
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    /* The kernel resets these counters on every read. */
    if (!getsockopt(afp(c)->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) {
        c->stats.drops += st.tp_drops;
    }
}

const struct capture_class capture_afpacket_class = {
    .name = "afpacket",
    .open = afpacket_open,
    .close = afpacket_close,
    .recv = afpacket_recv,
    .fd = afpacket_fd,
    .update_stats = afpacket_update_stats,
};
