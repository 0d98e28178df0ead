/* SPDX-License-Identifier: MIT */
/*
 * hello.c — a sample third-party sesame provider plugin, type "hello".
 *
 * It verifies a credential {"username": "alice", "secret": "..."} against
 * a list of users in its configuration:
 *
 *   {"type": "hello",
 *    "config": {"users": {"alice": {"secret": "@/etc/sesame/secrets/alice",
 *                                   "name": "Alice"}}}}
 *
 * and vouches for the identity {"id": "alice", "data": {"name": "Alice"}}.
 * Its one action, "users", lists the configured user names for the system
 * user (`sesame action NAME users`).  It is small on purpose: it shows the
 * descriptor filled with designated initializers, configuration validation
 * with clear errors, the host services (error, log, ct_equal, wipe), an
 * action with the caller the core vouches for, and an immutable state that
 * makes verify() reentrant.  Build it with the Makefile beside it; see
 * sesame-provider(3).
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MAX_USERS 1024
#define MAX_NAME 255
#define MIN_SECRET 8

struct user {
	char *username;
	char *secret;
	size_t secret_length;
	char *name; /* display name, may be NULL */
};

/* Written once by init(), only read afterwards: verify() needs no lock. */
struct hello {
	const struct sesame_host *host;
	struct user *users;
	size_t n_users;
};

static void hello_fini(void *state)
{
	struct hello *h = state;
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n_users; i++) {
		struct user *u = &h->users[i];

		if (u->secret)
			h->host->wipe(u->secret, u->secret_length);
		free(u->secret);
		free(u->username);
		free(u->name);
	}
	free(h->users);
	free(h);
}

