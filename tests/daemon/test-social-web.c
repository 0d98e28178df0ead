/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-social-web.c — sesamed with the oauth2-google plugin
 * and a mock Google on loopback: a login over HTTP with an ID token, and
 * the web redirect flow end to end (the 302 to the authorization URL with
 * state and PKCE, the callback by GET and by POST form, the final
 * #_baas_ua fragment), refusing open redirects and replayed states, and
 * linking through it (link=true with the user's access token, _baas_link
 * in the fragment, an identity held by another user refused, the
 * X-Baas-Location form realm-web asks for with providerRedirectHeader),
 * and Apple's form_post with the user's name.  The redirects are followed
 * by hand with libcurl.  Every wait is bounded.
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "harness.h"
#include "internal.h"
#include "jose.h"
#include "providers/oauth2/socialutil.h"

#define APP "web-app"
#define PUBLIC_URL "https://auth.example.test"
#define DONE "https://app.example/done"
#define CALLBACK PUBLIC_URL "/api/client/v2.0/app/" APP "/auth/providers/google/callback"

struct env {
	struct social *s; /* dir, mock, keys; its ctx is unused */
	struct daemon *d; /* sesamed on social_start's directory */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char *token_uri, *authorize_uri, *config;

	assert_non_null(e);
	e->s = social_start("social-web");
	token_uri = mockhttp_url(e->s->mock, "/token");
	authorize_uri = mockhttp_url(e->s->mock, "/authorize");
	/* social_start's sesame.json, with the daemon's app id and public URL. */
	{
		char extra[512];

		snprintf(extra, sizeof(extra), "\"app_id\": \"%s\", \"public_url\": \"%s\"", APP, PUBLIC_URL);
		config = tu_main_config(e->s->dir, extra);
	}
	social_provider(e->s, "google",
			json_pack("{s:s, s:{s:[s], s:s, s:s, s:s, s:s, s:[s]}}", "type", "oauth2-google", "config",
				  "client_ids", "web-client", "client_secret", "google-secret", "jwks_uri",
				  e->s->jwks_url, "token_uri", token_uri, "authorize_uri", authorize_uri,
				  "redirect_uris", DONE));
	{
		char *graph = mockhttp_url(e->s->mock, "/graph");

		char *apple_token = mockhttp_url(e->s->mock, "/apple/token"), *p8;

		social_provider(e->s, "apple",
				json_pack("{s:s, s:{s:s, s:s}}", "type", "oauth2-apple", "config", "client_id",
					  "com.example.app", "jwks_uri", e->s->jwks_url));
		/* The web flow: a code exchanged with a client secret signed by the
		 * team's key (the test EC key, 0600 as secrets must be). */
		p8 = social_secret_file(e->s, "AuthKey.p8", "tests/jws/keys/ec256.pem");
		social_provider(e->s, "apple-web",
				json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}}", "type", "oauth2-apple",
					  "config", "client_id", "com.example.app", "team_id", "TEAM123456", "key_id",
					  "KEY1234567", "private_key", p8, "jwks_uri", e->s->jwks_url, "token_uri",
					  apple_token, "authorize_uri", authorize_uri, "redirect_uris", DONE));
		free(p8);
		free(apple_token);
		social_provider(e->s, "facebook",
				json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "oauth2-facebook", "config", "client_id",
					  "1234567890", "client_secret", "fb-secret", "graph_uri", graph));
		free(graph);
	}
	e->d = daemon_at(e->s->dir, config);
	daemon_start(e->d);
	free(config);
	free(token_uri);
	free(authorize_uri);
	*state = e;
	return 0;
}

/* sesamed must exit 0: drained, and free of leaks under AddressSanitizer. */
static int teardown(void **state)
{
	struct env *e = *state;
	int rc = daemon_finish(e->d);

	social_stop(e->s);
	free(e);
	return rc;
}

/* ---- HTTP ------------------------------------------------------------------- */

struct answer {
	long status;
	char *body;
	size_t len;
	char *location;
	char *baas_location; /* X-Baas-Location */
};

/* One request, redirects not followed; with "Authorization: Bearer" when
 * `bearer` is not NULL. */
