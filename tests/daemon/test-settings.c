/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-settings.c — daemon/settings.c: the "daemon" section
 * with its errors naming the key, public_url and ws_hostname, the admin key
 * digest, listen addresses. */
#include "config.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

#define BASE "\"config_file\": \"/etc/sesame/sesame.json\", \"app_id\": \"app\", \"listen\": \"127.0.0.1:9090\""

static int load(const char *members, struct settings *s, sesame_error *err)
{
	char text[2048];
	json_t *config;
	int rc;

	snprintf(text, sizeof(text), "{" BASE ", %s}", members);
	config = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(config);
	memset(err, 0, sizeof(*err));
	rc = settings_load(s, config, err);
	json_decref(config);
	return rc;
}

static void load_fails(const char *members, const char *expect)
{
	struct settings s;
	sesame_error err;

	assert_int_equal(load(members, &s, &err), SESAME_CONFIG);
	if (!strstr(err.text, expect))
		fail_msg("%s: message \"%s\" lacks \"%s\"", members, err.text, expect);
	assert_null(s.app_id);
}

static void test_defaults(void **state)
{
	struct settings s;
	sesame_error err;

	assert_int_equal(load("\"public_url\": \"http://127.0.0.1:9090\", \"admin_key\": null", &s, &err), 0);
	assert_int_equal(s.daemon.threads, 0);
	assert_int_equal(s.daemon.max_connections, 1024);
	assert_int_equal(s.daemon.connection_timeout, 30);
	assert_int_equal(s.daemon.max_body_bytes, 1024 * 1024);
	assert_int_equal(s.daemon.max_header_bytes, 32768);
	assert_int_equal(s.daemon.login_failures_per_minute, 20);
	assert_int_equal(s.daemon.throttle_slots, 4096);
	assert_int_equal(s.daemon.shutdown_timeout, 30);
	assert_int_equal(s.daemon.identifier_failures_per_hour, 10);
	assert_int_equal(s.daemon.account_requests_per_hour, 30);
	assert_int_equal(s.daemon.max_connections_per_address, 32);
	assert_int_equal(s.daemon.request_timeout, 30);
	assert_int_equal(s.daemon.weblogin_ttl, 300);
	assert_int_equal(s.daemon.weblogin_per_address, 16);
	assert_int_equal(s.daemon.weblogin_starts_per_minute, 30);
	assert_false(s.daemon.metrics_public);
	assert_null(s.daemon.metrics_listen);
	assert_false(s.admin_enabled);
	assert_string_equal(s.public_url, "http://127.0.0.1:9090");
	assert_string_equal(s.ws_url, "ws://127.0.0.1:9090");
	assert_null(s.tls_cert);
	settings_free(&s);
}

static void test_daemon_section(void **state)
{
	struct settings s;
	sesame_error err;

	assert_int_equal(load("\"public_url\": \"https://auth.example.com/\", \"daemon\": {\"threads\": 4, "
			      "\"max_body_bytes\": 2048, \"login_failures_per_minute\": 5, \"shutdown_timeout\": 0, "
			      "\"identifier_failures_per_hour\": 3, \"account_requests_per_hour\": 7}",
			      &s, &err),
			 0);
	assert_int_equal(s.daemon.identifier_failures_per_hour, 3);
	assert_int_equal(s.daemon.account_requests_per_hour, 7);
	assert_int_equal(s.daemon.threads, 4);
	assert_int_equal(s.daemon.max_body_bytes, 2048);
	assert_int_equal(s.daemon.login_failures_per_minute, 5);
	assert_int_equal(s.daemon.shutdown_timeout, 0);
	assert_int_equal(s.daemon.max_connections, 1024);
	/* No doubled slash when clients append their paths. */
	assert_string_equal(s.public_url, "https://auth.example.com");
	assert_string_equal(s.ws_url, "wss://auth.example.com");
	settings_free(&s);

	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"thread\": 4}", "unknown key \"daemon.thread\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"threads\": 257}",
		   "\"daemon.threads\": expected an integer from 0 to 256");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"max_body_bytes\": 10}",
		   "\"daemon.max_body_bytes\": expected an integer from 1024");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"connection_timeout\": \"30\"}",
		   "\"daemon.connection_timeout\": expected an integer");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"login_failures_per_minute\": -1}",
		   "\"daemon.login_failures_per_minute\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"throttle_slots\": 1.5}", "\"daemon.throttle_slots\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"identifier_failures_per_hour\": 0}",
		   "\"daemon.identifier_failures_per_hour\": expected an integer from 1 to 100000");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"account_requests_per_hour\": 100001}",
		   "\"daemon.account_requests_per_hour\": expected an integer from 1 to 100000");
	load_fails("\"public_url\": \"http://x\", \"daemon\": []", "\"daemon\": expected an object");
	/* The file is named too. */
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"x\": 1}", "/etc/sesame/sesame.json: ");
}

