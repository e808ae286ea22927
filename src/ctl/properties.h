/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The properties of one D-Bus object as read from a GetAll reply, for status, show and monitor. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "json.h"
#include "time-util.h"

typedef struct Property {
        char *name;
        /* The D-Bus type: a basic type character, 'Y' for "ay", 'S' for "as", 0 for others (skipped). */
        char type;
        uint64_t u;             /* y q u t */
        int64_t i;              /* n i x h */
        bool b;
        double d;
        char *s;                /* s o g */
        GBytes *bytes;          /* ay */
        char **strv;            /* as */
} Property;

/* Reads an a{sv} (a GetAll reply or PropertiesChanged's second argument) into a list of Property. */
int properties_read(sd_bus_message *m, GPtrArray **ret);

const Property *properties_find(GPtrArray *props, const char *name);
/* The value of a number or boolean property, or def if it is missing or not a number. */
uint64_t properties_get_u64(GPtrArray *props, const char *name, uint64_t def);
/* The value of a string property, or NULL. */
const char *properties_get_string(GPtrArray *props, const char *name);

/* The value as text: numbers raw, "yes"/"no", byte arrays as hex, string arrays space-separated.
 * Newly allocated. */
char *property_format(const Property *p);
void property_write_json(JsonWriter *w, const Property *p);
/* As property_format(), but *USec values readable: timestamps as "Tue 2026-12-01 17:31:26 UTC" (empty for
 * none), spans as "1min 30s". What show prints without -p. */
char *property_format_readable(const Property *p);
/* "Tue 2026-12-01 17:31:26 UTC" in the local zone, "" for 0 (none). Newly allocated. */
char *format_timestamp_full(usec_t t);
/* The JSON key of a property: its D-Bus name in snake_case, the one key style of every --json output
 * ("NTasksRunning" -> "n_tasks_running", "CreatedUSec" -> "created_usec", "MainPID" -> "main_pid"). */
char *property_json_key(const char *name);
/* The properties as one JSON object, key: value (keys by property_json_key()); only those named in only,
 * unless it is NULL. */
void properties_write_json(JsonWriter *w, GPtrArray *props, char **only);
