/* dev_health: whether a drive can be trusted, from its SMART data.
 *
 * Read with `smartctl --json -a` (smartmontools) rather than our own ATA
 * SMART over SG_IO: smartctl is the field's own tool, it speaks ATA, SCSI,
 * NVMe and the SAT pass-through of most USB bridges (with its database of
 * their quirks), and its JSON answer names every value. It can take seconds
 * on some drives, so callers read it off the UI thread (dev_health_cache).
 *
 * The state, from the worst sign found:
 *  failing  the SMART verdict says FAILED, or sectors cannot be read now
 *           (pending or offline-uncorrectable sectors, NVMe media errors, an
 *           NVMe critical warning for reliability or read-only, an attribute
 *           failing now): copy it with the rescue settings.
 *  worn     reallocated sectors (remapped, still readable), 90 % or more of
 *           its rated life used, spare below its threshold, an attribute
 *           that failed in the past.
 *  ok       the verdict says PASSED and none of the above.
 *  unknown  no verdict: SMART not available (a USB bridge that hides it, a
 *           loop device, a virtual disk), smartctl missing, or an answer that
 *           could not be read. Never "ok" for lack of an answer. */
#ifndef CB_DEV_HEALTH_H
#define CB_DEV_HEALTH_H

#include "devices/dev_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dev_health_state { DEV_HEALTH_UNKNOWN = 0, DEV_HEALTH_OK, DEV_HEALTH_WORN, DEV_HEALTH_FAILING };

#define DEV_HEALTH_NONE (-1)        /* a count the drive did not report */

struct dev_health {
    enum dev_health_state state;
    int verdict;                    /* 1 PASSED, 0 FAILED, -1 none */
    int64_t power_on_hours;         /* each: DEV_HEALTH_NONE when not reported */
    int64_t reallocated;            /* ATA 5, SCSI grown defects */
    int64_t pending;                /* ATA 197 */
    int64_t uncorrectable;          /* ATA 198, SCSI uncorrected read errors */
    int64_t media_errors;           /* NVMe */
    int64_t percentage_used;        /* NVMe: of the rated endurance */
    int64_t temperature;            /* degrees Celsius */
    int64_t hpa_bytes;              /* hidden by a Host Protected Area (ATA, hdparm -N) */
    int64_t dco_bytes;              /* hidden by a Device Configuration Overlay beyond that */
    unsigned logical_sector;        /* as smartctl reports it; 0 when not */
    char protocol[16];              /* "ATA", "SCSI", "NVMe"; "" when not known */
    char why[256];                  /* the state's reasons in words */
};

/* Parses smartctl's JSON answer (len bytes, not necessarily NUL-ended) into
 * out: always a clear state, "unknown" with why for anything unreadable. */
void dev_health_parse(const char *json, size_t len, struct dev_health *out);

/* Whether smartctl can say anything about d; false (why filled: "a loop
 * device has no SMART") for loop and virtual disks and optical drives, which
 * are then "unknown" at once without running anything. */
bool dev_health_applies(const struct dev_drive *d, char *why, size_t len);

/* Runs smartctl on the device at path (killed after timeout_s seconds) and
 * parses its answer; for an ATA drive also reads its hidden areas (dev_hidden). Always fills out; 0, or -errno when smartctl could not
 * run (out then "unknown" and says why). */
int dev_health_read_path(const char *path, int timeout_s, struct dev_health *out);
/* The same for a listed drive, "unknown" at once where SMART does not apply. */
int dev_health_read(const struct dev_drive *d, int timeout_s, struct dev_health *out);

/* "HPA: 1.0 GiB hidden", "DCO: 2.0 GiB hidden", both, or "" when none is known. */
void dev_health_hidden_text(const struct dev_health *h, char *buf, size_t len);

/* "ok", "worn", "failing", "unknown". */
const char *dev_health_word(enum dev_health_state s);
/* One line for reports and detail screens: "ok: PASSED, 1234 h, 35 C" or
 * "failing: 8 pending sectors" (the word, then the figures known). */
void dev_health_summary(const struct dev_health *h, char *buf, size_t len);
/* h as a JSON object under key (null when h is NULL): state, reason,
 * verdict, protocol and every count (null when not reported). */
struct json_writer;
void dev_health_write_json(struct json_writer *w, const char *key, const struct dev_health *h);
/* A fresh "unknown" with why. */
void dev_health_unknown(struct dev_health *h, const char *why);

#endif
