/* SPDX-License-Identifier: MIT */
/*
 * sesame/sesame.h — the application API of libsesame.
 *
 * An application creates a context, points it at a configuration file,
 * and then logs users in with the configured provider instances: accounts
 * that merge the identities of several providers, sessions with access
 * and refresh tokens, the system user for administration, and role-based
 * rules.  Every function below says since which version of the library
 * it exists (0.1 is the first release).
 *
 *   sesame_ctx *ctx = sesame_new();
 *   sesame_error err;
 *   if (!ctx || sesame_configure(ctx, NULL, 0, &err) != SESAME_OK)
 *           fprintf(stderr, "%s\n", err.text);
 *
 * Thread safety: sesame_configure() and sesame_free() must not run
 * concurrently with any other call on the same context.  Every other
 * function may be called from any number of threads at once.
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#ifndef SESAME_SESAME_H
#define SESAME_SESAME_H

#include <jansson.h>
#include <sesame/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SESAME_API __attribute__((visibility("default")))
#else
#define SESAME_API
#endif

/* A sesame context: configuration, loaded providers, logger.  Opaque. */
typedef struct sesame_ctx sesame_ctx;

/*
 * Where log messages go.  `level` is one of SESAME_LOG_* (syslog values:
 * 3 error .. 7 debug); `message` is one line without a newline, never holds
 * a secret, and is only valid during the call.  May be called from any
 * thread.  The default logger writes "sesame: LEVEL: message" to stderr
 * for levels up to SESAME_LOG_NOTICE.
 */
typedef void (*sesame_log_fn)(void *data, int level, const char *message);

/*
 * The longest access token sesame issues, in bytes.  A front end accepting
 * sesame's access tokens must accept bearer tokens of this length (sesamed
 * does); custom data that would make a longer token is refused when it is
 * set.  Since 0.1.
 */
#define SESAME_ACCESS_TOKEN_MAX 16384

/* Flags for sesame_configure(). */
#define SESAME_CONFIGURE_NO_DEFAULT_FILE 0x1u /* path NULL: a missing default main file is an error */

/* Flags for sesame_config_json(). */
#define SESAME_CONFIG_SHOW_SECRETS 0x1u /* do not mask secrets (never for logs) */

/*
 * The library version, e.g. "0.1.0".  Since 0.1.
 */
SESAME_API const char *sesame_version(void);

/*
 * A short English name of a status code ("ok", "rejected", "malformed",
 * "unavailable", "internal", "config", "not found", "conflict", "usage").
 * Never NULL.  Since 0.1.
 */
SESAME_API const char *sesame_status_name(int status);

/*
 * Create an empty context, or NULL when out of memory.  Configure it with
 * sesame_configure() before use; free it with sesame_free().  Since 0.1.
 */
SESAME_API sesame_ctx *sesame_new(void);

/*
 * Route log messages to `fn` (NULL restores the default stderr logger)
 * and drop those above `max_level`.  Call before sesame_configure() to see
 * its messages.  Since 0.1.
 */
SESAME_API void sesame_set_logger(sesame_ctx *ctx, sesame_log_fn fn, void *data, int max_level);

/*
 * Read the main configuration file `path` (NULL: the compiled-in default,
 * $(sysconfdir)/sesame/sesame.json, where a missing file means built-in
 * defaults unless SESAME_CONFIGURE_NO_DEFAULT_FILE is given; a `path` that
 * does not exist is an error), read the provider drop-ins, load the plugin of every enabled
 * provider instance and initialise it.  A provider whose plugin fails to
 * load or initialise is logged and fails closed (its logins answer
 * SESAME_UNAVAILABLE); the others work.
 *
 * Errors: SESAME_CONFIG when a file is invalid (err->source, line and column
 * say where), when no provider is enabled, or when no enabled provider could
 * be loaded; SESAME_USAGE when the context is already configured.  Since 0.1.
 */
SESAME_API int sesame_configure(sesame_ctx *ctx, const char *path, unsigned flags, sesame_error *err);

