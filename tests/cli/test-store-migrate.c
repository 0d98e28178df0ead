/* SPDX-License-Identifier: MIT */
/*
 * tests/cli/test-store-migrate.c — `sesame store migrate --to CONFIG` and
 * sesame_store_migrate(): every user, identity, session, provider record
 * and signing key arrives in the target store as it was (compared record
 * by record through the store ABI); a migrated user logs in with the same
 * id, and refresh and access tokens issued before keep working; a target
 * that holds anything, a bad target configuration and a store that cannot
 * list its records are refused, changing nothing.  SQLite to SQLite always;
 * with SESAME_TEST_STORE=postgres (tests/store/postgres-suite.sh) SQLite to
 * PostgreSQL and back.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "store/pgtest.h"
#include "testutil.h"

struct env {
	char *dir, *drop;
	char *pg_db;
};

static void no_log(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	(void)msg;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tu_tmpdir("migrate");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	free(tu_write(e->drop, "fix.json", "{\"type\": \"fixture-kv\"}", 0644));
	if (pg_available())
		e->pg_db = pg_create_database("migrate", NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->pg_db)
		pg_drop_database(e->pg_db);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->drop);
	free(e->pg_db);
	free(e);
	return 0;
}

/* A main file NAME.json on `store` (a JSON object text); its path. */
static char *main_file(struct env *e, const char *name, const char *store, const char *store_dir)
{
	char text[4096], file[64];

	snprintf(
	    text, sizeof(text),
	    "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
	    " \"app_id\": \"test-app\", \"store\": %s}",
	    tu_env("SESAME_TEST_FIXTURES"), store_dir ? store_dir : tu_env("SESAME_TEST_STORES"), e->drop, e->dir,
	    store);
	snprintf(file, sizeof(file), "%s.json", name);
	return tu_write(e->dir, file, text, 0644);
}

static char *sqlite_main(struct env *e, const char *name)
{
	char store[1024];

	snprintf(store, sizeof(store), "{\"type\": \"sqlite\", \"path\": \"%s/%s.db\"}", e->dir, name);
	return main_file(e, name, store, NULL);
}

static char *postgres_main(struct env *e, const char *name)
{
	char store[1024], *conninfo = pg_conninfo(e->pg_db), *path;

	snprintf(store, sizeof(store), "{\"type\": \"postgres\", \"conninfo\": \"%s\"}", conninfo);
	path = main_file(e, name, store, NULL);
	free(conninfo);
	return path;
}

static sesame_ctx *context(const char *main)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	assert_non_null(ctx);
	sesame_set_logger(ctx, no_log, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, main, 0, &err) != SESAME_OK)
		fail_msg("configure %s: %s", main, err.text);
	return ctx;
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v)
		fail_msg("no \"%s\" member", key);
	return v;
}

static json_t *login(sesame_ctx *ctx, const char *user, const char *device)
{
	json_t *cred = json_pack("{s:s}", "user", user), *out = NULL;
	sesame_error err;

	if (sesame_login(ctx, "fix", cred, device, &out, &err) != SESAME_OK)
		fail_msg("login %s: %s", user, err.text);
	json_decref(cred);
	return out;
}

static void kv_put(sesame_ctx *ctx, const char *key, const char *user_id, json_int_t expires)
{
	sesame_caller *sys = sesame_caller_system(ctx);
	json_t *args = json_pack("{s:s, s:{s:s}, s:I}", "key", key, "value", "of", key, "expires", expires),
	       *out = NULL;
	sesame_error err;

	if (user_id)
		json_object_set_new(args, "user_id", json_string(user_id));
	if (sesame_provider_action_as(ctx, sys, "fix", "put", args, &out, &err) != SESAME_OK)
		fail_msg("kv put %s: %s", key, err.text);
	json_decref(out);
	json_decref(args);
	sesame_caller_free(sys);
}

/* Everything a store holds, through the ABI: users with their identities,
 * sessions, live key/value entries, keys. */
static json_t *dump(sesame_ctx *ctx)
{
	json_t *all = json_pack("{s:[], s:[], s:[], s:[]}", "users", "sessions", "entries", "keys"), *list = NULL, *v;
	struct store *st = NULL;
	sesame_error err;
	int64_t now = time(NULL);
	size_t i;

	assert_int_equal(ctx_store(ctx, &st, &err), SESAME_OK);
	assert_int_equal(st->desc->users_list(st->h, NULL, NULL, 1000, &list, &err), SESAME_OK);
	json_array_foreach (list, i, v) {
		json_t *ids = NULL;

		assert_int_equal(st->desc->identities_of_user(st->h, NULL, str(v, "id"), &ids, &err), SESAME_OK);
		json_object_set_new(v, "identities", ids);
	}
	json_object_set_new(all, "users", list);
	assert_int_equal(st->desc->sessions_list(st->h, NULL, NULL, 1000, &list, &err), SESAME_OK);
	json_object_set_new(all, "sessions", list);
	assert_int_equal(st->desc->kv_list(st->h, NULL, NULL, NULL, 1000, &list, &err), SESAME_OK);
	for (i = json_array_size(list); i-- > 0;) {
		json_int_t exp = json_integer_value(json_object_get(json_array_get(list, i), "expires"));

		if (exp > 0 && exp <= now)
			json_array_remove(list, i);
	}
	json_object_set_new(all, "entries", list);
	assert_int_equal(st->desc->keys_list(st->h, NULL, &list, &err), SESAME_OK);
	json_object_set_new(all, "keys", list);
	return all;
}

