#include "vnetd/registry.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/crc32c.h"
#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/util.h"

void
registry_init(struct registry *reg)
{
    memset(reg, 0, sizeof *reg);
}

const char *
chain_state_to_string(enum chain_state s)
{
    static const char *const names[] = { "defined", "running", "deleting" };
    return names[s];
}

static int
chain_state_from_string(const char *s)
{
    for (int i = CHAIN_DEFINED; i <= CHAIN_DELETING; i++) {
        if (!strcmp(s, chain_state_to_string(i))) {
            return i;
        }
    }
    return -1;
}

void
chain_entry_set_error(struct chain_entry *e, const char *msg)
{
    free(e->last_error);
    e->last_error = msg ? vnet_xstrdup(msg) : NULL;
}

void
monitor_spec_destroy(struct monitor_spec *m)
{
    if (m) {
        for (size_t i = 0; i < m->n_nodes; i++) {
            free(m->nodes[i]);
        }
        free(m->nodes);
        free(m->cpus);
        free(m);
    }
}

struct json_object *
monitor_spec_to_json(const struct monitor_spec *m)
{
    struct json_object *obj = json_object_new_object();
    struct json_object *nodes = json_object_new_array();
    for (size_t i = 0; i < m->n_nodes; i++) {
        json_object_array_add(nodes, json_object_new_string(m->nodes[i]));
    }
    json_object_object_add(obj, "nodes", nodes);
    json_object_object_add(obj, "snaplen", json_object_new_int((int) m->snaplen));
    if (m->cpus) {
        json_object_object_add(obj, "cpus", json_object_new_string(m->cpus));
    }
    json_object_object_add(obj, "memory", json_object_new_int((int) m->memory_mib));
    if (m->removing) {
        json_object_object_add(obj, "removing", json_object_new_boolean(true));
    }
    return obj;
}

static struct vnet_error *
monitor_spec_from_json(struct json_object *obj, const struct jpath *path,
                       const struct chain_template *t, struct monitor_spec **ret)
{
    static const char *const fields[] = { "nodes", "snaplen", "cpus", "memory",
                                          "removing", NULL };
    struct json_object *nodes;
    int64_t snaplen = 128, memory = 256;
    const char *cpus = NULL;
    bool removing = false;
    struct vnet_error *error;
    if ((error = jv_check_object(obj, path, fields))
        || (error = jv_get_array(obj, path, "nodes", true, 1, CHAIN_MAX_NODES, &nodes))
        || (error = jv_get_int(obj, path, "snaplen", false, 64, 65535, &snaplen))
        || (error = jv_get_string(obj, path, "cpus", false, &cpus))
        || (error = jv_get_int(obj, path, "memory", false, 16, 1 << 20, &memory))
        || (error = jv_get_bool(obj, path, "removing", false, &removing))) {
        return error;
    }
    struct monitor_spec *m = vnet_xzalloc(sizeof *m);
    m->snaplen = (uint32_t) snaplen;
    m->memory_mib = (unsigned) memory;
    m->cpus = cpus ? vnet_xstrdup(cpus) : NULL;
    m->removing = removing;
    m->nodes = vnet_xcalloc(json_object_array_length(nodes), sizeof *m->nodes);
    struct jpath p_nodes = JPATH_KEY(path, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        struct jpath p = JPATH_INDEX(&p_nodes, i);
        const char *name;
        if ((error = jv_as_name(json_object_array_get_idx(nodes, i), &p, &name))) {
            monitor_spec_destroy(m);
            return error;
        }
        if (chain_template_find_node(t, name) < 0) {
            monitor_spec_destroy(m);
            return jv_error(&p, "no node \"%s\" in the chain", name);
        }
        m->nodes[m->n_nodes++] = vnet_xstrdup(name);
    }
    *ret = m;
    return NULL;
}

void
shadow_spec_destroy(struct shadow_spec *sh)
{
    if (sh) {
        chain_template_destroy(sh->tmpl);
        free(sh);
    }
}

const struct chain_template *
chain_entry_side_template(const struct chain_entry *e, int side)
{
    if (side == e->base_side) {
        return e->tmpl;
    }
    return e->shadow ? e->shadow->tmpl : NULL;
}

int
chain_entry_active_side(const struct chain_entry *e)
{
    return e->shadow ? e->shadow->active : e->base_side;
}

