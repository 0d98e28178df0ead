/* SPDX-License-Identifier: MIT */
/*
 * core/internal.h — declarations shared by the files of libsesame.  Nothing
 * here is exported: the library is built with -fvisibility=hidden and only
 * the SESAME_API functions of include/sesame/ leave it.
 */
#ifndef SESAME_INTERNAL_H
#define SESAME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <sesame/common.h>
#include <sesame/provider.h>
#include <sesame/sesame.h>
#include <sesame/store.h>

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
/* Milliseconds on the monotonic clock (async-signal-safe). */
int64_t util_monotonic_ms(void);
/*
 * Release what json_dumps() returned with jansson's own free function (an
 * application may have replaced jansson's allocator with
 * json_set_alloc_funcs(); sesame-provider-check does, to count JSON
 * values).  NULL allowed.
 */
void util_json_text_free(char *text);
/* Bytes of `v` as JSON text with json_dump `flags`, counted without
 * allocating; SIZE_MAX when it cannot be encoded (invalid UTF-8). */
size_t util_json_length(const json_t *v, size_t flags);
/*
 * Parse `len` bytes of JSON text strictly, as every parse in the core
 * does: duplicate keys refused (JSON_REJECT_DUPLICATES), and a raw NUL
 * byte anywhere refused too, which jansson alone takes for white space
 * between tokens while no JSON text holds one.  NULL with `*jerr` filled
 * (text "a NUL byte", its line, column and position, code
 * json_error_invalid_syntax), or jansson's own error.
 */
json_t *util_json_parse(const void *buf, size_t len, json_error_t *jerr);
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
 * OpenSSH's safe_path (StrictModes): `path` and every directory above it
 * must be owned by root or by `uid` and not writable by group or others.
 * A root-owned directory with the sticky bit (like /tmp) is accepted as an
 * ancestor, as nobody else can replace our entries in it.  A symbolic link
 * met on the way must be owned by root or `uid` too, and its target is
 * checked the same way, up to its own root.  SESAME_CONFIG with reason
 * "permissions" naming the offending component and how to fix it, "file"
 * when a component cannot be examined (missing), "path" for a relative or
 * too long path or too many links.
 */
int util_check_path_chain(const char *path, uid_t uid, sesame_error *err);

/* util_check_path_chain() for a directory that something is to be created
 * in: like every directory above a path, it may be a root-owned sticky
 * directory (as /tmp). */
int util_check_parent_chain(const char *dir, uid_t uid, sesame_error *err);

/*
 * Every entry of directory `dir` (dotfiles included, "." and ".." not) must
 * be owned by root or by `uid` and not writable by group or others:
 * util_check_path_chain() for the files of a trusted directory.
 * SESAME_CONFIG with reason "permissions" or "file" naming the entry.
 */
int util_check_dir_entries(const char *dir, uid_t uid, sesame_error *err);

/* mkdir -p: create the missing directories above `path` (0755) and
 * `path` itself (`mode`).  SESAME_CONFIG "file" naming the one that
 * cannot be created. */
int util_make_dirs(const char *path, mode_t mode, sesame_error *err);

/* True when `s` matches [a-z0-9][a-z0-9_-]* and is at most `max` bytes. */
bool util_valid_type_name(const char *s, size_t max);
/* True when `s` matches [A-Za-z0-9][A-Za-z0-9_-]* and is at most `max` bytes. */
bool util_valid_instance_name(const char *s, size_t max);

/* ---- metadata.c: the profile fields the core keeps of an identity ------ */

#define METADATA_MAX_FIELDS 64   /* entries of a drop-in's metadata_fields */
#define METADATA_MAX_DEPTH 16    /* segments of a dot path */
#define METADATA_MAX_CHARS 4096  /* characters of a kept value (App Services' limit) */
#define METADATA_NAME_MAX 63     /* bytes of a field_name (App Services: < 64) */

/* One configured metadata field. */
struct metadata_field {
	char **path;  /* the dot path's segments, unescaped */
	size_t depth;
	char *name;   /* field_name, or the last segment */
	char *shown;  /* the configured dot path, for messages */
	bool required;
};

/* A drop-in's metadata_fields, parsed. */
struct metadata_spec {
	struct metadata_field *fields;
	size_t n;
};

/*
 * Parse one entry: `name` a dot path ("\." a literal dot, "\\" a literal
 * backslash) of 1 to METADATA_MAX_DEPTH non-empty segments; `field_name`
 * NULL for the last segment.  SESAME_CONFIG "path" for a bad path,
 * SESAME_INTERNAL when out of memory; `f` is left cleared on error.
 */
int metadata_field_init(struct metadata_field *f, const char *name, const char *field_name, bool required,
			sesame_error *err);
void metadata_field_clear(struct metadata_field *f);
/* Free a spec and its fields (NULL allowed). */
void metadata_spec_free(struct metadata_spec *spec);

