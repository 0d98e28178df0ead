/* SPDX-License-Identifier: MIT */
/*
 * daemon/weblogin.c — the web OAuth redirect flow of the social providers.
 *
 *   GET  .../auth/providers/{name}/login?redirect=URL&state=S
 *        -> 302 to the provider's authorization URL (built by the provider's
 *           "authorize_url" action, which also refuses a redirect outside
 *           its redirect_uris), with a server-side state and PKCE; with
 *           providerRedirectHeader=true (realm-web's linking, a fetch()
 *           that must not follow the redirect) 200 with the URL in
 *           X-Baas-Location instead;
 *   GET or POST (Apple's form_post) .../auth/providers/{name}/callback
 *        -> the code is logged in through the provider's {authCode}
 *           credential, and the browser goes to
 *           URL#_baas_ua=BASE64(access$refresh$user_id$device_id)&_baas_state=S
 *           (or #_baas_error=MESSAGE&_baas_state=S).
 *
 * Linking: a start request with link=true must carry the linking user's
 * access token in "Authorization: Bearer"; sesamed verifies it before
 * redirecting anywhere (401 InvalidSession otherwise) and keeps the user id
 * and the token in the server-side state entry, never trusting anything the
 * browser brings back.  At the callback the token is verified again (the
 * session may have been revoked meanwhile), the code's identity is linked to
 * that user, and the fragment carries _baas_link=true as well.
 *
 * The pending logins live in sesamed's memory: a bounded table, each entry
 * one-time and short-lived (daemon.weblogin_ttl).  Starting one costs no
 * credential, so one client address (an IPv6 /64 counting as one) may hold
 * at most daemon.weblogin_per_address of them and start at most
 * daemon.weblogin_starts_per_minute a minute: a used entry stays in the
 * table as a spent record for that minute, so completing or abandoning
 * logins does not reset the count.  Filling the table then takes many
 * addresses instead of one request burst.  Keeping the daemon
 * provider-agnostic, it knows no provider's URLs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "daemon.h"
#include "utf8.h"

#define CLIENT "/api/client/v2.0"
#define WEBLOGIN_SLOTS 1024
#define RATE_WINDOW_MS 60000 /* daemon.weblogin_starts_per_minute counts over this */
#define MAX_CLIENT_STATE 512
#define MAX_REDIRECT 2048
#define MAX_CODE 4096
#define RANDOM_BYTES 32
#define B64URL_OF_32 43

/* A slot: free, a pending login, or the spent record of one (for the rate). */
enum slot_use { SLOT_FREE, SLOT_PENDING, SLOT_SPENT };

/* Client addresses as the limits count them: IPv4, or an IPv6 /64. */
#define ADDRESS_KEY_MAX 48

struct pending {
	enum slot_use use;
	char address[ADDRESS_KEY_MAX];
	int64_t created_ms; /* monotonic_ms() */
	char state[B64URL_OF_32 + 1];
	char verifier[B64URL_OF_32 + 1];
	bool pkce;
	char provider[ROUTE_PARAM_MAX + 1];
	char *redirect;
	char *client_state;
	char *link_user;  /* linking: the user id verified at the start */
	char *link_token; /* linking: that user's access token, re-verified at the callback */
	int64_t expires_ms;
};

struct weblogin {
	pthread_mutex_t lock;
	struct pending slots[WEBLOGIN_SLOTS];
};

struct weblogin *weblogin_new(void)
{
	struct weblogin *w = calloc(1, sizeof(*w));

	if (w)
		pthread_mutex_init(&w->lock, NULL);
	return w;
}

static void pending_clear(struct pending *p)
{
	free(p->redirect);
	free(p->client_state);
	free(p->link_user);
	if (p->link_token)
		OPENSSL_cleanse(p->link_token, strlen(p->link_token));
	free(p->link_token);
	OPENSSL_cleanse(p, sizeof(*p));
}

