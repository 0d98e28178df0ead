/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/oauth2-facebook/oauth2-facebook.c — the
 * oauth2-facebook provider: Facebook Login.  An {accessToken} is checked
 * with the Graph API's debug_token, called with the app's own token, and
 * the user's fields are read from /me with appsecret_proof; the user id
 * comes from debug_token, never from the client.  A Limited Login OIDC
 * token ({id_token}) is verified with Facebook's JWKS.  See
 * sesame-oauth2-facebook(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#include "../oauth2/oauth2.h"

#define FACEBOOK_ISSUER "https://www.facebook.com"
#define DEFAULT_GRAPH_URI "https://graph.facebook.com"
#define DEFAULT_JWKS_URI "https://www.facebook.com/.well-known/oauth/openid/jwks/"
#define DEFAULT_AUTHORIZE_URI "https://www.facebook.com/v17.0/dialog/oauth"
#define DEFAULT_FIELDS "id,name,first_name,last_name,picture,gender,birthday,age_range,email"
#define DEFAULT_SCOPE "public_profile email"
#define DEFAULT_LEEWAY 60
#define MAX_LEEWAY 300
#define MAX_REDIRECTS 32
#define MAX_TOKEN 16384
#define MAX_CODE 4096
#define MAX_NONCE 512

struct state {
	struct oa_ctx c;
	sesame_keys *keys; /* Limited Login */
	char *app_id;
	char *app_secret;
	char *graph_uri; /* without a trailing slash */
	char *authorize_uri;
	char *fields;
	char *scope;
	char *redirect_uri;
	char **redirect_uris;
	bool require_nonce;
	const char *audiences[2];
	struct sesame_jwt_rules rules;
};

static const char *const facebook_issuers[] = {FACEBOOK_ISSUER, NULL};
static const char *const facebook_algs[] = {"RS256", NULL};

static void state_free(struct state *st)
{
	if (!st)
		return;
	if (st->keys)
		st->c.host->keys_free(st->keys);
	free(st->app_id);
	oa_secret_free(st->c.host, st->app_secret);
	free(st->graph_uri);
	free(st->authorize_uri);
	free(st->fields);
	free(st->scope);
	free(st->redirect_uri);
	oa_list_free(st->redirect_uris);
	free(st);
}

/* ---- configuration ------------------------------------------------------ */

static int load_options(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *nonce = json_object_get(config, "require_nonce"), *leeway = json_object_get(config, "leeway");

	st->rules.leeway = DEFAULT_LEEWAY;
	if (nonce && !json_is_boolean(nonce))
		return st->c.host->error(err, SESAME_CONFIG, "config", "\"require_nonce\" must be true or false");
	st->require_nonce = json_is_true(nonce);
	if (leeway &&
	    (!json_is_integer(leeway) || json_integer_value(leeway) < 0 || json_integer_value(leeway) > MAX_LEEWAY))
		return st->c.host->error(err, SESAME_CONFIG, "config",
					 "\"leeway\" must be an integer number of seconds from 0 to %d", MAX_LEEWAY);
	if (leeway)
		st->rules.leeway = json_integer_value(leeway);
	return SESAME_OK;
}

static int load_config(struct state *st, const json_t *config, sesame_error *err)
{
	static const char *const known[] = {"client_id",     "client_secret", "graph_uri",     "jwks_uri",
					    "authorize_uri", "redirect_uri",  "redirect_uris", "fields",
					    "scope",	     "require_nonce", "leeway",	       NULL};
	char *jwks = NULL;
	size_t n;
	int rc = oa_check_known_keys(&st->c, config, known, err);

	if (rc == SESAME_OK && !json_object_get(config, "client_id"))
		rc = st->c.host->error(err, SESAME_CONFIG, "config", "\"client_id\" is required: the Facebook app id");
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "client_id", NULL, &st->app_id, err);
	if (rc == SESAME_OK && strchr(st->app_id, '|'))
		rc = st->c.host->error(err, SESAME_CONFIG, "config", "\"client_id\" must be the app id alone");
	if (rc == SESAME_OK)
		rc = oa_load_secret(&st->c, config, "client_secret", true, &st->app_secret, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "graph_uri", DEFAULT_GRAPH_URI, &st->graph_uri, err);
	if (rc == SESAME_OK) {
		n = strlen(st->graph_uri);
		while (n > 8 && st->graph_uri[n - 1] == '/')
			st->graph_uri[--n] = '\0';
		rc = oa_load_url(&st->c, config, "authorize_uri", DEFAULT_AUTHORIZE_URI, &st->authorize_uri, err);
	}
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "fields", DEFAULT_FIELDS, &st->fields, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "scope", DEFAULT_SCOPE, &st->scope, err);
	if (rc == SESAME_OK)
		rc = oa_load_string(&st->c, config, "redirect_uri", NULL, &st->redirect_uri, err);
	if (rc == SESAME_OK)
		rc = oa_load_string_list(&st->c, config, "redirect_uris", MAX_REDIRECTS, &st->redirect_uris, err);
	if (rc == SESAME_OK)
		rc = load_options(st, config, err);
	if (rc == SESAME_OK)
		rc = oa_load_url(&st->c, config, "jwks_uri", DEFAULT_JWKS_URI, &jwks, err);
	if (rc == SESAME_OK)
		rc = st->c.host->keys_from_jwks_uri(st->c.self, jwks, facebook_algs, &st->keys, err);
	free(jwks);
	st->audiences[0] = st->app_id;
	st->rules.struct_size = sizeof(st->rules);
	st->rules.audiences = st->audiences;
	st->rules.issuers = facebook_issuers;
	st->rules.algorithms = facebook_algs;
	st->rules.max_length = MAX_TOKEN;
	return rc;
}

