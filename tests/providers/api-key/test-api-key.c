/* SPDX-License-Identifier: MIT */
/* tests/providers/api-key/test-api-key.c — the api-key provider through libsesame and
 * the sesame CLI: user keys (create, login, list, get, disable, enable,
 * delete, the limit of 20, ownership), server keys, what is stored (a
 * hash, never the key) and the keys refused. */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir, *main, *drop, *plugins;
	sesame_ctx *ctx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tu_tmpdir("api-key");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->plugins = tu_mkdir(e->dir, "plugins", 0755);
	tu_copy_plugin(tu_env("SESAME_TEST_PLUGINS"), e->plugins, "api-key");
	tu_copy_plugin(tu_env("SESAME_TEST_PLUGINS"), e->plugins, "anon-user");
	tu_copy_plugin(tu_env("SESAME_TEST_FIXTURES"), e->plugins, "fixture-good");
	e->main = tu_main_config_at(e->dir, e->plugins, "\"app_id\": \"test-app\"");
	free(tu_write(e->drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	free(tu_write(e->drop, "anon-user.json", "{\"type\": \"anon-user\"}", 0644));
	free(tu_write(e->drop, "api-key.json", "{\"type\": \"api-key\"}", 0644));
	free(tu_write(e->drop, "api-key-bad.json", "{\"type\": \"api-key\", \"config\": {\"max\": 3}}", 0644));
	e->ctx = tu_context(e->main);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->drop);
	free(e->plugins);
	free(e);
	return 0;
}

/* Log in as `user` with the fixture, and the caller of that session. */
static json_t *user_login(struct env *e, const char *name, const char *user, sesame_caller **caller)
{
	json_t *cred = user ? json_pack("{s:s}", "user", user) : json_object(), *s = NULL;
	sesame_error err;

	if (sesame_login(e->ctx, name, cred, NULL, &s, &err) != SESAME_OK)
		fail_msg("login: %s", err.text);
	json_decref(cred);
	if (sesame_caller_from_refresh_token(e->ctx, tu_member(s, "refresh_token"), caller, &err) != SESAME_OK)
		fail_msg("caller: %s", err.text);
	return s;
}

static int act(struct env *e, sesame_caller *c, const char *name, json_t *args, json_t **out, sesame_error *err)
{
	int rc;

	assert_non_null(args);
	rc = sesame_provider_action_as(e->ctx, c, "api-key", name, args, out, err);
	json_decref(args);
	return rc;
}

/* Log in with `key`; the session or NULL with err filled. */
static json_t *key_login(struct env *e, const char *key, sesame_error *err)
{
	json_t *cred = json_pack("{s:s}", "key", key), *s = NULL;

	sesame_login(e->ctx, "api-key", cred, NULL, &s, err);
	json_decref(cred);
	return s;
}

static void expect_invalid_key(struct env *e, const char *key)
{
	sesame_error err;

	assert_null(key_login(e, key, &err));
	tu_expect_error(err.status, &err, SESAME_REJECTED, "key");
	assert_non_null(strstr(err.text, "invalid API key"));
}

