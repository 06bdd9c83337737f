#include "vnetd/state-file.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/crc32c.h"
#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/util.h"

VNLOG_DEFINE_THIS_MODULE(state);

#define STATE_FORMAT "vnet-state"
#define STATE_VERSION 1
#define STATE_MAX_BYTES (256u * 1024 * 1024)

struct state_file {
    char *path;
    char *bak;
    uint64_t generation;
};

static uint32_t
registry_crc(struct json_object *registry)
{
    const char *text = json_object_to_json_string_ext(registry, JSON_C_TO_STRING_PLAIN);
    return vnet_crc32c(0, text, strlen(text));
}

char *
state_file_encode(struct json_object *registry, uint64_t generation, size_t *ret_len)
{
    struct json_object *doc = json_object_new_object();
    char crc[16];
    snprintf(crc, sizeof crc, "%08" PRIx32, registry_crc(registry));
    json_object_object_add(doc, "format", json_object_new_string(STATE_FORMAT));
    json_object_object_add(doc, "version", json_object_new_int(STATE_VERSION));
    json_object_object_add(doc, "generation", json_object_new_int64((int64_t) generation));
    json_object_object_add(doc, "crc32c", json_object_new_string(crc));
    json_object_object_add(doc, "registry", json_object_get(registry));
    char *text = vnet_xasprintf("%s\n", json_object_to_json_string_ext(
                                    doc, JSON_C_TO_STRING_PRETTY
                                    | JSON_C_TO_STRING_SPACED));
    json_object_put(doc);
    if (ret_len) {
        *ret_len = strlen(text);
    }
    return text;
}

struct vnet_error *
state_file_decode(const char *text, size_t len, struct json_object **ret_registry,
                  uint64_t *ret_generation)
{
    static const char *const fields[] = { "format", "version", "generation", "crc32c",
                                          "registry", NULL };
    struct json_object *doc, *registry;
    struct vnet_error *error = jv_parse(text, len, &doc);
    if (error) {
        return error;
    }
    struct jpath root = JPATH_ROOT;
    const char *format, *crc;
    int64_t version, generation;
    if ((error = jv_check_object(doc, &root, fields))
        || (error = jv_get_string(doc, &root, "format", true, &format))
        || (error = jv_get_int(doc, &root, "version", true, 1, 1000, &version))
        || (error = jv_get_int(doc, &root, "generation", true, 0, INT64_MAX,
                               &generation))
        || (error = jv_get_string(doc, &root, "crc32c", true, &crc))
        || (error = jv_get_member(doc, &root, "registry", true, &registry))) {
        goto out;
    }
    if (strcmp(format, STATE_FORMAT) || version != STATE_VERSION) {
        error = vnet_error_create(VNET_ERR_INVALID, "not a version %d vnet state file "
                                  "(format '%s', version %" PRId64 ")", STATE_VERSION,
                                  format, version);
        goto out;
    }
    if (!json_object_is_type(registry, json_type_object)) {
        struct jpath p = JPATH_KEY(&root, "registry");
        error = jv_error_expected(&p, "an object", registry);
        goto out;
    }
    char expected[16];
    snprintf(expected, sizeof expected, "%08" PRIx32, registry_crc(registry));
    if (strcmp(expected, crc)) {
        error = vnet_error_create(VNET_ERR_INVALID, "checksum mismatch (file says %s, "
                                  "content has %s): torn or corrupted", crc, expected);
        goto out;
    }
    *ret_registry = json_object_get(registry);
    *ret_generation = (uint64_t) generation;
out:
    json_object_put(doc);
    return error;
}

/* Reads and decodes 'path'.  Returns 0 with the registry, -ENOENT if the file does
 * not exist, or -EINVAL with '*ret_error' set if it is unreadable or corrupt. */
static int
read_state(const char *path, struct json_object **ret_registry, uint64_t *ret_generation,
           struct vnet_error **ret_error)
{
    char *text;
    size_t len;
    int err = vnet_read_file(path, STATE_MAX_BYTES, &text, &len);
    if (err == -ENOENT) {
        return -ENOENT;
    }
    if (err) {
        *ret_error = vnet_error_from_errno(err, "%s", path);
        return -EINVAL;
    }
    struct vnet_error *error = state_file_decode(text, len, ret_registry, ret_generation);
    free(text);
    if (error) {
        *ret_error = vnet_error_wrap(error, "%s", path);
        return -EINVAL;
    }
    return 0;
}

