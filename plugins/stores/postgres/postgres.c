/* SPDX-License-Identifier: MIT */
/*
 * plugins/stores/postgres/postgres.c — the PostgreSQL store: sesame's users,
 * identities, sessions, provider data and signing keys in one PostgreSQL
 * database that any number of sesamed nodes share (libpq, store ABI 1.1).
 *
 * Settings (the "store" object of sesame.json; see sesame-postgres(5)):
 *   "conninfo"           a libpq connection string or URI (required; the
 *                        core reads an "@/path" secret file for it).
 *   "pool_size"          connections this process opens at most, 1 to 200
 *                        (default 8).
 *   "busy_timeout"       milliseconds an operation waits for a free
 *                        connection before SESAME_UNAVAILABLE "busy",
 *                        0 to 600000 (default 5000).
 *   "statement_timeout"  milliseconds after which the server cancels a
 *                        statement, 0 (none) to 3600000 (default 30000).
 *
 * Choices, and why:
 * - PostgreSQL is the only shared state of several nodes: nothing here is
 *   a process-local lock.  Write transactions run SERIALIZABLE, as the
 *   store ABI asks: PostgreSQL then aborts one of two transactions that
 *   could not have run one after the other (40001), and the core retries
 *   the whole transaction (SESAME_CONFLICT "busy").  Two first logins of
 *   one identity on two nodes: both find no identity, both insert one,
 *   the primary key (instance, uid) lets one commit, the other retries
 *   and finds it.  Read transactions are REPEATABLE READ READ ONLY (one
 *   snapshot); a single operation without a transaction is one statement,
 *   atomic on its own (several changes are one statement with data-
 *   modifying WITH clauses).
 * - Schema migrations are versioned (schema_version) and run at open()
 *   inside one transaction holding a transaction-level advisory lock, so
 *   nodes starting together migrate one at a time and the others find the
 *   schema current.  Only CREATE rights on the database are needed: a role
 *   that owns its database, no superuser, no extension.
 * - Text columns that are compared or sorted are COLLATE "C": ids, uids and
 *   keys sort bytewise as in SQLite, whatever the database's locale.  JSON
 *   is kept as text (jsonb would reorder members and refuse \u0000).
 * - A bounded pool of connections, each used by one thread at a time and
 *   keeping its own prepared statements.  A connection found broken (the
 *   server restarted, the network dropped) fails its operation with
 *   SESAME_UNAVAILABLE "io" — sesamed answers 503 — and is closed with
 *   every idle one, so the next operation connects afresh.  A transaction
 *   cut off that way was rolled back by the server: no half-written login.
 * - Error texts carry the server's primary message and the SQLSTATE,
 *   never the detail (which quotes values) nor the conninfo (which may
 *   hold a password).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include <sesame/store.h>

#include "store-record.h"

#define DEFAULT_POOL_SIZE 8
#define MAX_POOL_SIZE 200
#define DEFAULT_BUSY_TIMEOUT 5000
#define MAX_BUSY_TIMEOUT 600000
#define DEFAULT_STATEMENT_TIMEOUT 30000
#define MAX_STATEMENT_TIMEOUT 3600000
#define CONNECT_TIMEOUT "10"
#define LIST_MAX 1000
#define SCHEMA_VERSION 2
#define MAX_PARAMS 10
/* pg_advisory_xact_lock() key of schema migrations: "sesame" in ASCII. */
#define MIGRATION_LOCK "126943224639845"

/* ---- statements ----------------------------------------------------------- */

enum stmt_id {
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
	S_SESSIONS_LIST,
	S_KV_LIST,
	S_KEYS_GENERATION,
	S_KEYS_LIST,
	S_KEY_INSERT,
	S_KEY_RETIRE,
	S_KEYS_PRUNE,
	N_STMT
};

#define USER_COLUMNS "id, type, disabled, created, last_login, data, custom_data"
#define IDENTITY_COLUMNS "instance, uid, type, user_id, data, private, created, updated"
#define SESSION_COLUMNS                                                                                                \
	"id, user_id, device_id, encode(refresh_hash, 'hex'), created, expires, last_used, provider, provider_uid"
#define KV_UPSERT                                                                                                      \
	"INSERT INTO provider_data (instance, key, value, user_id, expires) VALUES ($1, $2, $3, $4, $5::bigint)"       \
	" ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value, user_id = excluded.user_id,"               \
	" expires = excluded.expires"

