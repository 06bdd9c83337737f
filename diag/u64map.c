#include "diag/u64map.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void
u64map_destroy(struct u64map *m)
{
    free(m->keys);
    free(m->vals);
    *m = (struct u64map) U64MAP_INITIALIZER;
}

void
u64map_clear(struct u64map *m)
{
    if (m->n) {
        memset(m->keys, 0, m->cap * sizeof *m->keys);
        m->n = 0;
    }
}

static void
u64map_grow(struct u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = vnet_xcalloc(cap, sizeof *keys);
    union u64map_val *vals = vnet_xmalloc(cap * sizeof *vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            size_t j = u64map_mix(m->keys[i]) & (cap - 1);
            while (keys[j]) {
                j = (j + 1) & (cap - 1);
            }
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

union u64map_val *
u64map_slot(struct u64map *m, uint64_t key, bool *inserted)
{
    if ((m->n + 1) * 2 > m->cap) {
        u64map_grow(m);
    }
    size_t j = u64map_mix(key) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key) {
        j = (j + 1) & (m->cap - 1);
    }
    bool fresh = !m->keys[j];
    if (fresh) {
        m->keys[j] = key;
        m->vals[j].u = 0;
        m->n++;
    }
    if (inserted) {
        *inserted = fresh;
    }
    return &m->vals[j];
}

union u64map_val *
u64map_find(const struct u64map *m, uint64_t key)
{
    if (!m->n) {
        return NULL;
    }
    size_t j = u64map_mix(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            return &m->vals[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}
