/* SPDX-License-Identifier: MIT */
/* tests/core/test-context.c — the application API of core/context.c through
 * libsesame.so: configuring, failing closed, verifying credentials. */
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
	struct tu_tree t;
	char logs[8192];
};

static void collect(void *data, int level, const char *message)
{
	struct env *e = data;
	size_t used = strlen(e->logs);

	snprintf(e->logs + used, sizeof(e->logs) - used, "%d %s\n", level, message);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	tu_tree_init(&e->t, "context", tu_env("SESAME_TEST_FIXTURES"));
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tu_tree_clear(&e->t);
	free(e);
	return 0;
}

static sesame_ctx *configure_ok(struct env *e)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	assert_non_null(ctx);
	sesame_set_logger(ctx, collect, e, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, e->t.main, 0, &err) != SESAME_OK)
		fail_msg("sesame_configure: %s", err.text);
	return ctx;
}

static json_t *provider_entry(sesame_ctx *ctx, const char *name)
{
	json_t *list = sesame_providers_json(ctx), *p, *found = NULL;
	size_t i;

	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			found = json_incref(p);
	json_decref(list);
	return found;
}

static void test_verify_through_plugin(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *cred, *id = NULL;
	sesame_error err;

	tu_tree_drop(&e->t, "fix", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"hi\"}}");
	ctx = configure_ok(e);
	cred = json_pack("{s:s}", "user", "alice");
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "alice");
	assert_string_equal(json_string_value(json_object_get(id, "provider")), "fix");
	assert_string_equal(json_string_value(json_object_get(id, "provider_type")), "fixture-good");
	assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "greeting")), "hi");
	assert_true(json_is_object(json_object_get(id, "private")));
	json_decref(id);
	json_decref(cred);
	sesame_free(ctx);
}

static void test_provider_answers_pass_through(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *cred, *id = (void *)1;
	sesame_error err;

	tu_tree_drop(&e->t, "fix", "{\"type\": \"fixture-good\"}");
	ctx = configure_ok(e);
	cred = json_pack("{s:s}", "user", "");
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_REJECTED);
	assert_null(id);
	assert_string_equal(err.reason, "user");
	assert_string_equal(err.source, "fix");
	json_decref(cred);
	cred = json_pack("{s:i}", "user", 1);
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_MALFORMED);
	json_decref(cred);
	/* A credential must be an object before any plugin sees it. */
	cred = json_string("alice");
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_MALFORMED);
	assert_string_equal(err.reason, "credential");
	json_decref(cred);
	sesame_free(ctx);
}

static void test_core_rechecks_identity(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *cred, *id = (void *)1;
	sesame_error err;

	tu_tree_drop(&e->t, "fix", "{\"type\": \"fixture-good\"}");
	ctx = configure_ok(e);
	cred = json_pack("{s:s}", "user", "bad-identity");
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_INTERNAL);
	assert_string_equal(err.reason, "identity");
	assert_null(id);
	json_decref(cred);
	sesame_free(ctx);
}

static void test_unknown_and_disabled_provider(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *cred = json_pack("{s:s}", "user", "alice"), *id = NULL, *p;
	sesame_error err;

	tu_tree_drop(&e->t, "on", "{\"type\": \"fixture-good\"}");
	tu_tree_drop(&e->t, "off", "{\"type\": \"fixture-good\", \"disabled\": true}");
	ctx = configure_ok(e);
	assert_int_equal(sesame_verify_credential(ctx, "nope", cred, &id, &err), SESAME_NOT_FOUND);
	assert_string_equal(err.reason, "provider");
	assert_int_equal(sesame_verify_credential(ctx, "off", cred, &id, &err), SESAME_NOT_FOUND);
	p = provider_entry(ctx, "off");
	assert_string_equal(json_string_value(json_object_get(p, "state")), "disabled");
	assert_false(json_is_true(json_object_get(p, "enabled")));
	json_decref(p);
	json_decref(cred);
	sesame_free(ctx);
}

static void test_broken_plugin_fails_closed_others_work(void **state)
{
	struct env *e = *state;
	const char *broken[] = {"fixture-wrong-major", "fixture-no-entry", "fixture-init-fails", "fixture-too-small",
				"no-such-type"};
	const char *why[] = {"ABI major", "sesame_provider_entry", "fixture refuses to start", "smaller than",
			     "file not found"};
	json_t *cred = json_pack("{s:s}", "user", "bob"), *id = NULL, *p;
	sesame_ctx *ctx;
	sesame_error err;
	size_t i;

	tu_tree_drop(&e->t, "works", "{\"type\": \"fixture-good\"}");
	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		char name[32], text[128];

		snprintf(name, sizeof(name), "broken%zu", i);
		snprintf(text, sizeof(text), "{\"type\": \"%s\"}", broken[i]);
		tu_tree_drop(&e->t, name, text);
	}
	ctx = configure_ok(e);
	assert_int_equal(sesame_verify_credential(ctx, "works", cred, &id, &err), SESAME_OK);
	json_decref(id);
	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "broken%zu", i);
		id = NULL;
		assert_int_equal(sesame_verify_credential(ctx, name, cred, &id, &err), SESAME_UNAVAILABLE);
		assert_null(id);
		if (!strstr(err.text, why[i]))
			fail_msg("%s: \"%s\" lacks \"%s\"", name, err.text, why[i]);
		p = provider_entry(ctx, name);
		assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
		/* The message names the file. */
		assert_non_null(strstr(json_string_value(json_object_get(p, "error")), broken[i]));
		json_decref(p);
		/* ...and it was logged as an error. */
		assert_non_null(strstr(e->logs, name));
	}
	json_decref(cred);
	sesame_free(ctx);
}

