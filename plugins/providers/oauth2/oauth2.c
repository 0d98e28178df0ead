/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/oauth2/oauth2.c — the helpers of oauth2.h, shared by
 * the social provider plugins.  Everything goes through the host services
 * table: no crypto, HTTP or TLS of their own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2.h"

#define OA_MAX_FIELD 4096

static int oom(const struct oa_ctx *c, sesame_error *err)
{
	return c->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
}

int oa_check_host(const struct sesame_host *host, bool need_digests, sesame_error *err)
{
	if (!SESAME_HAS_FIELD(struct sesame_host, jwt_sign, host->struct_size) || !host->jwt_verify ||
	    !host->keys_from_jwks_uri || !host->keys_free || !host->http || !host->http_response_clear)
		return host->error(err, SESAME_CONFIG, "abi", "the host does not offer JWT verification and HTTP");
	/* Forms and digests in hex are encoded by the host (ABI 1.2). */
	if (!SESAME_HAS_FIELD(struct sesame_host, encode, host->struct_size) || !host->encode)
		return host->error(err, SESAME_CONFIG, "abi", "the host does not offer encoders (provider ABI 1.2)");
	if (need_digests && (!SESAME_HAS_FIELD(struct sesame_host, hmac_sha256, host->struct_size) || !host->sha256 ||
			     !host->hmac_sha256))
		return host->error(err, SESAME_CONFIG, "abi", "the host does not offer SHA-256 (provider ABI 1.1)");
	return SESAME_OK;
}

int oa_check_known_keys(const struct oa_ctx *c, const json_t *config, const char *const *known, sesame_error *err)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(config))
		return c->host->error(err, SESAME_CONFIG, "config", "\"config\" must be an object");
	json_object_foreach ((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return c->host->error(err, SESAME_CONFIG, "config",
					      "unknown key \"%s\" (see sesame-%s(5) for the keys %s knows)", key,
					      c->type, c->type);
	}
	return SESAME_OK;
}

void oa_strings_free(char **list, size_t max)
{
	size_t i;

	for (i = 0; i < max && list[i]; i++) {
		free(list[i]);
		list[i] = NULL;
	}
}

static bool valid_text(const json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
	       strlen(json_string_value(v)) == json_string_length(v);
}

/*
 * Tokens, codes, nonces and redirect URIs are printable ASCII (RFC 6749's
 * VSCHAR, %x20-7E): anything else is not one of them, and is refused here
 * rather than sent to the identity provider.
 */
static bool visible_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

int oa_load_client_ids(const struct oa_ctx *c, const json_t *config, char *ids[OA_MAX_CLIENT_IDS + 1],
		       sesame_error *err)
{
	json_t *one = json_object_get(config, "client_id"), *many = json_object_get(config, "client_ids"), *v;
	size_t n = 0, i;

	if (one) {
		if (!valid_text(one, 512))
			return c->host->error(err, SESAME_CONFIG, "config", "\"client_id\" must be a non-empty string");
		ids[n] = strdup(json_string_value(one));
		if (!ids[n++])
			return oom(c, err);
	}
	if (many) {
		if (!json_is_array(many) || json_array_size(many) == 0 || json_array_size(many) + n > OA_MAX_CLIENT_IDS)
			return c->host->error(err, SESAME_CONFIG, "config",
					      "\"client_ids\" must be an array of 1 to %d non-empty strings",
					      OA_MAX_CLIENT_IDS);
		json_array_foreach (many, i, v) {
			if (!valid_text(v, 512))
				return c->host->error(err, SESAME_CONFIG, "config",
						      "\"client_ids\"[%zu] must be a non-empty string", i);
			ids[n] = strdup(json_string_value(v));
			if (!ids[n++])
				return oom(c, err);
		}
	}
	if (n == 0)
		return c->host->error(err, SESAME_CONFIG, "config",
				      "\"client_id\" (or \"client_ids\") is required: the id the identity provider "
				      "issued to this application");
	ids[n] = NULL;
	return SESAME_OK;
}

int oa_load_string(const struct oa_ctx *c, const json_t *config, const char *key, const char *fallback, char **out,
		   sesame_error *err)
{
	json_t *v = json_object_get(config, key);

	*out = NULL;
	if (!v && !fallback)
		return SESAME_OK;
	if (v && !valid_text(v, OA_MAX_URL))
		return c->host->error(err, SESAME_CONFIG, "config", "\"%s\" must be a non-empty string", key);
	*out = strdup(v ? json_string_value(v) : fallback);
	return *out ? SESAME_OK : oom(c, err);
}

