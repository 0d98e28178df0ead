/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-rules-sesamed.c — the rules routes of sesamed end to
 * end: POST /api/sesame/v1/rules/evaluate and /rules/filter with a user's
 * access token or the admin key, bad bodies and tokens, a bad rule file
 * failing closed, and SIGHUP reloading the rules.  sesamed runs on a free
 * loopback port with the fixture plugins and a temporary rules.d.
 */
#include "config.h"

#include "harness.h"

#define NOTES_RULES                                                                                                    \
	"{\"roles\": [{\"name\": \"boss\", \"apply_when\": {\"%%user.custom_data.role\": \"boss\"}, \"read\": true, "  \
	"\"write\": true}, {\"name\": \"owner\", \"apply_when\": {\"owner\": \"%%user.id\"}, \"fields\": {\"text\": "  \
	"{\"write\": true}, \"owner\": {\"read\": true}}}]}\n"

/* A daemon on the fixture plugins with anon-user and the rules directory
 * *rules_dir (malloc'd) holding app.notes and a broken app.bad. */
static struct daemon *rules_daemon(char **rules_dir)
{
	struct daemon *d = daemon_new_fixtures("sesamed-rules", NULL);
	char extra[2048];

	*rules_dir = tu_mkdir(d->dir, "rules.d", 0755);
	snprintf(extra, sizeof(extra), "\"rules_dirs\": [\"%s\"], \"admin_key\": \"" ADMIN_KEY "\"", *rules_dir);
	write_config(d, extra);
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	free(tu_write(*rules_dir, "app.notes.json", NOTES_RULES, 0644));
	free(tu_write(*rules_dir, "app.bad.json",
		      "{\"roles\": [{\"name\": \"r\",\n \"apply_when\": {\"$where\": 1}}]}\n", 0644));
	return d;
}

/* POST `body` to `path` with `auth` (a full Authorization header, or NULL). */
static void post_as(const struct daemon *d, const char *path, const char *auth, const char *body, struct http *r)
{
	http(d, &(struct req){"POST", path, {JSON_TYPE_HEADER, auth}, body, false, NULL}, r);
}

static json_t *ok_json(const struct http *r)
{
	if (r->status != 200)
		fail_msg("status %ld: %s", r->status, r->body ? r->body : "");
	return json_body(r);
}