static const char *const stmt_sql[N_STMT] = {
    [S_USER_INSERT] =
	"INSERT INTO users (" USER_COLUMNS ") VALUES ($1, $2, $3::boolean, $4::bigint, $5::bigint, $6, $7)",
    [S_USER_GET] = "SELECT " USER_COLUMNS " FROM users WHERE id = $1",
    [S_USER_UPDATE] =
	"UPDATE users SET disabled = coalesce($2::boolean, disabled),"
	" last_login = coalesce($3::bigint, last_login), data = coalesce($4::text, data),"
	" custom_data = coalesce($5::text, custom_data) WHERE id = $1",
    [S_USER_DELETE] = "DELETE FROM users WHERE id = $1",
    [S_USERS_LIST] = "SELECT " USER_COLUMNS " FROM users WHERE id > $1 ORDER BY id LIMIT $2::bigint",
    [S_IDENTITY_INSERT] =
	"INSERT INTO identities (" IDENTITY_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::bigint)",
    [S_IDENTITY_GET] = "SELECT " IDENTITY_COLUMNS " FROM identities WHERE instance = $1 AND uid = $2",
    [S_IDENTITY_UPDATE] =
	"UPDATE identities SET data = coalesce($3::text, data), private = coalesce($4::text, private),"
	" updated = coalesce($5::bigint, updated) WHERE instance = $1 AND uid = $2",
    /* The identity and the sessions opened with it go together: its tokens
     * must stop working (hostile input 43).  One statement, so atomic. */
    [S_IDENTITY_DELETE] =
	"WITH gone AS (DELETE FROM identities WHERE instance = $1 AND uid = $2 RETURNING user_id),"
	" ended AS (DELETE FROM sessions s USING gone WHERE s.user_id = gone.user_id"
	" AND s.provider = $1 AND s.provider_uid = $2)"
	" SELECT count(*) FROM gone",
    [S_IDENTITIES_OF_USER] = "SELECT " IDENTITY_COLUMNS
			     " FROM identities WHERE user_id = $1"
			     " ORDER BY updated, created, instance, uid",
    [S_SESSION_INSERT] =
	"INSERT INTO sessions (id, user_id, device_id, refresh_hash, created, expires, last_used,"
	" provider, provider_uid) VALUES ($1, $2, $3, decode($4, 'hex'), $5::bigint, $6::bigint,"
	" $7::bigint, $8, $9)",
    [S_SESSION_GET_BY_HASH] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE refresh_hash = decode($1, 'hex')",
    [S_SESSION_GET] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = $1",
    [S_SESSION_TOUCH] =
	"UPDATE sessions SET last_used = $2::bigint,"
	" expires = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE expires END WHERE id = $1",
    [S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = $1",
    [S_SESSIONS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = $1",
    [S_SESSIONS_COUNT] =
	"SELECT count(*) FROM sessions WHERE ($1::text IS NULL OR user_id = $1::text)"
	" AND expires > $2::bigint",
    [S_KV_GET] =
	"SELECT value FROM provider_data WHERE instance = $1 AND key = $2"
	" AND (expires IS NULL OR expires > $3::bigint)",
    [S_KV_PUT] = KV_UPSERT,
    [S_KV_CREATE] = KV_UPSERT " WHERE provider_data.expires IS NOT NULL AND provider_data.expires <= $6::bigint",
    [S_KV_DELETE] = "DELETE FROM provider_data WHERE instance = $1 AND key = $2",
    [S_KV_PURGE] = "DELETE FROM provider_data WHERE expires IS NOT NULL AND expires <= $1::bigint",
    [S_SESSIONS_LIST] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE id > $1 ORDER BY id LIMIT $2::bigint",
    [S_KV_LIST] =
	"SELECT instance, key, value, user_id, expires FROM provider_data"
	" WHERE $1::text IS NULL OR (instance, key) > ($1::text, $2::text) ORDER BY instance, key"
	" LIMIT $3::bigint",
    [S_KEYS_GENERATION] = "SELECT generation FROM signing_keys_generation",
    [S_KEYS_LIST] = "SELECT kid, pem, created, retired FROM signing_keys ORDER BY retired = 0 DESC, retired DESC, kid",
    /* Every change of the keys moves the generation, in the same statement. */
    [S_KEY_INSERT] =
	"WITH k AS (INSERT INTO signing_keys (kid, pem, created, retired)"
	" VALUES ($1, $2, $3::bigint, $4::bigint) RETURNING 1)"
	" UPDATE signing_keys_generation SET generation = generation + 1 FROM k",
    [S_KEY_RETIRE] =
	"WITH k AS (UPDATE signing_keys SET pem = $2, retired = $3::bigint WHERE kid = $1 AND retired = 0"
	" RETURNING 1) UPDATE signing_keys_generation SET generation = generation + 1 FROM k",
    [S_KEYS_PRUNE] =
	"WITH d AS (DELETE FROM signing_keys WHERE retired > 0 AND retired <= $1::bigint RETURNING 1),"
	" g AS (UPDATE signing_keys_generation SET generation = generation + 1"
	" WHERE EXISTS (SELECT 1 FROM d)) SELECT count(*) FROM d",
};

/*
 * Schema migrations: migrations[i] takes the schema from version i to i+1.
 * Only ever append; a released migration is never edited.
 */
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE users ("
    " id text COLLATE \"C\" PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),"
    " type text NOT NULL CHECK (type IN ('normal', 'server')),"
    " disabled boolean NOT NULL,"
    " created bigint NOT NULL,"
    " last_login bigint NOT NULL,"
    " data text NOT NULL,"
    " custom_data text NOT NULL"
    ");"
    "CREATE TABLE identities ("
    " instance text COLLATE \"C\" NOT NULL,"
    " uid text COLLATE \"C\" NOT NULL,"
    " type text NOT NULL,"
    " user_id text COLLATE \"C\" NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " data text NOT NULL,"
    " private text NOT NULL,"
    " created bigint NOT NULL,"
    " updated bigint NOT NULL,"
    " PRIMARY KEY (instance, uid)"
    ");"
    "CREATE INDEX identities_user ON identities (user_id);"
    "CREATE TABLE sessions ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " user_id text COLLATE \"C\" NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " device_id text NOT NULL,"
    " refresh_hash bytea NOT NULL UNIQUE CHECK (length(refresh_hash) = 32),"
    " created bigint NOT NULL,"
    " expires bigint NOT NULL,"
    " last_used bigint NOT NULL,"
    " provider text COLLATE \"C\","
    " provider_uid text COLLATE \"C\","
    " CHECK ((provider IS NULL) = (provider_uid IS NULL))"
    ");"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE TABLE provider_data ("
    " instance text COLLATE \"C\" NOT NULL,"
    " key text COLLATE \"C\" NOT NULL,"
    " value text NOT NULL,"
    " user_id text COLLATE \"C\" REFERENCES users (id) ON DELETE CASCADE,"
    " expires bigint,"
    " PRIMARY KEY (instance, key)"
    ");"
    "CREATE INDEX provider_data_user ON provider_data (user_id) WHERE user_id IS NOT NULL;"
    "CREATE INDEX provider_data_expires ON provider_data (expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE signing_keys ("
    " kid text COLLATE \"C\" PRIMARY KEY,"
    " pem text NOT NULL,"
    " created bigint NOT NULL,"
    " retired bigint NOT NULL CHECK (retired >= 0)"
    ");"
    "CREATE UNIQUE INDEX signing_keys_current ON signing_keys (retired) WHERE retired = 0;"
    "CREATE TABLE signing_keys_generation ("
    " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " generation bigint NOT NULL"
    ");"
    "INSERT INTO signing_keys_generation (one, generation) VALUES (true, 0);",
    /* 2: refresh_hash is no longer UNIQUE, as in the sqlite store's schema
     * 3: the core finds a refresh token's session by its id and compares
     * the hash itself, so the index behind the constraint was written by
     * every login and read by none. */
    "ALTER TABLE sessions DROP CONSTRAINT sessions_refresh_hash_key;",
};

/* ---- handle, pool, transactions ------------------------------------------ */

struct conn {
	PGconn *pg;
	bool prepared[N_STMT];
	bool broken; /* lost or unusable: closed when it is given back */
	struct conn *next;
};

struct sesame_store_handle {
	const struct sesame_store_host *host;
	char *conninfo; /* secret: it may hold a password */
	unsigned pool_size;
	int busy_timeout;
	int statement_timeout;

	pthread_mutex_t lock;
	pthread_cond_t freed; /* a connection went back to the pool */
	struct conn *idle;
	unsigned n_conns;
};

struct sesame_store_txn {
	sesame_store_handle *h;
	struct conn *c;
	bool write;
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

/* libpq's messages end with a newline: one line, without it. */
static const char *one_line(const char *msg, char *buf, size_t size)
{
	size_t n;

	snprintf(buf, size, "%s", msg && *msg ? msg : "no message");
	n = strcspn(buf, "\n");
	buf[n] = '\0';
	return buf;
}

/* The sesame status of an SQLSTATE, with the reason word. */
static int status_of(const char *state, const char **reason)
{
	if (!state || strlen(state) != 5) {
		*reason = "io";
		return SESAME_UNAVAILABLE;
	}
	if (strcmp(state, "23505") == 0) { /* unique_violation */
		*reason = "exists";
		return SESAME_CONFLICT;
	}
	if (strcmp(state, "23503") == 0) { /* foreign_key_violation */
		*reason = "user";
		return SESAME_NOT_FOUND;
	}
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
		*reason = "busy"; /* serialization failure, deadlock, lock not available */
		return SESAME_CONFLICT;
	}
	if (strcmp(state, "57014") == 0) { /* query_canceled: statement_timeout */
		*reason = "busy";
		return SESAME_UNAVAILABLE;
	}
	if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0) { /* undefined table or column */
		*reason = "schema";
		return SESAME_UNAVAILABLE;
	}
	switch (state[0]) {
	case '2':
		if (state[1] == '2' || state[1] == '3') { /* data exception, integrity constraint */
			*reason = "record";
			return SESAME_MALFORMED;
		}
		break;
	case '5':
		if (state[1] == '4') { /* program limit exceeded: a value too large to index */
			*reason = "record";
			return SESAME_MALFORMED;
		}
		if (state[1] == '3' || state[1] == '7' ||
		    state[1] == '8') { /* resources, operator intervention, system */
			*reason = "io";
			return SESAME_UNAVAILABLE;
		}
		break;
	case '0':
		if (state[1] == '8') { /* connection exception */
			*reason = "io";
			return SESAME_UNAVAILABLE;
		}
		break;
	case '4':
		if (state[1] == '2') { /* insufficient privilege, syntax: a bug or a foreign schema */
			*reason = "internal";
			return SESAME_INTERNAL;
		}
		break;
	default:
		break;
	}
	*reason = "internal";
	return SESAME_INTERNAL;
}

/*
 * The error of a failed statement on `c` (`res` may be NULL): a broken
 * connection is SESAME_UNAVAILABLE "io" whatever the statement said, and
 * marks `c` to be closed.
 */
static int db_error(const sesame_store_handle *h, struct conn *c, const PGresult *res, const char *what,
		    sesame_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *reason;
	char line[256];
	int status;

	if (PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = true;
		return store_err(h, err, SESAME_UNAVAILABLE, "io",
				 "postgres store: %s: the connection to the database "
				 "was lost: %s",
				 what, one_line(PQerrorMessage(c->pg), line, sizeof(line)));
	}
	status = status_of(state, &reason);
	if (!primary)
		primary = PQerrorMessage(c->pg);
	return store_err(h, err, status, reason, "postgres store: %s: %s (SQLSTATE %s)", what,
			 one_line(primary, line, sizeof(line)), state ? state : "none");
}

/* Run SQL text (no parameters) that returns no rows. */
static int exec_sql(const sesame_store_handle *h, struct conn *c, const char *sql, const char *what, sesame_error *err)
{
	PGresult *res = PQexec(c->pg, sql);
	int rc = SESAME_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_error(h, c, res, what, err);
	PQclear(res);
	return rc;
}

/* Notices ("relation already exists, skipping") go to the debug log. */
static void on_notice(void *arg, const char *message)
{
	const sesame_store_handle *h = arg;
	char line[256];

	h->host->log(h->host->data, SESAME_LOG_DEBUG, "postgres store: %s", one_line(message, line, sizeof(line)));
}

static void conn_close(struct conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

static int conn_open(const sesame_store_handle *h, struct conn **out, sesame_error *err)
{
	/* Defaults before "dbname" (the conninfo, expanded) may be overridden
	 * by it; what follows it may not: sesame speaks UTF-8. */
	static const char *const keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding", NULL};
	const char *values[] = {CONNECT_TIMEOUT, "sesame", h->conninfo, "UTF8", NULL};
	struct conn *c = calloc(1, sizeof(*c));
	const char *encoding;
	char line[256], sql[64];
	int rc;

	*out = NULL;
	if (!c)
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	c->pg = PQconnectdbParams(keys, values, 1);
	if (!c->pg) {
		free(c);
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		rc = store_err(h, err, SESAME_UNAVAILABLE, "io", "postgres store: cannot connect to the database: %s",
			       one_line(PQerrorMessage(c->pg), line, sizeof(line)));
		conn_close(c);
		return rc;
	}
	PQsetNoticeProcessor(c->pg, on_notice, (void *)h);
	encoding = PQparameterStatus(c->pg, "server_encoding");
	if (!encoding || strcmp(encoding, "UTF8") != 0) {
		rc =
		    store_err(h, err, SESAME_UNAVAILABLE, "config",
			      "postgres store: the database's encoding is %s, not UTF8; create it with ENCODING 'UTF8'",
			      encoding ? encoding : "unknown");
		conn_close(c);
		return rc;
	}
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d", h->statement_timeout);
	rc = exec_sql(h, c, sql, "setting statement_timeout", err);
	if (rc != SESAME_OK) {
		conn_close(c);
		return rc;
	}
	*out = c;
	return SESAME_OK;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Borrow a connection, opening one while the pool may grow, else waiting
 * at most busy_timeout for one to come back. */
static int conn_acquire(sesame_store_handle *h, struct conn **out, sesame_error *err)
{
	struct timespec deadline;
	struct conn *c;
	int rc = 0;

	*out = NULL;
	deadline_after(&deadline, h->busy_timeout);
	pthread_mutex_lock(&h->lock);
	while (!h->idle && h->n_conns >= h->pool_size && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&h->freed, &h->lock, &deadline);
	c = h->idle;
	if (c) {
		h->idle = c->next;
		c->next = NULL;
		pthread_mutex_unlock(&h->lock);
		*out = c;
		return SESAME_OK;
	}
	if (h->n_conns >= h->pool_size) {
		pthread_mutex_unlock(&h->lock);
		return store_err(h, err, SESAME_UNAVAILABLE, "busy",
				 "postgres store: all %u connections (store.pool_size) stayed busy for %d ms",
				 h->pool_size, h->busy_timeout);
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

/*
 * Give a connection back.  A broken one is closed with every idle one:
 * what broke it (a server restart, a network failure) broke them too, and
 * the next operation should connect afresh rather than find out.
 */
static void conn_release(sesame_store_handle *h, struct conn *c)
{
	struct conn *drop = NULL, *next;

	if (!c->broken && PQstatus(c->pg) != CONNECTION_OK)
		c->broken = true;
	/* A connection goes back to the pool outside any transaction. */
	if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE && exec_sql(h, c, "ROLLBACK", "rollback", NULL))
		c->broken = true;
	pthread_mutex_lock(&h->lock);
	if (c->broken) {
		drop = h->idle;
		h->idle = NULL;
		for (next = drop; next; next = next->next)
			h->n_conns--;
		h->n_conns--;
		pthread_cond_broadcast(&h->freed);
	} else {
		c->next = h->idle;
		h->idle = c;
		pthread_cond_signal(&h->freed);
	}
	pthread_mutex_unlock(&h->lock);
	if (c->broken) {
		h->host->log(h->host->data, SESAME_LOG_WARNING,
			     "postgres store: a connection was lost; the next operations reconnect");
		conn_close(c);
		for (; drop; drop = next) {
			next = drop->next;
			conn_close(drop);
		}
	}
}

/* One operation: on the transaction's connection, or on a borrowed one. */
struct call {
	sesame_store_handle *h;
	sesame_store_txn *txn;
	struct conn *c;
};

static int call_start(sesame_store_handle *h, sesame_store_txn *txn, bool write, struct call *cl, sesame_error *err)
{
	cl->h = h;
	cl->txn = txn;
	cl->c = NULL;
	if (!h)
		return SESAME_USAGE;
	if (!txn)
		return conn_acquire(h, &cl->c, err);
	if (txn->h != h)
		return store_err(h, err, SESAME_USAGE, "usage", "postgres store: transaction of another handle");
	if (txn->failed)
		return store_err(h, err, SESAME_USAGE, "usage",
				 "postgres store: the transaction failed earlier and can only be rolled back");
	if (write && !txn->write)
		return store_err(h, err, SESAME_USAGE, "usage", "postgres store: write in a read transaction");
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
	}
	return rc;
}

/* ---- parameters and running statements -------------------------------------- */

struct params {
	const char *v[MAX_PARAMS];
	char *owned[MAX_PARAMS];
	char num[MAX_PARAMS][24];
	int n;
	bool nomem;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%" PRId64, v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

static void p_bool(struct params *p, bool v)
{
	p->v[p->n++] = v ? "true" : "false";
}

/* A JSON value as compact text; NULL binds SQL NULL. */
static void p_json(struct params *p, const json_t *v, size_t flags)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | flags) : NULL;

	if (v && !text)
		p->nomem = true;
	p->owned[p->n] = text;
	p->v[p->n++] = text;
}

static void p_free(struct params *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		free(p->owned[i]);
}

/*
 * Run statement `id` with `p` (freed here) on the call's connection,
 * preparing it there on first use.  On SESAME_OK `*res` is the result
 * (PQclear() it).
 */
static int run(struct call *cl, enum stmt_id id, struct params *p, const char *what, PGresult **res, sesame_error *err)
{
	char name[16];
	PGresult *r;
	int rc = SESAME_OK;

	*res = NULL;
	if (p->nomem) {
		p_free(p);
		return store_err(cl->h, err, SESAME_INTERNAL, "memory", "out of memory");
	}
	snprintf(name, sizeof(name), "sesame_%d", (int)id);
	if (!cl->c->prepared[id]) {
		r = PQprepare(cl->c->pg, name, stmt_sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = db_error(cl->h, cl->c, r, what, err);
		else
			cl->c->prepared[id] = true;
		PQclear(r);
	}
	if (rc == SESAME_OK) {
		r = PQexecPrepared(cl->c->pg, name, p->n, p->v, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
			*res = r;
		} else {
			rc = db_error(cl->h, cl->c, r, what, err);
			PQclear(r);
		}
	}
	p_free(p);
	return rc;
}

/* Run a statement whose result is not looked at beyond success. */
static int run_exec(struct call *cl, enum stmt_id id, struct params *p, const char *what, sesame_error *err)
{
	PGresult *res;
	int rc = run(cl, id, p, what, &res, err);

	PQclear(res);
	return rc;
}

/* Run an UPDATE or DELETE of one row: SESAME_NOT_FOUND `what` when none. */
static int run_one_change(struct call *cl, enum stmt_id id, struct params *p, const char *what, sesame_error *err)
{
	PGresult *res;
	int rc = run(cl, id, p, what, &res, err);

	if (rc == SESAME_OK && strcmp(PQcmdTuples(res), "0") == 0)
		rc = store_err(cl->h, err, SESAME_NOT_FOUND, what, "no such %s", what);
	PQclear(res);
	return rc;
}

/* Run a statement returning one count. */
static int run_count(struct call *cl, enum stmt_id id, struct params *p, const char *what, uint64_t *count,
		     sesame_error *err)
{
	PGresult *res;
	int rc = run(cl, id, p, what, &res, err);

	if (rc == SESAME_OK) {
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
			*count = (uint64_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		else
			rc = store_err(cl->h, err, SESAME_INTERNAL, "internal", "postgres store: %s: no count", what);
	}
	PQclear(res);
	return rc;
}

/* ---- reading rows ------------------------------------------------------------ */

static json_t *col_string(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL
					: json_stringn(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static json_t *col_json(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL
					: json_loadb(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col),
						     JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

static json_int_t col_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : (json_int_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static json_t *user_of_row(const PGresult *r, int i)
{
	return json_pack("{s:o, s:o, s:b, s:I, s:I, s:o, s:o}", "id", col_string(r, i, 0), "type", col_string(r, i, 1),
			 "disabled", PQgetvalue(r, i, 2)[0] == 't', "created", col_int(r, i, 3), "last_login",
			 col_int(r, i, 4), "data", col_json(r, i, 5), "custom_data", col_json(r, i, 6));
}

static json_t *identity_of_row(const PGresult *r, int i)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "provider", col_string(r, i, 0), "id",
			 col_string(r, i, 1), "provider_type", col_string(r, i, 2), "user_id", col_string(r, i, 3),
			 "data", col_json(r, i, 4), "private", col_json(r, i, 5), "created", col_int(r, i, 6),
			 "updated", col_int(r, i, 7));
}

static json_t *session_of_row(const PGresult *r, int i)
{
	json_t *rec =
	    json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "id", col_string(r, i, 0), "user_id", col_string(r, i, 1),
		      "device_id", col_string(r, i, 2), "refresh_hash", col_string(r, i, 3), "created",
		      col_int(r, i, 4), "expires", col_int(r, i, 5), "last_used", col_int(r, i, 6));

	if (rec && !PQgetisnull(r, i, 7) &&
	    (json_object_set_new(rec, "provider", col_string(r, i, 7)) != 0 ||
	     json_object_set_new(rec, "provider_uid", col_string(r, i, 8)) != 0)) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static json_t *value_of_row(const PGresult *r, int i)
{
	return col_json(r, i, 0);
}

static json_t *entry_of_row(const PGresult *r, int i)
{
	json_t *rec = json_pack("{s:o, s:o, s:o, s:I}", "provider", col_string(r, i, 0), "key", col_string(r, i, 1),
				"value", col_json(r, i, 2), "expires", col_int(r, i, 4));

	if (rec && !PQgetisnull(r, i, 3) && json_object_set_new(rec, "user_id", col_string(r, i, 3)) != 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static json_t *key_of_row(const PGresult *r, int i)
{
	return json_pack("{s:o, s:o, s:I, s:I}", "kid", col_string(r, i, 0), "pem", col_string(r, i, 1), "created",
			 col_int(r, i, 2), "retired", col_int(r, i, 3));
}

/* Run a query expected to return at most one row, converted by `convert`. */
static int query_one(struct call *cl, enum stmt_id id, struct params *p, json_t *(*convert)(const PGresult *, int),
		     const char *what, json_t **out, sesame_error *err)
{
	PGresult *res;
	int rc = run(cl, id, p, what, &res, err);

	*out = NULL;
	if (rc != SESAME_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = store_err(cl->h, err, SESAME_NOT_FOUND, what, "no such %s", what);
	else if (!(*out = convert(res, 0)))
		rc = store_err(cl->h, err, SESAME_INTERNAL, "internal", "postgres store: unreadable %s row", what);
	PQclear(res);
	return rc;
}

/* Run a query returning rows, each converted by `convert`, into a new array. */
static int query_all(struct call *cl, enum stmt_id id, struct params *p, json_t *(*convert)(const PGresult *, int),
		     const char *what, json_t **out, sesame_error *err)
{
	PGresult *res;
	json_t *list;
	int rc = run(cl, id, p, what, &res, err), i;

	*out = NULL;
	if (rc != SESAME_OK)
		return rc;
	list = json_array();
	for (i = 0; list && i < PQntuples(res); i++) {
		json_t *row = convert(res, i);

		if (!row || json_array_append_new(list, row) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	PQclear(res);
	if (!list)
		return store_err(cl->h, err, SESAME_INTERNAL, "internal", "postgres store: unreadable %s rows", what);
	*out = list;
	return SESAME_OK;
}

/* ---- configuration and opening -------------------------------------------- */

static int get_int(sesame_store_handle *h, json_t *v, const char *key, int min, int max, int *out, sesame_error *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return store_err(h, err, SESAME_CONFIG, "config", "\"store.%s\": expected an integer from %d to %d",
				 key, min, max);
	*out = (int)json_integer_value(v);
	return SESAME_OK;
}

static int parse_config(sesame_store_handle *h, const json_t *config, sesame_error *err)
{
	const char *key;
	json_t *v;
	int pool = DEFAULT_POOL_SIZE, rc = SESAME_OK;

	h->busy_timeout = DEFAULT_BUSY_TIMEOUT;
	h->statement_timeout = DEFAULT_STATEMENT_TIMEOUT;
	if (!json_is_object(config))
		return store_err(h, err, SESAME_CONFIG, "config", "\"store\": expected an object");
	json_object_foreach ((json_t *)config, key, v) {
		if (strcmp(key, "type") == 0)
			continue;
		if (strcmp(key, "conninfo") == 0) {
			PQconninfoOption *opts;
			char *perr = NULL;

			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return store_err(h, err, SESAME_CONFIG, "config",
						 "\"store.conninfo\": expected a libpq connection string or URI");
			/* libpq's message may quote the string, password and all: not shown. */
			opts = PQconninfoParse(json_string_value(v), &perr);
			PQfreemem(perr);
			if (!opts)
				return store_err(h, err, SESAME_CONFIG, "config",
						 "\"store.conninfo\": not a valid libpq connection string or URI "
						 "(\"key=value ...\" or \"postgresql://...\")");
			PQconninfoFree(opts);
			h->conninfo = strdup(json_string_value(v));
			if (!h->conninfo)
				return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
		} else if (strcmp(key, "pool_size") == 0) {
			rc = get_int(h, v, key, 1, MAX_POOL_SIZE, &pool, err);
		} else if (strcmp(key, "busy_timeout") == 0) {
			rc = get_int(h, v, key, 0, MAX_BUSY_TIMEOUT, &h->busy_timeout, err);
		} else if (strcmp(key, "statement_timeout") == 0) {
			rc = get_int(h, v, key, 0, MAX_STATEMENT_TIMEOUT, &h->statement_timeout, err);
		} else {
			return store_err(h, err, SESAME_CONFIG, "config",
					 "\"store.%s\": not a setting of the postgres store (conninfo, pool_size, "
					 "busy_timeout, statement_timeout)",
					 key);
		}
		if (rc != SESAME_OK)
			return rc;
	}
	if (!h->conninfo)
		return store_err(h, err, SESAME_CONFIG, "config",
				 "\"store.conninfo\": missing (the database to connect to, e.g. "
				 "\"host=/run/postgresql dbname=sesame\" or \"@/etc/sesame/conninfo\")");
	h->pool_size = (unsigned)pool;
	return SESAME_OK;
}

/*
 * Bring the schema to SCHEMA_VERSION in one transaction that first takes
 * an advisory lock: nodes starting together migrate one after the other,
 * and a failed migration leaves the schema as it was.
 */
static int migrate(const sesame_store_handle *h, struct conn *c, sesame_error *err)
{
	char sql[160];
	PGresult *res;
	int version = 0, rc, v;

	rc = exec_sql(h, c, "BEGIN", "begin", err);
	if (rc == SESAME_OK)
		rc = exec_sql(h, c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", "taking the migration lock",
			      err);
	if (rc == SESAME_OK)
		rc = exec_sql(h, c,
			      "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
			      " applied bigint NOT NULL)",
			      "creating schema_version", err);
	if (rc == SESAME_OK) {
		res = PQexec(c->pg, "SELECT coalesce(max(version), 0) FROM schema_version");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		else
			rc = db_error(h, c, res, "reading the schema version", err);
		PQclear(res);
	}
	if (rc == SESAME_OK && version > SCHEMA_VERSION)
		rc = store_err(h, err, SESAME_UNAVAILABLE, "schema",
			       "postgres store: schema version %d is newer than this sesame knows (%d)", version,
			       SCHEMA_VERSION);
	for (v = version; rc == SESAME_OK && v < SCHEMA_VERSION; v++) {
		rc = exec_sql(h, c, migrations[v], "migrating the schema", err);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_version (version, applied) VALUES (%d, extract(epoch FROM now())::bigint)",
			 v + 1);
		if (rc == SESAME_OK)
			rc = exec_sql(h, c, sql, "recording the schema version", err);
		if (rc == SESAME_OK)
			h->host->log(h->host->data, SESAME_LOG_NOTICE, "postgres store: schema migrated to version %d",
				     v + 1);
	}
	if (rc == SESAME_OK)
		rc = exec_sql(h, c, "COMMIT", "commit", err);
	if (rc != SESAME_OK && PQstatus(c->pg) == CONNECTION_OK)
		exec_sql(h, c, "ROLLBACK", "rollback", NULL);
	return rc;
}

static void store_close(sesame_store_handle *h)
{
	struct conn *c, *next;

	if (!h)
		return;
	for (c = h->idle; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->freed);
	if (h->conninfo) {
		/* It may hold a password. */
		volatile char *p = h->conninfo;

		while (*p)
			*p++ = '\0';
		free(h->conninfo);
	}
	free(h);
}

/* The pool's wait measures busy_timeout on the monotonic clock. */
static int init_locks(sesame_store_handle *h)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&h->freed, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	pthread_mutex_init(&h->lock, NULL);
	return 0;
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
	h = calloc(1, sizeof(*h));
	if (!h)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	h->host = host;
	if (init_locks(h) != 0) {
		free(h);
		return host->error(err, SESAME_INTERNAL, "internal", "cannot initialise the store's locks");
	}
	rc = parse_config(h, config, err);
	/* Connections are shared between threads one at a time. */
	if (rc == SESAME_OK && !PQisthreadsafe())
		rc = store_err(h, err, SESAME_UNAVAILABLE, "libpq",
			       "the libpq library was built without thread support");
	if (rc == SESAME_OK)
		rc = conn_open(h, &c, err);
	if (rc == SESAME_OK)
		rc = migrate(h, c, err);
	if (rc != SESAME_OK) {
		conn_close(c);
		store_close(h);
		return rc;
	}
	h->idle = c;
	h->n_conns = 1;
	*out = h;
	return SESAME_OK;
}

static int txn_begin(sesame_store_handle *h, unsigned flags, sesame_store_txn **out, sesame_error *err)
{
	sesame_store_txn *t;
	int rc;

	*out = NULL;
	if (!h)
		return SESAME_USAGE;
	t = calloc(1, sizeof(*t));
	if (!t)
		return store_err(h, err, SESAME_INTERNAL, "memory", "out of memory");
	t->h = h;
	t->write = (flags & SESAME_STORE_TXN_WRITE) != 0;
	rc = conn_acquire(h, &t->c, err);
	if (rc == SESAME_OK)
		rc = exec_sql(h, t->c,
			      t->write ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
				       : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
			      "begin", err);
	if (rc != SESAME_OK) {
		if (t->c)
			conn_release(h, t->c);
		free(t);
		return rc;
	}
	*out = t;
	return SESAME_OK;
}

static void txn_rollback(sesame_store_txn *t)
{
	if (!t)
		return;
	/* conn_release() rolls back whatever is still open. */
	conn_release(t->h, t->c);
	free(t);
}

static int txn_commit(sesame_store_txn *t, sesame_error *err)
{
	sesame_store_handle *h;
	int rc;

	if (!t)
		return SESAME_USAGE;
	h = t->h;
	if (t->failed) {
		txn_rollback(t);
		return store_err(h, err, SESAME_USAGE, "usage", "postgres store: commit of a failed transaction");
	}
	/* A serialization failure may surface here, as 40001: a conflict. */
	rc = exec_sql(h, t->c, "COMMIT", "commit", err);
	txn_rollback(t);
	return rc;
}

/* ---- records ---------------------------------------------------------- */

static int bad_record(const sesame_store_handle *h, sesame_error *err, const char *what, const char *member)
{
	return store_err(h, err, SESAME_MALFORMED, "record",
			 "postgres store: %s record: member \"%s\" missing or invalid", what, member);
}

static int64_t rec_int(const json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

/* Check the members common to update operations: only those in `allowed`. */
static int check_changes(const sesame_store_handle *h, const json_t *changes, const char *const *allowed,
			 sesame_error *err)
{
	const char *key;

	if (!json_is_object(changes))
		return store_err(h, err, SESAME_USAGE, "usage", "postgres store: changes must be an object");
	key = store_rec_change_refused(changes, allowed);
	return key ? store_err(h, err, SESAME_USAGE, "usage", "postgres store: \"%s\" cannot be changed", key)
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
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || check_user(h, u, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, store_rec_str(u, "id"));
	p_text(&p, store_rec_str(u, "type"));
	p_bool(&p, json_is_true(json_object_get(u, "disabled")));
	p_int(&p, rec_int(u, "created"));
	p_int(&p, rec_int(u, "last_login"));
	p_json(&p, json_object_get(u, "data"), 0);
	p_json(&p, json_object_get(u, "custom_data"), 0);
	return call_end(&cl, run_exec(&cl, S_USER_INSERT, &p, "user insert", err));
}

static int user_get(sesame_store_handle *h, sesame_store_txn *txn, const char *id, json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, id);
	return call_end(&cl, query_one(&cl, S_USER_GET, &p, user_of_row, "user", out, err));
}

static int user_update(sesame_store_handle *h, sesame_store_txn *txn, const char *id, const json_t *changes,
		       sesame_error *err)
{
	static const char *const allowed[] = {"disabled", "last_login", "data", "custom_data", NULL};
	json_t *disabled, *last_login, *data, *custom_data;
	struct params p = {0};
	struct call cl;
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
	p_text(&p, id);
	if (disabled)
		p_bool(&p, json_is_true(disabled));
	else
		p_text(&p, NULL);
	if (last_login)
		p_int(&p, json_integer_value(last_login));
	else
		p_text(&p, NULL);
	p_json(&p, data, 0);
	p_json(&p, custom_data, 0);
	return call_end(&cl, run_one_change(&cl, S_USER_UPDATE, &p, "user", err));
}

static int user_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *id, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	/* Identities, sessions and bound provider data go by ON DELETE CASCADE,
	 * in the same statement, hence atomically even without a transaction. */
	p_text(&p, id);
	return call_end(&cl, run_one_change(&cl, S_USER_DELETE, &p, "user", err));
}

static int list_limit(const sesame_store_handle *h, size_t limit, sesame_error *err)
{
	if (limit < 1 || limit > LIST_MAX)
		return store_err(h, err, SESAME_USAGE, "usage", "postgres store: list limit must be 1 to %d", LIST_MAX);
	return SESAME_OK;
}

/* One page of a listing by id: the rows of statement `id` after `after`
 * (NULL: from the start), at most `limit` (1 to LIST_MAX). */
static int list_after(sesame_store_handle *h, sesame_store_txn *txn, enum stmt_id id, const char *after, size_t limit,
		      json_t *(*convert)(const PGresult *, int), const char *what, json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	rc = list_limit(h, limit, err);
	if (rc == SESAME_OK)
		rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, after ? after : "");
	p_int(&p, (int64_t)limit);
	return call_end(&cl, query_all(&cl, id, &p, convert, what, out, err));
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
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || check_identity(h, i, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, store_rec_str(i, "provider"));
	p_text(&p, store_rec_str(i, "id"));
	p_text(&p, store_rec_str(i, "provider_type"));
	p_text(&p, store_rec_str(i, "user_id"));
	p_json(&p, json_object_get(i, "data"), 0);
	p_json(&p, json_object_get(i, "private"), 0);
	p_int(&p, rec_int(i, "created"));
	p_int(&p, rec_int(i, "updated"));
	return call_end(&cl, run_exec(&cl, S_IDENTITY_INSERT, &p, "identity insert", err));
}

static int identity_get(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !provider || !uid)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, provider);
	p_text(&p, uid);
	return call_end(&cl, query_one(&cl, S_IDENTITY_GET, &p, identity_of_row, "identity", out, err));
}

static int identity_update(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			   const json_t *changes, sesame_error *err)
{
	static const char *const allowed[] = {"data", "private", "updated", NULL};
	json_t *data, *priv, *updated;
	struct params p = {0};
	struct call cl;
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
	p_text(&p, provider);
	p_text(&p, uid);
	p_json(&p, data, 0);
	p_json(&p, priv, 0);
	if (updated)
		p_int(&p, json_integer_value(updated));
	else
		p_text(&p, NULL);
	return call_end(&cl, run_one_change(&cl, S_IDENTITY_UPDATE, &p, "identity", err));
}

static int identity_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *uid,
			   sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	uint64_t n = 0;
	int rc;

	if (!h || !provider || !uid)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, provider);
	p_text(&p, uid);
	rc = run_count(&cl, S_IDENTITY_DELETE, &p, "identity delete", &n, err);
	if (rc == SESAME_OK && n == 0)
		rc = store_err(h, err, SESAME_NOT_FOUND, "identity", "no such identity");
	return call_end(&cl, rc);
}

static int identities_of_user(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, json_t **out,
			      sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !user_id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, user_id);
	return call_end(&cl, query_all(&cl, S_IDENTITIES_OF_USER, &p, identity_of_row, "identity", out, err));
}

/* ---- sessions --------------------------------------------------------- */

static int check_session(const sesame_store_handle *h, const json_t *se, sesame_error *err)
{
	const char *member = store_rec_session_invalid(se);

	return member ? bad_record(h, err, "session", member) : SESAME_OK;
}

static int session_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *se, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || check_session(h, se, err) != SESAME_OK)
		return h ? SESAME_MALFORMED : SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, store_rec_str(se, "id"));
	p_text(&p, store_rec_str(se, "user_id"));
	p_text(&p, store_rec_str(se, "device_id"));
	p_text(&p, store_rec_str(se, "refresh_hash"));
	p_int(&p, rec_int(se, "created"));
	p_int(&p, rec_int(se, "expires"));
	p_int(&p, rec_int(se, "last_used"));
	p_text(&p, store_rec_str(se, "provider"));
	p_text(&p, store_rec_str(se, "provider_uid"));
	return call_end(&cl, run_exec(&cl, S_SESSION_INSERT, &p, "session insert", err));
}