static void assert_same_records(sesame_ctx *a, sesame_ctx *b)
{
	json_t *da = dump(a), *db = dump(b);

	if (!json_equal(da, db)) {
		char *ta = json_dumps(da, JSON_SORT_KEYS), *tb = json_dumps(db, JSON_SORT_KEYS);

		fail_msg("the stores differ:\n%s\n%s", ta, tb);
	}
	json_decref(da);
	json_decref(db);
}

/* Run `sesame --config MAIN ARGS`; its exit status, output in *out. */
static int sesame(const char *main, const char *args, char **out, char **err)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' %s", tu_env("SESAME_CLI"), main, args);
	return tu_run(cmd, out, err);
}

/* What the source holds: two users with sessions, custom data, provider
 * records (one bound to a user, one expired), a rotated key. */
struct seeded {
	json_t *alice, *bob;
};

static void seed(sesame_ctx *ctx, struct seeded *s)
{
	sesame_caller *sys = sesame_caller_system(ctx);
	json_t *rot = NULL, *custom = json_pack("{s:s}", "plan", "gold");
	sesame_error err;

	s->alice = login(ctx, "alice", "0123456789abcdef01234567");
	assert_int_equal(sesame_keys_rotate(ctx, &rot, &err), SESAME_OK);
	json_decref(rot);
	s->bob = login(ctx, "bob", NULL);
	assert_int_equal(sesame_user_custom_data_set(sys, str(s->alice, "user_id"), custom, &err), SESAME_OK);
	kv_put(ctx, "k1", str(s->alice, "user_id"), 0);
	kv_put(ctx, "k2", NULL, 0);
	kv_put(ctx, "k3", NULL, (json_int_t)time(NULL) - 10);
	json_decref(custom);
	sesame_caller_free(sys);
}

/* In the migrated store: the same ids, the tokens issued before work. */
static void check_migrated(sesame_ctx *ctx, const struct seeded *s)
{
	json_t *again = login(ctx, "alice", NULL), *out = NULL, *claims = NULL;
	sesame_error err;

	assert_string_equal(str(again, "user_id"), str(s->alice, "user_id"));
	json_decref(again);
	/* Alice's access token was signed by the key since retired: kept. */
	assert_int_equal(
	    sesame_access_token_verify(ctx, str(s->alice, "access_token"), SESAME_VERIFY_SESSION, &claims, &err),
	    SESAME_OK);
	json_decref(claims);
	assert_int_equal(sesame_session_refresh(ctx, str(s->alice, "refresh_token"), &out, &err), SESAME_OK);
	assert_int_equal(sesame_access_token_verify(ctx, str(out, "access_token"), 0, &claims, &err), SESAME_OK);
	assert_string_equal(str(json_object_get(claims, "user_data"), "plan"), "gold");
	assert_string_equal(str(claims, "baas_device_id"), "0123456789abcdef01234567");
	json_decref(claims);
	json_decref(out);
	assert_int_equal(sesame_session_refresh(ctx, str(s->bob, "refresh_token"), &out, &err), SESAME_OK);
	json_decref(out);
}

/* Migrate `from` into `to` with the command line; its JSON answer. */
static json_t *migrate_cli(const char *from, const char *to)
{
	char args[2048], *out = NULL, *err = NULL;
	json_t *v;
	int rc;

	snprintf(args, sizeof(args), "store migrate --to '%s'", to);
	rc = sesame(from, args, &out, &err);
	if (rc != 0)
		fail_msg("sesame store migrate exited %d: %s", rc, err);
	v = json_loads(out, 0, NULL);
	assert_non_null(v);
	free(out);
	free(err);
	return v;
}

static void assert_counts(const json_t *v, int users, int identities, int sessions, int records, int keys)
{
	assert_int_equal(json_integer_value(json_object_get(v, "users")), users);
	assert_int_equal(json_integer_value(json_object_get(v, "identities")), identities);
	assert_int_equal(json_integer_value(json_object_get(v, "sessions")), sessions);
	assert_int_equal(json_integer_value(json_object_get(v, "provider_records")), records);
	assert_int_equal(json_integer_value(json_object_get(v, "keys")), keys);
}

