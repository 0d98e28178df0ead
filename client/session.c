/* SPDX-License-Identifier: MIT */
/*
 * client/session.c — what every authenticated call of libsesame-client
 * goes through: the location, one user's tokens out of the store, the
 * refresh-once rule for access-token calls, the logout on a 401 to a
 * refresh-token call, and the profile that tells a user's provider types.
 *
 * Tokens are copied out of the store for a call, and written back only
 * through store_update() and only while the user still holds the refresh
 * token the call used: another process may have logged the user out, or
 * in again, meanwhile, and its change wins.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

void session_clear(struct cl_session *s)
{
	free(s->id);
	cl_free_secret(s->access);
	cl_free_secret(s->refresh);
	memset(s, 0, sizeof(*s));
}

int session_get(struct sesame_client *c, const char *user_id, struct cl_session *s, sesame_client_error *err)
{
	struct cl_store st;
	long i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (user_id && !cl_id_valid(user_id))
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "a user id is 1 to %d of A-Z a-z 0-9 . _ -",
				SESAME_CLIENT_ID_MAX);
	rc = store_load(c, &st, err);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	i = store_find(&st, user_id ? user_id : st.active);
	if (i < 0) {
		rc = user_id ? cl_error(err, SESAME_CLIENT_NO_USER, "unknown-user", "no user %s in %s", user_id,
					c->store_path)
			     : cl_error(err, SESAME_CLIENT_NO_USER, "no-active-user", "no user is logged in (%s)",
					c->store_path);
	} else if (!st.users[i].logged_in) {
		rc = cl_error(err, SESAME_CLIENT_REFUSED, "not-logged-in", "user %s is logged out", st.users[i].id);
	} else {
		s->id = strdup(st.users[i].id);
		s->access = strdup(st.users[i].access);
		s->refresh = strdup(st.users[i].refresh);
		s->anonymous = store_user_anonymous(&st.users[i]);
		rc = s->id && s->access && s->refresh
			 ? SESAME_CLIENT_OK
			 : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	}
	store_clear(&st);
	if (rc != SESAME_CLIENT_OK)
		session_clear(s);
	return rc;
}

int session_locate(struct sesame_client *c, json_t **location, sesame_client_error *err)
{
	struct cl_answer a;
	char *url = NULL, *host = NULL;
	const char *members[] = {"deployment_model", "location", "hostname", "ws_hostname"};
	size_t i;
	int rc;

	if (!c->base)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "no server URL was given");
	if (asprintf(&url, "%s" CLIENT_API "/app/%s/location", c->base, c->app_id) < 0)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	rc = http_call(c, "GET", url, NULL, NULL, &a, err);
	free(url);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	rc = answer_check(&a, 200, true, NULL, "location", err);
	if (rc == SESAME_CLIENT_OK && !json_is_object(a.json))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "location: the server's answer is not an object");
	if (rc == SESAME_CLIENT_OK && !json_object_get(a.json, "hostname"))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
			      "location: \"hostname\" in the server's answer is missing");
	/* Only the hostname is needed; the others must be what the API says
	 * when they are there. */
	for (i = 0; rc == SESAME_CLIENT_OK && i < ARRAY_SIZE(members); i++)
		if (json_object_get(a.json, members[i]) && !json_is_string(json_object_get(a.json, members[i])))
			rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
				      "location: \"%s\" in the server's answer is not a string", members[i]);
	if (rc == SESAME_CLIENT_OK)
		rc = http_check_url(json_string_value(json_object_get(a.json, "hostname")), "the location's hostname",
				    SESAME_CLIENT_PROTOCOL, &host, err);
	if (rc == SESAME_CLIENT_OK) {
		free(c->host);
		c->host = host;
		if (location)
			*location = json_incref(a.json);
	}
	answer_clear(&a);
	return rc;
}

int session_url(struct sesame_client *c, const char *path, bool app_path, char **url, sesame_client_error *err)
{
	int rc = c->host ? SESAME_CLIENT_OK : session_locate(c, NULL, err);

	*url = NULL;
	if (rc != SESAME_CLIENT_OK)
		return rc;
	if ((app_path ? asprintf(url, "%s" CLIENT_API "/app/%s%s", c->host, c->app_id, path)
		      : asprintf(url, "%s%s", c->host, path)) < 0) {
		*url = NULL;
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	}
	return SESAME_CLIENT_OK;
}

/* ---- writing tokens back ---------------------------------------------------------- */

struct token_change {
	const char *id;
	const char *refresh; /* the refresh token the call used */
	const char *access;  /* the new access token; NULL: the session is over */
};

static int edit_tokens(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	const struct token_change *t = arg;
	long i = store_find(s, t->id);
	char *access;

	if (i < 0 || !store_holds_refresh(&s->users[i], t->refresh))
		return SESAME_CLIENT_OK;
	*changed = true;
	if (!t->access) {
		/* An anonymous user cannot log in again: the server deletes it
		 * with its session, so the client forgets it. */
		if (store_user_anonymous(&s->users[i]))
			store_forget(s, (size_t)i);
		else
			store_log_out(s, (size_t)i);
		return SESAME_CLIENT_OK;
	}
	access = strdup(t->access);
	if (!access)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	cl_free_secret(s->users[i].access);
	s->users[i].access = access;
	return SESAME_CLIENT_OK;
}

