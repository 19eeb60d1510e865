/* json_read: a small JSON reader for the answers of tools (smartctl --json).
 *
 * The text is parsed whole into a flat array of nodes that point into it (no
 * copies), with a depth limit, so garbage or a truncated answer is a clean
 * -EINVAL and never a crash. Lookups by a dotted path ("smart_status.passed")
 * give NULL for anything absent or of another type; the caller decides what a
 * missing value means. The text must outlive the document. */
#ifndef CB_JSON_READ_H
#define CB_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_node {
    enum json_type type;
    const char *text;       /* strings: between the quotes, escapes as written; others: the literal */
    size_t len;
    const char *key;        /* member of an object: its name as written; else NULL */
    size_t key_len;
    int child, next;        /* node indexes; -1 for none */
};

struct json_doc {
    struct json_node *nodes;
    int count, cap;
};

/* 0, -EINVAL (not one whole JSON value), or -ENOMEM. doc is empty on error. */
int json_parse(const char *text, size_t len, struct json_doc *doc);
void json_free(struct json_doc *doc);

/* The member at a dotted path below obj (the root when obj is NULL), or NULL. */
const struct json_node *json_get(const struct json_doc *doc, const struct json_node *obj, const char *path);
/* First element or member of n, and the one after it; NULL at the end. */
const struct json_node *json_first(const struct json_doc *doc, const struct json_node *n);
const struct json_node *json_next(const struct json_doc *doc, const struct json_node *n);

/* Values; false (out untouched) when n is NULL or not of that kind. */
bool json_int(const struct json_node *n, int64_t *out);        /* integers only */
bool json_bool(const struct json_node *n, bool *out);
/* A string, unescaped (\uXXXX beyond ASCII becomes '?'), cut to len-1. */
bool json_string(const struct json_node *n, char *buf, size_t len);

#endif
