/* libFuzzer target: the mapfile reader (GNU ddrescue's format). Every input
 * is a file handed to map_load(); a map it accepts must tile [0, size)
 * exactly, and must then survive what a resume does with it.
 *   make fuzz && build-fuzz/fuzz_map tests/fuzz/corpus/map -max_total_time=300 */
#include "clone/block_map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_tiling(const struct block_map *m)
{
    uint64_t end = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (m->r[i].pos != end || m->r[i].size == 0 || m->r[i].size > UINT64_MAX - end)
            abort();
        end += m->r[i].size;
    }
    if (end != m->size || m->count == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("map", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct block_map m;
        struct cb_error err = { 0 };
        if (map_load(&m, path, &err) == 0) {
            check_tiling(&m);
            uint64_t pos, len;
            if (map_find(&m, m.size / 3, "?*/-", &pos, &len))
                map_mark(&m, pos, len / 2 + 1, MAP_FINISHED);
            map_mark(&m, m.size / 2, m.size, MAP_BAD);
            check_tiling(&m);
            (void)map_state_at(&m, m.size - 1);
            map_free(&m);
        } else if (!err.msg[0]) {
            abort();        /* a refusal must say why */
        }
    }
    close(fd);
    return 0;
}
