/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/anon-user/anon-user.c — the anonymous provider: every
 * login is a new identity (128 random bits), hence a new user, whose
 * sessions last `session_ttl` (5 years by default: App Services keeps
 * anonymous sessions practically forever).  The core deletes the user when
 * its last session logs out and never links an anonymous identity into an
 * existing user.  See sesame-anon-user(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define ID_BYTES	    16
#define DEFAULT_SESSION_TTL (5 * 365 * 86400LL)

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
};

/* The configured session lifetime, or the default; -1 after filling err. */
static int64_t config_session_ttl(const struct sesame_host *host, const json_t *config, sesame_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)config, key, v) {
		if (strcmp(key, "session_ttl") != 0) {
			host->error(err, SESAME_CONFIG, "config", "unknown key \"%s\" (anon-user knows session_ttl)",
				    key);
			return -1;
		}
	}
	v = json_object_get(config, "session_ttl");
	if (!v)
		return DEFAULT_SESSION_TTL;
	if (!json_is_integer(v)) {
		host->error(err, SESAME_CONFIG, "session_ttl", "session_ttl must be an integer (seconds)");
		return -1;
	}
	return json_integer_value(v);
}

static int anon_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		     sesame_error *err)
{
	struct state *st;
	int64_t ttl;
	int rc;

	if (!SESAME_HAS_FIELD(struct sesame_host, random_id, host->struct_size) || !host->set_session_ttl ||
	    !host->random_id)
		return host->error(err, SESAME_CONFIG, "abi",
				   "anon-user needs a sesame core with provider ABI 1.2 (set_session_ttl, random_id)");
	ttl = config_session_ttl(host, config, err);
	if (ttl < 0)
		return SESAME_CONFIG;
	rc = host->set_session_ttl(self, ttl, err);
	if (rc != SESAME_OK)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->host = host;
	st->self = self;
	*state = st;
	return SESAME_OK;
}

/* The empty credential clients send, {}, gives a new identity.  A member
 * is not ignored: whoever sends one means another provider (a typo in a
 * URL, a misrouted login), and should hear so. */
static int anon_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	struct state *st = state;
	char id[2 * ID_BYTES + 1];
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)credential, key, v) {
		/* Clients send "provider" and "options" (device info) with every login. */
		if (strcmp(key, "provider") != 0 && strcmp(key, "options") != 0)
			return st->host->error(err, SESAME_MALFORMED, "credential",
					       "anon-user takes the empty credential {}, not a member \"%.64s\"", key);
	}
	if (st->host->random_id(id, ID_BYTES) != SESAME_OK)
		return st->host->error(err, SESAME_INTERNAL, "random", "no randomness");
	*identity = json_pack("{s:s}", "id", id);
	return *identity ? SESAME_OK : st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

static void anon_fini(void *state)
{
	free(state);
}

/* An anonymous user has no profile. */
static const char *const no_metadata[] = {NULL};

const struct sesame_provider sesame_provider_entry = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_provider),
	.type = "anon-user",
	.version = "1.0.0",
	.description = "anonymous users: every login is a new user",
	.init = anon_init,
	.verify = anon_verify,
	.fini = anon_fini,
	.capabilities = SESAME_PROVIDER_CAP_ANONYMOUS | SESAME_PROVIDER_CAP_NO_LINK,
	.metadata_defaults = no_metadata,
};
