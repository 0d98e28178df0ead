/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-rules.c — the rules API of libsesame.so (core/rules.c):
 * rules_dirs in the configuration, who a decision may be asked for (a user
 * only for itself, never a disabled user), %%user read from the store at
 * each decision, rule directories that cannot be read failing closed, and
 * sesame_rules_match() on filters given by an application.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sesame/sesame.h>

#include "testutil.h"

struct env {
	char *dir, *main, *rules;
	sesame_ctx *ctx;
	sesame_caller *sys;
	char *alice, *bob; /* user ids */
};

static char *login(sesame_ctx *ctx, const char *who)
{
	json_t *cred = json_pack("{s:s}", "user", who), *session = NULL;
	sesame_error err;
	char *id;

	if (sesame_login(ctx, "fix", cred, NULL, &session, &err) != SESAME_OK)
		fail_msg("login %s: %s", who, err.text);
	id = strdup(json_string_value(json_object_get(session, "user_id")));
	json_decref(cred);
	json_decref(session);
	return id;
}

static sesame_ctx *configure(const char *main_path)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	assert_non_null(ctx);
	sesame_set_logger(ctx, NULL, NULL, 0);
	if (sesame_configure(ctx, main_path, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	return ctx;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char extra[1024];

	e->dir = tu_tmpdir("rules");
	e->rules = tu_mkdir(e->dir, "rules.d", 0755);
	snprintf(extra, sizeof(extra), "\"rules_dirs\": [\"%s\"], \"plugin_dir\": \"%s\"", e->rules,
		 tu_env("SESAME_TEST_FIXTURES"));
	{
		char text[4096], *state_dir = tu_mkdir(e->dir, "state", 0700), *drop = tu_path(e->dir, "providers.d");

		snprintf(
		    text, sizeof(text),
		    "{\"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\", \"test_mode\": true, "
		    "%s}\n",
		    tu_env("SESAME_TEST_STORES"), drop, state_dir, extra);
		e->main = tu_write(e->dir, "sesame.json", text, 0644);
		free(state_dir);
		free(drop);
	}
	free(tu_provider(e->dir, "fix", "{\"type\": \"fixture-good\"}"));
	free(
	    tu_write(e->rules, "app.notes.json",
		     "{\"roles\": [{\"name\": \"owner\", \"apply_when\": {\"owner\": \"%%user.id\"}, \"read\": true},\n"
		     " {\"name\": \"vip\", \"apply_when\": {\"%%user.custom_data.vip\": true}, \"read\": true}]}\n",
		     0644));
	e->ctx = configure(e->main);
	e->sys = sesame_caller_system(e->ctx);
	e->alice = login(e->ctx, "alice");
	e->bob = login(e->ctx, "bob");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_caller_free(e->sys);
	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->rules);
	free(e->alice);
	free(e->bob);
	free(e);
	return 0;
}

/* allowed of a read of {"owner": owner} by `user` as the system user asks. */
static int read_allowed(struct env *e, sesame_caller *caller, const char *user, const char *owner, sesame_error *err)
{
	json_t *doc = json_pack("{s:s}", "owner", owner), *d = NULL;
	int rc = sesame_rules_evaluate(caller, user, "app.notes", "read", doc, NULL, &d, err), allowed;

	json_decref(doc);
	if (rc != SESAME_OK)
		return -rc;
	allowed = json_is_true(json_object_get(d, "allowed"));
	json_decref(d);
	return allowed;
}

static void test_rules_dirs_config(void **state)
{
	struct env *e = *state;
	json_t *cfg = sesame_config_json(e->ctx, 0), *list = sesame_rules_json(e->ctx);
	char *bad, text[1024];
	sesame_ctx *ctx;
	sesame_error err;

	assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "rules_dirs"), 0)), e->rules);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "namespace")), "app.notes");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "state")), "ready");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "roles")), 2);
	json_decref(cfg);
	json_decref(list);
	/* A relative path is refused where it stands. */
	snprintf(text, sizeof(text), "{\"provider_dirs\": [],\n \"rules_dirs\": [\"/ok\", \"rules.d\"]}\n");
	bad = tu_write(e->dir, "bad.json", text, 0644);
	ctx = sesame_new();
	assert_int_equal(sesame_configure(ctx, bad, 0, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "path");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 24);
	sesame_free(ctx);
	free(bad);
}

