/* SPDX-License-Identifier: MIT */
/*
 * tests/store/test-postgres.c — what only the PostgreSQL store has (the
 * conformance suite covers what every store does): its configuration and
 * the refusals that must not leak the conninfo's password; schema
 * migrations by nodes starting together (one at a time, under the
 * advisory lock); a role that only owns its database; the bounded pool;
 * connection loss (the operation fails unavailable, the next reconnects,
 * nothing half-written); a database in another encoding; and a conninfo
 * read from an "@/path" secret file by the core.  Runs against the cluster
 * of tests/store/postgres-suite.sh.
 */
#include "config.h"

#include <pthread.h>
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
#include "pgtest.h"
#include "records.h"
#include "testutil.h"

#define USER_A "5f0000000000000000000001"
#define USER_B "5f0000000000000000000002"
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static struct logger quiet = {.fn = NULL, .data = NULL, .max_level = SESAME_LOG_ERR - 1};

struct fx {
	char *db;
	char *conninfo;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->db = pg_create_database("pg", NULL);
	f->conninfo = pg_conninfo(f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pg_drop_database(f->db);
	free(f->db);
	free(f->conninfo);
	free(f);
	return 0;
}

/* The store's configuration: `conninfo` plus the members of `extra`. */
static json_t *conf_of(const char *conninfo, const char *extra)
{
	char text[4096];
	json_t *conf;

	snprintf(text, sizeof(text), "{\"type\": \"postgres\"%s%s}", extra ? ", " : "", extra ? extra : "");
	conf = json_loads(text, 0, NULL);
	assert_non_null(conf);
	if (conninfo)
		json_object_set_new(conf, "conninfo", json_string(conninfo));
	return conf;
}

static int open_with(struct store *st, json_t *conf, sesame_error *err)
{
	int rc;

	err_clear(err);
	rc = store_open(st, tu_env("SESAME_TEST_STORES"), conf, &quiet, err);
	json_decref(conf);
	return rc;
}

static void open_ok(struct store *st, json_t *conf)
{
	sesame_error err;

	if (open_with(st, conf, &err) != SESAME_OK)
		fail_msg("store_open: %s", err.text);
}

static void test_configuration_errors(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "\"path\": \"/var/lib/sesame/sesame.db\"",
	    "\"pool_size\": 0",
	    "\"pool_size\": 201",
	    "\"pool_size\": \"8\"",
	    "\"busy_timeout\": -1",
	    "\"statement_timeout\": 3600001",
	    "\"synchronous\": \"full\"",
	    "\"nosuch\": 1",
	};
	struct store st;
	sesame_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(open_with(&st, conf_of(f->conninfo, bad[i]), &err), SESAME_CONFIG);
		assert_string_equal(err.reason, "config");
		assert_non_null(strstr(err.text, "store."));
	}
	assert_int_equal(open_with(&st, conf_of(NULL, NULL), &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, "\"store.conninfo\": missing"));
	assert_int_equal(open_with(&st, conf_of("", NULL), &err), SESAME_CONFIG);
	assert_int_equal(open_with(&st, conf_of(NULL, "\"conninfo\": 5"), &err), SESAME_CONFIG);
	/* libpq's parse error would quote the string: the message does not. */
	assert_int_equal(open_with(&st, conf_of("host=x password=hunter2secret dbname", NULL), &err), SESAME_CONFIG);
	assert_null(strstr(err.text, "hunter2secret"));
	assert_int_equal(open_with(&st, conf_of("postgresql://u:hunter2secret@[::1", NULL), &err), SESAME_CONFIG);
	assert_null(strstr(err.text, "hunter2secret"));
	open_ok(&st, conf_of(f->conninfo, "\"pool_size\": 2, \"busy_timeout\": 100, \"statement_timeout\": 0"));
	store_close(&st);
}

