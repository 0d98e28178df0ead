/* SPDX-License-Identifier: MIT */
/*
 * bench/login.c — in-process logins through libsesame's public API:
 * custom-token RS256 credential -> merge into the user -> session with an
 * ES256 access token, against SQLite with synchronous FULL and NORMAL and
 * 10^3, 10^5 and 10^6 existing users; logins/s for new and returning
 * identities, against the sum of the parts measured in the same run (one
 * credential verification, one ES256 signature, one raw SQLite upsert
 * transaction on the same database), the slowdown with the user count, and
 * the latency percentiles of every returning login (p99.9 against p50).
 *
 *   login BUILDDIR KEYDIR WORKDIR [--quick] [--reps N] [--seconds S]
 *   login BUILDDIR KEYDIR WORKDIR --serve USERS SYNC   write the config of
 *       a prepared database for sesamed (bench/http.sh) and print its path
 *   login BUILDDIR KEYDIR WORKDIR --returning USERS SYNC SECONDS   print the
 *       returning-login rate on that database and the process's CPU time
 *       per login in microseconds (bench/http.sh's reference)
 *   login BUILDDIR KEYDIR WORKDIR --ab USERS SYNC BUILDDIR_B WORKDIR_B [LOGINS]
 *       compare two builds' plugins, or two base databases, login by login
 *       (see compare())
 */
#include "config.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sesame/sesame.h>

#include "internal.h"
#include "jose.h"

#define MAX_REPS 15
#define POOL 400 /* returning identities: tokens signed before timing */
#define APP "bench-app"
#define ISSUER "https://issuer.bench.example"
#define PROVIDER "ct"
#define MAX_SIZES 3

static const char *builddir, *keydir, *workdir;
static struct sesame_keys *rs_signer; /* RS256 private: the credentials */
static struct jose_key es_key;	      /* ES256 private: the "one sign" part */

/*
 * Whether the contexts' clocks move one second on at every round of the
 * pool (the login table's setups; configured with "test_mode" for
 * sesame_clock_advance()).  An identity then logs in at a new second each
 * time, and its login writes its "updated" like any real one: without
 * it, the POOL identities came back within the same second (a round takes
 * some 50 ms), their rows were rewritten with the bytes they held, and
 * SQLite left their pages clean, a write the upsert part always makes.
 */
static bool clock_ticks;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds of CPU time of the calling thread (not the time others got). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds of CPU time of the whole process, all its threads. */
static double process_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rate of the last measurement per second of this thread's CPU time. */
static double last_cpu_rate;

/* The rate of `n` operations in `wall` seconds; their rate per second of
 * CPU time to last_cpu_rate. */
static double measured(long n, double wall, double cpu)
{
	last_cpu_rate = (double)n / cpu;
	return (double)n / wall;
}

/* `op(arg, i)` for i = 0, 1, ... during `seconds`: its rate (measured()). */
static double run_for(double seconds, void (*op)(void *arg, long i), void *arg)
{
	double t0 = now_s(), t, c0 = cpu_s();
	long n = 0;

	do {
		op(arg, n);
		n++;
		t = now_s();
	} while (t - t0 < seconds);
	return measured(n, t - t0, cpu_s() - c0);
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "login: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		die("cannot read", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read", path);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write", path);
}

static void quiet(void *data, int level, const char *msg)
{
	(void)data;
	if (level <= SESAME_LOG_ERR)
		fprintf(stderr, "sesame: %s\n", msg);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	return s;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die(sql, msg);
}

/* ---- configuration and databases ---------------------------------------- */

/*
 * Write WORKDIR/NAME/{sesame.json, providers.d/ct.json} for a store at
 * `db` with `sync`; returns the main config path (static buffer).
 *
 * sesamed (bench/http.sh) runs a pool of twice as many threads as cores.
 * A login's handler blocks part of the time (on the store's one writer,
 * and with FULL on fdatasync), and the pool's threads take wrk's few
 * long-lived connections as they come: with one thread per core, all
 * eight landed on one thread in about one run in four, and that run
 * measured one core.
 */
static const char *write_config(const char *name, const char *db, const char *sync)
{
	static char main_path[4096];
	char dir[4096], path[4096], *pub, *text;
	json_t *conf;

	snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
	snprintf(path, sizeof(path), "%s/providers.d", dir);
	mkdir(dir, 0700);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/state", dir);
	mkdir(path, 0700);
	conf = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s, s:{s:s, s:s, s:s}, s:{s:i}}", "app_id", APP, "plugin_dir",
			 "", "store_dir", "", "provider_dirs", "", "state_dir", path, "public_url", "http://127.0.0.1",
			 "store", "type", "sqlite", "path", db, "synchronous", sync, "daemon", "threads",
			 2 * (int)sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(path, sizeof(path), "%s/plugins/providers/.libs", builddir);
	json_object_set_new(conf, "plugin_dir", json_string(path));
	snprintf(path, sizeof(path), "%s/plugins/stores/.libs", builddir);
	json_object_set_new(conf, "store_dir", json_string(path));
	snprintf(path, sizeof(path), "%s/providers.d", dir);
	json_array_set_new(json_object_get(conf, "provider_dirs"), 0, json_string(path));
	if (clock_ticks)
		json_object_set_new(conf, "test_mode", json_true());
	text = json_dumps(conf, JSON_INDENT(2));
	snprintf(main_path, sizeof(main_path), "%s/sesame.json", dir);
	write_file(main_path, text);
	free(text);
	json_decref(conf);

	snprintf(path, sizeof(path), "%s/rsa.pub.pem", keydir);
	pub = slurp(path);
	conf = json_pack("{s:s, s:{s:[{s:s, s:s, s:s}], s:[s], s:s}, s:[{s:s}, {s:s}]}", "type", "custom-token",
			 "config", "signing_keys", "alg", "RS256", "kid", "bench-rs", "key", pub, "audience", APP,
			 "issuer", ISSUER, "metadata_fields", "name", "email", "name", "name");
	free(pub);
	text = json_dumps(conf, JSON_INDENT(2));
	snprintf(path, sizeof(path), "%s/providers.d/%s.json", dir, PROVIDER);
	write_file(path, text);
	free(text);
	json_decref(conf);
	return main_path;
}

