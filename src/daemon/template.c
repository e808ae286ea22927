/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exec= templates: split once at load into words of literal and placeholder segments, expanded per task. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "event-names.h"
#include "scheduler.h"
#include "split-words.h"
#include "template.h"

static const char *const placeholder_table[_PLACEHOLDER_MAX] = {
        [PLACEHOLDER_PATHNAME] = "pathname",
        [PLACEHOLDER_SRC_PATHNAME] = "src_pathname",
        [PLACEHOLDER_MASKNAME] = "maskname",
        [PLACEHOLDER_EVENT] = "event",
        [PLACEHOLDER_WATCH] = "watch",
        [PLACEHOLDER_WATCH_PATH] = "watch_path",
        [PLACEHOLDER_RELPATH] = "relpath",
        [PLACEHOLDER_NAME] = "name",
        [PLACEHOLDER_DIR] = "dir",
        [PLACEHOLDER_RULE] = "rule",
        [PLACEHOLDER_TASK_ID] = "task_id",
        [PLACEHOLDER_ITEM] = "item",
};

static const char *const placeholder_env_table[_PLACEHOLDER_MAX] = {
        [PLACEHOLDER_PATHNAME] = "INOTASKD_PATHNAME",
        [PLACEHOLDER_SRC_PATHNAME] = "INOTASKD_SRC_PATHNAME",
        [PLACEHOLDER_MASKNAME] = "INOTASKD_MASKNAME",
        [PLACEHOLDER_EVENT] = "INOTASKD_EVENT",
        [PLACEHOLDER_WATCH] = "INOTASKD_WATCH",
        [PLACEHOLDER_WATCH_PATH] = "INOTASKD_WATCH_PATH",
        [PLACEHOLDER_RELPATH] = "INOTASKD_RELPATH",
        [PLACEHOLDER_NAME] = "INOTASKD_NAME",
        [PLACEHOLDER_DIR] = "INOTASKD_DIR",
        [PLACEHOLDER_RULE] = "INOTASKD_RULE",
        [PLACEHOLDER_TASK_ID] = "INOTASKD_TASK_ID",
        [PLACEHOLDER_ITEM] = "INOTASKD_ITEM",
};

static const Placeholder shell_positional_table[SHELL_N_POSITIONAL] = {
        PLACEHOLDER_PATHNAME,
        PLACEHOLDER_MASKNAME,
        PLACEHOLDER_SRC_PATHNAME,
        PLACEHOLDER_RELPATH,
        PLACEHOLDER_WATCH_PATH,
        PLACEHOLDER_ITEM,
};

_Static_assert(_PLACEHOLDER_MAX <= 32, "ExecTemplate.uses is a 32-bit mask");

const char *placeholder_to_string(Placeholder p) {
        if ((unsigned) p >= _PLACEHOLDER_MAX)
                return NULL;
        return placeholder_table[p];
}

int placeholder_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++)
                if (streq(placeholder_table[p], s))
                        return (int) p;
        return -EINVAL;
}

const char *placeholder_to_env(Placeholder p) {
        if ((unsigned) p >= _PLACEHOLDER_MAX)
                return NULL;
        return placeholder_env_table[p];
}

int shell_positional_placeholder(unsigned i) {
        if (i < 1 || i > SHELL_N_POSITIONAL)
                return -1;
        return (int) shell_positional_table[i - 1];
}

/* A segment is literal bytes (index < 0) or a value: a Placeholder, or _PLACEHOLDER_MAX + group index. */
typedef struct Segment {
        int index;
        size_t len;
        char *literal;
} Segment;

typedef struct Word {
        int list;               /* a TemplateList for a whole-argument list placeholder, else -1 */
        Segment *segments;
        size_t n_segments;
        size_t literal_len;     /* sum of the literal segments, so expansion only adds the values */
} Word;

struct ExecTemplate {
        char *text;
        Word *words;
        size_t n_words;
        uint32_t uses;          /* bit per fixed Placeholder */
        bool uses_list;
};

static const char *const template_list_table[_TEMPLATE_LIST_MAX] = {
        [TEMPLATE_LIST_PATHNAMES] = "pathnames",
        [TEMPLATE_LIST_RELPATHS] = "relpaths",
        [TEMPLATE_LIST_DELETED_RELPATHS] = "deleted_relpaths",
};

