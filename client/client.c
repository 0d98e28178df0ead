/* SPDX-License-Identifier: MIT */
/*
 * client/client.c — libsesame-client's public functions for a client and
 * its users: open and close, location, login, the user list, switching,
 * logout and removal, linking, self-delete, profile, custom data and the
 * authenticated request helper.  Each takes the client's mutex for its
 * whole run (see internal.h); the email/password and API key calls are in
 * account.c.
 */
#include "config.h"

#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "internal.h"

#define LARGEST_BODY_LIMIT ((size_t)64 * 1024 * 1024)

/* libcurl's global state, set up once per process and never torn down (its
 * atexit handlers run after ours). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *sesame_client_version(void)
{
	return PACKAGE_VERSION;
}

const char *sesame_client_status_name(int status)
{
	static const char *const names[] = {"ok",	   "refused",  "usage",	  "store",
					    "unavailable", "protocol", "no user", "internal"};

	return status >= 0 && (size_t)status < ARRAY_SIZE(names) ? names[status] : "unknown";
}

static const char *env(const char *name)
{
#ifdef HAVE_SECURE_GETENV
	return secure_getenv(name);
#else
	return getenv(name);
#endif
}

char *sesame_client_default_store(const char *app_id)
{
	const char *state = env("XDG_STATE_HOME"), *home = env("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096], *path = NULL;

	if (!cl_name_valid(app_id))
		return NULL;
	/* The XDG base directory specification: relative paths are invalid
	 * and ignored. */
	if (state && state[0] == '/')
		return asprintf(&path, "%s/sesame-client/%s.json", state, app_id) < 0 ? NULL : path;
	if (!home || home[0] != '/') {
		if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) != 0 || !found || !found->pw_dir ||
		    found->pw_dir[0] != '/')
			return NULL;
		home = found->pw_dir;
	}
	return asprintf(&path, "%s/.local/state/sesame-client/%s.json", home, app_id) < 0 ? NULL : path;
}

void sesame_client_close(sesame_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->lock);
	free(c->base);
	free(c->host);
	free(c->app_id);
	free(c->store_path);
	free(c->lock_path);
	free(c->tmp_path);
	free(c);
}

int sesame_client_open(const char *base_url, const char *app_id, const char *store_path, unsigned flags,
		       sesame_client **client, sesame_client_error *err)
{
	sesame_client *c;
	char *store = NULL;
	size_t n;
	int rc;

	if (!client)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_open: `client` is NULL");
	*client = NULL;
	if (flags != 0)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_open: unknown flags 0x%x", flags);
	if (!cl_name_valid(app_id))
		return cl_error(err, SESAME_CLIENT_USAGE, "app-id",
				"the app id must be 1 to %d of A-Z a-z 0-9 . _ -, not starting with '.'",
				SESAME_CLIENT_ID_MAX);
	if (store_path && (!*store_path || store_path[strlen(store_path) - 1] == '/'))
		return cl_error(err, SESAME_CLIENT_USAGE, "store", "the store path must name a file");
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_code != CURLE_OK)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "curl", "libcurl failed to initialise");
	c = calloc(1, sizeof(*c));
	if (!c)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->timeout_ms = SESAME_CLIENT_DEFAULT_TIMEOUT_MS;
	c->max_body = SESAME_CLIENT_DEFAULT_MAX_BODY;
	if (base_url) {
		rc = http_check_url(base_url, "the server URL", SESAME_CLIENT_USAGE, &c->base, err);
		if (rc != SESAME_CLIENT_OK) {
			sesame_client_close(c);
			return rc;
		}
	}
	store = store_path ? strdup(store_path) : sesame_client_default_store(app_id);
	if (!store) {
		sesame_client_close(c);
		return store_path ? cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory")
				  : cl_error(err, SESAME_CLIENT_USAGE, "store",
					     "no home directory is known: give the store's path");
	}
	c->store_path = store;
	n = strlen(store);
	c->app_id = strdup(app_id);
	c->lock_path = malloc(n + sizeof(".lock"));
	c->tmp_path = malloc(n + sizeof(".tmp"));
	c->curl = curl_easy_init();
	if (!c->app_id || !c->lock_path || !c->tmp_path || !c->curl) {
		sesame_client_close(c);
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	}
	snprintf(c->lock_path, n + sizeof(".lock"), "%s.lock", store);
	snprintf(c->tmp_path, n + sizeof(".tmp"), "%s.tmp", store);
	*client = c;
	return SESAME_CLIENT_OK;
}

