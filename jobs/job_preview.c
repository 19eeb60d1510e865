#include "jobs/job_preview.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job_preview {
    /* The request and the strings it points to: the caller's may go away. */
    struct job_request req;
    char source[256];
    char targets[JOB_MAX_TARGETS][256];
    const char *target_ptrs[JOB_MAX_TARGETS];
    struct dev_ident source_ident, target_idents[JOB_MAX_TARGETS];
    int event_fd;
    pthread_t thread;
    /* Written by the thread before it sets done; read by the owner after. */
    _Atomic int done;
    int rc;
    char refusal[512];
    char notes[PREVIEW_NOTES][512];
    int nnotes;
};

static void *preview_main(void *arg)
{
    struct job_preview *p = arg;
    struct job *job = NULL;
    struct cb_error err = { 0 };
    /* The map is the job's to create: a preview only reads what exists. */
    p->req.map_path = NULL;
    p->req.dry_run = true;      /* never claims the targets: the job itself may start meanwhile */
    p->rc = job_prepare(&p->req, &job, &err);
    if (p->rc)
        snprintf(p->refusal, sizeof(p->refusal), "%s", err.msg);
    for (int i = 0; job && i < job->nnotes && i < PREVIEW_NOTES; i++)
        snprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), "%s", job->notes[i]);
    job_free(job);       /* lets go of the targets before the operator can press Y */
    atomic_store(&p->done, 1);
    if (p->event_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(p->event_fd, &one, sizeof(one));
        (void)w;
    }
    return NULL;
}

int job_preview_start(const struct job_request *req, int event_fd, struct job_preview **out)
{
    *out = NULL;
    if (req->ntargets == 0 || req->ntargets > JOB_MAX_TARGETS)
        return -EINVAL;
    struct job_preview *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->req = *req;
    p->event_fd = event_fd;
    snprintf(p->source, sizeof(p->source), "%s", req->source);
    p->req.source = p->source;
    for (size_t i = 0; i < req->ntargets; i++) {
        snprintf(p->targets[i], sizeof(p->targets[i]), "%s", req->targets[i]);
        p->target_ptrs[i] = p->targets[i];
        if (req->target_idents)
            p->target_idents[i] = req->target_idents[i];
    }
    p->req.targets = p->target_ptrs;
    if (req->source_ident)
        p->source_ident = *req->source_ident;
    p->req.source_ident = req->source_ident ? &p->source_ident : NULL;
    p->req.target_idents = req->target_idents ? p->target_idents : NULL;
    p->req.cmdline = NULL;
    p->req.fill = NULL;
    if (pthread_create(&p->thread, NULL, preview_main, p) != 0) {
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

bool job_preview_done(const struct job_preview *p)
{
    return atomic_load(&((struct job_preview *)p)->done) != 0;
}

const char *job_preview_refusal(const struct job_preview *p)
{
    return p->rc ? p->refusal : NULL;
}

const char (*job_preview_notes(const struct job_preview *p, int *n))[512]
{
    *n = p->nnotes;
    return (const char (*)[512])p->notes;
}

void job_preview_free(struct job_preview *p)
{
    if (!p)
        return;
    pthread_join(p->thread, NULL);
    free(p);
}
