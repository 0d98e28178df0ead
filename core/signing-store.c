/* SPDX-License-Identifier: MIT */
/*
 * core/signing-store.c — sesame's token-signing keys kept in the store
 * (store ABI 1.1), so that every node sharing one database signs with the
 * same key and verifies every node's tokens: the snapshot a process loads,
 * the generation number it watches to see another node's rotation, the
 * rotation itself, pruning, and the one-time import of the key files.
 *
 * The store holds one current key (its private PEM) and the retired keys
 * (public PEMs) whose access tokens may still be valid: a key retired at
 * time R verifies until R + access_ttl + SIGNING_RETIRE_SLACK, then it is
 * pruned by the next process that loads the keys or rotates them.  Every
 * change increases the store's generation number in the same transaction;
 * a running process reads that number every few seconds (core/sessions.c)
 * and loads the keys again when it moved, so a rotation made on one node
 * (or by `sesame keys rotate` anywhere) reaches all of them within
 * seconds, without a restart or a signal.
 *
 * Import: the first process that finds the store without any key takes
 * the key files of core/signing.c when the key file exists (an
 * installation that kept its keys in files before: its tokens keep
 * verifying), with every check signing_keys_load() makes, or else makes a
 * new key.  Two processes doing this at once store one set: the store
 * allows one current key, the loser's insert conflicts, its transaction is
 * retried and finds the winner's keys.  From then on the files are not
 * read.  A store without the key functions (a plugin of store ABI 1.0)
 * keeps using the files.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

/* Times the snapshot reads again after making, importing or pruning keys. */
#define SNAPSHOT_ATTEMPTS 4

/* The store's keys and generation, read in one transaction. */
struct keys_read {
	uint64_t generation;
	json_t *records;
};

/* Free key records, wiping the private key they may carry first. */
static void records_free(json_t *records)
{
	json_t *rec;
	size_t i;

	json_array_foreach (records, i, rec) {
		json_t *pem = json_object_get(rec, "pem");

		if (json_is_string(pem) && json_string_length(pem) > 0)
			util_wipe((char *)json_string_value(pem), json_string_length(pem));
	}
	json_decref(records);
}

static int read_keys_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct keys_read *r = arg;
	int rc;

	records_free(r->records);
	r->records = NULL;
	rc = st->desc->keys_generation(st->h, txn, &r->generation, err);
	if (rc == SESAME_OK)
		rc = st->desc->keys_list(st->h, txn, &r->records, err);
	return rc;
}

