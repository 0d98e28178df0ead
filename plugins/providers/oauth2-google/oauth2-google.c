/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/oauth2-google/oauth2-google.c — the oauth2-google
 * provider: Google Sign-In.  Verifies a Google ID token ({id_token}) with
 * Google's JWKS and its OpenID Connect rules, or exchanges an authorization
 * code ({authCode}) at Google's token endpoint and verifies the ID token it
 * returns the same way.  The identity is the token's `sub`.  Builds the
 * authorization URL of the web redirect flow through action().  See
 * sesame-oauth2-google(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#include "../oauth2/oauth2.h"

#define DEFAULT_JWKS_URI "https://www.googleapis.com/oauth2/v3/certs"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define DEFAULT_AUTHORIZE_URI "https://accounts.google.com/o/oauth2/v2/auth"
#define DEFAULT_SCOPE "openid email profile"
#define DEFAULT_LEEWAY 60
#define MAX_LEEWAY 300
#define MAX_DOMAINS 32
#define MAX_REDIRECTS 32
#define MAX_TOKEN 16384
#define MAX_CODE 4096

struct state {
	struct oa_ctx c;
	sesame_keys *keys;
	char *client_ids[OA_MAX_CLIENT_IDS + 1];
	char *client_secret;
	char *redirect_uri; /* for {authCode} without one of its own */
	char **redirect_uris;
	char **hosted_domains;
	char *token_uri;
	char *authorize_uri;
	char *scope;
	struct sesame_jwt_rules rules;
};

static const char *const google_issuers[] = {"accounts.google.com", "https://accounts.google.com", NULL};
static const char *const google_algs[] = {"RS256", NULL};

static void state_free(struct state *st)
{
	if (!st)
		return;
	if (st->keys)
		st->c.host->keys_free(st->keys);
	oa_strings_free(st->client_ids, OA_MAX_CLIENT_IDS);
	oa_secret_free(st->c.host, st->client_secret);
	free(st->redirect_uri);
	oa_list_free(st->redirect_uris);
	oa_list_free(st->hosted_domains);
	free(st->token_uri);
	free(st->authorize_uri);
	free(st->scope);
	free(st);
}

/* ---- configuration ------------------------------------------------------ */

static int load_leeway(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *v = json_object_get(config, "leeway");

	st->rules.leeway = DEFAULT_LEEWAY;
	if (!v)
		return SESAME_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_LEEWAY)
		return st->c.host->error(err, SESAME_CONFIG, "config",
					 "\"leeway\" must be an integer number of seconds from 0 to %d", MAX_LEEWAY);
	st->rules.leeway = json_integer_value(v);
	return SESAME_OK;
}

static int load_config(struct state *st, const json_t *config, sesame_error *err)
{
	static const char *const known[] = {"client_id",     "client_ids",     "client_secret", "redirect_uri",
					    "redirect_uris", "hosted_domains", "jwks_uri",	"token_uri",
					    "authorize_uri", "scope",	       "leeway",	NULL};
	char *jwks = NULL;
	int rc = oa_check_known_keys(&st->c, config, known, err);

	if (rc == SESAME_OK)
		rc = oa_load_client_ids(&st->c, config, st->client_ids, err);
	if (rc == SESAME_OK)
		rc = oa_load_secret(&st->c, config, "client_secret", false, &st->client_secret, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "redirect_uri", NULL, &st->redirect_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_string_list(&st->c, config, "redirect_uris", MAX_REDIRECTS, &st->redirect_uris, err);
	if (rc == SESAME_OK)
		rc = oa_load_string_list(&st->c, config, "hosted_domains", MAX_DOMAINS, &st->hosted_domains, err);
	if (rc == SESAME_OK && st->hosted_domains && !st->hosted_domains[0])
		rc = st->c.host->error(err, SESAME_CONFIG, "config",
				       "\"hosted_domains\" is empty: list at least one domain, or leave it out");
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "token_uri", DEFAULT_TOKEN_URI, &st->token_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "authorize_uri", DEFAULT_AUTHORIZE_URI, &st->authorize_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "scope", DEFAULT_SCOPE, &st->scope, err);
	if (rc == SESAME_OK)
		rc = load_leeway(st, config, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "jwks_uri", DEFAULT_JWKS_URI, &jwks, err);
	if (rc == SESAME_OK)
		rc = st->c.host->keys_from_jwks_uri(st->c.self, jwks, google_algs, &st->keys, err);
	free(jwks);
	st->rules.struct_size = sizeof(st->rules);
	st->rules.audiences = (const char *const *)st->client_ids;
	st->rules.issuers = google_issuers;
	st->rules.algorithms = google_algs;
	st->rules.max_length = MAX_TOKEN;
	return rc;
}

