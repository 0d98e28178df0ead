/* SPDX-License-Identifier: MIT */
/*
 * daemon/request.c — what handlers read from a request: headers, query
 * arguments, route parameters, the bearer token, a strictly parsed JSON
 * body, the parts of a login body, device ids.  The parsing helpers are
 * pure functions so the unit tests reach them without a server.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon.h"
#include "fastjson.h"
#include "utf8.h"

/* Longest bearer token accepted: sesame's access tokens are far smaller;
 * anything longer is not ours and is not worth verifying. */
#define MAX_BEARER SESAME_ACCESS_TOKEN_MAX

const char *request_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *request_query(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_param(const struct request *req, const char *name)
{
	return route_param(&req->match, name);
}

bool request_app_known(struct request *req, struct reply *rep)
{
	const char *app = request_param(req, "app");

	if (app && strcmp(app, req->app->set.app_id) == 0)
		return true;
	/* What App Services answers; the SDKs show the message as is.  They
	 * know no error code for it, so the code says what happened. */
	if (!app)
		app = "";
	reply_error(rep, 404, "AppNotFound", "cannot find app using Client App ID '%.*s'",
		    (int)utf8_cut(app, strlen(app), 128), app);
	return false;
}

bool request_bearer(struct request *req, struct reply *rep, const char **token)
{
	size_t len;

	if (bearer_token(request_header(req, MHD_HTTP_HEADER_AUTHORIZATION), token, &len))
		return true;
	reply_error(rep, 401, "InvalidSession", "%s",
		    "invalid session: expected an \"Authorization: Bearer <token>\" header");
	reply_header(rep, "WWW-Authenticate", "Bearer");
	return false;
}

bool request_anon_login_allowed(struct request *req, struct reply *rep)
{
	unsigned wait = throttle_take(req->srv->anon_throttle, req->client, monotonic_ms());
	char secs[16];

	if (wait == 0)
		return true;
	snprintf(secs, sizeof(secs), "%u", wait);
	reply_error(rep, 429, "TooManyRequests",
		    "too many anonymous users created from this address; try again in %u seconds", wait);
	reply_header(rep, "Retry-After", secs);
	return false;
}

/* Answer 429 TooManyRequests with Retry-After: `wait` seconds. */
static void reply_throttled(struct reply *rep, unsigned wait, const char *message)
{
	char secs[16];

	snprintf(secs, sizeof(secs), "%u", wait);
	reply_error(rep, 429, "TooManyRequests", "%s", message);
	reply_header(rep, "Retry-After", secs);
}

bool request_attempt_begin(struct request *req, struct reply *rep, struct attempt *a)
{
	unsigned wait = throttle_take(req->srv->throttle, req->client, monotonic_ms());
	char msg[128];

	memset(a, 0, sizeof(*a));
	if (wait == 0) {
		a->address = true;
		return true;
	}
	snprintf(msg, sizeof(msg), "too many failed logins from this address; try again in %u seconds", wait);
	reply_throttled(rep, wait, msg);
	return false;
}

/*
 * The ident_throttle key of (client address, instance, identifier): 128
 * bits of HMAC-SHA256 under a key drawn at start, in hex.  The identifier
 * is the client's, so ASCII case is folded as the email/password provider
 * folds it; nobody can aim two identifiers at one bucket without the key.
 */
static bool identifier_key(const struct request *req, const char *instance, const char *identifier, char out[33])
{
	size_t n = strlen(identifier), i, at = 0, cl = strlen(req->client), il = strlen(instance);
	unsigned char mac[32];
	size_t mac_len = 0;
	char *msg = malloc(cl + il + n + 2);
	bool ok = false;

	if (!msg)
		return false;
	memcpy(msg, req->client, cl + 1);
	at = cl + 1;
	memcpy(msg + at, instance, il + 1);
	at += il + 1;
	for (i = 0; i < n; i++)
		msg[at + i] = identifier[i] >= 'A' && identifier[i] <= 'Z' ? (char)(identifier[i] + 32) : identifier[i];
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, req->srv->ident_key, sizeof(req->srv->ident_key),
		      (const unsigned char *)msg, at + n, mac, sizeof(mac), &mac_len) != NULL &&
	    mac_len == sizeof(mac)) {
		hex_encode(mac, 16, out);
		ok = true;
	}
	OPENSSL_cleanse(msg, at + n);
	free(msg);
	return ok;
}