static int facebook_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
			 sesame_error *err)
{
	struct state *st;
	int rc;

	*state = NULL;
	rc = oa_check_host(host, true, err);
	if (rc != SESAME_OK)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->c = (struct oa_ctx){.host = host, .self = self, .type = "oauth2-facebook"};
	rc = load_config(st, config, err);
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

static void facebook_fini(void *state)
{
	state_free(state);
}

/* ---- Graph API ---------------------------------------------------------- */

/* "GRAPH/path?query", malloc'd and wiped by the caller (it holds tokens). */
static char *graph_url(const struct state *st, const char *path, const struct oa_form *query)
{
	size_t n = strlen(st->graph_uri) + strlen(path) + query->length + 2;
	char *url = query->failed ? NULL : malloc(n);

	if (url)
		snprintf(url, n, "%s%s?%s", st->graph_uri, path, query->text);
	return url;
}

static void url_free(const struct state *st, char *url)
{
	oa_secret_free(st->c.host, url);
}

/* GET a Graph path; a transport failure or a 5xx is UNAVAILABLE, any other
 * non-200 or an "error" object (Graph sends some inside a 200) REJECTED. */
static int graph_get(struct state *st, const char *path, struct oa_form *query, json_t **reply, sesame_error *err)
{
	char *url = graph_url(st, path, query);
	long status = 0;
	int rc;

	oa_form_clear(st->c.host, query);
	if (!url)
		return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = oa_http_json(&st->c, "GET", url, NULL, "the Graph API", &status, reply, err);
	url_free(st, url);
	if (rc != SESAME_OK)
		return rc;
	if (status >= 500 || (!*reply && status != 200))
		rc = st->c.host->error(err, status >= 500 ? SESAME_UNAVAILABLE : SESAME_REJECTED, "upstream",
				       "the Graph API's %s answered HTTP %ld", path, status);
	else if (!*reply)
		rc = st->c.host->error(err, SESAME_REJECTED, "upstream", "the Graph API's %s answered no JSON object",
				       path);
	else if (status != 200 || json_object_get(*reply, "error"))
		rc = st->c.host->error(err, SESAME_REJECTED, "upstream",
				       "the Graph API's %s refused the token (HTTP %ld)", path, status);
	if (rc != SESAME_OK) {
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

/* debug_token's verdict on the token: the Facebook user id it belongs to. */
static int check_debug_data(struct state *st, const json_t *data, const char **user_id, sesame_error *err)
{
	json_t *app = json_object_get(data, "app_id"), *type = json_object_get(data, "type");
	json_t *exp = json_object_get(data, "expires_at");
	int64_t now = st->c.host->now(st->c.self);

	if (!json_is_object(data) || json_object_get(data, "error"))
		return st->c.host->error(err, SESAME_REJECTED, "upstream", "debug_token reports an error");
	if (!json_is_true(json_object_get(data, "is_valid")))
		return st->c.host->error(err, SESAME_REJECTED, "upstream", "debug_token says the token is not valid");
	/* A token of another app is a login to that app, not to ours. */
	if (!json_is_string(app) || strcmp(json_string_value(app), st->app_id) != 0 ||
	    json_string_length(app) != strlen(st->app_id))
		return st->c.host->error(err, SESAME_REJECTED, "upstream", "the token was issued to another app");
	if (!json_is_string(type) || strcmp(json_string_value(type), "USER") != 0)
		return st->c.host->error(err, SESAME_REJECTED, "upstream", "the token is not a user access token");
	/* 0 means the token never expires. */
	if (!json_is_integer(exp) || json_integer_value(exp) < 0 ||
	    (json_integer_value(exp) != 0 && json_integer_value(exp) <= now))
		return st->c.host->error(err, SESAME_REJECTED, "upstream", "the token has expired");
	return oa_subject(&st->c, data, "user_id", user_id, err) == SESAME_OK
		   ? SESAME_OK
		   : st->c.host->error(err, SESAME_REJECTED, "upstream", "debug_token names no user_id");
}

static int debug_token(struct state *st, const char *token, char **user_id, sesame_error *err)
{
	struct oa_form q = {.host = st->c.host};
	size_t n = strlen(st->app_id) + strlen(st->app_secret) + 2;
	char *app_token = malloc(n);
	const char *uid = NULL;
	json_t *reply = NULL;
	int rc;

	*user_id = NULL;
	if (!app_token)
		return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	/* The app token (APP_ID|APP_SECRET): debug_token must be asked by the
	 * app, or any app's token would look fine. */
	snprintf(app_token, n, "%s|%s", st->app_id, st->app_secret);
	oa_form_add(&q, "input_token", token);
	oa_form_add(&q, "access_token", app_token);
	oa_secret_free(st->c.host, app_token);
	rc = graph_get(st, "/debug_token", &q, &reply, err);
	if (rc == SESAME_OK)
		rc = check_debug_data(st, json_object_get(reply, "data"), &uid, err);
	if (rc == SESAME_OK) {
		*user_id = strdup(uid);
		if (!*user_id)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(reply);
	return rc;
}

static int appsecret_proof(struct state *st, const char *token, char hex[65], sesame_error *err)
{
	unsigned char mac[32];
	int rc = st->c.host->hmac_sha256(st->app_secret, strlen(st->app_secret), token, strlen(token), mac);

	if (rc == SESAME_OK)
		rc = oa_hex(st->c.host, mac, sizeof(mac), hex, NULL);
	st->c.host->wipe(mac, sizeof(mac));
	return rc == SESAME_OK ? SESAME_OK : st->c.host->error(err, SESAME_INTERNAL, "crypto", "HMAC-SHA256 failed");
}

static int copy_int(const struct state *st, json_t *data, const char *to, const json_t *v, sesame_error *err)
{
	if (!json_is_integer(v))
		return SESAME_OK;
	return json_object_set_new(data, to, json_integer(json_integer_value(v))) == 0
		   ? SESAME_OK
		   : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* Whether `key` is one of the NULL-terminated `list`. */
static bool listed(const char *const *list, const char *key)
{
	while (*list && strcmp(*list, key) != 0)
		list++;
	return *list != NULL;
}

/*
 * The profile data of a /me answer: App Services' fields under their names
 * (picture.data.url as picture, age_range as min_age and max_age), and any
 * other field the configured "fields" asked for as Graph returned it, for
 * metadata_fields to pick.
 */
static int metadata_from_me(struct state *st, const json_t *me, json_t *data, sesame_error *err)
{
	static const char *const plain[] = {"name", "first_name", "last_name", "gender", "birthday", "email", NULL};
	static const char *const mapped[] = {"id", "picture", "age_range", NULL};
	const json_t *age = json_object_get(me, "age_range"), *v;
	const char *key;
	size_t i;
	int rc = SESAME_OK;

	json_object_foreach((json_t *)me, key, v) {
		if (listed(plain, key) || listed(mapped, key))
			continue;
		if (json_object_set_new(data, key, json_deep_copy(v)) != 0)
			return st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	for (i = 0; rc == SESAME_OK && plain[i]; i++)
		rc = oa_copy_string(&st->c, data, plain[i], me, plain[i], err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "picture", json_object_get(json_object_get(me, "picture"), "data"),
				    "url", err);
	if (rc == SESAME_OK)
		rc = copy_int(st, data, "min_age", json_object_get(age, "min"), err);
	if (rc == SESAME_OK)
		rc = copy_int(st, data, "max_age", json_object_get(age, "max"), err);
	return rc;
}

static int read_me(struct state *st, const char *token, const char *user_id, json_t *data, sesame_error *err)
{
	struct oa_form q = {.host = st->c.host};
	json_t *me = NULL, *id;
	char proof[65];
	int rc = appsecret_proof(st, token, proof, err);

	if (rc != SESAME_OK)
		return rc;
	oa_form_add(&q, "fields", st->fields);
	oa_form_add(&q, "access_token", token);
	oa_form_add(&q, "appsecret_proof", proof);
	st->c.host->wipe(proof, sizeof(proof));
	rc = graph_get(st, "/me", &q, &me, err);
	id = json_object_get(me, "id");
	if (rc == SESAME_OK && id && (!json_is_string(id) || strcmp(json_string_value(id), user_id) != 0))
		rc = st->c.host->error(err, SESAME_REJECTED, "upstream", "/me names another user than debug_token");
	if (rc == SESAME_OK)
		rc = metadata_from_me(st, me, data, err);
	json_decref(me);
	return rc;
}

static int verify_access_token(struct state *st, const char *token, json_t **identity, sesame_error *err)
{
	char *user_id = NULL;
	json_t *data = json_object();
	int rc = data ? debug_token(st, token, &user_id, err)
		      : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");

	if (rc == SESAME_OK)
		rc = read_me(st, token, user_id, data, err);
	if (rc == SESAME_OK) {
		*identity = json_pack("{s:s, s:O}", "id", user_id, "data", data);
		if (!*identity)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	free(user_id);
	json_decref(data);
	return rc;
}

/* ---- Limited Login ------------------------------------------------------ */

/* A token that carries a nonce is bound to it: leaving the nonce out never
 * skips the check.  require_nonce only decides about tokens without one. */
static int check_nonce(struct state *st, const json_t *claims, const char *nonce, sesame_error *err)
{
	json_t *v = json_object_get(claims, "nonce");

	if (!nonce && v)
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "the id_token carries a nonce: send the \"nonce\" beside it");
	if (!nonce && !st->require_nonce)
		return SESAME_OK;
	if (!nonce)
		return st->c.host->error(err, SESAME_REJECTED, "claim",
					 "this provider requires a \"nonce\" beside the id_token");
	/* Limited Login puts the nonce the app chose in the token as is. */
	if (!json_is_string(v) || json_string_length(v) != strlen(nonce) ||
	    !st->c.host->ct_equal(json_string_value(v), nonce, strlen(nonce)))
		return st->c.host->error(err, SESAME_REJECTED, "claim", "claim \"nonce\" is not the client's nonce");
	return SESAME_OK;
}

static int verify_limited_login(struct state *st, const char *token, const char *nonce, json_t **identity,
				sesame_error *err)
{
	json_t *claims = NULL, *data = json_object();
	const char *sub = NULL;
	int rc = data ? st->c.host->jwt_verify(st->c.self, st->keys, token, &st->rules, &claims, err)
		      : st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");

	if (rc == SESAME_OK)
		rc = check_nonce(st, claims, nonce, err);
	if (rc == SESAME_OK)
		rc = oa_subject(&st->c, claims, "sub", &sub, err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "name", claims, "name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "first_name", claims, "given_name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "last_name", claims, "family_name", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "picture", claims, "picture", err);
	if (rc == SESAME_OK)
		rc = oa_copy_string(&st->c, data, "email", claims, "email", err);
	if (rc == SESAME_OK) {
		*identity = json_pack("{s:s, s:O}", "id", sub, "data", data);
		if (!*identity)
			rc = st->c.host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(claims);
	json_decref(data);
	return rc;
}

/* ---- authorization code (web flow) -------------------------------------- */

static int exchange_code(struct state *st, const char *code, const char *redirect, json_t **identity, sesame_error *err)
{
	struct oa_form q = {.host = st->c.host};
	json_t *reply = NULL, *tok;
	int rc;

	oa_form_add(&q, "client_id", st->app_id);
	oa_form_add(&q, "client_secret", st->app_secret);
	oa_form_add(&q, "redirect_uri", redirect ? redirect : st->redirect_uri ? st->redirect_uri : "");
	oa_form_add(&q, "code", code);
	rc = graph_get(st, "/oauth/access_token", &q, &reply, err);
	tok = json_object_get(reply, "access_token");
	if (rc == SESAME_OK && (!json_is_string(tok) || json_string_length(tok) == 0))
		rc = st->c.host->error(err, SESAME_REJECTED, "upstream",
				       "Facebook returned no access_token for the code");
	/* The token from the code gets the same debug_token checks. */
	if (rc == SESAME_OK)
		rc = verify_access_token(st, json_string_value(tok), identity, err);
	json_decref(reply);
	return rc;
}

static int facebook_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	static const char *const allowed[] = {"accessToken", "id_token", "nonce", "authCode", "redirect_uri", NULL};
	struct state *st = state;
	const char *token = NULL, *id_token = NULL, *nonce = NULL, *code = NULL, *redirect = NULL;
	int rc;

	*identity = NULL;
	rc = oa_check_credential_keys(&st->c, credential, allowed, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "accessToken", MAX_TOKEN, &token, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "id_token", MAX_TOKEN, &id_token, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "nonce", MAX_NONCE, &nonce, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "authCode", MAX_CODE, &code, err);
	if (rc == SESAME_OK)
		rc = oa_credential_string(&st->c, credential, "redirect_uri", OA_MAX_URL, &redirect, err);
	if (rc != SESAME_OK)
		return rc;
	if ((token != NULL) + (id_token != NULL) + (code != NULL) != 1 || (nonce && !id_token) || (redirect && !code))
		return st->c.host->error(err, SESAME_MALFORMED, "credential",
					 "the credential needs exactly one of \"accessToken\", \"id_token\" (with an "
					 "optional \"nonce\") and \"authCode\"");
	if (token)
		return verify_access_token(st, token, identity, err);
	if (id_token)
		return verify_limited_login(st, id_token, nonce, identity, err);
	return exchange_code(st, code, redirect, identity, err);
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
	oa_form_add(&q, "client_id", st->app_id);
	oa_form_add(&q, "redirect_uri", callback);
	oa_form_add(&q, "response_type", "code");
	oa_form_add(&q, "scope", st->scope);
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

static int facebook_action(void *state, const char *name, const json_t *args, json_t **result, sesame_error *err)
{
	struct state *st = state;

	*result = NULL;
	if (strcmp(name, "authorize_url") == 0)
		return authorize_url(st, args, result, err);
	return st->c.host->error(err, SESAME_NOT_FOUND, "action", "oauth2-facebook has no action \"%.64s\"", name);
}

/* App Services' Facebook metadata, each only when the user granted it. */
static const char *const default_metadata[] = {"name",	   "first_name", "last_name", "picture", "gender",
					       "birthday", "min_age",	 "max_age",   "email",	 NULL};

const struct sesame_provider sesame_provider_entry = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_provider),
    .type = "oauth2-facebook",
    .version = "0.1.0",
    .description = "Facebook Login: access tokens checked with debug_token, Limited Login ID tokens",
    .init = facebook_init,
    .verify = facebook_verify,
    .fini = facebook_fini,
    .action = facebook_action,
    .capabilities = SESAME_PROVIDER_CAP_WEB_REDIRECT,
    .metadata_defaults = default_metadata,
};