static struct answer web_bearer(struct env *e, const char *method, const char *path, const char *ctype,
				const char *body, const char *bearer)
{
	struct answer a = {0};
	struct req q = {method, path, {NULL}, body, false, NULL};
	char type[256], auth[4096];
	struct http r;
	size_t n = 0;

	if (body) {
		snprintf(type, sizeof(type), "Content-Type: %s", ctype);
		q.headers[n++] = type;
	}
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		q.headers[n++] = auth;
	}
	http(e->d, &q, &r);
	if (r.rc != CURLE_OK)
		fail_msg("%s %s: no answer", method, path);
	a.status = r.status;
	a.body = r.body;
	a.len = r.len;
	a.location = header(&r, "Location");
	a.baas_location = header(&r, "X-Baas-Location");
	r.body = NULL;
	http_free(&r);
	return a;
}

static struct answer web(struct env *e, const char *method, const char *path, const char *ctype, const char *body)
{
	return web_bearer(e, method, path, ctype, body, NULL);
}

static void answer_clear(struct answer *a)
{
	free(a->body);
	free(a->location);
	free(a->baas_location);
}

static char *sign(const char *sub)
{
	return social_sign_rsa(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:b}", "iss", "https://accounts.google.com",
					 "aud", "web-client", "sub", sub, "iat", social_now(0), "exp", social_now(600),
					 "email", "ada@example.com", "email_verified", 1));
}

static void http_login_with_id_token(void **state)
{
	struct env *e = *state;
	char *token = sign("g-1"), body[8192];
	struct answer a;
	json_t *doc;

	snprintf(body, sizeof(body), "{\"id_token\": \"%s\", \"options\": {\"device\": {\"sdk\": \"test\"}}}", token);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/google/login", "application/json", body);
	assert_int_equal(a.status, 200);
	doc = json_loads(a.body, 0, NULL);
	assert_non_null(json_object_get(doc, "access_token"));
	assert_int_equal(json_string_length(json_object_get(doc, "user_id")), 24);
	json_decref(doc);
	answer_clear(&a);
	/* A refused token: 401, and the same bad token again changes nothing. */
	snprintf(body, sizeof(body), "{\"id_token\": \"%s\"}", token);
	/* A character of the signature, changed whatever it was. */
	body[strlen(body) - 4] = body[strlen(body) - 4] == 'x' ? 'y' : 'x';
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/google/login", "application/json", body);
	assert_int_equal(a.status, 401);
	answer_clear(&a);
	free(token);
}

/* Apple and Facebook credentials over HTTP, as the SDKs send them. */
static void http_login_apple_and_facebook(void **state)
{
	struct env *e = *state;
	char *token = social_sign_rsa(json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "https://appleid.apple.com", "aud",
						"com.example.app", "sub", "001.apple", "iat", social_now(0), "exp",
						social_now(600)));
	char body[8192];
	struct answer a;
	json_t *doc;

	snprintf(body, sizeof(body), "{\"id_token\": \"%s\", \"provider\": \"oauth2-apple\"}", token);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/apple/login", "application/json", body);
	assert_int_equal(a.status, 200);
	doc = json_loads(a.body, 0, NULL);
	assert_int_equal(json_string_length(json_object_get(doc, "user_id")), 24);
	json_decref(doc);
	answer_clear(&a);
	free(token);
	snprintf(
	    body, sizeof(body),
	    "{\"data\": {\"app_id\": \"1234567890\", \"type\": \"USER\", \"is_valid\": true, \"expires_at\": %lld, "
	    "\"user_id\": \"555\"}}",
	    (long long)social_now(600));
	mockhttp_set_str(e->s->mock, "/graph/debug_token", 200, "application/json", body, NULL);
	mockhttp_set_str(e->s->mock, "/graph/me", 200, "application/json", "{\"id\": \"555\", \"name\": \"Fay\"}",
			 NULL);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/facebook/login", "application/json",
		"{\"accessToken\": \"EAAtoken\", \"provider\": \"oauth2-facebook\"}");
	assert_int_equal(a.status, 200);
	answer_clear(&a);
	/* debug_token says no: 401, nothing more. */
	mockhttp_set_str(e->s->mock, "/graph/debug_token", 200, "application/json",
			 "{\"data\": {\"is_valid\": false, \"app_id\": \"1234567890\"}}", NULL);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/facebook/login", "application/json",
		"{\"accessToken\": \"EAAtoken\"}");
	assert_int_equal(a.status, 401);
	answer_clear(&a);
}