const char *template_list_to_string(TemplateList l) {
        return (unsigned) l < _TEMPLATE_LIST_MAX ? template_list_table[l] : NULL;
}

static int lookup_list(const char *name, size_t len) {
        for (int l = 0; l < _TEMPLATE_LIST_MAX; l++)
                if (strlen(template_list_table[l]) == len && memcmp(template_list_table[l], name, len) == 0)
                        return l;
        return -1;
}

ExecTemplate *exec_template_free(ExecTemplate *t) {
        if (!t)
                return NULL;

        for (size_t i = 0; i < t->n_words; i++) {
                for (size_t j = 0; j < t->words[i].n_segments; j++)
                        g_free(t->words[i].segments[j].literal);
                g_free(t->words[i].segments);
        }
        g_free(t->words);
        g_free(t->text);
        g_free(t);
        return NULL;
}


static void set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static void set_error(char **ret_error, const char *format, ...) {
        va_list ap;

        if (!ret_error)
                return;
        va_start(ap, format);
        *ret_error = g_strdup_vprintf(format, ap);
        va_end(ap);
}

/* A group name shadows a fixed placeholder of the same name: the rule's author chose it. */
static int lookup_name(const char *name, size_t len, const char *const *group_names) {
        if (group_names)
                for (size_t i = 0; group_names[i]; i++)
                        if (strlen(group_names[i]) == len && memcmp(group_names[i], name, len) == 0)
                                return _PLACEHOLDER_MAX + (int) i;

        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++)
                if (strlen(placeholder_table[p]) == len && memcmp(placeholder_table[p], name, len) == 0)
                        return (int) p;

        return -1;
}

static void word_flush_literal(Word *w, GArray *segments, GString *literal) {
        Segment s = { .index = -1 };

        if (literal->len == 0)
                return;
        s.len = literal->len;
        s.literal = g_strndup(literal->str, literal->len);
        g_array_append_val(segments, s);
        w->literal_len += literal->len;
        g_string_truncate(literal, 0);
}

static int word_compile(Word *w, uint32_t *uses, const char *arg, const char *const *group_names,
                        char **ret_error) {
        g_autoptr(GArray) segments = g_array_new(FALSE, FALSE, sizeof(Segment));
        g_autoptr(GString) literal = g_string_new(NULL);
        int r = 0;

        *w = (Word) { .list = -1 };

        for (const char *p = arg; *p; p++) {
                const char *close;
                Segment s = {};

                if (p[0] == '}') {
                        /* "}}" is an escaped brace, a lone "}" a literal one. */
                        g_string_append_c(literal, '}');
                        if (p[1] == '}')
                                p++;
                        continue;
                }
                if (p[0] != '{') {
                        g_string_append_c(literal, *p);
                        continue;
                }
                if (p[1] == '{') {
                        g_string_append_c(literal, '{');
                        p++;
                        continue;
                }

                close = strchr(p + 1, '}');
                if (!close) {
                        set_error(ret_error, "unclosed placeholder %s", p);
                        r = -EINVAL;
                        break;
                }
                s.index = lookup_name(p + 1, close - p - 1, group_names);
                if (s.index < 0 && lookup_list(p + 1, close - p - 1) >= 0) {
                        if (p != arg || close[1] || literal->len > 0) {
                                set_error(ret_error, "%.*s must be a whole argument", (int) (close - p + 1), p);
                                r = -EINVAL;
                                break;
                        }
                        w->list = lookup_list(p + 1, close - p - 1);
                        p = close;
                        continue;
                }
                if (s.index < 0) {
                        set_error(ret_error, "unknown placeholder %.*s", (int) (close - p + 1), p);
                        r = -EINVAL;
                        break;
                }

                word_flush_literal(w, segments, literal);
                g_array_append_val(segments, s);
                if (s.index < _PLACEHOLDER_MAX)
                        *uses |= UINT32_C(1) << s.index;
                p = close;
        }

        word_flush_literal(w, segments, literal);
        w->n_segments = segments->len;
        w->segments = (Segment *) g_array_free(g_steal_pointer(&segments), FALSE);
        /* On error the caller frees the half-built word along with the template. */
        return r;
}

