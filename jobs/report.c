#include "jobs/report.h"
#include "common/json_writer.h"
#include "common/safe_file.h"
#include "common/units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void iso_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static double avg_rate(const struct job *job)
{
    /* The copy phase's own clock: whole seconds of wall time lie for short jobs. */
    double secs = job->copy_seconds > 0 ? job->copy_seconds : difftime(job->ended, job->started);
    uint64_t bytes = map_bytes(&job->map, MAP_FINISHED) + map_bytes(&job->map, MAP_BAD);
    return secs > 0 ? (double)bytes / secs : (double)bytes;
}

static const char *verify_word(const struct engine_target *t, bool verify)
{
    if (atomic_load(&t->failed))
        return "FAILED";
    if (!verify)
        return "not verified";
    switch (t->verified) {
    case VERIFY_EQUAL: return "VERIFIED";
    case VERIFY_DIFFERS: return "MISMATCH";
    case VERIFY_UNREADABLE: return "UNREADABLE";
    case VERIFY_CANCELLED: return "CANCELLED";
    case VERIFY_NOT_RUN: break;
    }
    return "not verified";
}

static void endpoint_text(FILE *f, const char *role, const struct job_endpoint *ep)
{
    char sz[32];
    units_format_bytes(ep->size, sz, sizeof(sz));
    fprintf(f, "%-8s %s  %s  %s%s%s  %s\n", role, ep->path, ep->kind, ep->model,
            ep->serial[0] ? "  serial " : "", ep->serial, sz);
}

/* The drives' SMART health: the source before and after, each target before. */
static void health_text(const struct job *job, FILE *f)
{
    char line[400];
    if (job->source.has_health) {
        dev_health_summary(&job->source.health, line, sizeof(line));
        fprintf(f, "health   source %s before: %s\n", job->source.path, line);
    }
    if (job->has_health_after) {
        dev_health_summary(&job->source_health_after, line, sizeof(line));
        fprintf(f, "health   source %s after: %s\n", job->source.path, line);
    }
    for (size_t i = 0; i < job->ntargets; i++)
        if (job->targets[i].has_health) {
            dev_health_summary(&job->targets[i].health, line, sizeof(line));
            fprintf(f, "health   target %s: %s\n", job->targets[i].path, line);
        }
}

/* Where a damaged area lies: "partition #2 (ext4)", "the disk (vfat)", "". */
static const char *damaged_where(const struct fs_owner *o, char *buf, size_t len)
{
    if (o->kind == FS_OWNER_OUTSIDE)
        snprintf(buf, len, "outside every partition");
    else if (o->partition)
        snprintf(buf, len, "partition #%d%s%s%s", o->partition, o->fstype[0] ? " (" : "", o->fstype,
                 o->fstype[0] ? ")" : "");
    else
        snprintf(buf, len, "the disk%s%s%s", o->fstype[0] ? " (" : "", o->fstype, o->fstype[0] ? ")" : "");
    return buf;
}

/* Each file once with its total, filesystem metadata first in each partition. */
void report_damaged_text(const struct fs_owner_list *l, FILE *f)
{
    if (!l->count)
        return;
    fprintf(f, "damaged  what the unreadable sectors hit, looked up in the copy (a file with several names "
            "is listed under each):\n");
    for (size_t i = 0; i < l->count; i++) {
        const struct fs_owner *o = &l->v[i];
        char where[64], sz[32];
        units_format_bytes(o->bytes, sz, sizeof(sz));
        damaged_where(o, where, sizeof(where));
        if (o->kind == FS_OWNER_OUTSIDE)
            fprintf(f, "         %s  %llu bytes unreadable\n", where, (unsigned long long)o->bytes);
        else if (o->kind == FS_OWNER_FREE)
            fprintf(f, "         %s  %-10s %s  %llu bytes unreadable, nothing lost\n", where, "free", o->name,
                    (unsigned long long)o->bytes);
        else
            fprintf(f, "         %s  %-10s %s  %s lost (%llu bytes)%s%s\n", where, fs_owner_kind_name(o->kind),
                    o->name, sz, (unsigned long long)o->bytes, o->why ? ": " : "", o->why ? o->why : "");
    }
}

