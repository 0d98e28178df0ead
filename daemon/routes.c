/* SPDX-License-Identifier: MIT */
/*
 * daemon/routes.c — the routes sesamed serves and their handlers.
 *
 * To add a route: write a handler `static void NAME(struct request *req,
 * struct reply *rep)` that reads the request through request.c's helpers
 * (request_param, request_query, request_header, req->json, req->bearer,
 * req->app->ctx) and answers with reply_json / reply_error /
 * reply_sesame_error; then add one row to the table below.  server.c has
 * already checked what the row asks for (auth kind, JSON body) when the
 * handler runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define CLIENT "/api/client/v2.0"
#define ADMIN "/api/admin/v1"
#define SESAME "/api/sesame/v1"

/* GET /api/client/v2.0/app/{app}/location: where clients send every later
 * call. */
static void location(struct request *req, struct reply *rep)
{
	const struct settings *s = &req->app->set;

	if (!request_app_known(req, rep))
		return;
	reply_json(rep, 200,
		   json_pack("{s:s, s:s, s:s, s:s}", "deployment_model", "GLOBAL", "location", "local", "hostname",
			     s->public_url, "ws_hostname", s->ws_url));
}

/* GET /healthz: the daemon answers and its store is reachable; the count of
 * active sessions feeds the metrics gauge on the way. */
