/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-signing-store.c — core/signing-store.c: sesame's signing
 * keys kept in the store, made once however many processes start at once,
 * imported from the key files of an older installation (or refused with
 * them, writing nothing), rotated in one transaction that moves the
 * store's generation number, and kept in files by a store of ABI 1.0.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

static struct logger quiet = {NULL, NULL, SESAME_LOG_ERR - 1};

struct env {
	char *dir, *main, *drop;
};

static void no_log(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	(void)msg;
}

/* A main file on the store `type` from `store_dir` (NULL: the built ones). */
static void write_main(struct env *e, const char *type, const char *store_dir)
{
	char text[4096];

	free(e->main);
	snprintf(
	    text, sizeof(text),
	    "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
	    " \"store\": {\"type\": \"%s\", \"path\": \"%s/state/sesame.db\"}, \"app_id\": \"test-app\","
	    " \"sessions\": {\"access_ttl\": 600}}",
	    tu_env("SESAME_TEST_FIXTURES"), store_dir ? store_dir : tu_env("SESAME_TEST_STORES"), e->drop, e->dir, type,
	    e->dir);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tu_tmpdir("signing-store");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	free(tu_write(e->drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	write_main(e, "sqlite", NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->drop);
	free(e);
	return 0;
}

static sesame_ctx *context(struct env *e)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	assert_non_null(ctx);
	sesame_set_logger(ctx, no_log, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	return ctx;
}

static struct store *store_of(sesame_ctx *ctx)
{
	struct store *st = NULL;
	sesame_error err;

	if (ctx_store(ctx, &st, &err) != SESAME_OK)
		fail_msg("store: %s", err.text);
	return st;
}

/* The store's key records (a new array). */
static json_t *stored_keys(sesame_ctx *ctx)
{
	struct store *st = store_of(ctx);
	json_t *keys = NULL;
	sesame_error err;

	assert_true(store_has_keys(st));
	assert_int_equal(st->desc->keys_list(st->h, NULL, &keys, &err), SESAME_OK);
	return keys;
}

static uint64_t generation(sesame_ctx *ctx)
{
	struct store *st = store_of(ctx);
	uint64_t g = 0;
	sesame_error err;

	assert_int_equal(st->desc->keys_generation(st->h, NULL, &g, &err), SESAME_OK);
	return g;
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v)
		fail_msg("no \"%s\" member", key);
	return v;
}

/* The kid the context signs with now. */
static char *signing_kid(sesame_ctx *ctx)
{
	struct sessions *s = NULL;
	sesame_error err;
	char *kid;

	assert_int_equal(sessions_acquire(ctx, false, &s, &err), SESAME_OK);
	kid = strdup(s->sk.keys[0].kid);
	sessions_release(s);
	return kid;
}

static void test_first_use_stores_one_key_and_writes_no_file(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx = context(e);
	char *kid = signing_kid(ctx), *file = tu_path(e->dir, "state/signing-key.pem");
	json_t *keys = stored_keys(ctx);

	assert_int_equal(json_array_size(keys), 1);
	assert_string_equal(str(json_array_get(keys, 0), "kid"), kid);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(keys, 0), "retired")), 0);
	assert_non_null(strstr(str(json_array_get(keys, 0), "pem"), "PRIVATE KEY"));
	assert_int_equal(generation(ctx), 1);
	assert_int_not_equal(access(file, F_OK), 0);
	json_decref(keys);
	sesame_free(ctx);
	/* The next process signs with the same key. */
	ctx = context(e);
	{
		char *again = signing_kid(ctx);

		assert_string_equal(again, kid);
		free(again);
	}
	sesame_free(ctx);
	free(kid);
	free(file);
}

struct racer {
	struct env *e;
	pthread_barrier_t *go;
	char *kid;
};

static void *race_first_use(void *arg)
{
	struct racer *r = arg;
	sesame_ctx *ctx = context(r->e);

	pthread_barrier_wait(r->go);
	r->kid = signing_kid(ctx);
	sesame_free(ctx);
	return NULL;
}

/* Several processes starting at once on an empty store agree on one key:
 * the store allows one current key and the losers read the winner's. */
static void test_concurrent_first_use_agrees_on_one_key(void **state)
{
	enum { N = 6 };
	struct env *e = *state;
	struct racer r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	sesame_ctx *ctx;
	json_t *keys;
	int i;

	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		r[i] = (struct racer){e, &go, NULL};
		assert_int_equal(pthread_create(&t[i], NULL, race_first_use, &r[i]), 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 1; i < N; i++)
		assert_string_equal(r[i].kid, r[0].kid);
	ctx = context(e);
	keys = stored_keys(ctx);
	assert_int_equal(json_array_size(keys), 1);
	assert_string_equal(str(json_array_get(keys, 0), "kid"), r[0].kid);
	json_decref(keys);
	sesame_free(ctx);
	for (i = 0; i < N; i++)
		free(r[i].kid);
}

/* An installation whose keys were files: the first start imports the
 * current key and the retired ones, and never reads the files again. */