/* Free the context.  NULL is allowed.  Plugins stay mapped until exit.
 * Since 0.1. */
SESAME_API void sesame_free(sesame_ctx *ctx);

/*
 * The merged configuration as JSON (a new reference): the main settings
 * with defaults filled in and "providers", an object of instance name ->
 * {"type", "disabled", "source", "config", "metadata_fields"}.  Secrets
 * are masked as "********" (or shown as their "@/path" reference) unless
 * SESAME_CONFIG_SHOW_SECRETS is given.  NULL before sesame_configure() or
 * when out of memory.  Since 0.1.
 */
SESAME_API json_t *sesame_config_json(const sesame_ctx *ctx, unsigned flags);

/*
 * The provider instances as a JSON array (a new reference), in lexical
 * order of name, each {"name", "type", "enabled", "state", "capabilities",
 * "plugin", "source", "version", "description", "error"}; "state" is
 * "ready", "disabled" or "failed" (then "error" says why); "capabilities"
 * lists the names of the instance's SESAME_PROVIDER_CAP_* flags
 * ("anonymous", "no-link", "one-per-user", "email-password", "api-keys",
 * "web-redirect"; empty for a disabled instance or one whose plugin did not
 * load).  NULL before sesame_configure().  Since 0.1.
 */
SESAME_API json_t *sesame_providers_json(const sesame_ctx *ctx);

/*
 * The capabilities of provider instance `provider`: SESAME_PROVIDER_CAP_*
 * flags (<sesame/common.h>) in `*caps`, as its plugin declares them (an
 * anonymous provider's always include SESAME_PROVIDER_CAP_NO_LINK).  A
 * cheap lookup (no allocation, no store access) for the fronts, which
 * decide by capability, never by type name.  An instance whose plugin
 * failed to initialise keeps its capabilities (its operations then answer
 * SESAME_UNAVAILABLE); one whose plugin did not load has none.  Errors:
 * SESAME_NOT_FOUND "provider" for an unknown or disabled instance (`*caps`
 * 0), SESAME_USAGE.  Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_provider_capabilities(sesame_ctx *ctx, const char *provider, unsigned *caps, sesame_error *err);

/*
 * The first enabled provider instance, in lexical order of name, that has
 * every capability of `caps` (non-zero): e.g. the instance serving the
 * user API key routes, SESAME_PROVIDER_CAP_API_KEYS.  `*provider` is its
 * name, valid as long as the context.  Errors: SESAME_NOT_FOUND "provider"
 * when none has them, SESAME_USAGE (`caps` 0, NULL arguments).
 * Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_provider_find(sesame_ctx *ctx, unsigned caps, const char **provider, sesame_error *err);

/*
 * Verify `credential` (borrowed) with the provider instance `provider` and
 * return the identity it vouches for, re-checked by the core, as a new
 * reference in `*identity`: {"provider": NAME, "provider_type": TYPE,
 * "id": UID, "data": {...}, "private": {...}}.  Nothing is stored: this is
 * the verification step of a login.
 *
 * Errors: SESAME_NOT_FOUND (reason "provider") for an unknown or disabled
 * instance; SESAME_UNAVAILABLE when its plugin failed to load; otherwise
 * what the provider answered (SESAME_REJECTED, SESAME_MALFORMED,
 * SESAME_UNAVAILABLE, SESAME_INTERNAL), or SESAME_INTERNAL with reason
 * "identity" when the provider returned an identity the core refuses.
 * A provider that hashes passwords passes on SESAME_UNAVAILABLE "busy"
 * when the process-wide memory budget of password hashing (sesame.json's
 * "password_hashing") stayed in use past its wait: the request may be
 * retried later.  Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_verify_credential(sesame_ctx *ctx, const char *provider, const json_t *credential,
					json_t **identity, sesame_error *err);

/*
 * Run the provider-specific operation `name` of the provider instance
 * `provider` with `args` (a JSON object, borrowed) on behalf of nobody:
 * e.g. "authorize_url" of the social providers, which builds the
 * authorization URL of the web redirect flow from {"redirect",
 * "redirect_uri", "state", "code_challenge"} and refuses a redirect outside
 * its redirect_uris (SESAME_REJECTED, reason "redirect").  The same as
 * sesame_provider_action_as() with a NULL caller: a "caller" member of
 * `args` is removed before the plugin sees them, so no program can claim
 * to be a user or the system user inside JSON.  On SESAME_OK `*result` is
 * a new reference (or NULL).  Errors: those of sesame_provider_action_as().
 * Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_provider_action(sesame_ctx *ctx, const char *provider, const char *name, const json_t *args,
				      json_t **result, sesame_error *err);

/* ---- logins and sessions ------------------------------------------------ */