int exec_template_new(ExecTemplate **ret, const char *text, const char *const *group_names,
                      char **ret_error) {
        _cleanup_(exec_template_freep) ExecTemplate *t = NULL;
        g_auto(GStrv) argv = NULL;
        const char *err = NULL;
        int argc, r;

        assert(text);

        if (ret_error)
                *ret_error = NULL;

        r = split_words(text, SPLIT_SHELL, &argv, &err);
        if (r < 0) {
                if (streq(err, "empty command"))
                        set_error(ret_error, "empty command");
                else
                        set_error(ret_error, "cannot split command line: %s", err);
                return r;
        }
        argc = (int) g_strv_length(argv);
        assert(argc > 0);

        t = g_new0(ExecTemplate, 1);
        t->text = g_strdup(text);
        t->words = g_new0(Word, argc);

        for (int i = 0; i < argc; i++) {
                r = word_compile(&t->words[i], &t->uses, argv[i], group_names, ret_error);
                t->n_words++;
                if (r < 0)
                        return r;
                if (t->words[i].list >= 0) {
                        if (i == 0) {
                                set_error(ret_error, "{%s} cannot be the command",
                                          template_list_table[t->words[i].list]);
                                return -EINVAL;
                        }
                        t->uses_list = true;
                }
        }

        if (ret)
                *ret = TAKE_PTR(t);
        return 0;
}

static const char *value_of(const TemplateValues *v, int index) {
        const char *s = NULL;

        if (!v)
                return "";
        if (index < _PLACEHOLDER_MAX)
                s = v->fixed[index];
        else if (v->groups && (size_t) (index - _PLACEHOLDER_MAX) < v->n_groups)
                s = v->groups[index - _PLACEHOLDER_MAX];
        return strempty(s);
}

static char *word_expand(const Word *w, const TemplateValues *v) {
        size_t len = w->literal_len;
        char *arg, *q;

        /* Measure first, so that each argument is a single allocation. */
        for (size_t j = 0; j < w->n_segments; j++)
                if (w->segments[j].index >= 0)
                        len += strlen(value_of(v, w->segments[j].index));

        arg = q = g_malloc(len + 1);
        for (size_t j = 0; j < w->n_segments; j++) {
                const Segment *s = &w->segments[j];

                if (s->index < 0)
                        q = mempcpy(q, s->literal, s->len);
                else
                        q = stpcpy(q, value_of(v, s->index));
        }
        *q = '\0';
        return arg;
}

/* The value of list l for path i, or NULL if the path is not in that list. */
static const char *list_item(const TemplatePaths *p, int l, size_t i) {
        switch (l) {
        case TEMPLATE_LIST_PATHNAMES:
                return p->paths[i];
        case TEMPLATE_LIST_RELPATHS:
                return p->relpaths[i];
        case TEMPLATE_LIST_DELETED_RELPATHS:
                return p->deleted[i] ? p->relpaths[i] : NULL;
        default:
                return NULL;
        }
}

char **exec_template_expand_paths(const ExecTemplate *t, const TemplateValues *v, const TemplatePaths *p,
                                  size_t from, size_t to) {
        GPtrArray *a = g_ptr_array_new();

        assert(t);
        for (size_t i = 0; i < t->n_words; i++) {
                const Word *w = &t->words[i];

                if (w->list < 0) {
                        g_ptr_array_add(a, word_expand(w, v));
                        continue;
                }
                for (size_t k = from; p && k < to && k < p->n; k++) {
                        const char *item = list_item(p, w->list, k);

                        if (item)
                                g_ptr_array_add(a, g_strdup(item));
                }
        }
        g_ptr_array_add(a, NULL);
        return (char **) g_ptr_array_free(a, false);
}

int exec_template_split(const ExecTemplate *t, const TemplateValues *v, const TemplatePaths *p, size_t arg_max,
                        size_t env_size, size_t arg_strlen_max, GArray *ends) {
        size_t fixed = sizeof(char *), used;

        assert(t);
        if (!t->uses_list || p->n == 0) {
                size_t n = p->n;

                g_array_append_val(ends, n);
                return 0;
        }
        for (size_t i = 0; i < t->n_words; i++)
                if (t->words[i].list < 0) {
                        g_autofree char *arg = word_expand(&t->words[i], v);

                        fixed += strlen(arg) + 1 + sizeof(char *);
                }
        if (fixed + env_size >= arg_max)
                return -E2BIG;

        used = fixed + env_size;
        for (size_t k = 0; k < p->n; k++) {
                size_t cost = 0;

                for (size_t i = 0; i < t->n_words; i++) {
                        const char *item = t->words[i].list >= 0 ? list_item(p, t->words[i].list, k) : NULL;

                        if (!item)
                                continue;
                        if (strlen(item) + 1 > arg_strlen_max)
                                return -E2BIG;
                        cost += strlen(item) + 1 + sizeof(char *);
                }
                if (fixed + env_size + cost > arg_max)
                        return -E2BIG;
                if (used + cost > arg_max) {
                        /* k starts the next run. */
                        g_array_append_val(ends, k);
                        used = fixed + env_size;
                }
                used += cost;
        }
        {
                size_t n = p->n;

                g_array_append_val(ends, n);
        }
        return 0;
}

