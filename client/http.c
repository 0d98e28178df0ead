/* SPDX-License-Identifier: MIT */
/*
 * client/http.c — libsesame-client's outbound HTTP through libcurl: https
 * only (http only to a loopback address, checked on the address connected
 * to), no redirect followed, answers capped in size, requests in time,
 * bearer tokens and bodies wiped after use, and the App Services error
 * answers turned into error records that print safely.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "secretbuf.h"

/* What one transfer collects. */
struct xfer {
	char *data;
	size_t len, cap, max;
	bool too_big;
	bool loopback_only;
	bool refused_address;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, cap;

	if (n > x->max - x->len) {
		x->too_big = true;
		return 0; /* ends the transfer */
	}
	if (x->len + n + 1 > x->cap) {
		cap = x->cap ? x->cap : 4096;
		while (cap < x->len + n + 1)
			cap *= 2;
		/* The old buffer may hold a token to wipe. */
		if (!secretbuf_grow(&x->data, x->len, &x->cap, cap))
			return 0;
	}
	memcpy(x->data + x->len, ptr, n);
	x->len += n;
	x->data[x->len] = '\0';
	return n;
}

bool http_sockaddr_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

/* Every connection passes here: plain http reaches loopback addresses only,
 * whatever a host name resolved to. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct xfer *x = arg;

	(void)purpose;
	if (x->loopback_only && !http_sockaddr_loopback(&addr->addr)) {
		x->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static bool host_loopback(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char v6[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, buf) == 1)
		return buf[0] == 127;
	if (n > 2 && n < sizeof(v6) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(v6, host + 1, n - 2);
		v6[n - 2] = '\0';
		if (inet_pton(AF_INET6, v6, buf) == 1)
			return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)(void *)buf);
	}
	return false;
}

int http_check_url(const char *url, const char *what, int status, char **out, sesame_client_error *err)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *query = NULL, *fragment = NULL;
	CURLU *u = NULL;
	size_t i, n;
	int rc;

	*out = NULL;
	if (!url || !*url)
		return cl_error(err, status, "url", "%s is empty", what);
	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return cl_error(err, status, "url", "%s holds a space or a control character", what);
	u = curl_url();
	if (!u)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = cl_error(err, status, "url", "%s is not an absolute http:// or https:// URL", what);
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
	/* The URL is not echoed: it might carry a password. */
	if (user || password) {
		rc = cl_error(err, status, "url", "%s must not hold a user name or password", what);
		goto out;
	}
	if (query || fragment) {
		rc = cl_error(err, status, "url", "%s must not hold a query or a fragment", what);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
		rc = cl_error(err, status, "url", "%s must be an https:// URL, not %.20s://", what, scheme);
		goto out;
	}
	if (strcasecmp(scheme, "http") == 0 && !host_loopback(host)) {
		rc = cl_error(err, status, "https",
			      "%s must be https: plain http is allowed to a loopback address only, not to %.100s", what,
			      host);
		goto out;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	*out = strndup(url, n);
	rc = *out ? SESAME_CLIENT_OK : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_free(query);
	curl_free(fragment);
	curl_url_cleanup(u);
	return rc;
}

void answer_clear(struct cl_answer *a)
{
	cl_json_wipe_decref(a->json);
	memset(a, 0, sizeof(*a));
}

/* The scheme and host of a URL a server sent, for messages; "" when none. */
static void url_host(const char *url, char *out, size_t size)
{
	CURLU *u = url ? curl_url() : NULL;
	char *scheme = NULL, *host = NULL;

	out[0] = '\0';
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		char raw[256];

		snprintf(raw, sizeof(raw), "%s://%s", scheme, host);
		cl_sanitize(out, size, raw, strlen(raw), 120);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

/* The path of a URL we built, for messages: no secret is ever in one. */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : NULL;
	return p ? p : url;
}

static int transfer_error(CURLcode cc, const struct xfer *x, const char *method, const char *url,
			  sesame_client_error *err)
{
	const char *path = url_path(url);

	if (x->refused_address)
		return cl_error(
		    err, SESAME_CLIENT_USAGE, "https",
		    "%s %s: plain http is allowed to a loopback address only, and the host name resolved to "
		    "another address",
		    method, path);
	if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return cl_error(err, SESAME_CLIENT_PROTOCOL, "too-large",
				"%s %s: the server's answer is larger than %zu bytes", method, path, x->max);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return cl_error(err, SESAME_CLIENT_UNAVAILABLE, "timeout", "%s %s: the server did not answer in time",
				method, path);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return cl_error(err, SESAME_CLIENT_UNAVAILABLE, "tls", "%s %s: TLS failed: %s", method, path,
				curl_easy_strerror(cc));
	case CURLE_OUT_OF_MEMORY:
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	default:
		return cl_error(err, SESAME_CLIENT_UNAVAILABLE, "connect", "%s %s: cannot reach the server: %s", method,
				path, curl_easy_strerror(cc));
	}
}

int http_call(struct sesame_client *c, const char *method, const char *url, const char *bearer, const json_t *body,
	      struct cl_answer *a, sesame_client_error *err)
{
	struct xfer x = {.max = c->max_body, .loopback_only = strncasecmp(url, "http://", 7) == 0};
	long timeout = c->timeout_ms;
	struct curl_slist *headers = NULL, *h;
	char *text = NULL, *auth = NULL, *redirect = NULL, where[160];
	size_t auth_len = 0;
	CURLcode cc;
	int rc;