/*
 * The profile fields kept of a provider's identity `data` (borrowed, an
 * object or NULL): the configured fields of `spec`, or without one (NULL)
 * the names of `defaults` (NULL-terminated), or without those (NULL) every
 * member.  Values longer than METADATA_MAX_CHARS characters are left out
 * (logged); the standard fields become strings and "picture" and
 * "picture_url" are both set when either is.  On SESAME_OK `*kept` is a new
 * object.  SESAME_REJECTED "claim" naming the field when a required one is
 * missing or too long.  `provider` names the instance in the log.
 */
int metadata_keep(const struct metadata_spec *spec, const char *const *defaults, const json_t *data,
		  const struct logger *lg, const char *provider, json_t **kept, sesame_error *err);

/* ---- config.c -------------------------------------------------------- */

/* One provider instance: one NAME.json drop-in. */
struct provider_conf {
	char *name;            /* instance name, from the file name */
	char *type;            /* provider type = plugin name */
	char *source;          /* the drop-in file it came from */
	bool disabled;
	json_t *config;        /* with @/path secrets resolved; handed to init() */
	json_t *shown;         /* the same with secrets masked, for display */
	json_t *metadata_fields; /* array or NULL, as configured (for display) */
	struct metadata_spec *metadata; /* the same parsed, or NULL */
};

struct config {
	char *path;            /* main file actually read, or NULL (defaults) */
	char *app_id;
	char *state_dir;
	char *plugin_dir;
	char *store_dir;
	char **provider_dirs;  /* lowest priority first */
	size_t n_provider_dirs;
	char **rules_dirs;     /* rule files (core/rules.c), lowest priority first */
	size_t n_rules_dirs;
	json_t *store;         /* {"type", "path", ...} with defaults, "@/path" secrets read */
	json_t *store_shown;   /* the same for display: secret files as "@/path", an inline conninfo masked */
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
	/* "password_hashing": the share of the process-wide memory budget of
	 * password derivations (core/password.c) this context may see in use,
	 * and how many requests may wait for it, for how long. */
	uint64_t kdf_memory_budget; /* bytes */
	unsigned kdf_queue;         /* requests waiting at most */
	unsigned kdf_wait_ms;       /* how long each may wait */
	json_t *extra;         /* main-file sections owned by other parts (daemon) */
	char *program_user;    /* programs.user: whom programs run as when sesame is root */
	bool program_switch;   /* sesame runs as root: programs run as program_uid/gid */
	uid_t program_uid;
	gid_t program_gid;
	char *program_user_error; /* why the default programs.user cannot be used, or NULL */

	struct provider_conf *providers; /* sorted by name */
	size_t n_providers;
};

/*
 * A place in a parsed JSON file, so that a semantic error (unknown key,
 * wrong type) names its line and column: `struct doc` is the file and its
 * text, a path of `struct seg` steps leads to the value in question.
 */
struct seg {
	const char *key; /* object member, or NULL for an array element */
	size_t index;
};

struct doc {
	const char *file;
	const char *text;
	size_t len;
};

/* seterr_at(err, SESAME_CONFIG, reason, FILE, LINE, COL, ...) at the value
 * `path` (`depth` steps from the top) leads to in `d`'s text. */
int doc_error(sesame_error *err, const struct doc *d, const struct seg *path, size_t depth, const char *reason,
	      const char *fmt, ...) SESAME_PRINTF(6, 7);

/* Read and parse a JSON file of at most 1 MiB strictly (no duplicate keys,
 * an object at the top); syntax errors carry jansson's position.  On
 * SESAME_OK `*text` (malloc'd, `*len` bytes) and `*root` are the caller's. */
int config_parse_file(const char *file, char **text, size_t *len, json_t **root, sesame_error *err);

/* One NAME.json file of a set of drop-in directories. */
struct dropin {
	char *name;   /* the file name without ".json" */
	char *path;
	bool masked;  /* a symlink to /dev/null or an empty file */
};

/*
 * The union of the NAME.json drop-ins of `dirs` (lowest priority first)
 * with systemd's semantics (see config.c), sorted by name, in `*set`
 * (config_dropins_free() it).  A missing directory is empty; directories
 * and files must be trusted as configuration is (util_check_path_chain()).
 */
int config_dropins(char *const *dirs, size_t n_dirs, struct dropin **set, size_t *n, sesame_error *err);
void config_dropins_free(struct dropin *set, size_t n);

/* Flags of config_load(). */
#define CONFIG_MAIN_OPTIONAL 0x1u /* a missing main file means built-in defaults */
#define CONFIG_STORE_ONLY    0x2u /* the main file only: no provider drop-ins (sesame store migrate's target) */

/*
 * Read the main file `path` (NULL: the compiled-in default) and the provider
 * drop-ins into `cfg`.  With CONFIG_MAIN_OPTIONAL a missing main file means
 * built-in defaults.
 * On error `cfg` is left empty (config_free() is still safe) and `err`
 * says FILE:LINE:COL: what.
 */
int config_load(struct config *cfg, const char *path, unsigned flags, const struct logger *lg, sesame_error *err);
/*
 * The line and column of member `path` ("config.scrypt.log2_n",
 * "config.signing_keys[1].kid") in the JSON file `file`, as configuration
 * errors name them (the deepest part of the path found).  SESAME_OK, or
 * SESAME_MALFORMED for a path that is not of that form or a file that
 * cannot be read (*line and *col 0).
 */
