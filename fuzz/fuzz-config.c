/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz-config.c — libFuzzer target: the core's configuration loader on
 * hostile main files.  config_load() reads from a path, so each input is
 * written to a private temporary file first.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/sesame-fuzz-config-XXXXXX";

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/sesame.json", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	sesame_error err;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (config_load(&cfg, path, 0, NULL, &err) == SESAME_OK) {
		json_t *shown = config_to_json(&cfg, false);

		json_decref(shown);
		config_free(&cfg);
	} else if (err.text[0] == '\0') {
		abort(); /* every failure says what is wrong */
	}
	return 0;
}
