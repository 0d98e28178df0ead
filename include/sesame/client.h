/* SPDX-License-Identifier: MIT */
/*
 * sesame/client.h — the API of libsesame-client: an end user's side of the
 * App Services client API v2.0, spoken to sesamed or to any server of that
 * API.  Several users are logged in on one device, one of them active; their
 * sessions (access and refresh tokens) live in a store file the library
 * keeps, shared safely by every process of the user that opens it.
 *
 *   sesame_client *c;
 *   sesame_client_error err;
 *   json_t *profile;
 *
 *   if (sesame_client_open("https://auth.example.com", "my-app", NULL, 0, &c, &err) != SESAME_CLIENT_OK ||
 *       sesame_client_login(c, "anon-user", NULL, NULL, &err) != SESAME_CLIENT_OK ||
 *       sesame_client_profile(c, &profile, &err) != SESAME_CLIENT_OK)
 *           fprintf(stderr, "%s\n", err.text);
 *
 * Link with `pkg-config --libs sesame-client`.  The library does not link
 * libsesame: it is a client of the HTTP API and needs libcurl, jansson and
 * OpenSSL's libcrypto only.
 *
 * Sessions.  Calls made with the active user's access token (profile,
 * link, delete, sesame_client_call()) that the server answers 401 with
 * "error_code": "InvalidSession" refresh the session once (POST
 * /auth/session with the refresh token) and are retried once, never more.
 * A 401 on a call made with the refresh token (the refresh itself, logout,
 * the API key calls) marks the user logged out: its tokens are forgotten
 * and the call fails with reason "logged-out".
 *
 * The store.  A JSON file per application (format in sesame-client(3)),
 * by default $XDG_STATE_HOME/sesame-client/APP_ID.json (XDG_STATE_HOME
 * unset or relative: ~/.local/state), mode 0600, in directories created
 * 0700.  Every change is read-modify-write under an exclusive flock() of
 * FILE.lock, written to FILE.tmp, fsync()ed and renamed over FILE, so two
 * processes sharing the store never lose each other's logins and a process
 * killed mid-update leaves the previous store.  A store that is not a
 * regular file owned by the caller with no group or other permissions, in
 * a directory writable only by its owner (the caller or root), that does
 * not parse (torn), or that belongs to another application or format
 * version (foreign), is refused with an error naming the file and nothing
 * is written.
 *
 * Outbound HTTP.  https only; http only to a loopback address (127.0.0.0/8,
 * ::1), checked on the address actually connected to.  No redirect is ever
 * followed: a 3xx answer is an error.  Answers are capped in size (1 MiB by
 * default) and requests in time (30 s by default, 10 s to connect); TLS
 * peers and host names are verified.  The server at the base URL names the
 * host of every later call in its location answer (its "hostname", held to
 * the same rules).
 *
 * Secrets.  The library never logs.  Tokens, passwords and API keys never
 * appear in an error text (a server message that echoes a token sent has
 * it replaced by "[token]"); buffers that held them are wiped before they
 * are freed.  The tokens in the store are as secret as the file's
 * permissions make them.
 *
 * Thread safety: every function taking a sesame_client may be called from
 * several threads; calls on one client run one at a time (a mutex per
 * client).  sesame_client_close() must not run concurrently with any other
 * call on the same client.
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#ifndef SESAME_CLIENT_H
#define SESAME_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SESAME_CLIENT_API __attribute__((visibility("default")))
#else
#define SESAME_CLIENT_API
#endif

/*
 * Status codes of every function that can fail (returned as an int; the
 * error record says more).  Stable: new codes are only ever appended.
 *
 *   SESAME_CLIENT_OK           success.
 *   SESAME_CLIENT_REFUSED      the server answered the request with an
 *                              error (4xx; err->http_status and err->code
 *                              say which), or the operation is refused
 *                              locally (switching to a user who is not
 *                              logged in: reason "not-logged-in").
 *   SESAME_CLIENT_USAGE        the caller used the API wrongly: a NULL or
 *                              invalid argument (a URL that is not https, a
 *                              provider name with a '/', ...).
 *   SESAME_CLIENT_STORE        the store cannot be read or written (reasons
 *                              "permissions", "owner", "torn", "foreign",
 *                              "io", "full"); the text names the file.
 *   SESAME_CLIENT_UNAVAILABLE  the server could not be reached, timed out,
 *                              or answered 5xx (reasons "connect",
 *                              "timeout", "tls", "server").
 *   SESAME_CLIENT_PROTOCOL     the server's answer is not the client API's:
 *                              a redirect ("redirect"), too large
 *                              ("too-large"), not JSON ("not-json"), wrong
 *                              types or values ("answer"), a location that
 *                              is not https ("https").  Nothing is stored.
 *   SESAME_CLIENT_NO_USER      no such user in the store ("unknown-user"),
 *                              or no active user ("no-active-user").
 *   SESAME_CLIENT_INTERNAL     out of memory, or libcurl failed to start.
 */