static void test_abuse_limits(void **state)
{
	struct settings s;
	sesame_error err;

	assert_int_equal(load("\"public_url\": \"http://x\", \"daemon\": {\"max_connections_per_address\": 0, "
			      "\"request_timeout\": 5, \"weblogin_ttl\": 60, \"weblogin_per_address\": 2, "
			      "\"weblogin_starts_per_minute\": 9, \"metrics\": \"public\", "
			      "\"metrics_listen\": \"127.0.0.1:9091\"}",
			      &s, &err),
			 0);
	assert_int_equal(s.daemon.max_connections_per_address, 0);
	assert_int_equal(s.daemon.request_timeout, 5);
	assert_int_equal(s.daemon.weblogin_ttl, 60);
	assert_int_equal(s.daemon.weblogin_per_address, 2);
	assert_int_equal(s.daemon.weblogin_starts_per_minute, 9);
	assert_true(s.daemon.metrics_public);
	assert_string_equal(s.daemon.metrics_listen, "127.0.0.1:9091");
	settings_free(&s);
	assert_int_equal(load("\"public_url\": \"http://x\", \"daemon\": {\"metrics\": \"admin\", "
			      "\"metrics_listen\": null}",
			      &s, &err),
			 0);
	assert_false(s.daemon.metrics_public);
	assert_null(s.daemon.metrics_listen);
	settings_free(&s);

	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"request_timeout\": 0}",
		   "\"daemon.request_timeout\": expected an integer from 1 to 3600");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"weblogin_ttl\": 5}",
		   "\"daemon.weblogin_ttl\": expected an integer from 10 to 3600");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"weblogin_per_address\": 0}",
		   "\"daemon.weblogin_per_address\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"metrics\": \"everyone\"}",
		   "\"daemon.metrics\": expected \"admin\" or \"public\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"metrics\": true}", "\"daemon.metrics\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"metrics_listen\": \"9091\"}",
		   "\"daemon.metrics_listen\": listen address \"9091\"");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"metrics_listen\": 9091}",
		   "\"daemon.metrics_listen\": expected \"ADDRESS:PORT\" or null");
	load_fails("\"public_url\": \"http://x\", \"daemon\": {\"x\": 1}",
		   "/etc/sesame/sesame.json: unknown key \"daemon.x\"");
	/* sesamed prints the known keys after that message: every key, the
	 * new ones too. */
	{
		char known[1024];

		assert_int_equal(load("\"public_url\": \"http://x\", \"daemon\": {\"x\": 1}", &s, &err), SESAME_CONFIG);
		assert_string_equal(err.reason, "unknown-key");
		settings_known_keys(known, sizeof(known));
		assert_string_equal(known,
				    "threads, max_connections, connection_timeout, max_body_bytes, "
				    "max_header_bytes, login_failures_per_minute, throttle_slots, "
				    "anon_logins_per_minute, shutdown_timeout, identifier_failures_per_hour, "
				    "account_requests_per_hour, max_connections_per_address, request_timeout, "
				    "weblogin_ttl, weblogin_per_address, weblogin_starts_per_minute, metrics, "
				    "metrics_listen");
	}
}

static void test_main_keys(void **state)
{
	struct settings s;
	sesame_error err;

	load_fails("\"public_url\": \"ftp://x\"", "\"public_url\": expected an http:// or https:// URL");
	load_fails("\"public_url\": \"http://x\", \"tls_cert\": \"/c.pem\"",
		   "\"tls_cert\" and \"tls_key\" go together");
	load_fails("\"public_url\": \"http://x\", \"cors_origins\": [\"x\"]", "\"cors_origins\"[0]");

	assert_int_equal(load("\"public_url\": \"http://x\", \"admin_key\": \"0123456789abcdef\"", &s, &err), 0);
	assert_true(s.admin_enabled);
	/* SHA-256("0123456789abcdef") begins 9f9f5111. */
	assert_int_equal(s.admin_key_hash[0], 0x9f);
	assert_int_equal(s.admin_key_hash[1], 0x9f);
	assert_int_equal(s.admin_key_hash[2], 0x51);
	assert_int_equal(s.admin_key_hash[3], 0x11);
	settings_free(&s);
}

static void test_listen(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	sesame_error err;

	assert_int_equal(listen_parse("127.0.0.1:9090", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9090);
	assert_int_equal(listen_parse("[::1]:0", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(listen_parse("0.0.0.0:65535", &ss, &len, &err), 0);

	assert_int_equal(listen_parse("127.0.0.1", &ss, &len, &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, "expected ADDRESS:PORT"));
	assert_int_equal(listen_parse("127.0.0.1:65536", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse("127.0.0.1:http", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse("127.0.0.1:", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse(":9090", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse("::1:9090", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse("[::1]9090", &ss, &len, &err), SESAME_CONFIG);
	assert_int_equal(listen_parse("999.1.1.1:80", &ss, &len, &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, "999.1.1.1:80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_daemon_section),
	    cmocka_unit_test(test_abuse_limits), cmocka_unit_test(test_main_keys),
	    cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
