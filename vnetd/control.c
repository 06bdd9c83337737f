#include "vnetd/control.h"

#include <config.h>

#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "lib/crashpoint.h"
#include "lib/error.h"
#include "lib/jsonrpc.h"
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/util.h"

VNLOG_DEFINE_THIS_MODULE(control);

#define MAX_TX_BYTES (64u * 1024 * 1024)  /* unread replies before we drop a client */
#define TX_HIGH_WATER (1024u * 1024)      /* unread replies before we stop reading */
#define READS_PER_RUN 8                   /* fairness between clients */
#define SLOW_HANDLER_NS (100 * 1000000ull)
#define ACCEPT_BACKOFF_NS (100 * 1000000ull)  /* out of file descriptors */

struct registered {
    const struct control_command *cmd;
    void *aux;
};

struct control_conn;

struct control_request {
    struct control_conn *conn;            /* NULL once the client has gone */
    struct control_request *prev, *next;  /* in conn's pending list */
    struct json_object *id;
    const struct control_command *cmd;
    uid_t uid;
    uint64_t start_ns;
};

struct control_conn {
    struct control_server *server;
    int fd;
    unsigned long long serial;
    struct ucred cred;
    bool may_mutate;              /* root or in the socket's group */
    struct jsonrpc_rx rx;
    char *tx;
    size_t tx_len, tx_cap;
    bool eof;                     /* peer finished sending */
    bool dead;                    /* close at the end of this run */
    unsigned int n_pending;
    struct control_request *pending;
    double tokens;                /* request rate limit */
    uint64_t tokens_ns;
};

struct control_server {
    struct control_options opts;
    char *path;
    int fd;
    struct registered *cmds;
    size_t n_cmds, cap_cmds;
    struct control_conn **conns;
    size_t n_conns, cap_conns;
    unsigned long long next_serial;
    size_t n_readers;             /* connections that may not mutate */
    uint64_t accept_resume_ns;    /* after EMFILE: accept again from then on */
};

static struct vnlog_rl rl = VNLOG_RL_INIT(30, 60);

void
control_options_init(struct control_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->mode = 0660;
    opts->group = (gid_t) -1;
    opts->max_message = JSONRPC_DEFAULT_MAX_MSG;
    opts->max_clients = 1024;
    opts->max_pending = 16;
    opts->requests_per_sec = 0;
}

int
control_server_open(const struct control_options *opts, struct control_server **ret)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (!vnet_strlcpy(sun.sun_path, opts->path, sizeof sun.sun_path)) {
        return -ENAMETOOLONG;
    }
    if (vnet_unix_socket_live(opts->path)) {
        return -EADDRINUSE;
    }
    struct stat st;
    if (!lstat(opts->path, &st) && !S_ISSOCK(st.st_mode)) {
        return -EEXIST;         /* a mistyped --socket must not delete a file */
    }
    unlink(opts->path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    /* Bind with a restrictive umask so the socket is never briefly world-usable. */
    mode_t old_umask = umask(0177);
    int error = bind(fd, (struct sockaddr *) &sun, sizeof sun) < 0 ? -errno : 0;
    umask(old_umask);
    if (!error && opts->group != (gid_t) -1 && chown(opts->path, (uid_t) -1,
                                                       opts->group) < 0) {
        error = -errno;
    }
    if (!error && chmod(opts->path, opts->mode) < 0) {
        error = -errno;
    }
    if (!error && listen(fd, 128) < 0) {
        error = -errno;
    }
    if (error) {
        close(fd);
        unlink(opts->path);
        return error;
    }

    struct control_server *server = vnet_xzalloc(sizeof *server);
    server->opts = *opts;
    server->path = vnet_xstrdup(opts->path);
    server->opts.path = server->path;
    server->fd = fd;
    struct rlimit nofile;
    if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur != RLIM_INFINITY
        && server->opts.max_clients > nofile.rlim_cur / 2) {
        /* Out of descriptors, accept() fails and a client waits unanswered in the
         * backlog: refuse politely first, and leave half for the rest of vnetd. */
        server->opts.max_clients = (unsigned int) VNET_MAX(nofile.rlim_cur / 2, 1);
        VNLOG_INFO("at most %u clients (half of the %llu file descriptors allowed)",
                   server->opts.max_clients, (unsigned long long) nofile.rlim_cur);
    }
    *ret = server;
    VNLOG_INFO("listening on '%s' (mode %04o)", opts->path, (unsigned) opts->mode);
    return 0;
}

