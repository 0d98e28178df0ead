/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-accounts.c — core/accounts.c on the SQLite store: the
 * login merge, the user-data rule, linking and unlinking, deletion,
 * disabling, custom data, the operator's view, and that every refused
 * operation writes nothing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storeutil.h"
#include "testutil.h"

#define NOW 1700000000

struct fx {
	char *dir;
	char *path;
	struct store st;
	sesame_error err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->path = su_db_path("accounts", &f->dir);
	su_open(&f->st, f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(&f->st);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Log in (provider instance = type, except where given) and return the user
 * id, malloc'd; fails the test unless SESAME_OK. */
static char *login_as(struct fx *f, const char *provider, const char *type, const char *uid, const char *data,
		      int64_t now, bool *created)
{
	json_t *id = su_identity(provider, type, uid, data), *user = NULL;
	char *user_id;
	int rc;

	rc = accounts_login(&f->st, id, now, &user, created, &f->err);
	json_decref(id);
	if (rc != SESAME_OK)
		fail_msg("login %s/%s: %s", provider, uid, f->err.text);
	assert_true(store_valid_id(json_string_value(json_object_get(user, "id"))));
	assert_int_equal(json_integer_value(json_object_get(user, "last_login")), now);
	user_id = strdup(json_string_value(json_object_get(user, "id")));
	json_decref(user);
	return user_id;
}

/* Link with an instance declaring the capabilities `caps`. */
static int link_caps(struct fx *f, const char *user_id, const char *provider, const char *type, const char *uid,
		     const char *data, unsigned caps, int64_t now)
{
	json_t *id = su_identity(provider, type, uid, data), *user = NULL;
	int rc = accounts_link(&f->st, user_id, id, caps, now, &user, &f->err);

	json_decref(id);
	if (rc == SESAME_OK)
		assert_string_equal(json_string_value(json_object_get(user, "id")), user_id);
	else
		assert_null(user);
	json_decref(user);
	return rc;
}

static int link_to(struct fx *f, const char *user_id, const char *provider, const char *type, const char *uid,
		   const char *data, int64_t now)
{
	return link_caps(f, user_id, provider, type, uid, data, 0, now);
}

static json_t *user_data(struct fx *f, const char *user_id)
{
	json_t *user = NULL, *data;

	assert_int_equal(accounts_user_get(&f->st, user_id, &user, &f->err), SESAME_OK);
	data = json_incref(json_object_get(user, "data"));
	json_decref(user);
	return data;
}

static void assert_data(struct fx *f, const char *user_id, const char *expected)
{
	json_t *want = json_loads(expected, 0, NULL), *got = user_data(f, user_id);
	char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(want);
	if (!json_equal(want, got))
		fail_msg("user data %s, expected %s", text, expected);
	free(text);
	json_decref(want);
	json_decref(got);
}

/* Every row of every table, as text: what "nothing written" compares. */
static char *snapshot(struct fx *f)
{
	return su_query_text(f->path, "SELECT coalesce((SELECT group_concat(id || type || disabled || created || "
				      "last_login || data || custom_data, '|') FROM users), '') || '#' || "
				      "coalesce((SELECT group_concat(instance || uid || user_id || data || private || "
				      "updated, '|') FROM identities), '') || '#' || "
				      "(SELECT count(*) FROM sessions) || '#' || (SELECT count(*) FROM provider_data)");
}

/* ---- login merge ------------------------------------------------------ */

static void test_same_uid_logs_in_the_same_user(void **state)
{
	struct fx *f = *state;
	bool created = false;
	char *a = login_as(f, "google", "oauth2-google", "u1", NULL, NOW, &created), *b;

	assert_true(created);
	b = login_as(f, "google", "oauth2-google", "u1", NULL, NOW + 10, &created);
	assert_false(created);
	assert_string_equal(a, b);
	assert_int_equal(su_count(f->path, "users"), 1);
	assert_int_equal(su_count(f->path, "identities"), 1);
	free(a);
	free(b);
}

static void test_new_uid_or_instance_creates_a_new_user(void **state)
{
	struct fx *f = *state;
	bool created = false;
	char *a = login_as(f, "google", "oauth2-google", "u1", NULL, NOW, &created);
	char *b = login_as(f, "google", "oauth2-google", "u2", NULL, NOW, &created);
	char *c;

	assert_true(created);
	/* The same uid at another provider instance is another identity. */
	c = login_as(f, "google-2", "oauth2-google", "u1", NULL, NOW, &created);
	assert_true(created);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(su_count(f->path, "users"), 3);
	free(a);
	free(b);
	free(c);
}

static void test_login_refreshes_identity_data_and_user_metadata(void **state)
{
	struct fx *f = *state;
	char *u = login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"Ann\", \"email\": \"a@x\"}", NOW, NULL);
	char *v, *text;

	assert_data(f, u, "{\"name\": \"Ann\", \"email\": \"a@x\"}");
	free(login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"Ann B\"}", NOW + 60, NULL));
	assert_data(f, u, "{\"name\": \"Ann B\"}");
	text = su_query_text(f->path, "SELECT data || updated FROM identities");
	assert_string_equal(text, "{\"name\":\"Ann B\"}1700000060");
	free(text);
	/* The private data is refreshed too and never shown. */
	v = su_query_text(f->path, "SELECT private FROM identities");
	assert_string_equal(v, "{\"secret\":\"kept-for-revocation\"}");
	free(v);
	free(u);
}