static struct json_object *
shadow_spec_to_json(const struct shadow_spec *sh)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "template", chain_template_to_json(sh->tmpl));
    json_object_object_add(obj, "active", json_object_new_int(sh->active));
    json_object_object_add(obj, "swaps", json_object_new_int((int) sh->swaps));
    if (sh->retiring) {
        json_object_object_add(obj, "retiring", json_object_new_boolean(true));
    }
    uint64_t now = vnet_mono_ns();
    if (sh->drain_until_ns > now) {
        /* Persisted as wall-clock time, so that a vnetd restarted in the middle of
         * a swap's drain keeps delivering what the old side still holds. */
        json_object_object_add(obj, "drain_until_ms", json_object_new_int64(
            (int64_t) ((vnet_wall_ns() + (sh->drain_until_ns - now)) / 1000000)));
    }
    return obj;
}

static struct vnet_error *
shadow_spec_from_json(struct json_object *obj, const struct jpath *path,
                      struct shadow_spec **ret)
{
    static const char *const fields[] = { "template", "active", "swaps", "retiring",
                                          "drain_until_ms", NULL };
    struct json_object *tj;
    int64_t active = 0, swaps = 0, drain_until_ms = 0;
    bool retiring = false;
    struct vnet_error *error;
    if ((error = jv_check_object(obj, path, fields))
        || (error = jv_get_member(obj, path, "template", true, &tj))
        || (error = jv_get_int(obj, path, "active", false, 0, 1, &active))
        || (error = jv_get_int(obj, path, "swaps", false, 0, INT32_MAX, &swaps))
        || (error = jv_get_bool(obj, path, "retiring", false, &retiring))
        || (error = jv_get_int(obj, path, "drain_until_ms", false, 0, INT64_MAX,
                               &drain_until_ms))) {
        return error;
    }
    struct chain_template *t;
    if ((error = chain_template_from_json(NULL, tj, &t))) {
        char *where = jpath_to_string(path);
        error = vnet_error_wrap(error, "%s.template", where);
        free(where);
        return error;
    }
    struct shadow_spec *sh = vnet_xzalloc(sizeof *sh);
    sh->tmpl = t;
    sh->active = (int) active;
    sh->swaps = (unsigned) swaps;
    sh->retiring = retiring;
    int64_t now_ms = (int64_t) (vnet_wall_ns() / 1000000);
    if (drain_until_ms > now_ms) {
        sh->drain_until_ns = vnet_mono_ns() + (uint64_t) (drain_until_ms - now_ms) * 1000000;
    }
    *ret = sh;
    return NULL;
}

static void
entry_destroy(struct chain_entry *e)
{
    if (e) {
        monitor_spec_destroy(e->monitor);
        shadow_spec_destroy(e->shadow);
        free(e->name);
        free(e->source);
        free(e->last_error);
        chain_template_destroy(e->tmpl);
        free(e);
    }
}

void
registry_destroy(struct registry *reg)
{
    for (size_t i = 0; i < reg->n_chains; i++) {
        entry_destroy(reg->chains[i]);
    }
    free(reg->chains);
    free(reg->instance);
    registry_init(reg);
}