static sesame_ctx *open_ctx(const char *main_path)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	if (!ctx)
		die("out of memory", NULL);
	sesame_set_logger(ctx, quiet, NULL, SESAME_LOG_ERR);
	if (sesame_configure(ctx, main_path, 0, &err) != SESAME_OK)
		die("sesame_configure", err.text);
	return ctx;
}

/*
 * The base database of `users` users (each with one custom-token identity
 * "u<i>"), built once with sesame's own schema and kept in WORKDIR: the
 * store creates the schema, then plain SQL fills it in one transaction.
 */
static void base_db(long users, char *path, size_t len)
{
	char tmp[4096], sql[2048];
	struct stat st;
	sesame_ctx *ctx;
	json_t *session = NULL, *cred;
	sesame_error err;
	sqlite3 *db;

	snprintf(path, len, "%s/users-%ld.db", workdir, users);
	if (stat(path, &st) == 0)
		return;
	fprintf(stderr, "login: building %s (once)\n", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	ctx = open_ctx(write_config("build", tmp, "normal"));
	/* One real login so the store has made its schema. */
	{
		json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", "schema", "aud", APP, "iss", ISSUER,
					   "iat", (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 3600);
		char *token = NULL;

		if (keys_sign(rs_signer, NULL, NULL, claims, &token, &err) != SESAME_OK)
			die("keys_sign", err.text);
		json_decref(claims);
		cred = json_pack("{s:s}", "token", token);
		free(token);
		if (sesame_login(ctx, PROVIDER, cred, NULL, &session, &err) != SESAME_OK)
			die("sesame_login", err.text);
		json_decref(cred);
		json_decref(session);
	}
	sesame_free(ctx);
	if (sqlite3_open(tmp, &db) != SQLITE_OK)
		die("sqlite3_open", tmp);
	exec_sql(db, "PRAGMA synchronous = OFF; BEGIN");
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
		 " INSERT INTO users (id, type, disabled, created, last_login, data, custom_data)"
		 " SELECT printf('%%024x', i), 'normal', 0, 1700000000, 1700000000,"
		 " json_object('name', 'User ' || i, 'email', 'user' || i || '@example.com'), '{}' FROM n",
		 users);
	exec_sql(db, sql);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
		 " INSERT INTO identities (instance, uid, type, user_id, data, private, created, updated)"
		 " SELECT '" PROVIDER
		 "', 'u' || i, 'custom-token', printf('%%024x', i),"
		 " json_object('name', 'User ' || i, 'email', 'user' || i || '@example.com'), '{}',"
		 " 1700000000, 1700000000 FROM n",
		 users);
	exec_sql(db, sql);
	exec_sql(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	if (rename(tmp, path) != 0)
		die("cannot rename", tmp);
	snprintf(tmp, sizeof(tmp), "%s.tmp-wal", path);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s.tmp-shm", path);
	unlink(tmp);
}

/* A fresh copy of the base database for one configuration (new logins
 * add users, so every run starts from the same state). */
static void copy_db(const char *from, const char *to)
{
	char cmd[8192], side[4096];

	snprintf(side, sizeof(side), "%s-wal", to);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", to);
	unlink(side);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	if (system(cmd) != 0)
		die("cannot copy", from);
}

/*
 * The WAL file of a copy, as a server's is after its first minutes: 64 MiB
 * (the store's bound) of zeros, which SQLite takes for an empty WAL and
 * writes over from its start.  With synchronous=FULL, an fdatasync after
 * a write that extends a file also commits the file's new size to the
 * file system's journal, and costs about twice one after a write over
 * blocks the file has: without this, a setup's first seconds (its WAL
 * growing to the size the checkpointer restarts it at) would weigh the
 * logins and the upsert part by when each happened to extend the file.
 */
static void steady_wal(const char *db)
{
	static char zeros[1 << 16];
	char path[4096];
	int fd, i;

	snprintf(path, sizeof(path), "%s-wal", db);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	for (i = 0; fd >= 0 && i < 1024; i++)
		if (write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
			break;
	if (fd < 0 || i < 1024 || fsync(fd) != 0 || close(fd) != 0)
		die("cannot write", path);
}

/* ---- credentials ----------------------------------------------------------- */

static json_t *credential(const char *sub)
{
	int64_t now = (int64_t)time(NULL);
	char email[128];
	json_t *claims, *cred;
	sesame_error err;
	char *token = NULL;

	snprintf(email, sizeof(email), "%s@example.com", sub);
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "sub", sub, "aud", APP, "iss", ISSUER, "iat",
			   (json_int_t)now, "exp", (json_int_t)(now + 7200), "email", email, "name", "Bench User");
	if (!claims || keys_sign(rs_signer, NULL, NULL, claims, &token, &err) != SESAME_OK)
		die("keys_sign", err.text);
	cred = json_pack("{s:s}", "token", token);
	free(token);
	json_decref(claims);
	return cred;
}

/* Existing identities picked at random over the whole user range; their
 * uids go to `uids` (when not NULL), for the upsert part to write the same
 * rows the logins write. */
