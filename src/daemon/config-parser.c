/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Generic systemd-style key files: reads a main file and its conf.d drop-ins line by line into groups of
 * assignments, merges them the way systemd merges drop-ins, and applies them through KeyDef tables with
 * typed value parsers; every problem is collected with file, line and key. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include "config-parser.h"
#include "event-names.h"
#include "split-words.h"
#include "trust.h"

#define CONF_FILE_SIZE_MAX (4U * 1024U * 1024U)

typedef struct LoadError {
        unsigned file, line, seq;
        char *text;
} LoadError;

/* ------------------------------------------------------------------ the parser: raw groups and errors */

static void assignment_free(gpointer p) {
        ConfAssignment *a = p;
        g_free(a->key);
        g_free(a->value);
        g_free(a);
}

static void group_free(gpointer p) {
        ConfGroup *g = p;
        g_free(g->name);
        g_ptr_array_unref(g->assignments);
        g_free(g);
}

static void load_error_free(gpointer p) {
        LoadError *e = p;
        g_free(e->text);
        g_free(e);
}

void conf_parser_init(ConfParser *p, const ConfSection *sections) {
        *p = (ConfParser) {
                .sections = sections,
                .files = g_ptr_array_new_with_free_func(g_free),
                .groups = g_ptr_array_new_with_free_func(group_free),
                .group_by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                .errors = g_ptr_array_new_with_free_func(load_error_free),
        };
}

void conf_parser_done(ConfParser *l) {
        g_clear_pointer(&l->files, g_ptr_array_unref);
        g_clear_pointer(&l->groups, g_ptr_array_unref);
        g_clear_pointer(&l->group_by_id, g_hash_table_unref);
        g_clear_pointer(&l->errors, g_ptr_array_unref);
}

const char *conf_parser_file_name(const ConfParser *l, unsigned file) {
        if (file >= l->files->len)
                return "(defaults)";
        return g_ptr_array_index(l->files, file);
}

static void parser_errorv(ConfParser *l, unsigned file, unsigned line, const char *key, const char *format,
                          va_list ap) _printf_(5, 0);
static void parser_errorv(ConfParser *l, unsigned file, unsigned line, const char *key, const char *format,
                          va_list ap) {
        /* po/meson.build makes xgettext take the formats of conf_key_error() and conf_parser_error(). */
        g_autofree char *msg = g_strdup_vprintf(l->translate ? g_dgettext(GETTEXT_PACKAGE, format) : format, ap);
        LoadError *e = g_new0(LoadError, 1);

        e->file = file;
        e->line = line;
        e->seq = l->errors->len;
        if (key)
                e->text = g_strdup_printf("%s:%u: %s: %s", conf_parser_file_name(l, file), line, key, msg);
        else
                e->text = g_strdup_printf("%s:%u: %s", conf_parser_file_name(l, file), line, msg);
        g_ptr_array_add(l->errors, e);
}

void conf_parser_error(ConfParser *l, unsigned file, unsigned line, const char *key, const char *format,
                       ...) {
        va_list ap;
        va_start(ap, format);
        parser_errorv(l, file, line, key, format, ap);
        va_end(ap);
}

/* An error about one assignment: "FILE:LINE: KEY: message". */
void conf_key_error(ConfParser *l, const ConfAssignment *a, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        parser_errorv(l, a->file, a->line, a->key, format, ap);
        va_end(ap);
}

bool conf_parser_failed(const ConfParser *p) {
        return p->errors->len > 0;
}

static int load_error_compare(gconstpointer pa, gconstpointer pb) {
        const LoadError *a = *(const LoadError *const *) pa, *b = *(const LoadError *const *) pb;

        if (a->file != b->file)
                return a->file < b->file ? -1 : 1;
        if (a->line != b->line)
                return a->line < b->line ? -1 : 1;
        if (a->seq != b->seq)
                return a->seq < b->seq ? -1 : 1;
        return 0;
}

/* Hands the collected messages to the caller, in file order. */
void conf_parser_flush_errors(ConfParser *l, GPtrArray *errors) {
        g_ptr_array_sort(l->errors, load_error_compare);
        for (guint i = 0; i < l->errors->len; i++) {
                LoadError *e = g_ptr_array_index(l->errors, i);
                if (errors)
                        g_ptr_array_add(errors, TAKE_PTR(e->text));
        }
        g_ptr_array_set_size(l->errors, 0);
}

