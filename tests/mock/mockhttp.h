/* SPDX-License-Identifier: MIT */
/*
 * tests/mock/mockhttp.h — a scriptable HTTP server on 127.0.0.1 for tests
 * (JWKS endpoints, token endpoints, identity provider APIs).  Each test
 * starts its own on a free port, sets the answer of each path, and reads
 * back how often each path was requested and with what.  Thread-safe.
 * Every function aborts the test program on a harness failure.
 */
#ifndef SESAME_MOCKHTTP_H
#define SESAME_MOCKHTTP_H

#include <stddef.h>

struct mockhttp;

/* Start a server on 127.0.0.1 on a free port.  Unknown paths answer 404. */
struct mockhttp *mockhttp_start(void);

/* Stop the server (connections are then refused) and free it. */
void mockhttp_stop(struct mockhttp *m);

unsigned mockhttp_port(const struct mockhttp *m);

/* "http://127.0.0.1:PORT" followed by `path`, malloc'd. */
char *mockhttp_url(const struct mockhttp *m, const char *path);

/*
 * Set the answer for requests to `path` (the query string is ignored):
 * the status, the Content-Type (NULL: none), the body (`len` bytes, copied)
 * and extra header lines "Name: value" separated by '\n' (or NULL).
 */
void mockhttp_set(struct mockhttp *m, const char *path, int status, const char *content_type, const char *body,
		  size_t len, const char *headers);

/* Like mockhttp_set() with a NUL-terminated body. */
void mockhttp_set_str(struct mockhttp *m, const char *path, int status, const char *content_type, const char *body,
		      const char *headers);

/* Hold back the answers to `path` for `ms` milliseconds, or until
 * mockhttp_stop(), whichever comes first (a slow server, for timeout
 * tests: the client gives up first).  Connections are served by their own
 * threads, so a slow path does not hold up the others. */
void mockhttp_set_delay(struct mockhttp *m, const char *path, unsigned ms);

/* How many requests reached `path` since the start (or the last reset). */
unsigned mockhttp_hits(struct mockhttp *m, const char *path);
void mockhttp_reset_hits(struct mockhttp *m);

/* The method and body of the last request to `path`, malloc'd ("" when
 * none), and the value of one of its headers (NULL when absent). */
char *mockhttp_last_method(struct mockhttp *m, const char *path);
char *mockhttp_last_body(struct mockhttp *m, const char *path);
char *mockhttp_last_header(struct mockhttp *m, const char *path, const char *name);

/* The decoded value of the query argument `name` of the last request to
 * `path`, malloc'd; NULL when absent. */
char *mockhttp_last_query(struct mockhttp *m, const char *path, const char *name);

#endif
