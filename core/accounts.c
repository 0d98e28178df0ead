/* SPDX-License-Identifier: MIT */
/*
 * core/accounts.c — user accounts: the login merge of an identity into a
 * user, linking and unlinking identities, deletion, disabling, custom data
 * and the operator's view of users.
 *
 * Every change runs in one store transaction (store_transact()), retried
 * when the store reports a conflict.  Exactly one user per identity under
 * concurrency rests on the store's unique key on (provider instance, uid):
 * of two first logins racing, the loser's identity insert (or, with
 * SQLite, its BEGIN IMMEDIATE) conflicts, it retries, and finds the
 * winner's identity.
 *
 * The user's `data` is derived, never edited: it is recomputed from the
 * user's identities after every change to them.  Rule: start from an empty
 * object, overlay each identity's data member by member (a shallow merge),
 * oldest `updated` first, and the identity of the current login or link
 * last.  So on conflicting members the identity used most recently wins,
 * and a member only one identity has survives until that identity is
 * unlinked.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_UID_LENGTH	255
#define MAX_NAME_LENGTH 128
#define LIST_DEFAULT	100
#define LIST_MAX	1000

/* What a transaction body needs and returns; outputs are reset per attempt. */
struct op {
	const struct identity *id;
	const char *user_id;
	const char *provider; /* unlink */
	const char *uid;      /* unlink */
	int64_t now;
	bool disabled;
	json_t *user;	    /* out: the user record */
	json_t *identities; /* out: identities of a deleted user */
	bool created;	    /* out */
	accounts_then_fn then; /* login: run after the merge, same transaction */
	void *then_arg;
	const char *user_type; /* create_user(): NULL means "normal" */
	unsigned caps;	       /* link: SESAME_PROVIDER_CAP_* of the identity's instance */
};

/* A borrowed view of an identity object (the JSON entry points). */
static int unpack_identity(const json_t *identity, struct identity *id, sesame_error *err)
{
	json_t *uid = json_object_get(identity, "id");

	id->hold = NULL;
	id->provider = json_string_value(json_object_get(identity, "provider"));
	id->type = json_string_value(json_object_get(identity, "provider_type"));
	id->uid = json_string_value(uid);
	id->data = json_object_get(identity, "data");
	id->priv = json_object_get(identity, "private");
	if (!json_is_object(identity) || !id->provider || !util_valid_instance_name(id->provider, MAX_NAME_LENGTH) ||
	    !id->type || !util_valid_type_name(id->type, MAX_NAME_LENGTH))
		return seterr(err, SESAME_MALFORMED, "identity",
			      "the identity lacks a valid \"provider\" or \"provider_type\"");
	if (!id->uid || json_string_length(uid) == 0 || json_string_length(uid) > MAX_UID_LENGTH ||
	    strlen(id->uid) != json_string_length(uid))
		return seterr(err, SESAME_MALFORMED, "identity",
			      "the identity's \"id\" must be a string of 1 to %d bytes without NUL", MAX_UID_LENGTH);
	if ((id->data && !json_is_object(id->data)) || (id->priv && !json_is_object(id->priv)))
		return seterr(err, SESAME_MALFORMED, "identity",
			      "the identity's \"data\" and \"private\" must be objects");
	return SESAME_OK;
}

static int check_user_id(const char *user_id, sesame_error *err)
{
	if (!store_valid_id(user_id))
		return seterr(err, SESAME_MALFORMED, "id", "a user ID is 24 lowercase hexadecimal digits");
	return SESAME_OK;
}

static json_t *object_or_empty(json_t *o)
{
	return o ? json_incref(o) : json_object();
}

static bool same_identity(const json_t *rec, const char *provider, const char *uid)
{
	const char *p = json_string_value(json_object_get(rec, "provider"));
	const char *u = json_string_value(json_object_get(rec, "id"));

	return p && u && strcmp(p, provider) == 0 && strcmp(u, uid) == 0;
}