int config_position(const char *file, const char *path, int *line, int *col);
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
 * "descriptor".  Warnings (a plugin that exports more than its entry
 * symbol) go to `lg` (NULL: none).
 */
int loader_load_provider(const char *dir, const char *type, const struct logger *lg,
			 const struct sesame_provider **desc, char **path, sesame_error *err);

/*
 * The checks every plugin kind shares: the type name, the directory chain,
 * dlopen(RTLD_NOW | RTLD_LOCAL) of DIR/TYPE.so and the entry `symbol`.
 * `kind` ("provider", "store") names the plugin in messages.  After
 * dlopen, a warning naming every other defined global symbol the object
 * exports (beyond the toolchain's _init, _fini, _edata, _end, __bss_start
 * and AddressSanitizer's __odr_asan.* indicators)
 * goes to `lg` (NULL: no check).  On SESAME_OK `*entry` is the symbol's
 * address; `*path` (malloc'd, set whenever the name was valid) the file.
 * The caller checks the descriptor.
 */
int loader_open(const char *dir, const char *kind, const char *type, const char *symbol, const struct logger *lg,
		const void **entry, char **path, sesame_error *err);
/* seterr_at(err, SESAME_UNAVAILABLE, reason, path, ...): a plugin failure. */
int loader_fail(sesame_error *err, const char *path, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);

/* ---- context.c: provider instances ---------------------------------- */

enum instance_state { INSTANCE_READY, INSTANCE_DISABLED, INSTANCE_FAILED };

struct sesame_instance {
	struct sesame_ctx *ctx;
	const struct provider_conf *conf;
	const struct sesame_provider *desc;
	char *plugin_path;
	void *state;
	enum instance_state st;
	/* Why a failed instance failed: `error` for operators (the drop-in,
	 * then the cause; shown by sesame_providers_json), `cause` alone for
	 * the errors of its logins (short enough for a sesame_error). */
	char error[1024];
	char cause[SESAME_ERROR_TEXT_LENGTH];
	int64_t session_ttl;   /* set_session_ttl() from init(); 0: cfg.refresh_ttl */
	/* SESAME_PROVIDER_CAP_* of the descriptor, kept when init() fails (the
	 * instance still answers as what it is, unavailable); 0 when the
	 * plugin did not load or is disabled. */
	unsigned caps;
};

/* ---- store.c -------------------------------------------------------- */

/* The opened store plugin.  Must not move while open (the plugin keeps
 * a pointer to `host`). */
struct store {
	const struct sesame_store *desc;
	sesame_store_handle *h;
	char *plugin_path;
	struct sesame_store_host host;
	const struct logger *log;
};

/*
 * Load the store plugin named by conf's "type" from `store_dir` (every
 * check of loader_open(), then ABI major, struct size, type, required
 * functions) and open it with `conf` (borrowed).  Errors: SESAME_UNAVAILABLE
 * (reasons of loader_open(), "abi", "descriptor", or the plugin's), or
 * SESAME_CONFIG when the plugin refuses its configuration.  `st` is left
 * closed on failure.
 */
int store_open(struct store *st, const char *store_dir, const json_t *conf, const struct logger *lg,
	       sesame_error *err);
/* Close the store (NULL or never opened allowed).  The plugin stays mapped. */
void store_close(struct store *st);

/* True when the store lists every session and key/value entry (store ABI
 * 1.1: sessions_list and kv_list), which `sesame store migrate` needs. */
bool store_has_listing(const struct store *st);
/* True when the store keeps the signing keys (store ABI 1.1: keys_generation
 * .. keys_prune); otherwise they are files (core/signing.c). */
bool store_has_keys(const struct store *st);

/*
 * store_transact() runs a conflicting transaction again for up to
 * STORE_RETRY_MS after its first attempt began, and at most
 * STORE_MAX_ATTEMPTS times in all.  A time, not a count, bounds it: many
 * writers of one row (a counter, the identity of many first logins at
 * once) make one of them lose several times in a row, more often the more
 * of them truly run at once, and a count that suits two cores is used up
 * on sixteen.  Each conflict is followed by a random pause of up to
 * 1 ms << attempt, at most 50 ms, so that the losers do not collide again
 * in step.
 */
#define STORE_RETRY_MS 3000
#define STORE_MAX_ATTEMPTS 200

/*
 * The body of a transaction.  It runs again from the start after a
 * retryable conflict, so it must reset whatever it outputs.
 */
typedef int (*store_txn_fn)(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err);

/*
 * Run `fn` in a transaction (flags: SESAME_STORE_TXN_WRITE or 0) and commit
 * it; roll back when `fn` fails.  A conflict the store calls retryable
 * (SESAME_CONFLICT with reason "busy" or "exists") rolls back and runs the
 * whole transaction again after a short random pause, for as long as
 * STORE_RETRY_MS and STORE_MAX_ATTEMPTS allow.  Returns what `fn` or commit
 * returned.
 */
int store_transact(struct store *st, unsigned flags, store_txn_fn fn, void *arg, sesame_error *err);