bool request_attempt_identifier(struct request *req, struct reply *rep, struct attempt *a, const char *instance,
				const char *identifier)
{
	unsigned wait;

	if (!identifier_key(req, instance, identifier, a->identifier)) {
		a->identifier[0] = '\0';
		request_attempt_end(req, a, SESAME_INTERNAL);
		reply_error(rep, 500, "InternalServerError", "internal server error");
		return false;
	}
	wait = throttle_take(req->srv->ident_throttle, a->identifier, monotonic_ms());
	if (wait == 0)
		return true;
	a->identifier[0] = '\0';
	request_attempt_end(req, a, SESAME_INTERNAL);
	/* The same answer whether or not the user exists: the daemon does not
	 * know, and the provider is not asked. */
	reply_throttled(rep, wait, "too many failed logins for this user from this address; try again later");
	return false;
}

void request_attempt_end(struct request *req, struct attempt *a, int status)
{
	int64_t now = monotonic_ms();

	if (status != SESAME_REJECTED) {
		if (a->address)
			throttle_refund(req->srv->throttle, req->client, now);
		if (a->identifier[0])
			throttle_refund(req->srv->ident_throttle, a->identifier, now);
	}
	memset(a, 0, sizeof(*a));
}

bool request_account_request_allowed(struct request *req, struct reply *rep)
{
	unsigned wait = throttle_take(req->srv->account_throttle, req->client, monotonic_ms());

	if (wait == 0)
		return true;
	reply_throttled(rep, wait, "too many account requests from this address; try again later");
	return false;
}

bool content_type_is_json(const char *value)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (!value)
		return false;
	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, json, n) != 0)
		return false;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	/* Parameters such as "; charset=utf-8" (realm-core sends it) are fine. */
	return *value == '\0' || *value == ';';
}

int body_parse_json(const char *buf, size_t len, json_t **out, sesame_error *err)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (len == 0) {
		return derr(err, SESAME_MALFORMED, "body", "the request body is empty: expected a JSON object");
	}
	/* jansson takes a raw NUL byte between tokens for white space; no
	 * JSON text holds one (RFC 8259), so the body is refused. */
	if (memchr(buf, '\0', len))
		return derr(err, SESAME_MALFORMED, "body", "malformed JSON body: a NUL byte");
	/* jansson refuses \u0000 in strings by default: a NUL must never
	 * shorten a credential field behind the core's back. */
	v = fastjson_loadb(buf, len, JSON_DECODE_ANY, &jerr);
	if (!v) {
		return derr(err, SESAME_MALFORMED, "body", "malformed JSON body: %s at line %d, column %d", jerr.text,
			    jerr.line, jerr.column);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return derr(err, SESAME_MALFORMED, "body", "the request body must be a JSON object");
	}
	*out = v;
	return 0;
}

int login_body_split(const json_t *body, bool strip_provider, json_t **credential, const json_t **device,
		     sesame_error *err)
{
	json_t *options = json_object_get(body, "options"), *dev = NULL;

	*credential = NULL;
	*device = NULL;
	if (options && !json_is_object(options)) {
		return derr(err, SESAME_MALFORMED, "body", "\"options\" must be an object");
	}
	if (options)
		dev = json_object_get(options, "device");
	if (dev && !json_is_object(dev)) {
		return derr(err, SESAME_MALFORMED, "body", "\"options.device\" must be an object");
	}
	*credential = json_copy((json_t *)body);
	if (!*credential) {
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	}
	json_object_del(*credential, "options");
	if (strip_provider)
		json_object_del(*credential, "provider");
	*device = dev;
	return 0;
}

/* RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "=" padding. */
static bool b64token_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len &&
	       (strchr("-._~+/", s[i]) || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		(s[i] >= '0' && s[i] <= '9')) &&
	       s[i] != '\0')
		i++;
	if (i == 0)
		return false;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

bool bearer_token(const char *authorization, const char **token, size_t *len)
{
	const char *t;
	size_t n;

	*token = NULL;
	*len = 0;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	if (n == 0 || n > MAX_BEARER || !b64token_valid(t, n))
		return false;
	*token = t;
	*len = n;
	return true;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

const char *login_device_id(const json_t *device)
{
	return json_string_value(json_object_get(device, "deviceId"));
}
