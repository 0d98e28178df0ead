/* SPDX-License-Identifier: MIT */
/*
 * daemon/response.c — building replies: JSON bodies, App Services error
 * bodies {"error", "error_code", "link"}, and the mapping from libsesame's
 * status codes to the HTTP statuses and error codes clients expect.
 */
#include "config.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "daemon.h"
#include "jsontext.h"
#include "utf8.h"

#define JSON_TYPE "application/json"

int derr(sesame_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return status;
}

int exit_status(int status)
{
	return status == SESAME_CONFIG || status == SESAME_USAGE ? EXIT_USAGE : EXIT_UNAVAILABLE;
}

/* ---- memory that held secrets --------------------------------------------- */

void secret_wipe(void *p)
{
	if (p)
		OPENSSL_cleanse(p, malloc_usable_size(p));
}

void secret_free(void *p)
{
	secret_wipe(p);
	free(p);
}

/* jansson allocates with malloc() as before and frees with secret_free():
 * the strings of a parsed body and of a session's tokens, and the buffers
 * jansson grows while it reads or writes them, are wiped as they go. */
void daemon_memory_init(void)
{
	json_set_alloc_funcs(malloc, secret_free);
}

void reply_init(struct reply *rep)
{
	memset(rep, 0, sizeof(*rep));
}

void reply_clear(struct reply *rep)
{
	size_t i;

	secret_free(rep->body);
	free(rep->detail);
	for (i = 0; i < rep->n_headers; i++) {
		free(rep->headers[i].name);
		/* A web login's Location carries its tokens. */
		secret_free(rep->headers[i].value);
	}
	reply_init(rep);
}

/* A handler answers once; a second answer replaces the first whole but
 * keeps the headers already added (CORS, Retry-After). */
static void reply_set_body(struct reply *rep, unsigned status, const char *content_type, char *body, size_t len)
{
	secret_free(rep->body);
	rep->status = status;
	rep->content_type = content_type;
	rep->body = body;
	rep->body_len = len;
}

void reply_text(struct reply *rep, unsigned status, const char *content_type, char *body, size_t len)
{
	if (!body) {
		/* Out of memory: a fixed answer that needs no allocation. */
		reply_set_body(rep, 500, NULL, NULL, 0);
		return;
	}
	reply_set_body(rep, status, content_type, body, len);
}

void reply_empty(struct reply *rep, unsigned status)
{
	char *none = strdup("");

	if (!none) {
		reply_set_body(rep, 500, NULL, NULL, 0);
		return;
	}
	reply_set_body(rep, status, NULL, none, 0);
}

/*
 * json_dumps(body, JSON_COMPACT), byte for byte.  An object (the answers
 * to logins, refreshes and most other calls) is written member by member
 * (shared/jsontext.h): jansson's dumper goes through a callback per piece
 * and looks at every character of a token on its way, 7 us of sesamed's
 * CPU for a login's answer.
 */
static char *compact_text(const json_t *body, size_t *len)
{
	struct jsontext t;
	const char *key;
	json_t *v;
	char *text;

	if (!json_is_object(body)) {
		text = json_dumps(body, JSON_COMPACT);
		*len = text ? strlen(text) : 0;
		return text;
	}
	jsontext_open(&t);
	json_object_foreach ((json_t *)body, key, v)
		jsontext_value(&t, key, v);
	return jsontext_close(&t, len);
}

void reply_json(struct reply *rep, unsigned status, json_t *body)
{
	size_t len = 0;
	char *text = body ? compact_text(body, &len) : NULL;

	json_decref(body);
	reply_text(rep, status, JSON_TYPE, text, len);
}

