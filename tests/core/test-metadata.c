/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-metadata.c — core/metadata.c: dot paths and their
 * escapes, field_name, required fields, the 4096-character limit, default
 * sets and keep-everything, string coercion of the standard fields and the
 * picture under both names; and the configuration errors of a drop-in's
 * metadata_fields, each with its position.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

static void quiet_fn(void *data, int level, const char *message)
{
	(void)data;
	(void)level;
	(void)message;
}

static const struct logger quiet = {quiet_fn, NULL, SESAME_LOG_DEBUG};

/* A spec from {name, field_name or NULL, required} triples. */
static struct metadata_spec *spec_of(size_t n, const char *const *names, const char *const *field_names,
				     const bool *required)
{
	struct metadata_spec *spec = calloc(1, sizeof(*spec));
	sesame_error err;
	size_t i;

	assert_non_null(spec);
	spec->fields = calloc(n + 1, sizeof(*spec->fields));
	assert_non_null(spec->fields);
	for (i = 0; i < n; i++) {
		if (metadata_field_init(&spec->fields[i], names[i], field_names[i], required[i], &err) != SESAME_OK)
			fail_msg("%s: %s", names[i], err.text);
		spec->n++;
	}
	return spec;
}

static json_t *keep_ok(const struct metadata_spec *spec, const char *const *defaults, const char *data)
{
	json_t *in = json_loads(data, JSON_REJECT_DUPLICATES, NULL), *out = NULL;
	sesame_error err;

	assert_non_null(in);
	if (metadata_keep(spec, defaults, in, &quiet, "test", &out, &err) != SESAME_OK)
		fail_msg("metadata_keep: %s", err.text);
	json_decref(in);
	return out;
}

static void assert_json(const json_t *v, const char *expect)
{
	json_t *e = json_loads(expect, 0, NULL);

	assert_non_null(e);
	if (!json_equal(v, e)) {
		char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("got %s, expected %s", got, expect);
	}
	json_decref(e);
}

static void test_paths_field_names_and_escapes(void **state)
{
	const char *names[] = {"profile.name", "https://example\\.com/roles", "a\\\\b", "deep.x.y", "email"};
	const char *fnames[] = {NULL, "roles", NULL, "why", "mail"};
	const bool req[] = {false, false, false, false, false};
	struct metadata_spec *spec = spec_of(5, names, fnames, req);
	json_t *out;

	(void)state;
	assert_string_equal(spec->fields[0].name, "name");
	assert_int_equal(spec->fields[1].depth, 1);
	assert_string_equal(spec->fields[1].path[0], "https://example.com/roles");
	assert_string_equal(spec->fields[2].path[0], "a\\b");
	out = keep_ok(spec, NULL,
		      "{\"profile\": {\"name\": \"Ada\", \"age\": 36}, \"https://example.com/roles\": [\"a\", \"b\"],"
		      " \"a\\\\b\": 1, \"deep\": {\"x\": {\"y\": {\"z\": true}}}, \"email\": \"e@x\", \"other\": 1}");
	assert_json(out,
		    "{\"name\": \"Ada\", \"roles\": [\"a\", \"b\"], \"a\\\\b\": 1, \"why\": {\"z\": true},"
		    " \"mail\": \"e@x\"}");
	json_decref(out);
	/* A path through a non-object, or to null, is simply absent. */
	out = keep_ok(spec, NULL, "{\"profile\": \"flat\", \"deep\": {\"x\": [1]}, \"email\": null}");
	assert_json(out, "{}");
	json_decref(out);
	metadata_spec_free(spec);
}