static void test_who_may_ask(void **state)
{
	struct env *e = *state;
	sesame_caller *alice = NULL;
	json_t *session = NULL, *cred = json_pack("{s:s}", "user", "alice");
	sesame_error err;

	assert_int_equal(read_allowed(e, e->sys, e->alice, e->alice, &err), 1);
	assert_int_equal(read_allowed(e, e->sys, e->alice, e->bob, &err), 0);
	assert_int_equal(read_allowed(e, e->sys, NULL, e->bob, &err), 1); /* the system user itself */
	/* A user caller asks for itself only. */
	assert_int_equal(sesame_login(e->ctx, "fix", cred, NULL, &session, &err), SESAME_OK);
	assert_int_equal(sesame_caller_from_access_token(
			     e->ctx, json_string_value(json_object_get(session, "access_token")), &alice, &err),
			 SESAME_OK);
	assert_int_equal(read_allowed(e, alice, NULL, e->alice, &err), 1);
	assert_int_equal(read_allowed(e, alice, e->bob, e->bob, &err), -SESAME_REJECTED);
	assert_string_equal(err.reason, "forbidden");
	/* %%user is read from the store at each decision: custom data counts at once. */
	assert_int_equal(read_allowed(e, alice, NULL, e->bob, &err), 0);
	{
		json_t *cd = json_pack("{s:b}", "vip", 1);

		assert_int_equal(sesame_user_custom_data_set(e->sys, e->alice, cd, &err), SESAME_OK);
		json_decref(cd);
	}
	assert_int_equal(read_allowed(e, alice, NULL, e->bob, &err), 1);
	/* A disabled user gets no decision; an unknown one neither. */
	assert_int_equal(sesame_user_set_disabled(e->sys, e->alice, 1, &err), SESAME_OK);
	assert_int_equal(read_allowed(e, e->sys, e->alice, e->alice, &err), -SESAME_REJECTED);
	assert_string_equal(err.reason, "disabled");
	assert_int_equal(read_allowed(e, e->sys, "0123456789abcdef01234567", e->alice, &err), -SESAME_NOT_FOUND);
	/* No caller at all. */
	assert_int_equal(read_allowed(e, NULL, NULL, e->alice, &err), -SESAME_USAGE);
	sesame_caller_free(alice);
	json_decref(session);
	json_decref(cred);
}

static void test_unreadable_rules_fail_closed(void **state)
{
	struct env *e = *state;
	char text[4096], *main_path, *file = tu_write(e->dir, "not-a-dir", "x", 0644),
				     *state_dir = tu_path(e->dir, "state");
	char *drop = tu_path(e->dir, "providers.d");
	json_t *list, *doc = json_object(), *d = NULL;
	sesame_ctx *ctx;
	sesame_caller *sys;
	sesame_error err;

	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\", "
		 "\"rules_dirs\": [\"%s\", \"%s\"]}\n",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), drop, state_dir, e->rules, file);
	main_path = tu_write(e->dir, "broken.json", text, 0644);
	ctx = configure(main_path);
	list = sesame_rules_json(ctx);
	assert_true(json_is_null(json_object_get(json_array_get(list, 0), "namespace")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "state")), "failed");
	sys = sesame_caller_system(ctx);
	/* Every user is denied, with the reason; the system user is not. */
	assert_int_equal(sesame_rules_evaluate(sys, e->alice, "app.notes", "read", doc, NULL, &d, &err), SESAME_OK);
	assert_true(json_is_false(json_object_get(d, "allowed")));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "not-a-dir"));
	json_decref(d);
	assert_int_equal(sesame_rules_filter(sys, e->alice, "app.notes", "read", &d, &err), SESAME_OK);
	assert_non_null(json_object_get(d, "error"));
	json_decref(d);
	assert_int_equal(sesame_rules_evaluate(sys, NULL, "app.notes", "read", doc, NULL, &d, &err), SESAME_OK);
	assert_true(json_is_true(json_object_get(d, "allowed")));
	json_decref(d);
	sesame_caller_free(sys);
	sesame_free(ctx);
	json_decref(list);
	json_decref(doc);
	free(main_path);
	free(file);
	free(state_dir);
	free(drop);
}

