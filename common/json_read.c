#include "common/json_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any tool's answer; bounds the recursion on hostile input. */
#define JSON_MAX_DEPTH 64

struct parser {
    const char *p, *end;
    struct json_doc *doc;
};

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int add_node(struct parser *ps, enum json_type type)
{
    struct json_doc *d = ps->doc;
    if (d->count == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        struct json_node *n = realloc(d->nodes, (size_t)cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        d->nodes = n;
        d->cap = cap;
    }
    d->nodes[d->count] = (struct json_node){ .type = type, .child = -1, .next = -1 };
    return d->count++;
}

/* A string's body (ps->p just past the opening quote): checked, not decoded. */
static int scan_string(struct parser *ps, const char **text, size_t *len)
{
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20)
            return -EINVAL;
        if (c == '\\') {
            if (++ps->p >= ps->end)
                return -EINVAL;
            if (*ps->p == 'u') {
                for (int i = 0; i < 4; i++)
                    if (++ps->p >= ps->end || !strchr("0123456789abcdefABCDEF", *ps->p))
                        return -EINVAL;
            } else if (!strchr("\"\\/bfnrt", *ps->p)) {
                return -EINVAL;
            }
        }
        ps->p++;
    }
    if (ps->p >= ps->end)
        return -EINVAL;
    *text = s;
    *len = (size_t)(ps->p - s);
    ps->p++;
    return 0;
}

static bool digits(struct parser *ps)
{
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return ps->p > s;
}

static int scan_number(struct parser *ps)
{
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (!digits(ps))
        return -EINVAL;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!digits(ps))
            return -EINVAL;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!digits(ps))
            return -EINVAL;
    }
    return 0;
}

static int parse_value(struct parser *ps, int depth);

/* Elements or members up to the closing bracket, linked under node idx. */
static int parse_items(struct parser *ps, int idx, bool object, int depth)
{
    char close = object ? '}' : ']';
    int last = -1;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        skip_space(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return -EINVAL;
            ps->p++;
            int rc = scan_string(ps, &key, &key_len);
            if (rc)
                return rc;
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return -EINVAL;
            ps->p++;
        }
        int item = parse_value(ps, depth + 1);
        if (item < 0)
            return item;
        ps->doc->nodes[item].key = key;
        ps->doc->nodes[item].key_len = key_len;
        if (last < 0)
            ps->doc->nodes[idx].child = item;
        else
            ps->doc->nodes[last].next = item;
        last = item;
        skip_space(ps);
        if (ps->p >= ps->end)
            return -EINVAL;
        char c = *ps->p++;
        if (c == close)
            return 0;
        if (c != ',')
            return -EINVAL;
    }
}

static int literal(struct parser *ps, const char *word, enum json_type type)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return -EINVAL;
    int idx = add_node(ps, type);
    if (idx < 0)
        return idx;
    ps->doc->nodes[idx].text = ps->p;
    ps->doc->nodes[idx].len = n;
    ps->p += n;
    return idx;
}

/* The index of the value's node, or -errno. */
static int parse_value(struct parser *ps, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return -EINVAL;
    skip_space(ps);
    if (ps->p >= ps->end)
        return -EINVAL;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        int idx = add_node(ps, c == '{' ? JSON_OBJECT : JSON_ARRAY);
        if (idx < 0)
            return idx;
        ps->p++;
        int rc = parse_items(ps, idx, c == '{', depth);
        return rc ? rc : idx;
    }
    if (c == '"') {
        int idx = add_node(ps, JSON_STRING);
        if (idx < 0)
            return idx;
        ps->p++;
        int rc = scan_string(ps, &ps->doc->nodes[idx].text, &ps->doc->nodes[idx].len);
        return rc ? rc : idx;
    }
    if (c == 't')
        return literal(ps, "true", JSON_BOOL);
    if (c == 'f')
        return literal(ps, "false", JSON_BOOL);
    if (c == 'n')
        return literal(ps, "null", JSON_NULL);
    const char *s = ps->p;
    int rc = scan_number(ps);
    if (rc)
        return rc;
    int idx = add_node(ps, JSON_NUMBER);
    if (idx < 0)
        return idx;
    ps->doc->nodes[idx].text = s;
    ps->doc->nodes[idx].len = (size_t)(ps->p - s);
    return idx;
}

int json_parse(const char *text, size_t len, struct json_doc *doc)
{
    memset(doc, 0, sizeof(*doc));
    struct parser ps = { .p = text, .end = text + len, .doc = doc };
    int rc = parse_value(&ps, 0);
    if (rc >= 0) {
        skip_space(&ps);
        rc = ps.p == ps.end ? 0 : -EINVAL;
    }
    if (rc < 0)
        json_free(doc);
    return rc < 0 ? rc : 0;
}

void json_free(struct json_doc *doc)
{
    free(doc->nodes);
    memset(doc, 0, sizeof(*doc));
}

const struct json_node *json_first(const struct json_doc *doc, const struct json_node *n)
{
    return n && n->child >= 0 ? &doc->nodes[n->child] : NULL;
}

const struct json_node *json_next(const struct json_doc *doc, const struct json_node *n)
{
    return n && n->next >= 0 ? &doc->nodes[n->next] : NULL;
}

const struct json_node *json_get(const struct json_doc *doc, const struct json_node *obj, const char *path)
{
    const struct json_node *n = obj ? obj : (doc->count ? &doc->nodes[0] : NULL);
    while (n && *path) {
        size_t klen = strcspn(path, ".");
        if (n->type != JSON_OBJECT)
            return NULL;
        const struct json_node *m = json_first(doc, n);
        while (m && !(m->key_len == klen && !memcmp(m->key, path, klen)))
            m = json_next(doc, m);
        n = m;
        path += klen;
        if (*path == '.')
            path++;
    }
    return n;
}

bool json_int(const struct json_node *n, int64_t *out)
{
    if (!n || n->type != JSON_NUMBER || n->len >= 24 || memchr(n->text, '.', n->len) ||
        memchr(n->text, 'e', n->len) || memchr(n->text, 'E', n->len))
        return false;
    char buf[24];
    memcpy(buf, n->text, n->len);
    buf[n->len] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

bool json_bool(const struct json_node *n, bool *out)
{
    if (!n || n->type != JSON_BOOL)
        return false;
    *out = n->text[0] == 't';
    return true;
}

static int hex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

bool json_string(const struct json_node *n, char *buf, size_t len)
{
    if (!n || n->type != JSON_STRING || len == 0)
        return false;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t o = 0;
    for (size_t i = 0; i < n->len && o + 1 < len; i++) {
        char c = n->text[i];
        if (c == '\\') {
            c = n->text[++i];
            if (c == 'u') {
                int v = hex(n->text[i + 1]) << 12 | hex(n->text[i + 2]) << 8 | hex(n->text[i + 3]) << 4 |
                        hex(n->text[i + 4]);
                i += 4;
                c = v > 0 && v < 0x80 ? (char)v : '?';
            } else {
                c = to[strchr(from, c) - from];
            }
        }
        buf[o++] = c;
    }
    buf[o] = '\0';
    return true;
}