bool exec_template_uses_list(const ExecTemplate *t) {
        assert(t);
        return t->uses_list;
}

/* Without paths, a list placeholder expands to no argument. */
char **exec_template_expand(const ExecTemplate *t, const TemplateValues *v) {
        return exec_template_expand_paths(t, v, NULL, 0, 0);
}

size_t exec_template_argc(const ExecTemplate *t) {
        assert(t);
        return t->n_words;
}

bool exec_template_uses(const ExecTemplate *t, Placeholder p) {
        assert(t);
        if ((unsigned) p >= _PLACEHOLDER_MAX)
                return false;
        return t->uses & (UINT32_C(1) << p);
}

const char *exec_template_text(const ExecTemplate *t) {
        assert(t);
        return t->text;
}

int shell_script_check(const char *script, char **ret_error) {
        assert(script);

        if (ret_error)
                *ret_error = NULL;

        for (const char *p = strchr(script, '{'); p; p = strchr(p + 1, '{')) {
                const char *close;
                int k;

                /* "${pathname}" is the script's own variable, "{ cmd; }" a group: both are fine. */
                if (p > script && p[-1] == '$')
                        continue;
                close = strchr(p + 1, '}');
                if (!close)
                        break;
                k = lookup_name(p + 1, close - p - 1, NULL);
                if (k < 0)
                        continue;

                for (unsigned i = 1; i <= SHELL_N_POSITIONAL; i++)
                        if (shell_positional_placeholder(i) == k) {
                                set_error(ret_error,
                                          "placeholders are not expanded in Action=shell scripts, "
                                          "use \"$%s\" or \"$%u\"", placeholder_to_env(k), i);
                                return -EINVAL;
                        }
                set_error(ret_error, "placeholders are not expanded in Action=shell scripts, use \"$%s\"",
                          placeholder_to_env(k));
                return -EINVAL;
        }

        return 0;
}

void task_template_values(const Task *t, TemplateValues *v, char **scratch_id, char **scratch_mask,
                          char **scratch_dir) {
        char buf[EVENT_MASK_STRING_MAX];
        const char *slash = strrchr(t->path, '/');

        *scratch_id = g_strdup_printf("%" PRIu64, t->id);
        /* Raised events without a kernel bit ("exists") are named by their kind, with or without IN_ISDIR. */
        *scratch_mask = g_strdup((t->mask & ~IN_ISDIR) != 0 ? event_mask_to_string(t->mask, buf)
                                                            : strempty(t->event_name));
        *scratch_dir = slash ? g_strndup(t->path, slash == t->path ? 1 : (size_t) (slash - t->path))
                             : g_strdup(".");

        *v = (TemplateValues) {};
        v->fixed[PLACEHOLDER_PATHNAME] = t->path;
        v->fixed[PLACEHOLDER_SRC_PATHNAME] = t->src_path;
        v->fixed[PLACEHOLDER_MASKNAME] = *scratch_mask;
        v->fixed[PLACEHOLDER_EVENT] = t->event_name;
        v->fixed[PLACEHOLDER_WATCH] = t->watch;
        v->fixed[PLACEHOLDER_WATCH_PATH] = t->watch_path;
        v->fixed[PLACEHOLDER_RELPATH] = t->path + t->relpath_offset;
        v->fixed[PLACEHOLDER_NAME] = slash ? slash + 1 : t->path;
        v->fixed[PLACEHOLDER_DIR] = *scratch_dir;
        v->fixed[PLACEHOLDER_RULE] = t->rule->name;
        v->fixed[PLACEHOLDER_TASK_ID] = *scratch_id;
        v->fixed[PLACEHOLDER_ITEM] = t->item;
        v->groups = (const char *const *) t->groups;
        v->n_groups = t->n_groups;
}
