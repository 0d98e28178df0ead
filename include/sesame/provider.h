/* SPDX-License-Identifier: MIT */
/*
 * sesame/provider.h — the provider plugin ABI.
 *
 * A provider plugin is a shared object that verifies one kind of credential
 * (a Google ID token, a custom JWT, an email/password pair, ...) and returns
 * an identity.  This header is all a plugin author needs; build the plugin
 * with `pkg-config --cflags --libs sesame-provider` (jansson, never
 * libsesame), check it with sesame-provider-check(1) and install it, mode
 * 0644, into `pkg-config --variable=providerdir sesame-provider` as
 * TYPE.so.  See sesame-provider(3) for a walk-through.
 *
 * The plugin exports exactly one symbol, `sesame_provider_entry`, a const
 * struct sesame_provider.  The core hands the plugin a struct sesame_host,
 * a table of services (logging, clock, randomness, HTTP, JWT verification
 * against configured or fetched keys) so the plugin needs neither OpenSSL
 * nor libcurl of its own.
 *
 * Versioning (the same rule for both structs).  Each struct starts with
 * `abi_version` (major << 16 | minor) and `struct_size` (sizeof the struct
 * as the side that filled it knew it).  The core refuses a plugin whose
 * major differs from its own and accepts any minor.  Fields are only ever
 * appended and never reused or reordered; a field added in minor N is read
 * only after checking, with SESAME_HAS_FIELD(), that the other side's
 * struct_size covers it, and (for function pointers) that it is not NULL.
 *
 * JSON crosses this ABI as jansson json_t (libjansson.so.4, symbol-versioned
 * and stable).  Ownership is stated per function: "borrowed" means the
 * callee must not decref it and must not keep it after returning; "new
 * reference" means the receiver owns one reference and must json_decref it.
 *
 * Copyright (c) 2026 the sesame developers. MIT licensed, see COPYING.
 */
#ifndef SESAME_PROVIDER_H
#define SESAME_PROVIDER_H

#include <jansson.h>
#include <sesame/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The provider ABI version this header describes. */
#define SESAME_PROVIDER_ABI_MAJOR 1
#define SESAME_PROVIDER_ABI_MINOR 2
#define SESAME_ABI_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define SESAME_PROVIDER_ABI_VERSION SESAME_ABI_VERSION(SESAME_PROVIDER_ABI_MAJOR, SESAME_PROVIDER_ABI_MINOR)
#define SESAME_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define SESAME_ABI_MINOR_OF(v) ((uint32_t)(v) & 0xffffu)

/* The name of the one symbol a provider plugin exports. */
#define SESAME_PROVIDER_ENTRY_SYMBOL "sesame_provider_entry"

/*
 * True when a struct whose struct_size is `size` contains `field` of `type`.
 * Use it before reading any field that is not part of the ABI 1.0 minimum.
 */
#define SESAME_HAS_FIELD(type, field, size) \
	((size_t)(size) >= offsetof(type, field) + sizeof(((type *)0)->field))

/*
 * The core's handle for one configured provider instance (one NAME.json
 * drop-in).  Opaque; valid from init() until after fini() returns.  Every
 * host service takes it so that logs and storage are attributed to the
 * right instance.
 */
typedef struct sesame_instance sesame_instance;

/*
 * A set of verification (and possibly signing) keys: either parsed once from
 * configuration or backed by a JWKS URI that the core fetches and caches.
 * Opaque and thread-safe: any number of threads may verify against one key
 * set at the same time, while the core refreshes it.
 */
typedef struct sesame_keys sesame_keys;

/* Flags of sesame_host.kv_put(). */
#define SESAME_KV_CREATE 0x1u /* fail with SESAME_CONFLICT "exists" when the key holds a live entry */

/* Flags of struct sesame_jwt_rules. */
#define SESAME_JWT_EXP_OPTIONAL 0x1u  /* a token without `exp` is accepted */
#define SESAME_JWT_ALL_AUDIENCES 0x2u /* `aud` must hold every listed audience, not just one */

/*
 * What sesame_host.jwt_verify checks beyond the signature.  Zero-fill it and
 * set struct_size = sizeof(struct sesame_jwt_rules).
 *
 *   audiences   NULL-terminated list.  When not NULL, the token's `aud` (a
 *               string or an array of strings) must contain at least one of
 *               them (or all, with SESAME_JWT_ALL_AUDIENCES), compared
 *               exactly.  NULL: `aud` is not checked.
 *   issuers     NULL-terminated list.  When not NULL, `iss` must equal one.
 *   algorithms  NULL-terminated list of accepted `alg` values.  When NULL,
 *               any algorithm is accepted as long as it is the one the
 *               matching key is pinned to (it always must be).
 *   leeway      seconds of clock skew allowed on exp, nbf and iat; a
 *               negative value means the default, 60.
 *   max_length  largest accepted token in bytes, checked before any
 *               decoding; 0 means the default, 65536.
 *   flags       SESAME_JWT_* flags.
 */
