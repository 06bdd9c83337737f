#include "diag/timeline.h"

#include <json-c/json.h>
#include <stdlib.h>

#include "diag/trace.h"
#include "lib/util.h"

#define MAX_BUCKETS 4096

static int
cmp_u64(const void *a_, const void *b_)
{
    uint64_t a = *(const uint64_t *) a_, b = *(const uint64_t *) b_;
    return a < b ? -1 : a > b;
}

struct json_object *
diag_timeline_to_json(const struct diag_trace *t, uint64_t bucket_ns)
{
    uint64_t t0 = t->t_start, span = t->t_end > t->t_start ? t->t_end - t->t_start : 1;
    bucket_ns = VNET_MAX(bucket_ns, 1);
    if (span / bucket_ns >= MAX_BUCKETS) {
        bucket_ns = span / (MAX_BUCKETS - 1) + 1;
    }
    size_t nb = (size_t) (span / bucket_ns) + 1;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "t0_ns", json_object_new_int64((int64_t) t0));
    json_object_object_add(o, "bucket_us", json_object_new_double((double) bucket_ns / 1e3));
    json_object_object_add(o, "buckets", json_object_new_int64((int64_t) nb));
    struct json_object *nfs = json_object_new_object();
    uint64_t *qmax = vnet_xcalloc(nb, sizeof *qmax);
    uint64_t *lmax = vnet_xcalloc(nb, sizeof *lmax);
    uint64_t *ev = vnet_xmalloc((2 * t->n_hops + 1) * sizeof *ev);
    for (uint32_t id = 1; id < t->n_nfs; id++) {
        size_t n_ev = 0;
        for (size_t i = 0; i < nb; i++) {
            qmax[i] = lmax[i] = 0;
        }
        for (size_t i = 0; i < t->n_hops; i++) {
            const struct hop *h = &t->hops[i];
            if (h->nf != id || h->t_arr < t0) {
                continue;
            }
            /* t << 1 | 1: an arrival; t << 1: a departure or drop (first at ties). */
            ev[n_ev++] = (h->t_arr - t0) << 1 | 1;
            uint64_t leave = UINT64_MAX;
            if (h->status == HOP_FORWARDED && h->t_dep != UINT64_MAX) {
                leave = h->t_dep;
                size_t b = (size_t) ((h->t_arr - t0) / bucket_ns);
                lmax[VNET_MIN(b, nb - 1)] = VNET_MAX(lmax[VNET_MIN(b, nb - 1)],
                                                     h->t_dep - h->t_arr);
            } else if (h->status == HOP_DROPPED_TAIL) {
                leave = h->t_arr;
            } else if (h->status != HOP_FORWARDED) {
                leave = VNET_MAX(h->t_drop, h->t_arr);
            }
            if (leave != UINT64_MAX) {
                ev[n_ev++] = (leave - t0) << 1;
            }
        }
        qsort(ev, n_ev, sizeof *ev, cmp_u64);
        int64_t q = 0;
        for (size_t i = 0; i < n_ev; i++) {
            if (ev[i] & 1) {
                size_t b = VNET_MIN((size_t) ((ev[i] >> 1) / bucket_ns), nb - 1);
                qmax[b] = VNET_MAX(qmax[b], (uint64_t) VNET_MAX(q, 0));
                q++;
            } else {
                q--;
            }
        }
        struct json_object *n = json_object_new_object();
        struct json_object *qa = json_object_new_array_ext((int) nb);
        struct json_object *la = json_object_new_array_ext((int) nb);
        for (size_t i = 0; i < nb; i++) {
            json_object_array_add(qa, json_object_new_int64((int64_t) qmax[i]));
            json_object_array_add(la, json_object_new_double((double) lmax[i] / 1e3));
        }
        json_object_object_add(n, "queue_max", qa);
        json_object_object_add(n, "latency_max_us", la);
        json_object_object_add(nfs, t->nfs[id].name, n);
    }
    free(ev);
    free(qmax);
    free(lmax);
    json_object_object_add(o, "nfs", nfs);
    return o;
}
