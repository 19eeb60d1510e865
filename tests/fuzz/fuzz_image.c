/* libFuzzer target: the image reader (seek table, header, trailer, frames).
 * Every input is a file handed to image_open(); an image that opens is also
 * decoded whole, the way `clonebay verify` and restore read it.
 *   make fuzz && build-fuzz/fuzz_image tests/fuzz/corpus/image -max_total_time=300 */
#include "clone/image_read.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("image", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct image img;
        struct cb_error err = { 0 };
        if (image_open(&img, path, &err) == 0) {
            struct image_check r;
            image_check_all(&img, NULL, &r);
            char buf[4096];
            if (img.meta.size > 100)
                image_read(&img, buf, 100, img.meta.size - 100, &err);
            image_close(&img);
        }
    }
    close(fd);
    return 0;
}
