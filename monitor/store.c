#include "monitor/store.h"

#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/util.h"

#define SEGMENT_NS 1000000000ull

struct segment {
    uint64_t start_ns;          /* second the segment covers */
    char *path;
};

struct port {
    char *name;
    pcap_dumper_t *dumper;      /* the open (newest) segment, or NULL */
    uint64_t open_start;
    struct segment *segs;       /* oldest first; the last may be open */
    size_t n_segs, cap_segs;
};

struct store {
    char *dir;
    unsigned int keep_s;
    uint32_t snaplen;
    pcap_t *dead;
    struct port *ports;
    size_t n_ports;
    uint64_t oldest;
    pthread_mutex_t mutex;
};

int
store_create(const char *dir, unsigned int keep_s, uint32_t snaplen, struct store **ret)
{
    int err = vnet_mkdir_p(dir, 0750);
    if (err) {
        return err;
    }
    /* Leftovers of a previous monitor are stale: start empty. */
    DIR *d = opendir(dir);
    if (!d) {
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".pcap")) {
            char *p = vnet_xasprintf("%s/%s", dir, de->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
    struct store *s = vnet_xzalloc(sizeof *s);
    s->dir = vnet_xstrdup(dir);
    s->keep_s = keep_s ? keep_s : 30;
    s->snaplen = snaplen;
    s->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int) snaplen,
                                                   PCAP_TSTAMP_PRECISION_NANO);
    pthread_mutex_init(&s->mutex, NULL);
    *ret = s;
    return 0;
}

static void
close_open(struct port *p)
{
    if (p->dumper) {
        pcap_dump_close(p->dumper);
        p->dumper = NULL;
    }
}

void
store_destroy(struct store *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        struct port *p = &s->ports[i];
        close_open(p);
        for (size_t k = 0; k < p->n_segs; k++) {
            unlink(p->segs[k].path);
            free(p->segs[k].path);
        }
        free(p->segs);
        free(p->name);
    }
    free(s->ports);
    pcap_close(s->dead);
    pthread_mutex_destroy(&s->mutex);
    free(s->dir);
    free(s);
}

size_t
store_add_port(struct store *s, const char *name)
{
    pthread_mutex_lock(&s->mutex);
    s->ports = vnet_xrealloc(s->ports, (s->n_ports + 1) * sizeof *s->ports);
    struct port *p = &s->ports[s->n_ports];
    memset(p, 0, sizeof *p);
    p->name = vnet_xstrdup(name);
    size_t idx = s->n_ports++;
    pthread_mutex_unlock(&s->mutex);
    return idx;
}

void
store_write(struct store *s, size_t port, uint64_t ts_ns, const uint8_t *data,
            uint32_t caplen, uint32_t len)
{
    pthread_mutex_lock(&s->mutex);
    struct port *p = &s->ports[port];
    uint64_t start = ts_ns - ts_ns % SEGMENT_NS;
    if (!p->dumper || start != p->open_start) {
        close_open(p);
        vnet_grow((void **) &p->segs, &p->cap_segs, p->n_segs + 1, sizeof *p->segs);
        struct segment *seg = &p->segs[p->n_segs];
        seg->start_ns = start;
        seg->path = vnet_xasprintf("%s/%s.%llu.pcap", s->dir, p->name,
                                   (unsigned long long) (start / SEGMENT_NS));
        p->dumper = pcap_dump_open(s->dead, seg->path);
        if (p->dumper) {
            p->n_segs++;
            p->open_start = start;
        } else {
            free(seg->path);
        }
    }
    if (p->dumper) {
        struct pcap_pkthdr h = {
            .caplen = VNET_MIN(caplen, s->snaplen),
            .len = len,
        };
        h.ts.tv_sec = (time_t) (ts_ns / 1000000000ull);
        h.ts.tv_usec = (suseconds_t) (ts_ns % 1000000000ull);   /* nanoseconds */
        pcap_dump((u_char *) p->dumper, &h, data);
        if (!s->oldest || ts_ns < s->oldest) {
            s->oldest = ts_ns;
        }
    }
    pthread_mutex_unlock(&s->mutex);
}

void
store_rotate(struct store *s, uint64_t now_ns)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t horizon = now_ns - (uint64_t) s->keep_s * SEGMENT_NS;
    uint64_t oldest = 0;
    for (size_t i = 0; i < s->n_ports; i++) {
        struct port *p = &s->ports[i];
        if (p->dumper) {
            pcap_dump_flush(p->dumper);
        }
        size_t drop = 0;
        while (drop < p->n_segs && p->segs[drop].start_ns + SEGMENT_NS <= horizon
               && !(p->dumper && p->segs[drop].start_ns == p->open_start)) {
            unlink(p->segs[drop].path);
            free(p->segs[drop].path);
            drop++;
        }
        memmove(p->segs, p->segs + drop, (p->n_segs - drop) * sizeof *p->segs);
        p->n_segs -= drop;
        if (p->n_segs && (!oldest || p->segs[0].start_ns < oldest)) {
            oldest = p->segs[0].start_ns;
        }
    }
    if (oldest > s->oldest) {
        s->oldest = oldest;
    }
    pthread_mutex_unlock(&s->mutex);
}

uint64_t
store_oldest(struct store *s)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t t = s->oldest;
    pthread_mutex_unlock(&s->mutex);
    return t;
}

long
store_dump(struct store *s, size_t port, uint64_t from_ns, uint64_t to_ns,
           const char *path)
{
    pthread_mutex_lock(&s->mutex);
    struct port *p = &s->ports[port];
    if (p->dumper) {
        pcap_dump_flush(p->dumper);
    }
    /* Copy the list: the capture thread may rotate while we read. */
    size_t n = p->n_segs;
    char **paths = vnet_xcalloc(n + 1, sizeof *paths);
    for (size_t k = 0; k < n; k++) {
        bool overlaps = p->segs[k].start_ns + SEGMENT_NS > from_ns
                        && p->segs[k].start_ns < to_ns;
        paths[k] = overlaps ? vnet_xstrdup(p->segs[k].path) : NULL;
    }
    pthread_mutex_unlock(&s->mutex);

    pcap_dumper_t *out = pcap_dump_open(s->dead, path);
    long written = out ? 0 : -EIO;
    for (size_t k = 0; out && k < n; k++) {
        if (!paths[k]) {
            continue;
        }
        char errbuf[PCAP_ERRBUF_SIZE];
        pcap_t *in = pcap_open_offline_with_tstamp_precision(
            paths[k], PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (!in) {
            continue;           /* rotated away meanwhile */
        }
        struct pcap_pkthdr *h;
        const u_char *data;
        /* The open segment may end in a partially flushed record: reading stops
         * cleanly there. */
        while (pcap_next_ex(in, &h, &data) == 1) {
            uint64_t ts = (uint64_t) h->ts.tv_sec * 1000000000ull
                          + (uint64_t) h->ts.tv_usec;
            if (ts >= from_ns && ts < to_ns) {
                pcap_dump((u_char *) out, h, data);
                written++;
            }
        }
        pcap_close(in);
    }
    for (size_t k = 0; k < n; k++) {
        free(paths[k]);
    }
    free(paths);
    if (out) {
        pcap_dump_close(out);
    }
    return written;
}
