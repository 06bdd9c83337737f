/* sink-stats.c -- per-flow traffic statistics of vnet-sink. */
#include "examples/traffic/sink-stats.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/emodel.h"
#include "examples/nf/pkt.h"
#include "examples/traffic/payload.h"
#include "lib/util.h"

/* Histogram. */

void
sink_hist_init(struct sink_hist *h)
{
    memset(h, 0, sizeof *h);
}

static unsigned int
hist_bucket(uint64_t v)
{
    if (v < 64) {
        return (unsigned int) v;
    }
    int e = 63 - __builtin_clzll(v) - 5;            /* v >> e is in [32, 63] */
    if (e > 36) {
        return SINK_HIST_BUCKETS - 1;
    }
    return 64 + (unsigned int) (e - 1) * 32 + (unsigned int) ((v >> e) - 32);
}

static uint64_t
hist_value(unsigned int idx)
{
    if (idx < 64) {
        return idx;
    }
    unsigned int e = (idx - 64) / 32 + 1;
    uint64_t m = (idx - 64) % 32 + 32;
    uint64_t lo = m << e, hi = ((m + 1) << e) - 1;
    return lo + (hi - lo) / 2;
}

void
sink_hist_add(struct sink_hist *h, uint64_t v)
{
    if (!h->n || v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
    h->n++;
    h->sum += (double) v;
    h->counts[hist_bucket(v)]++;
}

uint64_t
sink_hist_percentile(const struct sink_hist *h, double p)
{
    if (!h->n) {
        return 0;
    }
    uint64_t rank = (uint64_t) ceil(p / 100.0 * (double) h->n);
    rank = VNET_MAX(rank, 1);
    if (rank >= h->n) {
        return h->max;
    }
    uint64_t seen = 0;
    for (unsigned int i = 0; i < SINK_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return VNET_MIN(VNET_MAX(v, h->min), h->max);
        }
    }
    return h->max;
}

/* Sequence numbers. */

#define WORDS (SINK_SEQ_WINDOW / 64)

static bool
bit_get(const uint64_t *w, uint64_t seq)
{
    uint64_t i = seq % SINK_SEQ_WINDOW;
    return (w[i / 64] >> (i % 64)) & 1;
}

static void
bit_set(uint64_t *w, uint64_t seq)
{
    uint64_t i = seq % SINK_SEQ_WINDOW;
    w[i / 64] |= 1ull << (i % 64);
}

static void
bit_clear(uint64_t *w, uint64_t seq)
{
    uint64_t i = seq % SINK_SEQ_WINDOW;
    w[i / 64] &= ~(1ull << (i % 64));
}

enum sink_seq_result
sink_seq_add(struct sink_seq *s, uint64_t seq)
{
    if (!s->window) {
        s->window = vnet_xcalloc(WORDS, sizeof *s->window);
    }
    if (!s->started) {
        s->started = true;
        s->lowest = s->highest = seq;
        s->received = 1;
        bit_set(s->window, seq);
        return SINK_SEQ_NEW;
    }
    if (seq > s->highest) {
        if (seq - s->highest >= SINK_SEQ_WINDOW) {
            memset(s->window, 0, WORDS * sizeof *s->window);
        } else {
            for (uint64_t x = s->highest + 1; x < seq; x++) {
                bit_clear(s->window, x);
            }
        }
        bit_set(s->window, seq);
        s->highest = seq;
        s->received++;
        return SINK_SEQ_NEW;
    }
    if (seq < s->lowest) {
        s->lowest = seq;
    }
    if (s->highest - seq < SINK_SEQ_WINDOW) {
        if (bit_get(s->window, seq)) {
            s->duplicates++;
            return SINK_SEQ_DUPLICATE;
        }
        bit_set(s->window, seq);
    }
    s->received++;
    s->reordered++;
    return SINK_SEQ_REORDERED;
}

uint64_t
sink_seq_expected(const struct sink_seq *s)
{
    return s->started ? s->highest - s->lowest + 1 : 0;
}

uint64_t
sink_seq_lost(const struct sink_seq *s)
{
    uint64_t expected = sink_seq_expected(s);
    return expected > s->received ? expected - s->received : 0;
}