/* ------------------------------------------------------------------ lexical level */

bool conf_is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_ws(const char *s) {
        while (conf_is_ws(*s))
                s++;
        return s;
}

static void strip_trailing_ws(char *s) {
        size_t n = strlen(s);
        while (n > 0 && conf_is_ws(s[n - 1]))
                s[--n] = 0;
}

/* Drops an inline comment (a '#' right after a space or tab, to the end of the line) and turns every "\#"
 * into a literal '#'. Every other backslash stays: regexes and Destination= need them. */
static char *strip_inline_comment(const char *raw) {
        GString *s = g_string_sized_new(strlen(raw));

        for (size_t i = 0; raw[i]; i++) {
                if (raw[i] == '\\' && raw[i + 1] == '#') {
                        g_string_append_c(s, '#');
                        i++;
                        continue;
                }
                if (raw[i] == '#' && i > 0 && (raw[i - 1] == ' ' || raw[i - 1] == '\t'))
                        break;
                g_string_append_c(s, raw[i]);
        }
        return g_string_free(s, FALSE);
}

/* Trims trailing whitespace; if the line then ends in an unescaped backslash, replaces it by a space (as
 * systemd does) and returns true: the logical line continues on the next one. */
static bool strip_continuation(char *s) {
        size_t n, k = 0;

        strip_trailing_ws(s);
        n = strlen(s);
        while (k < n && s[n - 1 - k] == '\\')
                k++;
        if (k % 2 == 0)
                return false;
        s[n - 1] = ' ';
        return true;
}

static bool ends_in_lone_backslash(const char *s) {
        size_t n = strlen(s), k = 0;

        while (k < n && s[n - 1 - k] == '\\')
                k++;
        return k % 2 == 1;
}

static bool valid_group_name(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("_.@-", *p))
                        return false;
        return true;
}

void conf_strv_extend(char ***strv, char **items) {
        guint n = g_strv_length(*strv), m = g_strv_length(items);
        char **v = g_renew(char *, *strv, n + m + 1);

        for (guint i = 0; i < m; i++)
                v[n + i] = g_strdup(items[i]);
        v[n + m] = NULL;
        *strv = v;
}

/* Absolute and normalized: no "//", no "." or "..", no trailing slash except for "/" itself. */
const char *conf_path_check(const char *p) {
        if (p[0] != '/')
                return "is not absolute";
        if (streq(p, "/"))
                return NULL;
        if (g_str_has_suffix(p, "/"))
                return "is not normalized (trailing slash)";
        for (const char *c = p + 1;;) {
                const char *e = strchrnul(c, '/');
                size_t n = (size_t) (e - c);
                if (n == 0)
                        return "is not normalized (\"//\")";
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return "is not normalized (\".\" or \"..\" component)";
                if (!*e)
                        return NULL;
                c = e + 1;
        }
}

/* ------------------------------------------------------------------ value parsers */

int conf_parse_string(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        char **s = data;
        g_free(*s);
        *s = g_strdup(value);
        return 0;
}

int conf_parse_path(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        const char *bad;

        if (value && (bad = conf_path_check(value))) {
                conf_key_error(l, a, "path \"%s\" %s", value, bad);
                return -EINVAL;
        }
        return conf_parse_string(l, a, value, data, data2);
}

