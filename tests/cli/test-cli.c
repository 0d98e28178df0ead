/* SPDX-License-Identifier: MIT */
/* tests/cli/test-cli.c — the `sesame` command line: commands, output,
 * one-line errors and the documented exit codes. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* Run `sesame ARGS` (with --config when `config` is set). */
static int sesame(const char *config, const char *args, char **out, char **err)
{
	char cmd[4096];

	if (config)
		snprintf(cmd, sizeof(cmd), "'%s' --config '%s' %s", tu_env("SESAME_CLI"), config, args);
	else
		snprintf(cmd, sizeof(cmd), "'%s' %s", tu_env("SESAME_CLI"), args);
	return tu_run(cmd, out, err);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_help_and_version(void **state)
{
	char *out, *err;

	assert_int_equal(sesame(NULL, "--help", &out, &err), 0);
	assert_non_null(strstr(out, "Usage: sesame"));
	assert_non_null(strstr(out, "config check"));
	assert_non_null(strstr(out, "providers list"));
	free(out);
	free(err);
	assert_int_equal(sesame(NULL, "--version", &out, &err), 0);
	assert_non_null(strstr(out, "sesame " PACKAGE_VERSION));
	free(out);
	free(err);
}

static void test_usage_errors(void **state)
{
	const char *bad[] = {"", "frobnicate", "config", "config nonsense", "providers list extra", "--no-such-option"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;

		if (sesame(NULL, bad[i], &out, &err) != 2)
			fail_msg("'sesame %s' did not exit 2", bad[i]);
		assert_string_equal(out, "");
		assert_non_null(strstr(err, "sesame --help"));
		free(out);
		free(err);
	}
}

static void test_config_check_ok(void **state)
{
	struct tu_tree *e = *state;
	char *secret = tu_write(e->dir, "secret", "hunter2-hunter2", 0600);
	char text[1024], *out, *err;
	json_t *cfg, *prov;

	snprintf(text, sizeof(text), "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"@%s\"}}", secret);
	tu_tree_drop(e, "fix", text);
	assert_int_equal(sesame(e->main, "config check", &out, &err), 0);
	cfg = json_loads(out, 0, NULL);
	assert_non_null(cfg);
	prov = json_object_get(json_object_get(cfg, "providers"), "fix");
	assert_string_equal(json_string_value(json_object_get(prov, "type")), "fixture-good");
	assert_non_null(strstr(json_string_value(json_object_get(prov, "source")), "fix.json"));
	/* The secret file is shown by reference, never by content. */
	assert_null(strstr(out, "hunter2"));
	assert_string_equal(err, "");
	json_decref(cfg);
	free(out);
	free(err);
	free(secret);
}

static void test_config_check_errors(void **state)
{
	struct tu_tree *e = *state;
	char *p, *out, *err, want[512];

	p = tu_write(e->drop, "typo.json", "{\"type\": \"fixture-good\",\n \"disbled\": true}", 0644);
	assert_int_equal(sesame(e->main, "config check", &out, &err), 2);
	snprintf(want, sizeof(want), "sesame: %s:2:2: unknown key \"disbled\"", p);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("stderr \"%s\" does not start with \"%s\"", err, want);
	assert_int_equal(count_lines(err), 1);
	assert_string_equal(out, "");
	free(out);
	free(err);
	free(p);

	/* A missing --config file is an error, not defaults. */
	assert_int_equal(sesame("/nonexistent/sesame.json", "config check", &out, &err), 2);
	assert_non_null(strstr(err, "/nonexistent/sesame.json"));
	free(out);
	free(err);
}

static void test_config_check_no_provider(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err;

	assert_int_equal(sesame(e->main, "config check", &out, &err), 2);
	assert_non_null(strstr(err, "no enabled provider"));
	free(out);
	free(err);
}

static void test_config_check_failed_plugin(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err;

	tu_tree_drop(e, "good", "{\"type\": \"fixture-good\"}");
	tu_tree_drop(e, "broken", "{\"type\": \"fixture-wrong-major\"}");
	assert_int_equal(sesame(e->main, "config check", &out, &err), 2);
	assert_non_null(strstr(err, "provider broken:"));
	assert_non_null(strstr(err, "fixture-wrong-major.so"));
	free(out);
	free(err);
}

/* The listing shows each instance's capabilities, and `sesame apikeys`
 * picks its provider by capability, not by type name. */
static void test_providers_capabilities(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err;
	json_t *list, *caps;

	tu_tree_drop(e, "guest", "{\"type\": \"anon-user\"}");
	assert_int_equal(sesame(e->main, "apikeys delete some-key", &out, &err), 1);
	assert_non_null(strstr(err, "no API key provider is configured"));
	free(out);
	free(err);
	tu_tree_drop(e, "keys", "{\"type\": \"fixture-caps\"}");
	assert_int_equal(sesame(e->main, "providers list", &out, &err), 0);
	list = json_loads(out, 0, NULL);
	assert_non_null(list);
	caps = json_object_get(json_array_get(list, 0), "capabilities");
	assert_int_equal(json_array_size(caps), 2);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "anonymous");
	assert_string_equal(json_string_value(json_array_get(caps, 1)), "no-link");
	caps = json_object_get(json_array_get(list, 1), "capabilities");
	assert_int_equal(json_array_size(caps), 2);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "one-per-user");
	assert_string_equal(json_string_value(json_array_get(caps, 1)), "api-keys");
	json_decref(list);
	free(out);
	free(err);
	/* The fixture serving "api-keys" has no actions: its refusal, not "none configured". */
	assert_int_equal(sesame(e->main, "apikeys delete some-key", &out, &err), 1);
	assert_non_null(strstr(err, "provider \"keys\" has no action"));
	free(out);
	free(err);
}

