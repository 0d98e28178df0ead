/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/api-key/api-key.c — the api-key provider: user API keys
 * (created by a logged-in, non-anonymous user, at most 20 each) and server
 * API keys (created by the system user, each its own "server" user).
 *
 * A key is 64 lowercase hex digits: a 24-digit lookup id (96 random bits)
 * followed by 40 digits of secret (160 random bits).  Only the SHA-256 of
 * the whole key is kept, in the host key/value store under "key:ID", and
 * compared in constant time; the key is shown once, when created.  The
 * identity (this instance, ID) is linked to the key's user at creation, so
 * a login with the key logs in as that user.  A user's keys occupy the
 * slots "slot:USER:0" .. ":19", claimed with SESAME_KV_CREATE, which makes
 * the limit hold under concurrent creations.  See sesame-api-key(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MAX_KEYS	20
#define ID_BYTES	12
#define SECRET_BYTES	20
#define ID_HEX		(2 * ID_BYTES)
#define KEY_HEX		(2 * (ID_BYTES + SECRET_BYTES))
#define MAX_NAME_LENGTH 100
#define KV_KEY_SIZE	96

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
};

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/* The hex SHA-256 of a key. */
static int key_hash(const struct state *st, const char *key, char out[65], sesame_error *err)
{
	unsigned char d[SESAME_DIGEST_MAX];
	size_t n = 0;
	char *text = NULL;
	int rc = st->host->digest("SHA-256", key, strlen(key), d, &n, err);

	if (rc == SESAME_OK)
		rc = st->host->encode(SESAME_ENCODING_HEX, d, n, &text, err);
	if (rc == SESAME_OK && strlen(text) != 64)
		rc = st->host->error(err, SESAME_INTERNAL, "hash", "cannot hash the key");
	if (rc == SESAME_OK)
		memcpy(out, text, 65);
	st->host->free(text);
	return rc;
}

static int ak_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		   sesame_error *err)
{
	struct state *st;
	const char *key;

	if (!SESAME_HAS_FIELD(struct sesame_host, random_id, host->struct_size) || !host->kv_get || !host->kv_put ||
	    !host->kv_delete || !host->link_identity || !host->unlink_identity || !host->digest || !host->encode ||
	    !host->random_id)
		return host->error(err, SESAME_CONFIG, "abi",
				   "api-key needs a sesame core with provider ABI 1.2 (key/value, identity, digest, "
				   "encoding and random id services)");
	/* Any key is unknown: name the first. */
	key = json_object_iter_key(json_object_iter((json_t *)config));
	if (key)
		return host->error(err, SESAME_CONFIG, "config",
				   "unknown key \"%s\" (api-key has no configuration keys)", key);
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->host = host;
	st->self = self;
	*state = st;
	return SESAME_OK;
}

static void ak_fini(void *state)
{
	free(state);
}

/* ---- login ------------------------------------------------------------------ */

static int ak_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct state *st = state;
	const struct sesame_host *h = st->host;
	json_t *k = json_object_get(credential, "key"), *rec = NULL;
	char id[ID_HEX + 1], kvkey[KV_KEY_SIZE], hash[65];
	const char *key = json_string_value(k), *stored;
	int rc, equal;

	if (json_object_size(credential) != 1 || !key)
		return h->error(err, SESAME_MALFORMED, "credential", "the credential must be {\"key\": \"API key\"}");
	/* Wrong length or alphabet: not a key of ours, refused like a wrong one. */
	if (json_string_length(k) != KEY_HEX || !is_hex(key, KEY_HEX))
		return h->error(err, SESAME_REJECTED, "key", "invalid API key");
	memcpy(id, key, ID_HEX);
	id[ID_HEX] = '\0';
	snprintf(kvkey, sizeof(kvkey), "key:%s", id);
	rc = h->kv_get(st->self, kvkey, &rec, err);
	if (rc == SESAME_NOT_FOUND)
		return h->error(err, SESAME_REJECTED, "key", "invalid API key");
	if (rc != SESAME_OK)
		return rc;
	rc = key_hash(st, key, hash, err);
	stored = json_string_value(json_object_get(rec, "hash"));
	equal = rc == SESAME_OK && stored && strlen(stored) == 64 && h->ct_equal(stored, hash, 64);
	h->wipe(hash, sizeof(hash));
	if (rc == SESAME_OK && (!equal || !json_is_false(json_object_get(rec, "disabled"))))
		rc = h->error(err, SESAME_REJECTED, "key", "invalid API key");
	if (rc == SESAME_OK && !(*identity = json_pack("{s:s, s:{s:O}}", "id", id, "data", "name",
						       json_object_get(rec, "name"))))
		rc = h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	json_decref(rec);
	return rc;
}

