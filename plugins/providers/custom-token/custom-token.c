/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/custom-token/custom-token.c — the custom-token provider:
 * logs users in with a JWT signed by the application's own issuer, verified
 * with configured keys or a JWKS URI through the host services (no crypto
 * or HTTP of its own).  The identity is the token's `sub`; its data are all
 * the claims, of which the core keeps the drop-in's metadata_fields (none
 * by default).  See sesame-custom-token(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MAX_SIGNING_KEYS 3
#define MAX_AUDIENCES	 16
#define MAX_LEEWAY	 300
#define DEFAULT_LEEWAY	 60
#define MAX_TOKEN_LENGTH (1024 * 1024)
#define MAX_SUB_LENGTH	 255

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
	sesame_keys *keys;
	char *audiences[MAX_AUDIENCES + 1];
	char *issuer;
	const char *issuers[2];
	struct sesame_jwt_rules rules;
};

static void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	if (st->keys)
		st->host->keys_free(st->keys);
	for (i = 0; i < MAX_AUDIENCES; i++)
		free(st->audiences[i]);
	free(st->issuer);
	free(st);
}

/* ---- configuration ------------------------------------------------------ */

static int check_known_keys(struct state *st, const json_t *config, sesame_error *err)
{
	static const char *const known[] = {"audience", "require_any_audience", "issuer", "leeway", "signing_keys",
					    "jwk_uri",	"max_token_length",	NULL};
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return st->host->error(err, SESAME_CONFIG, "config",
					       "unknown key \"%s\" (custom-token knows audience, require_any_audience, "
					       "issuer, leeway, signing_keys, jwk_uri, max_token_length)",
					       key);
	}
	return SESAME_OK;
}

static int load_audiences(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *aud = json_object_get(config, "audience"), *v;
	size_t i;

	if (!aud) {
		const char *app =
		    SESAME_HAS_FIELD(struct sesame_host, app_id, st->host->struct_size) && st->host->app_id
			? st->host->app_id(st->self)
			: NULL;

		if (!app)
			return st->host->error(err, SESAME_CONFIG, "config", "\"audience\" is required: %s",
					       "this sesame has no app_id to default to");
		st->audiences[0] = strdup(app);
		return st->audiences[0] ? SESAME_OK : st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (json_is_string(aud))
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"audience\" must be an array of strings, e.g. [\"%s\"]",
				       json_string_value(aud));
	if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > MAX_AUDIENCES)
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"audience\" must be an array of 1 to %d non-empty strings", MAX_AUDIENCES);
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"audience\"[%zu] must be a non-empty string", i);
		st->audiences[i] = strdup(json_string_value(v));
		if (!st->audiences[i])
			return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	return SESAME_OK;
}

static int load_rules(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *any = json_object_get(config, "require_any_audience"), *iss = json_object_get(config, "issuer");
	json_t *leeway = json_object_get(config, "leeway"), *max = json_object_get(config, "max_token_length");

	st->rules.struct_size = sizeof(st->rules);
	st->rules.audiences = (const char *const *)st->audiences;
	st->rules.leeway = DEFAULT_LEEWAY;
	if (any && !json_is_boolean(any))
		return st->host->error(err, SESAME_CONFIG, "config", "\"require_any_audience\" must be true or false");
	/* false: the token must carry every configured audience. */
	if (any && json_is_false(any))
		st->rules.flags |= SESAME_JWT_ALL_AUDIENCES;
	if (iss) {
		if (!json_is_string(iss) || json_string_length(iss) == 0)
			return st->host->error(err, SESAME_CONFIG, "config", "\"issuer\" must be a non-empty string");
		st->issuer = strdup(json_string_value(iss));
		if (!st->issuer)
			return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
		st->issuers[0] = st->issuer;
		st->rules.issuers = st->issuers;
	}
	if (leeway) {
		if (!json_is_integer(leeway) || json_integer_value(leeway) < 0 ||
		    json_integer_value(leeway) > MAX_LEEWAY)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"leeway\" must be an integer number of seconds from 0 to %d",
					       MAX_LEEWAY);
		st->rules.leeway = json_integer_value(leeway);
	}
	if (max) {
		if (!json_is_integer(max) || json_integer_value(max) < 256 ||
		    json_integer_value(max) > MAX_TOKEN_LENGTH)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"max_token_length\" must be an integer from 256 to %d",
					       MAX_TOKEN_LENGTH);
		st->rules.max_length = (size_t)json_integer_value(max);
	}
	return SESAME_OK;
}