/* The decoded query argument `name` of a URL, malloc'd. */
static char *url_arg(const char *url, const char *name)
{
	const char *q = strpbrk(url, "?#");

	assert_non_null(q);
	return social_form_value(q + 1, name);
}

static char *b64url_sha256(const char *s)
{
	unsigned char d[32];
	char *out;

	SHA256((const unsigned char *)s, strlen(s), d);
	out = b64url_encode(d, sizeof(d));
	assert_non_null(out);
	return out;
}

/* Start a web login; the server-side state and the PKCE challenge sent to
 * Google. */
static char *start_flow(struct env *e, char **challenge)
{
	struct answer a = web(e, "GET",
			      "/api/client/v2.0/app/" APP
			      "/auth/providers/google/login?redirect=https%3A%2F%2Fapp.example"
			      "%2Fdone&state=client-state%201",
			      NULL, NULL);
	char *authorize = mockhttp_url(e->s->mock, "/authorize?"), *v, *st;

	assert_int_equal(a.status, 302);
	assert_non_null(a.location);
	assert_memory_equal(a.location, authorize, strlen(authorize));
	v = url_arg(a.location, "client_id");
	assert_string_equal(v, "web-client");
	free(v);
	v = url_arg(a.location, "redirect_uri");
	assert_string_equal(v, CALLBACK);
	free(v);
	v = url_arg(a.location, "response_type");
	assert_string_equal(v, "code");
	free(v);
	v = url_arg(a.location, "code_challenge_method");
	assert_string_equal(v, "S256");
	free(v);
	*challenge = url_arg(a.location, "code_challenge");
	st = url_arg(a.location, "state");
	assert_non_null(st);
	/* The client's state stays with sesamed; Google sees a random one. */
	assert_null(strstr(a.location, "client-state"));
	answer_clear(&a);
	free(authorize);
	return st;
}

static void check_final(struct env *e, const char *location)
{
	const char *frag = strchr(location, '#');
	char *ua, *st, *app, *parts[4] = {NULL}, *p;
	unsigned char *raw;
	size_t n = 0, i;

	assert_non_null(frag);
	assert_memory_equal(location, DONE "#", strlen(DONE) + 1);
	ua = social_form_value(frag + 1, "_baas_ua");
	st = social_form_value(frag + 1, "_baas_state");
	app = social_form_value(frag + 1, "_baas_client_app_id");
	assert_non_null(ua);
	assert_string_equal(st, "client-state 1");
	assert_string_equal(app, APP);
	assert_null(strstr(frag, "_baas_link")); /* a login, not a link */
	raw = malloc(strlen(ua));
	assert_non_null(raw);
	n = (size_t)EVP_DecodeBlock(raw, (const unsigned char *)ua, (int)strlen(ua));
	while (n > 0 && raw[n - 1] == '\0')
		n--;
	raw[n] = '\0';
	p = (char *)raw;
	for (i = 0; i < 4; i++) {
		parts[i] = p;
		p = strchr(p, '$');
		if (i < 3) {
			assert_non_null(p);
			*p++ = '\0';
		}
	}
	assert_null(p);
	assert_int_equal(strlen(parts[2]), 24);
	assert_int_equal(strlen(parts[3]), 24);
	assert_non_null(strchr(parts[0], '.')); /* a JWT */
	/* The access token works: the profile is the logged-in user's. */
	{
		struct answer a = web_bearer(e, "GET", "/api/client/v2.0/auth/profile", NULL, NULL, parts[0]);
		json_t *doc;

		assert_int_equal(a.status, 200);
		doc = json_loads(a.body, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(doc, "user_id")), parts[2]);
		json_decref(doc);
		answer_clear(&a);
	}
	free(raw);
	free(ua);
	free(st);
	free(app);
}