/* ---- actions ----------------------------------------------------------------- */

/* The caller of an action: a user (user_id set) or the system user. */
struct who {
	const char *user_id; /* NULL for the system user */
	bool system;
};

/* Who asks, from the typed caller the core fills in (never from the
 * arguments, which a client writes). */
static int caller_of(const struct state *st, const struct sesame_action_caller *c, bool anonymous_ok, struct who *w,
		     sesame_error *err)
{
	w->system = c->kind == SESAME_CALLER_SYSTEM;
	w->user_id = c->kind == SESAME_CALLER_USER ? c->user_id : NULL;
	if (!w->system && !w->user_id)
		return st->host->error(err, SESAME_REJECTED, "forbidden", "API keys need a logged-in user");
	if (!anonymous_ok && !w->system && c->anonymous)
		return st->host->error(err, SESAME_REJECTED, "forbidden", "anonymous users cannot create API keys");
	return SESAME_OK;
}

static json_t *shown(const char *id, const json_t *rec)
{
	return json_pack("{s:s, s:O, s:O}", "_id", id, "name", json_object_get(rec, "name"), "disabled",
			 json_object_get(rec, "disabled"));
}

/* The names App Services accepts: ASCII letters, digits, "_" and "-"
 * (it refuses "My very cool key" with InvalidParameter). */
static int check_name(const struct state *st, const json_t *name, sesame_error *err)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	const char *s = json_string_value(name);
	size_t n = json_string_length(name);

	if (!s || n == 0 || n > MAX_NAME_LENGTH)
		return st->host->error(err, SESAME_MALFORMED, "name", "the API key needs a name of 1 to %d characters",
				       MAX_NAME_LENGTH);
	if (strspn(s, allowed) != n)
		return st->host->error(err, SESAME_MALFORMED, "name",
				       "API key name can only contain ASCII letters, numbers, underscores, and hyphens");
	return SESAME_OK;
}

/* Claim a free slot of `user_id` for key `id`; its number, or -1. */
static int claim_slot(const struct state *st, const char *user_id, const char *id, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	json_t *v = json_string(id);
	int i, rc = SESAME_CONFLICT;

	for (i = 0; v && i < MAX_KEYS; i++) {
		snprintf(kvkey, sizeof(kvkey), "slot:%s:%d", user_id, i);
		rc = st->host->kv_put(st->self, kvkey, v, user_id, 0, SESAME_KV_CREATE, err);
		if (rc != SESAME_CONFLICT)
			break;
	}
	json_decref(v);
	if (rc == SESAME_CONFLICT)
		st->host->error(err, SESAME_REJECTED, "limit", "a user may have at most %d API keys", MAX_KEYS);
	return rc == SESAME_OK ? i : -1;
}

static void release_slot(const struct state *st, const char *user_id, json_int_t slot)
{
	char kvkey[KV_KEY_SIZE];
	sesame_error ignored;

	snprintf(kvkey, sizeof(kvkey), "slot:%s:%d", user_id, (int)slot);
	st->host->kv_delete(st->self, kvkey, &ignored);
}

/* A fresh key and its id. */
static int new_key(const struct state *st, char id[ID_HEX + 1], char key[KEY_HEX + 1], sesame_error *err)
{
	if (st->host->random_id(key, ID_BYTES + SECRET_BYTES) != SESAME_OK)
		return st->host->error(err, SESAME_INTERNAL, "random", "no randomness");
	memcpy(id, key, ID_HEX);
	id[ID_HEX] = '\0';
	return SESAME_OK;
}