void
sink_seq_destroy(struct sink_seq *s)
{
    free(s->window);
    s->window = NULL;
}

uint64_t
sink_seq_extend16(const struct sink_seq *s, uint16_t seq)
{
    if (!s->started) {
        return (1ull << 32) + seq;          /* room below for early reordering */
    }
    int16_t delta = (int16_t) (seq - (uint16_t) s->highest);
    return (uint64_t) ((int64_t) s->highest + delta);
}

/* Jitter. */

void
sink_jitter_add(struct sink_jitter *j, int64_t r_ns, int64_t s_ns)
{
    if (j->started) {
        double d = (double) ((r_ns - j->prev_r) - (s_ns - j->prev_s));
        j->j += (fabs(d) - j->j) / 16.0;
    }
    j->started = true;
    j->prev_r = r_ns;
    j->prev_s = s_ns;
}

/* Flows. */

enum flow_kind { FLOW_PLAIN, FLOW_STAMP, FLOW_RTP };

struct flow_key {
    uint32_t sip, dip;
    uint16_t sport, dport;
    uint8_t proto;
};

struct flow {
    struct flow_key key;
    enum flow_kind kind;
    uint64_t packets, bytes, bad_csum;
    uint64_t first_ns, last_ns;
    uint32_t stamp_flow;            /* the generator's flow id */
    uint32_t ssrc;
    struct sink_seq seq;
    struct { uint64_t first, count, t_ns; } gaps[SINK_GAPS];  /* the first gaps */
    size_t n_gaps;
    struct sink_hist *lat;          /* allocated with the first latency sample */
    struct sink_jitter jitter;
    bool rtp_started;
    uint32_t rtp_prev_ts;
    int64_t rtp_ts_ns;              /* extended RTP timestamp, ns */
    uint64_t *rtp_delay;            /* one-way delay by extended RTP sequence number
                                     * - rtp_first (EMODEL_LOST: not received) */
    uint64_t rtp_first;
    size_t rtp_n, rtp_cap;
};

struct interval {
    uint64_t index;
    uint64_t packets;
    uint64_t n_lat, p50, p99, max;
};

struct sink_stats {
    struct sink_filter filter;
    uint64_t t0_ns, interval_ns;
    struct flow **flows;
    size_t n_flows, flows_cap;
    uint32_t *table;                /* open addressing: flow index + 1 */
    size_t table_size;              /* power of 2 */
    uint64_t rx, rx_bytes, filtered, other;
    struct sink_hist all;
    struct sink_hist cur;           /* the current interval */
    uint64_t cur_index, cur_packets;
    bool cur_started;
    struct interval *series;
    size_t n_series, series_cap;
};

struct sink_stats *
sink_stats_create(const struct sink_filter *filter, uint64_t interval_ns, uint64_t t0_ns)
{
    struct sink_stats *s = vnet_xzalloc(sizeof *s);
    s->filter = *filter;
    s->interval_ns = interval_ns;
    s->t0_ns = t0_ns;
    s->table_size = 1024;
    s->table = vnet_xcalloc(s->table_size, sizeof *s->table);
    return s;
}

void
sink_stats_destroy(struct sink_stats *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_flows; i++) {
        sink_seq_destroy(&s->flows[i]->seq);
        free(s->flows[i]->lat);
        free(s->flows[i]->rtp_delay);
        free(s->flows[i]);
    }
    free(s->flows);
    free(s->table);
    free(s->series);
    free(s);
}

static uint32_t
key_hash(const struct flow_key *k)
{
    uint64_t h = ((uint64_t) k->sip << 32 | k->dip) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t) k->sport << 24 | (uint64_t) k->dport << 8 | k->proto)
         * 0xc2b2ae3d27d4eb4full;
    return (uint32_t) (h ^ (h >> 29));
}

static bool
key_equal(const struct flow_key *a, const struct flow_key *b)
{
    return a->sip == b->sip && a->dip == b->dip && a->sport == b->sport
           && a->dport == b->dport && a->proto == b->proto;
}

static void
table_insert(uint32_t *table, size_t size, const struct flow_key *k, uint32_t value)
{
    size_t i = key_hash(k) & (size - 1);
    while (table[i]) {
        i = (i + 1) & (size - 1);
    }
    table[i] = value;
}

