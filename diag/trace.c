#include "diag/trace.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct diag_trace *
diag_trace_create(void)
{
    return vnet_xzalloc(sizeof (struct diag_trace));
}

void
diag_trace_destroy(struct diag_trace *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_nfs; i++) {
        free(t->nfs[i].preds);
        free(t->nfs[i].succs);
    }
    free(t->nfs);
    free(t->pkts);
    free(t->hops);
    free(t->acct);
    free(t);
}

int
diag_trace_find_nf(const struct diag_trace *t, const char *name)
{
    for (size_t i = 1; i < t->n_nfs; i++) {
        if (!strcmp(t->nfs[i].name, name)) {
            return (int) i;
        }
    }
    return -1;
}
