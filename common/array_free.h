/* array_free: an array and its count let go together (the array freed, the
 * pointer and the count zeroed), so a struct holding it can be freed twice
 * or filled again. p: the address of the array's pointer. */
#ifndef CB_ARRAY_FREE_H
#define CB_ARRAY_FREE_H

#include <stddef.h>
#include <stdlib.h>

static inline void array_free(void *p, size_t *n)
{
    void **v = p;
    free(*v);
    *v = NULL;
    *n = 0;
}

#endif
