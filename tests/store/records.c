/* SPDX-License-Identifier: MIT */
/* tests/store/records.c — well-formed store records for the store tests (see records.h). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "records.h"

json_t *rec_user(const char *id)
{
	json_t *u =
	    json_pack("{s:s, s:s, s:b, s:I, s:I, s:{s:s}, s:{}}", "id", id, "type", "normal", "disabled", 0, "created",
		      (json_int_t)1000, "last_login", (json_int_t)1000, "data", "name", "n", "custom_data");

	assert_non_null(u);
	return u;
}

json_t *rec_identity(const char *provider, const char *uid, const char *user, json_int_t updated)
{
	json_t *i = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s}, s:I, s:I}", "provider", provider, "provider_type",
			      "custom-token", "id", uid, "user_id", user, "data", "from", uid, "private", "p", "secret",
			      "created", (json_int_t)10, "updated", updated);

	assert_non_null(i);
	return i;
}

json_t *rec_session(const char *id, const char *user, const char *hash, json_int_t expires)
{
	json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", id, "user_id", user, "device_id",
			      "000000000000000000000000", "refresh_hash", hash, "created", (json_int_t)100, "expires",
			      expires, "last_used", (json_int_t)100);

	assert_non_null(s);
	return s;
}
