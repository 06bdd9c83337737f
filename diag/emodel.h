/* emodel.h -- voice quality of an RTP stream: the simplified ITU-T G.107 E-model
 * (Cole and Rosenbluth) and RFC 3550 interarrival jitter.
 *
 * From one-way network delays and losses it derives the mouth-to-ear delay, the
 * effective loss (network loss plus late packets discarded by a fixed playout
 * buffer), the transmission rating R and the MOS.  See
 * ../shared/specs/diagnosis.md, part E.2:
 *
 *   I_d = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)          d in ms
 *   I_e = g1 + g2 ln(1 + g3 e)                              per codec
 *   R   = 94.2 - I_d - I_e
 *   MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R), clamped to [1, 4.5]
 *
 * [CHOICE] Cole-Rosenbluth rather than the full G.107 loss term, whose codec
 * robustness Bpl public implementations disagree on (spec E.2).
 *
 * Everything here is pure: no I/O, no globals.  Thread-safety: reentrant. */
#ifndef DIAG_EMODEL_H
#define DIAG_EMODEL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum emodel_codec {
    EMODEL_G711,        /* gamma = (0, 30, 15); 20 ms packetization */
    EMODEL_G729A,       /* gamma = (11, 40, 10); 20 ms packets + 5 ms look-ahead */
};

struct emodel_codec_info {
    const char *name;           /* "G.711", "G.729a" */
    double gamma1, gamma2, gamma3;
    double codec_delay_ms;      /* packetization plus algorithmic delay */
};

/* Returns the constants of 'codec', or NULL for an unknown codec. */
const struct emodel_codec_info *emodel_codec_info(enum emodel_codec);

/* Looks a codec up by name ("g711", "G.711", "pcmu", "g729a", ...).  Returns 0 and
 * stores it in '*ret', or -EINVAL. */
int emodel_codec_from_name(const char *name, enum emodel_codec *ret);

/* The delay impairment I_d for a mouth-to-ear delay of 'd_ms'. */
double emodel_delay_impairment(double d_ms);

/* The equipment (loss) impairment I_e for a loss fraction 'e' in [0, 1]. */
double emodel_loss_impairment(enum emodel_codec, double e);

/* R = 94.2 - I_d(d_ms) - I_e(e). */
double emodel_r(enum emodel_codec, double d_ms, double e);

/* MOS from R: 1 below 0, 4.5 above 100, the cubic in between (never below 1). */
double emodel_mos(double r);

struct emodel_config {
    enum emodel_codec codec;    /* default G.711 */
    double jb_ms;               /* playout (jitter) buffer depth B_jb, default 40 */
};
void emodel_config_init(struct emodel_config *);

#define EMODEL_LOST UINT64_MAX

struct emodel_result {
    uint64_t sent;              /* packets in the stream */
    uint64_t received;          /* not lost in the network */
    uint64_t late;              /* received after d_min + B_jb: discarded */
    double e;                   /* (lost + late) / sent */
    double d_min_ms;            /* the playout reference (minimum delay) */
    double mean_net_ms;         /* mean one-way delay of received packets (0 if none) */
    double mouth_to_ear_ms;     /* mean_net + B_jb + codec delay */
    double r;
    double mos;
};

/* The playout rule: true if a packet with one-way delay 'd_ns' arrives too late
 * for a buffer of depth B_jb set at 'd_min_ns'. */
bool emodel_late(const struct emodel_config *, uint64_t d_ns, uint64_t d_min_ns);

/* Fills in 'mouth_to_ear_ms', 'r' and 'mos' of '*res' from its 'e' and
 * 'mean_net_ms' (for callers that count loss and lateness themselves, e.g. over
 * several streams with their own playout references). */
void emodel_score(const struct emodel_config *, struct emodel_result *res);

/* Assesses a stream from the one-way delays of its packets in nanoseconds,
 * EMODEL_LOST for a packet that never arrived.  [CHOICE] A fixed playout buffer:
 * a packet with d > d_min + B_jb counts as lost (late).  'd_min_ns' is the playout
 * reference; pass EMODEL_LOST to take the minimum of these delays (a whole stream),
 * or a stream-wide minimum when assessing a slice of it (a sub-window).
 * Returns 0, or -EDOM when 'n' is 0. */
int emodel_assess(const struct emodel_config *, const uint64_t *delay_ns, size_t n,
                  uint64_t d_min_ns, struct emodel_result *ret);

/* RFC 3550 section 6.4.1 interarrival jitter, in nanoseconds instead of RTP
 * timestamp units: for consecutive packets in arrival order,
 * D = (R_i - R_{i-1}) - (S_i - S_{i-1}) and J += (|D| - J)/16. */
struct emodel_jitter {
    double j_ns;                /* the current estimate */
    int64_t prev_transit;       /* R - S of the previous packet */
    bool started;
};
void emodel_jitter_init(struct emodel_jitter *);

/* Feeds one packet sent at 'send_ns' and received at 'recv_ns'; packets must be
 * fed in the order they were received. */
void emodel_jitter_update(struct emodel_jitter *, uint64_t send_ns, uint64_t recv_ns);

#endif
