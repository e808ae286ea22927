/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asynchronous authorization of bus calls, the pattern of systemd's bus-polkit: a call that needs an
 * answer from elsewhere is parked, the answer is asked for with an async call, and the parked message is
 * dispatched once more when it is in; its handler then finds the verdict here.
 *
 * Nothing is read from /proc: what the bus driver recorded when the caller connected (UnixUserID from
 * SO_PEERCRED, UnixGroupIDs from SO_PEERGROUPS) cannot be changed afterwards by an exec of a setuid or
 * setgid program, and polkit itself is asked about the caller's unique bus name, which it resolves the
 * same way. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "bus-polkit.h"
#include "log.h"
#include "time-util.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"

/* A person may take a while to type a password into an agent. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (5 * USEC_PER_MINUTE)

typedef enum Verdict {
        VERDICT_PENDING,
        VERDICT_ALLOWED,
        VERDICT_REFUSED,        /* error says why */
} Verdict;

typedef struct Query {
        BusPolkit *polkit;
        sd_bus_message *request;        /* the call being authorized; key in polkit->queries */
        char *action;
        char *sender;
        gid_t admin_gid;
        bool interactive;               /* the caller allowed polkit to ask for a password */
        sd_bus_slot *slot;              /* the call to the bus driver, then to polkit */
        sd_event_source *defer;         /* frees the query once the request went through again */
        Verdict verdict;
        sd_bus_error error;
} Query;

/* What the bus driver said of a sender. A unique name is never given to another connection while the bus
 * runs, and the credentials are those of its connect time, so asking again could only give the same
 * answer: they are kept (a BusPolkit lives as long as one connection to one bus). */
typedef struct Credentials {
        uid_t uid;
        size_t n_gids;
        gid_t gids[];
} Credentials;

/* Senders whose credentials are kept; past that the table starts over (it only saves round trips). */
#define CREDENTIALS_CACHE_MAX 4096U

struct BusPolkit {
        GHashTable *queries;            /* sd_bus_message * -> Query *, owned by the table's user */
        GHashTable *pending;            /* sender -> number of queries still waiting (GUINT_TO_POINTER) */
        GHashTable *credentials;        /* sender -> Credentials * */
        bool unreachable_logged;
};

static void credentials_remember(BusPolkit *p, const char *sender, uid_t uid, const gid_t *gids, size_t n) {
        Credentials *c = g_malloc(sizeof(Credentials) + n * sizeof(gid_t));

        c->uid = uid;
        c->n_gids = n;
        if (n > 0)
                memcpy(c->gids, gids, n * sizeof(gid_t));
        if (g_hash_table_size(p->credentials) >= CREDENTIALS_CACHE_MAX)
                g_hash_table_remove_all(p->credentials);
        g_hash_table_insert(p->credentials, g_strdup(sender), c);
}

bool bus_polkit_trusted(uid_t uid, const gid_t *gids, size_t n_gids, gid_t admin_gid) {
        if (uid == 0 || uid == geteuid())
                return true;
        if (admin_gid == (gid_t) -1)
                return false;
        for (size_t i = 0; i < n_gids; i++)
                if (gids[i] == admin_gid)
                        return true;
        return false;
}

/* ------------------------------------------------------------------ queries */

static void pending_dec(BusPolkit *p, const char *sender) {
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(p->pending, sender));

        if (n <= 1)
                g_hash_table_remove(p->pending, sender);
        else
                g_hash_table_insert(p->pending, g_strdup(sender), GUINT_TO_POINTER(n - 1));
}

static Query *query_free(Query *q) {
        if (!q)
                return NULL;
        q->slot = sd_bus_slot_unref(q->slot);
        q->defer = sd_event_source_disable_unref(q->defer);
        if (q->polkit) {
                if (q->request)
                        g_hash_table_remove(q->polkit->queries, q->request);
                if (q->verdict == VERDICT_PENDING && q->sender)
                        pending_dec(q->polkit, q->sender);
        }
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        g_free(q->action);
        g_free(q->sender);
        g_free(q);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Query *, query_free);

static int on_defer(sd_event_source *s, void *userdata) {
        /* Idle priority: the request, enqueued again, has been dispatched by now. */
        query_free(userdata);
        return 0;
}