int sesame_client_set_limits(sesame_client *c, long timeout_ms, size_t max_body, sesame_client_error *err)
{
	if (!c || timeout_ms < 0 || max_body > LARGEST_BODY_LIMIT)
		return cl_error(
		    err, SESAME_CLIENT_USAGE, "usage",
		    "sesame_client_set_limits: a client, a timeout of 0 or more and a body limit of at most "
		    "%zu bytes",
		    LARGEST_BODY_LIMIT);
	pthread_mutex_lock(&c->lock);
	c->timeout_ms = timeout_ms ? timeout_ms : SESAME_CLIENT_DEFAULT_TIMEOUT_MS;
	c->max_body = max_body ? max_body : SESAME_CLIENT_DEFAULT_MAX_BODY;
	pthread_mutex_unlock(&c->lock);
	return SESAME_CLIENT_OK;
}

int sesame_client_location(sesame_client *c, json_t **location, sesame_client_error *err)
{
	int rc;

	if (location)
		*location = NULL;
	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_location: `client` is NULL");
	pthread_mutex_lock(&c->lock);
	rc = session_locate(c, location, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- logging in ---------------------------------------------------------------- */

static int edit_device(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	char *out = arg;

	if (!s->device_id[0]) {
		if (cl_device_id_new(s->device_id) != 0)
			return cl_error(err, SESAME_CLIENT_INTERNAL, "random", "the random generator failed");
		*changed = true;
	}
	memcpy(out, s->device_id, 25);
	return SESAME_CLIENT_OK;
}

/*
 * A login or link body: `credential` (borrowed; NULL: {}) and
 * options.device with the store's device id (made on first use), as
 * realm-web sends it: {"$oid": ...}, canonical EJSON.
 */
static int login_body(struct sesame_client *c, const char *provider, const json_t *credential, json_t **body,
		      sesame_client_error *err)
{
	char device[25];
	struct utsname un;
	int rc;

	*body = NULL;
	if (!cl_name_valid(provider))
		return cl_error(err, SESAME_CLIENT_USAGE, "provider",
				"a provider name is 1 to %d of A-Z a-z 0-9 . _ -, not starting with '.'",
				SESAME_CLIENT_ID_MAX);
	if (credential && !json_is_object(credential))
		return cl_error(err, SESAME_CLIENT_USAGE, "credential", "the credential must be a JSON object");
	if (json_object_get(credential, "options"))
		return cl_error(err, SESAME_CLIENT_USAGE, "credential",
				"the credential must not hold \"options\": the client sends options.device itself");
	rc = store_update(c, edit_device, device, err);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	/* Shallow: the credential's strings stay the caller's to wipe. */
	*body = credential ? json_copy((json_t *)credential) : json_object();
	if (!*body || json_object_set_new(*body, "options",
					  json_pack("{s:{s:{s:s}, s:s, s:s, s:s}}", "device", "deviceId", "$oid",
						    device, "platform", uname(&un) == 0 ? un.sysname : "unknown", "sdk",
						    "sesame-client", "sdkVersion", PACKAGE_VERSION)) != 0) {
		json_decref(*body);
		*body = NULL;
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	}
	return SESAME_CLIENT_OK;
}

/* End a session we will not keep (best effort: nothing else can be done). */
static void discard_session(struct sesame_client *c, const char *refresh)
{
	struct cl_answer a;
	char *url = NULL;

	if (!cl_token_valid(refresh) ||
	    session_url(c, CLIENT_API "/auth/session", false, &url, NULL) != SESAME_CLIENT_OK)
		return;
	if (http_call(c, "DELETE", url, refresh, NULL, &a, NULL) == SESAME_CLIENT_OK)
		answer_clear(&a);
	free(url);
}

struct login_change {
	const struct cl_session *s;
	char **types;
	size_t n;
};

static int edit_login(struct cl_store *st, void *arg, bool *changed, sesame_client_error *err)
{
	const struct login_change *l = arg;
	long i = store_find(st, l->s->id);
	struct cl_user *u, *more;
	char *access = strdup(l->s->access), *refresh = strdup(l->s->refresh), *active = strdup(l->s->id);

	if (!access || !refresh || !active)
		goto oom;
	if (i < 0) {
		more = realloc(st->users, (st->n + 1) * sizeof(*more));
		if (!more)
			goto oom;
		st->users = more;
		u = &st->users[st->n];
		memset(u, 0, sizeof(*u));
		if (!(u->id = strdup(l->s->id)))
			goto oom;
		i = (long)st->n++;
	}
	u = &st->users[i];
	if (store_set_providers(u, l->types, l->n) < 0)
		goto oom;
	cl_free_secret(u->access);
	cl_free_secret(u->refresh);
	u->access = access;
	u->refresh = refresh;
	u->logged_in = true;
	store_promote(st, (size_t)i);
	free(st->active);
	st->active = active;
	*changed = true;
	return SESAME_CLIENT_OK;
oom:
	cl_free_secret(access);
	cl_free_secret(refresh);
	free(active);
	return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
}

static int do_login(sesame_client *c, const char *provider, const json_t *credential, char **user_id,
		    sesame_client_error *err)
{
	struct cl_session s = {0};
	struct login_change l = {&s, NULL, 0};
	struct cl_answer a = {0};
	json_t *body = NULL, *profile = NULL;
	char *url = NULL, *path = NULL, what[200];
	const char *access, *refresh, *id;
	int rc = login_body(c, provider, credential, &body, err);

	if (rc != SESAME_CLIENT_OK)
		return rc;
	snprintf(what, sizeof(what), "logging in with %s", provider);
	if (asprintf(&path, "/auth/providers/%s/login", provider) < 0)
		path = NULL;
	rc = path ? session_url(c, path, true, &url, err)
		  : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_CLIENT_OK)
		rc = http_call(c, "POST", url, NULL, body, &a, err);
	free(path);
	free(url);
	json_decref(body);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	rc = answer_check(&a, 0, true, NULL, what, err);
	access = json_string_value(json_object_get(a.json, "access_token"));
	refresh = json_string_value(json_object_get(a.json, "refresh_token"));
	id = json_string_value(json_object_get(a.json, "user_id"));
	if (rc == SESAME_CLIENT_OK && (!cl_token_valid(access) || !cl_token_valid(refresh) || !cl_id_valid(id))) {
		/* A session was perhaps opened: end it rather than leak it. */
		discard_session(c, refresh);
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
			      "%s: the answer lacks a valid \"access_token\", \"refresh_token\" or \"user_id\"", what);
	}
	if (rc == SESAME_CLIENT_OK) {
		s.id = strdup(id);
		s.access = strdup(access);
		s.refresh = strdup(refresh);
		if (!s.id || !s.access || !s.refresh)
			rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	}
	answer_clear(&a);
	if (rc == SESAME_CLIENT_OK)
		rc = session_profile(c, &s, &profile, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_profile_types(profile, &l.types, &l.n, err);
	if (rc == SESAME_CLIENT_OK)
		rc = store_update(c, edit_login, &l, err);
	if (rc == SESAME_CLIENT_OK && user_id && !(*user_id = strdup(s.id)))
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (rc != SESAME_CLIENT_OK && s.refresh)
		discard_session(c, s.refresh);
	free(l.types);
	json_decref(profile);
	session_clear(&s);
	return rc;
}

int sesame_client_login(sesame_client *c, const char *provider, const json_t *credential, char **user_id,
			sesame_client_error *err)
{
	int rc;

	if (user_id)
		*user_id = NULL;
	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_login: `client` is NULL");
	pthread_mutex_lock(&c->lock);
	rc = do_login(c, provider, credential, user_id, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- the user list ---------------------------------------------------------------- */

static int do_users(sesame_client *c, bool active_only, json_t **out, sesame_client_error *err)
{
	struct cl_store st;
	json_t *list = NULL, *entry;
	long i;
	size_t j;
	int rc = store_load(c, &st, err);

	if (rc != SESAME_CLIENT_OK)
		return rc;
	if (active_only) {
		i = store_find(&st, st.active);
		if (i < 0)
			rc = cl_error(err, SESAME_CLIENT_NO_USER, "no-active-user", "no user is logged in (%s)",
				      c->store_path);
		else if (!(*out = store_user_json(&st, (size_t)i)))
			rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
		store_clear(&st);
		return rc;
	}
	list = json_array();
	for (j = 0; list && j < st.n; j++) {
		entry = store_user_json(&st, j);
		if (!entry || json_array_append_new(list, entry) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	store_clear(&st);
	if (!list)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	*out = list;
	return SESAME_CLIENT_OK;
}

int sesame_client_users(sesame_client *c, json_t **users, sesame_client_error *err)
{
	int rc;

	if (!c || !users)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_users: NULL argument");
	*users = NULL;
	pthread_mutex_lock(&c->lock);
	rc = do_users(c, false, users, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int sesame_client_current_user(sesame_client *c, json_t **user, sesame_client_error *err)
{
	int rc;

	if (!c || !user)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_current_user: NULL argument");
	*user = NULL;
	pthread_mutex_lock(&c->lock);
	rc = do_users(c, true, user, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int edit_switch(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	const char *id = arg;
	long i = store_find(s, id);
	char *active;

	if (i < 0)
		return cl_error(err, SESAME_CLIENT_NO_USER, "unknown-user", "no user %s in the store", id);
	if (!s->users[i].logged_in)
		return cl_error(err, SESAME_CLIENT_REFUSED, "not-logged-in",
				"user %s is logged out: log in again to make it active", id);
	if (!(active = strdup(id)))
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	free(s->active);
	s->active = active;
	store_promote(s, (size_t)i);
	*changed = true;
	return SESAME_CLIENT_OK;
}

int sesame_client_switch(sesame_client *c, const char *user_id, sesame_client_error *err)
{
	int rc;

	if (!c || !cl_id_valid(user_id))
		return cl_error(err, SESAME_CLIENT_USAGE, "usage",
				"sesame_client_switch: a client and a valid user id");
	pthread_mutex_lock(&c->lock);
	rc = store_update(c, edit_switch, (void *)user_id, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- logout, removal, deletion ------------------------------------------------------- */

struct end_change {
	const char *id;
	const char *refresh; /* the session ended; NULL: the user was logged out */
	bool forget;
};

static int edit_end(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	const struct end_change *e = arg;
	long i = store_find(s, e->id);
	const struct cl_user *u;

	(void)err;
	if (i < 0)
		return SESAME_CLIENT_OK;
	u = &s->users[i];
	if (e->forget || store_user_anonymous(u)) {
		store_forget(s, (size_t)i);
		*changed = true;
	} else if (store_holds_refresh(u, e->refresh)) {
		/* Only the session we ended: another process may have logged
		 * the user in again since. */
		store_log_out(s, (size_t)i);
		*changed = true;
	}
	return SESAME_CLIENT_OK;
}

/* DELETE /auth/session for `s`: done on 2xx, and on 401 (already over). */
static int end_session(struct sesame_client *c, struct cl_session *s, sesame_client_error *err)
{
	struct cl_answer a;
	char *url = NULL;
	int rc = session_url(c, CLIENT_API "/auth/session", false, &url, err);

	if (rc == SESAME_CLIENT_OK)
		rc = http_call(c, "DELETE", url, s->refresh, NULL, &a, err);
	free(url);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	if (a.status != 401)
		rc = answer_check(&a, 0, false, s->refresh, "logging out", err);
	answer_clear(&a);
	return rc;
}

static int do_logout(sesame_client *c, const char *user_id, bool forget, sesame_client_error *err)
{
	struct end_change e = {user_id, NULL, forget};
	struct cl_session s;
	sesame_client_error mine;
	int rc = session_get(c, user_id, &s, &mine);

	if (rc == SESAME_CLIENT_REFUSED && strcmp(mine.reason, "not-logged-in") == 0) {
		/* Nothing to end: logging out is done, removing forgets. */
		return forget ? store_update(c, edit_end, &e, err) : SESAME_CLIENT_OK;
	}
	if (rc != SESAME_CLIENT_OK) {
		if (err)
			*err = mine;
		return rc;
	}
	rc = end_session(c, &s, err);
	e.id = s.id;
	e.refresh = s.refresh;
	if (rc == SESAME_CLIENT_OK)
		rc = store_update(c, edit_end, &e, err);
	session_clear(&s);
	return rc;
}

int sesame_client_logout(sesame_client *c, const char *user_id, sesame_client_error *err)
{
	int rc;

	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_logout: `client` is NULL");
	pthread_mutex_lock(&c->lock);
	rc = do_logout(c, user_id, false, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int sesame_client_remove(sesame_client *c, const char *user_id, sesame_client_error *err)
{
	int rc;

	if (!c || !user_id)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_remove: a client and a user id");
	pthread_mutex_lock(&c->lock);
	rc = do_logout(c, user_id, true, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int do_delete(sesame_client *c, sesame_client_error *err)
{
	struct cl_session s;
	struct end_change e = {NULL, NULL, true};
	struct cl_answer a;
	char *url = NULL;
	int rc = session_get(c, NULL, &s, err);

	if (rc != SESAME_CLIENT_OK)
		return rc;
	rc = session_url(c, CLIENT_API "/auth/delete", false, &url, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_call(c, &s, BEARER_ACCESS, "DELETE", url, NULL, &a, err);
	free(url);
	if (rc == SESAME_CLIENT_OK) {
		rc = answer_check(&a, 0, false, s.access, "deleting the user", err);
		answer_clear(&a);
	}
	e.id = s.id;
	if (rc == SESAME_CLIENT_OK)
		rc = store_update(c, edit_end, &e, err);
	session_clear(&s);
	return rc;
}

int sesame_client_delete(sesame_client *c, sesame_client_error *err)
{
	int rc;

	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_delete: `client` is NULL");
	pthread_mutex_lock(&c->lock);
	rc = do_delete(c, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- linking ------------------------------------------------------------------------ */

struct access_change {
	const char *id;
	const char *refresh;
	const char *access;
};

static int edit_access(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	const struct access_change *t = arg;
	long i = store_find(s, t->id);
	char *access;

	if (i < 0 || !store_holds_refresh(&s->users[i], t->refresh))
		return SESAME_CLIENT_OK;
	if (!(access = strdup(t->access)))
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	cl_free_secret(s->users[i].access);
	s->users[i].access = access;
	*changed = true;
	return SESAME_CLIENT_OK;
}

static int do_link(sesame_client *c, const char *provider, const json_t *credential, sesame_client_error *err)
{
	struct cl_session s;
	struct access_change t;
	struct cl_answer a;
	json_t *body = NULL;
	char *url = NULL, *path = NULL, *access = NULL, what[200];
	const char *got, *id;
	int rc = session_get(c, NULL, &s, err);

	if (rc == SESAME_CLIENT_OK)
		rc = login_body(c, provider, credential, &body, err);
	if (rc != SESAME_CLIENT_OK) {
		session_clear(&s);
		return rc;
	}
	snprintf(what, sizeof(what), "linking %s to user %s", provider, s.id);
	if (asprintf(&path, "/auth/providers/%s/login?link=true", provider) < 0)
		path = NULL;
	rc = path ? session_url(c, path, true, &url, err)
		  : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_CLIENT_OK)
		rc = session_call(c, &s, BEARER_ACCESS, "POST", url, body, &a, err);
	free(path);
	free(url);
	json_decref(body);
	if (rc != SESAME_CLIENT_OK) {
		session_clear(&s);
		return rc;
	}
	rc = answer_check(&a, 0, true, s.access, what, err);
	got = json_string_value(json_object_get(a.json, "access_token"));
	id = json_string_value(json_object_get(a.json, "user_id"));
	if (rc == SESAME_CLIENT_OK && !cl_token_valid(got))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "%s: the answer has no valid \"access_token\"",
			      what);
	if (rc == SESAME_CLIENT_OK && id && strcmp(id, s.id) != 0)
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "%s: the answer is for another user", what);
	/* The link answer's access token is the user's from now on; its
	 * refresh token (null from sesamed) is not kept, as no SDK keeps it. */
	if (rc == SESAME_CLIENT_OK && !(access = strdup(got)))
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	answer_clear(&a);
	if (rc == SESAME_CLIENT_OK) {
		cl_free_secret(s.access);
		s.access = access;
		t = (struct access_change){s.id, s.refresh, s.access};
		rc = store_update(c, edit_access, &t, err);
	}
	if (rc == SESAME_CLIENT_OK)
		rc = session_profile(c, &s, NULL, err);
	session_clear(&s);
	return rc;
}

int sesame_client_link(sesame_client *c, const char *provider, const json_t *credential, sesame_client_error *err)
{
	int rc;

	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_link: `client` is NULL");
	pthread_mutex_lock(&c->lock);
	rc = do_link(c, provider, credential, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- profile, custom data, the application's calls ---------------------------------- */

int sesame_client_profile(sesame_client *c, json_t **profile, sesame_client_error *err)
{
	struct cl_session s;
	int rc;

	if (!c || !profile)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_profile: NULL argument");
	*profile = NULL;
	pthread_mutex_lock(&c->lock);
	rc = session_get(c, NULL, &s, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_profile(c, &s, profile, err);
	session_clear(&s);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int do_custom_data(sesame_client *c, json_t **custom_data, sesame_client_error *err)
{
	struct cl_session s;
	json_t *claims, *data;
	int rc = session_get(c, NULL, &s, err);

	if (rc == SESAME_CLIENT_OK)
		rc = session_refresh(c, &s, err);
	if (rc != SESAME_CLIENT_OK) {
		session_clear(&s);
		return rc;
	}
	claims = cl_jwt_payload(s.access);
	data = json_object_get(claims, "user_data");
	if (!claims || (data && !json_is_object(data)))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
			      "the new access token carries no JSON object payload with an object \"user_data\"");
	else if (!(*custom_data = data ? json_deep_copy(data) : json_object()))
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	cl_json_wipe_decref(claims);
	session_clear(&s);
	return rc;
}

int sesame_client_refresh_custom_data(sesame_client *c, json_t **custom_data, sesame_client_error *err)
{
	int rc;

	if (!c || !custom_data)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_refresh_custom_data: NULL argument");
	*custom_data = NULL;
	pthread_mutex_lock(&c->lock);
	rc = do_custom_data(c, custom_data, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static bool method_valid(const char *m)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	size_t i;

	for (i = 0; m && i < ARRAY_SIZE(methods); i++)
		if (strcmp(m, methods[i]) == 0)
			return true;
	return false;
}

static bool path_valid(const char *p)
{
	size_t i;

	if (!p || p[0] != '/' || strlen(p) > 4096)
		return false;
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f || p[i] == '#' || p[i] == '\\')
			return false;
	return true;
}

static int do_call(sesame_client *c, const char *method, const char *path, const json_t *body, long *http_status,
		   json_t **answer, sesame_client_error *err)
{
	struct cl_session s;
	struct cl_answer a;
	char *url = NULL, what[128];
	int rc = session_get(c, NULL, &s, err);

	if (rc != SESAME_CLIENT_OK)
		return rc;
	/* The query is left out of messages: it is the application's. */
	snprintf(what, sizeof(what), "%s %.*s", method, (int)strcspn(path, "?"), path);
	rc = session_url(c, path, false, &url, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_call(c, &s, BEARER_ACCESS, method, url, body, &a, err);
	free(url);
	if (rc == SESAME_CLIENT_OK) {
		rc = answer_check(&a, 0, false, s.access, what, err);
		if (rc == SESAME_CLIENT_OK && a.not_json)
			rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "not-json", "%s: the server's answer is not JSON",
				      what);
		if (rc == SESAME_CLIENT_OK) {
			if (http_status)
				*http_status = a.status;
			if (answer)
				*answer = json_incref(a.json);
		}
		answer_clear(&a);
	}
	session_clear(&s);
	return rc;
}

int sesame_client_call(sesame_client *c, const char *method, const char *path, const json_t *body, long *http_status,
		       json_t **answer, sesame_client_error *err)
{
	int rc;

	if (answer)
		*answer = NULL;
	if (http_status)
		*http_status = 0;
	if (!c)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_call: `client` is NULL");
	if (!method_valid(method))
		return cl_error(err, SESAME_CLIENT_USAGE, "method",
				"the method must be GET, POST, PUT, PATCH or DELETE");
	if (!path_valid(path))
		return cl_error(err, SESAME_CLIENT_USAGE, "path",
				"the path must start with '/' and hold no space, control character, '#' or '\\'");
	pthread_mutex_lock(&c->lock);
	rc = do_call(c, method, path, body, http_status, answer, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