/* Fill one user from its configuration object; errors name the user. */
static int parse_user(struct hello *h, const char *username, const json_t *conf, struct user *u,
		      sesame_error *err)
{
	const struct sesame_host *host = h->host;
	const char *key;
	json_t *v;

	if (strlen(username) == 0 || strlen(username) > MAX_NAME)
		return host->error(err, SESAME_CONFIG, "users", "\"users\": a user name must have 1 to %d bytes",
				   MAX_NAME);
	if (!json_is_object(conf))
		return host->error(err, SESAME_CONFIG, "users",
				   "\"users.%s\": expected an object like {\"secret\": \"...\"}", username);
	json_object_foreach((json_t *)conf, key, v) {
		if (strcmp(key, "secret") != 0 && strcmp(key, "name") != 0)
			return host->error(err, SESAME_CONFIG, "unknown-key",
					   "\"users.%s\": unknown key \"%s\" (expected \"secret\", \"name\")", username,
					   key);
	}
	v = json_object_get(conf, "secret");
	if (!json_is_string(v) || json_string_length(v) < MIN_SECRET ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return host->error(err, SESAME_CONFIG, "secret",
				   "\"users.%s.secret\": expected a string of at least %d bytes without NUL "
				   "(inline, or \"@/path\" to a file readable by its owner only)",
				   username, MIN_SECRET);
	u->username = strdup(username);
	u->secret = strdup(json_string_value(v));
	u->secret_length = json_string_length(v);
	v = json_object_get(conf, "name");
	if (v && !json_is_string(v))
		return host->error(err, SESAME_CONFIG, "name", "\"users.%s.name\": expected a string", username);
	if (v)
		u->name = strdup(json_string_value(v));
	if (!u->username || !u->secret || (v && !u->name))
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

static int hello_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		      sesame_error *err)
{
	const json_t *users = json_object_get(config, "users");
	struct hello *h;
	const char *key;
	json_t *v;
	int rc;

	/* Every host function used here is in ABI 1.0; a plugin that relies
	 * on a later minor checks with SESAME_HAS_FIELD() before the call. */
	if (!SESAME_HAS_FIELD(struct sesame_host, ct_equal, host->struct_size))
		return SESAME_INTERNAL;
	/* `config` is the drop-in's "config" object and nothing else (the
	 * core applies "metadata_fields" itself): every other key is a typo. */
	json_object_foreach((json_t *)config, key, v) {
		if (strcmp(key, "users") != 0)
			return host->error(err, SESAME_CONFIG, "unknown-key",
					   "unknown key \"%s\" in the hello configuration (expected \"users\")", key);
	}
	if (!json_is_object(users) || json_object_size(users) == 0 || json_object_size(users) > MAX_USERS) {
		/* Since ABI 1.2 the core can point at the member in the drop-in
		 * (FILE:LINE:COL); an older core gets the plain message. */
		if (SESAME_HAS_FIELD(struct sesame_host, config_error, host->struct_size) && host->config_error)
			return host->config_error(self, err, SESAME_CONFIG, "users", "users",
						  "\"users\": expected an object of 1 to %d users, e.g. "
						  "{\"alice\": {\"secret\": \"@/etc/sesame/secrets/alice\"}}",
						  MAX_USERS);
		return host->error(err, SESAME_CONFIG, "users",
				   "\"users\": expected an object of 1 to %d users, e.g. "
				   "{\"alice\": {\"secret\": \"@/etc/sesame/secrets/alice\"}}",
				   MAX_USERS);
	}

	h = calloc(1, sizeof(*h));
	if (h)
		h->users = calloc(json_object_size(users), sizeof(*h->users));
	if (!h || !h->users) {
		free(h);
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	h->host = host;
	json_object_foreach((json_t *)users, key, v) {
		rc = parse_user(h, key, v, &h->users[h->n_users++], err);
		if (rc != SESAME_OK) {
			hello_fini(h);
			return rc;
		}
	}
	host->log(self, SESAME_LOG_INFO, "%zu user(s) configured", h->n_users);
	*state = h;
	return SESAME_OK;
}

static int hello_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct hello *h = state;
	const struct sesame_host *host = h->host;
	const json_t *username = json_object_get(credential, "username");
	const json_t *secret = json_object_get(credential, "secret");
	const struct user *found = NULL;
	size_t i;

	if (json_object_size(credential) != 2 || !json_is_string(username) || !json_is_string(secret))
		return host->error(err, SESAME_MALFORMED, "credential",
				   "expected a credential {\"username\": \"...\", \"secret\": \"...\"}");
	/* C strings end at a NUL, JSON strings do not: "alice\u0000x" must
	 * not pass for "alice" in the strcmp() below. */
	if (strlen(json_string_value(username)) != json_string_length(username) ||
	    strlen(json_string_value(secret)) != json_string_length(secret))
		return host->error(err, SESAME_MALFORMED, "credential",
				   "the user name and secret must not contain NUL");
	for (i = 0; i < h->n_users; i++)
		if (strcmp(h->users[i].username, json_string_value(username)) == 0)
			found = &h->users[i];
	/* One answer for an unknown user and a wrong secret: a client must
	 * not learn which user names exist. */
	if (!found || found->secret_length != json_string_length(secret) ||
	    !host->ct_equal(found->secret, json_string_value(secret), found->secret_length))
		return host->error(err, SESAME_REJECTED, "credential", "unknown user or wrong secret");

	*identity = json_pack("{s:s, s:{s:s*}}", "id", found->username, "data", "name", found->name);
	if (!*identity)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

/*
 * "users": the configured user names, for the system user only.  The caller
 * comes from the core (ABI 1.2), which never takes it from the arguments a
 * client sends.
 */
static int hello_action(void *state, const struct sesame_action_caller *caller, const char *name, const json_t *args,
			json_t **result, sesame_error *err)
{
	const struct hello *h = state;
	json_t *names;
	size_t i;

	(void)args;
	if (strcmp(name, "users") != 0)
		return h->host->error(err, SESAME_NOT_FOUND, "action", "hello has no action \"%s\" (users)", name);
	if (caller->kind != SESAME_CALLER_SYSTEM)
		return h->host->error(err, SESAME_REJECTED, "forbidden", "only the system user may list the users");
	names = json_array();
	for (i = 0; names && i < h->n_users; i++)
		if (json_array_append_new(names, json_string(h->users[i].username)) != 0) {
			json_decref(names);
			names = NULL;
		}
	if (!names || !(*result = json_pack("{s:o}", "users", names)))
		return h->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

/* The one exported symbol.  Everything else is static, and the Makefile
 * builds with -fvisibility=hidden, so nothing else leaves the plugin. */
__attribute__((visibility("default"))) const struct sesame_provider sesame_provider_entry = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_provider),
	.type = "hello",
	.version = "1.0.0",
	.description = "sample provider: a user name and a shared secret from the configuration",
	.init = hello_init,
	.verify = hello_verify,
	.fini = hello_fini,
	/* Since ABI 1.2: the action with a typed caller. */
	.action_as = hello_action,
	/* Optional and left out: .action and .user_deleted (NULL), and
	 * .capabilities (0: an ordinary, linkable provider; since ABI 1.2). */
};
