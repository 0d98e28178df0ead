/*
 * tests/prov7/harness.h — the sesamed harness (tests/daemon/harness.h) for
 * the provider tests, where each daemon gets its own plugin directory
 * holding copies of the real plugins a test needs plus fixture-good.
 */
#ifndef SESAME_PROV7_HARNESS_H
#define SESAME_PROV7_HARNESS_H

#include "../daemon/harness.h"

/* The config file: fixture plugins, dir/providers.d, plus `extra` members. */
static void write_config(struct daemon *d, const char *extra)
{
	char *drop = tu_mkdir(d->dir, "providers.d", 0755), text[4096];
	char *plugins = tu_path(d->dir, "plugins");

	snprintf(text, sizeof(text),
		 "{\"app_id\": \"test-app\", \"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"],\n"
		 " \"state_dir\": \"%s\", \"public_url\": \"https://auth.example.test/\"%s%s}\n",
		 plugins, tu_env("SESAME_TEST_STORES"), drop, d->dir, extra ? ", " : "", extra ? extra : "");
	free(d->config);
	d->config = tu_write(d->dir, "sesame.json", text, 0600);
	free(drop);
	free(plugins);
}

static void provider(struct daemon *d, const char *name, const char *content)
{
	free(tu_provider(d->dir, name, content));
}

/* Copy plugin `type` from directory `from` into the daemon's own plugin
 * directory, so real plugins and fixtures load side by side. */
static void copy_plugin(const struct daemon *d, const char *from, const char *type)
{
	char src[1024], dst[1024], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/%s.so", from, type);
	snprintf(dst, sizeof(dst), "%s/plugins/%s.so", d->dir, type);
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		fail_msg("cannot copy %s to %s", src, dst);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* A daemon directory with the real plugins `types` (NULL-terminated) and
 * the fixture-good plugin; no provider configured yet. */
static struct daemon *daemon_new(const char *tag, const char *extra, const char *const *types)
{
	struct daemon *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->dir = tu_tmpdir(tag);
	d->log = tu_path(d->dir, "sesamed.log");
	free(tu_mkdir(d->dir, "plugins", 0755));
	while (types && *types)
		copy_plugin(d, tu_env("SESAME_TEST_PLUGINS"), *types++);
	copy_plugin(d, tu_env("SESAME_TEST_FIXTURES"), "fixture-good");
	write_config(d, extra);
	return d;
}


#define LOGIN(name) "/api/client/v2.0/app/test-app/auth/providers/" name "/login"

/* POST a login body to provider `name`; the parsed answer on 200, else NULL. */
static json_t *client_login(const struct daemon *d, const char *path, const char *body, const char *bearer,
			    struct http *r)
{
	char auth[4096];
	struct req q = {"POST", path, {JSON_TYPE_HEADER, NULL}, body, false, NULL};

	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		q.headers[1] = auth;
	}
	http(d, &q, r);
	return r->status == 200 ? json_body(r) : NULL;
}

/* A request with a bearer token. */
static void bearer_call(const struct daemon *d, const char *method, const char *path, const char *token,
			struct http *r)
{
	char auth[4096];
	struct req q = {method, path, {auth, NULL}, NULL, false, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	http(d, &q, r);
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v)
		fail_msg("no string \"%s\"", key);
	return v;
}


#endif /* SESAME_PROV7_HARNESS_H */