/*
 * The user's data by the rule at the top of this file, from `identities`
 * (oldest updated first, as the store returns them); `current` (NULL
 * allowed) is overlaid last.  A new reference, or NULL when out of memory.
 */
static json_t *merged_data(const json_t *identities, const struct identity *current)
{
	json_t *merged = json_object(), *rec;
	size_t i;

	if (!merged)
		return NULL;
	json_array_foreach(identities, i, rec)
	{
		if (current && same_identity(rec, current->provider, current->uid))
			continue;
		if (json_object_update(merged, json_object_get(rec, "data")) != 0)
			goto fail;
	}
	/* A copy: the returned user must not share values with the caller's identity. */
	if (current && current->data && json_object_update_new(merged, json_deep_copy(current->data)) != 0)
		goto fail;
	return merged;
fail:
	json_decref(merged);
	return NULL;
}

/*
 * Recompute the data of user `o->user` from its identities, store it (with
 * last_login = now when `login`) when it changed, and reflect both in
 * o->user.
 */
static int refresh_user_from(struct store *st, sesame_store_txn *txn, struct op *o, const struct identity *current,
			     bool login, json_t *identities, sesame_error *err)
{
	const char *user_id = json_string_value(json_object_get(o->user, "id"));
	json_t *data, *changes;
	bool changed;
	int rc;

	data = merged_data(identities, current);
	if (!data)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	changed = !json_equal(data, json_object_get(o->user, "data"));
	if (!changed && !login) {
		json_decref(data);
		return SESAME_OK;
	}
	changes = changed ? json_pack("{s:O}", "data", data) : json_object();
	if (changes && login)
		json_object_set_new(changes, "last_login", json_integer(o->now));
	if (!changes) {
		json_decref(data);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	rc = st->desc->user_update(st->h, txn, user_id, changes, err);
	json_decref(changes);
	if (rc == SESAME_OK) {
		json_object_set(o->user, "data", data);
		if (login)
			json_object_set_new(o->user, "last_login", json_integer(o->now));
	}
	json_decref(data);
	return rc;
}

/* refresh_user_from() the user's identities as the store has them now. */
static int refresh_user(struct store *st, sesame_store_txn *txn, struct op *o, const struct identity *current,
			bool login, sesame_error *err)
{
	json_t *identities = NULL;
	int rc = st->desc->identities_of_user(st->h, txn, json_string_value(json_object_get(o->user, "id")),
					      &identities, err);

	if (rc == SESAME_OK)
		rc = refresh_user_from(st, txn, o, current, login, identities, err);
	json_decref(identities);
	return rc;
}

/* Equal identity data, a missing object being an empty one. */
static bool same_data(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return (!a || (json_is_object(a) && json_object_size(a) == 0)) &&
		       (!b || (json_is_object(b) && json_object_size(b) == 0));
	return json_equal(a, b);
}

/*
 * True when the user's data is known to stay what it is after this login
 * without reading the user's other identities: the identity's data did not
 * change (`stored` is what the store had) and the user's data already
 * holds each of its members with the same value.  The user's data was
 * computed from all its identities at their last change; the others have
 * not changed since (each change recomputes it), and the members this
 * identity lacks come from them alone, in the same order: so the merge
 * rule gives the same object.
 */
static bool merge_unchanged(const json_t *user_data, const json_t *stored, const json_t *data)
{
	const char *key;
	json_t *v;

	if (!json_is_object(user_data) || !same_data(stored, data))
		return false;
	json_object_foreach((json_t *)data, key, v) {
		if (!json_equal(json_object_get(user_data, key), v))
			return false;
	}
	return true;
}

static void reset_outputs(struct op *o)
{
	json_decref(o->user);
	json_decref(o->identities);
	o->user = NULL;
	o->identities = NULL;
	o->created = false;
}

/* Store the identity's fresh data (when it changed from `found`, the
 * stored record), and its private data when the provider returned some: a
 * login that brings none or an empty object (e.g. an Apple ID token after a
 * code exchange) keeps what an earlier one stored (an Apple refresh token
 * needed for revocation at deletion). */
static int update_identity(struct store *st, sesame_store_txn *txn, const struct op *o, const json_t *found,
			   sesame_error *err)
{
	json_t *changes = json_pack("{s:I}", "updated", (json_int_t)o->now);
	const json_t *data = o->id->data;
	int rc;

	if (changes && !same_data(json_object_get(found, "data"), data) &&
	    json_object_set_new(changes, "data", object_or_empty((json_t *)data)) != 0) {
		json_decref(changes);
		changes = NULL;
	}
	if (changes && json_object_size(o->id->priv) > 0 &&
	    !json_equal(json_object_get(found, "private"), o->id->priv) &&
	    json_object_set(changes, "private", o->id->priv) != 0) {
		json_decref(changes);
		changes = NULL;
	}
	if (!changes)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->identity_update(st->h, txn, o->id->provider, o->id->uid, changes, err);
	json_decref(changes);
	return rc;
}

static int insert_identity(struct store *st, sesame_store_txn *txn, const struct op *o, const char *user_id,
			   sesame_error *err)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I}", "provider", o->id->provider,
				"provider_type", o->id->type, "id", o->id->uid, "user_id", user_id, "data",
				object_or_empty(o->id->data), "private", object_or_empty(o->id->priv), "created",
				(json_int_t)o->now, "updated", (json_int_t)o->now);
	int rc;

	if (!rec)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->identity_insert(st->h, txn, rec, err);
	json_decref(rec);
	return rc;
}