static bool loopback_http(const char *url)
{
	static const char *const hosts[] = {"http://127.0.0.1", "http://[::1]", "http://localhost", NULL};
	size_t i, n;

	for (i = 0; hosts[i]; i++) {
		n = strlen(hosts[i]);
		if (strncmp(url, hosts[i], n) == 0 && (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
			return true;
	}
	return false;
}

int oa_load_url(const struct oa_ctx *c, const json_t *config, const char *key, const char *fallback, char **out,
		sesame_error *err)
{
	int rc = oa_load_string(c, config, key, fallback, out, err);

	if (rc != SESAME_OK || !*out)
		return rc;
	if (strncmp(*out, "https://", 8) == 0 || (c->host->test_mode(c->self) && loopback_http(*out)))
		return SESAME_OK;
	rc =
	    c->host->error(err, SESAME_CONFIG, "url",
			   "\"%s\" must be an https:// URL (http:// only to loopback in test_mode): %.200s", key, *out);
	free(*out);
	*out = NULL;
	return rc;
}

int oa_load_secret(const struct oa_ctx *c, const json_t *config, const char *key, bool required, char **out,
		   sesame_error *err)
{
	json_t *v = json_object_get(config, key);

	*out = NULL;
	if (!v && !required)
		return SESAME_OK;
	/* Never echo the value: it is a secret. */
	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v))
		return c->host->error(err, SESAME_CONFIG, "config",
				      "\"%s\" is required: a non-empty string (inline or \"@/path/to/file\")", key);
	*out = strdup(json_string_value(v));
	return *out ? SESAME_OK : oom(c, err);
}

void oa_secret_free(const struct sesame_host *host, char *s)
{
	if (!s)
		return;
	host->wipe(s, strlen(s));
	free(s);
}

int oa_load_string_list(const struct oa_ctx *c, const json_t *config, const char *key, size_t max, char ***out,
			sesame_error *err)
{
	json_t *list = json_object_get(config, key), *v;
	size_t i;

	*out = NULL;
	if (!list)
		return SESAME_OK;
	if (!json_is_array(list) || json_array_size(list) > max)
		return c->host->error(err, SESAME_CONFIG, "config", "\"%s\" must be an array of at most %zu strings",
				      key, max);
	*out = calloc(json_array_size(list) + 1, sizeof(**out));
	if (!*out)
		return oom(c, err);
	json_array_foreach (list, i, v) {
		if (!valid_text(v, OA_MAX_URL))
			return c->host->error(err, SESAME_CONFIG, "config", "\"%s\"[%zu] must be a non-empty string",
					      key, i);
		(*out)[i] = strdup(json_string_value(v));
		if (!(*out)[i])
			return oom(c, err);
	}
	return SESAME_OK;
}

void oa_list_free(char **list)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

bool oa_in_list(const char *const *list, const char *s)
{
	size_t i;

	for (i = 0; list && s && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

int oa_check_credential_keys(const struct oa_ctx *c, const json_t *credential, const char *const *allowed,
			     sesame_error *err)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(credential))
		return c->host->error(err, SESAME_MALFORMED, "credential", "the credential must be a JSON object");
	json_object_foreach ((json_t *)credential, key, v) {
		/* Clients send "provider" and "options" (device info) with every login. */
		if (strcmp(key, "provider") == 0 || strcmp(key, "options") == 0)
			continue;
		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i])
			return c->host->error(err, SESAME_MALFORMED, "credential",
					      "unknown credential member \"%.64s\"", key);
	}
	return SESAME_OK;
}

int oa_credential_string(const struct oa_ctx *c, const json_t *credential, const char *key, size_t max,
			 const char **out, sesame_error *err)
{
	json_t *v = json_object_get(credential, key);

	*out = NULL;
	if (!v)
		return SESAME_OK;
	if (!valid_text(v, max) || !visible_ascii(json_string_value(v)))
		return c->host->error(err, SESAME_MALFORMED, "credential",
				      "\"%s\" must be a non-empty string of at most %zu printable ASCII characters",
				      key, max);
	*out = json_string_value(v);
	return SESAME_OK;
}