static int google_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		       sesame_error *err)
{
	struct state *st;
	int rc;

	*state = NULL;
	rc = oa_check_host(host, false, err);
	if (rc != SESAME_OK)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->c = (struct oa_ctx){.host = host, .self = self, .type = "oauth2-google"};
	rc = load_config(st, config, err);
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

static void google_fini(void *state)
{
	state_free(state);
}

/* ---- ID token ----------------------------------------------------------- */

/* Google's extra rules once the signature, iss, aud and exp hold: azp (the
 * party the token was issued to) must be ours too, and hd must be one of
 * the hosted domains when they are configured. */
static int check_google_claims(struct state *st, const json_t *claims, sesame_error *err)
{
	json_t *azp = json_object_get(claims, "azp"), *hd = json_object_get(claims, "hd");

	if (azp && (!json_is_string(azp) || !oa_in_list((const char *const *)st->client_ids, json_string_value(azp))))
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "claim \"azp\" is not one of the configured client ids");
	if (!st->hosted_domains)
		return SESAME_OK;
	/* The hd claim, never the email's suffix: any Gmail user can have an
	 * address at a domain that is not a Google Workspace domain. */
	if (!json_is_string(hd) || strlen(json_string_value(hd)) != json_string_length(hd) ||
	    !oa_in_list((const char *const *)st->hosted_domains, json_string_value(hd)))
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "claim \"hd\" is %s: the account is not in one of the hosted_domains",
					 hd ? "not an allowed domain" : "missing");
	return SESAME_OK;
}

static int identity_from_claims(struct state *st, const json_t *claims, json_t **identity, sesame_error *err)
{
	json_t *data = json_object();
	const char *sub = NULL;
	int rc = oa_subject(&st->c, claims, "sub", &sub, err);

	if (rc == SESAME_OK && !data)
		rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "name", claims, "name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "first_name", claims, "given_name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "last_name", claims, "family_name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "picture", claims, "picture", err);
	/* An unverified address is never shown as the user's email, so nothing
	 * downstream can take it for proof of ownership. */
	if (rc == SESAME_OK && oa_claim_true(claims, "email_verified"))
		rc = oa_copy_string(&st->c, data, "email", claims, "email", err);
	/* Kept only when metadata_fields name them. */
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "locale", claims, "locale", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "hd", claims, "hd", err);
	if (rc == SESAME_OK) {
		*identity = json_pack("{s:s, s:O}", "id", sub, "data", data);
		if (!*identity)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(data);
	return rc;
}

static int verify_id_token(struct state *st, const char *token, json_t **identity, sesame_error *err)
{
	json_t *claims = NULL;
	int rc = st->c.host->jwt_verify(st->c.self, st->keys, token, &st->rules, &claims, err);

	if (rc == SESAME_OK)
		rc = check_google_claims(st, claims, err);
	if (rc == SESAME_OK)
		rc = identity_from_claims(st, claims, identity, err);
	json_decref(claims);
	return rc;
}

/* ---- authorization code ------------------------------------------------- */

/* The ID token of a token-endpoint answer; refusals say why. */
static int id_token_of_reply(struct state *st, long status, const json_t *reply, const char **token, sesame_error *err)
{
	json_t *tok = json_object_get(reply, "id_token"), *e = json_object_get(reply, "error");

	if (status >= 500 || (!reply && status != 200))
		return st->c.host->error(err, SESAME_UNAVAILABLE, "upstream",
					 "Google's token endpoint answered HTTP %ld", status);
	if (status != 200 || e)
		return st->c.host->error(err, SESAME_REJECTED, "upstream",
					 "Google refused the authorization code (HTTP %ld, %.64s)", status,
					 json_is_string(e) ? json_string_value(e) : "no error code");
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return st->c.host->error(err, SESAME_REJECTED, "upstream",
					 "Google's token endpoint returned no id_token (is \"openid\" in the scope?)");
	*token = json_string_value(tok);
	return SESAME_OK;
}

static int exchange_code(struct state *st, const char *code, const char *redirect_uri, const char *verifier,
			 json_t **identity, sesame_error *err)
{
	struct oa_form form = {.host = st->c.host};
	json_t *reply = NULL;
	const char *token = NULL;
	long status = 0;
	int rc;

	if (!st->client_secret)
		return st->c.host->error(err, SESAME_REJECTED, "config",
					 "this instance has no client_secret: it accepts only {id_token}");
	oa_form_add(&form, "grant_type", "authorization_code");
	oa_form_add(&form, "code", code);
	oa_form_add(&form, "client_id", st->client_ids[0]);
	oa_form_add(&form, "client_secret", st->client_secret);
	/* Google wants the redirect_uri the code was issued for; mobile
	 * server auth codes were issued for none. */
	oa_form_add(&form, "redirect_uri", redirect_uri ? redirect_uri : st->redirect_uri ? st->redirect_uri : "");
	if (verifier)
		oa_form_add(&form, "code_verifier", verifier);
	rc = oa_http_json(&st->c, "POST", st->token_uri, &form, "Google's token endpoint", &status, &reply, err);
	oa_form_clear(st->c.host, &form);
	if (rc == SESAME_OK)
		rc = id_token_of_reply(st, status, reply, &token, err);
	/* The returned token gets every check a client's token gets. */
	if (rc == SESAME_OK)
		rc = verify_id_token(st, token, identity, err);
	json_decref(reply);
	return rc;
}

