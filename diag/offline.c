#include "diag/offline.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "diag/topology.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"

/* One capture file being read: the packets entering or leaving one NF. */
struct stream {
    struct pcap_input *in;
    const struct pcap_input_pkt *pkt;   /* the next packet, NULL at the end */
    uint32_t nf;
    bool out;
    uint32_t rank;              /* order at equal times: match_tie_rank() */
};

/* A binary min-heap of streams by key: (timestamp - t0) << RANK_BITS | rank, so
 * one comparison orders by time and breaks ties by rank. */
#define RANK_BITS 8
#define MAX_SPAN_NS ((UINT64_C(1) << (64 - RANK_BITS)) - 1)
_Static_assert(TOPOLOGY_MAX_NFS * 2 <= 1 << RANK_BITS, "a rank per capture file");

struct heap_entry {
    uint64_t key;
    uint32_t stream;
};

struct heap {
    struct heap_entry *e;
    size_t n;
};

static void
heap_sift_down(struct heap *h, size_t i)
{
    struct heap_entry x = h->e[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) {
            break;
        }
        c += c + 1 < h->n && h->e[c + 1].key < h->e[c].key;
        if (h->e[c].key >= x.key) {
            break;
        }
        h->e[i] = h->e[c];
        i = c;
    }
    h->e[i] = x;
}

static void
heap_push(struct heap *h, struct heap_entry x)
{
    size_t i = h->n++;
    while (i && x.key < h->e[(i - 1) / 2].key) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = x;
}

void
offline_summary_destroy(struct offline_summary *s)
{
    if (s) {
        free(s->dir);
        free(s->nfs);
        free(s);
    }
}

static struct vnet_error *
open_streams(const struct topology *topo, const struct match *m,
             struct stream *streams)
{
    struct vnet_error *error = NULL;
    for (size_t f = 1; f < topo->n_nfs && !error; f++) {
        for (int dir = 0; dir < 2 && !error; dir++) {
            struct stream *s = &streams[(f - 1) * 2 + (size_t) dir];
            const char *path = dir ? topo->nfs[f].out_path : topo->nfs[f].in_path;
            s->nf = (uint32_t) f;
            s->out = dir;
            s->rank = match_tie_rank(m, (uint32_t) f, dir);
            if ((error = pcap_input_open(path, &s->in))
                || (error = pcap_input_next(s->in, &s->pkt))) {
                break;
            }
            if (!s->pkt && !dir) {
                error = vnet_error_create(VNET_ERR_INVALID, "%s: no packets: NF \"%s\" "
                                          "received nothing in this capture (expected "
                                          "the copies of its input)", path,
                                          topo->nfs[f].name);
            }
        }
    }
    return error;
}

static void
close_streams(struct stream *streams, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pcap_input_close(streams[i].in);
    }
}

struct vnet_error *
offline_load_with(const char *dir, const struct match_config *cfg_,
                  struct diag_trace **ret, struct offline_summary **ret_summary)
{
    struct topology *topo;
    struct vnet_error *error = topology_load(dir, &topo);
    if (error) {
        return error;
    }
    struct match_config cfg;
    if (cfg_) {
        cfg = *cfg_;
    } else {
        match_config_init(&cfg);
    }
    size_t n_streams = (topo->n_nfs - 1) * 2;
    struct stream *streams = vnet_xcalloc(n_streams, sizeof *streams);
    struct heap heap = { vnet_xcalloc(n_streams, sizeof *heap.e), 0 };
    struct match_nf *mnfs = vnet_xcalloc(topo->n_nfs, sizeof *mnfs);
    struct match *m = NULL;
    uint64_t frames = 0, t_last = 0;

    topology_to_match(topo, mnfs);
    m = match_create(&cfg, mnfs, topo->n_nfs);
    if ((error = open_streams(topo, m, streams))) {
        goto out;
    }
    uint64_t t0 = UINT64_MAX;
    for (uint32_t i = 0; i < n_streams; i++) {
        if (streams[i].pkt) {
            t0 = VNET_MIN(t0, streams[i].pkt->ts_ns);
        }
    }
    for (uint32_t i = 0; i < n_streams; i++) {
        if (streams[i].pkt) {
            uint64_t key = (streams[i].pkt->ts_ns - t0) << RANK_BITS | streams[i].rank;
            heap_push(&heap, (struct heap_entry) { key, i });
        }
    }
    while (heap.n) {
        struct stream *s = &streams[heap.e[0].stream];
        const struct pcap_input_pkt *p = s->pkt;
        match_packet(m, s->nf, s->out, p->ts_ns, p->data, p->caplen);
        t_last = VNET_MAX(t_last, p->ts_ns);
        frames++;
        if ((error = pcap_input_next(s->in, &s->pkt))) {
            goto out;
        }
        if (s->pkt) {
            if (s->pkt->ts_ns - t0 > MAX_SPAN_NS) {
                error = vnet_error_create(VNET_ERR_INVALID, "%s: packet %llu: %.0f "
                                          "days after the first packet of the trace; "
                                          "expected a trace of at most %.0f days",
                                          pcap_input_path(s->in),
                                          (unsigned long long)
                                          pcap_input_stats(s->in)->packets,
                                          (double) (s->pkt->ts_ns - t0) / 864e11,
                                          (double) MAX_SPAN_NS / 864e11);
                goto out;
            }
            heap.e[0].key = (s->pkt->ts_ns - t0) << RANK_BITS | s->rank;
        } else {
            heap.e[0] = heap.e[--heap.n];
        }
        if (heap.n) {
            heap_sift_down(&heap, 0);
        }
    }

