/* SPDX-License-Identifier: MIT */
/* tests/core/test-signing.c — core/signing.c: sesame's own signing keys,
 * their creation, permissions, rotation and pruning. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "internal.h"
#include "testutil.h"

static struct logger quiet = {NULL, NULL, SESAME_LOG_ERR - 1};

struct env {
	char *dir;
	struct config cfg;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tu_tmpdir("signing");
	e->cfg.state_dir = tu_path(e->dir, "state");
	e->cfg.access_ttl = 1800;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tu_rmrf(e->dir);
	free(e->dir);
	free(e->cfg.state_dir);
	free(e->cfg.signing_key);
	free(e);
	return 0;
}

static void test_generated_on_first_load(void **state)
{
	struct env *e = *state;
	struct signing_keys sk, again;
	sesame_error err;
	struct stat st;
	char *path = tu_path(e->cfg.state_dir, "signing-key.pem");

	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	assert_int_equal(sk.n, 1);
	assert_int_equal(strlen(sk.keys[0].kid), 16);
	assert_non_null(sk.keys[0].pem);
	assert_int_equal(EVP_PKEY_get_base_id(sk.keys[0].pkey), EVP_PKEY_EC);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(e->cfg.state_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The same key, hence the same kid, on the next start. */
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &again, &err), SESAME_OK);
	assert_string_equal(sk.keys[0].kid, again.keys[0].kid);
	signing_keys_free(&sk);
	signing_keys_free(&again);
	free(path);
}

static void test_readable_key_refused(void **state)
{
	struct env *e = *state;
	struct signing_keys sk;
	sesame_error err;
	char *path = tu_path(e->cfg.state_dir, "signing-key.pem");

	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	signing_keys_free(&sk);
	chmod(path, 0644);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "permissions");
	assert_non_null(strstr(err.text, "signing-key.pem"));
	assert_null(sk.keys);
	chmod(path, 0640);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "permissions");
	free(path);
}

static void test_empty_or_wrong_key_refused(void **state)
{
	struct env *e = *state;
	struct signing_keys sk;
	sesame_error err;
	char cmd[1024];

	e->cfg.signing_key = tu_write(e->dir, "empty.pem", "", 0600);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "key");
	assert_non_null(strstr(err.text, "empty"));
	free(e->cfg.signing_key);

	e->cfg.signing_key = tu_write(e->dir, "junk.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0600);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "key");
	free(e->cfg.signing_key);

	/* An RSA key is a fine key, but not the ES256 key sesame signs with. */
	e->cfg.signing_key = tu_path(e->dir, "rsa.pem");
	snprintf(cmd, sizeof(cmd),
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' 2>/dev/null && chmod 600 '%s'",
		 e->cfg.signing_key, e->cfg.signing_key);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "key");
	assert_non_null(strstr(err.text, "P-256"));
}

static void test_rotation_keeps_old_public_key(void **state)
{
	struct env *e = *state;
	struct signing_keys before, after;
	char kid[SIGNING_KID_SIZE];
	sesame_error err;

	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &before, &err), SESAME_OK);
	assert_int_equal(signing_keys_rotate(&e->cfg, &quiet, kid, &err), SESAME_OK);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &after, &err), SESAME_OK);
	assert_string_equal(after.keys[0].kid, kid);
	assert_string_not_equal(after.keys[0].kid, before.keys[0].kid);
	assert_int_equal(after.n, 2);
	assert_string_equal(after.keys[1].kid, before.keys[0].kid);
	/* A retired key verifies only: its private half is gone. */
	assert_true(after.keys[0].private);
	assert_false(after.keys[1].private);
	assert_non_null(strstr(after.keys[1].pem, "PUBLIC KEY"));
	assert_null(strstr(after.keys[1].pem, "PRIVATE"));
	assert_true(after.keys[1].retired_at > 0);
	signing_keys_free(&before);
	signing_keys_free(&after);
}

