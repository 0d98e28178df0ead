/*
 * core/internal.h — declarations shared by the files of libsesame.  Nothing
 * here is exported: the library is built with -fvisibility=hidden and only
 * the SESAME_API functions of include/sesame/ leave it.
 */
#ifndef SESAME_INTERNAL_H
#define SESAME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <sesame/common.h>
#include <sesame/provider.h>
#include <sesame/sesame.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- error.c --------------------------------------------------------- */

/*
 * Fill `err` (NULL allowed) and return `status`.  `reason` may be NULL.
 * The message is truncated to fit; it must never contain a secret.
 */
int seterr(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);
int vseterr(sesame_error *err, int status, const char *reason, const char *fmt, va_list ap) SESAME_PRINTF(4, 0);

/* Like seterr() for a position in a file: "FILE:LINE:COL: message". */
int seterr_at(sesame_error *err, int status, const char *reason, const char *file, int line, int column,
	      const char *fmt, ...) SESAME_PRINTF(7, 8);

/* Set err->source when it is still empty. */
void err_set_source(sesame_error *err, const char *source);

/* Clear an error record to SESAME_OK. */
void err_clear(sesame_error *err);

/* ---- log.c ----------------------------------------------------------- */

struct logger {
	sesame_log_fn fn; /* NULL: stderr */
	void *data;
	int max_level;
};

void log_init(struct logger *lg);
void log_msg(const struct logger *lg, int level, const char *fmt, ...) SESAME_PRINTF(3, 4);
void log_vmsg(const struct logger *lg, int level, const char *fmt, va_list ap) SESAME_PRINTF(3, 0);

/* ---- util.c ---------------------------------------------------------- */

/* Constant-time comparison of two buffers of equal length: 1 if equal. */
int util_ct_equal(const void *a, const void *b, size_t len);
/* Overwrite memory in a way the compiler keeps. */
void util_wipe(void *p, size_t len);
/* Secure random bytes (OpenSSL's DRBG).  SESAME_OK or SESAME_INTERNAL. */
int util_random(void *buf, size_t len);
/* free() that wipes a NUL-terminated secret first.  NULL allowed. */
void util_free_secret(char *s);

/*
 * Read a whole file into a NUL-terminated malloc'd buffer (*out, *len).
 * With `secret`, refuse a file that is not a regular file or that grants
 * any permission to group or others (SESAME_CONFIG, reason "permissions").
 * `max` caps the size (SESAME_CONFIG, reason "size").
 */
int util_read_file(const char *path, bool secret, size_t max, char **out, size_t *len, sesame_error *err);

/*
 * OpenSSH's safe_path: `path` and every directory above it must be owned by
 * root or by `uid` and not writable by group or others.  A root-owned
 * directory with the sticky bit (like /tmp) is accepted as an ancestor, as
 * nobody else can replace our entries in it.  SESAME_CONFIG with reason
 * "permissions" naming the offending component.
 */
int util_check_path_chain(const char *path, uid_t uid, sesame_error *err);

/* True when `s` matches [a-z0-9][a-z0-9_-]* and is at most `max` bytes. */
bool util_valid_type_name(const char *s, size_t max);
/* True when `s` matches [A-Za-z0-9][A-Za-z0-9_-]* and is at most `max` bytes. */
bool util_valid_instance_name(const char *s, size_t max);

#endif /* SESAME_INTERNAL_H */

/* ---- config.c -------------------------------------------------------- */

/* One provider instance: one NAME.json drop-in. */
struct provider_conf {
	char *name;            /* instance name, from the file name */
	char *type;            /* provider type = plugin name */
	char *source;          /* the drop-in file it came from */
	bool disabled;
	json_t *config;        /* with @/path secrets resolved; handed to init() */
	json_t *shown;         /* the same with secrets masked, for display */
	json_t *metadata_fields; /* array or NULL */
};

