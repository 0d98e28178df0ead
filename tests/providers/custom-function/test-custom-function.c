/* SPDX-License-Identifier: MIT */
/* tests/providers/custom-function/test-custom-function.c — the custom-function provider through
 * libsesame and the sesame CLI, with tests/providers/custom-function/cf-program.sh as the
 * program: identities, refusals, timeouts, output limits, credentials
 * that reach the program as data on stdin alone (shell syntax, NUL,
 * leading dashes), descendants that try to outlive the program, the
 * unprivileged user programs run as, and untrusted program paths. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sesame/sesame.h"
#include "testutil.h"

struct env {
	char *dir, *main, *drop, *plugins, *program;
	char *box;     /* where the program, as its own user, writes its reports */
	int leaked_fd; /* opened without O_CLOEXEC: the program must not see it */
	sesame_ctx *ctx;
};

static void drop_in(struct env *e, const char *name, const char *config)
{
	char text[4096];

	snprintf(text, sizeof(text), "{\"type\": \"custom-function\", \"config\": %s}", config);
	free(tu_provider(e->dir, name, text));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096], path[1024];

	e->dir = tu_tmpdir("custom-function");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->plugins = tu_mkdir(e->dir, "plugins", 0755);
	snprintf(path, sizeof(path), "%s/custom-function.so", tu_env("SESAME_TEST_PLUGINS"));
	snprintf(text, sizeof(text), "%s/custom-function.so", e->plugins);
	tu_copy_file(path, text, 0755);
	snprintf(path, sizeof(path), "%s/tests/providers/custom-function/cf-program.sh", tu_env("SESAME_TEST_SRCDIR"));
	e->program = tu_path(e->dir, "cf-program.sh");
	tu_copy_file(path, e->program, 0755);
	e->box = tu_program_dir(e->dir, "box");
	e->leaked_fd = open("/dev/null", O_RDONLY);
	assert_true(e->leaked_fd > 2);
	snprintf(
	    text, sizeof(text),
	    "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
	    " \"app_id\": \"test-app\"}",
	    e->plugins, tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	snprintf(text, sizeof(text), "{\"command\": [\"%s\", \"%s\", \"%d\"], \"timeout\": 1}", e->program, e->box,
		 e->leaked_fd);
	drop_in(e, "cf", text);
	/* Started with a program that is removed afterwards. */
	snprintf(path, sizeof(path), "%s/vanishing.sh", e->dir);
	tu_copy_file(e->program, path, 0755);
	snprintf(text, sizeof(text), "{\"command\": [\"%s\"]}", path);
	drop_in(e, "cf-vanished", text);
	drop_in(e, "cf-missing", "{\"command\": [\"/nonexistent/sesame-test-program\"]}");
	drop_in(e, "cf-relative", "{\"command\": [\"bin/true\"]}");
	drop_in(e, "cf-shell-string", "{\"command\": \"/bin/true --x\"}");
	drop_in(e, "cf-typo", "{\"command\": [\"/bin/true\"], \"timout\": 3}");
	drop_in(e, "cf-timeout", "{\"command\": [\"/bin/true\"], \"timeout\": 0}");
	drop_in(e, "cf-user", "{\"command\": [\"/bin/true\"], \"user\": \"nobody\"}");
	e->ctx = tu_context(e->main);
	unlink(path);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	close(e->leaked_fd);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->drop);
	free(e->plugins);
	free(e->program);
	free(e->box);
	free(e);
	return 0;
}

/* Verify `credential` (JSON text) with instance `name`. */
static int verify(struct env *e, const char *name, const char *credential, json_t **identity, sesame_error *err)
{
	json_t *cred = json_loads(credential, 0, NULL);
	int rc;

	assert_non_null(cred);
	rc = sesame_verify_credential(e->ctx, name, cred, identity, err);
	json_decref(cred);
	if (rc != SESAME_OK)
		assert_null(*identity);
	return rc;
}