/*
 * Log in: verify `credential` (borrowed) with the provider instance
 * `provider`, merge the identity into its user account (creating the user
 * on a first login, refreshing the identity's data on every login) and open
 * a session on device `device_id`: kept when it is an ObjectId (24
 * lowercase hex digits, not all zero); anything else (NULL, empty, the
 * SDKs' all-zero "none", another string) gets a new random device id.
 * This is the only place the rule lives: sesamed passes on what the client
 * sent.  On SESAME_OK `*session` is a new reference to
 *
 *   {"user_id", "device_id", "access_token", "refresh_token"}
 *
 * A refused login writes nothing.  Errors: those of
 * sesame_verify_credential(); SESAME_REJECTED "disabled" for a disabled
 * user; SESAME_UNAVAILABLE when the store cannot be reached.  Thread-safe.
 * Since 0.1.
 */
SESAME_API int sesame_login(sesame_ctx *ctx, const char *provider, const json_t *credential, const char *device_id,
			    json_t **session, sesame_error *err);

/*
 * A new access token for the session of `refresh_token`: on SESAME_OK
 * `*result` is a new reference to {"access_token"}.  The access token
 * carries the user's current custom data.  A refresh token is checked
 * against the store (the SHA-256 of its secret, its session and user),
 * never against a signing key, so key rotation ends no session.  Errors:
 * SESAME_MALFORMED "malformed" (not a compact JWS); SESAME_REJECTED with
 * reason "alg", "typ" (not a refresh token), "session" or "disabled".  A
 * refresh token whose session no longer exists (logged out, revoked, its
 * user disabled or deleted, a password reset, or expired) is
 * SESAME_REJECTED "session" with the text "failed to find refresh token",
 * the App Services wording that SDKs look for.  Since 0.1.
 */
SESAME_API int sesame_session_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **result,
				      sesame_error *err);

/*
 * End the session of `refresh_token`.  An anonymous user (one all of whose
 * identities come from providers with SESAME_PROVIDER_CAP_ANONYMOUS; an
 * identity of an instance no longer configured does not count as
 * anonymous) is deleted with its last session.  Errors as
 * sesame_session_refresh(): a session that has already ended is
 * SESAME_REJECTED "session" "failed to find refresh token".  Since 0.1.
 */
SESAME_API int sesame_session_logout(sesame_ctx *ctx, const char *refresh_token, sesame_error *err);

/* Flags for sesame_access_token_verify(). */
#define SESAME_VERIFY_SESSION 0x1u /* also check the session still exists (immediate revocation) */

/*
 * Verify an access token sesame issued: signature (sesame's current or a
 * retired key), "typ" "access", "aud" the app id, "iss" the public URL,
 * "exp"/"iat" with 5 s of leeway.  With SESAME_VERIFY_SESSION the session
 * must still exist, so logout, revocation, disabling and deletion take
 * effect at once; without it a token stays valid until it expires (30
 * minutes by default) and no store access is made.  On SESAME_OK `*claims`
 * is a new reference to the claims.  Errors as sesame_session_refresh().
 * Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_access_token_verify(sesame_ctx *ctx, const char *token, unsigned flags, json_t **claims,
					  sesame_error *err);

/*
 * The public keys that verify sesame's tokens, as a JWKS document (a new
 * reference), for services that verify access tokens themselves.  NULL on
 * error (err says why: e.g. an unreadable signing key).  Since 0.1.
 */