static int create(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, json_t **result, sesame_error *err)
{
	const struct sesame_host *h = st->host;
	const json_t *name = json_object_get(args, "name");
	bool server = json_is_true(json_object_get(args, "server"));
	char id[ID_HEX + 1], key[KEY_HEX + 1], hash[65], kvkey[KV_KEY_SIZE], *owner = NULL;
	json_t *rec = NULL, *data = NULL;
	struct who w;
	int rc, slot = -1;

	rc = caller_of(st, caller, false, &w, err);
	if (rc == SESAME_OK && server != w.system)
		rc = h->error(err, SESAME_REJECTED, "forbidden",
			      server ? "only the administrator creates server API keys"
				     : "the system user creates server API keys only");
	if (rc == SESAME_OK)
		rc = check_name(st, name, err);
	if (rc == SESAME_OK)
		rc = new_key(st, id, key, err);
	if (rc == SESAME_OK)
		rc = key_hash(st, key, hash, err);
	if (rc != SESAME_OK)
		goto out;
	if (!server && (slot = claim_slot(st, w.user_id, id, err)) < 0) {
		rc = err ? err->status : SESAME_REJECTED;
		goto out;
	}
	data = json_pack("{s:O}", "name", name);
	/* Link first: then a key record always has its identity. */
	rc = data ? h->link_identity(st->self, w.user_id, id, data, &owner, err)
		  : h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK) {
		rec = json_pack("{s:s, s:O, s:s, s:b, s:b, s:I}", "user_id", owner, "name", name, "hash", hash,
				"disabled", 0, "server", server, "slot", (json_int_t)slot);
		snprintf(kvkey, sizeof(kvkey), "key:%s", id);
		rc = rec ? h->kv_put(st->self, kvkey, rec, owner, 0, SESAME_KV_CREATE, err)
			 : h->error(err, SESAME_INTERNAL, "memory", "out of memory");
		if (rc != SESAME_OK) {
			sesame_error ignored;

			h->unlink_identity(st->self, id, &ignored);
		}
	}
	if (rc == SESAME_OK && !(*result = json_pack("{s:s, s:s, s:O, s:b}", "_id", id, "key", key, "name", name,
						     "disabled", 0)))
		rc = h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK && server)
		json_object_set_new(*result, "user_id", json_string(owner));
	if (rc != SESAME_OK && slot >= 0)
		release_slot(st, w.user_id, slot);
out:
	h->wipe(key, sizeof(key));
	h->wipe(hash, sizeof(hash));
	free(owner);
	json_decref(rec);
	json_decref(data);
	return rc;
}

/* The record of key `id` if the caller may see it; NOT_FOUND "key" otherwise
 * (another user's key is not found, not forbidden). */
static int owned_record(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, char kvkey[KV_KEY_SIZE], json_t **rec,
			sesame_error *err)
{
	const char *id = json_string_value(json_object_get(args, "id"));
	struct who w;
	int rc = caller_of(st, caller, true, &w, err);

	*rec = NULL;
	if (rc != SESAME_OK)
		return rc;
	if (!id || strlen(id) != ID_HEX || !is_hex(id, ID_HEX))
		return st->host->error(err, SESAME_NOT_FOUND, "key", "API key not found");
	snprintf(kvkey, KV_KEY_SIZE, "key:%s", id);
	rc = st->host->kv_get(st->self, kvkey, rec, err);
	if (rc == SESAME_OK && !w.system &&
	    strcmp(json_string_value(json_object_get(*rec, "user_id")) ?: "", w.user_id) != 0) {
		json_decref(*rec);
		*rec = NULL;
		rc = SESAME_NOT_FOUND;
	}
	if (rc == SESAME_NOT_FOUND)
		return st->host->error(err, SESAME_NOT_FOUND, "key", "API key not found");
	return rc;
}

static int get(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, json_t **result, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	json_t *rec;
	int rc = owned_record(st, caller, args, kvkey, &rec, err);

	if (rc == SESAME_OK && !(*result = shown(kvkey + 4, rec)))
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	json_decref(rec);
	return rc;
}