static void test_providers_list(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err;
	json_t *list, *p;

	tu_tree_drop(e, "b-good", "{\"type\": \"fixture-good\"}");
	tu_tree_drop(e, "a-off", "{\"type\": \"fixture-good\", \"disabled\": true}");
	assert_int_equal(sesame(e->main, "providers list", &out, &err), 0);
	list = json_loads(out, 0, NULL);
	assert_int_equal(json_array_size(list), 2);
	p = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "a-off");
	assert_string_equal(json_string_value(json_object_get(p, "state")), "disabled");
	p = json_array_get(list, 1);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "b-good");
	assert_string_equal(json_string_value(json_object_get(p, "state")), "ready");
	assert_string_equal(json_string_value(json_object_get(p, "type")), "fixture-good");
	assert_non_null(strstr(json_string_value(json_object_get(p, "plugin")), "fixture-good.so"));
	assert_non_null(strstr(json_string_value(json_object_get(p, "source")), "b-good.json"));
	assert_string_equal(json_string_value(json_object_get(p, "version")), "1.0");
	json_decref(list);
	free(out);
	free(err);

	/* A provider that failed to load makes the listing exit 3. */
	tu_tree_drop(e, "c-broken", "{\"type\": \"fixture-no-entry\"}");
	assert_int_equal(sesame(e->main, "providers list", &out, &err), 3);
	list = json_loads(out, 0, NULL);
	p = json_array_get(list, 2);
	assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
	assert_non_null(strstr(json_string_value(json_object_get(p, "error")), "sesame_provider_entry"));
	json_decref(list);
	free(out);
	free(err);
}

/* Every built-in provider type starts with metadata_fields in its drop-in:
 * the key is the core's, never handed to the plugin's configuration. */
