/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=move|copy|delete (pyinotifyd's FileManager) with GIO, in a worker thread: the destination
 * comes from Source=/Destination= regex references, parents may be created, existing destinations are
 * refused unless Overwrite=yes, and modes and owners are applied to what results. */
#include <gio/gio.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "log.h"
#include "runner-file.h"

typedef struct FileJob {
        RunnerContext *ctx;
        Task *task;                     /* touched on the loop only */

        ActionType action;
        char *source, *destination;
        bool auto_create, overwrite, recursive;
        int file_mode, directory_mode;
        uid_t uid;
        gid_t gid;

        char *error;                    /* set by the worker on failure */
} FileJob;

static void file_job_free(FileJob *j) {
        g_free(j->source);
        g_free(j->destination);
        g_free(j->error);
        g_free(j);
}

static void fail(FileJob *j, const char *what, const char *path, const char *why) {
        g_autofree char *shown = escape_display(path, strlen(path));

        if (!j->error)
                j->error = g_strdup_printf("%s %s: %s", what, shown, why);
}

static void fail_gerror(FileJob *j, const char *what, const char *path, GError *e) {
        fail(j, what, path, e->message);
}

/* Mode and owner for one created or resulting entry. */
static void apply_attributes(FileJob *j, const char *path, bool dir) {
        int mode = dir ? j->directory_mode : j->file_mode;

        if (mode >= 0 && chmod(path, (mode_t) mode) < 0)
                fail(j, "Failed to set the mode of", path, g_strerror(errno));
        if ((j->uid != (uid_t) -1 || j->gid != (gid_t) -1) && lchown(path, j->uid, j->gid) < 0)
                fail(j, "Failed to set the owner of", path, g_strerror(errno));
}

static void apply_recursive(FileJob *j, const char *path) {
        struct stat st;
        GDir *d;
        const char *name;

        if (lstat(path, &st) < 0)
                return fail(j, "Failed to look at", path, g_strerror(errno));
        apply_attributes(j, path, S_ISDIR(st.st_mode));
        if (!S_ISDIR(st.st_mode))
                return;
        d = g_dir_open(path, 0, NULL);
        if (!d)
                return;
        while ((name = g_dir_read_name(d))) {
                g_autofree char *child = g_build_filename(path, name, NULL);

                apply_recursive(j, child);
        }
        g_dir_close(d);
}

/* mkdir -p for the destination's parent, giving each directory it creates DirectoryMode= and
 * Owner=/OwnerGroup=. */
static bool make_parents(FileJob *j, const char *dest) {
        g_autofree char *parent = g_path_get_dirname(dest);
        g_auto(GStrv) parts = g_strsplit(parent, "/", -1);
        g_autoptr(GString) p = g_string_new(NULL);

        for (char **c = parts; *c; c++) {
                if (!**c)
                        continue;
                g_string_append_c(p, '/');
                g_string_append(p, *c);
                if (mkdir(p->str, j->directory_mode >= 0 ? (mode_t) j->directory_mode : 0755) < 0) {
                        if (errno == EEXIST)
                                continue;
                        fail(j, "Failed to create", p->str, g_strerror(errno));
                        return false;
                }
                apply_attributes(j, p->str, true);
        }
        return true;
}

static bool delete_recursive(FileJob *j, GFile *f) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GFileEnumerator) en = NULL;
        g_autofree char *path = g_file_get_path(f);

        if (g_file_delete(f, NULL, &e))
                return true;
        if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY) || !j->recursive) {
                fail_gerror(j, "Failed to delete", path, e);
                return false;
        }
        g_clear_error(&e);
        en = g_file_enumerate_children(f, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL,
                                       &e);
        if (!en) {
                fail_gerror(j, "Failed to list", path, e);
                return false;
        }
        for (;;) {
                GFileInfo *info = NULL;
                GFile *child = NULL;

                if (!g_file_enumerator_iterate(en, &info, &child, NULL, &e)) {
                        fail_gerror(j, "Failed to list", path, e);
                        return false;
                }
                if (!info)
                        break;
                if (!delete_recursive(j, child))
                        return false;
        }
        if (!g_file_delete(f, NULL, &e)) {
                fail_gerror(j, "Failed to delete", path, e);
                return false;
        }
        return true;
}

static bool copy_recursive(FileJob *j, GFile *src, GFile *dst, GFileCopyFlags flags) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GFileEnumerator) en = NULL;
        g_autoptr(GFileInfo) info = NULL;
        g_autofree char *spath = g_file_get_path(src), *dpath = g_file_get_path(dst);

        info = g_file_query_info(src, G_FILE_ATTRIBUTE_STANDARD_TYPE, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, &e);
        if (!info) {
                fail_gerror(j, "Failed to look at", spath, e);
                return false;
        }
        if (g_file_info_get_file_type(info) != G_FILE_TYPE_DIRECTORY) {
                if (!g_file_copy(src, dst, flags, NULL, NULL, NULL, &e)) {
                        fail_gerror(j, "Failed to copy to", dpath, e);
                        return false;
                }
                return true;
        }
        if (!j->recursive) {
                fail(j, "Not copying directory", spath, "Recursive=yes is needed for directories");
                return false;
        }
        if (!g_file_make_directory(dst, NULL, &e) && !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
                fail_gerror(j, "Failed to create", dpath, e);
                return false;
        }
        g_clear_error(&e);
        en = g_file_enumerate_children(src, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL,
                                       &e);
        if (!en) {
                fail_gerror(j, "Failed to list", spath, e);
                return false;
        }
        for (;;) {
                GFileInfo *ci = NULL;
                GFile *child = NULL;
                g_autoptr(GFile) target = NULL;

                if (!g_file_enumerator_iterate(en, &ci, &child, NULL, &e)) {
                        fail_gerror(j, "Failed to list", spath, e);
                        return false;
                }
                if (!ci)
                        break;
                target = g_file_get_child(dst, g_file_info_get_name(ci));
                if (!copy_recursive(j, child, target, flags))
                        return false;
        }
        /* The directory's own timestamps last, after its contents changed it. */
        (void) g_file_copy_attributes(src, dst, G_FILE_COPY_ALL_METADATA | G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL);
        return true;
}