enum sesame_client_status {
	SESAME_CLIENT_OK = 0,
	SESAME_CLIENT_REFUSED = 1,
	SESAME_CLIENT_USAGE = 2,
	SESAME_CLIENT_STORE = 3,
	SESAME_CLIENT_UNAVAILABLE = 4,
	SESAME_CLIENT_PROTOCOL = 5,
	SESAME_CLIENT_NO_USER = 6,
	SESAME_CLIENT_INTERNAL = 7
};

/* Sizes of the text fields of sesame_client_error (including the NUL). */
#define SESAME_CLIENT_ERROR_CODE_LENGTH 48
#define SESAME_CLIENT_ERROR_REASON_LENGTH 32
#define SESAME_CLIENT_ERROR_TEXT_LENGTH 400

/*
 * An error record, caller-allocated, filled by the function that failed;
 * every string is NUL-terminated (truncated if needed).  NULL may be
 * passed where a function takes one.
 *
 *   status       one of enum sesame_client_status.
 *   http_status  the HTTP status of the server's answer, 0 when there was
 *                none.
 *   code         the server's App Services "error_code" ("InvalidSession",
 *                "AuthError", "AccountNameInUse", ...), empty when none.
 *   reason       a short stable word refining the status, listed with each
 *                status above ("logged-out" when a 401 on a refresh-token
 *                call ended the user's session); empty when the status says
 *                it all.
 *   text         one line for a human: what failed and, for the store, the
 *                file.  Server messages are cut to 200 bytes with control
 *                characters replaced by '?'.  Never holds a secret.
 */
typedef struct sesame_client_error {
	int status;
	long http_status;
	char code[SESAME_CLIENT_ERROR_CODE_LENGTH];
	char reason[SESAME_CLIENT_ERROR_REASON_LENGTH];
	char text[SESAME_CLIENT_ERROR_TEXT_LENGTH];
} sesame_client_error;

/* A client: a server, an application id and a store.  Opaque. */
typedef struct sesame_client sesame_client;

/* The largest token, user id and store the library accepts. */
#define SESAME_CLIENT_TOKEN_MAX 16384
#define SESAME_CLIENT_ID_MAX 128
#define SESAME_CLIENT_STORE_MAX (4 * 1024 * 1024)

/* The defaults of sesame_client_set_limits(). */
#define SESAME_CLIENT_DEFAULT_TIMEOUT_MS 30000L
#define SESAME_CLIENT_CONNECT_TIMEOUT_MS 10000L
#define SESAME_CLIENT_DEFAULT_MAX_BODY (1024 * 1024)

/* The library version, e.g. "0.1.0".  Since 0.1. */
SESAME_CLIENT_API const char *sesame_client_version(void);

/* A short English name of a status code ("ok", "refused", "usage", "store",
 * "unavailable", "protocol", "no user", "internal").  Never NULL.
 * Since 0.1. */
SESAME_CLIENT_API const char *sesame_client_status_name(int status);