static void set_token_reply(struct env *e, const char *sub)
{
	char *token = sign(sub), body[8192];

	snprintf(body, sizeof(body), "{\"access_token\": \"ya29\", \"id_token\": \"%s\"}", token);
	mockhttp_set_str(e->s->mock, "/token", 200, "application/json", body, NULL);
	free(token);
}

static void redirect_flow_round_trip(void **state)
{
	struct env *e = *state;
	char *challenge = NULL, *st = start_flow(e, &challenge), path[1024], *enc, *v, *body, *form;
	struct answer a;

	set_token_reply(e, "g-web");
	enc = curl_easy_escape(NULL, st, 0);
	snprintf(path, sizeof(path),
		 "/api/client/v2.0/app/" APP "/auth/providers/google/callback?code=4%%2F0Ab&state=%s", enc);
	a = web(e, "GET", path, NULL, NULL);
	if (a.status != 302)
		fail_msg("callback: HTTP %ld %s", a.status, a.body ? a.body : "");
	check_final(e, a.location);
	answer_clear(&a);
	/* What sesamed sent Google: the code, its callback, the PKCE verifier. */
	body = mockhttp_last_body(e->s->mock, "/token");
	v = social_form_value(body, "code");
	assert_string_equal(v, "4/0Ab");
	free(v);
	v = social_form_value(body, "redirect_uri");
	assert_string_equal(v, CALLBACK);
	free(v);
	v = social_form_value(body, "code_verifier");
	assert_non_null(v);
	form = b64url_sha256(v);
	assert_string_equal(form, challenge);
	free(form);
	free(v);
	free(body);
	/* A state works once. */
	a = web(e, "GET", path, NULL, NULL);
	assert_int_equal(a.status, 400);
	assert_null(a.location);
	answer_clear(&a);
	curl_free(enc);
	free(st);
	free(challenge);
}

static void redirect_flow_form_post_and_errors(void **state)
{
	struct env *e = *state;
	char *challenge = NULL, *st = start_flow(e, &challenge), body[1024], *enc = curl_easy_escape(NULL, st, 0), *err;
	struct answer a;

	/* The provider says the user declined: back to the app with _baas_error. */
	snprintf(body, sizeof(body), "error=access_denied&state=%s", enc);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/google/callback",
		"application/x-www-form-urlencoded", body);
	assert_int_equal(a.status, 302);
	assert_memory_equal(a.location, DONE "#_baas_error=", strlen(DONE) + 13);
	err = social_form_value(strchr(a.location, '#') + 1, "_baas_error");
	assert_string_equal(err, "access_denied");
	free(err);
	answer_clear(&a);
	curl_free(enc);
	free(st);
	free(challenge);
	/* A POSTed code (Apple's form_post) logs in like a GET. */
	st = start_flow(e, &challenge);
	enc = curl_easy_escape(NULL, st, 0);
	set_token_reply(e, "g-post");
	snprintf(body, sizeof(body), "code=c0de&state=%s", enc);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/google/callback",
		"application/x-www-form-urlencoded", body);
	assert_int_equal(a.status, 302);
	check_final(e, a.location);
	answer_clear(&a);
	/* Google refuses the code: the browser learns it in _baas_error. */
	curl_free(enc);
	free(st);
	free(challenge);
	st = start_flow(e, &challenge);
	enc = curl_easy_escape(NULL, st, 0);
	mockhttp_set_str(e->s->mock, "/token", 400, "application/json", "{\"error\": \"invalid_grant\"}", NULL);
	snprintf(body, sizeof(body), "/api/client/v2.0/app/" APP "/auth/providers/google/callback?code=old&state=%s",
		 enc);
	a = web(e, "GET", body, NULL, NULL);
	assert_int_equal(a.status, 302);
	assert_non_null(strstr(a.location, "#_baas_error="));
	assert_null(strstr(a.location, "_baas_ua"));
	answer_clear(&a);
	curl_free(enc);
	free(st);
	free(challenge);
}

