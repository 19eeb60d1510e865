#include "devices/dev_health.h"
#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/run_tool.h"
#include "common/units.h"
#include "devices/dev_hidden.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* smartctl -a on a drive with long logs says ~50 KiB; room for several times that. */
#define SMARTCTL_OUT_MAX (512 * 1024)
/* smartctl's exit status: bit 0 the command line, bit 1 the device could not
 * be opened or its type found. Either means there is no SMART data at all. */
#define SMARTCTL_FATAL 0x03

const char *dev_health_word(enum dev_health_state s)
{
    switch (s) {
    case DEV_HEALTH_OK: return "ok";
    case DEV_HEALTH_WORN: return "worn";
    case DEV_HEALTH_FAILING: return "failing";
    default: return "unknown";
    }
}

void dev_health_unknown(struct dev_health *h, const char *why)
{
    *h = (struct dev_health){
        .state = DEV_HEALTH_UNKNOWN, .verdict = -1, .power_on_hours = DEV_HEALTH_NONE,
        .reallocated = DEV_HEALTH_NONE, .pending = DEV_HEALTH_NONE, .uncorrectable = DEV_HEALTH_NONE,
        .media_errors = DEV_HEALTH_NONE, .percentage_used = DEV_HEALTH_NONE, .temperature = DEV_HEALTH_NONE,
        .hpa_bytes = DEV_HEALTH_NONE, .dco_bytes = DEV_HEALTH_NONE,
    };
    snprintf(h->why, sizeof(h->why), "%s", why);
}

/* Appends a reason ("; "-separated) and raises the state to at least s. */
static void reason(struct dev_health *h, enum dev_health_state s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reason(struct dev_health *h, enum dev_health_state s, const char *fmt, ...)
{
    if (s > h->state)
        h->state = s;
    size_t n = strlen(h->why);
    if (n && n + 2 < sizeof(h->why))
        n += (size_t)snprintf(h->why + n, sizeof(h->why) - n, "; ");
    if (n >= sizeof(h->why))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->why + n, sizeof(h->why) - n, fmt, ap);
    va_end(ap);
}

/* The first error smartctl gave, else its first message at all. */
static void smartctl_message(const struct json_doc *doc, char *buf, size_t len)
{
    const struct json_node *pick = NULL;
    for (const struct json_node *m = json_first(doc, json_get(doc, NULL, "smartctl.messages")); m;
         m = json_next(doc, m)) {
        char sev[16] = "";
        json_string(json_get(doc, m, "severity"), sev, sizeof(sev));
        if (!strcmp(sev, "error")) {
            pick = m;
            break;
        }
        if (!pick)
            pick = m;
    }
    buf[0] = '\0';
    if (pick)
        json_string(json_get(doc, pick, "string"), buf, len);
}

static void get_count(const struct json_doc *doc, const struct json_node *at, const char *path, int64_t *out)
{
    int64_t v;
    if (json_int(json_get(doc, at, path), &v) && v >= 0)
        *out = v;
}

/* ATA attributes: the counts that say sectors went bad, and any attribute at
 * or below its threshold now (the drive's own "failing") or in the past. */
static void ata_attributes(const struct json_doc *doc, struct dev_health *h)
{
    for (const struct json_node *a = json_first(doc, json_get(doc, NULL, "ata_smart_attributes.table")); a;
         a = json_next(doc, a)) {
        int64_t id = 0, raw = -1;
        json_int(json_get(doc, a, "id"), &id);
        json_int(json_get(doc, a, "raw.value"), &raw);
        /* Some firmwares pack other fields above the low 32 bits of a count. */
        if (raw > 0xffffffffLL)
            raw &= 0xffffffffLL;
        if (raw >= 0 && id == 5)
            h->reallocated = raw;
        else if (raw >= 0 && id == 197)
            h->pending = raw;
        else if (raw >= 0 && id == 198)
            h->uncorrectable = raw;
        char when[16] = "", name[64] = "";
        json_string(json_get(doc, a, "when_failed"), when, sizeof(when));
        json_string(json_get(doc, a, "name"), name, sizeof(name));
        if (!strcmp(when, "now"))
            reason(h, DEV_HEALTH_FAILING, "attribute %s failing now", name);
        else if (!strcmp(when, "past"))
            reason(h, DEV_HEALTH_WORN, "attribute %s failed in the past", name);
    }
}