static struct flow *
flow_lookup(struct sink_stats *s, const struct flow_key *k, uint64_t now)
{
    size_t i = key_hash(k) & (s->table_size - 1);
    while (s->table[i]) {
        struct flow *f = s->flows[s->table[i] - 1];
        if (key_equal(&f->key, k)) {
            return f;
        }
        i = (i + 1) & (s->table_size - 1);
    }

    if ((s->n_flows + 1) * 2 > s->table_size) {
        size_t size = s->table_size * 2;
        uint32_t *table = vnet_xcalloc(size, sizeof *table);
        for (size_t j = 0; j < s->n_flows; j++) {
            table_insert(table, size, &s->flows[j]->key, (uint32_t) j + 1);
        }
        free(s->table);
        s->table = table;
        s->table_size = size;
    }
    struct flow *f = vnet_xzalloc(sizeof *f);
    f->key = *k;
    f->first_ns = now;
    vnet_grow((void **) &s->flows, &s->flows_cap, s->n_flows + 1, sizeof *s->flows);
    s->flows[s->n_flows++] = f;
    table_insert(s->table, s->table_size, k, (uint32_t) s->n_flows);
    return f;
}

static void
close_interval(struct sink_stats *s)
{
    if (!s->cur_started || !s->cur_packets) {
        return;
    }
    vnet_grow((void **) &s->series, &s->series_cap, s->n_series + 1, sizeof *s->series);
    s->series[s->n_series++] = (struct interval) {
        .index = s->cur_index,
        .packets = s->cur_packets,
        .n_lat = s->cur.n,
        .p50 = sink_hist_percentile(&s->cur, 50),
        .p99 = sink_hist_percentile(&s->cur, 99),
        .max = s->cur.max,
    };
}

static void
advance_interval(struct sink_stats *s, uint64_t t_rx)
{
    if (!s->interval_ns) {
        return;
    }
    uint64_t index = t_rx > s->t0_ns ? (t_rx - s->t0_ns) / s->interval_ns : 0;
    if (!s->cur_started || index > s->cur_index) {
        close_interval(s);
        sink_hist_init(&s->cur);
        s->cur_index = index;
        s->cur_packets = 0;
        s->cur_started = true;
    }
    s->cur_packets++;
}

static void
add_latency(struct sink_stats *s, struct flow *f, uint64_t t_rx, uint64_t t_send)
{
    uint64_t lat = t_rx > t_send ? t_rx - t_send : 0;
    if (!f->lat) {
        f->lat = vnet_xmalloc(sizeof *f->lat);
        sink_hist_init(f->lat);
    }
    sink_hist_add(f->lat, lat);
    sink_hist_add(&s->all, lat);
    if (s->interval_ns) {
        sink_hist_add(&s->cur, lat);
    }
}

static bool
checksums_ok(const uint8_t *frame, const struct pkt_info *info)
{
    const uint8_t *ip = frame + info->l3_off;
    if (pkt_csum_fold(pkt_csum_add(0, ip, info->ihl))) {
        return false;
    }
    if (!info->l4 || info->frag || info->proto == PKT_IPPROTO_ICMP) {
        return true;
    }
    const uint8_t *l4 = frame + info->l4_off;
    size_t l4_len = info->ip_len - info->ihl;
    if (info->proto == PKT_IPPROTO_UDP && !pkt_get16(l4 + 6)) {
        return true;                        /* no checksum */
    }
    uint32_t sum = (info->sip >> 16) + (info->sip & 0xffff) + (info->dip >> 16)
                   + (info->dip & 0xffff) + info->proto + (uint32_t) l4_len;
    return !pkt_csum_fold(pkt_csum_add(sum, l4, l4_len));
}

/* Records the one-way delay of RTP packet 'ext' for the E-model (packets before
 * the first one seen, or more than 2^20 past it, are left out). */