SESAME_API json_t *sesame_jwks(sesame_ctx *ctx, sesame_error *err);

/*
 * Make a new signing key; the old one is retired and keeps verifying the
 * access tokens it signed until they expire (then it is pruned).  No
 * session ends: refresh tokens do not depend on a signing key.  The keys
 * live in the store (both built-in stores; a store plugin of store ABI
 * 1.0 keeps them in the key files), so every process on the same store
 * (several sesamed nodes on one database) notices the change within
 * seconds, or at once when it meets a token with the new kid, and needs
 * no reload; this context signs with the new key at once.  On SESAME_OK
 * `*result` is a new reference to {"kid": NEW_KID}.  Other calls may run
 * meanwhile, rotations included (they happen one after the other).
 * Since 0.1.
 */
SESAME_API int sesame_keys_rotate(sesame_ctx *ctx, json_t **result, sesame_error *err);

/*
 * Copy everything of this context's store — every user, identity,
 * session, provider key/value entry (password hashes, API keys, pending
 * tokens, failure counters; expired ones are left out) and signing key —
 * into the store that the main configuration file `target_config`
 * configures (only its "store", "store_dir" and "state_dir" are used), for
 * a move from one store to another (SQLite to PostgreSQL and back).  IDs,
 * refresh-token hashes and keys are kept, so users log in with the same
 * id and existing refresh and access tokens keep working.  The source is
 * read in one read transaction (a consistent copy even while it is in
 * use) and the target written in one write transaction: a failed copy
 * leaves the target as it was.  On SESAME_OK `*result` (NULL allowed) is
 * a new reference to {"users": N, "identities": N, "sessions": N,
 * "provider_records": N, "keys": N}.  Errors: SESAME_CONFIG for the target
 * configuration; SESAME_CONFLICT "not-empty" when the target holds any
 * record; SESAME_USAGE "listing" when a store cannot list its records
 * (store ABI 1.0), "keys" when the source's keys cannot be kept by the
 * target; store errors.  Since 0.1.
 */
SESAME_API int sesame_store_migrate(sesame_ctx *ctx, const char *target_config, json_t **result,
				    sesame_error *err);

/*
 * The number of sessions that have not expired, across all users: a
 * cheap query that also proves the store is reachable (health checks,
 * metrics).  SESAME_UNAVAILABLE when the store cannot be reached.
 * Since 0.1.
 */
SESAME_API int sesame_active_sessions(sesame_ctx *ctx, uint64_t *count, sesame_error *err);

/*
 * Move the context's clock `seconds` forward (or back, when negative), for
 * tests: every expiry sesame checks (access and refresh tokens, sessions,
 * one-time tokens, provider key/value entries) and every timestamp it
 * writes follow the moved clock, so a test proves an expiry by moving time
 * instead of sleeping.  Refused with SESAME_USAGE (reason "test-mode")
 * unless the configuration has "test_mode": true.  Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_clock_advance(sesame_ctx *ctx, int64_t seconds, sesame_error *err);

/* ---- callers: who asks for an account operation ------------------------ */

/*
 * Every account operation runs on behalf of a caller: either a user, known
 * by a valid access token, who may only read and change its own account,
 * or the system user, which may do anything and which rules never apply
 * to.  There is no way to act as the system user without asking for it by
 * name with sesame_caller_system().  A caller is immutable; free it with
 * sesame_caller_free().  It must not outlive its context.
 */
typedef struct sesame_caller sesame_caller;

/* The system user of `ctx`, or NULL when out of memory.  Since 0.1. */
SESAME_API sesame_caller *sesame_caller_system(sesame_ctx *ctx);

/*
 * The user holding `access_token` (checked as sesame_access_token_verify()
 * with SESAME_VERIFY_SESSION does).  Since 0.1.
 */
