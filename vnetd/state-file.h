/* state-file.h -- durable storage of vnetd's registry (its desired state).
 *
 * The state lives in DIR/state.json:
 *     {"format": "vnet-state", "version": 1, "generation": N,
 *      "crc32c": "xxxxxxxx", "registry": {...}}
 * where crc32c covers the registry's canonical serialisation, so a torn write or a
 * flipped byte is detected even when the JSON still parses.
 *
 * Saving writes state.json.tmp, fsyncs, renames and fsyncs the directory; before
 * that the previous state.json is hard-linked to state.json.bak, so the last good
 * copy survives any crash.  Loading prefers state.json; if it is corrupt it is moved
 * aside to state.json.corrupt-<time> (never deleted), reported, and the .bak copy is
 * used.  If no good copy exists the load fails: vnetd never silently starts empty
 * over a state it could not read (--reset-state makes that explicit). */
#ifndef VNETD_STATE_FILE_H
#define VNETD_STATE_FILE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct vnet_error;
struct state_file;

/* Opens the state in directory 'dir' (created if missing).  On success returns NULL,
 * '*ret_state' and '*ret_registry' (a new reference; an empty object on first start),
 * and appends human-readable notices about recoveries to '*ret_notices' (a JSON array
 * the caller owns; may stay empty).  With 'reset', unreadable files are moved aside
 * and the state starts empty. */
struct vnet_error *state_file_open(const char *dir, bool reset,
                                   struct state_file **ret_state,
                                   struct json_object **ret_registry,
                                   struct json_object **ret_notices);

/* Persists 'registry' durably as the next generation.  Returns 0 or -errno (the
 * previous state stays on disk then). */
int state_file_save(struct state_file *, struct json_object *registry);

uint64_t state_file_generation(const struct state_file *);
const char *state_file_path(const struct state_file *);
void state_file_close(struct state_file *);

/* Exposed for tests: checks and unwraps the text of a state file. */
struct vnet_error *state_file_decode(const char *text, size_t len,
                                     struct json_object **ret_registry,
                                     uint64_t *ret_generation);
char *state_file_encode(struct json_object *registry, uint64_t generation, size_t *ret_len);

#endif
