/* vnet-vnode-init -- the init process of every vnet VNode (LXC container).
 *
 *   vnet-vnode-init [--tx-off] [--no-ipv6] [-- PROGRAM [ARG...]]
 *
 * It prepares the VNode's network before the NF starts -- turns TX checksum offload
 * off on every NIC (OVS's userspace datapath forwards frames whose checksum the
 * sender left to the NIC, and the receiver then drops them), disables IPv6 (so the
 * kernel sends no router solicitations into the chain), brings loopback up -- then
 * runs PROGRAM as its child, forwards SIGTERM/SIGINT/SIGHUP to it, reaps every
 * orphan (it is PID 1 of the container) and exits with PROGRAM's status.  Without a
 * PROGRAM it idles until SIGTERM (the traffic source and sink VNodes).
 *
 * It never invokes a shell: PROGRAM is exec'd with its argument vector as given. */
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child = -1;

/* Forwards the signal to the program (kill() is async-signal-safe); an idle VNode
 * simply exits. */
static void
on_signal(int sig)
{
    if (child > 0) {
        kill(child, sig);
    } else {
        _exit(0);
    }
}

static void
tx_checksum_off(int fd, const char *ifname)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_data = (void *) &ev;
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0 && errno != EOPNOTSUPP) {
        fprintf(stderr, "vnet-vnode-init: %s: cannot turn TX checksum offload off: %s\n",
                ifname, strerror(errno));
    }
}

static void
set_up(int fd, const char *ifname)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
            fprintf(stderr, "vnet-vnode-init: %s: cannot bring up: %s\n", ifname,
                    strerror(errno));
        }
    }
}

static void
prepare_nics(bool tx_off)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vnet-vnode-init: socket: %s\n", strerror(errno));
        return;
    }
    struct if_nameindex *names = if_nameindex();
    for (struct if_nameindex *n = names; n && n->if_index; n++) {
        set_up(fd, n->if_name);
        if (tx_off && strcmp(n->if_name, "lo")) {
            tx_checksum_off(fd, n->if_name);
        }
    }
    if (names) {
        if_freenameindex(names);
    }
    close(fd);
}

static void
write_sysctl(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, strlen(value)) < 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "vnet-vnode-init: %s: %s\n", path, strerror(errno));
        }
    }
    if (fd >= 0) {
        close(fd);
    }
}

int
main(int argc, char *argv[])
{
    bool tx_off = false, no_ipv6 = false;
    int i;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tx-off")) {
            tx_off = true;
        } else if (!strcmp(argv[i], "--no-ipv6")) {
            no_ipv6 = true;
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            fprintf(stderr, "vnet-vnode-init: unknown option '%s' (expected --tx-off, "
                    "--no-ipv6 or -- PROGRAM ARGS)\n", argv[i]);
            return 2;
        }
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (no_ipv6) {
        write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    }
    prepare_nics(tx_off);

    if (i < argc) {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGHUP);
        sigprocmask(SIG_BLOCK, &block, &old);
        child = fork();
        if (child == 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
        }
        if (child < 0) {
            fprintf(stderr, "vnet-vnode-init: fork: %s\n", strerror(errno));
            return 1;
        }
        if (child == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            execv(argv[i], &argv[i]);
            fprintf(stderr, "vnet-vnode-init: cannot run '%s': %s\n", argv[i],
                    strerror(errno));
            _exit(127);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
    }

    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* No children at all: idle until a signal ends us. */
            pause();
            continue;
        }
        if (pid == child) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
    }
}
