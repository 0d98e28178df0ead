/* SPDX-License-Identifier: MIT */
/* tests/core/storeutil.c — helpers for the store and accounts tests. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "storeutil.h"
#include "testutil.h"

struct logger su_logger = {.fn = NULL, .data = NULL, .max_level = SESAME_LOG_WARNING};

static const char *const tables[] = {"users", "identities", "sessions", "provider_data", NULL};

char *su_db_path(const char *tag, char **dir)
{
	*dir = tu_tmpdir(tag);
	return tu_path(*dir, "sesame.db");
}

json_t *su_store_conf(const char *path, const char *extra)
{
	char text[4096];
	json_t *conf;

	snprintf(text, sizeof(text), "{\"type\": \"sqlite\", \"path\": \"%s\"%s%s}", path, extra ? ", " : "",
		 extra ? extra : "");
	conf = json_loads(text, 0, NULL);
	assert_non_null(conf);
	return conf;
}

void su_open(struct store *st, const char *path)
{
	json_t *conf = su_store_conf(path, NULL);
	sesame_error err;
	int rc;

	err_clear(&err);
	rc = store_open(st, tu_env("SESAME_TEST_STORES"), conf, &su_logger, &err);
	json_decref(conf);
	if (rc != SESAME_OK)
		fail_msg("store_open: %s", err.text);
}

json_t *su_identity(const char *provider, const char *type, const char *uid, const char *data)
{
	json_t *d = data ? json_loads(data, 0, NULL) : json_object();
	json_t *id;

	assert_non_null(d);
	id = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}", "provider", provider, "provider_type", type, "id", uid, "data",
		       d, "private", "secret", "kept-for-revocation");
	assert_non_null(id);
	return id;
}

static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open_v2 %s: %s", path, db ? sqlite3_errmsg(db) : "?");
	sqlite3_busy_timeout(db, 10000);
	return db;
}

char *su_query_text(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *s = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		out = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_non_null(out);
	return out;
}

long su_count(const char *path, const char *table)
{
	char sql[128], *text;
	long n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	text = su_query_text(path, sql);
	n = strtol(text, NULL, 10);
	free(text);
	return n;
}

long su_count_all(const char *path)
{
	long n = 0;
	size_t i;

	for (i = 0; tables[i]; i++)
		n += su_count(path, tables[i]);
	return n;
}

void su_exec(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);

	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}