static void healthz(struct request *req, struct reply *rep)
{
	uint64_t sessions = 0;
	sesame_error err;

	if (sesame_active_sessions(req->app->ctx, &sessions, &err) != SESAME_OK) {
		fprintf(stderr, "sesamed: health check: %s\n", err.text);
		reply_error(rep, 503, "ServiceUnavailable", "store unreachable");
		return;
	}
	metrics_set_active_sessions(req->srv->metrics, (int64_t)sessions);
	reply_json(rep, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /metrics: Prometheus text format 0.0.4 (the admin key unless
 * daemon.metrics is "public"). */
static void metrics(struct request *req, struct reply *rep)
{
	size_t len = 0;
	char *text = metrics_render(req->srv->metrics, &len);

	reply_text(rep, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* GET /api/admin/v1/providers: the provider instances and their state. */
static void admin_providers(struct request *req, struct reply *rep)
{
	reply_json(rep, 200, sesame_providers_json(req->app->ctx));
}

/*
 * POST /api/admin/v1/providers/{name}/verify: verify a login body's
 * credential with one provider instance, storing nothing, and show the
 * identity it vouches for (without its private part).  For operators
 * checking a provider's configuration.
 */
static void admin_verify(struct request *req, struct reply *rep)
{
	const char *name = request_param(req, "name");
	json_t *credential = NULL, *identity = NULL;
	const json_t *device;
	sesame_error err;

	if (login_body_split(req->json, true, &credential, &device, &err) != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	if (sesame_verify_credential(req->app->ctx, name, credential, &identity, &err) != SESAME_OK) {
		json_decref(credential);
		reply_sesame_error(rep, &err);
		return;
	}
	json_decref(credential);
	json_object_del(identity, "private");
	reply_json(rep, 200, identity);
}

/* ---- client API: logins and sessions ----------------------------------- */

/*
 * A bearer token that does not verify is InvalidSession whatever the
 * reason, which is what makes the SDKs refresh once (access token) or log
 * the user out (refresh token).  Server-side failures stay 5xx.
 */
static void reply_token_error(struct reply *rep, const sesame_error *err)
{
	if (err->status == SESAME_REJECTED || err->status == SESAME_MALFORMED || err->status == SESAME_NOT_FOUND) {
		if (strcmp(err->reason, "disabled") == 0)
			reply_error(rep, 401, "UserDisabled", "%s", err->text);
		else
			reply_error(rep, 401, "InvalidSession", "invalid session: %s", err->text);
		return;
	}
	reply_sesame_error(rep, err);
}

/* The caller behind the request's access token; false after answering. */
static bool access_caller(struct request *req, struct reply *rep, sesame_caller **caller)
{
	sesame_error err;

	if (sesame_caller_from_access_token(req->app->ctx, req->bearer, caller, &err) != SESAME_OK) {
		reply_token_error(rep, &err);
		return false;
	}
	return true;
}

/* The SESAME_PROVIDER_CAP_* flags of instance `name`; 0 when it is unknown
 * or disabled.  A lookup, not a listing: it runs on every login. */
static unsigned provider_caps(struct request *req, const char *name, bool *known)
{
	unsigned caps = 0;
	int rc = sesame_provider_capabilities(req->app->ctx, name, &caps, NULL);

	if (known)
		*known = rc == SESAME_OK;
	return rc == SESAME_OK ? caps : 0;
}

static void count_login(struct request *req, const char *name, const char *outcome)
{
	bool known;

	/* Only enabled instances' names become metric labels: a client cannot
	 * grow the number of series by inventing provider names. */
	provider_caps(req, name, &known);
	metrics_count_login(req->srv->metrics, known ? name : "unknown", outcome);
}

/*
 * Whether instance `name` serves the email/password client routes (and
 * takes {"username", "password"} logins): the one place sesamed decides
 * it, from the provider's capabilities.
 */
static bool serves_userpass(struct request *req, const char *name)
{
	return (provider_caps(req, name, NULL) & SESAME_PROVIDER_CAP_EMAIL_PASSWORD) != 0;
}

static const char *login_outcome(int status)
{
	switch (status) {
	case SESAME_OK:
		return "success";
	case SESAME_REJECTED:
		return "rejected";
	case SESAME_MALFORMED:
		return "malformed";
	case SESAME_NOT_FOUND:
		return "unknown_provider";
	default:
		return "error";
	}
}

/*
 * The answer to a link: a fresh access token of the caller's own session,
 * no new session (the SDKs keep their refresh token and throw away the one
 * of a link answer, so a new session would outlive every logout).
 * "refresh_token" is null: realm-web accepts a string or null there and
 * realm-core does not read it when linking.  On a refused conflicting link
 * repeated within the window, the non-retryable 409 ends realm-web's
 * refresh-and-retry loop (see linkguard.c).
 */
static int login_link(struct request *req, struct reply *rep, const char *name, const json_t *credential)
{
	sesame_caller *caller = NULL;
	json_t *session = NULL;
	sesame_error err;
	const char *sid;
	int rc;

	if (!access_caller(req, rep, &caller))
		return -1;
	rc = sesame_link(caller, sesame_caller_user_id(caller), name, credential, NULL, &err);
	if (rc == SESAME_OK)
		rc = sesame_session_access_token(caller, &session, &err);
	if (rc == SESAME_OK) {
		json_object_set_new(session, "refresh_token", json_null());
		reply_json(rep, 200, session);
	} else if (rc == SESAME_CONFLICT && strcmp(err.reason, "linked") == 0) {
		sid = json_string_value(json_object_get(sesame_caller_claims(caller), "sid"));
		if (linkguard_conflict(req->srv->linkguard, sid, name, credential, monotonic_ms()) > LINKGUARD_ANSWERED)
			reply_error(rep, 409, "AccountNameInUse", "%s", err.text);
		else
			reply_sesame_error(rep, &err);
	} else if (rc == SESAME_REJECTED && strcmp(err.reason, "session") == 0) {
		/* The caller's session ended after its token was checked. */
		reply_token_error(rep, &err);
	} else {
		reply_sesame_error(rep, &err);
	}
	sesame_caller_free(caller);
	return rc;
}

/*
 * POST /api/client/v2.0/app/{app}/auth/providers/{name}/login[?link=true]:
 * verify the credential, merge the identity into a user, open a session.
 * With link=true and the caller's access token, attach the identity to
 * the caller's user instead (see login_link()).
 */
static void login(struct request *req, struct reply *rep)
{
	const char *name = request_param(req, "name"), *link = request_query(req, "link"), *token, *username;
	json_t *credential = NULL, *session = NULL;
	struct attempt at;
	const json_t *device;
	sesame_error err;
	int rc;

	/* The attempt is reserved before anything runs: parallel guesses get
	 * no more evaluations than the throttles allow. */
	if (!request_app_known(req, rep) || !request_attempt_begin(req, rep, &at))
		return;
	if (login_body_split(req->json, true, &credential, &device, &err) != SESAME_OK) {
		request_attempt_end(req, &at, err.status);
		reply_sesame_error(rep, &err);
		return;
	}
	/* A password guess also counts against the user it names, from this
	 * address, whether or not that user exists. */
	username = json_string_value(json_object_get(credential, "username"));
	if (username && serves_userpass(req, name) && !request_attempt_identifier(req, rep, &at, name, username)) {
		json_decref(credential);
		return;
	}
	if (link && strcmp(link, "true") == 0) {
		if (!request_bearer(req, rep, &token)) {
			request_attempt_end(req, &at, SESAME_MALFORMED);
			json_decref(credential);
			return;
		}
		req->bearer = token;
		rc = login_link(req, rep, name, credential);
		json_decref(credential);
		/* rc < 0: the caller's token was refused before any verification. */
		request_attempt_end(req, &at, rc < 0 ? SESAME_MALFORMED : rc);
		if (rc >= 0)
			count_login(req, name, login_outcome(rc));
		return;
	}
	/* Every anonymous login creates a user: those are throttled per address. */
	if ((provider_caps(req, name, NULL) & SESAME_PROVIDER_CAP_ANONYMOUS) && !request_anon_login_allowed(req, rep)) {
		request_attempt_end(req, &at, SESAME_UNAVAILABLE);
		json_decref(credential);
		return;
	}
	rc = sesame_login(req->app->ctx, name, credential, login_device_id(device), &session, &err);
	json_decref(credential);
	count_login(req, name, login_outcome(rc));
	request_attempt_end(req, &at, rc);
	if (rc != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	reply_json(rep, 200, session);
}

/* GET /api/client/v2.0/auth/profile: the caller's user as clients see it. */
static void profile(struct request *req, struct reply *rep)
{
	json_t *user = NULL, *ids, *id, *out;
	sesame_caller *caller;
	sesame_error err;
	size_t i;

	if (!access_caller(req, rep, &caller))
		return;
	if (sesame_user_get(caller, sesame_caller_user_id(caller), &user, &err) != SESAME_OK) {
		sesame_caller_free(caller);
		reply_token_error(rep, &err);
		return;
	}
	ids = json_array();
	json_array_foreach (json_object_get(user, "identities"), i, id)
		json_array_append_new(ids, json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(id, "id"),
						     "provider_type", json_object_get(id, "provider_type"),
						     "provider_id", json_object_get(id, "provider"), "provider_data",
						     json_object_get(id, "data")));
	out = json_pack("{s:O, s:O, s:o, s:O, s:O}", "user_id", json_object_get(user, "id"), "type",
			json_object_get(user, "type"), "identities", ids, "data", json_object_get(user, "data"),
			"custom_data", json_object_get(user, "custom_data"));
	json_decref(user);
	sesame_caller_free(caller);
	reply_json(rep, 200, out);
}

/* POST /api/client/v2.0/auth/session: a new access token (201, as the
 * hosted service answers). */
static void session_refresh(struct request *req, struct reply *rep)
{
	json_t *out = NULL;
	sesame_error err;
	int rc = sesame_session_refresh(req->app->ctx, req->bearer, &out, &err);

	metrics_count_refresh(req->srv->metrics, rc == SESAME_OK ? "success" : "rejected");
	if (rc != SESAME_OK) {
		reply_token_error(rep, &err);
		return;
	}
	reply_json(rep, 201, out);
}

/* DELETE /api/client/v2.0/auth/session: log out (204). */
static void session_logout(struct request *req, struct reply *rep)
{
	sesame_error err;

	if (sesame_session_logout(req->app->ctx, req->bearer, &err) != SESAME_OK) {
		reply_token_error(rep, &err);
		return;
	}
	reply_empty(rep, 204);
}

/* DELETE /api/client/v2.0/auth/delete: the caller deletes its account (204). */
static void delete_self(struct request *req, struct reply *rep)
{
	sesame_caller *caller;
	sesame_error err;
	int rc;

	if (!access_caller(req, rep, &caller))
		return;
	rc = sesame_user_delete(caller, sesame_caller_user_id(caller), &err);
	sesame_caller_free(caller);
	if (rc != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	reply_empty(rep, 204);
}

/* GET /.well-known/jwks.json: the public keys of sesame's tokens. */
static void jwks(struct request *req, struct reply *rep)
{
	sesame_error err;
	json_t *doc = sesame_jwks(req->app->ctx, &err);

	if (!doc) {
		reply_sesame_error(rep, &err);
		return;
	}
	reply_header(rep, "Cache-Control", "public, max-age=300");
	reply_json(rep, 200, doc);
}

/* ---- admin API: users, as the system user --------------------------------- */

/* Run one user operation as the system user and answer. */
static void admin_user_op(struct request *req, struct reply *rep, const char *what)
{
	sesame_caller *sys = sesame_caller_system(req->app->ctx);
	const char *id = request_param(req, "id");
	json_t *out = NULL;
	sesame_error err;
	int rc;

	if (!sys) {
		reply_error(rep, 500, "InternalServerError", "internal server error");
		return;
	}
	if (strcmp(what, "get") == 0)
		rc = sesame_user_get(sys, id, &out, &err);
	else if (strcmp(what, "delete") == 0)
		rc = sesame_user_delete(sys, id, &err);
	else if (strcmp(what, "disable") == 0 || strcmp(what, "enable") == 0)
		rc = sesame_user_set_disabled(sys, id, what[0] == 'd', &err);
	else if (strcmp(what, "logout") == 0)
		rc = sesame_user_revoke_sessions(sys, id, &err);
	else if (strcmp(what, "custom_data_get") == 0)
		rc = sesame_user_custom_data_get(sys, id, &out, &err);
	else
		rc = sesame_user_custom_data_set(sys, id, req->json, &err) == SESAME_OK
			 ? sesame_user_custom_data_get(sys, id, &out, &err)
			 : err.status;
	sesame_caller_free(sys);
	if (rc != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	if (out)
		reply_json(rep, 200, out);
	else
		reply_empty(rep, 204);
}

static void admin_user_get(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "get");
}

static void admin_user_delete(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "delete");
}

static void admin_user_disable(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "disable");
}

static void admin_user_enable(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "enable");
}

static void admin_user_logout(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "logout");
}

static void admin_custom_data_get(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "custom_data_get");
}

static void admin_custom_data_put(struct request *req, struct reply *rep)
{
	admin_user_op(req, rep, "custom_data_put");
}

/* ---- email/password ------------------------------------------------------------ */

/* What an email/password operation may do, and so how it is throttled. */
#define USERPASS_GUESS 0x1u   /* guesses a secret (a token, a call program's question): an attempt */
#define USERPASS_ACCOUNT 0x2u /* registers, mails or runs a program: an account request */

/*
 * POST /api/client/v2.0/app/{app}/auth/providers/{name}/ACTION for the
 * unauthenticated email/password operations, throttled per client address
 * before any work: guesses as attempts (kept when refused, given back
 * otherwise), and every registration, mail or program run as an account
 * request.  The provider adds its own limits per target address.
 */
static void userpass_action(struct request *req, struct reply *rep, const char *what, unsigned status, unsigned kind)
{
	const char *name = request_param(req, "name");
	struct attempt at = {0};
	json_t *out = NULL;
	sesame_error err;
	int rc;

	if (!request_app_known(req, rep))
		return;
	if (!serves_userpass(req, name)) {
		reply_error(rep, 404, "AuthProviderNotFound", "no email/password provider named \"%s\"", name);
		return;
	}
	if ((kind & USERPASS_GUESS) && !request_attempt_begin(req, rep, &at))
		return;
	if ((kind & USERPASS_ACCOUNT) && !request_account_request_allowed(req, rep)) {
		request_attempt_end(req, &at, SESAME_UNAVAILABLE);
		return;
	}
	rc = sesame_provider_action_as(req->app->ctx, NULL, name, what, req->json, &out, &err);
	request_attempt_end(req, &at, rc);
	if (rc != SESAME_OK) {
		json_decref(out);
		reply_sesame_error(rep, &err);
		return;
	}
	reply_json(rep, status, out ? out : json_object());
}

static void userpass_register(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "register", 201, USERPASS_ACCOUNT);
}