    struct diag_trace *trace = match_finish(m, t_last);
    if (ret_summary) {
        struct offline_summary *sum = vnet_xzalloc(sizeof *sum);
        sum->dir = vnet_xstrdup(topo->dir);
        sum->n_nfs = topo->n_nfs;
        sum->nfs = vnet_xcalloc(topo->n_nfs, sizeof *sum->nfs);
        for (uint32_t f = 1; f < topo->n_nfs; f++) {
            struct offline_nf_summary *nf = &sum->nfs[f];
            vnet_strlcpy(nf->name, topo->nfs[f].name, sizeof nf->name);
            nf->cls = topo->nfs[f].cls;
            match_get_stats(m, f, &nf->match);
            nf->in = *pcap_input_stats(streams[(f - 1) * 2].in);
            nf->out = *pcap_input_stats(streams[(f - 1) * 2 + 1].in);
        }
        sum->frames = frames;
        sum->n_pkts = trace->n_pkts;
        sum->n_hops = trace->n_hops;
        sum->t_start = trace->t_start;
        sum->t_end = trace->t_end;
        *ret_summary = sum;
    }
    *ret = trace;

out:
    match_destroy(m);
    close_streams(streams, n_streams);
    free(streams);
    free(heap.e);
    free(mnfs);
    topology_destroy(topo);
    return error;
}

struct vnet_error *
offline_load(const char *dir, struct diag_trace **ret)
{
    return offline_load_with(dir, NULL, ret, NULL);
}

/* ---- Rendering ------------------------------------------------------------------- */

static const char *
class_name(enum match_class cls)
{
    return cls == MATCH_NAT ? "nat" : cls == MATCH_KEYLESS ? "vpn" : "forward";
}

static void
add_u64(struct json_object *obj, const char *key, uint64_t v)
{
    json_object_object_add(obj, key, json_object_new_int64((int64_t) v));
}

struct json_object *
offline_summary_to_json(const struct offline_summary *s)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "dir", json_object_new_string(s->dir));
    add_u64(obj, "frames", s->frames);
    add_u64(obj, "packets", s->n_pkts);
    add_u64(obj, "hops", s->n_hops);
    json_object_object_add(obj, "window_s", json_object_new_double(
                               (double) (s->t_end - s->t_start) / 1e9));
    struct json_object *nfs = json_object_new_object();
    for (size_t f = 1; f < s->n_nfs; f++) {
        const struct offline_nf_summary *nf = &s->nfs[f];
        const struct match_stats *st = &nf->match;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "class", json_object_new_string(class_name(nf->cls)));
        add_u64(o, "in", st->in);
        add_u64(o, "out", st->out);
        add_u64(o, "matched", st->matched);
        json_object_object_add(o, "match_rate",
                               json_object_new_double(match_stats_rate(st)));
        add_u64(o, "matched_by_mapping", st->matched_mapping);
        add_u64(o, "unmatched_out", st->unmatched_out);
        add_u64(o, "warmup_out", st->warmup_out);
        add_u64(o, "orphan_in", st->orphan_in);
        add_u64(o, "skipped", st->skipped_in + st->skipped_out);
        add_u64(o, "reordered", st->reordered);
        add_u64(o, "late", st->late);
        add_u64(o, "in_flight", st->in_flight);
        struct json_object *d = json_object_new_object();
        add_u64(d, "tail", st->tail_drops);
        add_u64(d, "internal", st->internal_drops);
        add_u64(d, "consumed", st->consumed);
        add_u64(d, "by_fifo", st->drops_fifo);
        add_u64(d, "by_timeout", st->drops_timeout);
        json_object_object_add(o, "drops", d);
        json_object_object_add(o, "timeout_ms",
                               json_object_new_double((double) st->timeout_ns / 1e6));
        add_u64(o, "snapped", nf->in.snapped + nf->out.snapped);
        add_u64(o, "timestamps_raised", nf->in.backwards + nf->out.backwards);
        json_object_object_add(nfs, nf->name, o);
    }
    json_object_object_add(obj, "nfs", nfs);
    return obj;
}

char *
offline_summary_to_text(const struct offline_summary *s)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        return vnet_xstrdup("");
    }
    fprintf(f, "Input: %s: %llu frames, %llu packets, %llu hops over %.3f s\n", s->dir,
            (unsigned long long) s->frames, (unsigned long long) s->n_pkts,
            (unsigned long long) s->n_hops, (double) (s->t_end - s->t_start) / 1e9);
    fprintf(f, "  %-12s %-7s %10s %10s %8s %9s %8s %8s %8s %8s\n", "NF", "class", "in",
            "out", "matched", "unmatched", "tail", "internal", "consumed", "inflight");
    for (size_t i = 1; i < s->n_nfs; i++) {
        const struct offline_nf_summary *nf = &s->nfs[i];
        const struct match_stats *st = &nf->match;
        fprintf(f, "  %-12s %-7s %10llu %10llu %7.2f%% %9llu %8llu %8llu %8llu %8llu\n",
                nf->name, class_name(nf->cls), (unsigned long long) st->in,
                (unsigned long long) st->out, 100 * match_stats_rate(st),
                (unsigned long long) st->unmatched_out,
                (unsigned long long) st->tail_drops,
                (unsigned long long) st->internal_drops,
                (unsigned long long) st->consumed, (unsigned long long) st->in_flight);
        if (st->warmup_out || st->orphan_in || st->reordered || st->skipped_in
            || st->skipped_out) {
            fprintf(f, "  %-12s %llu left before the first empty queue, %llu arrived "
                    "unseen upstream, %llu reordered, %llu not IP\n", "",
                    (unsigned long long) st->warmup_out,
                    (unsigned long long) st->orphan_in,
                    (unsigned long long) st->reordered,
                    (unsigned long long) (st->skipped_in + st->skipped_out));
        }
    }
    fclose(f);
    return buf;
}
