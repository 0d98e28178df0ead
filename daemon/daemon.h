/* SPDX-License-Identifier: MIT */
/*
 * daemon/daemon.h — declarations shared by the files of sesamed, the HTTP
 * front end.  Nothing here is installed: sesamed reaches libsesame through
 * its public API only.
 *
 * A request flows server.c (libmicrohttpd callbacks, body accumulation,
 * limits) -> router.c (which route) -> a handler of routes.c, which reads
 * the request through the helpers of request.c and answers through the
 * reply functions of response.c.  cors.c, throttle.c and metrics.c are
 * self-contained and unit-tested on their own.
 */
#ifndef SESAMED_DAEMON_H
#define SESAMED_DAEMON_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <sesame/sesame.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses of sesamed, as the `sesame` command line uses them. */
enum { EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

/*
 * The daemon's one error convention, the library's: a function that can
 * fail takes a `sesame_error *err` last and returns SESAME_OK or the status
 * it stored there (SESAME_CONFIG for a bad setting, SESAME_MALFORMED for a
 * bad request body, SESAME_UNAVAILABLE for a resource it cannot get,
 * SESAME_INTERNAL when out of memory).  derr() fills `err` (the text is
 * cut at SESAME_ERROR_TEXT_LENGTH - 1 bytes) and returns `status`.
 */
int derr(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);
/* The exit status of sesamed for a failed start: EXIT_USAGE for a
 * configuration the operator must fix, EXIT_UNAVAILABLE otherwise. */
int exit_status(int status);

/*
 * Memory that may have held a secret is wiped whole before it goes back:
 * request bodies (passwords, API keys, credentials), replies (tokens) and,
 * once daemon_memory_init() made it jansson's free, every JSON value.
 * secret_free() is free() so; secret_wipe() only wipes.  Call
 * daemon_memory_init() first thing, before any JSON value exists.
 */
void secret_wipe(void *p);
void secret_free(void *p);
void daemon_memory_init(void);

/* ---- response.c: what a handler answers ---------------------------------- */

#define REPLY_MAX_HEADERS 12

/*
 * A reply under construction.  A handler sets it once through reply_json(),
 * reply_error() or reply_text() and may add headers; server.c turns it into
 * the HTTP response and adds the headers every response carries.
 */
struct reply {
	unsigned status; /* 0 until something answered */
	bool trusted;	 /* the caller holds the admin key: error texts are shown whole */
	char *detail;	 /* malloc'd: an error text kept from the caller, for the log line */
	char *body;	 /* malloc'd, owned */
	size_t body_len;
	const char *content_type; /* a string literal */
	size_t n_headers;
	struct {
		char *name;
		char *value;
	} headers[REPLY_MAX_HEADERS];
};

void reply_init(struct reply *rep);
/* Free the body and headers; the reply is empty again. */
void reply_clear(struct reply *rep);
/* Answer `status` with the JSON `body` (a reference is stolen; NULL means out
 * of memory and answers 500). */
void reply_json(struct reply *rep, unsigned status, json_t *body);
/* An answer without a body, e.g. 204 No Content. */
void reply_empty(struct reply *rep, unsigned status);
/* Answer `status` with `body` (malloc'd, stolen) of `content_type`. */
void reply_text(struct reply *rep, unsigned status, const char *content_type, char *body, size_t len);
/*
 * Answer an App Services error body {"error": MESSAGE, "error_code": CODE,
 * "link": ""}.  CODE is one of the App Services codes (InvalidSession,
 * AuthError, BadRequest, AuthProviderNotFound, ...).  MESSAGE is made valid
 * UTF-8 (stray bytes become U+FFFD) and cut between characters at
 * REPLY_ERROR_MAX - 1 bytes.
 */
#define REPLY_ERROR_MAX 512
void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Map a libsesame error to the HTTP status and App Services code clients
 * expect (see the table in response.c); 5xx answers hide the detail, which
 * is logged instead, and so do the texts of reply_public_text(). */
void reply_sesame_error(struct reply *rep, const sesame_error *err);
/*
 * The text of `err` a caller may read.  Texts that describe the server
 * (which keys and algorithms a provider trusts), name a user, or quote an
 * identity provider's answer are replaced by a fixed text unless
 * rep->trusted; the original goes to rep->detail for the request's log line.
 * Valid until the reply is cleared.
 */
const char *reply_public_text(struct reply *rep, const sesame_error *err);
/* The HTTP status and App Services code for a libsesame status and reason. */
unsigned error_http_status(int status, const char *reason, const char **code);
/* Add (or replace) a header; names compare case-insensitively. */
void reply_header(struct reply *rep, const char *name, const char *value);
/* The value of a header added to the reply, or NULL. */
const char *reply_header_value(const struct reply *rep, const char *name);

/* ---- cors.c: cross-origin requests from browsers ------------------------- */

/* The allowed origins, from the main configuration's `cors_origins`. */
struct cors {
	char **origins; /* exact "scheme://host[:port]" strings */
	size_t n;
	bool any; /* "*" was listed: every origin is allowed */
};

/* Validate and copy `origins` (a JSON array); SESAME_CONFIG naming the bad
 * element. */
int cors_init(struct cors *c, const json_t *origins, sesame_error *err);
void cors_free(struct cors *c);
bool cors_origin_allowed(const struct cors *c, const char *origin);
/* Add the headers of an actual (non-preflight) response for `origin`
 * (NULL when the request had none). */
void cors_apply(const struct cors *c, const char *origin, struct reply *rep);
/*
 * Answer a preflight OPTIONS request for a path whose methods are `allow`
 * ("GET, POST").  Allowed origin asking for one of those methods: 204 with
 * the Access-Control-Allow-* headers; anything else: 204 with only `Allow`,
 * so the browser refuses the real request.  Returns whether it was allowed.
 */
bool cors_preflight(const struct cors *c, const char *origin, const char *request_method, const char *allow,
		    struct reply *rep);

/* ---- settings.c: the configuration as sesamed uses it --------------------- */

/* Keys of the main configuration's "daemon" section, with their defaults. */
struct daemon_settings {
	unsigned threads;		       /* 0: a thread per connection; N: a pool of N */
	unsigned max_connections;	       /* 1024 */
	unsigned connection_timeout;	       /* seconds of inactivity, 30 */
	size_t max_body_bytes;		       /* 1 MiB */
	size_t max_header_bytes;	       /* 32 KiB: request line + headers */
	unsigned login_failures_per_minute;    /* 20 */
	unsigned throttle_slots;	       /* 4096 client addresses tracked */
	unsigned anon_logins_per_minute;       /* 30 anonymous users created per address */
	unsigned shutdown_timeout;	       /* seconds to drain at SIGTERM, 30 */
	unsigned max_connections_per_address;  /* 32; 0: no limit (behind a proxy) */
	unsigned request_timeout;	       /* seconds for a whole request to arrive, 30 */
	unsigned weblogin_ttl;		       /* seconds a pending web login lives, 300 */
	unsigned weblogin_per_address;	       /* pending web logins per address, 16 */
	unsigned weblogin_starts_per_minute;   /* web logins started per address a minute, 30 */
	bool metrics_public;		       /* "metrics": "public"; default "admin" */
	char *metrics_listen;		       /* "metrics_listen": ADDR:PORT of a /metrics-only listener, or NULL */
	unsigned identifier_failures_per_hour; /* 10 failed logins per address and email/password user */
	unsigned account_requests_per_hour;    /* 30 registrations, mails, call programs per address */
};

struct settings {
	char *config_file; /* the main file read, or NULL (built-in defaults) */
	char *app_id;
	char *listen;
	char *public_url;
	char *ws_url; /* public_url with ws:// or wss:// */
	char *tls_cert;
	char *tls_key;
	bool admin_enabled;
	bool test_mode;			  /* "test_mode" of the main configuration */
	unsigned char admin_key_hash[32]; /* SHA-256 of the admin key: the key itself is not kept */
	struct cors cors;
	struct daemon_settings daemon;
};

/*
 * Fill `s` from the merged configuration `config` (sesame_config_json()
 * with SESAME_CONFIG_SHOW_SECRETS), validating the "daemon" section: every
 * unknown key or bad value is SESAME_CONFIG naming "daemon.KEY".
 */
int settings_load(struct settings *s, const json_t *config, sesame_error *err);
/* "threads, max_connections, ...": the keys of the "daemon" section, which
 * follow an error of reason "unknown-key" (see report_start_error()). */
void settings_known_keys(char *out, size_t size);
/* Print a failed start or reload on stderr: "sesamed: PREFIXTEXT", and the
 * known keys after an unknown one. */
void report_start_error(const char *prefix, const sesame_error *err);
void settings_free(struct settings *s);
/* Parse "ADDR:PORT" ("127.0.0.1:9090", "[::1]:0", "localhost:9090"): numeric
 * addresses or localhost only; SESAME_CONFIG otherwise. */
int listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen, sesame_error *err);