static void userpass_confirm(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "confirm", 200, USERPASS_GUESS);
}

static void userpass_confirm_send(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "confirm/send", 200, USERPASS_ACCOUNT);
}

static void userpass_confirm_call(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "confirm/call", 200, USERPASS_GUESS | USERPASS_ACCOUNT);
}

static void userpass_reset_call(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "reset/call", 200, USERPASS_GUESS | USERPASS_ACCOUNT);
}

static void userpass_reset(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "reset", 200, USERPASS_GUESS);
}

static void userpass_reset_send(struct request *req, struct reply *rep)
{
	userpass_action(req, rep, "reset/send", 200, USERPASS_ACCOUNT);
}

/* ---- API keys ---------------------------------------------------------------- */

/* The name of the (first by name) instance serving the API key routes,
 * valid as long as the request's snapshot, or NULL after answering 404. */
static const char *api_key_instance(struct request *req, struct reply *rep)
{
	const char *name = NULL;

	if (sesame_provider_find(req->app->ctx, SESAME_PROVIDER_CAP_API_KEYS, &name, NULL) != SESAME_OK)
		reply_error(rep, 404, "AuthProviderNotFound", "no API key provider is configured");
	return name;
}

/*
 * Run api-key action `what` for `caller` with `args` (stolen) and answer
 * `status` with the result (or 204 without one).
 */
