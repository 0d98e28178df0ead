/* SPDX-License-Identifier: MIT */
/*
 * core/store-migrate.c — sesame_store_migrate(): copying a whole store into
 * another one (SQLite to PostgreSQL and back), for `sesame store migrate`.
 *
 * Everything goes through the store ABI, so any two stores of ABI 1.1 can
 * be copied into each other: users page by page with their identities,
 * then sessions, provider key/value entries and signing keys.  Records
 * keep their ids and refresh-token hashes, so a user logs in with the same
 * id afterwards and a refresh token keeps working.  The source is read in
 * one read transaction (a consistent snapshot, even while sesamed runs on
 * it: changes made after it started are not copied, so stop the nodes
 * first); the target is written in one write transaction, so a copy that
 * fails half-way leaves the target empty.  A target that holds anything
 * is refused: merging two stores is not a migration.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PAGE 1000

struct copy {
	struct store *src, *dst;
	sesame_store_txn *from, *to;
	int64_t now;
	uint64_t users, identities, sessions, records, keys;
};

/* SESAME_OK when `list` is an empty array; it is consumed. */
static int expect_empty(json_t *list, const char *what, sesame_error *err)
{
	size_t n = json_array_size(list);

	json_decref(list);
	if (n > 0)
		return seterr(err, SESAME_CONFLICT, "not-empty",
			      "the target store already holds %s: migrate only into an empty store", what);
	return SESAME_OK;
}

static int target_is_empty(struct copy *c, sesame_error *err)
{
	const struct sesame_store *d = c->dst->desc;
	json_t *list = NULL;
	int rc;

	rc = d->users_list(c->dst->h, c->to, NULL, 1, &list, err);
	if (rc == SESAME_OK)
		rc = expect_empty(list, "users", err);
	if (rc == SESAME_OK && (rc = d->sessions_list(c->dst->h, c->to, NULL, 1, &list, err)) == SESAME_OK)
		rc = expect_empty(list, "sessions", err);
	if (rc == SESAME_OK && (rc = d->kv_list(c->dst->h, c->to, NULL, NULL, 1, &list, err)) == SESAME_OK)
		rc = expect_empty(list, "provider records", err);
	if (rc == SESAME_OK && store_has_keys(c->dst) && (rc = d->keys_list(c->dst->h, c->to, &list, err)) == SESAME_OK)
		rc = expect_empty(list, "signing keys", err);
	return rc;
}

static const char *last_string(const json_t *list, const char *key)
{
	return json_string_value(json_object_get(json_array_get(list, json_array_size(list) - 1), key));
}

static int copy_users(struct copy *c, sesame_error *err)
{
	const struct sesame_store *s = c->src->desc, *d = c->dst->desc;
	char after[SESAME_STORE_ID_LENGTH + 1] = "";
	json_t *users = NULL, *u, *identities = NULL, *i;
	size_t k, j;
	int rc;

	for (;;) {
		rc = s->users_list(c->src->h, c->from, after, PAGE, &users, err);
		if (rc != SESAME_OK || json_array_size(users) == 0)
			break;
		json_array_foreach (users, k, u) {
			const char *id = json_string_value(json_object_get(u, "id"));

			rc = d->user_insert(c->dst->h, c->to, u, err);
			if (rc == SESAME_OK)
				rc = s->identities_of_user(c->src->h, c->from, id, &identities, err);
			json_array_foreach (identities, j, i) {
				if (rc != SESAME_OK)
					break;
				rc = d->identity_insert(c->dst->h, c->to, i, err);
				c->identities += rc == SESAME_OK;
			}
			json_decref(identities);
			identities = NULL;
			if (rc != SESAME_OK)
				break;
			c->users++;
		}
		if (rc == SESAME_OK)
			snprintf(after, sizeof(after), "%s", last_string(users, "id"));
		json_decref(users);
		users = NULL;
		if (rc != SESAME_OK)
			break;
	}
	json_decref(users);
	return rc;
}

static int copy_sessions(struct copy *c, sesame_error *err)
{
	const struct sesame_store *s = c->src->desc, *d = c->dst->desc;
	char after[SESAME_STORE_ID_LENGTH + 1] = "";
	json_t *list = NULL, *rec;
	size_t k;
	int rc;

	for (;;) {
		rc = s->sessions_list(c->src->h, c->from, after, PAGE, &list, err);
		if (rc != SESAME_OK || json_array_size(list) == 0)
			break;
		json_array_foreach (list, k, rec) {
			rc = d->session_insert(c->dst->h, c->to, rec, err);
			if (rc != SESAME_OK)
				break;
			c->sessions++;
		}
		if (rc == SESAME_OK)
			snprintf(after, sizeof(after), "%s", last_string(list, "id"));
		json_decref(list);
		list = NULL;
		if (rc != SESAME_OK)
			break;
	}
	json_decref(list);
	return rc;
}