struct sesame_jwt_rules {
	uint32_t struct_size;
	unsigned flags;
	const char *const *audiences;
	const char *const *issuers;
	const char *const *algorithms;
	int64_t leeway;
	size_t max_length;
};

/*
 * An outbound HTTP request for sesame_host.http.  Zero-fill it and set
 * struct_size.  Only https:// URLs are allowed, except http:// to a loopback
 * address when the core runs in test mode.  Redirects are never followed.
 *
 *   method      "GET" or "POST".
 *   url         the URL; it must come from configuration, never from a
 *               client.
 *   headers     NULL-terminated list of "Name: value" lines, or NULL.
 *   body        request body for POST (e.g. a form), or NULL.
 *   timeout_ms  total time allowed; 0 means the default, 10000.
 *   max_body    largest accepted response body; 0 means the default, 1 MiB.
 */
struct sesame_http_request {
	uint32_t struct_size;
	const char *method;
	const char *url;
	const char *const *headers;
	const char *body;
	size_t body_length;
	long timeout_ms;
	size_t max_body;
};

/*
 * The answer to a request.  `body` is NUL-terminated (the NUL is not counted
 * in body_length) and, like content_type, owned by the core: release both
 * with sesame_host.http_response_clear().
 */
struct sesame_http_response {
	long status;
	char *body;
	size_t body_length;
	char *content_type;
};

/* Flags of struct sesame_program (since ABI 1.2). */
#define SESAME_PROGRAM_STDOUT 0x1u /* capture standard output into the result (else /dev/null) */
#define SESAME_PROGRAM_STDERR 0x2u /* keep the first 4096 bytes of standard error (else /dev/null) */

/*
 * Since ABI 1.2.  A program to run with sesame_host.program_run.  Zero-fill
 * it and set struct_size = sizeof(struct sesame_program).  The program gets:
 *
 *   - argv exactly as given, through execve(): no shell, no PATH lookup;
 *   - `input` on its standard input (an in-memory file: it may read it or
 *     not, and never blocks sesame);
 *   - its standard output captured (SESAME_PROGRAM_STDOUT) or /dev/null,
 *     its standard error likewise (SESAME_PROGRAM_STDERR);
 *   - no other file descriptor, every signal unblocked and at its default;
 *   - the environment PATH=/usr/local/bin:/usr/bin:/bin, SESAME_PROVIDER
 *     (the instance name), SESAME_PROVIDER_TYPE and SESAME_APP_ID, nothing
 *     else; the working directory "/";
 *   - when sesame runs as root: the identity of `user`, or by default of
 *     the main configuration's programs.user ("nobody" unless set), with
 *     that user's primary group and no supplementary group.  Never root.
 *
 * When the program exits, dies, times out or writes too much, every
 * process it started is killed with SIGKILL, also those that called
 * setsid() or forked twice: each program runs under a process of its own
 * that is their subreaper.
 *
 *   argv          NULL-terminated, 1 to 64 strings of at most 4096 bytes,
 *                 argv[0] the program's absolute path.
 *   input         bytes for standard input (NULL when input_length is 0),
 *                 at most 1 MiB.  sesame does not keep them.
 *   timeout_ms    0: 10000; else 100 to 300000.
 *   max_output    largest standard output kept; 0: 65536; at most 16 MiB.
 *                 A program that writes more is killed.
 *   user          NULL: programs.user.  Else a user name, which must not
 *                 be root; when sesame does not run as root, only the name
 *                 of the user sesame runs as is accepted.
 */
struct sesame_program {
	uint32_t struct_size;
	unsigned flags;
	const char *const *argv;
	const void *input;
	size_t input_length;
	long timeout_ms;
	size_t max_output;
	const char *user;
};

/* How a program ended: sesame_program_result.outcome (since ABI 1.2). */
#define SESAME_PROGRAM_EXITED 1		  /* it exited; `code` is its exit status */
#define SESAME_PROGRAM_SIGNALED 2	  /* a signal killed it; `code` is the signal */
#define SESAME_PROGRAM_TIMED_OUT 3	  /* it ran past timeout_ms and was killed */
#define SESAME_PROGRAM_OUTPUT_TOO_LARGE 4 /* it wrote more than max_output and was killed */

/*
 * Since ABI 1.2.  What sesame_host.program_run reports.  Zero-fill it and
 * set struct_size = sizeof(struct sesame_program_result); release it with
 * sesame_host.program_result_clear(), which wipes the buffers.
 *
 *   outcome, code   SESAME_PROGRAM_* and its exit status or signal.
 *   output          with SESAME_PROGRAM_STDOUT: what the program wrote on
 *                   standard output (up to max_output bytes), NUL-terminated
 *                   (the NUL not counted in output_length); else NULL.
 *   errors          with SESAME_PROGRAM_STDERR: the first 4096 bytes of its
 *                   standard error, NUL-terminated; else NULL.  It is the
 *                   program's text: never pass it on unfiltered.
 */