static void api_key_action(struct request *req, struct reply *rep, sesame_caller *caller, const char *what,
			   json_t *args, unsigned status)
{
	const char *name = api_key_instance(req, rep);
	json_t *out = NULL;
	sesame_error err;
	int rc;

	if (!name || !args) {
		if (name && !args)
			reply_error(rep, 500, "InternalServerError", "internal server error");
		json_decref(args);
		return;
	}
	rc = sesame_provider_action_as(req->app->ctx, caller, name, what, args, &out, &err);
	json_decref(args);
	/* The hosted service's codes for an unknown (or another user's) key and
	 * a name it does not accept. */
	if (rc == SESAME_NOT_FOUND && strcmp(err.reason, "key") == 0)
		reply_error(rep, 404, "APIKeyNotFound", "API key not found");
	else if (rc == SESAME_MALFORMED && strcmp(err.reason, "name") == 0)
		reply_error(rep, 400, "InvalidParameter", "%s", err.text);
	else if (rc != SESAME_OK)
		reply_sesame_error(rep, &err);
	else if (out)
		reply_json(rep, status, out);
	else
		reply_empty(rep, 204);
}

/* The user behind the refresh token the SDKs send to the API key routes. */
static bool refresh_caller(struct request *req, struct reply *rep, sesame_caller **caller)
{
	sesame_error err;

	if (sesame_caller_from_refresh_token(req->app->ctx, req->bearer, caller, &err) != SESAME_OK) {
		reply_token_error(rep, &err);
		return false;
	}
	return true;
}

