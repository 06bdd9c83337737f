/* control.c -- command parsing and the unix-socket line server of the NF. */
#include "examples/nf/control.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/util.h"

static bool
parse_real(const char *s, double min, double max, double *ret)
{
    if (!s || !*s || (*s != '.' && (*s < '0' || *s > '9'))) {
        return false;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < min || v > max) {
        return false;
    }
    *ret = v;
    return true;
}

struct cmd_def {
    const char *name;
    enum nf_cmd_type type;
    const char *usage;
};

static const struct cmd_def cmd_defs[] = {
    { "pause", NF_CMD_PAUSE, "pause <usec>: stop serving for usec (0..60000000)" },
    { "slow", NF_CMD_SLOW,
      "slow <factor> <msec>: serve at peak/factor (factor 1..1000) for msec (0..3600000)" },
    { "drop", NF_CMD_DROP, "drop <ratio>: drop this fraction (0..1) of served packets" },
    { "peak", NF_CMD_PEAK, "peak <pps>: set the service rate (0 = unlimited, ..100000000)" },
    { "queue", NF_CMD_QUEUE, "queue <n>: set the queue capacity (1..65536)" },
    { "stats", NF_CMD_STATS, "stats: counters as one JSON object" },
    { "reset", NF_CMD_RESET, "reset: zero the counters and the queue high-water mark" },
    { "help", NF_CMD_HELP, "help: this list" },
};

const char *
nf_cmd_help(void)
{
    return "commands: pause <usec> | slow <factor> <msec> | drop <ratio> | peak <pps> | "
           "queue <n> | stats | reset | help";
}

struct vnet_error *
nf_cmd_parse(const char *line, struct nf_cmd *cmd)
{
    char buf[NF_CONTROL_MAX_LINE + 1];
    if (!vnet_strlcpy(buf, line, sizeof buf)) {
        return vnet_error_create(VNET_ERR_INVALID, "command too long");
    }
    char *args[4];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t\r", &save); tok;
         tok = strtok_r(NULL, " \t\r", &save)) {
        if (n == (int) VNET_ARRAY_SIZE(args)) {
            n++;
            break;
        }
        args[n++] = tok;
    }
    if (!n) {
        return vnet_error_create(VNET_ERR_INVALID, "empty command; %s", nf_cmd_help());
    }

    const struct cmd_def *def = NULL;
    for (size_t i = 0; i < VNET_ARRAY_SIZE(cmd_defs); i++) {
        if (!strcmp(args[0], cmd_defs[i].name)) {
            def = &cmd_defs[i];
        }
    }
    if (!def) {
        return vnet_error_create(VNET_ERR_INVALID, "unknown command '%.32s'; %s", args[0],
                                 nf_cmd_help());
    }

    struct nf_cmd c = { .type = def->type };
    unsigned long long v;
    bool ok;
    switch (def->type) {
    case NF_CMD_PAUSE:
        ok = n == 2 && !vnet_parse_uint(args[1], 0, 60000000, &v);
        c.value = v;
        break;
    case NF_CMD_SLOW:
        ok = n == 3 && parse_real(args[1], 1.0, 1000.0, &c.real)
             && !vnet_parse_uint(args[2], 0, 3600000, &v);
        c.value = v;
        break;
    case NF_CMD_DROP:
        ok = n == 2 && parse_real(args[1], 0.0, 1.0, &c.real);
        break;
    case NF_CMD_PEAK:
        ok = n == 2 && !vnet_parse_uint(args[1], 0, 100000000, &v);
        c.value = v;
        break;
    case NF_CMD_QUEUE:
        ok = n == 2 && !vnet_parse_uint(args[1], 1, 65536, &v);
        c.value = v;
        break;
    default:
        ok = n == 1;
        break;
    }
    if (!ok) {
        return vnet_error_create(VNET_ERR_INVALID, "usage: %s", def->usage);
    }
    *cmd = c;
    return NULL;
}

/* The server. */

struct client {
    int fd;                         /* -1 if the slot is free */
    char buf[NF_CONTROL_MAX_LINE + 1];
    size_t len;
    bool discarding;                /* skipping the rest of an over-long line */
    bool binary;                    /* the line holds control bytes */
};

struct nf_control {
    int fd;
    char *path;
    struct client clients[NF_CONTROL_MAX_CLIENTS];
};

static int
make_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    return vnet_strlcpy(sun->sun_path, path, sizeof sun->sun_path) ? 0 : -ENAMETOOLONG;
}