static void test_identity_forms(void **state)
{
	struct env *e = *state;
	json_t *id = NULL, *session = NULL, *cred = json_pack("{s:s}", "mode", "ok");
	sesame_error err;

	assert_int_equal(verify(e, "cf", "{\"mode\": \"ok\"}", &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "u-ok");
	assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "name")), "Ann");
	assert_string_equal(json_string_value(json_object_get(id, "provider_type")), "custom-function");
	json_decref(id);
	assert_int_equal(verify(e, "cf", "{\"mode\": \"plain\"}", &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "plain-id");
	json_decref(id);
	/* A login is a user like any other. */
	assert_int_equal(sesame_login(e->ctx, "cf", cred, NULL, &session, &err), SESAME_OK);
	assert_non_null(json_object_get(session, "refresh_token"));
	json_decref(session);
	json_decref(cred);
}

static void test_nonzero_exit_rejected_with_clean_first_line(void **state)
{
	struct env *e = *state;
	json_t *id = NULL;
	sesame_error err;

	tu_expect_error(verify(e, "cf", "{\"mode\": \"exit\"}", &id, &err), &err, SESAME_REJECTED, "rejected");
	/* The first line only, control characters removed. */
	assert_non_null(strstr(err.text, "bad password"));
	assert_null(strstr(err.text, "second"));
	assert_null(strchr(err.text, '\001'));
	assert_null(strchr(err.text, '\033'));
	tu_expect_error(verify(e, "cf", "{\"mode\": \"silent-exit\"}", &id, &err), &err, SESAME_REJECTED, "rejected");
	assert_non_null(strstr(err.text, "refused the credential"));
}

static void test_bad_output_rejected(void **state)
{
	static const char *const modes[] = {"huge", "extra", "badjson", "longid", "emptyid", "unknown"};
	struct env *e = *state;
	char cred[64];
	json_t *id = NULL;
	sesame_error err;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(cred, sizeof(cred), "{\"mode\": \"%s\"}", modes[i]);
		tu_expect_error(verify(e, "cf", cred, &id, &err), &err, SESAME_REJECTED, "output");
	}
}

static void test_signal_and_missing_program_unavailable(void **state)
{
	struct env *e = *state;
	json_t *id = NULL;
	sesame_error err;

	tu_expect_error(verify(e, "cf", "{\"mode\": \"signal\"}", &id, &err), &err, SESAME_UNAVAILABLE, "program");
	assert_non_null(strstr(err.text, "signal 9"));
	/* A program missing at start stops the instance (see the bad
	 * configurations); one removed later fails each login closed. */
	tu_expect_error(verify(e, "cf-missing", "{}", &id, &err), &err, SESAME_UNAVAILABLE, "provider");
	assert_non_null(strstr(err.text, "No such file"));
	tu_expect_error(verify(e, "cf-vanished", "{}", &id, &err), &err, SESAME_UNAVAILABLE, "file");
	assert_non_null(strstr(err.text, "vanishing.sh"));
}

/* True once process `pid` is gone or a zombie (bounded wait). */
static bool process_ended(pid_t pid)
{
	char path[64], *stat = NULL, cmd[128];
	int i;

	for (i = 0; i < 1000; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return true;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		snprintf(cmd, sizeof(cmd), "cut -d' ' -f3 %s 2>/dev/null", path);
		if (tu_run(cmd, &stat, NULL) == 0 && stat && stat[0] == 'Z') {
			free(stat);
			return true;
		}
		free(stat);
		stat = NULL;
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
	}
	return false;
}

static void test_timeout_kills_the_process_group(void **state)
{
	struct env *e = *state;
	json_t *id = NULL;
	sesame_error err;
	char *pidfile = tu_path(e->box, "grandchild.pid"), cmd[1100], *text = NULL;

	tu_expect_error(verify(e, "cf", "{\"mode\": \"hang\"}", &id, &err), &err, SESAME_UNAVAILABLE, "timeout");
	/* The program's own child (sleep 30, holding stdout) was killed too. */
	snprintf(cmd, sizeof(cmd), "cat '%s'", pidfile);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	assert_true(process_ended((pid_t)strtol(text, NULL, 10)));
	free(text);
	free(pidfile);
}

/* A grandchild that calls setsid() and is orphaned by a double fork leaves
 * the program's process group, which the old clean-up killed; it must be
 * gone, not a zombie, when the login returns. */
