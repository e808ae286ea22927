/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a{sv} property dictionaries into typed values, and showing them as text or JSON. */
#include <inttypes.h>
#include <string.h>

#include "macro.h"

#include <glib.h>

#include "properties.h"
#include "time-util.h"

static void property_free(gpointer data) {
        Property *p = data;

        g_free(p->name);
        g_free(p->s);
        if (p->bytes)
                g_bytes_unref(p->bytes);
        g_strfreev(p->strv);
        g_free(p);
}

static int read_value(sd_bus_message *m, Property *p) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;

        switch (contents[0] != '\0' && contents[1] == '\0' ? contents[0] : 0) {
        case SD_BUS_TYPE_BYTE: {
                uint8_t v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->u = v;
                break;
        }
        case SD_BUS_TYPE_UINT16: {
                uint16_t v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->u = v;
                break;
        }
        case SD_BUS_TYPE_UINT32: {
                uint32_t v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->u = v;
                break;
        }
        case SD_BUS_TYPE_UINT64:
                r = sd_bus_message_read_basic(m, contents[0], &p->u);
                break;
        case SD_BUS_TYPE_INT16: {
                int16_t v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->i = v;
                break;
        }
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD: {
                int32_t v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->i = v;
                break;
        }
        case SD_BUS_TYPE_INT64:
                r = sd_bus_message_read_basic(m, contents[0], &p->i);
                break;
        case SD_BUS_TYPE_BOOLEAN: {
                int v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                p->b = v;
                break;
        }
        case SD_BUS_TYPE_DOUBLE:
                r = sd_bus_message_read_basic(m, contents[0], &p->d);
                break;
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE: {
                const char *v;
                r = sd_bus_message_read_basic(m, contents[0], &v);
                if (r >= 0)
                        p->s = g_strdup(v);
                break;
        }
        default:
                if (streq(contents, "ay")) {
                        const void *v;
                        size_t n;

                        r = sd_bus_message_read_array(m, SD_BUS_TYPE_BYTE, &v, &n);
                        if (r >= 0) {
                                p->bytes = g_bytes_new(v, n);
                                p->type = 'Y';
                        }
                } else if (streq(contents, "as")) {
                        char **v = NULL;

                        r = sd_bus_message_read_strv(m, &v);
                        if (r >= 0) {
                                /* Allocated by libsystemd with malloc; GLib's free is the same. */
                                p->strv = v;
                                p->type = 'S';
                        }
                } else {
                        p->type = 0;
                        r = sd_bus_message_skip(m, contents);
                }
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        p->type = contents[0];

        return sd_bus_message_exit_container(m);
}

int properties_read(sd_bus_message *m, GPtrArray **ret) {
        g_autoptr(GPtrArray) props = g_ptr_array_new_with_free_func(property_free);
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                Property *p = g_new0(Property, 1);
                const char *name;

                g_ptr_array_add(props, p);
                r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &name);
                if (r < 0)
                        return r;
                p->name = g_strdup(name);

                r = read_value(m, p);
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        *ret = g_steal_pointer(&props);
        return 0;
}

const Property *properties_find(GPtrArray *props, const char *name) {
        for (size_t i = 0; props && i < props->len; i++) {
                const Property *p = props->pdata[i];
                if (streq(p->name, name))
                        return p;
        }
        return NULL;
}

uint64_t properties_get_u64(GPtrArray *props, const char *name, uint64_t def) {
        const Property *p = properties_find(props, name);

        if (!p)
                return def;
        switch (p->type) {
        case 'y': case 'q': case 'u': case 't':
                return p->u;
        case 'n': case 'i': case 'x': case 'h':
                return (uint64_t) p->i;
        case 'b':
                return p->b;
        default:
                return def;
        }
}

const char *properties_get_string(GPtrArray *props, const char *name) {
        const Property *p = properties_find(props, name);

        return p && p->s ? p->s : NULL;
}

