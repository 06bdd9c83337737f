/* Tests vnetd/control.c in-process: the server keeps serving every client through
 * garbage, partial and over-long messages, stuck or vanished clients, and checks
 * parameters and permissions before a handler runs. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/control.h"

static char sock_path[64];
static struct control_server *server;
static struct control_request *held;
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
cmd_fail(struct control_request *req, struct json_object *params, void *aux)
{
    control_request_fail(req, vnet_error_create(VNET_ERR_BUSY, "cannot now"));
}

static const struct control_param echo_params[] = {
    { "text", CP_STRING, true },
    { "count", CP_INT, false },
    { NULL, 0, false },
};

static const struct control_command test_commands[] = {
    { "test/echo", "echo text", true, echo_params, cmd_echo },
    { "test/mutate", "count", false, NULL, cmd_mutate },
    { "test/later", "answer later", true, NULL, cmd_later },
    { "test/fail", "fail", true, NULL, cmd_fail },
    { NULL, NULL, false, NULL, NULL },
};

static int
setup(void **state)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/vnet-test-control-%d.sock", (int) getpid());
    struct control_options opts;
    control_options_init(&opts);
    opts.path = sock_path;
    opts.max_message = 4096;
    opts.max_pending = 4;
    assert_int_equal(control_server_open(&opts, &server), 0);
    control_server_register(server, test_commands, NULL);
    held = NULL;
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

static void
test_permissions(void **state)
{
    if (getuid() != 0) {
        skip();
    }
    /* The socket is 0660 root: let the child in by loosening it for the test. */
    chmod(sock_path, 0666);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) {
            _exit(10);
        }
        int fd = connect_client();
        send_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/mutate\"}\n"
                  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test/echo\","
                  "\"params\":{\"text\":\"ro\"}}\n");
        char buf[4096];
        size_t len = 0;
        int lines = 0;
        while (lines < 2) {
            ssize_t n = recv(fd, buf + len, sizeof buf - len - 1, 0);
            if (n <= 0) {
                _exit(11);
            }
            for (ssize_t i = 0; i < n; i++) {
                lines += buf[len + (size_t) i] == '\n';
            }
            len += (size_t) n;
        }
        buf[len] = '\0';
        _exit(strstr(buf, "-32001") && strstr(buf, "\"ro\"") ? 0 : 12);
    }
    int status = 0;
    for (int i = 0; i < 5000; i++) {
        pump(1);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            break;
        }
        usleep(1000);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(n_mutations, 0);
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
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
