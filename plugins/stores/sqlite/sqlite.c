/* SPDX-License-Identifier: MIT */
/*
 * plugins/stores/sqlite/sqlite.c — the embedded SQLite store: sesame's
 * users, identities, sessions, provider data and signing keys in one
 * database file (store ABI 1.1).
 *
 * Settings (the "store" object of sesame.json):
 *   "path"          absolute file name (the core defaults it to
 *                   STATE_DIR/sesame.db); its directory is created 0700.
 *   "synchronous"   "full" (default) or "normal".
 *   "busy_timeout"  milliseconds a writer waits for the lock before
 *                   SESAME_CONFLICT, 0 to 600000 (default 5000).
 *
 * Choices, and why:
 * - WAL journal: readers never block the one writer and a commit is one
 *   sequential append.  synchronous=FULL by default so an acknowledged login
 *   survives power loss; "normal" trades that for speed (a crash of the
 *   process still loses nothing).
 * - Connections run in SQLite's multi-thread mode (SQLITE_OPEN_NOMUTEX) and
 *   live in a small pool: a transaction or a single operation borrows one
 *   connection and gives it back, so no SQLite mutex is shared between
 *   threads and each connection keeps its own prepared statements.  The pool
 *   is bounded (POOL_MAX) because writers serialise on the database lock
 *   anyway and every connection costs a page cache.
 * - Write transactions are BEGIN IMMEDIATE: the write lock is taken first,
 *   so a read inside the transaction can never be invalidated by another
 *   writer (SQLITE_BUSY_SNAPSHOT).  Writers of one handle first queue on a
 *   condition variable (writer_acquire): SQLite's busy handler polls with
 *   sleeps of up to 100 ms, which would waste most of the time a waiting
 *   thread spends, so it is left to arbitrate between processes only.  A
 *   lock still not granted after busy_timeout answers SESAME_CONFLICT,
 *   which the core retries.
 * - Tables keyed by what they are looked up by, WITHOUT ROWID, with as few
 *   secondary indexes as the lookups need: the login path reads one
 *   identities row by (instance, uid) and one users row by id, and writes
 *   a session into two B-trees (by id, and by user for ending a user's
 *   sessions); a refresh token's session is found by its id.
 * - The file is created 0600 before SQLite sees it (SQLite gives its -wal
 *   and -shm files the database's mode), and an existing file that group or
 *   others may access is refused: it holds password hashes and sessions.
 * - Connections open through the walgather VFS (walgather.c), which writes
 *   a commit's WAL frames with one pwrite() instead of two per frame.
 * - Checkpoints never run on a request: SQLite's automatic checkpoint makes
 *   the commit that crosses 1000 WAL pages copy them back into the
 *   database (and, with FULL, sync it), a stall of milliseconds for one
 *   login in a few dozen.  A WAL hook on every connection replaces it: a
 *   commit that leaves CHECKPOINT_PAGES more pages in the WAL wakes the
 *   handle's checkpointer thread, which checkpoints on its own connection
 *   (see checkpoint_once(): PASSIVE, without blocking writers but for the
 *   last few pages).  The WAL is bounded all the same: a commit that finds
 *   WAL_MAX_PAGES pages (the checkpointer cannot keep up, or a long reader
 *   holds it back) checkpoints itself, and journal_size_limit truncates the
 *   file once it was reset.  So a login with synchronous=FULL costs one
 *   fdatasync, of the WAL (and, once per reset of the WAL, one of its new
 *   header).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <sesame/store.h>

#include "store-record.h"
#include "walgather.h"

#define POOL_MAX	     8
#define DEFAULT_BUSY_TIMEOUT 5000
#define MAX_BUSY_TIMEOUT     600000
#define LIST_MAX	     1000
#define SCHEMA_VERSION	     3
/* WAL pages (4 KiB each) that wake the checkpointer: SQLite's own default. */
#define CHECKPOINT_PAGES 1000
/* WAL pages from which the checkpointer completes a checkpoint so the WAL
 * restarts (a short pause of this handle's writers: see checkpoint_once()). */
#define RESTART_PAGES (8 * CHECKPOINT_PAGES)
/* WAL pages at which a commit checkpoints itself: the WAL's bound. */
#define WAL_MAX_PAGES (16 * CHECKPOINT_PAGES)
/* Bytes the WAL file is truncated to after a reset (journal_size_limit). */
#define WAL_SIZE_LIMIT (64 * 1024 * 1024)
/* Milliseconds between two looks of an idle checkpointer at the WAL. */
#define CHECKPOINT_IDLE_MS 1000

/* ---- statements ----------------------------------------------------------- */

enum stmt_id {
	S_BEGIN_READ,
	S_BEGIN_WRITE,
	S_COMMIT,
	S_ROLLBACK,
	S_USER_INSERT,
	S_USER_GET,
	S_USER_UPDATE,
	S_USER_DELETE,
	S_USERS_LIST,
	S_IDENTITY_INSERT,
	S_IDENTITY_GET,
	S_IDENTITY_UPDATE,
	S_IDENTITY_DELETE,
	S_IDENTITIES_OF_USER,
	S_SESSION_INSERT,
	S_SESSION_GET_BY_HASH,
	S_SESSION_GET,
	S_SESSION_TOUCH,
	S_SESSION_DELETE,
	S_SESSIONS_DELETE_USER,
	S_SESSIONS_COUNT,
	S_KV_GET,
	S_KV_PUT,
	S_KV_CREATE,
	S_KV_DELETE,
	S_KV_PURGE,
	/* store ABI 1.1 */
	S_SESSIONS_LIST,
	S_KV_LIST,
	S_KEYS_GENERATION,
	S_KEYS_LIST,
	S_KEY_INSERT,
	S_KEY_RETIRE,
	S_KEYS_PRUNE,
	N_STMT
};

#define USER_COLUMNS	 "id, type, disabled, created, last_login, data, custom_data"
#define IDENTITY_COLUMNS "instance, uid, type, user_id, data, private, created, updated"
#define SESSION_COLUMNS	 "id, user_id, device_id, refresh_hash, created, expires, last_used, provider, provider_uid"

