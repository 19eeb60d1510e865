/* engine_record: the sha256 of one piece as the engine read it (a type shared
 * by the engine, which keeps them, and an image sink, which vouches for the
 * pieces an earlier run kept). */
#ifndef CB_ENGINE_RECORD_H
#define CB_ENGINE_RECORD_H

#include <stdint.h>

/* A piece the engine read out of order (after a gap: a rescue skip, a resume),
 * with the sha256 of exactly what it gave the targets. Verification checks
 * every target against these, so the digest of the rest, taken from a target,
 * never has to be trusted on its own. */
struct engine_record {
    uint64_t off;
    uint32_t len;
    unsigned char sha256[32];
};

#endif
