/* port.c -- AF_PACKET socket set-up and batched sends. */
#include "examples/nf/port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/util.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct vnet_error *
nf_port_open(struct nf_port *port, const char *ifname, unsigned int flags)
{
    struct vnet_error *error = NULL;
    memset(port, 0, sizeof *port);
    port->fd = -1;
    if (!vnet_strlcpy(port->name, ifname, sizeof port->name)) {
        return vnet_error_create(VNET_ERR_INVALID, "interface name '%s' is too long",
                                 ifname);
    }
    port->ifindex = (int) if_nametoindex(ifname);
    if (!port->ifindex) {
        return vnet_error_from_errno(-errno, "interface '%s'", ifname);
    }

    /* Protocol 0 receives nothing until bind() names the protocol. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return vnet_error_from_errno(-errno, "'%s': AF_PACKET socket (needs CAP_NET_RAW)",
                                     ifname);
    }
    port->fd = fd;

    struct ifreq ifr = { 0 };
    vnet_strlcpy(ifr.ifr_name, ifname, sizeof ifr.ifr_name);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
        error = vnet_error_from_errno(-errno, "'%s': reading the MAC address", ifname);
        goto fail;
    }
    memcpy(port->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (flags & NF_PORT_UP) {
        if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
            error = vnet_error_from_errno(-errno, "'%s': reading the flags", ifname);
            goto fail;
        }
        if (!(ifr.ifr_flags & IFF_UP)) {
            ifr.ifr_flags |= IFF_UP;
            if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
                error = vnet_error_from_errno(-errno, "'%s': setting it up", ifname);
                goto fail;
            }
        }
    }

    int one = 1, big = 8 << 20;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one)) {
        error = vnet_error_from_errno(-errno, "'%s': PACKET_QDISC_BYPASS", ifname);
        goto fail;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big)) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    if (flags & NF_PORT_RX) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big)) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        }
        if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one)) {
            error = vnet_error_from_errno(-errno, "'%s': PACKET_IGNORE_OUTGOING", ifname);
            goto fail;
        }
    }
    if ((flags & NF_PORT_TIMESTAMPS)
        && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one)) {
        error = vnet_error_from_errno(-errno, "'%s': SO_TIMESTAMPNS", ifname);
        goto fail;
    }

    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_ifindex = port->ifindex,
        .sll_protocol = (flags & NF_PORT_RX) ? htons(ETH_P_ALL) : 0,
    };
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll)) {
        error = vnet_error_from_errno(-errno, "'%s': bind", ifname);
        goto fail;
    }
    if (flags & NF_PORT_PROMISC) {
        struct packet_mreq mr = { .mr_ifindex = port->ifindex, .mr_type = PACKET_MR_PROMISC };
        if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) {
            error = vnet_error_from_errno(-errno, "'%s': promiscuous mode", ifname);
            goto fail;
        }
    }
    return NULL;

fail:
    nf_port_close(port);
    return error;
}

void
nf_port_close(struct nf_port *port)
{
    if (port->fd >= 0) {
        close(port->fd);
        port->fd = -1;
    }
}

unsigned int
nf_port_send(struct nf_port *port, struct mmsghdr *msgs, unsigned int n, uint8_t *failed)
{
    unsigned int i = 0, sent = 0;
    memset(failed, 0, n);
    while (i < n) {
        int r = sendmmsg(port->fd, msgs + i, n - i, MSG_DONTWAIT);
        if (r > 0) {
            i += (unsigned int) r;
            sent += (unsigned int) r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            failed[i++] = 1;
        }
    }
    return sent;
}

uint64_t
nf_port_rx_stamp(const struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *) msg); c;
         c = CMSG_NXTHDR((struct msghdr *) msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
        }
    }
    return 0;
}