void
control_server_register(struct control_server *server, const struct control_command *cmds,
                        void *aux)
{
    for (const struct control_command *c = cmds; c->name; c++) {
        vnet_grow((void **) &server->cmds, &server->cap_cmds, server->n_cmds + 1,
                  sizeof *server->cmds);
        server->cmds[server->n_cmds++] = (struct registered) { c, aux };
    }
}

static const struct registered *
find_command(const struct control_server *server, const char *name)
{
    for (size_t i = 0; i < server->n_cmds; i++) {
        if (!strcmp(server->cmds[i].cmd->name, name)) {
            return &server->cmds[i];
        }
    }
    return NULL;
}

static void
conn_send(struct control_conn *conn, struct json_object *msg)
{
    size_t len;
    char *line = jsonrpc_serialize(msg, &len);
    json_object_put(msg);
    if (conn->tx_len + len > MAX_TX_BYTES) {
        VNLOG_WARN_RL(&rl, "client #%llu (pid %d) does not read its replies; "
                      "disconnecting", conn->serial, (int) conn->cred.pid);
        conn->dead = true;
        free(line);
        return;
    }
    vnet_grow((void **) &conn->tx, &conn->tx_cap, conn->tx_len + len, 1);
    memcpy(conn->tx + conn->tx_len, line, len);
    conn->tx_len += len;
    free(line);
}

static void
send_error(struct control_conn *conn, struct json_object *id, int code,
           const struct vnet_error *error)
{
    conn_send(conn, jsonrpc_error(id, code, error->message, vnet_error_to_json(error)));
}

static void
request_finish(struct control_request *req, struct json_object *msg)
{
    struct control_conn *conn = req->conn;
    uint64_t elapsed = vnet_mono_ns() - req->start_ns;
    if (elapsed > SLOW_HANDLER_NS) {
        VNLOG_INFO("'%s' took %llu ms", req->cmd->name,
                   (unsigned long long) (elapsed / 1000000));
    }
    if (conn) {
        if (req->id) {
            conn_send(conn, msg);
        } else {
            json_object_put(msg);
        }
        if (req->prev) {
            req->prev->next = req->next;
        } else {
            conn->pending = req->next;
        }
        if (req->next) {
            req->next->prev = req->prev;
        }
        if (conn->n_pending-- == conn->server->opts.max_pending) {
            poll_immediate_wake();    /* requests may wait in 'rx' for this slot */
        }
    } else {
        json_object_put(msg);
    }
    json_object_put(req->id);
    free(req);
}

void
control_request_reply(struct control_request *req, struct json_object *result)
{
    request_finish(req, jsonrpc_result(req->id, result ? result : json_object_new_object()));
}

void
control_request_fail(struct control_request *req, struct vnet_error *error)
{
    VNLOG_DBG("'%s' failed: %s", req->cmd->name, error->message);
    int code = (!strcmp(error->tag, VNET_ERR_INVALID) ? JSONRPC_INVALID_PARAMS
                : JSONRPC_DAEMON_ERROR);
    struct json_object *msg = jsonrpc_error(req->id, code, error->message,
                                            vnet_error_to_json(error));
    vnet_error_destroy(error);
    request_finish(req, msg);
}

const char *
control_request_method(const struct control_request *req)
{
    return req->cmd->name;
}

uid_t
control_request_uid(const struct control_request *req)
{
    return req->uid;
}

