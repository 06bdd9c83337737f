/* vnetctl -- the command-line client of vnetd.  Everything it knows about its
 * commands comes from the table in ctl-commands.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rpc-client.h"
#include "lib/util.h"
#include "vnet-config.h"
#include "vnetd/ctl-commands.h"
#include "vnetd/ctl-doc.h"

#define MAX_WORDS 4

static void
print_option(FILE *f, const struct ctl_option *o)
{
    char *left = o->short_name
                 ? vnet_xasprintf("-%c, --%s%s%s", o->short_name, o->name,
                                  o->arg ? " " : "", o->arg ? o->arg : "")
                 : vnet_xasprintf("--%s%s%s", o->name, o->arg ? " " : "",
                                  o->arg ? o->arg : "");
    fprintf(f, "    %-22s %s\n", left, o->help);
    free(left);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: vnetctl [OPTIONS] COMMAND [ARG...]\n\nCommands:\n");
    for (const struct ctl_command *c = ctl_commands; c->name; c++) {
        char *left = vnet_xasprintf("%s%s%s", c->name, *c->synopsis ? " " : "",
                                    c->synopsis);
        for (const struct ctl_option *o = c->options; o && o->name; o++) {
            char *more = vnet_xasprintf("%s [--%s%s%s]", left, o->name,
                                        o->arg ? " " : "", o->arg ? o->arg : "");
            free(left);
            left = more;
        }
        fprintf(f, "  %-34s %s\n", left, c->help);
        free(left);
    }
    fprintf(f, "\nOptions:\n");
    for (const struct ctl_option *o = ctl_global_options; o->name; o++) {
        print_option(f, o);
    }
    fprintf(f, "\nExit status: 0 success, 1 usage or transport error, 2 error reported "
            "by vnetd.\n");
}

static void
command_usage(FILE *f, const struct ctl_command *c)
{
    fprintf(f, "usage: vnetctl %s%s%s", c->name, *c->synopsis ? " " : "", c->synopsis);
    for (const struct ctl_option *o = c->options; o && o->name; o++) {
        fprintf(f, " [--%s%s%s]", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    }
    fprintf(f, "\n");
}

static const struct ctl_option *
find_option(const struct ctl_option *opts, const char *name)
{
    for (const struct ctl_option *o = opts; o && o->name; o++) {
        if (!strcmp(o->name, name)) {
            return o;
        }
    }
    return NULL;
}

/* Looks 'name' up among the global options and every command's options; returns
 * whether it takes an argument (-1 if unknown). */
static int
option_takes_arg(const char *name)
{
    const struct ctl_option *o = find_option(ctl_global_options, name);
    for (const struct ctl_command *c = ctl_commands; !o && c->name; c++) {
        o = find_option(c->options, name);
    }
    return o ? o->arg != NULL : -1;
}

/* Finds the option with short alias 'c' among every command's options. */
static const struct ctl_option *
find_short(char c)
{
    for (const struct ctl_command *cmd = ctl_commands; cmd->name; cmd++) {
        for (const struct ctl_option *o = cmd->options; o && o->name; o++) {
            if (o->short_name == c) {
                return o;
            }
        }
    }
    return NULL;
}

/* Finds the command whose words are the longest prefix of 'words'. */
static const struct ctl_command *
find_command(char **words, int n_words, int *ret_used)
{
    const struct ctl_command *best = NULL;
    int best_used = 0;
    for (const struct ctl_command *c = ctl_commands; c->name; c++) {
        char *copy = vnet_xstrdup(c->name);
        char *save = NULL;
        int used = 0;
        bool match = true;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            if (used >= n_words || strcmp(w, words[used])) {
                match = false;
                break;
            }
            used++;
        }
        free(copy);
        if (match && used > best_used) {
            best = c;
            best_used = used;
        }
    }
    *ret_used = best_used;
    return best;
}