static int match(const char *filter, const char *doc, sesame_error *err)
{
	json_t *f = json_loads(filter, 0, NULL), *d = json_loads(doc, 0, NULL);
	int m = -1, rc;

	assert_non_null(f);
	assert_non_null(d);
	rc = sesame_rules_match(f, d, &m, err);
	json_decref(f);
	json_decref(d);
	return rc == SESAME_OK ? m : -rc;
}

static void test_match(void **state)
{
	sesame_error err;
	char deep[512] = "";
	size_t i;

	(void)state;
	assert_int_equal(match("{}", "{}", &err), 1);
	assert_int_equal(match("{\"_id\": {\"$in\": []}}", "{\"_id\": 1}", &err), 0);
	assert_int_equal(match("{\"a\": 1}", "{\"a\": [1, 2]}", &err), 1);
	/* MongoDB's equality, not the rule language's: a value array is a value. */
	assert_int_equal(match("{\"a\": [1, 2]}", "{\"a\": 1}", &err), 0);
	assert_int_equal(match("{\"a\": {\"$in\": [[1, 2], 1]}}", "{\"a\": 1}", &err), 1);
	assert_int_equal(match("{\"a\": null}", "{}", &err), 1);
	assert_int_equal(match("{\"a\": {\"$ne\": 1}}", "{}", &err), 1);
	assert_int_equal(match("{\"$nor\": [{\"a\": 1}]}", "{\"a\": 2}", &err), 1);
	assert_int_equal(match("{\"$or\": [{\"a\": 1}, {\"b\": {\"$gt\": 2}}]}", "{\"b\": [1, 3]}", &err), 1);
	assert_int_equal(match("{\"s\": {\"$elemMatch\": {\"$in\": [\"x\"]}}}", "{\"s\": [\"y\", \"x\"]}", &err), 1);
	assert_int_equal(match("{\"s\": {\"$elemMatch\": {\"$in\": [\"x\"]}}}", "{\"s\": \"x\"}", &err), 0);
	assert_int_equal(match("{\"a.b\": {\"$exists\": true}}", "{\"a\": [{\"c\": 1}, {\"b\": 2}]}", &err), 1);
	/* A value starting with %% is a plain string in a filter. */
	assert_int_equal(match("{\"a\": \"%%user.id\"}", "{\"a\": \"%%user.id\"}", &err), 1);
	/* Bad filters: refused, never a crash. */
	assert_int_equal(match("{\"a\": {\"$where\": 1}}", "{}", &err), -SESAME_MALFORMED);
	assert_string_equal(err.reason, "operator");
	assert_int_equal(match("{\"a\": {\"%gt\": 1}}", "{}", &err), -SESAME_MALFORMED);
	assert_int_equal(match("{\"$and\": {}}", "{}", &err), -SESAME_MALFORMED);
	assert_int_equal(match("{\"a\": {\"$gt\": {}}}", "{}", &err), -SESAME_MALFORMED);
	assert_int_equal(match("[1]", "{}", &err), -SESAME_MALFORMED);
	assert_int_equal(match("{}", "[1]", &err), -SESAME_MALFORMED);
	for (i = 0; i < 40; i++)
		strcat(deep, "{\"$and\": [");
	strcat(deep, "{}");
	for (i = 0; i < 40; i++)
		strcat(deep, "]}");
	assert_int_equal(match(deep, "{}", &err), -SESAME_MALFORMED);
	assert_string_equal(err.reason, "depth");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rules_dirs_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_who_may_ask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_rules_fail_closed, setup, teardown),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
