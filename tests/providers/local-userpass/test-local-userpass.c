/* SPDX-License-Identifier: MIT */
/* tests/providers/local-userpass/test-local-userpass.c — the local-userpass provider through
 * libsesame and the sesame CLI, with tests/providers/local-userpass/sender.sh as the mailer:
 * register, confirm, login, reset, and every refusal (weak hashes
 * rehashed, long or NUL-holding passwords, unknown users answered like
 * wrong passwords, address variants as one account); the confirm/call and
 * reset/call flows with tests/providers/local-userpass/caller.sh as the
 * program that decides; abuse: parallel guesses against the per-address
 * failure ceiling, known and unknown addresses alike, stale tokens, mails
 * per address, logins while the password-hashing budget is spent. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir, *main, *drop, *plugins, *sender, *caller;
	char *box; /* where the programs, as their own user, keep their outbox */
	unsigned log2_n;
	sesame_ctx *ctx;
};

/* (Re)configure the context with scrypt N = 2^log2_n. */
static void configure(struct env *e, unsigned log2_n)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"max_failures\": 3, \"scrypt\": {\"log2_n\": %u, \"r\": 8, "
		 "\"p\": 1}}}",
		 e->sender, e->box, e->sender, e->box, log2_n);
	free(tu_write(e->drop, "up.json", text, 0644));
	free(tu_write(
	    e->drop, "auto.json",
	    "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"scrypt\": {\"log2_n\": 10}}}",
	    0644));
	snprintf(
	    text, sizeof(text),
	    "{\"type\": \"local-userpass\", \"config\": {\"confirm_call_command\": [\"%s\", \"%s\"], "
	    "\"reset_call_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": %u}, \"max_mails_per_hour\": 100}}",
	    e->caller, e->box, e->caller, e->box, log2_n);
	free(tu_write(e->drop, "call.json", text, 0644));
	free(tu_write(e->drop, "neither.json", "{\"type\": \"local-userpass\", \"config\": {}}", 0644));
	free(tu_write(e->drop, "ceil.json",
		      "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"max_failures\": 5, "
		      "\"scrypt\": {\"log2_n\": 10}}}",
		      0644));
	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"max_mails_per_hour\": 3, \"scrypt\": {\"log2_n\": 10}}}",
		 e->sender, e->box, e->sender, e->box);
	free(tu_write(e->drop, "mailer.json", text, 0644));
	sesame_free(e->ctx);
	e->ctx = tu_context(e->main);
	e->log2_n = log2_n;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096], src[1024];

	e->dir = tu_tmpdir("local-userpass");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->plugins = tu_mkdir(e->dir, "plugins", 0755);
	snprintf(src, sizeof(src), "%s/local-userpass.so", tu_env("SESAME_TEST_PLUGINS"));
	snprintf(text, sizeof(text), "%s/local-userpass.so", e->plugins);
	tu_copy_file(src, text, 0755);
	snprintf(src, sizeof(src), "%s/tests/providers/local-userpass/sender.sh", tu_env("SESAME_TEST_SRCDIR"));
	e->sender = tu_path(e->dir, "sender.sh");
	tu_copy_file(src, e->sender, 0755);
	snprintf(src, sizeof(src), "%s/tests/providers/local-userpass/caller.sh", tu_env("SESAME_TEST_SRCDIR"));
	e->caller = tu_path(e->dir, "caller.sh");
	tu_copy_file(src, e->caller, 0755);
	e->box = tu_program_dir(e->dir, "box");
	e->main =
	    tu_main_config_at(e->dir, e->plugins, "\"app_id\": \"test-app\", \"password_hashing\": {\"queue\": 0}");
	configure(e, 10);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->drop);
	free(e->plugins);
	free(e->sender);
	free(e->caller);
	free(e->box);
	free(e);
	return 0;
}

static int act(struct env *e, const char *inst, const char *name, json_t *args, sesame_error *err)
{
	int rc;

	assert_non_null(args);
	rc = sesame_provider_action_as(e->ctx, NULL, inst, name, args, NULL, err);
	json_decref(args);
	return rc;
}

static int login(struct env *e, const char *inst, const char *email, const char *pw, json_t **session,
		 sesame_error *err)
{
	json_t *cred = json_pack("{s:s, s:s%}", "username", email, "password", pw, strlen(pw));
	int rc;

	*session = NULL;
	rc = sesame_login(e->ctx, inst, cred, NULL, session, err);
	json_decref(cred);
	return rc;
}

/* The last message the mailer got. */
static json_t *last_mail(struct env *e)
{
	char cmd[1100], *out = NULL;
	json_t *m;

	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/outbox'", e->box);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	m = json_loads(out, 0, NULL);
	if (!m)
		fail_msg("no mail: %s", out);
	free(out);
	return m;
}

static json_t *token_args(const json_t *mail, const char *password)
{
	json_t *a = json_pack("{s:O, s:O}", "token", json_object_get(mail, "token"), "tokenId",
			      json_object_get(mail, "tokenId"));

	if (password)
		json_object_set_new(a, "password", json_string(password));
	return a;
}

