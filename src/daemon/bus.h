/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon on D-Bus: org.inotaskd1.Manager, task objects and their signals. The bus layer holds no
 * state of its own beyond what it has yet to announce. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "macro.h"
#include "scheduler.h"

/* What the bus accepts: dbus-daemon's system bus takes messages of up to 32 MiB by default (its session
 * bus and sd-bus 128 MiB); a larger one makes dbus-daemon drop the sender's connection. Whole replies
 * (ListTasks, GetManagedObjects, the task nodes' Introspect) stay below a quarter of that, or fail with
 * ReplyTooLarge; a page of ListTasksPaged is smaller still, so a burst of them queued for slow readers
 * costs little memory. */
#define BUS_REPLY_SIZE_MAX (8U * 1024U * 1024U)
#define BUS_PAGE_SIZE_MAX (512U * 1024U)
#define BUS_PAGE_ENTRIES_MAX 4096U

/* String arguments: longer ones are refused before anything is done with them. A path is at most
 * PATH_MAX - 1 bytes (what the kernel takes in one call); a rule name is a key-file group name. */
#define BUS_PATH_ARG_MAX 4095U
#define BUS_NAME_ARG_MAX 255U

typedef struct Manager Manager;
typedef struct Bus Bus;

/* Connects (system bus, or the session bus in user mode), serves the objects, takes the name. A
 * connection that cannot be made, or that is lost later, is made again in the background with a
 * growing delay (and logged as such); only a failure to allocate is returned, unlogged. */
int bus_new(Bus **ret, Manager *m, sd_event *e, bool user_mode);
Bus *bus_free(Bus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bus *, bus_free);

/* From the scheduler's listener. */
void bus_task_new(Bus *b, Task *t);
void bus_task_changed(Bus *b, Task *t);
void bus_task_started(Bus *b, Task *t);
void bus_task_removed(Bus *b, Task *t);
void bus_task_forgotten(Bus *b, Task *t);

/* Whether any client called Subscribe() and is still on the bus. */
bool bus_has_subscribers(Bus *b);

/* Manager properties that emit PropertiesChanged; coalesced until the loop is idle. */
typedef enum BusManagerProperty {
        BUS_PROP_STATE = 1 << 0,
        BUS_PROP_COUNTS = 1 << 1,       /* NWatches, NDirectories, NTasksScheduled, NTasksRunning */
        BUS_PROP_WATCHES = 1 << 2,      /* a watch's State or NDirectories may have changed */
} BusManagerProperty;
void bus_manager_changed(Bus *b, BusManagerProperty what);

char *bus_task_path(uint64_t id);

/* Watch objects (bus-watch.c) appear and go with their watches, announced by the ObjectManager's
 * InterfacesAdded and InterfacesRemoved: after the watch is added, before it is removed. */
typedef struct Watch Watch;
void bus_watch_added(Bus *b, Watch *w);
void bus_watch_removing(Bus *b, Watch *w);
/* A watch's State or NDirectories may have changed (an event, a watch lost or back): PropertiesChanged
 * for those that did, coalesced. */
void bus_watches_changed(Bus *b);
/* /org/inotaskd1/watch/<name escaped by sd_bus_path_encode()>; only fails to allocate. */
int bus_watch_path(const Watch *w, char **ret);

/* Internal: the vtables and the checks they share. The userdata of every object is the Bus; a handler
 * reaches the manager through it. */
Manager *bus_get_manager(Bus *b);
/* org.freedesktop.LogControl1 (bus-logcontrol.c), on each connection. */
int bus_log_control_add(sd_bus *bus, Bus *b);
extern const sd_bus_vtable bus_manager_vtable[];
extern const sd_bus_vtable bus_task_vtable[];
int bus_task_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                  sd_bus_error *error);
int bus_task_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error);
extern const sd_bus_vtable bus_watch_vtable[];
int bus_watch_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                   sd_bus_error *error);
int bus_watch_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                        sd_bus_error *error);
int bus_check_admin(sd_bus_message *message, Bus *b, const char *action, sd_bus_error *error);
int bus_reply_task_error(sd_bus_error *error, int r, uint64_t id);