static int copy_records(struct copy *c, sesame_error *err)
{
	const struct sesame_store *s = c->src->desc, *d = c->dst->desc;
	char *after_provider = NULL, *after_key = NULL;
	json_t *list = NULL, *rec;
	size_t k;
	int rc;

	for (;;) {
		rc = s->kv_list(c->src->h, c->from, after_provider, after_key, PAGE, &list, err);
		if (rc != SESAME_OK || json_array_size(list) == 0)
			break;
		json_array_foreach (list, k, rec) {
			json_int_t expires = json_integer_value(json_object_get(rec, "expires"));

			/* Expired entries are invisible already: leave them. */
			if (expires > 0 && expires <= c->now)
				continue;
			rc = d->kv_put(c->dst->h, c->to, json_string_value(json_object_get(rec, "provider")),
				       json_string_value(json_object_get(rec, "key")), json_object_get(rec, "value"),
				       json_string_value(json_object_get(rec, "user_id")), expires,
				       SESAME_STORE_KV_CREATE, c->now, err);
			if (rc != SESAME_OK)
				break;
			c->records++;
		}
		free(after_provider);
		free(after_key);
		after_provider = after_key = NULL;
		if (rc == SESAME_OK && (!(after_provider = strdup(last_string(list, "provider"))) ||
					!(after_key = strdup(last_string(list, "key")))))
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		json_decref(list);
		list = NULL;
		if (rc != SESAME_OK)
			break;
	}
	free(after_provider);
	free(after_key);
	json_decref(list);
	return rc;
}

/* Wipe the private keys a key list carries before it is freed. */
static void keys_wipe(json_t *list)
{
	json_t *rec;
	size_t k;

	json_array_foreach (list, k, rec) {
		json_t *pem = json_object_get(rec, "pem");

		if (json_is_string(pem))
			util_wipe((char *)json_string_value(pem), json_string_length(pem));
	}
	json_decref(list);
}

static int copy_keys(struct copy *c, sesame_error *err)
{
	json_t *list = NULL, *rec;
	size_t k;
	int rc;

	if (!store_has_keys(c->src))
		return SESAME_OK; /* the keys are files: the target's first start imports them */
	rc = c->src->desc->keys_list(c->src->h, c->from, &list, err);
	if (rc == SESAME_OK && json_array_size(list) > 0 && !store_has_keys(c->dst))
		rc =
		    seterr(err, SESAME_USAGE, "keys",
			   "the target store (%s) cannot keep signing keys (store ABI 1.0); the source's keys would be "
			   "lost",
			   c->dst->desc->type);
	json_array_foreach (list, k, rec) {
		if (rc != SESAME_OK)
			break;
		rc = c->dst->desc->key_insert(c->dst->h, c->to, rec, err);
		c->keys += rc == SESAME_OK;
	}
	keys_wipe(list);
	return rc;
}

static int copy_all(struct copy *c, sesame_error *err)
{
	int rc = target_is_empty(c, err);

	if (rc == SESAME_OK)
		rc = copy_users(c, err);
	if (rc == SESAME_OK)
		rc = copy_sessions(c, err);
	if (rc == SESAME_OK)
		rc = copy_records(c, err);
	if (rc == SESAME_OK)
		rc = copy_keys(c, err);
	return rc;
}

static int migrate(sesame_ctx *ctx, struct store *src, struct store *dst, json_t **result, sesame_error *err)
{
	struct copy c = {.src = src, .dst = dst, .now = ctx_now(ctx)};
	int rc;

	if (!store_has_listing(src) || !store_has_listing(dst))
		return seterr(err, SESAME_USAGE, "listing",
			      "the %s store cannot list its records (store ABI 1.0): it cannot be migrated",
			      store_has_listing(src) ? dst->desc->type : src->desc->type);
	rc = src->desc->begin(src->h, 0, &c.from, err);
	if (rc != SESAME_OK)
		return rc;
	rc = dst->desc->begin(dst->h, SESAME_STORE_TXN_WRITE, &c.to, err);
	if (rc != SESAME_OK) {
		src->desc->rollback(c.from);
		return rc;
	}
	rc = copy_all(&c, err);
	if (rc == SESAME_OK)
		rc = dst->desc->commit(c.to, err);
	else
		dst->desc->rollback(c.to);
	src->desc->rollback(c.from);
	if (rc != SESAME_OK)
		return rc;
	log_msg(&ctx->log, SESAME_LOG_NOTICE,
		"store migrated into %s: %llu users, %llu identities, %llu sessions, %llu provider records, %llu keys",
		dst->desc->type, (unsigned long long)c.users, (unsigned long long)c.identities,
		(unsigned long long)c.sessions, (unsigned long long)c.records, (unsigned long long)c.keys);
	if (result && !(*result = json_pack("{s:I, s:I, s:I, s:I, s:I}", "users", (json_int_t)c.users, "identities",
					    (json_int_t)c.identities, "sessions", (json_int_t)c.sessions,
					    "provider_records", (json_int_t)c.records, "keys", (json_int_t)c.keys)))
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

SESAME_API int sesame_store_migrate(sesame_ctx *ctx, const char *target_config, json_t **result, sesame_error *err)
{
	struct config target;
	struct store *src, dst;
	struct sessions *keys = NULL;
	int rc;

	if (result)
		*result = NULL;
	if (!ctx || !ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "the context is not configured");
	if (!target_config)
		return seterr(err, SESAME_USAGE, "usage", "no target configuration file given");
	rc = ctx_store(ctx, &src, err);
	if (rc != SESAME_OK)
		return rc;
	/* The source's keys are in its store before the copy (imported from
	 * the key files on a store that never had them). */
	rc = sessions_acquire(ctx, false, &keys, err);
	sessions_release(keys);
	if (rc != SESAME_OK)
		return rc;
	rc = config_load(&target, target_config, CONFIG_STORE_ONLY, &ctx->log, err);
	if (rc != SESAME_OK)
		return rc;
	rc = store_open(&dst, target.store_dir, target.store, &ctx->log, err);
	if (rc == SESAME_OK) {
		rc = migrate(ctx, src, &dst, result, err);
		store_close(&dst);
	}
	config_free(&target);
	return rc;
}