static void nvme_log(const struct json_doc *doc, struct dev_health *h)
{
    const struct json_node *log = json_get(doc, NULL, "nvme_smart_health_information_log");
    if (!log)
        return;
    get_count(doc, log, "media_errors", &h->media_errors);
    get_count(doc, log, "percentage_used", &h->percentage_used);
    int64_t warn = 0, spare = -1, threshold = -1;
    json_int(json_get(doc, log, "critical_warning"), &warn);
    json_int(json_get(doc, log, "available_spare"), &spare);
    json_int(json_get(doc, log, "available_spare_threshold"), &threshold);
    /* Bit 2: reliability degraded; bit 3: the drive went read-only. */
    if (warn & 0x0c)
        reason(h, DEV_HEALTH_FAILING, "NVMe critical warning 0x%02llx (%s)", (unsigned long long)warn,
               warn & 0x08 ? "media read-only" : "reliability degraded");
    if ((warn & 0x01) || (spare >= 0 && threshold > 0 && spare < threshold))
        reason(h, DEV_HEALTH_WORN, "spare at %lld %% (threshold %lld %%)", (long long)spare, (long long)threshold);
}

static void scsi_counts(const struct json_doc *doc, struct dev_health *h)
{
    get_count(doc, NULL, "scsi_grown_defect_list", &h->reallocated);
    get_count(doc, NULL, "scsi_error_counter_log.read.total_uncorrected_errors", &h->uncorrectable);
}

/* The state from the counts; reasons already given by the logs stay. */
static void classify(struct dev_health *h)
{
    if (h->pending > 0)
        reason(h, DEV_HEALTH_FAILING, "%lld pending sectors", (long long)h->pending);
    if (h->uncorrectable > 0)
        reason(h, DEV_HEALTH_FAILING, "%lld uncorrectable sectors", (long long)h->uncorrectable);
    if (h->media_errors > 0)
        reason(h, DEV_HEALTH_FAILING, "%lld media errors", (long long)h->media_errors);
    if (h->reallocated > 0)
        reason(h, DEV_HEALTH_WORN, "%lld reallocated sectors", (long long)h->reallocated);
    if (h->percentage_used >= 90)
        reason(h, DEV_HEALTH_WORN, "%lld %% of rated life used", (long long)h->percentage_used);
    if (h->state == DEV_HEALTH_UNKNOWN && h->verdict == 1) {
        h->state = DEV_HEALTH_OK;
        snprintf(h->why, sizeof(h->why), "SMART overall verdict PASSED");
    } else if (h->state == DEV_HEALTH_UNKNOWN) {
        snprintf(h->why, sizeof(h->why), "SMART data without an overall verdict");
    }
}