/* The verdict is in: dispatch the request once more, and forget the query when idle. */
static int query_done(Query *q, Verdict verdict) {
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        pending_dec(q->polkit, q->sender);
        q->verdict = verdict;

        r = sd_event_add_defer(sd_bus_get_event(bus), &q->defer, on_defer, q);
        if (r < 0)
                return r;
        r = sd_event_source_set_priority(q->defer, SD_EVENT_PRIORITY_IDLE);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(q->request, true);
        if (r < 0)
                return r;
        return sd_bus_enqueue_for_read(bus, q->request);
}

static int query_refuse(Query *q, const char *name, const char *format, ...) _printf_(3, 4);
static int query_refuse(Query *q, const char *name, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) sd_bus_error_setfv(&q->error, name, format, ap);
        va_end(ap);
        return query_done(q, VERDICT_REFUSED);
}

/* A failure of our own: answer the request now, it will not be dispatched again. */
static void query_fail(Query *q, int r) {
        log_debug_errno(r, "Authorizing a call of %s failed: %m", q->sender);
        (void) sd_bus_reply_method_errno(q->request, r, NULL);
        query_free(q);
}

/* ------------------------------------------------------------------ polkit */

/* Errors that mean polkit is not there to ask (not installed, not activatable, not reachable under this
 * bus's policy), as opposed to an answer from it. */
static bool polkit_unreachable(sd_bus_message *reply) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *from = sd_bus_message_get_sender(reply);

        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            g_str_has_prefix(e->name, "org.freedesktop.DBus.Error.Spawn."))
                return true;
        /* Refused by the bus itself, not by polkit. */
        return sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) &&
               (!from || streq(from, "org.freedesktop.DBus"));
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Query *q = userdata;
        int authorized, challenge, r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                if (!polkit_unreachable(reply)) {
                        log_warning("polkit failed to check %s for %s: %s, refusing.", q->action, q->sender,
                                    e->message ? e->message : e->name);
                        r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized for %s: polkit failed (%s).", q->action, e->name);
                        goto finish;
                }
                if (!q->polkit->unreachable_logged) {
                        log_notice("polkit is not available on this bus (%s: %s): authorizing root, uid %u "
                                   "and members of AdminGroup= only; everyone may list.",
                                   e->name, strempty(e->message), (unsigned) geteuid());
                        q->polkit->unreachable_logged = true;
                }
                /* The default of the policy file for reading is allow_any=yes. */
                if (streq(q->action, POLKIT_ACTION_LIST_TASKS))
                        r = query_done(q, VERDICT_ALLOWED);
                else
                        r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized for %s: polkit is not available, and only root, "
                                         "uid %u and members of AdminGroup= may do this without it.",
                                         q->action, (unsigned) geteuid());
                goto finish;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                goto finish;

        if (authorized)
                r = query_done(q, VERDICT_ALLOWED);
        else if (challenge && !q->interactive)
                r = query_refuse(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                 "Interactive authentication required for %s.", q->action);
        else if (challenge)
                r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s: authentication is "
                                 "required, and no polkit agent could ask for it.", q->action);
        else
                r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s (polkit).",
                                 q->action);

finish:
        if (r < 0)
                query_fail(q, r);
        return 0;
}

static int ask_polkit(Query *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        int r;

        q->interactive = sd_bus_message_get_allow_interactive_authorization(q->request) > 0;
        r = sd_bus_message_new_method_call(bus, &call, POLKIT_NAME, POLKIT_PATH, POLKIT_INTERFACE,
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        /* The subject is the caller's unique name: polkit asks the bus who that is, race-free. */
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", q->sender,
                                  q->action, 0, (uint32_t) (q->interactive ? 1 : 0), "");
        if (r < 0)
                return r;
        return sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q,
                                 q->interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : 0);
}

/* ------------------------------------------------------------------ the bus driver's credentials */

static int read_credentials(sd_bus_message *reply, uid_t *ret_uid, GArray *gids) {
        bool have_uid = false;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "UnixUserID")) {
                        uint32_t u;

                        r = sd_bus_message_read(reply, "v", "u", &u);
                        if (r < 0)
                                return r;
                        *ret_uid = u;
                        have_uid = true;
                } else if (streq(key, "UnixGroupIDs")) {
                        const void *a;
                        size_t n;

                        r = sd_bus_message_enter_container(reply, 'v', "au");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_array(reply, 'u', &a, &n);
                        if (r < 0)
                                return r;
                        g_array_append_vals(gids, a, n / sizeof(uint32_t));
                        r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_skip(reply, "v");
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return have_uid ? 0 : -ENODATA;
}

