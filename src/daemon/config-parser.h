/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Generic systemd-style key files: lexer, drop-ins, typed value parsers and a KeyDef table driver. The
 * daemon's own sections, keys and model live in config.c, on top of this. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "time-util.h"

/* One "Key=Value" line as read; values are applied only once all files are merged, because what a key
 * means can depend on keys read later. */
typedef struct ConfAssignment {
        char *key;
        char *value;
        unsigned file;                  /* index into ConfParser.files; UINT_MAX for a default */
        unsigned line;
} ConfAssignment;

/* A known section: "[Daemon]" (named = false) or "[Watch NAME]" (named = true). */
typedef struct ConfSection {
        const char *name;
        bool named;
} ConfSection;

typedef struct ConfGroup {
        unsigned section;               /* index into the parser's sections */
        char *name;                     /* NULL for an unnamed section */
        unsigned file, line;            /* first header */
        GPtrArray *assignments;         /* ConfAssignment*, in file order */
} ConfGroup;

typedef struct ConfParser {
        const ConfSection *sections;    /* terminated by { NULL } */
        GPtrArray *files;               /* char*, every file read, in order */
        GPtrArray *groups;              /* ConfGroup*, in order of first appearance; all files merged */
        GHashTable *group_by_id;        /* "Watch NAME" -> ConfGroup* (borrowed) */
        GPtrArray *errors;              /* collected messages, see conf_parser_flush_errors() */
        bool translate;                 /* messages in the user's language (--check-config), not the log's */
} ConfParser;

void conf_parser_init(ConfParser *p, const ConfSection *sections);
void conf_parser_done(ConfParser *p);

const char *conf_parser_file_name(const ConfParser *p, unsigned file);

/* Errors are collected, never fatal: "FILE:LINE: KEY: message", or "FILE:LINE: message" without a key. */
void conf_parser_error(ConfParser *p, unsigned file, unsigned line, const char *key, const char *format, ...)
        _printf_(5, 6);
void conf_key_error(ConfParser *p, const ConfAssignment *a, const char *format, ...) _printf_(3, 4);
bool conf_parser_failed(const ConfParser *p);
/* Moves the collected messages, in file and line order, to errors (char*), which may be NULL. */
void conf_parser_flush_errors(ConfParser *p, GPtrArray *errors);

/* An expected outcome, not a failure (negative errno): the configuration is invalid (an untrusted file
 * here; config.c adds the other problems). */
#define CONF_E_INVALID 1

/* Reads one file's text (logical lines: comment lines dropped, inline comments cut, continuations
 * joined) into groups and assignments. Problems go to the parser's errors. */
void conf_parser_add_text(ConfParser *p, const char *name, const char *text, size_t size);

/* Reads a file. Returns 0 (also for a missing file with missing_ok), or a negative errno when the file
 * cannot be read, with "PATH: cannot read file: ..." in errors. With trusted_only, a file that someone
 * else could write (trust.h) is refused: CONF_E_INVALID, with the reason in errors. */
int conf_parser_add_file(ConfParser *p, const char *path, bool missing_ok, bool trusted_only,
                         GPtrArray *errors);

/* The drop-in paths to read from dirs (increasing priority), sorted by file name, masks left out; a
 * later directory's file replaces an earlier one of the same name. Returns 0, a negative errno (message
 * in errors), or CONF_E_INVALID (with trusted_only, for a drop-in or mask someone else could write). */
int conf_collect_dropins(const char *const *dirs, bool trusted_only, GPtrArray **ret, GPtrArray *errors);

/* ------------------------------------------------------------------ typed values and key tables */

/* value is the assignment's value, or the key's default for an empty assignment (NULL: unset/reset).
 * On a bad value, a parser reports it with conf_key_error() and leaves its fields as they were. */
typedef int (*ConfParseFunc)(ConfParser *p, const ConfAssignment *a, const char *value, void *data,
                             void *data2);

typedef struct ConfKeyDef {
        const char *key;
        ConfParseFunc parse;
        size_t offset, offset2;         /* data and data2 of the parser, relative to the object */
        const char *def;                /* what a missing key and an empty assignment mean; NULL: unset */
        unsigned flags;                 /* the table owner's (config.c: the actions a key is valid with) */
} ConfKeyDef;

const ConfKeyDef *conf_key_lookup(const ConfKeyDef *table, const char *key);
/* A key of table that an unknown key resembles (a typo, a wrong case), or NULL. */
const char *conf_key_suggest(const ConfKeyDef *table, const char *key);
int conf_key_apply(ConfParser *p, const ConfKeyDef *k, const ConfAssignment *a, void *object);
/* Every field starts out as its key's default, produced by the same parser an empty assignment uses. */
void conf_keys_apply_defaults(ConfParser *p, const ConfKeyDef *table, void *object);
/* Applies every assignment of g through table; a key not in it is reported as "unknown key in [what]". */
void conf_group_apply(ConfParser *p, const ConfGroup *g, const ConfKeyDef *table, void *object,
                      const char *what);

const ConfAssignment *conf_group_last_assignment(const ConfGroup *g, const char *key);
/* Nothing assigned, or reset by an empty assignment. */
bool conf_group_key_unassigned(const ConfGroup *g, const char *key);

int conf_parse_string(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_path(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_bool(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_unsigned(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_timespan(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_mode(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_user(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
int conf_parse_group(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
/* A list: every assignment appends its words (split_words()); an empty assignment resets. */
int conf_parse_strv(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);
/* data: char* (the pattern), data2: GRegex* (compiled with G_REGEX_RAW). */
int conf_parse_regex(ConfParser *p, const ConfAssignment *a, const char *value, void *data, void *data2);

/* Helpers for the table owner's own parsers. */
int conf_parse_time(ConfParser *p, const ConfAssignment *a, const char *value, usec_t *ret);
int conf_parse_words(ConfParser *p, const ConfAssignment *a, const char *value, char ***ret);
void conf_strv_extend(char ***strv, char **items);
bool conf_is_ws(char c);
/* The keys of a string-keyed table, sorted; the array borrows them. */
GPtrArray *conf_hash_keys_sorted(GHashTable *h);
/* NULL for an absolute, normalized path, else what is wrong with it. */
const char *conf_path_check(const char *path);
