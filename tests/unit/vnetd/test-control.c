/* Tests vnetd/control.c in-process: the server keeps serving every client through
 * garbage, partial and over-long messages, stuck or vanished clients, floods, too
 * many clients and too few file descriptors, and checks parameters and permissions
 * (supplementary groups included) before a handler runs. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "lib/error.h"
#include "lib/rpc-client.h"
#include "lib/util.h"
#include "vnetd/control.h"

#define NOBODY 65534
#define TEST_GROUP 4242      /* any gid: membership is read from the socket */

static char sock_path[64];
static struct control_server *server;
static struct control_request *held;
static struct control_request *held_reqs[16];
static size_t n_held;
static int n_mutations;

static void
cmd_echo(struct control_request *req, struct json_object *params, void *aux)
{
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "text", json_object_get(json_object_object_get(params,
                                                                             "text")));
    control_request_reply(req, r);
}

static void
cmd_mutate(struct control_request *req, struct json_object *params, void *aux)
{
    n_mutations++;
    control_request_reply(req, NULL);
}

static void
cmd_later(struct control_request *req, struct json_object *params, void *aux)
{
    held = req;
}

static void
cmd_hold(struct control_request *req, struct json_object *params, void *aux)
{
    assert_true(n_held < VNET_ARRAY_SIZE(held_reqs));
    held_reqs[n_held++] = req;
}

static void
cmd_named(struct control_request *req, struct json_object *params, void *aux)
{
    control_request_reply(req, NULL);
}

static void
cmd_fail(struct control_request *req, struct json_object *params, void *aux)
{
    control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "cannot now"));
}

static const struct control_param echo_params[] = {
    { "text", CP_STRING, true },
    { "count", CP_INT, false },
    { NULL, 0, false },
};

static const struct control_param named_params[] = {
    { "name", CP_NAME, true },
    { NULL, 0, false },
};

static const struct control_command test_commands[] = {
    { "test/echo", "echo text", true, echo_params, cmd_echo },
    { "test/mutate", "count", false, NULL, cmd_mutate },
    { "test/later", "answer later", true, NULL, cmd_later },
    { "test/hold", "answer when the test says", true, NULL, cmd_hold },
    { "test/named", "take a name", true, named_params, cmd_named },
    { "test/fail", "fail", true, NULL, cmd_fail },
    { NULL, NULL, false, NULL, NULL },
};

typedef void options_func(struct control_options *);

/* (Re)opens the server with the tests' options, changed by 'tweak' if nonnull. */
static void
open_server(options_func *tweak)
{
    control_server_close(server);
    struct control_options opts;
    control_options_init(&opts);
    opts.path = sock_path;
    opts.max_message = 4096;
    opts.max_pending = 4;
    if (tweak) {
        tweak(&opts);
    }
    assert_int_equal(control_server_open(&opts, &server), 0);
    control_server_register(server, test_commands, NULL);
}

static int
setup(void **state)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/vnet-test-control-%d.sock", (int) getpid());
    server = NULL;
    open_server(NULL);
    held = NULL;
    n_held = 0;
    n_mutations = 0;
    return 0;
}

static int
teardown(void **state)
{
    control_server_close(server);
    server = NULL;
    return 0;
}

static int
connect_client(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, sock_path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    return fd;
}

static void
pump(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        control_server_run(server);
    }
}

static void
send_text(int fd, const char *text)
{
    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t) strlen(text));
}

/* Reads one reply line from 'fd', pumping the server meanwhile. */
static struct json_object *
read_reply(int fd)
{
    char line[65536];
    size_t len = 0;
    for (int tries = 0; tries < 2000; tries++) {
        pump(1);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 1) == 1) {
            ssize_t n = recv(fd, line + len, 1, 0);
            if (n <= 0) {
                return NULL;
            }
            if (line[len] == '\n') {
                line[len] = '\0';
                return json_tokener_parse(line);
            }
            len++;
            assert_true(len < sizeof line);
            tries = 0;
        }
    }
    return NULL;
}