static void test_unreachable_server_is_unavailable_without_the_password(void **state)
{
	struct fx *f = *state;
	char conninfo[1024];
	struct store st;
	sesame_error err;

	snprintf(conninfo, sizeof(conninfo), "host=%s port=1 user=sesame password=hunter2secret dbname=%s",
		 tu_env("SESAME_TEST_PG_HOST"), f->db);
	assert_int_equal(open_with(&st, conf_of(conninfo, NULL), &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "io");
	assert_non_null(strstr(err.text, "cannot connect"));
	assert_null(strstr(err.text, "hunter2secret"));
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=sesame dbname=nosuchdb_%ld",
		 tu_env("SESAME_TEST_PG_HOST"), tu_env("SESAME_TEST_PG_PORT"), (long)getpid());
	assert_int_equal(open_with(&st, conf_of(conninfo, NULL), &err), SESAME_UNAVAILABLE);
	assert_non_null(strstr(err.text, "does not exist"));
}

struct opener {
	const char *conninfo;
	pthread_barrier_t *go;
	int rc;
	sesame_error err;
};

static void *open_at_once(void *arg)
{
	struct opener *o = arg;
	struct store st;

	pthread_barrier_wait(o->go);
	o->rc = open_with(&st, conf_of(o->conninfo, NULL), &o->err);
	if (o->rc == SESAME_OK)
		store_close(&st);
	return NULL;
}

/* Nodes starting together on an empty database: each open() migrates under
 * the advisory lock, so one creates the schema and the others find it. */
