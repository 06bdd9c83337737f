/* health.c -- see health.h. */
#include "vnetd/health.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct vnet_health {
    char *chain, *vnet;
    char *problem;              /* NULL: healthy */
    int64_t since_ms;
    bool seen;
};

struct health_event {
    int64_t time_ms;
    char *chain, *vnet, *problem;
};

struct health {
    struct vnet_health *vnets;
    size_t n_vnets, cap_vnets;
    struct health_event events[HEALTH_EVENTS];
    size_t n_events;            /* total ever recorded */
};

struct health *
health_create(void)
{
    return vnet_xzalloc(sizeof(struct health));
}

static void
event_clear(struct health_event *e)
{
    free(e->chain);
    free(e->vnet);
    free(e->problem);
    memset(e, 0, sizeof *e);
}

static void
vnet_health_clear(struct vnet_health *v)
{
    free(v->chain);
    free(v->vnet);
    free(v->problem);
}

void
health_destroy(struct health *h)
{
    if (!h) {
        return;
    }
    for (size_t i = 0; i < h->n_vnets; i++) {
        vnet_health_clear(&h->vnets[i]);
    }
    free(h->vnets);
    for (size_t i = 0; i < HEALTH_EVENTS; i++) {
        event_clear(&h->events[i]);
    }
    free(h);
}

static struct vnet_health *
find(const struct health *h, const char *chain, const char *vnet)
{
    for (size_t i = 0; i < h->n_vnets; i++) {
        if (!strcmp(h->vnets[i].chain, chain) && !strcmp(h->vnets[i].vnet, vnet)) {
            return &h->vnets[i];
        }
    }
    return NULL;
}

static void
record(struct health *h, const struct vnet_health *v)
{
    struct health_event *e = &h->events[h->n_events++ % HEALTH_EVENTS];
    event_clear(e);
    e->time_ms = v->since_ms;
    e->chain = vnet_xstrdup(v->chain);
    e->vnet = vnet_xstrdup(v->vnet);
    e->problem = v->problem ? vnet_xstrdup(v->problem) : NULL;
}

void
health_begin(struct health *h)
{
    for (size_t i = 0; i < h->n_vnets; i++) {
        h->vnets[i].seen = false;
    }
}

void
health_report(struct health *h, const char *chain, const char *vnet, const char *problem,
              int64_t now_ms)
{
    struct vnet_health *v = find(h, chain, vnet);
    if (!v) {
        vnet_grow((void **) &h->vnets, &h->cap_vnets, h->n_vnets + 1, sizeof *h->vnets);
        v = &h->vnets[h->n_vnets++];
        memset(v, 0, sizeof *v);
        v->chain = vnet_xstrdup(chain);
        v->vnet = vnet_xstrdup(vnet);
        v->since_ms = now_ms;
        v->problem = problem ? vnet_xstrdup(problem) : NULL;
        if (problem) {
            record(h, v);
        }
    } else if (!problem != !v->problem || (problem && strcmp(problem, v->problem))) {
        bool was_ok = !v->problem;
        free(v->problem);
        v->problem = problem ? vnet_xstrdup(problem) : NULL;
        if (was_ok || !problem) {
            v->since_ms = now_ms;   /* a new reason while degraded keeps 'since' */
        }
        record(h, v);
    }
    v->seen = true;
}

void
health_keep(struct health *h, const char *chain, const char *vnet)
{
    struct vnet_health *v = find(h, chain, vnet);
    if (v) {
        v->seen = true;
    }
}

void
health_end(struct health *h)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->n_vnets; i++) {
        if (h->vnets[i].seen) {
            h->vnets[kept++] = h->vnets[i];
        } else {
            vnet_health_clear(&h->vnets[i]);
        }
    }
    h->n_vnets = kept;
}

const char *
health_problem(const struct health *h, const char *chain, const char *vnet)
{
    const struct vnet_health *v = find(h, chain, vnet);
    return v ? v->problem : NULL;
}

static struct json_object *
state_json(const char *problem)
{
    return json_object_new_string(problem ? "degraded" : "ok");
}

struct json_object *
health_to_json(const struct health *h)
{
    struct json_object *obj = json_object_new_object();
    struct json_object *vnets = json_object_new_array();
    for (size_t i = 0; i < h->n_vnets; i++) {
        const struct vnet_health *v = &h->vnets[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "chain", json_object_new_string(v->chain));
        json_object_object_add(o, "vnet", json_object_new_string(v->vnet));
        json_object_object_add(o, "state", state_json(v->problem));
        if (v->problem) {
            json_object_object_add(o, "problem", json_object_new_string(v->problem));
        }
        json_object_object_add(o, "since_ms", json_object_new_int64(v->since_ms));
        json_object_array_add(vnets, o);
    }
    json_object_object_add(obj, "vnets", vnets);
    struct json_object *events = json_object_new_array();
    size_t n = h->n_events < HEALTH_EVENTS ? h->n_events : HEALTH_EVENTS;
    for (size_t k = h->n_events - n; k < h->n_events; k++) {
        const struct health_event *e = &h->events[k % HEALTH_EVENTS];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "time_ms", json_object_new_int64(e->time_ms));
        json_object_object_add(o, "chain", json_object_new_string(e->chain));
        json_object_object_add(o, "vnet", json_object_new_string(e->vnet));
        json_object_object_add(o, "state", state_json(e->problem));
        if (e->problem) {
            json_object_object_add(o, "problem", json_object_new_string(e->problem));
        }
        json_object_array_add(events, o);
    }
    json_object_object_add(obj, "events", events);
    return obj;
}