static int
error_code(struct json_object *reply)
{
    struct json_object *err = json_object_object_get(reply, "error");
    assert_non_null(err);
    return json_object_get_int(json_object_object_get(err, "code"));
}

static const char *
error_message(struct json_object *reply)
{
    return json_object_get_string(json_object_object_get(
                                      json_object_object_get(reply, "error"), "message"));
}

static void
test_echo_and_errors(void **state)
{
    int fd = connect_client();
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\","
              "\"params\":{\"text\":\"hi\"}}\n");
    struct json_object *r = read_reply(fd);
    assert_non_null(r);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(r, "result"), "text")), "hi");
    json_object_put(r);

    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}\n");
    r = read_reply(fd);
    assert_int_equal(error_code(r), -32601);
    assert_string_equal(error_message(r), "unknown method 'nope' (see 'list-commands')");
    json_object_put(r);

    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"test/echo\","
              "\"params\":{\"text\":5}}\n");
    r = read_reply(fd);
    assert_int_equal(error_code(r), -32602);
    assert_string_equal(error_message(r), "$.params.text: expected a string, got 5");
    json_object_put(r);

    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"test/echo\","
              "\"params\":{\"text\":\"a\",\"colour\":1}}\n");
    r = read_reply(fd);
    assert_string_equal(error_message(r),
                        "$.params.colour: unknown parameter for 'test/echo'");
    json_object_put(r);

    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"test/echo\"}\n");
    r = read_reply(fd);
    assert_string_equal(error_message(r), "$.params.text: required parameter is missing");
    json_object_put(r);

    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"test/fail\"}\n");
    r = read_reply(fd);
    assert_int_equal(error_code(r), -32000);
    assert_string_equal(json_object_get_string(json_object_object_get(
        json_object_object_get(json_object_object_get(r, "error"), "data"), "tag")),
        "busy");
    json_object_put(r);
    close(fd);
}

static void
test_garbage_keeps_connection(void **state)
{
    int fd = connect_client();
    send_text(fd, "this is not json\n");
    struct json_object *r = read_reply(fd);
    assert_int_equal(error_code(r), -32700);
    json_object_put(r);
    send_text(fd, "{\"id\": 9}\n");
    r = read_reply(fd);
    assert_int_equal(error_code(r), -32600);
    assert_int_equal(json_object_get_int(json_object_object_get(r, "id")), 9);
    json_object_put(r);
    /* Partial request across several writes. */
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":10,");
    pump(5);
    send_text(fd, "\"method\":\"test/echo\",\"params\":{\"text\":\"split\"}");
    pump(5);
    send_text(fd, "}\n");
    r = read_reply(fd);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    close(fd);
}

static void
test_oversized_disconnects(void **state)
{
    int fd = connect_client();
    char big[8192];
    memset(big, 'x', sizeof big);
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\",\"params\":{"
              "\"text\":\"");
    assert_int_equal(send(fd, big, sizeof big, MSG_NOSIGNAL), (ssize_t) sizeof big);
    struct json_object *r = read_reply(fd);
    assert_int_equal(error_code(r), -32700);
    assert_string_equal(error_message(r), "message longer than 4096 bytes");
    json_object_put(r);
    assert_null(read_reply(fd));        /* then the server hangs up */
    close(fd);
}