static void
rtp_delay_add(struct flow *f, uint64_t ext, uint64_t delay)
{
    if (!f->rtp_n) {
        f->rtp_first = ext;
    }
    if (ext < f->rtp_first || ext - f->rtp_first >= (1u << 20)) {
        return;
    }
    size_t i = (size_t) (ext - f->rtp_first);
    if (i >= f->rtp_cap) {
        size_t cap = VNET_MAX(f->rtp_cap * 2, i + 1);
        cap = VNET_MAX(cap, (size_t) 256);
        f->rtp_delay = vnet_xrealloc(f->rtp_delay, cap * sizeof *f->rtp_delay);
        for (size_t k = f->rtp_cap; k < cap; k++) {
            f->rtp_delay[k] = EMODEL_LOST;
        }
        f->rtp_cap = cap;
    }
    f->rtp_delay[i] = delay;
    f->rtp_n = VNET_MAX(f->rtp_n, i + 1);
}

static void
account_payload(struct sink_stats *s, struct flow *f, const uint8_t *p, size_t len,
                uint64_t t_rx)
{
    struct payload_stamp st;
    struct payload_rtp rtp;
    bool rtp_port = f->key.dport >= s->filter.rtp_port_lo
                    && f->key.dport <= s->filter.rtp_port_hi;
    if (payload_stamp_decode(p, len, &st)) {
        f->kind = FLOW_STAMP;
        f->stamp_flow = st.flow;
        bool started = f->seq.started;
        uint64_t highest = f->seq.highest;
        if (sink_seq_add(&f->seq, st.seq) == SINK_SEQ_DUPLICATE) {
            return;
        }
        if (started && st.seq > highest + 1 && f->n_gaps < SINK_GAPS) {
            /* Where the losses were (a later reordered packet may fill some). */
            f->gaps[f->n_gaps].first = highest + 1;
            f->gaps[f->n_gaps].count = st.seq - highest - 1;
            f->gaps[f->n_gaps++].t_ns = t_rx;
        }
        add_latency(s, f, t_rx, st.t_send_ns);
        sink_jitter_add(&f->jitter, (int64_t) t_rx, (int64_t) st.t_send_ns);
    } else if (payload_rtp_decode(p, len, &rtp) && (rtp.has_send_time || rtp_port)) {
        f->kind = FLOW_RTP;
        f->ssrc = rtp.ssrc;
        uint64_t ext = sink_seq_extend16(&f->seq, rtp.seq);
        if (sink_seq_add(&f->seq, ext) == SINK_SEQ_DUPLICATE) {
            return;
        }
        if (rtp.has_send_time) {
            add_latency(s, f, t_rx, rtp.t_send_ns);
            rtp_delay_add(f, ext, t_rx > rtp.t_send_ns ? t_rx - rtp.t_send_ns : 0);
        }
        if (f->rtp_started) {
            f->rtp_ts_ns += (int64_t) (int32_t) (rtp.timestamp - f->rtp_prev_ts)
                            * (1000000000 / PAYLOAD_RTP_CLOCK_HZ);
        }
        f->rtp_started = true;
        f->rtp_prev_ts = rtp.timestamp;
        sink_jitter_add(&f->jitter, (int64_t) t_rx, f->rtp_ts_ns);
    }
}

void
sink_stats_frame(struct sink_stats *s, const uint8_t *frame, size_t len, uint64_t t_rx,
                 bool csum_valid)
{
    struct pkt_info info;
    pkt_parse(frame, len, &info);
    if (!info.ipv4) {
        s->other++;
        return;
    }
    bool full_ports = s->filter.dport_lo == 0 && s->filter.dport_hi == 65535;
    bool has_ports = info.l4 && info.proto != PKT_IPPROTO_ICMP;
    if ((s->filter.has_dst && info.dip != s->filter.dst)
        || (!full_ports && (!has_ports || info.dport < s->filter.dport_lo
                            || info.dport > s->filter.dport_hi))) {
        s->filtered++;
        return;
    }
    struct flow_key key = {
        .sip = info.sip, .dip = info.dip, .proto = info.proto,
        .sport = has_ports ? info.sport : 0, .dport = has_ports ? info.dport : 0,
    };
    struct flow *f = flow_lookup(s, &key, t_rx);
    f->packets++;
    f->bytes += len;
    f->last_ns = t_rx;
    s->rx++;
    s->rx_bytes += len;
    advance_interval(s, t_rx);
    if (csum_valid && !checksums_ok(frame, &info)) {
        f->bad_csum++;
        return;
    }
    if (info.l4 && !info.frag && info.proto == PKT_IPPROTO_UDP) {
        size_t off = info.l4_off + 8u;
        size_t end = (size_t) info.l3_off + info.ip_len;
        if (end > off) {
            account_payload(s, f, frame + off, end - off, t_rx);
        }
    }
}

