#include "clone/block_map.h"
#include "common/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool valid_state(char c)
{
    return c == '?' || c == '*' || c == '/' || c == '-' || c == '+';
}

static int reserve(struct block_map *m, size_t need)
{
    if (need <= m->cap)
        return 0;
    size_t cap = m->cap ? m->cap : 16;
    while (cap < need)
        cap *= 2;
    struct map_region *r = realloc(m->r, cap * sizeof(*r));
    if (!r)
        return -ENOMEM;
    m->r = r;
    m->cap = cap;
    return 0;
}

int map_init(struct block_map *m, uint64_t size, char state)
{
    memset(m, 0, sizeof(*m));
    m->size = size;
    m->current_status = '?';
    m->current_pass = 1;
    if (size == 0)
        return 0;
    if (reserve(m, 1))
        return -ENOMEM;
    m->r[0] = (struct map_region){ 0, size, state };
    m->count = 1;
    return 0;
}

void map_free(struct block_map *m)
{
    free(m->r);
    memset(m, 0, sizeof(*m));
}

int map_copy(struct block_map *dst, const struct block_map *src)
{
    struct block_map t = *src;
    t.r = NULL;
    t.cap = 0;
    if (reserve(&t, src->count ? src->count : 1))
        return -ENOMEM;
    memcpy(t.r, src->r, src->count * sizeof(*t.r));
    free(dst->r);
    *dst = t;
    return 0;
}

/* Index of the region holding pos (pos < size). */
static size_t find_index(const struct block_map *m, uint64_t pos)
{
    size_t lo = 0, hi = m->count;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m->r[mid].pos <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int map_mark(struct block_map *m, uint64_t pos, uint64_t len, char state)
{
    if (pos >= m->size || len == 0)
        return 0;
    if (len > m->size - pos)
        len = m->size - pos;
    uint64_t end = pos + len;
    size_t i = find_index(m, pos);
    size_t j = find_index(m, end - 1);
    struct map_region first = m->r[i], last = m->r[j];
    struct map_region repl[3];
    size_t n = 0;
    if (first.pos < pos)
        repl[n++] = (struct map_region){ first.pos, pos - first.pos, first.state };
    repl[n++] = (struct map_region){ pos, len, state };
    uint64_t last_end = last.pos + last.size;
    if (last_end > end)
        repl[n++] = (struct map_region){ end, last_end - end, last.state };
    size_t removed = j - i + 1;
    if (reserve(m, m->count - removed + n))
        return -ENOMEM;
    memmove(&m->r[i + n], &m->r[j + 1], (m->count - j - 1) * sizeof(*m->r));
    memcpy(&m->r[i], repl, n * sizeof(*repl));
    m->count = m->count - removed + n;
    /* Merge neighbours of equal state around what changed. */
    size_t lo = i ? i - 1 : 0, hi = i + n < m->count ? i + n : m->count - 1;
    for (size_t k = lo; k < hi && k + 1 < m->count;) {
        if (m->r[k].state == m->r[k + 1].state) {
            m->r[k].size += m->r[k + 1].size;
            memmove(&m->r[k + 1], &m->r[k + 2], (m->count - k - 2) * sizeof(*m->r));
            m->count--;
            hi--;
        } else {
            k++;
        }
    }
    return 0;
}

uint64_t map_bytes(const struct block_map *m, char state)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->count; i++)
        if (m->r[i].state == state)
            n += m->r[i].size;
    return n;
}

size_t map_regions(const struct block_map *m, char state)
{
    size_t n = 0;
    for (size_t i = 0; i < m->count; i++)
        if (m->r[i].state == state)
            n++;
    return n;
}

bool map_find(const struct block_map *m, uint64_t from, const char *states, uint64_t *pos, uint64_t *len)
{
    if (from >= m->size)
        return false;
    for (size_t i = find_index(m, from); i < m->count; i++) {
        const struct map_region *r = &m->r[i];
        if (!strchr(states, r->state))
            continue;
        uint64_t start = r->pos > from ? r->pos : from;
        *pos = start;
        *len = r->pos + r->size - start;
        return true;
    }
    return false;
}

char map_state_at(const struct block_map *m, uint64_t pos)
{
    return pos < m->size ? m->r[find_index(m, pos)].state : 0;
}