static void
test_stuck_client_does_not_block_others(void **state)
{
    int stuck = connect_client();
    send_text(stuck, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/ec");
    /* A client that floods requests and never reads its replies. */
    int flooder = connect_client();
    fcntl(flooder, F_SETFL, O_NONBLOCK);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\","
                      "\"params\":{\"text\":\"flood\"}}\n";
    for (int i = 0; i < 20000; i++) {
        if (send(flooder, req, strlen(req), MSG_NOSIGNAL) < 0) {
            break;
        }
        if (i % 64 == 0) {
            pump(1);
        }
    }
    int good = connect_client();
    send_text(good, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test/echo\","
              "\"params\":{\"text\":\"served\"}}\n");
    struct json_object *r = read_reply(good);
    assert_non_null(r);
    assert_string_equal(json_object_get_string(json_object_object_get(
        json_object_object_get(r, "result"), "text")), "served");
    json_object_put(r);
    close(stuck);
    close(flooder);
    close(good);
    pump(5);
    assert_int_equal(control_server_n_clients(server), 0);
}

static void
test_reply_after_client_left(void **state)
{
    int fd = connect_client();
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/later\"}\n");
    for (int i = 0; i < 100 && !held; i++) {
        pump(1);
        usleep(1000);
    }
    assert_non_null(held);
    /* The connection waits for the pending answer (the peer may have only
     * half-closed), sends it into the void, then goes away. */
    close(fd);
    pump(5);
    assert_int_equal(control_server_n_clients(server), 1);
    control_request_reply(held, json_object_new_object());
    held = NULL;
    pump(5);
    assert_int_equal(control_server_n_clients(server), 0);

    /* A request still pending when the server shuts down is answered into the void. */
    fd = connect_client();
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test/later\"}\n");
    for (int i = 0; i < 100 && !held; i++) {
        pump(1);
        usleep(1000);
    }
    assert_non_null(held);
    control_server_close(server);
    server = NULL;
    control_request_reply(held, json_object_new_object());   /* must not crash */
    held = NULL;
    close(fd);
}

/* Reads one line into 'buf' from a blocking client socket (5 s at most); returns
 * false on EOF, error or timeout.  For forked clients, which cannot pump. */
static bool
child_read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 5000) != 1 || recv(fd, buf + len, 1, 0) != 1) {
            return false;
        }
        if (buf[len] == '\n') {
            buf[len] = '\0';
            return true;
        }
        len++;
    }
    return false;
}

/* Sends 'request' (one line) from a forked client and returns whether the reply
 * contains 'expect'. */
static bool
child_call(int fd, const char *request, const char *expect)
{
    char buf[4096];
    ssize_t r = send(fd, request, strlen(request), MSG_NOSIGNAL);
    (void) r;           /* a refused client reads why below */
    return child_read_line(fd, buf, sizeof buf) && strstr(buf, expect);
}

static int
child_connect(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, sock_path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        _exit(99);
    }
    return fd;
}

/* Runs 'body' in a child as uid/gid nobody with the supplementary group 'group'
 * (none if -1), pumping the server meanwhile; returns the child's exit status. */