SESAME_API int sesame_caller_from_access_token(sesame_ctx *ctx, const char *access_token, sesame_caller **caller,
					       sesame_error *err);

/*
 * The user holding `refresh_token`, a sesame refresh token of a live
 * session (the App Services API key routes authenticate with it).  Its
 * claims (sesame_caller_claims()) are the refresh token's.  Errors:
 * SESAME_REJECTED "session" (ended), "typ" (not a refresh token), and
 * those of signature checks.  Since 0.1.
 */
SESAME_API int sesame_caller_from_refresh_token(sesame_ctx *ctx, const char *refresh_token, sesame_caller **caller,
						sesame_error *err);

/* Free a caller (NULL allowed).  Since 0.1. */
SESAME_API void sesame_caller_free(sesame_caller *caller);

/* The caller's user id, or NULL for the system user.  Since 0.1. */
SESAME_API const char *sesame_caller_user_id(const sesame_caller *caller);

/*
 * The caller's access-token claims (borrowed, valid as long as the
 * caller), or NULL for the system user.  Since 0.1.
 */
SESAME_API const json_t *sesame_caller_claims(const sesame_caller *caller);

/*
 * Open a new session for the caller's own user (not the system user),
 * on device `device_id` (NULL: the caller's device).  `*session` as in
 * sesame_login().  Since 0.1.
 */
SESAME_API int sesame_session_create(sesame_caller *caller, const char *device_id, json_t **session,
				     sesame_error *err);

/*
 * A fresh access token for the session the caller's own token belongs to
 * (its "sid"), carrying the user's current data and custom data; no
 * session is opened.  This is what a link answers: App Services clients
 * replace their access token with it and keep their refresh token.  On
 * SESAME_OK `*result` is a new reference to {"access_token", "user_id",
 * "device_id"} (the session's device).  Errors: SESAME_USAGE for the system
 * user; SESAME_REJECTED "session" when the session has ended or expired,
 * "disabled" for a disabled user; SESAME_UNAVAILABLE.  Thread-safe.
 * Since 0.1.
 */
SESAME_API int sesame_session_access_token(sesame_caller *caller, json_t **result, sesame_error *err);

/*
 * Verify `credential` with `provider` and attach the identity to user
 * `user_id` (the App Services linking rules).  Linking an identity the user
 * already holds refreshes its data.  On SESAME_OK `*user` (NULL allowed) is
 * a new reference to the user as sesame_user_get() shows it.  Errors: those
 * of sesame_verify_credential(); SESAME_CONFLICT "linked" ("a user already
 * exists with the specified provider") when another user holds the
 * identity; SESAME_REJECTED "link-type" when the provider's capabilities
 * forbid it: an identity of a SESAME_PROVIDER_CAP_ANONYMOUS provider
 * ("linking an anonymous identity is not allowed") or of a
 * SESAME_PROVIDER_CAP_NO_LINK one ("linking a TYPE identity is not
 * allowed"), or a second identity of a SESAME_PROVIDER_CAP_ONE_PER_USER
 * type ("linking a TYPE identity is not allowed when one is already
 * linked", e.g. a second email/password account); SESAME_REJECTED
 * "forbidden" when a user caller names another user; SESAME_NOT_FOUND
 * "user".  Nothing is written on error.  An anonymous user that links an
 * identity of a provider without SESAME_PROVIDER_CAP_ANONYMOUS (e.g. an
 * email/password one: "try anonymously, then sign up") is no longer
 * anonymous.  Since 0.1.
 */
SESAME_API int sesame_link(sesame_caller *caller, const char *user_id, const char *provider,
			   const json_t *credential, json_t **user, sesame_error *err);

/*
 * Detach identity (provider instance, provider uid) from user `user_id`;
 * its sessions end.  SESAME_REJECTED "last-identity" for the user's only
 * identity.  Since 0.1.
 */
SESAME_API int sesame_unlink(sesame_caller *caller, const char *user_id, const char *provider, const char *uid,
			     sesame_error *err);