/* Returns the index of 'name' or, if absent, where it would be inserted. */
static size_t
lookup(const struct registry *reg, const char *name, bool *found)
{
    size_t lo = 0, hi = reg->n_chains;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(reg->chains[mid]->name, name);
        if (!cmp) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

struct chain_entry *
registry_find(const struct registry *reg, const char *name)
{
    bool found;
    size_t i = lookup(reg, name, &found);
    return found ? reg->chains[i] : NULL;
}

struct vnet_error *
registry_add(struct registry *reg, struct chain_template *tmpl, const char *source,
             int64_t loaded_at, bool replace)
{
    bool found;
    size_t i = lookup(reg, tmpl->name, &found);
    if (found && reg->chains[i]->state != CHAIN_DEFINED) {
        struct vnet_error *error = vnet_error_create(
            VNET_ERR_BUSY, "chain '%s' is %s; delete it before loading it again",
            tmpl->name, chain_state_to_string(reg->chains[i]->state));
        chain_template_destroy(tmpl);
        return error;
    }
    if (found && !replace) {
        struct vnet_error *error = vnet_error_create(
            VNET_ERR_EXISTS, "chain '%s' is already loaded (from %s); delete it first "
            "or load with --replace", tmpl->name, reg->chains[i]->source);
        chain_template_destroy(tmpl);
        return error;
    }
    struct chain_entry *e = vnet_xzalloc(sizeof *e);
    e->name = vnet_xstrdup(tmpl->name);
    e->tmpl = tmpl;
    e->source = vnet_xstrdup(source ? source : "");
    e->loaded_at = loaded_at;
    if (found) {
        entry_destroy(reg->chains[i]);
        reg->chains[i] = e;
        return NULL;
    }
    vnet_grow((void **) &reg->chains, &reg->cap_chains, reg->n_chains + 1,
              sizeof *reg->chains);
    memmove(&reg->chains[i + 1], &reg->chains[i],
            (reg->n_chains - i) * sizeof *reg->chains);
    reg->chains[i] = e;
    reg->n_chains++;
    return NULL;
}

bool
registry_remove(struct registry *reg, const char *name)
{
    bool found;
    size_t i = lookup(reg, name, &found);
    if (!found) {
        return false;
    }
    entry_destroy(reg->chains[i]);
    memmove(&reg->chains[i], &reg->chains[i + 1],
            (reg->n_chains - i - 1) * sizeof *reg->chains);
    reg->n_chains--;
    return true;
}

void
registry_allocate_ids(struct registry *reg, struct chain_entry *e)
{
    if (!e->chain_id) {
        uint32_t id = vnet_crc32c(0, e->name, strlen(e->name)) & 0xffffff;
        for (bool taken = true; taken;) {
            id = id ? id : 1;
            taken = false;
            for (size_t i = 0; i < reg->n_chains; i++) {
                taken |= reg->chains[i] != e && reg->chains[i]->chain_id == id;
            }
            if (taken) {
                id = (id + 1) & 0xffffff;
            }
        }
        e->chain_id = id;
    }
    if (!e->port_base) {
        /* Blocks of 256 ports from 256 up; ports 1..255 are left to others. */
        for (uint32_t base = 256; base + 256 <= 0xff00; base += 256) {
            bool taken = false;
            for (size_t i = 0; i < reg->n_chains; i++) {
                const struct chain_entry *o = reg->chains[i];
                taken |= o != e && o->port_base == base
                         && !strcmp(o->tmpl->bridge, e->tmpl->bridge);
            }
            if (!taken) {
                e->port_base = (uint16_t) base;
                break;
            }
        }
    }
}

struct json_object *
chain_entry_to_json(const struct chain_entry *e, bool with_template)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "name", json_object_new_string(e->name));
    json_object_object_add(obj, "source", json_object_new_string(e->source));
    json_object_object_add(obj, "loaded_at", json_object_new_int64(e->loaded_at));
    json_object_object_add(obj, "state",
                           json_object_new_string(chain_state_to_string(e->state)));
    if (e->remove_when_gone) {
        json_object_object_add(obj, "remove_when_gone", json_object_new_boolean(true));
    }
    if (e->chain_id) {
        json_object_object_add(obj, "chain_id", json_object_new_int((int) e->chain_id));
    }
    if (e->port_base) {
        json_object_object_add(obj, "port_base", json_object_new_int(e->port_base));
    }
    if (e->last_error) {
        json_object_object_add(obj, "last_error", json_object_new_string(e->last_error));
    }
    if (e->monitor) {
        json_object_object_add(obj, "monitor", monitor_spec_to_json(e->monitor));
    }
    if (e->base_side) {
        json_object_object_add(obj, "base_side", json_object_new_int(e->base_side));
    }
    if (e->shadow && with_template) {
        json_object_object_add(obj, "shadow", shadow_spec_to_json(e->shadow));
    } else if (e->shadow) {
        json_object_object_add(obj, "active_side", json_object_new_int(e->shadow->active));
    }
    if (with_template) {
        json_object_object_add(obj, "template", chain_template_to_json(e->tmpl));
    } else {
        json_object_object_add(obj, "description",
                               json_object_new_string(e->tmpl->description));
        json_object_object_add(obj, "nodes",
                               json_object_new_int((int) e->tmpl->n_nodes));
        json_object_object_add(obj, "bridge", json_object_new_string(e->tmpl->bridge));
    }
    return obj;
}