static int parse_bool_value(const char *v) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (g_ascii_strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (g_ascii_strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int conf_parse_bool(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        bool *b = data;
        int r;

        if (!value) {
                *b = false;
                return 0;
        }
        r = parse_bool_value(value);
        if (r < 0) {
                conf_key_error(l, a, "invalid boolean \"%s\" (use yes or no)", value);
                return r;
        }
        *b = r;
        return 0;
}

int conf_parse_unsigned(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        unsigned *u = data;
        guint64 v;

        if (!g_ascii_string_to_unsigned(value, 10, 0, UINT_MAX, &v, NULL)) {
                conf_key_error(l, a, "invalid number \"%s\"", value);
                return -EINVAL;
        }
        *u = (unsigned) v;
        return 0;
}

int conf_parse_time(ConfParser *l, const ConfAssignment *a, const char *value, usec_t *ret) {
        int r = parse_timespan(value, USEC_PER_SEC, ret);
        if (r == -ERANGE)
                conf_key_error(l, a, "time span \"%s\" is too large", value);
        else if (r < 0)
                conf_key_error(l, a, "invalid time span \"%s\"", value);
        return r;
}

int conf_parse_timespan(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        usec_t *t = data, v;
        int r = conf_parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        *t = v;
        return 0;
}

/* FileMode=, DirectoryMode=: octal, 0 to 07777; unset is -1. */
int conf_parse_mode(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        int *mode = data;
        guint64 v;

        if (!value) {
                *mode = -1;
                return 0;
        }
        if (strspn(value, "01234567") != strlen(value) ||
            !g_ascii_string_to_unsigned(value, 8, 0, 07777, &v, NULL)) {
                conf_key_error(l, a, "invalid file mode \"%s\" (octal, 0 to 07777)", value);
                return -EINVAL;
        }
        *mode = (int) v;
        return 0;
}

static bool parse_numeric_id(const char *s) {
        guint64 v;
        /* (uid_t) -1 and (gid_t) -1 mean "unchanged" to chown(2), never a real id. */
        return g_ascii_string_to_unsigned(s, 10, 0, UINT32_MAX - 1, &v, NULL);
}

int conf_parse_user(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        if (value && !parse_numeric_id(value) && !getpwnam(value)) {
                conf_key_error(l, a, "unknown user \"%s\"", value);
                return -EINVAL;
        }
        return conf_parse_string(l, a, value, data, data2);
}

int conf_parse_group(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        if (value && !parse_numeric_id(value) && !getgrnam(value)) {
                conf_key_error(l, a, "unknown group \"%s\"", value);
                return -EINVAL;
        }
        return conf_parse_string(l, a, value, data, data2);
}

/* List keys: every assignment appends; an empty assignment resets. */
int conf_parse_words(ConfParser *l, const ConfAssignment *a, const char *value, char ***ret) {
        const char *err = NULL;
        int r = split_words(value, 0, ret, &err);
        if (r < 0)
                conf_key_error(l, a, "%s in \"%s\"", err, value);
        return r;
}

int conf_parse_strv(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        char ***strv = data;
        _cleanup_strv_free_ char **items = NULL;

        if (!value) {
                g_strfreev(*strv);
                *strv = g_new0(char *, 1);
                return 0;
        }
        if (conf_parse_words(l, a, value, &items) < 0)
                return -EINVAL;
        conf_strv_extend(strv, items);
        return 0;
}

int conf_parse_regex(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        GRegex **regex = data2;
        g_autoptr(GError) error = NULL;
        GRegex *re = NULL;

        if (value) {
                re = g_regex_new(value, G_REGEX_RAW, 0, &error);
                if (!re) {
                        conf_key_error(l, a, "%s", error->message);
                        return -EINVAL;
                }
        }
        if (*regex)
                g_regex_unref(*regex);
        *regex = re;
        return conf_parse_string(l, a, value, data, NULL);
}

/* ------------------------------------------------------------------ key tables */

const ConfKeyDef *conf_key_lookup(const ConfKeyDef *table, const char *key) {
        for (const ConfKeyDef *k = table; k->key; k++)
                if (streq(k->key, key))
                        return k;
        return NULL;
}

int conf_key_apply(ConfParser *l, const ConfKeyDef *k, const ConfAssignment *a, void *object) {
        const char *value = isempty(a->value) ? k->def : a->value;
        return k->parse(l, a, value, (uint8_t *) object + k->offset, (uint8_t *) object + k->offset2);
}

/* Every field starts out as its key's default, produced by the same parser an empty assignment uses. */
void conf_keys_apply_defaults(ConfParser *l, const ConfKeyDef *table, void *object) {
        for (const ConfKeyDef *k = table; k->key; k++) {
                ConfAssignment a = { .key = (char *) k->key, .value = (char *) "", .file = UINT_MAX };
                (void) conf_key_apply(l, k, &a, object);
        }
}

const char *conf_key_suggest(const ConfKeyDef *table, const char *key) {
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        for (const ConfKeyDef *k = table; k->key; k++)
                g_ptr_array_add(names, (char *) k->key);
        g_ptr_array_add(names, NULL);
        return name_suggest(key, (const char *const *) names->pdata);
}

void conf_group_apply(ConfParser *p, const ConfGroup *g, const ConfKeyDef *table, void *object,
                      const char *what) {
        for (guint i = 0; i < g->assignments->len; i++) {
                const ConfAssignment *a = g_ptr_array_index(g->assignments, i);
                const ConfKeyDef *k = conf_key_lookup(table, a->key);
                const char *suggestion;

                if (!k) {
                        suggestion = conf_key_suggest(table, a->key);
                        if (suggestion)
                                conf_key_error(p, a, "unknown key in [%s], did you mean %s=?", what, suggestion);
                        else
                                conf_key_error(p, a, "unknown key in [%s]", what);
                        continue;
                }
                (void) conf_key_apply(p, k, a, object);
        }
}

const ConfAssignment *conf_group_last_assignment(const ConfGroup *g, const char *key) {
        for (guint i = g->assignments->len; i > 0; i--) {
                const ConfAssignment *a = g_ptr_array_index(g->assignments, i - 1);
                if (streq(a->key, key))
                        return a;
        }
        return NULL;
}

/* A required key is reported missing only when nothing was assigned or it was reset: a bad value has
 * already been reported where it stands. */
bool conf_group_key_unassigned(const ConfGroup *g, const char *key) {
        const ConfAssignment *a = conf_group_last_assignment(g, key);
        return !a || isempty(a->value);
}

/* ------------------------------------------------------------------ reading and lines */

static ConfGroup *parser_get_group(ConfParser *l, unsigned section, const char *name, unsigned file,
                                   unsigned line) {
        const char *prefix = l->sections[section].name;
        g_autofree char *id = name ? g_strdup_printf("%s %s", prefix, name) : g_strdup(prefix);
        ConfGroup *g = g_hash_table_lookup(l->group_by_id, id);

        if (g)
                return g;

        g = g_new0(ConfGroup, 1);
        g->section = section;
        g->name = g_strdup(name);
        g->file = file;
        g->line = line;
        g->assignments = g_ptr_array_new_with_free_func(assignment_free);
        g_ptr_array_add(l->groups, g);
        g_hash_table_insert(l->group_by_id, TAKE_PTR(id), g);
        return g;
}

typedef struct ParseState {
        ConfGroup *group;               /* the current group, NULL before the first header */
        bool skip;                      /* after a bad header: its keys are not reported one by one */
        GHashTable *seen;               /* named ConfGroup* headed in this file -> its line */
} ParseState;

static void parse_header(ConfParser *l, ParseState *st, unsigned file, unsigned line, const char *s) {
        size_t n = strlen(s);
        g_autofree char *inner = NULL, *what = NULL;
        const ConfSection *sec;
        char *name;

        st->group = NULL;
        st->skip = true;

        if (n < 2 || s[n - 1] != ']') {
                conf_parser_error(l, file, line, NULL, "invalid group header \"%s\"", s);
                return;
        }
        inner = g_strndup(s + 1, n - 2);
        g_strstrip(inner);
        name = inner + strcspn(inner, " \t");
        if (*name) {
                *name++ = 0;
                name = (char *) skip_ws(name);
        }

        for (sec = l->sections; sec->name; sec++)
                if (streq(inner, sec->name))
                        break;

        if (!sec->name) {
                g_autoptr(GPtrArray) names = g_ptr_array_new();
                const char *suggestion;

                for (const ConfSection *o = l->sections; o->name; o++)
                        g_ptr_array_add(names, (char *) o->name);
                g_ptr_array_add(names, NULL);
                suggestion = name_suggest(inner, (const char *const *) names->pdata);
                if (suggestion)
                        conf_parser_error(l, file, line, NULL, "unknown group %s, did you mean [%s%s%s]?", s,
                                          suggestion, *name ? " " : "", name);
                else
                        conf_parser_error(l, file, line, NULL, "unknown group %s", s);
                return;
        }
        if (!sec->named && *name) {
                conf_parser_error(l, file, line, NULL, "unknown group %s", s);
                return;
        }
        if (sec->named && !*name) {
                conf_parser_error(l, file, line, NULL, "[%s] needs a name: [%s NAME]", inner, inner);
                return;
        }
        if (sec->named && !valid_group_name(name)) {
                what = g_ascii_strdown(inner, -1);
                conf_parser_error(l, file, line, NULL,
                                  "invalid %s name \"%s\" (allowed: letters, digits and _.@-)", what, name);
                return;
        }
        st->group = parser_get_group(l, (unsigned) (sec - l->sections), sec->named ? name : NULL, file,
                                     line);
        /* A named group is one object: given twice in one file it is a mistake (two watches meant, one
         * name copied), not a merge. A drop-in may still add to a group of another file. */
        if (sec->named) {
                unsigned first = GPOINTER_TO_UINT(g_hash_table_lookup(st->seen, st->group));

                if (first > 0) {
                        conf_parser_error(l, file, line, NULL, "duplicate group [%s %s], first at line %u",
                                          inner, name, first);
                        st->group = NULL;
                        return;
                }
                g_hash_table_insert(st->seen, st->group, GUINT_TO_POINTER(line));
        }
        st->skip = false;
}

static void parse_logical_line(ConfParser *l, ParseState *st, unsigned file, unsigned line,
                               const char *text) {
        g_autofree char *s = g_strstrip(g_strdup(text));
        char *eq, *key, *value;
        ConfAssignment *a;

        if (s[0] == '[') {
                parse_header(l, st, file, line, s);
                return;
        }

        eq = strchr(s, '=');
        if (!eq) {
                conf_parser_error(l, file, line, NULL, "expected [Group] or Key=Value, got \"%s\"", s);
                return;
        }
        *eq = 0;
        key = g_strstrip(s);
        value = g_strstrip(eq + 1);
        if (!*key) {
                conf_parser_error(l, file, line, NULL, "assignment without a key: \"=%s\"", value);
                return;
        }
        if (st->skip)
                return;
        if (!st->group) {
                conf_parser_error(l, file, line, key, "assignment outside of any group");
                return;
        }
        /* A value that ends in a lone backslash once its trailing whitespace is gone (as in "a\<CR>", or a
         * continuation on the last line) could not be written back: the backslash would continue the line. */
        if (ends_in_lone_backslash(value)) {
                conf_parser_error(l, file, line, key, "the value ends in a backslash, which would continue the line");
                return;
        }

        a = g_new0(ConfAssignment, 1);
        a->key = g_strdup(key);
        a->value = g_strdup(value);
        a->file = file;
        a->line = line;
        g_ptr_array_add(st->group->assignments, a);
}

/* Splits text into logical lines (comment lines dropped, inline comments cut, continuations joined) and
 * records groups and assignments. Values are not interpreted here. */
static void parser_parse_text(ConfParser *l, unsigned file, const char *text) {
        g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
        ParseState st = { .seen = seen };
        g_autoptr(GString) logical = NULL;
        unsigned line = 0, logical_line = 0;

        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                g_autofree char *raw = g_strndup(p, len);
                g_autofree char *clean = NULL;
                const char *s;
                bool cont;

                p = nl ? nl + 1 : NULL;
                line++;

                /* Comment lines are skipped, also inside a continuation, as systemd does. */
                s = skip_ws(raw);
                if (*s == '#' || *s == ';')
                        continue;
                if (!logical && !*s)
                        continue;

                clean = strip_inline_comment(raw);
                cont = strip_continuation(clean);
                if (!logical) {
                        logical = g_string_new(NULL);
                        logical_line = line;
                }
                g_string_append(logical, clean);
                if (cont)
                        continue;

                parse_logical_line(l, &st, file, logical_line, logical->str);
                g_string_free(TAKE_PTR(logical), TRUE);
        }

        if (logical)
                parse_logical_line(l, &st, file, logical_line, logical->str);
}

void conf_parser_add_text(ConfParser *l, const char *name, const char *text, size_t size) {
        unsigned file = l->files->len;
        const char *nul;

        g_ptr_array_add(l->files, g_strdup(name));

        nul = memchr(text, 0, size);
        if (nul) {
                unsigned line = 1;
                for (const char *p = text; p < nul; p++)
                        if (*p == '\n')
                                line++;
                conf_parser_error(l, file, line, NULL, "NUL byte in line");
                return;
        }
        parser_parse_text(l, file, text);
}

static int read_text_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        g_autoptr(GString) buf = g_string_new(NULL);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                char chunk[16384];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                if (buf->len + (size_t) n > CONF_FILE_SIZE_MAX)
                        return -EFBIG;
                g_string_append_len(buf, chunk, n);
        }

        *ret_size = buf->len;
        *ret = g_string_free(TAKE_PTR(buf), FALSE);
        return 0;
}

