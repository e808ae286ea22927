/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every MESSAGE_ID the daemon logs; each has an entry in data/inotaskd.catalog. */
#pragma once

#define MESSAGE_ID_TASK_STARTED         "40de3477160e4174822cd69c466e248d"
#define MESSAGE_ID_TASK_FINISHED        "f4875c3ff762448396e3d583be8b3db2"
#define MESSAGE_ID_TASK_FAILED          "36d5c4994d54425ab31049db2df0a977"
#define MESSAGE_ID_QUEUE_OVERFLOW       "bbbda3fea57c41c5a3aa27e4ba522dec"
#define MESSAGE_ID_WATCH_LIMIT          "4d3673acde454057a7e735560d1202c5"
#define MESSAGE_ID_CONFIG_RELOADED      "28d25bcd89cc4c16beaef5b6ea3e4798"
#define MESSAGE_ID_CONFIG_INVALID       "e615a0199546451790cf2b97c407a80f"
/* Only the rate limit's note: a line of a task's output has no MESSAGE_ID (journalctl -x would
 * explain each one). */
#define MESSAGE_ID_TASK_OUTPUT_DROPPED  "7c0b808952374b848d74e54fec42f4e0"