static void test_latest_login_wins_on_conflicting_metadata(void **state)
{
	struct fx *f = *state;
	char *u = login_as(f, "google", "oauth2-google", "g1", "{\"name\": \"G\", \"email\": \"g@x\"}", NOW, NULL);

	assert_int_equal(
	    link_to(f, u, "facebook", "oauth2-facebook", "f1", "{\"name\": \"F\", \"picture\": \"p\"}", NOW + 10),
	    SESAME_OK);
	/* The linked identity is the latest used: its name wins. */
	assert_data(f, u, "{\"name\": \"F\", \"email\": \"g@x\", \"picture\": \"p\"}");
	/* Logging in with Google again makes Google's name win, even in the
	 * same second (the current identity is overlaid last). */
	free(login_as(f, "google", "oauth2-google", "g1", "{\"name\": \"G2\", \"email\": \"g@x\"}", NOW + 10, NULL));
	assert_data(f, u, "{\"name\": \"G2\", \"email\": \"g@x\", \"picture\": \"p\"}");
	free(login_as(f, "facebook", "oauth2-facebook", "f1", "{\"name\": \"F2\"}", NOW + 20, NULL));
	assert_data(f, u, "{\"name\": \"F2\", \"email\": \"g@x\"}");
	free(u);
}

/*
 * A returning login whose profile changes nothing writes its identity's
 * "updated" and nothing of the user; the user still shows the login as its
 * last_login.  With two identities, an unchanged profile that is not the
 * one the user's data shows (the other identity won on "name") is merged
 * again: logging in makes it the latest.
 */
static void test_unchanged_login_leaves_the_user_row(void **state)
{
	struct fx *f = *state;
	char *u = login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"Ann\"}", NOW, NULL), *text;
	json_t *user = NULL;

	free(login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"Ann\"}", NOW + 60, NULL));
	text = su_query_text(f->path, "SELECT last_login || data FROM users");
	assert_string_equal(text, "1700000000{\"name\":\"Ann\"}");
	free(text);
	text = su_query_text(f->path, "SELECT updated FROM identities");
	assert_string_equal(text, "1700000060");
	free(text);
	assert_int_equal(accounts_user_get(&f->st, u, &user, &f->err), SESAME_OK);
	assert_int_equal(json_integer_value(json_object_get(user, "last_login")), NOW + 60);
	json_decref(user);

	assert_int_equal(link_to(f, u, "fb", "oauth2-facebook", "f1", "{\"name\": \"F\"}", NOW + 70), SESAME_OK);
	assert_data(f, u, "{\"name\": \"F\"}");
	free(login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"Ann\"}", NOW + 80, NULL));
	assert_data(f, u, "{\"name\": \"Ann\"}");
	free(u);
}