static const char *
param_type_name(enum control_param_type type)
{
    static const char *const names[] = {
        [CP_STRING] = "string", [CP_NAME] = "name", [CP_INT] = "integer",
        [CP_BOOL] = "boolean", [CP_NUMBER] = "number", [CP_OBJECT] = "object",
        [CP_ARRAY] = "array", [CP_ANY] = "any",
    };
    return names[type];
}

/* Checks 'params' against the command's schema. */
static struct vnet_error *
check_params(const struct control_command *cmd, struct json_object *params)
{
    struct jpath root = JPATH_ROOT;
    struct jpath path = JPATH_KEY(&root, "params");
    if (params && !json_object_is_type(params, json_type_object)) {
        return jv_error_expected(&path, "an object of named parameters", params);
    }
    if (params) {
        json_object_object_foreach(params, key, val) {
            (void) val;
            bool known = false;
            for (const struct control_param *p = cmd->params; p && p->name; p++) {
                known |= !strcmp(p->name, key);
            }
            if (!known) {
                struct jpath member = JPATH_KEY(&path, key);
                return jv_error(&member, "unknown parameter for '%s'", cmd->name);
            }
        }
    }
    for (const struct control_param *p = cmd->params; p && p->name; p++) {
        struct json_object *value = NULL;
        bool present = params && json_object_object_get_ex(params, p->name, &value);
        struct jpath member = JPATH_KEY(&path, p->name);
        if (!present) {
            if (p->required) {
                return jv_error(&member, "required parameter is missing");
            }
            continue;
        }
        struct vnet_error *error = NULL;
        const char *ignored;
        switch (p->type) {
        case CP_STRING:
            error = jv_as_string(value, &member, &ignored);
            break;
        case CP_NAME:
            error = jv_as_name(value, &member, &ignored);
            break;
        case CP_INT:
            if (!json_object_is_type(value, json_type_int)) {
                error = jv_error_expected(&member, "an integer", value);
            }
            break;
        case CP_NUMBER:
            if (!json_object_is_type(value, json_type_int)
                && !json_object_is_type(value, json_type_double)) {
                error = jv_error_expected(&member, "a number", value);
            }
            break;
        case CP_BOOL:
            if (!json_object_is_type(value, json_type_boolean)) {
                error = jv_error_expected(&member, "true or false", value);
            }
            break;
        case CP_OBJECT:
            if (!json_object_is_type(value, json_type_object)) {
                error = jv_error_expected(&member, "an object", value);
            }
            break;
        case CP_ARRAY:
            if (!json_object_is_type(value, json_type_array)) {
                error = jv_error_expected(&member, "an array", value);
            }
            break;
        case CP_ANY:
            break;
        }
        if (error) {
            return error;
        }
    }
    return NULL;
}

/* Returns true if the peer connected on 'fd' (credentials 'cred') has 'group' as
 * its primary or one of its supplementary groups, as they were at connect().  Fails
 * closed: a peer whose groups cannot be read is no member. */
static bool
peer_in_group(int fd, const struct ucred *cred, gid_t group)
{
    if (group == (gid_t) -1) {
        return false;
    }
    if (cred->gid == group) {
        return true;
    }
    gid_t stack_gids[64];
    gid_t *gids = stack_gids;
    socklen_t len = sizeof stack_gids;
    int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len);
    if (r < 0 && errno == ERANGE) {
        gids = vnet_xmalloc(len);
        r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len);
    }
    bool member = false;
    for (size_t i = 0; !r && i < len / sizeof *gids; i++) {
        member |= gids[i] == group;
    }
    if (gids != stack_gids) {
        free(gids);
    }
    return member;
}

/* Takes one token from the connection's bucket; returns false if it is empty. */
static bool
conn_take_token(struct control_conn *conn)
{
    unsigned int rate = conn->server->opts.requests_per_sec;
    if (!rate) {
        return true;
    }
    uint64_t now = vnet_mono_ns();
    double refill = (double) (now - conn->tokens_ns) / 1e9 * rate;
    conn->tokens = VNET_MIN(conn->tokens + refill, rate * 2.0);
    conn->tokens_ns = now;
    if (conn->tokens < 1.0) {
        return false;
    }
    conn->tokens -= 1.0;
    return true;
}