static void test_providers_list_metadata_fields_every_type(void **state)
{
	static const char *const types[][2] = {
	    {"anon-user", "{}"},
	    {"api-key", "{}"},
	    {"local-userpass", "{\"auto_confirm\": true}"},
	    {"custom-function", "{\"command\": [\"/bin/true\"]}"},
	    {"custom-token",
	     "{\"signing_keys\": [{\"alg\": \"HS256\", \"key\": \"0123456789abcdef0123456789abcdef\"}]}"},
	    {"oauth2-google", "{\"client_id\": \"web-client\"}"},
	    {"oauth2-facebook", "{\"client_id\": \"1234\", \"client_secret\": \"fb-secret-0123456789\"}"},
	    {"oauth2-apple", "{\"client_id\": \"com.example.app\"}"},
	};
	struct tu_tree *e = *state;
	char text[1024], *out, *err;
	json_t *list, *p;
	size_t i;

	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\"}",
		 tu_env("SESAME_TEST_PLUGINS"), tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	free(e->main);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"type\": \"%s\", \"config\": %s, \"metadata_fields\": [{\"name\": \"profile.name\","
			 " \"field_name\": \"name\", \"required\": true}, {\"name\": \"email\"}]}",
			 types[i][0], types[i][1]);
		tu_tree_drop(e, types[i][0], text);
	}
	if (sesame(e->main, "providers list", &out, &err) != 0)
		fail_msg("providers list: %s%s", out, err);
	list = json_loads(out, 0, NULL);
	assert_int_equal(json_array_size(list), 8);
	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "state")), "ready") != 0)
			fail_msg("%s: %s", json_string_value(json_object_get(p, "type")),
				 json_string_value(json_object_get(p, "error")));
	json_decref(list);
	free(out);
	free(err);
}

/* The value of `key` in the JSON object printed on stdout. */
static char *out_member(const char *out, const char *key)
{
	json_t *v = json_loads(out, 0, NULL);
	char *r;

	if (!v || !json_is_string(json_object_get(v, key)))
		fail_msg("no \"%s\" in: %s", key, out);
	r = strdup(json_string_value(json_object_get(v, key)));
	json_decref(v);
	return r;
}

/* Write the store dir into the config: the account commands need a store. */
static void with_store(struct tu_tree *e)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\"}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	free(e->main);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
}

/*
 * Run by root, sesame acts as the owner of the state directory: the files
 * it makes there (the database, which holds the rotated signing key)
 * belong to the daemon's user, not to root, so the daemon can still read
 * them.
 */
static void test_root_acts_as_state_owner(void **state)
{
	struct tu_tree *e = *state;
	const struct passwd *nobody = getpwnam("nobody");
	char text[4096], *sdir, *main_file, *key, *db, *out, *err;
	struct stat st;

	if (geteuid() != 0 || !nobody) {
		skip();
		return;
	}
	tu_tree_drop(e, "fix", "{\"type\": \"fixture-good\"}");
	sdir = tu_path(e->dir, "state");
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(chown(sdir, nobody->pw_uid, nobody->pw_gid), 0);
	/* nobody must reach the state directory through the test's own. */
	assert_int_equal(chmod(e->dir, 0755), 0);
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\"}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), e->drop, sdir);
	main_file = tu_write(e->dir, "owned.json", text, 0644);
	assert_int_equal(sesame(main_file, "keys rotate", &out, &err), 0);
	free(out);
	free(err);
	assert_int_equal(sesame(main_file, "login fix '{\"user\": \"root-run\"}'", &out, &err), 0);
	free(out);
	free(err);
	key = tu_path(sdir, "signing-key.pem");
	db = tu_path(sdir, "sesame.db");
	/* The keys live in the database: no key file is written. */
	assert_int_equal(stat(key, &st), -1);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_uid, nobody->pw_uid);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(key);
	free(db);
	free(sdir);
	free(main_file);
}

/* sesame action: any instance's action, as the system user, whatever
 * caller the arguments claim. */
static void test_action_command(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err;
	json_t *v;

	with_store(e);
	tu_tree_drop(e, "fix", "{\"type\": \"fixture-good\"}");
	assert_int_equal(sesame(e->main,
				"action fix echo '{\"x\": 1, \"caller\": {\"user_id\": \"0123456789abcdef01234567\"}}'",
				&out, &err),
			 0);
	v = json_loads(out, 0, NULL);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "caller"), "kind")), "system");
	assert_null(json_object_get(json_object_get(v, "args"), "caller"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "args"), "x")), 1);
	json_decref(v);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "action fix frobnicate", &out, &err), 1);
	assert_non_null(strstr(err, "frobnicate"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "action nosuch echo", &out, &err), 1);
	assert_non_null(strstr(err, "nosuch"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "action fix echo '[1]'", &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "action fix", &out, &err), 2);
	free(out);
	free(err);
}

