/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-host.c — the host services of provider ABI 1.2 that
 * spare plugins a library of their own (core/host.c, core/encode.c):
 * encoders, digests, crypt(3) checks, trusted files, random ids, the
 * key/value compare-and-set and configuration errors with a position.
 */
#include "config.h"

#include <crypt.h>
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

static const struct sesame_host *h = &host_services;

struct env {
	char *dir, *drop, *main;
	sesame_ctx *ctx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tu_tmpdir("host");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->main = tu_main_config_at(e->dir, tu_env("SESAME_TEST_FIXTURES"), NULL);
	free(tu_write(e->drop, "kv.json", "{\"type\": \"fixture-good\"}", 0644));
	/* A drop-in the fixture refuses ("list" is no key of its): the
	 * instance fails, but its file is there to point into. */
	free(tu_write(e->drop, "pos.json",
		      "{\"type\": \"fixture-good\",\n \"config\": {\"list\": [0,\n   {\"k\": 1}]}}", 0644));
	free(
	    tu_write(e->drop, "typed.json", "{\"type\": \"fixture-good\",\n \"config\": {\n  \"greeting\": 5}}", 0644));
	e->ctx = tu_context(e->main);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->drop);
	free(e->main);
	free(e);
	return 0;
}

static void encoded(int encoding, const char *in, size_t len, const char *want)
{
	sesame_error err;
	char *text = NULL;

	assert_int_equal(h->encode(encoding, in, len, &text, &err), SESAME_OK);
	assert_string_equal(text, want);
	free(text);
}

static void decoded(int encoding, const char *text, const char *want, size_t want_len)
{
	unsigned char *data = NULL;
	size_t n = 0;
	sesame_error err;

	assert_int_equal(h->decode(encoding, text, strlen(text), &data, &n, &err), SESAME_OK);
	assert_int_equal(n, want_len);
	assert_memory_equal(data, want, want_len);
	assert_int_equal(data[n], 0);
	free(data);
}

static void refused(int encoding, const char *text)
{
	unsigned char *data = (unsigned char *)"x";
	size_t n = 1;
	sesame_error err;

	tu_expect_error(h->decode(encoding, text, strlen(text), &data, &n, &err), &err, SESAME_MALFORMED, "encoding");
	assert_null(data);
}

static void test_encodings(void **state)
{
	static const char bytes[] = {'\x00', '\xff', 'f', 'o'};
	unsigned char *data;
	sesame_error err;
	size_t n;
	char *text;

	(void)state;
	/* RFC 4648 section 10. */
	encoded(SESAME_ENCODING_BASE64, "", 0, "");
	encoded(SESAME_ENCODING_BASE64, "f", 1, "Zg==");
	encoded(SESAME_ENCODING_BASE64, "fo", 2, "Zm8=");
	encoded(SESAME_ENCODING_BASE64, "foobar", 6, "Zm9vYmFy");
	encoded(SESAME_ENCODING_BASE64URL, "fo", 2, "Zm8");
	encoded(SESAME_ENCODING_BASE64URL, "\xfb\xff", 2, "-_8");
	encoded(SESAME_ENCODING_HEX, bytes, sizeof(bytes), "00ff666f");
	encoded(SESAME_ENCODING_URL, "a b&c=d/\xc3\xa9~-._", 14, "a%20b%26c%3Dd%2F%C3%A9~-._");
	decoded(SESAME_ENCODING_BASE64, "Zm8=", "fo", 2);
	decoded(SESAME_ENCODING_BASE64, "Zm9vYmFy", "foobar", 6);
	decoded(SESAME_ENCODING_BASE64URL, "-_8", "\xfb\xff", 2);
	decoded(SESAME_ENCODING_HEX, "00FF666f", bytes, sizeof(bytes));
	decoded(SESAME_ENCODING_HEX, "", "", 0);
	/* Strict: no whitespace, no stray padding, canonical bits. */
	refused(SESAME_ENCODING_BASE64, "Zm8");
	refused(SESAME_ENCODING_BASE64, "Zm 8=");
	refused(SESAME_ENCODING_BASE64, "Zg=");
	refused(SESAME_ENCODING_BASE64, "Z===");
	refused(SESAME_ENCODING_BASE64, "Zh==");
	refused(SESAME_ENCODING_BASE64, "Zm-_");
	refused(SESAME_ENCODING_BASE64URL, "Zm8=");
	refused(SESAME_ENCODING_BASE64URL, "Zm+/");
	refused(SESAME_ENCODING_HEX, "abc");
	refused(SESAME_ENCODING_HEX, "0g");
	tu_expect_error(h->decode(SESAME_ENCODING_HEX,
				  "00\0"
				  "0",
				  4, &data, &n, &err),
			&err, SESAME_MALFORMED, "encoding");
	tu_expect_error(h->decode(SESAME_ENCODING_URL, "a%20b", 5, &data, &n, &err), &err, SESAME_USAGE, "usage");
	tu_expect_error(h->encode(99, "x", 1, &text, &err), &err, SESAME_USAGE, "usage");
	assert_null(text);
}