uint64_t
sink_stats_packets(const struct sink_stats *s)
{
    return s->rx;
}

/* JSON. */

static struct json_object *
jdouble(double v, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return json_object_new_double_s(v, buf);
}

static struct json_object *
hist_to_json(const struct sink_hist *h)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "n", json_object_new_uint64(h->n));
    json_object_object_add(o, "min", jdouble((double) h->min / 1e3, 1));
    json_object_object_add(o, "mean", jdouble(h->n ? h->sum / (double) h->n / 1e3 : 0, 1));
    json_object_object_add(o, "p50", jdouble((double) sink_hist_percentile(h, 50) / 1e3, 1));
    json_object_object_add(o, "p99", jdouble((double) sink_hist_percentile(h, 99) / 1e3, 1));
    json_object_object_add(o, "max", jdouble((double) h->max / 1e3, 1));
    return o;
}

static const char *
proto_name(uint8_t proto, char *buf, size_t size)
{
    switch (proto) {
    case PKT_IPPROTO_TCP:
        return "tcp";
    case PKT_IPPROTO_UDP:
        return "udp";
    case PKT_IPPROTO_ICMP:
        return "icmp";
    default:
        snprintf(buf, size, "%u", proto);
        return buf;
    }
}

static struct json_object *
flow_to_json(const struct sink_stats *s, const struct flow *f)
{
    char a[16], b[16], p[8];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "proto", json_object_new_string(
        proto_name(f->key.proto, p, sizeof p)));
    json_object_object_add(o, "src", json_object_new_string(
        pkt_ip_to_string(f->key.sip, a, sizeof a)));
    json_object_object_add(o, "sport", json_object_new_int(f->key.sport));
    json_object_object_add(o, "dst", json_object_new_string(
        pkt_ip_to_string(f->key.dip, b, sizeof b)));
    json_object_object_add(o, "dport", json_object_new_int(f->key.dport));
    json_object_object_add(o, "packets", json_object_new_uint64(f->packets));
    json_object_object_add(o, "bytes", json_object_new_uint64(f->bytes));
    json_object_object_add(o, "bad_csum", json_object_new_uint64(f->bad_csum));
    double first = (double) (f->first_ns - s->t0_ns) / 1e9;
    double last = (double) (f->last_ns - s->t0_ns) / 1e9;
    json_object_object_add(o, "first_s", jdouble(first, 6));
    json_object_object_add(o, "last_s", jdouble(last, 6));
    json_object_object_add(o, "rate_pps", jdouble(
        last > first ? (double) (f->packets - 1) / (last - first) : 0, 1));
    if (f->kind != FLOW_PLAIN) {
        struct json_object *q = json_object_new_object();
        uint64_t expected = sink_seq_expected(&f->seq);
        uint64_t lost = sink_seq_lost(&f->seq);
        json_object_object_add(q, "kind", json_object_new_string(
            f->kind == FLOW_RTP ? "rtp" : "stamp"));
        if (f->kind == FLOW_RTP) {
            json_object_object_add(q, "ssrc", json_object_new_uint64(f->ssrc));
        } else {
            json_object_object_add(q, "flow", json_object_new_uint64(f->stamp_flow));
        }
        json_object_object_add(q, "received", json_object_new_uint64(f->seq.received));
        json_object_object_add(q, "expected", json_object_new_uint64(expected));
        json_object_object_add(q, "lost", json_object_new_uint64(lost));
        json_object_object_add(q, "loss", jdouble(
            expected ? (double) lost / (double) expected : 0, 6));
        json_object_object_add(q, "duplicates", json_object_new_uint64(f->seq.duplicates));
        json_object_object_add(q, "reordered", json_object_new_uint64(f->seq.reordered));
        if (f->n_gaps) {
            struct json_object *gaps = json_object_new_array();
            for (size_t g = 0; g < f->n_gaps; g++) {
                struct json_object *gap = json_object_new_object();
                json_object_object_add(gap, "at_s", jdouble(
                    (double) (f->gaps[g].t_ns - s->t0_ns) / 1e9, 6));
                json_object_object_add(gap, "monotonic_s", jdouble(
                    (double) f->gaps[g].t_ns / 1e9, 6));
                json_object_object_add(gap, "first", json_object_new_uint64(
                    f->gaps[g].first));
                json_object_object_add(gap, "count", json_object_new_uint64(
                    f->gaps[g].count));
                json_object_array_add(gaps, gap);
            }
            json_object_object_add(q, "gaps", gaps);
        }
        json_object_object_add(o, "seq", q);
        json_object_object_add(o, "jitter_us", jdouble(f->jitter.j / 1e3, 2));
    }
    if (f->kind == FLOW_RTP && f->rtp_n) {
        /* Voice quality as a G.711 receiver with a 40 ms playout buffer hears it. */
        struct emodel_config ec;
        emodel_config_init(&ec);
        struct emodel_result er;
        if (!emodel_assess(&ec, f->rtp_delay, f->rtp_n, EMODEL_LOST, &er)) {
            struct json_object *m = json_object_new_object();
            json_object_object_add(m, "packets", json_object_new_uint64(er.sent));
            json_object_object_add(m, "late", json_object_new_uint64(er.late));
            json_object_object_add(m, "effective_loss", jdouble(er.e, 6));
            json_object_object_add(m, "mouth_to_ear_ms", jdouble(er.mouth_to_ear_ms, 2));
            json_object_object_add(m, "r", jdouble(er.r, 2));
            json_object_object_add(m, "mos", jdouble(er.mos, 3));
            json_object_object_add(o, "emodel", m);
        }
    }
    if (f->lat) {
        json_object_object_add(o, "latency_us", hist_to_json(f->lat));
    }
    return o;
}

