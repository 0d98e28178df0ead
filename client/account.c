/* SPDX-License-Identifier: MIT */
/*
 * client/account.c — libsesame-client's account calls that change no user
 * of the store: the email/password flows (unauthenticated POSTs under the
 * provider's URL) and the active user's API keys (authenticated with its
 * refresh token, as the App Services API wants).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_USERPASS "local-userpass"

/* POST `body` (taken; its strings are wiped: it holds a password or a
 * one-time token) to PROVIDER/`action`. */
static int userpass(sesame_client *c, const char *provider, const char *action, json_t *body, sesame_client_error *err)
{
	struct cl_answer a;
	char *url = NULL, *path = NULL, what[200];
	int rc;

	if (!c || !body) {
		cl_json_wipe_decref(body);
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "%s: a client and every string argument", action);
	}
	provider = provider ? provider : DEFAULT_USERPASS;
	if (!cl_name_valid(provider)) {
		cl_json_wipe_decref(body);
		return cl_error(err, SESAME_CLIENT_USAGE, "provider",
				"a provider name is 1 to %d of A-Z a-z 0-9 . _ -, not starting with '.'",
				SESAME_CLIENT_ID_MAX);
	}
	snprintf(what, sizeof(what), "%s (%s)", action, provider);
	pthread_mutex_lock(&c->lock);
	if (asprintf(&path, "/auth/providers/%s/%s", provider, action) < 0)
		path = NULL;
	rc = path ? session_url(c, path, true, &url, err)
		  : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_CLIENT_OK)
		rc = http_call(c, "POST", url, NULL, body, &a, err);
	if (rc == SESAME_CLIENT_OK) {
		rc = answer_check(&a, 0, false, NULL, what, err);
		answer_clear(&a);
	}
	pthread_mutex_unlock(&c->lock);
	free(path);
	free(url);
	cl_json_wipe_decref(body);
	return rc;
}

int sesame_client_register(sesame_client *c, const char *provider, const char *email, const char *password,
			   sesame_client_error *err)
{
	return userpass(c, provider, "register", json_pack("{s:s, s:s}", "email", email, "password", password), err);
}

int sesame_client_confirm(sesame_client *c, const char *provider, const char *token, const char *token_id,
			  sesame_client_error *err)
{
	return userpass(c, provider, "confirm", json_pack("{s:s, s:s}", "token", token, "tokenId", token_id), err);
}

int sesame_client_resend_confirmation(sesame_client *c, const char *provider, const char *email,
				      sesame_client_error *err)
{
	return userpass(c, provider, "confirm/send", json_pack("{s:s}", "email", email), err);
}

int sesame_client_retry_custom_confirmation(sesame_client *c, const char *provider, const char *email,
					    sesame_client_error *err)
{
	return userpass(c, provider, "confirm/call", json_pack("{s:s}", "email", email), err);
}

int sesame_client_send_reset_email(sesame_client *c, const char *provider, const char *email, sesame_client_error *err)
{
	return userpass(c, provider, "reset/send", json_pack("{s:s}", "email", email), err);
}

int sesame_client_reset_password(sesame_client *c, const char *provider, const char *token, const char *token_id,
				 const char *password, sesame_client_error *err)
{
	return userpass(c, provider, "reset",
			json_pack("{s:s, s:s, s:s}", "password", password, "token", token, "tokenId", token_id), err);
}

int sesame_client_call_reset_function(sesame_client *c, const char *provider, const char *email, const char *password,
				      const json_t *arguments, sesame_client_error *err)
{
	if (arguments && !json_is_array(arguments))
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "reset/call: the arguments must be a JSON array");
	/* "o" takes the reference, also when json_pack() fails. */
	return userpass(c, provider, "reset/call",
			json_pack("{s:s, s:s, s:o}", "email", email, "password", password, "arguments",
				  arguments ? json_incref((json_t *)arguments) : json_array()),
			err);
}

/* ---- API keys --------------------------------------------------------------------- */

/* An API key object as the server describes one: {"_id", "name", "disabled"}
 * (and "key" when `with_key`). */
static bool key_valid(const json_t *k, bool with_key)
{
	return json_is_object(k) && cl_id_valid(json_string_value(json_object_get(k, "_id"))) &&
	       json_is_string(json_object_get(k, "name")) && json_is_boolean(json_object_get(k, "disabled")) &&
	       (!with_key || json_is_string(json_object_get(k, "key")));
}

enum key_answer { KEY_NONE, KEY_ONE, KEY_NEW, KEY_LIST };