static void write_map(const struct block_map *m, FILE *f, const char *cmdline)
{
    char now[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "# Mapfile. Created by clonebay (GNU ddrescue mapfile format)\n");
    if (cmdline)
        fprintf(f, "# Command line: %s\n", cmdline);
    if (m->source_id[0])
        fprintf(f, "# Source: %s\n", m->source_id);
    for (int i = 0; i < m->ntarget_ids; i++)
        fprintf(f, "# Target: %s\n", m->target_ids[i]);
    fprintf(f, "# Current time: %s\n", now);
    if (m->current_status == '+')
        fprintf(f, "# Finished\n");
    fprintf(f, "# current_pos  current_status  current_pass\n");
    fprintf(f, "0x%08" PRIX64 "     %c               %d\n", m->current_pos, m->current_status,
            m->current_pass);
    fprintf(f, "#      pos        size  status\n");
    for (size_t i = 0; i < m->count; i++)
        fprintf(f, "0x%08" PRIX64 "  0x%08" PRIX64 "  %c\n", m->r[i].pos, m->r[i].size, m->r[i].state);
}

int map_save(const struct block_map *m, const char *path, const char *cmdline, struct cb_error *err)
{
    /* A fresh name created O_EXCL: a link planted under a predictable temp
     * name (path.tmp) would otherwise send root's write to any file. */
    char tmp[4096];
    FILE *f = safe_file_ftemp(path, 0644, tmp, sizeof(tmp));
    if (!f)
        return cb_error_set(err, -errno, "cannot create a temporary file next to map file %s: %s", path,
                            strerror(errno));
    write_map(m, f, cmdline);
    int rc = safe_file_freplace(f, tmp, path);
    if (rc)
        return cb_error_set(err, rc, "cannot save map file %s: %s", path, strerror(-rc));
    return 0;
}

/* A ddrescue position or size: a non-negative number in C notation (decimal,
 * 0x hex or 0 octal, as ddrescue's own reader takes it) that fits in a signed
 * 64-bit value, as ddrescue's positions do. 0, or -EINVAL. */
static int map_number(const char **s, uint64_t *v)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;         /* also refuses a sign: strtoull would wrap "-1" */
    char *end;
    errno = 0;
    unsigned long long x = strtoull(p, &end, 0);
    if (errno || x > INT64_MAX || (*end != ' ' && *end != '\t'))
        return -EINVAL;
    *v = x;
    *s = end;
    return 0;
}

/* One "pos size status" line, appended to m. The ranges must tile the drive:
 * the first at 0, each where the previous ended, so m->size (the end of the
 * last) is exactly what the map covers and the caller can compare it with
 * the source. 0, or -errno with err naming the line. */
static int map_range_line(struct block_map *m, const char *p, const char *path, int lineno,
                          struct cb_error *err)
{
    uint64_t pos, size;
    if (map_number(&p, &pos) || map_number(&p, &size))
        return cb_error_set(err, -EINVAL, "map file %s, line %d: expected a range 'position size status' "
                            "with two non-negative numbers below 2^63", path, lineno);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n' || *p == '\r')
        return cb_error_set(err, -EINVAL, "map file %s, line %d: the range has no status character", path, lineno);
    if (!valid_state(*p))
        return cb_error_set(err, -EINVAL, "map file %s, line %d: unknown status '%c' (a ddrescue mapfile uses "
                            "? * / - +)", path, lineno, *p);
    if (size == 0)
        return cb_error_set(err, -EINVAL, "map file %s, line %d: a range of 0 bytes at 0x%" PRIX64, path,
                            lineno, pos);
    if (size > (uint64_t)INT64_MAX - pos)
        return cb_error_set(err, -EINVAL, "map file %s, line %d: the range at 0x%" PRIX64 " of 0x%" PRIX64
                            " bytes ends past the largest position a mapfile can hold (2^63)", path, lineno,
                            pos, size);
    if (m->count == 0 && pos != 0)
        return cb_error_set(err, -EINVAL, "map file %s, line %d: the first range starts at 0x%" PRIX64
                            " instead of 0: the map does not cover the start of the drive", path, lineno, pos);
    if (pos > m->size)
        return cb_error_set(err, -EINVAL, "map file %s, line %d: the range starts at 0x%" PRIX64 " but the "
                            "previous one ends at 0x%" PRIX64 ": the map has a gap", path, lineno, pos, m->size);
    if (pos < m->size)
        return cb_error_set(err, -EINVAL, "map file %s, line %d: the range at 0x%" PRIX64 " starts before the "
                            "previous one ends (0x%" PRIX64 "): ranges overlap or are out of order", path,
                            lineno, pos, m->size);
    if (reserve(m, m->count + 1))
        return cb_error_set(err, -ENOMEM, "out of memory reading map file %s", path);
    m->r[m->count++] = (struct map_region){ pos, size, *p };
    m->size = pos + size;
    return 0;
}

