/* store.h -- the monitor's rolling on-disk store of recent captures.
 *
 * Each capture port (one NF and direction: "fw.in" = packets arriving at fw,
 * "fw.out" = packets it sent) gets a sequence of one-second nanosecond pcap
 * segments in the store directory; segments older than the retention window are
 * deleted.  store_dump() cuts a time window out of a port's segments into one pcap
 * file, which is how 'vnetctl monitor dump' produces offline traces.
 *
 * Thread-safety: store_write()/store_rotate() from the capture thread and
 * store_dump() from the control thread may run concurrently (an internal mutex). */
#ifndef MONITOR_STORE_H
#define MONITOR_STORE_H 1

#include <stddef.h>
#include <stdint.h>

struct store;

/* Creates (or reuses, emptied) directory 'dir'.  Returns 0 or -errno. */
int store_create(const char *dir, unsigned int keep_s, uint32_t snaplen,
                 struct store **ret);
void store_destroy(struct store *);

/* Registers a port; returns its index. */
size_t store_add_port(struct store *, const char *name);

/* Appends a packet (timestamps must not go backwards within a port). */
void store_write(struct store *, size_t port, uint64_t ts_ns, const uint8_t *data,
                 uint32_t caplen, uint32_t len);

/* Flushes open segments and deletes those older than the retention window. */
void store_rotate(struct store *, uint64_t now_ns);

/* Writes the packets of 'port' with from_ns <= ts < to_ns to the pcap file
 * 'path'.  Returns the number of packets written or -errno. */
long store_dump(struct store *, size_t port, uint64_t from_ns, uint64_t to_ns,
                const char *path);

/* Oldest timestamp still held (0 if none). */
uint64_t store_oldest(struct store *);

#endif
