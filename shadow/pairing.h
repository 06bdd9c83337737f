/* pairing.h -- what became of each ingress packet in production and in the shadow,
 * from the Monitoring VNet's captures of the chain's entry and of both exits.
 *
 * Ingress traffic is duplicated into both chains, so one capture at the entry
 * ("ingress.pcap") sees each packet once, and each side's exit ("exit0.pcap",
 * "exit1.pcap", before the shadow's output is dropped) sees what that side
 * delivered.  A packet is recognised at an exit by its invariant key (packet.h:
 * what a NAT leaves alone, IP ID and payload prefix included), so chains that
 * rewrite addresses and ports still pair up.  An entry with no exit copy within
 * 'exit_timeout' is LOST in that chain.
 *
 * Observations come in chunks (dumps of the agent's rolling store, which keeps
 * only its last seconds): pairing_add_dir() takes the entries of one dump in
 * [lo, hi) and looks their exits up in the same dump, which must extend at least
 * 'exit_timeout' past 'hi'.
 *
 * Classes: a UDP flow whose packets carry RTP version 2 with a G.711 (PT 0, 8) or
 * G.729 (PT 18) payload type is "voip" (E-model metrics); other UDP is "udp", TCP
 * "tcp", anything else "other".
 *
 * Ownership: a pairing owns its packets; pairing_input() lends them until the next
 * pairing_add_dir() or pairing_destroy().  Thread-safety: none. */
#ifndef SHADOW_PAIRING_H
#define SHADOW_PAIRING_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct compare_input;
struct pairing;
struct vnet_error;

struct pairing *pairing_create(uint64_t exit_timeout_ns);
void pairing_destroy(struct pairing *);

/* Adds the entries of DIR/ingress.pcap stamped in [lo_ns, hi_ns), paired with
 * DIR/exit0.pcap and DIR/exit1.pcap; 'production_side' (0 or 1) says which exit
 * is production's.  Returns NULL, or an error naming the file. */
struct vnet_error *pairing_add_dir(struct pairing *, const char *dir,
                                   int production_side, uint64_t lo_ns,
                                   uint64_t hi_ns);

/* The packets so far, sorted by entry time, and their classes. */
void pairing_input(struct pairing *, struct compare_input *ret);

/* Entries read so far, and of them entries that were not IP (not compared). */
uint64_t pairing_entries(const struct pairing *);
uint64_t pairing_skipped(const struct pairing *);

#endif
