/* SPDX-License-Identifier: MIT */
/*
 * shared/store-record.h — the checks every store plugin makes of the
 * records the core hands it (the members sesame/store.h lists), so that
 * each store refuses exactly what the others refuse.  Compiled into each
 * store plugin; pure functions, no state, no allocation.
 */
#ifndef SESAME_STORE_RECORD_H
#define SESAME_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* `len` lowercase hex digits exactly (NULL: false). */
bool store_rec_hex(const char *s, size_t len);
/* A record id: SESAME_STORE_ID_LENGTH lowercase hex digits. */
bool store_rec_id(const char *s);
/* A non-empty string. */
bool store_rec_text(const char *s);
/* A key id: 1 to SESAME_STORE_KID_MAX of [A-Za-z0-9_-]. */
bool store_rec_kid(const char *s);
/* A PEM text of at most SESAME_STORE_PEM_MAX bytes. */
bool store_rec_pem(const char *s);
/* The string member `key` of `rec`, or NULL. */
const char *store_rec_str(const json_t *rec, const char *key);

/*
 * The first member of a user, identity or session record that is missing
 * or invalid, or NULL when the record is complete.
 */
const char *store_rec_user_invalid(const json_t *u);
const char *store_rec_identity_invalid(const json_t *i);
const char *store_rec_session_invalid(const json_t *se);

/* The first member of the object `changes` that is not in the
 * NULL-terminated `allowed`, or NULL. */
const char *store_rec_change_refused(const json_t *changes, const char *const *allowed);

#endif /* SESAME_STORE_RECORD_H */
