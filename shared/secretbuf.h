/* SPDX-License-Identifier: MIT */
/*
 * shared/secretbuf.h — growing a buffer that may hold a secret (a token, a
 * password, a request body).  realloc() would leave the old block, with
 * what it held, unwiped in the heap: the bytes move to a new block and the
 * old one is wiped whole before it is freed.  libsesame, sesamed and
 * libsesame-client each compile this file.
 */
#ifndef SESAME_SECRETBUF_H
#define SESAME_SECRETBUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Move the `len` bytes of `*buf` (a block of `*cap` bytes, or NULL) to a
 * new block of `newcap` >= `len` bytes, wipe and free the old one.  Out of
 * memory: false, `*buf` and `*cap` unchanged.
 */
bool secretbuf_grow(char **buf, size_t len, size_t *cap, size_t newcap);

#endif