static void test_register_confirm_login(void **state)
{
	struct env *e = *state;
	json_t *mail, *s = NULL, *id = NULL;
	sesame_error err;

	assert_int_equal(
	    act(e, "up", "register", json_pack("{s:s, s:s}", "email", "Ann@Example.org", "password", "secret-1"), &err),
	    SESAME_OK);
	mail = last_mail(e);
	assert_string_equal(json_string_value(json_object_get(mail, "email")), "Ann@Example.org");
	assert_int_equal(strlen(json_string_value(json_object_get(mail, "token"))), 64);
	/* Pending: a clear refusal. */
	tu_expect_error(login(e, "up", "ann@example.org", "secret-1", &s, &err), &err, SESAME_REJECTED, "pending");
	assert_non_null(strstr(err.text, "confirm"));
	assert_int_equal(act(e, "up", "confirm", token_args(mail, NULL), &err), SESAME_OK);
	/* Single use. */
	tu_expect_error(act(e, "up", "confirm", token_args(mail, NULL), &err), &err, SESAME_REJECTED, "token");
	json_decref(mail);
	/* Any case of the address logs in, as one identity. */
	assert_int_equal(login(e, "up", "ANN@example.ORG", "secret-1", &s, &err), SESAME_OK);
	json_decref(s);
	{
		json_t *cred = json_pack("{s:s, s:s}", "username", "ann@example.org", "password", "secret-1");

		assert_int_equal(sesame_verify_credential(e->ctx, "up", cred, &id, &err), SESAME_OK);
		assert_string_equal(json_string_value(json_object_get(id, "id")), "ann@example.org");
		assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "email")),
				    "Ann@Example.org");
		json_decref(id);
		json_decref(cred);
	}
	/* Confirmed already. */
	tu_expect_error(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "ann@example.org"), &err), &err,
			SESAME_CONFLICT, "already-confirmed");
	/* auto_confirm: logs in at once; neither way configured: refused. */
	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "bo@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	assert_int_equal(login(e, "auto", "bo@example.org", "pass-word", &s, &err), SESAME_OK);
	json_decref(s);
	tu_expect_error(act(e, "neither", "register", json_object(), &err), &err, SESAME_UNAVAILABLE, "provider");
}

/* Variants of one address are one account; mail goes to the stored
 * address only. */
static void test_one_canonical_address(void **state)
{
	struct env *e = *state;
	json_t *mail;
	sesame_error err;

	assert_int_equal(act(e, "up", "register",
			     json_pack("{s:s, s:s}", "email", "Mixed@Example.com", "password", "pw-123456"), &err),
			 SESAME_OK);
	tu_expect_error(act(e, "up", "register",
			    json_pack("{s:s, s:s}", "email", "mixed@EXAMPLE.com", "password", "pw-654321"), &err),
			&err, SESAME_CONFLICT, "name-in-use");
	tu_expect_error(act(e, "up", "register",
			    json_pack("{s:s, s:s}", "email", "mixed@ex\xc3\xa4mple.com", "password", "pw-654321"),
			    &err),
			&err, SESAME_MALFORMED, "email");
	tu_expect_error(
	    act(e, "up", "register", json_pack("{s:s, s:s}", "email", "no-at-sign", "password", "pw-654321"), &err),
	    &err, SESAME_MALFORMED, "email");
	/* The longest address fits the store's key ("user:" + 250 = 255
	 * bytes); one byte more is refused as an address, not as a key. */
	{
		char addr[300];

		memset(addr, 'a', 250);
		memcpy(addr + 250 - 12, "@example.com", 13);
		assert_int_equal(
		    act(e, "up", "register", json_pack("{s:s, s:s}", "email", addr, "password", "pw-123456"), &err),
		    SESAME_OK);
		memset(addr, 'b', 251);
		memcpy(addr + 251 - 12, "@example.com", 13);
		tu_expect_error(
		    act(e, "up", "register", json_pack("{s:s, s:s}", "email", addr, "password", "pw-123456"), &err),
		    &err, SESAME_MALFORMED, "email");
		assert_non_null(strstr(err.text, "250"));
	}
	assert_int_equal(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "MIXED@example.COM"), &err),
			 SESAME_OK);
	mail = last_mail(e);
	assert_string_equal(json_string_value(json_object_get(mail, "email")), "Mixed@Example.com");
	json_decref(mail);
	tu_expect_error(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "nobody@example.com"), &err), &err,
			SESAME_NOT_FOUND, "user");
}

/* Passwords: 6..128 characters, NUL refused, never truncated. */
static void test_password_rules(void **state)
{
	struct env *e = *state;
	char long_pw[130];
	json_t *s = NULL, *args;
	sesame_error err;

	tu_expect_error(
	    act(e, "auto", "register", json_pack("{s:s, s:s}", "email", "a@b.c", "password", "12345"), &err), &err,
	    SESAME_MALFORMED, "password");
	memset(long_pw, 'x', 129);
	long_pw[129] = '\0';
	tu_expect_error(
	    act(e, "auto", "register", json_pack("{s:s, s:s}", "email", "a@b.c", "password", long_pw), &err), &err,
	    SESAME_MALFORMED, "password");
	args = json_pack("{s:s, s:s#}", "email", "a@b.c", "password", "abc\0defgh", (size_t)9);
	tu_expect_error(act(e, "auto", "register", args, &err), &err, SESAME_MALFORMED, "password");
	/* Six characters of two bytes each are six characters. */
	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "u@b.c", "password",
				       "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
			     &err),
			 SESAME_OK);
	long_pw[128] = '\0';
	assert_int_equal(
	    act(e, "auto", "register", json_pack("{s:s, s:s}", "email", "a@b.c", "password", long_pw), &err),
	    SESAME_OK);
	/* All 128 count: the 127-character prefix is a wrong password. */
	long_pw[127] = '\0';
	tu_expect_error(login(e, "auto", "a@b.c", long_pw, &s, &err), &err, SESAME_REJECTED, "password");
	long_pw[127] = 'x';
	assert_int_equal(login(e, "auto", "a@b.c", long_pw, &s, &err), SESAME_OK);
	json_decref(s);
}