static int
run_as_nobody(gid_t group, int (*body)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gid_t groups[1] = { group };
        if (setgroups(group == (gid_t) -1 ? 0 : 1, groups) || setgid(NOBODY)
            || setuid(NOBODY)) {
            _exit(100);
        }
        _exit(body());
    }
    for (int i = 0; i < 5000; i++) {
        pump(1);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static const char mutate_req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                 "\"test/mutate\"}\n";
static const char echo_req[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test/echo\","
                               "\"params\":{\"text\":\"ro\"}}\n";

static int
body_denied_everything(void)
{
    int fd = child_connect();
    bool ok = (child_call(fd, mutate_req, "'test/mutate' needs root or the control "
                          "socket's group (uid 65534 denied; vnetd --read-only-for-all")
               && child_call(fd, echo_req, "\"code\":-32001"));
    return ok ? 0 : 12;
}

static int
body_reads_only(void)
{
    int fd = child_connect();
    bool ok = (child_call(fd, mutate_req, "'test/mutate' changes state and needs root "
                          "or the control socket's group (uid 65534 denied)")
               && child_call(fd, echo_req, "\"result\":{\"text\":\"ro\"}"));
    return ok ? 0 : 12;
}

static int
body_mutates(void)
{
    int fd = child_connect();
    return (child_call(fd, mutate_req, "\"result\":{}")
            && child_call(fd, echo_req, "\"result\":{\"text\":\"ro\"}")) ? 0 : 12;
}

static void
options_read_only_for_all(struct control_options *opts)
{
    opts->read_only_for_all = true;
}

static void
options_group(struct control_options *opts)
{
    opts->group = TEST_GROUP;
}

static void
test_permissions(void **state)
{
    if (getuid() != 0) {
        skip();
    }
    /* The socket is 0660 root: a looser mode must not let anyone in, the server
     * checks the peer itself. */
    chmod(sock_path, 0666);
    assert_int_equal(run_as_nobody((gid_t) -1, body_denied_everything), 0);

    open_server(options_read_only_for_all);
    chmod(sock_path, 0666);
    assert_int_equal(run_as_nobody((gid_t) -1, body_reads_only), 0);
    assert_int_equal(n_mutations, 0);
}

static void
test_group_members_may_mutate(void **state)
{
    if (getuid() != 0) {
        skip();
    }
    open_server(options_group);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
    assert_int_equal(st.st_gid, TEST_GROUP);

    /* A supplementary member (SO_PEERCRED reports only the primary group). */
    assert_int_equal(run_as_nobody(TEST_GROUP, body_mutates), 0);
    assert_int_equal(n_mutations, 1);

    /* Not a member: the socket's mode keeps it out... */
    assert_int_equal(run_as_nobody((gid_t) -1, body_denied_everything), 99);
    /* ...and so does the server if the mode is loosened. */
    chmod(sock_path, 0666);
    assert_int_equal(run_as_nobody((gid_t) -1, body_denied_everything), 0);
    assert_int_equal(n_mutations, 1);
}

static void
test_names_validated(void **state)
{
    static const char *const bad[] = {
        "\"../etc\"", "\"a b\"", "\"Fw\"", "\"\"", "\"-fw\"", "\"fw;reboot\"",
        "\"fw/x\"", "\"fw'\"", "\"fw<x>\"", "\"fw\\u0000x\"",
        "\"abcdefghijklmnopqrstuvwxy\"", "5", "null", "[\"fw\"]",
    };
    int fd = connect_client();
    for (size_t i = 0; i < VNET_ARRAY_SIZE(bad); i++) {
        char *req = vnet_xasprintf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                   "\"test/named\",\"params\":{\"name\":%s}}\n",
                                   bad[i]);
        send_text(fd, req);
        free(req);
        struct json_object *r = read_reply(fd);
        assert_non_null(r);
        assert_int_equal(error_code(r), -32602);
        assert_non_null(strstr(error_message(r), "$.params.name: expected a name "
                               "matching [a-z0-9][a-z0-9-]{0,23}, got "));
        json_object_put(r);
    }
    send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/named\","
              "\"params\":{\"name\":\"abcdefghijklmnopqrstuv-1\"}}\n");
    struct json_object *r = read_reply(fd);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    close(fd);
}

/* A request line of exactly 'max_message' bytes is served; one byte more is not,
 * and the connection closes. */
static void
test_message_size_limit(void **state)
{
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\","
                               "\"params\":{\"text\":\"";
    static const char tail[] = "\"}}";
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t text_len = 4096 - (sizeof head - 1) - (sizeof tail - 1) + extra;
        char *line = vnet_xmalloc(4096 + extra + 2);
        memcpy(line, head, sizeof head - 1);
        memset(line + sizeof head - 1, 'x', text_len);
        memcpy(line + sizeof head - 1 + text_len, tail, sizeof tail);
        assert_int_equal(strlen(line), 4096 + extra);
        strcat(line, "\n");
        int fd = connect_client();
        send_text(fd, line);
        free(line);
        struct json_object *r = read_reply(fd);
        assert_non_null(r);
        if (!extra) {
            assert_int_equal(strlen(json_object_get_string(json_object_object_get(
                json_object_object_get(r, "result"), "text"))), text_len);
        } else {
            assert_int_equal(error_code(r), -32700);
            assert_string_equal(error_message(r), "message longer than 4096 bytes");
            assert_null(read_reply(fd));
        }
        json_object_put(r);
        close(fd);
    }
}

static void
options_rate_5(struct control_options *opts)
{
    opts->requests_per_sec = 5;
}

