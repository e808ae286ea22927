/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mount table watched on the loop: the kernel marks /proc/self/mountinfo with EPOLLPRI (and
 * EPOLLERR) whenever the namespace's mounts change; each time it is read again and compared. */
#include <fcntl.h>
#include <glib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "mount-monitor.h"
#include "mountinfo.h"

struct MountMonitor {
        int fd;
        sd_event_source *io;
        sd_event_source *defer;
        GHashTable *mounts;     /* the last reading (mountinfo_parse()) */
        MountMonitorFunc func;
        void *userdata;
};

static int read_table(int fd, GHashTable **ret) {
        g_autoptr(GString) s = g_string_sized_new(8192);
        char buf[8192];
        ssize_t l;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        while ((l = read(fd, buf, sizeof buf)) != 0) {
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                g_string_append_len(s, buf, l);
        }
        return mountinfo_parse(s->str, ret);
}

static void check(MountMonitor *m) {
        g_autoptr(GHashTable) now = NULL;
        g_autoptr(GPtrArray) changed = NULL;
        int r;

        r = read_table(m->fd, &now);
        if (r < 0) {
                log_warning_errno(r, "Failed to read /proc/self/mountinfo, ignoring: %m");
                return;
        }
        changed = mountinfo_diff(m->mounts, now);
        g_hash_table_unref(m->mounts);
        m->mounts = g_steal_pointer(&now);
        for (guint i = 0; i < changed->len; i++) {
                log_debug("Mount table changed at %s.", (const char *) changed->pdata[i]);
                m->func(changed->pdata[i], m->userdata);
        }
}

static int on_mountinfo(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        check(userdata);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        check(userdata);
        return 0;
}

int mount_monitor_new(MountMonitor **ret, sd_event *e, MountMonitorFunc func, void *userdata) {
        _cleanup_(mount_monitor_freep) MountMonitor *m = NULL;
        int r;

        m = g_new0(MountMonitor, 1);
        m->fd = -1;
        m->func = func;
        m->userdata = userdata;
        m->fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (m->fd < 0)
                return -errno;
        r = read_table(m->fd, &m->mounts);
        if (r < 0)
                return r;
        r = sd_event_add_io(e, &m->io, m->fd, EPOLLPRI, on_mountinfo, m);
        if (r < 0)
                return r;
        r = sd_event_add_defer(e, &m->defer, on_defer, m);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(m->defer, SD_EVENT_OFF);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

MountMonitor *mount_monitor_free(MountMonitor *m) {
        if (!m)
                return NULL;
        m->io = sd_event_source_disable_unref(m->io);
        m->defer = sd_event_source_disable_unref(m->defer);
        m->fd = safe_close(m->fd);
        if (m->mounts)
                g_hash_table_unref(m->mounts);
        g_free(m);
        return NULL;
}

void mount_monitor_check_soon(MountMonitor *m) {
        /* Not now: the caller may be in the middle of handling events for the nodes a rescan replaces. */
        if (m)
                (void) sd_event_source_set_enabled(m->defer, SD_EVENT_ONESHOT);
}