int
main(int argc, char *argv[])
{
    struct ctl_context ctx = {
        .socket = getenv("VNET_SOCKET") ? getenv("VNET_SOCKET") : VNET_DEFAULT_SOCKET,
        /* Longer than vnetd's own operation timeout (--op-timeout, 120 s), so
         * that an operation vnetd gives up on is answered with its reason. */
        .timeout_ms = 150000,
        .out = stdout,
        .err = stderr,
    };
    char **words = vnet_xcalloc((size_t) argc + 1, sizeof *words);
    int n_words = 0;
    struct ctl_opt_value *opts = vnet_xcalloc((size_t) argc + 1, sizeof *opts);
    size_t n_opts = 0;
    bool only_words = false;

    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        const struct ctl_option *alias = NULL;
        if (!only_words && arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2]) {
            alias = find_short(arg[1]);
            if (!alias && arg[1] != 'h') {
                fprintf(stderr, "vnetctl: unknown option '%s'; see 'vnetctl --help'\n",
                        arg);
                return CTL_EXIT_USAGE;
            }
        }
        if (alias) {
            if (alias->arg && i + 1 >= argc) {
                fprintf(stderr, "vnetctl: option '%s' needs an argument\n", arg);
                return CTL_EXIT_USAGE;
            }
            opts[n_opts++] = (struct ctl_opt_value) {
                alias->name, alias->arg ? argv[++i] : NULL,
            };
            continue;
        }
        if (only_words || strncmp(arg, "--", 2) || !arg[2]) {
            if (!strcmp(arg, "--")) {
                only_words = true;
            } else {
                words[n_words++] = arg;
            }
            continue;
        }
        if (!strcmp(arg, "-h")) {
            usage(stdout);
            return CTL_EXIT_OK;
        }
        char *name = vnet_xstrdup(arg + 2);
        char *eq = strchr(name, '=');
        const char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = arg + 2 + (eq - name) + 1;
        }
        int takes = option_takes_arg(name);
        if (takes < 0) {
            fprintf(stderr, "vnetctl: unknown option '--%s'; see 'vnetctl --help'\n",
                    name);
            return CTL_EXIT_USAGE;
        }
        if (takes && !value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vnetctl: option '--%s' needs an argument\n", name);
                return CTL_EXIT_USAGE;
            }
            value = argv[++i];
        } else if (!takes && value) {
            fprintf(stderr, "vnetctl: option '--%s' takes no argument\n", name);
            return CTL_EXIT_USAGE;
        }
        opts[n_opts++] = (struct ctl_opt_value) { name, value };
    }

    /* Global options. */
    size_t kept = 0;
    for (size_t i = 0; i < n_opts; i++) {
        const char *name = opts[i].name;
        if (!strcmp(name, "help")) {
            usage(stdout);
            return CTL_EXIT_OK;
        } else if (!strcmp(name, "version")) {
            printf("vnetctl %s\n", VNET_VERSION);
            return CTL_EXIT_OK;
        } else if (!strcmp(name, "man")) {
            ctl_doc_man(stdout);
            return CTL_EXIT_OK;
        } else if (!strcmp(name, "bash-completion")) {
            ctl_doc_completion(stdout);
            return CTL_EXIT_OK;
        } else if (!strcmp(name, "socket")) {
            ctx.socket = opts[i].value;
        } else if (!strcmp(name, "json")) {
            ctx.json = true;
        } else if (!strcmp(name, "timeout")) {
            unsigned long long secs;
            if (vnet_parse_uint(opts[i].value, 1, 86400, &secs)) {
                fprintf(stderr, "vnetctl: --timeout: expected seconds 1..86400, got "
                        "'%s'\n", opts[i].value);
                return CTL_EXIT_USAGE;
            }
            ctx.timeout_ms = (int) secs * 1000;
        } else {
            opts[kept++] = opts[i];
        }
    }
    n_opts = kept;

    if (!n_words) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (!strcmp(words[0], "help")) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    int used;
    const struct ctl_command *cmd = find_command(words, n_words, &used);
    if (!cmd) {
        fprintf(stderr, "vnetctl: unknown command '%s'; see 'vnetctl --help'\n",
                words[0]);
        return CTL_EXIT_USAGE;
    }
    for (size_t i = 0; i < n_opts; i++) {
        const struct ctl_option *o = find_option(cmd->options, opts[i].name);
        if (!o) {
            fprintf(stderr, "vnetctl: '%s' does not accept '--%s'\n", cmd->name,
                    opts[i].name);
            command_usage(stderr, cmd);
            return CTL_EXIT_USAGE;
        }
    }
    int n_args = n_words - used;
    if (n_args < cmd->min_args || n_args > cmd->max_args) {
        if (cmd->min_args == cmd->max_args) {
            fprintf(stderr, "vnetctl: '%s' takes %d argument%s, got %d\n", cmd->name,
                    cmd->min_args, cmd->min_args == 1 ? "" : "s", n_args);
        } else {
            fprintf(stderr, "vnetctl: '%s' takes %d to %d arguments, got %d\n",
                    cmd->name, cmd->min_args, cmd->max_args, n_args);
        }
        command_usage(stderr, cmd);
        return CTL_EXIT_USAGE;
    }
    ctx.argc = n_args;
    ctx.argv = words + used;
    ctx.opts = opts;
    ctx.n_opts = n_opts;

    int rc = cmd->handler(&ctx);
    rpc_client_close(ctx.client);
    return rc;
}