/* Since schema version 2 no index serves this lookup: it reads the whole
 * table.  The core no longer calls it (core/sessions.c looks a refresh
 * token's session up by id); it answers as store ABI 1.0 says. */
static int session_get_by_hash(sesame_store_handle *h, sesame_store_txn *txn, const char *hash, json_t **out,
			       sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	if (!store_rec_hex(hash, SESAME_STORE_HASH_LENGTH))
		return store_err(h, err, SESAME_MALFORMED, "record",
				 "postgres store: a refresh hash is 64 lowercase hex digits");
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, hash);
	return call_end(&cl, query_one(&cl, S_SESSION_GET_BY_HASH, &p, session_of_row, "session", out, err));
}

static int session_get(sesame_store_handle *h, sesame_store_txn *txn, const char *id, json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, id);
	return call_end(&cl, query_one(&cl, S_SESSION_GET, &p, session_of_row, "session", out, err));
}

static int session_touch(sesame_store_handle *h, sesame_store_txn *txn, const char *id, int64_t last_used,
			 int64_t expires, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, id);
	p_int(&p, last_used);
	p_int(&p, expires);
	return call_end(&cl, run_one_change(&cl, S_SESSION_TOUCH, &p, "session", err));
}

static int session_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *id, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, id);
	return call_end(&cl, run_one_change(&cl, S_SESSION_DELETE, &p, "session", err));
}