static void test_nodes_starting_together_migrate_once(void **state)
{
	enum { N = 8 };
	struct fx *f = *state;
	struct opener o[N];
	pthread_t t[N];
	pthread_barrier_t go;
	char *v;
	int i;

	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		o[i] = (struct opener){f->conninfo, &go, 0, {0}};
		assert_int_equal(pthread_create(&t[i], NULL, open_at_once, &o[i]), 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < N; i++)
		if (o[i].rc != SESAME_OK)
			fail_msg("open %d: %s", i, o[i].err.text);
	v = pg_admin(f->db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version");
	assert_string_equal(v, "1,2");
	free(v);
	/* The tables belong to the unprivileged role: no superuser was needed. */
	assert_int_equal(pg_admin_long(f->db,
				       "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
				       " AND tableowner <> 'sesame'"),
			 0);
	assert_int_equal(pg_admin_long("postgres",
				       "SELECT count(*) FROM pg_roles WHERE rolname = 'sesame'"
				       " AND (rolsuper OR rolcreatedb OR rolcreaterole)"),
			 0);
}

/* Schema 1 had refresh_hash UNIQUE: version 2 drops the constraint (and
 * the index behind it), keeping the sessions. */
static void test_schema_1_migrates_to_2_keeping_sessions(void **state)
{
	struct fx *f = *state;
	json_t *u = rec_user(USER_A), *se = rec_session("5f00000000000000000000a1", USER_A, HASH_A, 4102444800),
	       *got = NULL;
	struct store st;
	sesame_error err;
	char *v;

	open_ok(&st, conf_of(f->conninfo, NULL));
	assert_int_equal(st.desc->user_insert(st.h, NULL, u, &err), SESAME_OK);
	assert_int_equal(st.desc->session_insert(st.h, NULL, se, &err), SESAME_OK);
	store_close(&st);
	/* Back to what version 1 left. */
	free(pg_admin(f->db, "ALTER TABLE sessions ADD CONSTRAINT sessions_refresh_hash_key UNIQUE (refresh_hash)"));
	free(pg_admin(f->db, "DELETE FROM schema_version WHERE version = 2"));

	open_ok(&st, conf_of(f->conninfo, NULL));
	v = pg_admin(f->db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version");
	assert_string_equal(v, "1,2");
	free(v);
	v = pg_admin(f->db,
		     "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
		     " WHERE tablename = 'sessions'");
	assert_string_equal(v, "sessions_pkey,sessions_user");
	free(v);
	assert_int_equal(st.desc->session_get(st.h, NULL, "5f00000000000000000000a1", &got, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(got, "refresh_hash")),
			    json_string_value(json_object_get(se, "refresh_hash")));
	json_decref(got);
	/* A second session with the same hash is no longer refused. */
	json_object_set_new(se, "id", json_string("5f00000000000000000000a2"));
	assert_int_equal(st.desc->session_insert(st.h, NULL, se, &err), SESAME_OK);
	assert_int_equal(pg_admin_long(f->db, "SELECT count(*) FROM sessions"), 2);
	store_close(&st);
	json_decref(se);
	json_decref(u);
}

static void test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	struct store st;
	sesame_error err;

	open_ok(&st, conf_of(f->conninfo, NULL));
	store_close(&st);
	free(pg_admin(f->db, "INSERT INTO schema_version VALUES (99, 0)"));
	assert_int_equal(open_with(&st, conf_of(f->conninfo, NULL), &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "schema");
	assert_non_null(strstr(err.text, "99"));
}

static void test_other_encoding_refused(void **state)
{
	char *db = pg_create_database("latin", "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	char *conninfo = pg_conninfo(db);
	struct store st;
	sesame_error err;

	assert_int_equal(open_with(&st, conf_of(conninfo, NULL), &err), SESAME_UNAVAILABLE);
	assert_non_null(strstr(err.text, "LATIN1"));
	assert_non_null(strstr(err.text, "UTF8"));
	/* Nothing was created in it. */
	assert_int_equal(pg_admin_long(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
	pg_drop_database(db);
	free(db);
	free(conninfo);
	(void)state;
}

static long connections(const char *db)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'", db);
	return pg_admin_long("postgres", sql);
}

/* The number of connections to `db` once it is `expect`, or after a
 * bounded wait: a closed connection's server process leaves
 * pg_stat_activity a moment after the client hung up. */
static long connections_settled(const char *db, long expect)
{
	long n;
	int i;

	for (i = 0; (n = connections(db)) != expect && i < 500; i++)
		usleep(10000);
	return n;
}

/* The pool opens at most pool_size connections; past them an operation
 * waits busy_timeout, then fails unavailable ("busy"), never hangs. */
static void test_pool_is_bounded(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t1 = NULL, *t2 = NULL, *t3 = NULL;
	json_t *u = rec_user(USER_A), *got = NULL;
	struct store st;
	sesame_error err;

	open_ok(&st, conf_of(f->conninfo, "\"pool_size\": 2, \"busy_timeout\": 50"));
	assert_int_equal(st.desc->begin(st.h, 0, &t1, &err), SESAME_OK);
	assert_int_equal(st.desc->begin(st.h, SESAME_STORE_TXN_WRITE, &t2, &err), SESAME_OK);
	assert_int_equal(connections(f->db), 2);
	assert_int_equal(st.desc->begin(st.h, 0, &t3, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	assert_non_null(strstr(err.text, "pool_size"));
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_UNAVAILABLE);
	assert_int_equal(connections(f->db), 2);
	st.desc->rollback(t1);
	assert_int_equal(st.desc->user_insert(st.h, NULL, u, &err), SESAME_OK);
	assert_int_equal(st.desc->commit(t2, &err), SESAME_OK);
	assert_int_equal(connections(f->db), 2);
	store_close(&st);
	assert_int_equal(connections_settled(f->db, 0), 0);
	json_decref(u);
}

/* The server ends sesame's connections (a restart, a failover, a network
 * failure): the operation in flight fails unavailable, a transaction cut
 * off writes nothing, and the next operation connects again. */
static void test_connection_loss_fails_then_reconnects(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t = NULL;
	json_t *u = rec_user(USER_A), *got = NULL;
	struct store st;
	sesame_error err;

	open_ok(&st, conf_of(f->conninfo, NULL));
	assert_int_equal(st.desc->user_insert(st.h, NULL, u, &err), SESAME_OK);
	pg_terminate(f->db);
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "io");
	assert_non_null(strstr(err.text, "lost"));
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_OK);
	json_decref(got);

	/* In the middle of a transaction: nothing of it lands. */
	assert_int_equal(st.desc->begin(st.h, SESAME_STORE_TXN_WRITE, &t, &err), SESAME_OK);
	json_object_set_new(u, "id", json_string(USER_B));
	assert_int_equal(st.desc->user_insert(st.h, t, u, &err), SESAME_OK);
	pg_terminate(f->db);
	assert_int_equal(st.desc->commit(t, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "io");
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_B, &got, &err), SESAME_NOT_FOUND);
	assert_int_equal(pg_admin_long(f->db, "SELECT count(*) FROM users"), 1);

	/* Several idle connections are all gone after a restart: one failure,
	 * then every operation works again. */
	{
		sesame_store_txn *a = NULL, *b = NULL, *c = NULL;

		assert_int_equal(st.desc->begin(st.h, 0, &a, &err), SESAME_OK);
		assert_int_equal(st.desc->begin(st.h, 0, &b, &err), SESAME_OK);
		assert_int_equal(st.desc->begin(st.h, 0, &c, &err), SESAME_OK);
		st.desc->rollback(a);
		st.desc->rollback(b);
		st.desc->rollback(c);
	}
	pg_terminate(f->db);
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_UNAVAILABLE);
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_OK);
	json_decref(got);
	assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_OK);
	json_decref(got);
	store_close(&st);
	json_decref(u);
}