/* Moves a corrupt file aside, keeping it for the operator. */
static char *
quarantine(const char *path)
{
    char *aside = vnet_xasprintf("%s.corrupt-%lld", path, (long long) time(NULL));
    if (rename(path, aside) < 0) {
        VNLOG_ERR("cannot move '%s' aside: %s", path, strerror(errno));
        free(aside);
        return NULL;
    }
    vnet_fsync_parent(path);
    return aside;
}

static void
notice(struct json_object *notices, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *msg = vnet_xvasprintf(fmt, args);
    va_end(args);
    VNLOG_WARN("%s", msg);
    json_object_array_add(notices, json_object_new_string(msg));
    free(msg);
}

struct vnet_error *
state_file_open(const char *dir, bool reset, struct state_file **ret_state,
                struct json_object **ret_registry, struct json_object **ret_notices)
{
    int err = vnet_mkdir_p(dir, 0750);
    if (err) {
        return vnet_error_from_errno(err, "cannot create state directory %s", dir);
    }
    struct state_file *sf = vnet_xzalloc(sizeof *sf);
    sf->path = vnet_xasprintf("%s/state.json", dir);
    sf->bak = vnet_xasprintf("%s/state.json.bak", dir);
    struct json_object *notices = json_object_new_array();
    struct json_object *registry = NULL;
    struct vnet_error *main_error = NULL, *bak_error = NULL;
    uint64_t generation = 0;

    int main_status = read_state(sf->path, &registry, &generation, &main_error);
    if (main_status == 0) {
        VNLOG_INFO("loaded '%s' (generation %" PRIu64 ")", sf->path, generation);
        goto done;
    }

    int bak_status = read_state(sf->bak, &registry, &generation, &bak_error);
    if (main_status == -ENOENT && bak_status == -ENOENT) {
        VNLOG_INFO("no state in '%s': starting with an empty registry", dir);
        registry = json_object_new_object();
        goto done;
    }
    if (main_status == -EINVAL) {
        char *aside = quarantine(sf->path);
        if (bak_status == 0 || reset) {
            notice(notices, "%s; kept it as %s", main_error->message,
                   aside ? aside : "(could not move it)");
        }
        free(aside);
    }
    if (bak_status == 0) {
        notice(notices, "restored the last good state from %s (generation %" PRIu64 ")",
               sf->bak, generation);
        goto done;
    }
    if (reset) {
        if (bak_status == -EINVAL) {
            char *aside = quarantine(sf->bak);
            notice(notices, "%s; kept it as %s", bak_error->message,
                   aside ? aside : "(could not move it)");
            free(aside);
        }
        notice(notices, "--reset-state: starting with an empty registry");
        registry = json_object_new_object();
        goto done;
    }

    struct vnet_error *error = vnet_error_create(
        VNET_ERR_IO, "no readable state: %s; %s. Nothing was deleted: inspect the "
        "files, or start vnetd with --reset-state to begin with an empty registry",
        main_error ? main_error->message : "state.json is missing",
        bak_error ? bak_error->message : "no state.json.bak");
    vnet_error_destroy(main_error);
    vnet_error_destroy(bak_error);
    json_object_put(notices);
    state_file_close(sf);
    return error;

done:
    vnet_error_destroy(main_error);
    vnet_error_destroy(bak_error);
    sf->generation = generation;
    *ret_state = sf;
    *ret_registry = registry;
    *ret_notices = notices;
    return NULL;
}

int
state_file_save(struct state_file *sf, struct json_object *registry)
{
    size_t len;
    char *text = state_file_encode(registry, sf->generation + 1, &len);
    char *tmp = vnet_xasprintf("%s.tmp", sf->bak);
    int err = 0;

    /* Keep the current good copy as the backup (a hard link: no data copied). */
    unlink(tmp);
    if (link(sf->path, tmp) == 0) {
        if (rename(tmp, sf->bak) < 0) {
            err = -errno;
            unlink(tmp);
        }
    } else if (errno != ENOENT) {
        err = -errno;
    }
    if (!err) {
        err = vnet_atomic_write(sf->path, text, len, 0640);
    }
    if (!err) {
        sf->generation++;
    } else {
        VNLOG_ERR("cannot save state to '%s': %s", sf->path, strerror(-err));
    }
    free(tmp);
    free(text);
    return err;
}

uint64_t
state_file_generation(const struct state_file *sf)
{
    return sf->generation;
}

const char *
state_file_path(const struct state_file *sf)
{
    return sf->path;
}

void
state_file_close(struct state_file *sf)
{
    if (sf) {
        free(sf->path);
        free(sf->bak);
        free(sf);
    }
}