static int sessions_delete_user(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, uint64_t *count,
				sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	PGresult *res;
	int rc;

	if (count)
		*count = 0;
	if (!h || !user_id)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, user_id);
	rc = run(&cl, S_SESSIONS_DELETE_USER, &p, "sessions delete", &res, err);
	if (rc == SESAME_OK && count)
		*count = (uint64_t)strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return call_end(&cl, rc);
}

static int sessions_count(sesame_store_handle *h, sesame_store_txn *txn, const char *user_id, int64_t now,
			  uint64_t *count, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !count)
		return SESAME_USAGE;
	*count = 0;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, user_id);
	p_int(&p, now);
	return call_end(&cl, run_count(&cl, S_SESSIONS_COUNT, &p, "sessions count", count, err));
}

/* ---- provider key/value data ---------------------------------------------- */

static int kv_get(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key, int64_t now,
		  json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !store_rec_text(provider) || !store_rec_text(key))
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, provider);
	p_text(&p, key);
	p_int(&p, now);
	return call_end(&cl, query_one(&cl, S_KV_GET, &p, value_of_row, "key", out, err));
}

static int kv_put(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key,
		  const json_t *value, const char *user_id, int64_t expires, unsigned flags, int64_t now,
		  sesame_error *err)
{
	bool create = (flags & SESAME_STORE_KV_CREATE) != 0;
	struct params p = {0};
	struct call cl;
	PGresult *res;
	int rc;

	if (!h || !store_rec_text(provider) || !store_rec_text(key) || !value)
		return SESAME_USAGE;
	if (user_id && !store_rec_id(user_id))
		return store_err(h, err, SESAME_MALFORMED, "record", "postgres store: bad user id");
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, provider);
	p_text(&p, key);
	p_json(&p, value, JSON_ENCODE_ANY);
	p_text(&p, user_id);
	if (expires > 0)
		p_int(&p, expires);
	else
		p_text(&p, NULL);
	if (create)
		p_int(&p, now);
	rc = run(&cl, create ? S_KV_CREATE : S_KV_PUT, &p, "provider data put", &res, err);
	/* With KV_CREATE, a live entry makes the upsert's WHERE false: no change. */
	if (rc == SESAME_OK && create && strcmp(PQcmdTuples(res), "0") == 0)
		rc = store_err(h, err, SESAME_CONFLICT, "exists", "key \"%s\" of provider %s exists", key, provider);
	PQclear(res);
	return call_end(&cl, rc);
}