static void test_login_and_user_commands(void **state)
{
	struct tu_tree *e = *state;
	char *out, *err, *uid, *access, args[8192];

	with_store(e);
	tu_tree_drop(e, "fix", "{\"type\": \"fixture-good\"}");
	assert_int_equal(sesame(e->main, "login fix '{\"user\": \"alice\"}'", &out, &err), 0);
	uid = out_member(out, "user_id");
	access = out_member(out, "access_token");
	free(out);
	free(err);
	/* The same identity again: the same user. */
	assert_int_equal(sesame(e->main, "login fix '{\"user\": \"alice\"}'", &out, &err), 0);
	{
		char *again = out_member(out, "user_id");

		assert_string_equal(again, uid);
		free(again);
	}
	free(out);
	free(err);
	snprintf(args, sizeof(args), "token verify --session '%s'", access);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	assert_non_null(strstr(out, uid));
	free(out);
	free(err);

	snprintf(args, sizeof(args), "users custom-data %s '{\"plan\": \"gold\"}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	assert_non_null(strstr(out, "gold"));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "users show %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	assert_non_null(strstr(out, "\"alice\""));
	assert_null(strstr(out, "\"private\""));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "users list --limit 10", &out, &err), 0);
	assert_non_null(strstr(out, uid));
	free(out);
	free(err);

	/* Disabled: the login is refused with exit 1 and a one-line reason. */
	snprintf(args, sizeof(args), "users disable %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "login fix '{\"user\": \"alice\"}'", &out, &err), 1);
	assert_non_null(strstr(err, "disabled"));
	assert_int_equal(count_lines(err), 1);
	free(out);
	free(err);
	/* ...and its sessions ended. */
	snprintf(args, sizeof(args), "token verify --session '%s'", access);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "users enable %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);

	/* A credential the provider refuses, and a malformed one. */
	assert_int_equal(sesame(e->main, "login fix '{\"user\": \"\"}'", &out, &err), 1);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "login fix '{\"user\": '", &out, &err), 2);
	assert_non_null(strstr(err, "not valid JSON"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "login nobody '{}'", &out, &err), 1);
	assert_non_null(strstr(err, "nobody"));
	free(out);
	free(err);

	/* Rotation keeps the old access token valid. */
	assert_int_equal(sesame(e->main, "keys rotate", &out, &err), 0);
	assert_non_null(strstr(out, "\"kid\""));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "token verify '%s'", access);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);

	snprintf(args, sizeof(args), "users delete %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "users show %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	assert_non_null(strstr(err, "sesame: "));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "users frobnicate x", &out, &err), 2);
	free(out);
	free(err);
	free(uid);
	free(access);
}

