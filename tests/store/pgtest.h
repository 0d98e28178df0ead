/* SPDX-License-Identifier: MIT */
/*
 * tests/store/pgtest.h — the PostgreSQL cluster of a test run
 * (tests/store/pg-cluster.sh exports where it is): a fresh database per
 * test case, owned by the unprivileged role sesame connects as, and SQL run
 * as the cluster's superuser with psql (tests need no libpq of their own).
 * Every helper fails the test on error.
 */
#ifndef SESAME_PGTEST_H
#define SESAME_PGTEST_H

#include <stdbool.h>

/* True when a cluster is there (SESAME_TEST_PG_HOST is set). */
bool pg_available(void);

/* Create a database owned by the test role, named after `tag`, with the
 * CREATE DATABASE `options` (NULL: none); its name, malloc'd. */
char *pg_create_database(const char *tag, const char *options);

/* The conninfo of database `db` as the test role, malloc'd. */
char *pg_conninfo(const char *db);

/* Drop database `db` (its connections are ended first). */
void pg_drop_database(const char *db);

/* Run `sql` on `db` as the superuser; the output of psql -At (rows one a
 * line, columns separated by '|'), malloc'd, without a final newline. */
char *pg_admin(const char *db, const char *sql);

/* pg_admin() of a query returning one integer. */
long pg_admin_long(const char *db, const char *sql);

/* End every connection to `db` but the caller's (what a server restart or
 * a network failure does to sesame's connections). */
void pg_terminate(const char *db);

#endif