static void test_user_key_lifecycle(void **state)
{
	struct env *e = *state;
	sesame_caller *ann = NULL, *bob = NULL;
	json_t *sa = user_login(e, "fix", "ann", &ann), *sb = user_login(e, "fix", "bob", &bob), *k = NULL, *s,
	       *v = NULL;
	char key[65], id[25];
	sesame_error err;

	assert_int_equal(act(e, ann, "create", json_pack("{s:s}", "name", "ci"), &k, &err), SESAME_OK);
	assert_int_equal(strlen(tu_member(k, "key")), 64);
	assert_int_equal(strspn(tu_member(k, "key"), "0123456789abcdef"), 64);
	assert_int_equal(strncmp(tu_member(k, "key"), tu_member(k, "_id"), 24), 0);
	assert_string_equal(tu_member(k, "name"), "ci");
	assert_true(json_is_false(json_object_get(k, "disabled")));
	snprintf(key, sizeof(key), "%s", tu_member(k, "key"));
	snprintf(id, sizeof(id), "%s", tu_member(k, "_id"));
	json_decref(k);

	/* The key logs in as its user. */
	s = key_login(e, key, &err);
	if (!s)
		fail_msg("key login: %s", err.text);
	assert_string_equal(tu_member(s, "user_id"), tu_member(sa, "user_id"));
	json_decref(s);

	/* Listed and fetched without the key; another user sees nothing. */
	assert_int_equal(act(e, ann, "list", json_object(), &v, &err), SESAME_OK);
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(tu_member(json_array_get(v, 0), "_id"), id);
	assert_null(json_object_get(json_array_get(v, 0), "key"));
	json_decref(v);
	assert_int_equal(act(e, ann, "get", json_pack("{s:s}", "id", id), &v, &err), SESAME_OK);
	assert_string_equal(tu_member(v, "name"), "ci");
	assert_null(json_object_get(v, "key"));
	json_decref(v);
	tu_expect_error(act(e, bob, "get", json_pack("{s:s}", "id", id), &v, &err), &err, SESAME_NOT_FOUND, "key");
	tu_expect_error(act(e, bob, "disable", json_pack("{s:s}", "id", id), &v, &err), &err, SESAME_NOT_FOUND, "key");
	tu_expect_error(act(e, bob, "delete", json_pack("{s:s}", "id", id), &v, &err), &err, SESAME_NOT_FOUND, "key");
	assert_int_equal(act(e, bob, "list", json_object(), &v, &err), SESAME_OK);
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);

	/* Disabled: refused; enabled again: accepted. */
	assert_int_equal(act(e, ann, "disable", json_pack("{s:s}", "id", id), NULL, &err), SESAME_OK);
	expect_invalid_key(e, key);
	assert_int_equal(act(e, ann, "enable", json_pack("{s:s}", "id", id), NULL, &err), SESAME_OK);
	s = key_login(e, key, &err);
	assert_non_null(s);
	json_decref(s);

	/* Deleted: refused, gone. */
	assert_int_equal(act(e, ann, "delete", json_pack("{s:s}", "id", id), NULL, &err), SESAME_OK);
	expect_invalid_key(e, key);
	tu_expect_error(act(e, ann, "get", json_pack("{s:s}", "id", id), &v, &err), &err, SESAME_NOT_FOUND, "key");
	sesame_caller_free(ann);
	sesame_caller_free(bob);
	json_decref(sa);
	json_decref(sb);
}

/* A hash at rest, wrong secrets and shapes refused. */
static void test_stored_hashed_and_wrong_keys_refused(void **state)
{
	struct env *e = *state;
	sesame_caller *ann = NULL;
	json_t *sa = user_login(e, "fix", "ann", &ann), *k = NULL, *rec = NULL, *cred;
	char key[65], kvkey[64], *dump;
	struct store *st;
	sesame_error err;

	assert_int_equal(act(e, ann, "create", json_pack("{s:s}", "name", "k"), &k, &err), SESAME_OK);
	snprintf(key, sizeof(key), "%s", tu_member(k, "key"));
	snprintf(kvkey, sizeof(kvkey), "key:%s", tu_member(k, "_id"));
	json_decref(k);
	assert_int_equal(ctx_store(e->ctx, &st, &err), SESAME_OK);
	assert_int_equal(st->desc->kv_get(st->h, NULL, "api-key", kvkey, ctx_now(e->ctx), &rec, &err), SESAME_OK);
	dump = json_dumps(rec, 0);
	assert_null(strstr(dump, key + 24)); /* the secret is nowhere */
	assert_int_equal(strlen(tu_member(rec, "hash")), 64);
	free(dump);
	json_decref(rec);

	/* The right id with another secret, a shortened or altered key. */
	key[63] = key[63] == '0' ? '1' : '0';
	expect_invalid_key(e, key);
	key[63] = '\0';
	expect_invalid_key(e, key);
	expect_invalid_key(e, "ZZZZ");
	expect_invalid_key(e, "");
	cred = json_pack("{s:s, s:s}", "key", key, "extra", "x");
	tu_expect_error(sesame_login(e->ctx, "api-key", cred, NULL, &k, &err), &err, SESAME_MALFORMED, "credential");
	json_decref(cred);
	cred = json_pack("{s:i}", "key", 5);
	tu_expect_error(sesame_login(e->ctx, "api-key", cred, NULL, &k, &err), &err, SESAME_MALFORMED, "credential");
	json_decref(cred);
	sesame_caller_free(ann);
	json_decref(sa);
}

