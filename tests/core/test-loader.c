/* SPDX-License-Identifier: MIT */
/* tests/core/test-loader.c — core/loader.c: which plugins load, which are
 * refused, and the reason each refusal gives. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

/* What a test logger saw: every line, "LEVEL message\n". */
struct captured {
	char text[4096];
	int warnings;
};

static void capture(void *data, int level, const char *message)
{
	struct captured *c = data;
	size_t used = strlen(c->text);

	c->warnings += level == SESAME_LOG_WARNING;
	snprintf(c->text + used, sizeof(c->text) - used, "%d %s\n", level, message);
}

static void expect_refusal(const char *dir, const char *type, const char *reason, const char *text_part)
{
	const struct sesame_provider *desc = (void *)1;
	sesame_error err;
	char *path = NULL;
	int rc;

	err_clear(&err);
	rc = loader_load_provider(dir, type, NULL, &desc, &path, &err);
	if (rc == SESAME_OK || strcmp(err.reason, reason) != 0 || !strstr(err.text, text_part))
		fail_msg("%s: expected refusal \"%s\" containing \"%s\", got %d \"%s\": %s", type, reason, text_part,
			 rc, err.reason, err.text);
	assert_int_equal(rc, SESAME_UNAVAILABLE);
	assert_null(desc);
	free(path);
}

static void test_good_plugin_loads(void **unused)
{
	const char *dir = tu_env("SESAME_TEST_FIXTURES");
	const struct sesame_provider *desc = NULL;
	struct captured seen = {"", 0};
	struct logger lg = {capture, &seen, SESAME_LOG_DEBUG};
	sesame_error err;
	char *path = NULL, *want = tu_path(dir, "fixture-good.so");

	assert_int_equal(loader_load_provider(dir, "fixture-good", &lg, &desc, &path, &err), SESAME_OK);
	/* Built with an export list: no warning about its symbols. */
	if (seen.warnings != 0)
		fail_msg("unexpected warning: %s", seen.text);
	assert_non_null(desc);
	assert_string_equal(desc->type, "fixture-good");
	assert_string_equal(path, want);
	assert_non_null(desc->action_as);
	free(path);
	free(want);
}

/* A plugin built without an export list still loads, with a warning that
 * names every extra symbol, and not the entry symbol or the toolchain's. */
static void test_extra_exports_warned(void **unused)
{
	const struct sesame_provider *desc = NULL;
	struct captured seen = {"", 0};
	struct logger lg = {capture, &seen, SESAME_LOG_DEBUG};
	sesame_error err;
	char *path = NULL;
	const char *list;

	assert_int_equal(
	    loader_load_provider(tu_env("SESAME_TEST_FIXTURES"), "fixture-extra-export", &lg, &desc, &path, &err),
	    SESAME_OK);
	assert_non_null(desc);
	assert_int_equal(seen.warnings, 1);
	if (!strstr(seen.text,
		    "fixture-extra-export.so: provider plugin exports 2 symbol(s) besides "
		    "sesame_provider_entry: "))
		fail_msg("no export warning naming the file and the count: %s", seen.text);
	list = strstr(seen.text, "sesame_provider_entry: ") + strlen("sesame_provider_entry: ");
	assert_non_null(strstr(list, "fixture_extra_helper"));
	assert_non_null(strstr(list, "fixture_extra_counter"));
	assert_null(strstr(seen.text, "_init"));
	assert_null(strstr(seen.text, "__bss_start"));
	assert_non_null(strstr(seen.text, "-fvisibility=hidden"));
	free(path);
}

/* Without a logger the loader does not look (and cannot warn). */
static void test_extra_exports_no_logger(void **unused)
{
	const struct sesame_provider *desc = NULL;
	sesame_error err;
	char *path = NULL;

	assert_int_equal(
	    loader_load_provider(tu_env("SESAME_TEST_FIXTURES"), "fixture-extra-export", NULL, &desc, &path, &err),
	    SESAME_OK);
	assert_non_null(desc);
	free(path);
}

static void test_old_smaller_struct_loads(void **unused)
{
	const struct sesame_provider *desc = NULL;
	sesame_error err;
	char *path = NULL;

	assert_int_equal(
	    loader_load_provider(tu_env("SESAME_TEST_FIXTURES"), "fixture-old-struct", NULL, &desc, &path, &err),
	    SESAME_OK);
	assert_true(desc->struct_size < sizeof(struct sesame_provider));
	/* The optional hooks lie beyond its struct_size: the guard says so. */
	assert_false(SESAME_HAS_FIELD(struct sesame_provider, action, desc->struct_size));
	assert_false(SESAME_HAS_FIELD(struct sesame_provider, user_deleted, desc->struct_size));
	free(path);
}

static void test_wrong_major_refused(void **unused)
{
	expect_refusal(tu_env("SESAME_TEST_FIXTURES"), "fixture-wrong-major", "abi", "ABI major 2");
}

static void test_too_small_refused(void **unused)
{
	expect_refusal(tu_env("SESAME_TEST_FIXTURES"), "fixture-too-small", "abi", "smaller than");
}

static void test_missing_entry_refused(void **unused)
{
	expect_refusal(tu_env("SESAME_TEST_FIXTURES"), "fixture-no-entry", "symbol", "sesame_provider_entry");
}

static void test_type_mismatch_refused(void **unused)
{
	expect_refusal(tu_env("SESAME_TEST_FIXTURES"), "fixture-type-mismatch", "descriptor", "does not match");
}

