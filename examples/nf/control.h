/* control.h -- the NF's run-time control socket.
 *
 * Transport: a SOCK_STREAM unix socket, mode 0600 (only the NF's owner may connect).
 * A client sends commands as lines ('\n' terminated, at most 255 bytes) and gets
 * exactly one reply line per command, in order: "ok", "error: <what was wrong>" or,
 * for "stats", one JSON object.  A client may send many commands on one connection;
 * up to 8 clients at once.  A line with control bytes or longer than the limit is
 * answered with an error, and the next line is read normally.
 *
 * Commands (nf_cmd_parse() checks the syntax; the NF checks what depends on its
 * state, e.g. "slow" needs a finite peak rate):
 *   pause <usec>            stop serving packets for usec (0..60000000)
 *   slow <factor> <msec>    serve at peak/factor (factor 1..1000) for msec (0..3600000)
 *   drop <ratio>            drop this fraction (0..1) of served packets (fault drops)
 *   peak <pps>              set the service rate (0 = unlimited; 0..100000000)
 *   queue <n>               set the queue capacity (1..65536)
 *   stats                   reply with the NF's counters as one JSON object
 *   reset                   zero the counters and the queue high-water mark
 *   help                    reply with the list of commands
 * A bad command changes nothing.
 *
 * vnet-nf's "stats" object (also printed on stdout when it stops):
 *   {"mode", "uptime_s", "peak_pps",
 *    "forward"/"reverse": {"rx", "tx", "tail_drops" (queue full), "policy_drops"
 *        (firewall deny, NAT cannot translate), "fault_drops" ('drop'), "tx_errors",
 *        "oversize" (frame > 2048 bytes), "kernel_drops" (receive socket overflowed:
 *        the NF did not get the CPU to read)},
 *    "queue": {"len", "max", "capacity"},
 *    "faults": {"pause_us_left", "slow_factor", "slow_ms_left", "drop_ratio"},
 *    "nat": {"ip", "mappings", "arp_replies", "unsupported", "no_mapping", "exhausted"}
 *        (nat mode), "deny": ["rule", ...] (firewall mode)}
 *
 * Thread-safety: one thread; the server is driven from the NF's poll loop. */
#ifndef VNET_EXAMPLES_CONTROL_H
#define VNET_EXAMPLES_CONTROL_H 1

#include <poll.h>
#include <stdint.h>

struct vnet_error;

#define NF_CONTROL_MAX_LINE 255
#define NF_CONTROL_MAX_CLIENTS 8

enum nf_cmd_type {
    NF_CMD_PAUSE,
    NF_CMD_SLOW,
    NF_CMD_DROP,
    NF_CMD_PEAK,
    NF_CMD_QUEUE,
    NF_CMD_STATS,
    NF_CMD_RESET,
    NF_CMD_HELP,
};

struct nf_cmd {
    enum nf_cmd_type type;
    uint64_t value;                 /* pause usec, slow msec, peak pps, queue n */
    double real;                    /* slow factor, drop ratio */
};

/* Parses one command line (without its newline; surrounding blanks are ignored).
 * Returns NULL and fills '*cmd', or an error saying what was expected. */
struct vnet_error *nf_cmd_parse(const char *line, struct nf_cmd *cmd);

/* The text of "help". */
const char *nf_cmd_help(void);

/* Executes 'cmd' and returns the reply line (without newline; caller frees). */
typedef char *nf_control_func(const struct nf_cmd *cmd, void *aux);

struct nf_control;

/* Listens on 'path' (a stale socket there is replaced; any other file is an error).
 * Returns NULL and '*ret_control', or an error. */
struct vnet_error *nf_control_open(const char *path, struct nf_control **ret_control);

/* Removes the socket file and closes every connection.  Accepts NULL. */
void nf_control_close(struct nf_control *);

/* Adds the server's descriptors to 'fds' (room for 1 + NF_CONTROL_MAX_CLIENTS);
 * returns how many it added. */
unsigned int nf_control_pollfds(const struct nf_control *, struct pollfd *fds);

/* Accepts clients, reads their commands and answers each through 'func' (syntax
 * errors are answered without calling it).  Never blocks. */
void nf_control_run(struct nf_control *, nf_control_func *func, void *aux);

/* Client side: connects to 'path', sends 'line', and returns the reply line in
 * '*ret_reply' (caller frees).  Waits at most 'timeout_ms'.  Returns 0 or -errno. */
int nf_control_request(const char *path, const char *line, int timeout_ms,
                       char **ret_reply);

#endif