/* An unknown user and a wrong password: the same answer, and a KDF run,
 * either way; then the account is throttled. */
static void test_unknown_user_and_wrong_password_alike(void **state)
{
	struct env *e = *state;
	char unknown[SESAME_ERROR_TEXT_LENGTH];
	uint64_t before;
	json_t *s = NULL;
	sesame_error err;

	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "cy@example.org", "password", "right-pw"), &err),
			 SESAME_OK);
	before = atomic_load(&e->ctx->kdf_runs);
	tu_expect_error(login(e, "auto", "nobody@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED,
			"password");
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before + 1);
	snprintf(unknown, sizeof(unknown), "%s", err.text);
	tu_expect_error(login(e, "auto", "cy@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED, "password");
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before + 2);
	assert_string_equal(err.text, unknown);
	/* max_failures of "auto" is the default 10; "up" has 3. */
	assert_int_equal(
	    act(e, "up", "register", json_pack("{s:s, s:s}", "email", "dee@example.org", "password", "right-pw"), &err),
	    SESAME_OK);
	for (int i = 0; i < 3; i++)
		tu_expect_error(login(e, "up", "dee@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED,
				"password");
	tu_expect_error(login(e, "up", "dee@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED, "throttled");
	/* An address nobody registered is counted and refused just the same,
	 * with the same words: the ceiling tells nothing about existence. */
	for (int i = 0; i < 3; i++)
		tu_expect_error(login(e, "up", "nobody@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED,
				"password");
	before = atomic_load(&e->ctx->kdf_runs);
	tu_expect_error(login(e, "up", "nobody@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED, "throttled");
	snprintf(unknown, sizeof(unknown), "%s", err.text);
	tu_expect_error(login(e, "up", "dee@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED, "throttled");
	assert_string_equal(err.text, unknown);
	/* Refused before any hashing. */
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before);
	/* The window passes. */
	e->ctx->clock_offset += 901;
	tu_expect_error(login(e, "up", "dee@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED, "pending");
}

static void test_reset_ends_sessions(void **state)
{
	struct env *e = *state;
	json_t *s = NULL, *mail, *out = NULL, *confirm;
	sesame_error err;

	assert_int_equal(
	    act(e, "up", "register", json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "old-pass"), &err),
	    SESAME_OK);
	confirm = last_mail(e);
	assert_int_equal(act(e, "up", "confirm", token_args(confirm, NULL), &err), SESAME_OK);
	assert_int_equal(login(e, "up", "eve@example.org", "old-pass", &s, &err), SESAME_OK);
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "EVE@example.org"), &err), SESAME_OK);
	mail = last_mail(e);
	assert_string_equal(json_string_value(json_object_get(mail, "email")), "eve@example.org");
	/* A confirm token is not a reset token; bad passwords are refused first. */
	tu_expect_error(act(e, "up", "reset", token_args(confirm, "new-pass"), &err), &err, SESAME_REJECTED, "token");
	tu_expect_error(act(e, "up", "reset", token_args(mail, "short"), &err), &err, SESAME_MALFORMED, "password");
	assert_int_equal(act(e, "up", "reset", token_args(mail, "new-pass"), &err), SESAME_OK);
	tu_expect_error(act(e, "up", "reset", token_args(mail, "other-pass"), &err), &err, SESAME_REJECTED, "token");
	/* The old session is over, the old password too. */
	tu_expect_error(
	    sesame_session_refresh(e->ctx, json_string_value(json_object_get(s, "refresh_token")), &out, &err), &err,
	    SESAME_REJECTED, "session");
	json_decref(s);
	tu_expect_error(login(e, "up", "eve@example.org", "old-pass", &s, &err), &err, SESAME_REJECTED, "password");
	assert_int_equal(login(e, "up", "eve@example.org", "new-pass", &s, &err), SESAME_OK);
	json_decref(s);
	json_decref(mail);
	json_decref(confirm);
}

static void test_tokens_expire_and_mailer_failures(void **state)
{
	struct env *e = *state;
	json_t *mail;
	sesame_error err;
	char *flag;

	assert_int_equal(act(e, "up", "register",
			     json_pack("{s:s, s:s}", "email", "fay@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	mail = last_mail(e);
	e->ctx->clock_offset += 1801; /* token_ttl defaults to 30 minutes */
	tu_expect_error(act(e, "up", "confirm", token_args(mail, NULL), &err), &err, SESAME_REJECTED, "token");
	json_decref(mail);
	tu_expect_error(act(e, "up", "confirm", json_pack("{s:s, s:s}", "token", "x", "tokenId", "y"), &err), &err,
			SESAME_REJECTED, "token");
	/* The mailer is down: unavailable, and the account still pending. */
	flag = tu_write(e->box, "fail", "", 0644);
	tu_expect_error(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "fay@example.org"), &err), &err,
			SESAME_UNAVAILABLE, "sender");
	unlink(flag);
	free(flag);
	assert_int_equal(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "fay@example.org"), &err), SESAME_OK);
	mail = last_mail(e);
	assert_int_equal(act(e, "up", "confirm", token_args(mail, NULL), &err), SESAME_OK);
	json_decref(mail);
}

/* A hash weaker than the configuration is replaced at the next
 * successful login. */
/* What caller.sh answers next, and its exit code. */
static void answer(struct env *e, const char *text, int code)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", code);
	free(tu_write(e->box, "answer", text, 0644));
	free(tu_write(e->box, "exit", num, 0644));
}

/* The last JSON the call program got on its stdin. */
static json_t *last_call(struct env *e)
{
	char cmd[1100], *out = NULL;
	json_t *m;

	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/calls'", e->box);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	m = json_loads(out, 0, NULL);
	if (!m)
		fail_msg("no call: %s", out);
	free(out);
	return m;
}

static int calls_count(struct env *e)
{
	char cmd[1100], *out = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "cat '%s/calls' 2>/dev/null | wc -l", e->box);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	n = (int)strtol(out, NULL, 10);
	free(out);
	return n;
}

static int user_count(struct env *e, const char *email)
{
	json_t *s = NULL;
	sesame_error err;
	int rc = login(e, "call", email, "pass-word", &s, &err);

	json_decref(s);
	return rc == SESAME_OK ? 1 : strcmp(err.reason, "pending") == 0 ? 0 : -1;
}

static void test_confirm_call(void **state)
{
	struct env *e = *state;
	json_t *c, *s = NULL;
	sesame_error err;

	/* success at register: confirmed at once. */
	assert_int_equal(act(e, "call", "register",
			     json_pack("{s:s, s:s}", "email", "Ann@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	c = last_call(e);
	assert_string_equal(json_string_value(json_object_get(c, "email")), "Ann@example.org");
	assert_int_equal(json_string_length(json_object_get(c, "token")), 64);
	assert_int_equal(json_string_length(json_object_get(c, "tokenId")), 24);
	assert_null(json_object_get(c, "password"));
	assert_int_equal(user_count(e, "ann@example.org"), 1);
	/* The token of a "success" is spent. */
	tu_expect_error(act(e, "call", "confirm", token_args(c, NULL), &err), &err, SESAME_REJECTED, "token");
	json_decref(c);
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "ann@example.org"), &err), &err,
			SESAME_CONFLICT, "already-confirmed");
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "nobody@example.org"), &err), &err,
			SESAME_NOT_FOUND, "user");

	/* pending at register, then confirm/call pending again, then confirm with the token. */
	answer(e, "{\"status\": \"pending\"}", 0);
	assert_int_equal(act(e, "call", "register",
			     json_pack("{s:s, s:s}", "email", "bob@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	assert_int_equal(user_count(e, "bob@example.org"), 0);
	assert_int_equal(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "BOB@example.org"), &err),
			 SESAME_OK);
	assert_int_equal(user_count(e, "bob@example.org"), 0);
	c = last_call(e);
	assert_string_equal(json_string_value(json_object_get(c, "email")), "bob@example.org");
	assert_int_equal(act(e, "call", "confirm", token_args(c, NULL), &err), SESAME_OK);
	json_decref(c);
	assert_int_equal(user_count(e, "bob@example.org"), 1);

	/* fail at register: refused, and no account left behind. */
	answer(e, "{\"status\": \"fail\"}", 0);
	tu_expect_error(act(e, "call", "register",
			    json_pack("{s:s, s:s}", "email", "cy@example.org", "password", "pass-word"), &err),
			&err, SESAME_REJECTED, "call");
	tu_expect_error(login(e, "call", "cy@example.org", "pass-word", &s, &err), &err, SESAME_REJECTED, "password");
	c = last_call(e);
	tu_expect_error(act(e, "call", "confirm", token_args(c, NULL), &err), &err, SESAME_REJECTED, "token");
	json_decref(c);

	/* A pending user: fail, non-zero exit, garbage all leave it pending. */
	answer(e, "{\"status\": \"pending\"}", 0);
	assert_int_equal(act(e, "call", "register",
			     json_pack("{s:s, s:s}", "email", "di@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	answer(e, "{\"status\": \"fail\"}", 0);
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err), &err,
			SESAME_REJECTED, "call");
	answer(e, "{\"status\": \"success\"}", 3);
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err), &err,
			SESAME_UNAVAILABLE, "call");
	answer(e, "garbage {", 0);
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err), &err,
			SESAME_REJECTED, "call");
	answer(e, "{\"status\": \"yes\"}", 0);
	tu_expect_error(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err), &err,
			SESAME_REJECTED, "call");
	assert_int_equal(user_count(e, "di@example.org"), 0);
	/* Refused calls leave no usable token. */
	c = last_call(e);
	tu_expect_error(act(e, "call", "confirm", token_args(c, NULL), &err), &err, SESAME_REJECTED, "token");
	json_decref(c);
	/* The instance without a call program has no confirm/call. */
	tu_expect_error(act(e, "up", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err), &err,
			SESAME_NOT_FOUND, "action");
	answer(e, "{\"status\": \"success\"}", 0);
	assert_int_equal(act(e, "call", "confirm/call", json_pack("{s:s}", "email", "di@example.org"), &err),
			 SESAME_OK);
	assert_int_equal(user_count(e, "di@example.org"), 1);
}