static void test_escaped_descendant_is_killed(void **state)
{
	struct env *e = *state;
	char *pidfile = tu_path(e->box, "escaped.pid"), cmd[1100], *text = NULL;
	json_t *id = NULL;
	sesame_error err;
	pid_t pid;
	bool gone = false;
	int i;

	assert_int_equal(verify(e, "cf", "{\"mode\": \"escape\"}", &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "escaped");
	json_decref(id);
	snprintf(cmd, sizeof(cmd), "cat '%s'", pidfile);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	pid = (pid_t)strtol(text, NULL, 10);
	assert_true(pid > 1);
	/* Bounded: the supervisor reaps it before the call returns, so the
	 * first look should already find nothing. */
	for (i = 0; i < 250 && !gone; i++) {
		gone = kill(pid, 0) != 0 && errno == ESRCH;
		if (!gone)
			nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
	}
	if (!gone)
		kill(pid, SIGKILL); /* leave nothing behind on failure either */
	assert_true(gone);
	free(text);
	free(pidfile);
}

/* The database the programs must not read is there: "state=denied" is then
 * a refusal, not a missing file. */
static void assert_db_exists(const struct env *e)
{
	char *db = tu_path(e->dir, "state/sesame.db");

	assert_int_equal(access(db, R_OK), 0);
	free(db);
}

/* As root, the program runs as the unprivileged programs.user ("nobody" by
 * default), in "/", without supplementary groups, and cannot read the
 * database in the state directory, which holds the signing key. */
static void test_program_runs_unprivileged(void **state)
{
	struct env *e = *state;
	json_t *id = NULL, *session = NULL, *cred = json_pack("{s:s}", "mode", "ok");
	char expected[256];
	sesame_error err;

	/* A login first, so that the database and the signing key in it exist. */
	assert_int_equal(sesame_login(e->ctx, "cf", cred, NULL, &session, &err), SESAME_OK);
	json_decref(session);
	json_decref(cred);
	assert_db_exists(e);
	assert_int_equal(verify(e, "cf", "{\"mode\": \"whoami\"}", &id, &err), SESAME_OK);
	if (geteuid() != 0) {
		json_decref(id);
		print_message("not root: sesame cannot switch users, the program's uid is not checked\n");
		skip();
	}
	snprintf(expected, sizeof(expected), "uid=%u gid=%u groups=%u cwd=/ state=denied", (unsigned)tu_program_uid(),
		 (unsigned)getpwuid(tu_program_uid())->pw_gid, (unsigned)getpwuid(tu_program_uid())->pw_gid);
	assert_string_equal(json_string_value(json_object_get(id, "id")), expected);
	json_decref(id);
}

/* programs.user of sesame.json chooses the programs' user, and an instance's
 * own "user" wins over it; never root. */
static void test_configured_program_user(void **state)
{
	struct env *e = *state;
	char text[4096], expected[256];
	struct passwd *pw;
	unsigned daemon_uid = 0, daemon_gid = 0, bin_uid = 0, bin_gid = 0;
	json_t *id = NULL, *list, *p, *cred, *session = NULL;
	sesame_error err;
	size_t i;

	/* getpwnam() answers in one static buffer: copy before the next call. */
	if ((pw = getpwnam("daemon")) != NULL) {
		daemon_uid = (unsigned)pw->pw_uid;
		daemon_gid = (unsigned)pw->pw_gid;
	}
	if ((pw = getpwnam("bin")) != NULL) {
		bin_uid = (unsigned)pw->pw_uid;
		bin_gid = (unsigned)pw->pw_gid;
	}
	if (geteuid() != 0 || daemon_uid == 0 || bin_uid == 0) {
		print_message("not root (or no daemon/bin users): programs cannot switch users, not checked\n");
		skip();
	}
	snprintf(
	    text, sizeof(text),
	    "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
	    " \"app_id\": \"test-app\", \"programs\": {\"user\": \"daemon\"}}",
	    e->plugins, tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	free(tu_write(e->dir, "sesame.json", text, 0644));
	snprintf(text, sizeof(text), "{\"command\": [\"%s\", \"%s\"], \"user\": \"bin\"}", e->program, e->box);
	drop_in(e, "cf-bin", text);
	drop_in(e, "cf-root", "{\"command\": [\"/bin/true\"], \"user\": \"root\"}");
	sesame_free(e->ctx);
	e->ctx = tu_context(e->main);
	/* A login first, so that the database (which holds the signing key) exists. */
	cred = json_pack("{s:s}", "mode", "ok");
	assert_int_equal(sesame_login(e->ctx, "cf", cred, NULL, &session, &err), SESAME_OK);
	json_decref(session);
	json_decref(cred);
	assert_db_exists(e);
	assert_int_equal(verify(e, "cf", "{\"mode\": \"whoami\"}", &id, &err), SESAME_OK);
	snprintf(expected, sizeof(expected), "uid=%u gid=%u groups=%u cwd=/ state=denied", daemon_uid, daemon_gid,
		 daemon_gid);
	assert_string_equal(json_string_value(json_object_get(id, "id")), expected);
	json_decref(id);
	assert_int_equal(verify(e, "cf-bin", "{\"mode\": \"whoami\"}", &id, &err), SESAME_OK);
	snprintf(expected, sizeof(expected), "uid=%u gid=%u groups=%u cwd=/ state=denied", bin_uid, bin_gid, bin_gid);
	assert_string_equal(json_string_value(json_object_get(id, "id")), expected);
	json_decref(id);
	list = sesame_providers_json(e->ctx);
	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), "cf-root") == 0) {
			assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
			assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "unprivileged"));
		}
	json_decref(list);
}