static const char *const stmt_sql[N_STMT] = {
    [S_BEGIN_READ] = "BEGIN DEFERRED",
    [S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_INSERT] = "INSERT INTO users (" USER_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_USER_GET] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?1",
    [S_USER_UPDATE] = "UPDATE users SET disabled = coalesce(?2, disabled), last_login = coalesce(?3, last_login),"
		      " data = coalesce(?4, data), custom_data = coalesce(?5, custom_data) WHERE id = ?1",
    [S_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [S_USERS_LIST] = "SELECT " USER_COLUMNS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
    [S_IDENTITY_INSERT] = "INSERT INTO identities (" IDENTITY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_IDENTITY_GET] = "SELECT " IDENTITY_COLUMNS " FROM identities WHERE instance = ?1 AND uid = ?2",
    [S_IDENTITY_UPDATE] = "UPDATE identities SET data = coalesce(?3, data), private = coalesce(?4, private),"
			  " updated = coalesce(?5, updated) WHERE instance = ?1 AND uid = ?2",
    [S_IDENTITY_DELETE] = "DELETE FROM identities WHERE instance = ?1 AND uid = ?2",
    [S_IDENTITIES_OF_USER] = "SELECT " IDENTITY_COLUMNS " FROM identities WHERE user_id = ?1"
			     " ORDER BY updated, created, instance, uid",
    [S_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_SESSION_GET_BY_HASH] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE refresh_hash = ?1",
    [S_SESSION_GET] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = ?1",
    [S_SESSION_TOUCH] = "UPDATE sessions SET last_used = ?2, expires = CASE WHEN ?3 > 0 THEN ?3 ELSE expires END"
			" WHERE id = ?1",
    [S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
    [S_SESSIONS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [S_SESSIONS_COUNT] = "SELECT count(*) FROM sessions WHERE (?1 IS NULL OR user_id = ?1) AND expires > ?2",
    [S_KV_GET] = "SELECT value FROM provider_data WHERE instance = ?1 AND key = ?2"
		 " AND (expires IS NULL OR expires > ?3)",
    [S_KV_PUT] = "INSERT INTO provider_data (instance, key, value, user_id, expires) VALUES (?1, ?2, ?3, ?4, ?5)"
		 " ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value, user_id = excluded.user_id,"
		 " expires = excluded.expires",
    [S_KV_CREATE] = "INSERT INTO provider_data (instance, key, value, user_id, expires) VALUES (?1, ?2, ?3, ?4, ?5)"
		    " ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value, user_id = excluded.user_id,"
		    " expires = excluded.expires WHERE provider_data.expires IS NOT NULL"
		    " AND provider_data.expires <= ?6",
    [S_KV_DELETE] = "DELETE FROM provider_data WHERE instance = ?1 AND key = ?2",
    [S_KV_PURGE] = "DELETE FROM provider_data WHERE expires IS NOT NULL AND expires <= ?1",
    [S_SESSIONS_LIST] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE id > ?1 ORDER BY id LIMIT ?2",
    [S_KV_LIST] = "SELECT instance, key, value, user_id, expires FROM provider_data"
		  " WHERE ?1 IS NULL OR (instance, key) > (?1, ?2) ORDER BY instance, key LIMIT ?3",
    [S_KEYS_GENERATION] = "SELECT generation FROM signing_keys_generation",
    [S_KEYS_LIST] = "SELECT kid, pem, created, retired FROM signing_keys"
		    " ORDER BY retired = 0 DESC, retired DESC, kid",
    [S_KEY_INSERT] = "INSERT INTO signing_keys (kid, pem, created, retired) VALUES (?1, ?2, ?3, ?4)",
    [S_KEY_RETIRE] = "UPDATE signing_keys SET pem = ?2, retired = ?3 WHERE kid = ?1 AND retired = 0",
    [S_KEYS_PRUNE] = "DELETE FROM signing_keys WHERE retired > 0 AND retired <= ?1",
};

/*
 * Schema migrations: migrations[i] takes the schema from version i to i+1.
 * Only ever append; a released migration is never edited.
 */
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('normal', 'server')),"
    " disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),"
    " created INTEGER NOT NULL,"
    " last_login INTEGER NOT NULL,"
    " data TEXT NOT NULL,"
    " custom_data TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE identities ("
    " instance TEXT NOT NULL,"
    " uid TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " data TEXT NOT NULL,"
    " private TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " PRIMARY KEY (instance, uid)"
    ") WITHOUT ROWID;"
    "CREATE INDEX identities_user ON identities (user_id);"
    "CREATE TABLE sessions ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " device_id TEXT NOT NULL,"
    " refresh_hash BLOB NOT NULL UNIQUE,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL,"
    " provider TEXT,"
    " provider_uid TEXT,"
    " CHECK ((provider IS NULL) = (provider_uid IS NULL))"
    ") WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    /* Tokens of an unlinked identity must stop working (hostile input 43). */
    "CREATE TRIGGER identities_end_sessions AFTER DELETE ON identities BEGIN"
    " DELETE FROM sessions WHERE user_id = old.user_id AND provider = old.instance AND provider_uid = old.uid;"
    " END;"
    "CREATE TABLE provider_data ("
    " instance TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " user_id TEXT REFERENCES users (id) ON DELETE CASCADE,"
    " expires INTEGER,"
    " PRIMARY KEY (instance, key)"
    ") WITHOUT ROWID;"
    "CREATE INDEX provider_data_user ON provider_data (user_id) WHERE user_id IS NOT NULL;",
    /* 2: sesame's signing keys (store ABI 1.1), at most one of them current;
     * every change increases the generation other processes watch. */
    "CREATE TABLE signing_keys ("
    " kid TEXT PRIMARY KEY NOT NULL,"
    " pem TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " retired INTEGER NOT NULL CHECK (retired >= 0)"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX signing_keys_current ON signing_keys (retired) WHERE retired = 0;"
    "CREATE TABLE signing_keys_generation ("
    " one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1),"
    " generation INTEGER NOT NULL"
    ");"
    "INSERT INTO signing_keys_generation (one, generation) VALUES (1, 0);"
    "CREATE TRIGGER signing_keys_inserted AFTER INSERT ON signing_keys BEGIN"
    " UPDATE signing_keys_generation SET generation = generation + 1; END;"
    "CREATE TRIGGER signing_keys_updated AFTER UPDATE ON signing_keys BEGIN"
    " UPDATE signing_keys_generation SET generation = generation + 1; END;"
    "CREATE TRIGGER signing_keys_deleted AFTER DELETE ON signing_keys BEGIN"
    " UPDATE signing_keys_generation SET generation = generation + 1; END;",
    /* 3: refresh_hash is no longer UNIQUE.  The core finds a refresh
     * token's session by its id and compares the hash itself, so the index
     * a UNIQUE column keeps was one more B-tree written by every login and
     * read by none.  SQLite cannot drop a column constraint: the table is
     * made anew (its trigger and index with it). */
    "DROP TRIGGER identities_end_sessions;"
    "CREATE TABLE sessions_v3 ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " device_id TEXT NOT NULL,"
    " refresh_hash BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL,"
    " provider TEXT,"
    " provider_uid TEXT,"
    " CHECK ((provider IS NULL) = (provider_uid IS NULL))"
    ") WITHOUT ROWID;"
    "INSERT INTO sessions_v3 (" SESSION_COLUMNS ") SELECT " SESSION_COLUMNS " FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_v3 RENAME TO sessions;"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE TRIGGER identities_end_sessions AFTER DELETE ON identities BEGIN"
    " DELETE FROM sessions WHERE user_id = old.user_id AND provider = old.instance AND provider_uid = old.uid;"
    " END;",
};

/* ---- handle, pool, transactions ------------------------------------------ */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[N_STMT];
	struct conn *next;
};

struct sesame_store_handle {
	const struct sesame_store_host *host;
	char *path;
	bool sync_normal;
	int busy_timeout;

	pthread_mutex_t lock;
	pthread_cond_t freed;	    /* a connection went back to the pool */
	pthread_cond_t writer_free; /* `writing` became false */
	struct conn *idle;
	unsigned n_conns;
	bool writing; /* a write of this handle holds the writer slot */

	/* The checkpointer (see the top of this file), under ckpt_lock. */
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_wake;
	pthread_t ckpt_thread;
	bool ckpt_running; /* the thread was started */
	bool ckpt_due;	   /* a commit left CHECKPOINT_PAGES or more */
	bool ckpt_stop;
	sqlite3 *ckpt_db;  /* the thread's own connection */
	_Atomic int ckpt_log; /* WAL pages at the end of the last checkpoint */
	_Atomic unsigned long checkpoints; /* run by the thread, for tests and logs */
};

struct sesame_store_txn {
	sesame_store_handle *h;
	struct conn *c;
	bool write; /* holds the writer slot */
	bool failed;
};

static int store_err(const sesame_store_handle *h, sesame_error *err, int status, const char *reason, const char *fmt,
		     ...) SESAME_PRINTF(5, 6);

static int store_err(const sesame_store_handle *h, sesame_error *err, int status, const char *reason, const char *fmt,
		     ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return h->host->error(err, status, reason, "%s", msg);
}

/* The sesame status of an SQLite result code, with the reason word. */
static int status_of(int rc, const char **reason)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		*reason = "exists";
		return SESAME_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		*reason = "user";
		return SESAME_NOT_FOUND;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		*reason = "busy";
		return SESAME_CONFLICT;
	case SQLITE_CONSTRAINT:
		*reason = "record";
		return SESAME_MALFORMED;
	case SQLITE_NOMEM:
		*reason = "memory";
		return SESAME_INTERNAL;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PROTOCOL:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		*reason = "io";
		return SESAME_UNAVAILABLE;
	default:
		*reason = "internal";
		return SESAME_INTERNAL;
	}
}

