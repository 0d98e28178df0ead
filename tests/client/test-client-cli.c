/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test-client-cli.c — sesame-client, the command line, against
 * a real sesamed (tests/client/harness.h): a shell session with several
 * users (three logged in through three providers, switching, the profile
 * as each, tokens refreshed automatically after the clock moves), secrets
 * only from stdin or a private --password-file (a secret in argv refused
 * before any request), the exit statuses, logout/remove/delete output,
 * four processes logging in at once on one store, the request helper and
 * custom data.  Each command runs through /bin/sh with the environment it
 * needs; nothing sleeps.
 */
#include "config.h"

#include "harness.h"

static struct daemon *d;
static char *dir;

static int group_setup(void **state)
{
	d = client_daemon("client-cli");
	dir = tu_tmpdir("client-cli-stores");
	return 0;
}

static int group_teardown(void **state)
{
	tu_rmrf(dir);
	free(dir);
	return daemon_finish(d);
}

struct run {
	int status;
	char *out;
	char *err;
	json_t *json;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Run "sesame-client ARGS" (a shell fragment: it may pipe into it and
 * redirect; $CLI is the program, $STORE the store `store`) with the server
 * and the app in the environment. */
static void vcli(struct run *r, const char *store, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void vcli(struct run *r, const char *store, const char *fmt, va_list ap)
{
	char *args, *cmd, *prog = tu_path(tu_env("SESAME_TEST_BUILDDIR"), "sesame-client");

	assert_true(vasprintf(&args, fmt, ap) > 0);
	assert_true(asprintf(&cmd,
			     "cd '%s' && CLI='%s' SESAME_URL='%s' SESAME_APP_ID=" APP
			     " XDG_STATE_HOME='%s/xdg' STORE='%s/%s' && export CLI SESAME_URL SESAME_APP_ID "
			     "XDG_STATE_HOME STORE && %s",
			     dir, prog, d->url, dir, dir, store, args) > 0);
	memset(r, 0, sizeof(*r));
	r->status = tu_run(cmd, &r->out, &r->err);
	r->json = json_loads(r->out, JSON_DECODE_ANY, NULL);
	free(cmd);
	free(args);
	free(prog);
}

static void cli(struct run *r, const char *store, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cli(struct run *r, const char *store, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcli(r, store, fmt, ap);
	va_end(ap);
}

/* A command that must succeed and print JSON. */
static json_t *ok(const char *store, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *ok(const char *store, const char *fmt, ...)
{
	struct run r;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	vcli(&r, store, fmt, ap);
	va_end(ap);
	if (r.status != 0 || !r.json)
		fail_msg("%s: exit %d\nstdout: %s\nstderr: %s", fmt, r.status, r.out, r.err);
	v = json_incref(r.json);
	run_free(&r);
	return v;
}

/* A command that must fail with `status`, one line on stderr holding `text`. */
static void fails(const char *store, int status, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fails(const char *store, int status, const char *text, const char *fmt, ...)
{
	struct run r;
	va_list ap;

	va_start(ap, fmt);
	vcli(&r, store, fmt, ap);
	va_end(ap);
	if (r.status != status || !strstr(r.err, text))
		fail_msg("%s: exit %d (expected %d)\nstderr: %s\n(expected to hold \"%s\")", fmt, r.status, status,
			 r.err, text);
	if (strncmp(r.err, "sesame-client: ", 15) != 0)
		fail_msg("stderr does not start with the program's name: %s", r.err);
	run_free(&r);
}

static char *id_of(json_t *entry)
{
	char *id = strdup(json_string_value(json_object_get(entry, "id")));

	assert_non_null(id);
	json_decref(entry);
	return id;
}

static void register_confirmed(const char *store, const char *email, const char *password)
{
	json_t *m, *v;

	v = ok(store, "printf '%%s\\n' '%s' | \"$CLI\" --store \"$STORE\" register %s", password, email);
	json_decref(v);
	m = last_mail(d);
	v = ok(store, "\"$CLI\" --store \"$STORE\" confirm %s %s", json_string_value(json_object_get(m, "token")),
	       json_string_value(json_object_get(m, "tokenId")));
	json_decref(v);
	json_decref(m);
}

/* A shell session: three users, switching between them, the profile as
 * each, tokens refreshed automatically. */
static void test_shell_session(void **state)
{
	char *ids[3];
	json_t *users, *p, *v;
	long ok0;
	size_t i, round;

	register_confirmed("session.json", "ann@example.org", "ann-password");
	ids[0] = id_of(ok("session.json", "\"$CLI\" --store \"$STORE\" login %s", "anon-user"));
	ids[1] =
	    id_of(ok("session.json", "printf 'ann-password\\n' | \"$CLI\" --store \"$STORE\" login local-userpass '%s'",
		     "{\"username\": \"ann@example.org\"}"));
	ids[2] = id_of(ok("session.json", "\"$CLI\" --store \"$STORE\" login alpha '%s'", "{\"user\": \"carol\"}"));

	users = ok("session.json", "\"$CLI\" --store \"$STORE\" %s", "users");
	assert_int_equal(json_array_size(users), 3);
	for (i = 0; i < 3; i++) {
		json_t *u = json_array_get(users, i);

		assert_string_equal(json_string_value(json_object_get(u, "id")), ids[2 - i]);
		assert_string_equal(json_string_value(json_object_get(u, "state")), "LoggedIn");
		assert_true(json_is_true(json_object_get(u, "active")) == (i == 0));
	}
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(json_array_get(users, 0), "providers"), 0)),
	    "fixture-good");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(json_array_get(users, 1), "providers"), 0)),
	    "local-userpass");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(json_array_get(users, 2), "providers"), 0)), "anon-user");
	json_decref(users);

	for (round = 0; round < 2; round++) {
		ok0 = refreshes(d, "success");
		for (i = 0; i < 3; i++) {
			v = ok("session.json", "\"$CLI\" --store \"$STORE\" switch %s", ids[i]);
			assert_true(json_is_true(json_object_get(v, "active")));
			json_decref(v);
			p = ok("session.json", "\"$CLI\" --store \"$STORE\" %s", "profile");
			assert_string_equal(json_string_value(json_object_get(p, "user_id")), ids[i]);
			json_decref(p);
			v = ok("session.json", "\"$CLI\" --store \"$STORE\" %s", "whoami");
			assert_string_equal(json_string_value(json_object_get(v, "id")), ids[i]);
			json_decref(v);
		}
		/* Before the clock moves no refresh; after, one per user. */
		assert_int_equal(refreshes(d, "success"), ok0 + (round ? 3 : 0));
		if (round == 0)
			clock_advance(d, 1900);
	}
	for (i = 0; i < 3; i++)
		free(ids[i]);
}