static int api_key_call(sesame_client *c, const char *method, const char *id, const char *suffix, json_t *body,
			enum key_answer shape, json_t **out, sesame_client_error *err)
{
	struct cl_session s;
	struct cl_answer a;
	char *url = NULL, *path = NULL, what[200];
	json_t *k;
	size_t i;
	int rc;

	snprintf(what, sizeof(what), "%s /auth/api_keys%s%s%s", method, id ? "/" : "", id ? id : "", suffix);
	if (asprintf(&path, CLIENT_API "/auth/api_keys%s%s%s", id ? "/" : "", id ? id : "", suffix) < 0)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	pthread_mutex_lock(&c->lock);
	rc = session_get(c, NULL, &s, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_url(c, path, false, &url, err);
	if (rc == SESAME_CLIENT_OK)
		rc = session_call(c, &s, BEARER_REFRESH, method, url, body, &a, err);
	if (rc == SESAME_CLIENT_OK) {
		rc = answer_check(&a, 0, shape != KEY_NONE, s.refresh, what, err);
		if (rc == SESAME_CLIENT_OK && shape == KEY_LIST) {
			if (!json_is_array(a.json))
				rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "%s: the answer is not an array",
					      what);
			json_array_foreach(a.json, i, k) {
				if (rc == SESAME_CLIENT_OK && !key_valid(k, false))
					rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
						      "%s: key %zu is not {\"_id\", \"name\", \"disabled\"}", what, i);
			}
		} else if (rc == SESAME_CLIENT_OK && shape != KEY_NONE && !key_valid(a.json, shape == KEY_NEW)) {
			rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "answer", "%s: the answer is not an API key", what);
		}
		if (rc == SESAME_CLIENT_OK && out)
			*out = json_incref(a.json);
		answer_clear(&a);
	}
	session_clear(&s);
	pthread_mutex_unlock(&c->lock);
	free(url);
	free(path);
	return rc;
}

int sesame_client_api_key_create(sesame_client *c, const char *name, json_t **key, sesame_client_error *err)
{
	json_t *body;
	int rc;

	if (key)
		*key = NULL;
	if (!c || !name || !key)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_api_key_create: NULL argument");
	if (!(body = json_pack("{s:s}", "name", name)))
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "the key name must be UTF-8");
	rc = api_key_call(c, "POST", NULL, "", body, KEY_NEW, key, err);
	json_decref(body);
	return rc;
}

int sesame_client_api_keys(sesame_client *c, json_t **keys, sesame_client_error *err)
{
	if (keys)
		*keys = NULL;
	if (!c || !keys)
		return cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_api_keys: NULL argument");
	return api_key_call(c, "GET", NULL, "", NULL, KEY_LIST, keys, err);
}

static int key_id_check(sesame_client *c, const char *id, const char *what, sesame_client_error *err)
{
	if (!c || !cl_id_valid(id))
		return cl_error(err, SESAME_CLIENT_USAGE, "usage",
				"%s: a client and a key id of 1 to %d of A-Z a-z 0-9 . _ -", what,
				SESAME_CLIENT_ID_MAX);
	return SESAME_CLIENT_OK;
}

int sesame_client_api_key_get(sesame_client *c, const char *id, json_t **key, sesame_client_error *err)
{
	int rc;

	if (key)
		*key = NULL;
	rc = key_id_check(c, id, "sesame_client_api_key_get", err);
	if (rc == SESAME_CLIENT_OK && !key)
		rc = cl_error(err, SESAME_CLIENT_USAGE, "usage", "sesame_client_api_key_get: `key` is NULL");
	return rc == SESAME_CLIENT_OK ? api_key_call(c, "GET", id, "", NULL, KEY_ONE, key, err) : rc;
}

int sesame_client_api_key_enable(sesame_client *c, const char *id, sesame_client_error *err)
{
	int rc = key_id_check(c, id, "sesame_client_api_key_enable", err);

	return rc == SESAME_CLIENT_OK ? api_key_call(c, "PUT", id, "/enable", NULL, KEY_NONE, NULL, err) : rc;
}

int sesame_client_api_key_disable(sesame_client *c, const char *id, sesame_client_error *err)
{
	int rc = key_id_check(c, id, "sesame_client_api_key_disable", err);

	return rc == SESAME_CLIENT_OK ? api_key_call(c, "PUT", id, "/disable", NULL, KEY_NONE, NULL, err) : rc;
}

int sesame_client_api_key_delete(sesame_client *c, const char *id, sesame_client_error *err)
{
	int rc = key_id_check(c, id, "sesame_client_api_key_delete", err);

	return rc == SESAME_CLIENT_OK ? api_key_call(c, "DELETE", id, "", NULL, KEY_NONE, NULL, err) : rc;
}
