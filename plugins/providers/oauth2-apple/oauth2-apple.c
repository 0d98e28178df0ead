/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/oauth2-apple/oauth2-apple.c — the oauth2-apple
 * provider: Sign in with Apple.  Verifies Apple ID tokens ({id_token}, with
 * the raw nonce when the client used one), exchanges authorization codes
 * ({authCode} or {code}) at Apple's token endpoint with a client secret
 * that sesame signs itself (an ES256 JWT made with the team's .p8 key), keeps
 * Apple's refresh token in the identity's private data, and revokes it at
 * Apple when the user is deleted.  See sesame-oauth2-apple(5).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#include "../oauth2/oauth2.h"

#define APPLE_ISSUER "https://appleid.apple.com"
#define DEFAULT_JWKS_URI "https://appleid.apple.com/auth/keys"
#define DEFAULT_TOKEN_URI "https://appleid.apple.com/auth/token"
#define DEFAULT_REVOKE_URI "https://appleid.apple.com/auth/revoke"
#define DEFAULT_AUTHORIZE_URI "https://appleid.apple.com/auth/authorize"
#define DEFAULT_SCOPE "name email"
/* Apple refuses client secrets that live longer than six months. */
#define MAX_SECRET_TTL 15777000
#define DEFAULT_SECRET_TTL 86400
#define MIN_SECRET_TTL 60
#define DEFAULT_LEEWAY 60
#define MAX_LEEWAY 300
#define MAX_REDIRECTS 32
#define MAX_TOKEN 16384
#define MAX_CODE 4096
#define MAX_NONCE 512
#define MAX_REFRESH 4096
#define MAX_USER 4096

struct state {
	struct oa_ctx c;
	sesame_keys *apple_keys;  /* Apple's JWKS */
	sesame_keys *signing_key; /* the team's .p8 key, for client secrets */
	char *client_ids[OA_MAX_CLIENT_IDS + 1];
	char *team_id;
	char *key_id;
	int64_t secret_ttl;
	char *redirect_uri;
	char **redirect_uris;
	char *token_uri;
	char *revoke_uri;
	char *authorize_uri;
	char *scope;
	bool require_nonce;
	struct sesame_jwt_rules rules;

	/* The client secret of each client id, reused until half its life is
	 * gone: signing one per login would be wasted work. */
	pthread_mutex_t lock;
	char *secrets[OA_MAX_CLIENT_IDS];
	int64_t secret_made[OA_MAX_CLIENT_IDS];
};

static const char *const apple_issuers[] = {APPLE_ISSUER, NULL};
static const char *const apple_algs[] = {"RS256", NULL};

static void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	if (st->apple_keys)
		st->c.host->keys_free(st->apple_keys);
	if (st->signing_key)
		st->c.host->keys_free(st->signing_key);
	oa_strings_free(st->client_ids, OA_MAX_CLIENT_IDS);
	free(st->team_id);
	free(st->key_id);
	free(st->redirect_uri);
	oa_list_free(st->redirect_uris);
	free(st->token_uri);
	free(st->revoke_uri);
	free(st->authorize_uri);
	free(st->scope);
	for (i = 0; i < OA_MAX_CLIENT_IDS; i++)
		oa_secret_free(st->c.host, st->secrets[i]);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- client secret ------------------------------------------------------ */

/* A fresh client secret for client id number `which`: {iss: team, sub:
 * client id, aud: Apple, iat, exp}, ES256, header kid = key id. */
static int sign_client_secret(struct state *st, size_t which, int64_t now, char **out, sesame_error *err)
{
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", st->team_id, "sub", st->client_ids[which], "aud",
				   APPLE_ISSUER, "iat", (json_int_t)now, "exp", (json_int_t)(now + st->secret_ttl));
	char *token = NULL;
	int rc;

	if (!claims)
		return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->c.host->jwt_sign(st->c.self, st->signing_key, st->key_id, NULL, claims, &token, err);
	json_decref(claims);
	if (rc != SESAME_OK)
		return rc;
	*out = strdup(token);
	st->c.host->wipe(token, strlen(token));
	st->c.host->free(token);
	return *out ? SESAME_OK : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* The client secret for client id number `which`, a malloc'd copy. */
static int client_secret(struct state *st, size_t which, char **out, sesame_error *err)
{
	int64_t now = st->c.host->now(st->c.self);
	int rc = SESAME_OK;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	if (!st->secrets[which] || now - st->secret_made[which] >= st->secret_ttl / 2 || now < st->secret_made[which]) {
		char *fresh = NULL;

		rc = sign_client_secret(st, which, now, &fresh, err);
		if (rc == SESAME_OK) {
			oa_secret_free(st->c.host, st->secrets[which]);
			st->secrets[which] = fresh;
			st->secret_made[which] = now;
		}
	}
	if (rc == SESAME_OK) {
		*out = strdup(st->secrets[which]);
		if (!*out)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- configuration ------------------------------------------------------ */

static int load_integer(struct state *st, const json_t *config, const char *key, int64_t min, int64_t max,
			int64_t fallback, int64_t *out, sesame_error *err)
{
	json_t *v = json_object_get(config, key);

	*out = fallback;
	if (!v)
		return SESAME_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return st->c.host->error(err, SESAME_CONFIG, "config",
					 "\"%s\" must be an integer number of seconds from %lld to %lld", key,
					 (long long)min, (long long)max);
	*out = json_integer_value(v);
	return SESAME_OK;
}

/* The code-exchange keys come as a set: team_id, key_id and private_key. */
static int load_signing(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *team = json_object_get(config, "team_id"), *kid = json_object_get(config, "key_id");
	json_t *pem = json_object_get(config, "private_key"), *list;
	int rc;

	if (!team && !kid && !pem)
		return SESAME_OK;
	if (!team || !kid || !pem)
		return st->c.host->error(err, SESAME_CONFIG, "config",
					 "\"team_id\", \"key_id\" and \"private_key\" go together: the client secret "
					 "of a code exchange needs all three");
	rc = oa_load_string(&st->c, config, "team_id", NULL, &st->team_id, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "key_id", NULL, &st->key_id, err);
	if (rc == SESAME_OK && (!json_is_string(pem) || json_string_length(pem) == 0))
		rc = st->c.host->error(err, SESAME_CONFIG, "config",
				       "\"private_key\" must be the team's .p8 key (PEM), inline or \"@/path\"");
	if (rc != SESAME_OK)
		return rc;
	list = json_pack("[{s:s, s:s, s:O}]", "alg", "ES256", "kid", st->key_id, "key", pem);
	if (!list)
		return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->c.host->keys_from_config(st->c.self, list, &st->signing_key, err);
	json_decref(list);
	if (rc != SESAME_OK)
		return st->c.host->error(err, SESAME_CONFIG, "config",
					 "\"private_key\" is not an ES256 (P-256) private key in PEM form");
	return SESAME_OK;
}

static int load_config(struct state *st, const json_t *config, sesame_error *err)
{
	static const char *const known[] = {"client_id",   "client_ids",	"team_id",	"key_id",
					    "private_key", "client_secret_ttl", "jwks_uri",	"token_uri",
					    "revoke_uri",  "authorize_uri",	"redirect_uri", "redirect_uris",
					    "scope",	   "require_nonce",	"leeway",	NULL};
	json_t *nonce = json_object_get(config, "require_nonce");
	char *jwks = NULL;
	int rc = oa_check_known_keys(&st->c, config, known, err);

	if (rc == SESAME_OK)
		rc = oa_load_client_ids(&st->c, config, st->client_ids, err);
	if (rc == SESAME_OK)
		rc = load_integer(st, config, "client_secret_ttl", MIN_SECRET_TTL, MAX_SECRET_TTL, DEFAULT_SECRET_TTL,
				  &st->secret_ttl, err);
	if (rc == SESAME_OK)
		rc = load_integer(st, config, "leeway", 0, MAX_LEEWAY, DEFAULT_LEEWAY, &st->rules.leeway, err);
	if (rc == SESAME_OK && nonce && !json_is_boolean(nonce))
		rc = st->c.host->error(err, SESAME_CONFIG, "config", "\"require_nonce\" must be true or false");
	st->require_nonce = json_is_true(nonce);
	if (rc == SESAME_OK)
		rc = load_signing(st, config, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "redirect_uri", NULL, &st->redirect_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_string_list(&st->c, config, "redirect_uris", MAX_REDIRECTS, &st->redirect_uris, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "token_uri", DEFAULT_TOKEN_URI, &st->token_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "revoke_uri", DEFAULT_REVOKE_URI, &st->revoke_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "authorize_uri", DEFAULT_AUTHORIZE_URI, &st->authorize_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "scope", DEFAULT_SCOPE, &st->scope, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "jwks_uri", DEFAULT_JWKS_URI, &jwks, err);
	if (rc == SESAME_OK)
		rc = st->c.host->keys_from_jwks_uri(st->c.self, jwks, apple_algs, &st->apple_keys, err);
	free(jwks);
	st->rules.struct_size = sizeof(st->rules);
	st->rules.audiences = (const char *const *)st->client_ids;
	st->rules.issuers = apple_issuers;
	st->rules.algorithms = apple_algs;
	st->rules.max_length = MAX_TOKEN;
	return rc;
}

static int apple_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		      sesame_error *err)
{
	struct state *st;
	char *secret = NULL;
	int rc;

	*state = NULL;
	rc = oa_check_host(host, true, err);
	if (rc != SESAME_OK)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->c = (struct oa_ctx){.host = host, .self = self, .type = "oauth2-apple"};
	pthread_mutex_init(&st->lock, NULL);
	rc = load_config(st, config, err);
	/* Sign one client secret now, so a bad key stops the start, not the
	 * first login. */
	if (rc == SESAME_OK && st->signing_key) {
		rc = client_secret(st, 0, &secret, err);
		if (rc != SESAME_OK)
			rc = host->error(err, SESAME_CONFIG, "config",
					 "cannot sign a client secret with \"private_key\" and \"key_id\"");
		oa_secret_free(host, secret);
	}
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

static void apple_fini(void *state)
{
	state_free(state);
}

/* ---- ID token ----------------------------------------------------------- */

/* The token's nonce must be the hex SHA-256 of the raw nonce the client
 * holds: a stolen ID token cannot be replayed by someone without it.  A
 * token that carries a nonce is bound to it, so leaving the nonce out
 * never skips the check; require_nonce only decides about tokens
 * without one. */
static int check_nonce(struct state *st, const json_t *claims, const char *raw, sesame_error *err)
{
	json_t *v = json_object_get(claims, "nonce");
	unsigned char digest[32];
	char hex[65];

	if (!raw && v)
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "the id_token carries a nonce: send the raw \"nonce\" beside it");
	if (!raw && !st->require_nonce)
		return SESAME_OK;
	if (!raw)
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "this provider requires a \"nonce\" beside the id_token");
	if (st->c.host->sha256(raw, strlen(raw), digest) != SESAME_OK)
		return st->c.host->error(err, SESAME_INTERNAL, "crypto", "SHA-256 failed");
	if (oa_hex(st->c.host, digest, sizeof(digest), hex, err) != SESAME_OK)
		return err ? err->status : SESAME_INTERNAL;
	if (!json_is_string(v) || json_string_length(v) != 64 || !st->c.host->ct_equal(json_string_value(v), hex, 64))
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "claim \"nonce\" is not the SHA-256 of the client's nonce");
	return SESAME_OK;
}

static int identity_from_claims(struct state *st, const json_t *claims, const char *client_id, const char *refresh,
				json_t **identity, sesame_error *err)
{
	json_t *data = json_object(), *priv = NULL;
	const char *sub = NULL;
	int rc = oa_subject(&st->c, claims, "sub", &sub, err);

	if (rc == SESAME_OK && !data)
		rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	/* Strict: only true or "true" count.  A relay address is still the
	 * user's verified address; it never links accounts (nothing does). */
	if (rc == SESAME_OK && oa_claim_true(claims, "email_verified"))
		rc = oa_copy_string(&st->c, data, "email", claims, "email", err);
	if (rc == SESAME_OK && oa_claim_true(claims, "is_private_email") &&
	    json_object_set_new(data, "is_private_email", json_true()) != 0)
		rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK && refresh) {
		priv = json_pack("{s:s, s:s}", "refresh_token", refresh, "client_id", client_id);
		if (!priv)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK) {
		*identity = json_pack("{s:s, s:O}", "id", sub, "data", data);
		if (!*identity || (priv && json_object_set(*identity, "private", priv) != 0))
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(data);
	json_decref(priv);
	return rc;
}

static int verify_id_token(struct state *st, const char *token, const char *nonce, const char *client_id,
			   const char *refresh, json_t **identity, sesame_error *err)
{
	json_t *claims = NULL;
	int rc = st->c.host->jwt_verify(st->c.self, st->apple_keys, token, &st->rules, &claims, err);

	if (rc == SESAME_OK)
		rc = check_nonce(st, claims, nonce, err);
	if (rc == SESAME_OK)
		rc = identity_from_claims(st, claims, client_id, refresh, identity, err);
	json_decref(claims);
	if (rc != SESAME_OK && *identity) {
		json_decref(*identity);
		*identity = NULL;
	}
	return rc;
}

/* ---- authorization code ------------------------------------------------- */

static int client_index(struct state *st, const char *client_id, size_t *which, sesame_error *err)
{
	size_t i;

	*which = 0;
	if (!client_id)
		return SESAME_OK;
	for (i = 0; st->client_ids[i]; i++)
		if (strcmp(st->client_ids[i], client_id) == 0) {
			*which = i;
			return SESAME_OK;
		}
	return st->c.host->error(err, SESAME_REJECTED, "credential",
				 "\"client_id\" is not one of this provider's client ids");
}

static int tokens_of_reply(struct state *st, long status, const json_t *reply, const char **id_token,
			   const char **refresh, sesame_error *err)
{
	json_t *e = json_object_get(reply, "error"), *tok = json_object_get(reply, "id_token");
	json_t *rt = json_object_get(reply, "refresh_token");

	if (status >= 500 || (!reply && status != 200))
		return st->c.host->error(err, SESAME_UNAVAILABLE, "upstream",
					 "Apple's token endpoint answered HTTP %ld", status);
	if (status != 200 || e)
		return st->c.host->error(err, SESAME_REJECTED, "upstream",
					 "Apple refused the authorization code (HTTP %ld, %.64s)", status,
					 json_is_string(e) ? json_string_value(e) : "no error code");
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return st->c.host->error(err, SESAME_REJECTED, "upstream",
					 "Apple's token endpoint returned no id_token");
	*id_token = json_string_value(tok);
	*refresh = json_is_string(rt) && json_string_length(rt) > 0 && json_string_length(rt) <= MAX_REFRESH
		       ? json_string_value(rt)
		       : NULL;
	return SESAME_OK;
}

static int exchange_code(struct state *st, const char *code, const json_t *credential, const char *nonce,
			 json_t **identity, sesame_error *err)
{
	const char *client_id = json_string_value(json_object_get(credential, "client_id"));
	const char *redirect = json_string_value(json_object_get(credential, "redirect_uri"));
	const char *verifier = json_string_value(json_object_get(credential, "code_verifier"));
	const char *id_token = NULL, *refresh = NULL;
	struct oa_form form = {.host = st->c.host};
	char *secret = NULL;
	json_t *reply = NULL;
	long status = 0;
	size_t which;
	int rc;

	if (!st->signing_key)
		return st->c.host->error(err, SESAME_REJECTED, "config",
					 "this instance has no team_id/key_id/private_key: it accepts only {id_token}");
	rc = client_index(st, client_id, &which, err);
	if (rc == SESAME_OK)
		rc = client_secret(st, which, &secret, err);
	if (rc != SESAME_OK)
		return rc;
	oa_form_add(&form, "grant_type", "authorization_code");
	oa_form_add(&form, "code", code);
	oa_form_add(&form, "client_id", st->client_ids[which]);
	oa_form_add(&form, "client_secret", secret);
	if (redirect || st->redirect_uri)
		oa_form_add(&form, "redirect_uri", redirect ? redirect : st->redirect_uri);
	if (verifier)
		oa_form_add(&form, "code_verifier", verifier);
	oa_secret_free(st->c.host, secret);
	rc = oa_http_json(&st->c, "POST", st->token_uri, &form, "Apple's token endpoint", &status, &reply, err);
	oa_form_clear(st->c.host, &form);
	if (rc == SESAME_OK)
		rc = tokens_of_reply(st, status, reply, &id_token, &refresh, err);
	/* What the token endpoint returns is verified like a client's token
	 * (signature, iss, aud, exp, nonce): TLS alone is not trusted. */
	if (rc == SESAME_OK)
		rc = verify_id_token(st, id_token, nonce, st->client_ids[which], refresh, identity, err);
	json_decref(reply);
	return rc;
}

/*
 * The user's name, which Apple gives the app once, at the first
 * authorization, beside the token and not in it: the credential's "user",
 * Apple's own object {"name": {"firstName", "lastName"}, "email"} or its
 * JSON text (the form_post field).  Unsigned, like any profile data a
 * client sends; its email is ignored (the token's verified one counts).
 * `*names` gets a new object with name, first_name and last_name when given.
 */
static int names_of_user(struct state *st, const json_t *credential, json_t **names, sesame_error *err)
{
	const json_t *user = json_object_get(credential, "user"), *name;
	const char *first, *last;
	json_t *parsed = NULL;
	int rc = SESAME_OK;

	*names = json_object();
	if (!*names)
		return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (!user)
		return SESAME_OK;
	if (json_is_string(user) && json_string_length(user) <= MAX_USER)
		user = parsed = json_loadb(json_string_value(user), json_string_length(user), JSON_REJECT_DUPLICATES,
					   NULL);
	if (!json_is_object(user)) {
		json_decref(parsed);
		return st->c.host->error(err, SESAME_MALFORMED, "credential",
					 "\"user\" must be Apple's user object, or its JSON text of at most %d bytes",
					 MAX_USER);
	}
	name = json_object_get(user, "name");
	rc = oa_copy_string(&st->c, *names, "first_name", name, "firstName", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, *names, "last_name", name, "lastName", err);
	first = json_string_value(json_object_get(*names, "first_name"));
	last = json_string_value(json_object_get(*names, "last_name"));
	if (rc == SESAME_OK && (first || last)) {
		size_t n = (first ? strlen(first) : 0) + (last ? strlen(last) : 0) + 2;
		char *full = malloc(n);

		if (full)
			snprintf(full, n, "%s%s%s", first ? first : "", first && last ? " " : "", last ? last : "");
		if (!full || json_object_set_new(*names, "name", json_string(full)) != 0)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
		free(full);
	}
	json_decref(parsed);
	return rc;
}

static int verify_credential(struct state *st, const json_t *credential, json_t **identity, sesame_error *err)
{
	static const char *const allowed[] = {"id_token",     "authCode",      "code", "nonce", "client_id",
					      "redirect_uri", "code_verifier", "user", NULL};
	static const char *const strings[] = {"client_id", "redirect_uri", "code_verifier", NULL};
	const char *token = NULL, *code = NULL, *code2 = NULL, *nonce = NULL, *other = NULL;
	size_t i;
	int rc;

	rc = oa_check_credential_keys(&st->c, credential, allowed, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "id_token", MAX_TOKEN, &token, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "authCode", MAX_CODE, &code, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "code", MAX_CODE, &code2, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "nonce", MAX_NONCE, &nonce, err);
	for (i = 0; rc == SESAME_OK && strings[i]; i++)
		rc = oa_credential_string(&st->c, credential, strings[i], OA_MAX_URL, &other, err);
	if (rc != SESAME_OK)
		return rc;
	if ((token != NULL) + (code != NULL) + (code2 != NULL) != 1)
		return st->c.host->error(err, SESAME_MALFORMED, "credential",
					 "the credential needs exactly one of \"id_token\", \"authCode\" and \"code\"");
	if (token && (json_object_get(credential, "client_id") || json_object_get(credential, "redirect_uri") ||
		      json_object_get(credential, "code_verifier")))
		return st->c.host->error(err, SESAME_MALFORMED, "credential",
					 "\"client_id\", \"redirect_uri\" and \"code_verifier\" go with a code");
	return token ? verify_id_token(st, token, nonce, NULL, NULL, identity, err)
		     : exchange_code(st, code ? code : code2, credential, nonce, identity, err);
}

static int apple_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	int rc;
	json_t *names = NULL;
	struct state *st = state;

	*identity = NULL;
	rc = names_of_user(st, credential, &names, err);
	if (rc == SESAME_OK)
		rc = verify_credential(st, credential, identity, err);
	if (rc == SESAME_OK && json_object_update(json_object_get(*identity, "data"), names) != 0)
		rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc != SESAME_OK) {
		json_decref(*identity);
		*identity = NULL;
	}
	json_decref(names);
	return rc;
}

