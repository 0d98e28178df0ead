/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/oauth2/oauth2.h — helpers shared by the Google,
 * Facebook and Apple provider plugins (compiled into each module; nothing
 * here is exported): configuration reading, form encoding, JSON over the
 * host's HTTP service, strict boolean claims.
 */
#ifndef SESAME_OAUTH2_H
#define SESAME_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>

#include <sesame/provider.h>

#define OA_MAX_CLIENT_IDS 8
#define OA_MAX_URL 2048
#define OA_MAX_UID 255

/* The host and instance every helper reports through. */
struct oa_ctx {
	const struct sesame_host *host;
	sesame_instance *self;
	const char *type; /* for messages */
};

/* SESAME_CONFIG naming the first key of `config` not in `known`. */
int oa_check_known_keys(const struct oa_ctx *c, const json_t *config, const char *const *known, sesame_error *err);

/* SESAME_CONFIG unless the host offers every ABI 1.0 service plus, when
 * `need_digests`, sha256 and hmac_sha256 (ABI 1.1). */
int oa_check_host(const struct sesame_host *host, bool need_digests, sesame_error *err);

/*
 * The client ids: "client_id" (a string) and/or "client_ids" (an array),
 * copied into ids[] (NULL-terminated, at most OA_MAX_CLIENT_IDS).  At least
 * one is required.  Free with oa_strings_free().
 */
int oa_load_client_ids(const struct oa_ctx *c, const json_t *config, char *ids[OA_MAX_CLIENT_IDS + 1],
		       sesame_error *err);
void oa_strings_free(char **list, size_t max);

/* A string option copied to *out; `fallback` (may be NULL) when absent. */
int oa_load_string(const struct oa_ctx *c, const json_t *config, const char *key, const char *fallback, char **out,
		   sesame_error *err);

/* An endpoint URL option: like oa_load_string, and SESAME_CONFIG (reason
 * "url") unless https://, or http://127.0.0.1 / [::1] / localhost in test
 * mode. */
int oa_load_url(const struct oa_ctx *c, const json_t *config, const char *key, const char *fallback, char **out,
		sesame_error *err);

/* A secret option (wipe and free with oa_secret_free()); NULL when absent
 * and not `required`. */
int oa_load_secret(const struct oa_ctx *c, const json_t *config, const char *key, bool required, char **out,
		   sesame_error *err);
void oa_secret_free(const struct sesame_host *host, char *s);

/* An array of strings (e.g. "redirect_uris"), NULL-terminated, malloc'd. */
int oa_load_string_list(const struct oa_ctx *c, const json_t *config, const char *key, size_t max, char ***out,
			sesame_error *err);
void oa_list_free(char **list);

/* True when `s` is exactly one of `list` (NULL-terminated; NULL list: false). */
bool oa_in_list(const char *const *list, const char *s);

/* SESAME_MALFORMED (reason "credential") for a member of `credential` not
 * in `allowed` (the client's "provider" and "options" always are). */
int oa_check_credential_keys(const struct oa_ctx *c, const json_t *credential, const char *const *allowed,
			     sesame_error *err);

/* The credential member `key` as a non-empty string without NUL of at most
 * `max` bytes; NULL in *out when absent.  Bad shapes: SESAME_MALFORMED. */
int oa_credential_string(const struct oa_ctx *c, const json_t *credential, const char *key, size_t max,
			 const char **out, sesame_error *err);

/* Percent-encode for a query or x-www-form-urlencoded value (RFC 3986
 * unreserved characters kept).  NULL on allocation failure. */


/* A growing "a=b&c=d" string.  Values are percent-encoded. */
struct oa_form {
	const struct sesame_host *host; /* set it: the form encodes with it */
	char *text;
	size_t length;
	bool failed;
};
void oa_form_add(struct oa_form *f, const char *name, const char *value);
/* Wipe (it may hold secrets) and free. */
void oa_form_clear(const struct sesame_host *host, struct oa_form *f);

/*
 * GET `url` or POST `form` (x-www-form-urlencoded) to it and parse the
 * answer as a JSON object (duplicates refused).  *status gets the HTTP
 * status; *reply a new reference, or NULL when the body is not a JSON
 * object.  SESAME_UNAVAILABLE (reason "upstream") when the server cannot
 * be reached.  `what` names the endpoint in messages.
 */
int oa_http_json(const struct oa_ctx *c, const char *method, const char *url, const struct oa_form *form,
		 const char *what, long *status, json_t **reply, sesame_error *err);

/* Strict boolean claims: JSON true or the string "true"; anything else
 * (false, "false", "TRUE", 1, absent) is false. */
bool oa_claim_true(const json_t *claims, const char *name);

/* A claim "sub" usable as an identity id; SESAME_REJECTED "claim" if not. */
int oa_subject(const struct oa_ctx *c, const json_t *claims, const char *name, const char **out, sesame_error *err);

/* Copy a string member `from` of `src` into `dst` as `to` when present and
 * at most 4096 bytes. */
int oa_copy_string(const struct oa_ctx *c, json_t *dst, const char *to, const json_t *src, const char *from,
		   sesame_error *err);

/* Lowercase hex of `len` bytes into out (2 * len + 1 bytes). */
/* `len` bytes in lowercase hex into out[2 * len + 1] with the host's
 * encoder.  SESAME_OK, or the host's error. */
int oa_hex(const struct sesame_host *host, const unsigned char *in, size_t len, char *out, sesame_error *err);

#endif
