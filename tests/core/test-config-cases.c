/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-config-cases.c — the data-driven suite of invalid
 * configurations: every folder of tests/config/invalid/ is one test, made
 * of a main file (sesame.json) or provider drop-ins (providers.d/NAME.json)
 * and the error config_load() must give (expect.json: {"reason", "file"
 * relative to the folder, "line", "column", "text": a part of the
 * message}).  Adding a bad configuration is adding a folder.
 *
 * The files are copied into a temporary directory first (0644 files, 0755
 * directories), so a checkout's umask does not decide what the loader's
 * trust checks think of them.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct config_case {
	char *src;  /* the case's folder */
	char *name;
};

static struct logger quiet = {NULL, NULL, SESAME_LOG_ERR - 1};

/* The contents of `path` (NUL-terminated; `*len` bytes before the
 * terminator, NUL bytes included), or NULL when there is no such file. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	assert_non_null(buf);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Copy the regular files of `from` into `to` (created 0755), 0644 each. */
static void copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;

	assert_non_null(d);
	assert_true(mkdir(to, 0755) == 0);
	assert_int_equal(chmod(to, 0755), 0);
	while ((de = readdir(d)) != NULL) {
		char *src, *text;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		src = tu_path(from, de->d_name);
		text = slurp(src, &len);
		assert_non_null(text);
		free(tu_write_bytes(to, de->d_name, text, len, 0644));
		free(text);
		free(src);
	}
	closedir(d);
}

static void run_case(void **state)
{
	const struct config_case *c = *state;
	char *tmp = tu_tmpdir("config-case"), *main_src = tu_path(c->src, "sesame.json");
	char *drop_src = tu_path(c->src, "providers.d"), *exp_path = tu_path(c->src, "expect.json");
	size_t text_len = 0;
	char *text = slurp(main_src, &text_len), *exp_text = slurp(exp_path, NULL), *main_file, *file, where[600];
	json_t *expect;
	struct config cfg;
	sesame_error err;
	struct stat st;
	int rc;

	if (!exp_text)
		fail_msg("%s: no expect.json", c->name);
	expect = json_loads(exp_text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(expect) || !json_is_string(json_object_get(expect, "reason")) ||
	    !json_is_string(json_object_get(expect, "file")) || !json_is_string(json_object_get(expect, "text")))
		fail_msg("%s: expect.json must be {\"reason\", \"file\", \"line\", \"column\", \"text\"}", c->name);
	if (text) {
		main_file = tu_write_bytes(tmp, "sesame.json", text, text_len, 0644);
	} else {
		char *drops = tu_path(tmp, "providers.d"), mainj[1024];

		snprintf(mainj, sizeof(mainj), "{\"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\"}", drops, tmp);
		main_file = tu_write(tmp, "sesame.json", mainj, 0644);
		free(drops);
	}
	if (stat(drop_src, &st) == 0) {
		char *to = tu_path(tmp, "providers.d");

		copy_dir(drop_src, to);
		free(to);
	}
	err_clear(&err);
	rc = config_load(&cfg, main_file, 0, &quiet, &err);
	file = tu_path(tmp, json_string_value(json_object_get(expect, "file")));
	if (rc != SESAME_CONFIG || strcmp(err.reason, json_string_value(json_object_get(expect, "reason"))) != 0)
		fail_msg("%s: expected CONFIG/%s, got %s/%s: %s", c->name,
			 json_string_value(json_object_get(expect, "reason")), sesame_status_name(rc), err.reason,
			 err.text);
	if (strcmp(err.source, file) != 0)
		fail_msg("%s: the error names %s, expected %s", c->name, err.source, file);
	if (err.line != json_integer_value(json_object_get(expect, "line")) ||
	    err.column != json_integer_value(json_object_get(expect, "column")))
		fail_msg("%s: the error is at %d:%d, expected %d:%d (%s)", c->name, err.line, err.column,
			 (int)json_integer_value(json_object_get(expect, "line")),
			 (int)json_integer_value(json_object_get(expect, "column")), err.text);
	/* A positioned error starts with FILE:LINE:COL, as every message does. */
	if (err.line) {
		snprintf(where, sizeof(where), "%s:%d:%d: ", file, err.line, err.column);
		if (strncmp(err.text, where, strlen(where)) != 0)
			fail_msg("%s: message \"%s\" does not start with \"%s\"", c->name, err.text, where);
	}
	if (!strstr(err.text, json_string_value(json_object_get(expect, "text"))))
		fail_msg("%s: message \"%s\" lacks \"%s\"", c->name, err.text,
			 json_string_value(json_object_get(expect, "text")));
	/* Nothing half-loaded is left behind. */
	assert_int_equal(cfg.n_providers, 0);
	assert_null(cfg.providers);
	json_decref(expect);
	tu_rmrf(tmp);
	free(tmp);
	free(main_src);
	free(drop_src);
	free(exp_path);
	free(text);
	free(exp_text);
	free(main_file);
	free(file);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char *root = tu_path(tu_env("SESAME_TEST_SRCDIR"), "tests/config/invalid"), **names = NULL;
	struct CMUnitTest *tests;
	struct config_case *cases;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d = opendir(root);
	int failed;

	if (!d) {
		fprintf(stderr, "test-config-cases: cannot open %s\n", root);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	tests = calloc(n, sizeof(*tests));
	cases = calloc(n, sizeof(*cases));
	for (i = 0; i < n; i++) {
		cases[i].name = names[i];
		cases[i].src = tu_path(root, names[i]);
		tests[i].name = names[i];
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	failed = _cmocka_run_group_tests("config/invalid", tests, n, NULL, NULL);
	for (i = 0; i < n; i++) {
		free(cases[i].src);
		free(names[i]);
	}
	free(names);
	free(cases);
	free(tests);
	free(root);
	return failed ? 1 : 0;
}