/*
 * Create a user for the identity of a first login.  Its data is the
 * identity's, which is what the merge rule gives for a single identity, so
 * the first login needs no recomputation.
 */
static int create_user(struct store *st, sesame_store_txn *txn, struct op *o, sesame_error *err)
{
	char id[SESAME_STORE_ID_LENGTH + 1];
	int rc;

	if (store_new_id(o->now, id) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no random bytes for a user ID");
	o->user = json_pack("{s:s, s:s, s:b, s:I, s:I, s:o, s:{}}", "id", id, "type",
			    o->user_type ? o->user_type : "normal", "disabled", 0,
			    "created", (json_int_t)o->now, "last_login", (json_int_t)o->now, "data",
			    o->id->data ? json_deep_copy(o->id->data) : json_object(), "custom_data");
	if (!o->user)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->user_insert(st->h, txn, o->user, err);
	if (rc == SESAME_OK)
		rc = insert_identity(st, txn, o, id, err);
	if (rc == SESAME_OK)
		o->created = true;
	return rc;
}

static int user_of_identity(struct store *st, sesame_store_txn *txn, const json_t *identity, json_t **user,
			    sesame_error *err)
{
	const char *user_id = json_string_value(json_object_get(identity, "user_id"));

	return st->desc->user_get(st->h, txn, user_id ? user_id : "", user, err);
}

static int refuse_disabled(const json_t *user, sesame_error *err)
{
	if (json_is_true(json_object_get(user, "disabled")))
		return seterr(err, SESAME_REJECTED, "disabled", "user %s is disabled",
			      json_string_value(json_object_get(user, "id")));
	return SESAME_OK;
}

/*
 * The user's data stays (see merge_unchanged()): the user record is not
 * written at all.  Its last login is the identity's "updated", written
 * anyway; the user as shown takes the newest of those (add_identities()).
 */
static int touch_user(struct op *o, sesame_error *err)
{
	if (json_object_set_new(o->user, "last_login", json_integer(o->now)) != 0)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

static int login_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	json_t *found = NULL, *others = NULL;
	bool unchanged = false;
	int rc;

	reset_outputs(o);
	rc = st->desc->identity_get(st->h, txn, o->id->provider, o->id->uid, &found, err);
	if (rc == SESAME_NOT_FOUND)
		rc = create_user(st, txn, o, err);
	else if (rc == SESAME_OK) {
		rc = user_of_identity(st, txn, found, &o->user, err);
		if (rc == SESAME_OK)
			rc = refuse_disabled(o->user, err);
		if (rc == SESAME_OK) {
			unchanged = merge_unchanged(json_object_get(o->user, "data"), json_object_get(found, "data"),
						    o->id->data);
			/* The others are read before this one is written: the
			 * merge overlays this one's fresh data last anyway. */
			if (!unchanged)
				rc = st->desc->identities_of_user(
				    st->h, txn, json_string_value(json_object_get(o->user, "id")), &others, err);
		}
		if (rc == SESAME_OK)
			rc = update_identity(st, txn, o, found, err);
	}
	json_decref(found);
	if (rc == SESAME_OK && !o->created)
		rc = unchanged ? touch_user(o, err) : refresh_user_from(st, txn, o, o->id, true, others, err);
	json_decref(others);
	if (rc == SESAME_OK && o->then)
		rc = o->then(st, txn, o->user, o->then_arg, err);
	return rc;
}

static int finish(struct op *o, int rc, json_t **user, bool *created)
{
	if (rc == SESAME_OK && user) {
		*user = o->user;
		o->user = NULL;
	}
	if (rc == SESAME_OK && created)
		*created = o->created;
	reset_outputs(o);
	return rc;
}

int accounts_login(struct store *st, const json_t *identity, int64_t now, json_t **user, bool *created,
		   sesame_error *err)
{
	return accounts_login_then(st, identity, now, NULL, NULL, user, created, err);
}

int accounts_login_identity(struct store *st, const struct identity *id, int64_t now, accounts_then_fn then,
			    void *arg, json_t **user, bool *created, sesame_error *err)
{
	struct op o = {.id = id, .now = now, .then = then, .then_arg = arg};
	int rc;

	if (user)
		*user = NULL;
	if (created)
		*created = false;
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, login_body, &o, err);
	return finish(&o, rc, user, created);
}