void report_damaged_json(const struct fs_owner_list *l, struct json_writer *w)
{
    jw_array_begin(w, "damaged");
    for (size_t i = 0; i < l->count; i++) {
        const struct fs_owner *o = &l->v[i];
        jw_object_begin(w, NULL);
        jw_string(w, "kind", fs_owner_kind_name(o->kind));
        jw_u64(w, "partition", (uint64_t)o->partition);
        jw_string(w, "filesystem", o->fstype[0] ? o->fstype : NULL);
        jw_string(w, "path", o->kind == FS_OWNER_FILE ? o->name : NULL);
        jw_string(w, "name", o->name);
        jw_u64(w, "bytes_lost", o->bytes);
        jw_string(w, "why", o->why);
        jw_object_end(w);
    }
    jw_array_end(w);
}

void report_write_text(const struct job *job, const char *version, FILE *f)
{
    char t0[64], t1[64], done[32], rate[32];
    iso_time(job->started, t0, sizeof(t0));
    iso_time(job->ended, t1, sizeof(t1));
    const struct engine_task *e = &job->engine;
    uint64_t copied = map_bytes(&job->map, MAP_FINISHED);
    units_format_bytes(copied, done, sizeof(done));
    units_format_bytes((uint64_t)avg_rate(job), rate, sizeof(rate));
    fprintf(f, "clonebay %s %s report\n", version, job->ops->name);
    fprintf(f, "started  %s\nended    %s\n", t0, t1);
    endpoint_text(f, "source", &job->source);
    for (size_t i = 0; i < job->ntargets; i++)
        endpoint_text(f, "target", &job->targets[i]);
    health_text(job, f);
    fprintf(f, "copied   %s (%llu bytes) at %s/s average%s\n", done, (unsigned long long)copied, rate,
            job->resumed ? ", resumed from the map" : "");
    fprintf(f, "time     copy %.1f s, verify %.1f s\n", job->copy_seconds, job->verify_seconds);
    if (job->image_target >= 0 && !job->raw && job->image_bytes) {
        char isz[32];
        units_format_bytes(job->image_bytes, isz, sizeof(isz));
        fprintf(f, "image    %s%s: %s (%llu bytes), ratio %.2f, %llu frames (%llu all zero)\n", job->image_final,
                job->split ? " (split: .000, .001, ...)" : "", isz, (unsigned long long)job->image_bytes,
                (double)job->map.size / (double)job->image_bytes, (unsigned long long)job->image_frames,
                (unsigned long long)job->zero_frames);
    }
    /* What the hashes below stand for depends on the mode: say it next to them. */
    if (job->used_only && job->ops->makes_image)
        fprintf(f, "mode     used blocks: free space stored as zeros, not read; the hashes cover the disk as "
                "the image holds it\n");
    else if (job->used_only && map_bytes(&job->domain, MAP_ZERO)) {
        char z[32];
        units_format_bytes(map_bytes(&job->domain, MAP_ZERO), z, sizeof(z));
        fprintf(f, "mode     used blocks: the hashes cover the %s copied (tables, gaps, blocks in use; %s of it "
                "unused inode tables, written and verified as zeros, not read), not the free space\n",
                done, z);
    } else if (job->used_only)
        fprintf(f, "mode     used blocks: the hashes cover the %s copied (tables, gaps, blocks in use), not the "
                "free space\n", done);
    else if (!job->ops->reads_image)
        fprintf(f, "mode     raw: every sector\n");
    for (int a = 0; a < HASH_COUNT; a++)
        if ((job->hash_mask & (1u << a)) && e->digests[a][0])
            fprintf(f, "%-8s %s  (source stream)\n", hash_name((enum hash_alg)a), e->digests[a]);
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct engine_target *t = &job->ctargets[i];
        fprintf(f, "target %s: %s", t->dev.path, verify_word(t, job->verify));
        if (t->verified == VERIFY_EQUAL)
            fprintf(f, " (%s %s)", hash_name(e->verify_alg), t->verify_hex);
        if (atomic_load(&t->failed))
            fprintf(f, ": write failed at byte %llu: %s", (unsigned long long)t->error_off, strerror(-t->error));
        else if (t->verified > VERIFY_EQUAL)
            fprintf(f, ": %s", t->verify_msg);
        if (job->gpt_moved[i])
            fprintf(f, "; GPT backup header moved to the end of the disk");
        if (t->served_later) {
            char later[32];
            units_format_bytes(t->served_later, later, sizeof(later));
            fprintf(f, "; too slow to keep up: %s of it written after the others were done (read again from "
                    "the source)", later);
        }
        fputc('\n', f);
    }
    uint64_t bad = map_bytes(&job->map, MAP_BAD);
    if (bad) {
        fprintf(f, "bad      %llu bytes in %zu areas (written as zeros; hashes cover the image as written):\n",
                (unsigned long long)bad, map_regions(&job->map, MAP_BAD));
        for (size_t i = 0; i < job->map.count; i++)
            if (job->map.r[i].state == MAP_BAD)
                fprintf(f, "         offset %llu, %llu bytes (%llu sectors)\n",
                        (unsigned long long)job->map.r[i].pos, (unsigned long long)job->map.r[i].size,
                        (unsigned long long)(job->map.r[i].size / job->src.sector));
    } else {
        fprintf(f, "bad      none\n");
    }
    report_damaged_text(&job->damaged, f);
    if (job->map_path[0])
        fprintf(f, "map      %s\n", job->map_path);
    for (int i = 0; i < job->nnotes; i++)
        fprintf(f, "note     %s\n", job->notes[i]);
    /* What the filesystem tools said, line by line. */
    for (const char *l = job->tool_log; *l;) {
        const char *nl = strchr(l, '\n');
        int n = nl ? (int)(nl - l) : (int)strlen(l);
        fprintf(f, "tool     %.*s\n", n, l);
        l += n + (nl ? 1 : 0);
    }
    fprintf(f, "outcome  %s%s%s\n", job_outcome_name(job->outcome), job->outcome_msg[0] ? ": " : "",
            job->outcome_msg);
}