/* Copy src into a fresh store `to`; check it, then leave it in *out. */
static void migrate_and_check(sesame_ctx *src, const char *src_main, const char *to, const struct seeded *s,
			      int sessions, sesame_ctx **out)
{
	json_t *v = migrate_cli(src_main, to);
	sesame_ctx *dst = context(to);

	assert_counts(v, 2, 2, sessions, 2, 2);
	json_decref(v);
	assert_same_records(src, dst);
	check_migrated(dst, s);
	*out = dst;
}

static void test_migrate_and_back(void **state)
{
	struct env *e = *state;
	char *a = sqlite_main(e, "a"), *b = e->pg_db ? postgres_main(e, "b") : sqlite_main(e, "b");
	char *c = sqlite_main(e, "c");
	sesame_ctx *src = context(a), *mid, *last;
	struct seeded s;

	seed(src, &s);
	/* SQLite -> PostgreSQL (or another SQLite file) -> SQLite. */
	migrate_and_check(src, a, b, &s, 2, &mid);
	/* check_migrated() logged alice in once more on the way. */
	migrate_and_check(mid, b, c, &s, 3, &last);
	sesame_free(src);
	sesame_free(mid);
	sesame_free(last);
	json_decref(s.alice);
	json_decref(s.bob);
	free(a);
	free(b);
	free(c);
}

/* A target holding anything is refused and left as it was. */
static void test_non_empty_target_refused(void **state)
{
	struct env *e = *state;
	char *a = sqlite_main(e, "a"), *b = e->pg_db ? postgres_main(e, "b") : sqlite_main(e, "b");
	char args[2048], *out = NULL, *err = NULL;
	sesame_ctx *src = context(a), *dst = context(b);
	json_t *before, *after, *x = login(src, "xavier", NULL), *y = login(dst, "yann", NULL);

	before = dump(dst);
	snprintf(args, sizeof(args), "store migrate --to '%s'", b);
	assert_int_equal(sesame(a, args, &out, &err), 1);
	assert_non_null(strstr(err, "already holds"));
	after = dump(dst);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	free(out);
	free(err);
	/* Only signing keys count too: a store a node already started on. */
	json_decref(x);
	json_decref(y);
	sesame_free(src);
	sesame_free(dst);
	free(a);
	free(b);
}

static void test_bad_targets_refused(void **state)
{
	struct env *e = *state;
	char *a = sqlite_main(e, "a"), *missing = tu_path(e->dir, "missing.json"), args[2048], *out = NULL, *err = NULL,
	     *abi10, *bad, store[1024];
	char *fixtures = tu_path(tu_env("SESAME_TEST_BUILDDIR"), "tests/fixtures/stores/.libs");
	sesame_ctx *src = context(a);
	json_t *x = login(src, "xavier", NULL), *result = NULL;
	sesame_error serr;

	snprintf(args, sizeof(args), "store migrate --to '%s'", missing);
	assert_int_equal(sesame(a, args, &out, &err), 2);
	assert_non_null(strstr(err, "missing.json"));
	free(out);
	free(err);
	assert_int_equal(sesame(a, "store migrate", &out, &err), 2);
	assert_non_null(strstr(err, "usage: sesame store migrate --to CONFIG"));
	free(out);
	free(err);
	assert_int_equal(sesame(a, "store migrate --into x", &out, &err), 2);
	free(out);
	free(err);
	/* A target configuration with an unknown store key. */
	bad = main_file(e, "bad", "{\"type\": \"sqlite\", \"path\": \"/nonexistent/x.db\", \"colour\": 1}", NULL);
	assert_int_equal(sesame_store_migrate(src, bad, &result, &serr), SESAME_CONFIG);
	assert_non_null(strstr(serr.text, "colour"));
	assert_null(result);
	/* A store of ABI 1.0 cannot list its records: refused before anything. */
	snprintf(store, sizeof(store), "{\"type\": \"abi10\", \"path\": \"%s/abi10.db\"}", e->dir);
	abi10 = main_file(e, "abi10", store, fixtures);
	assert_int_equal(sesame_store_migrate(src, abi10, &result, &serr), SESAME_USAGE);
	assert_string_equal(serr.reason, "listing");
	assert_non_null(strstr(serr.text, "abi10"));
	assert_int_equal(sesame_store_migrate(src, NULL, &result, &serr), SESAME_USAGE);
	json_decref(x);
	sesame_free(src);
	free(a);
	free(missing);
	free(abi10);
	free(bad);
	free(fixtures);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrate_and_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_non_empty_target_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_targets_refused, setup, teardown),
	};
	const char *which = getenv("SESAME_TEST_STORE");

	if (which && strcmp(which, "postgres") == 0 && !pg_available()) {
		fprintf(stderr, "SESAME_TEST_STORE=postgres needs the cluster of tests/store/postgres-suite.sh\n");
		return 99;
	}
	if (!which || strcmp(which, "postgres") != 0)
		unsetenv("SESAME_TEST_PG_HOST");
	return cmocka_run_group_tests_name(pg_available() ? "store migrate: sqlite, postgres" : "store migrate: sqlite",
					   tests, NULL, NULL);
}