static void test_refused_login_writes_nothing(void **state)
{
	struct fx *f = *state;
	char *u = login_as(f, "jwt", "custom-token", "u1", "{\"name\": \"A\"}", NOW, NULL), *before, *after;
	json_t *id, *bad;

	assert_int_equal(accounts_set_disabled(&f->st, u, true, &f->err), SESAME_OK);
	before = snapshot(f);
	id = su_identity("jwt", "custom-token", "u1", "{\"name\": \"changed\"}");
	assert_int_equal(accounts_login(&f->st, id, NOW + 100, NULL, NULL, &f->err), SESAME_REJECTED);
	assert_string_equal(f->err.reason, "disabled");
	json_decref(id);

	/* Malformed identities: refused before the store is touched. */
	bad = json_pack("{s:s, s:s, s:s}", "provider", "jwt", "provider_type", "custom-token", "id", "");
	assert_int_equal(accounts_login(&f->st, bad, NOW, NULL, NULL, &f->err), SESAME_MALFORMED);
	assert_string_equal(f->err.reason, "identity");
	json_object_set_new(bad, "id", json_string("new"));
	json_object_set_new(bad, "data", json_string("not an object"));
	assert_int_equal(accounts_login(&f->st, bad, NOW, NULL, NULL, &f->err), SESAME_MALFORMED);
	json_object_del(bad, "data");
	json_object_set_new(bad, "provider", json_string("../etc"));
	assert_int_equal(accounts_login(&f->st, bad, NOW, NULL, NULL, &f->err), SESAME_MALFORMED);
	json_decref(bad);

	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(u);
}

/* ---- linking ---------------------------------------------------------- */

static void test_link_refuses_identity_of_another_user(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL);
	char *b = login_as(f, "apple", "oauth2-apple", "a1", NULL, NOW, NULL);
	char *before = snapshot(f), *after;

	assert_int_equal(link_to(f, a, "apple", "oauth2-apple", "a1", "{\"name\": \"X\"}", NOW + 5), SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "linked");
	assert_string_equal(f->err.text, "a user already exists with the specified provider");
	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(a);
	free(b);
}

#define ANON SESAME_PROVIDER_CAP_ANONYMOUS
#define ONE  SESAME_PROVIDER_CAP_ONE_PER_USER

/* A refused link: the reason, the exact message, and nothing written. */
static void expect_link_refused(struct fx *f, const char *user_id, const char *provider, const char *type,
				const char *uid, unsigned caps, const char *text)
{
	char *before = snapshot(f), *after;

	assert_int_equal(link_caps(f, user_id, provider, type, uid, NULL, caps, NOW), SESAME_REJECTED);
	assert_string_equal(f->err.reason, "link-type");
	assert_string_equal(f->err.text, text);
	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* The App Services linking rules, decided by the instance's capabilities,
 * never by the type name. */
static void test_link_rules_follow_capabilities(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL);

	/* An anonymous identity never joins a user, whatever its type name. */
	expect_link_refused(f, a, "anon-user", "anon-user", "anon1", ANON | SESAME_PROVIDER_CAP_NO_LINK,
			    "linking an anonymous identity is not allowed");
	expect_link_refused(f, a, "guest", "third-party-guest", "anon2", ANON,
			    "linking an anonymous identity is not allowed");
	expect_link_refused(f, a, "kiosk", "kiosk-card", "k1", SESAME_PROVIDER_CAP_NO_LINK,
			    "linking a kiosk-card identity is not allowed");
	/* An email/password identity joins a user that has none ... */
	assert_int_equal(link_caps(f, a, "local-userpass", "local-userpass", "me@x", NULL, ONE, NOW), SESAME_OK);
	/* ... again idempotently, but a second one of the type (even through
	 * another instance) is refused. */
	assert_int_equal(link_caps(f, a, "local-userpass", "local-userpass", "me@x", NULL, ONE, NOW + 1), SESAME_OK);
	expect_link_refused(f, a, "staff-userpass", "local-userpass", "other@x", ONE,
			    "linking a local-userpass identity is not allowed when one is already linked");
	/* A third-party one-per-user type gets its own name in the message. */
	assert_int_equal(link_caps(f, a, "htpasswd", "htpasswd", "ann", NULL, ONE, NOW), SESAME_OK);
	expect_link_refused(f, a, "htpasswd", "htpasswd", "bob", ONE,
			    "linking a htpasswd identity is not allowed when one is already linked");
	/* Without the capability, any number of identities of one type. */
	assert_int_equal(link_to(f, a, "google", "oauth2-google", "g2", NULL, NOW), SESAME_OK);
	free(a);
}