/* No open redirect: only the configured URLs, exactly. */
static void redirect_allow_list(void **state)
{
	struct env *e = *state;
	const char *bad[] = {"https%3A%2F%2Fevil.example%2Fdone",	 "https%3A%2F%2Fapp.example%2Fdone%2F",
			     "https%3A%2F%2Fapp.example%2Fdone%3Fx%3D1", "https%3A%2F%2Fapp.example%2Fdon",
			     "https%3A%2F%2Fapp.example%2Fdone%23",	 NULL};
	char path[512];
	struct answer a;
	size_t i;

	for (i = 0; bad[i]; i++) {
		snprintf(path, sizeof(path),
			 "/api/client/v2.0/app/" APP "/auth/providers/google/login?redirect=%s&state=s", bad[i]);
		a = web(e, "GET", path, NULL, NULL);
		if (a.status != 400 || a.location)
			fail_msg("redirect %s: HTTP %ld, Location %s", bad[i], a.status, a.location ? a.location : "-");
		answer_clear(&a);
	}
	a = web(e, "GET", "/api/client/v2.0/app/" APP "/auth/providers/google/login?state=s", NULL, NULL);
	assert_int_equal(a.status, 400);
	answer_clear(&a);
	/* A state sesamed never issued. */
	a = web(e, "GET",
		"/api/client/v2.0/app/" APP
		"/auth/providers/google/callback?code=c&state="
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		NULL, NULL);
	assert_int_equal(a.status, 400);
	assert_null(a.location);
	answer_clear(&a);
	assert_int_equal(mockhttp_hits(e->s->mock, "/token"), 0);
}

/* ---- Linking through the redirect flow ---------------------------------------- */

/* Log in with Apple over HTTP as `sub`: the session's access token and user
 * id, malloc'd. */
static void apple_login(struct env *e, const char *sub, char **access, char **user_id)
{
	char *token =
	    social_sign_rsa(json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "https://appleid.apple.com", "aud",
				      "com.example.app", "sub", sub, "iat", social_now(0), "exp", social_now(600)));
	char body[8192];
	struct answer a;
	json_t *doc;

	snprintf(body, sizeof(body), "{\"id_token\": \"%s\"}", token);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/apple/login", "application/json", body);
	assert_int_equal(a.status, 200);
	doc = json_loads(a.body, 0, NULL);
	assert_non_null(doc);
	*access = strdup(json_string_value(json_object_get(doc, "access_token")));
	*user_id = strdup(json_string_value(json_object_get(doc, "user_id")));
	assert_non_null(*access);
	assert_non_null(*user_id);
	json_decref(doc);
	answer_clear(&a);
	free(token);
}

#define LINK_START                                                                                                     \
	"/api/client/v2.0/app/" APP                                                                                    \
	"/auth/providers/google/login?redirect=https%3A%2F%2Fapp.example%2Fdone"                                       \
	"&state=link-state&link=true"

/* Start a link as the holder of `access`: the server-side state sent to
 * Google, malloc'd. */
static char *start_link(struct env *e, const char *access)
{
	struct answer a = web_bearer(e, "GET", LINK_START, NULL, NULL, access);
	char *authorize = mockhttp_url(e->s->mock, "/authorize?"), *st;

	if (a.status != 302)
		fail_msg("link start: HTTP %ld %s", a.status, a.body ? a.body : "");
	assert_non_null(a.location);
	assert_memory_equal(a.location, authorize, strlen(authorize));
	/* The token stays with sesamed. */
	assert_null(strstr(a.location, access));
	st = url_arg(a.location, "state");
	assert_non_null(st);
	answer_clear(&a);
	free(authorize);
	return st;
}

static struct answer callback_get(struct env *e, const char *st)
{
	char path[1024], *enc = curl_easy_escape(NULL, st, 0);
	struct answer a;

	snprintf(path, sizeof(path), "/api/client/v2.0/app/" APP "/auth/providers/google/callback?code=c0de&state=%s",
		 enc);
	a = web(e, "GET", path, NULL, NULL);
	curl_free(enc);
	return a;
}

/* The parts of the _baas_ua of a final location, malloc'd: [0] access
 * token, [2] user id. */