void dev_health_parse(const char *json, size_t len, struct dev_health *out)
{
    struct json_doc doc;
    if (json_parse(json, len, &doc) != 0 || json_get(&doc, NULL, "")->type != JSON_OBJECT) {
        if (doc.count)
            json_free(&doc);
        dev_health_unknown(out, len ? "smartctl's answer could not be read (not whole JSON)"
                                    : "smartctl said nothing");
        return;
    }
    dev_health_unknown(out, "");
    json_string(json_get(&doc, NULL, "device.protocol"), out->protocol, sizeof(out->protocol));
    int64_t status = 0;
    bool support = true, passed;
    json_int(json_get(&doc, NULL, "smartctl.exit_status"), &status);
    json_bool(json_get(&doc, NULL, "smart_support.available"), &support);
    if ((status & SMARTCTL_FATAL) || !support) {
        char msg[200];
        smartctl_message(&doc, msg, sizeof(msg));
        snprintf(out->why, sizeof(out->why), "SMART not available%s%s", msg[0] ? ": " : "", msg);
        json_free(&doc);
        return;
    }
    if (json_bool(json_get(&doc, NULL, "smart_status.passed"), &passed))
        out->verdict = passed;
    if (out->verdict == 0)
        reason(out, DEV_HEALTH_FAILING, "SMART overall verdict FAILED");     /* the drive's own word first */
    get_count(&doc, NULL, "power_on_time.hours", &out->power_on_hours);
    get_count(&doc, NULL, "temperature.current", &out->temperature);
    int64_t lbs = 0;
    if (json_int(json_get(&doc, NULL, "logical_block_size"), &lbs) && lbs >= 512 && lbs <= 65536)
        out->logical_sector = (unsigned)lbs;
    ata_attributes(&doc, out);
    nvme_log(&doc, out);
    scsi_counts(&doc, out);
    classify(out);
    json_free(&doc);
}

/* Test hook: CLONEBAY_TEST_SMART="PATH=FILE[,PATH=FILE...]" answers for the
 * drive at PATH with smartctl's recorded answer in FILE instead of running it.
 * No drive here has pending sectors or a failing verdict (loop devices have
 * no SMART, QEMU's is fixed), so the station's advice is tested through this.
 * The FILE for path, or "" (buf) when none is set. */
static const char *test_answer(const char *path, char *buf, size_t len)
{
    const char *p = getenv("CLONEBAY_TEST_SMART");
    size_t plen = strlen(path);
    buf[0] = '\0';
    while (p && *p) {
        size_t item = strcspn(p, ",");
        if (item > plen && !strncmp(p, path, plen) && p[plen] == '=') {
            snprintf(buf, len, "%.*s", (int)(item - plen - 1), p + plen + 1);
            break;
        }
        p += item + (p[item] == ',');
    }
    return buf;
}

static int read_test_answer(const char *file, struct dev_health *out)
{
    char *buf = malloc(SMARTCTL_OUT_MAX);
    FILE *f = buf ? fopen(file, "rb") : NULL;
    size_t n = f ? fread(buf, 1, SMARTCTL_OUT_MAX, f) : 0;
    if (f)
        fclose(f);
    dev_health_parse(buf ? buf : "", n, out);
    free(buf);
    return 0;
}

bool dev_health_applies(const struct dev_drive *d, char *why, size_t len)
{
    char file[256];
    if (test_answer(d->path, file, sizeof(file))[0])
        return true;
    const char *no = d->kind == DEV_KIND_LOOP      ? "a loop device has no SMART"
                     : d->kind == DEV_KIND_VIRTUAL ? "a virtual disk has no SMART"
                     : d->is_optical              ? "an optical drive has no SMART health"
                                                  : NULL;
    if (no)
        snprintf(why, len, "%s", no);
    return !no;
}

/* Whether the drive at path sits behind a USB bridge (its sysfs device path
 * goes through a USB host). */
static bool behind_usb(const char *path)
{
    struct stat st;
    char link[64], real[PATH_MAX];
    if (stat(path, &st) != 0 || !S_ISBLK(st.st_mode))
        return false;
    snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
    return realpath(link, real) && strstr(real, "/usb");
}