struct sesame_program_result {
	uint32_t struct_size;
	int outcome;
	int code;
	char *output;
	size_t output_length;
	char *errors;
	size_t errors_length;
};

/* Encodings of sesame_host.encode() and decode() (since ABI 1.2). */
#define SESAME_ENCODING_HEX 1	    /* lowercase hexadecimal (decode accepts either case) */
#define SESAME_ENCODING_BASE64 2    /* RFC 4648 section 4, with padding */
#define SESAME_ENCODING_BASE64URL 3 /* RFC 4648 section 5, without padding (strict, as in JWS) */
#define SESAME_ENCODING_URL 4	    /* percent-encoding of a URL query or form component (encode only) */

/* The largest digest sesame_host.digest() writes (EVP_MAX_MD_SIZE). */
#define SESAME_DIGEST_MAX 64

/*
 * Since ABI 1.2.  What a file looked like when sesame_host.file_read() read
 * it, for sesame_host.file_changed().  Opaque to the plugin: keep it and
 * pass it back.
 */
struct sesame_file_stamp {
	uint64_t device;
	uint64_t inode;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

/*
 * The host services table the core hands to a plugin's init().  The pointer
 * stays valid until fini() returns.  All functions are thread-safe.
 */
struct sesame_host {
	uint32_t abi_version; /* the core's provider ABI version */
	uint32_t struct_size; /* sizeof(struct sesame_host) as the core knows it */

	/* Log a message attributed to the instance.  Never log a secret. */
	void (*log)(sesame_instance *self, int level, const char *fmt, ...) SESAME_PRINTF(3, 4);

	/*
	 * Fill `err` (which may be NULL) with a status, a stable reason word
	 * (may be NULL) and a printf-style message.  Returns `status`, so a
	 * plugin can write `return host->error(err, SESAME_REJECTED, "claim",
	 * "token expired");`.
	 */
	int (*error)(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);

	/* The instance name (the NAME of NAME.json) and whether test mode is on. */
	const char *(*instance_name)(const sesame_instance *self);
	int (*test_mode)(const sesame_instance *self);

	/* Seconds since the epoch, as the core sees it (tests may shift it). */
	int64_t (*now)(const sesame_instance *self);

	/* Fill buf with cryptographically secure random bytes.  SESAME_OK or
	 * SESAME_INTERNAL. */
	int (*random)(void *buf, size_t length);

	/* Compare two buffers of the same length in constant time; 1 if equal. */
	int (*ct_equal)(const void *a, const void *b, size_t length);

	/* Overwrite a buffer with zeros in a way the compiler cannot drop. */
	void (*wipe)(void *buf, size_t length);

	/* Free memory the core handed to the plugin (e.g. a signed token). */
	void (*free)(void *p);

	/*
	 * Outbound HTTP (libcurl in the core).  On SESAME_OK `response` is
	 * filled, whatever the HTTP status; release it with
	 * http_response_clear().  SESAME_UNAVAILABLE when the server cannot be
	 * reached, times out, redirects or sends too much; SESAME_MALFORMED when
	 * the request is not allowed (e.g. an http:// URL outside test mode).
	 */
	int (*http)(sesame_instance *self, const struct sesame_http_request *request,
		    struct sesame_http_response *response, sesame_error *err);
	void (*http_response_clear)(struct sesame_http_response *response);

	/*
	 * Parse a configured key list into a key set, once, at init().
	 * `keys` (borrowed) is a JSON array of 1 to 16 {"alg", "kid", "key"}
	 * objects: `alg` pins the key to one algorithm (HS256/384/512,
	 * RS256/384/512, PS256/384/512, ES256/384/512, EdDSA); `key` is a PEM
	 * public or private key of the matching type (RSA >= 2048 bits, the
	 * alg's EC curve, Ed25519), the HMAC secret (at least 32 bytes, not a
	 * PEM), or a JWK object; `kid` is optional and unique.  A key without
	 * kid verifies tokens of its alg whatever their kid.
	 * Errors: SESAME_CONFIG with reason "key", naming signing_keys[i].
	 */
	int (*keys_from_config)(sesame_instance *self, const json_t *keys, sesame_keys **out, sesame_error *err);

	/*
	 * A key set backed by a JWKS URI, fetched lazily and cached (max-age
	 * honoured and clamped; refetched on an unknown kid at most once per
	 * cooldown; the last good keys kept when a fetch fails).  Only the
	 * algorithms in `algorithms` (NULL-terminated, NULL = all asymmetric)
	 * are accepted from it; symmetric keys never are.  Nothing is fetched
	 * before the first jwt_verify().  Errors: SESAME_CONFIG with reason
	 * "url" when the URI is not https:// (or loopback http:// in test
	 * mode).
	 */
	int (*keys_from_jwks_uri)(sesame_instance *self, const char *uri, const char *const *algorithms,
				  sesame_keys **out, sesame_error *err);

