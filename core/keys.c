/* SPDX-License-Identifier: MIT */
/*
 * core/keys.c — sesame_keys, the key set of the provider ABI: configured
 * keys parsed once, or a JWKS URI; verification and signing against it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jose.h"

/* More keys than this in a configuration is a mistake, not rotation. */
#define MAX_CONFIG_KEYS 16

void keys_free(struct sesame_keys *keys)
{
	if (!keys)
		return;
	keyset_unref(keys->fixed);
	jwks_source_free(keys->remote);
	free(keys);
}

static int check_unique_kids(const struct jose_keyset *set, sesame_error *err)
{
	size_t i, j;

	for (i = 0; i < set->n; i++)
		for (j = i + 1; set->keys[i].kid && j < set->n; j++)
			if (set->keys[j].kid && strcmp(set->keys[i].kid, set->keys[j].kid) == 0)
				return seterr(err, SESAME_CONFIG, "key",
					      "signing_keys[%zu] and signing_keys[%zu] have the same kid \"%s\"", i, j,
					      set->keys[i].kid);
	return SESAME_OK;
}

int keys_from_config(const json_t *list, struct sesame_keys **out, sesame_error *err)
{
	struct sesame_keys *keys;
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > MAX_CONFIG_KEYS)
		return seterr(err, SESAME_CONFIG, "key", "the key list must be an array of 1 to %d keys",
			      MAX_CONFIG_KEYS);
	keys = calloc(1, sizeof(*keys));
	if (!keys || !(keys->fixed = keyset_new(json_array_size(list)))) {
		free(keys);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	for (i = 0; i < json_array_size(list); i++) {
		char what[32];

		snprintf(what, sizeof(what), "signing_keys[%zu]", i);
		rc = jose_key_from_config(json_array_get(list, i), what, &keys->fixed->keys[i], err);
		if (rc != SESAME_OK)
			goto fail;
		keys->fixed->n++;
	}
	rc = check_unique_kids(keys->fixed, err);
	if (rc != SESAME_OK)
		goto fail;
	*out = keys;
	return SESAME_OK;
fail:
	keys_free(keys);
	return rc;
}

int keys_from_jwks_uri(const struct jwks_options *opt, struct sesame_keys **out, sesame_error *err)
{
	struct sesame_keys *keys = calloc(1, sizeof(*keys));
	int rc;

	*out = NULL;
	if (!keys)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = jwks_source_new(opt, &keys->remote, err);
	if (rc != SESAME_OK) {
		free(keys);
		return rc;
	}
	*out = keys;
	return SESAME_OK;
}

/* The current set: the fixed one, or the JWKS cache's (fetching it if due). */
static int current_set(struct sesame_keys *keys, int64_t now, bool refresh, struct jose_keyset **set, sesame_error *err)
{
	if (keys->fixed) {
		*set = keyset_ref(keys->fixed);
		return SESAME_OK;
	}
	return jwks_source_get(keys->remote, now, refresh, set, err);
}

int keys_verify(struct sesame_keys *keys, const char *token, const struct sesame_jwt_rules *rules, int64_t now,
		json_t **claims, sesame_error *err)
{
	const char *const *algorithms = rules ? rules->algorithms : NULL;
	struct jose_keyset *set = NULL;
	sesame_error local;
	struct jws_token t;
	size_t idx[8], n = 0, i;
	int rc;

	*claims = NULL;
	if (!err) {
		err_clear(&local);
		err = &local;
	}
	if (!keys || !token)
		return seterr(err, SESAME_USAGE, "usage", "jwt_verify: NULL key set or token");
	rc = jws_parse(token, rules ? rules->max_length : 0, &t, err);
	if (rc != SESAME_OK)
		return rc;
	rc = current_set(keys, now, false, &set, err);
	if (rc == SESAME_OK)
		rc = jws_select_keys(set, &t, algorithms, idx, ARRAY_SIZE(idx), &n, err);
	/* An unknown kid may be a key the issuer just rotated in: refetch,
	 * at most once per cooldown (a flood of random kids costs nothing). */
	if (rc == SESAME_REJECTED && keys->remote && t.kid && strcmp(err->reason, "nokey") == 0) {
		keyset_unref(set);
		set = NULL;
		rc = current_set(keys, now, true, &set, err);
		if (rc == SESAME_OK)
			rc = jws_select_keys(set, &t, algorithms, idx, ARRAY_SIZE(idx), &n, err);
	}
	for (i = 0; rc == SESAME_OK && i < n; i++) {
		rc = jws_check_signature(&set->keys[idx[i]], &t, err);
		if (rc == SESAME_OK || rc != SESAME_REJECTED || i + 1 == n)
			break;
		rc = SESAME_OK;
	}
	/* Claims only after the signature: nothing unsigned is looked at. */
	if (rc == SESAME_OK)
		rc = jws_claims(&t, rules, now, claims, err);
	keyset_unref(set);
	jws_token_clear(&t);
	return rc;
}

/* The signing key `kid` names, or the only one when `kid` is NULL. */
static int signing_key(struct sesame_keys *keys, const char *kid, const struct jose_key **out, sesame_error *err)
{
	size_t i;

	*out = NULL;
	if (!keys || !keys->fixed)
		return seterr(err, SESAME_USAGE, "usage", "jwt_sign needs configured keys, not a JWKS URI");
	for (i = 0; i < keys->fixed->n; i++) {
		const struct jose_key *k = &keys->fixed->keys[i];

		if (kid ? (k->kid && strcmp(k->kid, kid) == 0) : keys->fixed->n == 1) {
			*out = k;
			return SESAME_OK;
		}
	}
	return seterr(err, SESAME_USAGE, "nokey",
		      kid ? "no configured key has that kid" : "several keys are configured: name one by kid");
}

int keys_sign(struct sesame_keys *keys, const char *kid, const json_t *extra_header, const json_t *claims, char **token,
	      sesame_error *err)
{
	const struct jose_key *key;
	int rc;

	*token = NULL;
	rc = signing_key(keys, kid, &key, err);
	return rc == SESAME_OK ? jws_sign(key, extra_header, claims, token, err) : rc;
}

int keys_sign_text(struct sesame_keys *keys, const char *kid, const char *text, size_t len, char **token,
		   sesame_error *err)
{
	const struct jose_key *key;
	int rc;

	*token = NULL;
	rc = signing_key(keys, kid, &key, err);
	return rc == SESAME_OK ? jws_sign_text(key, NULL, text, len, token, err) : rc;
}
