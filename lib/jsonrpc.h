/* jsonrpc.h -- JSON-RPC 2.0 messages on a byte stream, one message per line.
 *
 * Framing: every message is one JSON value followed by '\n' (json-c never emits a raw
 * newline inside a serialised value).  A receiver accumulates bytes in a
 * 'struct jsonrpc_rx'; each complete line is parsed on its own, so a partial read
 * simply waits for more and a garbage line is reported and skipped without losing
 * the framing of the lines after it.  A line longer than the receiver's limit is an
 * error too; the rest of that line is discarded.
 *
 * Ownership: messages returned by jsonrpc_rx_next() belong to the caller
 * (json_object_put()). */
#ifndef VNET_JSONRPC_H
#define VNET_JSONRPC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct vnet_error;

/* Standard JSON-RPC 2.0 error codes, plus one for errors the daemon reports. */
enum {
    JSONRPC_PARSE_ERROR = -32700,
    JSONRPC_INVALID_REQUEST = -32600,
    JSONRPC_METHOD_NOT_FOUND = -32601,
    JSONRPC_INVALID_PARAMS = -32602,
    JSONRPC_INTERNAL_ERROR = -32603,
    JSONRPC_DAEMON_ERROR = -32000,     /* 'data' holds {"tag", "message"} */
    JSONRPC_PERMISSION_DENIED = -32001,
    JSONRPC_RATE_LIMITED = -32002,
};

#define JSONRPC_DEFAULT_MAX_MSG (1024 * 1024)

struct jsonrpc_rx {
    char *buf;
    size_t len, cap;
    size_t scanned;         /* the first 'scanned' bytes of 'buf' hold no '\n' */
    size_t max;             /* longest accepted line, in bytes */
    bool discarding;        /* dropping the tail of an over-long line */
};

enum jsonrpc_rx_status {
    JSONRPC_RX_AGAIN,       /* no complete line yet */
    JSONRPC_RX_MSG,         /* '*ret_msg' holds a message */
    JSONRPC_RX_ERROR,       /* a line was not JSON: '*ret_error' says why */
    JSONRPC_RX_TOO_LONG,    /* a line exceeded the limit: '*ret_error' says so */
};

void jsonrpc_rx_init(struct jsonrpc_rx *, size_t max);
void jsonrpc_rx_destroy(struct jsonrpc_rx *);
void jsonrpc_rx_feed(struct jsonrpc_rx *, const void *data, size_t len);
enum jsonrpc_rx_status jsonrpc_rx_next(struct jsonrpc_rx *, struct json_object **ret_msg,
                                       struct vnet_error **ret_error);
/* Bytes buffered that do not yet form a complete line. */
size_t jsonrpc_rx_pending(const struct jsonrpc_rx *);

/* Message constructors.  They take ownership of 'params', 'result', 'data' and a
 * reference to 'id' (NULL means JSON null). */
struct json_object *jsonrpc_request(const char *method, struct json_object *params,
                                    int64_t id);
struct json_object *jsonrpc_result(struct json_object *id, struct json_object *result);
struct json_object *jsonrpc_error(struct json_object *id, int code, const char *message,
                                  struct json_object *data);

/* Checks that 'msg' is a JSON-RPC 2.0 request; on success stores borrowed pointers
 * to its parts ('*ret_params' may be NULL when absent, '*ret_id' NULL for a
 * notification). */
struct vnet_error *jsonrpc_parse_request(struct json_object *msg, const char **ret_method,
                                         struct json_object **ret_params,
                                         struct json_object **ret_id);

/* Returns the serialised message with its trailing newline (caller frees). */
char *jsonrpc_serialize(struct json_object *msg, size_t *ret_len);

#endif
