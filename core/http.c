/* SPDX-License-Identifier: MIT */
/*
 * core/http.c — outbound HTTP for providers (JWKS, token endpoints) through
 * libcurl: https only (loopback http in test mode), no redirects, timeouts
 * and a body size cap.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <curl/curl.h>

#include "internal.h"
#include "jose.h"

#define DEFAULT_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_MAX_BODY   (1024 * 1024)

/* The only global state of the core: curl_global_init, once per process. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct body {
	char *data;
	size_t len, cap, max;
	bool too_big;
	long max_age;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->too_big = true;
		return 0; /* abort the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Cache-Control: max-age=N (no-store / no-cache count as 0). */
static void parse_cache_control(const char *v, size_t n, long *max_age)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && isspace((unsigned char)v[end - 1]))
			end--;
		if (end - start >= 8 && strncasecmp(v + start, "max-age=", 8) == 0) {
			long age = 0;
			size_t j;

			for (j = start + 8; j < end && isdigit((unsigned char)v[j]); j++)
				age = age > (LONG_MAX - 9) / 10 ? LONG_MAX : age * 10 + (v[j] - '0');
			if (j == end && j > start + 8 && *max_age != 0)
				*max_age = age;
		} else if ((end - start == 8 && strncasecmp(v + start, "no-store", 8) == 0) ||
			   (end - start == 8 && strncasecmp(v + start, "no-cache", 8) == 0)) {
			*max_age = 0;
		}
	}
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;

	if (n > 14 && strncasecmp(ptr, "cache-control:", 14) == 0)
		parse_cache_control(ptr + 14, n - 14, &b->max_age);
	return n;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Like http_check_url(); *loopback tells whether the host is a loopback one. */
static int check_url(const char *url, bool test_mode, bool *loopback, sesame_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = SESAME_OK;

	if (!u)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = seterr(err, SESAME_MALFORMED, "url", "\"%.200s\" is not a valid URL", url ? url : "");
		goto out;
	}
	*loopback = host_is_loopback(host);
	if (strcmp(scheme, "https") == 0)
		rc = SESAME_OK;
	else if (strcmp(scheme, "http") != 0)
		rc = seterr(err, SESAME_MALFORMED, "url", "\"%.200s\": only https:// URLs are allowed", url);
	else if (!test_mode || !*loopback)
		rc =
		    seterr(err, SESAME_MALFORMED, "url",
			   "\"%.200s\": http:// is allowed only to a loopback address in test mode; use https://", url);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int http_check_url(const char *url, bool test_mode, sesame_error *err)
{
	bool loopback = false;

	return check_url(url, test_mode, &loopback, err);
}

void http_response_clear(struct sesame_http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}

static struct curl_slist *request_headers(const struct sesame_http_request *req, bool *ok)
{
	struct curl_slist *list = NULL, *next;
	size_t i;

	*ok = true;
	for (i = 0; req->headers && req->headers[i]; i++) {
		/* A header line with CR or LF would inject more headers. */
		if (strpbrk(req->headers[i], "\r\n")) {
			*ok = false;
			break;
		}
		next = curl_slist_append(list, req->headers[i]);
		if (!next) {
			*ok = false;
			break;
		}
		list = next;
	}
	return list;
}

static int transfer_status(CURLcode cc, const struct body *b, const char *url, sesame_error *err)
{
	if (b->too_big)
		return seterr(err, SESAME_UNAVAILABLE, "http", "%.200s: the answer is larger than %zu bytes", url,
			      b->max);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return seterr(err, SESAME_UNAVAILABLE, "http", "%.200s: timed out", url);
	return seterr(err, SESAME_UNAVAILABLE, "http", "%.200s: %s", url, curl_easy_strerror(cc));
}

int http_perform(bool test_mode, const struct sesame_http_request *req, struct sesame_http_response *resp,
		 long *max_age, sesame_error *err)
{
	struct body b = {.max = req->max_body ? req->max_body : DEFAULT_MAX_BODY, .max_age = -1};
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	bool post = req->method && strcmp(req->method, "POST") == 0, hdr_ok, loopback = false;
	struct curl_slist *headers = NULL;
	char *ctype = NULL;
	CURL *curl = NULL;
	CURLcode cc;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (max_age)
		*max_age = -1;
	if (req->method && !post && strcmp(req->method, "GET") != 0)
		return seterr(err, SESAME_USAGE, "usage", "HTTP method must be GET or POST");
	rc = check_url(req->url, test_mode, &loopback, err);
	if (rc != SESAME_OK)
		return rc;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_code != CURLE_OK)
		return seterr(err, SESAME_INTERNAL, "http", "libcurl failed to initialise");
	headers = request_headers(req, &hdr_ok);
	if (!hdr_ok) {
		curl_slist_free_all(headers);
		return seterr(err, SESAME_USAGE, "usage", "an HTTP request header is invalid");
	}
	curl = curl_easy_init();
	if (!curl) {
		curl_slist_free_all(headers);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, test_mode ? "http,https" : "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* A proxy from the environment must never see loopback traffic. */
	if (loopback)
		curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b.max);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &b);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "sesame/" PACKAGE_VERSION);
	if (headers)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (post) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_length : 0));
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	cc = curl_easy_perform(curl);
	if (cc == CURLE_FILESIZE_EXCEEDED)
		b.too_big = true;
	if (cc != CURLE_OK) {
		rc = transfer_status(cc, &b, req->url, err);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status >= 300 && resp->status < 400) {
		rc = seterr(err, SESAME_UNAVAILABLE, "http", "%.200s: redirect (HTTP %ld) refused", req->url,
			    resp->status);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
	resp->content_type = ctype ? strdup(ctype) : NULL;
	resp->body = b.data ? b.data : calloc(1, 1);
	resp->body_length = b.len;
	b.data = NULL;
	if (!resp->body || (ctype && !resp->content_type)) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	if (max_age)
		*max_age = b.max_age;
	rc = SESAME_OK;
out:
	if (rc != SESAME_OK)
		http_response_clear(resp);
	free(b.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return rc;
}