static json_t **returning_pool(long users, char (*uids)[32])
{
	json_t **pool = malloc(sizeof(*pool) * POOL);
	char sub[32];
	int i;

	for (i = 0; i < POOL; i++) {
		snprintf(sub, sizeof(sub), "u%ld", 1 + (long)(((double)rand() / RAND_MAX) * (double)(users - 1)));
		pool[i] = credential(sub);
		if (uids)
			memcpy(uids[i], sub, sizeof(sub));
	}
	return pool;
}

static void free_pool(json_t **pool, int n)
{
	int i;

	for (i = 0; i < n; i++)
		json_decref(pool[i]);
	free(pool);
}

static int cmp_double(const void *a, const void *b);

/* ---- measurements ---------------------------------------------------------- */

static void login_once(sesame_ctx *ctx, const json_t *cred)
{
	json_t *session = NULL;
	sesame_error err;

	if (sesame_login(ctx, PROVIDER, cred, NULL, &session, &err) != SESAME_OK)
		die("sesame_login", err.text);
	json_decref(session);
}

/* Per-login latencies of one setup's returning logins, over all repetitions. */
struct latencies {
	double *ms;
	long n, cap;
};

/*
 * The machine's own tail: a fixed CPU task as long as a login's median
 * (SHA-256 of 4 KiB, `noise_rounds` times), timed like the logins and run
 * right after them.  On a shared virtual machine its p99.9 is the floor of
 * what any in-process p99.9 can show.
 */
static int noise_rounds;
static struct latencies noise;

static void noise_task(void)
{
	static unsigned char buf[4096];
	static EVP_MD *sha256;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	int i;

	if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
		die("no SHA-256", NULL);
	for (i = 0; i < noise_rounds; i++) {
		EVP_Digest(buf, sizeof(buf), md, &len, sha256, NULL);
		buf[i % sizeof(buf)] ^= md[0];
	}
}

static void noise_calibrate(double target_ms)
{
	double t0;

	noise_rounds = 50;
	t0 = now_s();
	noise_task();
	noise_rounds = (int)(50 * target_ms / ((now_s() - t0) * 1000));
	if (noise_rounds < 1)
		noise_rounds = 1;
}

static void noise_run(double seconds)
{
	double t0 = now_s(), t = t0, a;

	do {
		a = t;
		noise_task();
		t = now_s();
		if (noise.n < noise.cap)
			noise.ms[noise.n++] = (t - a) * 1000;
	} while (t - t0 < seconds);
}

static double rate_returning(sesame_ctx *ctx, json_t **pool, double seconds, struct latencies *lat)
{
	double t0 = now_s(), t = t0, a, c0 = cpu_s();
	long n = 0;

	do {
		if (clock_ticks && n % POOL == 0) {
			sesame_error err;

			if (sesame_clock_advance(ctx, 1, &err) != SESAME_OK)
				die("sesame_clock_advance", err.text);
			t = now_s(); /* the advance is not the login's */
		}
		a = t;
		login_once(ctx, pool[n % POOL]);
		n++;
		t = now_s();
		if (lat && lat->n < lat->cap)
			lat->ms[lat->n++] = (t - a) * 1000;
	} while (t - t0 < seconds);
	return measured(n, t - t0, cpu_s() - c0);
}

/* Per-login latency percentiles on stderr (one thread, no HTTP): tells
 * the store's own stalls (WAL checkpoints) from the daemon's. */