static int kv_delete(sesame_store_handle *h, sesame_store_txn *txn, const char *provider, const char *key,
		     sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !store_rec_text(provider) || !store_rec_text(key))
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, provider);
	p_text(&p, key);
	return call_end(&cl, run_one_change(&cl, S_KV_DELETE, &p, "key", err));
}

static int kv_purge(sesame_store_handle *h, sesame_store_txn *txn, int64_t now, uint64_t *count, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	PGresult *res;
	int rc;

	if (count)
		*count = 0;
	if (!h)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_int(&p, now);
	rc = run(&cl, S_KV_PURGE, &p, "provider data purge", &res, err);
	if (rc == SESAME_OK && count)
		*count = (uint64_t)strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return call_end(&cl, rc);
}

/* ---- listing everything (store ABI 1.1) ----------------------------------- */

static int sessions_list(sesame_store_handle *h, sesame_store_txn *txn, const char *after, size_t limit, json_t **out,
			 sesame_error *err)
{
	return list_after(h, txn, S_SESSIONS_LIST, after, limit, session_of_row, "session", out, err);
}

static int kv_list(sesame_store_handle *h, sesame_store_txn *txn, const char *after_provider, const char *after_key,
		   size_t limit, json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out || !after_provider != !after_key)
		return SESAME_USAGE;
	rc = list_limit(h, limit, err);
	if (rc == SESAME_OK)
		rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_text(&p, after_provider);
	p_text(&p, after_key);
	p_int(&p, (int64_t)limit);
	return call_end(&cl, query_all(&cl, S_KV_LIST, &p, entry_of_row, "entry", out, err));
}

