/* u64map.h -- open-addressing hash map from nonzero 64-bit keys to 64-bit values,
 * the one map the Microscope modules share (memo, relations, path trie).
 *
 * Ownership: the map owns its arrays; u64map_destroy() frees them.  A pointer
 * returned by u64map_slot() or u64map_find() is valid until the next insertion.
 * Iterate with 'for (i = 0; i < m->cap; i++) if (m->keys[i]) ...'.
 * Thread-safety: none. */
#ifndef DIAG_U64MAP_H
#define DIAG_U64MAP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

union u64map_val {
    uint64_t u;
    double d;
};

struct u64map {
    uint64_t *keys;             /* 0 = empty slot */
    union u64map_val *vals;
    size_t n, cap;              /* cap is 0 or a power of 2 */
};

#define U64MAP_INITIALIZER { NULL, NULL, 0, 0 }

void u64map_destroy(struct u64map *);
/* Empties the map, keeping its memory. */
void u64map_clear(struct u64map *);

/* Returns the value of 'key' (nonzero), inserting a zero value if it is absent;
 * '*inserted' (if nonnull) says which. */
union u64map_val *u64map_slot(struct u64map *, uint64_t key, bool *inserted);
/* Returns the value of 'key', or NULL. */
union u64map_val *u64map_find(const struct u64map *, uint64_t key);

/* A strong 64-bit mix (splitmix64 finalizer), for keys and hashes. */
static inline uint64_t
u64map_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#endif
