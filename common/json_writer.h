/* json_writer: streaming JSON output to a FILE*, properly escaped.
 *
 * Used by `clonebay list --json` and the job reports. Keys are passed for
 * members of objects and NULL for elements of arrays. */
#ifndef CB_JSON_WRITER_H
#define CB_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct json_writer {
    FILE *f;
    int depth;
    bool has_items[JW_MAX_DEPTH];
};

void jw_init(struct json_writer *w, FILE *f);
void jw_object_begin(struct json_writer *w, const char *key);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w, const char *key);
void jw_array_end(struct json_writer *w);
void jw_string(struct json_writer *w, const char *key, const char *value);  /* NULL -> null */
void jw_u64(struct json_writer *w, const char *key, uint64_t value);
void jw_i64(struct json_writer *w, const char *key, int64_t value);
void jw_double(struct json_writer *w, const char *key, double value);
void jw_bool(struct json_writer *w, const char *key, bool value);
void jw_null(struct json_writer *w, const char *key);
/* Finish the document with a newline. */
void jw_finish(struct json_writer *w);

#endif
