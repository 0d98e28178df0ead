/* SPDX-License-Identifier: MIT */
/*
 * sesame/common.h — types shared by every sesame audience: the status codes
 * and the error record that the application API, the provider ABI and the
 * store ABI all report through.
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#ifndef SESAME_COMMON_H
#define SESAME_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SESAME_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SESAME_PRINTF(fmt, args)
#endif

/*
 * Status codes.
 *
 * Every sesame function that can fail returns one of these (as an int) and,
 * when given a non-NULL sesame_error, fills it.  A provider's verify()
 * answers one of the first five (OK, REJECTED, MALFORMED, UNAVAILABLE,
 * INTERNAL), its init() also CONFIG, its actions also NOT_FOUND and
 * CONFLICT: sesame-provider(3), RESULT CODES, says it once for every hook.
 * The values are stable: new codes are only ever appended.
 *
 *   SESAME_OK           success.
 *   SESAME_REJECTED     the credential, token or operation was understood and
 *                       refused (bad signature, expired, wrong audience,
 *                       wrong password, disabled user, ...).
 *   SESAME_MALFORMED    the request itself is not well formed (bad JSON, bad
 *                       base64url, wrong types, missing fields, too large).
 *   SESAME_UNAVAILABLE  a dependency could not be reached or did not answer
 *                       sanely (identity provider, JWKS endpoint, store, a
 *                       plugin that failed to load).  sesame fails closed.
 *   SESAME_INTERNAL     a bug or resource exhaustion inside sesame or a
 *                       plugin.
 *   SESAME_CONFIG       the configuration is invalid; the message names the
 *                       file, line and column.
 *   SESAME_NOT_FOUND    the named object (provider instance, user, session)
 *                       does not exist.
 *   SESAME_CONFLICT     the operation conflicts with existing state (an
 *                       identity already linked to another user, a name in
 *                       use).
 *   SESAME_USAGE        the caller used the API wrongly (NULL argument,
 *                       operation not allowed in this context).
 */
typedef enum sesame_status {
	SESAME_OK = 0,
	SESAME_REJECTED = 1,
	SESAME_MALFORMED = 2,
	SESAME_UNAVAILABLE = 3,
	SESAME_INTERNAL = 4,
	SESAME_CONFIG = 5,
	SESAME_NOT_FOUND = 6,
	SESAME_CONFLICT = 7,
	SESAME_USAGE = 8
} sesame_status;

/*
 * Provider capabilities: what the core and the fronts (sesamed, the sesame
 * command line) do differently for the identities of a provider.  A
 * provider declares them in its descriptor (struct sesame_provider's
 * `capabilities`, since provider ABI 1.2); applications read them with
 * sesame_provider_capabilities() and sesame_provider_find().  Nothing in
 * sesame decides by a provider's type name: a third-party provider gets any
 * of these behaviours by declaring the flag.  Values are stable; new flags
 * are only ever appended.
 *
 *   SESAME_PROVIDER_CAP_ANONYMOUS       every login creates a new user.  A
 *       user all of whose identities come from such providers is anonymous:
 *       it is deleted when its last session logs out, the provider actions
 *       see it as {"anonymous": true}, sesamed throttles these logins per
 *       client address, and its identities are never linked into another
 *       user (the flag implies SESAME_PROVIDER_CAP_NO_LINK).
 *   SESAME_PROVIDER_CAP_NO_LINK         identities of this provider are never
 *       linked into an existing user (SESAME_REJECTED "link-type").
 *   SESAME_PROVIDER_CAP_ONE_PER_USER    a user holds at most one identity of
 *       this provider's type: linking a second one is SESAME_REJECTED
 *       "link-type" (e.g. one email/password account per user).
 *   SESAME_PROVIDER_CAP_EMAIL_PASSWORD  the provider serves the App Services
 *       email/password client routes (register, confirm, confirm/send,
 *       confirm/call, reset, reset/send, reset/call) through its actions of
 *       those names.
 *   SESAME_PROVIDER_CAP_API_KEYS        the provider serves the user API key
 *       client routes (/auth/api_keys) through its actions "create", "list",
 *       "get", "delete", "enable" and "disable"; the fronts use the first
 *       such instance in order of name.
 *   SESAME_PROVIDER_CAP_WEB_REDIRECT    the provider supports the web redirect
 *       (OAuth) flow: an "authorize_url" action, and a credential
 *       {"authCode", "redirect_uri", "code_verifier"} from the callback.
 */
#define SESAME_PROVIDER_CAP_ANONYMOUS 0x01u
#define SESAME_PROVIDER_CAP_NO_LINK 0x02u
#define SESAME_PROVIDER_CAP_ONE_PER_USER 0x04u
#define SESAME_PROVIDER_CAP_EMAIL_PASSWORD 0x08u
#define SESAME_PROVIDER_CAP_API_KEYS 0x10u
#define SESAME_PROVIDER_CAP_WEB_REDIRECT 0x20u
/* Every flag this version knows; the core ignores the others. */
#define SESAME_PROVIDER_CAP_ALL 0x3fu

/* Log levels, with syslog's values. */
#define SESAME_LOG_ERR 3
#define SESAME_LOG_WARNING 4
#define SESAME_LOG_NOTICE 5
#define SESAME_LOG_INFO 6
#define SESAME_LOG_DEBUG 7

/* Sizes of the text fields of struct sesame_error (including the NUL). */
#define SESAME_ERROR_SOURCE_LENGTH 256
#define SESAME_ERROR_REASON_LENGTH 32
#define SESAME_ERROR_TEXT_LENGTH 320

/*
 * An error record, filled by the function that failed (modelled on
 * jansson's json_error_t: fixed size, caller-allocated, no free needed).
 *
 *   status  one of sesame_status.
 *   reason  a short stable machine-readable word that refines the status,
 *           for programs and tests: e.g. "alg", "sig", "claim", "nokey",
 *           "syntax", "unknown-key", "abi", "permissions".  Empty when the
 *           status says it all.  The reasons a function can give are listed
 *           in its documentation; they are never localised.
 *   source  where the error is: a file name for configuration errors, a
 *           provider instance name for provider errors, else empty.
 *   line, column  1-based position in `source` when it is a file, else 0.
 *   text    a one-line human-readable message.  Never contains a secret.
 *
 * All strings are always NUL-terminated, truncated if needed.  When
 * libsesame fills them (also for a plugin, through the host's error()), they
 * are valid UTF-8, ready for a JSON body: a truncation ends before a
 * character, never inside it, and quoted bytes that are not UTF-8 (from a
 * request path, say) are replaced by U+FFFD.  Since 0.1.
 */
typedef struct sesame_error {
	int status;
	int line;
	int column;
	char reason[SESAME_ERROR_REASON_LENGTH];
	char source[SESAME_ERROR_SOURCE_LENGTH];
	char text[SESAME_ERROR_TEXT_LENGTH];
} sesame_error;

#ifdef __cplusplus
}
#endif

#endif /* SESAME_COMMON_H */
