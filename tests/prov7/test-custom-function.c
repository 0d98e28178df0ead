/* tests/prov7/test-custom-function.c — the custom-function provider through
 * libsesame and the sesame CLI, with tests/prov7/cf-program.sh as the
 * program: identities, refusals, timeouts, output limits, hostile
 * credentials (hostile-inputs items 40 and 41). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sesame/sesame.h"
#include "testutil.h"

struct env {
	char *dir, *main, *drop, *plugins, *program;
	int leaked_fd; /* opened without O_CLOEXEC: the program must not see it */
	sesame_ctx *ctx;
};

static void quiet(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	(void)msg;
}

static void copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t n;

	if (in < 0 || out < 0)
		fail_msg("cannot copy %s to %s", src, dst);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

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
	sesame_error err;

	e->dir = tu_tmpdir("custom-function");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->plugins = tu_mkdir(e->dir, "plugins", 0755);
	snprintf(path, sizeof(path), "%s/custom-function.so", tu_env("SESAME_TEST_PLUGINS"));
	snprintf(text, sizeof(text), "%s/custom-function.so", e->plugins);
	copy_file(path, text, 0755);
	snprintf(path, sizeof(path), "%s/tests/prov7/cf-program.sh", tu_env("SESAME_TEST_SRCDIR"));
	e->program = tu_path(e->dir, "cf-program.sh");
	copy_file(path, e->program, 0755);
	e->leaked_fd = open("/dev/null", O_RDONLY);
	assert_true(e->leaked_fd > 2);
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
		 " \"app_id\": \"test-app\"}",
		 e->plugins, tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	snprintf(text, sizeof(text), "{\"command\": [\"%s\", \"%s\", \"%d\"], \"timeout\": 1}", e->program, e->dir,
		 e->leaked_fd);
	drop_in(e, "cf", text);
	drop_in(e, "cf-missing", "{\"command\": [\"/nonexistent/sesame-test-program\"]}");
	drop_in(e, "cf-relative", "{\"command\": [\"bin/true\"]}");
	drop_in(e, "cf-shell-string", "{\"command\": \"/bin/true --x\"}");
	drop_in(e, "cf-typo", "{\"command\": [\"/bin/true\"], \"timout\": 3}");
	drop_in(e, "cf-timeout", "{\"command\": [\"/bin/true\"], \"timeout\": 0}");
	drop_in(e, "cf-user", "{\"command\": [\"/bin/true\"], \"user\": \"nobody\"}");
	e->ctx = sesame_new();
	sesame_set_logger(e->ctx, quiet, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(e->ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
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
	free(e);
	return 0;
}

static void expect_refused(int rc, const sesame_error *err, int status, const char *reason)
{
	if (rc != status || strcmp(err->reason, reason) != 0)
		fail_msg("expected %s/%s, got %s/%s: %s", sesame_status_name(status), reason, sesame_status_name(rc),
			 err->reason, err->text);
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

	expect_refused(verify(e, "cf", "{\"mode\": \"exit\"}", &id, &err), &err, SESAME_REJECTED, "rejected");
	/* The first line only, control characters removed. */
	assert_non_null(strstr(err.text, "bad password"));
	assert_null(strstr(err.text, "second"));
	assert_null(strchr(err.text, '\001'));
	assert_null(strchr(err.text, '\033'));
	expect_refused(verify(e, "cf", "{\"mode\": \"silent-exit\"}", &id, &err), &err, SESAME_REJECTED, "rejected");
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
		expect_refused(verify(e, "cf", cred, &id, &err), &err, SESAME_REJECTED, "output");
	}
}

static void test_signal_and_missing_program_unavailable(void **state)
{
	struct env *e = *state;
	json_t *id = NULL;
	sesame_error err;

	expect_refused(verify(e, "cf", "{\"mode\": \"signal\"}", &id, &err), &err, SESAME_UNAVAILABLE, "program");
	assert_non_null(strstr(err.text, "signal 9"));
	expect_refused(verify(e, "cf-missing", "{}", &id, &err), &err, SESAME_UNAVAILABLE, "program");
	assert_non_null(strstr(err.text, "No such file"));
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
	char *pidfile = tu_path(e->dir, "grandchild.pid"), cmd[1100], *text = NULL;

	expect_refused(verify(e, "cf", "{\"mode\": \"hang\"}", &id, &err), &err, SESAME_UNAVAILABLE, "timeout");
	/* The program's own child (sleep 30, holding stdout) was killed too. */
	snprintf(cmd, sizeof(cmd), "cat '%s'", pidfile);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	assert_true(process_ended((pid_t)strtol(text, NULL, 10)));
	free(text);
	free(pidfile);
}

/* Hostile item 40: the credential reaches the program as data on stdin
 * only; argv and environment are the configured ones. */
static void test_hostile_credential_stays_on_stdin(void **state)
{
	static const char cred[] = "{\"mode\":\"dump\",\"token\":\"; id $(id) `id`\\n-rf --x\\u0000tail\"}";
	struct env *e = *state;
	json_t *id = NULL, *v = json_loads(cred, JSON_ALLOW_NUL, NULL);
	char *dump_path = tu_path(e->dir, "dump.txt"), cmd[1100], *dump = NULL, *line, *save, expected[256];
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
			assert_string_equal(line + 4, args++ == 0 ? e->dir : expected);
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
	    {"cf-relative", "absolute path"}, {"cf-shell-string", "array"},     {"cf-typo", "unknown key \"timout\""},
	    {"cf-timeout", "timeout"},	      {"cf-user", "user"},
	};
	struct env *e = *state;
	json_t *list = sesame_providers_json(e->ctx), *p;
	size_t i, j, seen = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_array_foreach(list, j, p)
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
	    cmocka_unit_test_setup_teardown(test_hostile_credential_stays_on_stdin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_configurations_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_login, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
