/* SPDX-License-Identifier: MIT */
/*
 * daemon/settings.c — the configuration keys sesamed reads: the main keys
 * of the HTTP contract (listen, public_url, cors_origins, tls_*, admin_key)
 * and the "daemon" section, which belongs to sesamed alone: the core keeps
 * it as given and sesamed validates every key of it here.
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "daemon.h"

enum key_type { KEY_UNSIGNED, KEY_SIZE };

/* The "daemon" section: key, where it goes, range and default. */
static const struct {
	const char *key;
	size_t offset;
	enum key_type type;
	unsigned long long min, max, def;
} daemon_keys[] = {
    {"threads", offsetof(struct daemon_settings, threads), KEY_UNSIGNED, 0, 256, 0},
    {"max_connections", offsetof(struct daemon_settings, max_connections), KEY_UNSIGNED, 1, 65536, 1024},
    {"connection_timeout", offsetof(struct daemon_settings, connection_timeout), KEY_UNSIGNED, 1, 3600, 30},
    {"max_body_bytes", offsetof(struct daemon_settings, max_body_bytes), KEY_SIZE, 1024, 64ULL << 20, 1ULL << 20},
    {"max_header_bytes", offsetof(struct daemon_settings, max_header_bytes), KEY_SIZE, 4096, 1ULL << 20, 32768},
    {"login_failures_per_minute", offsetof(struct daemon_settings, login_failures_per_minute), KEY_UNSIGNED, 1, 100000,
     20},
    {"throttle_slots", offsetof(struct daemon_settings, throttle_slots), KEY_UNSIGNED, 64, 1U << 20, 4096},
    {"anon_logins_per_minute", offsetof(struct daemon_settings, anon_logins_per_minute), KEY_UNSIGNED, 1, 100000, 30},
    {"shutdown_timeout", offsetof(struct daemon_settings, shutdown_timeout), KEY_UNSIGNED, 0, 3600, 30},
    {"identifier_failures_per_hour", offsetof(struct daemon_settings, identifier_failures_per_hour), KEY_UNSIGNED, 1,
     100000, 10},
    {"account_requests_per_hour", offsetof(struct daemon_settings, account_requests_per_hour), KEY_UNSIGNED, 1, 100000,
     30},
    {"max_connections_per_address", offsetof(struct daemon_settings, max_connections_per_address), KEY_UNSIGNED, 0,
     65536, 32},
    {"request_timeout", offsetof(struct daemon_settings, request_timeout), KEY_UNSIGNED, 1, 3600, 30},
    {"weblogin_ttl", offsetof(struct daemon_settings, weblogin_ttl), KEY_UNSIGNED, 10, 3600, 300},
    {"weblogin_per_address", offsetof(struct daemon_settings, weblogin_per_address), KEY_UNSIGNED, 1, 1024, 16},
    {"weblogin_starts_per_minute", offsetof(struct daemon_settings, weblogin_starts_per_minute), KEY_UNSIGNED, 1,
     100000, 30},
};

/* The string keys of the "daemon" section; they are checked by name below. */
static const char *const daemon_string_keys[] = {"metrics", "metrics_listen"};

static void key_store(struct daemon_settings *d, size_t i, unsigned long long v)
{
	char *field = (char *)d + daemon_keys[i].offset;

	if (daemon_keys[i].type == KEY_SIZE)
		*(size_t *)(void *)field = (size_t)v;
	else
		*(unsigned *)(void *)field = (unsigned)v;
}

/* "FILE: " or "" for messages. */
static const char *where(const struct settings *s, char *buf, size_t len)
{
	if (!s->config_file)
		return "";
	snprintf(buf, len, "%s: ", s->config_file);
	return buf;
}

void settings_known_keys(char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(daemon_keys) + ARRAY_SIZE(daemon_string_keys) && used < size; i++) {
		const char *k =
		    i < ARRAY_SIZE(daemon_keys) ? daemon_keys[i].key : daemon_string_keys[i - ARRAY_SIZE(daemon_keys)];

		snprintf(out + used, size - used, "%s%s", i ? ", " : "", k);
		used += strlen(out + used);
	}
}

/* "metrics": "admin" (default: the admin key is required) or "public". */
static int metrics_load(struct settings *s, const json_t *v, sesame_error *err)
{
	const char *m = json_string_value(v);
	char at[300];

	if (!m || (strcmp(m, "admin") != 0 && strcmp(m, "public") != 0))
		return derr(err, SESAME_CONFIG, "config", "%s\"daemon.metrics\": expected \"admin\" or \"public\"",
			    where(s, at, sizeof(at)));
	s->daemon.metrics_public = strcmp(m, "public") == 0;
	return 0;
}

/* "metrics_listen": the ADDR:PORT of a listener serving /metrics alone. */
static int metrics_listen_load(struct settings *s, const json_t *v, sesame_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char at[300];
	sesame_error why;

	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return derr(err, SESAME_CONFIG, "config",
			    "%s\"daemon.metrics_listen\": expected \"ADDRESS:PORT\" or null", where(s, at, sizeof(at)));
	if (listen_parse(json_string_value(v), &ss, &sslen, &why) != SESAME_OK)
		return derr(err, why.status, why.reason, "%s\"daemon.metrics_listen\": %s", where(s, at, sizeof(at)),
			    why.text);
	s->daemon.metrics_listen = strdup(json_string_value(v));
	if (!s->daemon.metrics_listen)
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	return 0;
}