/* With trusted_only, a file that anyone but root or our own user could write, or that lies below such
 * a directory, is an invalid configuration: the reason in errors, CONF_E_INVALID. */
static int check_trusted(const char *path, bool trusted_only, GPtrArray *errors) {
        g_autofree char *err = NULL;

        if (!trusted_only)
                return 0;
        if (trust_check_path(path, geteuid(), &err) >= 0)
                return 0;
        if (errors)
                g_ptr_array_add(errors, TAKE_PTR(err));
        return CONF_E_INVALID;
}

int conf_parser_add_file(ConfParser *l, const char *path, bool missing_ok, bool trusted_only,
                         GPtrArray *errors) {
        g_autofree char *text = NULL;
        size_t size = 0;
        int r;

        r = read_text_file(path, &text, &size);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0) {
                if (errors)
                        g_ptr_array_add(errors,
                                        g_strdup_printf("%s: cannot read file: %s", path, g_strerror(-r)));
                return r;
        }
        r = check_trusted(path, trusted_only, errors);
        if (r != 0)
                return r;
        conf_parser_add_text(l, path, text, size);
        return 0;
}

/* A masked drop-in: a symlink to /dev/null or an empty file. */
static bool dropin_masked(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return false;   /* reading it will report the problem */
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return true;
        return S_ISREG(st.st_mode) && st.st_size == 0;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The keys of a string-keyed table, sorted (borrowed). g_hash_table_get_keys_as_ptr_array() is 2.76. */
GPtrArray *conf_hash_keys_sorted(GHashTable *h) {
        GPtrArray *keys = g_ptr_array_sized_new(g_hash_table_size(h));
        GHashTableIter it;
        gpointer k;

        g_hash_table_iter_init(&it, h);
        while (g_hash_table_iter_next(&it, &k, NULL))
                g_ptr_array_add(keys, k);
        g_ptr_array_sort(keys, compare_strings);
        return keys;
}

/* The drop-in paths to read, sorted by file name; later directories replace earlier ones' files. */
int conf_collect_dropins(const char *const *dirs, bool trusted_only, GPtrArray **ret, GPtrArray *errors) {
        g_autoptr(GHashTable) by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GPtrArray) names = NULL, paths = g_ptr_array_new_with_free_func(g_free);

        for (const char *const *dir = dirs; dir && *dir; dir++) {
                DIR *d = opendir(*dir);
                struct dirent *de;

                if (!d) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        int r = -errno;
                        if (errors)
                                g_ptr_array_add(errors, g_strdup_printf("%s: cannot open directory: %s",
                                                                        *dir, g_strerror(-r)));
                        return r;
                }
                while ((errno = 0, de = readdir(d))) {
                        g_autofree char *path = NULL;

                        if (de->d_name[0] == '.' || !g_str_has_suffix(de->d_name, ".conf"))
                                continue;
                        path = g_build_filename(*dir, de->d_name, NULL);
                        /* Masks too: whoever could write one, or its directory, could hide a drop-in. */
                        int r = check_trusted(path, trusted_only, errors);
                        if (r != 0) {
                                closedir(d);
                                return r;
                        }
                        g_hash_table_replace(by_name, g_strdup(de->d_name), TAKE_PTR(path));
                }
                if (errno != 0) {
                        int r = -errno;
                        closedir(d);
                        if (errors)
                                g_ptr_array_add(errors, g_strdup_printf("%s: cannot read directory: %s",
                                                                        *dir, g_strerror(-r)));
                        return r;
                }
                closedir(d);
        }

        names = conf_hash_keys_sorted(by_name);
        for (guint i = 0; i < names->len; i++) {
                const char *path = g_hash_table_lookup(by_name, g_ptr_array_index(names, i));
                if (!dropin_masked(path))
                        g_ptr_array_add(paths, g_strdup(path));
        }

        *ret = TAKE_PTR(paths);
        return 0;
}