static void test_digests(void **state)
{
	unsigned char out[SESAME_DIGEST_MAX];
	char hex[2 * SESAME_DIGEST_MAX + 1];
	size_t n = 0;
	sesame_error err;

	(void)state;
	assert_int_equal(h->digest("SHA-256", "abc", 3, out, &n, &err), SESAME_OK);
	encode_hex(out, n, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(h->digest("SHA-1", "abc", 3, out, &n, &err), SESAME_OK);
	encode_hex(out, n, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_int_equal(h->digest("MD5", "abc", 3, out, &n, &err), SESAME_OK);
	assert_int_equal(n, 16);
	assert_int_equal(h->digest("SHA-512", "", 0, out, &n, &err), SESAME_OK);
	assert_int_equal(n, 64);
	tu_expect_error(h->digest("NO-SUCH-DIGEST", "abc", 3, out, &n, &err), &err, SESAME_USAGE, "digest");
}

/* A crypt(3) hash of `password` made with libcrypt's own salt for `prefix`. */
static char *make_hash(const char *prefix, const char *password)
{
	struct crypt_data cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *out;

	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)));
	out = crypt_rn(password, salt, &cd, sizeof(cd));
	assert_non_null(out);
	return strdup(out);
}

static void test_crypt_verify(void **state)
{
	static const char *const prefixes[] = {"$6$", "$5$", "$2b$", "$y$"};
	sesame_error err;
	size_t i;
	int match;

	(void)state;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char *hash = make_hash(prefixes[i], "correct horse");

		assert_int_equal(h->crypt_verify("correct horse", 13, hash, &match, &err), SESAME_OK);
		assert_int_equal(match, 1);
		assert_int_equal(h->crypt_verify("correct horsf", 13, hash, &match, &err), SESAME_OK);
		assert_int_equal(match, 0);
		/* Length-aware: a prefix of the password is another password. */
		assert_int_equal(h->crypt_verify("correct horse battery", 13, hash, &match, &err), SESAME_OK);
		assert_int_equal(match, 1);
		assert_int_equal(h->crypt_verify("correct hors", 12, hash, &match, &err), SESAME_OK);
		assert_int_equal(match, 0);
		free(hash);
	}
	/* SHA-crypt's published vector. */
	assert_int_equal(
	    h->crypt_verify("Hello world!", 12,
			    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBF"
			    "dcbYEdFCoEOfaS35inz1",
			    &match, &err),
	    SESAME_OK);
	assert_int_equal(match, 1);
	tu_expect_error(h->crypt_verify("x", 1, "$nosuch$abc", &match, &err), &err, SESAME_MALFORMED, "hash");
	assert_int_equal(match, 0);
	tu_expect_error(h->crypt_verify("a\0b", 3, "$6$saltstring$x", &match, &err), &err, SESAME_MALFORMED,
			"password");
}

static void test_random_ids(void **state)
{
	char a[129], b[129];

	(void)state;
	assert_int_equal(h->random_id(a, 12), SESAME_OK);
	assert_int_equal(strlen(a), 24);
	assert_int_equal(strspn(a, "0123456789abcdef"), 24);
	assert_int_equal(h->random_id(b, 12), SESAME_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(h->random_id(a, 64), SESAME_OK);
	assert_int_equal(strlen(a), 128);
	assert_int_equal(h->random_id(a, 0), SESAME_USAGE);
	assert_int_equal(h->random_id(a, 65), SESAME_USAGE);
}

static void test_trusted_files(void **state)
{
	struct env *e = *state;
	sesame_instance *in = ctx_instance(e->ctx, "kv");
	struct sesame_file_stamp stamp;
	char *path = tu_write(e->dir, "users.txt", "alice:x\n", 0600), *data = NULL, *rel;
	size_t len = 0;
	sesame_error err;
	int changed = -1;

	assert_non_null(in);
	assert_int_equal(h->file_read(in, path, 1024, &data, &len, &stamp, &err), SESAME_OK);
	assert_string_equal(data, "alice:x\n");
	assert_int_equal(len, 8);
	free(data);
	assert_int_equal(h->file_changed(in, path, &stamp, &changed, &err), SESAME_OK);
	assert_int_equal(changed, 0);
	/* Replaced (a new inode), as editors and `install` do. */
	unlink(path);
	free(tu_write(e->dir, "users.txt", "alice:y\n", 0600));
	assert_int_equal(h->file_changed(in, path, &stamp, &changed, &err), SESAME_OK);
	assert_int_equal(changed, 1);
	/* The rules of "@/path" secrets. */
	tu_expect_error(h->file_read(in, path, 4, &data, &len, NULL, &err), &err, SESAME_CONFIG, "size");
	assert_int_equal(chmod(path, 0640), 0);
	tu_expect_error(h->file_read(in, path, 1024, &data, &len, NULL, &err), &err, SESAME_CONFIG, "permissions");
	assert_null(data);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(e->dir, 0777), 0);
	tu_expect_error(h->file_read(in, path, 1024, &data, &len, NULL, &err), &err, SESAME_CONFIG, "permissions");
	assert_non_null(strstr(err.text, e->dir));
	assert_int_equal(chmod(e->dir, 0755), 0);
	unlink(path);
	tu_expect_error(h->file_read(in, path, 1024, &data, &len, NULL, &err), &err, SESAME_CONFIG, "file");
	assert_int_equal(h->file_changed(in, path, &stamp, &changed, &err), SESAME_OK);
	assert_int_equal(changed, 1);
	rel = "relative/users.txt";
	tu_expect_error(h->file_read(in, rel, 1024, &data, &len, NULL, &err), &err, SESAME_CONFIG, "file");
	free(path);
}

