/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exec= templates: split into argv once at load, placeholders expanded inside single arguments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "macro.h"

/* The fixed placeholders. Values are byte strings (file names need not be UTF-8). */
typedef enum Placeholder {
        PLACEHOLDER_PATHNAME,           /* {pathname}     full path of the event's file */
        PLACEHOLDER_SRC_PATHNAME,       /* {src_pathname} source path of a move, else empty */
        PLACEHOLDER_MASKNAME,           /* {maskname}     "IN_CREATE|IN_ISDIR" */
        PLACEHOLDER_EVENT,              /* {event}        high-level kind or short name: "created" */
        PLACEHOLDER_WATCH,              /* {watch}        name of the [Watch] */
        PLACEHOLDER_WATCH_PATH,         /* {watch_path}   Path= of the watch */
        PLACEHOLDER_RELPATH,            /* {relpath}      path relative to watch_path ("" for the root) */
        PLACEHOLDER_NAME,               /* {name}         last component */
        PLACEHOLDER_DIR,                /* {dir}          directory containing the file */
        PLACEHOLDER_RULE,               /* {rule}         name of the [Rule] */
        PLACEHOLDER_TASK_ID,            /* {task_id}      decimal task id */
        PLACEHOLDER_ITEM,               /* {item}         the ForEach= item, else empty */
        _PLACEHOLDER_MAX,
} Placeholder;

const char *placeholder_to_string(Placeholder p);   /* "pathname" */
int placeholder_from_string(const char *s);         /* Placeholder or -EINVAL */

/* Environment variable carrying a placeholder's value for every task: "INOTASKD_PATHNAME". */
const char *placeholder_to_env(Placeholder p);

typedef struct ExecTemplate ExecTemplate;

/* Compiles text into an argv template. The text is split like a shell would (split_words(), SPLIT_SHELL:
 * quotes and backslashes, no expansions). Inside each word, "{name}" is a placeholder: a fixed one
 * or one of group_names (the named groups of MatchRegex=, NULL-terminated, may be NULL); "{{" and
 * "}}" are literal braces. An unknown placeholder, an unclosed brace, a parse error or an empty
 * command is an error: returns -EINVAL and a newly allocated message in *ret_error (when given),
 * e.g. "unknown placeholder {pathnme}". */
int exec_template_new(ExecTemplate **ret, const char *text, const char *const *group_names, char **ret_error);
ExecTemplate *exec_template_free(ExecTemplate *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(ExecTemplate *, exec_template_free);

typedef struct TemplateValues {
        const char *fixed[_PLACEHOLDER_MAX];    /* NULL counts as "" */
        const char *const *groups;              /* in the order of group_names; NULL entries are "" */
        size_t n_groups;
} TemplateValues;

/* A newly allocated, NULL-terminated argv (free with g_strfreev()). A placeholder expands inside its
 * own argument: whatever bytes a value holds (spaces, quotes, ';', newlines), the number of arguments
 * never changes. */
char **exec_template_expand(const ExecTemplate *t, const TemplateValues *v);

/* Fills v with task t's placeholder values; buffers (task id, mask name, dir) are kept in the three scratch
 * strings, which the caller frees. */
struct Task;
void task_template_values(const struct Task *t, TemplateValues *v, char **scratch_id, char **scratch_mask,
                          char **scratch_dir);

/* The list placeholders of Batch=yes: each only as a whole argument, which becomes one argument per path
 * (none for an empty list). Elsewhere in an argument they are an error ("{pathnames} must be a whole
 * argument"). */
typedef enum TemplateList {
        TEMPLATE_LIST_PATHNAMES,        /* {pathnames}        every path of the task, full */
        TEMPLATE_LIST_RELPATHS,         /* {relpaths}         the same relative to the watch's Path= */
        TEMPLATE_LIST_DELETED_RELPATHS, /* {deleted_relpaths} the relpaths whose latest event removed them */
        _TEMPLATE_LIST_MAX,
} TemplateList;

const char *template_list_to_string(TemplateList l);     /* "pathnames" */
bool exec_template_uses_list(const ExecTemplate *t);

/* A task's paths for the list placeholders: n of them, in order. */
typedef struct TemplatePaths {
        size_t n;
        const char *const *paths;
        const char *const *relpaths;
        const bool *deleted;
} TemplatePaths;

/* argv with the list placeholders expanded to the paths [from, to) of p. */
char **exec_template_expand_paths(const ExecTemplate *t, const TemplateValues *v, const TemplatePaths *p,
                                  size_t from, size_t to);

/* Splits p into runs whose argv stays within the kernel's limits: arg_max bytes for the argument and
 * environment strings with their pointers (env_size: the environment's share), and arg_strlen_max per
 * string. Appends each run's end index to ends (a GArray of size_t; the last is p->n; one run when no
 * list placeholder is used). -E2BIG when even one path does not fit. */
int exec_template_split(const ExecTemplate *t, const TemplateValues *v, const TemplatePaths *p, size_t arg_max,
                        size_t env_size, size_t arg_strlen_max, GArray *ends);

size_t exec_template_argc(const ExecTemplate *t);
bool exec_template_uses(const ExecTemplate *t, Placeholder p);
const char *exec_template_text(const ExecTemplate *t);

/* Action=shell scripts are never expanded: values reach the script only as positional parameters and
 * INOTASKD_* environment variables. A script that contains a fixed placeholder ("{pathname}", not
 * "${...}") is rejected with -EINVAL and a message that says what to write instead, e.g.
 * "placeholders are not expanded in Action=shell scripts, use \"$INOTASKD_PATHNAME\" or \"$1\"". */
int shell_script_check(const char *script, char **ret_error);

/* Positional parameters of Action=shell: $1 pathname, $2 maskname, $3 src_pathname, $4 relpath,
 * $5 watch_path, $6 item. Returns the placeholder for position i (1-based) or -1. */
int shell_positional_placeholder(unsigned i);
#define SHELL_N_POSITIONAL 6U