static long login_requests(void)
{
	return requests(d, "POST", "/app/{app}/auth/providers/{name}/login", 200) +
	       requests(d, "POST", "/app/{app}/auth/providers/{name}/login", 400) +
	       requests(d, "POST", "/app/{app}/auth/providers/{name}/login", 401);
}

static void test_secrets_never_in_argv(void **state)
{
	long before;
	char *pw = tu_write(dir, "pw", "bea-password\n", 0600),
	     *open_pw = tu_write(dir, "open-pw", "bea-password\n", 0644);
	json_t *key, *v;

	register_confirmed("secrets.json", "bea@example.org", "bea-password");
	before = login_requests();
	fails("secrets.json", 2, "holds \"password\"", "\"$CLI\" --store \"$STORE\" login local-userpass '%s'",
	      "{\"username\": \"bea@example.org\", \"password\": \"bea-password\"}");
	fails("secrets.json", 2, "holds \"key\"", "\"$CLI\" --store \"$STORE\" login api-key '%s'", "{\"key\": \"k\"}");
	fails("secrets.json", 2, "readable by group or others",
	      "\"$CLI\" --store \"$STORE\" --password-file open-pw login local-userpass '%s'",
	      "{\"username\": \"bea@example.org\"}");
	fails("secrets.json", 2, "no secret on standard input",
	      "\"$CLI\" --store \"$STORE\" login local-userpass '%s' </dev/null",
	      "{\"username\": \"bea@example.org\"}");
	fails("secrets.json", 2, "is empty", "printf '\\n' | \"$CLI\" --store \"$STORE\" login local-userpass '%s'",
	      "{\"username\": \"bea@example.org\"}");
	assert_int_equal(login_requests(), before);

	v = ok("secrets.json", "\"$CLI\" --store \"$STORE\" --password-file pw login local-userpass '%s'",
	       "{\"username\": \"bea@example.org\"}");
	json_decref(v);
	/* An API key login, the key on stdin. */
	key = ok("secrets.json", "\"$CLI\" --store \"$STORE\" apikeys create %s", "laptop");
	v = ok("secrets.json", "printf '%%s\\n' '%s' | \"$CLI\" --store \"$STORE\" login api-key --secret key",
	       json_string_value(json_object_get(key, "key")));
	assert_int_equal(json_array_size(json_object_get(v, "providers")), 2);
	assert_true(strcmp(json_string_value(json_array_get(json_object_get(v, "providers"), 0)), "api-key") == 0 ||
		    strcmp(json_string_value(json_array_get(json_object_get(v, "providers"), 1)), "api-key") == 0);
	json_decref(v);
	/* The whole credential on stdin. */
	v = ok("secrets.json", "printf '%s' | \"$CLI\" --store \"$STORE\" login alpha -", "{\"user\": \"dan\"}");
	json_decref(v);
	fails("secrets.json", 2, "--secret is for login and link", "\"$CLI\" --store \"$STORE\" --secret x %s",
	      "users");
	json_decref(key);
	free(pw);
	free(open_pw);
}