static void
handle_message(struct control_conn *conn, struct json_object *msg)
{
    const char *method;
    struct json_object *params, *id;
    struct vnet_error *error = jsonrpc_parse_request(msg, &method, &params, &id);
    if (error) {
        struct json_object *msg_id = NULL;
        if (json_object_is_type(msg, json_type_object)) {
            msg_id = json_object_object_get(msg, "id");
            if (!json_object_is_type(msg_id, json_type_int)
                && !json_object_is_type(msg_id, json_type_string)) {
                msg_id = NULL;
            }
        }
        send_error(conn, msg_id, JSONRPC_INVALID_REQUEST, error);
        vnet_error_destroy(error);
        return;
    }
    const struct control_options *o = &conn->server->opts;
    if (!conn_take_token(conn)) {
        error = vnet_error_create(VNET_ERR_BUSY, "'%s' refused: more than %u requests "
                                  "per second on this connection; try again later",
                                  method, o->requests_per_sec);
        send_error(conn, id, JSONRPC_RATE_LIMITED, error);
        vnet_error_destroy(error);
        return;
    }
    if (!conn->may_mutate && !o->read_only_for_all) {
        error = vnet_error_create("permission-denied", "'%s' needs root or the control "
                                  "socket's group (uid %u denied; vnetd "
                                  "--read-only-for-all lets every user read)",
                                  method, (unsigned) conn->cred.uid);
        send_error(conn, id, JSONRPC_PERMISSION_DENIED, error);
        vnet_error_destroy(error);
        return;
    }

    const struct registered *reg = find_command(conn->server, method);
    if (!reg) {
        error = vnet_error_create(VNET_ERR_NOT_FOUND, "unknown method '%s' (see "
                                  "'list-commands')", method);
        send_error(conn, id, JSONRPC_METHOD_NOT_FOUND, error);
        vnet_error_destroy(error);
        return;
    }
    if (!reg->cmd->read_only && !conn->may_mutate) {
        error = vnet_error_create("permission-denied", "'%s' changes state and needs "
                                  "root or the control socket's group (uid %u denied)",
                                  method, (unsigned) conn->cred.uid);
        send_error(conn, id, JSONRPC_PERMISSION_DENIED, error);
        vnet_error_destroy(error);
        return;
    }
    if (params && json_object_is_type(params, json_type_array)
        && json_object_array_length(params) == 0) {
        params = NULL;
    }
    if ((error = check_params(reg->cmd, params))) {
        send_error(conn, id, JSONRPC_INVALID_PARAMS, error);
        vnet_error_destroy(error);
        return;
    }
    if (!reg->cmd->read_only) {
        crashpoint_arm();
    }

    struct control_request *req = vnet_xzalloc(sizeof *req);
    req->conn = conn;
    req->id = json_object_get(id);
    req->cmd = reg->cmd;
    req->uid = conn->cred.uid;
    req->start_ns = vnet_mono_ns();
    req->next = conn->pending;
    if (conn->pending) {
        conn->pending->prev = req;
    }
    conn->pending = req;
    conn->n_pending++;
    VNLOG_DBG("client #%llu: %s", conn->serial, method);

    /* Give the handler its own reference: 'msg' dies when we return. */
    struct json_object *own_params = params ? json_object_get(params) : NULL;
    reg->cmd->handler(req, own_params, reg->aux);
    json_object_put(own_params);
}

/* Returns why a new client must be refused, or NULL to let it in. */
static const char *
client_refusal(const struct control_server *server, bool may_mutate)
{
    unsigned int max = server->opts.max_clients;
    if (server->n_conns >= max) {
        return "too many clients";
    }
    if (!may_mutate && server->n_readers >= VNET_MAX(max - max / 4, 1)) {
        return "too many read-only clients (the last slots are kept for root and the "
               "control socket's group)";
    }
    return NULL;
}

