/* Tests examples/nf/control.c: command parsing and the unix-socket line server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "examples/nf/control.h"
#include "lib/error.h"
#include "lib/util.h"

static struct nf_cmd
parse_ok(const char *line)
{
    struct nf_cmd c;
    struct vnet_error *error = nf_cmd_parse(line, &c);
    if (error) {
        fail_msg("'%s': %s", line, error->message);
    }
    return c;
}

static void
expect_error(const char *line, const char *message)
{
    struct nf_cmd c = { .type = NF_CMD_HELP, .value = 77 };
    struct vnet_error *error = nf_cmd_parse(line, &c);
    assert_non_null(error);
    assert_string_equal(error->message, message);
    assert_int_equal(c.value, 77);
    vnet_error_destroy(error);
}

static void
test_parse(void **state)
{
    struct nf_cmd c = parse_ok("pause 50000");
    assert_int_equal(c.type, NF_CMD_PAUSE);
    assert_int_equal(c.value, 50000);
    c = parse_ok("  slow 2.5   300\r");
    assert_int_equal(c.type, NF_CMD_SLOW);
    assert_true(c.real == 2.5);
    assert_int_equal(c.value, 300);
    c = parse_ok("drop 0.5");
    assert_int_equal(c.type, NF_CMD_DROP);
    assert_true(c.real == 0.5);
    c = parse_ok("drop 1");
    assert_true(c.real == 1.0);
    c = parse_ok("drop .25");
    assert_true(c.real == 0.25);
    c = parse_ok("peak 0");
    assert_int_equal(c.type, NF_CMD_PEAK);
    assert_int_equal(c.value, 0);
    c = parse_ok("queue 65536");
    assert_int_equal(c.type, NF_CMD_QUEUE);
    assert_int_equal(c.value, 65536);
    assert_int_equal(parse_ok("stats").type, NF_CMD_STATS);
    assert_int_equal(parse_ok("reset").type, NF_CMD_RESET);
    assert_int_equal(parse_ok("help").type, NF_CMD_HELP);
}

static void
test_parse_errors(void **state)
{
    char help[256];
    snprintf(help, sizeof help, "unknown command 'frob'; %s", nf_cmd_help());
    expect_error("frob 1", help);
    snprintf(help, sizeof help, "empty command; %s", nf_cmd_help());
    expect_error("   ", help);
    expect_error("pause", "usage: pause <usec>: stop serving for usec (0..60000000)");
    expect_error("pause -5", "usage: pause <usec>: stop serving for usec (0..60000000)");
    expect_error("pause 60000001",
                 "usage: pause <usec>: stop serving for usec (0..60000000)");
    expect_error("pause 5 6", "usage: pause <usec>: stop serving for usec (0..60000000)");
    expect_error("slow 0.5 100", "usage: slow <factor> <msec>: serve at peak/factor "
                 "(factor 1..1000) for msec (0..3600000)");
    expect_error("slow 2", "usage: slow <factor> <msec>: serve at peak/factor "
                 "(factor 1..1000) for msec (0..3600000)");
    expect_error("slow nan 10", "usage: slow <factor> <msec>: serve at peak/factor "
                 "(factor 1..1000) for msec (0..3600000)");
    expect_error("drop 1.5", "usage: drop <ratio>: drop this fraction (0..1) of served "
                 "packets");
    expect_error("drop -0.1", "usage: drop <ratio>: drop this fraction (0..1) of served "
                 "packets");
    expect_error("drop 0.5x", "usage: drop <ratio>: drop this fraction (0..1) of served "
                 "packets");
    expect_error("drop inf", "usage: drop <ratio>: drop this fraction (0..1) of served "
                 "packets");
    expect_error("queue 0", "usage: queue <n>: set the queue capacity (1..65536)");
    expect_error("peak 1e6", "usage: peak <pps>: set the service rate (0 = unlimited, "
                 "..100000000)");
    expect_error("stats now", "usage: stats: counters as one JSON object");
    expect_error("PAUSE 5", "unknown command 'PAUSE'; commands: pause <usec> | slow "
                 "<factor> <msec> | drop <ratio> | peak <pps> | queue <n> | stats | reset "
                 "| help");
    char longline[400];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    expect_error(longline, "command too long");
}

/* The server, driven by hand from this thread. */

struct fixture {
    char dir[64];
    char path[96];
    struct nf_control *ctl;
    int calls;
};

static char *
echo_func(const struct nf_cmd *cmd, void *aux)
{
    struct fixture *fx = aux;
    fx->calls++;
    return vnet_xasprintf("ok %d %llu", (int) cmd->type, (unsigned long long) cmd->value);
}

static int
setup(void **state)
{
    struct fixture *fx = vnet_xzalloc(sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test-nf-control.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/nf.sock", fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    nf_control_close(fx->ctl);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static int
client_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    assert_int_equal(connect(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    return fd;
}

/* Runs the server until 'fd' has 'lines' reply lines; returns them (caller frees). */
static char *
replies(struct fixture *fx, int fd, int lines)
{
    char *buf = vnet_xzalloc(8192);
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        nf_control_run(fx->ctl, echo_func, fx);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 5) == 1) {
            ssize_t r = recv(fd, buf + len, 8191 - len, 0);
            if (r <= 0) {
                break;
            }
            len += (size_t) r;
            int n = 0;
            for (size_t j = 0; j < len; j++) {
                n += buf[j] == '\n';
            }
            if (n >= lines) {
                break;
            }
        }
    }
    return buf;
}