/*
 * The default store path of application `app_id`, malloc'd (free() it):
 * $XDG_STATE_HOME/sesame-client/APP_ID.json when XDG_STATE_HOME is an
 * absolute path, else $HOME/.local/state/sesame-client/APP_ID.json (HOME
 * unset: the password database's home directory).  NULL when `app_id` is
 * not valid (see sesame_client_open()) or no home directory is known.
 * Since 0.1.
 */
SESAME_CLIENT_API char *sesame_client_default_store(const char *app_id);

/*
 * Open a client of the server at `base_url` (https://HOST[:PORT][/PATH],
 * or http:// to a loopback host; no user name, query or fragment; NULL
 * when only the store will be used: the calls that need the server then
 * fail with SESAME_CLIENT_USAGE) for application `app_id` (1 to 128 of
 * A-Z a-z 0-9 . _ -, not starting with '.'), keeping users in
 * `store_path` (NULL: sesame_client_default_store()).  Nothing is read,
 * created or fetched yet: the store is checked by the first call that
 * uses it, and the location (GET /app/APP_ID/location) is fetched by the
 * first call that needs the server.  `flags` must be 0.  On
 * SESAME_CLIENT_OK `*client` is the client; free it with
 * sesame_client_close().  Errors: SESAME_CLIENT_USAGE (the argument
 * named), SESAME_CLIENT_INTERNAL.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_open(const char *base_url, const char *app_id, const char *store_path,
					 unsigned flags, sesame_client **client, sesame_client_error *err);

/* Close the client (NULL allowed); its tokens in memory are wiped.
 * Since 0.1. */
SESAME_CLIENT_API void sesame_client_close(sesame_client *client);

/*
 * The limits of every later request: `timeout_ms` for the whole request
 * (0: SESAME_CLIENT_DEFAULT_TIMEOUT_MS; connecting takes at most the
 * smaller of it and SESAME_CLIENT_CONNECT_TIMEOUT_MS) and `max_body`, the
 * largest answer body in bytes (0: SESAME_CLIENT_DEFAULT_MAX_BODY; at most
 * 64 MiB).  Errors: SESAME_CLIENT_USAGE (negative timeout, body limit
 * over 64 MiB).  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_set_limits(sesame_client *client, long timeout_ms, size_t max_body,
					       sesame_client_error *err);

/*
 * Fetch the location (GET BASE/api/client/v2.0/app/APP_ID/location) again
 * and make its "hostname" the base of every later call.  On
 * SESAME_CLIENT_OK `*location` (when not NULL) is a new reference to the
 * answer {"deployment_model", "location", "hostname", "ws_hostname"}.
 * Errors: SESAME_CLIENT_PROTOCOL "https" when the hostname is neither an
 * https URL nor an http URL of a loopback host, "answer" when "hostname"
 * is missing or a member is not a string; the transport errors.
 * Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_location(sesame_client *client, json_t **location, sesame_client_error *err);

/* ---- users on this device ------------------------------------------------- */