/* fgets for a mapfile: a line longer than the buffer is cut and the rest of
 * it skipped (*cut set), so its tail is never read as a line of its own. */
static char *map_line(char *buf, int len, FILE *f, bool *cut)
{
    *cut = false;
    if (!fgets(buf, len, f))
        return NULL;
    if (!strchr(buf, '\n') && !feof(f)) {
        int c;
        while ((c = getc(f)) != EOF && c != '\n')
            ;
        *cut = true;
    }
    return buf;
}

int map_load(struct block_map *m, const char *path, struct cb_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return cb_error_set(err, -errno, "cannot read map file %s: %s", path, strerror(errno));
    memset(m, 0, sizeof(*m));
    m->current_status = '?';
    m->current_pass = 1;
    char line[512];
    bool have_status = false, cut, said = false;
    int rc = 0, lineno = 0;
    while (!rc && map_line(line, sizeof(line), f, &cut)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "# Source: ", 10) == 0) {
            snprintf(m->source_id, sizeof(m->source_id), "%s", p + 10);
            m->source_id[strcspn(m->source_id, "\n")] = '\0';
            continue;
        }
        if (strncmp(p, "# Target: ", 10) == 0 && m->ntarget_ids < MAP_MAX_TARGETS) {
            char *t = m->target_ids[m->ntarget_ids++];
            snprintf(t, sizeof(m->target_ids[0]), "%s", p + 10);
            t[strcspn(t, "\n")] = '\0';
            continue;
        }
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (cut) {
            rc = cb_error_set(err, -EINVAL, "map file %s, line %d: longer than %zu characters: not a ddrescue "
                              "mapfile", path, lineno, sizeof(line) - 1);
            said = true;
            break;
        }
        uint64_t a;
        char st;
        int pass;
        if (!have_status) {
            int n = sscanf(p, "%" SCNi64 " %c %d", &a, &st, &pass);
            if (n < 2) {
                rc = -EINVAL;
                break;
            }
            m->current_pos = a;
            m->current_status = st;
            m->current_pass = n == 3 ? pass : 1;
            have_status = true;
            continue;
        }
        rc = map_range_line(m, p, path, lineno, err);
        if (rc)
            said = true;
    }
    fclose(f);
    if (rc == -EINVAL && !said)
        cb_error_set(err, rc, "map file %s is not a valid ddrescue mapfile (line %d)", path, lineno);
    else if (rc && !said)
        cb_error_set(err, rc, "out of memory reading map file %s", path);
    else if (!rc && !have_status)
        rc = cb_error_set(err, -EINVAL, "map file %s is empty", path);
    else if (!rc && m->count == 0)
        rc = cb_error_set(err, -EINVAL, "map file %s lists no ranges after its status line: it describes no "
                          "drive", path);
    if (rc)
        map_free(m);
    return rc;
}

int map_mark_locked(struct block_map *m, pthread_mutex_t *mu, uint64_t pos, uint64_t len, char state)
{
    if (mu)
        pthread_mutex_lock(mu);
    int rc = map_mark(m, pos, len, state);
    if (mu)
        pthread_mutex_unlock(mu);
    return rc;
}

int map_copy_locked(struct block_map *dst, const struct block_map *src, pthread_mutex_t *mu)
{
    if (mu)
        pthread_mutex_lock(mu);
    int rc = map_copy(dst, src);
    if (mu)
        pthread_mutex_unlock(mu);
    return rc;
}