/* One user API key route: `what` with {"id"} from the path (when
 * `with_id`) or the request body. */
static void user_api_key_op(struct request *req, struct reply *rep, const char *what, bool with_id, unsigned status)
{
	sesame_caller *caller;
	json_t *args;

	if (!refresh_caller(req, rep, &caller))
		return;
	if (with_id)
		args = json_pack("{s:s}", "id", request_param(req, "id"));
	else
		args = req->json ? json_pack("{s:O?}", "name", json_object_get(req->json, "name")) : json_object();
	api_key_action(req, rep, caller, what, args, status);
	sesame_caller_free(caller);
}

/* POST /api/client/v2.0/auth/api_keys {name}: 201 {_id, key, name, disabled}. */
static void api_key_create(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "create", false, 201);
}

static void api_keys_list(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "list", false, 200);
}

static void api_key_get(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "get", true, 200);
}

static void api_key_delete(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "delete", true, 204);
}

static void api_key_enable(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "enable", true, 204);
}

static void api_key_disable(struct request *req, struct reply *rep)
{
	user_api_key_op(req, rep, "disable", true, 204);
}

/* POST /api/admin/v1/api_keys {name}: a server API key and its server user. */
static void admin_api_key_create(struct request *req, struct reply *rep)
{
	sesame_caller *sys = sesame_caller_system(req->app->ctx);

	api_key_action(req, rep, sys, "create",
		       json_pack("{s:O?, s:b}", "name", json_object_get(req->json, "name"), "server", 1), 201);
	sesame_caller_free(sys);
}