/* ---- account deletion --------------------------------------------------- */

/*
 * Apple asks apps that offer account deletion to revoke the user's tokens.
 * Apple answers 200 even for a token it does not know, so a 200 proves
 * little; anything else is reported, and the core logs it and deletes the
 * account anyway.
 */
static int apple_user_deleted(void *state, const json_t *identity, sesame_error *err)
{
	struct state *st = state;
	const json_t *priv = json_object_get(identity, "private");
	const char *refresh = json_string_value(json_object_get(priv, "refresh_token"));
	const char *client_id = json_string_value(json_object_get(priv, "client_id"));
	struct oa_form form = {.host = st->c.host};
	json_t *reply = NULL;
	char *secret = NULL;
	long status = 0;
	size_t which;
	int rc;

	if (!refresh)
		return SESAME_OK; /* logged in with ID tokens only: Apple gave sesame nothing to revoke */
	if (!st->signing_key)
		return st->c.host->error(err, SESAME_UNAVAILABLE, "config",
					 "cannot revoke the user's Apple token: no team_id/key_id/private_key");
	rc = client_index(st, client_id, &which, err);
	if (rc == SESAME_OK)
		rc = client_secret(st, which, &secret, err);
	if (rc != SESAME_OK)
		return rc;
	oa_form_add(&form, "client_id", st->client_ids[which]);
	oa_form_add(&form, "client_secret", secret);
	oa_form_add(&form, "token", refresh);
	oa_form_add(&form, "token_type_hint", "refresh_token");
	oa_secret_free(st->c.host, secret);
	rc = oa_http_json(&st->c, "POST", st->revoke_uri, &form, "Apple's revoke endpoint", &status, &reply, err);
	oa_form_clear(st->c.host, &form);
	json_decref(reply);
	if (rc == SESAME_OK && status != 200)
		rc = st->c.host->error(err, status >= 500 ? SESAME_UNAVAILABLE : SESAME_REJECTED, "upstream",
				       "Apple's revoke endpoint answered HTTP %ld", status);
	return rc;
}

