/* SPDX-License-Identifier: MIT */
/* tests/store/pgtest.c — databases on the test run's PostgreSQL cluster. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgtest.h"
#include "testutil.h"

bool pg_available(void)
{
	const char *host = getenv("SESAME_TEST_PG_HOST");

	return host && *host;
}

/* `s` between single quotes for sh, malloc'd. */
static char *shell_quote(const char *s)
{
	size_t n = 3, i;
	char *out, *p;

	for (i = 0; s[i]; i++)
		n += s[i] == '\'' ? 4 : 1;
	out = p = malloc(n);
	assert_non_null(out);
	*p++ = '\'';
	for (i = 0; s[i]; i++) {
		if (s[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = s[i];
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

char *pg_admin(const char *db, const char *sql)
{
	char *q = shell_quote(sql), *cmd = NULL, *out = NULL, *err = NULL;
	size_t len;
	int rc;

	assert_true(asprintf(&cmd, "'%s' -X -q -At -v ON_ERROR_STOP=1 -h '%s' -p %s -U %s -d %s -c %s",
			     tu_env("SESAME_TEST_PSQL"), tu_env("SESAME_TEST_PG_HOST"), tu_env("SESAME_TEST_PG_PORT"),
			     tu_env("SESAME_TEST_PG_ADMIN"), db, q) > 0);
	rc = tu_run(cmd, &out, &err);
	if (rc != 0)
		fail_msg("psql on %s failed (%d): %s\n%s", db, rc, sql, err ? err : "");
	len = strlen(out);
	while (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	free(q);
	free(cmd);
	free(err);
	return out;
}

long pg_admin_long(const char *db, const char *sql)
{
	char *out = pg_admin(db, sql), *end;
	long v = strtol(out, &end, 10);

	if (end == out || *end)
		fail_msg("not an integer from %s: \"%s\"", sql, out);
	free(out);
	return v;
}

char *pg_create_database(const char *tag, const char *options)
{
	static unsigned counter;
	char *db = NULL, *sql = NULL;
	size_t i;

	assert_true(asprintf(&db, "t_%s_%ld_%u", tag, (long)getpid(), counter++) > 0);
	for (i = 0; db[i]; i++)
		if (db[i] == '-')
			db[i] = '_';
	assert_true(asprintf(&sql, "CREATE DATABASE %s OWNER %s %s", db, tu_env("SESAME_TEST_PG_USER"),
			     options ? options : "") > 0);
	free(pg_admin("postgres", sql));
	free(sql);
	return db;
}

char *pg_conninfo(const char *db)
{
	char *s = NULL;

	assert_true(asprintf(&s, "host=%s port=%s user=%s dbname=%s", tu_env("SESAME_TEST_PG_HOST"),
			     tu_env("SESAME_TEST_PG_PORT"), tu_env("SESAME_TEST_PG_USER"), db) > 0);
	return s;
}

void pg_drop_database(const char *db)
{
	char *sql = NULL;

	assert_true(asprintf(&sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db) > 0);
	free(pg_admin("postgres", sql));
	free(sql);
}

void pg_terminate(const char *db)
{
	char *sql = NULL;

	assert_true(asprintf(&sql,
			     "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'"
			     " AND pid <> pg_backend_pid()",
			     db) > 0);
	free(pg_admin("postgres", sql));
	free(sql);
}
