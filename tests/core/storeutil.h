/* SPDX-License-Identifier: MIT */
/*
 * tests/core/storeutil.h — helpers for the store and accounts tests: a
 * store opened on a fresh database, identities to log in with, and row
 * counts read with the sqlite3 API directly (not through the store).
 */
#ifndef SESAME_STOREUTIL_H
#define SESAME_STOREUTIL_H

#include "internal.h"

/* A quiet logger (warnings and errors only) for the stores under test. */
extern struct logger su_logger;

/* A fresh directory for `tag` and the path of a database inside it
 * (not created).  Free both with free(). */
char *su_db_path(const char *tag, char **dir);

/* The "store" configuration for the sqlite store at `path` plus the
 * members of `extra` (JSON object text without braces, or NULL). */
json_t *su_store_conf(const char *path, const char *extra);

/* Open the sqlite store at `path` from $SESAME_TEST_STORES; fails the test
 * on error. */
void su_open(struct store *st, const char *path);

/* A verified identity as sesame_verify_credential() returns it; `data` is
 * JSON object text or NULL. */
json_t *su_identity(const char *provider, const char *type, const char *uid, const char *data);

/* Rows in `table` of the database at `path`, counted with sqlite3. */
long su_count(const char *path, const char *table);

/* The sum of su_count() over every table of the schema but schema_version. */
long su_count_all(const char *path);

/* Run one SQL statement on the database at `path`; fails the test on error. */
void su_exec(const char *path, const char *sql);

/* The first column of the first row of `sql` as a malloc'd string. */
char *su_query_text(const char *path, const char *sql);

#endif
