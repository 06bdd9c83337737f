#include "shadow/pairing.h"

#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "diag/pcap-input.h"
#include "diag/u64map.h"
#include "lib/error.h"
#include "lib/util.h"
#include "shadow/compare.h"

enum { CLS_VOIP, CLS_UDP, CLS_TCP, CLS_OTHER, N_CLASSES };

static const struct compare_class classes[N_CLASSES] = {
    [CLS_VOIP] = { .name = "voip", .voip = true, .codec = EMODEL_G711 },
    [CLS_UDP] = { .name = "udp" },
    [CLS_TCP] = { .name = "tcp" },
    [CLS_OTHER] = { .name = "other" },
};

struct pairing {
    uint64_t exit_timeout;
    struct compare_pkt *pkts;
    size_t n, cap;
    struct u64map voip_flows;   /* flow hash -> 1: flows seen carrying RTP */
    uint64_t entries, skipped;
};

struct pairing *
pairing_create(uint64_t exit_timeout_ns)
{
    struct pairing *p = vnet_xzalloc(sizeof *p);
    p->exit_timeout = exit_timeout_ns;
    return p;
}

void
pairing_destroy(struct pairing *p)
{
    if (p) {
        u64map_destroy(&p->voip_flows);
        free(p->pkts);
        free(p);
    }
}

/* True if the UDP payload of 'frame' looks like RTP v2 with a voice codec. */
static bool
is_rtp(const uint8_t *frame, size_t caplen, const struct packet_info *pi)
{
    if (pi->flow.proto != 17 || pi->l3 != PACKET_L3_IPV4 || caplen < 14 + 20 + 8 + 12) {
        return false;
    }
    size_t l2 = 14 + (pi->flags & PACKET_F_VLAN ? 4 : 0);
    if (caplen < l2 + 1) {
        return false;
    }
    size_t ihl = (size_t) (frame[l2] & 0x0f) * 4;
    size_t off = l2 + ihl + 8;
    if (caplen < off + 12) {
        return false;
    }
    uint8_t pt = frame[off + 1] & 0x7f;
    return frame[off] >> 6 == 2 && (pt == 0 || pt == 8 || pt == 18);
}

/* The first exit time at or after each key's entry: key -> earliest exit. */
static struct vnet_error *
read_exits(const char *path, struct u64map *exits)
{
    struct pcap_input *in;
    struct vnet_error *error = pcap_input_open(path, &in);
    if (error) {
        return error;
    }
    const struct pcap_input_pkt *pkt;
    while (!(error = pcap_input_next(in, &pkt)) && pkt) {
        struct packet_info pi;
        if (packet_parse_keys(pkt->data, pkt->caplen, PACKET_KEY_INVARIANT, &pi)) {
            continue;
        }
        bool inserted;
        union u64map_val *v = u64map_slot(exits, pi.invariant_key, &inserted);
        if (inserted) {
            v->u = pkt->ts_ns;
        }
    }
    pcap_input_close(in);
    return error;
}

struct vnet_error *
pairing_add_dir(struct pairing *p, const char *dir, int production_side, uint64_t lo_ns,
                uint64_t hi_ns)
{
    struct u64map exits[2] = { U64MAP_INITIALIZER, U64MAP_INITIALIZER };
    struct vnet_error *error = NULL;
    for (int side = 0; side < 2 && !error; side++) {
        char *path = vnet_xasprintf("%s/exit%d.pcap", dir, side);
        error = read_exits(path, &exits[side]);
        free(path);
    }
    struct pcap_input *in = NULL;
    char *path = vnet_xasprintf("%s/ingress.pcap", dir);
    if (!error) {
        error = pcap_input_open(path, &in);
    }
    free(path);
    const struct pcap_input_pkt *pkt;
    while (!error && !(error = pcap_input_next(in, &pkt)) && pkt) {
        if (pkt->ts_ns < lo_ns || pkt->ts_ns >= hi_ns) {
            continue;
        }
        p->entries++;
        struct packet_info pi;
        if (packet_parse_keys(pkt->data, pkt->caplen, PACKET_KEY_INVARIANT, &pi)) {
            p->skipped++;
            continue;
        }
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 4096;
            p->pkts = vnet_xrealloc(p->pkts, p->cap * sizeof *p->pkts);
        }
        struct compare_pkt *cp = &p->pkts[p->n++];
        *cp = (struct compare_pkt) { .t_entry = pkt->ts_ns, .flow = pi.flow };
        uint64_t fh = packet_flow_hash(&pi.flow);
        if (is_rtp(pkt->data, pkt->caplen, &pi)) {
            u64map_slot(&p->voip_flows, fh, NULL)->u = 1;
        }
        cp->cls = u64map_find(&p->voip_flows, fh) ? CLS_VOIP
                  : pi.flow.proto == 17 ? CLS_UDP : pi.flow.proto == 6 ? CLS_TCP
                  : CLS_OTHER;
        for (int side = 0; side < 2; side++) {
            union u64map_val *v = u64map_find(&exits[side], pi.invariant_key);
            bool out = v && v->u >= pkt->ts_ns && v->u - pkt->ts_ns <= p->exit_timeout;
            bool prod = side == production_side;
            *(prod ? &cp->prod : &cp->shadow) = out ? COMPARE_DELIVERED : COMPARE_LOST;
            *(prod ? &cp->t_exit_prod : &cp->t_exit_shadow) = out ? v->u : 0;
        }
    }
    pcap_input_close(in);
    u64map_destroy(&exits[0]);
    u64map_destroy(&exits[1]);
    return error;
}

static int
cmp_entry(const void *a_, const void *b_)
{
    const struct compare_pkt *a = a_, *b = b_;
    return a->t_entry < b->t_entry ? -1 : a->t_entry > b->t_entry;
}

void
pairing_input(struct pairing *p, struct compare_input *ret)
{
    /* A flow recognised as RTP late: its earlier packets join the class too. */
    for (size_t i = 0; i < p->n; i++) {
        if (p->pkts[i].cls != CLS_VOIP
            && u64map_find(&p->voip_flows, packet_flow_hash(&p->pkts[i].flow))) {
            p->pkts[i].cls = CLS_VOIP;
        }
    }
    qsort(p->pkts, p->n, sizeof *p->pkts, cmp_entry);
    *ret = (struct compare_input) {
        .pkts = p->pkts, .n_pkts = p->n, .classes = classes, .n_classes = N_CLASSES,
    };
}

uint64_t
pairing_entries(const struct pairing *p)
{
    return p->entries;
}

uint64_t
pairing_skipped(const struct pairing *p)
{
    return p->skipped;
}
