/* progress_line: the one-line live status a CLI job shows on a terminal. */
#ifndef CB_UI_PROGRESS_LINE_H
#define CB_UI_PROGRESS_LINE_H

#include "clone/progress.h"

#include <stdio.h>

/* "copy   1.2 GiB / 4.0 GiB  30.1%  452 MB/s  ETA 0:07" (no newline). */
void progress_line_format(const struct copy_progress *p, char *buf, size_t len);
/* Redraw the line in place on f (a terminal). */
void progress_line_draw(const struct copy_progress *p, FILE *f);
void progress_line_clear(FILE *f);

#endif