int accounts_login_then(struct store *st, const json_t *identity, int64_t now, accounts_then_fn then, void *arg,
			json_t **user, bool *created, sesame_error *err)
{
	struct identity id;
	int rc;

	if (user)
		*user = NULL;
	if (created)
		*created = false;
	rc = unpack_identity(identity, &id, err);
	if (rc != SESAME_OK)
		return rc;
	return accounts_login_identity(st, &id, now, then, arg, user, created, err);
}

static int server_user_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	json_t *found = NULL;
	int rc;

	reset_outputs(o);
	rc = st->desc->identity_get(st->h, txn, o->id->provider, o->id->uid, &found, err);
	json_decref(found);
	if (rc == SESAME_OK)
		return seterr(err, SESAME_CONFLICT, "linked", "a user already exists with the specified provider");
	return rc == SESAME_NOT_FOUND ? create_user(st, txn, o, err) : rc;
}

int accounts_create_server_user(struct store *st, const json_t *identity, int64_t now, json_t **user,
				sesame_error *err)
{
	struct identity id;
	struct op o = {.id = &id, .now = now, .user_type = "server"};
	int rc;

	if (user)
		*user = NULL;
	rc = unpack_identity(identity, &id, err);
	if (rc != SESAME_OK)
		return rc;
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, server_user_body, &o, err);
	return finish(&o, rc, user, NULL);
}

/*
 * May a new identity of this provider join user o->user_id?  The App
 * Services rules, by capability: an anonymous (or never-linked) provider's
 * identity never joins an existing user; a one-per-user type's joins only a
 * user without one ("try anonymously, then sign up" links email/password
 * into an anonymous user).
 */