/* The session of `s` ended on the server (a 401 to its refresh token). */
static int session_ended(struct sesame_client *c, struct cl_session *s, const struct cl_answer *a, const char *what,
			 sesame_client_error *err)
{
	struct token_change t = {s->id, s->refresh, NULL};
	sesame_client_error server;
	int rc = store_update(c, edit_tokens, &t, err);

	if (rc != SESAME_CLIENT_OK)
		return rc;
	answer_check(a, 0, false, s->refresh, what, &server);
	cl_error(err, SESAME_CLIENT_REFUSED, "logged-out", "%s; user %s is now logged out", server.text, s->id);
	if (err) {
		err->http_status = server.http_status;
		memcpy(err->code, server.code, sizeof(err->code));
	}
	return SESAME_CLIENT_REFUSED;
}

int session_refresh(struct sesame_client *c, struct cl_session *s, sesame_client_error *err)
{
	struct token_change t = {s->id, s->refresh, NULL};
	struct cl_answer a;
	const char *access;
	char *url = NULL, *copy;
	int rc = session_url(c, CLIENT_API "/auth/session", false, &url, err);

	if (rc == SESAME_CLIENT_OK)
		rc = http_call(c, "POST", url, s->refresh, NULL, &a, err);
	free(url);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	if (a.status == 401) {
		rc = session_ended(c, s, &a, "refreshing the session", err);
		answer_clear(&a);
		return rc;
	}
	rc = answer_check(&a, 0, true, s->refresh, "refreshing the session", err);
	access = json_string_value(json_object_get(a.json, "access_token"));
	if (rc == SESAME_CLIENT_OK && !cl_token_valid(access))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
			      "refreshing the session: the answer has no valid \"access_token\"");
	if (rc == SESAME_CLIENT_OK && !(copy = strdup(access)))
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_CLIENT_OK) {
		cl_free_secret(s->access);
		s->access = copy;
		t.access = copy;
		rc = store_update(c, edit_tokens, &t, err);
	}
	answer_clear(&a);
	return rc;
}

int session_call(struct sesame_client *c, struct cl_session *s, enum bearer kind, const char *method, const char *url,
		 const json_t *body, struct cl_answer *a, sesame_client_error *err)
{
	int rc = http_call(c, method, url, kind == BEARER_ACCESS ? s->access : s->refresh, body, a, err);
	char what[160];

	if (rc != SESAME_CLIENT_OK)
		return rc;
	if (kind == BEARER_REFRESH && a->status == 401) {
		snprintf(what, sizeof(what), "%s %s", method, strstr(url, CLIENT_API) ? strstr(url, CLIENT_API) : url);
		rc = session_ended(c, s, a, what, err);
		answer_clear(a);
		return rc;
	}
	/* Once: a second InvalidSession is the answer (e.g. a link conflict),
	 * not a reason to refresh again. */
	if (kind == BEARER_ACCESS && a->status == 401 && strcmp(answer_code(a), "InvalidSession") == 0) {
		answer_clear(a);
		rc = session_refresh(c, s, err);
		if (rc == SESAME_CLIENT_OK)
			rc = http_call(c, method, url, s->access, body, a, err);
	}
	return rc;
}

/* ---- the profile ----------------------------------------------------------------- */

struct types_change {
	const char *id;
	char **types;
	size_t n;
};

static int edit_types(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	const struct types_change *t = arg;
	long i = store_find(s, t->id);
	int r;

	if (i < 0)
		return SESAME_CLIENT_OK;
	r = store_set_providers(&s->users[i], t->types, t->n);
	if (r < 0)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	*changed = r > 0;
	return SESAME_CLIENT_OK;
}

int session_profile_types(const json_t *profile, char ***types, size_t *n, sesame_client_error *err)
{
	json_t *ids = json_object_get(profile, "identities"), *id;
	const char *type;
	size_t i, j;

	*types = NULL;
	*n = 0;
	if (!json_is_array(ids))
		return cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "profile: \"identities\" is not an array");
	*types = calloc(PROVIDERS_MAX, sizeof(char *));
	if (!*types)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	json_array_foreach(ids, i, id) {
		type = json_string_value(json_object_get(id, "provider_type"));
		if (!cl_id_valid(type))
			return cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
					"profile: identity %zu has no valid \"provider_type\"", i);
		for (j = 0; j < *n && strcmp((*types)[j], type) != 0; j++)
			;
		if (j < *n)
			continue;
		if (*n == PROVIDERS_MAX)
			return cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "profile: more than %d provider types",
					PROVIDERS_MAX);
		(*types)[(*n)++] = (char *)type;
	}
	return SESAME_CLIENT_OK;
}

int session_profile(struct sesame_client *c, struct cl_session *s, json_t **profile, sesame_client_error *err)
{
	struct types_change t = {s->id, NULL, 0};
	struct cl_answer a;
	const char *user;
	char *url = NULL;
	int rc = session_url(c, CLIENT_API "/auth/profile", false, &url, err);

	if (profile)
		*profile = NULL;
	if (rc == SESAME_CLIENT_OK)
		rc = session_call(c, s, BEARER_ACCESS, "GET", url, NULL, &a, err);
	free(url);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	rc = answer_check(&a, 200, true, s->access, "profile", err);
	user = json_string_value(json_object_get(a.json, "user_id"));
	if (rc == SESAME_CLIENT_OK && (!user || strcmp(user, s->id) != 0))
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "profile: the answer is not user %s's profile",
			      s->id);
	if (rc == SESAME_CLIENT_OK)
		rc = session_profile_types(a.json, &t.types, &t.n, err);
	if (rc == SESAME_CLIENT_OK)
		rc = store_update(c, edit_types, &t, err);
	if (rc == SESAME_CLIENT_OK && profile)
		*profile = json_incref(a.json);
	free(t.types);
	answer_clear(&a);
	return rc;
}