/* ---- app.c: a configuration snapshot, swapped on SIGHUP ------------------- */

/*
 * A configured libsesame context with the settings read from it.
 * Reference-counted: each request holds the snapshot it started with, so a
 * reload never frees a context under a running request.
 */
struct app {
	atomic_uint refs;
	sesame_ctx *ctx;
	struct settings set;
};

/* Build a snapshot from the main file `config_path` (NULL: the default);
 * `listen` (NULL allowed) overrides the configured listen address.  The
 * library's status for a configuration it refuses, SESAME_CONFIG for a bad
 * daemon setting. */
int app_load(const char *config_path, const char *listen, int verbose, struct app **out, sesame_error *err);
struct app *app_ref(struct app *a);
void app_unref(struct app *a);

/* The current snapshot: swapped by the main thread, read by every request. */
struct app_slot {
	pthread_mutex_t lock; /* held only to copy the pointer and take a reference */
	struct app *current;
};

void slot_init(struct app_slot *slot, struct app *a);
/* The current snapshot with a reference the caller must drop. */
struct app *slot_acquire(struct app_slot *slot);
/* Install `a` (reference stolen); drops the slot's reference to the old one. */
void slot_replace(struct app_slot *slot, struct app *a);
void slot_destroy(struct app_slot *slot);

