/* SPDX-License-Identifier: MIT */
/*
 * tests/store/test-store-conformance.c — the store conformance suite: the
 * same cases, through the store ABI only (loaded by core/store.c as the
 * core loads it), against any store: every operation, its answers and
 * error statuses, the constraints (unique keys, references, one current
 * signing key), transactions, listing order, JSON fidelity, and
 * concurrency between two handles on one database (as two sesamed
 * processes have), where exactly one user per identity and no lost update
 * must come out.
 *
 * The store is chosen by SESAME_TEST_STORE: "sqlite" (default; a fresh
 * database file per case) or "postgres" (a fresh database per case on the
 * cluster tests/store/postgres-suite.sh starts).
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "pgtest.h"
#include "records.h"
#include "testutil.h"

#define USER_A "5f0000000000000000000001"
#define USER_B "5f0000000000000000000002"
#define USER_C "5f0000000000000000000003"
#define SESS_1 "600000000000000000000001"
#define SESS_2 "600000000000000000000002"
#define SESS_3 "600000000000000000000003"
#define HASH_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HASH_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define HASH_3 "3333333333333333333333333333333333333333333333333333333333333333"

static struct logger quiet = {.fn = NULL, .data = NULL, .max_level = SESAME_LOG_ERR};
static bool use_postgres;

struct fx {
	char *dir; /* sqlite: the database's directory */
	char *db;  /* postgres: the database's name */
	json_t *conf;
	struct store st;
	const struct sesame_store *d;
	sesame_store_handle *h;
	sesame_error err;
};

/* ---- the store under test --------------------------------------------------- */

