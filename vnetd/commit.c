/* commit.c -- vnetd_commit() (vnetd.h): persisting the registry after a change.
 *
 * Apart from vnetd.c's main() so that the command modules link without it: tests
 * and the fuzzer (tests/fuzz/fuzz-rpc.c) run a daemon's registry, state file and
 * command handlers in their own process. */
#include <config.h>

#include <json-c/json.h>
#include <stdlib.h>

#include "lib/crashpoint.h"
#include "lib/error.h"
#include "lib/log.h"
#include "vnetd/registry.h"
#include "vnetd/state-file.h"
#include "vnetd/vnetd.h"

VNLOG_DEFINE_THIS_MODULE(commit);

struct vnet_error *
vnetd_commit(struct vnetd *d, struct json_object *before)
{
    struct json_object *now = registry_to_json(&d->registry);
    crashpoint("registry-save");
    int err = state_file_save(d->state, now);
    json_object_put(now);
    crashpoint("registry-saved");
    if (!err) {
        json_object_put(before);
        return NULL;
    }
    registry_destroy(&d->registry);
    struct vnet_error *restore = registry_from_json(&d->registry, before);
    json_object_put(before);
    if (restore) {
        /* Impossible: 'before' was produced by registry_to_json(). */
        VNLOG_ERR("cannot restore registry: %s", restore->message);
        abort();
    }
    return vnet_error_from_errno(err, "cannot save state to %s; the change was "
                                 "undone", state_file_path(d->state));
}