/* True when `status`/`err` is a conflict worth retrying. */
bool store_retryable(int status, const sesame_error *err);

/*
 * A new ID in ObjectId form: 4 bytes of `now` (big-endian) then 8 random
 * bytes, as 24 lowercase hex digits.  The time prefix keeps inserts near
 * the end of the primary-key b-tree; the 64 random bits make IDs
 * unguessable.  SESAME_OK or SESAME_INTERNAL.
 */
int store_new_id(int64_t now, char id[SESAME_STORE_ID_LENGTH + 1]);
/* store_new_id() with the 8 random bytes drawn by the caller. */
void store_make_id(int64_t now, const unsigned char random[8], char id[SESAME_STORE_ID_LENGTH + 1]);
/* True when `s` is 24 lowercase hex digits. */
bool store_valid_id(const char *s);

/* The SHA-256 of a refresh token as 64 lowercase hex digits: the only form
 * in which a refresh token is stored or looked up.  SESAME_OK or
 * SESAME_INTERNAL. */
int store_token_hash(const char *token, char hash[SESAME_STORE_HASH_LENGTH + 1]);

/* What store_session_create() records. */
struct store_session_params {
	const char *user_id;
	const char *device_id;
	const char *refresh_token; /* hashed here; never stored or logged */
	const unsigned char *id_random; /* 8 random bytes of the session id, or NULL: drawn here */
	const char *provider;      /* the identity the session is opened with, */
	const char *provider_uid;  /* both NULL or both set */
	int64_t now;
	int64_t expires;
};

/*
 * Insert a new session (in `txn`, or atomically when NULL) with a fresh ID,
 * returned in `id`, and the hash of the refresh token.  Errors: the store's
 * session_insert() errors (SESAME_NOT_FOUND "user", SESAME_CONFLICT
 * "exists"), SESAME_USAGE for missing arguments.
 */
int store_session_create(struct store *st, sesame_store_txn *txn, const struct store_session_params *p,
			 char id[SESAME_STORE_ID_LENGTH + 1], sesame_error *err);

/* ---- signing.c ------------------------------------------------------- */

#define SIGNING_KID_SIZE 17 /* 16 hex digits + NUL */
/* Retired keys are kept this long beyond the access-token lifetime, to
 * cover clock skew between sesame and the services verifying its tokens. */
#define SIGNING_RETIRE_SLACK 300

struct evp_pkey_st;

