/* SPDX-License-Identifier: MIT */
/*
 * plugins/stores/sqlite/walgather.h — the VFS that writes a commit's WAL
 * frames with one system call (walgather.c).
 */
#ifndef SESAME_WALGATHER_H
#define SESAME_WALGATHER_H

/* The VFS's name, for sqlite3_open_v2(). */
#define WALGATHER_VFS "sesame-walgather"

/* Register the VFS (once per process); SQLITE_OK when it is there. */
int walgather_init(void);

#endif
