/* SPDX-License-Identifier: MIT */
/* tests/providers/anon-user/test-anon-kv.c — the host key/value services (kv_add's
 * atomic counters among them), provider actions
 * (sesame_provider_action) and the real anon-user plugin through libsesame:
 * per-instance session lifetime, deletion at logout, linking rules. */
#include "config.h"

#include <fcntl.h>
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
#include "jose.h"
#include "testutil.h"

#define ANON_TTL 7200

struct env {
	char *dir, *main, *drop, *plugins;
	sesame_ctx *ctx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096];

	e->dir = tu_tmpdir("anon-kv");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->plugins = tu_mkdir(e->dir, "plugins", 0755);
	tu_copy_plugin(tu_env("SESAME_TEST_PLUGINS"), e->plugins, "anon-user");
	tu_copy_plugin(tu_env("SESAME_TEST_FIXTURES"), e->plugins, "fixture-good");
	tu_copy_plugin(tu_env("SESAME_TEST_FIXTURES"), e->plugins, "fixture-kv");
	e->main = tu_main_config_at(
	    e->dir, e->plugins, "\"app_id\": \"test-app\", \"sessions\": {\"access_ttl\": 600, \"refresh_ttl\": 3600}");
	free(tu_write(e->drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	free(tu_write(e->drop, "kv.json", "{\"type\": \"fixture-kv\"}", 0644));
	free(tu_write(e->drop, "kv2.json", "{\"type\": \"fixture-kv\"}", 0644));
	snprintf(text, sizeof(text), "{\"type\": \"anon-user\", \"config\": {\"session_ttl\": %d}}", ANON_TTL);
	free(tu_write(e->drop, "anon.json", text, 0644));
	free(
	    tu_write(e->drop, "anon-short.json", "{\"type\": \"anon-user\", \"config\": {\"session_ttl\": 59}}", 0644));
	free(tu_write(e->drop, "anon-typo.json", "{\"type\": \"anon-user\", \"config\": {\"ttl\": 600}}", 0644));
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

static json_t *login(struct env *e, const char *name, const char *user)
{
	json_t *cred = user ? json_pack("{s:s}", "user", user) : json_object(), *session = NULL;
	sesame_error err;

	if (sesame_login(e->ctx, name, cred, NULL, &session, &err) != SESAME_OK)
		fail_msg("login %s: %s", name, err.text);
	json_decref(cred);
	return session;
}

/* Run action `name` of `provider` with args given as JSON text. */
static int act(struct env *e, sesame_caller *c, const char *provider, const char *name, const char *args, json_t **out,
	       sesame_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	int rc;

	assert_non_null(a);
	rc = sesame_provider_action_as(e->ctx, c, provider, name, a, out, err);
	json_decref(a);
	return rc;
}

/* A claim of a JWT's payload, decoded without checking (tests only). */
static json_int_t jwt_claim(const char *token, const char *claim)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	unsigned char *raw;
	size_t len;
	json_t *payload;
	json_int_t v;

	assert_non_null(dot2);
	raw = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
	assert_non_null(raw);
	payload = json_loadb((const char *)raw, len, 0, NULL);
	assert_non_null(payload);
	v = json_integer_value(json_object_get(payload, claim));
	json_decref(payload);
	free(raw);
	return v;
}

static void test_kv_put_get_delete(void **state)
{
	struct env *e = *state;
	json_t *v = NULL;
	sesame_error err;

	assert_int_equal(act(e, NULL, "kv", "put", "{\"key\": \"k1\", \"value\": {\"n\": 1}}", NULL, &err), SESAME_OK);
	assert_int_equal(act(e, NULL, "kv", "get", "{\"key\": \"k1\"}", &v, &err), SESAME_OK);
	assert_int_equal(json_integer_value(json_object_get(v, "n")), 1);
	json_decref(v);
	/* SESAME_KV_CREATE refuses a live entry and leaves it alone. */
	tu_expect_error(act(e, NULL, "kv", "put", "{\"key\": \"k1\", \"value\": 2, \"create\": true}", NULL, &err),
			&err, SESAME_CONFLICT, "exists");
	assert_int_equal(act(e, NULL, "kv", "get", "{\"key\": \"k1\"}", &v, &err), SESAME_OK);
	assert_true(json_is_object(v));
	json_decref(v);
	/* Without it, the value is replaced. */
	assert_int_equal(act(e, NULL, "kv", "put", "{\"key\": \"k1\", \"value\": 3}", NULL, &err), SESAME_OK);
	assert_int_equal(act(e, NULL, "kv", "get", "{\"key\": \"k1\"}", &v, &err), SESAME_OK);
	assert_int_equal(json_integer_value(v), 3);
	json_decref(v);
	/* Each instance has its own namespace. */
	tu_expect_error(act(e, NULL, "kv2", "get", "{\"key\": \"k1\"}", &v, &err), &err, SESAME_NOT_FOUND, "key");
	assert_int_equal(act(e, NULL, "kv", "delete", "{\"key\": \"k1\"}", NULL, &err), SESAME_OK);
	tu_expect_error(act(e, NULL, "kv", "get", "{\"key\": \"k1\"}", &v, &err), &err, SESAME_NOT_FOUND, "key");
	tu_expect_error(act(e, NULL, "kv", "delete", "{\"key\": \"k1\"}", NULL, &err), &err, SESAME_NOT_FOUND, "key");
}

static void test_kv_refuses_bad_keys_and_hides_expired(void **state)
{
	struct env *e = *state;
	char args[512];
	json_t *v = NULL;
	sesame_error err;

	tu_expect_error(act(e, NULL, "kv", "get", "{\"key\": \"\"}", &v, &err), &err, SESAME_MALFORMED, "key");
	tu_expect_error(act(e, NULL, "kv", "get", "{}", &v, &err), &err, SESAME_MALFORMED, "key");
	snprintf(args, sizeof(args), "{\"key\": \"%0256d\", \"value\": 1}", 0);
	tu_expect_error(act(e, NULL, "kv", "put", args, NULL, &err), &err, SESAME_MALFORMED, "key");
	tu_expect_error(act(e, NULL, "kv", "put", "{\"key\": \"k\"}", NULL, &err), &err, SESAME_USAGE, "usage");
	/* An entry that expired (at 1970-01-01T00:00:01) is invisible. */
	assert_int_equal(act(e, NULL, "kv", "put", "{\"key\": \"old\", \"value\": 1, \"expires\": 1}", NULL, &err),
			 SESAME_OK);
	tu_expect_error(act(e, NULL, "kv", "get", "{\"key\": \"old\"}", &v, &err), &err, SESAME_NOT_FOUND, "key");
	/* ... and does not block a create. */
	assert_int_equal(act(e, NULL, "kv", "put", "{\"key\": \"old\", \"value\": 2, \"create\": true}", NULL, &err),
			 SESAME_OK);
}

/* ---- kv_add: counters ------------------------------------------------------- */

static int add(struct env *e, const char *inst, const char *key, int64_t delta, int64_t limit, int64_t expires,
	       int64_t *value, sesame_error *err)
{
	sesame_instance *in = ctx_instance(e->ctx, inst);

	assert_non_null(in);
	return host_services.kv_add(in, key, delta, limit, expires, value, err);
}

static void test_kv_add(void **state)
{
	struct env *e = *state;
	int64_t n = -1, now = ctx_now(e->ctx);
	json_t *v = NULL;
	sesame_error err;
	char key[300];

	assert_true(SESAME_HAS_FIELD(struct sesame_host, kv_add, host_services.struct_size));
	assert_int_equal(SESAME_ABI_MINOR_OF(host_services.abi_version), 2);
	assert_int_equal(add(e, "kv", "c", 1, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(add(e, "kv", "c", 5, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 6);
	/* The value is an ordinary entry: kv_get reads it. */
	assert_int_equal(act(e, NULL, "kv", "get", "{\"key\": \"c\"}", &v, &err), SESAME_OK);
	assert_int_equal(json_integer_value(v), 6);
	json_decref(v);
	/* Never below zero. */
	assert_int_equal(add(e, "kv", "c", -10, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 0);
	/* Each instance counts apart. */
	assert_int_equal(add(e, "kv2", "c", 1, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 1);

	/* A limit refuses the step past it and writes nothing. */
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(add(e, "kv", "l", 1, 3, 0, &n, &err), SESAME_OK);
		assert_int_equal(n, i);
	}
	tu_expect_error(add(e, "kv", "l", 1, 3, 0, &n, &err), &err, SESAME_REJECTED, "limit");
	assert_int_equal(n, 3);
	assert_int_equal(add(e, "kv", "l", -1, 3, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 2);
	assert_int_equal(add(e, "kv", "l", 1, 3, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 3);

	/* A counter restarts once its expiry passes without a change. */
	assert_int_equal(add(e, "kv", "w", 1, 0, now + 100, &n, &err), SESAME_OK);
	assert_int_equal(add(e, "kv", "w", 1, 0, now + 100, &n, &err), SESAME_OK);
	assert_int_equal(n, 2);
	e->ctx->clock_offset += 101;
	assert_int_equal(add(e, "kv", "w", 1, 0, ctx_now(e->ctx) + 100, &n, &err), SESAME_OK);
	assert_int_equal(n, 1);

	/* Refusals, each changing nothing. */
	assert_int_equal(act(e, NULL, "kv", "put", "{\"key\": \"obj\", \"value\": {\"n\": 1}}", NULL, &err), SESAME_OK);
	tu_expect_error(add(e, "kv", "obj", 1, 0, 0, &n, &err), &err, SESAME_MALFORMED, "value");
	assert_int_equal(act(e, NULL, "kv", "get", "{\"key\": \"obj\"}", &v, &err), SESAME_OK);
	assert_true(json_is_object(v));
	json_decref(v);
	tu_expect_error(add(e, "kv", "", 1, 0, 0, &n, &err), &err, SESAME_MALFORMED, "key");
	memset(key, 'k', 256);
	key[256] = '\0';
	tu_expect_error(add(e, "kv", key, 1, 0, 0, &n, &err), &err, SESAME_MALFORMED, "key");
	tu_expect_error(add(e, "kv", "c", 1, 0, -1, &n, &err), &err, SESAME_USAGE, "usage");
	tu_expect_error(add(e, "kv", "c", 1, -1, 0, &n, &err), &err, SESAME_USAGE, "usage");
	tu_expect_error(add(e, "kv", "c", 1, 0, 0, NULL, &err), &err, SESAME_USAGE, "usage");
}

/* Expired entries do not pile up: kv_add deletes them now and then. */
static void test_kv_add_purges_expired_entries(void **state)
{
	struct env *e = *state;
	struct store *st;
	json_t *v = NULL;
	sesame_error err;
	char args[128];
	int64_t n;

	assert_int_equal(add(e, "kv", "first", 1, 0, 0, &n, &err), SESAME_OK);
	snprintf(args, sizeof(args), "{\"key\": \"stale\", \"value\": 1, \"expires\": %lld}",
		 (long long)ctx_now(e->ctx) + 10);
	assert_int_equal(act(e, NULL, "kv", "put", args, NULL, &err), SESAME_OK);
	assert_int_equal(ctx_store(e->ctx, &st, &err), SESAME_OK);
	/* The store still holds it (seen from before its expiry)... */
	e->ctx->clock_offset += 3601;
	assert_int_equal(st->desc->kv_get(st->h, NULL, "kv", "stale", 0, &v, &err), SESAME_OK);
	json_decref(v);
	/* ...until the next kv_add an hour later. */
	assert_int_equal(add(e, "kv", "second", 1, 0, 0, &n, &err), SESAME_OK);
	tu_expect_error(st->desc->kv_get(st->h, NULL, "kv", "stale", 0, &v, &err), &err, SESAME_NOT_FOUND, "key");
	/* Live entries stay. */
	assert_int_equal(st->desc->kv_get(st->h, NULL, "kv", "first", 0, &v, &err), SESAME_OK);
	json_decref(v);
}

struct adder {
	struct env *e;
	const char *key;
	int64_t limit;
	int ok, refused;
};

static void *add_in_thread(void *arg)
{
	struct adder *a = arg;
	sesame_error err;
	int64_t n;
	int i;

	for (i = 0; i < 5; i++) {
		int rc = add(a->e, "kv", a->key, 1, a->limit, 0, &n, &err);

		if (rc == SESAME_OK)
			a->ok++;
		else if (rc == SESAME_REJECTED && strcmp(err.reason, "limit") == 0)
			a->refused++;
		else
			fail_msg("kv_add: %s", err.text);
	}
	return NULL;
}

/* 100 threads adding at once lose no update, and a limit of 20 lets
 * exactly 20 through (a read-modify-write would lose updates). */
static void test_kv_add_parallel_exact(void **state)
{
	struct env *e = *state;
	struct adder free_run[20], limited[20];
	pthread_t t[40];
	int64_t n = 0;
	sesame_error err;
	int i, ok = 0, refused = 0;

	for (i = 0; i < 20; i++) {
		free_run[i] = (struct adder){e, "all", 0, 0, 0};
		limited[i] = (struct adder){e, "capped", 20, 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, add_in_thread, &free_run[i]), 0);
		assert_int_equal(pthread_create(&t[20 + i], NULL, add_in_thread, &limited[i]), 0);
	}
	for (i = 0; i < 40; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 20; i++) {
		assert_int_equal(free_run[i].ok, 5);
		ok += limited[i].ok;
		refused += limited[i].refused;
	}
	assert_int_equal(add(e, "kv", "all", 0, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 100);
	assert_int_equal(ok, 20);
	assert_int_equal(refused, 80);
	assert_int_equal(add(e, "kv", "capped", 0, 0, 0, &n, &err), SESAME_OK);
	assert_int_equal(n, 20);
}

static void test_kv_entry_bound_to_user_goes_with_it(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "ivy"), *v = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	char args[256];
	sesame_error err;

	tu_expect_error(act(e, NULL, "kv", "put",
			    "{\"key\": \"b\", \"value\": 1, \"user_id\": \"000000000000000000000000\"}", NULL, &err),
			&err, SESAME_NOT_FOUND, "user");
	snprintf(args, sizeof(args), "{\"key\": \"b\", \"value\": 1, \"user_id\": \"%s\"}", tu_member(s, "user_id"));
	assert_int_equal(act(e, NULL, "kv", "put", args, NULL, &err), SESAME_OK);
	assert_int_equal(sesame_user_delete(sys, tu_member(s, "user_id"), &err), SESAME_OK);
	tu_expect_error(act(e, NULL, "kv", "get", "{\"key\": \"b\"}", &v, &err), &err, SESAME_NOT_FOUND, "key");
	sesame_caller_free(sys);
	json_decref(s);
}

/* link_identity/unlink_identity: an identity the provider issues logs in
 * as the user it was linked to; a server user goes with its identity. */
static void test_link_and_unlink_identity(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "owner"), *owner = NULL, *server = NULL, *l, *user = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	char args[256];
	sesame_error err;

	snprintf(args, sizeof(args), "{\"key\": \"issued-1\", \"user_id\": \"%s\"}", tu_member(s, "user_id"));
	assert_int_equal(act(e, NULL, "kv", "link", args, &owner, &err), SESAME_OK);
	assert_string_equal(json_string_value(owner), tu_member(s, "user_id"));
	l = login(e, "kv", "issued-1");
	assert_string_equal(tu_member(l, "user_id"), tu_member(s, "user_id"));
	json_decref(l);
	/* Held already: a conflict, by this user or another. */
	tu_expect_error(act(e, NULL, "kv", "link", "{\"key\": \"issued-1\"}", &server, &err), &err, SESAME_CONFLICT,
			"linked");
	assert_int_equal(act(e, NULL, "kv", "unlink", "{\"key\": \"issued-1\"}", NULL, &err), SESAME_OK);
	tu_expect_error(act(e, NULL, "kv", "unlink", "{\"key\": \"issued-1\"}", NULL, &err), &err, SESAME_NOT_FOUND,
			"identity");
	assert_int_equal(sesame_user_get(sys, tu_member(s, "user_id"), &user, &err), SESAME_OK);
	assert_int_equal(json_array_size(json_object_get(user, "identities")), 1);
	json_decref(user);
	/* No user: a new server user, deleted when its identity goes. */
	assert_int_equal(act(e, NULL, "kv", "link", "{\"key\": \"issued-2\"}", &server, &err), SESAME_OK);
	assert_int_equal(sesame_user_get(sys, json_string_value(server), &user, &err), SESAME_OK);
	assert_string_equal(tu_member(user, "type"), "server");
	json_decref(user);
	assert_int_equal(act(e, NULL, "kv", "unlink", "{\"key\": \"issued-2\"}", NULL, &err), SESAME_OK);
	tu_expect_error(sesame_user_get(sys, json_string_value(server), &user, &err), &err, SESAME_NOT_FOUND, "user");
	/* No such user. */
	tu_expect_error(
	    act(e, NULL, "kv", "link", "{\"key\": \"x\", \"user_id\": \"000000000000000000000000\"}", NULL, &err), &err,
	    SESAME_NOT_FOUND, "user");
	json_decref(owner);
	json_decref(server);
	sesame_caller_free(sys);
	json_decref(s);
}

static void test_action_errors_and_caller(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "kim"), *out = NULL, *bad = json_array();
	sesame_caller *sys = sesame_caller_system(e->ctx), *kim = NULL;
	sesame_error err;

	tu_expect_error(act(e, NULL, "nope", "get", "{}", &out, &err), &err, SESAME_NOT_FOUND, "provider");
	tu_expect_error(act(e, NULL, "anon", "get", "{}", &out, &err), &err, SESAME_NOT_FOUND, "action");
	tu_expect_error(act(e, NULL, "kv", "frobnicate", "{}", &out, &err), &err, SESAME_NOT_FOUND, "action");
	tu_expect_error(act(e, NULL, "anon-short", "x", "{}", &out, &err), &err, SESAME_UNAVAILABLE, "provider");
	tu_expect_error(sesame_provider_action_as(e->ctx, NULL, "kv", "get", bad, &out, &err), &err, SESAME_MALFORMED,
			"args");
	/* No caller: a forged "caller" member is dropped. */
	assert_int_equal(act(e, NULL, "kv", "whoami", "{\"caller\": {\"system\": true}}", &out, &err), SESAME_OK);
	assert_true(json_is_null(out));
	json_decref(out);
	assert_int_equal(act(e, sys, "kv", "whoami", "{}", &out, &err), SESAME_OK);
	assert_true(json_is_true(json_object_get(out, "system")));
	json_decref(out);
	/* A user caller: the core says who, whatever the client claimed. */
	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(s, "access_token"), &kim, &err), SESAME_OK);
	assert_int_equal(act(e, kim, "kv", "whoami", "{\"caller\": {\"user_id\": \"someone-else\"}}", &out, &err),
			 SESAME_OK);
	assert_string_equal(tu_member(out, "user_id"), tu_member(s, "user_id"));
	assert_string_equal(tu_member(out, "type"), "normal");
	assert_true(json_is_false(json_object_get(out, "anonymous")));
	json_decref(out);
	json_decref(bad);
	sesame_caller_free(kim);
	sesame_caller_free(sys);
	json_decref(s);
}

static void test_anon_config_refused(void **state)
{
	struct env *e = *state;
	json_t *list = sesame_providers_json(e->ctx), *p, *cred = json_object(), *s = NULL;
	const char *name;
	sesame_error err;
	size_t i;
	int failed = 0;

	json_array_foreach (list, i, p) {
		name = json_string_value(json_object_get(p, "name"));
		if (strcmp(name, "anon-short") == 0) {
			assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
			assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "session_ttl"));
			failed++;
		} else if (strcmp(name, "anon-typo") == 0) {
			assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
			assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "unknown key \"ttl\""));
			failed++;
		}
	}
	assert_int_equal(failed, 2);
	tu_expect_error(sesame_login(e->ctx, "anon-typo", cred, NULL, &s, &err), &err, SESAME_UNAVAILABLE, "provider");
	json_decref(cred);
	json_decref(list);
}