static int64_t record_int(const json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

static const json_t *current_record(const json_t *records)
{
	const json_t *rec;
	size_t i;

	json_array_foreach (records, i, rec)
		if (record_int(rec, "retired") == 0)
			return rec;
	return NULL;
}

/* The moment at or before which a retired key verifies nothing any more. */
static int64_t prune_before(const sesame_ctx *ctx, int64_t now)
{
	return now - ctx->cfg.access_ttl - SIGNING_RETIRE_SLACK - 1;
}

static void key_clear(struct signing_key *k)
{
	util_free_secret(k->pem);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

/* Parse one record into an entry of `sk`. */
static int add_record(struct signing_keys *sk, const json_t *rec, sesame_error *err)
{
	const char *pem = json_string_value(json_object_get(rec, "pem"));
	const char *kid = json_string_value(json_object_get(rec, "kid"));
	int64_t retired = record_int(rec, "retired");
	struct signing_key k;
	char what[96], *copy;
	int rc;

	snprintf(what, sizeof(what), "the store's signing key %.64s", kid ? kid : "(no kid)");
	if (!pem || !kid || !(copy = strdup(pem)))
		return seterr(err, SESAME_INTERNAL, "key", "%s: unreadable record", what);
	rc = signing_key_from_pem(what, copy, retired == 0, retired, &k, err);
	if (rc != SESAME_OK) {
		util_free_secret(copy);
		return rc;
	}
	/* The kid is the key's digest: a record that says otherwise was not
	 * written by sesame. */
	if (strcmp(k.kid, kid) != 0) {
		rc = seterr(err, SESAME_CONFIG, "key", "%s: its key has the kid %s", what, k.kid);
		key_clear(&k);
		return rc;
	}
	rc = signing_keys_append(sk, &k, err);
	if (rc != SESAME_OK)
		key_clear(&k);
	return rc;
}

/* The keys of `records` still in use at `now`, current first; `*stale`
 * says whether some retired ones are past their use. */
static int keys_of_records(const sesame_ctx *ctx, const json_t *records, int64_t now, struct signing_keys *sk,
			   bool *stale, sesame_error *err)
{
	const json_t *cur = current_record(records), *rec;
	size_t i;
	int rc;

	memset(sk, 0, sizeof(*sk));
	*stale = false;
	rc = add_record(sk, cur, err);
	json_array_foreach (records, i, rec) {
		if (rc != SESAME_OK)
			break;
		if (rec == cur)
			continue;
		if (record_int(rec, "retired") <= prune_before(ctx, now)) {
			*stale = true;
			continue;
		}
		rc = add_record(sk, rec, err);
	}
	if (rc != SESAME_OK)
		signing_keys_free(sk);
	return rc;
}

/* What the first process stores: the key files' keys, or a new key. */
struct first_keys {
	const struct signing_keys *files; /* NULL: make a new key */
	char *new_pem;			  /* the new key, when no files */
	char new_kid[SIGNING_KID_SIZE];
	int64_t now;
	bool stored; /* out: this process stored them */
};

static int insert_key(struct store *st, sesame_store_txn *txn, const char *kid, const char *pem, int64_t created,
		      int64_t retired, sesame_error *err)
{
	json_t *rec = json_pack("{s:s, s:s, s:I, s:I}", "kid", kid, "pem", pem, "created", (json_int_t)created,
				"retired", (json_int_t)retired);
	int rc;

	if (!rec)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->key_insert(st->h, txn, rec, err);
	/* The record held a private key: wipe jansson's copy before it goes. */
	util_wipe((char *)json_string_value(json_object_get(rec, "pem")), strlen(pem));
	json_decref(rec);
	return rc;
}

static int first_keys_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct first_keys *f = arg;
	json_t *records = NULL;
	size_t i;
	int rc;

	f->stored = false;
	rc = st->desc->keys_list(st->h, txn, &records, err);
	if (rc != SESAME_OK)
		return rc;
	/* Another process was first: its keys are the ones. */
	if (current_record(records)) {
		records_free(records);
		return SESAME_OK;
	}
	/* The files are imported into an empty store only: retired keys
	 * without a current one (an operator's doing) get a new current key. */
	if (f->files && json_array_size(records) == 0) {
		for (i = 0; rc == SESAME_OK && i < f->files->n; i++) {
			const struct signing_key *k = &f->files->keys[i];

			/* The current key's file holds its private key, a retired
			 * key's its public key: both as the store keeps them. */
			rc = insert_key(st, txn, k->kid, k->pem, f->now,
					k->private ? 0 : (k->retired_at > 0 ? k->retired_at : 1), err);
		}
	} else {
		rc = insert_key(st, txn, f->new_kid, f->new_pem, f->now, 0, err);
	}
	records_free(records);
	f->stored = rc == SESAME_OK;
	return rc;
}

/*
 * The store has no current key: store the key files' keys (when the store
 * is empty and the key file exists) or a new key.  Concurrent callers
 * store one set.
 */
static int store_first_keys(sesame_ctx *ctx, struct store *st, bool empty, int64_t now, sesame_error *err)
{
	struct signing_keys files = {0};
	struct first_keys f = {.now = now};
	struct signing_key k;
	char *path = signing_key_path(&ctx->cfg);
	int rc = SESAME_OK;

	if (!path)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (empty && (access(path, F_OK) == 0 || errno != ENOENT)) {
		rc = signing_keys_load(&ctx->cfg, now, &ctx->log, &files, err);
		f.files = &files;
	} else {
		f.new_pem = signing_key_new_pem();
		if (!f.new_pem) {
			rc = seterr(err, SESAME_INTERNAL, "key", "cannot generate an EC P-256 key");
		} else {
			char *copy = strdup(f.new_pem);

			/* Parsed once for its kid. */
			rc = copy ? signing_key_from_pem("a new signing key", copy, true, 0, &k, err)
				  : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
			if (rc == SESAME_OK) {
				memcpy(f.new_kid, k.kid, SIGNING_KID_SIZE);
				key_clear(&k);
			} else {
				util_free_secret(copy);
			}
		}
	}
	if (rc == SESAME_OK)
		rc = store_transact(st, SESAME_STORE_TXN_WRITE, first_keys_txn, &f, err);
	if (rc == SESAME_OK && f.stored && f.files)
		log_msg(&ctx->log, SESAME_LOG_NOTICE,
			"signing keys imported into the store from %s (kid %s and %zu retired key%s); the key files "
			"are no longer read",
			path, files.keys[0].kid, files.n - 1, files.n == 2 ? "" : "s");
	else if (rc == SESAME_OK && f.stored)
		log_msg(&ctx->log, SESAME_LOG_NOTICE, "new ES256 signing key %s stored in the store", f.new_kid);
	signing_keys_free(&files);
	util_free_secret(f.new_pem);
	free(path);
	return rc;
}

static int prune_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	return st->desc->keys_prune(st->h, txn, *(const int64_t *)arg, NULL, err);
}