static void test_exit_statuses(void **state)
{
	char *path = tu_path(dir, "torn.json"), *before, *after;
	json_t *v;
	char *eve;

	register_confirmed("status.json", "eve@example.org", "eve-password");
	fails("status.json", 1, "refused (HTTP 401",
	      "printf 'wrong-password\\n' | \"$CLI\" --store \"$STORE\" login local-userpass '%s'",
	      "{\"username\": \"eve@example.org\"}");
	eve =
	    id_of(ok("status.json", "printf 'eve-password\\n' | \"$CLI\" --store \"$STORE\" login local-userpass '%s'",
		     "{\"username\": \"eve@example.org\"}"));
	v = ok("status.json", "\"$CLI\" --store \"$STORE\" logout %s", eve);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "LoggedOut");
	json_decref(v);
	fails("status.json", 1, "is logged out", "\"$CLI\" --store \"$STORE\" switch %s", eve);
	fails("status.json", 1, "no user is logged in", "\"$CLI\" --store \"$STORE\" %s", "profile");
	fails("status.json", 1, "no user 0123456789abcdef01234567", "\"$CLI\" --store \"$STORE\" switch %s",
	      "0123456789abcdef01234567");

	free(tu_write(dir, "torn.json", "{\"format\": \"sesame-client-store\", \"vers", 0600));
	before = read_all(path);
	fails("torn.json", 2, path, "\"$CLI\" --store \"$STORE\" %s", "users");
	fails("torn.json", 2, "damaged", "\"$CLI\" --store \"$STORE\" login %s", "anon-user");
	after = read_all(path);
	assert_string_equal(before, after);

	fails("status.json", 2, "no application id", "SESAME_APP_ID= \"$CLI\" --store \"$STORE\" %s", "users");
	fails("status.json", 2, "unknown command", "\"$CLI\" --store \"$STORE\" %s", "dance");
	fails("status.json", 2, "switch takes 1 to 1 arguments", "\"$CLI\" --store \"$STORE\" %s", "switch");
	fails("status.json", 2, "loopback address only", "\"$CLI\" --store \"$STORE\" --url http://%s login anon-user",
	      "auth.example.com");
	fails("status.json", 2, "no server URL", "SESAME_URL= \"$CLI\" --store \"$STORE\" login %s", "anon-user");
	fails("status.json", 3, "cannot reach the server", "\"$CLI\" --store \"$STORE\" --url %s login anon-user",
	      "http://127.0.0.1:1");
	free(eve);
	free(before);
	free(after);
	free(path);
}