/* A statement running past statement_timeout is cancelled by the server:
 * unavailable ("busy"), and the connection stays usable. */
static void test_statement_timeout(void **state)
{
	struct fx *f = *state;
	sesame_store_txn *t = NULL;
	json_t *u = rec_user(USER_A), *got = NULL, *changes;
	struct store st;
	sesame_error err;
	char *locker = NULL, *cmd = NULL;

	open_ok(&st, conf_of(f->conninfo, "\"statement_timeout\": 200, \"pool_size\": 1"));
	assert_int_equal(st.desc->user_insert(st.h, NULL, u, &err), SESAME_OK);
	/* Another session holds the row's lock well past the timeout. */
	assert_true(asprintf(&locker,
			     "BEGIN; SELECT 1 FROM users WHERE id = '%s' FOR UPDATE; SELECT pg_sleep(30); COMMIT;",
			     USER_A) > 0);
	assert_true(asprintf(&cmd,
			     "'%s' -X -q -h '%s' -p %s -U %s -d %s -c \"%s\" >/dev/null 2>&1 & "
			     "echo $!",
			     tu_env("SESAME_TEST_PSQL"), tu_env("SESAME_TEST_PG_HOST"), tu_env("SESAME_TEST_PG_PORT"),
			     tu_env("SESAME_TEST_PG_ADMIN"), f->db, locker) > 0);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	/* Wait (bounded) until it holds the lock and sleeps. */
	{
		int i;
		char sql[256];

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND wait_event = 'PgSleep'",
			 f->db);
		for (i = 0; i < 3000 && pg_admin_long("postgres", sql) == 0; i++)
			usleep(10000);
		assert_true(i < 3000);
	}
	changes = json_pack("{s:{}}", "data");
	assert_int_equal(st.desc->begin(st.h, SESAME_STORE_TXN_WRITE, &t, &err), SESAME_OK);
	assert_int_equal(st.desc->user_update(st.h, t, USER_A, changes, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	json_decref(changes);
	st.desc->rollback(t);
	pg_terminate(f->db);
	/* The pool's one connection was ended too: one failure, then fine. */
	if (st.desc->user_get(st.h, NULL, USER_A, &got, &err) != SESAME_OK)
		assert_int_equal(st.desc->user_get(st.h, NULL, USER_A, &got, &err), SESAME_OK);
	json_decref(got);
	store_close(&st);
	json_decref(u);
	free(locker);
	free(cmd);
}

/* The core reads "conninfo": "@/path" from a secret file, refuses one
 * others may read, and never shows an inline conninfo. */
static void test_conninfo_from_a_secret_file(void **state)
{
	struct fx *f = *state;
	char *dir = tu_tmpdir("pg-secret"), *secret, *main_file, text[4096];
	sesame_ctx *ctx = sesame_new();
	struct store *st = NULL;
	json_t *shown, *users = NULL;
	sesame_error err;

	secret = tu_write(dir, "conninfo", f->conninfo, 0600);
	snprintf(text, sizeof(text),
		 "{\"state_dir\": \"%s/state\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s/none\"],"
		 " \"store\": {\"type\": \"postgres\", \"conninfo\": \"@%s\"}}",
		 dir, tu_env("SESAME_TEST_STORES"), dir, secret);
	main_file = tu_write(dir, "sesame.json", text, 0644);
	sesame_set_logger(ctx, NULL, NULL, SESAME_LOG_ERR - 1);
	assert_int_equal(config_load(&ctx->cfg, main_file, CONFIG_STORE_ONLY, &quiet, &err), SESAME_OK);
	ctx->configured = true;
	assert_int_equal(ctx_store(ctx, &st, &err), SESAME_OK);
	assert_int_equal(st->desc->users_list(st->h, NULL, NULL, 10, &users, &err), SESAME_OK);
	json_decref(users);
	/* No default "path" is added to another store than sqlite. */
	assert_null(json_object_get(ctx->cfg.store, "path"));
	shown = config_to_json(&ctx->cfg, false);
	snprintf(text, sizeof(text), "@%s", secret);
	assert_string_equal(json_string_value(json_object_get(json_object_get(shown, "store"), "conninfo")), text);
	json_decref(shown);
	sesame_free(ctx);

	/* Group-readable: refused, naming the file. */
	assert_int_equal(chmod(secret, 0640), 0);
	ctx = sesame_new();
	assert_int_equal(config_load(&ctx->cfg, main_file, CONFIG_STORE_ONLY, &quiet, &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, secret));
	sesame_free(ctx);

	/* Inline, the conninfo (which may hold a password) is masked. */
	snprintf(text, sizeof(text),
		 "{\"state_dir\": \"%s/state\", \"store_dir\": \"%s\","
		 " \"store\": {\"type\": \"postgres\", \"conninfo\": \"%s password=hunter2secret\"}}",
		 dir, tu_env("SESAME_TEST_STORES"), f->conninfo);
	free(tu_write(dir, "sesame.json", text, 0644));
	ctx = sesame_new();
	assert_int_equal(config_load(&ctx->cfg, main_file, CONFIG_STORE_ONLY, &quiet, &err), SESAME_OK);
	shown = config_to_json(&ctx->cfg, false);
	{
		char *dump = json_dumps(shown, 0);

		assert_null(strstr(dump, "hunter2secret"));
		free(dump);
	}
	json_decref(shown);
	sesame_free(ctx);
	tu_rmrf(dir);
	free(dir);
	free(secret);
	free(main_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_configuration_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreachable_server_is_unavailable_without_the_password, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_nodes_starting_together_migrate_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_1_migrates_to_2_keeping_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test(test_other_encoding_refused),
	    cmocka_unit_test_setup_teardown(test_pool_is_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_loss_fails_then_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statement_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conninfo_from_a_secret_file, setup, teardown),
	};

	if (!pg_available()) {
		fprintf(stderr, "test-postgres needs the cluster of tests/store/postgres-suite.sh\n");
		return 99;
	}
	return cmocka_run_group_tests_name("postgres store", tests, NULL, NULL);
}
