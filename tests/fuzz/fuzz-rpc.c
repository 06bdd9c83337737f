/* fuzz-rpc.c -- vnetd's control socket end to end: the framing, the request and
 * parameter checks of vnetd/control.c and the handlers of every registered method
 * (builtin-cmds.c, chain-cmds.c, shadow-cmds.c).
 *
 * A vnetd without substrate (as 'vnetd --no-substrate') lives in the fuzzer's
 * process: its registry, its state file in a private directory, its control server
 * listening on a unix socket there, and the command modules registered as vnetd's
 * main() registers them.  Each input is sent by a client connected to that socket,
 * as vnetctl sends requests, and the server runs until it has answered and closed
 * the connection: fuzzed requests take exactly the path of real ones.  Every input
 * starts from the same registry, holding the chains of templates/chains/ (loaded,
 * not created), so that chain/show, chain/delete and the others find a chain.
 *
 * Input: lines.  The first byte of a line picks the method: ('byte' - 'A') modulo
 * (number of methods + 1) indexes the methods in list-commands' order ('A' is
 * "version", 'B' "list-commands", ...).  The rest of the line is its params, pasted
 * verbatim into {"jsonrpc":"2.0","id":N,"method":"M","params":REST} (no "params"
 * if empty).  The one index past the methods sends the rest of the line as it is.
 *
 * Without a substrate the commands that act on VNodes stop where they need it
 * (chain/create, mirror, the shadow commands); the template changes of shadow/set
 * and shadow/edit are fuzzed by fuzz-shadow-patch.c.
 *
 * Checked, besides memory safety and leaks in every module involved: every reply is
 * one line holding a JSON-RPC 2.0 response (a result or an error with a code and a
 * message); no more replies than lines; the server answers everything and hangs up
 * in a bounded number of loop iterations, and forgets the client. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"
#include "vnetd/control.h"
#include "vnetd/registry.h"
#include "vnetd/state-file.h"
#include "vnetd/vnetd.h"

#define MAX_ROUNDS 100000

static struct vnetd d;
static char *sock_path;
static struct json_object *baseline;    /* the registry every input starts from */
static char **methods;
static size_t n_methods;

static void
discard_log(const char *line, void *aux)
{
    (void) line;
    (void) aux;
}

static void
die(const char *what, struct vnet_error *error)
{
    fprintf(stderr, "fuzz-rpc: %s: %s\n", what, error ? error->message : "failed");
    abort();
}

static void
shutdown_vnetd(void)
{
    control_server_close(d.control);
    registry_destroy(&d.registry);
    state_file_close(d.state);
    json_object_put(d.notices);
    json_object_put(baseline);
    for (size_t i = 0; i < n_methods; i++) {
        free(methods[i]);
    }
    free(methods);
    free(sock_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    vnlog_set_sink(discard_log, NULL);

    /* What vnetd's main() does, without a substrate. */
    const char *dir = fuzz_tmpdir();
    char *state_dir = vnet_xasprintf("%s/state", dir);
    sock_path = vnet_xasprintf("%s/vnetd.sock", dir);
    d.start_ns = vnet_mono_ns();
    d.socket_path = sock_path;
    registry_init(&d.registry);
    struct json_object *registry_json;
    struct vnet_error *error = state_file_open(state_dir, false, &d.state,
                                               &registry_json, &d.notices);
    if (error || (error = registry_from_json(&d.registry, registry_json))) {
        die("state", error);
    }
    json_object_put(registry_json);
    free(state_dir);

    struct control_options copts;
    control_options_init(&copts);
    copts.path = sock_path;
    copts.max_message = 4 * 1024 * 1024;
    copts.requests_per_sec = 1000;      /* vnetd's default --rate-limit */
    copts.group = getegid();    /* the client may change state, root or not */
    if (control_server_open(&copts, &d.control)) {
        die("cannot listen", NULL);
    }
    d.registry.instance = vnet_xstrdup("f0220000f0220000");
    builtin_cmds_register(&d);
    chain_cmds_register(&d);
    shadow_cmds_register(&d);

    static const char *const templates[] = { "fw-nat-vpn", "lb-2fw-vpn" };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(templates); i++) {
        char *path = vnet_xasprintf("%s/templates/chains/%s.json", VNET_SOURCE_DIR,
                                    templates[i]);
        struct chain_template *t;
        if ((error = chain_template_load_file(path, &t))
            || (error = registry_add(&d.registry, t, path, 0, false))) {
            die(path, error);
        }
        free(path);
    }
    baseline = registry_to_json(&d.registry);

    struct json_object *cmds = control_server_commands_to_json(d.control);
    n_methods = json_object_array_length(cmds);
    methods = vnet_xcalloc(n_methods, sizeof *methods);
    for (size_t i = 0; i < n_methods; i++) {
        methods[i] = vnet_xstrdup(json_object_get_string(json_object_object_get(
                                      json_object_array_get_idx(cmds, i), "name")));
    }
    json_object_put(cmds);
    atexit(shutdown_vnetd);
    return 0;
}

