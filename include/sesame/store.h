/* SPDX-License-Identifier: MIT */
/*
 * sesame/store.h — the store plugin ABI.
 *
 * A store plugin keeps sesame's state: users, identities, sessions and the
 * per-provider-instance key/value data.  The core loads exactly one store,
 * named by the "store" object of sesame.json ({"type": "sqlite", ...}), from
 * `pkg-config --variable=storedir sesame`/TYPE.so.  This header is all a
 * store author needs.
 *
 * The plugin exports exactly one symbol, `sesame_store_entry`, a const
 * struct sesame_store filled with designated initializers.  Versioning is
 * the provider ABI's rule (see sesame/provider.h): `abi_version` is
 * major << 16 | minor, `struct_size` is sizeof the struct as the side that
 * filled it knew it; the core refuses another major and accepts any minor;
 * fields are only ever appended; a field newer than 1.0 is read only after
 * SESAME_HAS_FIELD() and a NULL check.
 *
 * Records cross the ABI as jansson JSON objects so that appending a member
 * never breaks a struct layout.  Timestamps are integers, seconds since the
 * epoch, always supplied by the core (whose clock tests may shift): a store
 * never reads the clock itself.  Ownership: a `const json_t *` argument is
 * borrowed (the callee neither keeps nor decrefs it); a `json_t **` output
 * receives a new reference that the caller must json_decref().
 *
 *   user      {"id": ID, "type": "normal"|"server", "disabled": bool,
 *              "created": int, "last_login": int, "data": {...},
 *              "custom_data": {...}}
 *   identity  {"provider": INSTANCE, "provider_type": TYPE, "id": UID,
 *              "user_id": ID, "data": {...}, "private": {...},
 *              "created": int, "updated": int}
 *   session   {"id": ID, "user_id": ID, "device_id": string,
 *              "refresh_hash": 64 lowercase hex (SHA-256 of the refresh
 *              token; the token itself never reaches the store),
 *              "created": int, "expires": int, "last_used": int,
 *              optional "provider": INSTANCE, "provider_uid": UID (the
 *              identity the session was opened with; both or neither)}
 *   entry     {"provider": INSTANCE, "key": string, "value": any JSON,
 *              "expires": int (0: never), optional "user_id": ID}
 *              (one provider key/value entry; since 1.1)
 *   key       {"kid": 1 to 64 of [A-Za-z0-9_-], "pem": PEM text of at
 *              most SESAME_STORE_PEM_MAX bytes, "created": int,
 *              "retired": int (0: the current key)} (one of sesame's own
 *              token-signing keys; since 1.1)
 *
 * IDs are 24 lowercase hex digits (ObjectId form), made by the core.  An
 * identity is unique per (provider, id): this unique key is what makes two
 * concurrent first logins of one identity create one user.  Deleting a user
 * deletes its identities, its sessions and the key/value entries bound to
 * it, atomically.
 *
 * Transactions.  Every operation takes a `txn`:
 *   - NULL: the operation is atomic on its own (its own transaction);
 *   - a transaction from begin(): the operation joins it, and nothing is
 *     visible to others before commit().
 * A write transaction (SESAME_STORE_TXN_WRITE) must behave as if
 * serializable: a read inside it sees no concurrent change that commits
 * before it does (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE).  When
 * the store cannot guarantee this it answers SESAME_CONFLICT, from any
 * operation or from commit(), and the core rolls back and retries the whole
 * transaction.  After any failure inside a transaction other than
 * SESAME_NOT_FOUND from a lookup, the only valid call is rollback() (as in
 * PostgreSQL, where an error aborts the transaction).  A read transaction
 * (flags 0) refuses writes with SESAME_USAGE.  A thread must not call a
 * writing operation with NULL `txn`, nor begin() another write transaction,
 * while it holds an open write transaction on the same handle: it would
 * wait for its own lock until the store's busy timeout and get
 * SESAME_CONFLICT.
 *
 * Statuses, common to every operation (reasons in quotes):
 *   SESAME_OK
 *   SESAME_NOT_FOUND     the record does not exist ("user", "identity",
 *                        "session", "key"); a normal answer, the
 *                        transaction stays usable.
 *   SESAME_CONFLICT      a unique key is taken ("exists"), or the store
 *                        could not serialize the transaction or get its
 *                        lock in time ("busy"): roll back and retry.  The
 *                        core retries a conflict with exactly these two
 *                        reasons, so a store must use them.
 *   SESAME_MALFORMED     a record lacks a member or has a wrong type
 *                        ("record"), or an ID is not in ObjectId form.
 *   SESAME_USAGE         bad arguments, a write in a read transaction, a
 *                        call on a failed transaction ("usage").
 *   SESAME_UNAVAILABLE   the database cannot be reached, is full, corrupt,
 *                        or of a newer schema ("io", "schema").
 *   SESAME_INTERNAL      out of memory or a bug ("memory", "internal").
 *   SESAME_CONFIG        only from open(): bad configuration ("config").
 *
 * Thread safety: open() and close() run alone; every other function may be
 * called from any number of threads at once on one handle; one transaction
 * is used by one thread at a time.  A handle must not be used in a child
 * after fork(): the child opens its own.
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#ifndef SESAME_STORE_H
#define SESAME_STORE_H

#include <jansson.h>
#include <sesame/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version arithmetic, shared with sesame/provider.h (same definitions). */
#ifndef SESAME_ABI_VERSION
#define SESAME_ABI_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define SESAME_ABI_MAJOR_OF(v)		 ((uint32_t)(v) >> 16)
#define SESAME_ABI_MINOR_OF(v)		 ((uint32_t)(v)&0xffffu)
#endif