/* One of sesame's own token keys. */
struct signing_key {
	struct evp_pkey_st *pkey; /* EVP_PKEY, prepared once */
	char kid[SIGNING_KID_SIZE];
	char *pem;                /* PEM: private for the current key, public for retired ones */
	bool private;
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

/* The key file of `cfg` (its signing_key, or STATE_DIR/signing-key.pem),
 * malloc'd; NULL when out of memory. */
char *signing_key_path(const struct config *cfg);
/*
 * Parse `pem` (a private key when `private`, else a public one; the entry
 * owns it on success) into `*k`: an EC P-256 key with its kid.  `what`
 * names the key in errors (a file, or the store).  SESAME_CONFIG "key".
 */
int signing_key_from_pem(const char *what, char *pem, bool private, int64_t retired_at, struct signing_key *k,
			 sesame_error *err);
/* A new EC P-256 private key as PEM (a secret: util_free_secret() it), or
 * NULL. */
char *signing_key_new_pem(void);
/* The public half of `k` as PEM (malloc'd), or NULL. */
char *signing_key_public_pem(const struct signing_key *k);
/* Append `*k` to `sk` (which then owns it).  SESAME_INTERNAL "memory". */
int signing_keys_append(struct signing_keys *sk, const struct signing_key *k, sesame_error *err);

/* ---- sessions.c ------------------------------------------------------ */

struct sesame_keys;

/*
 * What the key files looked like when they were loaded: a long-running
 * process (sesamed) compares it now and then with the files, so a key
 * rotated by another process (`sesame keys rotate`) is picked up without a
 * restart.
 */
struct signing_stamp {
	/* Keys kept in the store (core/signing-store.c): the store's generation
	 * number when they were read.  Otherwise the file members below. */
	bool in_store;
	uint64_t generation;
	bool key_exists, retired_exists;
	dev_t key_dev, retired_dev;
	ino_t key_ino, retired_ino;
	int64_t key_mtime_ns, retired_mtime_ns, key_ctime_ns;
	off_t key_size;
};

/* The stamp of the key files of `cfg` now. */
void signing_keys_stamp(const struct config *cfg, struct signing_stamp *stamp);
bool signing_stamp_equal(const struct signing_stamp *a, const struct signing_stamp *b);

/*
 * sesame's own keys, ready to sign and verify: an immutable snapshot,
 * reference-counted, so that a reload after a rotation never frees keys a
 * request on another thread still signs or verifies with.
 */
struct sessions {
	atomic_uint refs;
	struct signing_keys sk;   /* sk.keys[0] signs */
	struct sesame_keys *keys; /* the same keys as a JOSE key set */
	json_t *jwks;             /* their public halves */
	struct signing_stamp stamp; /* the files as they were before loading */
};

/* ---- signing-store.c: the signing keys in the store, shared by every node ---- */

/*
 * The context's signing keys as they are now, and their stamp (taken
 * before reading: a change made meanwhile shows at the next look).  With
 * a store that keeps keys (store_has_keys()): read from the store; the
 * first process to find none imports the key files of `cfg` (when the key
 * file exists; refused like signing_keys_load() refuses it) or makes a
 * new key; retired keys past their use are pruned.  Otherwise
 * signing_keys_load() on the files.  Store errors, or those of
 * signing_keys_load().
 */
int signing_keys_snapshot(sesame_ctx *ctx, struct signing_keys *sk, struct signing_stamp *stamp, sesame_error *err);
/* Whether the keys differ from those stamped `loaded`: one read of the
 * store's generation number, or a stat() of the key files.  False when
 * it cannot be told (the store is unreachable): the loaded keys stay. */
bool signing_keys_changed(sesame_ctx *ctx, const struct signing_stamp *loaded);
/* Make a new signing key and retire the current one, in the store (one
 * transaction) or in the files.  `new_kid` receives the new key's id. */
int signing_rotate(sesame_ctx *ctx, char new_kid[SIGNING_KID_SIZE], sesame_error *err);

/* ---- context.c: the context every call goes through ----------------- */

struct rules;

struct sesame_ctx {
	struct logger log;
	struct config cfg;
	bool configured;
	struct rules *rules; /* the rule files (core/rules.c), loaded by sesame_configure() */
	struct sesame_instance *instances; /* parallel to cfg.providers */
	size_t n_instances;
	/* Seconds added to the system clock: tests move time forward with
	 * sesame_clock_advance() (test mode only) or set it directly. */
	_Atomic int64_t clock_offset;
	/* The store, opened on first use by ctx_store() under store_lock, so
	 * that `sesame config check` never touches the database. */
	pthread_mutex_t store_lock;
	bool store_open;
	struct store store;
	/* Signing keys, loaded (or generated) on first use by
	 * sessions_acquire(), reloaded when the key files change. */
	pthread_mutex_t sessions_lock;
	struct sessions *sessions; /* NULL until loaded */
	int64_t sessions_checked;  /* ctx_now() of the last look at the files */
	int64_t sessions_forced;   /* ... of the last look forced by an unknown kid */
	/* When the host's kv_add() next deletes expired provider data. */
	_Atomic int64_t kv_purge_due;
	/* Test hooks, last so that the layout before them is the same in
	 * both builds: only in the core the tests link (libsesame-core-test,
	 * compiled with SESAME_TEST_HOOKS, as the tests are). */
#ifdef SESAME_TEST_HOOKS
	/* Password KDF runs (core/password.c), for tests that check a path
	 * hashed without timing it. */
	atomic_uint_fast64_t kdf_runs;
#endif
};

/*
 * A verified identity, typed: what a provider vouched for, checked once by
 * the core (ctx_verify()) and read from here on, never re-validated.
 */
struct identity {
	const char *provider; /* the instance name (the configuration's string) */
	const char *type;     /* its provider type */
	const char *uid;      /* 1 to 255 bytes without NUL */
	json_t *data;	      /* the profile fields kept (an object) */
	json_t *priv;	      /* private data (an object, often empty) */
	json_t *hold;	      /* what `uid` points into */
};

/* Release what ctx_verify() filled (nothing for a borrowed view). */
void identity_clear(struct identity *id);

/*
 * Verify `credential` (borrowed) with instance `provider` into `*id`: the
 * provider's verify(), the check of what it returned, the metadata kept.
 * Errors as sesame_verify_credential().  Thread-safe.
 */
int ctx_verify(sesame_ctx *ctx, const char *provider, const json_t *credential, struct identity *id,
	       sesame_error *err);

/*
 * The profile fields the core keeps of identity data `data` (borrowed, an
 * object or NULL) that instance `in` vouches for: metadata_keep() with the
 * instance's metadata_fields and its provider's default set, at most 64 KiB
 * as JSON (SESAME_REJECTED "claim" beyond).  `*kept` is a new object.
 */
int ctx_identity_metadata(const struct sesame_instance *in, const json_t *data, json_t **kept, sesame_error *err);

/* The provider instance named `name`, or NULL (disabled and failed ones
 * included: check ->st). */
struct sesame_instance *ctx_instance(sesame_ctx *ctx, const char *name);

/*
 * The context's store, opened on first use with cfg.store from
 * cfg.store_dir.  SESAME_UNAVAILABLE (or SESAME_CONFIG) when it cannot be
 * opened; the next call tries again.  Thread-safe.
 */
int ctx_store(sesame_ctx *ctx, struct store **st, sesame_error *err);

/* Seconds since the epoch as the context sees it. */
int64_t ctx_now(const struct sesame_ctx *ctx);

/* The names of the SESAME_PROVIDER_CAP_* flags in `caps`, a JSON array. */
json_t *ctx_caps_json(unsigned caps);

/*
 * Tell an identity's provider that its user is gone: the accounts_delete()
 * callback of every deletion (`data` is the context), called after the
 * deletion committed.  An identity of an instance no longer configured, or
 * of a provider without user_deleted, is nothing to tell.
 */
int ctx_user_deleted(void *data, const json_t *identity, sesame_error *err);

/* The SESAME_PROVIDER_CAP_* flags of the instance named `name`: 0 for an
 * unknown, disabled or unloadable instance (an identity of an instance no
 * longer configured has no capability). */
unsigned ctx_instance_caps(sesame_ctx *ctx, const char *name);

/* ---- encode.c: encodings, digests, crypt(3), for the core and plugins ---- */

/* `n` bytes as 2n lowercase hex digits and a NUL in `out`. */
void encode_hex(const void *in, size_t n, char *out);
/* The host's encode(), decode(), digest() and crypt_verify(); see
 * sesame/provider.h for what each answers. */
int encode_text(int encoding, const void *in, size_t len, char **text, sesame_error *err);
int decode_text(int encoding, const char *text, size_t len, unsigned char **data, size_t *data_len,
		sesame_error *err);
int digest_by_name(const char *name, const void *data, size_t len, unsigned char out[SESAME_DIGEST_MAX],
		   size_t *out_len, sesame_error *err);
int crypt_check(const char *password, size_t len, const char *hash, int *match, sesame_error *err);

/* ---- host.c ---------------------------------------------------------- */

/* The host services table handed to every provider. */
extern const struct sesame_host host_services;

/* ---- password.c: scrypt PHC strings for the host's password services ---- */

#define PASSWORD_LOG2N_MIN 10
#define PASSWORD_LOG2N_MAX 20

/* The bytes one scrypt derivation with these parameters allocates:
 * 128·r·(2^log2_n + p + 2). */
uint64_t password_scrypt_bytes(unsigned log2_n, unsigned r, unsigned p);

/*
 * Reserve `bytes` of the process-wide budget of password derivations
 * before running one, and give them back with password_release() after.
 * With ctx's kdf_memory_budget in use, wait (at most kdf_wait_ms, and only
 * when fewer than kdf_queue requests wait already) for others to give
 * memory back.  A reservation made while ctx is being configured waits as
 * long as it takes.  Errors: SESAME_UNAVAILABLE "busy" (no memory in
 * time, or the queue is full); SESAME_CONFIG "budget" when `bytes` alone
 * exceed kdf_memory_budget.  Thread-safe.
 */
int password_reserve(sesame_ctx *ctx, uint64_t bytes, sesame_error *err);
void password_release(uint64_t bytes);
/* The bytes reserved and the requests waiting right now (for tests). */
void password_gate_state(uint64_t *used, unsigned *waiting);

/* Hash `password` with scrypt (N = 2^log2_n, r, p) and a fresh salt into
 * a PHC string (*phc, malloc'd), within a reservation of
 * password_reserve() (whose errors it returns).  SESAME_USAGE for
 * parameters out of range, SESAME_INTERNAL when OpenSSL fails. */
int password_hash(sesame_ctx *ctx, const char *password, size_t length, unsigned log2_n, unsigned r, unsigned p,
		  char **phc, sesame_error *err);
/* Check `password` against `phc`, in constant time: *match 1 or 0;
 * *weaker (NULL allowed) 1 when the hash's parameters are below
 * (log2_n, r, p).  SESAME_MALFORMED "hash" for a string that is not ours;
 * the errors of password_reserve(). */
int password_verify(sesame_ctx *ctx, const char *password, size_t length, const char *phc, unsigned log2_n,
		    unsigned r, unsigned p, int *match, int *weaker, sesame_error *err);

/* ---- program.c: the host's program services ----------------------------- */

struct program_user {
	uid_t uid;
	gid_t gid;
};

/* How programs run in this context. */
struct program_setup {
	bool root;                /* sesame runs as root: programs switch users */
	struct program_user user; /* programs.user, resolved at start when root */
	const char *user_error;   /* why programs.user cannot be used, or NULL */
	bool scan_proc;           /* find orphans by scanning /proc, not the children lists (tests) */
	const struct logger *log;
};

/*
 * The uid and primary gid of user `name`.  SESAME_CONFIG "user" when there
 * is no such user, or when it is root or in root's group.
 */
int program_resolve_user(const char *name, struct program_user *u, sesame_error *err);

/*
 * host->program_check(): the request, the program file (trusted path,
 * regular, executable) and the user.  SESAME_OK or SESAME_CONFIG with reason
 * "command", "file", "permissions", "path" or "user".
 */
int program_check(const struct program_setup *ps, const struct sesame_program *p, sesame_error *err);

/*
 * host->program_run(): run `p` with the NULL-terminated environment `env`
 * under a subreaper supervisor, filling `res` (whose struct_size the
 * caller checked).  See core/program.c.
 */
int program_run(const struct program_setup *ps, char *const *env, const struct sesame_program *p,
		struct sesame_program_result *res, sesame_error *err);
void program_result_clear(struct sesame_program_result *res);

/* ---- accounts.c ------------------------------------------------------ */

/* Default cap of a user's custom data, in bytes of compact JSON. */
#define ACCOUNTS_CUSTOM_DATA_MAX (16 * 1024)

/*
 * Called by accounts_delete() for each identity of the deleted user
 * (borrowed, "private" included), after the deletion committed: the core
 * calls the provider's user_deleted hook from it.  A failure is logged and
 * changes nothing.
 */
typedef int (*accounts_identity_fn)(void *data, const json_t *identity, sesame_error *err);

/*
 * Log in with a verified identity (borrowed; the object
 * sesame_verify_credential() returns: {"provider", "provider_type", "id",
 * "data", "private"}), in one transaction retried on conflict: find the
 * identity's user or create a user with this identity; store the
 * identity's fresh data and private data; recompute the user's data from
 * its identities (see accounts.c for the rule); set last_login to `now`
 * (in the returned record; the store's user record is written only when
 * its data changes, the identity's "updated" records the login).
 * On SESAME_OK, `*user` (NULL allowed) is a new reference to the user
 * record and `*created` (NULL allowed) says whether it was created.
 * Errors: SESAME_MALFORMED "identity"; SESAME_REJECTED "disabled" (nothing
 * written); store errors.  Thread-safe.
 */
int accounts_login(struct store *st, const json_t *identity, int64_t now, json_t **user, bool *created,
		   sesame_error *err);

/* Run inside a login's transaction once the user is merged (`user` borrowed). */
typedef int (*accounts_then_fn)(struct store *st, sesame_store_txn *txn, const json_t *user, void *arg,
				sesame_error *err);

/*
 * accounts_login() that also runs `then` (may be NULL) in the same
 * transaction, after the merge: a login and its session are one commit.
 */
int accounts_login_then(struct store *st, const json_t *identity, int64_t now, accounts_then_fn then, void *arg,
			json_t **user, bool *created, sesame_error *err);

/*
 * accounts_login_then() for an identity ctx_verify() made (borrowed): the
 * login path.  The transaction reads the identity and its user; it reads
 * the user's other identities only when this one's data changed in a way
 * the user's data does not already show, and writes the user record only
 * when its data changes (with last_login).
 */
int accounts_login_identity(struct store *st, const struct identity *id, int64_t now, accounts_then_fn then,
			    void *arg, json_t **user, bool *created, sesame_error *err);

/*
 * Attach a verified identity to the existing user `user_id` and refresh the
 * user's data; `caps` are the SESAME_PROVIDER_CAP_* flags of the identity's
 * provider instance.  Idempotent when the identity is already this user's.
 * Errors: SESAME_NOT_FOUND "user"; SESAME_REJECTED "disabled";
 * SESAME_CONFLICT "linked" ("a user already exists with the specified
 * provider") when another user holds it; SESAME_REJECTED "link-type" for an
 * identity of an anonymous or no-link provider, or a second identity of a
 * one-per-user type.  Nothing is written on error.  `*user` as in
 * accounts_login().
 */
int accounts_link(struct store *st, const char *user_id, const json_t *identity, unsigned caps, int64_t now,
		  json_t **user, sesame_error *err);

/*
 * Create a user of type "server" holding only `identity` (for credentials
 * that stand for a program, such as server API keys), in one transaction.
 * SESAME_CONFLICT "linked" when the identity already has a user.
 */
int accounts_create_server_user(struct store *st, const json_t *identity, int64_t now, json_t **user,
				sesame_error *err);

/*
 * Detach identity (provider, uid) from user `user_id`, end the sessions
 * opened with it, and recompute the user's data.  Errors:
 * SESAME_NOT_FOUND "identity" when the user does not hold it;
 * SESAME_REJECTED "last-identity" for the user's only identity.
 */
int accounts_unlink(struct store *st, const char *user_id, const char *provider, const char *uid,
		    sesame_error *err);

/*
 * Delete user `user_id` with its identities, sessions and provider data,
 * then call `fn` (NULL allowed) for each identity it had.  Errors:
 * SESAME_NOT_FOUND "user"; store errors.
 */
int accounts_delete(struct store *st, const char *user_id, accounts_identity_fn fn, void *data, sesame_error *err);

/* Disable (and end every session of) or enable user `user_id`.  Errors:
 * SESAME_NOT_FOUND "user". */
int accounts_set_disabled(struct store *st, const char *user_id, bool disabled, sesame_error *err);

/* The user's custom data (a new reference to an object). */
int accounts_custom_data_get(struct store *st, const char *user_id, json_t **data, sesame_error *err);

/*
 * Replace the user's custom data with `data` (borrowed), an object of at
 * most `max` bytes as compact JSON (0: ACCOUNTS_CUSTOM_DATA_MAX).  Errors:
 * SESAME_MALFORMED "type" (not an object) or "size"; SESAME_NOT_FOUND
 * "user".
 */
int accounts_custom_data_set(struct store *st, const char *user_id, const json_t *data, size_t max,
			     sesame_error *err);

/*
 * The user as shown to operators and clients (a new reference): the user
 * record plus "identities", each {"provider", "provider_type", "id",
 * "data", "created", "updated"} without "private".  SESAME_NOT_FOUND
 * "user"; SESAME_MALFORMED "id" for an ID not in ObjectId form.
 */
int accounts_user_get(struct store *st, const char *user_id, json_t **user, sesame_error *err);

/*
 * Up to `limit` users (1..1000; 0: 100) with an ID after `after` (NULL:
 * from the start), in ID order, each as accounts_user_get() shows it, as a
 * new array.  Pass the last ID as `after` to get the next page; an empty
 * array ends the listing.
 */
int accounts_users_list(struct store *st, const char *after, size_t limit, json_t **users, sesame_error *err);


/* ---- sessions.c (functions) ----------------------------------------- */

/*
 * The context's signing keys (a reference: sessions_release() it), loaded
 * on first use and reloaded when the key files changed (looked at no more
 * than every few seconds; `force` looks now, at most once a second, for an
 * unknown kid).  Thread-safe.
 */
int sessions_acquire(sesame_ctx *ctx, bool force, struct sessions **s, sesame_error *err);
void sessions_release(struct sessions *s);
/* Load the keys again now (after this process rotated them). */
int sessions_reload(sesame_ctx *ctx, sesame_error *err);
/* Drop the context's keys (sesame_free()). */
void ctx_sessions_close(sesame_ctx *ctx);

/*
 * The device of a new session, the one rule for every front: `given` when
 * it is an ObjectId (24 lowercase hex digits, not all zero), else (NULL,
 * empty, the SDKs' all-zero "none", or anything else) a new random one
 * from the 12 bytes `fresh`.
 */
void sessions_device_id(const char *given, const unsigned char fresh[12], char out[25]);

/*
 * Open a session for `user` (a borrowed user record), opened with
 * `identity` (borrowed, may be NULL) so that unlinking it ends the session,
 * on `device_id` (by sessions_device_id()).  `*out` receives the
 * login answer {user_id, device_id, access_token, refresh_token}.
 */
int sessions_create(sesame_ctx *ctx, struct store *st, const json_t *user, const struct identity *identity,
		    const char *device_id, json_t **out, sesame_error *err);

/*
 * sessions_create() in three steps, so that a login stores its session in
 * the login's own transaction: sessions_draft() checks the signing keys
 * and draws the device id and refresh secret (nothing written);
 * sessions_draft_insert() stores the session in `txn` (an accounts_then_fn
 * with the draft as `arg`); sessions_draft_finish() signs the tokens (on
 * failure it deletes the session) and frees the draft.  Call
 * sessions_draft_finish() with rc != SESAME_OK to only free it.
 */
struct session_draft {
	struct sessions *keys; /* a reference, released by sessions_draft_finish() */
	const struct identity *identity;
	char device_id[25];
	char *jti;
	unsigned char sid_random[8]; /* the session id's random part */
	char sid[SESAME_STORE_ID_LENGTH + 1];
	int64_t now, expires;
	bool inserted;
};
int sessions_draft(sesame_ctx *ctx, const struct identity *identity, const char *device_id, struct session_draft *d,
		   sesame_error *err);
int sessions_draft_insert(struct store *st, sesame_store_txn *txn, const json_t *user, void *draft, sesame_error *err);
int sessions_draft_finish(sesame_ctx *ctx, struct store *st, const json_t *user, struct session_draft *d, int rc,
			  json_t **out, sesame_error *err);
int sessions_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **out, sesame_error *err);
/* The claims of a refresh token whose session is live (the API key routes
 * take it as bearer, as the SDKs send it). */
