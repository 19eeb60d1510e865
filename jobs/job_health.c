#include "jobs/job_health.h"
#include "devices/dev_health.h"
#include "jobs/job.h"

/* Long enough for a slow USB bridge; a hung one must not hold the job. */
#define JOB_HEALTH_TIMEOUT_S 60

void job_health_init(struct job_endpoint *ep, const struct dev_drive *d)
{
    char why[128];
    ep->smart = dev_health_applies(d, why, sizeof(why));
    dev_health_unknown(&ep->health, ep->smart ? "not read" : why);
    ep->has_health = true;
}

static void read_one(const struct job_endpoint *ep, struct dev_health *out)
{
    if (ep->smart)
        dev_health_read_path(ep->path, JOB_HEALTH_TIMEOUT_S, out);
    else
        *out = ep->health;
}

void job_health_before(struct job *job)
{
    if (job->source.has_health)
        read_one(&job->source, &job->source.health);
    char hidden[96];
    dev_health_hidden_text(&job->source.health, hidden, sizeof(hidden));
    if (job->source.has_health && hidden[0])
        job_note(job, "source %s: %s; the hidden area was not copied (only the sectors the drive shows "
                       "are read, and nothing here changes its limits)", job->source.path, hidden);
    for (size_t i = 0; i < job->ntargets; i++)
        if (job->targets[i].has_health)
            read_one(&job->targets[i], &job->targets[i].health);
}

void job_health_after(struct job *job)
{
    if (!job->source.has_health)
        return;
    read_one(&job->source, &job->source_health_after);
    job->has_health_after = true;
}
