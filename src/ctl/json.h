/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small streaming JSON writer for inotaskctl --json: commas, nesting and escaping done right. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct JsonWriter JsonWriter;

/* pretty: indented by two spaces per level; otherwise all on one line. */
JsonWriter *json_writer_new(bool pretty);
JsonWriter *json_writer_free(JsonWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonWriter *, json_writer_free);

void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);

/* Inside an object, the name of the next value. */
void json_key(JsonWriter *w, const char *key);

/* s must be UTF-8 (D-Bus strings are); invalid bytes are replaced by U+FFFD. NULL writes null. */
void json_string(JsonWriter *w, const char *s);
void json_uint(JsonWriter *w, uint64_t u);
void json_int(JsonWriter *w, int64_t i);
/* Non-finite values (which JSON cannot express) are written as null. */
void json_double(JsonWriter *w, double d);
void json_bool(JsonWriter *w, bool b);
void json_null(JsonWriter *w);
/* An array of numbers 0..255. */
void json_byte_array(JsonWriter *w, const void *p, size_t n);

/* The document, newline-terminated; the writer stays usable for nothing else. Newly allocated. */
char *json_writer_finish(JsonWriter *w);