struct config {
	char *path;            /* main file actually read, or NULL (defaults) */
	char *app_id;
	char *state_dir;
	char *plugin_dir;
	char *store_dir;
	char **provider_dirs;  /* lowest priority first */
	size_t n_provider_dirs;
	json_t *store;         /* {"type", "path", ...} with defaults */
	int64_t access_ttl;
	int64_t refresh_ttl;
	char *signing_key;
	char *listen;
	char *public_url;
	json_t *cors_origins;
	char *tls_cert;
	char *tls_key;
	char *admin_key;       /* secret */
	bool admin_key_from_file;
	bool test_mode;
	json_t *extra;         /* main-file sections owned by other parts (daemon) */

	struct provider_conf *providers; /* sorted by name */
	size_t n_providers;
};

/* Flags of config_load(). */
#define CONFIG_MAIN_OPTIONAL 0x1u /* a missing main file means built-in defaults */

/*
 * Read the main file `path` (NULL: the compiled-in default) and the provider
 * drop-ins into `cfg`.  With CONFIG_MAIN_OPTIONAL a missing main file means
 * built-in defaults.
 * On error `cfg` is left empty (config_free() is still safe) and `err`
 * says FILE:LINE:COL: what.
 */
int config_load(struct config *cfg, const char *path, unsigned flags, const struct logger *lg, sesame_error *err);
void config_free(struct config *cfg);
json_t *config_to_json(const struct config *cfg, bool show_secrets);

/* ---- loader.c -------------------------------------------------------- */

struct plugin {
	char *type;
	char *path;
	const struct sesame_provider *desc;
	int status;            /* SESAME_OK or why it failed */
	char error[SESAME_ERROR_TEXT_LENGTH];
};

/*
 * Load the provider plugin of `type` from `dir` with every check of
 * DESIGN.md (name, directory chain, dlopen RTLD_NOW|RTLD_LOCAL, entry
 * symbol, ABI major, struct size, type match, required functions).  Never
 * dlclose()s.  On failure `err` names the file and the reason; reasons:
 * "name", "path", "permissions", "file", "dlopen", "symbol", "abi",
 * "descriptor".
 */
int loader_load_provider(const char *dir, const char *type, const struct sesame_provider **desc, char **path,
			 sesame_error *err);

/* ---- context.c ------------------------------------------------------- */

enum instance_state { INSTANCE_READY, INSTANCE_DISABLED, INSTANCE_FAILED };

struct sesame_instance {
	struct sesame_ctx *ctx;
	const struct provider_conf *conf;
	const struct sesame_provider *desc;
	char *plugin_path;
	void *state;
	enum instance_state st;
	char error[SESAME_ERROR_TEXT_LENGTH];
};

struct sesame_ctx {
	struct logger log;
	struct config cfg;
	bool configured;
	struct sesame_instance *instances; /* parallel to cfg.providers */
	size_t n_instances;
	int64_t clock_offset; /* tests shift the clock */
};

/* Seconds since the epoch as the context sees it. */
int64_t ctx_now(const struct sesame_ctx *ctx);

/* ---- host.c ---------------------------------------------------------- */

/* The host services table handed to every provider. */
extern const struct sesame_host host_services;

/* ---- signing.c ------------------------------------------------------- */

#define SIGNING_KID_SIZE 17 /* 16 hex digits + NUL */

struct evp_pkey_st;

/* One of sesame's own token keys. */
struct signing_key {
	struct evp_pkey_st *pkey; /* EVP_PKEY, prepared once */
	char kid[SIGNING_KID_SIZE];
	char *pem;                /* private PEM of the current key; NULL for retired ones */
	int64_t retired_at;       /* 0 for the current key */
};

/* keys[0] is the current (signing) key; the others are retired, verify only. */
struct signing_keys {
	struct signing_key *keys;
	size_t n;
};

/*
 * Load the signing key (generating it, 0600, when the file does not exist)
 * and the retired keys still within their verification window; prune the
 * others.  SESAME_CONFIG (reason "permissions") for a key file group or
 * world may access, (reason "key") for an empty or non-P-256 key.
 */
int signing_keys_load(const struct config *cfg, int64_t now, const struct logger *lg, struct signing_keys *sk,
		      sesame_error *err);
void signing_keys_free(struct signing_keys *sk);
/* Make a new signing key; the old one is retired.  `new_kid` receives the
 * new key's id. */
int signing_keys_rotate(const struct config *cfg, const struct logger *lg, char new_kid[SIGNING_KID_SIZE],
			sesame_error *err);