static int check_linkable(struct store *st, sesame_store_txn *txn, const struct op *o, sesame_error *err)
{
	json_t *identities = NULL, *rec;
	size_t i;
	int rc;

	if (o->caps & SESAME_PROVIDER_CAP_ANONYMOUS)
		return seterr(err, SESAME_REJECTED, "link-type", "linking an anonymous identity is not allowed");
	if (o->caps & SESAME_PROVIDER_CAP_NO_LINK)
		return seterr(err, SESAME_REJECTED, "link-type", "linking a %s identity is not allowed", o->id->type);
	if (!(o->caps & SESAME_PROVIDER_CAP_ONE_PER_USER))
		return SESAME_OK;
	rc = st->desc->identities_of_user(st->h, txn, o->user_id, &identities, err);
	json_array_foreach(identities, i, rec)
	{
		const char *type = json_string_value(json_object_get(rec, "provider_type"));

		if (rc == SESAME_OK && type && strcmp(type, o->id->type) == 0)
			rc = seterr(err, SESAME_REJECTED, "link-type",
				    "linking a %s identity is not allowed when one is already linked", o->id->type);
	}
	json_decref(identities);
	return rc;
}

static int link_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	json_t *found = NULL;
	int rc;

	reset_outputs(o);
	rc = st->desc->user_get(st->h, txn, o->user_id, &o->user, err);
	if (rc == SESAME_NOT_FOUND)
		return seterr(err, SESAME_NOT_FOUND, "user", "no user %s", o->user_id);
	if (rc == SESAME_OK)
		rc = refuse_disabled(o->user, err);
	if (rc != SESAME_OK)
		return rc;
	rc = st->desc->identity_get(st->h, txn, o->id->provider, o->id->uid, &found, err);
	if (rc == SESAME_OK) {
		const char *owner = json_string_value(json_object_get(found, "user_id"));

		if (!owner || strcmp(owner, o->user_id) != 0)
			rc =
			    seterr(err, SESAME_CONFLICT, "linked", "a user already exists with the specified provider");
		else
			rc = update_identity(st, txn, o, found, err);
	} else if (rc == SESAME_NOT_FOUND) {
		rc = check_linkable(st, txn, o, err);
		if (rc == SESAME_OK)
			rc = insert_identity(st, txn, o, o->user_id, err);
	}
	json_decref(found);
	if (rc == SESAME_OK)
		rc = refresh_user(st, txn, o, o->id, false, err);
	return rc;
}

int accounts_link(struct store *st, const char *user_id, const json_t *identity, unsigned caps, int64_t now,
		  json_t **user, sesame_error *err)
{
	struct identity id;
	struct op o = {.id = &id, .user_id = user_id, .now = now, .caps = caps};
	int rc;

	if (user)
		*user = NULL;
	rc = check_user_id(user_id, err);
	if (rc == SESAME_OK)
		rc = unpack_identity(identity, &id, err);
	if (rc != SESAME_OK)
		return rc;
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, link_body, &o, err);
	return finish(&o, rc, user, NULL);
}

static int unlink_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	json_t *found = NULL, *identities = NULL;
	const char *owner;
	int rc;

	reset_outputs(o);
	rc = st->desc->identity_get(st->h, txn, o->provider, o->uid, &found, err);
	owner = json_string_value(json_object_get(found, "user_id"));
	if (rc == SESAME_NOT_FOUND || (rc == SESAME_OK && (!owner || strcmp(owner, o->user_id) != 0)))
		rc = seterr(err, SESAME_NOT_FOUND, "identity", "user %s has no identity %s of provider %s", o->user_id,
			    o->uid, o->provider);
	json_decref(found);
	if (rc == SESAME_OK)
		rc = st->desc->identities_of_user(st->h, txn, o->user_id, &identities, err);
	if (rc == SESAME_OK && json_array_size(identities) <= 1)
		rc = seterr(err, SESAME_REJECTED, "last-identity",
			    "the last identity of a user cannot be unlinked; delete the user instead");
	json_decref(identities);
	if (rc == SESAME_OK)
		rc = st->desc->identity_delete(st->h, txn, o->provider, o->uid, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, txn, o->user_id, &o->user, err);
	if (rc == SESAME_OK)
		rc = refresh_user(st, txn, o, NULL, false, err);
	return rc;
}