static int db_error(const sesame_store_handle *h, sqlite3 *db, int rc, const char *what, sesame_error *err)
{
	const char *reason;
	int status = status_of(rc, &reason);

	return store_err(h, err, status, reason, "sqlite store %s: %s: %s", h->path, what,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void conn_close(struct conn *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < N_STMT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

/* A prepared statement of `c`, prepared on first use and kept. */
static sqlite3_stmt *stmt_get(const sesame_store_handle *h, struct conn *c, enum stmt_id id, sesame_error *err)
{
	int rc;

	if (c->stmt[id])
		return c->stmt[id];
	rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		db_error(h, c->db, rc, "prepare", err);
		c->stmt[id] = NULL;
	}
	return c->stmt[id];
}

static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Run a statement that returns no row. */
static int stmt_exec(const sesame_store_handle *h, struct conn *c, sqlite3_stmt *s, const char *what, sesame_error *err)
{
	int rc = sqlite3_step(s);

	stmt_done(s);
	if (rc != SQLITE_DONE)
		return db_error(h, c->db, rc, what, err);
	return SESAME_OK;
}

static int exec_sql(const sesame_store_handle *h, sqlite3 *db, const char *sql, sesame_error *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? SESAME_OK : db_error(h, db, rc, sql, err);
}

/* ---- checkpoints ------------------------------------------------------- */

static int writer_acquire(sesame_store_handle *h, sesame_error *err);
static void writer_release(sesame_store_handle *h);

/*
 * SQLite's WAL hook, after every commit of every connection, the write lock
 * released: wake the checkpointer when CHECKPOINT_PAGES more pages are in
 * the WAL than at its last run (or the WAL was reset since); past
 * WAL_MAX_PAGES checkpoint here, so the WAL stays bounded whatever holds
 * the checkpointer back.
 */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int pages)
{
	sesame_store_handle *h = arg;
	int last = h->ckpt_log;

	if (pages >= WAL_MAX_PAGES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (pages >= CHECKPOINT_PAGES && (pages < last || pages >= last + CHECKPOINT_PAGES || pages >= RESTART_PAGES)) {
		pthread_mutex_lock(&h->ckpt_lock);
		if (!h->ckpt_due) {
			h->ckpt_due = true;
			pthread_cond_signal(&h->ckpt_wake);
		}
		pthread_mutex_unlock(&h->ckpt_lock);
	}
	return SQLITE_OK;
}

/*
 * One checkpoint: PASSIVE, copying what the WAL holds while writers go on.
 * SQLite restarts the WAL from its start only at the first write after a
 * complete checkpoint, which a checkpointer trailing a busy writer never
 * makes: so, when idle or once the WAL holds RESTART_PAGES, a second pass
 * copies what writers added meanwhile (a few pages) holding this handle's
 * writer slot.  That pass costs a login that arrives meanwhile the pass's
 * syncs: once per RESTART_PAGES (some 1,600 logins), not once per
 * CHECKPOINT_PAGES.
 */
static void checkpoint_once(sesame_store_handle *h, bool idle)
{
	int log = 0, done = 0, rc;

	rc = sqlite3_wal_checkpoint_v2(h->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_OK && done < log && (idle || log >= RESTART_PAGES) && writer_acquire(h, NULL) == SESAME_OK) {
		rc = sqlite3_wal_checkpoint_v2(h->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		writer_release(h);
	}
	if (rc == SQLITE_OK) {
		h->ckpt_log = log;
		if (log > 0)
			h->checkpoints++;
	} else if (rc != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
		h->host->log(h->host->data, SESAME_LOG_WARNING, "sqlite store %s: checkpoint: %s", h->path,
			     sqlite3_errstr(rc));
	}
}

/* The checkpointer: a checkpoint when woken, and now and then when idle
 * (what the last commits left is written back in quiet times too). */
static void *checkpointer(void *arg)
{
	sesame_store_handle *h = arg;

	pthread_mutex_lock(&h->ckpt_lock);
	while (!h->ckpt_stop) {
		struct timespec until;
		bool idle = false;

		if (!h->ckpt_due) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += CHECKPOINT_IDLE_MS / 1000;
			idle = pthread_cond_timedwait(&h->ckpt_wake, &h->ckpt_lock, &until) == ETIMEDOUT;
			if (h->ckpt_stop)
				break;
		}
		h->ckpt_due = false;
		pthread_mutex_unlock(&h->ckpt_lock);
		checkpoint_once(h, idle);
		pthread_mutex_lock(&h->ckpt_lock);
	}
	pthread_mutex_unlock(&h->ckpt_lock);
	return NULL;
}

static int checkpointer_start(sesame_store_handle *h, sesame_error *err)
{
	int rc;

	rc = sqlite3_open_v2(h->path, &h->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     WALGATHER_VFS);
	if (rc != SQLITE_OK)
		return store_err(h, err, SESAME_UNAVAILABLE, "io", "cannot open sqlite database %s: %s", h->path,
				 h->ckpt_db ? sqlite3_errmsg(h->ckpt_db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(h->ckpt_db, h->busy_timeout);
	/* A connection learns that the file is in WAL mode when it first reads
	 * it; until then a checkpoint does nothing. */
	rc = exec_sql(h, h->ckpt_db, "PRAGMA journal_mode = WAL", err);
	if (rc != SESAME_OK)
		return rc;
	rc = pthread_create(&h->ckpt_thread, NULL, checkpointer, h);
	if (rc != 0)
		return store_err(h, err, SESAME_INTERNAL, "internal", "cannot start the checkpointer: %s",
				 strerror(rc));
	h->ckpt_running = true;
	return SESAME_OK;
}

static void checkpointer_stop(sesame_store_handle *h)
{
	if (h->ckpt_running) {
		pthread_mutex_lock(&h->ckpt_lock);
		h->ckpt_stop = true;
		pthread_cond_signal(&h->ckpt_wake);
		pthread_mutex_unlock(&h->ckpt_lock);
		pthread_join(h->ckpt_thread, NULL);
		h->ckpt_running = false;
	}
	sqlite3_close(h->ckpt_db);
	h->ckpt_db = NULL;
}

static int conn_open(const sesame_store_handle *h, struct conn **out, sesame_error *err)
{
	struct conn *c = calloc(1, sizeof(*c));
	char pragma[64];
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	if (!c)
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	rc = sqlite3_open_v2(h->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     WALGATHER_VFS);
	if (rc != SQLITE_OK) {
		rc = store_err(h, err, SESAME_UNAVAILABLE, "io", "cannot open sqlite database %s: %s", h->path,
			       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		conn_close(c);
		return rc;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, h->busy_timeout);
	/* Refuse SQL that could corrupt the file even from a bug of ours. */
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		/* Switching a new file to WAL takes its exclusive lock, and
		 * SQLite answers BUSY at once, without the busy handler, when
		 * processes opening the same new file at the same time meet
		 * there: retry within busy_timeout, as the handler would. */
		int waited = 0;

		while ((rc = sqlite3_step(s)) == SQLITE_BUSY && waited < h->busy_timeout) {
			sqlite3_reset(s);
			sqlite3_sleep(5);
			waited += 5;
		}
	}
	if (rc != SQLITE_ROW) {
		rc = db_error(h, c->db, rc, "setting WAL mode", err);
		goto fail;
	}
	if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
		rc = store_err(h, err, SESAME_UNAVAILABLE, "io",
			       "sqlite store %s: cannot switch to WAL mode (journal mode %s)", h->path,
			       (const char *)sqlite3_column_text(s, 0));
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s", h->sync_normal ? "NORMAL" : "FULL");
	rc = exec_sql(h, c->db, pragma, err);
	if (rc == SESAME_OK)
		rc = exec_sql(h, c->db, "PRAGMA foreign_keys = ON", err);
	if (rc == SESAME_OK) {
		snprintf(pragma, sizeof(pragma), "PRAGMA journal_size_limit = %d", WAL_SIZE_LIMIT);
		rc = exec_sql(h, c->db, pragma, err);
	}
	if (rc != SESAME_OK)
		goto fail;
	/* Replaces the automatic checkpoint (the two share SQLite's slot). */
	sqlite3_wal_hook(c->db, wal_committed, (void *)h);
	*out = c;
	return SESAME_OK;
fail:
	sqlite3_finalize(s);
	conn_close(c);
	return rc;
}

/* Borrow a connection from the pool, opening one if the pool may grow. */
static int conn_acquire(sesame_store_handle *h, struct conn **out, sesame_error *err)
{
	struct conn *c;
	int rc;

	pthread_mutex_lock(&h->lock);
	while (!h->idle && h->n_conns >= POOL_MAX)
		pthread_cond_wait(&h->freed, &h->lock);
	c = h->idle;
	if (c) {
		h->idle = c->next;
		c->next = NULL;
		pthread_mutex_unlock(&h->lock);
		*out = c;
		return SESAME_OK;
	}
	h->n_conns++;
	pthread_mutex_unlock(&h->lock);
	rc = conn_open(h, out, err);
	if (rc != SESAME_OK) {
		pthread_mutex_lock(&h->lock);
		h->n_conns--;
		pthread_cond_signal(&h->freed);
		pthread_mutex_unlock(&h->lock);
	}
	return rc;
}

static void conn_release(sesame_store_handle *h, struct conn *c)
{
	/* A connection goes back to the pool outside any transaction. */
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&h->lock);
	c->next = h->idle;
	h->idle = c;
	pthread_cond_signal(&h->freed);
	pthread_mutex_unlock(&h->lock);
}

/*
 * Take the handle's writer slot, waiting at most busy_timeout: one writer
 * per handle at a time, woken as soon as the previous one is done.
 */
static int writer_acquire(sesame_store_handle *h, sesame_error *err)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += h->busy_timeout / 1000;
	deadline.tv_nsec += (long)(h->busy_timeout % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (h->writing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&h->writer_free, &h->lock, &deadline);
	if (h->writing) {
		pthread_mutex_unlock(&h->lock);
		return store_err(h, err, SESAME_CONFLICT, "busy",
				 "sqlite store %s: another write held the database for %d ms", h->path,
				 h->busy_timeout);
	}
	h->writing = true;
	pthread_mutex_unlock(&h->lock);
	return SESAME_OK;
}

static void writer_release(sesame_store_handle *h)
{
	pthread_mutex_lock(&h->lock);
	h->writing = false;
	pthread_cond_signal(&h->writer_free);
	pthread_mutex_unlock(&h->lock);
}

/* One operation: on the transaction's connection, or on a borrowed one. */
struct call {
	sesame_store_handle *h;
	sesame_store_txn *txn;
	struct conn *c;
	bool writer; /* holds the writer slot for this operation alone */
};

static int call_start(sesame_store_handle *h, sesame_store_txn *txn, bool write, struct call *cl, sesame_error *err)
{
	int rc;

	cl->h = h;
	cl->txn = txn;
	cl->c = NULL;
	cl->writer = false;
	if (!h)
		return SESAME_USAGE;
	if (!txn) {
		/* The writer slot first: a queued writer must not hold a connection
		 * that readers could use. */
		if (write) {
			rc = writer_acquire(h, err);
			if (rc != SESAME_OK)
				return rc;
			cl->writer = true;
		}
		rc = conn_acquire(h, &cl->c, err);
		if (rc != SESAME_OK && cl->writer)
			writer_release(h);
		return rc;
	}
	if (txn->h != h)
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: transaction of another handle");
	if (txn->failed)
		return store_err(h, err, SESAME_USAGE, "usage",
				 "sqlite store: the transaction failed earlier and can only be rolled back");
	if (write && !txn->write)
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: write in a read transaction");
	cl->c = txn->c;
	return SESAME_OK;
}

/* End an operation: a failure other than "not found" poisons the transaction. */
static int call_end(struct call *cl, int rc)
{
	if (cl->txn) {
		if (rc != SESAME_OK && rc != SESAME_NOT_FOUND)
			cl->txn->failed = true;
	} else if (cl->c) {
		conn_release(cl->h, cl->c);
		if (cl->writer)
			writer_release(cl->h);
	}
	return rc;
}

/* ---- configuration and opening -------------------------------------------- */

static int parse_config(sesame_store_handle *h, const json_t *config, sesame_error *err)
{
	const char *key;
	json_t *v;

	h->busy_timeout = DEFAULT_BUSY_TIMEOUT;
	if (!json_is_object(config))
		return store_err(h, err, SESAME_CONFIG, "config", "\"store\": expected an object");
	json_object_foreach((json_t *)config, key, v)
	{
		if (strcmp(key, "type") == 0)
			continue;
		if (strcmp(key, "path") == 0) {
			if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return store_err(h, err, SESAME_CONFIG, "config",
						 "\"store.path\": expected an absolute file name");
			h->path = strdup(json_string_value(v));
			if (!h->path)
				return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
		} else if (strcmp(key, "synchronous") == 0) {
			const char *s = json_string_value(v);

			if (!s || (strcmp(s, "full") != 0 && strcmp(s, "normal") != 0))
				return store_err(h, err, SESAME_CONFIG, "config",
						 "\"store.synchronous\": expected \"full\" or \"normal\"");
			h->sync_normal = strcmp(s, "normal") == 0;
		} else if (strcmp(key, "busy_timeout") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > MAX_BUSY_TIMEOUT)
				return store_err(h, err, SESAME_CONFIG, "config",
						 "\"store.busy_timeout\": expected milliseconds from 0 to %d",
						 MAX_BUSY_TIMEOUT);
			h->busy_timeout = (int)json_integer_value(v);
		} else {
			return store_err(
			    h, err, SESAME_CONFIG, "config",
			    "\"store.%s\": not a setting of the sqlite store (path, synchronous, busy_timeout)", key);
		}
	}
	if (!h->path)
		return store_err(h, err, SESAME_CONFIG, "config", "\"store.path\": missing");
	return SESAME_OK;
}

/*
 * mkdir -p: the missing directories above `dir` 0755, `dir` itself 0700
 * (a first run on a fresh prefix has no PREFIX/var/lib either).
 */
static int make_dirs(char *dir)
{
	char *p;

	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/*
 * Create the database file 0600 (and its directory 0700 when missing) before
 * SQLite opens it, and refuse a file that others may read or that is not
 * ours: it holds password hashes and sessions.
 */
static int prepare_file(const sesame_store_handle *h, sesame_error *err)
{
	struct stat st;
	char *dir, *slash;
	int fd;

	dir = strdup(h->path);
	if (!dir)
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (make_dirs(dir) != 0) {
			int e = errno;

			free(dir);
			return store_err(h, err, SESAME_UNAVAILABLE, "io", "cannot create the directory of %s: %s",
					 h->path, strerror(e));
		}
	}
	/* Whoever may write the directory may replace the database. */
	if (slash && stat(slash == dir ? "/" : dir, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !((st.st_mode & S_ISVTX) && st.st_uid == 0))
		h->host->log(
		    h->host->data, SESAME_LOG_WARNING,
		    "sqlite store: %s is writable by group or others (mode %04o): they can replace the database",
		    slash == dir ? "/" : dir, (unsigned)(st.st_mode & 07777));
	free(dir);
	fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return store_err(h, err, SESAME_UNAVAILABLE, "io", "cannot open or create %s: %s", h->path,
				 strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return store_err(h, err, SESAME_UNAVAILABLE, "io", "cannot stat %s: %s", h->path, strerror(e));
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return store_err(h, err, SESAME_UNAVAILABLE, "permissions", "%s is not a regular file", h->path);
	if (st.st_uid != geteuid())
		return store_err(h, err, SESAME_UNAVAILABLE, "permissions", "%s is owned by uid %u, not by uid %u",
				 h->path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return store_err(h, err, SESAME_UNAVAILABLE, "permissions",
				 "%s is accessible by group or others (mode %04o); run chmod 600 on it", h->path,
				 (unsigned)(st.st_mode & 07777));
	return SESAME_OK;
}

static int schema_version(const sesame_store_handle *h, sqlite3 *db, int *version, sesame_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &s, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? SESAME_OK : db_error(h, db, rc, "reading the schema version", err);
}

/* Bring the schema to SCHEMA_VERSION in one write transaction. */
static int migrate(const sesame_store_handle *h, sqlite3 *db, sesame_error *err)
{
	char sql[128];
	int version = 0, rc, v;

	rc = exec_sql(h, db, "BEGIN IMMEDIATE", err);
	if (rc != SESAME_OK)
		return rc;
	rc = exec_sql(h, db,
		      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL,"
		      " applied INTEGER NOT NULL)",
		      err);
	if (rc == SESAME_OK)
		rc = schema_version(h, db, &version, err);
	if (rc == SESAME_OK && version > SCHEMA_VERSION)
		rc = store_err(h, err, SESAME_UNAVAILABLE, "schema",
			       "sqlite store %s: schema version %d is newer than this sesame knows (%d)", h->path,
			       version, SCHEMA_VERSION);
	for (v = version; rc == SESAME_OK && v < SCHEMA_VERSION; v++) {
		rc = exec_sql(h, db, migrations[v], err);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_version (version, applied) VALUES (%d, CAST(strftime('%%s', 'now') AS "
			 "INTEGER))",
			 v + 1);
		if (rc == SESAME_OK)
			rc = exec_sql(h, db, sql, err);
		if (rc == SESAME_OK)
			h->host->log(h->host->data, SESAME_LOG_NOTICE, "sqlite store %s: schema migrated to version %d",
				     h->path, v + 1);
	}
	if (rc == SESAME_OK)
		rc = exec_sql(h, db, "COMMIT", err);
	if (rc != SESAME_OK && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The writer wait measures busy_timeout on the monotonic clock. */
static int init_locks(sesame_store_handle *h)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&h->writer_free, &attr);
	if (rc == 0 && pthread_cond_init(&h->ckpt_wake, &attr) != 0) {
		pthread_cond_destroy(&h->writer_free);
		rc = -1;
	}
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->freed, NULL);
	pthread_mutex_init(&h->ckpt_lock, NULL);
	return 0;
}

static void store_close(sesame_store_handle *h)
{
	struct conn *c, *next;

	if (!h)
		return;
	checkpointer_stop(h);
	for (c = h->idle; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&h->ckpt_lock);
	pthread_cond_destroy(&h->ckpt_wake);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->freed);
	pthread_cond_destroy(&h->writer_free);
	free(h->path);
	free(h);
}

static int store_open(const struct sesame_store_host *host, const json_t *config, sesame_store_handle **out,
		      sesame_error *err)
{
	sesame_store_handle *h;
	struct conn *c = NULL;
	int rc;

	*out = NULL;
	if (!host || !host->log || !host->error)
		return SESAME_USAGE;
	if (walgather_init() != SQLITE_OK)
		return host->error(err, SESAME_INTERNAL, "internal", "cannot register the sqlite store's VFS");
	h = calloc(1, sizeof(*h));
	if (!h)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	h->host = host;
	if (init_locks(h) != 0) {
		free(h);
		return host->error(err, SESAME_INTERNAL, "internal", "cannot initialise the store's locks");
	}
	rc = parse_config(h, config, err);
	/* Connections are used by one thread at a time without SQLite's
	 * mutexes (SQLITE_OPEN_NOMUTEX), which needs a thread-safe build. */
	if (rc == SESAME_OK && !sqlite3_threadsafe())
		rc = store_err(h, err, SESAME_UNAVAILABLE, "sqlite",
			       "the SQLite library was built without thread support (SQLITE_THREADSAFE=0)");
	if (rc == SESAME_OK)
		rc = prepare_file(h, err);
	if (rc == SESAME_OK)
		rc = conn_open(h, &c, err);
	if (rc == SESAME_OK)
		rc = migrate(h, c->db, err);
	if (rc == SESAME_OK)
		rc = checkpointer_start(h, err);
	if (rc != SESAME_OK) {
		conn_close(c);
		store_close(h);
		return rc;
	}
	c->next = NULL;
	h->idle = c;
	h->n_conns = 1;
	*out = h;
	return SESAME_OK;
}

static int txn_begin(sesame_store_handle *h, unsigned flags, sesame_store_txn **out, sesame_error *err)
{
	sesame_store_txn *t;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (!h)
		return SESAME_USAGE;
	t = calloc(1, sizeof(*t));
	if (!t)
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	t->h = h;
	t->write = (flags & SESAME_STORE_TXN_WRITE) != 0;
	rc = t->write ? writer_acquire(h, err) : SESAME_OK;
	if (rc == SESAME_OK) {
		rc = conn_acquire(h, &t->c, err);
		if (rc != SESAME_OK && t->write)
			writer_release(h);
	}
	if (rc != SESAME_OK) {
		free(t);
		return rc;
	}
	s = stmt_get(h, t->c, t->write ? S_BEGIN_WRITE : S_BEGIN_READ, err);
	rc = s ? stmt_exec(h, t->c, s, "begin", err) : SESAME_INTERNAL;
	if (rc != SESAME_OK) {
		conn_release(h, t->c);
		if (t->write)
			writer_release(h);
		free(t);
		return rc;
	}
	*out = t;
	return SESAME_OK;
}

static void txn_rollback(sesame_store_txn *t)
{
	sqlite3_stmt *s;

	if (!t)
		return;
	if (!sqlite3_get_autocommit(t->c->db)) {
		s = stmt_get(t->h, t->c, S_ROLLBACK, NULL);
		if (s)
			stmt_exec(t->h, t->c, s, "rollback", NULL);
	}
	conn_release(t->h, t->c);
	if (t->write)
		writer_release(t->h);
	free(t);
}

static int txn_commit(sesame_store_txn *t, sesame_error *err)
{
	sesame_store_handle *h;
	sqlite3_stmt *s;
	int rc;

	if (!t)
		return SESAME_USAGE;
	h = t->h;
	if (t->failed) {
		txn_rollback(t);
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: commit of a failed transaction");
	}
	s = stmt_get(h, t->c, S_COMMIT, err);
	rc = s ? stmt_exec(h, t->c, s, "commit", err) : SESAME_INTERNAL;
	/* A commit that failed (e.g. SQLITE_BUSY) leaves the transaction open. */
	txn_rollback(t);
	return rc;
}

/* ---- records ---------------------------------------------------------- */

static int bad_record(const sesame_store_handle *h, sesame_error *err, const char *what, const char *member)
{
	return store_err(h, err, SESAME_MALFORMED, "record",
			 "sqlite store: %s record: member \"%s\" missing or invalid", what, member);
}

/* json_dumps() text goes back to jansson's own free function: the
 * application may have replaced jansson's allocator. */
static void free_json_text(void *text)
{
	json_free_t release;

	json_get_alloc_funcs(NULL, &release);
	if (text)
		release(text);
}

/* Bind a JSON value as compact text; NULL binds SQL NULL.  The empty
 * object (most private and custom data) is written without jansson. */
static int bind_json(sqlite3_stmt *s, int i, const json_t *v, size_t flags)
{
	char *text;

	if (!v)
		return sqlite3_bind_null(s, i);
	if (json_is_object(v) && json_object_size(v) == 0)
		return sqlite3_bind_text(s, i, "{}", 2, SQLITE_STATIC);
	text = json_dumps(v, JSON_COMPACT | flags);
	if (!text)
		return SQLITE_NOMEM;
	return sqlite3_bind_text(s, i, text, -1, free_json_text);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

static json_t *column_json(sqlite3_stmt *s, int i)
{
	const char *text = (const char *)sqlite3_column_text(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);

	if (text && n == 2 && memcmp(text, "{}", 2) == 0)
		return json_object();
	/* What json_dumps() wrote comes back, "\u0000" in a string included. */
	return text ? json_loadb(text, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
}

static json_t *column_string(sqlite3_stmt *s, int i)
{
	const char *text = (const char *)sqlite3_column_text(s, i);

	return text ? json_stringn(text, (size_t)sqlite3_column_bytes(s, i)) : NULL;
}

static json_t *user_of_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:b, s:I, s:I, s:o, s:o}", "id", column_string(s, 0), "type", column_string(s, 1),
			 "disabled", sqlite3_column_int(s, 2), "created", (json_int_t)sqlite3_column_int64(s, 3),
			 "last_login", (json_int_t)sqlite3_column_int64(s, 4), "data", column_json(s, 5), "custom_data",
			 column_json(s, 6));
}

static json_t *identity_of_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "provider", column_string(s, 0), "id",
			 column_string(s, 1), "provider_type", column_string(s, 2), "user_id", column_string(s, 3),
			 "data", column_json(s, 4), "private", column_json(s, 5), "created",
			 (json_int_t)sqlite3_column_int64(s, 6), "updated", (json_int_t)sqlite3_column_int64(s, 7));
}

static json_t *session_of_row(sqlite3_stmt *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *hash = sqlite3_column_blob(s, 3);
	char text[SESAME_STORE_HASH_LENGTH + 1];
	json_t *rec;
	int i;

	if (!hash || sqlite3_column_bytes(s, 3) != SESAME_STORE_HASH_LENGTH / 2)
		return NULL;
	for (i = 0; i < SESAME_STORE_HASH_LENGTH / 2; i++) {
		text[2 * i] = hex[hash[i] >> 4];
		text[2 * i + 1] = hex[hash[i] & 15];
	}
	text[SESAME_STORE_HASH_LENGTH] = '\0';
	rec = json_pack("{s:o, s:o, s:o, s:s, s:I, s:I, s:I}", "id", column_string(s, 0), "user_id",
			column_string(s, 1), "device_id", column_string(s, 2), "refresh_hash", text, "created",
			(json_int_t)sqlite3_column_int64(s, 4), "expires", (json_int_t)sqlite3_column_int64(s, 5),
			"last_used", (json_int_t)sqlite3_column_int64(s, 6));
	if (rec && sqlite3_column_type(s, 7) != SQLITE_NULL &&
	    (json_object_set_new(rec, "provider", column_string(s, 7)) != 0 ||
	     json_object_set_new(rec, "provider_uid", column_string(s, 8)) != 0)) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static int bind_hash(sqlite3_stmt *s, int i, const char *hex)
{
	unsigned char bin[SESAME_STORE_HASH_LENGTH / 2];
	size_t k;

	for (k = 0; k < sizeof(bin); k++) {
		char hi = hex[2 * k], lo = hex[2 * k + 1];

		bin[k] = (unsigned char)(((hi <= '9' ? hi - '0' : hi - 'a' + 10) << 4) |
					 (lo <= '9' ? lo - '0' : lo - 'a' + 10));
	}
	return sqlite3_bind_blob(s, i, bin, sizeof(bin), SQLITE_TRANSIENT);
}

/* Run a query expected to return at most one row, converted by `convert`. */
static int query_one(struct call *cl, sqlite3_stmt *s, json_t *(*convert)(sqlite3_stmt *), const char *what,
		     json_t **out, sesame_error *err)
{
	int rc = sqlite3_step(s);

	*out = NULL;
	if (rc == SQLITE_ROW) {
		*out = convert(s);
		stmt_done(s);
		if (!*out)
			return store_err(cl->h, err, SESAME_INTERNAL, "internal", "sqlite store %s: unreadable %s row",
					 cl->h->path, what);
		return SESAME_OK;
	}
	stmt_done(s);
	if (rc == SQLITE_DONE)
		return store_err(cl->h, err, SESAME_NOT_FOUND, what, "no such %s", what);
	return db_error(cl->h, cl->c->db, rc, what, err);
}

/* Run a query returning rows, each converted by `convert`, into a new array. */
static int query_all(struct call *cl, sqlite3_stmt *s, json_t *(*convert)(sqlite3_stmt *), const char *what,
		     json_t **out, sesame_error *err)
{
	json_t *list = json_array();
	int rc;

	*out = NULL;
	while (list && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row = convert(s);

		if (!row || json_array_append_new(list, row) != 0) {
			stmt_done(s);
			json_decref(list);
			return store_err(cl->h, err, SESAME_INTERNAL, "internal", "sqlite store %s: unreadable %s row",
					 cl->h->path, what);
		}
	}
	stmt_done(s);
	if (!list)
		return store_err(cl->h, err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return db_error(cl->h, cl->c->db, rc, what, err);
	}
	*out = list;
	return SESAME_OK;
}

/* After a single-row UPDATE or DELETE: SESAME_NOT_FOUND when no row matched. */
static int changed_one(struct call *cl, int rc, const char *what, sesame_error *err)
{
	if (rc == SESAME_OK && sqlite3_changes(cl->c->db) == 0)
		return store_err(cl->h, err, SESAME_NOT_FOUND, what, "no such %s", what);
	return rc;
}

/* Check the members common to update operations: only those in `allowed`. */
static int check_changes(const sesame_store_handle *h, const json_t *changes, const char *const *allowed,
			 sesame_error *err)
{
	const char *key;

	if (!json_is_object(changes))
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: changes must be an object");
	key = store_rec_change_refused(changes, allowed);
	return key ? store_err(h, err, SESAME_USAGE, "usage", "sqlite store: \"%s\" cannot be changed", key)
		   : SESAME_OK;
}

/* ---- users ------------------------------------------------------------ */

static int check_user(const sesame_store_handle *h, const json_t *u, sesame_error *err)
{
	const char *member = store_rec_user_invalid(u);

	return member ? bad_record(h, err, "user", member) : SESAME_OK;
}

static int user_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *u, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || check_user(h, u, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_USER_INSERT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, store_rec_str(u, "id"));
	bind_text(s, 2, store_rec_str(u, "type"));
	sqlite3_bind_int(s, 3, json_is_true(json_object_get(u, "disabled")));
	sqlite3_bind_int64(s, 4, json_integer_value(json_object_get(u, "created")));
	sqlite3_bind_int64(s, 5, json_integer_value(json_object_get(u, "last_login")));
	bind_json(s, 6, json_object_get(u, "data"), 0);
	bind_json(s, 7, json_object_get(u, "custom_data"), 0);
	return call_end(&cl, stmt_exec(h, cl.c, s, "user insert", err));
}

static int user_get(sesame_store_handle *h, sesame_store_txn *txn, const char *id, json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_USER_GET, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	return call_end(&cl, query_one(&cl, s, user_of_row, "user", out, err));
}

static int user_update(sesame_store_handle *h, sesame_store_txn *txn, const char *id, const json_t *changes,
		       sesame_error *err)
{
	static const char *const allowed[] = {"disabled", "last_login", "data", "custom_data", NULL};
	json_t *disabled, *last_login, *data, *custom_data;
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = check_changes(h, changes, allowed, err);
	if (rc != SESAME_OK)
		return rc;
	disabled = json_object_get(changes, "disabled");
	last_login = json_object_get(changes, "last_login");
	data = json_object_get(changes, "data");
	custom_data = json_object_get(changes, "custom_data");
	if (disabled && !json_is_boolean(disabled))
		return bad_record(h, err, "user", "disabled");
	if (last_login && !json_is_integer(last_login))
		return bad_record(h, err, "user", "last_login");
	if (data && !json_is_object(data))
		return bad_record(h, err, "user", "data");
	if (custom_data && !json_is_object(custom_data))
		return bad_record(h, err, "user", "custom_data");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_USER_UPDATE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	if (disabled)
		sqlite3_bind_int(s, 2, json_is_true(disabled));
	if (last_login)
		sqlite3_bind_int64(s, 3, json_integer_value(last_login));
	bind_json(s, 4, data, 0);
	bind_json(s, 5, custom_data, 0);
	rc = stmt_exec(h, cl.c, s, "user update", err);
	return call_end(&cl, changed_one(&cl, rc, "user", err));
}

static int user_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *id, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	/* Identities, sessions and bound provider data go by ON DELETE CASCADE,
	 * in the same statement, hence atomically even without a transaction. */
	s = stmt_get(h, cl.c, S_USER_DELETE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	rc = stmt_exec(h, cl.c, s, "user delete", err);
	return call_end(&cl, changed_one(&cl, rc, "user", err));
}

/* One page of a listing by id: the rows of statement `id` after `after`
 * (NULL: from the start), at most `limit` (1 to LIST_MAX). */
static int list_after(sesame_store_handle *h, sesame_store_txn *txn, enum stmt_id id, const char *after, size_t limit,
		      json_t *(*convert)(sqlite3_stmt *), const char *what, json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	if (limit < 1 || limit > LIST_MAX)
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: list limit must be 1 to %d", LIST_MAX);
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, id, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, after ? after : "");
	sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
	return call_end(&cl, query_all(&cl, s, convert, what, out, err));
}