/* Over the rate, requests are refused at once with an error, not delayed. */
static void
test_rate_limit(void **state)
{
    open_server(options_rate_5);
    int fd = connect_client();
    char *burst = vnet_xstrdup("");
    for (int i = 0; i < 20; i++) {
        char *next = vnet_xasprintf("%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
                                    "\"test/echo\",\"params\":{\"text\":\"r\"}}\n",
                                    burst, i);
        free(burst);
        burst = next;
    }
    send_text(fd, burst);
    free(burst);
    int served = 0, limited = 0;
    for (int i = 0; i < 20; i++) {
        struct json_object *r = read_reply(fd);
        assert_non_null(r);
        assert_int_equal(json_object_get_int(json_object_object_get(r, "id")), i);
        if (json_object_object_get(r, "result")) {
            served++;
        } else {
            assert_int_equal(error_code(r), -32002);
            assert_string_equal(error_message(r),
                                "'test/echo' refused: more than 5 requests per second "
                                "on this connection; try again later");
            limited++;
        }
        json_object_put(r);
    }
    assert_int_equal(served, 10);           /* a burst of twice the rate */
    assert_int_equal(limited, 10);

    /* Another connection has its own bucket; this one refills with time. */
    int other = connect_client();
    send_text(other, echo_req);
    struct json_object *r = read_reply(other);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    usleep(250 * 1000);
    send_text(fd, echo_req);
    r = read_reply(fd);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    close(fd);
    close(other);
}

static void
options_max_2(struct control_options *opts)
{
    opts->max_clients = 2;
}

static void
test_max_clients(void **state)
{
    open_server(options_max_2);
    int a = connect_client(), b = connect_client();
    pump(2);
    int c = connect_client();
    struct json_object *r = read_reply(c);
    assert_non_null(r);
    assert_int_equal(error_code(r), -32000);
    assert_string_equal(error_message(r), "too many clients; try again later");
    assert_string_equal(json_object_get_string(json_object_object_get(
        json_object_object_get(json_object_object_get(r, "error"), "data"), "tag")),
        "busy");
    json_object_put(r);
    assert_null(read_reply(c));
    close(c);
    assert_int_equal(control_server_n_clients(server), 2);

    /* The refusal is what rpc_client_call() reports, even though the server hung up
     * before the request was sent. */
    struct rpc_client *client;
    assert_int_equal(rpc_client_open(sock_path, &client), 0);
    pump(2);
    struct json_object *result = NULL;
    struct vnet_error *error = NULL;
    assert_int_equal(rpc_client_call(client, "test/echo", NULL, 2000, &result, &error),
                     1);
    assert_string_equal(error->message, "too many clients; try again later");
    assert_string_equal(error->tag, VNET_ERR_BUSY);
    vnet_error_destroy(error);
    rpc_client_close(client);

    send_text(a, echo_req);
    r = read_reply(a);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    close(a);
    close(b);
}

static void
options_readers_4(struct control_options *opts)
{
    opts->max_clients = 4;
    opts->read_only_for_all = true;
}

static int
body_three_readers(void)
{
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = child_connect();
    }
    for (int i = 0; i < 3; i++) {
        if (!child_call(fds[i], echo_req, "\"result\"")) {
            return 12;
        }
    }
    return child_call(fds[3], echo_req, "too many read-only clients (the last slots "
                      "are kept for root and the control socket's group); try again "
                      "later") ? 0 : 13;
}

/* Readers share three quarters of the slots; root still gets in. */
static void
test_readers_leave_slots(void **state)
{
    if (getuid() != 0) {
        skip();
    }
    open_server(options_readers_4);
    chmod(sock_path, 0666);
    assert_int_equal(run_as_nobody((gid_t) -1, body_three_readers), 0);
}

/* A client that never reads its replies is not polled for input once they pile up:
 * its unread requests must not wake the loop again and again. */