static void test_reset_call(void **state)
{
	struct env *e = *state;
	json_t *c, *s = NULL, *out = NULL;
	sesame_error err;
	char cmd[1100];
	int before;

	assert_int_equal(act(e, "call", "register",
			     json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	assert_int_equal(login(e, "call", "eve@example.org", "pass-word", &s, &err), SESAME_OK);
	/* success: the new password now, the old sessions ended; arguments passed through. */
	assert_int_equal(act(e, "call", "reset/call",
			     json_pack("{s:s, s:s, s:[s, i]}", "email", "EVE@example.org", "password", "secret-new-1",
				       "arguments", "question", 42),
			     &err),
			 SESAME_OK);
	c = last_call(e);
	assert_string_equal(json_string_value(json_object_get(c, "email")), "eve@example.org");
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "arguments"), 0)), "question");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(c, "arguments"), 1)), 42);
	assert_null(json_object_get(c, "password"));
	json_decref(c);
	tu_expect_error(
	    sesame_session_refresh(e->ctx, json_string_value(json_object_get(s, "refresh_token")), &out, &err), &err,
	    SESAME_REJECTED, "session");
	json_decref(s);
	tu_expect_error(login(e, "call", "eve@example.org", "pass-word", &s, &err), &err, SESAME_REJECTED, "password");
	assert_int_equal(login(e, "call", "eve@example.org", "secret-new-1", &s, &err), SESAME_OK);
	json_decref(s);

	/* pending: nothing changes until reset {password, token, tokenId}. */
	answer(e, "{\"status\": \"pending\"}", 0);
	assert_int_equal(act(e, "call", "reset/call",
			     json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "secret-new-2"), &err),
			 SESAME_OK);
	c = last_call(e);
	assert_int_equal(json_array_size(json_object_get(c, "arguments")), 0);
	assert_true(json_is_array(json_object_get(c, "arguments")));
	assert_int_equal(login(e, "call", "eve@example.org", "secret-new-1", &s, &err), SESAME_OK);
	json_decref(s);
	assert_int_equal(act(e, "call", "reset", token_args(c, "secret-new-3"), &err), SESAME_OK);
	tu_expect_error(act(e, "call", "reset", token_args(c, "secret-new-4"), &err), &err, SESAME_REJECTED, "token");
	json_decref(c);
	assert_int_equal(login(e, "call", "eve@example.org", "secret-new-3", &s, &err), SESAME_OK);
	json_decref(s);

	/* fail, non-zero exit, garbage: refused, the password unchanged. */
	answer(e, "{\"status\": \"fail\"}", 0);
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "secret-new-5"), &err),
			&err, SESAME_REJECTED, "call");
	c = last_call(e);
	tu_expect_error(act(e, "call", "reset", token_args(c, "secret-new-6"), &err), &err, SESAME_REJECTED, "token");
	json_decref(c);
	answer(e, "{\"status\": \"success\"}", 1);
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "secret-new-5"), &err),
			&err, SESAME_UNAVAILABLE, "call");
	answer(e, "\x01\x02 not json", 0);
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "secret-new-5"), &err),
			&err, SESAME_REJECTED, "call");
	assert_int_equal(login(e, "call", "eve@example.org", "secret-new-3", &s, &err), SESAME_OK);
	json_decref(s);

	/* Refused before the program runs: bad password, bad arguments, unknown email. */
	answer(e, "{\"status\": \"success\"}", 0);
	before = calls_count(e);
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "short"), &err),
			&err, SESAME_MALFORMED, "password");
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s%}", "email", "eve@example.org", "password", "nul\0inside", (size_t)10),
			    &err),
			&err, SESAME_MALFORMED, "password");
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s, s:s}", "email", "eve@example.org", "password", "secret-new-7",
				      "arguments", "not-an-array"),
			    &err),
			&err, SESAME_MALFORMED, "arguments");
	tu_expect_error(act(e, "call", "reset/call",
			    json_pack("{s:s, s:s}", "email", "nobody@example.org", "password", "secret-new-7"), &err),
			&err, SESAME_NOT_FOUND, "user");
	tu_expect_error(act(e, "up", "reset/call",
			    json_pack("{s:s, s:s}", "email", "eve@example.org", "password", "secret-new-7"), &err),
			&err, SESAME_NOT_FOUND, "action");
	assert_int_equal(calls_count(e), before);
	assert_int_equal(login(e, "call", "eve@example.org", "secret-new-3", &s, &err), SESAME_OK);
	json_decref(s);
	/* No password ever reached the program. */
	snprintf(cmd, sizeof(cmd), "grep -c secret-new '%s/calls'", e->box);
	assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
	snprintf(cmd, sizeof(cmd), "grep -c question '%s/calls'", e->box);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
}