static void test_required_and_length(void **state)
{
	const char *names[] = {"email", "bio"};
	const char *fnames[] = {NULL, NULL};
	const bool req[] = {true, false};
	struct metadata_spec *spec = spec_of(2, names, fnames, req);
	char *big = malloc(4200), *text = malloc(4400);
	json_t *in, *out = NULL;
	sesame_error err;

	(void)state;
	memset(big, 'b', 4097);
	big[4097] = '\0';
	/* Missing required: refused, naming the field; nothing returned. */
	in = json_pack("{s:s}", "bio", "hi");
	assert_int_equal(metadata_keep(spec, NULL, in, &quiet, "test", &out, &err), SESAME_REJECTED);
	assert_string_equal(err.reason, "claim");
	assert_non_null(strstr(err.text, "\"email\""));
	assert_null(out);
	json_decref(in);
	/* An optional value over 4096 characters is left out... */
	in = json_pack("{s:s, s:s}", "email", "e@x", "bio", big);
	assert_int_equal(metadata_keep(spec, NULL, in, &quiet, "test", &out, &err), SESAME_OK);
	assert_json(out, "{\"email\": \"e@x\"}");
	json_decref(out);
	json_decref(in);
	/* ...a required one refuses; 4096 characters are fine, counted as
	 * characters, not bytes. */
	in = json_pack("{s:s}", "email", big);
	assert_int_equal(metadata_keep(spec, NULL, in, &quiet, "test", &out, &err), SESAME_REJECTED);
	assert_non_null(strstr(err.text, "4096"));
	json_decref(in);
	memset(text, 0, 4400);
	for (size_t i = 0; i < 4096; i++)
		strcat(text, i < 100 ? "\xc3\xa9" : "e");
	in = json_pack("{s:s}", "email", text);
	assert_int_equal(metadata_keep(spec, NULL, in, &quiet, "test", &out, &err), SESAME_OK);
	json_decref(out);
	json_decref(in);
	free(big);
	free(text);
	metadata_spec_free(spec);
}

static void test_defaults_and_keep_all(void **state)
{
	static const char *const defaults[] = {"name", "email", NULL};
	static const char *const none[] = {NULL};
	const char *data = "{\"name\": \"Ada\", \"email\": \"e@x\", \"locale\": \"en\", \"nested\": {\"a\": 1}}";
	json_t *out;

	(void)state;
	out = keep_ok(NULL, defaults, data);
	assert_json(out, "{\"name\": \"Ada\", \"email\": \"e@x\"}");
	json_decref(out);
	out = keep_ok(NULL, none, data);
	assert_json(out, "{}");
	json_decref(out);
	/* No default set (plugins before ABI 1.2): everything. */
	out = keep_ok(NULL, NULL, data);
	assert_json(out, data);
	json_decref(out);
	/* A default set names top-level members, never paths. */
	{
		static const char *const dotted[] = {"nested.a", NULL};

		out = keep_ok(NULL, dotted, data);
		assert_json(out, "{}");
		json_decref(out);
	}
}

static void test_standard_fields_are_strings(void **state)
{
	json_t *out;

	(void)state;
	out = keep_ok(NULL, NULL,
		      "{\"min_age\": 21, \"max_age\": 1.5, \"gender\": true, \"birthday\": [1815, 12, 10],"
		      " \"name\": {\"first\": \"Ada\"}, \"age\": 36, \"email\": \"e@x\"}");
	assert_json(out,
		    "{\"min_age\": \"21\", \"max_age\": \"1.5\", \"gender\": \"true\", \"birthday\": "
		    "\"[1815,12,10]\", \"name\": \"{\\\"first\\\":\\\"Ada\\\"}\", \"age\": 36, \"email\": \"e@x\"}");
	json_decref(out);
}

static void test_picture_under_both_names(void **state)
{
	const char *names[] = {"avatar"};
	const char *fnames[] = {"picture_url"};
	const bool req[] = {false};
	struct metadata_spec *spec = spec_of(1, names, fnames, req);
	json_t *out;

	(void)state;
	out = keep_ok(NULL, NULL, "{\"picture\": \"https://p/1.png\"}");
	assert_json(out, "{\"picture\": \"https://p/1.png\", \"picture_url\": \"https://p/1.png\"}");
	json_decref(out);
	out = keep_ok(spec, NULL, "{\"avatar\": \"https://p/2.png\"}");
	assert_json(out, "{\"picture\": \"https://p/2.png\", \"picture_url\": \"https://p/2.png\"}");
	json_decref(out);
	/* Both given: each keeps its own. */
	out = keep_ok(NULL, NULL, "{\"picture\": \"a\", \"picture_url\": \"b\"}");
	assert_json(out, "{\"picture\": \"a\", \"picture_url\": \"b\"}");
	json_decref(out);
	metadata_spec_free(spec);
}

