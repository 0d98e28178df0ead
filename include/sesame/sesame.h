/*
 * sesame/sesame.h — the application API of libsesame.
 *
 * An application creates a context, points it at a configuration file,
 * and then verifies credentials against the configured provider instances.
 * Later ABI minors add accounts, sessions and access tokens; every function
 * below says since which version it exists.
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
 * order of name, each {"name", "type", "enabled", "state", "plugin",
 * "source", "version", "description", "error"}; "state" is "ready",
 * "disabled" or "failed" (then "error" says why).  NULL before
 * sesame_configure().  Since 0.1.
 */
SESAME_API json_t *sesame_providers_json(const sesame_ctx *ctx);

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
 * Thread-safe.  Since 0.1.
 */
SESAME_API int sesame_verify_credential(sesame_ctx *ctx, const char *provider, const json_t *credential,
					json_t **identity, sesame_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SESAME_SESAME_H */