int dev_health_read_path(const char *path, int timeout_s, struct dev_health *out)
{
    char file[256];
    if (test_answer(path, file, sizeof(file))[0])
        return read_test_answer(file, out);
    char *buf = malloc(SMARTCTL_OUT_MAX);
    if (!buf) {
        dev_health_unknown(out, "no memory for smartctl's answer");
        return -ENOMEM;
    }
    const char *argv[] = { "smartctl", "--json", "-a", path, NULL };
    int rc = run_tool_stdout(argv, buf, SMARTCTL_OUT_MAX, timeout_s);
    if (rc < 0) {
        char why[200];
        snprintf(why, sizeof(why), "smartctl could not run on %s: %s", path,
                 rc == -ETIMEDOUT ? "no answer in time" : rc == -ENOENT ? "not installed" : strerror(-rc));
        dev_health_unknown(out, why);
        free(buf);
        return rc;
    }
    dev_health_parse(buf, strlen(buf), out);
    free(buf);
    /* READ NATIVE MAX is an ATA command: smartctl has just said whether the drive
     * speaks ATA. Not through a USB bridge: passed through SAT it can hang the
     * bridge (QEMU's usb-storage locked its guest's kernel for minutes): its
     * hidden areas stay unknown. */
    if (!strcmp(out->protocol, "ATA") && !behind_usb(path)) {
        char why[160];
        dev_hidden_read(path, out->logical_sector ? out->logical_sector : 512, timeout_s, &out->hpa_bytes,
                        &out->dco_bytes, why, sizeof(why));
    }
    return 0;
}

int dev_health_read(const struct dev_drive *d, int timeout_s, struct dev_health *out)
{
    char why[128];
    if (!dev_health_applies(d, why, sizeof(why))) {
        dev_health_unknown(out, why);
        return 0;
    }
    return dev_health_read_path(d->path, timeout_s, out);
}

void dev_health_hidden_text(const struct dev_health *h, char *buf, size_t len)
{
    struct { const char *name; int64_t bytes; } areas[] = { { "HPA", h->hpa_bytes }, { "DCO", h->dco_bytes } };
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]) && n < len; i++) {
        if (areas[i].bytes <= 0)
            continue;
        char sz[32];
        units_format_bytes((uint64_t)areas[i].bytes, sz, sizeof(sz));
        n += (size_t)snprintf(buf + n, len - n, "%s%s: %s hidden", n ? ", " : "", areas[i].name, sz);
    }
}

void dev_health_summary(const struct dev_health *h, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s: %s", dev_health_word(h->state), h->why);
    struct { int64_t v; const char *fmt; } figs[] = {
        { h->power_on_hours, ", %lld h on" }, { h->temperature, ", %lld C" },
        { h->percentage_used, ", %lld %% used" },
    };
    for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]) && n < len; i++)
        if (figs[i].v != DEV_HEALTH_NONE)
            n += (size_t)snprintf(buf + n, len - n, figs[i].fmt, (long long)figs[i].v);
    char hidden[96];
    dev_health_hidden_text(h, hidden, sizeof(hidden));
    if (hidden[0] && n < len)
        snprintf(buf + n, len - n, "; %s", hidden);
}

void dev_health_write_json(struct json_writer *w, const char *key, const struct dev_health *h)
{
    if (!h) {
        jw_null(w, key);
        return;
    }
    jw_object_begin(w, key);
    jw_string(w, "state", dev_health_word(h->state));
    jw_string(w, "reason", h->why);
    jw_string(w, "verdict", h->verdict == 1 ? "passed" : h->verdict == 0 ? "failed" : NULL);
    jw_string(w, "protocol", h->protocol[0] ? h->protocol : NULL);
    struct { const char *key; int64_t v; } counts[] = {
        { "power_on_hours", h->power_on_hours }, { "reallocated_sectors", h->reallocated },
        { "pending_sectors", h->pending }, { "uncorrectable_sectors", h->uncorrectable },
        { "media_errors", h->media_errors }, { "percentage_used", h->percentage_used },
        { "temperature_celsius", h->temperature }, { "hpa_hidden_bytes", h->hpa_bytes },
        { "dco_hidden_bytes", h->dco_bytes },
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if (counts[i].v == DEV_HEALTH_NONE)
            jw_null(w, counts[i].key);
        else
            jw_i64(w, counts[i].key, counts[i].v);
    }
    jw_object_end(w);
}