	/* Release a key set.  Safe while other threads still verify with it. */
	void (*keys_free)(sesame_keys *keys);

	/*
	 * Verify a compact JWS/JWT against a key set and check its claims.  On
	 * SESAME_OK `*claims` is a new reference to the payload object.
	 * Errors: SESAME_MALFORMED (reason "malformed"), SESAME_REJECTED with
	 * reason "alg", "sig", "nokey" or "claim", SESAME_UNAVAILABLE (reason
	 * "jwks") when a JWKS-backed set has no keys and cannot fetch any,
	 * SESAME_USAGE for NULL arguments or a too small rules.struct_size.
	 * The signature is checked before any claim is looked at.
	 */
	int (*jwt_verify)(sesame_instance *self, sesame_keys *keys, const char *token,
			  const struct sesame_jwt_rules *rules, json_t **claims, sesame_error *err);

	/*
	 * Sign `claims` (borrowed) with the key of `keys` whose kid is `kid`
	 * (or its only key when kid is NULL), which must hold a private key.
	 * `extra_header` (borrowed, may be NULL) adds header members.  On
	 * SESAME_OK `*token` is a NUL-terminated compact JWS to release with
	 * free().
	 */
	int (*jwt_sign)(sesame_instance *self, sesame_keys *keys, const char *kid, const json_t *extra_header,
			const json_t *claims, char **token, sesame_error *err);

	/*
	 * The application id ("app_id" of sesame.json), e.g. the default
	 * audience of tokens minted for this application.  Valid as long as
	 * `self`.  ABI 1.0 (the last field of that minor).
	 */
	const char *(*app_id)(const sesame_instance *self);

	/*
	 * Since ABI 1.1 (check with SESAME_HAS_FIELD()).  SHA-256 of `length`
	 * bytes into out[32].  SESAME_OK, or SESAME_INTERNAL when the digest
	 * cannot be computed.  Used e.g. for Sign in with Apple's nonce.
	 */
	int (*sha256)(const void *data, size_t length, unsigned char out[32]);

	/*
	 * Since ABI 1.1.  HMAC-SHA256 of `length` bytes of `data` with the key
	 * of `key_length` bytes, into out[32].  SESAME_OK or SESAME_INTERNAL.
	 * Used e.g. for Facebook's appsecret_proof.  The caller wipes `out`
	 * when it is a secret.
	 */
	int (*hmac_sha256)(const void *key, size_t key_length, const void *data, size_t length, unsigned char out[32]);

	/*
	 * ---- Since ABI 1.1, like sha256: check each with SESAME_HAS_FIELD() ----
	 *
	 * A key/value store private to the instance (its namespace is the
	 * instance name), kept in sesame's database, so a provider needs no
	 * database of its own.  Keys are 1..255 bytes; values any JSON value.
	 *
	 * kv_get: `*value` gets a new reference to the value of `key`.
	 *   SESAME_NOT_FOUND "key" when there is none or it expired.
	 * kv_put: set `key` to `value` (borrowed).  `user_id` (NULL allowed)
	 *   binds the entry to a sesame user: deleting the user deletes the
	 *   entry (SESAME_NOT_FOUND "user" when no such user).  `expires` > 0
	 *   (seconds since the epoch, host->now() based) hides the entry from
	 *   then on.  With SESAME_KV_CREATE a live entry is SESAME_CONFLICT
	 *   "exists" and is left alone; without, it is replaced.
	 * kv_delete: delete `key`; SESAME_NOT_FOUND "key" when there is none.
	 *
	 * All three: SESAME_MALFORMED "key" for a NULL, empty or too long key,
	 * SESAME_UNAVAILABLE when the database cannot be reached.  Every call
	 * is its own transaction.
	 */
	int (*kv_get)(sesame_instance *self, const char *key, json_t **value, sesame_error *err);
	int (*kv_put)(sesame_instance *self, const char *key, const json_t *value, const char *user_id,
		      int64_t expires, unsigned flags, sesame_error *err);
	int (*kv_delete)(sesame_instance *self, const char *key, sesame_error *err);

	/*
	 * How long (seconds, 60 to 20 years) the sessions opened by a login
	 * with an identity of this instance last, i.e. the lifetime of their
	 * refresh token, instead of the application's sessions.refresh_ttl.
	 * Call it from init() only (the anonymous provider keeps its sessions
	 * for years, as App Services does).  SESAME_CONFIG "session_ttl" when
	 * out of range.
	 */
	int (*set_session_ttl)(sesame_instance *self, int64_t seconds, sesame_error *err);