/* A program others could replace is never run. */
static void test_untrusted_program_refused(void **state)
{
	struct env *e = *state;
	char *open_dir = tu_mkdir(e->dir, "open", 0755), *prog = tu_path(open_dir, "p.sh"), text[2048];
	json_t *list, *p;
	size_t i, seen = 0;

	tu_copy_file(e->program, prog, 0755);
	chmod(open_dir, 0777);
	snprintf(text, sizeof(text), "{\"command\": [\"%s\"]}", prog);
	drop_in(e, "cf-open-dir", text);
	snprintf(text, sizeof(text), "{\"command\": [\"%s\"]}", e->program);
	drop_in(e, "cf-open-file", text);
	chmod(e->program, 0775);
	sesame_free(e->ctx);
	e->ctx = tu_context(e->main);
	list = sesame_providers_json(e->ctx);
	json_array_foreach (list, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *error = json_string_value(json_object_get(p, "error"));

		if (strcmp(name, "cf-open-dir") != 0 && strcmp(name, "cf-open-file") != 0 && strcmp(name, "cf") != 0)
			continue;
		seen++;
		assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
		assert_non_null(error);
		if (strcmp(name, "cf-open-dir") == 0) {
			assert_non_null(strstr(error, open_dir));
			assert_non_null(strstr(error, "(mode 0777)"));
		} else {
			/* The message may be cut short by long test paths. */
			assert_non_null(strstr(error, e->program));
			assert_non_null(strstr(error, "writable by group"));
		}
	}
	assert_int_equal(seen, 3);
	json_decref(list);
	free(prog);
	free(open_dir);
}

/* A credential full of shell syntax reaches the program as data on stdin
 * only; argv and environment are the configured ones. */