static int load_keys(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *keys = json_object_get(config, "signing_keys"), *uri = json_object_get(config, "jwk_uri");

	if ((keys != NULL) == (uri != NULL))
		return st->host->error(err, SESAME_CONFIG, "config",
				       "give exactly one of \"signing_keys\" and \"jwk_uri\"");
	if (uri) {
		if (!json_is_string(uri))
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"jwk_uri\" must be a string (an https:// URL)");
		return st->host->keys_from_jwks_uri(st->self, json_string_value(uri), NULL, &st->keys, err);
	}
	if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_SIGNING_KEYS)
		return st->host->error(
		    err, SESAME_CONFIG, "config",
		    "\"signing_keys\" must be an array of 1 to %d {\"alg\", \"kid\", \"key\"} objects",
		    MAX_SIGNING_KEYS);
	return st->host->keys_from_config(st->self, keys, &st->keys, err);
}

static int ct_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		   sesame_error *err)
{
	struct state *st;
	int rc;

	*state = NULL;
	if (!SESAME_HAS_FIELD(struct sesame_host, jwt_verify, host->struct_size) || !host->jwt_verify ||
	    !host->keys_from_config || !host->keys_from_jwks_uri || !host->keys_free)
		return host->error(err, SESAME_CONFIG, "abi", "the host does not offer JWT verification");
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->host = host;
	st->self = self;
	if (!json_is_object(config)) {
		rc = host->error(err, SESAME_CONFIG, "config", "\"config\" must be an object");
		goto fail;
	}
	rc = check_known_keys(st, config, err);
	if (rc == SESAME_OK)
		rc = load_audiences(st, config, err);
	if (rc == SESAME_OK)
		rc = load_rules(st, config, err);
	if (rc == SESAME_OK)
		rc = load_keys(st, config, err);
	if (rc != SESAME_OK)
		goto fail;
	*state = st;
	return SESAME_OK;
fail:
	state_free(st);
	return rc;
}

static void ct_fini(void *state)
{
	state_free(state);
}

/* ---- verification ------------------------------------------------------- */

static int check_credential(struct state *st, const json_t *credential, const char **token, sesame_error *err)
{
	json_t *tok = json_object_get(credential, "token"), *v;
	const char *key;

	json_object_foreach((json_t *)credential, key, v) {
		/* Clients send "provider" and "options" (device info) with every login. */
		if (strcmp(key, "token") != 0 && strcmp(key, "provider") != 0 && strcmp(key, "options") != 0)
			return st->host->error(err, SESAME_MALFORMED, "credential",
					       "unknown credential member \"%.64s\" (expected \"token\")", key);
	}
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return st->host->error(err, SESAME_MALFORMED, "credential",
				       "the credential needs \"token\": a non-empty string");
	if (strlen(json_string_value(tok)) != json_string_length(tok))
		return st->host->error(err, SESAME_MALFORMED, "malformed", "the token contains a NUL byte");
	*token = json_string_value(tok);
	return SESAME_OK;
}

static int ct_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	struct state *st = state;
	json_t *claims = NULL, *sub;
	const char *token = NULL;
	int rc;

	*identity = NULL;
	rc = check_credential(st, credential, &token, err);
	if (rc != SESAME_OK)
		return rc;
	rc = st->host->jwt_verify(st->self, st->keys, token, &st->rules, &claims, err);
	if (rc != SESAME_OK)
		return rc;
	sub = json_object_get(claims, "sub");
	if (!json_is_string(sub) || json_string_length(sub) == 0 || json_string_length(sub) > MAX_SUB_LENGTH ||
	    strlen(json_string_value(sub)) != json_string_length(sub)) {
		rc = st->host->error(err, SESAME_REJECTED, "claim",
				     "claim \"sub\" must be a string of 1 to %d bytes without NUL", MAX_SUB_LENGTH);
		goto out;
	}
	/* Every claim is profile data; the drop-in's metadata_fields pick. */
	*identity = json_pack("{s:O, s:O}", "id", sub, "data", claims);
	if (!*identity)
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
out:
	json_decref(claims);
	return rc;
}

/* App Services keeps no claim of a custom JWT unless configured. */
static const char *const no_metadata[] = {NULL};

const struct sesame_provider sesame_provider_entry = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_provider),
    .type = "custom-token",
    .version = "0.1.0",
    .description = "JWTs signed by the application's own issuer (HS/RS/PS/ES/EdDSA keys or a JWKS URI)",
    .init = ct_init,
    .verify = ct_verify,
    .fini = ct_fini,
    .metadata_defaults = no_metadata,
};
