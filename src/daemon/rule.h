/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Does an event concern a rule: its On=/CancelOn= events, Files=/Directories=, Match=, MatchRegex=. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

typedef enum RuleVerdict {
        RULE_IGNORE,
        RULE_SCHEDULE,
        RULE_CANCEL,
} RuleVerdict;

/* The event bits rule r needs from the kernel (On= and CancelOn=, kinds mapped to their masks). */
uint32_t rule_inotify_mask(const ConfigRule *r);

/* What ev means for r. For RULE_SCHEDULE, *ret_groups (when MatchRegex= has named groups) gets the
 * newly allocated values in group_names order. A CancelOn= match wins over an On= match. */
RuleVerdict rule_match(const ConfigRule *r, Event *ev, char ***ret_groups);

/* Does r's On= take ev only as the replacement of its destination (a file renamed onto a name, for
 * On=changed)? Its task then carries the kind "changed". */
bool rule_on_by_replacement(const ConfigRule *r, const Event *ev);

/* The entry filters alone (Files=/Directories=, Match=, Source=, MatchRegex=), whatever the event: does
 * r still concern ev's path? *ret_groups as for rule_match(). */
bool rule_match_entry(const ConfigRule *r, Event *ev, char ***ret_groups);

/* Destination= of a move/copy rule with Source=’s groups (\g<name>, \1) for path; "" without
 * Destination=; NULL and *ret_error if Source= does not match. Newly allocated. */
char *file_destination(const ConfigRule *r, const char *path, char **ret_error);