int sessions_verify_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **claims, sesame_error *err);
/* End a session; `*user_id` gets its user's id (malloc'd). */
int sessions_logout(sesame_ctx *ctx, const char *refresh_token, char **user_id, sesame_error *err);
/* A fresh access token for the live session `sid` of user `user_id`, opening
 * nothing: `*out` = {access_token, user_id, device_id}.  SESAME_REJECTED
 * "session" when it has ended, expired or is another user's; "disabled". */
int sessions_access_for(sesame_ctx *ctx, const char *sid, const char *user_id, json_t **out, sesame_error *err);
int sessions_verify_access(sesame_ctx *ctx, const char *token, bool check_session, json_t **claims,
			   sesame_error *err);
json_t *sessions_jwks(sesame_ctx *ctx, sesame_error *err);
/*
 * Whether an access token carrying `custom_data` (borrowed) as user_data
 * fits SESAME_ACCESS_TOKEN_MAX with this configuration, whatever the
 * user, session and device: a token with the longest values of those is
 * signed and measured.  SESAME_OK, or SESAME_MALFORMED "size" saying how
 * large the token would be.
 */
int sessions_check_token_size(sesame_ctx *ctx, const json_t *custom_data, sesame_error *err);

/* ---- api.c ------------------------------------------------------------ */

/*
 * Whom a rules decision is for: user `user_id` (NULL: the caller itself),
 * which a user caller may only be itself.  `*ctx` is the caller's context;
 * `*user` a new reference to the user as the store holds it (custom data
 * included), or NULL for the system user.  SESAME_REJECTED "forbidden"
 * (another user) or "disabled", SESAME_NOT_FOUND "user", store errors.
 */
int api_rules_subject(sesame_caller *caller, const char *user_id, sesame_ctx **ctx, json_t **user,
		      sesame_error *err);

#endif /* SESAME_INTERNAL_H */