static void test_rehash_when_parameters_rise(void **state)
{
	struct env *e = *state;
	json_t *s = NULL, *rec = NULL;
	struct store *st;
	sesame_error err;

	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "gil@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	/* "auto" has log2_n 10; raise it. */
	free(tu_write(
	    e->drop, "auto.json",
	    "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"scrypt\": {\"log2_n\": 11}}}",
	    0644));
	{
		sesame_error e2;

		sesame_free(e->ctx);
		e->ctx = sesame_new();
		sesame_set_logger(e->ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
		assert_int_equal(sesame_configure(e->ctx, e->main, 0, &e2), SESAME_OK);
	}
	assert_int_equal(login(e, "auto", "gil@example.org", "pass-word", &s, &err), SESAME_OK);
	json_decref(s);
	assert_int_equal(ctx_store(e->ctx, &st, &err), SESAME_OK);
	assert_int_equal(st->desc->kv_get(st->h, NULL, "auto", "user:gil@example.org", ctx_now(e->ctx), &rec, &err),
			 SESAME_OK);
	assert_int_equal(strncmp(json_string_value(json_object_get(rec, "hash")), "$scrypt$ln=11,", 14), 0);
	json_decref(rec);
	assert_int_equal(login(e, "auto", "gil@example.org", "pass-word", &s, &err), SESAME_OK);
	json_decref(s);
}

static void test_deleted_user_frees_the_address_and_cli(void **state)
{
	struct env *e = *state;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	char cmd[2048], *out = NULL, *errtext = NULL;
	json_t *s = NULL;
	sesame_error err;

	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "hal@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	/* Through the sesame command, the password on its stdin. */
	snprintf(cmd, sizeof(cmd),
		 "printf '%%s' '{\"username\": \"hal@example.org\", \"password\": \"pass-word\"}' | '%s' --config '%s' "
		 "login auto -",
		 tu_env("SESAME_CLI"), e->main);
	assert_int_equal(tu_run(cmd, &out, &errtext), 0);
	s = json_loads(out, 0, NULL);
	assert_non_null(s);
	free(out);
	free(errtext);
	snprintf(cmd, sizeof(cmd),
		 "printf '%%s' '{\"username\": \"hal@example.org\", \"password\": \"wrong-pw\"}' | '%s' --config '%s' "
		 "login auto -",
		 tu_env("SESAME_CLI"), e->main);
	assert_int_not_equal(tu_run(cmd, &out, &errtext), 0);
	assert_non_null(strstr(errtext, "invalid username/password"));
	free(out);
	free(errtext);
	assert_int_equal(sesame_user_delete(sys, json_string_value(json_object_get(s, "user_id")), &err), SESAME_OK);
	json_decref(s);
	assert_int_equal(act(e, "auto", "register",
			     json_pack("{s:s, s:s}", "email", "hal@example.org", "password", "new-pass"), &err),
			 SESAME_OK);
	sesame_caller_free(sys);
}

/* ---- abuse ------------------------------------------------------------------- */

/* The store's counter of failed logins of `email` in instance `inst`. */
static int64_t failure_count(struct env *e, const char *inst, const char *email)
{
	unsigned char d[32];
	char key[128];
	struct store *st;
	sesame_error err;
	json_t *v = NULL;
	int64_t n;
	int i, at;

	assert_int_equal(host_services.sha256(email, strlen(email), d), SESAME_OK);
	at = snprintf(key, sizeof(key), "failures:");
	for (i = 0; i < 32; i++)
		at += snprintf(key + at, sizeof(key) - (size_t)at, "%02x", d[i]);
	assert_int_equal(ctx_store(e->ctx, &st, &err), SESAME_OK);
	if (st->desc->kv_get(st->h, NULL, inst, key, ctx_now(e->ctx), &v, &err) == SESAME_NOT_FOUND)
		return 0;
	assert_true(json_is_integer(v));
	n = json_integer_value(v);
	json_decref(v);
	return n;
}

struct guesser {
	struct env *e;
	const char *email;
	pthread_barrier_t *start;
	int evaluated, throttled;
};

static void *guess(void *arg)
{
	struct guesser *g = arg;
	json_t *s = NULL;
	sesame_error err;
	int rc;

	pthread_barrier_wait(g->start);
	rc = login(g->e, "ceil", g->email, "wrong-password", &s, &err);
	if (rc == SESAME_REJECTED && strcmp(err.reason, "password") == 0)
		g->evaluated++;
	else if (rc == SESAME_REJECTED && strcmp(err.reason, "throttled") == 0)
		g->throttled++;
	else
		fail_msg("guess: %s/%s: %s", sesame_status_name(rc), err.reason, err.text);
	json_decref(s);
	return NULL;
}

/* 120 wrong passwords at once, against a ceiling of 5: exactly 5 run the
 * KDF (the old counter in the account record lost updates and let all
 * of them through), and the stored count is exactly 5; an address
 * nobody registered is counted the same. */
static void parallel_guesses(struct env *e, const char *email)
{
	struct guesser g[120];
	pthread_t t[120];
	pthread_barrier_t start;
	uint64_t before = atomic_load(&e->ctx->kdf_runs);
	int i, evaluated = 0, throttled = 0;

	pthread_barrier_init(&start, NULL, 120);
	for (i = 0; i < 120; i++) {
		g[i] = (struct guesser){e, email, &start, 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, guess, &g[i]), 0);
	}
	for (i = 0; i < 120; i++) {
		pthread_join(t[i], NULL);
		evaluated += g[i].evaluated;
		throttled += g[i].throttled;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(atomic_load(&e->ctx->kdf_runs) - before, 5);
	assert_int_equal(evaluated, 5);
	assert_int_equal(throttled, 115);
	assert_int_equal(failure_count(e, "ceil", email), 5);
}

static void test_parallel_guesses_exact(void **state)
{
	struct env *e = *state;
	json_t *s = NULL;
	sesame_error err;

	assert_int_equal(act(e, "ceil", "register",
			     json_pack("{s:s, s:s}", "email", "kim@example.org", "password", "right-pw"), &err),
			 SESAME_OK);
	parallel_guesses(e, "kim@example.org");
	parallel_guesses(e, "ghost@example.org");
	/* The ceiling holds for the right password too, until the window
	 * passes; then it works and gives its count back. */
	tu_expect_error(login(e, "ceil", "kim@example.org", "right-pw", &s, &err), &err, SESAME_REJECTED, "throttled");
	e->ctx->clock_offset += 901;
	assert_int_equal(login(e, "ceil", "kim@example.org", "right-pw", &s, &err), SESAME_OK);
	json_decref(s);
	assert_int_equal(failure_count(e, "ceil", "kim@example.org"), 0);
	tu_expect_error(login(e, "ceil", "kim@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED, "password");
	assert_int_equal(failure_count(e, "ceil", "kim@example.org"), 1);
}

/* The number of mails sender.sh got. */
static int mails_count(struct env *e)
{
	char cmd[1100], *out = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "cat '%s/outbox' 2>/dev/null | wc -l", e->box);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	n = (int)strtol(out, NULL, 10);
	free(out);
	return n;
}

/* One outstanding token per purpose and account. */
static void test_stale_tokens_refused(void **state)
{
	struct env *e = *state;
	json_t *c1, *c2, *r1, *r2, *r3, *r4, *r5, *s = NULL, *created = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;

	/* Confirmation: a second mail retires the first. */
	assert_int_equal(
	    act(e, "up", "register", json_pack("{s:s, s:s}", "email", "lee@example.org", "password", "first-pw"), &err),
	    SESAME_OK);
	c1 = last_mail(e);
	assert_int_equal(act(e, "up", "confirm/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	c2 = last_mail(e);
	tu_expect_error(act(e, "up", "confirm", token_args(c1, NULL), &err), &err, SESAME_REJECTED, "token");
	assert_int_equal(act(e, "up", "confirm", token_args(c2, NULL), &err), SESAME_OK);

	/* Two reset mails; the second used: the first fails afterwards. */
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	r1 = last_mail(e);
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	r2 = last_mail(e);
	assert_int_equal(act(e, "up", "reset", token_args(r2, "second-pw"), &err), SESAME_OK);
	tu_expect_error(act(e, "up", "reset", token_args(r1, "attacker-pw"), &err), &err, SESAME_REJECTED, "token");
	assert_int_equal(login(e, "up", "lee@example.org", "second-pw", &s, &err), SESAME_OK);
	json_decref(s);

	/* The other order: once a new one is issued, the old one fails. */
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	r3 = last_mail(e);
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	r4 = last_mail(e);
	tu_expect_error(act(e, "up", "reset", token_args(r3, "third-pw"), &err), &err, SESAME_REJECTED, "token");
	assert_int_equal(login(e, "up", "lee@example.org", "second-pw", &s, &err), SESAME_OK);
	json_decref(s);
	assert_int_equal(act(e, "up", "reset", token_args(r4, "fourth-pw"), &err), SESAME_OK);

	/* A token outlives no account: after the user is deleted and the
	 * address registered again, the old reset token is refused. */
	assert_int_equal(act(e, "up", "reset/send", json_pack("{s:s}", "email", "lee@example.org"), &err), SESAME_OK);
	r5 = last_mail(e);
	assert_int_equal(login(e, "up", "lee@example.org", "fourth-pw", &created, &err), SESAME_OK);
	assert_int_equal(sesame_user_delete(sys, json_string_value(json_object_get(created, "user_id")), &err),
			 SESAME_OK);
	assert_int_equal(act(e, "up", "register",
			     json_pack("{s:s, s:s}", "email", "lee@example.org", "password", "new-owner"), &err),
			 SESAME_OK);
	tu_expect_error(act(e, "up", "reset", token_args(r5, "attacker-pw"), &err), &err, SESAME_REJECTED, "token");
	json_decref(created);
	json_decref(c1);
	json_decref(c2);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	json_decref(r4);
	json_decref(r5);
	sesame_caller_free(sys);
}

/* reset/send says nothing about which addresses exist, and mails per
 * address are limited (max_mails_per_hour 3 in "mailer"). */
static void test_reset_send_alike_and_limited(void **state)
{
	struct env *e = *state;
	char known[5][SESAME_ERROR_TEXT_LENGTH];
	sesame_error err;
	int i, rc, before;

	assert_int_equal(act(e, "mailer", "register",
			     json_pack("{s:s, s:s}", "email", "max@example.org", "password", "pass-word"), &err),
			 SESAME_OK);
	before = mails_count(e);
	/* One mail already went to max@ (the confirmation): two more, then no more. */
	for (i = 0; i < 5; i++) {
		rc = act(e, "mailer", "reset/send", json_pack("{s:s}", "email", "max@example.org"), &err);
		assert_int_equal(rc, i < 2 ? SESAME_OK : SESAME_REJECTED);
		snprintf(known[i], sizeof(known[i]), "%s/%s", err.reason, rc == SESAME_OK ? "" : err.text);
	}
	assert_int_equal(mails_count(e) - before, 2);
	assert_string_equal(known[4], "throttled/too many messages for this address; try again later");
	/* An unknown address: the same answers, and no mail at all.  (It has
	 * no confirmation mail counted, so it starts one step behind.) */
	before = mails_count(e);
	assert_int_equal(act(e, "mailer", "reset/send", json_pack("{s:s}", "email", "nobody@example.org"), &err),
			 SESAME_OK);
	for (i = 0; i < 5; i++) {
		char got[SESAME_ERROR_TEXT_LENGTH];

		rc = act(e, "mailer", "reset/send", json_pack("{s:s}", "email", "nobody@example.org"), &err);
		snprintf(got, sizeof(got), "%s/%s", err.reason, rc == SESAME_OK ? "" : err.text);
		assert_string_equal(got, known[i]);
	}
	assert_int_equal(mails_count(e), before);
	/* An hour after the last counted one, mail flows again. */
	e->ctx->clock_offset += 3601;
	assert_int_equal(act(e, "mailer", "reset/send", json_pack("{s:s}", "email", "max@example.org"), &err),
			 SESAME_OK);
	assert_int_equal(mails_count(e) - before, 1);
	/* confirm/send counts against the same address. */
	assert_int_equal(act(e, "mailer", "confirm/send", json_pack("{s:s}", "email", "max@example.org"), &err),
			 SESAME_OK);
	assert_int_equal(act(e, "mailer", "confirm/send", json_pack("{s:s}", "email", "max@example.org"), &err),
			 SESAME_OK);
	tu_expect_error(act(e, "mailer", "confirm/send", json_pack("{s:s}", "email", "max@example.org"), &err), &err,
			SESAME_REJECTED, "throttled");
	assert_int_equal(mails_count(e) - before, 3);
}

/* With no memory free for the KDF, a login is "unavailable/busy", runs
 * nothing, and counts as no failure. */
static void test_busy_hashing_counts_nothing(void **state)
{
	struct env *e = *state;
	uint64_t before, budget = e->ctx->cfg.kdf_memory_budget;
	json_t *s = NULL;
	sesame_error err;
	int i;

	assert_int_equal(password_reserve(e->ctx, budget, &err), SESAME_OK);
	before = atomic_load(&e->ctx->kdf_runs);
	for (i = 0; i < 10; i++)
		tu_expect_error(login(e, "ceil", "ned@example.org", "wrong-pw", &s, &err), &err, SESAME_UNAVAILABLE,
				"busy");
	tu_expect_error(act(e, "ceil", "register",
			    json_pack("{s:s, s:s}", "email", "ned@example.org", "password", "pw-pw-pw"), &err),
			&err, SESAME_UNAVAILABLE, "busy");
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before);
	assert_int_equal(failure_count(e, "ceil", "ned@example.org"), 0);
	password_release(budget);
	for (i = 0; i < 5; i++)
		tu_expect_error(login(e, "ceil", "ned@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED,
				"password");
	tu_expect_error(login(e, "ceil", "ned@example.org", "wrong-pw", &s, &err), &err, SESAME_REJECTED, "throttled");
}

struct configurer {
	const char *main;
	int rc;
	sesame_ctx *ctx;
};

static void *configure_in_thread(void *arg)
{
	struct configurer *c = arg;
	sesame_error err;

	c->ctx = sesame_new();
	sesame_set_logger(c->ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	c->rc = sesame_configure(c->ctx, c->main, 0, &err);
	return NULL;
}

/* A provider's hashing at start (a reload of a busy daemon) waits for
 * memory however long it takes, queue or no queue, instead of leaving
 * the new configuration's provider out of service. */
static void test_start_waits_for_budget(void **state)
{
	struct env *e = *state;
	struct configurer c = {e->main, -1, NULL};
	uint64_t budget = e->ctx->cfg.kdf_memory_budget, used;
	unsigned waiting = 0;
	json_t *list, *p;
	sesame_error err;
	pthread_t t;
	size_t i;

	assert_int_equal(password_reserve(e->ctx, budget, &err), SESAME_OK);
	assert_int_equal(pthread_create(&t, NULL, configure_in_thread, &c), 0);
	for (i = 0; i < 6000 && waiting == 0; i++) {
		struct timespec ts = {0, 10 * 1000000L};

		nanosleep(&ts, NULL);
		password_gate_state(&used, &waiting);
	}
	assert_int_equal(waiting, 1);
	password_release(budget);
	pthread_join(t, NULL);
	assert_int_equal(c.rc, SESAME_OK);
	list = sesame_providers_json(c.ctx);
	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), "neither") != 0)
			assert_string_equal(json_string_value(json_object_get(p, "state")), "ready");
	json_decref(list);
	sesame_free(c.ctx);
}

static void collect(void *data, int level, const char *msg)
{
	char *log = data;
	size_t used = strlen(log);

	(void)level;
	snprintf(log + used, 8192 - used, "%s\n", msg);
}

/* Parameters one run of which exceeds the whole budget stop the
 * instance at start, with a message naming the setting. */
static void test_budget_too_small_stops_instances(void **state)
{
	struct env *e = *state;
	char text[4096], *main, log[8192] = "";
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	snprintf(
	    text, sizeof(text),
	    "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
	    " \"app_id\": \"test-app\", \"password_hashing\": {\"memory_budget\": 1048576}}",
	    e->plugins, tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	main = tu_write(e->dir, "small.json", text, 0644);
	sesame_set_logger(ctx, collect, log, SESAME_LOG_DEBUG);
	assert_int_equal(sesame_configure(ctx, main, 0, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "no-provider");
	if (!strstr(log, "more than password_hashing.memory_budget"))
		fail_msg("no budget message in:\n%s", log);
	sesame_free(ctx);
	free(main);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_register_confirm_login, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_canonical_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_user_and_wrong_password_alike, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_ends_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens_expire_and_mailer_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_confirm_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rehash_when_parameters_rise, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_user_frees_the_address_and_cli, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel_guesses_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_tokens_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_send_alike_and_limited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_hashing_counts_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_waits_for_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_too_small_stops_instances, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