int signing_keys_snapshot(sesame_ctx *ctx, struct signing_keys *sk, struct signing_stamp *stamp, sesame_error *err)
{
	struct keys_read r = {0};
	struct store *st;
	int64_t now = ctx_now(ctx);
	bool stale = false, pruned = false;
	int attempt, rc;

	memset(sk, 0, sizeof(*sk));
	memset(stamp, 0, sizeof(*stamp));
	rc = ctx_store(ctx, &st, err);
	if (rc != SESAME_OK)
		return rc;
	if (!store_has_keys(st)) {
		signing_keys_stamp(&ctx->cfg, stamp);
		return signing_keys_load(&ctx->cfg, now, &ctx->log, sk, err);
	}
	for (attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
		rc = store_transact(st, 0, read_keys_txn, &r, err);
		if (rc != SESAME_OK)
			break;
		if (!current_record(r.records)) {
			rc = store_first_keys(ctx, st, json_array_size(r.records) == 0, now, err);
			if (rc != SESAME_OK)
				break;
			continue;
		}
		signing_keys_free(sk);
		rc = keys_of_records(ctx, r.records, now, sk, &stale, err);
		if (rc != SESAME_OK || !stale || pruned)
			break;
		/* Prune, then read again so that the stamp is the pruned keys'
		 * generation.  A failure only leaves them for the next time. */
		{
			int64_t before = prune_before(ctx, now);
			sesame_error e;

			pruned = true;
			if (store_transact(st, SESAME_STORE_TXN_WRITE, prune_txn, &before, &e) != SESAME_OK) {
				log_msg(&ctx->log, SESAME_LOG_WARNING, "cannot prune retired signing keys: %s", e.text);
				break;
			}
			log_msg(&ctx->log, SESAME_LOG_INFO,
				"retired signing keys past their use pruned from the store");
		}
	}
	if (rc == SESAME_OK && attempt == SNAPSHOT_ATTEMPTS)
		rc = seterr(err, SESAME_UNAVAILABLE, "key", "the store holds no current signing key after %d attempts",
			    SNAPSHOT_ATTEMPTS);
	if (rc == SESAME_OK) {
		stamp->in_store = true;
		stamp->generation = r.generation;
	} else {
		signing_keys_free(sk);
	}
	records_free(r.records);
	return rc;
}