/*
 * Log in with provider instance `provider` (as in the URL: A-Z a-z 0-9 .
 * _ -) and `credential` (a JSON object, borrowed; NULL: {}), the store's
 * device id sent as options.device.deviceId ({"$oid": "24 hex"}, created
 * once per store from 96 random bits).  Then read the user's profile (for
 * the provider types of its identities) and store the user as logged in,
 * most recently active, and active.  A user already in the store gets the
 * new session.  On SESAME_CLIENT_OK `*user_id` (when not NULL) is the
 * user's id, malloc'd.  Errors: SESAME_CLIENT_REFUSED with the server's
 * code ("AuthError", "InvalidPassword", ...); SESAME_CLIENT_PROTOCOL when
 * the answer lacks a token or a user id, or holds one that is not a
 * printable token of at most SESAME_CLIENT_TOKEN_MAX bytes (then the new
 * session is logged out); the store and transport errors.  A failed login
 * stores no user (the store and its device id are made by the first
 * login, whatever its outcome).  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_login(sesame_client *client, const char *provider, const json_t *credential,
					  char **user_id, sesame_client_error *err);

/*
 * The users of the store, most recently active first, as a new reference
 * to an array of {"id", "state": "LoggedIn"|"LoggedOut", "active": bool,
 * "providers": [TYPE, ...]}.  A missing store has none.  Errors: the store
 * errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_users(sesame_client *client, json_t **users, sesame_client_error *err);

/*
 * The active user's entry (as in sesame_client_users()), a new reference.
 * Errors: SESAME_CLIENT_NO_USER "no-active-user"; the store errors.
 * Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_current_user(sesame_client *client, json_t **user, sesame_client_error *err);

/*
 * Make user `user_id` the active (and most recently active) user.  Errors:
 * SESAME_CLIENT_NO_USER "unknown-user"; SESAME_CLIENT_REFUSED
 * "not-logged-in" for a user who is logged out (nothing changes); the store
 * errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_switch(sesame_client *client, const char *user_id, sesame_client_error *err);

/*
 * Log user `user_id` (NULL: the active user) out: DELETE /auth/session
 * with its refresh token.  The user stays in the store, logged out, with
 * its tokens forgotten; an anonymous user (all of whose identities are of
 * provider type "anon-user": the server deletes it at logout) is forgotten.
 * When it was the active user, the most recently active user still logged
 * in becomes active (or none).  A 401 answer means the session had already
 * ended and counts as done; any other failure changes nothing and is
 * returned, so the session is known to be over when this succeeds.  A user
 * already logged out: SESAME_CLIENT_OK, nothing to do.  Errors:
 * SESAME_CLIENT_NO_USER; the store and transport errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_logout(sesame_client *client, const char *user_id, sesame_client_error *err);

/*
 * Log user `user_id` out (as sesame_client_logout(), when logged in) and
 * forget it.  Errors: those of sesame_client_logout(); the user stays when
 * its logout fails.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_remove(sesame_client *client, const char *user_id, sesame_client_error *err);

/*
 * Link the identity of `credential` (borrowed; NULL: {}) at provider
 * instance `provider` to the active user: POST .../login?link=true with its
 * access token.  The answer's access token replaces the user's (its
 * refresh token, null from sesamed, is ignored: the user keeps its
 * session); its "user_id" must be the active user's.  The user's provider
 * types are read again from its profile.  Errors: SESAME_CLIENT_NO_USER;
 * SESAME_CLIENT_REFUSED with the server's answer (an identity held by
 * another user: 401 "InvalidSession", "a user already exists with the
 * specified provider", after the one refresh and retry); the store and
 * transport errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_link(sesame_client *client, const char *provider, const json_t *credential,
					 sesame_client_error *err);

/*
 * Delete the active user's account (DELETE /auth/delete) and forget the
 * user; the most recently active user still logged in becomes active.
 * Errors: SESAME_CLIENT_NO_USER; the server's refusal; the store and
 * transport errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_delete(sesame_client *client, sesame_client_error *err);

/*
 * The active user's profile (GET /auth/profile), a new reference:
 * {"user_id", "type", "identities": [{"id", "provider_type", ...}], "data",
 * ...} as the server sent it; its "user_id" must be the active user's.  The
 * stored provider types are updated from it.  Errors:
 * SESAME_CLIENT_NO_USER; SESAME_CLIENT_PROTOCOL "answer"; the server's
 * refusal; the store and transport errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_profile(sesame_client *client, json_t **profile, sesame_client_error *err);

/*
 * Refresh the active user's session (POST /auth/session), store the new
 * access token and return the custom data it carries (its "user_data"
 * claim, read without verifying the token, as the SDKs do; {} when it has
 * none), a new reference.  Custom data changes reach the client this way
 * only.  Errors: SESAME_CLIENT_REFUSED "logged-out"; SESAME_CLIENT_PROTOCOL
 * when the token's payload is not a JSON object; the store and transport
 * errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_refresh_custom_data(sesame_client *client, json_t **custom_data,
							sesame_client_error *err);

/*
 * An authenticated request of the application's own: `method` (GET, POST,
 * PUT, PATCH or DELETE) to `path` (starting with '/', relative to the
 * location's hostname, e.g. "/api/client/v2.0/app/my-app/functions/call";
 * no space, control character or '#') with `body` (borrowed; NULL: none)
 * as JSON and the active user's access token, refreshed once on a 401
 * InvalidSession as above.  On SESAME_CLIENT_OK (a 2xx answer)
 * `*http_status` (when not NULL) is the status and `*answer` (when not
 * NULL) a new reference to the JSON answer, or NULL when it was empty.
 * Errors: SESAME_CLIENT_REFUSED for a 4xx answer (err->http_status,
 * err->code); SESAME_CLIENT_NO_USER; SESAME_CLIENT_PROTOCOL for a
 * non-empty answer that is not JSON; the store and transport errors.
 * Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_call(sesame_client *client, const char *method, const char *path,
					 const json_t *body, long *http_status, json_t **answer,
					 sesame_client_error *err);

/* ---- email/password (unauthenticated) ----------------------------------- */