static int users_list(sesame_store_handle *h, sesame_store_txn *txn, const char *after, size_t limit, json_t **out,
		      sesame_error *err)
{
	return list_after(h, txn, S_USERS_LIST, after, limit, user_of_row, "user", out, err);
}

/* ---- identities ------------------------------------------------------- */

static int check_identity(const sesame_store_handle *h, const json_t *i, sesame_error *err)
{
	const char *member = store_rec_identity_invalid(i);

	return member ? bad_record(h, err, "identity", member) : SESAME_OK;
}

static int identity_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *i, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || check_identity(h, i, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_IDENTITY_INSERT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, store_rec_str(i, "provider"));
	bind_text(s, 2, store_rec_str(i, "id"));
	bind_text(s, 3, store_rec_str(i, "provider_type"));
	bind_text(s, 4, store_rec_str(i, "user_id"));
	bind_json(s, 5, json_object_get(i, "data"), 0);
	bind_json(s, 6, json_object_get(i, "private"), 0);
	sqlite3_bind_int64(s, 7, json_integer_value(json_object_get(i, "created")));
	sqlite3_bind_int64(s, 8, json_integer_value(json_object_get(i, "updated")));
	return call_end(&cl, stmt_exec(h, cl.c, s, "identity insert", err));
}

static int identity_get(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !provider || !uid)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_IDENTITY_GET, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, uid);
	return call_end(&cl, query_one(&cl, s, identity_of_row, "identity", out, err));
}