	memset(a, 0, sizeof(*a));
	if (bearer && !cl_token_valid(bearer))
		return cl_error(err, SESAME_CLIENT_STORE, "torn", "a stored token is not a token");
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (bearer) {
		auth_len = strlen("Authorization: Bearer ") + strlen(bearer) + 1;
		auth = malloc(auth_len);
		if (auth)
			snprintf(auth, auth_len, "Authorization: Bearer %s", bearer);
	}
	h = (!bearer || auth) ? curl_slist_append(NULL, "Accept: application/json") : NULL;
	headers = h;
	if (h && text)
		h = curl_slist_append(headers, "Content-Type: application/json");
	if (h && auth)
		h = curl_slist_append(headers, auth);
	/* Without it curl waits for a "100 Continue" on larger bodies. */
	if (h)
		h = curl_slist_append(headers, "Expect:");
	if (!h) {
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
		goto out;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout < SESAME_CLIENT_CONNECT_TIMEOUT_MS ? timeout : SESAME_CLIENT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* Plain http goes to loopback only: never through a proxy. */
	if (x.loopback_only)
		curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	if (c->resolve)
		curl_easy_setopt(c->curl, CURLOPT_RESOLVE, c->resolve);
	curl_easy_setopt(c->curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c->curl, CURLOPT_OPENSOCKETDATA, &x);
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "sesame-client/" PACKAGE_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (text) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		rc = transfer_error(cc, &x, method, url, err);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
	if (a->status >= 300 && a->status < 400) {
		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &redirect);
		url_host(redirect, where, sizeof(where));
		rc = cl_error(err, SESAME_CLIENT_PROTOCOL, "redirect",
			      "%s %s: the server answered a redirect (HTTP %ld%s%s); sesame-client follows none",
			      method, url_path(url), a->status, where[0] ? " to " : "", where);
		goto out;
	}
	if (x.len > 0) {
		a->json = json_loadb(x.data, x.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		a->not_json = a->json == NULL;
	}
	rc = SESAME_CLIENT_OK;
out:
	/* curl keeps no pointer to these after the transfer. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	if (auth) {
		OPENSSL_cleanse(auth, auth_len);
		free(auth);
	}
	cl_free_secret(text);
	if (x.data) {
		OPENSSL_cleanse(x.data, x.cap);
		free(x.data);
	}
	if (rc != SESAME_CLIENT_OK)
		answer_clear(a);
	return rc;
}

const char *answer_code(const struct cl_answer *a)
{
	const char *code = json_string_value(json_object_get(a->json, "error_code"));

	return code ? code : "";
}

/* `msg` with every occurrence of `secret` replaced by "[token]", into a new
 * string.  Tokens are longer than that, so the text never grows. */
static char *redact(const char *msg, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0, used = 0;
	const char *p = msg, *hit;
	char *out = malloc(strlen(msg) + 1);

	if (!out)
		return NULL;
	while (n >= 7 && (hit = strstr(p, secret)) != NULL) {
		memcpy(out + used, p, (size_t)(hit - p));
		used += (size_t)(hit - p);
		memcpy(out + used, "[token]", 7);
		used += 7;
		p = hit + n;
	}
	memcpy(out + used, p, strlen(p) + 1);
	return out;
}

int answer_check(const struct cl_answer *a, long expected, bool need_json, const char *secret, const char *what,
		 sesame_client_error *err)
{
	const char *msg = json_string_value(json_object_get(a->json, "error")), *code = answer_code(a);
	char safe_msg[256], safe_code[SESAME_CLIENT_ERROR_CODE_LENGTH], *clean;
	int status;

	if (a->status >= 200 && a->status < 300) {
		if (expected && a->status != expected)
			return cl_error(err, SESAME_CLIENT_PROTOCOL, "answer",
					"%s: the server answered HTTP %ld, not %ld", what, a->status, expected);
		if (need_json && !a->json)
			return cl_error(err, SESAME_CLIENT_PROTOCOL, "not-json", "%s: the server's answer is not JSON",
					what);
		return SESAME_CLIENT_OK;
	}
	status = a->status >= 400 && a->status < 500   ? SESAME_CLIENT_REFUSED
		 : a->status >= 500 && a->status < 600 ? SESAME_CLIENT_UNAVAILABLE
						       : SESAME_CLIENT_PROTOCOL;
	cl_sanitize(safe_code, sizeof(safe_code), code, strlen(code), sizeof(safe_code) - 1);
	clean = msg ? redact(msg, secret) : NULL;
	if (clean)
		cl_sanitize(safe_msg, sizeof(safe_msg), clean, strlen(clean), 200);
	else
		snprintf(safe_msg, sizeof(safe_msg), "%s",
			 a->not_json ? "(an answer that is not JSON)" : "(no message)");
	cl_free_secret(clean);
	cl_error(err, status,
		 status == SESAME_CLIENT_UNAVAILABLE ? "server"
		 : status == SESAME_CLIENT_PROTOCOL  ? "answer"
						     : "",
		 "%s: %s (HTTP %ld%s%s): %s", what, status == SESAME_CLIENT_REFUSED ? "refused" : "failed", a->status,
		 safe_code[0] ? " " : "", safe_code, safe_msg);
	if (err) {
		err->http_status = a->status;
		snprintf(err->code, sizeof(err->code), "%s", safe_code);
	}
	return status;
}
