#include "common/json_writer.h"

#include <inttypes.h>
#include <math.h>

void jw_init(struct json_writer *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->has_items[0] = false;
}

static void indent(struct json_writer *w)
{
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

static void put_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Comma, newline and key before a value. */
static void member(struct json_writer *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth])
            fputc(',', w->f);
        w->has_items[w->depth] = true;
        indent(w);
    }
    if (key) {
        put_escaped(w->f, key);
        fputs(": ", w->f);
    }
}

static void open_(struct json_writer *w, const char *key, char c)
{
    member(w, key);
    fputc(c, w->f);
    if (w->depth + 1 < JW_MAX_DEPTH)
        w->depth++;
    w->has_items[w->depth] = false;
}

static void close_(struct json_writer *w, char c)
{
    bool had = w->has_items[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (had)
        indent(w);
    fputc(c, w->f);
}

void jw_object_begin(struct json_writer *w, const char *key) { open_(w, key, '{'); }
void jw_object_end(struct json_writer *w) { close_(w, '}'); }
void jw_array_begin(struct json_writer *w, const char *key) { open_(w, key, '['); }
void jw_array_end(struct json_writer *w) { close_(w, ']'); }

void jw_string(struct json_writer *w, const char *key, const char *value)
{
    member(w, key);
    if (value)
        put_escaped(w->f, value);
    else
        fputs("null", w->f);
}

void jw_u64(struct json_writer *w, const char *key, uint64_t value)
{
    member(w, key);
    fprintf(w->f, "%" PRIu64, value);
}

void jw_i64(struct json_writer *w, const char *key, int64_t value)
{
    member(w, key);
    fprintf(w->f, "%" PRId64, value);
}

void jw_double(struct json_writer *w, const char *key, double value)
{
    member(w, key);
    if (isfinite(value))
        fprintf(w->f, "%.3f", value);
    else
        fputs("null", w->f);
}

void jw_bool(struct json_writer *w, const char *key, bool value)
{
    member(w, key);
    fputs(value ? "true" : "false", w->f);
}

void jw_null(struct json_writer *w, const char *key)
{
    member(w, key);
    fputs("null", w->f);
}

void jw_finish(struct json_writer *w)
{
    fputc('\n', w->f);
    fflush(w->f);
}