	/*
	 * Identities a provider issues itself, outside a login (an API key
	 * logs in as the user who created it).  `uid` is the identity's id for
	 * this instance (1..255 bytes), `data` (borrowed, NULL allowed) its
	 * metadata object; a later verify() returning this uid logs in as
	 * that user.
	 *
	 * link_identity: attach (this instance, uid) to user `user_id`; with
	 *   `user_id` NULL, create a new user of type "server" holding only
	 *   it.  `*user_id_out` (NULL allowed) gets the user's id, to release
	 *   with free().  Errors: SESAME_CONFLICT "linked" when a user already
	 *   holds the identity, SESAME_NOT_FOUND "user", SESAME_MALFORMED
	 *   "identity".
	 * unlink_identity: remove (this instance, uid) from its user.  A
	 *   "server" user left without identity is deleted; a "normal" user's
	 *   last identity is SESAME_REJECTED "last-identity".
	 *   SESAME_NOT_FOUND "identity" when nobody holds it.
	 */
	int (*link_identity)(sesame_instance *self, const char *user_id, const char *uid, const json_t *data,
			     char **user_id_out, sesame_error *err);
	int (*unlink_identity)(sesame_instance *self, const char *uid, sesame_error *err);

	/*
	 * Password hashing, so a plugin needs no crypto library: scrypt with
	 * N = 2^log2_n (10..20), r (1..32), p (1..16) through OpenSSL's
	 * EVP_KDF, as a PHC string "$scrypt$ln=..,r=..,p=..$SALT$HASH"
	 * (16-byte random salt, 32-byte hash, base64 without padding).
	 *
	 * password_hash: `*phc` gets the string, to release with free().
	 *   SESAME_USAGE for parameters out of range or a password over 4096
	 *   bytes; the plugin enforces its own password rules first.
	 * password_verify: `*match` 1 when `password` hashes to `phc` (with
	 *   the parameters stored in it; compared in constant time), else 0;
	 *   `*weaker` (NULL allowed) 1 when those parameters are below
	 *   (log2_n, r, p), i.e. the hash should be replaced after a
	 *   successful login.  SESAME_MALFORMED "hash" when `phc` is not such
	 *   a string.  Both always run the KDF once: to make an unknown user
	 *   cost what a wrong password costs, verify against a dummy hash.
	 *
	 * Both run within a process-wide memory budget (sesame.json's
	 * "password_hashing"; one run takes 128 * r * (N + p + 2) bytes): when
	 * it is in use they wait a bounded time in a bounded queue, then fail
	 * with SESAME_UNAVAILABLE "busy" (sesamed: 503 with Retry-After);
	 * pass it on, as the request may be retried.  A single run larger than
	 * the whole budget is SESAME_CONFIG "budget": hash once in init() (a
	 * dummy hash, say) so that such parameters stop the instance at start.
	 */
	int (*password_hash)(sesame_instance *self, const char *password, size_t length, unsigned log2_n, unsigned r,
			     unsigned p, char **phc, sesame_error *err);
	int (*password_verify)(sesame_instance *self, const char *password, size_t length, const char *phc,
			       unsigned log2_n, unsigned r, unsigned p, int *match, int *weaker, sesame_error *err);

	/*
	 * End every session of the user holding the identity (this instance,
	 * `uid`), e.g. after a password reset.  SESAME_OK also when nobody
	 * holds it (a user that never logged in has no session).
	 */
	int (*end_sessions)(sesame_instance *self, const char *uid, sesame_error *err);

	/*
	 * Since ABI 1.2 (check with SESAME_HAS_FIELD() and for NULL).  Add
	 * `delta` to the counter kept as the value of `key` in the instance's
	 * key/value store, atomically: one store transaction, so counters
	 * shared by several threads or several sesamed nodes over one
	 * database lose no update.  A missing or expired entry counts as 0;
	 * the result never goes below 0.  `*value` gets the new value.
	 *
	 * `limit` > 0 with `delta` > 0: when the result would exceed `limit`,
	 * nothing is written, `*value` gets the value as it is, and the
	 * answer is SESAME_REJECTED "limit" (a throttle: count an attempt
	 * only while under the limit, refuse it otherwise).  `limit` 0: no
	 * limit.
	 *
	 * `expires` > 0 (seconds since the epoch, host->now() based) is the
	 * entry's expiry from this write on, 0 none: a counter written with
	 * now + W restarts from 0 once W seconds pass without a change.  The
	 * entry is not bound to a user.
	 *
	 * Errors: SESAME_MALFORMED "key" as kv_get; SESAME_MALFORMED "value"
	 * when the entry holds something other than an integer;
	 * SESAME_UNAVAILABLE when the database cannot be reached.
	 */
	int (*kv_add)(sesame_instance *self, const char *key, int64_t delta, int64_t limit, int64_t expires,
		      int64_t *value, sesame_error *err);