static int identity_update(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			   const json_t *changes, sesame_error *err)
{
	static const char *const allowed[] = {"data", "private", "updated", NULL};
	json_t *data, *priv, *updated;
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !provider || !uid)
		return SESAME_USAGE;
	rc = check_changes(h, changes, allowed, err);
	if (rc != SESAME_OK)
		return rc;
	data = json_object_get(changes, "data");
	priv = json_object_get(changes, "private");
	updated = json_object_get(changes, "updated");
	if ((data && !json_is_object(data)) || (priv && !json_is_object(priv)) ||
	    (updated && !json_is_integer(updated)))
		return bad_record(h, err, "identity",
				  data && !json_is_object(data)	  ? "data"
				  : priv && !json_is_object(priv) ? "private"
								  : "updated");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_IDENTITY_UPDATE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, uid);
	bind_json(s, 3, data, 0);
	bind_json(s, 4, priv, 0);
	if (updated)
		sqlite3_bind_int64(s, 5, json_integer_value(updated));
	rc = stmt_exec(h, cl.c, s, "identity update", err);
	return call_end(&cl, changed_one(&cl, rc, "identity", err));
}

static int identity_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			   sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !provider || !uid)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_IDENTITY_DELETE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, uid);
	rc = stmt_exec(h, cl.c, s, "identity delete", err);
	return call_end(&cl, changed_one(&cl, rc, "identity", err));
}

