/* control.h -- vnetd's control socket: JSON-RPC 2.0 over a unix stream socket.
 *
 * Modules register commands ("chain/load") with a parameter schema, a synopsis and a
 * read-only flag.  The server validates every request against the schema before a
 * handler runs, so handlers see well-typed params; unknown members are rejected.
 * Mutating commands require the peer (SO_PEERCRED, SO_PEERGROUPS) to be root or a
 * member of the socket's group, as its primary or a supplementary group; so do
 * read-only ones unless 'read_only_for_all' opens them to every local user.  The
 * check is the server's own: it holds even if the socket file's mode is looser.
 *
 * Handlers may answer at once or later (long operations): a handler receives a
 * 'struct control_request' and must eventually call control_request_reply() or
 * control_request_fail() exactly once.  If the client goes away first, the answer is
 * dropped.
 *
 * The server never blocks: sockets are non-blocking, each connection has bounded
 * input and output buffers and a bounded number of requests in flight, and a client
 * that sends garbage gets an error reply and keeps its connection (an over-long
 * message closes it).  A client that does not read its replies is no longer read
 * from once its replies pile up; a request over the connection's rate is answered
 * with a JSONRPC_RATE_LIMITED error at once.  Past 'max_clients' a new connection
 * gets a "too many clients" error and is closed; peers that may only read share at
 * most three quarters of the slots, so root and the group can always connect.
 * Runs in the OVS poll loop: control_server_run() and control_server_wait() once
 * per iteration. */
#ifndef VNETD_CONTROL_H
#define VNETD_CONTROL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;
struct vnet_error;
struct control_server;
struct control_request;

enum control_param_type {
    CP_STRING, CP_NAME, CP_INT, CP_BOOL, CP_NUMBER, CP_OBJECT, CP_ARRAY, CP_ANY
};

struct control_param {
    const char *name;
    enum control_param_type type;
    bool required;
};

typedef void control_handler_func(struct control_request *, struct json_object *params,
                                  void *aux);

struct control_command {
    const char *name;                     /* "module/verb" */
    const char *synopsis;                 /* one line for list-commands */
    bool read_only;
    const struct control_param *params;   /* terminated by a NULL name; may be NULL */
    control_handler_func *handler;
};

struct control_options {
    const char *path;
    mode_t mode;                 /* socket file mode, e.g. 0660 */
    gid_t group;                 /* owning group; (gid_t) -1 keeps root's */
    bool read_only_for_all;      /* let any local user call read-only methods */
    size_t max_message;          /* bytes per request line */
    unsigned int max_clients;    /* lowered to half of RLIMIT_NOFILE if above it */
    unsigned int max_pending;    /* requests in flight per connection */
    unsigned int requests_per_sec;  /* per connection, bursts of twice that;
                                     * 0 = unlimited */
};
void control_options_init(struct control_options *);

/* Binds and listens.  An existing socket file is replaced only if nobody answers
 * on it (a stale socket from a crashed daemon).  Returns 0 or -errno
 * (-EADDRINUSE if another daemon listens there, -EEXIST if a file that is not a
 * socket is there: it is left alone). */
int control_server_open(const struct control_options *, struct control_server **ret);
void control_server_close(struct control_server *);

/* Registers 'cmds' (terminated by a NULL name); the table must outlive the server.
 * 'aux' is passed to each handler. */
void control_server_register(struct control_server *, const struct control_command *cmds,
                             void *aux);

void control_server_run(struct control_server *);
void control_server_wait(struct control_server *);

unsigned int control_server_n_clients(const struct control_server *);
/* [{"name", "synopsis", "read_only", "params": [{"name","type","required"}]}] */
struct json_object *control_server_commands_to_json(const struct control_server *);

/* Answers a request and frees it.  Takes ownership of 'result' / 'error'. */
void control_request_reply(struct control_request *, struct json_object *result);
void control_request_fail(struct control_request *, struct vnet_error *error);
/* Returns the method name, for logs. */
const char *control_request_method(const struct control_request *);
/* Returns the peer's uid. */
uid_t control_request_uid(const struct control_request *);

#endif