static void open_store(struct fx *f, struct store *st)
{
	sesame_error err;

	err_clear(&err);
	if (store_open(st, tu_env("SESAME_TEST_STORES"), f->conf, &quiet, &err) != SESAME_OK)
		fail_msg("store_open: %s", err.text);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (use_postgres) {
		char *conninfo;

		f->db = pg_create_database("conf", NULL);
		conninfo = pg_conninfo(f->db);
		f->conf = json_pack("{s:s, s:s}", "type", "postgres", "conninfo", conninfo);
		free(conninfo);
	} else {
		char *path;

		f->dir = tu_tmpdir("conformance");
		path = tu_path(f->dir, "sesame.db");
		f->conf = json_pack("{s:s, s:s}", "type", "sqlite", "path", path);
		free(path);
	}
	assert_non_null(f->conf);
	open_store(f, &f->st);
	f->d = f->st.desc;
	f->h = f->st.h;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(&f->st);
	if (f->db)
		pg_drop_database(f->db);
	if (f->dir)
		tu_rmrf(f->dir);
	json_decref(f->conf);
	free(f->db);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- records ---------------------------------------------------------- */

static json_t *key_rec(const char *kid, const char *pem, json_int_t created, json_int_t retired)
{
	json_t *k = json_pack("{s:s, s:s, s:I, s:I}", "kid", kid, "pem", pem, "created", created, "retired", retired);

	assert_non_null(k);
	return k;
}

static void insert_user(struct fx *f, const char *id)
{
	json_t *u = rec_user(id);

	if (f->d->user_insert(f->h, NULL, u, &f->err) != SESAME_OK)
		fail_msg("user_insert %s: %s", id, f->err.text);
	json_decref(u);
}

static void insert_identity(struct fx *f, const char *provider, const char *uid, const char *user, json_int_t updated)
{
	json_t *i = rec_identity(provider, uid, user, updated);

	assert_int_equal(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_OK);
	json_decref(i);
}

static void insert_session(struct fx *f, const char *id, const char *user, const char *hash, json_int_t expires)
{
	json_t *s = rec_session(id, user, hash, expires);

	assert_int_equal(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_OK);
	json_decref(s);
}

static void expect(int got, int status, const struct fx *f, const char *reason)
{
	if (got != status || (reason && strcmp(f->err.reason, reason) != 0))
		fail_msg("expected %s/%s, got %s/%s: %s", sesame_status_name(status), reason ? reason : "*",
			 sesame_status_name(got), f->err.reason, f->err.text);
}

/* ---- counting through the ABI ------------------------------------------------ */

static size_t count_users(struct fx *f)
{
	json_t *list = NULL;
	size_t n;

	assert_int_equal(f->d->users_list(f->h, NULL, NULL, 1000, &list, &f->err), SESAME_OK);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

static size_t count_sessions(struct fx *f)
{
	json_t *list = NULL;
	size_t n;

	assert_int_equal(f->d->sessions_list(f->h, NULL, NULL, 1000, &list, &f->err), SESAME_OK);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

static size_t count_entries(struct fx *f)
{
	json_t *list = NULL;
	size_t n;

	assert_int_equal(f->d->kv_list(f->h, NULL, NULL, NULL, 1000, &list, &f->err), SESAME_OK);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

static size_t count_identities(struct fx *f, const char *user)
{
	json_t *list = NULL;
	size_t n;

	assert_int_equal(f->d->identities_of_user(f->h, NULL, user, &list, &f->err), SESAME_OK);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

static const char *id_at(const json_t *list, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(list, i), key));
}

/* ---- the descriptor ------------------------------------------------------------- */

static void test_descriptor_is_abi_1_1(void **state)
{
	struct fx *f = *state;

	assert_int_equal(SESAME_ABI_MAJOR_OF(f->d->abi_version), 1);
	assert_true(SESAME_ABI_MINOR_OF(f->d->abi_version) >= 1);
	assert_true(store_has_listing(&f->st));
	assert_true(store_has_keys(&f->st));
	assert_string_equal(f->d->type, use_postgres ? "postgres" : "sqlite");
}

static void test_migrations_are_idempotent(void **state)
{
	struct fx *f = *state;
	int i;

	insert_user(f, USER_A);
	for (i = 0; i < 3; i++) {
		store_close(&f->st);
		open_store(f, &f->st);
	}
	f->d = f->st.desc;
	f->h = f->st.h;
	assert_int_equal(count_users(f), 1);
}

/* ---- users ------------------------------------------------------------ */

static void test_users_insert_get_update_list_delete(void **state)
{
	struct fx *f = *state;
	json_t *u = NULL, *changes, *list = NULL;

	insert_user(f, USER_B);
	insert_user(f, USER_A);
	insert_user(f, USER_C);
	assert_int_equal(f->d->user_get(f->h, NULL, USER_A, &u, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(u, "type")), "normal");
	assert_false(json_is_true(json_object_get(u, "disabled")));
	assert_int_equal(json_integer_value(json_object_get(u, "created")), 1000);
	assert_string_equal(json_string_value(json_object_get(json_object_get(u, "data"), "name")), "n");
	assert_true(json_is_object(json_object_get(u, "custom_data")));
	json_decref(u);

	changes =
	    json_pack("{s:b, s:I, s:{s:i}}", "disabled", 1, "last_login", (json_int_t)2000, "custom_data", "x", 1);
	assert_int_equal(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_OK);
	json_decref(changes);
	assert_int_equal(f->d->user_get(f->h, NULL, USER_A, &u, &f->err), SESAME_OK);
	assert_true(json_is_true(json_object_get(u, "disabled")));
	assert_int_equal(json_integer_value(json_object_get(u, "last_login")), 2000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "custom_data"), "x")), 1);
	/* Members not in the changes are kept. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(u, "data"), "name")), "n");
	json_decref(u);
	changes = json_pack("{s:b}", "disabled", 0);
	assert_int_equal(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_OK);
	json_decref(changes);
	assert_int_equal(f->d->user_get(f->h, NULL, USER_A, &u, &f->err), SESAME_OK);
	assert_false(json_is_true(json_object_get(u, "disabled")));
	json_decref(u);

	assert_int_equal(f->d->users_list(f->h, NULL, NULL, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "id"), USER_A);
	assert_string_equal(id_at(list, 1, "id"), USER_B);
	json_decref(list);
	assert_int_equal(f->d->users_list(f->h, NULL, USER_B, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(id_at(list, 0, "id"), USER_C);
	json_decref(list);
	assert_int_equal(f->d->users_list(f->h, NULL, "", 1000, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	assert_int_equal(f->d->users_list(f->h, NULL, USER_C, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	expect(f->d->users_list(f->h, NULL, NULL, 0, &list, &f->err), SESAME_USAGE, f, "usage");
	expect(f->d->users_list(f->h, NULL, NULL, 1001, &list, &f->err), SESAME_USAGE, f, "usage");

	assert_int_equal(f->d->user_delete(f->h, NULL, USER_A, &f->err), SESAME_OK);
	expect(f->d->user_get(f->h, NULL, USER_A, &u, &f->err), SESAME_NOT_FOUND, f, "user");
	assert_null(u);
	expect(f->d->user_delete(f->h, NULL, USER_A, &f->err), SESAME_NOT_FOUND, f, "user");
	changes = json_pack("{s:b}", "disabled", 0);
	expect(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_NOT_FOUND, f, "user");
	json_decref(changes);
}

static void test_users_refuse_bad_records(void **state)
{
	struct fx *f = *state;
	json_t *u = rec_user(USER_A), *changes;

	insert_user(f, USER_A);
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_CONFLICT, f, "exists");
	json_object_set_new(u, "id", json_string("5F0000000000000000000009"));
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(u, "id", json_string("5f00000000000000000000'9"));
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(u, "id", json_string(USER_B));
	json_object_set_new(u, "type", json_string("system"));
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(u, "type", json_string("server"));
	json_object_set_new(u, "disabled", json_string("no"));
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(u, "disabled", json_false());
	json_object_del(u, "custom_data");
	expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_MALFORMED, f, "record");
	json_decref(u);

	changes = json_pack("{s:s}", "id", USER_B);
	expect(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_USAGE, f, "usage");
	json_decref(changes);
	changes = json_pack("{s:[]}", "data");
	expect(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_MALFORMED, f, "record");
	json_decref(changes);
	changes = json_pack("{s:s}", "last_login", "yesterday");
	expect(f->d->user_update(f->h, NULL, USER_A, changes, &f->err), SESAME_MALFORMED, f, "record");
	json_decref(changes);
	assert_int_equal(count_users(f), 1);
}

/* Whatever JSON a user's data holds comes back equal: unicode, escapes,
 * the NUL character, large integers, reals, nesting, member order. */
static void test_json_round_trips_exactly(void **state)
{
	struct fx *f = *state;
	json_t *u = rec_user(USER_A), *got = NULL, *data, *v = NULL;

	data = json_loads(
	    "{\"z\": 1, \"a\": \"\\u00e9\\u4e2d\\ud83d\\ude00 \\\"q\\\" \\\\ '; DROP TABLE users; --\","
	    " \"nul\": \"a\\u0000b\", \"big\": 9007199254740993, \"neg\": -42, \"real\": 1.5,"
	    " \"nested\": {\"list\": [null, true, false, [], {}]}}",
	    JSON_ALLOW_NUL, NULL);
	assert_non_null(data);
	json_object_set(u, "data", data);
	json_object_set(u, "custom_data", data);
	assert_int_equal(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_OK);
	assert_int_equal(f->d->user_get(f->h, NULL, USER_A, &got, &f->err), SESAME_OK);
	assert_true(json_equal(json_object_get(got, "data"), data));
	assert_true(json_equal(json_object_get(got, "custom_data"), data));
	assert_int_equal(json_string_length(json_object_get(json_object_get(got, "data"), "nul")), 3);
	json_decref(got);
	/* A key/value entry may be any JSON value. */
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "k", data, NULL, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_get(f->h, NULL, "p", "k", 0, &v, &f->err), SESAME_OK);
	assert_true(json_equal(v, data));
	json_decref(v);
	json_decref(data);
	data = json_string("just a string");
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "s", data, NULL, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_get(f->h, NULL, "p", "s", 0, &v, &f->err), SESAME_OK);
	assert_true(json_equal(v, data));
	json_decref(v);
	json_decref(data);
	json_decref(u);
}