/* "Try anonymously, then sign up": the anonymous user gains an
 * email/password identity, and a login with it returns that same user. */
static void test_anonymous_user_links_email_password(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "anon-user", "anon-user", "anon-x", NULL, NOW, NULL), *b;

	assert_int_equal(link_caps(f, a, "local-userpass", "local-userpass", "new@x", "{\"email\": \"new@x\"}", ONE,
				   NOW + 1),
			 SESAME_OK);
	b = login_as(f, "local-userpass", "local-userpass", "new@x", NULL, NOW + 2, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* An identity another user holds: SESAME_CONFLICT "linked", whatever the
 * capabilities, and nothing changes. */
static void test_link_conflict_before_capabilities(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL);
	char *b = login_as(f, "local-userpass", "local-userpass", "taken@x", NULL, NOW, NULL);
	char *before = snapshot(f), *after;

	assert_int_equal(link_caps(f, a, "local-userpass", "local-userpass", "taken@x", NULL, ONE, NOW + 1),
			 SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "linked");
	assert_string_equal(f->err.text, "a user already exists with the specified provider");
	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(a);
	free(b);
}

static void test_link_is_idempotent_and_checks_the_user(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL), *before, *after;

	assert_int_equal(link_to(f, a, "apple", "oauth2-apple", "a1", "{\"n\": 1}", NOW), SESAME_OK);
	assert_int_equal(link_to(f, a, "apple", "oauth2-apple", "a1", "{\"n\": 2}", NOW + 1), SESAME_OK);
	assert_int_equal(link_to(f, a, "google", "oauth2-google", "g1", NULL, NOW + 2), SESAME_OK);
	assert_int_equal(su_count(f->path, "identities"), 2);
	assert_int_equal(su_count(f->path, "users"), 1);
	assert_data(f, a, "{\"n\": 2}");

	before = snapshot(f);
	assert_int_equal(link_to(f, "5f00000000000000000000ff", "fb", "oauth2-facebook", "x", NULL, NOW),
			 SESAME_NOT_FOUND);
	assert_string_equal(f->err.reason, "user");
	assert_int_equal(link_to(f, "not-an-id", "fb", "oauth2-facebook", "x", NULL, NOW), SESAME_MALFORMED);
	assert_int_equal(accounts_set_disabled(&f->st, a, true, &f->err), SESAME_OK);
	free(before);
	before = snapshot(f);
	assert_int_equal(link_to(f, a, "fb", "oauth2-facebook", "x", NULL, NOW), SESAME_REJECTED);
	assert_string_equal(f->err.reason, "disabled");
	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(a);
}

/* A session opened with identity (provider, uid). */
static void add_identity_session(struct fx *f, const char *user_id, const char *provider, const char *uid,
				 const char *session_id)
{
	char hash[SESAME_STORE_HASH_LENGTH + 1];
	json_t *s;

	memset(hash, session_id[SESAME_STORE_ID_LENGTH - 1], SESAME_STORE_HASH_LENGTH);
	hash[SESAME_STORE_HASH_LENGTH] = '\0';
	s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "id", session_id, "user_id", user_id,
		      "device_id", "d", "refresh_hash", hash, "created", (json_int_t)NOW, "expires",
		      (json_int_t)NOW + 100, "last_used", (json_int_t)NOW, "provider", provider, "provider_uid", uid);
	assert_int_equal(f->st.desc->session_insert(f->st.h, NULL, s, &f->err), SESAME_OK);
	json_decref(s);
}