static int identities_of_user(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, json_t **out,
			      sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !user_id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_IDENTITIES_OF_USER, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, user_id);
	return call_end(&cl, query_all(&cl, s, identity_of_row, "identity", out, err));
}

/* ---- sessions --------------------------------------------------------- */

static int check_session(const sesame_store_handle *h, const json_t *se, sesame_error *err)
{
	const char *member = store_rec_session_invalid(se);

	return member ? bad_record(h, err, "session", member) : SESAME_OK;
}

static int session_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *se, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || check_session(h, se, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSION_INSERT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, store_rec_str(se, "id"));
	bind_text(s, 2, store_rec_str(se, "user_id"));
	bind_text(s, 3, store_rec_str(se, "device_id"));
	bind_hash(s, 4, store_rec_str(se, "refresh_hash"));
	sqlite3_bind_int64(s, 5, json_integer_value(json_object_get(se, "created")));
	sqlite3_bind_int64(s, 6, json_integer_value(json_object_get(se, "expires")));
	sqlite3_bind_int64(s, 7, json_integer_value(json_object_get(se, "last_used")));
	bind_text(s, 8, store_rec_str(se, "provider"));
	bind_text(s, 9, store_rec_str(se, "provider_uid"));
	return call_end(&cl, stmt_exec(h, cl.c, s, "session insert", err));
}