static void test_kv_replace(void **state)
{
	struct env *e = *state;
	sesame_instance *in = ctx_instance(e->ctx, "kv");
	json_t *one = json_pack("{s:i}", "v", 1), *two = json_pack("{s:i}", "v", 2), *got = NULL;
	sesame_error err;

	/* Absent: only "expected nothing" creates it. */
	tu_expect_error(h->kv_replace(in, "rec", one, two, NULL, 0, &err), &err, SESAME_CONFLICT, "changed");
	assert_int_equal(h->kv_replace(in, "rec", NULL, one, NULL, 0, &err), SESAME_OK);
	tu_expect_error(h->kv_replace(in, "rec", NULL, two, NULL, 0, &err), &err, SESAME_CONFLICT, "changed");
	/* Present: replaced only when it is still what the caller read. */
	tu_expect_error(h->kv_replace(in, "rec", two, two, NULL, 0, &err), &err, SESAME_CONFLICT, "changed");
	assert_int_equal(h->kv_get(in, "rec", &got, &err), SESAME_OK);
	assert_true(json_equal(got, one));
	json_decref(got);
	assert_int_equal(h->kv_replace(in, "rec", one, two, NULL, 0, &err), SESAME_OK);
	assert_int_equal(h->kv_get(in, "rec", &got, &err), SESAME_OK);
	assert_true(json_equal(got, two));
	json_decref(got);
	tu_expect_error(h->kv_replace(in, "", NULL, two, NULL, 0, &err), &err, SESAME_MALFORMED, "key");
	json_decref(one);
	json_decref(two);
}

static void test_config_errors_have_positions(void **state)
{
	struct env *e = *state;
	sesame_instance *in = ctx_instance(e->ctx, "pos");
	char *file = tu_path(e->drop, "pos.json"), prefix[600];
	json_t *list, *p;
	sesame_error err;
	size_t i;

	assert_non_null(in);
	assert_int_equal(h->config_error(in, &err, SESAME_CONFIG, "k", "list[1].k", "\"k\" %s", "is wrong"),
			 SESAME_CONFIG);
	assert_string_equal(err.reason, "k");
	assert_string_equal(err.source, file);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 5);
	snprintf(prefix, sizeof(prefix), "%s:3:5: \"k\" is wrong", file);
	assert_string_equal(err.text, prefix);
	h->config_error(in, &err, SESAME_CONFIG, "k", "list", "x");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 13);
	/* A path that is not one names the file only. */
	h->config_error(in, &err, SESAME_CONFIG, "k", "list[", "bad path");
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.text, "pos.json: bad path"));
	/* What init() reports that way reaches the instance's error as
	 * FILE:LINE:COL, like the core's own configuration errors. */
	list = sesame_providers_json(e->ctx);
	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), "typed") == 0) {
			char *typed = tu_path(e->drop, "typed.json");

			snprintf(prefix, sizeof(prefix), "%s:3:3: \"greeting\" must be a string", typed);
			if (strncmp(json_string_value(json_object_get(p, "error")), prefix, strlen(prefix)) != 0)
				fail_msg("instance error \"%s\" does not start with \"%s\"",
					 json_string_value(json_object_get(p, "error")), prefix);
			free(typed);
		}
	json_decref(list);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_digests),
	    cmocka_unit_test(test_crypt_verify),
	    cmocka_unit_test(test_random_ids),
	    cmocka_unit_test_setup_teardown(test_trusted_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_replace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors_have_positions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