static void endpoint_json(struct json_writer *w, const char *key, const struct job_endpoint *ep)
{
    jw_object_begin(w, key);
    jw_string(w, "path", ep->path);
    jw_string(w, "kind", ep->kind);
    jw_string(w, "model", ep->model);
    jw_string(w, "serial", ep->serial);
    jw_u64(w, "size", ep->size);
    jw_string(w, "contents", ep->contents);
    dev_health_write_json(w, "health", ep->has_health ? &ep->health : NULL);
    jw_object_end(w);
}

void report_write_json(const struct job *job, const char *version, FILE *f)
{
    const struct engine_task *e = &job->engine;
    char t0[64], t1[64];
    iso_time(job->started, t0, sizeof(t0));
    iso_time(job->ended, t1, sizeof(t1));
    struct json_writer w;
    jw_init(&w, f);
    jw_object_begin(&w, NULL);
    jw_string(&w, "tool", "clonebay");
    jw_string(&w, "version", version);
    jw_string(&w, "operation", job->ops->name);
    jw_string(&w, "started", t0);
    jw_string(&w, "ended", t1);
    endpoint_json(&w, "source", &job->source);
    dev_health_write_json(&w, "source_health_after", job->has_health_after ? &job->source_health_after : NULL);
    jw_u64(&w, "bytes_copied", map_bytes(&job->map, MAP_FINISHED));
    jw_u64(&w, "bytes_total", job->map.size);
    jw_string(&w, "mode", job->used_only ? "used" : "raw");
    /* The domain is what the job covers: read from the source, or known zeros written without reading. */
    uint64_t zeroed = job->used_only ? map_bytes(&job->domain, MAP_ZERO) : 0;
    jw_u64(&w, "bytes_in_domain", job->used_only ? map_bytes(&job->domain, MAP_FINISHED) + zeroed : job->map.size);
    jw_u64(&w, "bytes_zeroed", zeroed);
    jw_double(&w, "average_rate", avg_rate(job));
    jw_double(&w, "copy_seconds", job->copy_seconds);
    jw_double(&w, "verify_seconds", job->verify_seconds);
    jw_bool(&w, "resumed", job->resumed);
    jw_u64(&w, "retries", (uint64_t)job->retries);
    if (job->image_target >= 0) {
        jw_object_begin(&w, "image");
        jw_string(&w, "path", job->image_final);
        jw_bool(&w, "raw", job->raw);
        jw_u64(&w, "split", job->split);
        if (!job->raw) {
            jw_u64(&w, "bytes", job->image_bytes);
            jw_double(&w, "ratio", job->image_bytes ? (double)job->map.size / (double)job->image_bytes : 0.0);
            jw_u64(&w, "frames", job->image_frames);
            jw_u64(&w, "zero_frames", job->zero_frames);
            jw_u64(&w, "spilled_frames", job->image_spilled);         /* waited out of order (a skip) */
            jw_u64(&w, "resumed_frames", job->image_resumed_frames);  /* kept from an earlier run */
        }
        jw_object_end(&w);
    }
    jw_object_begin(&w, "source_hashes");
    for (int a = 0; a < HASH_COUNT; a++)
        if ((job->hash_mask & (1u << a)) && e->digests[a][0])
            jw_string(&w, hash_name((enum hash_alg)a), e->digests[a]);
    jw_object_end(&w);
    jw_string(&w, "verify_algorithm", job->verify ? hash_name(e->verify_alg) : NULL);
    jw_array_begin(&w, "targets");
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct engine_target *t = &job->ctargets[i];
        jw_object_begin(&w, NULL);
        endpoint_json(&w, "identity", &job->targets[i]);
        jw_string(&w, "result", verify_word(t, job->verify));
        jw_string(&w, "verify_hash", t->verified == VERIFY_EQUAL ? t->verify_hex : NULL);
        if (atomic_load(&t->failed)) {
            jw_u64(&w, "failed_at", t->error_off);
            jw_string(&w, "error", strerror(-t->error));
        }
        if (t->verified > VERIFY_EQUAL)
            jw_string(&w, "verify_error", t->verify_msg);
        if (t->verified == VERIFY_DIFFERS) {
            jw_u64(&w, "first_difference_from", t->diff_from);
            jw_u64(&w, "first_difference_to", t->diff_to);
        }
        jw_bool(&w, "gpt_backup_moved", job->gpt_moved[i]);
        jw_u64(&w, "served_later", t->served_later);       /* bytes read again for it: it was left behind */
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_array_begin(&w, "bad_sectors");
    for (size_t i = 0; i < job->map.count; i++) {
        if (job->map.r[i].state != MAP_BAD)
            continue;
        jw_object_begin(&w, NULL);
        jw_u64(&w, "offset", job->map.r[i].pos);
        jw_u64(&w, "length", job->map.r[i].size);
        jw_u64(&w, "sectors", job->map.r[i].size / job->src.sector);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    report_damaged_json(&job->damaged, &w);
    jw_string(&w, "map", job->map_path[0] ? job->map_path : NULL);
    jw_array_begin(&w, "notes");
    for (int i = 0; i < job->nnotes; i++)
        jw_string(&w, NULL, job->notes[i]);
    jw_array_end(&w);
    jw_string(&w, "tool_log", job->tool_log[0] ? job->tool_log : NULL);
    jw_string(&w, "outcome", job_outcome_name(job->outcome));
    jw_string(&w, "outcome_detail", job->outcome_msg);
    jw_object_end(&w);
    jw_finish(&w);
}

static void write_json(FILE *f, const void *job, const char *version)
{
    report_write_json(job, version, f);
}

int report_save_json(const struct job *job, const char *version, const char *path, struct cb_error *err)
{
    return safe_file_write_report(path, write_json, job, version, err);
}