/*
 * The user `user_id` (a new reference): {"id", "type", "disabled",
 * "created", "last_login", "data", "custom_data", "identities": [{"provider",
 * "provider_type", "id", "data", "created", "updated"}]}; identities'
 * private data is never shown.  "last_login" is the time of the user's
 * last login or link (the newest "updated" of its identities).
 * SESAME_NOT_FOUND "user"; SESAME_REJECTED
 * "forbidden" for another user's account.  Since 0.1.
 */
SESAME_API int sesame_user_get(sesame_caller *caller, const char *user_id, json_t **user, sesame_error *err);

/*
 * Up to `limit` users (1..1000; 0: 100) whose id sorts after `after` (NULL:
 * from the first), as a new array of sesame_user_get() objects.  System
 * user only (SESAME_REJECTED "forbidden").  Since 0.1.
 */
SESAME_API int sesame_users_list(sesame_caller *caller, const char *after, size_t limit, json_t **users,
				 sesame_error *err);

/*
 * Delete user `user_id` with its identities, sessions and provider data.
 * Each identity's provider is told through its user_deleted hook (Apple
 * token revocation, for example); a hook's failure is logged and the
 * deletion stands.  A user may delete itself.  Since 0.1.
 */
SESAME_API int sesame_user_delete(sesame_caller *caller, const char *user_id, sesame_error *err);

/*
 * Disable (ending all its sessions) or enable user `user_id`.  A disabled
 * user can neither log in nor refresh (SESAME_REJECTED "disabled").
 * System user only.  Since 0.1.
 */
SESAME_API int sesame_user_set_disabled(sesame_caller *caller, const char *user_id, int disabled,
					sesame_error *err);

/* End every session of user `user_id`.  Since 0.1. */
SESAME_API int sesame_user_revoke_sessions(sesame_caller *caller, const char *user_id, sesame_error *err);

/*
 * sesame_provider_action() on behalf of a caller: run the operation `name`
 * of instance `provider` (e.g. "register" of email/password, "create" of
 * API keys) with `args` (a JSON object, borrowed) through the plugin's
 * action hook.  `caller` is NULL for
 * an unauthenticated operation (registration, password reset), else the
 * user or system caller on whose behalf it runs: the plugin receives a
 * copy of `args` in which the core has set "caller" to {"user_id": ID,
 * "type": "normal"|"server", "anonymous": bool} for a user caller or
 * {"system": true} for the system user (a "caller" member sent in `args`
 * is always replaced or removed, so a client cannot forge it).  On
 * SESAME_OK `*result` (NULL allowed) is a new reference to the JSON answer
 * or NULL.  Errors: SESAME_NOT_FOUND "provider" (no such enabled
 * instance), SESAME_NOT_FOUND "action" (the plugin has no such operation
 * or no action hook), SESAME_UNAVAILABLE "provider" (its init failed),
 * SESAME_MALFORMED "args", and what the plugin returns (e.g.
 * SESAME_UNAVAILABLE "busy" as for sesame_verify_credential(), or
 * SESAME_REJECTED "throttled").  Since 0.1.
 */
SESAME_API int sesame_provider_action_as(sesame_ctx *ctx, sesame_caller *caller, const char *provider, const char *name,
				      const json_t *args, json_t **result, sesame_error *err);

/*
 * The user's custom data (a new reference to an object, {} when unset), or
 * replace it with `data` (borrowed): a JSON object of at most 16 KiB of
 * compact JSON, and small enough that an access token carrying it stays
 * within SESAME_ACCESS_TOKEN_MAX (about 11 KiB of custom data with short
 * app ids and URLs) (SESAME_MALFORMED "size" or "type").  Access tokens
 * carry it as "user_data" from the next refresh on.  Since 0.1.
 */
SESAME_API int sesame_user_custom_data_get(sesame_caller *caller, const char *user_id, json_t **data,
					   sesame_error *err);
