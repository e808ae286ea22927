/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event names: inotify's IN_* names, their lower-case short forms, and the high-level kinds. */
#pragma once

#include <stdint.h>

/* High-level kinds (Bcfg2's file monitor codes plus moves and queue overflow). */
typedef enum EventKind {
        EVENT_KIND_NONE = 0,
        EVENT_KIND_EXISTS,
        EVENT_KIND_CREATED,
        EVENT_KIND_CHANGED,
        EVENT_KIND_DELETED,
        EVENT_KIND_MOVED,
        EVENT_KIND_OVERFLOW,
        _EVENT_KIND_MAX,
} EventKind;

#define EVENT_KIND_BIT(k) (1U << (k))

/* Parses one event name into an inotify mask bit set or a kind bit set (exactly one of the two gets
 * bits). Accepted: every IN_* name of <sys/inotify.h> that describes an event, including the
 * combinations IN_CLOSE, IN_MOVE and IN_ALL_EVENTS; the same without the "IN_" prefix in lower case
 * ("close_write", "all_events"); and the kinds "exists", "created", "changed", "deleted", "moved",
 * "overflow". IN_Q_OVERFLOW / q_overflow are the same as "overflow". Returns 0 or -EINVAL. */
int event_name_parse(const char *name, uint32_t *ret_mask, uint32_t *ret_kinds);

/* A whitespace-separated list of names, OR-ed together. On -EINVAL, *ret_bad (if given) is set to a
 * newly allocated copy of the first bad name. An empty list is valid and gives 0/0. */
int event_names_parse_list(const char *list, uint32_t *ret_mask, uint32_t *ret_kinds, char **ret_bad);

/* For a bad name, a newly allocated suggestion of a valid name it resembles (e.g. "IN_WRITE_CLOSE" ->
 * "IN_CLOSE_WRITE"), or NULL. */
char *event_name_suggest(const char *bad);

/* The one of names (NULL-terminated) closest to bad by edit distance (case-insensitive), if within about
 * one typo per four characters; else NULL. Not a copy: a member of names. For config keys and groups. */
const char *name_suggest(const char *bad, const char *const *names);

/* "IN_CREATE" for a single bit; NULL if the bit has no name. */
const char *event_mask_bit_to_string(uint32_t bit);

/* pyinotify's maskname: the names of the set bits joined by '|', e.g. "IN_CREATE|IN_ISDIR".
 * Writes into buf (at least EVENT_MASK_STRING_MAX bytes) and returns it. mask 0 gives "". */
#define EVENT_MASK_STRING_MAX 256
const char *event_mask_to_string(uint32_t mask, char *buf);

/* Lower-case short name of the most significant event bit, e.g. "close_write"; "" for 0. */
const char *event_mask_to_short_string(uint32_t mask);

const char *event_kind_to_string(EventKind k);
EventKind event_kind_from_string(const char *s);

/* The kind a raw inotify event mask stands for, without pairing information:
 * IN_CREATE, IN_MOVED_TO -> created; IN_CLOSE_WRITE, IN_ATTRIB -> changed;
 * IN_DELETE, IN_DELETE_SELF, IN_MOVED_FROM -> deleted; IN_Q_OVERFLOW -> overflow; others none.
 * (A paired move is turned into "moved" by the backend, which knows the pairing.) */
EventKind event_kind_from_mask(uint32_t mask);