static int on_credentials(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        g_autoptr(GArray) gids = g_array_new(false, false, sizeof(gid_t));
        Query *q = userdata;
        uid_t uid = (uid_t) -1;
        int r;

        G_STATIC_ASSERT(sizeof(gid_t) == sizeof(uint32_t));

        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* Most likely the caller is gone already. */
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s: no credentials of "
                                 "the caller (%s).", q->action, e->name);
                goto finish;
        }

        r = read_credentials(reply, &uid, gids);
        if (r < 0) {
                r = query_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Not authorized for %s: the bus gave no user of the caller.", q->action);
                goto finish;
        }

        credentials_remember(q->polkit, q->sender, uid, (const gid_t *) gids->data, gids->len);
        if (bus_polkit_trusted(uid, (const gid_t *) gids->data, gids->len, q->admin_gid))
                r = query_done(q, VERDICT_ALLOWED);
        else {
                q->slot = sd_bus_slot_unref(q->slot);
                r = ask_polkit(q);
        }

finish:
        if (r < 0)
                query_fail(q, r);
        return 0;
}

/* ------------------------------------------------------------------ entry point */

int bus_polkit_verify(BusPolkit *p, sd_bus_message *message, const char *action, gid_t admin_gid,
                      sd_bus_error *error) {
        _cleanup_(query_freep) Query *q = NULL;
        const Credentials *known;
        Query *found;
        const char *sender;
        unsigned n;
        int r;

        found = g_hash_table_lookup(p->queries, message);
        if (found) {
                /* Dispatched again while the answer is still out: not expected, keep it parked. */
                if (found->verdict == VERDICT_PENDING)
                        return 0;
                /* The verdict was for another action: it says nothing about this one. */
                if (!streq(found->action, action))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "Not authorized for %s.", action);
                if (found->verdict == VERDICT_ALLOWED)
                        return 1;
                return sd_bus_error_copy(error, &found->error);
        }

        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized for %s: the call has no sender.", action);

        /* Known already: root, our uid and AdminGroup= go through without a round trip. */
        known = g_hash_table_lookup(p->credentials, sender);
        if (known && bus_polkit_trusted(known->uid, known->gids, known->n_gids, admin_gid))
                return 1;

        n = GPOINTER_TO_UINT(g_hash_table_lookup(p->pending, sender));
        if (n >= POLKIT_PENDING_PER_SENDER_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many calls of %s waiting for authorization.", sender);
        if (g_hash_table_size(p->queries) >= POLKIT_PENDING_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many calls waiting for authorization, try again later.");

        q = g_new0(Query, 1);
        q->request = sd_bus_message_ref(message);
        q->action = g_strdup(action);
        q->sender = g_strdup(sender);
        q->admin_gid = admin_gid;

        if (known)
                r = ask_polkit(q);
        else
                r = sd_bus_call_method_async(sd_bus_message_get_bus(message), &q->slot,
                                             "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetConnectionCredentials",
                                             on_credentials, q, "s", sender);
        if (r < 0)
                return r;

        q->polkit = p;
        g_hash_table_insert(p->queries, message, q);
        g_hash_table_insert(p->pending, g_strdup(sender), GUINT_TO_POINTER(n + 1));
        TAKE_PTR(q);
        return 0;
}

int bus_polkit_new(BusPolkit **ret) {
        BusPolkit *p = g_new0(BusPolkit, 1);

        p->queries = g_hash_table_new(g_direct_hash, g_direct_equal);
        p->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        p->credentials = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        *ret = p;
        return 0;
}

BusPolkit *bus_polkit_free(BusPolkit *p) {
        GHashTableIter i;
        gpointer v;

        if (!p)
                return NULL;
        if (p->queries) {
                /* Unanswered calls get no reply: the connection is going away with us. */
                g_hash_table_iter_init(&i, p->queries);
                while (g_hash_table_iter_next(&i, NULL, &v)) {
                        Query *q = v;

                        g_hash_table_iter_steal(&i);
                        q->polkit = NULL;
                        query_free(q);
                }
                g_hash_table_unref(p->queries);
        }
        if (p->pending)
                g_hash_table_unref(p->pending);
        if (p->credentials)
                g_hash_table_unref(p->credentials);
        g_free(p);
        return NULL;
}