bool signing_keys_changed(sesame_ctx *ctx, const struct signing_stamp *loaded)
{
	struct signing_stamp now;
	struct store *st;
	sesame_error e;

	if (!loaded->in_store) {
		signing_keys_stamp(&ctx->cfg, &now);
		return !signing_stamp_equal(&now, loaded);
	}
	memset(&now, 0, sizeof(now));
	if (ctx_store(ctx, &st, &e) != SESAME_OK ||
	    st->desc->keys_generation(st->h, NULL, &now.generation, &e) != SESAME_OK) {
		log_msg(&ctx->log, SESAME_LOG_DEBUG, "cannot read the signing keys' generation; keeping the keys: %s",
			e.text);
		return false;
	}
	return now.generation != loaded->generation;
}

/* Rotation in one transaction: retire the current key (keeping its public
 * half), store the new one, prune the keys past their use. */
struct rotation {
	const char *new_pem;
	const char *new_kid;
	int64_t now, before;
	char old_kid[SIGNING_KID_SIZE];
};

static int rotate_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct rotation *r = arg;
	json_t *records = NULL;
	const json_t *cur;
	int rc;

	r->old_kid[0] = '\0';
	rc = st->desc->keys_list(st->h, txn, &records, err);
	cur = rc == SESAME_OK ? current_record(records) : NULL;
	if (cur) {
		struct signing_keys one = {0};
		char *pub = NULL;

		rc = add_record(&one, cur, err);
		if (rc == SESAME_OK && !(pub = signing_key_public_pem(&one.keys[0])))
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		if (rc == SESAME_OK)
			rc = st->desc->key_retire(st->h, txn, one.keys[0].kid, pub, r->now, err);
		if (rc == SESAME_OK)
			memcpy(r->old_kid, one.keys[0].kid, SIGNING_KID_SIZE);
		free(pub);
		signing_keys_free(&one);
	}
	if (rc == SESAME_OK)
		rc = insert_key(st, txn, r->new_kid, r->new_pem, r->now, 0, err);
	if (rc == SESAME_OK)
		rc = st->desc->keys_prune(st->h, txn, r->before, NULL, err);
	records_free(records);
	return rc;
}

int signing_rotate(sesame_ctx *ctx, char new_kid[SIGNING_KID_SIZE], sesame_error *err)
{
	struct rotation r = {0};
	struct signing_keys sk;
	struct signing_stamp stamp;
	struct signing_key k;
	struct store *st;
	char *pem = NULL, *copy = NULL;
	int rc;

	rc = ctx_store(ctx, &st, err);
	if (rc != SESAME_OK)
		return rc;
	if (!store_has_keys(st))
		return signing_keys_rotate(&ctx->cfg, &ctx->log, new_kid, err);
	/* The keys first exist (imported or made), so the rotation retires
	 * them rather than leaving the key files unimported. */
	rc = signing_keys_snapshot(ctx, &sk, &stamp, err);
	if (rc != SESAME_OK)
		return rc;
	signing_keys_free(&sk);
	pem = signing_key_new_pem();
	copy = pem ? strdup(pem) : NULL;
	if (!copy) {
		util_free_secret(pem);
		return seterr(err, SESAME_INTERNAL, "key", "cannot generate an EC P-256 key");
	}
	rc = signing_key_from_pem("a new signing key", copy, true, 0, &k, err);
	if (rc != SESAME_OK) {
		util_free_secret(copy);
		util_free_secret(pem);
		return rc;
	}
	memcpy(new_kid, k.kid, SIGNING_KID_SIZE);
	key_clear(&k);
	r.new_pem = pem;
	r.new_kid = new_kid;
	r.now = ctx_now(ctx);
	r.before = prune_before(ctx, r.now);
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, rotate_txn, &r, err);
	if (rc == SESAME_OK)
		log_msg(&ctx->log, SESAME_LOG_NOTICE, "signing key rotated in the store: new kid %s (kid %s retired)",
			new_kid, r.old_kid[0] ? r.old_kid : "(none)");
	util_free_secret(pem);
	return rc;
}