	/*
	 * ---- Since ABI 1.2: check each with SESAME_HAS_FIELD() ----
	 *
	 * Running an external program (a mailer, a program that decides a
	 * login), so that no plugin carries fork/exec code of its own; see
	 * struct sesame_program for what the program gets.
	 *
	 * program_check: everything that can be checked without running it:
	 *   the request's fields; argv[0], which must be a regular executable
	 *   file owned by root or by the user sesame runs as, and which, like
	 *   every directory above it, group and others cannot write; and the
	 *   user.  Call it from init() with the request verify() will make, so
	 *   a bad command stops the instance at start.  SESAME_OK, or
	 *   SESAME_CONFIG with reason "command" (bad request), "file" (missing
	 *   or not a regular executable file), "permissions" (an untrusted
	 *   path; the message names the path and says how to fix it) or "user".
	 * program_run: check again, then run the program and wait for it.
	 *   SESAME_OK when it ran, however it ended: `result` says how.
	 *   SESAME_UNAVAILABLE when it could not be run: reason "program" (it
	 *   could not be started: missing, not executable, the user cannot be
	 *   switched to, no process left), "permissions" or "file" (its path is
	 *   no longer trusted), "user"; SESAME_USAGE for a bad request.  Call
	 *   program_result_clear() after every call.  Reentrant; the calling
	 *   thread blocks until the program and its descendants are gone.
	 * program_result_clear: wipe and free what a result holds; safe on a
	 *   zero-filled result and to call twice.
	 */
	int (*program_check)(sesame_instance *self, const struct sesame_program *program, sesame_error *err);
	int (*program_run)(sesame_instance *self, const struct sesame_program *program,
			   struct sesame_program_result *result, sesame_error *err);
	void (*program_result_clear)(struct sesame_program_result *result);

	/*
	 * Since ABI 1.2.  Encoders, so a plugin needs no library of its own.
	 *
	 * encode: `length` bytes of `data` as text in `encoding`
	 *   (SESAME_ENCODING_*): `*text` is NUL-terminated, to release with
	 *   free().  SESAME_USAGE for an unknown encoding, SESAME_INTERNAL when
	 *   out of memory.
	 * decode: the bytes of `length` characters of `text` (hex, base64 or
	 *   base64url; strictly: no whitespace, no stray padding, zero trailing
	 *   bits for base64url): `*data` (NUL-terminated, the NUL not counted in
	 *   `*data_length`) to release with free().  SESAME_MALFORMED "encoding"
	 *   for text that is not of the encoding, SESAME_USAGE for
	 *   SESAME_ENCODING_URL or an unknown encoding.
	 */
	int (*encode)(int encoding, const void *data, size_t length, char **text, sesame_error *err);
	int (*decode)(int encoding, const char *text, size_t length, unsigned char **data, size_t *data_length,
		      sesame_error *err);

	/*
	 * Since ABI 1.2.  The digest named `name` (an OpenSSL digest name such
	 * as "SHA-256", "SHA-512", "SHA-1" or "MD5", through EVP) of `length`
	 * bytes into out[SESAME_DIGEST_MAX]; `*out_length` gets its size.
	 * SESAME_USAGE "digest" for a name OpenSSL does not know.  (SHA-1 and
	 * MD5 exist to check hashes that others made, e.g. htpasswd's {SHA}.)
	 */
	int (*digest)(const char *name, const void *data, size_t length, unsigned char out[SESAME_DIGEST_MAX],
		      size_t *out_length, sesame_error *err);

	/*
	 * Since ABI 1.2.  Check `password` (`length` bytes, no NUL) against a
	 * crypt(3)-format hash ("$2b$...", "$6$...", "$5$...", "$y$...", ...)
	 * through the system's libcrypt, comparing in constant time: `*match`
	 * 1 or 0.  SESAME_MALFORMED "hash" for a hash libcrypt does not
	 * support or that is not of the crypt format, "password" for a
	 * password with a NUL byte.  Reentrant.
	 */
	int (*crypt_verify)(const char *password, size_t length, const char *hash, int *match, sesame_error *err);

	/*
	 * Since ABI 1.2.  Read a file the instance trusts, with the rules of
	 * "@/path" secrets: an absolute path of a regular file that is not
	 * accessible by group or others, owned like every directory above it
	 * by root or the user sesame runs as and writable by nobody else.
	 * `*data` (NUL-terminated, the NUL not counted in `*length`) is to wipe
	 * and release with free(); `stamp` (NULL allowed) records what the file
	 * looked like.  SESAME_CONFIG "file" (missing, unreadable, not a regular
	 * file), "permissions" (the message names the path and the fix) or
	 * "size" (larger than `max`).
	 * file_changed: `*changed` 1 when the file at `path` is no longer the
	 *   one `stamp` describes (replaced, written, removed), else 0; cheap
	 *   (one stat), so a plugin may call it on every verify() and reload.
	 */
	int (*file_read)(sesame_instance *self, const char *path, size_t max, char **data, size_t *length,
			 struct sesame_file_stamp *stamp, sesame_error *err);
	int (*file_changed)(sesame_instance *self, const char *path, const struct sesame_file_stamp *stamp,
			    int *changed, sesame_error *err);