struct vnet_error *
nf_control_open(const char *path, struct nf_control **ret_control)
{
    struct sockaddr_un sun;
    if (make_addr(path, &sun)) {
        return vnet_error_create(VNET_ERR_INVALID, "--control '%s': path too long "
                                 "(at most %zu bytes)", path, sizeof sun.sun_path - 1);
    }
    struct stat st;
    if (!lstat(path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            return vnet_error_create(VNET_ERR_EXISTS, "--control '%s': exists and is not "
                                     "a socket", path);
        }
        char *reply = NULL;
        int r = nf_control_request(path, "help", 500, &reply);
        free(reply);
        if (!r) {
            return vnet_error_create(VNET_ERR_BUSY, "--control '%s': another NF is "
                                     "listening there", path);
        }
        unlink(path);
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return vnet_error_from_errno(-errno, "--control '%s': socket", path);
    }
    /* Mode 0600: its commands stall and drop production traffic, so only the NF's
     * owner (root, for the NFs vnetd starts) may connect, whatever the umask. */
    mode_t old_umask = umask(0177);
    int rc = bind(fd, (struct sockaddr *) &sun, sizeof sun);
    umask(old_umask);
    if (rc || listen(fd, 16)) {
        int err = errno;
        close(fd);
        return vnet_error_from_errno(-err, "--control '%s'", path);
    }
    struct nf_control *c = vnet_xzalloc(sizeof *c);
    c->fd = fd;
    c->path = vnet_xstrdup(path);
    for (int i = 0; i < NF_CONTROL_MAX_CLIENTS; i++) {
        c->clients[i].fd = -1;
    }
    *ret_control = c;
    return NULL;
}

static void
drop_client(struct client *cl)
{
    close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
    cl->discarding = cl->binary = false;
}

void
nf_control_close(struct nf_control *c)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < NF_CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0) {
            drop_client(&c->clients[i]);
        }
    }
    close(c->fd);
    unlink(c->path);
    free(c->path);
    free(c);
}

unsigned int
nf_control_pollfds(const struct nf_control *c, struct pollfd *fds)
{
    unsigned int n = 0;
    fds[n++] = (struct pollfd) { .fd = c->fd, .events = POLLIN };
    for (int i = 0; i < NF_CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0) {
            fds[n++] = (struct pollfd) { .fd = c->clients[i].fd, .events = POLLIN };
        }
    }
    return n;
}

/* Sends 'reply' + '\n'.  A client that does not read its replies is dropped. */
static bool
send_reply(struct client *cl, char *reply)
{
    size_t len = strlen(reply);
    reply[len] = '\n';
    ssize_t r = send(cl->fd, reply, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    reply[len] = '\0';
    return r == (ssize_t) len + 1;
}

static bool
handle_line(struct client *cl, const char *line, nf_control_func *func, void *aux)
{
    struct nf_cmd cmd;
    struct vnet_error *error = nf_cmd_parse(line, &cmd);
    char *reply;
    if (error) {
        reply = vnet_xasprintf("error: %s", error->message);
        vnet_error_destroy(error);
    } else if (cmd.type == NF_CMD_HELP) {
        reply = vnet_xstrdup(nf_cmd_help());
    } else {
        reply = func(&cmd, aux);
    }
    /* send_reply() writes the newline over the NUL: make room for it. */
    reply = vnet_xrealloc(reply, strlen(reply) + 2);
    bool ok = send_reply(cl, reply);
    free(reply);
    return ok;
}

static void
read_client(struct client *cl, nf_control_func *func, void *aux)
{
    char chunk[512];
    ssize_t r = recv(cl->fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (r <= 0) {
        drop_client(cl);
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        char ch = chunk[i];
        if (ch == '\n') {
            bool ok = true;
            if (cl->binary) {
                char msg[] = "error: not a text command";
                ok = send_reply(cl, msg);
            } else if (cl->discarding) {
                char msg[64];
                snprintf(msg, sizeof msg, "error: command longer than %d bytes",
                         NF_CONTROL_MAX_LINE);
                ok = send_reply(cl, msg);
            } else {
                cl->buf[cl->len] = '\0';
                ok = handle_line(cl, cl->buf, func, aux);
            }
            cl->len = 0;
            cl->discarding = cl->binary = false;
            if (!ok) {
                drop_client(cl);
                return;
            }
        } else if (!cl->discarding) {
            if ((ch >= 0 && ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
                cl->binary = true;
            }
            if (cl->len == NF_CONTROL_MAX_LINE) {
                cl->discarding = true;
            } else {
                cl->buf[cl->len++] = ch;
            }
        }
    }
}

void
nf_control_run(struct nf_control *c, nf_control_func *func, void *aux)
{
    for (;;) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            break;
        }
        struct client *slot = NULL;
        for (int i = 0; i < NF_CONTROL_MAX_CLIENTS && !slot; i++) {
            if (c->clients[i].fd < 0) {
                slot = &c->clients[i];
            }
        }
        if (!slot) {
            static const char busy[] = "error: too many control clients\n";
            ssize_t w = send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            (void) w;
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->len = 0;
        slot->discarding = slot->binary = false;
    }
    for (int i = 0; i < NF_CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0) {
            read_client(&c->clients[i], func, aux);
        }
    }
}

int
nf_control_request(const char *path, const char *line, int timeout_ms, char **ret_reply)
{
    struct sockaddr_un sun;
    if (make_addr(path, &sun)) {
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int err = 0;
    char *msg = vnet_xasprintf("%s\n", line);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        err = -errno;
        goto out;
    }
    err = vnet_write_all(fd, msg, strlen(msg));
    if (err) {
        goto out;
    }
    size_t cap = 4096, len = 0;
    char *buf = vnet_xmalloc(cap);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = vnet_xrealloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            err = r < 0 ? -errno : -ECONNRESET;
            free(buf);
            goto out;
        }
        len += (size_t) r;
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            *nl = '\0';
            *ret_reply = buf;
            break;
        }
    }

out:
    free(msg);
    close(fd);
    return err;
}