int accounts_unlink(struct store *st, const char *user_id, const char *provider, const char *uid, sesame_error *err)
{
	struct op o = {.user_id = user_id, .provider = provider, .uid = uid};
	int rc;

	rc = check_user_id(user_id, err);
	if (rc != SESAME_OK)
		return rc;
	if (!provider || !uid)
		return seterr(err, SESAME_USAGE, "usage", "accounts_unlink: NULL provider or uid");
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, unlink_body, &o, err);
	return finish(&o, rc, NULL, NULL);
}

static int delete_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	int rc;

	reset_outputs(o);
	rc = st->desc->identities_of_user(st->h, txn, o->user_id, &o->identities, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_delete(st->h, txn, o->user_id, err);
	return rc;
}

int accounts_delete(struct store *st, const char *user_id, accounts_identity_fn fn, void *data, sesame_error *err)
{
	struct op o = {.user_id = user_id};
	json_t *identity;
	size_t i;
	int rc;

	rc = check_user_id(user_id, err);
	if (rc != SESAME_OK)
		return rc;
	rc = store_transact(st, SESAME_STORE_TXN_WRITE, delete_body, &o, err);
	/*
	 * The hooks run after the commit, outside any transaction: they may
	 * make network calls (Apple token revocation) that must not hold the
	 * store's write lock, and their failure must not keep the user.
	 */
	json_array_foreach(o.identities, i, identity)
	{
		sesame_error e;

		if (rc != SESAME_OK || !fn)
			break;
		err_clear(&e);
		if (fn(data, identity, &e) != SESAME_OK)
			log_msg(st->log, SESAME_LOG_WARNING, "user %s deleted, but the hook of provider %s failed: %s",
				user_id, json_string_value(json_object_get(identity, "provider")), e.text);
	}
	return finish(&o, rc, NULL, NULL);
}

static int disable_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	json_t *changes = json_pack("{s:b}", "disabled", o->disabled);
	int rc;

	if (!changes)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->user_update(st->h, txn, o->user_id, changes, err);
	json_decref(changes);
	if (rc == SESAME_OK && o->disabled)
		rc = st->desc->sessions_delete_user(st->h, txn, o->user_id, NULL, err);
	return rc;
}

int accounts_set_disabled(struct store *st, const char *user_id, bool disabled, sesame_error *err)
{
	struct op o = {.user_id = user_id, .disabled = disabled};
	int rc;

	rc = check_user_id(user_id, err);
	if (rc != SESAME_OK)
		return rc;
	return store_transact(st, SESAME_STORE_TXN_WRITE, disable_body, &o, err);
}

int accounts_custom_data_get(struct store *st, const char *user_id, json_t **data, sesame_error *err)
{
	json_t *user = NULL;
	int rc;

	*data = NULL;
	rc = check_user_id(user_id, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, user_id, &user, err);
	if (rc == SESAME_OK) {
		*data = json_incref(json_object_get(user, "custom_data"));
		json_decref(user);
		if (!*data)
			rc = seterr(err, SESAME_INTERNAL, "store", "the store returned a user without custom_data");
	}
	return rc;
}