static void test_old_struct_plugin_works(void **state)
{
	struct env *e = *state;
	json_t *cred = json_pack("{s:s}", "user", "carol"), *id = NULL;
	sesame_ctx *ctx;
	sesame_error err;

	tu_tree_drop(&e->t, "old", "{\"type\": \"fixture-old-struct\"}");
	ctx = configure_ok(e);
	assert_int_equal(sesame_verify_credential(ctx, "old", cred, &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "carol");
	json_decref(id);
	json_decref(cred);
	sesame_free(ctx);
}

/* The names in an instance's "capabilities", comma-separated. */
static void assert_caps_listed(sesame_ctx *ctx, const char *name, const char *expect)
{
	json_t *p = provider_entry(ctx, name), *c;
	char got[256] = "";
	size_t i;

	assert_non_null(p);
	assert_true(json_is_array(json_object_get(p, "capabilities")));
	json_array_foreach (json_object_get(p, "capabilities"), i, c) {
		size_t used = strlen(got);

		snprintf(got + used, sizeof(got) - used, "%s%s", i ? "," : "", json_string_value(c));
	}
	assert_string_equal(got, expect);
	json_decref(p);
}

static void expect_caps(sesame_ctx *ctx, const char *name, int status, unsigned expect)
{
	unsigned caps = 0xdeadu;
	sesame_error err;

	assert_int_equal(sesame_provider_capabilities(ctx, name, &caps, &err), status);
	assert_int_equal(caps, expect);
	if (status != SESAME_OK)
		assert_string_equal(err.reason, "provider");
}

/* Capabilities come from the descriptor, only when its struct_size covers
 * the field (the old fixture has garbage where the field would be), without
 * the bits this core does not know, and an anonymous provider is never
 * linked. */
static void test_capabilities(void **state)
{
	struct env *e = *state;
	const char *found = NULL;
	sesame_ctx *ctx;
	sesame_error err;

	tu_tree_drop(&e->t, "b-caps", "{\"type\": \"fixture-caps\"}");
	tu_tree_drop(&e->t, "a-caps", "{\"type\": \"fixture-caps\"}");
	tu_tree_drop(&e->t, "old", "{\"type\": \"fixture-old-struct\"}");
	tu_tree_drop(&e->t, "plain", "{\"type\": \"fixture-good\"}");
	tu_tree_drop(&e->t, "guest", "{\"type\": \"anon-user\"}");
	tu_tree_drop(&e->t, "off", "{\"type\": \"fixture-caps\", \"disabled\": true}");
	tu_tree_drop(&e->t, "broken", "{\"type\": \"fixture-caps\", \"config\": {\"typo\": 1}}");
	tu_tree_drop(&e->t, "unloadable", "{\"type\": \"fixture-wrong-major\"}");
	ctx = configure_ok(e);
	expect_caps(ctx, "a-caps", SESAME_OK, SESAME_PROVIDER_CAP_ONE_PER_USER | SESAME_PROVIDER_CAP_API_KEYS);
	expect_caps(ctx, "old", SESAME_OK, 0);
	expect_caps(ctx, "plain", SESAME_OK, 0);
	expect_caps(ctx, "guest", SESAME_OK, SESAME_PROVIDER_CAP_ANONYMOUS | SESAME_PROVIDER_CAP_NO_LINK);
	/* An instance whose init failed is still what it is (its operations
	 * answer unavailable); one whose plugin never loaded is nothing. */
	expect_caps(ctx, "broken", SESAME_OK, SESAME_PROVIDER_CAP_ONE_PER_USER | SESAME_PROVIDER_CAP_API_KEYS);
	expect_caps(ctx, "unloadable", SESAME_OK, 0);
	expect_caps(ctx, "off", SESAME_NOT_FOUND, 0);
	expect_caps(ctx, "nope", SESAME_NOT_FOUND, 0);
	assert_int_equal(sesame_provider_capabilities(ctx, NULL, NULL, &err), SESAME_USAGE);
	assert_caps_listed(ctx, "a-caps", "one-per-user,api-keys");
	assert_caps_listed(ctx, "guest", "anonymous,no-link");
	assert_caps_listed(ctx, "old", "");
	assert_caps_listed(ctx, "off", "");
	/* The first enabled instance by name that has them all. */
	assert_int_equal(sesame_provider_find(ctx, SESAME_PROVIDER_CAP_API_KEYS, &found, &err), SESAME_OK);
	assert_string_equal(found, "a-caps");
	assert_int_equal(sesame_provider_find(ctx, SESAME_PROVIDER_CAP_ANONYMOUS, &found, &err), SESAME_OK);
	assert_string_equal(found, "guest");
	assert_int_equal(
	    sesame_provider_find(ctx, SESAME_PROVIDER_CAP_ANONYMOUS | SESAME_PROVIDER_CAP_API_KEYS, &found, &err),
	    SESAME_NOT_FOUND);
	assert_null(found);
	assert_string_equal(err.reason, "provider");
	assert_string_equal(err.text, "no enabled provider has the capabilities anonymous,api-keys");
	assert_int_equal(sesame_provider_find(ctx, SESAME_PROVIDER_CAP_WEB_REDIRECT, &found, &err), SESAME_NOT_FOUND);
	assert_int_equal(sesame_provider_find(ctx, 0, &found, &err), SESAME_USAGE);
	sesame_free(ctx);
}

static void test_no_enabled_provider_refused(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	sesame_set_logger(ctx, collect, e, SESAME_LOG_DEBUG);
	assert_int_equal(sesame_configure(ctx, e->t.main, 0, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "no-provider");
	assert_non_null(strstr(err.text, "no enabled provider"));
	assert_null(sesame_providers_json(ctx));
	sesame_free(ctx);

	tu_tree_drop(&e->t, "off", "{\"type\": \"fixture-good\", \"disabled\": true}");
	ctx = sesame_new();
	sesame_set_logger(ctx, collect, e, SESAME_LOG_DEBUG);
	assert_int_equal(sesame_configure(ctx, e->t.main, 0, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "no-provider");
	sesame_free(ctx);

	/* Enabled but none could start: refusing beats serving nobody. */
	tu_tree_drop(&e->t, "bad", "{\"type\": \"fixture-init-fails\"}");
	ctx = sesame_new();
	sesame_set_logger(ctx, collect, e, SESAME_LOG_DEBUG);
	assert_int_equal(sesame_configure(ctx, e->t.main, 0, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "no-provider");
	assert_non_null(strstr(err.text, "could be started"));
	sesame_free(ctx);
}

static void test_init_config_error_reported(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *p;

	tu_tree_drop(&e->t, "ok", "{\"type\": \"fixture-good\"}");
	tu_tree_drop(&e->t, "typo", "{\"type\": \"fixture-good\", \"config\": {\"greting\": \"x\"}}");
	ctx = configure_ok(e);
	p = provider_entry(ctx, "typo");
	assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
	assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "greting"));
	assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "typo.json"));
	json_decref(p);
	sesame_free(ctx);
}