static void
refuse_client(int fd, const char *why)
{
    struct vnet_error *error = vnet_error_create(VNET_ERR_BUSY, "%s; try again later",
                                                 why);
    struct json_object *msg = jsonrpc_error(NULL, JSONRPC_DAEMON_ERROR, error->message,
                                            vnet_error_to_json(error));
    size_t len;
    char *line = jsonrpc_serialize(msg, &len);
    ssize_t r = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void) r;
    free(line);
    json_object_put(msg);
    vnet_error_destroy(error);
    close(fd);
}

static void
accept_clients(struct control_server *server)
{
    if (vnet_mono_ns() < server->accept_resume_ns) {
        return;
    }
    for (int i = 0; i < 64; i++) {
        int fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                || errno == ENOMEM) {
                /* The client stays in the backlog: retrying at once would spin. */
                server->accept_resume_ns = vnet_mono_ns() + ACCEPT_BACKOFF_NS;
                VNLOG_WARN_RL(&rl, "accept: %s (%zu clients); pausing", strerror(errno),
                              server->n_conns);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                VNLOG_WARN_RL(&rl, "accept: %s", strerror(errno));
            }
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            cred = (struct ucred) { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        }
        bool may_mutate = cred.uid == 0 || peer_in_group(fd, &cred, server->opts.group);
        const char *refusal = client_refusal(server, may_mutate);
        if (refusal) {
            refuse_client(fd, refusal);
            VNLOG_WARN_RL(&rl, "refused a client (pid %d, uid %u): %s, %zu connected",
                          (int) cred.pid, (unsigned) cred.uid, refusal,
                          server->n_conns);
            continue;
        }
        struct control_conn *conn = vnet_xzalloc(sizeof *conn);
        conn->server = server;
        conn->fd = fd;
        conn->serial = ++server->next_serial;
        conn->cred = cred;
        conn->may_mutate = may_mutate;
        server->n_readers += !may_mutate;
        conn->tokens = server->opts.requests_per_sec * 2.0;
        conn->tokens_ns = vnet_mono_ns();
        jsonrpc_rx_init(&conn->rx, server->opts.max_message);
        vnet_grow((void **) &server->conns, &server->cap_conns, server->n_conns + 1,
                  sizeof *server->conns);
        server->conns[server->n_conns++] = conn;
        VNLOG_DBG("client #%llu connected (pid %d, uid %u%s)", conn->serial,
                  (int) conn->cred.pid, (unsigned) conn->cred.uid,
                  may_mutate ? "" : ", read-only");
    }
}

static void
conn_destroy(struct control_conn *conn)
{
    for (struct control_request *req = conn->pending; req; req = req->next) {
        req->conn = NULL;
    }
    conn->server->n_readers -= !conn->may_mutate;
    close(conn->fd);
    jsonrpc_rx_destroy(&conn->rx);
    free(conn->tx);
    free(conn);
}

/* Whether to read more requests from 'conn' now.  One that does not read its
 * replies is left alone until it does, and is not polled meanwhile: its pending
 * input would wake the loop again and again. */
static bool
conn_wants_input(const struct control_conn *conn)
{
    return (!conn->eof && !conn->dead
            && conn->n_pending < conn->server->opts.max_pending
            && conn->tx_len < TX_HIGH_WATER);
}

static void
conn_process(struct control_conn *conn)
{
    for (;;) {
        if (conn->dead || conn->n_pending >= conn->server->opts.max_pending) {
            return;
        }
        struct json_object *msg = NULL;
        struct vnet_error *error = NULL;
        enum jsonrpc_rx_status status = jsonrpc_rx_next(&conn->rx, &msg, &error);
        if (status == JSONRPC_RX_AGAIN) {
            return;
        }
        if (status == JSONRPC_RX_ERROR || status == JSONRPC_RX_TOO_LONG) {
            VNLOG_DBG("client #%llu: %s", conn->serial, error->message);
            send_error(conn, NULL, JSONRPC_PARSE_ERROR, error);
            vnet_error_destroy(error);
            if (status == JSONRPC_RX_TOO_LONG) {
                conn->eof = true;     /* answer, then hang up */
            }
            continue;
        }
        handle_message(conn, msg);
        json_object_put(msg);
    }
}