/*
 * The store ABI version this header describes.
 *   1.0  users, identities, sessions, provider key/value data.
 *   1.1  signing keys (keys_generation .. keys_prune): sesame's own
 *        token-signing keys live in the store, so that every node sharing
 *        the store signs and verifies with the same keys and sees a
 *        rotation within seconds; listing every session and key/value
 *        entry (sessions_list, kv_list), so that `sesame store migrate`
 *        can copy a whole store into another.  Both were made necessary
 *        by the second store (postgres) and several nodes on it.
 */
#define SESAME_STORE_ABI_MAJOR	 1
#define SESAME_STORE_ABI_MINOR	 1
#define SESAME_STORE_ABI_VERSION SESAME_ABI_VERSION(SESAME_STORE_ABI_MAJOR, SESAME_STORE_ABI_MINOR)

/* The name of the one symbol a store plugin exports. */
#define SESAME_STORE_ENTRY_SYMBOL "sesame_store_entry"

#ifndef SESAME_HAS_FIELD
/* True when a struct whose struct_size is `size` contains `field`. */
#define SESAME_HAS_FIELD(type, field, size) ((size_t)(size) >= offsetof(type, field) + sizeof(((type *)0)->field))
#endif

/* Length of an ID without its NUL (24 hex digits), and of a refresh hash. */
#define SESAME_STORE_ID_LENGTH	 24
#define SESAME_STORE_HASH_LENGTH 64

/* Flags of begin(). */
#define SESAME_STORE_TXN_WRITE 0x1u /* the transaction will write */

/* Flags of kv_put(). */
#define SESAME_STORE_KV_CREATE 0x1u /* fail with SESAME_CONFLICT when the key exists */

/* Longest "kid" and "pem" of a key record, in bytes.  Since 1.1. */
#define SESAME_STORE_KID_MAX 64
#define SESAME_STORE_PEM_MAX 16384

/* One opened store; defined by the plugin, opaque to the core. */
typedef struct sesame_store_handle sesame_store_handle;
/* One open transaction; defined by the plugin, opaque to the core. */
typedef struct sesame_store_txn sesame_store_txn;

/*
 * The services the core hands to open().  Valid until close() returns.
 * `data` is the core's, passed back to log().  Since 1.0.
 */
struct sesame_store_host {
	uint32_t abi_version; /* the core's store ABI version */
	uint32_t struct_size; /* sizeof(struct sesame_store_host) as the core knows it */
	void *data;

	/* Log one line (never a secret); level is SESAME_LOG_*. */
	void (*log)(void *data, int level, const char *fmt, ...) SESAME_PRINTF(3, 4);

	/* Fill `err` (NULL allowed) and return `status`; `reason` may be NULL. */
	int (*error)(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);
};