static void test_anon_each_login_a_new_user_with_long_session(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "anon", NULL), *b = login(e, "anon", NULL), *f = login(e, "fix", "lea"), *user = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	const json_t *id;
	sesame_error err;
	const char *uid;

	assert_string_not_equal(tu_member(a, "user_id"), tu_member(b, "user_id"));
	/* The instance's session_ttl, not sessions.refresh_ttl (3600). */
	assert_int_equal(jwt_claim(tu_member(a, "refresh_token"), "exp") -
			     jwt_claim(tu_member(a, "refresh_token"), "iat"),
			 ANON_TTL);
	assert_int_equal(
	    jwt_claim(tu_member(f, "refresh_token"), "exp") - jwt_claim(tu_member(f, "refresh_token"), "iat"), 3600);
	/* The identity id carries 128 random bits. */
	assert_int_equal(sesame_user_get(sys, tu_member(a, "user_id"), &user, &err), SESAME_OK);
	id = json_array_get(json_object_get(user, "identities"), 0);
	assert_string_equal(tu_member(id, "provider_type"), "anon-user");
	uid = tu_member(id, "id");
	assert_int_equal(strlen(uid), 32);
	assert_int_equal(strspn(uid, "0123456789abcdef"), 32);
	json_decref(user);
	sesame_caller_free(sys);
	json_decref(a);
	json_decref(b);
	json_decref(f);
}

