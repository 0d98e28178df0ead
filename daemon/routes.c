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
#define ADMIN  "/api/admin/v1"

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

/* GET /healthz: the daemon answers and has a configured context. */
static void healthz(struct request *req, struct reply *rep)
{
	reply_json(rep, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /metrics: Prometheus text format 0.0.4. */
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
	char msg[256];

	if (login_body_split(req->json, true, &credential, &device, msg, sizeof(msg)) != 0) {
		reply_error(rep, 400, "BadRequest", "%s", msg);
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

static const struct route table[] = {
    {"GET", CLIENT "/app/{app}/location", location, AUTH_NONE, 0},
    {"GET", "/healthz", healthz, AUTH_NONE, 0},
    {"GET", "/metrics", metrics, AUTH_NONE, 0},
    {"GET", ADMIN "/providers", admin_providers, AUTH_ADMIN, 0},
    {"POST", ADMIN "/providers/{name}/verify", admin_verify, AUTH_ADMIN, ROUTE_JSON_BODY},
};

const struct route *routes_table(size_t *n)
{
	*n = ARRAY_SIZE(table);
	return table;
}