static void test_limit_and_who_may_create(void **state)
{
	struct env *e = *state;
	sesame_caller *ann = NULL, *anon = NULL, *sys = sesame_caller_system(e->ctx);
	json_t *sa = user_login(e, "fix", "ann", &ann), *sn = user_login(e, "anon-user", NULL, &anon), *k = NULL;
	char first[25] = "", name[16];
	sesame_error err;
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(act(e, ann, "create", json_pack("{s:s}", "name", name), &k, &err), SESAME_OK);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", tu_member(k, "_id"));
		json_decref(k);
	}
	tu_expect_error(act(e, ann, "create", json_pack("{s:s}", "name", "k20"), &k, &err), &err, SESAME_REJECTED,
			"limit");
	/* Deleting one frees its place. */
	assert_int_equal(act(e, ann, "delete", json_pack("{s:s}", "id", first), NULL, &err), SESAME_OK);
	assert_int_equal(act(e, ann, "create", json_pack("{s:s}", "name", "k20"), &k, &err), SESAME_OK);
	json_decref(k);

	/* Anonymous users, unauthenticated callers, bad names. */
	tu_expect_error(act(e, anon, "create", json_pack("{s:s}", "name", "x"), &k, &err), &err, SESAME_REJECTED,
			"forbidden");
	tu_expect_error(act(e, NULL, "create", json_pack("{s:s}", "name", "x"), &k, &err), &err, SESAME_REJECTED,
			"forbidden");
	tu_expect_error(act(e, anon, "create", json_pack("{s:s, s:b}", "name", "x", "server", 1), &k, &err), &err,
			SESAME_REJECTED, "forbidden");
	tu_expect_error(act(e, sys, "create", json_pack("{s:s}", "name", "x"), &k, &err), &err, SESAME_REJECTED,
			"forbidden");
	sesame_caller_free(anon);
	anon = NULL;
	{
		sesame_caller *bob = NULL;
		json_t *sb = user_login(e, "fix", "bob", &bob);

		tu_expect_error(act(e, bob, "create", json_object(), &k, &err), &err, SESAME_MALFORMED, "name");
		tu_expect_error(act(e, bob, "create", json_pack("{s:s}", "name", "a\nb"), &k, &err), &err,
				SESAME_MALFORMED, "name");
		tu_expect_error(act(e, bob, "frob", json_object(), &k, &err), &err, SESAME_NOT_FOUND, "action");
		sesame_caller_free(bob);
		json_decref(sb);
	}
	sesame_caller_free(sys);
	sesame_caller_free(ann);
	json_decref(sa);
	json_decref(sn);
}

static void test_server_keys(void **state)
{
	struct env *e = *state;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	json_t *k = NULL, *s, *user = NULL;
	char key[65], id[25], uid[25];
	sesame_error err;

	assert_int_equal(act(e, sys, "create", json_pack("{s:s, s:b}", "name", "backend", "server", 1), &k, &err),
			 SESAME_OK);
	snprintf(key, sizeof(key), "%s", tu_member(k, "key"));
	snprintf(id, sizeof(id), "%s", tu_member(k, "_id"));
	snprintf(uid, sizeof(uid), "%s", tu_member(k, "user_id"));
	json_decref(k);
	s = key_login(e, key, &err);
	if (!s)
		fail_msg("server key login: %s", err.text);
	assert_string_equal(tu_member(s, "user_id"), uid);
	json_decref(s);
	assert_int_equal(sesame_user_get(sys, uid, &user, &err), SESAME_OK);
	assert_string_equal(tu_member(user, "type"), "server");
	json_decref(user);
	/* Deleting the key deletes its server user. */
	assert_int_equal(act(e, sys, "delete", json_pack("{s:s}", "id", id), NULL, &err), SESAME_OK);
	expect_invalid_key(e, key);
	tu_expect_error(sesame_user_get(sys, uid, &user, &err), &err, SESAME_NOT_FOUND, "user");
	sesame_caller_free(sys);
}