void weblogin_free(struct weblogin *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < WEBLOGIN_SLOTS; i++)
		pending_clear(&w->slots[i]);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/*
 * `client` (an address as inet_ntop wrote it) as the per-address limits
 * count it.  One IPv6 host usually holds a whole /64, so an IPv6 address
 * counts as its /64 prefix; an IPv4-mapped one as the IPv4 address.
 */
static void address_key(const char *client, char out[ADDRESS_KEY_MAX])
{
	unsigned char a[16];
	char prefix[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, client, a) != 1) {
		snprintf(out, ADDRESS_KEY_MAX, "%s", client);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a)) {
		inet_ntop(AF_INET, a + 12, out, ADDRESS_KEY_MAX);
		return;
	}
	memset(a + 8, 0, 8);
	inet_ntop(AF_INET6, a, prefix, sizeof(prefix));
	snprintf(out, ADDRESS_KEY_MAX, "%s/64", prefix);
}

/* base64url without padding of `len` bytes; out holds 4 * len / 3 + 4. */
static void b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len), i;

	for (i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
}

static bool random_token(char out[B64URL_OF_32 + 1])
{
	unsigned char raw[RANDOM_BYTES];
	char buf[64];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return false;
	b64url(raw, sizeof(raw), buf);
	memcpy(out, buf, B64URL_OF_32 + 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	return true;
}

static char *url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	char *out = malloc(3 * n + 1);

	for (i = 0; out && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	if (out)
		out[j] = '\0';
	return out;
}

/* Why a pending login could not be kept. */
enum put_result { PUT_OK, PUT_ADDRESS_FULL, PUT_ADDRESS_RATE, PUT_TABLE_FULL };

/* Forget what has run out: pending logins past their expiry, spent records
 * past the rate window. */
static void slot_expire(struct pending *slot, int64_t now)
{
	if ((slot->use == SLOT_PENDING && slot->expires_ms <= now) ||
	    (slot->use == SLOT_SPENT && slot->created_ms + RATE_WINDOW_MS <= now))
		pending_clear(slot);
}

/* The seconds (at least 1) from `now` until `then`. */
static unsigned seconds_until(int64_t then, int64_t now)
{
	return then <= now ? 1 : (unsigned)((then - now + 999) / 1000);
}

/*
 * Keep the pending login `p` (its address set; ownership of its strings
 * moves to the table on PUT_OK) within the per-address limits of `d`.
 * Otherwise *retry is the seconds until a slot frees up for the address.
 */
static enum put_result pending_put(struct weblogin *w, const struct pending *p, const struct daemon_settings *d,
				   unsigned *retry)
{
	int64_t now = monotonic_ms(), first_expiry = INT64_MAX, first_start = INT64_MAX, any_expiry = INT64_MAX;
	unsigned pending = 0, started = 0;
	struct pending *free_slot = NULL, *oldest_spent = NULL;
	enum put_result rc = PUT_OK;
	size_t i;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEBLOGIN_SLOTS; i++) {
		struct pending *slot = &w->slots[i];

		slot_expire(slot, now);
		if (slot->use == SLOT_FREE) {
			if (!free_slot)
				free_slot = slot;
			continue;
		}
		if (slot->use == SLOT_PENDING && slot->expires_ms < any_expiry)
			any_expiry = slot->expires_ms;
		if (slot->use == SLOT_SPENT && (!oldest_spent || slot->created_ms < oldest_spent->created_ms))
			oldest_spent = slot;
		if (strcmp(slot->address, p->address) != 0)
			continue;
		if (slot->use == SLOT_PENDING) {
			pending++;
			if (slot->expires_ms < first_expiry)
				first_expiry = slot->expires_ms;
		}
		if (slot->created_ms + RATE_WINDOW_MS > now) {
			started++;
			if (slot->created_ms < first_start)
				first_start = slot->created_ms;
		}
	}
	if (pending >= d->weblogin_per_address) {
		rc = PUT_ADDRESS_FULL;
		*retry = seconds_until(first_expiry, now);
	} else if (started >= d->weblogin_starts_per_minute) {
		rc = PUT_ADDRESS_RATE;
		*retry = seconds_until(first_start + RATE_WINDOW_MS, now);
	} else if (!free_slot && !oldest_spent) {
		rc = PUT_TABLE_FULL;
		*retry = any_expiry == INT64_MAX ? RATE_WINDOW_MS / 1000 : seconds_until(any_expiry, now);
	} else {
		/* Spent records only count starts: under load they give way, so
		 * the table holds as many pending logins as before them. */
		if (!free_slot) {
			free_slot = oldest_spent;
			pending_clear(free_slot);
		}
		*free_slot = *p;
		free_slot->use = SLOT_PENDING;
		free_slot->created_ms = now;
		free_slot->expires_ms = now + (int64_t)d->weblogin_ttl * 1000;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Take (and forget: a state works once) the live pending login of `state`
 * for `provider`. */
static bool pending_take(struct weblogin *w, const char *state, const char *provider, struct pending *out)
{
	int64_t now = monotonic_ms();
	bool found = false;
	size_t i;

	if (strlen(state) != B64URL_OF_32)
		return false;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEBLOGIN_SLOTS && !found; i++) {
		struct pending *slot = &w->slots[i];

		if (slot->use != SLOT_PENDING || CRYPTO_memcmp(slot->state, state, B64URL_OF_32) != 0)
			continue;
		found = slot->expires_ms > now && strcmp(slot->provider, provider) == 0;
		if (found) {
			struct pending spent = {.use = SLOT_SPENT, .created_ms = slot->created_ms};

			*out = *slot;
			/* Ownership of the strings moves to `out`; the slot keeps
			 * counting towards its address's starts for the minute. */
			memcpy(spent.address, slot->address, sizeof(spent.address));
			*slot = spent;
		}
		break;
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

/* public_url + the callback path of provider `name`, malloc'd. */
static char *callback_url(const struct request *req, const char *name)
{
	const char *base = req->app->set.public_url, *app = req->app->set.app_id;
	size_t n = strlen(base) + strlen(app) + strlen(name) + 64;
	char *url = malloc(n);

	if (url)
		snprintf(url, n, "%s" CLIENT "/app/%s/auth/providers/%s/callback", base, app, name);
	return url;
}

/* A query or form value: present, at most `max` bytes, UTF-8 (it goes into
 * JSON) without control characters. */
static bool text_ok(const char *s, size_t max)
{
	size_t i, n = s ? strlen(s) : 0;

	if (!s || n == 0 || n > max || !utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void redirect_to(struct reply *rep, const char *location)
{
	reply_empty(rep, 302);
	reply_header(rep, "Location", location);
	reply_header(rep, "Cache-Control", "no-store");
}

/* The redirect as realm-web's linking asks for it: a 2xx it can read
 * (its fetch() accepts only response.ok) naming the URL in a header. */
static void redirect_in_header(struct reply *rep, const char *location)
{
	reply_empty(rep, 200);
	reply_header(rep, "X-Baas-Location", location);
	reply_header(rep, "Cache-Control", "no-store");
}

void weblogin_start(struct request *req, struct reply *rep)
{
	const char *name = request_param(req, "name"), *redirect = request_query(req, "redirect");
	const char *cstate = request_query(req, "state"), *link = request_query(req, "link"), *token;
	const char *in_header = request_query(req, "providerRedirectHeader");
	struct pending p = {.use = SLOT_PENDING};
	enum put_result put;
	unsigned retry = 0;
	char secs[16];
	sesame_caller *caller = NULL;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char challenge[64], *callback = NULL;
	json_t *args = NULL, *result = NULL;
	sesame_error err;
	unsigned caps;
	int rc;

	if (!request_app_known(req, rep))
		return;
	if (sesame_provider_capabilities(req->app->ctx, name, &caps, &err) != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	if (!(caps & SESAME_PROVIDER_CAP_WEB_REDIRECT)) {
		reply_error(rep, 400, "BadRequest", "provider \"%s\" has no web redirect flow", name);
		return;
	}
	if (!text_ok(redirect, MAX_REDIRECT) || (cstate && !text_ok(cstate, MAX_CLIENT_STATE))) {
		reply_error(rep, 400, "BadRequest",
			    "\"redirect\" (a URL) is required; \"state\" is at most %d characters", MAX_CLIENT_STATE);
		return;
	}
	if (link && strcmp(link, "true") == 0) {
		/* Verified before any redirect: a bad token goes nowhere. */
		if (!request_bearer(req, rep, &token))
			return;
		if (sesame_caller_from_access_token(req->app->ctx, token, &caller, &err) != SESAME_OK) {
			if (strcmp(err.reason, "disabled") == 0)
				reply_error(rep, 401, "UserDisabled", "%s", err.text);
			else if (err.status == SESAME_REJECTED || err.status == SESAME_MALFORMED ||
				 err.status == SESAME_NOT_FOUND)
				reply_error(rep, 401, "InvalidSession", "invalid session: %s", err.text);
			else
				reply_sesame_error(rep, &err);
			return;
		}
		p.link_user = strdup(sesame_caller_user_id(caller));
		p.link_token = strdup(token);
		sesame_caller_free(caller);
		if (!p.link_user || !p.link_token) {
			reply_error(rep, 500, "InternalServerError", "out of memory");
			pending_clear(&p);
			return;
		}
	}
	if (!random_token(p.state) || !random_token(p.verifier)) {
		pending_clear(&p);
		reply_error(rep, 500, "InternalServerError", "no randomness");
		return;
	}
	SHA256((const unsigned char *)p.verifier, strlen(p.verifier), digest);
	b64url(digest, sizeof(digest), challenge);
	callback = callback_url(req, name);
	args = callback ? json_pack("{s:s, s:s, s:s, s:s}", "redirect", redirect, "redirect_uri", callback, "state",
				    p.state, "code_challenge", challenge)
			: NULL;
	rc = args ? sesame_provider_action(req->app->ctx, name, "authorize_url", args, &result, &err) : -1;
	if (rc < 0) {
		reply_error(rep, 500, "InternalServerError", "out of memory");
		pending_clear(&p);
	} else if (rc != SESAME_OK) {
		/* Never redirect anywhere the provider did not approve. */
		if (strcmp(err.reason, "redirect") == 0)
			reply_error(rep, 400, "BadRequest", "%s", err.text);
		else
			reply_sesame_error(rep, &err);
		pending_clear(&p);
	} else if (!json_is_string(json_object_get(result, "url"))) {
		reply_error(rep, 500, "InternalServerError", "provider %s built no authorization URL", name);
		pending_clear(&p);
	} else {
		snprintf(p.provider, sizeof(p.provider), "%s", name);
		address_key(req->client, p.address);
		p.pkce = json_is_true(json_object_get(result, "pkce"));
		p.redirect = strdup(redirect);
		p.client_state = strdup(cstate ? cstate : "");
		put = p.redirect && p.client_state ? pending_put(req->srv->weblogin, &p, &req->app->set.daemon, &retry)
						   : PUT_OK;
		snprintf(secs, sizeof(secs), "%u", retry);
		if (!p.redirect || !p.client_state) {
			reply_error(rep, 500, "InternalServerError", "out of memory");
			pending_clear(&p);
		} else if (put == PUT_ADDRESS_FULL || put == PUT_ADDRESS_RATE) {
			reply_error(rep, 429, "TooManyRequests",
				    "too many web logins %s from this address; try again in %u seconds",
				    put == PUT_ADDRESS_FULL ? "in progress" : "started", retry);
			reply_header(rep, "Retry-After", secs);
			pending_clear(&p);
		} else if (put == PUT_TABLE_FULL) {
			reply_error(rep, 503, "ServiceUnavailable", "too many logins in progress; try again later");
			reply_header(rep, "Retry-After", secs);
			pending_clear(&p);
		} else if (in_header && strcmp(in_header, "true") == 0) {
			redirect_in_header(rep, json_string_value(json_object_get(result, "url")));
		} else {
			redirect_to(rep, json_string_value(json_object_get(result, "url")));
		}
	}
	json_decref(args);
	json_decref(result);
	free(callback);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* The decoded value of `name` in a form body, malloc'd; NULL when absent. */
static char *form_value(const char *body, size_t len, const char *name)
{
	size_t n = strlen(name), i = 0;

	while (body && i < len) {
		size_t end = i;

		while (end < len && body[end] != '&')
			end++;
		if (end - i > n && strncmp(body + i, name, n) == 0 && body[i + n] == '=') {
			char *out = malloc(end - i), *o = out;
			size_t k;

			for (k = i + n + 1; out && k < end; k++) {
				if (body[k] == '%' && k + 2 < end && hexval(body[k + 1]) >= 0 &&
				    hexval(body[k + 2]) >= 0) {
					*o++ = (char)(hexval(body[k + 1]) * 16 + hexval(body[k + 2]));
					k += 2;
				} else {
					*o++ = body[k] == '+' ? ' ' : body[k];
				}
			}
			if (out)
				*o = '\0';
			return out;
		}
		i = end + 1;
	}
	return NULL;
}

/* A callback parameter from the query (GET) or the form body (POST). */
static char *callback_param(const struct request *req, bool post, const char *name)
{
	const char *v;

	if (post)
		return form_value(req->body, req->body_len, name);
	v = request_query(req, name);
	return v ? strdup(v) : NULL;
}

/* URL#_baas_ua=...[&_baas_link=true]&_baas_state=... (or _baas_error), malloc'd. */
static char *final_location(const struct pending *p, const char *app, const json_t *session, const char *error)
{
	char *state = url_encode(p->client_state), *appenc = url_encode(app), *value = NULL, *loc = NULL;
	size_t n;

	if (session) {
		/* A link keeps the caller's session: no refresh token, an empty
		 * field (realm-web splits on "$" and uses only the access token). */
		const char *refresh = json_string_value(json_object_get(session, "refresh_token"));
		const char *parts[] = {json_string_value(json_object_get(session, "access_token")),
				       refresh ? refresh : "", json_string_value(json_object_get(session, "user_id")),
				       json_string_value(json_object_get(session, "device_id"))};
		size_t len = strlen(parts[0]) + strlen(parts[1]) + strlen(parts[2]) + strlen(parts[3]) + 4;
		char *ua = malloc(len), *b64 = malloc(4 * (len / 3) + 8);

		if (ua && b64) {
			snprintf(ua, len, "%s$%s$%s$%s", parts[0], parts[1], parts[2], parts[3]);
			EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)ua, (int)strlen(ua));
			value = url_encode(b64);
			OPENSSL_cleanse(ua, len);
			OPENSSL_cleanse(b64, strlen(b64));
		}
		free(ua);
		free(b64);
	} else {
		value = url_encode(error);
	}
	n = strlen(p->redirect) + (value ? strlen(value) : 0) + (state ? strlen(state) : 0) +
	    (appenc ? strlen(appenc) : 0) + 96;
	if (value && state && appenc && (loc = malloc(n)) != NULL)
		snprintf(loc, n, "%s#%s=%s%s&_baas_state=%s&_baas_client_app_id=%s", p->redirect,
			 session ? "_baas_ua" : "_baas_error", value, session && p->link_user ? "&_baas_link=true" : "",
			 state, appenc);
	if (value)
		OPENSSL_cleanse(value, strlen(value));
	free(value);
	free(state);
	free(appenc);
	return loc;
}

static void finish(struct request *req, struct reply *rep, const struct pending *p, const json_t *session,
		   const char *error)
{
	char *loc = final_location(p, req->app->set.app_id, session, error);

	if (!loc) {
		reply_error(rep, 500, "InternalServerError", "out of memory");
		return;
	}
	redirect_to(rep, loc);
	OPENSSL_cleanse(loc, strlen(loc));
	free(loc);
}

static int link_error(sesame_error *err, int status, const char *text)
{
	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", "link");
	snprintf(err->text, sizeof(err->text), "%s", text);
	return status;
}

/* The callback of a linking state: the linking user (from the state entry,
 * its token verified again) gets the code's identity and a fresh access
 * token of the session it linked from (no new session). */
/* Link the code's identity to the user of the start; the status. */
static int link_finish(struct request *req, struct reply *rep, const struct pending *p, const char *name,
		       const json_t *cred)
{
	sesame_caller *caller = NULL;
	json_t *session = NULL;
	sesame_error err;
	int rc;

	rc = sesame_caller_from_access_token(req->app->ctx, p->link_token, &caller, &err);
	if (rc == SESAME_OK && strcmp(sesame_caller_user_id(caller), p->link_user) != 0)
		rc = link_error(&err, SESAME_REJECTED, "the session changed users");
	if (rc == SESAME_OK)
		rc = sesame_link(caller, p->link_user, name, cred, NULL, &err);
	if (rc == SESAME_OK)
		rc = sesame_session_access_token(caller, &session, &err);
	sesame_caller_free(caller);
	if (rc == SESAME_OK)
		finish(req, rep, p, session, NULL);
	else
		finish(req, rep, p, NULL, reply_public_text(rep, &err));
	json_decref(session);
	return rc;
}

void weblogin_callback(struct request *req, struct reply *rep)
{
	const char *name = request_param(req, "name");
	bool post = strcmp(req->method, "POST") == 0;
	char *state = callback_param(req, post, "state"), *code = callback_param(req, post, "code");
	char *error = callback_param(req, post, "error"), *callback = NULL;
	/* Apple's form_post carries the user's name, once, in "user". */
	char *user = post ? callback_param(req, post, "user") : NULL;
	struct pending p = {0};
	json_t *cred = NULL, *session = NULL;
	struct attempt attempt = {0};
	sesame_error err;
	int rc = SESAME_INTERNAL;

	if (!request_app_known(req, rep))
		goto out;
	if (!state || !pending_take(req->srv->weblogin, state, name, &p)) {
		reply_error(rep, 400, "BadRequest", "unknown, used or expired login state");
		goto out;
	}
	if (error || !text_ok(code, MAX_CODE)) {
		finish(req, rep, &p, NULL, error && text_ok(error, 128) ? error : "the provider returned no code");
		goto out;
	}
	/* The login throttle, reserved before the code is redeemed and given
	 * back unless the provider refused it, as for every login. */
	if (!request_attempt_begin(req, rep, &attempt))
		goto out;
	callback = callback_url(req, name);
	cred = callback ? json_pack("{s:s, s:s}", "authCode", code, "redirect_uri", callback) : NULL;
	if (cred && p.pkce)
		json_object_set_new(cred, "code_verifier", json_string(p.verifier));
	if (cred && user && json_object_set_new(cred, "user", json_string(user)) != 0) {
		json_decref(cred);
		cred = NULL;
	}
	if (!cred) {
		reply_error(rep, 500, "InternalServerError", "out of memory");
	} else if (p.link_user) {
		rc = link_finish(req, rep, &p, name, cred);
	} else if ((rc = sesame_login(req->app->ctx, name, cred, NULL, &session, &err)) == SESAME_OK) {
		finish(req, rep, &p, session, NULL);
	} else {
		finish(req, rep, &p, NULL, reply_public_text(rep, &err));
	}
	request_attempt_end(req, &attempt, rc);
out:
	json_decref(cred);
	json_decref(session);
	pending_clear(&p);
	free(callback);
	free(state);
	secret_free(code);
	free(error);
	free(user);
}