static void ua_parts(const char *location, char *parts[4])
{
	char *ua = social_form_value(strchr(location, '#') + 1, "_baas_ua"), *p, *raw;
	size_t n, i;

	assert_non_null(ua);
	raw = calloc(1, strlen(ua) + 1);
	assert_non_null(raw);
	n = (size_t)EVP_DecodeBlock((unsigned char *)raw, (const unsigned char *)ua, (int)strlen(ua));
	while (n > 0 && raw[n - 1] == '\0')
		n--;
	raw[n] = '\0';
	p = raw;
	for (i = 0; i < 4; i++) {
		char *end = strchr(p, '$');

		assert_true(i == 3 ? end == NULL : end != NULL);
		parts[i] = end ? strndup(p, (size_t)(end - p)) : strdup(p);
		assert_non_null(parts[i]);
		p = end ? end + 1 : p;
	}
	free(raw);
	free(ua);
}

/* The number of identities in the profile of the holder of `access`. */
static size_t profile_identities(struct env *e, const char *access, const char *user_id)
{
	struct answer a = web_bearer(e, "GET", "/api/client/v2.0/auth/profile", NULL, NULL, access);
	json_t *doc;
	size_t n;

	assert_int_equal(a.status, 200);
	doc = json_loads(a.body, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "user_id")), user_id);
	n = json_array_size(json_object_get(doc, "identities"));
	json_decref(doc);
	answer_clear(&a);
	return n;
}

static void redirect_link_round_trip(void **state)
{
	struct env *e = *state;
	char *access, *user_id, *st, *parts[4], *v;
	const char *frag;
	struct answer a;
	size_t i;

	apple_login(e, "001.linker", &access, &user_id);
	assert_int_equal(profile_identities(e, access, user_id), 1);
	st = start_link(e, access);
	set_token_reply(e, "g-linked");
	a = callback_get(e, st);
	if (a.status != 302)
		fail_msg("link callback: HTTP %ld %s", a.status, a.body ? a.body : "");
	assert_memory_equal(a.location, DONE "#_baas_ua=", strlen(DONE) + 10);
	frag = strchr(a.location, '#') + 1;
	v = social_form_value(frag, "_baas_link");
	assert_non_null(v);
	assert_string_equal(v, "true");
	free(v);
	v = social_form_value(frag, "_baas_state");
	assert_string_equal(v, "link-state");
	free(v);
	assert_null(strstr(frag, "_baas_error"));
	/* The same user, with a fresh access token of the linking session that
	 * shows both identities, and no refresh token: a link opens no session. */
	ua_parts(a.location, parts);
	assert_string_equal(parts[1], "");
	assert_string_equal(parts[2], user_id);
	assert_string_not_equal(parts[0], access);
	assert_int_equal(profile_identities(e, parts[0], user_id), 2);
	answer_clear(&a);
	/* The linking state works once. */
	a = callback_get(e, st);
	assert_int_equal(a.status, 400);
	assert_null(a.location);
	answer_clear(&a);
	assert_int_equal(mockhttp_hits(e->s->mock, "/token"), 1);
	/* A later Google login of that identity is the same user. */
	free(st);
	st = start_flow(e, &v);
	free(v);
	a = callback_get(e, st);
	assert_int_equal(a.status, 302);
	for (i = 0; i < 4; i++)
		free(parts[i]);
	ua_parts(a.location, parts);
	assert_string_equal(parts[2], user_id);
	assert_null(strstr(a.location, "_baas_link"));
	answer_clear(&a);
	for (i = 0; i < 4; i++)
		free(parts[i]);
	free(st);
	free(access);
	free(user_id);
}

