/* SPDX-License-Identifier: MIT */
/*
 * client/internal.h — the internals of libsesame-client shared by its
 * files: the client object, errors and validation (util.c), outbound HTTP
 * (http.c), the user store (store.c) and the session logic every
 * operation goes through (session.c).  Nothing here is exported: the
 * library is built with -fvisibility=hidden and a version script.
 *
 * Locking: every public function takes the client's mutex for its whole
 * run, so the functions here may assume it is held.  The store is shared
 * with other processes: it is re-read by every operation and changed only
 * through store_update(), under its file lock.
 */
#ifndef SESAME_CLIENT_INTERNAL_H
#define SESAME_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include <sesame/client.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Where the client API lives below the base URL and the hostname. */
#define CLIENT_API "/api/client/v2.0"

/* The one format of the store this library reads and writes. */
#define STORE_FORMAT "sesame-client-store"
#define STORE_VERSION 1

/* A user's identities are few; a store holds at most this many types each. */
#define PROVIDERS_MAX 64

/* The provider type the server deletes at logout (App Services' anonymous
 * users).  The client API has no capability flags, so like every SDK the
 * client knows anonymous users by this type name. */
#define ANONYMOUS_TYPE "anon-user"

/* The stages a test may stop an update at (struct sesame_client's hook). */
#define STORE_STAGE_HALF    "half"    /* half of the new store written */
#define STORE_STAGE_WRITTEN "written" /* FILE.tmp complete, not yet renamed */

struct sesame_client {
	pthread_mutex_t lock;
	char *base; /* the base URL given, without trailing '/'; NULL: store only */
	char *host; /* the location's hostname, NULL until fetched */
	char *app_id;
	char *store_path; /* FILE */
	char *lock_path;  /* FILE.lock */
	char *tmp_path;	  /* FILE.tmp */
	CURL *curl;	  /* one handle, reused: its connections stay open */
	long timeout_ms;
	size_t max_body;
	/* Tests only (not reachable through the public API): called during an
	 * update at each stage, e.g. to be killed in the middle of one. */
	void (*store_hook)(void *arg, const char *stage);
	void *store_hook_arg;
	/* Tests only: CURLOPT_RESOLVE entries ("HOST:PORT:ADDRESS"), to make a
	 * name resolve where no resolver would. */
	struct curl_slist *resolve;
};

/* ---- util.c ------------------------------------------------------------- */

/* Fill `err` (may be NULL) and return `status`. */
int cl_error(sesame_client_error *err, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* `src` (`len` bytes) cut to `max` bytes, control characters as '?', into
 * dst (size `size`): safe to print, whatever a server sent. */
void cl_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max);

/* Wipe and free a secret string (NULL allowed). */
void cl_free_secret(char *s);
/* Wipe every string in a JSON value, then drop the reference. */
void cl_json_wipe_decref(json_t *v);
/* strdup() that may return NULL on a NULL argument. */
char *cl_strdup(const char *s);

/* 1..SESAME_CLIENT_TOKEN_MAX characters of RFC 6750's b64token. */
bool cl_token_valid(const char *s);
/* 1..SESAME_CLIENT_ID_MAX of A-Z a-z 0-9 . _ - (user ids, key ids). */
bool cl_id_valid(const char *s);
/* An id that is also safe as a URL segment and a file name: no leading '.'
 * (provider names, app ids). */
bool cl_name_valid(const char *s);
/* 24 lowercase hexadecimal digits. */
bool cl_device_id_valid(const char *s);

/* 24 lowercase hex digits from 96 random bits; -1 when the random
 * generator fails. */
int cl_device_id_new(char out[25]);

/* The payload of a compact JWS, decoded and parsed, without verification
 * (what the SDKs read from access tokens); NULL when it is not an object. */
json_t *cl_jwt_payload(const char *token);

/* ---- http.c ------------------------------------------------------------- */

struct cl_answer {
	long status;
	json_t *json;  /* the body parsed (any JSON value), NULL when empty or not JSON */
	bool not_json; /* a non-empty body that does not parse */
};

/*
 * Check a base or location URL: https://HOST..., or http:// to a loopback
 * host; no user name, query or fragment.  On success `*out` is a copy
 * without trailing '/'.  `what` names the URL in errors.  `status` is the
 * error status to report (USAGE for the caller's URL, PROTOCOL for the
 * server's).
 */
int http_check_url(const char *url, const char *what, int status, char **out, sesame_client_error *err);

/*
 * One request: `method` to `url` with `bearer` (NULL: none) and `body`
 * (NULL: none) as JSON.  SESAME_CLIENT_OK when an answer (of any status
 * but 3xx) arrived within the limits; `a` then holds it (answer_clear()
 * it).  Errors: UNAVAILABLE (connect, timeout, tls), PROTOCOL (redirect,
 * too-large), USAGE (http to an address that is not loopback).
 */
int http_call(struct sesame_client *c, const char *method, const char *url, const char *bearer, const json_t *body,
	      struct cl_answer *a, sesame_client_error *err);

void answer_clear(struct cl_answer *a);

/* Whether an address is loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104):
 * the only addresses plain http may connect to. */
struct sockaddr;
bool http_sockaddr_loopback(const struct sockaddr *sa);

