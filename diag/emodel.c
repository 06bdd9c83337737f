#include "diag/emodel.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* Codec delays: G.711 at 20 ms frames is 20 ms (spec E.2).  G.729a codes 10 ms
 * frames with 5 ms look-ahead; VoIP gear usually sends two frames per packet, so
 * 20 + 5 = 25 ms. */
static const struct emodel_codec_info codecs[] = {
    [EMODEL_G711] = {"G.711", 0, 30, 15, 20},
    [EMODEL_G729A] = {"G.729a", 11, 40, 10, 25},
};

const struct emodel_codec_info *
emodel_codec_info(enum emodel_codec codec)
{
    return (unsigned) codec < VNET_ARRAY_SIZE(codecs) ? &codecs[codec] : NULL;
}

int
emodel_codec_from_name(const char *name, enum emodel_codec *ret)
{
    static const struct {
        const char *name;
        enum emodel_codec codec;
    } names[] = {
        {"g711", EMODEL_G711},   {"g.711", EMODEL_G711},   {"pcmu", EMODEL_G711},
        {"pcma", EMODEL_G711},   {"g729a", EMODEL_G729A},  {"g.729a", EMODEL_G729A},
        {"g729", EMODEL_G729A},  {"g.729", EMODEL_G729A},
    };
    for (size_t i = 0; name && i < VNET_ARRAY_SIZE(names); i++) {
        if (!strcasecmp(name, names[i].name)) {
            *ret = names[i].codec;
            return 0;
        }
    }
    return -EINVAL;
}

double
emodel_delay_impairment(double d_ms)
{
    return 0.024 * d_ms + (d_ms > 177.3 ? 0.11 * (d_ms - 177.3) : 0);
}

double
emodel_loss_impairment(enum emodel_codec codec, double e)
{
    const struct emodel_codec_info *c = emodel_codec_info(codec);
    e = e < 0 ? 0 : e > 1 ? 1 : e;
    return c->gamma1 + c->gamma2 * log(1 + c->gamma3 * e);
}

double
emodel_r(enum emodel_codec codec, double d_ms, double e)
{
    return 94.2 - emodel_delay_impairment(d_ms) - emodel_loss_impairment(codec, e);
}

double
emodel_mos(double r)
{
    if (r < 0) {
        return 1;
    } else if (r > 100) {
        return 4.5;
    }
    /* The cubic dips below 1 for R under about 6.5 (its slope at 0 is negative);
     * MOS has no value below 1, so clamp there as well. */
    double mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
    return mos < 1 ? 1 : mos;
}

void
emodel_config_init(struct emodel_config *cfg)
{
    *cfg = (struct emodel_config) {.codec = EMODEL_G711, .jb_ms = 40};
}

bool
emodel_late(const struct emodel_config *cfg, uint64_t d_ns, uint64_t d_min_ns)
{
    return d_ns > d_min_ns + cfg->jb_ms * 1e6;
}

void
emodel_score(const struct emodel_config *cfg, struct emodel_result *res)
{
    res->mouth_to_ear_ms =
        res->mean_net_ms + cfg->jb_ms + emodel_codec_info(cfg->codec)->codec_delay_ms;
    res->r = emodel_r(cfg->codec, res->mouth_to_ear_ms, res->e);
    res->mos = emodel_mos(res->r);
}

int
emodel_assess(const struct emodel_config *cfg, const uint64_t *delay_ns, size_t n,
              uint64_t d_min_ns, struct emodel_result *ret)
{
    if (!n) {
        return -EDOM;
    }
    if (d_min_ns == EMODEL_LOST) {
        for (size_t i = 0; i < n; i++) {
            d_min_ns = VNET_MIN(d_min_ns, delay_ns[i]);
        }
    }
    uint64_t received = 0, late = 0;
    double sum_ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (delay_ns[i] == EMODEL_LOST) {
            continue;
        }
        received++;
        sum_ns += delay_ns[i];
        late += emodel_late(cfg, delay_ns[i], d_min_ns);
    }

    struct emodel_result r = {
        .sent = n,
        .received = received,
        .late = late,
        .e = (double) (n - received + late) / n,
        .d_min_ms = received ? d_min_ns / 1e6 : 0,
        .mean_net_ms = received ? sum_ns / received / 1e6 : 0,
    };
    emodel_score(cfg, &r);
    *ret = r;
    return 0;
}

void
emodel_jitter_init(struct emodel_jitter *j)
{
    *j = (struct emodel_jitter) {0};
}

void
emodel_jitter_update(struct emodel_jitter *j, uint64_t send_ns, uint64_t recv_ns)
{
    int64_t transit = (int64_t) (recv_ns - send_ns);
    if (j->started) {
        double d = fabs((double) (transit - j->prev_transit));
        j->j_ns += (d - j->j_ns) / 16;
    }
    j->prev_transit = transit;
    j->started = true;
}
