#include "jsonrpc.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonv.h"
#include "util.h"

void
jsonrpc_rx_init(struct jsonrpc_rx *rx, size_t max)
{
    memset(rx, 0, sizeof *rx);
    rx->max = max ? max : JSONRPC_DEFAULT_MAX_MSG;
}

void
jsonrpc_rx_destroy(struct jsonrpc_rx *rx)
{
    free(rx->buf);
    rx->buf = NULL;
    rx->len = rx->cap = rx->scanned = 0;
}

void
jsonrpc_rx_feed(struct jsonrpc_rx *rx, const void *data, size_t len)
{
    if (!len) {
        return;                 /* 'rx->buf' may still be NULL */
    }
    if (rx->len + len > rx->cap) {
        vnet_grow((void **) &rx->buf, &rx->cap, rx->len + len, 1);
    }
    memcpy(rx->buf + rx->len, data, len);
    rx->len += len;
}

size_t
jsonrpc_rx_pending(const struct jsonrpc_rx *rx)
{
    return rx->len;
}

static void
consume(struct jsonrpc_rx *rx, size_t n)
{
    memmove(rx->buf, rx->buf + n, rx->len - n);
    rx->len -= n;
    rx->scanned = 0;
}

/* Returns the first '\n' in the buffer, or NULL.  Bytes already searched are not
 * searched again, so a line arriving in many small reads costs linear time. */
static char *
find_newline(struct jsonrpc_rx *rx)
{
    char *nl = (rx->len > rx->scanned
                ? memchr(rx->buf + rx->scanned, '\n', rx->len - rx->scanned) : NULL);
    if (!nl) {
        rx->scanned = rx->len;
    }
    return nl;
}

enum jsonrpc_rx_status
jsonrpc_rx_next(struct jsonrpc_rx *rx, struct json_object **ret_msg,
                struct vnet_error **ret_error)
{
    for (;;) {
        char *nl = find_newline(rx);
        if (rx->discarding) {
            if (!nl) {
                rx->len = rx->scanned = 0;
                return JSONRPC_RX_AGAIN;
            }
            consume(rx, (size_t) (nl - rx->buf) + 1);
            rx->discarding = false;
            continue;
        }
        if (!nl) {
            if (rx->len > rx->max) {
                rx->len = rx->scanned = 0;
                rx->discarding = true;
                *ret_error = vnet_error_create(VNET_ERR_INVALID, "message longer than "
                                               "%zu bytes", rx->max);
                return JSONRPC_RX_TOO_LONG;
            }
            return JSONRPC_RX_AGAIN;
        }
        size_t line_len = (size_t) (nl - rx->buf);
        if (line_len > rx->max) {
            consume(rx, line_len + 1);
            *ret_error = vnet_error_create(VNET_ERR_INVALID, "message longer than %zu "
                                           "bytes", rx->max);
            return JSONRPC_RX_TOO_LONG;
        }
        /* Blank lines (e.g. "\r\n" keep-alives typed by hand) are skipped. */
        size_t blank = 0;
        while (blank < line_len && strchr(" \t\r", rx->buf[blank])) {
            blank++;
        }
        if (blank == line_len) {
            consume(rx, line_len + 1);
            continue;
        }
        struct json_object *msg = NULL;
        struct vnet_error *error = jv_parse(rx->buf, line_len, &msg);
        consume(rx, line_len + 1);
        if (error) {
            *ret_error = error;
            return JSONRPC_RX_ERROR;
        }
        *ret_msg = msg;
        return JSONRPC_RX_MSG;
    }
}

static struct json_object *
new_message(void)
{
    struct json_object *msg = json_object_new_object();
    json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
    return msg;
}

struct json_object *
jsonrpc_request(const char *method, struct json_object *params, int64_t id)
{
    struct json_object *msg = new_message();
    json_object_object_add(msg, "method", json_object_new_string(method));
    json_object_object_add(msg, "params", params ? params : json_object_new_object());
    json_object_object_add(msg, "id", json_object_new_int64(id));
    return msg;
}

struct json_object *
jsonrpc_result(struct json_object *id, struct json_object *result)
{
    struct json_object *msg = new_message();
    json_object_object_add(msg, "result", result);
    json_object_object_add(msg, "id", json_object_get(id));
    return msg;
}

struct json_object *
jsonrpc_error(struct json_object *id, int code, const char *message,
              struct json_object *data)
{
    struct json_object *msg = new_message();
    struct json_object *error = json_object_new_object();
    json_object_object_add(error, "code", json_object_new_int(code));
    json_object_object_add(error, "message", json_object_new_string(message));
    if (data) {
        json_object_object_add(error, "data", data);
    }
    json_object_object_add(msg, "error", error);
    json_object_object_add(msg, "id", json_object_get(id));
    return msg;
}

struct vnet_error *
jsonrpc_parse_request(struct json_object *msg, const char **ret_method,
                      struct json_object **ret_params, struct json_object **ret_id)
{
    static const char *const fields[] = { "jsonrpc", "method", "params", "id", NULL };
    struct jpath root = JPATH_ROOT;
    struct vnet_error *error = jv_check_object(msg, &root, fields);
    const char *version = NULL, *method = NULL;
    struct json_object *params = NULL, *id = NULL;

    if (!error) {
        error = jv_get_string(msg, &root, "jsonrpc", true, &version);
    }
    if (!error && strcmp(version, "2.0")) {
        struct jpath p = JPATH_KEY(&root, "jsonrpc");
        error = jv_error(&p, "expected \"2.0\"");
    }
    if (!error) {
        error = jv_get_string(msg, &root, "method", true, &method);
    }
    if (!error) {
        error = jv_get_member(msg, &root, "params", false, &params);
    }
    if (!error && params && !json_object_is_type(params, json_type_object)
        && !json_object_is_type(params, json_type_array)) {
        struct jpath p = JPATH_KEY(&root, "params");
        error = jv_error_expected(&p, "an object or an array", params);
    }
    if (!error) {
        error = jv_get_member(msg, &root, "id", false, &id);
    }
    if (!error && id && !json_object_is_type(id, json_type_int)
        && !json_object_is_type(id, json_type_string)) {
        struct jpath p = JPATH_KEY(&root, "id");
        error = jv_error_expected(&p, "a number or a string", id);
    }
    if (error) {
        return error;
    }
    *ret_method = method;
    *ret_params = params;
    *ret_id = id;
    return NULL;
}

char *
jsonrpc_serialize(struct json_object *msg, size_t *ret_len)
{
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN
                                                      | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *line = vnet_xasprintf("%s\n", text);
    if (ret_len) {
        *ret_len = strlen(line);
    }
    return line;
}