/*
 * The store descriptor, exported by the plugin as
 *
 *   const struct sesame_store sesame_store_entry = {
 *           .abi_version = SESAME_STORE_ABI_VERSION,
 *           .struct_size = sizeof(struct sesame_store),
 *           .type = "sqlite", ...
 *   };
 *
 * Every field up to kv_purge is required in ABI 1.0 (none may be NULL);
 * the fields of 1.1 are optional in groups (listing, signing keys), and
 * the core reads them only after SESAME_HAS_FIELD() and a NULL check.
 */
struct sesame_store {
	uint32_t abi_version;
	uint32_t struct_size;
	/* The store type; equals the file name without ".so", [a-z0-9][a-z0-9_-]*. */
	const char *type;
	/* The plugin's own version, free form. */
	const char *version;
	/* One line saying what the store keeps its data in. */
	const char *description;

	/*
	 * Open the store described by `config` (borrowed): the "store" object
	 * of sesame.json, "type" included.  Create the database and migrate
	 * its schema to the current version when needed (idempotent; a schema
	 * newer than the plugin knows is refused with SESAME_UNAVAILABLE,
	 * reason "schema").  Refuse unknown or ill-typed keys with
	 * SESAME_CONFIG naming the key.  On SESAME_OK `*handle` is what every
	 * other call gets.  Since 1.0.
	 */
	int (*open)(const struct sesame_store_host *host, const json_t *config, sesame_store_handle **handle,
		    sesame_error *err);

	/* Close the store; no other call may be running or follow.  Open
	 * transactions must have been ended.  NULL allowed.  Since 1.0. */
	void (*close)(sesame_store_handle *handle);

	/*
	 * Start a transaction; `flags` 0 (read) or SESAME_STORE_TXN_WRITE.  A
	 * write transaction may wait for other writers (bounded by the
	 * store's busy timeout) and then answer SESAME_CONFLICT.  Since 1.0.
	 */
	int (*begin)(sesame_store_handle *handle, unsigned flags, sesame_store_txn **txn, sesame_error *err);

	/*
	 * Commit and free `txn`, whatever the outcome.  SESAME_CONFLICT means
	 * nothing was written and the transaction may be retried; a
	 * transaction that had failed is rolled back and answers SESAME_USAGE.
	 * Since 1.0.
	 */
	int (*commit)(sesame_store_txn *txn, sesame_error *err);

	/* Roll back and free `txn`.  NULL allowed.  Since 1.0. */
	void (*rollback)(sesame_store_txn *txn);

	/* ---- users ---- */

	/* Insert a user record (all members required).  SESAME_CONFLICT
	 * "exists" when the id is taken.  Since 1.0. */
	int (*user_insert)(sesame_store_handle *handle, sesame_store_txn *txn, const json_t *user, sesame_error *err);