/* DELETE /api/admin/v1/api_keys/{id}: any key; a server key's user goes too. */
static void admin_api_key_delete(struct request *req, struct reply *rep)
{
	sesame_caller *sys = sesame_caller_system(req->app->ctx);

	api_key_action(req, rep, sys, "delete", json_pack("{s:s}", "id", request_param(req, "id")), 204);
	sesame_caller_free(sys);
}

/* GET /api/admin/v1/users?after=ID&limit=N: one page of users by id. */
static void admin_users(struct request *req, struct reply *rep)
{
	const char *after = request_query(req, "after"), *lim = request_query(req, "limit");
	sesame_caller *sys = sesame_caller_system(req->app->ctx);
	unsigned long limit = 0;
	json_t *users = NULL;
	sesame_error err;
	char *end = NULL;
	int rc;

	if (lim && (!*lim || (limit = strtoul(lim, &end, 10), *end) || limit > 1000)) {
		sesame_caller_free(sys);
		reply_error(rep, 400, "BadRequest", "limit must be an integer from 0 to 1000");
		return;
	}
	rc = sesame_users_list(sys, after, limit, &users, &err);
	sesame_caller_free(sys);
	if (rc != SESAME_OK) {
		reply_sesame_error(rep, &err);
		return;
	}
	reply_json(rep, 200, users);
}

/* ---- sesame's own namespace -------------------------------------------------- */

/*
 * POST /api/sesame/v1/providers/{name}/actions/{action}: any action of any
 * provider instance (built in or not), on behalf of the user of the bearer
 * access token, or of the system user with the admin key.  The body (a
 * JSON object) is the action's arguments; the plugin learns the caller
 * from the core, never from the body.  Answers the action's JSON, {} when
 * it has none.
 */
static void provider_action(struct request *req, struct reply *rep)
{
	const char *name = request_param(req, "name"), *action = request_param(req, "action");
	sesame_caller *caller = NULL;
	json_t *out = NULL;
	sesame_error err;

	if (req->as_admin) {
		caller = sesame_caller_system(req->app->ctx);
		if (!caller) {
			reply_error(rep, 500, "InternalServerError", "internal server error");
			return;
		}
	} else if (!access_caller(req, rep, &caller)) {
		return;
	}
	if (sesame_provider_action_as(req->app->ctx, caller, name, action, req->json, &out, &err) != SESAME_OK)
		reply_sesame_error(rep, &err);
	else
		reply_json(rep, 200, out ? out : json_object());
	sesame_caller_free(caller);
}

/*
 * POST /api/admin/v1/test/clock {"advance": SECONDS}: move sesamed's clocks
 * forward, so tests prove expiry without waiting.  Test mode only: the
 * route does not exist otherwise.  Answers {"offset": total seconds moved}.
 */
static void admin_test_clock(struct request *req, struct reply *rep)
{
	json_t *advance = json_object_get(req->json, "advance");
	sesame_error err;
	int64_t offset;

	if (!req->app->set.test_mode) {
		reply_error(rep, 404, "NotFound", "no route for %s %s", req->method, req->path);
		return;
	}
	if (!json_is_integer(advance) || json_object_size(req->json) != 1) {
		reply_error(rep, 400, "BadRequest",
			    "expected {\"advance\": SECONDS} with an integer number of seconds");
		return;
	}
	if (server_clock_advance(req->srv, req->app->ctx, json_integer_value(advance), &err) != SESAME_OK) {
		reply_error(rep, 400, "BadRequest", "%s", err.text);
		return;
	}
	pthread_mutex_lock(&req->srv->lock);
	offset = req->srv->clock_offset;
	pthread_mutex_unlock(&req->srv->lock);
	reply_json(rep, 200, json_pack("{s:I}", "offset", (json_int_t)offset));
}

