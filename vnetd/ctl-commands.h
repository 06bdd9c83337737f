/* ctl-commands.h -- vnetctl's command table.
 *
 * Every vnetctl command is one row: its words ("chain show"), arity, synopsis, help,
 * whether it only reads, its options and its handler.  Parsing, help, errors, the
 * bash completion and the man page are all generated from this table (a unit test
 * walks it), so a command cannot exist without its documentation. */
#ifndef VNETD_CTL_COMMANDS_H
#define VNETD_CTL_COMMANDS_H 1

#include <stdbool.h>
#include <stdio.h>

struct json_object;
struct rpc_client;

/* vnetctl's exit codes. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_USAGE = 1, CTL_EXIT_DAEMON = 2 };

struct ctl_option {
    const char *name;        /* without the leading "--" */
    char short_name;         /* "-x" alias, or 0 */
    const char *arg;         /* metavariable ("DIR") or NULL for a flag */
    const char *help;
};

struct ctl_opt_value {
    const char *name;
    const char *value;       /* NULL for a flag */
};

struct ctl_context {
    const char *socket;
    bool json;
    int timeout_ms;
    int argc;
    char **argv;                       /* positional arguments after the command */
    struct ctl_opt_value *opts;        /* command options given */
    size_t n_opts;
    FILE *out;
    FILE *err;
    struct rpc_client *client;         /* connected on first use */
};

typedef int ctl_handler_func(struct ctl_context *);

struct ctl_command {
    const char *name;
    int min_args, max_args;
    const char *synopsis;
    const char *help;
    bool read_only;
    const struct ctl_option *options;  /* terminated by a NULL name; may be NULL */
    ctl_handler_func *handler;
};

/* The table, terminated by a NULL name. */
extern const struct ctl_command ctl_commands[];
/* Options accepted by every command. */
extern const struct ctl_option ctl_global_options[];

/* Returns the value of option 'name' given to the command, or NULL; for flags,
 * returns "" when present. */
const char *ctl_get_option(const struct ctl_context *, const char *name);

/* Calls 'method' on the daemon.  On success returns CTL_EXIT_OK and '*ret_result';
 * otherwise prints the reason to ctx->err and returns CTL_EXIT_USAGE (transport) or
 * CTL_EXIT_DAEMON (the daemon reported an error).  Takes ownership of 'params'. */
int ctl_call(struct ctl_context *, const char *method, struct json_object *params,
             struct json_object **ret_result);

/* Handlers that live in their own files. */
int ctl_cmd_chain_exec(struct ctl_context *);
/* Calls 'method' on the monitoring agent of chain ctx->argv[0] (found through
 * vnetd's chain/show), with the same conventions as ctl_call(). */
int ctl_call_monitor(struct ctl_context *, const char *method,
                     struct json_object *params, struct json_object **ret_result);
int ctl_cmd_monitor_show(struct ctl_context *);
/* 'shadow compare' (ctl-compare.c) and its options. */
extern const struct ctl_option ctl_compare_options[];
int ctl_cmd_shadow_compare(struct ctl_context *);
int ctl_cmd_monitor_dump(struct ctl_context *);

/* Prints 'obj' as indented JSON to ctx->out. */
void ctl_print_json(struct ctl_context *, struct json_object *obj);

/* Writes 'obj' to 'file' atomically: as the HTML 'html' renders if the name ends
 * in ".html" (and 'html' is not NULL), else as pretty JSON.  Returns CTL_EXIT_OK,
 * or prints "vnetctl: WHAT: cannot write ..." and returns CTL_EXIT_USAGE. */
int ctl_write_report(struct ctl_context *, const char *what, const char *file,
                     struct json_object *obj, char *(*html)(struct json_object *));

/* True if report file 'file' asks for HTML. */
bool ctl_report_is_html(const char *file);

#endif
