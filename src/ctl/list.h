/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rows of a list verb: one column description per field of the daemon's D-Bus struct says how it is
 * read, and where and how it shows in the table and in the --json array, so both come from one table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"

typedef enum ListType {
        LIST_STRING,            /* s, o */
        LIST_PATH,              /* s, a path as the daemon shows it; the JSON adds path_bytes if they differ */
        LIST_UINT,              /* u, t */
        LIST_BOOL,              /* b: "yes" or "no" in the table */
        LIST_TIMESTAMP,         /* t, µs of CLOCK_REALTIME or 0 for none: relative in the table, or "-" */
        LIST_TIMESPAN,          /* t, µs: a time span in the table */
        LIST_STRV,              /* s, a list the daemon joined with .separator: as it is in the table, an
                                 * array of strings in the JSON */
} ListType;

typedef struct ListColumn {
        char dbus_type;                 /* of the field, in the order of the struct; 0: not in the struct, a
                                         * LIST_STRING set by list_set_string() after (else "") */
        ListType type;
        const char *json_key;           /* NULL: not in the JSON */
        unsigned json_pos;              /* its place among the JSON members, from 1 */
        const char *header;             /* marked N_(), translated when printed; NULL: not in the table */
        unsigned table_pos;             /* its place among the table's columns, from 1 */
        bool align_right;
        const char *(*color)(const char *value);        /* LIST_STRING: the cell's color, or NULL */
        char separator;                 /* LIST_STRV */
} ListColumn;

typedef union ListValue {
        const char *s;                  /* LIST_STRING, LIST_PATH */
        uint64_t u;                     /* the others */
} ListValue;

typedef struct List List;

/* columns stays the caller's (a static table). */
List *list_new(const ListColumn *columns, size_t n_columns);
List *list_free(List *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(List *, list_free);

/* Reads an array of structs, whose signature the columns make, from m: the rows that keep (NULL: all)
 * accepts are kept. The strings point into m, which must live as long as the list. */
typedef bool (*ListFilter)(const ListValue *row, void *userdata);
int list_read(List *l, sd_bus_message *m, ListFilter keep, void *userdata);

size_t list_get_rows(const List *l);
const ListValue *list_get_row(const List *l, size_t i);
/* Sets a column of dbus_type 0 in row i to a copy of value, which the list keeps. */
void list_set_string(List *l, size_t i, size_t column, const char *value);
/* Sorts the rows by a LIST_UINT column, ascending. */
void list_sort(List *l, size_t column);

/* The rows on stdout, as one JSON array (pretty: indented) or as a table (with the header if header). */
void list_print_json(const List *l, bool pretty);
/* width: of the terminal, the table is fitted into it by ellipsizing paths (in the middle) and strings (at
 * the end); 0 for no limit. */
void list_print_table(const List *l, bool header, bool colors, size_t width);