	/* The user `id` as a new reference in `*user`; SESAME_NOT_FOUND
	 * "user".  Since 1.0. */
	int (*user_get)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, json_t **user,
			sesame_error *err);

	/*
	 * Change the members of user `id` present in `changes` (borrowed):
	 * any of "disabled", "last_login", "data", "custom_data"; another
	 * member is SESAME_USAGE.  SESAME_NOT_FOUND "user".  Since 1.0.
	 */
	int (*user_update)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, const json_t *changes,
			   sesame_error *err);

	/* Delete user `id` with its identities, sessions and the key/value
	 * entries bound to it.  SESAME_NOT_FOUND "user".  Since 1.0. */
	int (*user_delete)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, sesame_error *err);

	/*
	 * Up to `limit` (1..1000) users whose id sorts after `after` (NULL or
	 * "": from the first), in id order, as a new array in `*users`.  An
	 * empty array ends the listing.  Since 1.0.
	 */
	int (*users_list)(sesame_store_handle *handle, sesame_store_txn *txn, const char *after, size_t limit,
			  json_t **users, sesame_error *err);

	/* ---- identities ---- */

	/* Insert an identity record (all members required).  SESAME_CONFLICT
	 * "exists" when (provider, id) is taken, SESAME_NOT_FOUND "user" when
	 * its user does not exist.  Since 1.0. */
	int (*identity_insert)(sesame_store_handle *handle, sesame_store_txn *txn, const json_t *identity,
			       sesame_error *err);

	/* The identity (provider, uid) as a new reference in `*identity`,
	 * "private" included; SESAME_NOT_FOUND "identity".  Since 1.0. */
	int (*identity_get)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider, const char *uid,
			    json_t **identity, sesame_error *err);

	/* Change the members of identity (provider, uid) present in `changes`:
	 * any of "data", "private", "updated".  SESAME_NOT_FOUND "identity".
	 * Since 1.0. */
	int (*identity_update)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider,
			       const char *uid, const json_t *changes, sesame_error *err);

	/* Delete identity (provider, uid) and the sessions opened with it (their
	 * tokens must stop working).  SESAME_NOT_FOUND "identity".
	 * Since 1.0. */
	int (*identity_delete)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider,
			       const char *uid, sesame_error *err);

	/* The identities of user `user_id` ("private" included) as a new array,
	 * oldest "updated" first (ties: oldest "created", then provider, then
	 * id).  An unknown user has none.  Since 1.0. */
	int (*identities_of_user)(sesame_store_handle *handle, sesame_store_txn *txn, const char *user_id,
				  json_t **identities, sesame_error *err);

	/* ---- sessions ---- */

	/* Insert a session record (all members required).  SESAME_CONFLICT
	 * "exists" when its id is taken, SESAME_NOT_FOUND "user" for an
	 * unknown user.  A store may also refuse a refresh_hash it holds, but
	 * need not: sesame finds a refresh token's session by its id
	 * (session_get) and compares the hash itself, and the hashes are of
	 * 256 random bits.  Since 1.0. */
	int (*session_insert)(sesame_store_handle *handle, sesame_store_txn *txn, const json_t *session,
			      sesame_error *err);

	/* The session whose refresh_hash is `hash` (64 hex digits), expired or
	 * not: the caller checks "expires".  SESAME_NOT_FOUND "session".
	 * sesame itself no longer calls it (see session_insert), so a store
	 * need not index refresh_hash for it.  Since 1.0. */
	int (*session_get_by_hash)(sesame_store_handle *handle, sesame_store_txn *txn, const char *hash,
				   json_t **session, sesame_error *err);

	/* The session `id`; SESAME_NOT_FOUND "session".  Since 1.0. */
	int (*session_get)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, json_t **session,
			   sesame_error *err);

	/* Set "last_used" of session `id`, and "expires" when `expires` > 0.
	 * SESAME_NOT_FOUND "session".  Since 1.0. */
	int (*session_touch)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, int64_t last_used,
			     int64_t expires, sesame_error *err);

	/* Delete session `id`.  SESAME_NOT_FOUND "session".  Since 1.0. */
	int (*session_delete)(sesame_store_handle *handle, sesame_store_txn *txn, const char *id, sesame_error *err);

	/* Delete every session of `user_id`; `*count` (NULL allowed) gets how
	 * many.  SESAME_OK even when there was none.  Since 1.0. */
	int (*sessions_delete_user)(sesame_store_handle *handle, sesame_store_txn *txn, const char *user_id,
				    uint64_t *count, sesame_error *err);

	/* Count the sessions with expires > `now`, of `user_id` or (NULL) of
	 * every user.  Since 1.0. */
	int (*sessions_count)(sesame_store_handle *handle, sesame_store_txn *txn, const char *user_id, int64_t now,
			      uint64_t *count, sesame_error *err);

	/* ---- per-provider-instance key/value data ---- */

	/*
	 * The value (any JSON value, new reference) of `key` in the namespace
	 * of provider instance `provider`, ignoring an entry whose expiry is
	 * <= `now`.  SESAME_NOT_FOUND "key".  Since 1.0.
	 */
	int (*kv_get)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider, const char *key,
		      int64_t now, json_t **value, sesame_error *err);

	/*
	 * Set `key` to `value` (borrowed, any JSON value).  `user_id` (NULL
	 * allowed) binds the entry to a user, so that deleting the user
	 * deletes it (SESAME_NOT_FOUND "user" when no such user); `expires` > 0
	 * makes it invisible from that time on.  With SESAME_STORE_KV_CREATE
	 * an existing live entry is SESAME_CONFLICT "exists" (an expired one
	 * is replaced); without, it is replaced.  Since 1.0.
	 */
	int (*kv_put)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider, const char *key,
		      const json_t *value, const char *user_id, int64_t expires, unsigned flags, int64_t now,
		      sesame_error *err);

	/* Delete `key`.  SESAME_NOT_FOUND "key".  Since 1.0. */
	int (*kv_delete)(sesame_store_handle *handle, sesame_store_txn *txn, const char *provider, const char *key,
			 sesame_error *err);

	/* Delete every entry whose expiry is <= `now`; `*count` (NULL allowed)
	 * gets how many.  Since 1.0. */
	int (*kv_purge)(sesame_store_handle *handle, sesame_store_txn *txn, int64_t now, uint64_t *count,
			sesame_error *err);

	/* ---- listing everything (since 1.1; NULL allowed) ----
	 *
	 * What `sesame store migrate` reads to copy a store: users come from
	 * users_list() and their identities from identities_of_user(); these
	 * two list the rest.  Either both are set or neither.
	 */

	/*
	 * Up to `limit` (1..1000) sessions whose id sorts after `after` (NULL
	 * or "": from the first), expired or not, in id order, as a new array
	 * in `*sessions`.  An empty array ends the listing.  Since 1.1.
	 */
	int (*sessions_list)(sesame_store_handle *handle, sesame_store_txn *txn, const char *after, size_t limit,
			     json_t **sessions, sesame_error *err);

	/*
	 * Up to `limit` (1..1000) key/value entries (records "entry" above)
	 * that sort after (`after_provider`, `after_key`) (both NULL: from the
	 * first), ordered by provider then key, bytewise, expired or not, as
	 * a new array in `*entries`.  An empty array ends the listing.
	 * Since 1.1.
	 */
	int (*kv_list)(sesame_store_handle *handle, sesame_store_txn *txn, const char *after_provider,
		       const char *after_key, size_t limit, json_t **entries, sesame_error *err);

	/* ---- signing keys (since 1.1; NULL allowed) ----
	 *
	 * sesame's own ES256 keys (records "key" above): at most one current
	 * key ("retired" 0, which holds the private key) and the retired keys
	 * (their public key only) that still verify the access tokens they
	 * signed.  The store keeps a generation number that every change of
	 * the keys increases in the same transaction, so that a node learns
	 * that the keys changed by reading one number every few seconds.  The
	 * "pem" of the current key is a private key: the store's data must be
	 * protected as the key itself would be (see sesame-deployment(7)).
	 * Either all five functions are set or none; without them the core
	 * keeps its keys in files.
	 */

	/* The keys' generation number in `*generation` (0 before any key was
	 * stored).  Since 1.1. */
	int (*keys_generation)(sesame_store_handle *handle, sesame_store_txn *txn, uint64_t *generation,
			       sesame_error *err);

	/* Every key as a new array in `*keys`: the current key first, then the
	 * retired ones, most recently retired first.  Since 1.1. */
	int (*keys_list)(sesame_store_handle *handle, sesame_store_txn *txn, json_t **keys, sesame_error *err);

	/* Insert a key record (all members required).  SESAME_CONFLICT
	 * "exists" when its kid is taken, or when it is a current key
	 * ("retired" 0) and a current key exists: two nodes that each make a
	 * first key at the same moment store one.  Since 1.1. */
	int (*key_insert)(sesame_store_handle *handle, sesame_store_txn *txn, const json_t *key, sesame_error *err);

	/* Retire the current key `kid`: its "pem" becomes `public_pem` (the
	 * private key is dropped) and "retired" becomes `retired` (> 0).
	 * SESAME_NOT_FOUND "key" when `kid` is not the current key.
	 * Since 1.1. */
	int (*key_retire)(sesame_store_handle *handle, sesame_store_txn *txn, const char *kid, const char *public_pem,
			  int64_t retired, sesame_error *err);

	/* Delete every retired key with 0 < "retired" <= `before`; `*count`
	 * (NULL allowed) gets how many.  Since 1.1. */
	int (*keys_prune)(sesame_store_handle *handle, sesame_store_txn *txn, int64_t before, uint64_t *count,
			  sesame_error *err);
};

/* The smallest struct_size the core accepts: everything up to kv_purge. */
#define SESAME_STORE_MIN_SIZE (offsetof(struct sesame_store, kv_purge) + sizeof(((struct sesame_store *)0)->kv_purge))

#ifdef __cplusplus
}
#endif

#endif /* SESAME_STORE_H */