static int google_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	static const char *const allowed[] = {"id_token", "authCode", "redirect_uri", "code_verifier", NULL};
	struct state *st = state;
	const char *token = NULL, *code = NULL, *redirect = NULL, *verifier = NULL;
	int rc;

	*identity = NULL;
	rc = oa_check_credential_keys(&st->c, credential, allowed, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "id_token", MAX_TOKEN, &token, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "authCode", MAX_CODE, &code, err);
	/* A client-chosen redirect_uri or verifier can only make the exchange
	 * fail: the token endpoint binds the code to the values it was issued
	 * with (RFC 6749 4.1.3, RFC 7636 4.6). */
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "redirect_uri", OA_MAX_URL, &redirect, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "code_verifier", 128, &verifier, err);
	if (rc != SESAME_OK)
		return rc;
	if ((token != NULL) == (code != NULL) || ((redirect || verifier) && !code))
		return st->c.host->error(err, SESAME_MALFORMED, "credential",
					 "the credential needs exactly one of \"id_token\" and \"authCode\"");
	return token ? verify_id_token(st, token, identity, err)
		     : exchange_code(st, code, redirect, verifier, identity, err);
}

/* ---- web redirect flow -------------------------------------------------- */

static int authorize_url(struct state *st, const json_t *args, json_t **result, sesame_error *err)
{
	const char *redirect = json_string_value(json_object_get(args, "redirect"));
	const char *callback = json_string_value(json_object_get(args, "redirect_uri"));
	const char *state = json_string_value(json_object_get(args, "state"));
	const char *challenge = json_string_value(json_object_get(args, "code_challenge"));
	struct oa_form q = {.host = st->c.host};
	char *url;
	size_t n;

	if (!callback || !state)
		return st->c.host->error(err, SESAME_MALFORMED, "usage",
					 "authorize_url needs \"redirect_uri\" and \"state\"");
	/* The browser ends up at `redirect`: only exact, configured URLs. */
	if (!redirect || !oa_in_list((const char *const *)st->redirect_uris, redirect))
		return st->c.host->error(err, SESAME_REJECTED, "redirect",
					 "the redirect URL is not in this provider's redirect_uris");
	oa_form_add(&q, "client_id", st->client_ids[0]);
	oa_form_add(&q, "redirect_uri", callback);
	oa_form_add(&q, "response_type", "code");
	oa_form_add(&q, "scope", st->scope);
	oa_form_add(&q, "state", state);
	if (challenge) {
		oa_form_add(&q, "code_challenge", challenge);
		oa_form_add(&q, "code_challenge_method", "S256");
	}
	n = strlen(st->authorize_uri) + q.length + 2;
	url = q.failed ? NULL : malloc(n);
	if (url)
		snprintf(url, n, "%s%c%s", st->authorize_uri, strchr(st->authorize_uri, '?') ? '&' : '?', q.text);
	oa_form_clear(st->c.host, &q);
	*result = url ? json_pack("{s:s, s:b}", "url", url, "pkce", 1) : NULL;
	free(url);
	return *result ? SESAME_OK : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

static int google_action(void *state, const char *name, const json_t *args, json_t **result, sesame_error *err)
{
	struct state *st = state;

	*result = NULL;
	if (strcmp(name, "authorize_url") == 0)
		return authorize_url(st, args, result, err);
	return st->c.host->error(err, SESAME_NOT_FOUND, "action", "oauth2-google has no action \"%.64s\"", name);
}

/* App Services' Google metadata; locale and hd only when configured. */
static const char *const default_metadata[] = {"name", "first_name", "last_name", "picture", "email", NULL};

const struct sesame_provider sesame_provider_entry = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_provider),
    .type = "oauth2-google",
    .version = "0.1.0",
    .description = "Google Sign-In: Google ID tokens and authorization codes (OpenID Connect)",
    .init = google_init,
    .verify = google_verify,
    .fini = google_fini,
    .action = google_action,
    .capabilities = SESAME_PROVIDER_CAP_WEB_REDIRECT,
    .metadata_defaults = default_metadata,
};