static void test_retired_keys_pruned_after_tokens_expire(void **state)
{
	struct env *e = *state;
	struct signing_keys sk;
	char kid[SIGNING_KID_SIZE], *dir, *file, name[64];
	sesame_error err;
	struct utimbuf old;

	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	snprintf(name, sizeof(name), "%s.pem", sk.keys[0].kid);
	signing_keys_free(&sk);
	assert_int_equal(signing_keys_rotate(&e->cfg, &quiet, kid, &err), SESAME_OK);
	dir = tu_path(e->cfg.state_dir, "signing-key.pem.retired");
	file = tu_path(dir, name);
	/* Retired an access-token lifetime (plus slack) ago: no token it
	 * signed can still be valid. */
	old.actime = old.modtime = time(NULL) - e->cfg.access_ttl - 301;
	assert_int_equal(utime(file, &old), 0);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	assert_int_equal(sk.n, 1);
	assert_int_not_equal(access(file, F_OK), 0);
	signing_keys_free(&sk);
	free(dir);
	free(file);
}

/* Load and expect CONFIG "permissions" naming `what` in the message. */
static void untrusted_key(struct env *e, const char *what, const char *words)
{
	struct signing_keys sk;
	sesame_error err;

	err_clear(&err);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_CONFIG);
	if (strcmp(err.reason, "permissions") != 0 || !strstr(err.text, what) || !strstr(err.text, words))
		fail_msg("expected permissions naming %s with \"%s\": %s/%s", what, words, err.reason, err.text);
	assert_null(sk.keys);
}

/* Whoever can replace the signing key or a retired public key can mint
 * tokens for any user: the key, the directories above it, the retired keys'
 * directory and its files must be safe, or no key is loaded (it used to be a
 * warning). */
static void test_untrusted_key_files_refused(void **state)
{
	struct env *e = *state;
	struct signing_keys sk;
	sesame_error err;
	char kid[SIGNING_KID_SIZE], *rdir, *retired;

	rdir = tu_path(e->cfg.state_dir, "signing-key.pem.retired");
	assert_int_equal(signing_keys_rotate(&e->cfg, &quiet, kid, &err), SESAME_OK);
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	assert_int_equal(sk.n, 2);
	snprintf(kid, sizeof(kid), "%s", sk.keys[1].kid);
	signing_keys_free(&sk);
	retired = malloc(strlen(rdir) + 32);
	snprintf(retired, strlen(rdir) + 32, "%s/%s.pem", rdir, kid);

	chmod(e->cfg.state_dir, 0777);
	untrusted_key(e, e->cfg.state_dir, "(mode 0777)");
	chmod(e->cfg.state_dir, 0770);
	untrusted_key(e, e->cfg.state_dir, "(mode 0770)");
	chmod(e->cfg.state_dir, 0700);
	chmod(e->dir, 0757);
	untrusted_key(e, e->dir, "(mode 0757)");
	chmod(e->dir, 0700);
	chmod(rdir, 0733);
	untrusted_key(e, rdir, "(mode 0733)");
	chmod(rdir, 0700);
	chmod(retired, 0622);
	untrusted_key(e, retired, "(mode 0622)");
	chmod(retired, 0600);
	if (geteuid() == 0) {
		char *key = tu_path(e->cfg.state_dir, "signing-key.pem");

		assert_int_equal(chown(retired, 65534, 65534), 0);
		untrusted_key(e, retired, "owned by uid 65534");
		assert_int_equal(chown(retired, 0, 0), 0);
		assert_int_equal(chown(key, 65534, 65534), 0);
		untrusted_key(e, key, "owned by uid 65534");
		assert_int_equal(chown(key, 0, 0), 0);
		free(key);
	}
	assert_int_equal(signing_keys_load(&e->cfg, time(NULL), &quiet, &sk, &err), SESAME_OK);
	assert_int_equal(sk.n, 2);
	signing_keys_free(&sk);
	free(retired);
	free(rdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_generated_on_first_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_key_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_or_wrong_key_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_keeps_old_public_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retired_keys_pruned_after_tokens_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_key_files_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