void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
{
	/* Room for the 3 bytes a cut character may have past the end. */
	char raw[REPLY_ERROR_MAX + 4], msg[REPLY_ERROR_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Messages quote paths, names and texts that may hold any bytes, but
	 * jansson builds only valid UTF-8: repair them, and cut between
	 * characters, or the answer would be a 500. */
	utf8_sanitize(msg, sizeof(msg), raw, utf8_cut(raw, n < 0 ? 0 : strlen(raw), sizeof(msg) - 1));
	reply_json(rep, status, json_pack("{s:s, s:s, s:s}", "error", msg, "error_code", code, "link", ""));
}

/* Retry-After of a provider's throttle ("throttled"), which does not say
 * when its window ends, and of busy password hashing ("busy"). */
#define RETRY_THROTTLED "60"
#define RETRY_BUSY "5"

/*
 * libsesame status (and reason, when it refines it) -> HTTP status and App
 * Services error code, and the Retry-After header of the answers a client
 * should retry later.  The first row that matches wins; a NULL reason
 * matches any.  Routes that need a finer mapping add rows with reasons
 * here, before the row of their status.
 */
static const struct error_row {
	int status;
	const char *reason;
	unsigned http;
	const char *code;
	const char *retry_after; /* NULL: no Retry-After header */
} error_map[] = {
    {SESAME_REJECTED, "disabled", 401, "UserDisabled", NULL},
    {SESAME_REJECTED, "password", 401, "InvalidPassword", NULL},
    {SESAME_REJECTED, "session", 401, "InvalidSession", NULL},
    {SESAME_REJECTED, "user", 401, "AuthError", NULL},
    {SESAME_MALFORMED, NULL, 400, "BadRequest", NULL},
    {SESAME_NOT_FOUND, "provider", 404, "AuthProviderNotFound", NULL},
    {SESAME_NOT_FOUND, "user", 404, "UserNotFound", NULL},
    {SESAME_NOT_FOUND, NULL, 404, "NotFound", NULL},
    {SESAME_CONFLICT, "linked", 401, "InvalidSession", NULL},
    /* The store could not serialize a transaction in its attempts (many
     * writers at once, on any node): try again, it is not the client's. */
    {SESAME_CONFLICT, "busy", 503, "ServiceUnavailable", RETRY_BUSY},
    /* The hosted service answers "user already confirmed" with a 400. */
    {SESAME_CONFLICT, "already-confirmed", 400, "UserAlreadyConfirmed", NULL},
    {SESAME_CONFLICT, NULL, 409, "AccountNameInUse", NULL},
    {SESAME_REJECTED, "forbidden", 403, "Forbidden", NULL},
    {SESAME_REJECTED, "link-type", 400, "BadRequest", NULL},
    {SESAME_REJECTED, "last-identity", 400, "BadRequest", NULL},
    {SESAME_REJECTED, "limit", 400, "BadRequest", NULL},
    {SESAME_REJECTED, "token", 400, "UserpassTokenInvalid", NULL},
    {SESAME_REJECTED, "throttled", 429, "TooManyRequests", RETRY_THROTTLED},
    {SESAME_REJECTED, NULL, 401, "AuthError", NULL},
    {SESAME_UNAVAILABLE, "busy", 503, "ServiceUnavailable", RETRY_BUSY},
    {SESAME_UNAVAILABLE, NULL, 503, "ServiceUnavailable", NULL},
};

static const struct error_row *error_row(int status, const char *reason)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(error_map); i++) {
		if (error_map[i].status != status)
			continue;
		if (error_map[i].reason && (!reason || strcmp(error_map[i].reason, reason) != 0))
			continue;
		return &error_map[i];
	}
	return NULL;
}

unsigned error_http_status(int status, const char *reason, const char **code)
{
	const struct error_row *row = error_row(status, reason);

	*code = row ? row->code : "InternalServerError";
	return row ? row->http : 500;
}

/*
 * Reasons whose texts say too much to a caller without the admin key, and
 * what the caller reads instead.  "nokey", "alg" and "sig" texts name the
 * kids and algorithms a provider trusts and its key sizes; "disabled" names
 * the user's id; "upstream" quotes an identity provider's answer.
 */
static const struct {
	const char *reason;
	const char *text;
} public_texts[] = {
    {"nokey", "the token's signature cannot be verified"},	  {"alg", "the token's signature cannot be verified"},
    {"sig", "the token's signature cannot be verified"},	  {"disabled", "user disabled"},
    {"upstream", "the identity provider refused the credential"},
};

const char *reply_public_text(struct reply *rep, const sesame_error *err)
{
	const char *code, *text = NULL;
	unsigned http = error_http_status(err->status, err->reason, &code);
	size_t i;

	/* A server-side failure's text names files and plugins: the operator
	 * reads it in the log, no caller does. */
	if (http >= 500)
		text = http == 503 ? "service unavailable, try again later" : "internal server error";
	for (i = 0; !text && !rep->trusted && i < ARRAY_SIZE(public_texts); i++)
		if (strcmp(err->reason, public_texts[i].reason) == 0)
			text = public_texts[i].text;
	if (!text)
		return err->text;
	free(rep->detail);
	rep->detail = strdup(err->text);
	return text;
}

void reply_sesame_error(struct reply *rep, const sesame_error *err)
{
	const struct error_row *row = error_row(err->status, err->reason);
	const char *code;
	unsigned http = error_http_status(err->status, err->reason, &code);

	if (row && row->retry_after)
		reply_header(rep, "Retry-After", row->retry_after);
	if (http >= 500)
		fprintf(stderr, "sesamed: error: %s\n", err->text);
	reply_error(rep, http, code, "%s", reply_public_text(rep, err));
}

void reply_header(struct reply *rep, const char *name, const char *value)
{
	size_t i;
	char *v = strdup(value);

	if (!v)
		return;
	for (i = 0; i < rep->n_headers; i++) {
		if (strcasecmp(rep->headers[i].name, name) == 0) {
			secret_free(rep->headers[i].value);
			rep->headers[i].value = v;
			return;
		}
	}
	if (rep->n_headers == REPLY_MAX_HEADERS) {
		free(v);
		return;
	}
	rep->headers[rep->n_headers].name = strdup(name);
	if (!rep->headers[rep->n_headers].name) {
		free(v);
		return;
	}
	rep->headers[rep->n_headers++].value = v;
}

const char *reply_header_value(const struct reply *rep, const char *name)
{
	size_t i;

	for (i = 0; i < rep->n_headers; i++)
		if (strcasecmp(rep->headers[i].name, name) == 0)
			return rep->headers[i].value;
	return NULL;
}
