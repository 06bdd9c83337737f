#include "rpc-client.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "jsonrpc.h"
#include "util.h"

struct rpc_client {
    int fd;
    int64_t next_id;
    struct jsonrpc_rx rx;
};

int
rpc_client_open(const char *path, struct rpc_client **ret_client)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (!vnet_strlcpy(sun.sun_path, path, sizeof sun.sun_path)) {
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    struct rpc_client *client = vnet_xzalloc(sizeof *client);
    client->fd = fd;
    client->next_id = 1;
    jsonrpc_rx_init(&client->rx, 64 * 1024 * 1024);
    *ret_client = client;
    return 0;
}

void
rpc_client_close(struct rpc_client *client)
{
    if (client) {
        close(client->fd);
        jsonrpc_rx_destroy(&client->rx);
        free(client);
    }
}

static int
remaining_ms(uint64_t deadline)
{
    if (!deadline) {
        return -1;
    }
    uint64_t now = vnet_mono_ns();
    return now >= deadline ? 0 : (int) ((deadline - now + 999999) / 1000000);
}

static int
interpret(struct json_object *msg, struct json_object **ret_result,
          struct vnet_error **ret_error)
{
    struct json_object *result, *error;
    if (json_object_object_get_ex(msg, "result", &result)) {
        *ret_result = json_object_get(result);
        return 0;
    }
    if (!json_object_object_get_ex(msg, "error", &error)
        || !json_object_is_type(error, json_type_object)) {
        return -EPROTO;
    }
    struct json_object *message, *data, *tag;
    const char *text = (json_object_object_get_ex(error, "message", &message)
                        ? json_object_get_string(message) : "unknown error");
    const char *tag_text = VNET_ERR_INTERNAL;
    if (json_object_object_get_ex(error, "data", &data)
        && json_object_object_get_ex(data, "tag", &tag)) {
        tag_text = json_object_get_string(tag);
    }
    *ret_error = vnet_error_create(tag_text, "%s", text);
    return 1;
}

int
rpc_client_call(struct rpc_client *client, const char *method,
                struct json_object *params, int timeout_ms,
                struct json_object **ret_result, struct vnet_error **ret_error)
{
    int64_t id = client->next_id++;
    struct json_object *request = jsonrpc_request(method, params, id);
    size_t len;
    char *line = jsonrpc_serialize(request, &len);
    json_object_put(request);

    int error = 0;
    if (send(client->fd, line, len, MSG_NOSIGNAL) != (ssize_t) len) {
        /* A short send on a blocking unix socket only happens on error. */
        error = errno ? -errno : -EPIPE;
        if (error != -EPIPE && error != -ECONNRESET) {
            free(line);
            return error;
        }
        /* The daemon hung up, perhaps refusing the connection: read why. */
    }
    free(line);

    uint64_t deadline = timeout_ms > 0
                        ? vnet_mono_ns() + (uint64_t) timeout_ms * 1000000 : 0;
    for (;;) {
        struct json_object *msg = NULL;
        struct vnet_error *rx_error = NULL;
        enum jsonrpc_rx_status status = jsonrpc_rx_next(&client->rx, &msg, &rx_error);
        if (status == JSONRPC_RX_ERROR || status == JSONRPC_RX_TOO_LONG) {
            vnet_error_destroy(rx_error);
            return -EPROTO;
        }
        if (status == JSONRPC_RX_MSG) {
            /* An error without an id is the daemon refusing the connection or a
             * line it could not read: with one call in flight, it is the answer. */
            struct json_object *msg_id = NULL;
            json_object_object_get_ex(msg, "id", &msg_id);
            if ((json_object_is_type(msg_id, json_type_int)
                 && json_object_get_int64(msg_id) == id)
                || (!msg_id && json_object_object_get_ex(msg, "error", NULL))) {
                error = interpret(msg, ret_result, ret_error);
                json_object_put(msg);
                return error;
            }
            json_object_put(msg);
            continue;
        }

        struct pollfd pfd = { .fd = client->fd, .events = POLLIN };
        int n = poll(&pfd, 1, remaining_ms(deadline));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -ETIMEDOUT;
        }
        char buf[65536];
        ssize_t got = recv(client->fd, buf, sizeof buf, 0);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -errno;
        }
        if (got == 0) {
            return error ? error : -EPIPE;
        }
        jsonrpc_rx_feed(&client->rx, buf, (size_t) got);
    }
}
