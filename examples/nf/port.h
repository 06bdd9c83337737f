/* port.h -- AF_PACKET sockets on one interface, shared by vnet-nf and vnet-gen.
 *
 * nf_port_open() binds a raw packet socket to an interface.  With NF_PORT_RX it
 * receives every frame arriving on it (ETH_P_ALL) but not the frames sent from this
 * host (PACKET_IGNORE_OUTGOING, so an NF never re-forwards what it sent); without
 * it the socket only sends.  NF_PORT_PROMISC makes the interface promiscuous through
 * a packet membership, which the kernel drops when the socket closes: the interface
 * is restored however the process ends.  Sends bypass the qdisc.
 *
 * Ownership: the port owns its socket; nf_port_close() closes it.  Thread-safety:
 * one thread per port. */
#ifndef VNET_EXAMPLES_PORT_H
#define VNET_EXAMPLES_PORT_H 1

#include <net/if.h>
#include <stdint.h>
#include <sys/socket.h>

struct vnet_error;

enum {
    NF_PORT_RX = 1 << 0,            /* receive (else send only) */
    NF_PORT_PROMISC = 1 << 1,
    NF_PORT_TIMESTAMPS = 1 << 2,    /* SO_TIMESTAMPNS: kernel receive time in cmsg */
    NF_PORT_UP = 1 << 3,            /* set the interface up if it is down (a container
                                     * NIC without an address starts down) */
};

struct nf_port {
    int fd;
    int ifindex;
    char name[IF_NAMESIZE];
    uint8_t mac[6];
};

/* Opens 'ifname' with NF_PORT_* 'flags'.  Returns NULL, or an error naming the
 * interface ('port->fd' is -1 then). */
struct vnet_error *nf_port_open(struct nf_port *port, const char *ifname,
                                unsigned int flags);

/* Closes the socket (and so ends promiscuous mode).  Safe to call twice. */
void nf_port_close(struct nf_port *port);

/* Sends the 'n' single-buffer messages in 'msgs' with sendmmsg(), never blocking.
 * A message the kernel refuses is skipped and marked in 'failed[i]' (1).  Returns
 * the number sent. */
unsigned int nf_port_send(struct nf_port *port, struct mmsghdr *msgs, unsigned int n,
                          uint8_t *failed);

/* Returns the CLOCK_REALTIME nanoseconds of an SO_TIMESTAMPNS control message in
 * 'msg', or 0 if it has none. */
uint64_t nf_port_rx_stamp(const struct msghdr *msg);

#endif