/* `sesame login custom-token` with a token signed by the openssl command line. */
static void test_custom_token_login(void **state)
{
	struct tu_tree *e = *state;
	char text[4096], cmd[8192], *out, *err, *token, *uid, *again;
	char *secret = tu_write(e->dir, "hs256", "0123456789abcdef0123456789abcdef-cli-test", 0600);

	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\","
		 " \"app_id\": \"cli-app\"}",
		 tu_env("SESAME_TEST_PLUGINS"), tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	free(e->main);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	snprintf(
	    text, sizeof(text),
	    "{\"type\": \"custom-token\", \"config\": {\"signing_keys\": [{\"alg\": \"HS256\", \"key\": \"@%s\"}]},"
	    " \"metadata_fields\": [{\"name\": \"email\"}]}",
	    secret);
	tu_tree_drop(e, "custom-token", text);
	snprintf(cmd, sizeof(cmd),
		 "b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }; now=$(date +%%s);"
		 " h=$(printf '{\"alg\":\"HS256\",\"typ\":\"JWT\"}' | b64);"
		 " p=$(printf "
		 "'{\"sub\":\"cli-user\",\"aud\":\"cli-app\",\"iat\":%%s,\"exp\":%%s,\"email\":\"c@example.com\"}'"
		 " $now $((now + 600)) | b64);"
		 " s=$(printf '%%s.%%s' $h $p | openssl dgst -sha256 -mac HMAC -macopt key:$(cat '%s') -binary | b64);"
		 " printf '%%s.%%s.%%s' $h $p $s",
		 secret);
	assert_int_equal(tu_run(cmd, &token, NULL), 0);
	snprintf(cmd, sizeof(cmd), "login custom-token '{\"token\": \"%s\"}'", token);
	assert_int_equal(sesame(e->main, cmd, &out, &err), 0);
	uid = out_member(out, "user_id");
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, cmd, &out, &err), 0);
	again = out_member(out, "user_id");
	assert_string_equal(again, uid);
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "users show %s", uid);
	assert_int_equal(sesame(e->main, cmd, &out, &err), 0);
	assert_non_null(strstr(out, "c@example.com"));
	free(out);
	free(err);
	/* A token signed with another secret is refused and creates nobody. */
	token[strlen(token) - 2] = token[strlen(token) - 2] == 'A' ? 'B' : 'A';
	snprintf(cmd, sizeof(cmd), "login custom-token '{\"token\": \"%s\"}'", token);
	assert_int_equal(sesame(e->main, cmd, &out, &err), 1);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "users list", &out, &err), 0);
	{
		json_t *list = json_loads(out, 0, NULL);

		assert_int_equal(json_array_size(list), 1);
		json_decref(list);
	}
	free(out);
	free(err);
	free(uid);
	free(again);
	free(token);
	free(secret);
}

/* Rule files in a rules.d beside providers.d: `sesame rules check|filter`
 * and `sesame config check` over them. */
static void with_rules(struct tu_tree *e, char **rules_dir)
{
	char text[4096];

	*rules_dir = tu_mkdir(e->dir, "rules.d", 0755);
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"rules_dirs\": "
		 "[\"%s\"], \"state_dir\": \"%s\"}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), e->drop, *rules_dir, e->dir);
	free(e->main);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
}