static void test_anon_logout_deletes_link_signs_up(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "anon", NULL), *b = login(e, "anon", NULL), *f = login(e, "fix", "max"), *out = NULL;
	json_t *cred = json_object(), *real = json_pack("{s:s}", "user", "signed-up");
	sesame_caller *sys = sesame_caller_system(e->ctx), *bc = NULL, *fc = NULL;
	sesame_error err;

	/* Logout deletes an anonymous user. */
	assert_int_equal(sesame_session_logout(e->ctx, tu_member(a, "refresh_token"), &err), SESAME_OK);
	tu_expect_error(sesame_user_get(sys, tu_member(a, "user_id"), &out, &err), &err, SESAME_NOT_FOUND, "user");
	/* An anonymous identity is never linked into an existing user. */
	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(f, "access_token"), &fc, &err), SESAME_OK);
	tu_expect_error(sesame_link(fc, tu_member(f, "user_id"), "anon", cred, &out, &err), &err, SESAME_REJECTED,
			"link-type");
	assert_string_equal(err.text, "linking an anonymous identity is not allowed");
	/* An anonymous user links a real identity: it signed up and stays. */
	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(b, "access_token"), &bc, &err), SESAME_OK);
	assert_int_equal(act(e, bc, "kv", "whoami", "{}", &out, &err), SESAME_OK);
	assert_true(json_is_true(json_object_get(out, "anonymous")));
	json_decref(out);
	assert_int_equal(sesame_link(bc, tu_member(b, "user_id"), "fix", real, &out, &err), SESAME_OK);
	json_decref(out);
	assert_int_equal(sesame_session_logout(e->ctx, tu_member(b, "refresh_token"), &err), SESAME_OK);
	assert_int_equal(sesame_user_get(sys, tu_member(b, "user_id"), &out, &err), SESAME_OK);
	json_decref(out);
	sesame_caller_free(sys);
	sesame_caller_free(bc);
	sesame_caller_free(fc);
	json_decref(cred);
	json_decref(real);
	json_decref(a);
	json_decref(b);
	json_decref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kv_put_get_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_refuses_bad_keys_and_hides_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_entry_bound_to_user_goes_with_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_add_purges_expired_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_add_parallel_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_action_errors_and_caller, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_and_unlink_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anon_config_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anon_each_login_a_new_user_with_long_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anon_logout_deletes_link_signs_up, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