/* The default store, and what logout, remove and delete print. */
static void test_logout_remove_delete(void **state)
{
	char *anon, *fay, *gil, *store = tu_path(dir, "xdg/sesame-client/" APP ".json");
	json_t *v;
	struct stat st;

	anon = id_of(ok("unused", "\"$CLI\" login %s", "anon-user"));
	assert_int_equal(stat(store, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	v = ok("unused", "\"$CLI\" %s", "logout");
	assert_string_equal(json_string_value(json_object_get(v, "id")), anon);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "Removed");
	json_decref(v);
	fay = id_of(ok("unused", "\"$CLI\" login alpha '%s'", "{\"user\": \"fay\"}"));
	gil = id_of(ok("unused", "\"$CLI\" login alpha '%s'", "{\"user\": \"gil\"}"));
	v = ok("unused", "\"$CLI\" remove %s", fay);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "Removed");
	json_decref(v);
	v = ok("unused", "\"$CLI\" %s", "delete");
	assert_string_equal(json_string_value(json_object_get(v, "id")), gil);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "Removed");
	json_decref(v);
	assert_int_equal(admin_user_status(d, gil), 404);
	v = ok("unused", "\"$CLI\" %s", "users");
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	free(anon);
	free(fay);
	free(gil);
	free(store);
}

/* Four processes logging in at the same moment on one store: all four
 * users are there afterwards. */
static void test_concurrent_logins(void **state)
{
	json_t *users;
	struct run r;

	cli(&r, "together.json",
	    "for u in hana ian jo kai; do \"$CLI\" --store \"$STORE\" login alpha \"{\\\"user\\\": \\\"$u\\\"}\" "
	    ">/dev/null & done; fail=0; for j in 1 2 3 4; do wait %%$j || fail=1; done; exit $fail");
	if (r.status != 0)
		fail_msg("logins: %d %s", r.status, r.err);
	run_free(&r);
	users = ok("together.json", "\"$CLI\" --store \"$STORE\" %s", "users");
	assert_int_equal(json_array_size(users), 4);
	json_decref(users);
}

static void test_call_and_custom_data(void **state)
{
	char *id = id_of(ok("call.json", "\"$CLI\" --store \"$STORE\" login alpha '%s'", "{\"user\": \"lou\"}")),
	     path[256];
	json_t *v;
	struct http r;

	v = ok("call.json", "\"$CLI\" --store \"$STORE\" call GET %s", "/api/client/v2.0/auth/profile");
	assert_string_equal(json_string_value(json_object_get(v, "user_id")), id);
	json_decref(v);
	fails("call.json", 1, "HTTP 404", "\"$CLI\" --store \"$STORE\" call POST %s '{}'", "/api/sesame/v1/nothing");
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/custom_data", id);
	http(d,
	     &(struct req){"PUT",
			   path,
			   {JSON_TYPE_HEADER, "Authorization: Bearer " ADMIN_KEY},
			   "{\"plan\": \"pro\"}",
			   false,
			   NULL},
	     &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	v = ok("call.json", "\"$CLI\" --store \"$STORE\" %s", "custom-data");
	assert_string_equal(json_string_value(json_object_get(v, "plan")), "pro");
	json_decref(v);
	v = ok("call.json", "\"$CLI\" --store \"$STORE\" %s", "location");
	assert_string_equal(json_string_value(json_object_get(v, "hostname")), d->url);
	json_decref(v);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shell_session),     cmocka_unit_test(test_secrets_never_in_argv),
	    cmocka_unit_test(test_exit_statuses),     cmocka_unit_test(test_logout_remove_delete),
	    cmocka_unit_test(test_concurrent_logins), cmocka_unit_test(test_call_and_custom_data),
	};
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

	return failed || daemon_exit_failures ? 1 : 0;
}