static void test_rules_commands(void **state)
{
	struct tu_tree *e = *state;
	char *rules, *out, *err, *uid, args[4096], *link;
	json_t *v;

	with_rules(e, &rules);
	tu_tree_drop(e, "fix", "{\"type\": \"fixture-good\"}");
	free(
	    tu_write(rules, "app.notes.json",
		     "{\"database\": \"app\", \"collection\": \"notes\", \"roles\": [\n"
		     "  {\"name\": \"boss\", \"apply_when\": {\"%%user.custom_data.role\": \"boss\"}, \"read\": true,\n"
		     "   \"write\": true},\n"
		     "  {\"name\": \"owner\", \"apply_when\": {\"owner\": \"%%user.id\"},\n"
		     "   \"fields\": {\"text\": {\"write\": true}, \"owner\": {\"read\": true}}}]}\n",
		     0644));
	free(tu_write(rules, "default.json", "{\"roles\": [{\"name\": \"everyone\", \"read\": true}]}\n", 0644));
	assert_int_equal(sesame(e->main, "login fix '{\"user\": \"rita\"}'", &out, &err), 0);
	uid = out_member(out, "user_id");
	free(out);
	free(err);

	/* The owner reads and writes its note, field by field: exit 0. */
	snprintf(args, sizeof(args),
		 "rules check app.notes write --user %s --document '{\"owner\": \"%s\", \"text\": \"new\", \"x\": 1}' "
		 "--prev '{\"owner\": \"%s\", \"text\": \"old\", \"x\": 1}'",
		 uid, uid, uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	v = json_loads(out, 0, NULL);
	assert_true(json_is_true(json_object_get(v, "allowed")));
	assert_string_equal(json_string_value(json_object_get(v, "role")), "owner");
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(v, "fields"), "text"), "write")));
	assert_false(json_is_true(json_object_get(json_object_get(json_object_get(v, "fields"), "x"), "read")));
	assert_null(json_object_get(json_object_get(v, "document"), "x"));
	json_decref(v);
	free(out);
	free(err);
	/* Changing a field it may not write: denied, exit 1, still a decision on stdout. */
	snprintf(args, sizeof(args),
		 "rules check app.notes write --user %s --document '{\"owner\": \"%s\", \"x\": 2}' --prev '{\"owner\": "
		 "\"%s\", \"x\": 1}'",
		 uid, uid, uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	assert_non_null(strstr(out, "\"allowed\": false"));
	free(out);
	free(err);
	/* The document from standard input. */
	snprintf(args, sizeof(args),
		 "rules check app.notes read --user %s --document - <<'EOF'\n{\"owner\": \"someone\"}\nEOF", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	free(out);
	free(err);
	/* Custom data changes the role at once, without a new login. */
	snprintf(args, sizeof(args), "users custom-data %s '{\"role\": \"boss\"}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "rules check app.notes read --user %s --document '{\"owner\": \"someone\"}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	assert_non_null(strstr(out, "\"role\": \"boss\""));
	free(out);
	free(err);
	/* The filter: the boss role applies whatever the document. */
	snprintf(args, sizeof(args), "rules filter app.notes read --user %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	v = json_loads(out, 0, NULL);
	assert_int_equal(json_object_size(json_object_get(v, "filter")), 0);
	json_decref(v);
	free(out);
	free(err);
	/* A namespace without a file of its own falls back to default.json. */
	snprintf(args, sizeof(args), "rules check app.other read --user %s --document '{\"a\": 1}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	assert_non_null(strstr(out, "\"role\": \"everyone\""));
	free(out);
	free(err);
	/* ... and so does a masked one. */
	link = tu_path(rules, "app.notes.json");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("/dev/null", link), 0);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "rules check app.notes write --user %s --document '{}' --prev '{}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	assert_non_null(strstr(out, "\"role\": \"everyone\""));
	free(out);
	free(err);
	/* The system user may do anything. */
	assert_int_equal(sesame(e->main, "rules check app.notes delete --system --document '{\"a\": 1}'", &out, &err),
			 0);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules filter app.notes write --system", &out, &err), 0);
	assert_non_null(strstr(out, "\"filter\": {}"));
	free(out);
	free(err);

	/* Usage and configuration errors: exit 2, one line on stderr. */
	assert_int_equal(sesame(e->main, "rules check app.notes read", &out, &err), 2);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "rules check app.notes read --system --user %s", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules check app.notes update --system", &out, &err), 2);
	assert_non_null(strstr(err, "action"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules check nodot read --system", &out, &err), 2);
	assert_non_null(strstr(err, "namespace"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules check app.notes read --system --document '{bad'", &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules check app.notes read --user 0123456789abcdef01234567", &out, &err), 2);
	assert_non_null(strstr(err, "no such user"));
	free(out);
	free(err);
	assert_int_equal(sesame(e->main, "rules filter app.notes insert --system", &out, &err), 2);
	free(out);
	free(err);

	/* config check covers rule files: a bad one is exit 2 naming FILE:LINE:COL;
	 * at run time it denies its namespace and the others keep working. */
	free(tu_write(rules, "app.bad.json", "{\"roles\": [\n  {\"name\": \"r\", \"raed\": true}]}\n", 0644));
	assert_int_equal(sesame(e->main, "config check", &out, &err), 2);
	assert_non_null(strstr(err, "app.bad.json:2:17: unknown key \"raed\""));
	assert_non_null(strstr(out, "\"rules_dirs\""));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "rules check app.bad read --user %s --document '{}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 1);
	assert_non_null(strstr(out, "\"error\""));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "rules check app.other read --user %s --document '{\"a\": 1}'", uid);
	assert_int_equal(sesame(e->main, args, &out, &err), 0);
	free(out);
	free(err);
	free(link);
	free(uid);
	free(rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help_and_version),
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test_setup_teardown(test_config_check_ok, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_config_check_errors, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_config_check_no_provider, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_config_check_failed_plugin, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_providers_list, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_providers_capabilities, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_providers_list_metadata_fields_every_type, tu_tree_setup,
					    tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_login_and_user_commands, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_action_command, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_root_acts_as_state_owner, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_custom_token_login, tu_tree_setup, tu_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_rules_commands, tu_tree_setup, tu_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