/* Since schema version 3 no index serves this lookup: it reads the whole
 * table.  The core no longer calls it (core/sessions.c looks a refresh
 * token's session up by id); it answers as store ABI 1.0 says. */
static int session_get_by_hash(sesame_store_handle *h, sesame_store_txn *txn, const char *hash, json_t **out,
			       sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	if (!store_rec_hex(hash, SESAME_STORE_HASH_LENGTH))
		return store_err(h, err, SESAME_MALFORMED, "record",
				 "sqlite store: a refresh hash is 64 lowercase hex digits");
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSION_GET_BY_HASH, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_hash(s, 1, hash);
	return call_end(&cl, query_one(&cl, s, session_of_row, "session", out, err));
}

static int session_get(sesame_store_handle *h, sesame_store_txn *txn, const char *id, json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSION_GET, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	return call_end(&cl, query_one(&cl, s, session_of_row, "session", out, err));
}

static int session_touch(sesame_store_handle *h, sesame_store_txn *txn, const char *id, int64_t last_used,
			 int64_t expires, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSION_TOUCH, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, last_used);
	sqlite3_bind_int64(s, 3, expires);
	rc = stmt_exec(h, cl.c, s, "session touch", err);
	return call_end(&cl, changed_one(&cl, rc, "session", err));
}

static int session_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *id, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSION_DELETE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, id);
	rc = stmt_exec(h, cl.c, s, "session delete", err);
	return call_end(&cl, changed_one(&cl, rc, "session", err));
}

static int sessions_delete_user(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, uint64_t *count,
				sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (count)
		*count = 0;
	if (!h || !user_id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSIONS_DELETE_USER, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, user_id);
	rc = stmt_exec(h, cl.c, s, "sessions delete", err);
	if (rc == SESAME_OK && count)
		*count = (uint64_t)sqlite3_changes(cl.c->db);
	return call_end(&cl, rc);
}

static int sessions_count(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, int64_t now,
			  uint64_t *count, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !count)
		return SESAME_USAGE;
	*count = 0;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_SESSIONS_COUNT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, user_id);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = (uint64_t)sqlite3_column_int64(s, 0);
	stmt_done(s);
	return call_end(&cl, rc == SQLITE_ROW ? SESAME_OK : db_error(h, cl.c->db, rc, "sessions count", err));
}

/* ---- provider key/value data ---------------------------------------------- */

static json_t *value_of_row(sqlite3_stmt *s)
{
	return column_json(s, 0);
}

static int kv_get(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key, int64_t now,
		  json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !store_rec_text(provider) || !store_rec_text(key))
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KV_GET, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, key);
	sqlite3_bind_int64(s, 3, now);
	return call_end(&cl, query_one(&cl, s, value_of_row, "key", out, err));
}