/* No valid access token, no redirect: 401 InvalidSession, Google untouched. */
static void redirect_link_needs_token(void **state)
{
	struct env *e = *state;
	char *access, *user_id, *refresh = NULL, *bad;
	const char *tokens[3];
	struct answer a;
	json_t *doc;
	size_t i;

	apple_login(e, "001.tokenless", &access, &user_id);
	/* A refresh token is not an access token. */
	{
		char *token = social_sign_rsa(json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "https://appleid.apple.com",
							"aud", "com.example.app", "sub", "001.tokenless", "iat",
							social_now(0), "exp", social_now(600)));
		char body[8192];

		snprintf(body, sizeof(body), "{\"id_token\": \"%s\"}", token);
		a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/apple/login", "application/json", body);
		assert_int_equal(a.status, 200);
		doc = json_loads(a.body, 0, NULL);
		refresh = strdup(json_string_value(json_object_get(doc, "refresh_token")));
		json_decref(doc);
		answer_clear(&a);
		free(token);
	}
	bad = strdup(access);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	tokens[0] = NULL;
	tokens[1] = bad;
	tokens[2] = refresh;
	for (i = 0; i < 3; i++) {
		a = web_bearer(e, "GET", LINK_START, NULL, NULL, tokens[i]);
		if (a.status != 401 || a.location)
			fail_msg("link start %zu: HTTP %ld, Location %s", i, a.status, a.location ? a.location : "-");
		assert_non_null(strstr(a.body, "InvalidSession"));
		answer_clear(&a);
	}
	/* A good token does not open the allow-list. */
	a = web_bearer(e, "GET",
		       "/api/client/v2.0/app/" APP
		       "/auth/providers/google/login?redirect=https%3A%2F%2Fevil.example%2Fdone&state=s&link=true",
		       NULL, NULL, access);
	assert_int_equal(a.status, 400);
	assert_null(a.location);
	answer_clear(&a);
	assert_int_equal(mockhttp_hits(e->s->mock, "/token"), 0);
	assert_int_equal(profile_identities(e, access, user_id), 1);
	free(bad);
	free(refresh);
	free(access);
	free(user_id);
}

/* An identity another user holds: _baas_error, nothing linked. */
static void redirect_link_identity_taken(void **state)
{
	struct env *e = *state;
	char *access, *user_id, *st, *token = sign("g-taken"), body[8192], *v;
	struct answer a;

	snprintf(body, sizeof(body), "{\"id_token\": \"%s\"}", token);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/google/login", "application/json", body);
	assert_int_equal(a.status, 200);
	answer_clear(&a);
	free(token);
	apple_login(e, "001.other", &access, &user_id);
	st = start_link(e, access);
	set_token_reply(e, "g-taken");
	a = callback_get(e, st);
	assert_int_equal(a.status, 302);
	assert_memory_equal(a.location, DONE "#_baas_error=", strlen(DONE) + 13);
	assert_null(strstr(a.location, "_baas_ua"));
	assert_null(strstr(a.location, "_baas_link"));
	v = social_form_value(strchr(a.location, '#') + 1, "_baas_state");
	assert_string_equal(v, "link-state");
	free(v);
	answer_clear(&a);
	assert_int_equal(profile_identities(e, access, user_id), 1);
	/* Used up even though it failed. */
	a = callback_get(e, st);
	assert_int_equal(a.status, 400);
	answer_clear(&a);
	free(st);
	free(access);
	free(user_id);
}

/* realm-web's linkCredentials(Credentials.google({redirectUrl})): a fetch()
 * with the access token and providerRedirectHeader=true, which accepts only
 * a 2xx and reads the provider's URL from X-Baas-Location. */
