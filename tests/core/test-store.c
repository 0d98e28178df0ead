/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-store.c — what is the SQLite store plugin's own, through
 * the store ABI (core/store.c loads it as the core does): opening, file
 * mode, schema migrations, configuration errors, background checkpoints,
 * two handles on one file, the store loader's checks.  Every operation's
 * contract (records, unique keys, transactions, cascading deletion) is
 * tests/store/test-store-conformance.c's, run on this store in every
 * `make check` and on PostgreSQL by tests/store/postgres-suite.sh.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storeutil.h"
#include "records.h"
#include "testutil.h"

#define USER_A "5f0000000000000000000001"
#define USER_B "5f0000000000000000000002"

struct fx {
	char *dir;
	char *path;
	struct store st;
	const struct sesame_store *d;
	sesame_store_handle *h;
	sesame_error err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->path = su_db_path("store", &f->dir);
	su_open(&f->st, f->path);
	f->d = f->st.desc;
	f->h = f->st.h;
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

static void insert_user(struct fx *f, const char *id)
{
	json_t *u = rec_user(id);

	assert_int_equal(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_OK);
	json_decref(u);
}

static void insert_identity(struct fx *f, const char *provider, const char *uid, const char *user, json_int_t updated)
{
	json_t *i = rec_identity(provider, uid, user, updated);

	assert_int_equal(f->d->identity_insert(f->h, NULL, i, &f->err), SESAME_OK);
	json_decref(i);
}

/* ---- opening ---------------------------------------------------------- */

static void test_open_creates_private_file_in_wal_mode(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char *wal = tu_path(f->dir, "sesame.db-wal"), *mode;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	insert_user(f, USER_A);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	mode = su_query_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	free(wal);
}

static void test_open_creates_missing_directory_0700(void **state)
{
	char *dir = tu_tmpdir("store-mkdir"), *sub = tu_path(dir, "state"), *path = tu_path(sub, "sesame.db");
	struct store st;
	struct stat sb;

	su_open(&st, path);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	store_close(&st);
	tu_rmrf(dir);
	free(path);
	free(sub);
	free(dir);
	(void)state;
}

/* Open the store at f->path again (migrating it) and check that its
 * schema is now the latest, version 3. */
static void reopen_migrated(struct fx *f)
{
	char *v;

	su_open(&f->st, f->path);
	f->d = f->st.desc;
	f->h = f->st.h;
	v = su_query_text(f->path, "SELECT max(version) FROM schema_version");
	assert_string_equal(v, "3");
	free(v);
}

static void test_migrations_are_idempotent(void **state)
{
	struct fx *f = *state;
	int i;

	insert_user(f, USER_A);
	for (i = 0; i < 3; i++) {
		store_close(&f->st);
		reopen_migrated(f);
	}
	assert_int_equal(su_count(f->path, "schema_version"), 3);
	assert_int_equal(su_count(f->path, "users"), 1);
}

/* A database of schema 1 (before the signing keys moved into the store)
 * gains the key tables at its next opening and keeps its records. */
static void test_schema_1_migrates_to_2_keeping_records(void **state)
{
	struct fx *f = *state;
	json_t *got = NULL, *key;
	uint64_t gen = 99;

	insert_user(f, USER_A);
	store_close(&f->st);
	su_exec(f->path,
		"DROP TRIGGER signing_keys_inserted; DROP TRIGGER signing_keys_updated;"
		" DROP TRIGGER signing_keys_deleted; DROP TABLE signing_keys;"
		" DROP TABLE signing_keys_generation; DELETE FROM schema_version WHERE version >= 2");
	reopen_migrated(f);
	assert_int_equal(f->d->user_get(f->h, NULL, USER_A, &got, &f->err), SESAME_OK);
	json_decref(got);
	assert_int_equal(f->d->keys_generation(f->h, NULL, &gen, &f->err), SESAME_OK);
	assert_int_equal(gen, 0);
	key = json_pack("{s:s, s:s, s:i, s:i}", "kid", "k1", "pem", "PEM", "created", 1, "retired", 0);
	assert_int_equal(f->d->key_insert(f->h, NULL, key, &f->err), SESAME_OK);
	json_decref(key);
	assert_int_equal(f->d->keys_generation(f->h, NULL, &gen, &f->err), SESAME_OK);
	assert_int_equal(gen, 1);
}

/* The sessions table of schema 2, with its UNIQUE refresh_hash. */
static const char schema_2_sessions[] =
    "DROP TRIGGER identities_end_sessions;"
    "CREATE TABLE sessions_v2 (id TEXT PRIMARY KEY NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, device_id TEXT NOT NULL,"
    " refresh_hash BLOB NOT NULL UNIQUE, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL, provider TEXT, provider_uid TEXT,"
    " CHECK ((provider IS NULL) = (provider_uid IS NULL))) WITHOUT ROWID;"
    "INSERT INTO sessions_v2 SELECT * FROM sessions; DROP TABLE sessions;"
    "ALTER TABLE sessions_v2 RENAME TO sessions; CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE TRIGGER identities_end_sessions AFTER DELETE ON identities BEGIN"
    " DELETE FROM sessions WHERE user_id = old.user_id AND provider = old.instance AND provider_uid = old.uid;"
    " END;"
    "DELETE FROM schema_version WHERE version = 3";

/* A database of schema 2 loses the index of refresh hashes at its next
 * opening and keeps its sessions, their user index and the trigger that
 * ends an unlinked identity's sessions. */
static void test_schema_2_migrates_to_3_keeping_sessions(void **state)
{
	struct fx *f = *state;
	struct store_session_params p = {.user_id = USER_A,
					 .device_id = "000000000000000000000000",
					 .refresh_token = "secret",
					 .provider = "google",
					 .provider_uid = "g",
					 .now = 100,
					 .expires = 200};
	char id[SESAME_STORE_ID_LENGTH + 1], id2[SESAME_STORE_ID_LENGTH + 1], hash[SESAME_STORE_HASH_LENGTH + 1];
	json_t *s = NULL;
	char *v;

	insert_user(f, USER_A);
	insert_identity(f, "google", "g", USER_A, 1);
	assert_int_equal(store_session_create(&f->st, NULL, &p, id, &f->err), SESAME_OK);
	store_close(&f->st);
	su_exec(f->path, schema_2_sessions);
	v = su_query_text(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'");
	assert_string_equal(v, "2");
	free(v);

	reopen_migrated(f);
	/* Only the user index is left. */
	v = su_query_text(f->path,
			  "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index'"
			  " AND tbl_name = 'sessions'");
	assert_string_equal(v, "sessions_user");
	free(v);
	assert_int_equal(f->d->session_get(f->h, NULL, id, &s, &f->err), SESAME_OK);
	assert_int_equal(store_token_hash("secret", hash), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(s, "refresh_hash")), hash);
	assert_string_equal(json_string_value(json_object_get(s, "user_id")), USER_A);
	json_decref(s);
	/* The trigger is back: unlinking the identity ends its sessions. */
	assert_int_equal(store_session_create(&f->st, NULL, &p, id2, &f->err), SESAME_OK);
	assert_int_equal(su_count(f->path, "sessions"), 2);
	assert_int_equal(f->d->identity_delete(f->h, NULL, "google", "g", &f->err), SESAME_OK);
	assert_int_equal(su_count(f->path, "sessions"), 0);
}

static long file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

static int open_status(const char *path, const char *extra, sesame_error *err)
{
	json_t *conf = su_store_conf(path, extra);
	struct store st;
	int rc;

	err_clear(err);
	rc = store_open(&st, tu_env("SESAME_TEST_STORES"), conf, &su_logger, err);
	json_decref(conf);
	if (rc == SESAME_OK)
		store_close(&st);
	return rc;
}

static void test_open_refuses_newer_schema(void **state)
{
	struct fx *f = *state;
	sesame_error err;

	su_exec(f->path, "INSERT INTO schema_version VALUES (99, 0)");
	assert_int_equal(open_status(f->path, NULL, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "schema");
}

static void test_open_refuses_file_readable_by_others(void **state)
{
	char *dir = tu_tmpdir("store-mode"), *path = tu_write(dir, "sesame.db", "", 0644);
	sesame_error err;

	assert_int_equal(open_status(path, NULL, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "permissions");
	assert_non_null(strstr(err.text, "chmod 600"));
	tu_rmrf(dir);
	free(path);
	free(dir);
	(void)state;
}

static void test_open_refuses_garbage_and_symlinks(void **state)
{
	char *dir = tu_tmpdir("store-garbage"),
	     *garbage = tu_write(dir, "garbage.db",
				 "not a database at all, "
				 "but long enough to be read as a header by SQLite......"
				 "................................................",
				 0600);
	char *target = tu_write(dir, "target.db", "", 0600), *link = tu_path(dir, "link.db");
	sesame_error err;

	assert_int_equal(open_status(garbage, NULL, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "io");
	/* A symlink could point the store at a file the operator never chose. */
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(open_status(link, NULL, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "io");
	assert_int_equal(file_size(target), 0);
	tu_rmrf(dir);
	free(garbage);
	free(target);
	free(link);
	free(dir);
	(void)state;
}

static void capture_log(void *data, int level, const char *message)
{
	char *buf = data;

	if (level <= SESAME_LOG_WARNING)
		snprintf(buf + strlen(buf), 1024 - strlen(buf), "%s\n", message);
}

static void test_open_warns_about_a_directory_others_can_write(void **state)
{
	char *dir = tu_tmpdir("store-dirmode"), *sub = tu_mkdir(dir, "open", 0777), *path = tu_path(sub, "sesame.db");
	char logged[1024] = "";
	struct logger lg = {.fn = capture_log, .data = logged, .max_level = SESAME_LOG_DEBUG};
	json_t *conf = su_store_conf(path, NULL);
	sesame_error err;
	struct store st;

	assert_int_equal(store_open(&st, tu_env("SESAME_TEST_STORES"), conf, &lg, &err), SESAME_OK);
	assert_non_null(strstr(logged, "writable by group or others"));
	store_close(&st);
	json_decref(conf);
	tu_rmrf(dir);
	free(path);
	free(sub);
	free(dir);
	(void)state;
}

static void test_open_refuses_bad_configuration(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "\"conninfo\": \"host=x\"", "\"synchronous\": \"off\"", "\"synchronous\": 1",
	    "\"busy_timeout\": -1",	"\"busy_timeout\": \"5\"",  "\"nosuch\": true",
	};
	sesame_error err;
	json_t *conf;
	struct store st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(open_status(f->path, bad[i], &err), SESAME_CONFIG);
		assert_string_equal(err.reason, "config");
	}
	assert_int_equal(open_status("relative/sesame.db", NULL, &err), SESAME_CONFIG);
	assert_int_equal(open_status(f->path, "\"synchronous\": \"normal\", \"busy_timeout\": 100", &err), SESAME_OK);

	conf = json_pack("{s:s, s:s}", "type", "nosuch", "path", f->path);
	assert_int_equal(store_open(&st, tu_env("SESAME_TEST_STORES"), conf, &su_logger, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "file");
	json_object_set_new(conf, "type", json_string("../sqlite"));
	assert_int_equal(store_open(&st, tu_env("SESAME_TEST_STORES"), conf, &su_logger, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "name");
	json_decref(conf);
}

/* ---- what only the SQLite store has ------------------------------------- */

/*
 * Checkpoints run on the store's own thread, never in a commit: a few
 * commits (far below SQLite's automatic 1000 pages) reach the database file
 * while nothing else happens, which SQLite alone would leave in the WAL.
 */
static void test_checkpoints_run_in_the_background(void **state)
{
	struct fx *f = *state;
	char id[SESAME_STORE_ID_LENGTH + 1], big[3000];
	long before;
	json_t *u;
	int i, polls;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	before = file_size(f->path);
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "7a%022d", i);
		u = json_pack("{s:s, s:s, s:b, s:I, s:I, s:{s:s}, s:{}}", "id", id, "type", "normal", "disabled", 0,
			      "created", (json_int_t)1000, "last_login", (json_int_t)1000, "data", "big", big,
			      "custom_data");
		assert_int_equal(f->d->user_insert(f->h, NULL, u, &f->err), SESAME_OK);
		json_decref(u);
	}
	/* About 30 pages, in the WAL until a checkpoint copies them. */
	for (polls = 0; polls < 600 && file_size(f->path) <= before; polls++)
		usleep(50 * 1000);
	assert_true(file_size(f->path) > before);
}

static void test_write_transaction_excludes_other_writers(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t1 = NULL, *t2 = NULL;
	json_t *conf = su_store_conf(f->path, "\"busy_timeout\": 0"), *u = rec_user(USER_B), *got = NULL;
	struct store other;

	/* A second handle on the file, as another process would have. */
	assert_int_equal(store_open(&other, tu_env("SESAME_TEST_STORES"), conf, &su_logger, &f->err), SESAME_OK);
	json_decref(conf);
	insert_user(f, USER_A);
	assert_int_equal(f->d->begin(f->h, SESAME_STORE_TXN_WRITE, &t1, &f->err), SESAME_OK);
	assert_int_equal(other.desc->begin(other.h, SESAME_STORE_TXN_WRITE, &t2, &f->err), SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "busy");
	assert_true(store_retryable(SESAME_CONFLICT, &f->err));
	assert_null(t2);
	/* Readers are not blocked by a writer. */
	assert_int_equal(other.desc->user_get(other.h, NULL, USER_A, &got, &f->err), SESAME_OK);
	json_decref(got);
	assert_int_equal(f->d->commit(t1, &f->err), SESAME_OK);

	/* Writers of one handle queue on its writer slot, reads do not. */
	assert_int_equal(other.desc->begin(other.h, SESAME_STORE_TXN_WRITE, &t1, &f->err), SESAME_OK);
	assert_int_equal(other.desc->begin(other.h, SESAME_STORE_TXN_WRITE, &t2, &f->err), SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "busy");
	assert_int_equal(other.desc->user_insert(other.h, NULL, u, &f->err), SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "busy");
	assert_int_equal(other.desc->user_get(other.h, NULL, USER_A, &got, &f->err), SESAME_OK);
	json_decref(got);
	other.desc->rollback(t1);
	assert_int_equal(other.desc->user_insert(other.h, NULL, u, &f->err), SESAME_OK);
	assert_int_equal(other.desc->begin(other.h, SESAME_STORE_TXN_WRITE, &t2, &f->err), SESAME_OK);
	assert_int_equal(other.desc->commit(t2, &f->err), SESAME_OK);
	assert_int_equal(su_count(f->path, "users"), 2);
	json_decref(u);
	store_close(&other);
}

/* A transaction body that loses `conflicts` times ("busy", as a store
 * reports a serialization failure), then writes a user. */
struct loser {
	int conflicts;
	int runs;
};

static int losing_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct loser *l = arg;
	json_t *u;
	int rc;

	if (l->runs++ < l->conflicts)
		return seterr(err, SESAME_CONFLICT, "busy", "could not serialize access (attempt %d)", l->runs);
	u = rec_user(USER_B);
	rc = st->desc->user_insert(st->h, txn, u, err);
	json_decref(u);
	return rc;
}

/*
 * A writer of a hot row may lose many times in a row while other writers
 * commit: store_transact() retries for a time, not a fixed few attempts
 * (8 were used up in CI, where more writers truly run at once).  A
 * transaction that never gets through is given up, retryably, having
 * written nothing.
 */
static void test_transact_retries_a_losing_writer(void **state)
{
	struct fx *f = *state;
	struct loser l = {12, 0}, never = {STORE_MAX_ATTEMPTS + 1, 0};

	assert_int_equal(store_transact(&f->st, SESAME_STORE_TXN_WRITE, losing_txn, &l, &f->err), SESAME_OK);
	assert_int_equal(l.runs, 13);
	assert_int_equal(su_count(f->path, "users"), 1);

	assert_int_equal(f->d->user_delete(f->h, NULL, USER_B, &f->err), SESAME_OK);
	assert_int_equal(store_transact(&f->st, SESAME_STORE_TXN_WRITE, losing_txn, &never, &f->err), SESAME_CONFLICT);
	assert_string_equal(f->err.reason, "busy");
	assert_true(store_retryable(SESAME_CONFLICT, &f->err));
	assert_true(never.runs > 1 && never.runs <= STORE_MAX_ATTEMPTS);
	assert_int_equal(su_count(f->path, "users"), 0);
}

static void test_loader_checks_store_descriptors(void **state)
{
	static const struct {
		const char *type;
		int status;
		const char *reason;
	} cases[] = {
	    {"major2", SESAME_UNAVAILABLE, "abi"},
	    {"small", SESAME_UNAVAILABLE, "abi"},
	    {"nosym", SESAME_UNAVAILABLE, "symbol"},
	    {"mistyped", SESAME_UNAVAILABLE, "descriptor"},
	    {"nofunc", SESAME_UNAVAILABLE, "descriptor"},
	    {"halfkeys", SESAME_UNAVAILABLE, "descriptor"},
	    {"halflist", SESAME_UNAVAILABLE, "descriptor"},
	    {"missing", SESAME_UNAVAILABLE, "file"},
	    /* A newer minor with a longer descriptor is accepted and opened. */
	    {"newer", SESAME_UNAVAILABLE, "fixture"},
	};
	char *dir = tu_path(tu_env("SESAME_TEST_BUILDDIR"), "tests/fixtures/stores/.libs");
	sesame_error err;
	struct store st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *conf = json_pack("{s:s, s:s}", "type", cases[i].type, "path", "/nonexistent/sesame.db");

		err_clear(&err);
		assert_int_equal(store_open(&st, dir, conf, &su_logger, &err), cases[i].status);
		if (strcmp(err.reason, cases[i].reason) != 0)
			fail_msg("store %s: reason \"%s\" (%s), expected \"%s\"", cases[i].type, err.reason, err.text,
				 cases[i].reason);
		assert_null(st.desc);
		assert_null(st.plugin_path);
		json_decref(conf);
	}
	free(dir);
	(void)state;
}

/* A context as sesame_configure() leaves it, with only the store settings. */
static sesame_ctx *ctx_with_store(const char *path, const char *type)
{
	sesame_ctx *ctx = sesame_new();

	assert_non_null(ctx);
	sesame_set_logger(ctx, NULL, NULL, -1);
	ctx->cfg.store_dir = strdup(tu_env("SESAME_TEST_STORES"));
	ctx->cfg.store = su_store_conf(path, NULL);
	json_object_set_new(ctx->cfg.store, "type", json_string(type));
	ctx->configured = true;
	return ctx;
}

static void test_context_opens_the_store_on_first_use(void **state)
{
	char *dir, *path = su_db_path("ctx", &dir);
	sesame_ctx *ctx = ctx_with_store(path, "sqlite"), *bad;
	struct store *st = NULL, *again = NULL;
	sesame_error err;

	/* Configuring alone (config check) never touches the database. */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ctx_store(ctx, &st, &err), SESAME_OK);
	assert_non_null(st);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(ctx_store(ctx, &again, &err), SESAME_OK);
	assert_ptr_equal(st, again);
	sesame_free(ctx);