struct json_object *
registry_to_json(const struct registry *reg)
{
    struct json_object *obj = json_object_new_object();
    if (reg->instance) {
        json_object_object_add(obj, "instance", json_object_new_string(reg->instance));
    }
    struct json_object *chains = json_object_new_array();
    for (size_t i = 0; i < reg->n_chains; i++) {
        json_object_array_add(chains, chain_entry_to_json(reg->chains[i], true));
    }
    json_object_object_add(obj, "chains", chains);
    return obj;
}

struct vnet_error *
registry_from_json(struct registry *reg, struct json_object *obj)
{
    static const char *const fields[] = { "instance", "chains", NULL };
    static const char *const entry_fields[] = { "name", "source", "loaded_at",
                                                "template", "state", "remove_when_gone",
                                                "chain_id", "port_base", "last_error",
                                                "monitor", "base_side", "shadow",
                                                NULL };
    struct jpath root = JPATH_ROOT;
    struct json_object *chains = NULL;
    struct vnet_error *error;

    registry_init(reg);
    const char *instance = NULL;
    if ((error = jv_check_object(obj, &root, fields))
        || (error = jv_get_string(obj, &root, "instance", false, &instance))
        || (error = jv_get_array(obj, &root, "chains", false, 0, 100000, &chains))) {
        return error;
    }
    reg->instance = instance ? vnet_xstrdup(instance) : NULL;
    if (!chains) {
        return NULL;
    }
    struct jpath p_chains = JPATH_KEY(&root, "chains");
    for (size_t i = 0; i < json_object_array_length(chains); i++) {
        struct json_object *e = json_object_array_get_idx(chains, i);
        struct jpath p = JPATH_INDEX(&p_chains, i);
        struct json_object *tmpl_json;
        const char *source = "", *state = "defined", *last_error = NULL;
        int64_t loaded_at = 0, chain_id = 0, port_base = 0;
        bool remove_when_gone = false;
        struct chain_template *tmpl;
        if ((error = jv_check_object(e, &p, entry_fields))
            || (error = jv_get_string(e, &p, "source", false, &source))
            || (error = jv_get_int(e, &p, "loaded_at", false, 0, INT64_MAX, &loaded_at))
            || (error = jv_get_string(e, &p, "state", false, &state))
            || (error = jv_get_bool(e, &p, "remove_when_gone", false, &remove_when_gone))
            || (error = jv_get_int(e, &p, "chain_id", false, 0, 0xffffff, &chain_id))
            || (error = jv_get_int(e, &p, "port_base", false, 0, 0xff00, &port_base))
            || (error = jv_get_string(e, &p, "last_error", false, &last_error))
            || (error = jv_get_member(e, &p, "template", true, &tmpl_json))) {
            break;
        }
        int st = chain_state_from_string(state);
        if (st < 0) {
            struct jpath ps = JPATH_KEY(&p, "state");
            error = jv_error_expected(&ps, "\"defined\", \"running\" or \"deleting\"",
                                      json_object_object_get(e, "state"));
            break;
        }
        char *where = jpath_to_string(&p);
        error = chain_template_from_json(NULL, tmpl_json, &tmpl);
        if (error) {
            error = vnet_error_wrap(error, "%s.template", where);
        } else {
            error = registry_add(reg, tmpl, source, loaded_at, false);
        }
        free(where);
        if (!error) {
            struct chain_entry *added = registry_find(
                reg, json_object_get_string(json_object_object_get(tmpl_json, "name")));
            added->state = st;
            added->remove_when_gone = remove_when_gone;
            added->chain_id = (uint32_t) chain_id;
            added->port_base = (uint16_t) port_base;
            chain_entry_set_error(added, last_error);
            struct json_object *mon, *sh;
            if (json_object_object_get_ex(e, "monitor", &mon)) {
                struct jpath pm = JPATH_KEY(&p, "monitor");
                error = monitor_spec_from_json(mon, &pm, added->tmpl, &added->monitor);
            }
            int64_t base_side = 0;
            if (!error) {
                error = jv_get_int(e, &p, "base_side", false, 0, 1, &base_side);
                added->base_side = (int) base_side;
            }
            if (!error && json_object_object_get_ex(e, "shadow", &sh)) {
                struct jpath ps = JPATH_KEY(&p, "shadow");
                error = shadow_spec_from_json(sh, &ps, &added->shadow);
            }
        }
        if (error) {
            break;
        }
    }
    if (error) {
        registry_destroy(reg);
    }
    return error;
}
