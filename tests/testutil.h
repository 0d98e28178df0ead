/* SPDX-License-Identifier: MIT */
/*
 * tests/testutil.h — helpers shared by sesame's test programs: temporary
 * directories under the build tree, files, and test configurations.
 * Every helper aborts the test program on failure (tests are not the place
 * for error handling of the harness itself).
 */
#ifndef SESAME_TESTUTIL_H
#define SESAME_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <sesame/common.h>

/* An environment variable set by the test harness (Makefile.am's
 * AM_TESTS_ENVIRONMENT); aborts when missing. */
const char *tu_env(const char *name);

/* A fresh private directory (mode 0700) under $SESAME_TEST_TMPDIR, named
 * after `tag`.  Free with free(); remove with tu_rmrf(). */
char *tu_tmpdir(const char *tag);

/* "dir/name", malloc'd. */
char *tu_path(const char *dir, const char *name);

/* Write `content` to dir/name with `mode`, creating parent directories
 * (0755) as needed.  Returns the full path, malloc'd. */
char *tu_write(const char *dir, const char *name, const char *content, mode_t mode);
/* tu_write() of `len` bytes, NUL bytes included. */
char *tu_write_bytes(const char *dir, const char *name, const void *content, size_t len, mode_t mode);

/* mkdir -p dir/name with `mode`; returns the path, malloc'd. */
char *tu_mkdir(const char *dir, const char *name, mode_t mode);

/*
 * The programs sesame runs (mailers, custom-function programs) run as
 * "nobody", sesame's default programs.user, when the tests run as root,
 * else as the tests' own user.  tu_program_dir() makes `dir` enterable by
 * that user (mode 0755, so it can run the programs kept there) and returns
 * dir/name, a new directory that user owns and may write (its reports).
 * tu_program_uid() is that user's uid.
 */
char *tu_program_dir(const char *dir, const char *name);
uid_t tu_program_uid(void);

/* Recursively remove a directory tree. NULL is allowed. */
void tu_rmrf(const char *path);

/* Copy the file `src` to `dst` (replaced), mode `mode`. */
void tu_copy_file(const char *src, const char *dst, mode_t mode);
/* Copy plugin `type` (TYPE.so) from directory `from` into directory `to`,
 * so real plugins and fixtures load side by side from one plugin_dir. */
void tu_copy_plugin(const char *from, const char *to, const char *type);

/* A sesame_log_fn that drops every message (for tests that provoke errors
 * on purpose). */
void tu_log_quiet(void *data, int level, const char *msg);

/*
 * Write dir/sesame.json: plugin_dir = `plugin_dir`, store_dir =
 * $SESAME_TEST_STORES, provider_dirs = [dir/providers.d], state_dir =
 * dir/state (created 0700), plus the members of `extra` (a JSON object text
 * without braces, e.g. "\"app_id\": \"x\"", or NULL).  Returns the path,
 * malloc'd.
 */
char *tu_main_config_at(const char *dir, const char *plugin_dir, const char *extra);

/* tu_main_config_at() with plugin_dir = $SESAME_TEST_PLUGINS and
 * test_mode true besides `extra`. */
char *tu_main_config(const char *dir, const char *extra);

/*
 * A bare configuration tree: `dir` (tu_tmpdir(tag)), its drop-in directory
 * `drop` (dir/providers.d) and `main` (dir/sesame.json) naming
 * `plugin_dir`, the drop-in directory and `dir` as the state directory,
 * nothing else.  tu_tree_clear() removes the directory and frees the paths.
 */
struct tu_tree {
	char *dir, *main, *drop;
};
void tu_tree_init(struct tu_tree *t, const char *tag, const char *plugin_dir);
void tu_tree_clear(struct tu_tree *t);

/* cmocka setup and teardown of a struct tu_tree in *state, with the test
 * fixtures' plugin directory ($SESAME_TEST_FIXTURES). */
int tu_tree_setup(void **state);
int tu_tree_teardown(void **state);

/* Write drop/NAME.json of the tree with `content`. */
void tu_tree_drop(const struct tu_tree *t, const char *name, const char *content);

/* Write dir/providers.d/NAME.json with `content`; returns the path. */
char *tu_provider(const char *dir, const char *name, const char *content);

/* Run a command through /bin/sh, capturing stdout and stderr (malloc'd,
 * NUL-terminated; either pointer may be NULL).  Returns the exit status,
 * or 128+signal. */
int tu_run(const char *cmd, char **out, char **err);

/* ---- tests/testsesame.c: for the programs that link libsesame ---- */

/* A new context with tu_log_quiet, configured from `main_file`; fails the
 * test when the configuration is refused. */
struct sesame_ctx *tu_context(const char *main_file);

/* Fail the test unless `rc` is `status` with `err->reason` equal to `reason`, saying
 * what came instead. */
void tu_expect_error(int rc, const sesame_error *err, int status, const char *reason);

/* The string member `key` of `o`; fails the test when there is none. */
const char *tu_member(const json_t *o, const char *key);

#endif