/* ---- identities ------------------------------------------------------- */

static void test_identities_unique_per_instance_and_uid(void **state)
{
	struct fx *f = *state;
	json_t *i, *got = NULL, *changes, *list = NULL;

	insert_user(f, USER_A);
	insert_user(f, USER_B);
	insert_identity(f, "google", "u1", USER_A, 50);
	/* The same uid at another instance is another identity. */
	insert_identity(f, "apple", "u1", USER_A, 20);
	i = rec_identity("google", "u1", USER_B, 60);
	expect(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_CONFLICT, f, "exists");
	json_decref(i);
	/* Uids are compared exactly: case and a trailing space matter. */
	insert_identity(f, "google", "U1", USER_B, 60);
	insert_identity(f, "google", "u1 ", USER_B, 60);
	i = rec_identity("google", "u2", "5f00000000000000000000ff", 60);
	expect(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_NOT_FOUND, f, "user");
	json_decref(i);
	i = rec_identity("google", "u2", USER_A, 60);
	json_object_set_new(i, "data", json_array());
	expect(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(i, "data", json_object());
	json_object_set_new(i, "id", json_string(""));
	expect(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_MALFORMED, f, "record");
	json_decref(i);

	assert_int_equal(f->d->identity_get(f->h, NULL, "google", "u1", &got, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(got, "user_id")), USER_A);
	assert_string_equal(json_string_value(json_object_get(got, "provider_type")), "custom-token");
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "private"), "p")), "secret");
	assert_int_equal(json_integer_value(json_object_get(got, "created")), 10);
	json_decref(got);
	expect(f->d->identity_get(f->h, NULL, "google", "nobody", &got, &f->err), SESAME_NOT_FOUND, f, "identity");

	changes = json_pack("{s:{s:s}, s:I}", "data", "email", "e@x", "updated", (json_int_t)70);
	assert_int_equal(f->d->identity_update(f->h, NULL, "google", "u1", changes, &f->err), SESAME_OK);
	expect(f->d->identity_update(f->h, NULL, "google", "nobody", changes, &f->err), SESAME_NOT_FOUND, f,
	       "identity");
	json_decref(changes);
	changes = json_pack("{s:s}", "user_id", USER_B);
	expect(f->d->identity_update(f->h, NULL, "google", "u1", changes, &f->err), SESAME_USAGE, f, "usage");
	json_decref(changes);
	assert_int_equal(f->d->identity_get(f->h, NULL, "google", "u1", &got, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "email")), "e@x");
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "private"), "p")), "secret");
	assert_int_equal(json_integer_value(json_object_get(got, "updated")), 70);
	json_decref(got);

	/* Oldest "updated" first. */
	assert_int_equal(f->d->identities_of_user(f->h, NULL, USER_A, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "provider"), "apple");
	assert_string_equal(id_at(list, 1, "provider"), "google");
	json_decref(list);
	/* Ties: oldest created, then provider, then id, bytewise ("U1" < "u1 "). */
	assert_int_equal(f->d->identities_of_user(f->h, NULL, USER_B, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "id"), "U1");
	assert_string_equal(id_at(list, 1, "id"), "u1 ");
	json_decref(list);
	assert_int_equal(count_identities(f, USER_C), 0);

	assert_int_equal(f->d->identity_delete(f->h, NULL, "apple", "u1", &f->err), SESAME_OK);
	expect(f->d->identity_delete(f->h, NULL, "apple", "u1", &f->err), SESAME_NOT_FOUND, f, "identity");
	assert_int_equal(count_identities(f, USER_A), 1);
}

/* ---- sessions --------------------------------------------------------- */