static void latencies(sesame_ctx *ctx, json_t **pool, double seconds)
{
	static double lat[200000];
	double t0 = now_s(), t = t0;
	long n = 0;

	while (t - t0 < seconds && n < (long)ARRAY_SIZE(lat)) {
		double a = now_s();

		login_once(ctx, pool[n % POOL]);
		t = now_s();
		lat[n++] = (t - a) * 1000;
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	fprintf(stderr, "in-process latency over %ld logins: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", n,
		lat[n / 2], lat[n * 99 / 100], lat[n * 999 / 1000], lat[n - 1]);
}

static double rate_new(sesame_ctx *ctx, json_t **fresh, int n)
{
	double t0 = now_s();
	int i;

	for (i = 0; i < n; i++)
		login_once(ctx, fresh[i]);
	return (double)n / (now_s() - t0);
}

/* One credential verification (the provider's path, as the login does). */
struct verify_arg {
	sesame_ctx *ctx;
	json_t **pool;
};

static void verify_once(void *arg, long i)
{
	struct verify_arg *a = arg;
	json_t *id = NULL;
	sesame_error err;

	if (sesame_verify_credential(a->ctx, PROVIDER, a->pool[i % POOL], &id, &err) != SESAME_OK)
		die("sesame_verify_credential", err.text);
	json_decref(id);
}

static double rate_verify(sesame_ctx *ctx, json_t **pool, double seconds)
{
	struct verify_arg a = {ctx, pool};

	return run_for(seconds, verify_once, &a);
}

static void sign_once(void *claims, long i)
{
	char *token = NULL;
	sesame_error err;

	if (jws_sign(&es_key, NULL, claims, &token, &err) != SESAME_OK)
		die("jws_sign", err.text);
	free(token);
}

/* One ES256 signature of access-token-like claims with a prepared key. */
static double rate_sign(double seconds)
{
	json_t *claims =
	    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "sub", "0123456789abcdef01234567", "aud", APP, "iss",
		      "http://127.0.0.1", "iat", (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 1800, "typ",
		      "access", "sid", "0123456789abcdef76543210", "baas_device_id", "00112233445566778899aabb");
	double rate = run_for(seconds, sign_once, claims);

	json_decref(claims);
	return rate;
}

/*
 * One raw upsert transaction of an existing identity, on the same
 * database file with the same synchronous setting, own connection (opened
 * once per setup, its statements prepared, BEGIN and COMMIT too).
 *
 * - It writes the identities the logins use, in the same rotation: the
 *   login and its part touch the same rows, hot or cold alike.  (Upserts
 *   of identities picked anywhere in the user range found mostly cold
 *   pages at 10^5 and 10^6 users, where the logins, rotating over POOL
 *   identities, find them hot: the part was the slower for it.)
 * - It does not checkpoint: the store's checkpointer thread copies the
 *   shared WAL back for both, off either's path.  (With SQLite's automatic
 *   checkpoint, every commit that left the WAL above 1000 pages, which the
 *   logins keep it, tried a checkpoint of its own: a NORMAL upsert ran at
 *   a little over half its speed.)
 * - Each upsert writes its row: "updated" takes a value no earlier upsert
 *   of this run gave (seconds in 2023, before any login of the run).
 *   SQLite leaves a page clean when a row is rewritten with the bytes it
 *   has, and commits nothing then: with the time of day as "updated",
 *   every upsert of an identity after the first in the same second was
 *   such an empty commit, without WAL frame or fdatasync.
 */
struct upserter {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *up;
	/* The same work as a login's transaction (see rate_same_work()). */
	sqlite3_stmt *identity, *user, *touch, *session;
	long next; /* the next identity of the rotation */
};

static long upserts; /* every upsert of the run: its "updated" */

static void upsert_open(struct upserter *u, const char *dbpath, const char *sync)
{
	char pragma[64];

	if (sqlite3_open(dbpath, &u->db) != SQLITE_OK)
		die("sqlite3_open", dbpath);
	sqlite3_busy_timeout(u->db, 5000);
	sqlite3_wal_autocheckpoint(u->db, 0); /* see above */
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s", sync);
	exec_sql(u->db, pragma);
	u->begin = prepare(u->db, "BEGIN IMMEDIATE");
	u->commit = prepare(u->db, "COMMIT");
	u->up = prepare(u->db, "INSERT INTO identities (instance, uid, type, user_id, data, private, created, updated)"
			       " VALUES ('" PROVIDER "', ?1, 'custom-token', '000000000000000000000001', ?2, '{}', ?3, ?3)"
			       " ON CONFLICT (instance, uid) DO UPDATE SET data = excluded.data, updated = excluded.updated");
	u->identity = prepare(u->db, "SELECT instance, uid, type, user_id, data, private, created, updated"
				     " FROM identities WHERE instance = '" PROVIDER "' AND uid = ?1");
	u->user = prepare(u->db, "SELECT id, type, disabled, created, last_login, data, custom_data"
				 " FROM users WHERE id = ?1");
	u->touch = prepare(u->db, "UPDATE identities SET updated = ?2 WHERE instance = '" PROVIDER "' AND uid = ?1");
	u->session = prepare(u->db, "INSERT INTO sessions (id, user_id, device_id, refresh_hash, created, expires,"
				    " last_used, provider, provider_uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, '" PROVIDER
				    "', ?7)");
	u->next = 0;
}

static void upsert_close(struct upserter *u)
{
	sqlite3_stmt *all[] = {u->begin, u->commit, u->up, u->identity, u->user, u->touch, u->session};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(u->db);
}

static void step_done(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		die(what, sqlite3_errmsg(db));
	sqlite3_reset(s);
}

/* The part's connection and the identities it writes, in rotation. */
struct store_part {
	struct upserter *u;
	char (*uids)[32];
};

static void upsert_once(void *arg, long i)
{
	struct store_part *p = arg;
	struct upserter *u = p->u;

	step_done(u->db, u->begin, "begin");
	sqlite3_bind_text(u->up, 1, p->uids[u->next++ % POOL], -1, SQLITE_STATIC);
	sqlite3_bind_text(u->up, 2, "{\"email\":\"bench@example.com\",\"name\":\"Bench User\"}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(u->up, 3, (sqlite3_int64)1700000000 + upserts++);
	step_done(u->db, u->up, "upsert");
	step_done(u->db, u->commit, "commit");
}

static double rate_upsert(struct upserter *u, char (*uids)[32], double seconds)
{
	struct store_part p = {u, uids};

	return run_for(seconds, upsert_once, &p);
}

/*
 * The store work of a returning login done in plain SQLite, as fast as
 * it can be done (prepared statements, no JSON, values read as text and
 * left there): read the identity and its user, write the identity's
 * "updated", insert a session (an id of the store's kind, a SHA-256 sized
 * hash, both B-trees of the sessions table), commit.  Not a part of the
 * target's sum: its ratio says what sesame costs over the work a login
 * must do, where login/parts says what that work costs over one row.
 */
static void same_work_once(void *arg, long i)
{
	struct store_part *p = arg;
	struct upserter *u = p->u;
	const char *uid = p->uids[u->next++ % POOL];
	unsigned char hash[32];
	char sid[SESAME_STORE_ID_LENGTH + 1], user_id[64];
	int64_t now = (int64_t)time(NULL);

	if (store_new_id(now, sid) != SESAME_OK || util_random(hash, sizeof(hash)) != SESAME_OK)
		die("no random bytes", NULL);
	step_done(u->db, u->begin, "begin");
	sqlite3_bind_text(u->identity, 1, uid, -1, SQLITE_STATIC);
	if (sqlite3_step(u->identity) != SQLITE_ROW)
		die("identity", uid);
	snprintf(user_id, sizeof(user_id), "%s", (const char *)sqlite3_column_text(u->identity, 3));
	sqlite3_reset(u->identity);
	sqlite3_bind_text(u->user, 1, user_id, -1, SQLITE_STATIC);
	if (sqlite3_step(u->user) != SQLITE_ROW || sqlite3_column_int(u->user, 2) != 0)
		die("user", user_id);
	sqlite3_reset(u->user);
	sqlite3_bind_text(u->touch, 1, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(u->touch, 2, (sqlite3_int64)1700000000 + upserts++);
	step_done(u->db, u->touch, "identity update");
	sqlite3_bind_text(u->session, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(u->session, 2, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(u->session, 3, "00112233445566778899aabb", -1, SQLITE_STATIC);
	sqlite3_bind_blob(u->session, 4, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(u->session, 5, now);
	sqlite3_bind_int64(u->session, 6, now + 86400);
	sqlite3_bind_text(u->session, 7, uid, -1, SQLITE_STATIC);
	step_done(u->db, u->session, "session insert");
	step_done(u->db, u->commit, "commit");
}

static double rate_same_work(struct upserter *u, char (*uids)[32], double seconds)
{
	struct store_part p = {u, uids};

	return run_for(seconds, same_work_once, &p);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* sesame_access_token_verify on a token of a real login: what a resource
 * server pays per request, without and with the session lookup. */
struct access_arg {
	sesame_ctx *ctx;
	const char *token;
	unsigned flags;
};

static void access_once(void *arg, long i)
{
	struct access_arg *a = arg;
	json_t *claims = NULL;
	sesame_error err;

	if (sesame_access_token_verify(a->ctx, a->token, a->flags, &claims, &err) != SESAME_OK)
		die("sesame_access_token_verify", err.text);
	json_decref(claims);
}

static double rate_access(sesame_ctx *ctx, const char *token, unsigned flags, double seconds)
{
	struct access_arg a = {ctx, token, flags};

	return run_for(seconds, access_once, &a);
}

/* ---- main -------------------------------------------------------------------- */

struct setup {
	long users;
	const char *sync;
	char db[4096];
	sesame_ctx *ctx;
	json_t **pool;
	char uids[POOL][32];	/* the pool's identities, for the store parts */
	struct upserter up;
	double ret[MAX_REPS], new_[MAX_REPS], verify[MAX_REPS], sign[MAX_REPS], upsert[MAX_REPS];
	double ratio_parts[MAX_REPS];
	double same[MAX_REPS], ratio_same[MAX_REPS]; /* rate_same_work() in place of the upsert */
	double bound[MAX_REPS]; /* ratio_parts / ratio_same: login/parts of a login costing its crypto parts and
				 * the same work alone */
	double ratio_parts_cpu[MAX_REPS]; /* the same per second of thread CPU time */
	double access[2][MAX_REPS];
	char *access_token;
	struct latencies lat;
};

/* The median over the repetitions of the setup's per-repetition figures at
 * offset `member` (e.g. offsetof(struct setup, bound)). */
static double setup_median(const struct setup *s, size_t member, int reps)
{
	return median((const double *)(const void *)((const char *)s + member), reps);
}

/* One table line: `label`, then each setup's median of `member`. */
static void print_setups_line(const struct setup *setups, int n, int reps, const char *label, size_t member)
{
	int k;

	printf("%s", label);
	for (k = 0; k < n; k++)
		printf(" %ld/%s %.2fx", setups[k].users, setups[k].sync, setup_median(&setups[k], member, reps));
	printf("\n");
}

/* A `ratio: login_USERS_SYNC_WHAT` line per setup, its median of `member`. */
static void print_setups_ratio(const struct setup *setups, int n, int reps, const char *what, size_t member)
{
	int k;

	for (k = 0; k < n; k++)
		printf("ratio: login_%ld_%s_%s %.3f\n", setups[k].users, setups[k].sync, what,
		       setup_median(&setups[k], member, reps));
}

static void load_keys(void)
{
	char path[4096], *pem;
	json_t *list, *conf;
	sesame_error err;

	snprintf(path, sizeof(path), "%s/rsa.pem", keydir);
	pem = slurp(path);
	list = json_pack("[{s:s, s:s, s:s}]", "alg", "RS256", "kid", "bench-rs", "key", pem);
	if (keys_from_config(list, &rs_signer, &err) != SESAME_OK)
		die("keys_from_config", err.text);
	json_decref(list);
	free(pem);
	snprintf(path, sizeof(path), "%s/ec256.pem", keydir);
	pem = slurp(path);
	conf = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", "bench-es", "key", pem);
	if (jose_key_from_config(conf, "es256", &es_key, &err) != SESAME_OK)
		die("jose_key_from_config", err.text);
	json_decref(conf);
	free(pem);
}

/* A working copy of the base database of `users` and its config. */
static const char *prepare_setup(struct setup *s, const char *tag, long users, const char *sync)
{
	char base[4096], name[64];

	s->users = users;
	s->sync = sync;
	base_db(users, base, sizeof(base));
	snprintf(name, sizeof(name), "%s-%ld-%s", tag, users, sync);
	snprintf(s->db, sizeof(s->db), "%s/%s.db", workdir, name);
	copy_db(base, s->db);
	steady_wal(s->db);
	return write_config(name, s->db, sync);
}

/*
 * --ab: the same returning logins against A (BUILDDIR's plugins, a copy
 * of WORKDIR's base database) and B (BUILDDIR_B's plugins, a copy of
 * WORKDIR_B's, which may differ, e.g. by an index), one login on each in
 * turn, the order swapped every other pair; the core is this program's.
 * A change too small for the alternated runs above (a few per cent, under
 * the machine's drift) shows here: both sides see the same machine within
 * a fraction of a millisecond.  Prints the median over 20 blocks of B's
 * time over A's, with its quartiles.  Give the same build and work
 * directory twice for the A/A control.
 */
static void compare(long users, const char *sync, const char *build_b, const char *work_b, long logins)
{
	enum { BLOCKS = 20 };
	const char *build_a = builddir, *work_a = workdir;
	double ta[BLOCKS], tb[BLOCKS], r[BLOCKS];
	struct setup *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	json_t **pool;
	long per = logins / BLOCKS, i;
	int k;

	if (!a || !b || per < 1)
		die("--ab: LOGINS must be at least 20", NULL);
	a->ctx = open_ctx(prepare_setup(a, "ab-a", users, sync));
	builddir = build_b;
	workdir = work_b;
	mkdir(workdir, 0700);
	b->ctx = open_ctx(prepare_setup(b, "ab-b", users, sync));
	builddir = build_a;
	workdir = work_a;
	pool = returning_pool(users, NULL);
	for (i = 0; i < 2 * POOL; i++) {
		login_once(a->ctx, pool[i % POOL]);
		login_once(b->ctx, pool[i % POOL]);
	}
	for (k = 0; k < BLOCKS; k++) {
		ta[k] = tb[k] = 0;
		for (i = 0; i < per; i++) {
			const json_t *cred = pool[(k * per + i) % POOL];
			sesame_ctx *first = i % 2 ? b->ctx : a->ctx, *second = i % 2 ? a->ctx : b->ctx;
			double t0 = now_s(), t1, t2;

			login_once(first, cred);
			t1 = now_s();
			login_once(second, cred);
			t2 = now_s();
			ta[k] += i % 2 ? t2 - t1 : t1 - t0;
			tb[k] += i % 2 ? t1 - t0 : t2 - t1;
		}
		r[k] = tb[k] / ta[k];
	}
	qsort(r, BLOCKS, sizeof(double), cmp_double);
	qsort(ta, BLOCKS, sizeof(double), cmp_double);
	qsort(tb, BLOCKS, sizeof(double), cmp_double);
	printf("A %.1f us/login, B %.1f us/login (medians of %d blocks of %ld logins each)\n",
	       ta[BLOCKS / 2] * 1e6 / (double)per, tb[BLOCKS / 2] * 1e6 / (double)per, BLOCKS, per);
	printf("ratio: ab_time_b/a %.3f (quartiles %.3f-%.3f)\n", r[BLOCKS / 2], r[BLOCKS / 4], r[3 * BLOCKS / 4]);
	free_pool(pool, POOL);
	sesame_free(a->ctx);
	sesame_free(b->ctx);
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	static const long all_sizes[MAX_SIZES] = {1000, 100000, 1000000};
	static const char *const syncs[2] = {"full", "normal"};
	struct setup setups[MAX_SIZES * 2];
	int reps = 5, n_sizes = 3, n_new = 600, i, rep, k, q;
	double seconds = 0.6;
	int tok = 0;

	if (argc < 4)
		die("usage: login BUILDDIR KEYDIR WORKDIR [--quick] [--reps N] [--seconds S]", NULL);
	builddir = argv[1];
	keydir = argv[2];
	workdir = argv[3];
	mkdir(workdir, 0700);
	srand(42);
	load_keys();
	if (argc >= 7 && strcmp(argv[4], "--serve") == 0) {
		struct setup s;
		const char *conf = prepare_setup(&s, "serve", strtol(argv[5], NULL, 10), argv[6]);
		json_t **pool = returning_pool(s.users, NULL);
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/serve-%ld-%s/tokens.txt", workdir, s.users, s.sync);
		f = fopen(path, "w");
		for (i = 0; f && i < POOL; i++)
			fprintf(f, "%s\n", json_string_value(json_object_get(pool[i], "token")));
		if (!f || fclose(f) != 0)
			die("cannot write", path);
		free_pool(pool, POOL);
		printf("%s\n%s\n", conf, path);
		return 0;
	}
	if (argc >= 8 && strcmp(argv[4], "--returning") == 0) {
		struct setup s;
		const char *conf = prepare_setup(&s, "inproc", strtol(argv[5], NULL, 10), argv[6]);
		double rate, cpu0, wall0;

		s.ctx = open_ctx(conf);
		s.pool = returning_pool(s.users, NULL);
		rate_returning(s.ctx, s.pool, 0.1, NULL);
		/* The CPU time of every thread (the store's checkpointer too), as
		 * http.sh counts sesamed's. */
		cpu0 = process_cpu_s();
		wall0 = now_s();
		rate = rate_returning(s.ctx, s.pool, strtod(argv[7], NULL), NULL);
		/* logins = rate x the loop's wall time */
		printf("%.0f %.1f\n", rate, (process_cpu_s() - cpu0) * 1e6 / (rate * (now_s() - wall0)));
		latencies(s.ctx, s.pool, strtod(argv[7], NULL));
		free_pool(s.pool, POOL);
		sesame_free(s.ctx);
		return 0;
	}
	if (argc >= 9 && strcmp(argv[4], "--ab") == 0) {
		compare(strtol(argv[5], NULL, 10), argv[6], argv[7], argv[8],
			argc >= 10 ? strtol(argv[9], NULL, 10) : 20000);
		return 0;
	}
	for (i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			reps = 3;
			n_sizes = 2;
			n_new = 300;
			seconds = 0.3;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = (int)strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
		} else {
			die("unknown argument", argv[i]);
		}
	}
	if (reps < 1 || reps > MAX_REPS || seconds <= 0 || seconds > 10)
		die("--reps must be 1..15 and --seconds 0..10", NULL);
	if (n_sizes < 3)
		printf("note: --quick stops at 10^5 users (the slowdown is 10^3 -> 10^5) and runs %d repetitions\n",
		       reps);

	clock_ticks = true;
	for (k = 0; k < n_sizes * 2; k++) {
		struct setup *s = &setups[k];

		memset(s, 0, sizeof(*s));
		s->lat.cap = 400000;
		s->lat.ms = malloc(sizeof(double) * (size_t)s->lat.cap);
		if (!s->lat.ms)
			die("out of memory", NULL);
		s->ctx = open_ctx(prepare_setup(s, "run", all_sizes[k / 2], syncs[k % 2]));
		s->pool = returning_pool(s->users, s->uids);
		upsert_open(&s->up, s->db, s->sync);
		/* Warm: the first logins open connections and prepare statements. */
		rate_returning(s->ctx, s->pool, 0.05, NULL);
	}
	noise.cap = 400000;
	noise.ms = malloc(sizeof(double) * (size_t)noise.cap);
	if (!noise.ms)
		die("out of memory", NULL);
	{
		/* The noise task as long as a login of the smallest NORMAL setup. */
		double t0 = now_s();

		for (q = 0; q < 200; q++)
			login_once(setups[1].ctx, setups[1].pool[q % POOL]);
		noise_calibrate((now_s() - t0) * 1000 / 200);
	}
	{
		json_t *session = NULL;
		sesame_error err;

		if (sesame_login(setups[0].ctx, PROVIDER, setups[0].pool[0], NULL, &session, &err) != SESAME_OK)
			die("sesame_login", err.text);
		setups[0].access_token = strdup(json_string_value(json_object_get(session, "access_token")));
		json_decref(session);
	}
	fprintf(stderr, "login: signing %d new-identity credentials\n", n_new * reps * n_sizes * 2);
	for (rep = 0; rep < reps; rep++) {
		for (k = 0; k < n_sizes * 2; k++) {
			struct setup *s = &setups[k];
			json_t **fresh = malloc(sizeof(*fresh) * (size_t)n_new);
			double cpu_ret, cpu_verify, cpu_sign, cpu_upsert;
			char sub[64];

			for (q = 0; q < n_new; q++) {
				snprintf(sub, sizeof(sub), "new-%d-%d", k, tok++);
				fresh[q] = credential(sub);
			}
			/* Side by side: the login, then its parts, then the next setup. */
			s->ret[rep] = rate_returning(s->ctx, s->pool, seconds, &s->lat);
			cpu_ret = last_cpu_rate;
			if (k % 2 == 1)
				noise_run(seconds / 3);
			s->new_[rep] = rate_new(s->ctx, fresh, n_new);
			s->verify[rep] = rate_verify(s->ctx, s->pool, seconds / 3);
			cpu_verify = last_cpu_rate;
			s->sign[rep] = rate_sign(seconds / 3);
			cpu_sign = last_cpu_rate;
			s->upsert[rep] = rate_upsert(&s->up, s->uids, seconds / 3);
			cpu_upsert = last_cpu_rate;
			s->same[rep] = rate_same_work(&s->up, s->uids, seconds / 3);
			s->ratio_same[rep] = s->ret[rep] * (1 / s->verify[rep] + 1 / s->sign[rep] + 1 / s->same[rep]);
			s->ratio_parts[rep] =
			    s->ret[rep] * (1 / s->verify[rep] + 1 / s->sign[rep] + 1 / s->upsert[rep]);
			s->bound[rep] = s->ratio_parts[rep] / s->ratio_same[rep];
			s->ratio_parts_cpu[rep] = cpu_ret * (1 / cpu_verify + 1 / cpu_sign + 1 / cpu_upsert);
			free_pool(fresh, n_new);
		}
		setups[0].access[0][rep] = rate_access(setups[0].ctx, setups[0].access_token, 0, seconds / 2);
		setups[0].access[1][rep] =
		    rate_access(setups[0].ctx, setups[0].access_token, SESAME_VERIFY_SESSION, seconds / 2);
	}

	printf("\nIn-process login, logins/s (median of %d alternated runs)\n", reps);
	printf("%-8s %-6s %10s %10s | %9s %9s %9s %10s | %8s\n", "users", "sync", "returning", "new", "verify/s",
	       "sign/s", "upsert/s", "parts/s", "/parts");
	for (k = 0; k < n_sizes * 2; k++) {
		struct setup *s = &setups[k];
		double parts =
		    1 / (1 / median(s->verify, reps) + 1 / median(s->sign, reps) + 1 / median(s->upsert, reps));

		printf("%-8ld %-6s %10.0f %10.0f | %9.0f %9.0f %9.0f %10.0f | %7.2fx\n", s->users, s->sync,
		       median(s->ret, reps), median(s->new_, reps), median(s->verify, reps), median(s->sign, reps),
		       median(s->upsert, reps), parts, median(s->ratio_parts, reps));
	}
	printf("(parts: one RS256 credential verification + one ES256 signature + one raw upsert transaction)\n");
	printf("with the login's own store work in plain SQLite in place of the upsert (/same: read identity and user,"
	       " write \"updated\", insert a session):");
	for (k = 0; k < n_sizes * 2; k++)
		printf(" %ld/%s %.0f/s %.2fx", setups[k].users, setups[k].sync, median(setups[k].same, reps),
		       median(setups[k].ratio_same, reps));
	printf("\n");
	print_setups_line(setups, n_sizes * 2, reps,
			  "the login/parts a login would reach that cost only its verification, its signature and that"
			  " store work (no refresh token, no JSON, no plugin calls):",
			  offsetof(struct setup, bound));
	print_setups_line(setups, n_sizes * 2, reps, "/parts per second of thread CPU time (no preemption, no I/O wait):",
			  offsetof(struct setup, ratio_parts_cpu));
	printf("\nIn-process returning-login latency, ms (every login of the runs above, one thread)\n");
	printf("%-8s %-6s %8s %8s %8s %8s %8s | %10s\n", "users", "sync", "logins", "p50", "p99", "p99.9", "max",
	       "p99.9/p50");
	for (k = 0; k < n_sizes * 2; k++) {
		struct latencies *l = &setups[k].lat;

		qsort(l->ms, (size_t)l->n, sizeof(double), cmp_double);
		printf("%-8ld %-6s %8ld %8.3f %8.3f %8.3f %8.3f | %9.1fx\n", setups[k].users, setups[k].sync, l->n,
		       l->ms[l->n / 2], l->ms[l->n * 99 / 100], l->ms[l->n * 999 / 1000], l->ms[l->n - 1],
		       l->ms[l->n * 999 / 1000] / l->ms[l->n / 2]);
	}
	qsort(noise.ms, (size_t)noise.n, sizeof(double), cmp_double);
	printf("%-15s %8ld %8.3f %8.3f %8.3f %8.3f | %9.1fx\n", "noise floor", noise.n, noise.ms[noise.n / 2],
	       noise.ms[noise.n * 99 / 100], noise.ms[noise.n * 999 / 1000], noise.ms[noise.n - 1],
	       noise.ms[noise.n * 999 / 1000] / noise.ms[noise.n / 2]);
	printf("(noise floor: a fixed CPU task as long as a NORMAL login, timed after each NORMAL run)\n");
	printf("sesame_access_token_verify: %.0f tokens/s, %.0f with SESAME_VERIFY_SESSION (%ld users, %s)\n\n",
	       median(setups[0].access[0], reps), median(setups[0].access[1], reps), setups[0].users, setups[0].sync);
	printf("bench: access_token_verify %.0f tokens/s\n", median(setups[0].access[0], reps));
	printf("bench: access_token_verify_session %.0f tokens/s\n", median(setups[0].access[1], reps));
	for (k = 0; k < n_sizes * 2; k++) {
		struct setup *s = &setups[k];

		printf("bench: login_%ld_%s_returning %.0f logins/s\n", s->users, s->sync, median(s->ret, reps));
		printf("bench: login_%ld_%s_new %.0f logins/s\n", s->users, s->sync, median(s->new_, reps));
		printf("bench: login_%ld_%s_parts %.0f ops/s\n", s->users, s->sync,
		       1 / (1 / median(s->verify, reps) + 1 / median(s->sign, reps) + 1 / median(s->upsert, reps)));
		printf("bench: login_%ld_%s_same_work %.0f transactions/s\n", s->users, s->sync, median(s->same, reps));
	}
	for (k = 0; k < n_sizes * 2; k++) {
		struct latencies *l = &setups[k].lat;

		printf("bench: login_%ld_%s_p50 %.3f ms\n", setups[k].users, setups[k].sync, l->ms[l->n / 2]);
		printf("bench: login_%ld_%s_p99 %.3f ms\n", setups[k].users, setups[k].sync, l->ms[l->n * 99 / 100]);
		printf("bench: login_%ld_%s_p999 %.3f ms\n", setups[k].users, setups[k].sync, l->ms[l->n * 999 / 1000]);
	}
	print_setups_ratio(setups, n_sizes * 2, reps, "returning/parts", offsetof(struct setup, ratio_parts));
	print_setups_ratio(setups, n_sizes * 2, reps, "returning/parts_cpu", offsetof(struct setup, ratio_parts_cpu));
	print_setups_ratio(setups, n_sizes * 2, reps, "returning/parts_same_work", offsetof(struct setup, ratio_same));
	print_setups_ratio(setups, n_sizes * 2, reps, "same_work_bound/parts", offsetof(struct setup, bound));
	for (k = 0; k < n_sizes * 2; k++) {
		struct latencies *l = &setups[k].lat;

		printf("ratio: login_%ld_%s_p999/p50 %.2f\n", setups[k].users, setups[k].sync,
		       l->ms[l->n * 999 / 1000] / l->ms[l->n / 2]);
	}
	printf("ratio: noise_floor_p999/p50 %.2f\n", noise.ms[noise.n * 999 / 1000] / noise.ms[noise.n / 2]);
	for (q = 0; q < 2; q++) {
		struct setup *small = &setups[q], *big = &setups[(n_sizes - 1) * 2 + q];
		double r[MAX_REPS], nw[MAX_REPS];

		for (rep = 0; rep < reps; rep++) {
			r[rep] = small->ret[rep] / big->ret[rep];
			nw[rep] = small->new_[rep] / big->new_[rep];
		}
		printf("ratio: login_slowdown_%ld_to_%ld_%s_returning %.3f\n", small->users, big->users, syncs[q],
		       median(r, reps));
		printf("ratio: login_slowdown_%ld_to_%ld_%s_new %.3f\n", small->users, big->users, syncs[q],
		       median(nw, reps));
	}
	for (k = 0; k < n_sizes * 2; k++) {
		upsert_close(&setups[k].up);
		free_pool(setups[k].pool, POOL);
		sesame_free(setups[k].ctx);
		free(setups[k].lat.ms);
	}
	free(setups[0].access_token);
	free(noise.ms);
	keys_free(rs_signer);
	jose_key_clear(&es_key);
	return 0;
}