	/*
	 * Since ABI 1.2.  A random identifier: `bytes` (1 to 64) bytes of
	 * secure randomness as 2 * `bytes` lowercase hex digits and a NUL in
	 * `out`.  SESAME_OK, SESAME_USAGE or SESAME_INTERNAL.
	 */
	int (*random_id)(char *out, size_t bytes);

	/*
	 * Since ABI 1.2.  Compare and set an entry of the instance's key/value
	 * store, atomically: replace the value of `key` by `value` only when it
	 * is still `expected` (compared as JSON; NULL: only when there is no
	 * live entry).  `user_id` and `expires` as kv_put().  SESAME_CONFLICT
	 * "changed" when another call changed it first (nothing written), and
	 * the errors of kv_put().  Use it to write back a record read earlier
	 * without undoing a concurrent change.
	 */
	int (*kv_replace)(sesame_instance *self, const char *key, const json_t *expected, const json_t *value,
			  const char *user_id, int64_t expires, sesame_error *err);

	/*
	 * Since ABI 1.2.  error() for a problem with the instance's
	 * configuration at `path`, a member of its "config" object
	 * ("client_id", "scrypt.log2_n", "signing_keys[1].kid"): the message
	 * names the drop-in file and the member's line and column
	 * ("FILE:LINE:COL: message", with err->source, line and column set),
	 * as the core's own configuration errors do.  For init(); returns
	 * `status`.
	 */
	int (*config_error)(sesame_instance *self, sesame_error *err, int status, const char *reason,
			    const char *path, const char *fmt, ...) SESAME_PRINTF(6, 7);
};

/* Kinds of caller of an action (struct sesame_action_caller). */
#define SESAME_CALLER_NONE 0   /* unauthenticated: e.g. registration, password reset */
#define SESAME_CALLER_USER 1   /* a user, by a valid access or refresh token of a live session */
#define SESAME_CALLER_SYSTEM 2 /* the system user: an operator, or the admin key */

/*
 * Since ABI 1.2.  Who asks for an action (action_as()), filled in by the
 * core.  Read its fields only up to struct_size (later minors append).
 *
 *   kind       SESAME_CALLER_*.
 *   user_id    the user's id (24 hex digits) for SESAME_CALLER_USER, else
 *              NULL.
 *   user_type  "normal" or "server" for SESAME_CALLER_USER, else NULL.
 *   anonymous  1 when every identity of the user comes from an anonymous
 *              provider (SESAME_PROVIDER_CAP_ANONYMOUS), else 0.
 */
struct sesame_action_caller {
	uint32_t struct_size;
	unsigned kind;
	const char *user_id;
	const char *user_type;
	int anonymous;
};

/*
 * The provider descriptor, exported by the plugin as
 *
 *   const struct sesame_provider sesame_provider_entry = {
 *           .abi_version = SESAME_PROVIDER_ABI_VERSION,
 *           .struct_size = sizeof(struct sesame_provider),
 *           .type = "custom-token",
 *           ...
 *   };
 *
 * Required (ABI 1.0): abi_version, struct_size, type, version, description,
 * init, verify, fini.  Optional, NULL allowed: action, user_deleted, and
 * metadata_defaults and action_as (since ABI 1.2).  Optional, 0 allowed:
 * capabilities (since ABI 1.2).
 */
struct sesame_provider {
	uint32_t abi_version;
	uint32_t struct_size;

	/* The provider type; must equal the plugin's file name without ".so"
	 * and match [a-z0-9][a-z0-9_-]*. */
	const char *type;
	/* The plugin's own version, free form (e.g. "1.2.0"). */
	const char *version;
	/* One line saying what the provider verifies. */
	const char *description;

	/*
	 * Create the state of one instance.  `host` and `self` stay valid until
	 * fini(); `config` (borrowed) is the "config" object of the instance's
	 * drop-in, with "@/path" secrets already replaced by the file contents,
	 * and nothing else: the drop-in's "metadata_fields" are the core's
	 * (see metadata_defaults) and never appear in it.  Refuse unknown keys
	 * and bad values with SESAME_CONFIG, naming the key in the message.
	 * On SESAME_OK, `*state` is what later calls get.
	 * Called once per instance, from one thread.
	 */
	int (*init)(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		    sesame_error *err);

