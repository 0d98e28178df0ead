/* SPDX-License-Identifier: MIT */
/* shared/store-record.c — the record checks of every store plugin (see store-record.h). */
#include "config.h"

#include <string.h>

#include <sesame/store.h>

#include "store-record.h"

bool store_rec_hex(const char *s, size_t len)
{
	size_t i;

	if (!s || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool store_rec_id(const char *s)
{
	return store_rec_hex(s, SESAME_STORE_ID_LENGTH);
}

bool store_rec_text(const char *s)
{
	return s && s[0] != '\0';
}

bool store_rec_kid(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > SESAME_STORE_KID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

bool store_rec_pem(const char *s)
{
	return store_rec_text(s) && strlen(s) <= SESAME_STORE_PEM_MAX;
}

const char *store_rec_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

const char *store_rec_user_invalid(const json_t *u)
{
	const char *type = store_rec_str(u, "type");

	if (!store_rec_id(store_rec_str(u, "id")))
		return "id";
	if (!type || (strcmp(type, "normal") != 0 && strcmp(type, "server") != 0))
		return "type";
	if (!json_is_boolean(json_object_get(u, "disabled")))
		return "disabled";
	if (!json_is_integer(json_object_get(u, "created")))
		return "created";
	if (!json_is_integer(json_object_get(u, "last_login")))
		return "last_login";
	if (!json_is_object(json_object_get(u, "data")))
		return "data";
	if (!json_is_object(json_object_get(u, "custom_data")))
		return "custom_data";
	return NULL;
}

const char *store_rec_identity_invalid(const json_t *i)
{
	static const char *const texts[] = {"provider", "provider_type", "id"};
	size_t k;

	for (k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
		if (!store_rec_text(store_rec_str(i, texts[k])))
			return texts[k];
	if (!store_rec_id(store_rec_str(i, "user_id")))
		return "user_id";
	if (!json_is_object(json_object_get(i, "data")))
		return "data";
	if (!json_is_object(json_object_get(i, "private")))
		return "private";
	if (!json_is_integer(json_object_get(i, "created")))
		return "created";
	if (!json_is_integer(json_object_get(i, "updated")))
		return "updated";
	return NULL;
}

const char *store_rec_session_invalid(const json_t *se)
{
	static const char *const times[] = {"created", "expires", "last_used"};
	size_t k;

	if (!store_rec_id(store_rec_str(se, "id")))
		return "id";
	if (!store_rec_id(store_rec_str(se, "user_id")))
		return "user_id";
	if (!store_rec_str(se, "device_id"))
		return "device_id";
	if (!store_rec_hex(store_rec_str(se, "refresh_hash"), SESAME_STORE_HASH_LENGTH))
		return "refresh_hash";
	for (k = 0; k < sizeof(times) / sizeof(times[0]); k++)
		if (!json_is_integer(json_object_get(se, times[k])))
			return times[k];
	/* The identity the session was opened with: both or neither. */
	if (json_object_get(se, "provider") && !store_rec_text(store_rec_str(se, "provider")))
		return "provider";
	if (!json_object_get(se, "provider") != !json_object_get(se, "provider_uid") ||
	    (json_object_get(se, "provider_uid") && !store_rec_text(store_rec_str(se, "provider_uid"))))
		return "provider_uid";
	return NULL;
}

const char *store_rec_change_refused(const json_t *changes, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach ((json_t *)changes, key, v) {
		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i])
			return key;
	}
	return NULL;
}
