/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reversible display escaping of arbitrary bytes (file names), JSON string escaping, UTF-8 checks. */
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "escape.h"

/* Length of the well-formed UTF-8 sequence at s (at most len bytes), or 0 if it is not one. This is
 * Table 3-7 of the Unicode standard, which excludes overlong forms, surrogates and code points above
 * U+10FFFF by the ranges allowed for the second byte. The character is stored in *ret_c. */
static size_t utf8_sequence(const unsigned char *s, size_t len, gunichar *ret_c) {
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;
        gunichar c;

        if (len == 0)
                return 0;

        if (s[0] < 0x80) {
                *ret_c = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                c = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                c = s[0] & 0x0f;
                if (s[0] == 0xe0)
                        lo = 0xa0;      /* overlong below U+0800 */
                else if (s[0] == 0xed)
                        hi = 0x9f;      /* surrogates U+D800..U+DFFF */
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                c = s[0] & 0x07;
                if (s[0] == 0xf0)
                        lo = 0x90;      /* overlong below U+10000 */
                else if (s[0] == 0xf4)
                        hi = 0x8f;      /* above U+10FFFF */
        } else
                return 0;               /* continuation byte, C0/C1 (always overlong), F5..FF */

        if (len < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        c = (c << 6) | (s[1] & 0x3f);
        for (size_t i = 2; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }

        *ret_c = c;
        return n;
}

bool utf8_is_valid(const char *s, size_t len) {
        /* U+0000 is valid UTF-8; callers that pass a length mean the bytes, NULs included (unlike
         * g_utf8_validate_len(), which stops at one). */
        for (size_t i = 0; i < len;) {
                gunichar c;
                size_t n = utf8_sequence((const unsigned char *) s + i, len - i, &c);

                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

static void append_hex_byte(GString *out, unsigned char b) {
        g_string_append_printf(out, "\\x%02x", b);
}

static bool is_plain(const char *s, size_t len, bool backslash) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c < 0x20 || c >= 0x7f || (backslash && c == '\\'))
                        return false;
        }
        return true;
}

bool display_is_plain(const char *s, size_t len) {
        return is_plain(s, len, true);
}

bool controls_are_plain(const char *s, size_t len) {
        return is_plain(s, len, false);
}

/* backslash: whether a backslash is doubled (escape_display) or kept (escape_controls). */
static char *escape_bytes(const char *s, size_t len, bool backslash) {
        const unsigned char *u = (const unsigned char *) s;
        GString *out;

        g_return_val_if_fail(s || len == 0, NULL);

        /* Most names are printable ASCII without a backslash: nothing to escape. */
        if (is_plain(s, len, backslash))
                return g_strndup(s ? s : "", len);

        out = g_string_sized_new(len + 1);
        for (size_t i = 0; i < len;) {
                gunichar c;
                size_t n = utf8_sequence(u + i, len - i, &c);

                if (n == 0) {
                        /* Only the first byte is taken: the next one may start a valid sequence. */
                        append_hex_byte(out, u[i]);
                        i++;
                        continue;
                }

                switch (c) {
                case '\\':
                        g_string_append(out, backslash ? "\\\\" : "\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                default:
                        /* C0, DEL and the C1 controls (U+0080..U+009F, which terminals obey as
                         * escape sequences) are shown byte by byte. */
                        if (g_unichar_iscntrl(c))
                                for (size_t k = 0; k < n; k++)
                                        append_hex_byte(out, u[i + k]);
                        else
                                g_string_append_len(out, s + i, n);
                }
                i += n;
        }

        return g_string_free(out, false);
}

char *escape_display(const char *s, size_t len) {
        return escape_bytes(s, len, true);
}

char *escape_controls(const char *s, size_t len) {
        return escape_bytes(s, len, false);
}

static int unhex(char c) {
        return g_ascii_xdigit_value(c);
}

char *unescape_display(const char *s, size_t *ret_len) {
        GString *out;

        g_return_val_if_fail(s, NULL);

        out = g_string_sized_new(strlen(s) + 1);
        for (const char *p = s; *p != '\0'; p++) {
                int hi, lo;

                if (*p != '\\') {
                        g_string_append_c(out, *p);
                        continue;
                }

                switch (*++p) {
                case '\\':
                        g_string_append_c(out, '\\');
                        break;
                case 'n':
                        g_string_append_c(out, '\n');
                        break;
                case 't':
                        g_string_append_c(out, '\t');
                        break;
                case 'r':
                        g_string_append_c(out, '\r');
                        break;
                case 'x':
                        /* Exactly two hex digits; a NUL ends the check before reading past it. */
                        hi = unhex(p[1]);
                        lo = hi >= 0 ? unhex(p[2]) : -1;
                        if (hi < 0 || lo < 0)
                                goto fail;
                        g_string_append_c(out, (char) (hi << 4 | lo));
                        p += 2;
                        break;
                default:        /* unknown escape, or a backslash at the end */
                        goto fail;
                }
        }

        if (ret_len)
                *ret_len = out->len;
        return g_string_free(out, false);

fail:
        g_string_free(out, true);
        return NULL;
}

char *escape_json(const char *s) {
        GString *out;

        g_return_val_if_fail(s, NULL);

        out = g_string_sized_new(strlen(s) + 1);
        for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
                switch (*p) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\b':
                        g_string_append(out, "\\b");
                        break;
                case '\f':
                        g_string_append(out, "\\f");
                        break;
                default:
                        /* RFC 8259 requires escaping U+0000..U+001F only; DEL and above pass. */
                        if (*p < 0x20)
                                g_string_append_printf(out, "\\u%04x", *p);
                        else
                                g_string_append_c(out, (char) *p);
                }

        return g_string_free(out, false);
}
