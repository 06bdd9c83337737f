#include "vnetd/registry.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/util.h"

void
registry_init(struct registry *reg)
{
    memset(reg, 0, sizeof *reg);
}

static void
entry_destroy(struct chain_entry *e)
{
    if (e) {
        free(e->name);
        free(e->source);
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

struct json_object *
chain_entry_to_json(const struct chain_entry *e, bool with_template)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "name", json_object_new_string(e->name));
    json_object_object_add(obj, "source", json_object_new_string(e->source));
    json_object_object_add(obj, "loaded_at", json_object_new_int64(e->loaded_at));
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
    static const char *const fields[] = { "chains", NULL };
    static const char *const entry_fields[] = { "name", "source", "loaded_at",
                                                "template", NULL };
    struct jpath root = JPATH_ROOT;
    struct json_object *chains = NULL;
    struct vnet_error *error;

    registry_init(reg);
    if ((error = jv_check_object(obj, &root, fields))
        || (error = jv_get_array(obj, &root, "chains", false, 0, 100000, &chains))
        || !chains) {
        return error;
    }
    struct jpath p_chains = JPATH_KEY(&root, "chains");
    for (size_t i = 0; i < json_object_array_length(chains); i++) {
        struct json_object *e = json_object_array_get_idx(chains, i);
        struct jpath p = JPATH_INDEX(&p_chains, i);
        struct json_object *tmpl_json;
        const char *source = "";
        int64_t loaded_at = 0;
        struct chain_template *tmpl;
        if ((error = jv_check_object(e, &p, entry_fields))
            || (error = jv_get_string(e, &p, "source", false, &source))
            || (error = jv_get_int(e, &p, "loaded_at", false, 0, INT64_MAX, &loaded_at))
            || (error = jv_get_member(e, &p, "template", true, &tmpl_json))) {
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
        if (error) {
            break;
        }
    }
    if (error) {
        registry_destroy(reg);
    }
    return error;
}
