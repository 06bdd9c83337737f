/* queue.c -- FIFO of packet slots. */
#include "examples/nf/queue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void
nf_queue_init(struct nf_queue *q, uint32_t capacity)
{
    assert(capacity >= 1 && capacity <= NF_QUEUE_MAX);
    memset(q, 0, sizeof *q);
    q->alloc = q->capacity = capacity;
    q->slots = vnet_xcalloc(capacity, sizeof *q->slots);
}

void
nf_queue_destroy(struct nf_queue *q)
{
    free(q->slots);
    q->slots = NULL;
}

void
nf_queue_set_capacity(struct nf_queue *q, uint32_t capacity)
{
    assert(capacity >= 1 && capacity <= NF_QUEUE_MAX);
    uint32_t alloc = VNET_MAX(capacity, q->count);
    if (alloc != q->alloc) {
        struct nf_slot *slots = vnet_xcalloc(alloc, sizeof *slots);
        for (uint32_t i = 0; i < q->count; i++) {
            slots[i] = *nf_queue_head(q, i);
        }
        free(q->slots);
        q->slots = slots;
        q->alloc = alloc;
        q->head = 0;
    }
    q->capacity = capacity;
}

void
nf_queue_push(struct nf_queue *q, uint32_t n)
{
    assert(n <= nf_queue_room(q));
    q->count += n;
    if (q->count > q->max_count) {
        q->max_count = q->count;
    }
}

void
nf_queue_pop(struct nf_queue *q, uint32_t n)
{
    assert(n <= q->count);
    q->head = (q->head + n) % q->alloc;
    q->count -= n;
}
