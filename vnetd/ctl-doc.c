/* ctl-doc.c -- vnetctl's manual page and bash completion, generated from the
 * command table (ctl-commands.c), so that neither can drift from what vnetctl
 * accepts.  'vnetctl --man' and 'vnetctl --bash-completion' print them; the build
 * writes them to doc/ for installation. */
#include "vnetd/ctl-doc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vnet-config.h"
#include "vnetd/ctl-commands.h"

/* Writes 's' with troff's special characters escaped. */
static void
roff(FILE *f, const char *s)
{
    for (bool bol = true; *s; s++) {
        if (*s == '\\') {
            fputs("\\e", f);
        } else if (*s == '-') {
            fputs("\\-", f);
        } else if (bol && (*s == '.' || *s == '\'')) {
            fprintf(f, "\\&%c", *s);
        } else {
            fputc(*s, f);
        }
        bol = *s == '\n';
    }
}

static void
option_item(FILE *f, const struct ctl_option *o)
{
    fputs(".TP\n.B ", f);
    if (o->short_name) {
        fprintf(f, "\\-%c, ", o->short_name);
    }
    fputs("\\-\\-", f);
    roff(f, o->name);
    if (o->arg) {
        fputs(" \\fI", f);
        roff(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    roff(f, o->help);
    fputc('\n', f);
}

void
ctl_doc_man(FILE *f)
{
    fprintf(f, ".TH VNETCTL 8 \"\" \"vnet %s\" \"System Administration\"\n", VNET_VERSION);
    fputs(".SH NAME\nvnetctl \\- control vnetd: NF chains, Monitoring VNets, diagnosis, "
          "Shadow VNets\n.SH SYNOPSIS\n.B vnetctl\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR "
          "[\\fIARG\\fR...]\n.SH DESCRIPTION\nvnetctl talks to vnetd(8) over its control "
          "socket.  It creates NF chains from templates (vnet\\-chain(5)) as LXC VNodes on "
          "Open vSwitch, mirrors them into a Monitoring VNet, diagnoses them (Microscope "
          "and PerfSight), and tests fixes on a Shadow VNet fed a duplicate of the real "
          "traffic before swapping it into production.  Every read command accepts "
          "\\fB\\-\\-json\\fR.\n.SH COMMANDS\n", f);
    for (const struct ctl_command *c = ctl_commands; c->name; c++) {
        fputs(".TP\n.B ", f);
        roff(f, c->name);
        if (*c->synopsis) {
            fputs(" \\fI", f);
            roff(f, c->synopsis);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        roff(f, c->help);
        fputs(c->read_only ? " (read-only)\n" : "\n", f);
        if (c->options && c->options->name) {
            fputs(".RS\n", f);
            for (const struct ctl_option *o = c->options; o->name; o++) {
                option_item(f, o);
            }
            fputs(".RE\n", f);
        }
    }
    fputs(".SH OPTIONS\n", f);
    for (const struct ctl_option *o = ctl_global_options; o->name; o++) {
        option_item(f, o);
    }
    fputs(".SH ENVIRONMENT\n.TP\n.B VNET_SOCKET\nvnetd's control socket (default "
          VNET_DEFAULT_SOCKET ").\n.SH EXIT STATUS\n0 success; 1 usage or transport error "
          "(for example, vnetd not running); 2 an error reported by vnetd.\n"
          ".SH SEE ALSO\nvnetd(8), vnet\\-chain(5)\n", f);
}

void
ctl_doc_completion(FILE *f)
{
    fputs("# bash completion for vnetctl (generated from its command table)\n"
          "_vnetctl() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} words=\"${COMP_WORDS[*]:1:COMP_CWORD-1}\"\n"
          "    local opts=\"", f);
    for (const struct ctl_option *o = ctl_global_options; o->name; o++) {
        fprintf(f, "--%s ", o->name);
    }
    fputs("\"\n    case \" $words \" in\n", f);
    /* Longest names first, so 'shadow create' wins over 'shadow'. */
    for (int words = 2; words >= 1; words--) {
        for (const struct ctl_command *c = ctl_commands; c->name; c++) {
            int n = 1;
            for (const char *p = c->name; *p; p++) {
                n += *p == ' ';
            }
            if (n != words) {
                continue;
            }
            fprintf(f, "    *\" %s \"*) opts=\"$opts", c->name);
            for (const struct ctl_option *o = c->options; o && o->name; o++) {
                fprintf(f, " --%s", o->name);
            }
            fputs("\"\n        [[ $cur == -* ]] || COMPREPLY=($(compgen -W \"$(vnetctl "
                  "--json chain list 2>/dev/null | sed -n 's/.*\\\"name\\\": *\\\"\\([^\\\"]*\\)\\\".*/\\1/p')\" "
                  "-- \"$cur\"))\n", f);
            fputs("        [[ $cur == -* ]] && COMPREPLY=($(compgen -W \"$opts\" -- "
                  "\"$cur\"))\n        return ;;\n", f);
        }
    }
    fputs("    esac\n    local cmds=\"", f);
    for (const struct ctl_command *c = ctl_commands; c->name; c++) {
        char first[64];
        snprintf(first, sizeof first, "%s", c->name);
        char *sp = strchr(first, ' ');
        if (sp) {
            *sp = '\0';
        }
        fprintf(f, "%s ", first);
    }
    fputs("\"\n    case \" $words \" in\n", f);
    for (const struct ctl_command *c = ctl_commands; c->name; c++) {
        const char *sp = strchr(c->name, ' ');
        if (!sp || (c != ctl_commands && !strncmp(c[-1].name, c->name,
                                                 (size_t) (sp - c->name) + 1))) {
            continue;   /* one case per group ('shadow', 'monitor', ...) */
        }
        fprintf(f, "    *\" %.*s \"*) cmds=\"", (int) (sp - c->name), c->name);
        for (const struct ctl_command *d = c; d->name; d++) {
            if (!strncmp(d->name, c->name, (size_t) (sp - c->name) + 1)) {
                fprintf(f, "%s ", d->name + (sp - c->name) + 1);
            }
        }
        fputs("\" ;;\n", f);
    }
    fputs("    esac\n    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W \"$opts\" "
          "-- \"$cur\"))\n    else\n        COMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\"))\n"
          "    fi\n}\ncomplete -F _vnetctl vnetctl\n", f);
}