static void test_unlink_refuses_the_last_identity(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", "{\"g\": 1}", NOW, NULL);
	char *b = login_as(f, "apple", "oauth2-apple", "other", NULL, NOW, NULL);

	assert_int_equal(accounts_unlink(&f->st, a, "google", "g1", &f->err), SESAME_REJECTED);
	assert_string_equal(f->err.reason, "last-identity");
	assert_int_equal(link_to(f, a, "fb", "oauth2-facebook", "f1", "{\"f\": 1}", NOW + 1), SESAME_OK);
	assert_data(f, a, "{\"g\": 1, \"f\": 1}");
	/* Only the user's own identities can be unlinked. */
	assert_int_equal(accounts_unlink(&f->st, a, "apple", "other", &f->err), SESAME_NOT_FOUND);
	assert_string_equal(f->err.reason, "identity");
	add_identity_session(f, a, "google", "g1", "650000000000000000000001");
	add_identity_session(f, a, "fb", "f1", "650000000000000000000002");
	assert_int_equal(accounts_unlink(&f->st, a, "google", "g1", &f->err), SESAME_OK);
	assert_data(f, a, "{\"f\": 1}");
	/* The unlinked identity's session ended; the other one lives on. */
	assert_int_equal(su_count(f->path, "sessions WHERE provider = 'google'"), 0);
	assert_int_equal(su_count(f->path, "sessions WHERE provider = 'fb'"), 1);
	assert_int_equal(accounts_unlink(&f->st, a, "fb", "f1", &f->err), SESAME_REJECTED);
	assert_int_equal(su_count(f->path, "identities"), 2);
	/* The unlinked identity logs in as a new user. */
	free(b);
	b = login_as(f, "google", "oauth2-google", "g1", NULL, NOW + 2, NULL);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

/* ---- deletion --------------------------------------------------------- */

struct hook_calls {
	int n;
	char seen[4][64];
	int status;
};

static int record_hook(void *data, const json_t *identity, sesame_error *err)
{
	struct hook_calls *h = data;

	assert_true(h->n < 4);
	/* The hook gets the private data: Apple revocation needs its token. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(identity, "private"), "secret")),
			    "kept-for-revocation");
	snprintf(h->seen[h->n++], sizeof(h->seen[0]), "%s/%s", json_string_value(json_object_get(identity, "provider")),
		 json_string_value(json_object_get(identity, "id")));
	if (h->status != SESAME_OK)
		return seterr(err, h->status, "test", "hook failure on purpose");
	return SESAME_OK;
}

static void add_session_and_data(struct fx *f, const char *user_id, const char *session_id, const char *hash)
{
	json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", session_id, "user_id", user_id, "device_id",
			      "d", "refresh_hash", hash, "created", (json_int_t)NOW, "expires", (json_int_t)NOW + 100,
			      "last_used", (json_int_t)NOW);
	json_t *v = json_string("hash");

	assert_int_equal(f->st.desc->session_insert(f->st.h, NULL, s, &f->err), SESAME_OK);
	assert_int_equal(
	    f->st.desc->kv_put(f->st.h, NULL, "local-userpass", session_id, v, user_id, 0, 0, NOW, &f->err), SESAME_OK);
	json_decref(s);
	json_decref(v);
}

static void test_delete_calls_the_hook_per_identity_and_leaves_no_row(void **state)
{
	struct fx *f = *state;
	struct hook_calls calls = {.status = SESAME_UNAVAILABLE};
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL);
	char *keep = login_as(f, "google", "oauth2-google", "g2", NULL, NOW, NULL);

	assert_int_equal(link_to(f, a, "apple", "oauth2-apple", "a1", NULL, NOW + 1), SESAME_OK);
	add_session_and_data(f, a, "650000000000000000000001",
			     "1111111111111111111111111111111111111111111111111111111111111111");
	add_session_and_data(f, keep, "650000000000000000000002",
			     "2222222222222222222222222222222222222222222222222222222222222222");

	/* A failing hook is logged; the deletion still happens. */
	assert_int_equal(accounts_delete(&f->st, a, record_hook, &calls, &f->err), SESAME_OK);
	assert_int_equal(calls.n, 2);
	assert_string_equal(calls.seen[0], "google/g1");
	assert_string_equal(calls.seen[1], "apple/a1");
	assert_int_equal(su_count(f->path, "users"), 1);
	assert_int_equal(su_count(f->path, "identities"), 1);
	assert_int_equal(su_count(f->path, "sessions"), 1);
	assert_int_equal(su_count(f->path, "provider_data"), 1);
	assert_int_equal(su_count_all(f->path), 4);

	assert_int_equal(accounts_delete(&f->st, a, record_hook, &calls, &f->err), SESAME_NOT_FOUND);
	assert_int_equal(calls.n, 2);
	calls.status = SESAME_OK;
	assert_int_equal(accounts_delete(&f->st, keep, record_hook, &calls, &f->err), SESAME_OK);
	assert_int_equal(calls.n, 3);
	assert_int_equal(su_count_all(f->path), 0);
	free(a);
	free(keep);
}

/* ---- disable / enable ---------------------------------------------------- */

static void test_disable_ends_sessions_and_blocks_login_until_enabled(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL), *b;
	json_t *id = su_identity("google", "oauth2-google", "g1", NULL), *user = NULL;

	add_session_and_data(f, a, "650000000000000000000001",
			     "1111111111111111111111111111111111111111111111111111111111111111");
	assert_int_equal(accounts_set_disabled(&f->st, a, true, &f->err), SESAME_OK);
	assert_int_equal(su_count(f->path, "sessions"), 0);
	assert_int_equal(accounts_user_get(&f->st, a, &user, &f->err), SESAME_OK);
	assert_true(json_is_true(json_object_get(user, "disabled")));
	json_decref(user);
	assert_int_equal(accounts_login(&f->st, id, NOW + 1, &user, NULL, &f->err), SESAME_REJECTED);
	assert_string_equal(f->err.reason, "disabled");
	assert_null(user);

	assert_int_equal(accounts_set_disabled(&f->st, a, false, &f->err), SESAME_OK);
	b = login_as(f, "google", "oauth2-google", "g1", NULL, NOW + 2, NULL);
	assert_string_equal(a, b);
	assert_int_equal(accounts_set_disabled(&f->st, "5f00000000000000000000ff", true, &f->err), SESAME_NOT_FOUND);
	json_decref(id);
	free(a);
	free(b);
}