static void
test_unread_replies_do_not_spin(void **state)
{
    int flooder = connect_client();
    fcntl(flooder, F_SETFL, O_NONBLOCK);
    char text[1001];
    memset(text, 'f', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    char *req = vnet_xasprintf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\","
                               "\"params\":{\"text\":\"%s\"}}\n", text);
    size_t len = strlen(req), off = 0;
    for (int stalls = 0; stalls < 20; ) {
        ssize_t n = send(flooder, req + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            pump(1);
            stalls++;
            continue;
        }
        stalls = 0;
        off = (off + (size_t) n) % len;
    }
    free(req);

    control_server_wait(server);
    poll_timer_wait(300);
    uint64_t start = vnet_mono_ns();
    poll_block();
    assert_true(vnet_mono_ns() - start >= 200 * 1000000ull);

    int good = connect_client();
    send_text(good, echo_req);
    struct json_object *r = read_reply(good);
    assert_non_null(json_object_object_get(r, "result"));
    json_object_put(r);
    close(good);
    close(flooder);
}

/* When a handler frees a slot of a connection at 'max_pending', the requests
 * already buffered are taken at the next iteration, without waiting for input. */
static void
test_freed_slot_resumes(void **state)
{
    int fd = connect_client();
    for (int i = 0; i < 5; i++) {
        send_text(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"test/hold\"}\n");
    }
    for (int i = 0; i < 100 && n_held < 4; i++) {
        pump(1);
        usleep(1000);
    }
    pump(5);
    assert_int_equal(n_held, 4);

    control_request_reply(held_reqs[0], NULL);      /* a notification: no answer */
    control_server_wait(server);
    poll_timer_wait(2000);
    uint64_t start = vnet_mono_ns();
    poll_block();
    assert_true(vnet_mono_ns() - start < 1000 * 1000000ull);
    pump(1);
    assert_int_equal(n_held, 5);
    for (size_t i = 1; i < n_held; i++) {
        control_request_reply(held_reqs[i], NULL);
    }
    close(fd);
}

/* Out of file descriptors, accept() fails while the client waits in the backlog:
 * the server pauses instead of spinning on the readable listening socket, then
 * takes the client once descriptors are free. */
static void
test_out_of_fds_backs_off(void **state)
{
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(release[1]);
        for (int i = 0; i < 10; i++) {
            child_connect();
        }
        char c = 'R';
        if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0) {
            _exit(1);
        }
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);

    struct rlimit saved, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int probe = dup(0);
    close(probe);
    low = saved;
    low.rlim_cur = (rlim_t) probe + 2;     /* room for two clients */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int iterations = 0;
    uint64_t start = vnet_mono_ns();
    while (vnet_mono_ns() - start < 300 * 1000000ull) {
        control_server_run(server);
        control_server_wait(server);
        poll_timer_wait(300);
        poll_block();
        iterations++;
    }
    assert_int_equal(control_server_n_clients(server), 2);
    assert_true(iterations < 30);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

    for (int i = 0; i < 100 && control_server_n_clients(server) < 10; i++) {
        pump(1);
        usleep(10 * 1000);
    }
    assert_int_equal(control_server_n_clients(server), 10);
    close(release[1]);
    waitpid(pid, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    close(release[0]);
}

static void
test_stale_socket_replaced(void **state)
{
    /* A second server on a live socket is refused... */
    struct control_options opts;
    control_options_init(&opts);
    opts.path = sock_path;
    struct control_server *second;
    assert_int_equal(control_server_open(&opts, &second), -EADDRINUSE);
    /* ...but a stale socket file (nobody listening) is replaced. */
    char stale[80];
    snprintf(stale, sizeof stale, "%s.stale", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, stale, sizeof sun.sun_path);
    assert_int_equal(bind(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close(fd);
    opts.path = stale;
    assert_int_equal(control_server_open(&opts, &second), 0);
    control_server_close(second);

    /* A file that is not a socket is never removed. */
    fd = open(stale, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(control_server_open(&opts, &second), -EEXIST);
    struct stat st;
    assert_int_equal(stat(stale, &st), 0);
    assert_int_equal(st.st_size, 4);
    unlink(stale);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_keeps_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_disconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_client_does_not_block_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply_after_client_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_members_may_mutate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_leave_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unread_replies_do_not_spin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_freed_slot_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_fds_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
