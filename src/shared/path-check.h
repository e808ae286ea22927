/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks on path strings that callers hand in (RunRule): normal form and lying beneath a root. */
#pragma once

#include <stdbool.h>

/* Whether path is absolute and in normal form: no empty ("//"), "." or ".." component and no trailing
 * "/" (but "/" itself). A path that is not may name something other than what its prefix suggests:
 * "w/../outside" lies outside w. */
bool path_is_normalized(const char *path);

/* Whether path is root or lies beneath it, component by component ("/w" is not beneath "/wx"). Both
 * must be normalized for the answer to mean anything. */
bool path_is_beneath(const char *path, const char *root);