/* ---- rules: the policy decision point ------------------------------------ */

/* Who asks: the system user with the admin key, else the access token's user. */
static bool rules_caller(struct request *req, struct reply *rep, sesame_caller **caller)
{
	if (!req->as_admin)
		return access_caller(req, rep, caller);
	*caller = sesame_caller_system(req->app->ctx);
	if (!*caller)
		reply_error(rep, 500, "InternalServerError", "internal server error");
	return *caller != NULL;
}

/* The body's members: only `known`, "namespace" and "action" strings. */
static bool rules_body(struct request *req, struct reply *rep, const char *const *known, const char **ns,
		       const char **action)
{
	const char *key;
	json_t *v;

	json_object_foreach (req->json, key, v) {
		const char *const *k;

		for (k = known; *k && strcmp(*k, key) != 0; k++)
			;
		if (!*k) {
			reply_error(rep, 400, "BadRequest", "unknown member \"%.64s\" in the request body", key);
			return false;
		}
	}
	*ns = json_string_value(json_object_get(req->json, "namespace"));
	*action = json_string_value(json_object_get(req->json, "action"));
	if (!*ns || !*action) {
		reply_error(rep, 400, "BadRequest", "\"namespace\" and \"action\" must be strings");
		return false;
	}
	return true;
}

/* A rules error: the caller's token (401), else the request (400). */
static void reply_rules_error(struct reply *rep, const sesame_error *err)
{
	if (err->status == SESAME_MALFORMED || err->status == SESAME_USAGE ||
	    (err->status == SESAME_REJECTED && strcmp(err->reason, "filter") == 0))
		reply_error(rep, 400, "BadRequest", "%s", err->text);
	else
		reply_token_error(rep, err);
}

/*
 * POST /api/sesame/v1/rules/evaluate {"namespace", "action", "document",
 * "prev"}: the decision, 200 whether allowed or not.
 */
static void rules_evaluate(struct request *req, struct reply *rep)
{
	static const char *const known[] = {"namespace", "action", "document", "prev", NULL};
	const char *ns, *action;
	sesame_caller *caller;
	json_t *out = NULL;
	sesame_error err;
	int rc;

	if (!rules_body(req, rep, known, &ns, &action) || !rules_caller(req, rep, &caller))
		return;
	rc = sesame_rules_evaluate(caller, NULL, ns, action, json_object_get(req->json, "document"),
				   json_object_get(req->json, "prev"), &out, &err);
	sesame_caller_free(caller);
	if (rc != SESAME_OK) {
		reply_rules_error(rep, &err);
		return;
	}
	reply_json(rep, 200, out);
}

/* POST /api/sesame/v1/rules/filter {"namespace", "action"}: {"filter": F}. */
static void rules_filter(struct request *req, struct reply *rep)
{
	static const char *const known[] = {"namespace", "action", NULL};
	const char *ns, *action;
	sesame_caller *caller;
	json_t *out = NULL;
	sesame_error err;
	int rc;

	if (!rules_body(req, rep, known, &ns, &action) || !rules_caller(req, rep, &caller))
		return;
	rc = sesame_rules_filter(caller, NULL, ns, action, &out, &err);
	sesame_caller_free(caller);
	if (rc != SESAME_OK) {
		reply_rules_error(rep, &err);
		return;
	}
	reply_json(rep, 200, out);
}

