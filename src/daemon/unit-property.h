/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Property=NAME=VALUE of a rule: the systemd-run -p syntax, turned into the (sv) entries of
 * StartTransientUnit, and checked against what the service manager knows. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* Checks the syntax of one assignment ("MemoryMax=512M"): the name, and the value parsed by the
 * property's type. Returns 0, or -EINVAL with a message "Property=NAME: ..." in *ret_error (g_free();
 * ret_error may be NULL). Names inotaskd sets itself (ExecStart, Type, Slice, User, ...) are refused,
 * naming the rule key to use instead. */
int unit_property_check(const char *assignment, char **ret_error);

/* Appends the assignment's (sv) entries (one or more: "CPUQuota=" is sent as CPUQuotaPerSecUSec,
 * "LimitNOFILE=" as LimitNOFILE and LimitNOFILESoft) to m, which must be inside an open a(sv). Returns 0,
 * -EINVAL with *ret_error set as unit_property_check() does, or the negative errno of sd-bus. */
int unit_property_append(sd_bus_message *m, const char *assignment, char **ret_error);

/* One (sv) entry of an a(sv) by hand, for values sd_bus_message_append() cannot take in one call (arrays
 * in a variant): opens "(" NAME "v" SIGNATURE, the caller appends the value, unit_property_close() closes
 * both. Negative errno of sd-bus. */
int unit_property_open(sd_bus_message *m, const char *name, const char *signature);
int unit_property_close(sd_bus_message *m);

/* Asks the service manager on bus (org.freedesktop.systemd1) which properties a service unit has, and
 * appends one message (char*, g_free) to errors_out for every assignment it cannot take: a name it
 * does not know ("Property=NAME: unknown to the service manager") or a type it does not expect. Syntax
 * errors are reported the same way. assignments is NULL-terminated (NULL: none). Returns the number of
 * messages appended (0: all fine), or a negative errno if the manager could not be asked (nothing is
 * appended then; the caller may skip the check). */
int unit_property_check_manager(sd_bus *bus, char *const *assignments, GPtrArray *errors_out);