	bad = ctx_with_store(path, "missing");
	assert_int_equal(ctx_store(bad, &st, &err), SESAME_UNAVAILABLE);
	assert_null(st);
	assert_string_equal(err.reason, "file");
	assert_non_null(strstr(err.text, "missing.so"));
	assert_int_equal(ctx_store(bad, &st, &err), SESAME_UNAVAILABLE);
	bad->configured = false;
	assert_int_equal(ctx_store(bad, &st, &err), SESAME_USAGE);
	sesame_free(bad);
	tu_rmrf(dir);
	free(dir);
	free(path);
	(void)state;
}

static void test_sessions_store_only_the_refresh_token_hash(void **state)
{
	struct fx *f = *state;
	const char *token = "the-refresh-token";
	struct store_session_params p = {.user_id = USER_A,
					 .device_id = "000000000000000000000000",
					 .refresh_token = token,
					 .provider = "google",
					 .provider_uid = "g",
					 .now = 100,
					 .expires = 200};
	char hash[SESAME_STORE_HASH_LENGTH + 1], id[SESAME_STORE_ID_LENGTH + 1], *stored;
	json_t *s = NULL;

	/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
	assert_int_equal(store_token_hash("abc", hash), SESAME_OK);
	assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	insert_user(f, USER_A);
	insert_identity(f, "google", "g", USER_A, 1);
	assert_int_equal(store_session_create(&f->st, NULL, &p, id, &f->err), SESAME_OK);
	assert_true(store_valid_id(id));
	assert_memory_equal(id, "00000064", 8);
	assert_int_equal(store_token_hash(token, hash), SESAME_OK);
	assert_int_equal(f->d->session_get_by_hash(f->h, NULL, hash, &s, &f->err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(s, "id")), id);
	assert_string_equal(json_string_value(json_object_get(s, "provider")), "google");
	assert_int_equal(json_integer_value(json_object_get(s, "expires")), 200);
	json_decref(s);
	/* The token itself is nowhere in the database. */
	stored = su_query_text(f->path, "SELECT quote(refresh_hash) || id || device_id || created || expires || "
					"last_used || provider || provider_uid FROM sessions");
	assert_null(strstr(stored, "refresh"));
	free(stored);
	p.provider_uid = NULL;
	assert_int_equal(store_session_create(&f->st, NULL, &p, id, &f->err), SESAME_USAGE);
	assert_int_equal(su_count(f->path, "sessions"), 1);
}