static void test_sessions_by_hash_touch_count_delete(void **state)
{
	struct fx *f = *state;
	json_t *s = NULL;
	uint64_t n = 99;

	insert_user(f, USER_A);
	insert_user(f, USER_B);
	insert_session(f, SESS_1, USER_A, HASH_1, 1000);
	insert_session(f, SESS_2, USER_A, HASH_2, 500);
	/* A taken id is refused; a taken refresh_hash need not be (store.h). */
	s = rec_session(SESS_1, USER_A, HASH_3, 1000);
	expect(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_CONFLICT, f, "exists");
	json_object_set_new(s, "id", json_string(SESS_3));
	json_object_set_new(s, "refresh_hash", json_string("not-hex"));
	expect(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(s, "refresh_hash",
			    json_string("AAAA333333333333333333333333333333333333333333333333333333333333"));
	expect(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(s, "refresh_hash", json_string(HASH_3));
	json_object_set_new(s, "user_id", json_string("5f00000000000000000000ff"));
	expect(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_NOT_FOUND, f, "user");
	json_decref(s);

	assert_int_equal(f->d->session_get_by_hash(f->h, NULL, HASH_2, &s, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(s, "id")), SESS_2);
	assert_string_equal(json_string_value(json_object_get(s, "refresh_hash")), HASH_2);
	assert_string_equal(json_string_value(json_object_get(s, "user_id")), USER_A);
	assert_string_equal(json_string_value(json_object_get(s, "device_id")), "000000000000000000000000");
	assert_null(json_object_get(s, "provider"));
	json_decref(s);
	expect(f->d->session_get_by_hash(f->h, NULL, HASH_3, &s, &f->err), SESAME_NOT_FOUND, f, "session");
	expect(f->d->session_get_by_hash(f->h, NULL, "'; --", &s, &f->err), SESAME_MALFORMED, f, "record");

	assert_int_equal(f->d->sessions_count(f->h, NULL, USER_A, 600, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->d->sessions_count(f->h, NULL, NULL, 100, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 2);
	assert_int_equal(f->d->sessions_count(f->h, NULL, USER_B, 100, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->d->session_touch(f->h, NULL, SESS_2, 550, 2000, &f->err), SESAME_OK);
	assert_int_equal(f->d->session_get(f->h, NULL, SESS_2, &s, &f->err), SESAME_OK);
	assert_int_equal(json_integer_value(json_object_get(s, "last_used")), 550);
	assert_int_equal(json_integer_value(json_object_get(s, "expires")), 2000);
	json_decref(s);
	assert_int_equal(f->d->session_touch(f->h, NULL, SESS_2, 560, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->session_get(f->h, NULL, SESS_2, &s, &f->err), SESAME_OK);
	assert_int_equal(json_integer_value(json_object_get(s, "expires")), 2000);
	assert_int_equal(json_integer_value(json_object_get(s, "last_used")), 560);
	json_decref(s);
	assert_int_equal(f->d->sessions_count(f->h, NULL, USER_A, 600, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 2);

	assert_int_equal(f->d->session_delete(f->h, NULL, SESS_1, &f->err), SESAME_OK);
	expect(f->d->session_delete(f->h, NULL, SESS_1, &f->err), SESAME_NOT_FOUND, f, "session");
	expect(f->d->session_touch(f->h, NULL, SESS_1, 1, 0, &f->err), SESAME_NOT_FOUND, f, "session");
	expect(f->d->session_get(f->h, NULL, SESS_1, &s, &f->err), SESAME_NOT_FOUND, f, "session");
	insert_session(f, SESS_1, USER_A, HASH_1, 1000);
	insert_session(f, SESS_3, USER_B, HASH_3, 1000);
	assert_int_equal(f->d->sessions_delete_user(f->h, NULL, USER_A, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 2);
	assert_int_equal(f->d->sessions_delete_user(f->h, NULL, USER_A, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 0);
	assert_int_equal(count_sessions(f), 1);
}

static void test_deleting_an_identity_ends_its_sessions(void **state)
{
	struct fx *f = *state;
	json_t *s1 = rec_session(SESS_1, USER_A, HASH_1, 1000), *s2 = rec_session(SESS_2, USER_A, HASH_2, 1000);
	json_t *got = NULL;

	insert_user(f, USER_A);
	insert_identity(f, "google", "g", USER_A, 1);
	insert_identity(f, "apple", "a", USER_A, 1);
	json_object_set_new(s1, "provider", json_string("google"));
	expect(f->d->session_insert(f->h, NULL, s1, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(s1, "provider_uid", json_string("g"));
	assert_int_equal(f->d->session_insert(f->h, NULL, s1, &f->err), SESAME_OK);
	json_object_set_new(s2, "provider", json_string("apple"));
	json_object_set_new(s2, "provider_uid", json_string("a"));
	assert_int_equal(f->d->session_insert(f->h, NULL, s2, &f->err), SESAME_OK);
	assert_int_equal(f->d->session_get(f->h, NULL, SESS_1, &got, &f->err), SESAME_OK);
	assert_true(json_equal(got, s1));
	json_decref(got);

	assert_int_equal(f->d->identity_delete(f->h, NULL, "google", "g", &f->err), SESAME_OK);
	expect(f->d->session_get(f->h, NULL, SESS_1, &got, &f->err), SESAME_NOT_FOUND, f, "session");
	assert_int_equal(f->d->session_get(f->h, NULL, SESS_2, &got, &f->err), SESAME_OK);
	json_decref(got);
	json_decref(s1);
	json_decref(s2);
}

/* ---- provider key/value data ---------------------------------------------- */

static void test_kv_put_get_create_expiry_purge(void **state)
{
	struct fx *f = *state;
	json_t *v = json_pack("{s:s}", "hash", "$scrypt$..."), *got = NULL, *other = json_integer(7);
	uint64_t n;

	insert_user(f, USER_A);
	assert_int_equal(
	    f->d->kv_put(f->h, NULL, "userpass", "user:a", v, USER_A, 0, SESAME_STORE_KV_CREATE, 100, &f->err),
	    SESAME_OK);
	expect(f->d->kv_put(f->h, NULL, "userpass", "user:a", other, NULL, 0, SESAME_STORE_KV_CREATE, 100, &f->err),
	       SESAME_CONFLICT, f, "exists");
	assert_int_equal(f->d->kv_get(f->h, NULL, "userpass", "user:a", 100, &got, &f->err), SESAME_OK);
	assert_true(json_equal(got, v));
	json_decref(got);
	/* Namespaces are per instance. */
	expect(f->d->kv_get(f->h, NULL, "other", "user:a", 100, &got, &f->err), SESAME_NOT_FOUND, f, "key");
	/* Without KV_CREATE the entry is replaced; any JSON value is accepted. */
	assert_int_equal(f->d->kv_put(f->h, NULL, "userpass", "user:a", other, NULL, 0, 0, 100, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_get(f->h, NULL, "userpass", "user:a", 100, &got, &f->err), SESAME_OK);
	assert_int_equal(json_integer_value(got), 7);
	json_decref(got);

	/* An expired entry is invisible and may be created again. */
	assert_int_equal(f->d->kv_put(f->h, NULL, "userpass", "token:t", v, NULL, 150, 0, 100, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_get(f->h, NULL, "userpass", "token:t", 149, &got, &f->err), SESAME_OK);
	json_decref(got);
	expect(f->d->kv_get(f->h, NULL, "userpass", "token:t", 150, &got, &f->err), SESAME_NOT_FOUND, f, "key");
	assert_int_equal(
	    f->d->kv_put(f->h, NULL, "userpass", "token:t", other, NULL, 300, SESAME_STORE_KV_CREATE, 200, &f->err),
	    SESAME_OK);
	assert_int_equal(f->d->kv_purge(f->h, NULL, 299, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->d->kv_purge(f->h, NULL, 300, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->d->kv_delete(f->h, NULL, "userpass", "user:a", &f->err), SESAME_OK);
	expect(f->d->kv_delete(f->h, NULL, "userpass", "user:a", &f->err), SESAME_NOT_FOUND, f, "key");
	expect(f->d->kv_put(f->h, NULL, "userpass", "k", v, USER_B, 0, 0, 100, &f->err), SESAME_NOT_FOUND, f, "user");
	expect(f->d->kv_put(f->h, NULL, "userpass", "k", v, "not-an-id", 0, 0, 100, &f->err), SESAME_MALFORMED, f,
	       "record");
	assert_int_equal(f->d->kv_put(f->h, NULL, "", "k", v, NULL, 0, 0, 100, &f->err), SESAME_USAGE);
	assert_int_equal(f->d->kv_put(f->h, NULL, "userpass", "k", NULL, NULL, 0, 0, 100, &f->err), SESAME_USAGE);
	assert_int_equal(count_entries(f), 0);
	json_decref(v);
	json_decref(other);
}

/* ---- cascading deletion -------------------------------------------------------- */

static void test_user_delete_removes_everything_of_the_user(void **state)
{
	struct fx *f = *state;
	json_t *v = json_true(), *list = NULL;

	insert_user(f, USER_A);
	insert_user(f, USER_B);
	insert_identity(f, "google", "a", USER_A, 1);
	insert_identity(f, "apple", "a", USER_A, 1);
	insert_identity(f, "google", "b", USER_B, 1);
	insert_session(f, SESS_1, USER_A, HASH_1, 1000);
	insert_session(f, SESS_2, USER_B, HASH_2, 1000);
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "a", v, USER_A, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "b", v, USER_B, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "global", v, NULL, 0, 0, 0, &f->err), SESAME_OK);
	json_decref(v);

	assert_int_equal(f->d->user_delete(f->h, NULL, USER_A, &f->err), SESAME_OK);
	assert_int_equal(count_users(f), 1);
	assert_int_equal(count_identities(f, USER_A), 0);
	assert_int_equal(count_identities(f, USER_B), 1);
	assert_int_equal(count_sessions(f), 1);
	expect(f->d->identity_get(f->h, NULL, "google", "a", &list, &f->err), SESAME_NOT_FOUND, f, "identity");
	assert_int_equal(f->d->kv_list(f->h, NULL, NULL, NULL, 10, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "key"), "b");
	assert_string_equal(id_at(list, 0, "user_id"), USER_B);
	assert_string_equal(id_at(list, 1, "key"), "global");
	assert_null(json_object_get(json_array_get(list, 1), "user_id"));
	json_decref(list);
}

/* ---- listing (ABI 1.1) -------------------------------------------------------- */

static void test_sessions_and_entries_list_in_pages(void **state)
{
	struct fx *f = *state;
	json_t *list = NULL, *v = json_integer(1), *s;
	uint64_t n;

	insert_user(f, USER_A);
	insert_session(f, SESS_2, USER_A, HASH_2, 10);
	insert_session(f, SESS_1, USER_A, HASH_1, 1000);
	s = rec_session(SESS_3, USER_A, HASH_3, 1000);
	json_object_set_new(s, "provider", json_string("google"));
	json_object_set_new(s, "provider_uid", json_string("g"));
	assert_int_equal(f->d->session_insert(f->h, NULL, s, &f->err), SESAME_OK);
	/* Expired sessions are listed too: the caller decides. */
	assert_int_equal(f->d->sessions_list(f->h, NULL, NULL, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "id"), SESS_1);
	assert_string_equal(id_at(list, 1, "id"), SESS_2);
	assert_string_equal(id_at(list, 1, "refresh_hash"), HASH_2);
	json_decref(list);
	assert_int_equal(f->d->sessions_list(f->h, NULL, SESS_2, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_equal(json_array_get(list, 0), s));
	json_decref(list);
	assert_int_equal(f->d->sessions_list(f->h, NULL, SESS_3, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	expect(f->d->sessions_list(f->h, NULL, NULL, 0, &list, &f->err), SESAME_USAGE, f, "usage");
	json_decref(s);

	/* Entries sort by provider, then key, bytewise ("B" < "a" < "b"). */
	assert_int_equal(f->d->kv_put(f->h, NULL, "q", "b", v, NULL, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_put(f->h, NULL, "q", "a", v, USER_A, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_put(f->h, NULL, "q", "B", v, NULL, 0, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "z", v, NULL, 77, 0, 0, &f->err), SESAME_OK);
	assert_int_equal(f->d->kv_list(f->h, NULL, NULL, NULL, 2, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "provider"), "p");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "expires")), 77);
	assert_string_equal(id_at(list, 1, "key"), "B");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "expires")), 0);
	json_decref(list);
	assert_int_equal(f->d->kv_list(f->h, NULL, "q", "B", 10, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(id_at(list, 0, "key"), "a");
	assert_string_equal(id_at(list, 0, "user_id"), USER_A);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "value")), 1);
	assert_string_equal(id_at(list, 1, "key"), "b");
	json_decref(list);
	assert_int_equal(f->d->kv_list(f->h, NULL, "q", "b", 10, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(f->d->kv_list(f->h, NULL, "q", NULL, 10, &list, &f->err), SESAME_USAGE);
	/* The listing includes what the purge would delete. */
	assert_int_equal(f->d->kv_purge(f->h, NULL, 77, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 1);
	json_decref(v);
}

/* ---- signing keys (ABI 1.1) ---------------------------------------------------- */

static uint64_t generation(struct fx *f)
{
	uint64_t g = 0;

	assert_int_equal(f->d->keys_generation(f->h, NULL, &g, &f->err), SESAME_OK);
	return g;
}

static void test_signing_keys(void **state)
{
	struct fx *f = *state;
	json_t *k, *list = NULL;
	uint64_t g, n = 9;

	assert_int_equal(generation(f), 0);
	assert_int_equal(f->d->keys_list(f->h, NULL, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	k = key_rec("old", "-----BEGIN PUBLIC KEY-----old", 1, 100);
	assert_int_equal(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_OK);
	json_decref(k);
	k = key_rec("cur", "-----BEGIN PRIVATE KEY-----cur", 2, 0);
	assert_int_equal(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_OK);
	json_decref(k);
	k = key_rec("older", "-----BEGIN PUBLIC KEY-----older", 0, 50);
	assert_int_equal(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_OK);
	json_decref(k);
	g = generation(f);
	assert_int_equal(g, 3);
	/* One current key at most, and a kid once. */
	k = key_rec("second", "-----BEGIN PRIVATE KEY-----2", 3, 0);
	expect(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_CONFLICT, f, "exists");
	json_decref(k);
	k = key_rec("old", "x", 3, 7);
	expect(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_CONFLICT, f, "exists");
	json_decref(k);
	assert_int_equal(generation(f), g);
	/* Bad records change nothing. */
	k = key_rec("bad kid!", "x", 3, 7);
	expect(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(k, "kid", json_string("ok"));
	json_object_set_new(k, "retired", json_integer(-1));
	expect(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_MALFORMED, f, "record");
	json_object_set_new(k, "retired", json_integer(7));
	json_object_set_new(k, "pem", json_string(""));
	expect(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_MALFORMED, f, "record");
	json_decref(k);

	/* The current key first, then the most recently retired. */
	assert_int_equal(f->d->keys_list(f->h, NULL, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(id_at(list, 0, "kid"), "cur");
	assert_string_equal(id_at(list, 0, "pem"), "-----BEGIN PRIVATE KEY-----cur");
	assert_string_equal(id_at(list, 1, "kid"), "old");
	assert_string_equal(id_at(list, 2, "kid"), "older");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 2), "retired")), 50);
	json_decref(list);

	/* Only the current key retires; its private key goes. */
	expect(f->d->key_retire(f->h, NULL, "old", "pub", 200, &f->err), SESAME_NOT_FOUND, f, "key");
	expect(f->d->key_retire(f->h, NULL, "cur", "pub", 0, &f->err), SESAME_MALFORMED, f, "record");
	assert_int_equal(generation(f), g);
	assert_int_equal(f->d->key_retire(f->h, NULL, "cur", "-----BEGIN PUBLIC KEY-----cur", 200, &f->err), SESAME_OK);
	assert_true(generation(f) > g);
	g = generation(f);
	assert_int_equal(f->d->keys_list(f->h, NULL, &list, &f->err), SESAME_OK);
	assert_string_equal(id_at(list, 0, "kid"), "cur");
	assert_string_equal(id_at(list, 0, "pem"), "-----BEGIN PUBLIC KEY-----cur");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "retired")), 200);
	json_decref(list);
	/* Now a new current key fits. */
	k = key_rec("next", "-----BEGIN PRIVATE KEY-----next", 200, 0);
	assert_int_equal(f->d->key_insert(f->h, NULL, k, &f->err), SESAME_OK);
	json_decref(k);
	g = generation(f);

	/* Pruning: retired keys up to `before`, never the current one; nothing
	 * pruned moves nothing. */
	assert_int_equal(f->d->keys_prune(f->h, NULL, 49, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 0);
	assert_int_equal(generation(f), g);
	assert_int_equal(f->d->keys_prune(f->h, NULL, 100, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 2);
	assert_true(generation(f) > g);
	assert_int_equal(f->d->keys_prune(f->h, NULL, 1000000, &n, &f->err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->d->keys_list(f->h, NULL, &list, &f->err), SESAME_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(id_at(list, 0, "kid"), "next");
	json_decref(list);
}

/* ---- transactions ---------------------------------------------------------- */

static void test_transaction_rollback_and_commit(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t = NULL;
	json_t *u = rec_user(USER_A), *got = NULL;

	assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t, &f->err), SESAME_OK);
	assert_int_equal(f->d->user_insert(f->h, t, u, &f->err), SESAME_OK);
	assert_int_equal(f->d->user_get(f->h, t, USER_A, &got, &f->err), SESAME_OK);
	json_decref(got);
	f->d->rollback(t);
	assert_int_equal(count_users(f), 0);

	assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t, &f->err), SESAME_OK);
	/* A lookup that finds nothing leaves the transaction usable. */
	expect(f->d->user_get(f->h, t, USER_B, &got, &f->err), SESAME_NOT_FOUND, f, "user");
	assert_int_equal(f->d->user_insert(f->h, t, u, &f->err), SESAME_OK);
	assert_int_equal(f->d->commit(t, &f->err), SESAME_OK);
	assert_int_equal(count_users(f), 1);

	/* After a failure, the transaction can only be rolled back. */
	assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t, &f->err), SESAME_OK);
	json_object_set_new(u, "id", json_string(USER_B));
	assert_int_equal(f->d->user_insert(f->h, t, u, &f->err), SESAME_OK);
	json_object_set_new(u, "id", json_string(USER_A));
	expect(f->d->user_insert(f->h, t, u, &f->err), SESAME_CONFLICT, f, "exists");
	expect(f->d->user_get(f->h, t, USER_A, &got, &f->err), SESAME_USAGE, f, "usage");
	expect(f->d->commit(t, &f->err), SESAME_USAGE, f, "usage");
	assert_int_equal(count_users(f), 1);

	/* A read transaction refuses writes, and sees one snapshot. */
	assert_int_equal(f->d->begin(f->h, 0, &t, &f->err), SESAME_OK);
	json_object_set_new(u, "id", json_string(USER_C));
	expect(f->d->user_insert(f->h, t, u, &f->err), SESAME_USAGE, f, "usage");
	f->d->rollback(t);
	assert_int_equal(count_users(f), 1);
	f->d->rollback(NULL);
	json_decref(u);
}

/* A handle is usable again after every kind of failure: nothing stays held. */
static void test_failures_leave_the_handle_usable(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t = NULL;
	json_t *u = rec_user(USER_A);
	int i;

	insert_user(f, USER_A);
	for (i = 0; i < 20; i++) {
		expect(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_CONFLICT, f, "exists");
		assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t, &f->err), SESAME_OK);
		expect(f->d->user_insert(f->h, t, u, &f->err), SESAME_CONFLICT, f, "exists");
		f->d->rollback(t);
		assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t, &f->err), SESAME_OK);
		expect(f->d->user_insert(f->h, t, u, &f->err), SESAME_CONFLICT, f, "exists");
		expect(f->d->commit(t, &f->err), SESAME_USAGE, f, "usage");
	}
	assert_int_equal(count_users(f), 1);
	json_decref(u);
}

/* ---- concurrency between two handles (two processes) --------------------------- */

struct racer {
	struct fx *f;
	struct store *st;
	pthread_barrier_t *go;
	int n;
	int rc;
	sesame_error err;
	char user[SESAME_STORE_ID_LENGTH + 1];
};

/* The login merge's core: find the identity, else create its user and it. */
static int first_login_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct racer *r = arg;
	json_t *got = NULL, *u, *i;
	char id[SESAME_STORE_ID_LENGTH + 1];
	int rc = st->desc->identity_get(st->h, txn, "google", "same", &got, err);

	if (rc == SESAME_OK) {
		snprintf(r->user, sizeof(r->user), "%s", json_string_value(json_object_get(got, "user_id")));
		json_decref(got);
		return SESAME_OK;
	}
	if (rc != SESAME_NOT_FOUND)
		return rc;
	assert_int_equal(store_new_id(1000, id), SESAME_OK);
	u = rec_user(id);
	i = rec_identity("google", "same", id, 1);
	rc = st->desc->user_insert(st->h, txn, u, err);
	if (rc == SESAME_OK)
		rc = st->desc->identity_insert(st->h, txn, i, err);
	if (rc == SESAME_OK)
		snprintf(r->user, sizeof(r->user), "%s", id);
	json_decref(u);
	json_decref(i);
	return rc;
}

static void *race_first_login(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = store_transact(r->st, SESAME_STORE_TXN_WRITE, first_login_txn, r, &r->err);
	return NULL;
}

/* Many first logins of one identity at once, through two handles: one
 * user, and every login finds it. */
static void test_concurrent_first_logins_make_one_user(void **state)
{
	enum { N = 12 };
	struct fx *f = *state;
	struct store other;
	struct racer r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	int i;

	open_store(f, &other);
	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		r[i] = (struct racer){.f = f, .st = i % 2 ? &other : &f->st, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, race_first_login, &r[i]), 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < N; i++) {
		if (r[i].rc != SESAME_OK)
			fail_msg("login %d: %s/%s", i, r[i].err.reason, r[i].err.text);
		assert_string_equal(r[i].user, r[0].user);
	}
	assert_int_equal(count_users(f), 1);
	store_close(&other);
}

/* Read, add one, write back: a write transaction must not lose an update
 * made meanwhile by another handle. */
static int increment_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	json_t *v = NULL, *next;
	int rc = st->desc->kv_get(st->h, txn, "p", "counter", 0, &v, err);

	(void)arg;
	if (rc != SESAME_OK && rc != SESAME_NOT_FOUND)
		return rc;
	next = json_integer(rc == SESAME_OK ? json_integer_value(v) + 1 : 1);
	json_decref(v);
	rc = st->desc->kv_put(st->h, txn, "p", "counter", next, NULL, 0, 0, 0, err);
	json_decref(next);
	return rc;
}

static void *race_increments(void *arg)
{
	struct racer *r = arg;
	int i;

	pthread_barrier_wait(r->go);
	for (i = 0; i < r->n && r->rc == SESAME_OK; i++)
		r->rc = store_transact(r->st, SESAME_STORE_TXN_WRITE, increment_txn, NULL, &r->err);
	return NULL;
}

/* Eight writers of one row: one of them often loses many times in a row
 * (with 8 attempts in all, 4 of 10 runs on PostgreSQL lost an increment). */
static void test_concurrent_increments_lose_no_update(void **state)
{
	enum { N = 8, EACH = 25 };
	struct fx *f = *state;
	struct store other;
	struct racer r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	json_t *v = NULL;
	int i;

	open_store(f, &other);
	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		r[i] = (struct racer){.f = f, .st = i % 2 ? &other : &f->st, .go = &go, .n = EACH};
		assert_int_equal(pthread_create(&t[i], NULL, race_increments, &r[i]), 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < N; i++)
		if (r[i].rc != SESAME_OK)
			fail_msg("incrementer %d: %s/%s", i, r[i].err.reason, r[i].err.text);
	assert_int_equal(f->d->kv_get(f->h, NULL, "p", "counter", 0, &v, &f->err), SESAME_OK);
	assert_int_equal(json_integer_value(v), N * EACH);
	json_decref(v);
	store_close(&other);
}

/* A write transaction's read is not invalidated by a commit of another
 * handle that the transaction then overwrites: the store refuses one of
 * them with a retryable conflict rather than lose the other's write. */
static void test_write_transactions_conflict_rather_than_lose_a_write(void **state)
{
	struct fx *f = *state;
	struct store other;
	sesame_store_txn *t1 = NULL, *t2 = NULL;
	json_t *v = json_integer(1), *got = NULL;
	sesame_error e2;
	int rc1, rc2;

	/* SQLite lets one writer in at a time (the second begin() waits, here
	 * not at all, then conflicts); PostgreSQL lets both in and refuses
	 * one when it writes or commits. */
	json_object_set_new(f->conf, "busy_timeout", json_integer(0));
	open_store(f, &other);
	assert_int_equal(f->d->kv_put(f->h, NULL, "p", "x", v, NULL, 0, 0, 0, &f->err), SESAME_OK);
	rc1 = f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t1, &f->err);
	assert_int_equal(rc1, SESAME_OK);
	assert_int_equal(f->d->kv_get(f->h, t1, "p", "x", 0, &got, &f->err), SESAME_OK);
	json_decref(got);
	err_clear(&e2);
	rc2 = other.desc->begin(other.h, SESAME_STORE_TXN_WRITE, &t2, &e2);
	if (rc2 == SESAME_OK) {
		assert_int_equal(other.desc->kv_get(other.h, t2, "p", "x", 0, &got, &e2), SESAME_OK);
		json_decref(got);
		rc2 = other.desc->kv_put(other.h, t2, "p", "x", v, NULL, 0, 0, 0, &e2);
		if (rc2 == SESAME_OK)
			rc2 = other.desc->commit(t2, &e2);
		else
			other.desc->rollback(t2);
	}
	rc1 = f->d->kv_put(f->h, t1, "p", "x", v, NULL, 0, 0, 0, &f->err);
	if (rc1 == SESAME_OK)
		rc1 = f->d->commit(t1, &f->err);
	else
		f->d->rollback(t1);
	/* Not both: one of them conflicted, retryably. */
	if (rc1 == SESAME_OK && rc2 == SESAME_OK)
		fail_msg("both overlapping write transactions committed");
	if (rc1 != SESAME_OK)
		assert_true(store_retryable(rc1, &f->err));
	if (rc2 != SESAME_OK)
		assert_true(store_retryable(rc2, &e2));
	json_decref(v);
	store_close(&other);
}

int main(void)
{
	const char *which = getenv("SESAME_TEST_STORE");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_descriptor_is_abi_1_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations_are_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users_insert_get_update_list_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users_refuse_bad_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_round_trips_exactly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identities_unique_per_instance_and_uid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions_by_hash_touch_count_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleting_an_identity_ends_its_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_put_get_create_expiry_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_delete_removes_everything_of_the_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions_and_entries_list_in_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signing_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transaction_rollback_and_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failures_leave_the_handle_usable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_logins_make_one_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_increments_lose_no_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_transactions_conflict_rather_than_lose_a_write, setup, teardown),
	};

	use_postgres = which && strcmp(which, "postgres") == 0;
	if (which && !use_postgres && strcmp(which, "sqlite") != 0) {
		fprintf(stderr, "SESAME_TEST_STORE=%s: expected sqlite or postgres\n", which);
		return 99;
	}
	if (use_postgres && !pg_available()) {
		fprintf(stderr, "SESAME_TEST_STORE=postgres needs the cluster of tests/store/postgres-suite.sh\n");
		return 99;
	}
	return cmocka_run_group_tests_name(use_postgres ? "store conformance: postgres" : "store conformance: sqlite",
					   tests, NULL, NULL);
}