static int daemon_section_load(struct settings *s, const json_t *section, sesame_error *err)
{
	char at[300];
	const char *key;
	json_t *v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(daemon_keys); i++)
		key_store(&s->daemon, i, daemon_keys[i].def);
	if (!section)
		return 0;
	if (!json_is_object(section))
		return derr(err, SESAME_CONFIG, "config", "%s\"daemon\": expected an object", where(s, at, sizeof(at)));
	json_object_foreach ((json_t *)section, key, v) {
		if (strcmp(key, "metrics") == 0) {
			if (metrics_load(s, v, err) != SESAME_OK)
				return err->status;
			continue;
		}
		if (strcmp(key, "metrics_listen") == 0) {
			if (metrics_listen_load(s, v, err) != SESAME_OK)
				return err->status;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(daemon_keys); i++)
			if (strcmp(daemon_keys[i].key, key) == 0)
				break;
		if (i == ARRAY_SIZE(daemon_keys)) {
			/* The list of keys is longer than an error text: the
			 * caller prints settings_known_keys() after it. */
			return derr(err, SESAME_CONFIG, "unknown-key", "%sunknown key \"daemon.%s\"",
				    where(s, at, sizeof(at)), key);
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (unsigned long long)json_integer_value(v) < daemon_keys[i].min ||
		    (unsigned long long)json_integer_value(v) > daemon_keys[i].max)
			return derr(err, SESAME_CONFIG, "config",
				    "%s\"daemon.%s\": expected an integer from %llu to %llu", where(s, at, sizeof(at)),
				    key, daemon_keys[i].min, daemon_keys[i].max);
		key_store(&s->daemon, i, (unsigned long long)json_integer_value(v));
	}
	return 0;
}

/* public_url without trailing slashes, and its WebSocket twin. */
static int urls_load(struct settings *s, const char *public_url, sesame_error *err)
{
	bool https = strncmp(public_url, "https://", 8) == 0;
	size_t n = strlen(public_url);
	char at[300];

	if (!https && strncmp(public_url, "http://", 7) != 0)
		return derr(err, SESAME_CONFIG, "config",
			    "%s\"public_url\": expected an http:// or https:// URL, got \"%s\"",
			    where(s, at, sizeof(at)), public_url);
	/* Clients append "/api/client/v2.0/..." to it: no doubled slash. */
	while (n > 0 && public_url[n - 1] == '/')
		n--;
	s->public_url = strndup(public_url, n);
	s->ws_url = malloc(n + 2);
	if (!s->public_url || !s->ws_url)
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	snprintf(s->ws_url, n + 2, "%s%.*s", https ? "wss" : "ws", (int)(n - (https ? 5 : 4)),
		 public_url + (https ? 5 : 4));
	return 0;
}

static char *dup_or_null(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int settings_load(struct settings *s, const json_t *config, sesame_error *err)
{
	const json_t *admin = json_object_get(config, "admin_key");
	const char *public_url = json_string_value(json_object_get(config, "public_url"));

	memset(s, 0, sizeof(*s));
	s->config_file = dup_or_null(json_object_get(config, "config_file"));
	s->app_id = dup_or_null(json_object_get(config, "app_id"));
	s->listen = dup_or_null(json_object_get(config, "listen"));
	s->tls_cert = dup_or_null(json_object_get(config, "tls_cert"));
	s->tls_key = dup_or_null(json_object_get(config, "tls_key"));
	s->test_mode = json_is_true(json_object_get(config, "test_mode"));
	if (!s->app_id || !s->listen || !public_url) {
		derr(err, SESAME_CONFIG, "config", "the configuration lacks app_id, listen or public_url");
		goto fail;
	}
	if (!s->tls_cert != !s->tls_key) {
		derr(err, SESAME_CONFIG, "config", "%s: \"tls_cert\" and \"tls_key\" go together: set both or neither",
		     s->config_file ? s->config_file : "configuration");
		goto fail;
	}
	if (urls_load(s, public_url, err) != SESAME_OK ||
	    cors_init(&s->cors, json_object_get(config, "cors_origins"), err) != SESAME_OK ||
	    daemon_section_load(s, json_object_get(config, "daemon"), err) != SESAME_OK)
		goto fail;
	if (json_is_string(admin)) {
		/* Only a digest is kept: requests are compared against it in
		 * constant time, and no length leaks through the comparison. */
		SHA256((const unsigned char *)json_string_value(admin), json_string_length(admin), s->admin_key_hash);
		s->admin_enabled = true;
	}
	return 0;
fail:
	settings_free(s);
	return err->status;
}

void settings_free(struct settings *s)
{
	free(s->config_file);
	free(s->app_id);
	free(s->listen);
	free(s->public_url);
	free(s->ws_url);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->daemon.metrics_listen);
	cors_free(&s->cors);
	OPENSSL_cleanse(s->admin_key_hash, sizeof(s->admin_key_hash));
	memset(s, 0, sizeof(*s));
}

int listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen, sesame_error *err)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon, *port, *h = listen;
	size_t hlen;
	int rc;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return derr(err, SESAME_CONFIG, "config", "listen address \"%s\": expected [IPV6]:PORT",
				    listen);
		h = listen + 1;
		hlen = (size_t)(close - h);
		port = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || strchr(listen, ':') != colon)
			return derr(err, SESAME_CONFIG, "config",
				    "listen address \"%s\": expected ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", listen);
		hlen = (size_t)(colon - listen);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) || !*port || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || strtol(port, NULL, 10) > 65535)
		return derr(err, SESAME_CONFIG, "config",
			    "listen address \"%s\": expected ADDRESS:PORT with a port from 0 to 65535", listen);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	/* Numeric addresses only (and "localhost"): a daemon must not wait on
	 * DNS to start, nor listen wherever a name happens to resolve. */
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res || res->ai_addrlen > sizeof(*ss)) {
		derr(err, SESAME_CONFIG, "config",
		     "listen address \"%s\": expected a numeric IP address or localhost (%s)", listen,
		     rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return SESAME_CONFIG;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