SESAME_API int sesame_user_custom_data_set(sesame_caller *caller, const char *user_id, const json_t *data,
					   sesame_error *err);

/* ---- rules: the policy decision point ------------------------------------ */

/*
 * sesame decides, for the applications that serve documents, what a user
 * may do to each of them.  The rules are App Services' role-based rules,
 * one file per namespace (rules.d/DATABASE.COLLECTION.json, default.json
 * for namespaces without a file of their own), read by sesame_configure()
 * from the "rules_dirs" drop-in directories; sesame-rules(5) describes the
 * format, every operator and expansion, and how a decision is made.  A
 * rule file that is invalid does not stop sesame_configure(): every
 * decision on its namespace is a denial carrying an "error" member (fail
 * closed), and sesame_rules_json() lists it.  The system user is allowed
 * everything.
 */

/*
 * The rule files as a JSON array (a new reference), in lexical order of
 * namespace, each {"namespace", "source", "state", "roles", "filters",
 * "error"}: "state" is "ready" or "failed" (then "error" says FILE:LINE:COL
 * and why).  An entry with a null namespace means the rule directories
 * could not be read (every decision is a denial).  NULL before
 * sesame_configure().  Since 0.1.
 */
SESAME_API json_t *sesame_rules_json(const sesame_ctx *ctx);

/*
 * Decide whether user `user_id` (NULL: the caller itself; only the system
 * user may name another user) may do `action` ("read", "insert", "write",
 * "delete" or "search") to `document` (borrowed, a JSON object) of
 * namespace `ns` ("DATABASE.COLLECTION"); a write also needs `prev`, the
 * document before the write (NULL otherwise).  %%user is the account as
 * the store holds it now, custom data included.  On SESAME_OK `*decision`
 * is a new reference to
 *
 *   {"allowed": true|false, "role": NAME or null,
 *    "fields": {FIELD: {"read": bool, "write": bool}, ...},
 *    "document": the document reduced to the fields the user may read}
 *
 * ("document" is {} when the action is denied; a namespace whose rule file
 * is invalid answers a denial with an "error" member).  A denial is not an
 * error.  Errors: SESAME_MALFORMED with reason "action", "namespace",
 * "type", "prev", "depth" or "size" (documents are at most 32 levels deep
 * and 100000 values); SESAME_REJECTED "forbidden" (a user naming another
 * user) or "disabled"; SESAME_NOT_FOUND "user"; SESAME_UNAVAILABLE (the
 * store).  Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_rules_evaluate(sesame_caller *caller, const char *user_id, const char *ns, const char *action,
				     const json_t *document, const json_t *prev, json_t **decision, sesame_error *err);

/*
 * The MongoDB query filter that selects exactly the documents of `ns` a
 * decision for `action` ("read" or "write"; for a write, on the stored
 * document, before any change) would allow user `user_id` (as in
 * sesame_rules_evaluate()): on SESAME_OK `*filter` is a new reference to
 * {"filter": F}, F with every expansion substituted, {} for everything and
 * {"_id": {"$in": []}} for nothing, to be ANDed into the application's own
 * query.  Errors: those of sesame_rules_evaluate(), and SESAME_REJECTED
 * "filter" when a role compares two values of the document (a query cannot
 * express that; decisions still can).  Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_rules_filter(sesame_caller *caller, const char *user_id, const char *ns, const char *action,
				   json_t **filter, sesame_error *err);

/*
 * Whether `document` matches the MongoDB query `filter` (both borrowed), for
 * applications that filter in memory: *match is 1 or 0.  The operators are
 * those sesame_rules_filter() emits: $and $or $nor $eq $ne $gt $gte $lt
 * $lte $in $nin $exists $elemMatch (operator form), with MongoDB's
 * semantics for arrays, missing fields and type brackets.  Errors:
 * SESAME_MALFORMED with reason "type", "operator", "depth" or "size".
 * Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_rules_match(const json_t *filter, const json_t *document, int *match, sesame_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SESAME_SESAME_H */
