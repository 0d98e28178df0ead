/* SPDX-License-Identifier: MIT */
/*
 * core/store.c — loading and opening the store plugin, running
 * transactions with retry on conflict, making IDs, and creating sessions
 * with only the hash of their refresh token stored.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "internal.h"

#define RETRY_PAUSE_MAX_US 50000

static int store_check_descriptor(const struct sesame_store *d, const char *type, const char *path, sesame_error *err)
{
	if (SESAME_ABI_MAJOR_OF(d->abi_version) != SESAME_STORE_ABI_MAJOR)
		return loader_fail(err, path, "abi", "store ABI major %u, this sesame speaks major %u",
				   (unsigned)SESAME_ABI_MAJOR_OF(d->abi_version), (unsigned)SESAME_STORE_ABI_MAJOR);
	if (d->struct_size < SESAME_STORE_MIN_SIZE)
		return loader_fail(err, path, "abi",
				   "descriptor struct_size %u is smaller than the ABI 1.0 minimum %zu",
				   (unsigned)d->struct_size, (size_t)SESAME_STORE_MIN_SIZE);
	if (!d->type || strcmp(d->type, type) != 0)
		return loader_fail(err, path, "descriptor",
				   "descriptor type \"%s\" does not match the file name \"%s\"",
				   d->type ? d->type : "(null)", type);
	if (!d->version || !d->description)
		return loader_fail(err, path, "descriptor", "descriptor lacks its version or description string");
	if (!d->open || !d->close || !d->begin || !d->commit || !d->rollback || !d->user_insert || !d->user_get ||
	    !d->user_update || !d->user_delete || !d->users_list || !d->identity_insert || !d->identity_get ||
	    !d->identity_update || !d->identity_delete || !d->identities_of_user || !d->session_insert ||
	    !d->session_get_by_hash || !d->session_get || !d->session_touch || !d->session_delete ||
	    !d->sessions_delete_user || !d->sessions_count || !d->kv_get || !d->kv_put || !d->kv_delete || !d->kv_purge)
		return loader_fail(err, path, "descriptor", "descriptor lacks a function required by store ABI 1.0");
	/* The groups of 1.1 come whole or not at all: half a group would
	 * fail in the middle of a migration or a rotation. */
	if (SESAME_HAS_FIELD(struct sesame_store, kv_list, d->struct_size) && !d->sessions_list != !d->kv_list)
		return loader_fail(err, path, "descriptor",
				   "descriptor sets only one of sessions_list and kv_list (store ABI 1.1: both or none)");
	if (SESAME_HAS_FIELD(struct sesame_store, keys_prune, d->struct_size)) {
		int n = !!d->keys_generation + !!d->keys_list + !!d->key_insert + !!d->key_retire + !!d->keys_prune;

		if (n != 0 && n != 5)
			return loader_fail(err, path, "descriptor",
					   "descriptor sets only some of the signing key functions (store ABI 1.1: "
					   "keys_generation, keys_list, key_insert, key_retire and keys_prune, or none)");
	}
	return SESAME_OK;
}

bool store_has_listing(const struct store *st)
{
	return SESAME_HAS_FIELD(struct sesame_store, kv_list, st->desc->struct_size) && st->desc->sessions_list &&
	       st->desc->kv_list;
}

bool store_has_keys(const struct store *st)
{
	return SESAME_HAS_FIELD(struct sesame_store, keys_prune, st->desc->struct_size) && st->desc->keys_generation &&
	       st->desc->keys_list && st->desc->key_insert && st->desc->key_retire && st->desc->keys_prune;
}

static void store_log(void *data, int level, const char *fmt, ...) SESAME_PRINTF(3, 4);

static void store_log(void *data, int level, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(data, level, "store: %s", msg);
}

static int store_error(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);

static int store_error(sesame_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, status, reason, fmt, ap);
	va_end(ap);
	return status;
}

int store_open(struct store *st, const char *store_dir, const json_t *conf, const struct logger *lg, sesame_error *err)
{
	const char *type = json_string_value(json_object_get(conf, "type"));
	const void *entry;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!type)
		return seterr(err, SESAME_CONFIG, "config", "\"store.type\": missing");
	rc = loader_open(store_dir, "store", type, SESAME_STORE_ENTRY_SYMBOL, lg, &entry, &st->plugin_path, err);
	if (rc == SESAME_OK)
		rc = store_check_descriptor(entry, type, st->plugin_path, err);
	if (rc != SESAME_OK) {
		free(st->plugin_path);
		st->plugin_path = NULL;
		return rc;
	}
	st->desc = entry;
	st->log = lg;
	st->host = (struct sesame_store_host){
	    .abi_version = SESAME_STORE_ABI_VERSION,
	    .struct_size = sizeof(struct sesame_store_host),
	    .data = (void *)lg,
	    .log = store_log,
	    .error = store_error,
	};
	rc = st->desc->open(&st->host, conf, &st->h, err);
	if (rc == SESAME_OK && !st->h)
		rc = seterr(err, SESAME_INTERNAL, "descriptor", "%s: open() returned no handle", st->plugin_path);
	if (rc != SESAME_OK) {
		if (rc < SESAME_REJECTED || rc > SESAME_USAGE)
			rc = seterr(err, SESAME_INTERNAL, "store", "%s: open() returned an invalid status %d",
				    st->plugin_path, rc);
		if (err && err->text[0] == '\0')
			seterr(err, rc, "store", "store %s cannot be opened", type);
		if (err)
			err->status = rc;
		free(st->plugin_path);
		memset(st, 0, sizeof(*st));
		return rc;
	}
	log_msg(lg, SESAME_LOG_INFO, "store %s (plugin %s %s) open", type, st->plugin_path, st->desc->version);
	return SESAME_OK;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->desc && st->h)
		st->desc->close(st->h);
	free(st->plugin_path);
	memset(st, 0, sizeof(*st));
}