static int set_disabled(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, bool disabled, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	json_t *rec;
	int rc = owned_record(st, caller, args, kvkey, &rec, err);

	if (rc == SESAME_OK) {
		json_object_set_new(rec, "disabled", json_boolean(disabled));
		rc = st->host->kv_put(st->self, kvkey, rec, json_string_value(json_object_get(rec, "user_id")), 0, 0,
				      err);
	}
	json_decref(rec);
	return rc;
}

static int delete(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	json_t *rec;
	sesame_error ignored;
	json_int_t slot;
	int rc = owned_record(st, caller, args, kvkey, &rec, err);

	if (rc != SESAME_OK)
		return rc;
	/* The record goes first: from then on the key cannot log in. */
	rc = st->host->kv_delete(st->self, kvkey, err);
	if (rc == SESAME_OK) {
		slot = json_integer_value(json_object_get(rec, "slot"));
		if (!json_is_true(json_object_get(rec, "server")))
			release_slot(st, json_string_value(json_object_get(rec, "user_id")), slot);
		if (st->host->unlink_identity(st->self, kvkey + 4, &ignored) != SESAME_OK)
			st->host->log(st->self, 4, "API key %s: identity not unlinked: %s", kvkey + 4, ignored.text);
	}
	json_decref(rec);
	return rc;
}

static int list(const struct state *st, const struct sesame_action_caller *caller, const json_t *args, json_t **result, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	json_t *out = json_array(), *slot, *rec;
	struct who w;
	int i, rc = caller_of(st, caller, true, &w, err);

	if (rc == SESAME_OK && w.system)
		rc = st->host->error(err, SESAME_REJECTED, "forbidden", "list API keys as their user");
	for (i = 0; rc == SESAME_OK && out && i < MAX_KEYS; i++) {
		snprintf(kvkey, sizeof(kvkey), "slot:%s:%d", w.user_id, i);
		rc = st->host->kv_get(st->self, kvkey, &slot, err);
		if (rc == SESAME_NOT_FOUND) {
			rc = SESAME_OK;
			continue;
		}
		if (rc != SESAME_OK)
			break;
		snprintf(kvkey, sizeof(kvkey), "key:%s", json_string_value(slot) ?: "");
		rc = st->host->kv_get(st->self, kvkey, &rec, err);
		json_decref(slot);
		if (rc == SESAME_NOT_FOUND) { /* a creation in progress or abandoned */
			rc = SESAME_OK;
			continue;
		}
		if (rc == SESAME_OK)
			json_array_append_new(out, shown(kvkey + 4, rec));
		json_decref(rec);
	}
	if (!out && rc == SESAME_OK)
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK)
		*result = out;
	else
		json_decref(out);
	return rc;
}

static int ak_action(void *state, const struct sesame_action_caller *caller, const char *name, const json_t *args,
		     json_t **result, sesame_error *err)
{
	const struct state *st = state;

	if (strcmp(name, "create") == 0)
		return create(st, caller, args, result, err);
	if (strcmp(name, "list") == 0)
		return list(st, caller, args, result, err);
	if (strcmp(name, "get") == 0)
		return get(st, caller, args, result, err);
	if (strcmp(name, "enable") == 0 || strcmp(name, "disable") == 0)
		return set_disabled(st, caller, args, strcmp(name, "disable") == 0, err);
	if (strcmp(name, "delete") == 0)
		return delete(st, caller, args, err);
	return st->host->error(err, SESAME_NOT_FOUND, "action",
			       "api-key has no action \"%s\" (create, list, get, enable, disable, delete)", name);
}

/* A key's identity shows the key's name. */
static const char *const default_metadata[] = {"name", NULL};

const struct sesame_provider sesame_provider_entry = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_provider),
	.type = "api-key",
	.version = "1.0.0",
	.description = "user and server API keys, stored as SHA-256 hashes",
	.init = ak_init,
	.verify = ak_verify,
	.fini = ak_fini,
	.action_as = ak_action,
	.capabilities = SESAME_PROVIDER_CAP_API_KEYS,
	.metadata_defaults = default_metadata,
};