/* ---- signing keys (store ABI 1.1) ------------------------------------------ */

static int keys_generation(sesame_store_handle *h, sesame_store_txn *txn, uint64_t *generation, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (!h || !generation)
		return SESAME_USAGE;
	*generation = 0;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	return call_end(&cl, run_count(&cl, S_KEYS_GENERATION, &p, "keys generation", generation, err));
}

static int keys_list(sesame_store_handle *h, sesame_store_txn *txn, json_t **out, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	int rc;

	if (out)
		*out = NULL;
	if (!h || !out)
		return SESAME_USAGE;
	rc = call_start(h, txn, false, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	return call_end(&cl, query_all(&cl, S_KEYS_LIST, &p, key_of_row, "key", out, err));
}

static int key_insert(sesame_store_handle *h, sesame_store_txn *txn, const json_t *k, sesame_error *err)
{
	json_t *retired = json_object_get(k, "retired");
	struct params p = {0};
	struct call cl;
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
	p_text(&p, store_rec_str(k, "kid"));
	p_text(&p, store_rec_str(k, "pem"));
	p_int(&p, rec_int(k, "created"));
	p_int(&p, json_integer_value(retired));
	return call_end(&cl, run_exec(&cl, S_KEY_INSERT, &p, "key insert", err));
}

static int key_retire(sesame_store_handle *h, sesame_store_txn *txn, const char *kid, const char *public_pem,
		      int64_t retired, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
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
	p_text(&p, kid);
	p_text(&p, public_pem);
	p_int(&p, retired);
	return call_end(&cl, run_one_change(&cl, S_KEY_RETIRE, &p, "key", err));
}

static int keys_prune(sesame_store_handle *h, sesame_store_txn *txn, int64_t before, uint64_t *count, sesame_error *err)
{
	struct params p = {0};
	struct call cl;
	uint64_t n = 0;
	int rc;

	if (count)
		*count = 0;
	if (!h)
		return SESAME_USAGE;
	rc = call_start(h, txn, true, &cl, err);
	if (rc != SESAME_OK)
		return rc;
	p_int(&p, before);
	rc = run_count(&cl, S_KEYS_PRUNE, &p, "keys prune", &n, err);
	if (rc == SESAME_OK && count)
		*count = n;
	return call_end(&cl, rc);
}

/* ---- descriptor ------------------------------------------------------- */

const struct sesame_store sesame_store_entry = {
    .abi_version = SESAME_STORE_ABI_VERSION,
    .struct_size = sizeof(struct sesame_store),
    .type = "postgres",
    .version = PACKAGE_VERSION,
    .description = "PostgreSQL database shared by several sesamed nodes (libpq)",
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