static void test_rules_routes(void **state)
{
	char *rules, *uid, *token, auth[4096], body[2048];
	struct daemon *d = rules_daemon(&rules);
	const char *admin = "Authorization: Bearer " ADMIN_KEY;
	struct http r;
	json_t *v;

	(void)state;
	daemon_start(d);
	post_as(d, "/api/client/v2.0/app/test-app/auth/providers/anon-user/login", NULL, "{}", &r);
	v = ok_json(&r);
	uid = strdup(json_string_value(json_object_get(v, "user_id")));
	token = strdup(json_string_value(json_object_get(v, "access_token")));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	json_decref(v);
	http_free(&r);

	/* The user of the access token: its own note, field by field. */
	snprintf(body, sizeof(body),
		 "{\"namespace\": \"app.notes\", \"action\": \"write\", \"document\": {\"owner\": \"%s\", \"text\": "
		 "\"b\", \"x\": 1}, \"prev\": {\"owner\": \"%s\", \"text\": \"a\", \"x\": 1}}",
		 uid, uid);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth, body, &r);
	v = ok_json(&r);
	assert_true(json_is_true(json_object_get(v, "allowed")));
	assert_string_equal(json_string_value(json_object_get(v, "role")), "owner");
	assert_null(json_object_get(json_object_get(v, "document"), "x"));
	json_decref(v);
	http_free(&r);
	/* A denial is a 200 with "allowed": false. */
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": {\"owner\": \"someone\"}}", &r);
	v = ok_json(&r);
	assert_true(json_is_false(json_object_get(v, "allowed")));
	assert_true(json_is_null(json_object_get(v, "role")));
	json_decref(v);
	http_free(&r);
	/* The admin key is the system user: everything. */
	post_as(d, "/api/sesame/v1/rules/evaluate", admin,
		"{\"namespace\": \"app.notes\", \"action\": \"delete\", \"document\": {\"owner\": \"someone\"}}", &r);
	v = ok_json(&r);
	assert_true(json_is_true(json_object_get(v, "allowed")));
	json_decref(v);
	http_free(&r);
	/* Filters. */
	post_as(d, "/api/sesame/v1/rules/filter", auth, "{\"namespace\": \"app.notes\", \"action\": \"read\"}", &r);
	v = ok_json(&r);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "filter"), "owner")), uid);
	json_decref(v);
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/filter", admin, "{\"namespace\": \"app.notes\", \"action\": \"write\"}", &r);
	v = ok_json(&r);
	assert_int_equal(json_object_size(json_object_get(v, "filter")), 0);
	json_decref(v);
	http_free(&r);
	/* Custom data set through the admin API changes the role at once, with the same token. */
	snprintf(body, sizeof(body), "/api/admin/v1/users/%s/custom_data", uid);
	http(d, &(struct req){"PUT", body, {JSON_TYPE_HEADER, admin}, "{\"role\": \"boss\"}", false, NULL}, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": {\"owner\": \"someone\"}}", &r);
	v = ok_json(&r);
	assert_string_equal(json_string_value(json_object_get(v, "role")), "boss");
	json_decref(v);
	http_free(&r);

	/* A bad rule file: its namespace is denied with the reason, 200. */
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.bad\", \"action\": \"read\", \"document\": {}}", &r);
	v = ok_json(&r);
	assert_true(json_is_false(json_object_get(v, "allowed")));
	assert_non_null(strstr(json_string_value(json_object_get(v, "error")), "app.bad.json:2:17"));
	json_decref(v);
	http_free(&r);

	/* Missing or bad tokens: 401. */
	post_as(d, "/api/sesame/v1/rules/evaluate", NULL, "{\"namespace\": \"app.notes\", \"action\": \"read\"}", &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/filter", "Authorization: Bearer not.a.token",
		"{\"namespace\": \"app.notes\", \"action\": \"read\"}", &r);
	assert_error(&r, 401, "InvalidSession", "invalid session");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/filter", "Authorization: Bearer admin-key-wrong",
		"{\"namespace\": \"app.notes\", \"action\": \"read\"}", &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);

	/* Bad requests: 400 naming what is wrong. */
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": {}, \"user_id\": \"x\"}", &r);
	assert_error(&r, 400, "BadRequest", "unknown member \"user_id\"");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth, "{\"action\": \"read\", \"document\": {}}", &r);
	assert_error(&r, 400, "BadRequest", "\"namespace\"");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"frob\", \"document\": {}}", &r);
	assert_error(&r, 400, "BadRequest", "action");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"notes\", \"action\": \"read\", \"document\": {}}", &r);
	assert_error(&r, 400, "BadRequest", "namespace");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": [1]}", &r);
	assert_error(&r, 400, "BadRequest", "JSON object");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"write\", \"document\": {}}", &r);
	assert_error(&r, 400, "BadRequest", "prev");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": "
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
		&r);
	assert_error(&r, 400, "BadRequest", "deeper");
	http_free(&r);
	post_as(d, "/api/sesame/v1/rules/filter", auth, "{\"namespace\": \"app.notes\", \"action\": \"insert\"}", &r);
	assert_error(&r, 400, "BadRequest", "read");
	http_free(&r);

	/* SIGHUP reloads the rules with the configuration. */
	free(tu_write(rules, "app.notes.json", "{\"roles\": [{\"name\": \"all\", \"read\": true}]}\n", 0644));
	kill(d->pid, SIGHUP);
	assert_true(log_wait(d, "sesamed: reloaded the configuration", 1));
	post_as(d, "/api/sesame/v1/rules/evaluate", auth,
		"{\"namespace\": \"app.notes\", \"action\": \"read\", \"document\": {\"owner\": \"someone\"}}", &r);
	v = ok_json(&r);
	assert_string_equal(json_string_value(json_object_get(v, "role")), "all");
	json_decref(v);
	http_free(&r);

	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
	free(rules);
	free(uid);
	free(token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_rules_routes)};
	int failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("sesamed rules", tests, NULL, NULL);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