static int kv_put(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key,
		  const json_t *value, const char *user_id, int64_t expires, unsigned flags, int64_t now,
		  sesame_error *err)
{
	bool create = (flags & SESAME_STORE_KV_CREATE) != 0;
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !store_rec_text(provider) || !store_rec_text(key) || !value)
		return SESAME_USAGE;
	if (user_id && !store_rec_id(user_id))
		return store_err(h, err, SESAME_MALFORMED, "record", "sqlite store: bad user id");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, create ? S_KV_CREATE : S_KV_PUT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, key);
	bind_json(s, 3, value, JSON_ENCODE_ANY);
	bind_text(s, 4, user_id);
	if (expires > 0)
		sqlite3_bind_int64(s, 5, expires);
	if (create)
		sqlite3_bind_int64(s, 6, now);
	rc = stmt_exec(h, cl.c, s, "provider data put", err);
	/* With KV_CREATE, a live entry makes the upsert's WHERE false: no change. */
	if (rc == SESAME_OK && create && sqlite3_changes(cl.c->db) == 0)
		rc = store_err(h, err, SESAME_CONFLICT, "exists", "key \"%s\" of provider %s exists", key, provider);
	return call_end(&cl, rc);
}

static int kv_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key,
		     sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !store_rec_text(provider) || !store_rec_text(key))
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KV_DELETE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, provider);
	bind_text(s, 2, key);
	rc = stmt_exec(h, cl.c, s, "provider data delete", err);
	return call_end(&cl, changed_one(&cl, rc, "key", err));
}

static int kv_purge(sesame_store_handle *h, sesame_store_txn *txn, int64_t now, uint64_t *count, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (count)
		*count = 0;
	if (!h)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KV_PURGE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	sqlite3_bind_int64(s, 1, now);
	rc = stmt_exec(h, cl.c, s, "provider data purge", err);
	if (rc == SESAME_OK && count)
		*count = (uint64_t)sqlite3_changes(cl.c->db);
	return call_end(&cl, rc);
}

/* ---- listing everything (store ABI 1.1) ----------------------------------- */

static int sessions_list(sesame_store_handle *h, sesame_store_txn *txn, const char *after, size_t limit, json_t **out,
			 sesame_error *err)
{
	return list_after(h, txn, S_SESSIONS_LIST, after, limit, session_of_row, "session", out, err);
}

static json_t *entry_of_row(sqlite3_stmt *s)
{
	json_t *rec = json_pack("{s:o, s:o, s:o, s:I}", "provider", column_string(s, 0), "key", column_string(s, 1),
				"value", column_json(s, 2), "expires", (json_int_t)sqlite3_column_int64(s, 4));

	if (rec && sqlite3_column_type(s, 3) != SQLITE_NULL &&
	    json_object_set_new(rec, "user_id", column_string(s, 3)) != 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static int kv_list(sesame_store_handle *h, sesame_store_txn *txn, const char *after_provider, const char *after_key,
		   size_t limit, json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !after_provider != !after_key)
		return SESAME_USAGE;
	if (limit < 1 || limit > LIST_MAX)
		return store_err(h, err, SESAME_USAGE, "usage", "sqlite store: list limit must be 1 to %d", LIST_MAX);
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KV_LIST, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, after_provider);
	bind_text(s, 2, after_key);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
	return call_end(&cl, query_all(&cl, s, entry_of_row, "entry", out, err));
}

/* ---- signing keys (store ABI 1.1) ------------------------------------------ */

static int keys_generation(sesame_store_handle *h, sesame_store_txn *txn, uint64_t *generation, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !generation)
		return SESAME_USAGE;
	*generation = 0;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KEYS_GENERATION, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*generation = (uint64_t)sqlite3_column_int64(s, 0);
	stmt_done(s);
	return call_end(&cl, rc == SQLITE_ROW ? SESAME_OK : db_error(h, cl.c->db, rc, "keys generation", err));
}

static json_t *key_of_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:I, s:I}", "kid", column_string(s, 0), "pem", column_string(s, 1), "created",
			 (json_int_t)sqlite3_column_int64(s, 2), "retired", (json_int_t)sqlite3_column_int64(s, 3));
}

static int keys_list(sesame_store_handle *h, sesame_store_txn *txn, json_t **out, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KEYS_LIST, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	return call_end(&cl, query_all(&cl, s, key_of_row, "key", out, err));
}

static int key_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *k, sesame_error *err)
{
	json_t *retired = json_object_get(k, "retired");
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h)
		return SESAME_USAGE;
	if (!store_rec_kid(store_rec_str(k, "kid")))
		return bad_record(h, err, "key", "kid");
	if (!store_rec_pem(store_rec_str(k, "pem")))
		return bad_record(h, err, "key", "pem");
	if (!json_is_integer(json_object_get(k, "created")))
		return bad_record(h, err, "key", "created");
	if (!json_is_integer(retired) || json_integer_value(retired) < 0)
		return bad_record(h, err, "key", "retired");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KEY_INSERT, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, store_rec_str(k, "kid"));
	bind_text(s, 2, store_rec_str(k, "pem"));
	sqlite3_bind_int64(s, 3, json_integer_value(json_object_get(k, "created")));
	sqlite3_bind_int64(s, 4, json_integer_value(retired));
	return call_end(&cl, stmt_exec(h, cl.c, s, "key insert", err));
}

static int key_retire(sesame_store_handle *h, sesame_store_txn *txn, const char *kid, const char *public_pem,
		      int64_t retired, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (!h || !kid)
		return SESAME_USAGE;
	if (!store_rec_pem(public_pem))
		return bad_record(h, err, "key", "pem");
	if (retired <= 0)
		return bad_record(h, err, "key", "retired");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KEY_RETIRE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	bind_text(s, 1, kid);
	bind_text(s, 2, public_pem);
	sqlite3_bind_int64(s, 3, retired);
	rc = stmt_exec(h, cl.c, s, "key retire", err);
	return call_end(&cl, changed_one(&cl, rc, "key", err));
}

static int keys_prune(sesame_store_handle *h, sesame_store_txn *txn, int64_t before, uint64_t *count, sesame_error *err)
{
	struct call cl;
	sqlite3_stmt *s;
	int rc;

	if (count)
		*count = 0;
	if (!h)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	s = stmt_get(h, cl.c, S_KEYS_PRUNE, err);
	if (!s)
		return call_end(&cl, SESAME_INTERNAL);
	sqlite3_bind_int64(s, 1, before);
	rc = stmt_exec(h, cl.c, s, "keys prune", err);
	if (rc == SESAME_OK && count)
		*count = (uint64_t)sqlite3_changes(cl.c->db);
	return call_end(&cl, rc);
}

/* ---- descriptor ------------------------------------------------------- */

const struct sesame_store sesame_store_entry = {
    .abi_version = SESAME_STORE_ABI_VERSION,
    .struct_size = sizeof(struct sesame_store),
    .type = "sqlite",
    .version = PACKAGE_VERSION,
    .description = "embedded SQLite database (WAL), one file",
    .open = store_open,
    .close = store_close,
    .begin = txn_begin,
    .commit = txn_commit,
    .rollback = txn_rollback,
    .user_insert = user_insert,
    .user_get = user_get,
    .user_update = user_update,
    .user_delete = user_delete,
    .users_list = users_list,
    .identity_insert = identity_insert,
    .identity_get = identity_get,
    .identity_update = identity_update,
    .identity_delete = identity_delete,
    .identities_of_user = identities_of_user,
    .session_insert = session_insert,
    .session_get_by_hash = session_get_by_hash,
    .session_get = session_get,
    .session_touch = session_touch,
    .session_delete = session_delete,
    .sessions_delete_user = sessions_delete_user,
    .sessions_count = sessions_count,
    .kv_get = kv_get,
    .kv_put = kv_put,
    .kv_delete = kv_delete,
    .kv_purge = kv_purge,
    .sessions_list = sessions_list,
    .kv_list = kv_list,
    .keys_generation = keys_generation,
    .keys_list = keys_list,
    .key_insert = key_insert,
    .key_retire = key_retire,
    .keys_prune = keys_prune,
};
