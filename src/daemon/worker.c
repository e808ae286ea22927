/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A GThreadPool whose finished jobs come back to the sd-event loop through an eventfd. */
#include <glib.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include "log.h"
#include "worker.h"

typedef struct Job {
        void *data;
        WorkerRunFunc run;
        WorkerDoneFunc done;
} Job;

struct Worker {
        GThreadPool *pool;
        GAsyncQueue *finished;
        int efd;
        sd_event_source *source;
};

static void pool_func(gpointer data, gpointer user_data) {
        Worker *w = user_data;
        Job *j = data;
        uint64_t one = 1;

        j->run(j->data);
        g_async_queue_push(w->finished, j);
        (void) write(w->efd, &one, sizeof one);
}

static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        uint64_t n;
        Job *j;

        (void) read(fd, &n, sizeof n);
        while ((j = g_async_queue_try_pop(w->finished))) {
                j->done(j->data);
                g_free(j);
        }
        return 0;
}

int worker_new(Worker **ret, sd_event *e, unsigned max_threads) {
        _cleanup_(worker_freep) Worker *w = g_new0(Worker, 1);
        GError *error = NULL;
        int r;

        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return log_error_errno(errno, "Failed to create eventfd: %m");
        w->finished = g_async_queue_new();
        w->pool = g_thread_pool_new(pool_func, w, (gint) max_threads, false, &error);
        if (!w->pool) {
                log_error("Failed to create thread pool: %s", error->message);
                g_error_free(error);
                return -ENOMEM;
        }
        r = sd_event_add_io(e, &w->source, w->efd, EPOLLIN, on_finished, w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch worker eventfd: %m");
        (void) sd_event_source_set_description(w->source, "worker");
        *ret = TAKE_PTR(w);
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        /* Let running jobs finish: they hold task data. Their completions are dropped. */
        if (w->pool)
                g_thread_pool_free(w->pool, false, true);
        if (w->finished) {
                Job *j;

                while ((j = g_async_queue_try_pop(w->finished))) {
                        j->done(j->data);
                        g_free(j);
                }
                g_async_queue_unref(w->finished);
        }
        w->source = sd_event_source_disable_unref(w->source);
        w->efd = safe_close(w->efd);
        g_free(w);
        return NULL;
}

int worker_submit(Worker *w, void *data, WorkerRunFunc run, WorkerDoneFunc done) {
        Job *j = g_new(Job, 1);
        GError *error = NULL;

        *j = (Job) { .data = data, .run = run, .done = done };
        if (!g_thread_pool_push(w->pool, j, &error)) {
                log_error("Failed to queue work: %s", error->message);
                g_error_free(error);
                g_free(j);
                return -ENOMEM;
        }
        return 0;
}