static void test_key_files_are_imported_once(void **state)
{
	struct env *e = *state;
	struct config cfg = {0};
	struct signing_keys files;
	char kid[SIGNING_KID_SIZE], *file = tu_path(e->dir, "state/signing-key.pem"), *now_kid;
	sesame_error err;
	sesame_ctx *ctx;
	json_t *keys, *jwks;

	cfg.state_dir = tu_path(e->dir, "state");
	cfg.access_ttl = 600;
	assert_int_equal(signing_keys_rotate(&cfg, &quiet, kid, &err), SESAME_OK);
	assert_int_equal(signing_keys_load(&cfg, time(NULL), &quiet, &files, &err), SESAME_OK);
	assert_int_equal(files.n, 2);

	ctx = context(e);
	now_kid = signing_kid(ctx);
	assert_string_equal(now_kid, kid);
	keys = stored_keys(ctx);
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(str(json_array_get(keys, 0), "kid"), files.keys[0].kid);
	assert_string_equal(str(json_array_get(keys, 1), "kid"), files.keys[1].kid);
	assert_true(json_integer_value(json_object_get(json_array_get(keys, 1), "retired")) > 0);
	/* A retired key is kept as its public half only. */
	assert_null(strstr(str(json_array_get(keys, 1), "pem"), "PRIVATE"));
	json_decref(keys);
	jwks = sesame_jwks(ctx, &err);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 2);
	json_decref(jwks);
	sesame_free(ctx);

	/* The files are no longer read: a broken one changes nothing. */
	assert_int_equal(chmod(file, 0644), 0);
	ctx = context(e);
	free(now_kid);
	now_kid = signing_kid(ctx);
	assert_string_equal(now_kid, kid);
	sesame_free(ctx);
	signing_keys_free(&files);
	free(now_kid);
	free(file);
	free(cfg.state_dir);
}

/* A key file that may not be imported stops the start and stores nothing. */
static void test_untrusted_key_file_imports_nothing(void **state)
{
	struct env *e = *state;
	char *state_dir = tu_mkdir(e->dir, "state", 0700);
	char *file = tu_write(state_dir, "signing-key.pem", "not a key", 0644);
	struct sessions *s = NULL;
	sesame_error err;
	sesame_ctx *ctx = context(e);
	json_t *keys;

	assert_int_equal(sessions_acquire(ctx, false, &s, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "permissions");
	assert_non_null(strstr(err.text, "signing-key.pem"));
	keys = stored_keys(ctx);
	assert_int_equal(json_array_size(keys), 0);
	json_decref(keys);
	assert_int_equal(chmod(file, 0600), 0);
	assert_int_equal(sessions_acquire(ctx, false, &s, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "key");
	keys = stored_keys(ctx);
	assert_int_equal(json_array_size(keys), 0);
	json_decref(keys);
	assert_int_equal(generation(ctx), 0);
	sesame_free(ctx);
	free(file);
	free(state_dir);
}

/* Rotation: one transaction that retires the current key (its public half
 * kept), stores the new one and moves the generation; another process
 * notices by the generation alone, at its next look. */
static void test_rotation_moves_the_generation(void **state)
{
	struct env *e = *state;
	sesame_ctx *a = context(e), *b = context(e);
	char *old = signing_kid(a), *seen = signing_kid(b), *later;
	json_t *rot = NULL, *keys;
	uint64_t before = generation(a);
	struct sessions *s = NULL;
	sesame_error err;

	assert_string_equal(seen, old);
	assert_int_equal(sesame_keys_rotate(a, &rot, &err), SESAME_OK);
	assert_true(generation(b) > before);
	keys = stored_keys(b);
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(str(json_array_get(keys, 0), "kid"), str(rot, "kid"));
	assert_string_equal(str(json_array_get(keys, 1), "kid"), old);
	assert_null(strstr(str(json_array_get(keys, 1), "pem"), "PRIVATE"));
	json_decref(keys);
	/* b looks again after KEY_CHECK_INTERVAL (5 s): then it signs with the
	 * new key and still verifies with the old one. */
	atomic_fetch_add(&b->clock_offset, 5);
	later = signing_kid(b);
	assert_string_equal(later, str(rot, "kid"));
	assert_int_equal(sessions_acquire(b, false, &s, &err), SESAME_OK);
	assert_int_equal(s->sk.n, 2);
	assert_true(s->stamp.in_store);
	assert_int_equal(s->stamp.generation, generation(b));
	sessions_release(s);
	json_decref(rot);
	free(old);
	free(seen);
	free(later);
	sesame_free(a);
	sesame_free(b);
}

/* A store of ABI 1.0 cannot keep keys: the core keeps them in files, as
 * before, and rotates them there. */
static void test_store_of_abi_10_keeps_key_files(void **state)
{
	struct env *e = *state;
	char *dir = tu_path(tu_env("SESAME_TEST_BUILDDIR"), "tests/fixtures/stores/.libs");
	char *file = tu_path(e->dir, "state/signing-key.pem"), *kid;
	json_t *rot = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	struct stat st;

	write_main(e, "abi10", dir);
	ctx = context(e);
	assert_false(store_has_keys(store_of(ctx)));
	assert_false(store_has_listing(store_of(ctx)));
	kid = signing_kid(ctx);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sesame_keys_rotate(ctx, &rot, &err), SESAME_OK);
	assert_string_not_equal(str(rot, "kid"), kid);
	json_decref(rot);
	sesame_free(ctx);
	free(kid);
	free(file);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_use_stores_one_key_and_writes_no_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_use_agrees_on_one_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_files_are_imported_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_key_file_imports_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_moves_the_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_of_abi_10_keeps_key_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