static void test_configure_twice_and_misuse(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	sesame_error err;
	json_t *id = NULL;

	tu_tree_drop(&e->t, "fix", "{\"type\": \"fixture-good\"}");
	ctx = configure_ok(e);
	assert_int_equal(sesame_configure(ctx, e->t.main, 0, &err), SESAME_USAGE);
	assert_int_equal(sesame_verify_credential(ctx, "fix", NULL, &id, &err), SESAME_USAGE);
	sesame_free(ctx);
	sesame_free(NULL);
	assert_int_equal(sesame_configure(NULL, e->t.main, 0, &err), SESAME_USAGE);
	assert_string_equal(sesame_status_name(SESAME_REJECTED), "rejected");
	assert_string_equal(sesame_status_name(99), "unknown");
	assert_non_null(sesame_version());
}

static void test_config_json_shows_sources(void **state)
{
	struct env *e = *state;
	sesame_ctx *ctx;
	json_t *cfg, *prov;

	tu_tree_drop(&e->t, "fix", "{\"type\": \"fixture-good\", \"metadata_fields\": [{\"name\": \"email\"}]}");
	ctx = configure_ok(e);
	cfg = sesame_config_json(ctx, 0);
	prov = json_object_get(json_object_get(cfg, "providers"), "fix");
	assert_non_null(prov);
	assert_non_null(strstr(json_string_value(json_object_get(prov, "source")), "providers.d/fix.json"));
	assert_true(json_is_array(json_object_get(prov, "metadata_fields")));
	assert_string_equal(json_string_value(json_object_get(cfg, "config_file")), e->t.main);
	json_decref(cfg);
	sesame_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_verify_through_plugin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_provider_answers_pass_through, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_core_rechecks_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_and_disabled_provider, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_plugin_fails_closed_others_work, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_old_struct_plugin_works, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_enabled_provider_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_config_error_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configure_twice_and_misuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_json_shows_sources, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