static void test_bad_paths(void **state)
{
	const char *bad[] = {".a", "a.", "a..b", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"};
	struct metadata_field f;
	sesame_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (metadata_field_init(&f, bad[i], NULL, false, &err) != SESAME_CONFIG)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_string_equal(err.reason, "path");
		assert_null(f.path);
	}
	assert_int_equal(metadata_field_init(&f, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", NULL, false, &err), SESAME_OK);
	assert_int_equal(f.depth, 16);
	assert_string_equal(f.name, "p");
	metadata_field_clear(&f);
}

/* ---- configuration ------------------------------------------------------- */

/* A drop-in whose loading must fail with `reason` at LINE:COL. */
static void drop_fails(struct tu_tree *e, const char *content, const char *reason, int line, int col)
{
	char *p = tu_write(e->drop, "a.json", content, 0644), where[4200];
	struct config cfg;
	sesame_error err;

	assert_int_equal(config_load(&cfg, e->main, 0, &quiet, &err), SESAME_CONFIG);
	if (strcmp(err.reason, reason) != 0)
		fail_msg("reason %s, expected %s: %s", err.reason, reason, err.text);
	snprintf(where, sizeof(where), "%s:%d:%d: ", p, line, col);
	if (strncmp(err.text, where, strlen(where)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err.text, where);
	config_free(&cfg);
	unlink(p);
	free(p);
}

static void test_config_errors(void **state)
{
	struct tu_tree *e = *state;
	char *p, many[8192];
	struct config cfg;
	sesame_error err;
	size_t i, n;

	drop_fails(e, "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"name\": \"a..b\"}]}", "path", 2, 23);
	drop_fails(e, "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"name\": \"\"}]}", "type", 2, 23);
	drop_fails(e, "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"field_name\": \"x\"}]}", "type", 2, 22);
	drop_fails(e,
		   "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"name\": \"a\",\n"
		   " \"field_name\": \"0123456789012345678901234567890123456789012345678901234567890123\"}]}",
		   "type", 3, 2);
	drop_fails(e, "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"name\": \"a\", \"required\": 1}]}",
		   "type", 2, 36);
	/* Two fields under one name. */
	drop_fails(e,
		   "{\"type\": \"fixture-good\",\n \"metadata_fields\": [{\"name\": \"x.email\"},\n"
		   " {\"name\": \"mail\", \"field_name\": \"email\"}]}",
		   "duplicate", 3, 19);
	drop_fails(e, "{\"type\": \"fixture-good\",\n \"metadata_fields\": {\"name\": \"a\"}}", "type", 2, 2);
	/* More than 64 fields. */
	n = (size_t)snprintf(many, sizeof(many), "{\"type\": \"fixture-good\", \"metadata_fields\": [");
	for (i = 0; i < 65; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{\"name\": \"f%zu\"}", i ? ", " : "", i);
	snprintf(many + n, sizeof(many) - n, "]}");
	drop_fails(e, many, "type", 1, 26);
	/* 64 good ones load, parsed. */
	n = (size_t)snprintf(many, sizeof(many), "{\"type\": \"fixture-good\", \"metadata_fields\": [");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{\"name\": \"f.x%zu\", \"required\": true}",
				      i ? ", " : "", i);
	snprintf(many + n, sizeof(many) - n, "]}");
	p = tu_write(e->drop, "a.json", many, 0644);
	if (config_load(&cfg, e->main, 0, &quiet, &err) != SESAME_OK)
		fail_msg("%s", err.text);
	assert_non_null(cfg.providers[0].metadata);
	assert_int_equal(cfg.providers[0].metadata->n, 64);
	assert_string_equal(cfg.providers[0].metadata->fields[63].name, "x63");
	assert_true(cfg.providers[0].metadata->fields[63].required);
	config_free(&cfg);
	unlink(p);
	free(p);
}

/* The plugin's init() never sees the key: the fixture refuses unknown keys. */
static void test_plugin_config_never_sees_the_key(void **state)
{
	struct tu_tree *e = *state;
	sesame_ctx *ctx = sesame_new();
	json_t *list, *id = NULL, *cred = json_pack("{s:s}", "user", "ann");
	sesame_error err;

	free(
	    tu_write(e->drop, "fix.json",
		     "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"hi\"},"
		     " \"metadata_fields\": [{\"name\": \"greeting\", \"field_name\": \"hello\", \"required\": true}]}",
		     0644));
	sesame_set_logger(ctx, quiet_fn, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("%s", err.text);
	list = sesame_providers_json(ctx);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "state")), "ready");
	json_decref(list);
	assert_int_equal(sesame_verify_credential(ctx, "fix", cred, &id, &err), SESAME_OK);
	assert_json(json_object_get(id, "data"), "{\"hello\": \"hi\"}");
	json_decref(id);
	json_decref(cred);
	sesame_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths_field_names_and_escapes),
	    cmocka_unit_test(test_required_and_length),
	    cmocka_unit_test(test_defaults_and_keep_all),
	    cmocka_unit_test(test_standard_fields_are_strings),
	    cmocka_unit_test(test_picture_under_both_names),
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test_setup_teardown(test_config_errors, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_plugin_config_never_sees_the_key, tu_tree_setup, tu_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