static void redirect_link_header_form(void **state)
{
	struct env *e = *state;
	char *access, *user_id, *st, *parts[4], *authorize = mockhttp_url(e->s->mock, "/authorize?");
	struct answer a;
	size_t i;

	apple_login(e, "001.header", &access, &user_id);
	a = web_bearer(e, "GET", LINK_START "&providerRedirectHeader=true", NULL, NULL, access);
	if (a.status != 200)
		fail_msg("link start: HTTP %ld %s", a.status, a.body ? a.body : "");
	assert_null(a.location);
	assert_non_null(a.baas_location);
	assert_memory_equal(a.baas_location, authorize, strlen(authorize));
	assert_null(strstr(a.baas_location, access));
	st = url_arg(a.baas_location, "state");
	assert_non_null(st);
	answer_clear(&a);
	/* The browser window then goes there, and the callback links as usual. */
	set_token_reply(e, "g-header-linked");
	a = callback_get(e, st);
	assert_int_equal(a.status, 302);
	ua_parts(a.location, parts);
	assert_string_equal(parts[2], user_id);
	assert_int_equal(profile_identities(e, parts[0], user_id), 2);
	answer_clear(&a);
	for (i = 0; i < 4; i++)
		free(parts[i]);
	free(st);
	/* A login start may ask for the header form too; false keeps the 302. */
	a = web(e, "GET",
		"/api/client/v2.0/app/" APP
		"/auth/providers/google/login?redirect=https%3A%2F%2Fapp.example%2Fdone&providerRedirectHeader=true",
		NULL, NULL);
	assert_int_equal(a.status, 200);
	assert_non_null(a.baas_location);
	answer_clear(&a);
	a = web(e, "GET",
		"/api/client/v2.0/app/" APP
		"/auth/providers/google/login?redirect=https%3A%2F%2Fapp.example%2Fdone&providerRedirectHeader=false",
		NULL, NULL);
	assert_int_equal(a.status, 302);
	assert_null(a.baas_location);
	answer_clear(&a);
	/* A bad token still goes nowhere, whatever form was asked for. */
	a = web_bearer(e, "GET", LINK_START "&providerRedirectHeader=true", NULL, NULL, "not-a-token");
	assert_int_equal(a.status, 401);
	assert_null(a.baas_location);
	answer_clear(&a);
	free(authorize);
	free(access);
	free(user_id);
}

/* Sign in with Apple on the web: Apple posts the code back with the user's
 * name (first authorization only) in the form's "user" field. */
static void apple_form_post_with_name(void **state)
{
	struct env *e = *state;
	struct answer a = web(e, "GET",
			      "/api/client/v2.0/app/" APP
			      "/auth/providers/apple-web/login?redirect=https%3A%2F%2Fapp.example%2Fdone&state=s1",
			      NULL, NULL);
	char *st, *enc, *user, body[2048], *token, reply[8192], *parts[4];
	json_t *doc, *data;
	size_t i;

	if (a.status != 302)
		fail_msg("apple start: HTTP %ld %s", a.status, a.body ? a.body : "");
	st = url_arg(a.location, "state");
	assert_non_null(st);
	answer_clear(&a);
	token = social_sign_rsa(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", "https://appleid.apple.com",
					  "aud", "com.example.app", "sub", "001.web", "iat", social_now(0), "exp",
					  social_now(600), "email", "ada@example.com", "email_verified", "true"));
	snprintf(reply, sizeof(reply), "{\"access_token\": \"a\", \"id_token\": \"%s\"}", token);
	mockhttp_set_str(e->s->mock, "/apple/token", 200, "application/json", reply, NULL);
	enc = curl_easy_escape(NULL, st, 0);
	user = curl_easy_escape(NULL, "{\"name\":{\"firstName\":\"Ada\",\"lastName\":\"Lovelace\"}}", 0);
	snprintf(body, sizeof(body), "code=c0de&state=%s&user=%s", enc, user);
	a = web(e, "POST", "/api/client/v2.0/app/" APP "/auth/providers/apple-web/callback",
		"application/x-www-form-urlencoded", body);
	if (a.status != 302 || !strstr(a.location, "#_baas_ua="))
		fail_msg("apple callback: HTTP %ld %s", a.status, a.location ? a.location : "-");
	ua_parts(a.location, parts);
	answer_clear(&a);
	a = web_bearer(e, "GET", "/api/client/v2.0/auth/profile", NULL, NULL, parts[0]);
	assert_int_equal(a.status, 200);
	doc = json_loads(a.body, 0, NULL);
	data = json_object_get(doc, "data");
	assert_string_equal(json_string_value(json_object_get(data, "name")), "Ada Lovelace");
	assert_string_equal(json_string_value(json_object_get(data, "first_name")), "Ada");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "ada@example.com");
	json_decref(doc);
	answer_clear(&a);
	for (i = 0; i < 4; i++)
		free(parts[i]);
	curl_free(enc);
	curl_free(user);
	free(token);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(http_login_with_id_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(http_login_apple_and_facebook, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_flow_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_flow_form_post_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_allow_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_link_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_link_needs_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_link_identity_taken, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_link_header_form, setup, teardown),
	    cmocka_unit_test_setup_teardown(apple_form_post_with_name, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
