/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The names of inotaskd's D-Bus interface that both the daemon and inotaskctl spell: the bus name, object
 * paths, interfaces, error names and the polkit actions of data/org.inotaskd1.policy. */
#pragma once

#define BUS_NAME "org.inotaskd1"
#define BUS_PATH "/org/inotaskd1"
#define BUS_TASK_PREFIX "/org/inotaskd1/task"
#define BUS_WATCH_PREFIX "/org/inotaskd1/watch"
#define BUS_MANAGER_INTERFACE "org.inotaskd1.Manager"
#define BUS_TASK_INTERFACE "org.inotaskd1.Task"
#define BUS_WATCH_INTERFACE "org.inotaskd1.Watch"

#define BUS_ERROR_NO_SUCH_TASK "org.inotaskd1.Error.NoSuchTask"
#define BUS_ERROR_NO_SUCH_RULE "org.inotaskd1.Error.NoSuchRule"
#define BUS_ERROR_INVALID_CONFIG "org.inotaskd1.Error.InvalidConfig"
#define BUS_ERROR_NOT_SCHEDULED "org.inotaskd1.Error.NotScheduled"
#define BUS_ERROR_NOT_SUBSCRIBED "org.inotaskd1.Error.NotSubscribed"
#define BUS_ERROR_INVALID_PATH "org.inotaskd1.Error.InvalidPath"
#define BUS_ERROR_REPLY_TOO_LARGE "org.inotaskd1.Error.ReplyTooLarge"

#define POLKIT_ACTION_MANAGE_TASKS "org.inotaskd1.manage-tasks"
#define POLKIT_ACTION_RELOAD "org.inotaskd1.reload"
#define POLKIT_ACTION_LIST_TASKS "org.inotaskd1.list-tasks"