static void
conn_run(struct control_conn *conn)
{
    for (int i = 0; i < READS_PER_RUN && conn_wants_input(conn); i++) {
        char buf[16384];
        ssize_t n = recv(conn->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                conn->dead = true;
            }
            break;
        }
        if (n == 0) {
            conn->eof = true;
            break;
        }
        jsonrpc_rx_feed(&conn->rx, buf, (size_t) n);
        conn_process(conn);
    }
    conn_process(conn);

    while (conn->tx_len && !conn->dead) {
        ssize_t n = send(conn->fd, conn->tx, conn->tx_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                conn->dead = true;
            }
            break;
        }
        memmove(conn->tx, conn->tx + n, conn->tx_len - (size_t) n);
        conn->tx_len -= (size_t) n;
    }
    if (conn->eof && !conn->n_pending && !conn->tx_len) {
        conn->dead = true;
    }
}

void
control_server_run(struct control_server *server)
{
    for (size_t i = 0; i < server->n_conns; i++) {
        conn_run(server->conns[i]);
    }
    size_t kept = 0;
    for (size_t i = 0; i < server->n_conns; i++) {
        struct control_conn *conn = server->conns[i];
        if (conn->dead) {
            VNLOG_DBG("client #%llu disconnected", conn->serial);
            conn_destroy(conn);
        } else {
            server->conns[kept++] = conn;
        }
    }
    server->n_conns = kept;
    /* Only now that the clients who left are gone: their slots are free again. */
    accept_clients(server);
}

void
control_server_wait(struct control_server *server)
{
    uint64_t now = vnet_mono_ns();
    if (now < server->accept_resume_ns) {
        poll_timer_wait((long long) ((server->accept_resume_ns - now) / 1000000) + 1);
    } else {
        poll_fd_wait(server->fd, POLLIN);
    }
    for (size_t i = 0; i < server->n_conns; i++) {
        struct control_conn *conn = server->conns[i];
        if (conn_wants_input(conn)) {
            poll_fd_wait(conn->fd, POLLIN);
        }
        if (conn->tx_len) {
            poll_fd_wait(conn->fd, POLLOUT);
        }
    }
}

void
control_server_close(struct control_server *server)
{
    if (!server) {
        return;
    }
    for (size_t i = 0; i < server->n_conns; i++) {
        conn_destroy(server->conns[i]);
    }
    free(server->conns);
    close(server->fd);
    unlink(server->path);
    free(server->path);
    free(server->cmds);
    free(server);
}

unsigned int
control_server_n_clients(const struct control_server *server)
{
    return (unsigned) server->n_conns;
}

struct json_object *
control_server_commands_to_json(const struct control_server *server)
{
    struct json_object *array = json_object_new_array();
    for (size_t i = 0; i < server->n_cmds; i++) {
        const struct control_command *c = server->cmds[i].cmd;
        struct json_object *obj = json_object_new_object();
        json_object_object_add(obj, "name", json_object_new_string(c->name));
        json_object_object_add(obj, "synopsis", json_object_new_string(c->synopsis));
        json_object_object_add(obj, "read_only", json_object_new_boolean(c->read_only));
        struct json_object *params = json_object_new_array();
        for (const struct control_param *p = c->params; p && p->name; p++) {
            struct json_object *po = json_object_new_object();
            json_object_object_add(po, "name", json_object_new_string(p->name));
            json_object_object_add(po, "type",
                                   json_object_new_string(param_type_name(p->type)));
            json_object_object_add(po, "required", json_object_new_boolean(p->required));
            json_object_array_add(params, po);
        }
        json_object_object_add(obj, "params", params);
        json_object_array_add(array, obj);
    }
    return array;
}