static void test_new_ids_are_object_ids(void **state)
{
	char a[SESAME_STORE_ID_LENGTH + 1], b[SESAME_STORE_ID_LENGTH + 1];

	assert_int_equal(store_new_id(0x5f000001, a), SESAME_OK);
	assert_int_equal(store_new_id(0x5f000001, b), SESAME_OK);
	assert_true(store_valid_id(a));
	assert_memory_equal(a, "5f000001", 8);
	assert_string_not_equal(a, b);
	assert_false(store_valid_id("5f00000100000000000000"));
	assert_false(store_valid_id("5F0000010000000000000000"));
	assert_false(store_valid_id("5f00000100000000000000000"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_creates_private_file_in_wal_mode, setup, teardown),
	    cmocka_unit_test(test_open_creates_missing_directory_0700),
	    cmocka_unit_test_setup_teardown(test_migrations_are_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_1_migrates_to_2_keeping_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_2_migrates_to_3_keeping_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
	    cmocka_unit_test(test_open_refuses_file_readable_by_others),
	    cmocka_unit_test(test_open_refuses_garbage_and_symlinks),
	    cmocka_unit_test(test_open_warns_about_a_directory_others_can_write),
	    cmocka_unit_test_setup_teardown(test_open_refuses_bad_configuration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoints_run_in_the_background, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions_store_only_the_refresh_token_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_transaction_excludes_other_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transact_retries_a_losing_writer, setup, teardown),
	    cmocka_unit_test(test_loader_checks_store_descriptors),
	    cmocka_unit_test(test_context_opens_the_store_on_first_use),
	    cmocka_unit_test(test_new_ids_are_object_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