static const struct route table[] = {
    {"GET", CLIENT "/app/{app}/location", location, AUTH_NONE, 0},
    {"GET", "/healthz", healthz, AUTH_NONE, 0},
    {"GET", "/metrics", metrics, AUTH_METRICS, 0},
    {"GET", ADMIN "/providers", admin_providers, AUTH_ADMIN, 0},
    {"POST", ADMIN "/providers/{name}/verify", admin_verify, AUTH_ADMIN, ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/login", login, AUTH_NONE, ROUTE_JSON_BODY | ROUTE_EJSON},
    {"GET", CLIENT "/app/{app}/auth/providers/{name}/login", weblogin_start, AUTH_NONE, 0},
    {"GET", CLIENT "/app/{app}/auth/providers/{name}/callback", weblogin_callback, AUTH_NONE, 0},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/callback", weblogin_callback, AUTH_NONE, 0},
    {"GET", CLIENT "/auth/profile", profile, AUTH_ACCESS, 0},
    {"POST", CLIENT "/auth/session", session_refresh, AUTH_REFRESH, 0},
    {"DELETE", CLIENT "/auth/session", session_logout, AUTH_REFRESH, 0},
    {"DELETE", CLIENT "/auth/delete", delete_self, AUTH_ACCESS, 0},
    {"GET", "/.well-known/jwks.json", jwks, AUTH_NONE, 0},
    {"GET", ADMIN "/users", admin_users, AUTH_ADMIN, 0},
    {"GET", ADMIN "/users/{id}", admin_user_get, AUTH_ADMIN, 0},
    {"DELETE", ADMIN "/users/{id}", admin_user_delete, AUTH_ADMIN, 0},
    {"PUT", ADMIN "/users/{id}/disable", admin_user_disable, AUTH_ADMIN, 0},
    {"PUT", ADMIN "/users/{id}/enable", admin_user_enable, AUTH_ADMIN, 0},
    {"PUT", ADMIN "/users/{id}/logout", admin_user_logout, AUTH_ADMIN, 0},
    {"GET", ADMIN "/users/{id}/custom_data", admin_custom_data_get, AUTH_ADMIN, 0},
    {"PUT", ADMIN "/users/{id}/custom_data", admin_custom_data_put, AUTH_ADMIN, ROUTE_JSON_BODY},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/register", userpass_register, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/confirm", userpass_confirm, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/confirm/send", userpass_confirm_send, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/confirm/call", userpass_confirm_call, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/reset/call", userpass_reset_call, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/reset", userpass_reset, AUTH_NONE, ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/app/{app}/auth/providers/{name}/reset/send", userpass_reset_send, AUTH_NONE,
     ROUTE_JSON_BODY | ROUTE_EJSON},
    {"POST", CLIENT "/auth/api_keys", api_key_create, AUTH_REFRESH, ROUTE_JSON_BODY | ROUTE_EJSON},
    {"GET", CLIENT "/auth/api_keys", api_keys_list, AUTH_REFRESH, 0},
    {"GET", CLIENT "/auth/api_keys/{id}", api_key_get, AUTH_REFRESH, 0},
    {"DELETE", CLIENT "/auth/api_keys/{id}", api_key_delete, AUTH_REFRESH, 0},
    {"PUT", CLIENT "/auth/api_keys/{id}/enable", api_key_enable, AUTH_REFRESH, 0},
    {"PUT", CLIENT "/auth/api_keys/{id}/disable", api_key_disable, AUTH_REFRESH, 0},
    {"POST", ADMIN "/api_keys", admin_api_key_create, AUTH_ADMIN, ROUTE_JSON_BODY},
    {"DELETE", ADMIN "/api_keys/{id}", admin_api_key_delete, AUTH_ADMIN, 0},
    {"POST", ADMIN "/test/clock", admin_test_clock, AUTH_ADMIN, ROUTE_JSON_BODY},
    {"POST", SESAME "/providers/{name}/actions/{action*}", provider_action, AUTH_ACCESS_OR_ADMIN, ROUTE_JSON_BODY},
    {"POST", SESAME "/rules/evaluate", rules_evaluate, AUTH_ACCESS_OR_ADMIN, ROUTE_JSON_BODY},
    {"POST", SESAME "/rules/filter", rules_filter, AUTH_ACCESS_OR_ADMIN, ROUTE_JSON_BODY},
};

const struct route *routes_table(size_t *n)
{
	*n = ARRAY_SIZE(table);
	return table;
}
