/* error.h -- structured errors for messages an operator reads.
 *
 * Plain failures return -errno (see util.h).  Where the message matters -- a template,
 * an RPC parameter, a diagnosis input -- functions return a 'struct vnet_error *'
 * instead: NULL on success, otherwise an error that names where the problem is (file,
 * JSON path, field) and what was expected.  Callers add context with
 * vnet_error_wrap() ("fw.json: " + "$.nodes[1].cpus: expected ...").
 *
 * Ownership: the caller owns a returned error and frees it with vnet_error_destroy(),
 * or passes it on (vnet_error_wrap() returns the same object). */
#ifndef VNET_ERROR_H
#define VNET_ERROR_H 1

#include "util.h"

struct json_object;

/* Machine-readable tags; the JSON-RPC error 'data.tag' carries them. */
#define VNET_ERR_INVALID   "invalid-argument"   /* bad user input */
#define VNET_ERR_NOT_FOUND "not-found"
#define VNET_ERR_EXISTS    "already-exists"
#define VNET_ERR_BUSY      "busy"               /* state forbids the operation now */
#define VNET_ERR_IO        "io-error"
#define VNET_ERR_SUBSTRATE "substrate-error"    /* OVS or libvirt refused or failed */
#define VNET_ERR_INTERNAL  "internal-error"

struct vnet_error {
    char *tag;        /* one of VNET_ERR_* */
    char *message;    /* human-readable, with all context prepended */
};

struct vnet_error *vnet_error_create(const char *tag, const char *fmt, ...)
    VNET_PRINTF(2, 3);

/* Prepends "context: " to 'error''s message.  Returns 'error' (NULL stays NULL). */
struct vnet_error *vnet_error_wrap(struct vnet_error *error, const char *fmt, ...)
    VNET_PRINTF(2, 3);

/* Creates an error from a negative errno value: "<context>: <strerror>". */
struct vnet_error *vnet_error_from_errno(int neg_errno, const char *fmt, ...)
    VNET_PRINTF(2, 3);

/* Returns a new JSON object {"tag": ..., "message": ...}. */
struct json_object *vnet_error_to_json(const struct vnet_error *);

void vnet_error_destroy(struct vnet_error *);

#endif