	/*
	 * Verify a credential (borrowed; the client's JSON body without
	 * "options" and "provider").  On SESAME_OK set `*identity` to a new
	 * reference to an object:
	 *
	 *   {"id": "<provider uid, 1..255 bytes, no NUL>",
	 *    "data": {...every profile field the provider knows, optional...},
	 *    "private": {...kept for the provider only, optional...}}
	 *
	 * Of "data" the core keeps the fields the drop-in's metadata_fields
	 * name (dot paths into it), or else the provider's metadata_defaults,
	 * and shows them to clients.  Use App Services' names where they exist
	 * (name, first_name, last_name, email, picture, gender, birthday,
	 * min_age, max_age); the core makes those strings.
	 *
	 * On a later login of the same identity, the kept data replaces the
	 * stored data; "private" replaces the stored private data only when
	 * present and not empty (a login without it keeps what an earlier one
	 * stored).
	 *
	 * The core re-checks it.  Otherwise return SESAME_REJECTED,
	 * SESAME_MALFORMED, SESAME_UNAVAILABLE or SESAME_INTERNAL and fill err.
	 * Must be reentrant: it is called from many threads at once.
	 */
	int (*verify)(void *state, const json_t *credential, json_t **identity, sesame_error *err);

	/* Release the state.  Called once, after every other call returned. */
	void (*fini)(void *state);

	/*
	 * Optional.  A provider-specific operation named `name` (e.g.
	 * "register", "confirm", "reset" for email/password) with `args`
	 * (borrowed).  On SESAME_OK, `*result` may be set to a new reference to
	 * a JSON value returned to the client, or left NULL.  Reentrant.
	 *
	 * `args` carries who asks as a "caller" member the core fills in (any
	 * "caller" a client sent is removed first): absent for an
	 * unauthenticated call, {"system": true} for the system user, or
	 * {"user_id", "type", "anonymous"} for a user.  Since ABI 1.2 a plugin
	 * should implement action_as() instead, which gets the caller as a
	 * typed argument; the core calls action() only when action_as is NULL
	 * or beyond the plugin's struct_size.
	 */
	int (*action)(void *state, const char *name, const json_t *args, json_t **result, sesame_error *err);

	/*
	 * Optional.  Called when a user holding an identity of this instance is
	 * deleted, with the identity (borrowed; includes "private").  A failure
	 * is logged and the deletion goes on.  Reentrant.
	 */
	int (*user_deleted)(void *state, const json_t *identity, sesame_error *err);

	/*
	 * Since ABI 1.2.  The provider's capabilities, SESAME_PROVIDER_CAP_*
	 * flags of <sesame/common.h> ORed together (0: none, an ordinary
	 * provider whose identities may be linked into any user):
	 *
	 *   SESAME_PROVIDER_CAP_ANONYMOUS       each login is a new user, deleted
	 *                                       at the logout of its last session
	 *                                       (implies NO_LINK);
	 *   SESAME_PROVIDER_CAP_NO_LINK         never linked into an existing user;
	 *   SESAME_PROVIDER_CAP_ONE_PER_USER    at most one identity of this type
	 *                                       per user;
	 *   SESAME_PROVIDER_CAP_EMAIL_PASSWORD  serves the email/password client
	 *                                       routes through its actions;
	 *   SESAME_PROVIDER_CAP_API_KEYS        serves the user API key routes
	 *                                       through its actions;
	 *   SESAME_PROVIDER_CAP_WEB_REDIRECT    supports the web redirect flow
	 *                                       ("authorize_url" and "authCode").
	 *
	 * The core reads it only when struct_size covers it: a plugin built
	 * against an older header has no capabilities.  Unknown bits are
	 * ignored.
	 */
	uint32_t capabilities;

	/*
	 * Since ABI 1.2 (the core checks it with SESAME_HAS_FIELD()).  The
	 * names of the "data" members the core keeps when the drop-in
	 * configures no "metadata_fields": a NULL-terminated list, e.g.
	 * {"name", "email", NULL}; an empty list ({NULL}) keeps none.  NULL
	 * (and every plugin built before ABI 1.2) keeps every member.
	 * Document the set in the provider's man page.
	 */
	const char *const *metadata_defaults;

	/*
	 * Since ABI 1.2; optional, NULL allowed.  action() with the caller as
	 * a typed argument: `caller` (never NULL, valid during the call) is
	 * filled in by the core from what authenticated the request, never
	 * from client JSON, and `args` (borrowed, an object) holds no "caller"
	 * member.  When set, the core calls it for every action of the
	 * instance and never calls action().  Same results as action().
	 * Reentrant.
	 */
	int (*action_as)(void *state, const struct sesame_action_caller *caller, const char *name, const json_t *args,
			 json_t **result, sesame_error *err);
};

/* The smallest struct_size the core accepts: everything up to fini. */
#define SESAME_PROVIDER_MIN_SIZE \
	(offsetof(struct sesame_provider, fini) + sizeof(((struct sesame_provider *)0)->fini))

#ifdef __cplusplus
}
#endif

#endif /* SESAME_PROVIDER_H */