/* ---- custom data ------------------------------------------------------ */

static json_t *object_of_size(size_t size)
{
	/* {"k":"xxx..."} is 8 bytes plus the string. */
	char *s = malloc(size - 8 + 1);
	json_t *o;

	assert_non_null(s);
	memset(s, 'x', size - 8);
	s[size - 8] = '\0';
	o = json_pack("{s:s}", "k", s);
	free(s);
	return o;
}

static void test_custom_data_set_get_and_cap(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", NULL, NOW, NULL), *before, *after;
	json_t *data = json_pack("{s:b, s:[s]}", "canRead", 1, "teams", "red"), *got = NULL;
	json_t *at_cap = object_of_size(ACCOUNTS_CUSTOM_DATA_MAX), *over = object_of_size(ACCOUNTS_CUSTOM_DATA_MAX + 1);
	json_t *arr = json_array();

	assert_int_equal(accounts_custom_data_get(&f->st, a, &got, &f->err), SESAME_OK);
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
	assert_int_equal(accounts_custom_data_set(&f->st, a, data, 0, &f->err), SESAME_OK);
	assert_int_equal(accounts_custom_data_get(&f->st, a, &got, &f->err), SESAME_OK);
	assert_true(json_equal(got, data));
	json_decref(got);
	/* A later login does not touch the custom data. */
	free(login_as(f, "google", "oauth2-google", "g1", NULL, NOW + 1, NULL));
	assert_int_equal(accounts_custom_data_get(&f->st, a, &got, &f->err), SESAME_OK);
	assert_true(json_equal(got, data));
	json_decref(got);

	assert_int_equal(accounts_custom_data_set(&f->st, a, at_cap, 0, &f->err), SESAME_OK);
	before = snapshot(f);
	assert_int_equal(accounts_custom_data_set(&f->st, a, over, 0, &f->err), SESAME_MALFORMED);
	assert_string_equal(f->err.reason, "size");
	assert_int_equal(accounts_custom_data_set(&f->st, a, data, 10, &f->err), SESAME_MALFORMED);
	assert_string_equal(f->err.reason, "size");
	assert_int_equal(accounts_custom_data_set(&f->st, a, arr, 0, &f->err), SESAME_MALFORMED);
	assert_string_equal(f->err.reason, "type");
	assert_int_equal(accounts_custom_data_set(&f->st, "5f00000000000000000000ff", data, 0, &f->err),
			 SESAME_NOT_FOUND);
	after = snapshot(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(data);
	json_decref(at_cap);
	json_decref(over);
	json_decref(arr);
	free(a);
}

/* ---- the operator's view ---------------------------------------------- */

static void test_user_get_hides_private_data(void **state)
{
	struct fx *f = *state;
	char *a = login_as(f, "google", "oauth2-google", "g1", "{\"email\": \"e\"}", NOW, NULL);
	json_t *user = NULL, *ids, *first;

	assert_int_equal(accounts_user_get(&f->st, a, &user, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(user, "type")), "normal");
	assert_int_equal(json_integer_value(json_object_get(user, "created")), NOW);
	ids = json_object_get(user, "identities");
	assert_int_equal(json_array_size(ids), 1);
	first = json_array_get(ids, 0);
	assert_string_equal(json_string_value(json_object_get(first, "provider")), "google");
	assert_string_equal(json_string_value(json_object_get(first, "provider_type")), "oauth2-google");
	assert_string_equal(json_string_value(json_object_get(first, "id")), "g1");
	assert_null(json_object_get(first, "private"));
	assert_null(json_object_get(first, "user_id"));
	json_decref(user);
	assert_int_equal(accounts_user_get(&f->st, "5f00000000000000000000ff", &user, &f->err), SESAME_NOT_FOUND);
	assert_int_equal(accounts_user_get(&f->st, "../../x", &user, &f->err), SESAME_MALFORMED);
	assert_string_equal(f->err.reason, "id");
	free(a);
}

static void test_users_list_pages_in_id_order(void **state)
{
	struct fx *f = *state;
	char *ids[5], last[SESAME_STORE_ID_LENGTH + 1] = "";
	json_t *page = NULL;
	size_t i, seen = 0, pages = 0;

	for (i = 0; i < 5; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "u%zu", i);
		ids[i] = login_as(f, "jwt", "custom-token", uid, NULL, NOW + (int64_t)i, NULL);
	}
	for (;;) {
		json_t *u;
		size_t k;

		assert_int_equal(accounts_users_list(&f->st, last[0] ? last : NULL, 2, &page, &f->err), SESAME_OK);
		if (json_array_size(page) == 0)
			break;
		pages++;
		json_array_foreach(page, k, u)
		{
			const char *id = json_string_value(json_object_get(u, "id"));

			assert_true(strcmp(id, last) > 0);
			assert_int_equal(json_array_size(json_object_get(u, "identities")), 1);
			assert_null(json_object_get(json_array_get(json_object_get(u, "identities"), 0), "private"));
			memcpy(last, id, sizeof(last));
			seen++;
		}
		json_decref(page);
	}
	json_decref(page);
	assert_int_equal(seen, 5);
	assert_int_equal(pages, 3);
	assert_int_equal(accounts_users_list(&f->st, "zz", 2, &page, &f->err), SESAME_MALFORMED);
	assert_int_equal(accounts_users_list(&f->st, NULL, 1001, &page, &f->err), SESAME_MALFORMED);
	for (i = 0; i < 5; i++)
		free(ids[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_uid_logs_in_the_same_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_uid_or_instance_creates_a_new_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_refreshes_identity_data_and_user_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latest_login_wins_on_conflicting_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unchanged_login_leaves_the_user_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_login_writes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_refuses_identity_of_another_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_rules_follow_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anonymous_user_links_email_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_conflict_before_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_is_idempotent_and_checks_the_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_refuses_the_last_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_calls_the_hook_per_identity_and_leaves_no_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disable_ends_sessions_and_blocks_login_until_enabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_custom_data_set_get_and_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_get_hides_private_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users_list_pages_in_id_order, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