/* No public entry point lets a program claim to be somebody inside the
 * JSON arguments: sesame_provider_action() runs an action with no caller,
 * whatever "caller" member the arguments carry. */
static void test_caller_cannot_be_claimed_in_json(void **state)
{
	struct env *e = *state;
	json_t *args = json_pack("{s:{s:b}, s:s, s:b}", "caller", "system", 1, "name", "forged", "server", 1);
	json_t *k = NULL, *users = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;

	tu_expect_error(sesame_provider_action(e->ctx, "api-key", "create", args, &k, &err), &err, SESAME_REJECTED,
			"forbidden");
	assert_null(k);
	json_decref(args);
	args = json_pack("{s:{s:s}, s:s}", "caller", "user_id", "0123456789abcdef01234567", "name", "forged");
	tu_expect_error(sesame_provider_action(e->ctx, "api-key", "create", args, &k, &err), &err, SESAME_REJECTED,
			"forbidden");
	json_decref(args);
	/* Nothing was created: no server user exists. */
	assert_int_equal(sesame_users_list(sys, NULL, 0, &users, &err), SESAME_OK);
	assert_int_equal(json_array_size(users), 0);
	json_decref(users);
	sesame_caller_free(sys);
}

static void test_deleting_the_user_deletes_its_keys(void **state)
{
	struct env *e = *state;
	sesame_caller *ann = NULL, *sys = sesame_caller_system(e->ctx);
	json_t *sa = user_login(e, "fix", "ann", &ann), *k = NULL, *list, *p;
	char key[65];
	sesame_error err;
	size_t i;
	bool failed = false;

	assert_int_equal(act(e, ann, "create", json_pack("{s:s}", "name", "k"), &k, &err), SESAME_OK);
	snprintf(key, sizeof(key), "%s", tu_member(k, "key"));
	json_decref(k);
	assert_int_equal(sesame_user_delete(sys, tu_member(sa, "user_id"), &err), SESAME_OK);
	expect_invalid_key(e, key);
	/* A configuration key is refused at start. */
	list = sesame_providers_json(e->ctx);
	json_array_foreach (list, i, p)
		if (strcmp(tu_member(p, "name"), "api-key-bad") == 0)
			failed = strcmp(tu_member(p, "state"), "failed") == 0;
	assert_true(failed);
	json_decref(list);
	sesame_caller_free(sys);
	sesame_caller_free(ann);
	json_decref(sa);
}

/* Through the sesame command: a server key, then a login with it. */
static void test_cli_server_key(void **state)
{
	struct env *e = *state;
	char cmd[2048], *out = NULL, *errtext = NULL;
	json_t *k, *s;

	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' apikeys create --server backend", tu_env("SESAME_CLI"), e->main);
	assert_int_equal(tu_run(cmd, &out, &errtext), 0);
	k = json_loads(out, 0, NULL);
	assert_non_null(k);
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd), "printf '{\"key\": \"%%s\"}' '%s' | '%s' --config '%s' login api-key -",
		 tu_member(k, "key"), tu_env("SESAME_CLI"), e->main);
	assert_int_equal(tu_run(cmd, &out, &errtext), 0);
	s = json_loads(out, 0, NULL);
	assert_string_equal(tu_member(s, "user_id"), tu_member(k, "user_id"));
	json_decref(s);
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' apikeys delete '%s'", tu_env("SESAME_CLI"), e->main,
		 tu_member(k, "_id"));
	assert_int_equal(tu_run(cmd, &out, &errtext), 0);
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd), "printf '{\"key\": \"%%s\"}' '%s' | '%s' --config '%s' login api-key -",
		 tu_member(k, "key"), tu_env("SESAME_CLI"), e->main);
	assert_int_not_equal(tu_run(cmd, &out, &errtext), 0);
	assert_non_null(strstr(errtext, "invalid API key"));
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' apikeys create backend", tu_env("SESAME_CLI"), e->main);
	assert_int_not_equal(tu_run(cmd, &out, &errtext), 0);
	assert_non_null(strstr(errtext, "usage"));
	free(out);
	free(errtext);
	json_decref(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_user_key_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stored_hashed_and_wrong_keys_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_and_who_may_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_caller_cannot_be_claimed_in_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleting_the_user_deletes_its_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_server_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
