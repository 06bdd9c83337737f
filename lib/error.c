#include "error.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct vnet_error *
vnet_error_create(const char *tag, const char *fmt, ...)
{
    struct vnet_error *error = vnet_xmalloc(sizeof *error);
    va_list args;
    va_start(args, fmt);
    error->message = vnet_xvasprintf(fmt, args);
    va_end(args);
    error->tag = vnet_xstrdup(tag);
    return error;
}

struct vnet_error *
vnet_error_wrap(struct vnet_error *error, const char *fmt, ...)
{
    if (!error) {
        return NULL;
    }
    va_list args;
    va_start(args, fmt);
    char *context = vnet_xvasprintf(fmt, args);
    va_end(args);
    char *message = vnet_xasprintf("%s: %s", context, error->message);
    free(context);
    free(error->message);
    error->message = message;
    return error;
}

struct vnet_error *
vnet_error_from_errno(int neg_errno, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *context = vnet_xvasprintf(fmt, args);
    va_end(args);
    struct vnet_error *error = vnet_error_create(
        neg_errno == -ENOENT ? VNET_ERR_NOT_FOUND : VNET_ERR_IO, "%s: %s", context,
        strerror(-neg_errno));
    free(context);
    return error;
}

struct json_object *
vnet_error_to_json(const struct vnet_error *error)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "tag", json_object_new_string(error->tag));
    json_object_object_add(obj, "message", json_object_new_string(error->message));
    return obj;
}

void
vnet_error_destroy(struct vnet_error *error)
{
    if (error) {
        free(error->tag);
        free(error->message);
        free(error);
    }
}