/* ---- metrics.c: Prometheus text exposition -------------------------------- */

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* One request answered with `status` (0: the connection ended before an
 * answer).  The server counts a request as it queues the answer, so that a
 * client holding the answer finds it counted.  `method` and `route` must
 * come from a bounded set (the route table's patterns, "unmatched");
 * thread-safe. */
void metrics_count_request(struct metrics *m, const char *method, const char *route, unsigned status);
/* The time one request took, from its first byte until its answer was
 * written (observed once the request is complete); thread-safe. */
void metrics_observe_duration(struct metrics *m, const char *method, const char *route, double seconds);
/* One login through `provider` (a configured instance name, or "unknown")
 * with `outcome`: "success", "rejected", "malformed", "unavailable",
 * "internal", "throttled".  Thread-safe. */
void metrics_count_login(struct metrics *m, const char *provider, const char *outcome);
/* One session refresh with `outcome` ("success", "rejected", ...). */
void metrics_count_refresh(struct metrics *m, const char *outcome);
/* One configuration reload with `outcome` ("success", "failure"). */
void metrics_count_reload(struct metrics *m, const char *outcome);
void metrics_set_active_sessions(struct metrics *m, int64_t sessions);
/* The exposition, text format 0.0.4 (malloc'd), or NULL when out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

/* ---- throttle.c: attempts per client address ------------------------------ */

struct throttle;

/* A table tracking up to `slots` client addresses, each allowed
 * `per_minute` failures a minute (a token bucket).  NULL on failure. */
struct throttle *throttle_new(unsigned slots, unsigned per_minute);
/* The same with buckets of `capacity` tokens refilled at `capacity` per
 * `period_seconds`.  NULL on failure or a zero argument. */
struct throttle *throttle_new_period(unsigned slots, unsigned capacity, unsigned period_seconds);
void throttle_free(struct throttle *t);
/*
 * Take a token of `client` (an address, or a key of at most
 * INET6_ADDRSTRLEN - 1 bytes) for an attempt about to run: 0 when it was
 * taken, else the seconds until one grows back (the Retry-After value)
 * and nothing was taken.  The check and the take are one step, so
 * parallel attempts never take more tokens than the bucket holds.
 * Thread-safe.
 */
unsigned throttle_take(struct throttle *t, const char *client, int64_t now_ms);
/* Give back the token of an attempt that did not count (a success).
 * Thread-safe. */
void throttle_refund(struct throttle *t, const char *client, int64_t now_ms);
/* 0 when `client` may attempt a login now, else the seconds to wait
 * (the Retry-After value).  Thread-safe.  With throttle_fail() after the
 * attempt, parallel attempts all pass the check: use throttle_take(). */
unsigned throttle_check(struct throttle *t, const char *client, int64_t now_ms);
/* Record a failed login of `client`.  Thread-safe. */
void throttle_fail(struct throttle *t, const char *client, int64_t now_ms);

/* ---- linkguard.c: refused conflicting links, to end retry storms ---------- */

/* Slots of the table, seconds an entry lives after its latest attempt, and
 * how many identical attempts get the retryable 401 before the 409. */
#define LINKGUARD_SLOTS 1024
#define LINKGUARD_WINDOW 60
#define LINKGUARD_ANSWERED 2

struct linkguard;

/* A table of `slots` entries, each forgotten `window_seconds` after its
 * latest attempt.  NULL on failure. */
struct linkguard *linkguard_new(size_t slots, unsigned window_seconds);
void linkguard_free(struct linkguard *g);
/*
 * Record one refused conflicting link by session `sid` of the identity in
 * `credential` (borrowed) through instance `provider`, at `now_ms`; returns
 * how many identical attempts the window holds, this one included (1 when
 * the attempt cannot be keyed).  Only a keyed hash is kept.  Thread-safe.
 */
unsigned linkguard_conflict(struct linkguard *g, const char *sid, const char *provider, const json_t *credential,
			    int64_t now_ms);
/* The number of live entries at `now_ms` (tests: the table is bounded). */
size_t linkguard_used(struct linkguard *g, int64_t now_ms);

/* ---- router.c: the route table -------------------------------------------- */

/* What a route requires of the Authorization header, checked before its handler. */
enum route_auth {
	AUTH_NONE,	      /* nothing */
	AUTH_ADMIN,	      /* the admin key; the route answers 404 when none is configured */
	AUTH_METRICS,	      /* nothing with "daemon.metrics": "public", else as AUTH_ADMIN */
	AUTH_ACCESS,	      /* a bearer token, in req->bearer: the handler verifies it is an access token */
	AUTH_REFRESH,	      /* a bearer token, in req->bearer: the handler verifies it is a refresh token */
	AUTH_ACCESS_OR_ADMIN, /* the admin key (req->as_admin: the system user), or else AUTH_ACCESS */
};

/* Route flags. */
#define ROUTE_JSON_BODY 0x1u /* the body must be a JSON object: req->json is set */
#define ROUTE_EJSON 0x2u     /* and its Extended JSON values are decoded (ejson.c) */

struct request;
typedef void route_handler(struct request *req, struct reply *rep);

/* One row of the table: METHOD, "/path/{param}/...", handler, auth, flags. */
struct route {
	const char *method;
	const char *pattern;
	route_handler *handler;
	enum route_auth auth;
	unsigned flags;
};

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 256

struct route_match {
	const struct route *route; /* the route, also for a wrong method (its pattern) */
	size_t n_params;
	struct {
		const char *name; /* into the pattern, after '{' */
		size_t name_len;
		char value[ROUTE_PARAM_MAX + 1];
	} params[ROUTE_MAX_PARAMS];
	char allow[96]; /* the methods of the path, "GET, POST", for 405 and OPTIONS */
};

enum route_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Match `method` and `path` against the table.  A {param} matches one
 * non-empty segment of at most ROUTE_PARAM_MAX bytes; a last {param*} the
 * rest of the path (non-empty segments, at most ROUTE_PARAM_MAX bytes). */
enum route_result router_match(const struct route *routes, size_t n, const char *method, const char *path,
			       struct route_match *m);
/* The value of the {name} parameter of a match, or NULL. */
const char *route_param(const struct route_match *m, const char *name);

/* ---- routes.c: the routes sesamed serves ---------------------------------- */

const struct route *routes_table(size_t *n);

/* ---- request.c: what handlers read ---------------------------------------- */

struct server;
struct MHD_Connection;

struct request {
	struct server *srv;
	struct app *app; /* the snapshot this request runs on (a reference) */
	struct MHD_Connection *conn;
	const char *method; /* owned by libmicrohttpd, valid until completion */
	char *path;	    /* percent-decoded, without the query string */
	enum route_result routed;
	struct route_match match;
	json_t *json;	    /* the parsed body of a ROUTE_JSON_BODY route */
	const char *bearer; /* the token of an AUTH_ACCESS/AUTH_REFRESH route */
	char client[INET6_ADDRSTRLEN];
	char id[17]; /* request id: 16 hex digits, in logs and X-Request-Id */
	struct timespec start;
	char *body;
	size_t body_len, body_cap;
	bool too_large;
	bool queued;
	bool as_admin; /* an AUTH_ACCESS_OR_ADMIN route got the admin key */
	struct reply reply;
};

/* A request header (case-insensitive name) or NULL. */
const char *request_header(const struct request *req, const char *name);
/* A query-string argument or NULL (e.g. "link" of ?link=true). */
const char *request_query(const struct request *req, const char *name);
/* The {name} route parameter (never NULL for a name of the route's pattern). */
const char *request_param(const struct request *req, const char *name);
/* Whether the {app} parameter is the configured app_id; false after
 * answering 404 AppNotFound "cannot find app using Client App ID '...'". */
bool request_app_known(struct request *req, struct reply *rep);
/* The bearer token of the request; false after answering 401 InvalidSession. */
bool request_bearer(struct request *req, struct reply *rep, const char **token);

/*
 * The anonymous-account throttle, per client address
 * (daemon.anon_logins_per_minute): every anonymous login creates a user, so
 * each one, successful or not, takes a token.  False after answering 429
 * TooManyRequests with Retry-After.
 */
bool request_anon_login_allowed(struct request *req, struct reply *rep);

/*
 * An attempt that may guess a secret (a login, a token, a call program's
 * question), reserved before any work and settled after it, so that
 * parallel attempts never run more than the throttles allow.
 */
struct attempt {
	bool address;	     /* took a token of the per-address bucket (login_failures_per_minute) */
	char identifier[33]; /* the key whose per-(address, identifier) token it took, or "" */
};

/*
 * Reserve an attempt from the client's address: false after answering 429
 * TooManyRequests with Retry-After.
 */
bool request_attempt_begin(struct request *req, struct reply *rep, struct attempt *a);
/*
 * Also reserve it for the identifier the client names (an email/password
 * login's "username", ASCII letters lower-cased) from this address
 * (daemon.identifier_failures_per_hour), whether or not such a user
 * exists: false after giving back what `a` holds and answering 429
 * TooManyRequests with Retry-After.  The key is a keyed hash of the
 * address, `instance` and the identifier, so no identifier is kept.
 */
bool request_attempt_identifier(struct request *req, struct reply *rep, struct attempt *a, const char *instance,
				const char *identifier);
/* The attempt's outcome: a refusal (SESAME_REJECTED) keeps its tokens,
 * anything else (success, a malformed request, a service unavailable)
 * gives them back. */
void request_attempt_end(struct request *req, struct attempt *a, int status);
/*
 * The email/password operations that register, mail or run a program,
 * per client address (daemon.account_requests_per_hour): each one takes a
 * token, whatever its outcome.  False after answering 429 TooManyRequests
 * with Retry-After.
 */
bool request_account_request_allowed(struct request *req, struct reply *rep);

/* Whether a Content-Type header value is application/json (parameters such
 * as charset=utf-8 allowed). */
bool content_type_is_json(const char *value);
/*
 * Parse a request body strictly: JSON with no duplicate keys, an object at
 * the top.  SESAME_MALFORMED with a text for the client naming the problem.
 */
int body_parse_json(const char *buf, size_t len, json_t **out, sesame_error *err);
/*
 * Split a login body into the provider credential (a new object without
 * "options", and without "provider" when `strip_provider`) and the
 * client's device description (`options.device`, borrowed from `body`, NULL
 * when absent; any fields accepted).  SESAME_MALFORMED when "options" or
 * "options.device" is not an object.
 */
int login_body_split(const json_t *body, bool strip_provider, json_t **credential, const json_t **device,
		     sesame_error *err);
/* The token of an "Authorization: Bearer TOKEN" value, or false (missing,
 * another scheme, empty, characters outside RFC 6750's b64token). */
bool bearer_token(const char *authorization, const char **token, size_t *len);
/* `n` bytes as 2*n lowercase hex digits and a NUL in `out`. */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* The device id a client sent (options.device.deviceId, EJSON already
 * decoded), or NULL: the core decides what it keeps (sesame_login()). */
const char *login_device_id(const json_t *device);

/* ---- ejson.c: MongoDB Extended JSON in client bodies ----------------------- */

#define EJSON_MAX_DEPTH 64
#define EJSON_MAX_DEPTH_TEXT "64"

/*
 * Decode the canonical (and relaxed) Extended JSON values among the members
 * of `body` (an object or array; the body itself is never a value) in
 * place, by the mapping at the top of ejson.c and in sesamed(8): numbers,
 * $oid as 24 lowercase hex digits, $date as integer milliseconds.
 * SESAME_MALFORMED naming the member's path for a malformed wrapper, a type
 * with no plain JSON form, or nesting deeper than EJSON_MAX_DEPTH; `body`
 * may then be partly decoded.
 */
int ejson_decode(json_t *body, sesame_error *err);

/* ---- server.c: libmicrohttpd ----------------------------------------------- */

/*
 * The web OAuth redirect flow (weblogin.c): pending logins kept in memory,
 * bounded, one-time, short-lived.  The two handlers are routes.
 */
struct weblogin;
struct weblogin *weblogin_new(void);
void weblogin_free(struct weblogin *w);
void weblogin_start(struct request *req, struct reply *rep);
void weblogin_callback(struct request *req, struct reply *rep);

/* A connection sesamed tracks for daemon.request_timeout (server.c). */
struct conn;

struct server {
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *metrics_mhd; /* daemon.metrics_listen, or NULL */
	struct app_slot slot;
	struct metrics *metrics;
	struct throttle *throttle;
	struct weblogin *weblogin;
	struct throttle *anon_throttle;	   /* anonymous users created per address */
	struct linkguard *linkguard;	   /* refused conflicting links (linkguard.c) */
	struct throttle *ident_throttle;   /* failed logins per (address, identifier) */
	struct throttle *account_throttle; /* registrations, mails and call programs per address */
	unsigned char ident_key[32];	   /* random, per start: keys ident_throttle's entries */
	uint64_t request_seed;		   /* random, per start: see request_id() */
	atomic_uint_fast64_t requests;	   /* requests begun */
	const struct route *routes;
	size_t n_routes;
	const char *config_path; /* for reloads; NULL: the default file */
	const char *listen;	 /* --listen, NULL when not given */
	int verbose;
	atomic_bool draining;
	pthread_mutex_t lock; /* guards in_flight */
	pthread_cond_t idle;
	unsigned in_flight;
	char *tls_cert_pem;
	char *tls_key_pem;
	size_t tls_key_len;
	char url[160];	       /* where it listens, e.g. "http://127.0.0.1:9090" */
	char metrics_url[160]; /* where metrics_mhd listens, or "" */
	int64_t clock_offset;  /* seconds the test clock was moved (under lock) */
	/* The connections and the thread that closes those whose request
	 * does not arrive in time (daemon.request_timeout). */
	pthread_mutex_t conns_lock;
	struct conn *conns;
	pthread_cond_t reaper_wake;
	pthread_t reaper;
	bool reaper_running, reaper_stop; /* under conns_lock */
};

/* Start listening with the snapshot `a` (reference stolen): SESAME_CONFIG
 * for a bad address or TLS file, SESAME_UNAVAILABLE when it cannot listen. */
int server_start(struct server *srv, struct app *a, sesame_error *err);
/* Build a new snapshot from the same files and swap it in; a bad new
 * configuration keeps the running one and logs why. */
void server_reload(struct server *srv);
/* Stop accepting, let the requests in flight finish (at most
 * daemon.shutdown_timeout seconds), stop and free everything. */
void server_stop(struct server *srv);

/* Seconds elapsed since `start` on the monotonic clock. */
double elapsed_seconds(const struct timespec *start);
/* Milliseconds on the monotonic clock (plus the test clock's offset), for
 * the throttles and the pending web logins. */
int64_t monotonic_ms(void);
/*
 * Move every clock of the daemon `seconds` forward: the library's (of
 * `ctx`, the current snapshot's, and of every later snapshot after a
 * reload) and the daemon's own monotonic_ms().  Test mode only: the
 * library refuses otherwise (SESAME_USAGE "test-mode").
 */
int server_clock_advance(struct server *srv, sesame_ctx *ctx, int64_t seconds, sesame_error *err);

#endif /* SESAMED_DAEMON_H */