struct json_object *
sink_stats_to_json(struct sink_stats *s, uint64_t now_ns, size_t max_flows)
{
    close_interval(s);
    s->cur_packets = 0;             /* closed: a later call must not emit it twice */
    sink_hist_init(&s->cur);

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "duration_s", jdouble(
        now_ns > s->t0_ns ? (double) (now_ns - s->t0_ns) / 1e9 : 0, 3));
    json_object_object_add(o, "rx", json_object_new_uint64(s->rx));
    json_object_object_add(o, "rx_bytes", json_object_new_uint64(s->rx_bytes));
    json_object_object_add(o, "filtered", json_object_new_uint64(s->filtered));
    json_object_object_add(o, "other", json_object_new_uint64(s->other));
    json_object_object_add(o, "latency_us", hist_to_json(&s->all));

    struct json_object *flows = json_object_new_array();
    size_t n = VNET_MIN(s->n_flows, max_flows);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(flows, flow_to_json(s, s->flows[i]));
    }
    json_object_object_add(o, "flows", flows);
    json_object_object_add(o, "flows_omitted", json_object_new_uint64(s->n_flows - n));

    if (s->interval_ns) {
        struct json_object *series = json_object_new_array();
        for (size_t i = 0; i < s->n_series; i++) {
            const struct interval *iv = &s->series[i];
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "t_s", jdouble(
                (double) (iv->index * s->interval_ns) / 1e9, 3));
            json_object_object_add(e, "packets", json_object_new_uint64(iv->packets));
            json_object_object_add(e, "n_lat", json_object_new_uint64(iv->n_lat));
            json_object_object_add(e, "p50_us", jdouble((double) iv->p50 / 1e3, 1));
            json_object_object_add(e, "p99_us", jdouble((double) iv->p99 / 1e3, 1));
            json_object_object_add(e, "max_us", jdouble((double) iv->max / 1e3, 1));
            json_object_array_add(series, e);
        }
        json_object_object_add(o, "interval_s", jdouble((double) s->interval_ns / 1e9, 3));
        json_object_object_add(o, "intervals", series);
    }
    return o;
}
