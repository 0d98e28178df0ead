/* SPDX-License-Identifier: MIT */
/* shared/secretbuf.c — growing a buffer that may hold a secret (see secretbuf.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secretbuf.h"

bool secretbuf_grow(char **buf, size_t len, size_t *cap, size_t newcap)
{
	char *nb = malloc(newcap);

	if (!nb)
		return false;
	if (*buf) {
		memcpy(nb, *buf, len);
		OPENSSL_cleanse(*buf, *cap);
		free(*buf);
	}
	*buf = nb;
	*cap = newcap;
	return true;
}