/*
 * The email/password calls of provider instance `provider` (NULL:
 * "local-userpass"), POSTs under /app/APP_ID/auth/providers/PROVIDER/:
 *
 *   register        {email, password}              register an account
 *   confirm         {token, tokenId}               confirm it
 *   confirm/send    {email}                        mail the confirmation again
 *   confirm/call    {email}                        run the confirmation function again
 *   reset/send      {email}                        mail a password reset
 *   reset           {password, token, tokenId}     set the new password
 *   reset/call      {email, password, arguments}   run the reset function
 *
 * No user changes.  Errors: SESAME_CLIENT_REFUSED with the server's code
 * ("AccountNameInUse", "UserNotFound", "UserpassTokenInvalid",
 * "InvalidPassword", ...), SESAME_CLIENT_USAGE for a NULL string; the
 * transport errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_register(sesame_client *client, const char *provider, const char *email,
					     const char *password, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_confirm(sesame_client *client, const char *provider, const char *token,
					    const char *token_id, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_resend_confirmation(sesame_client *client, const char *provider, const char *email,
							sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_retry_custom_confirmation(sesame_client *client, const char *provider,
							      const char *email, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_send_reset_email(sesame_client *client, const char *provider, const char *email,
						     sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_reset_password(sesame_client *client, const char *provider, const char *token,
						   const char *token_id, const char *password,
						   sesame_client_error *err);
/* `arguments`: a JSON array (borrowed; NULL: []). */
SESAME_CLIENT_API int sesame_client_call_reset_function(sesame_client *client, const char *provider, const char *email,
							const char *password, const json_t *arguments,
							sesame_client_error *err);

/* ---- the active user's API keys (refresh-token calls) ---------------------- */

/*
 * The active user's API keys, with its refresh token (a 401 logs it out):
 *
 *   create   POST /auth/api_keys {name}   `*key`: {"_id", "key", "name", "disabled"};
 *                                         the key itself is shown only here
 *   list     GET /auth/api_keys           `*keys`: [{"_id", "name", "disabled"}, ...]
 *   get      GET /auth/api_keys/ID        `*key`: {"_id", "name", "disabled"}
 *   enable, disable, delete               PUT .../ID/enable, PUT .../ID/disable, DELETE .../ID
 *
 * `id` is 1 to 128 of A-Z a-z 0-9 _ -.  Results are new references.
 * Errors: SESAME_CLIENT_NO_USER; SESAME_CLIENT_REFUSED with the server's
 * code ("APIKeyNotFound", "InvalidParameter", ...); SESAME_CLIENT_PROTOCOL
 * when an answer is not of the form above; the store and transport
 * errors.  Since 0.1.
 */
SESAME_CLIENT_API int sesame_client_api_key_create(sesame_client *client, const char *name, json_t **key,
						   sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_api_keys(sesame_client *client, json_t **keys, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_api_key_get(sesame_client *client, const char *id, json_t **key,
						sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_api_key_enable(sesame_client *client, const char *id, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_api_key_disable(sesame_client *client, const char *id, sesame_client_error *err);
SESAME_CLIENT_API int sesame_client_api_key_delete(sesame_client *client, const char *id, sesame_client_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SESAME_CLIENT_H */