static void test_shell_syntax_credential_stays_on_stdin(void **state)
{
	static const char cred[] = "{\"mode\":\"dump\",\"token\":\"; id $(id) `id`\\n-rf --x\\u0000tail\"}";
	struct env *e = *state;
	json_t *id = NULL, *v = json_loads(cred, JSON_ALLOW_NUL, NULL);
	char *dump_path = tu_path(e->box, "dump.txt"), cmd[1100], *dump = NULL, *line, *save, expected[256];
	sesame_error err;
	int args = 0;

	assert_non_null(v);
	assert_int_equal(sesame_verify_credential(e->ctx, "cf", v, &id, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(id, "id")), "dumped");
	json_decref(id);
	json_decref(v);
	snprintf(cmd, sizeof(cmd), "cat '%s'", dump_path);
	assert_int_equal(tu_run(cmd, &dump, NULL), 0);
	line = strtok_r(dump, "\n", &save);
	/* Line 1: stdin, the credential as compact JSON, escapes intact. */
	assert_string_equal(line, cred);
	snprintf(expected, sizeof(expected), "%d", e->leaked_fd);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		assert_null(strstr(line, "id $("));
		assert_null(strstr(line, "uid="));
		if (strncmp(line, "argc=", 5) == 0)
			assert_string_equal(line, "argc=2");
		else if (strncmp(line, "arg=", 4) == 0)
			assert_string_equal(line + 4, args++ == 0 ? e->box : expected);
		else if (strncmp(line, "env:", 4) == 0)
			/* Only what sesame sets, and what sh itself adds. */
			assert_true(strncmp(line, "env:SESAME_", 11) == 0 || strncmp(line, "env:PATH=", 9) == 0 ||
				    strncmp(line, "env:PWD=", 8) == 0 || strncmp(line, "env:SHLVL=", 10) == 0 ||
				    strncmp(line, "env:_=", 6) == 0 || strncmp(line, "env:OLDPWD", 10) == 0);
		else
			fail_msg("unexpected dump line (an inherited descriptor?): %s", line);
	}
	assert_int_equal(args, 2);
	free(dump);
	assert_int_equal(tu_run("true", &dump, NULL), 0);
	free(dump);
	snprintf(cmd, sizeof(cmd), "grep -c '^env:SESAME_' '%s'", dump_path);
	assert_int_equal(tu_run(cmd, &dump, NULL), 0);
	assert_string_equal(dump, "3\n");
	free(dump);
	snprintf(cmd, sizeof(cmd), "grep -x 'env:SESAME_PROVIDER=cf' '%s' && grep -x 'env:SESAME_APP_ID=test-app' '%s'",
		 dump_path, dump_path);
	assert_int_equal(tu_run(cmd, &dump, NULL), 0);
	free(dump);
	free(dump_path);
}

static void test_bad_configurations_refused(void **state)
{
	static const struct {
		const char *name, *text;
	} bad[] = {
	    {"cf-relative", "absolute path"}, {"cf-shell-string", "array"}, {"cf-typo", "unknown key \"timout\""},
	    {"cf-timeout", "timeout"},	      {"cf-user", "user"},	    {"cf-missing", "No such file"},
	};
	struct env *e = *state;
	json_t *list = sesame_providers_json(e->ctx), *p;
	size_t i, j, seen = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_array_foreach (list, j, p)
			if (strcmp(json_string_value(json_object_get(p, "name")), bad[i].name) == 0) {
				const char *error = json_string_value(json_object_get(p, "error"));

				/* As root, "user": "nobody" is fine. */
				if (geteuid() == 0 && strcmp(bad[i].name, "cf-user") == 0) {
					seen++;
					continue;
				}
				assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
				if (!error || !strstr(error, bad[i].text))
					fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].name, error ? error : "",
						 bad[i].text);
				seen++;
			}
	assert_int_equal(seen, sizeof(bad) / sizeof(bad[0]));
	json_decref(list);
}

/* The same through the sesame command: credential on its stdin. */
static void test_cli_login(void **state)
{
	struct env *e = *state;
	char cmd[2048], *out = NULL, *errtext = NULL;

	snprintf(cmd, sizeof(cmd), "printf '%%s' '{\"mode\": \"ok\"}' | '%s' --config '%s' login cf -",
		 tu_env("SESAME_CLI"), e->main);
	assert_int_equal(tu_run(cmd, &out, &errtext), 0);
	assert_non_null(strstr(out, "\"refresh_token\""));
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' login cf '{\"mode\": \"exit\"}'", tu_env("SESAME_CLI"), e->main);
	assert_int_not_equal(tu_run(cmd, &out, &errtext), 0);
	assert_non_null(strstr(errtext, "bad password"));
	free(out);
	free(errtext);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_forms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nonzero_exit_rejected_with_clean_first_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_output_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_and_missing_program_unavailable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_kills_the_process_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaped_descendant_is_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_program_runs_unprivileged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configured_program_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_program_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shell_syntax_credential_stays_on_stdin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_configurations_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_login, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