/* ---- web redirect flow -------------------------------------------------- */

static int authorize_url(struct state *st, const json_t *args, json_t **result, sesame_error *err)
{
	const char *redirect = json_string_value(json_object_get(args, "redirect"));
	const char *callback = json_string_value(json_object_get(args, "redirect_uri"));
	const char *state = json_string_value(json_object_get(args, "state"));
	struct oa_form q = {.host = st->c.host};
	char *url;
	size_t n;

	if (!callback || !state)
		return st->c.host->error(err, SESAME_MALFORMED, "usage",
					 "authorize_url needs \"redirect_uri\" and \"state\"");
	if (!redirect || !oa_in_list((const char *const *)st->redirect_uris, redirect))
		return st->c.host->error(err, SESAME_REJECTED, "redirect",
					 "the redirect URL is not in this provider's redirect_uris");
	/* The web flow is the services id's (the first client id); Apple posts
	 * the code back as a form when name or email is asked for. */
	oa_form_add(&q, "client_id", st->client_ids[0]);
	oa_form_add(&q, "redirect_uri", callback);
	oa_form_add(&q, "response_type", "code");
	oa_form_add(&q, "scope", st->scope);
	oa_form_add(&q, "response_mode", "form_post");
	oa_form_add(&q, "state", state);
	n = strlen(st->authorize_uri) + q.length + 2;
	url = q.failed ? NULL : malloc(n);
	if (url)
		snprintf(url, n, "%s%c%s", st->authorize_uri, strchr(st->authorize_uri, '?') ? '&' : '?', q.text);
	oa_form_clear(st->c.host, &q);
	*result = url ? json_pack("{s:s, s:b}", "url", url, "pkce", 0) : NULL;
	free(url);
	return *result ? SESAME_OK : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

static int apple_action(void *state, const char *name, const json_t *args, json_t **result, sesame_error *err)
{
	struct state *st = state;

	*result = NULL;
	if (strcmp(name, "authorize_url") == 0)
		return authorize_url(st, args, result, err);
	return st->c.host->error(err, SESAME_NOT_FOUND, "action", "oauth2-apple has no action \"%.64s\"", name);
}

/* App Services' Apple metadata: what the user granted, name when given. */
static const char *const default_metadata[] = {"name", "first_name", "last_name", "email", "is_private_email", NULL};

const struct sesame_provider sesame_provider_entry = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_provider),
    .type = "oauth2-apple",
    .version = "0.1.0",
    .description = "Sign in with Apple: ID tokens, authorization codes, token revocation at account deletion",
    .init = apple_init,
    .verify = apple_verify,
    .fini = apple_fini,
    .action = apple_action,
    .user_deleted = apple_user_deleted,
    .capabilities = SESAME_PROVIDER_CAP_WEB_REDIRECT,
    .metadata_defaults = default_metadata,
};