struct bytes {
    char *data;
    size_t len, cap;
};

static void
append(struct bytes *b, const void *data, size_t n)
{
    vnet_grow((void **) &b->data, &b->cap, b->len + n + 1, 1);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Turns the input into the byte stream the client sends; returns its number of
 * lines. */
static size_t
make_stream(const uint8_t *data, size_t size, struct bytes *out)
{
    size_t lines = 0;
    for (size_t off = 0; off < size; lines++) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t end = nl ? (size_t) (nl - data) : size;
        if (end == off) {
            append(out, "\n", 1);
            off++;
            continue;
        }
        size_t idx = (uint8_t) (data[off] - 'A') % (n_methods + 1);
        size_t rest_len = end - off - 1;
        bool wrap = idx < n_methods;
        if (wrap) {
            char head[128];
            int n = snprintf(head, sizeof head, "{\"jsonrpc\":\"2.0\",\"id\":%zu,"
                             "\"method\":\"%s\"%s", lines, methods[idx],
                             rest_len ? ",\"params\":" : "");
            append(out, head, (size_t) n);
        }
        append(out, data + off + 1, rest_len);
        append(out, wrap ? "}\n" : "\n", wrap ? 2 : 1);
        off = end + 1;
    }
    return lines;
}

static void
check_reply(const char *line, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *r = json_tokener_parse_ex(tok, line, (int) len);
    fuzz_check(r && json_tokener_get_parse_end(tok) == len,
               "a reply is one JSON value");
    json_tokener_free(tok);
    struct json_object *v, *result, *error;
    fuzz_check(json_object_object_get_ex(r, "jsonrpc", &v)
               && !strcmp(json_object_get_string(v), "2.0")
               && json_object_object_get_ex(r, "id", NULL), "a reply is JSON-RPC 2.0");
    bool has_result = json_object_object_get_ex(r, "result", &result);
    bool has_error = json_object_object_get_ex(r, "error", &error);
    fuzz_check(has_result != has_error, "a result or an error");
    if (has_error) {
        struct json_object *code = json_object_object_get(error, "code");
        struct json_object *message = json_object_object_get(error, "message");
        fuzz_check(json_object_is_type(code, json_type_int)
                   && json_object_is_type(message, json_type_string),
                   "an error's code and message");
    }
    json_object_put(r);
}

/* Sends 'out' as a client; stores in 'in' what the server sent back. */
static void
exchange(const struct bytes *out, struct bytes *in)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    vnet_strlcpy(sun.sun_path, sock_path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fuzz_check(fd >= 0 && !connect(fd, (struct sockaddr *) &sun, sizeof sun),
               "connect to the control socket");
    fuzz_check(!vnet_set_nonblocking(fd), "non-blocking client");
    size_t sent = 0;
    bool shut = false;
    for (int round = 0;; round++) {
        fuzz_check(round < MAX_ROUNDS, "the server answers and hangs up");
        while (sent < out->len) {
            ssize_t n = send(fd, out->data + sent, out->len - sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno != EAGAIN) {
                    sent = out->len;    /* hung up on us (an over-long line) */
                }
                break;
            }
            sent += (size_t) n;
        }
        if (sent == out->len && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        control_server_run(d.control);
        char buf[65536];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
            append(in, buf, (size_t) n);
        }
        if (!n || (n < 0 && errno != EAGAIN)) {
            break;
        }
    }
    close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    registry_destroy(&d.registry);
    struct vnet_error *error = registry_from_json(&d.registry, baseline);
    if (error) {
        die("registry", error);
    }
    free(vnlog_set_levels("info"));

    struct bytes out = { NULL, 0, 0 }, in = { NULL, 0, 0 };
    size_t lines = make_stream(data, size, &out);
    exchange(&out, &in);
    size_t replies = 0;
    for (size_t off = 0; off < in.len; replies++) {
        const char *line = in.data + off;
        const char *nl = memchr(line, '\n', in.len - off);
        if (!nl) {
            break;
        }
        check_reply(line, (size_t) (nl - line));
        off = (size_t) (nl - in.data) + 1;
    }
    fuzz_check(!in.len || in.data[in.len - 1] == '\n', "replies are whole lines");
    fuzz_check(replies <= lines + 1, "no more replies than lines");
    fuzz_check(!control_server_n_clients(d.control), "the server forgets the client");
    free(out.data);
    free(in.data);
    return 0;
}