int accounts_custom_data_set(struct store *st, const char *user_id, const json_t *data, size_t max, sesame_error *err)
{
	json_t *changes;
	size_t size;
	int rc;

	rc = check_user_id(user_id, err);
	if (rc != SESAME_OK)
		return rc;
	if (!json_is_object(data))
		return seterr(err, SESAME_MALFORMED, "type", "custom data must be a JSON object");
	if (max == 0)
		max = ACCOUNTS_CUSTOM_DATA_MAX;
	size = util_json_length(data, JSON_COMPACT);
	if (size == SIZE_MAX)
		return seterr(err, SESAME_MALFORMED, "type", "custom data cannot be written as JSON (invalid UTF-8)");
	if (size > max)
		return seterr(err, SESAME_MALFORMED, "size",
			      "custom data is %zu bytes as JSON, more than the %zu allowed", size, max);
	changes = json_pack("{s:O}", "custom_data", (json_t *)data);
	if (!changes)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	/* One statement: atomic on its own. */
	rc = st->desc->user_update(st->h, NULL, user_id, changes, err);
	json_decref(changes);
	return rc;
}

/* The identities as shown outside the core: without "private" and "user_id". */
static json_t *shown_identities(json_t *identities)
{
	json_t *rec;
	size_t i;

	json_array_foreach(identities, i, rec)
	{
		json_object_del(rec, "private");
		json_object_del(rec, "user_id");
	}
	return identities;
}

/*
 * Attach the user's identities to `user` (in place), and its last login:
 * a login whose data changes nothing writes only its identity, whose
 * "updated" then says when the user last logged in.
 */
static int add_identities(struct store *st, sesame_store_txn *txn, json_t *user, sesame_error *err)
{
	json_t *identities = NULL, *rec;
	json_int_t last = json_integer_value(json_object_get(user, "last_login"));
	size_t i;
	int rc;

	rc = st->desc->identities_of_user(st->h, txn, json_string_value(json_object_get(user, "id")), &identities, err);
	if (rc != SESAME_OK)
		return rc;
	json_array_foreach(identities, i, rec)
	{
		json_int_t updated = json_integer_value(json_object_get(rec, "updated"));

		if (updated > last)
			last = updated;
	}
	if (json_object_set_new(user, "last_login", json_integer(last)) != 0) {
		json_decref(identities);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (json_object_set_new(user, "identities", shown_identities(identities)) != 0)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

static int user_get_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct op *o = arg;
	int rc;

	reset_outputs(o);
	rc = st->desc->user_get(st->h, txn, o->user_id, &o->user, err);
	if (rc == SESAME_OK)
		rc = add_identities(st, txn, o->user, err);
	return rc;
}

int accounts_user_get(struct store *st, const char *user_id, json_t **user, sesame_error *err)
{
	struct op o = {.user_id = user_id};
	int rc;

	*user = NULL;
	rc = check_user_id(user_id, err);
	if (rc != SESAME_OK)
		return rc;
	rc = store_transact(st, 0, user_get_body, &o, err);
	return finish(&o, rc, user, NULL);
}

struct list_op {
	const char *after;
	size_t limit;
	json_t *users;
};

static int list_body(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct list_op *l = arg;
	json_t *user;
	size_t i;
	int rc;

	json_decref(l->users);
	l->users = NULL;
	rc = st->desc->users_list(st->h, txn, l->after, l->limit, &l->users, err);
	json_array_foreach(l->users, i, user)
	{
		if (rc != SESAME_OK)
			break;
		rc = add_identities(st, txn, user, err);
	}
	return rc;
}

int accounts_users_list(struct store *st, const char *after, size_t limit, json_t **users, sesame_error *err)
{
	struct list_op l = {.after = after, .limit = limit ? limit : LIST_DEFAULT};
	int rc;

	*users = NULL;
	if (l.limit > LIST_MAX)
		return seterr(err, SESAME_MALFORMED, "limit", "at most %d users per page", LIST_MAX);
	if (after && after[0] && !store_valid_id(after))
		return seterr(err, SESAME_MALFORMED, "id", "the cursor must be a user ID");
	rc = store_transact(st, 0, list_body, &l, err);
	if (rc == SESAME_OK)
		*users = l.users;
	else
		json_decref(l.users);
	return rc;
}
