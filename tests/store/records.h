/* SPDX-License-Identifier: MIT */
/*
 * tests/store/records.h — well-formed store records (sesame/store.h) for
 * the tests of a store: the SQLite store's own tests and the conformance
 * suite every store passes.  Each fails the test when out of memory.
 */
#ifndef SESAME_TEST_RECORDS_H
#define SESAME_TEST_RECORDS_H

#include <jansson.h>

/* A normal user `id`, created and last logged in at 1000, data {"name": "n"}. */
json_t *rec_user(const char *id);
/* Identity `uid` of instance `provider` (type custom-token) held by `user`. */
json_t *rec_identity(const char *provider, const char *uid, const char *user, json_int_t updated);
/* Session `id` of `user` with refresh hash `hash`, created at 100. */
json_t *rec_session(const char *id, const char *user, const char *hash, json_int_t expires);

#endif