char *property_format(const Property *p) {
        switch (p->type) {
        case 'y': case 'q': case 'u': case 't':
                return g_strdup_printf("%" PRIu64, p->u);
        case 'n': case 'i': case 'x': case 'h':
                return g_strdup_printf("%" PRIi64, p->i);
        case 'b':
                return g_strdup(p->b ? "yes" : "no");
        case 'd':
                return g_strdup_printf("%g", p->d);
        case 's': case 'o': case 'g':
                return g_strdup(p->s);
        case 'Y': {
                /* Hex, like systemctl show prints byte arrays: exact and copy-pasteable. */
                size_t n;
                const uint8_t *b = g_bytes_get_data(p->bytes, &n);
                GString *s = g_string_sized_new(n * 2 + 1);

                for (size_t i = 0; i < n; i++)
                        g_string_append_printf(s, "%02x", b[i]);
                return g_string_free(s, false);
        }
        case 'S':
                return g_strjoinv(" ", p->strv);
        default:
                return NULL;
        }
}

void property_write_json(JsonWriter *w, const Property *p) {
        switch (p->type) {
        case 'y': case 'q': case 'u': case 't':
                json_uint(w, p->u);
                break;
        case 'n': case 'i': case 'x': case 'h':
                json_int(w, p->i);
                break;
        case 'b':
                json_bool(w, p->b);
                break;
        case 'd':
                json_double(w, p->d);
                break;
        case 's': case 'o': case 'g':
                json_string(w, p->s);
                break;
        case 'Y': {
                size_t n;
                const void *b = g_bytes_get_data(p->bytes, &n);
                json_byte_array(w, b, n);
                break;
        }
        case 'S':
                json_begin_array(w);
                for (char **s = p->strv; *s; s++)
                        json_string(w, *s);
                json_end_array(w);
                break;
        default:
                json_null(w);
        }
}

char *property_json_key(const char *name) {
        g_autofree char *n = NULL;
        GString *out = g_string_new(NULL);
        char *u;

        /* "USec" is one word (created_usec, not created_u_sec). */
        n = g_strdup(name);
        while ((u = strstr(n, "USec")))
                u[1] = 's';
        for (const char *p = n; *p; p++) {
                bool upper = g_ascii_isupper(*p);

                /* A word starts at an upper-case letter after a lower-case one or a digit ("NTasks": "N",
                 * "Tasks"), or at the last of a run of upper-case ones before a lower-case one. */
                if (upper && p > n &&
                    (g_ascii_islower(p[-1]) || g_ascii_isdigit(p[-1]) ||
                     (g_ascii_isupper(p[-1]) && g_ascii_islower(p[1]))))
                        g_string_append_c(out, '_');
                g_string_append_c(out, g_ascii_tolower(*p));
        }
        return g_string_free(out, false);
}

void properties_write_json(JsonWriter *w, GPtrArray *props, char **only) {
        json_begin_object(w);
        for (size_t i = 0; i < props->len; i++) {
                const Property *p = props->pdata[i];
                g_autofree char *key = NULL;

                if (only && !g_strv_contains((const char *const *) only, p->name))
                        continue;
                key = property_json_key(p->name);
                json_key(w, key);
                property_write_json(w, p);
        }
        json_end_object(w);
}

char *format_timestamp_full(usec_t t) {
        g_autoptr(GDateTime) d = NULL;

        if (t == 0 || t == USEC_INFINITY)
                return g_strdup("");
        d = g_date_time_new_from_unix_local((gint64) (t / USEC_PER_SEC));
        if (!d)
                return g_strdup_printf("%" PRIu64, t);
        return g_date_time_format(d, "%a %Y-%m-%d %H:%M:%S %Z");
}

/* The *USec properties that are time spans; the others are timestamps (µs of CLOCK_REALTIME). */
static bool is_timespan(const char *name) {
        static const char *const spans[] = { "DelayUSec", "TimeoutUSec", "MaxDelayUSec", NULL };

        return g_strv_contains(spans, name);
}

char *property_format_readable(const Property *p) {
        if (p->type == 't' && g_str_has_suffix(p->name, "USec")) {
                if (is_timespan(p->name))
                        return format_timespan(p->u);
                return format_timestamp_full(p->u);
        }
        return property_format(p);
}
