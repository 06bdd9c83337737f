/* queue.h -- the NF's FIFO of packet slots between its receive and transmit paths.
 *
 * A ring of fixed-size slots.  The receive path writes frames straight into the free
 * slots past the tail (nf_queue_tail(), e.g. as recvmmsg() buffers) and commits them
 * with nf_queue_push(); the transmit path reads from the head (nf_queue_head()) and
 * releases with nf_queue_pop() once the frames have been sent.  The capacity is a
 * logical limit that can change at run time (nf_queue_set_capacity()); packets
 * already queued are never discarded by a change.
 *
 * Thread-safety: one thread per queue. */
#ifndef VNET_EXAMPLES_QUEUE_H
#define VNET_EXAMPLES_QUEUE_H 1

#include <stddef.h>
#include <stdint.h>

#define NF_SLOT_DATA 2048           /* largest frame a slot holds */
#define NF_QUEUE_MAX 65536          /* largest capacity accepted */

enum nf_dir { NF_DIR_FORWARD, NF_DIR_REVERSE };

struct nf_slot {
    uint64_t t_arr_ns;              /* CLOCK_REALTIME arrival (kernel stamp if known) */
    uint32_t qlen_at_arr;           /* packets queued ahead of this one on arrival */
    uint16_t len;                   /* frame length */
    uint8_t dir;                    /* enum nf_dir */
    uint8_t data[NF_SLOT_DATA];
};

struct nf_queue {
    struct nf_slot *slots;
    uint32_t alloc;                 /* slots allocated (>= capacity and >= count) */
    uint32_t capacity;              /* logical limit for arrivals */
    uint32_t head, count;
    uint32_t max_count;             /* high-water mark since the last reset */
};

/* Initialises 'q' with 'capacity' slots (1..NF_QUEUE_MAX). */
void nf_queue_init(struct nf_queue *q, uint32_t capacity);
void nf_queue_destroy(struct nf_queue *q);

/* Changes the capacity (1..NF_QUEUE_MAX), keeping every queued packet in order. */
void nf_queue_set_capacity(struct nf_queue *q, uint32_t capacity);

/* Number of packets that may still be pushed before arrivals are tail-dropped. */
static inline uint32_t
nf_queue_room(const struct nf_queue *q)
{
    return q->count < q->capacity ? q->capacity - q->count : 0;
}

/* The i-th free slot past the tail (i < nf_queue_room()). */
static inline struct nf_slot *
nf_queue_tail(struct nf_queue *q, uint32_t i)
{
    return &q->slots[(q->head + q->count + i) % q->alloc];
}

/* The i-th queued packet from the head (i < count). */
static inline struct nf_slot *
nf_queue_head(struct nf_queue *q, uint32_t i)
{
    return &q->slots[(q->head + i) % q->alloc];
}

/* Commits the first 'n' slots past the tail (n <= nf_queue_room()). */
void nf_queue_push(struct nf_queue *q, uint32_t n);

/* Releases the first 'n' packets at the head (n <= count). */
void nf_queue_pop(struct nf_queue *q, uint32_t n);

#endif