static void
test_server_lines(void **state)
{
    struct fixture *fx = *state;
    mode_t old_umask = umask(0);
    assert_null(nf_control_open(fx->path, &fx->ctl));
    umask(old_umask);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);     /* whatever the umask */
    struct pollfd fds[1 + NF_CONTROL_MAX_CLIENTS];
    assert_int_equal(nf_control_pollfds(fx->ctl, fds), 1);

    int fd = client_connect(fx->path);
    /* Two commands and a bad one in one write, the last split across two writes. */
    const char *msg = "pause 5\nbogus\nqueue 1";
    assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t) strlen(msg));
    char *r = replies(fx, fd, 2);
    assert_string_equal(r, "ok 0 5\nerror: unknown command 'bogus'; commands: pause "
                           "<usec> | slow <factor> <msec> | drop <ratio> | peak <pps> | "
                           "queue <n> | stats | reset | help\n");
    free(r);
    assert_int_equal(nf_control_pollfds(fx->ctl, fds), 2);
    assert_int_equal(write(fd, "0\nhelp\n", 7), 7);
    r = replies(fx, fd, 2);
    char want[256];
    snprintf(want, sizeof want, "ok 4 10\n%s\n", nf_cmd_help());
    assert_string_equal(r, want);
    free(r);
    assert_int_equal(fx->calls, 2);                   /* errors and help: no call */

    /* Control bytes and over-long lines are answered with an error, and the next
     * line still works. */
    assert_int_equal(write(fd, "pa\001use 5\n", 9), 9);
    r = replies(fx, fd, 1);
    assert_string_equal(r, "error: not a text command\n");
    free(r);
    char big[600];
    memset(big, 'x', sizeof big);
    assert_int_equal(write(fd, big, sizeof big), (ssize_t) sizeof big);
    assert_int_equal(write(fd, "\nstats\n", 7), 7);
    r = replies(fx, fd, 2);
    assert_string_equal(r, "error: command longer than 255 bytes\nok 5 0\n");
    free(r);
    close(fd);
    nf_control_run(fx->ctl, echo_func, fx);
    assert_int_equal(nf_control_pollfds(fx->ctl, fds), 1);  /* client gone */
}

static void
test_server_client_limit_and_request(void **state)
{
    struct fixture *fx = *state;
    assert_null(nf_control_open(fx->path, &fx->ctl));
    int fds[NF_CONTROL_MAX_CLIENTS + 1];
    for (int i = 0; i <= NF_CONTROL_MAX_CLIENTS; i++) {
        fds[i] = client_connect(fx->path);
    }
    nf_control_run(fx->ctl, echo_func, fx);
    char *r = replies(fx, fds[NF_CONTROL_MAX_CLIENTS], 1);
    assert_string_equal(r, "error: too many control clients\n");
    free(r);
    assert_int_equal(write(fds[3], "reset\n", 6), 6);
    r = replies(fx, fds[3], 1);
    assert_string_equal(r, "ok 6 0\n");
    free(r);
    for (int i = 0; i <= NF_CONTROL_MAX_CLIENTS; i++) {
        close(fds[i]);
    }

    /* The client helper: no server answering -> an error, never a hang. */
    char *reply = NULL;
    assert_int_equal(nf_control_request("/nonexistent/x.sock", "stats", 100, &reply),
                     -ENOENT);
    assert_int_equal(nf_control_request(fx->path, "stats", 100, &reply), -EAGAIN);
    assert_null(reply);
}

static void
test_open_replaces_stale_refuses_files(void **state)
{
    struct fixture *fx = *state;
    /* A regular file at the path is an error; it is left alone. */
    int fd = open(fx->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    struct nf_control *ctl;
    struct vnet_error *error = nf_control_open(fx->path, &ctl);
    assert_non_null(error);
    assert_non_null(strstr(error->message, "exists and is not a socket"));
    vnet_error_destroy(error);
    unlink(fx->path);

    /* A stale socket (nobody listening) is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, fx->path, sizeof sun.sun_path);
    assert_int_equal(bind(s, (struct sockaddr *) &sun, sizeof sun), 0);
    close(s);
    assert_null(nf_control_open(fx->path, &fx->ctl));

    /* Too long a path is refused up front. */
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    error = nf_control_open(longpath, &ctl);
    assert_non_null(error);
    assert_non_null(strstr(error->message, "path too long"));
    vnet_error_destroy(error);

    /* Closing removes the socket file. */
    nf_control_close(fx->ctl);
    fx->ctl = NULL;
    struct stat st;
    assert_int_equal(lstat(fx->path, &st), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test_setup_teardown(test_server_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_client_limit_and_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_replaces_stale_refuses_files, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