static void test_missing_file_refused(void **unused)
{
	expect_refusal(tu_env("SESAME_TEST_FIXTURES"), "no-such-provider", "file", "no-such-provider.so");
}

static void test_path_traversal_refused(void **unused)
{
	const struct sesame_provider *desc = NULL;
	sesame_error err;
	char *path = NULL;

	/* The file exists one level up, yet the name alone refuses it. */
	assert_int_equal(
	    loader_load_provider(tu_env("SESAME_TEST_FIXTURES"), "../.libs/fixture-good", NULL, &desc, &path, &err),
	    SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "name");
	assert_null(path);
	assert_int_equal(loader_load_provider(tu_env("SESAME_TEST_FIXTURES"), "Fixture-Good", NULL, &desc, &path, &err),
			 SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "name");
}

static void test_relative_dir_refused(void **unused)
{
	expect_refusal("tests/fixtures/.libs", "fixture-good", "path", "not an absolute path");
}

/* Copy a fixture into a fresh directory with the given modes. */
static char *staged_plugin_dir(const char *tag, mode_t dir_mode, mode_t file_mode)
{
	char *tmp = tu_tmpdir(tag), *dir = tu_mkdir(tmp, "plugins", 0755), *src, *dst, *cmd;
	size_t n;

	src = tu_path(tu_env("SESAME_TEST_FIXTURES"), "fixture-good.so");
	dst = tu_path(dir, "fixture-good.so");
	n = strlen(src) + strlen(dst) + 16;
	cmd = malloc(n);
	snprintf(cmd, n, "cp '%s' '%s'", src, dst);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	assert_int_equal(chmod(dst, file_mode), 0);
	assert_int_equal(chmod(dir, dir_mode), 0);
	free(cmd);
	free(src);
	free(dst);
	free(tmp);
	return dir;
}

static void test_world_writable_dir_refused(void **unused)
{
	char *dir = staged_plugin_dir("ww-dir", 0777, 0755);

	expect_refusal(dir, "fixture-good", "permissions", "writable by group or others");
	chmod(dir, 0755);
	free(dir);
}

static void test_group_writable_file_refused(void **unused)
{
	char *dir = staged_plugin_dir("gw-file", 0755, 0775);

	expect_refusal(dir, "fixture-good", "permissions", "fixture-good.so is writable");
	free(dir);
}

static void test_safe_copy_loads(void **unused)
{
	char *dir = staged_plugin_dir("safe", 0755, 0755);
	const struct sesame_provider *desc = NULL;
	sesame_error err;
	char *path = NULL;

	/* Same file name as the tree's fixture-good.so but another path: the
	 * loader loads it (dlopen by path), showing only the dir is trusted. */
	assert_int_equal(loader_load_provider(dir, "fixture-good", NULL, &desc, &path, &err), SESAME_OK);
	assert_non_null(desc);
	free(path);
	free(dir);
}

/* A plugin directory reached through a symbolic link is as trusted as the
 * link's target and every directory above it: here the target's parent is
 * world-writable, so others could swap the plugins.  The link itself must be
 * owned by root or sesame's user. */
static void test_symlinked_dir_checked_at_its_target(void **unused)
{
	char *dir = staged_plugin_dir("link-target", 0755, 0755), *parent = strdup(dir), *tmp = tu_tmpdir("link");
	char *link = tu_path(tmp, "plugins");
	const struct sesame_provider *desc = NULL;
	sesame_error err;
	char *path = NULL;

	*strrchr(parent, '/') = '\0';
	assert_int_equal(symlink(dir, link), 0);
	chmod(parent, 0777);
	expect_refusal(link, "fixture-good", "permissions", parent);
	chmod(parent, 0755);
	assert_int_equal(loader_load_provider(link, "fixture-good", NULL, &desc, &path, &err), SESAME_OK);
	free(path);
	if (geteuid() == 0) {
		assert_int_equal(lchown(link, 65534, 65534), 0);
		expect_refusal(link, "fixture-good", "permissions", "owned by uid 65534");
	}
	free(link);
	free(tmp);
	free(parent);
	free(dir);
}

static void test_type_names(void **unused)
{
	assert_true(util_valid_type_name("custom-token", 64));
	assert_true(util_valid_type_name("a", 64));
	assert_true(util_valid_type_name("oauth2_google", 64));
	assert_false(util_valid_type_name("", 64));
	assert_false(util_valid_type_name("-x", 64));
	assert_false(util_valid_type_name("_x", 64));
	assert_false(util_valid_type_name("a/b", 64));
	assert_false(util_valid_type_name("..", 64));
	assert_false(util_valid_type_name("a.so", 64));
	assert_false(util_valid_type_name("Upper", 64));
	assert_false(util_valid_type_name("abc", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_plugin_loads),
	    cmocka_unit_test(test_extra_exports_warned),
	    cmocka_unit_test(test_extra_exports_no_logger),
	    cmocka_unit_test(test_old_smaller_struct_loads),
	    cmocka_unit_test(test_wrong_major_refused),
	    cmocka_unit_test(test_too_small_refused),
	    cmocka_unit_test(test_missing_entry_refused),
	    cmocka_unit_test(test_type_mismatch_refused),
	    cmocka_unit_test(test_missing_file_refused),
	    cmocka_unit_test(test_path_traversal_refused),
	    cmocka_unit_test(test_relative_dir_refused),
	    cmocka_unit_test(test_world_writable_dir_refused),
	    cmocka_unit_test(test_group_writable_file_refused),
	    cmocka_unit_test(test_safe_copy_loads),
	    cmocka_unit_test(test_symlinked_dir_checked_at_its_target),
	    cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