static void run_job(void *data) {
        FileJob *j = data;
        g_autoptr(GFile) src = g_file_new_for_path(j->source);
        g_autoptr(GFile) dst = j->destination ? g_file_new_for_path(j->destination) : NULL;
        g_autoptr(GError) e = NULL;
        GFileCopyFlags flags = G_FILE_COPY_ALL_METADATA | G_FILE_COPY_NOFOLLOW_SYMLINKS;
        struct stat st;

        if (j->action == ACTION_DELETE) {
                (void) delete_recursive(j, src);
                return;
        }

        if (lstat(j->destination, &st) >= 0) {
                if (!j->overwrite)
                        return fail(j, "Refusing to replace", j->destination, "it exists and Overwrite=no");
                flags |= G_FILE_COPY_OVERWRITE;
        }
        if (j->auto_create && !make_parents(j, j->destination))
                return;

        if (j->action == ACTION_COPY) {
                if (!copy_recursive(j, src, dst, flags))
                        return;
        } else if (!g_file_move(src, dst, flags, NULL, NULL, NULL, &e)) {
                /* A directory across file systems: copy it whole, then delete the source. */
                if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_RECURSE))
                        return fail_gerror(j, "Failed to move to", j->destination, e);
                j->recursive = true;
                if (!copy_recursive(j, src, dst, flags) || !delete_recursive(j, src))
                        return;
        }
        if (j->file_mode >= 0 || j->directory_mode >= 0 || j->uid != (uid_t) -1 || j->gid != (gid_t) -1)
                apply_recursive(j, j->destination);
}

static void job_done(void *data) {
        FileJob *j = data;
        Task *t = j->task;

        if (j->error) {
                LogField f = LOG_FIELD("INOTASKD_ERROR", j->error);

                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): %s", t->id, t->rule->name, j->error);
                scheduler_task_finished(j->ctx->scheduler, t, TASK_FAILED, "file-error", 0);
        } else
                scheduler_task_finished(j->ctx->scheduler, t, TASK_DONE, "success", 0);
        file_job_free(j);
}

static int resolve_owner(const ConfigRule *r, uid_t *uid, gid_t *gid) {
        *uid = (uid_t) -1;
        *gid = (gid_t) -1;
        if (r->owner) {
                struct passwd *pw = getpwnam(r->owner);
                char *end;

                if (pw)
                        *uid = pw->pw_uid;
                else {
                        unsigned long n = strtoul(r->owner, &end, 10);

                        if (*end || !*r->owner)
                                return -ESRCH;
                        *uid = (uid_t) n;
                }
        }
        if (r->owner_group) {
                struct group *gr = getgrnam(r->owner_group);
                char *end;

                if (gr)
                        *gid = gr->gr_gid;
                else {
                        unsigned long n = strtoul(r->owner_group, &end, 10);

                        if (*end || !*r->owner_group)
                                return -ESRCH;
                        *gid = (gid_t) n;
                }
        }
        return 0;
}

char *file_destination(const ConfigRule *r, const char *path, char **ret_error) {
        g_autoptr(GMatchInfo) mi = NULL;
        g_autoptr(GError) e = NULL;
        char *d;

        if (!r->source_regex || !g_regex_match_full(r->source_regex, path, -1, 0, 0, &mi, NULL)) {
                *ret_error = g_strdup("the path does not match Source=");
                return NULL;
        }
        if (!r->destination)
                return g_strdup("");
        d = g_match_info_expand_references(mi, r->destination, &e);
        if (!d)
                *ret_error = g_strdup(e->message);
        return d;
}

int runner_file_start(RunnerContext *ctx, Worker *w, Task *t) {
        const ConfigRule *r = t->rule;
        g_autofree char *err = NULL, *dest = NULL, *shown = NULL;
        FileJob *j;
        int q;

        if (r->action != ACTION_DELETE) {
                dest = file_destination(r, t->path, &err);
                if (!dest) {
                        task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): no destination: %s", t->id,
                                 r->name, err);
                        return -EINVAL;
                }
        }
        shown = escape_display(t->path, strlen(t->path));
        if (ctx->dry_run) {
                task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) would %s %s%s%s", t->id, r->name,
                         action_type_to_string(r->action), shown, dest ? " to " : "", strempty(dest));
                scheduler_task_finished(ctx->scheduler, t, TASK_DONE, "dry-run", 0);
                return 0;
        }

        j = g_new0(FileJob, 1);
        j->ctx = ctx;
        j->task = t;
        j->action = r->action;
        j->source = g_strdup(t->path);
        j->destination = TAKE_PTR(dest);
        j->auto_create = r->auto_create;
        j->overwrite = r->overwrite;
        j->recursive = r->recursive;
        j->file_mode = r->file_mode;
        j->directory_mode = r->directory_mode;
        q = resolve_owner(r, &j->uid, &j->gid);
        if (q < 0) {
                task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): unknown Owner=/OwnerGroup=.", t->id,
                         r->name);
                file_job_free(j);
                return q;
        }
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) started: %s %s%s%s", t->id, r->name,
                 action_type_to_string(r->action), shown, j->destination ? " to " : "", strempty(j->destination));
        q = worker_submit(w, j, run_job, job_done);
        if (q < 0)
                file_job_free(j);
        return q;
}