void oa_form_add(struct oa_form *f, const char *name, const char *value)
{
	char *enc, *grown;
	size_t need;

	if (f->failed)
		return;
	enc = NULL;
	if (!f->host || f->host->encode(SESAME_ENCODING_URL, value, strlen(value), &enc, NULL) != SESAME_OK)
		enc = NULL;
	need = f->length + strlen(name) + (enc ? strlen(enc) : 0) + 3;
	grown = enc ? malloc(need) : NULL;
	if (!grown) {
		f->failed = true;
		free(enc);
		return;
	}
	if (f->text) {
		memcpy(grown, f->text, f->length);
		/* The old buffer may hold a secret: wipe it before letting go. */
		memset(f->text, 0, f->length);
		free(f->text);
	}
	f->length += (size_t)snprintf(grown + f->length, need - f->length, "%s%s=%s", f->length ? "&" : "", name, enc);
	f->text = grown;
	memset(enc, 0, strlen(enc));
	free(enc);
}

void oa_form_clear(const struct sesame_host *host, struct oa_form *f)
{
	if (f->text) {
		host->wipe(f->text, f->length);
		free(f->text);
	}
	f->text = NULL;
	f->length = 0;
	f->failed = false;
}

/* What follows "URL: " in a host HTTP message (the URL cut at 200 bytes). */
static const char *cause_after_url(const char *text, const char *url)
{
	size_t n = strlen(url) < 200 ? strlen(url) : 200;

	if (strncmp(text, url, n) == 0 && text[n] == ':' && text[n + 1] == ' ')
		return text + n + 2;
	return strstr(text, url) || strchr(url, '?') ? "the request failed" : text;
}

int oa_http_json(const struct oa_ctx *c, const char *method, const char *url, const struct oa_form *form,
		 const char *what, long *status, json_t **reply, sesame_error *err)
{
	static const char *const form_headers[] = {"Content-Type: application/x-www-form-urlencoded",
						   "Accept: application/json", NULL};
	static const char *const get_headers[] = {"Accept: application/json", NULL};
	struct sesame_http_request req = {
	    .struct_size = sizeof(req),
	    .method = method,
	    .url = url,
	    .headers = form ? form_headers : get_headers,
	    .body = form ? form->text : NULL,
	    .body_length = form ? form->length : 0,
	};
	struct sesame_http_response resp = {0};
	json_error_t jerr;
	json_t *doc;
	int rc;

	*reply = NULL;
	*status = 0;
	if (form && (form->failed || !form->text))
		return oom(c, err);
	rc = c->host->http(c->self, &req, &resp, err);
	if (rc != SESAME_OK) {
		/* The host's message names the cause; keep its status, say who. */
		char cause[256];

		if (rc != SESAME_UNAVAILABLE)
			return rc;
		/* The host's message starts with the URL, whose query may hold
		 * tokens or the app secret: keep only the cause after it.
		 * Copied first: err->text cannot be both source and target. */
		snprintf(cause, sizeof(cause), "%s", err ? cause_after_url(err->text, url) : "");
		return c->host->error(err, rc, "upstream", "%s cannot be reached: %s", what, cause);
	}
	*status = resp.status;
	doc = json_loadb(resp.body ? resp.body : "", resp.body_length, JSON_REJECT_DUPLICATES, &jerr);
	c->host->http_response_clear(&resp);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	*reply = doc;
	return SESAME_OK;
}

bool oa_claim_true(const json_t *claims, const char *name)
{
	const json_t *v = json_object_get(claims, name);

	return json_is_true(v) ||
	       (json_is_string(v) && strcmp(json_string_value(v), "true") == 0 && json_string_length(v) == 4);
}

int oa_subject(const struct oa_ctx *c, const json_t *claims, const char *name, const char **out, sesame_error *err)
{
	const json_t *v = json_object_get(claims, name);

	if (!valid_text(v, OA_MAX_UID))
		return c->host->error(err, SESAME_REJECTED, "claim",
				      "\"%s\" must be a string of 1 to %d bytes without NUL", name, OA_MAX_UID);
	*out = json_string_value(v);
	return SESAME_OK;
}

int oa_copy_string(const struct oa_ctx *c, json_t *dst, const char *to, const json_t *src, const char *from,
		   sesame_error *err)
{
	const json_t *v = json_object_get(src, from);

	if (!valid_text(v, OA_MAX_FIELD))
		return SESAME_OK; /* metadata is best effort: absent or odd values are left out */
	return json_object_set_new(dst, to, json_string(json_string_value(v))) == 0 ? SESAME_OK : oom(c, err);
}

int oa_hex(const struct sesame_host *host, const unsigned char *in, size_t len, char *out, sesame_error *err)
{
	char *text = NULL;
	int rc = host->encode(SESAME_ENCODING_HEX, in, len, &text, err);

	if (rc == SESAME_OK)
		memcpy(out, text, 2 * len + 1);
	free(text);
	return rc;
}