/*
 * The error of an answer that is not the `expected` 2xx status (0: any
 * 2xx): REFUSED for 4xx, UNAVAILABLE for 5xx, PROTOCOL otherwise, with
 * the server's error_code and message (sanitized; `secret`, a token sent
 * with the request, replaced by "[token]").  SESAME_CLIENT_OK when the
 * status is the expected one; PROTOCOL "not-json" when `need_json` and
 * the body is empty or not JSON.
 */
int answer_check(const struct cl_answer *a, long expected, bool need_json, const char *secret, const char *what,
		 sesame_client_error *err);

/* The answer's "error_code", or "" */
const char *answer_code(const struct cl_answer *a);

/* ---- store.c ------------------------------------------------------------ */

struct cl_user {
	char *id;
	bool logged_in;
	char *access; /* both NULL when logged out */
	char *refresh;
	char **providers; /* provider types of its identities */
	size_t nproviders;
};

struct cl_store {
	char device_id[25];    /* "" until the first update */
	char *active;	       /* the active user's id, NULL: none */
	struct cl_user *users; /* most recently active first */
	size_t n;
};

/* The store as it is now (no lock needed: it is replaced atomically).  A
 * missing store is an empty one.  store_clear() the result. */
int store_load(struct sesame_client *c, struct cl_store *s, sesame_client_error *err);

/*
 * Read-modify-write: under the exclusive lock, load the store (empty when
 * missing; a device id made when it has none), call `edit`, and write the
 * store when `edit` set *changed (or a device id was made).  `edit`'s error
 * ends the update with nothing written.
 */
typedef int (*store_edit_fn)(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err);
int store_update(struct sesame_client *c, store_edit_fn edit, void *arg, sesame_client_error *err);

void store_clear(struct cl_store *s);

/* The index of user `id`, or -1. */
long store_find(const struct cl_store *s, const char *id);
/* Move user `i` to the front (most recently active). */
void store_promote(struct cl_store *s, size_t i);
/* Remove user `i`, wiping its tokens; the active user is re-picked. */
void store_forget(struct cl_store *s, size_t i);
/* Forget user `i`'s tokens: logged out; the active user is re-picked. */
void store_log_out(struct cl_store *s, size_t i);
/* Whether the user is logged in with the session of `refresh` (compared in
 * constant time). */
bool store_holds_refresh(const struct cl_user *u, const char *refresh);
/* Whether every identity of the user is anonymous (it dies at logout). */
bool store_user_anonymous(const struct cl_user *u);
/* Replace user `i`'s provider types with the strings of `types`; true when
 * they changed.  -1 when out of memory. */
int store_set_providers(struct cl_user *u, char **types, size_t n);

/* The public entry of user `i`: {"id", "state", "active", "providers"}. */
json_t *store_user_json(const struct cl_store *s, size_t i);

/* ---- session.c ------------------------------------------------------------ */

/* One user's id and tokens, copied out of the store for a call. */
struct cl_session {
	char *id;
	char *access;
	char *refresh;
	bool anonymous;
};

void session_clear(struct cl_session *s);

/* The tokens of user `user_id` (NULL: the active user), who must be logged
 * in: NO_USER ("unknown-user", "no-active-user"), REFUSED
 * "not-logged-in". */
int session_get(struct sesame_client *c, const char *user_id, struct cl_session *s, sesame_client_error *err);

/* The URL of `path` below the location's hostname (fetched first when
 * needed), malloc'd in `*url`.  `app_path`: below CLIENT_API/app/APP_ID. */
int session_url(struct sesame_client *c, const char *path, bool app_path, char **url, sesame_client_error *err);

/* Fetch the location into c->host; `*location` (may be NULL) gets the answer. */
int session_locate(struct sesame_client *c, json_t **location, sesame_client_error *err);

/* Which token a call carries. */
enum bearer {
	BEARER_ACCESS,	/* refreshed once and retried once on 401 InvalidSession */
	BEARER_REFRESH, /* a 401 logs the user out */
};

/*
 * `method` `url` for session `s` with its access or refresh token, with
 * the refresh rules of <sesame/client.h>.  SESAME_CLIENT_OK when an answer
 * arrived (its status is for the caller to judge); s->access is the
 * current access token afterwards.  A 401 on a refresh-token call (the
 * refresh included) marks the user logged out in the store and returns
 * REFUSED "logged-out".
 */
int session_call(struct sesame_client *c, struct cl_session *s, enum bearer kind, const char *method, const char *url,
		 const json_t *body, struct cl_answer *a, sesame_client_error *err);

/* POST /auth/session: a new access token into s->access and the store. */
int session_refresh(struct sesame_client *c, struct cl_session *s, sesame_client_error *err);

/* Read the profile of session `s` with its access token (refreshed once
 * if needed), check it is the user's own and store its provider types.
 * `*profile` (may be NULL) gets it. */
int session_profile(struct sesame_client *c, struct cl_session *s, json_t **profile, sesame_client_error *err);

/* The distinct provider types of a profile's identities, in order, in a
 * malloc'd array (free() it, not the strings: they are the profile's). */
int session_profile_types(const json_t *profile, char ***types, size_t *n, sesame_client_error *err);

#endif /* SESAME_CLIENT_INTERNAL_H */
