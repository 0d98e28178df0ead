/* SPDX-License-Identifier: MIT */
/*
 * tests/client/harness.h — a real sesamed for the tests of libsesame-client
 * and sesame-client: the anon-user, local-userpass (mails to an outbox
 * file) and api-key plugins, fixture-good as instance "alpha" (credential
 * {"user": NAME}), throttles out of the way, and public_url set to the
 * address the daemon picked (written once the port is known, then a
 * SIGHUP), so the location answer sends the client back to it.  Also the
 * daemon's counters from /metrics, which the tests use to count requests
 * (refreshes, retries) instead of timing anything.
 */
#ifndef SESAME_CLIENT_TEST_HARNESS_H
#define SESAME_CLIENT_TEST_HARNESS_H

#include "daemon/harness.h"

#define APP "test-app"

static const char *const client_plugins[] = {"anon-user", "local-userpass", "api-key", NULL};

/* dir/sesame.json with `public_url`: test mode, the admin key, the
 * throttles out of the way. */
static void client_config(struct daemon *d, const char *public_url)
{
	write_config_url(d, public_url,
			 "\"test_mode\": true, \"admin_key\": \"" ADMIN_KEY "\",\n"
			 " \"daemon\": {\"login_failures_per_minute\": 10000, \"anon_logins_per_minute\": 10000,\n"
			 "            \"account_requests_per_hour\": 10000, \"identifier_failures_per_hour\": 10000}");
}

static struct daemon *client_daemon(const char *tag)
{
	struct daemon *d = daemon_new(tag, NULL, client_plugins);
	char *box, *sender = install_sender(d, &box), text[2048];

	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": 10}}}",
		 sender, box, sender, box);
	free(sender);
	free(box);
	provider(d, "local-userpass", text);
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	provider(d, "api-key", "{\"type\": \"api-key\"}");
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	client_config(d, "http://127.0.0.1:1");
	daemon_start(d);
	client_config(d, d->url);
	kill(d->pid, SIGHUP);
	if (!log_wait(d, "reloaded the configuration", 1)) {
		char *log = read_all(d->log);

		fail_msg("sesamed did not reload:\n%s", log);
	}
	return d;
}

/* Requests answered for one route, e.g. requests(d, "GET", "/auth/profile", 401). */
static long requests(const struct daemon *d, const char *method, const char *route, int status)
{
	char series[512];

	snprintf(series, sizeof(series),
		 "sesamed_http_requests_total{method=\"%s\",route=\"/api/client/v2.0%s\",status=\"%d\"}", method, route,
		 status);
	return metric(d, series);
}

static long refreshes(const struct daemon *d, const char *outcome)
{
	char series[128];

	snprintf(series, sizeof(series), "sesamed_session_refreshes_total{outcome=\"%s\"}", outcome);
	return metric(d, series);
}

/* As the admin: a user exists (200) or not (404). */
static long admin_user_status(const struct daemon *d, const char *id)
{
	char path[256];
	struct http r;
	long status;

	snprintf(path, sizeof(path), "/api/admin/v1/users/%s", id);
	http(d, &(struct req){"GET", path, {"Authorization: Bearer " ADMIN_KEY, NULL}, NULL, false, NULL}, &r);
	status = r.status;
	http_free(&r);
	return status;
}

/* As the admin: PUT /users/{id}/`what` (logout, disable, enable). */
static void admin_user_put(const struct daemon *d, const char *id, const char *what)
{
	char path[256];
	struct http r;

	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/%s", id, what);
	http(d, &(struct req){"PUT", path, {"Authorization: Bearer " ADMIN_KEY, NULL}, NULL, false, NULL}, &r);
	if (r.status != 204 && r.status != 200)
		fail_msg("PUT %s: %ld %s", path, r.status, r.body ? r.body : "");
	http_free(&r);
}

#endif /* SESAME_CLIENT_TEST_HARNESS_H */