bool store_retryable(int status, const sesame_error *err)
{
	return status == SESAME_CONFLICT && err &&
	       (strcmp(err->reason, "busy") == 0 || strcmp(err->reason, "exists") == 0);
}

/* A short random pause so that retrying writers do not collide again in step. */
static void retry_pause(int attempt)
{
	unsigned r = 0;
	long us;
	struct timespec ts;

	util_random(&r, sizeof(r));
	us = (long)(r % (unsigned)(1000 << (attempt < 6 ? attempt : 6)));
	if (us > RETRY_PAUSE_MAX_US)
		us = RETRY_PAUSE_MAX_US;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
}

int store_transact(struct store *st, unsigned flags, store_txn_fn fn, void *arg, sesame_error *err)
{
	sesame_error e;
	int64_t start = util_monotonic_ms();
	int attempt, rc = SESAME_INTERNAL;

	for (attempt = 0; attempt < STORE_MAX_ATTEMPTS; attempt++) {
		sesame_store_txn *txn = NULL;

		if (attempt > 0) {
			if (util_monotonic_ms() - start >= STORE_RETRY_MS)
				break;
			retry_pause(attempt);
		}
		err_clear(&e);
		rc = st->desc->begin(st->h, flags, &txn, &e);
		if (rc == SESAME_OK) {
			rc = fn(st, txn, arg, &e);
			if (rc == SESAME_OK)
				rc = st->desc->commit(txn, &e);
			else
				st->desc->rollback(txn);
		}
		if (!store_retryable(rc, &e))
			break;
		log_msg(st->log, SESAME_LOG_DEBUG, "store conflict (%s), retrying: %s", e.reason, e.text);
	}
	if (rc != SESAME_OK && store_retryable(rc, &e))
		log_msg(st->log, SESAME_LOG_WARNING, "store: giving up after %d conflicting attempts in %lld ms: %s",
			attempt, (long long)(util_monotonic_ms() - start), e.text);
	if (rc == SESAME_OK)
		err_clear(&e);
	if (err)
		*err = e;
	return rc;
}

void store_make_id(int64_t now, const unsigned char random[8], char id[SESAME_STORE_ID_LENGTH + 1])
{
	unsigned char raw[SESAME_STORE_ID_LENGTH / 2];
	uint32_t t = (uint32_t)now;

	raw[0] = (unsigned char)(t >> 24);
	raw[1] = (unsigned char)(t >> 16);
	raw[2] = (unsigned char)(t >> 8);
	raw[3] = (unsigned char)t;
	memcpy(raw + 4, random, 8);
	encode_hex(raw, sizeof(raw), id);
}

int store_new_id(int64_t now, char id[SESAME_STORE_ID_LENGTH + 1])
{
	unsigned char random[8];

	if (util_random(random, sizeof(random)) != SESAME_OK)
		return SESAME_INTERNAL;
	store_make_id(now, random, id);
	return SESAME_OK;
}

bool store_valid_id(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < SESAME_STORE_ID_LENGTH; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[SESAME_STORE_ID_LENGTH] == '\0';
}

/* SHA-256 fetched once: EVP_sha256() makes every EVP_Digest() fetch it. */
static EVP_MD *sha256_method;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_method = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int store_token_hash(const char *token, char hash[SESAME_STORE_HASH_LENGTH + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (!token || !sha256_method || EVP_Digest(token, strlen(token), md, &len, sha256_method, NULL) != 1 ||
	    len != SESAME_STORE_HASH_LENGTH / 2)
		return SESAME_INTERNAL;
	encode_hex(md, len, hash);
	util_wipe(md, sizeof(md));
	return SESAME_OK;
}

int store_session_create(struct store *st, sesame_store_txn *txn, const struct store_session_params *p,
			 char id[SESAME_STORE_ID_LENGTH + 1], sesame_error *err)
{
	char hash[SESAME_STORE_HASH_LENGTH + 1];
	json_t *rec;
	int rc;

	if (!p->user_id || !p->device_id || !p->refresh_token || !p->refresh_token[0] ||
	    (!p->provider != !p->provider_uid))
		return seterr(err, SESAME_USAGE, "usage", "store_session_create: bad arguments");
	if (p->id_random)
		store_make_id(p->now, p->id_random, id);
	else if (store_new_id(p->now, id) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no random bytes for a session id");
	if (store_token_hash(p->refresh_token, hash) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot hash a refresh token");
	rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", id, "user_id", p->user_id, "device_id",
			p->device_id, "refresh_hash", hash, "created", (json_int_t)p->now, "expires",
			(json_int_t)p->expires, "last_used", (json_int_t)p->now);
	if (rec && p->provider &&
	    (json_object_set_new(rec, "provider", json_string(p->provider)) != 0 ||
	     json_object_set_new(rec, "provider_uid", json_string(p->provider_uid)) != 0)) {
		json_decref(rec);
		rec = NULL;
	}
	if (!rec)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->session_insert(st->h, txn, rec, err);
	json_decref(rec);
	return rc;
}
