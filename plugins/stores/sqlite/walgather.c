/* SPDX-License-Identifier: MIT */
/*
 * plugins/stores/sqlite/walgather.c — a VFS over SQLite's default one that
 * writes a commit's WAL frames with one system call.
 *
 * SQLite writes each WAL frame with two writes, its 24-byte header and
 * then the page (wal.c, walWriteOneFrame()), so a login's commit of three
 * pages is six pwrite()s; each walks the page cache for the one or two
 * pages it touches and updates the file's times, and together they cost
 * more than copying the bytes.  This VFS keeps the writes SQLite makes to
 * a WAL file in a buffer while they are contiguous and writes them out as
 * one pwrite():
 *
 * - at the end of a commit: the write that follows a frame header whose
 *   commit field (bytes 4-7, "size of the database in pages after the
 *   commit", zero in every other frame: the WAL file format) is not zero,
 *   i.e. the commit frame's page; an error there fails the commit as
 *   SQLite's own write would;
 * - before anything else that looks at or syncs the file (read, sync,
 *   truncate, size, file control, close), before a write that is not the
 *   next byte, and past GATHER_MAX bytes;
 * - and, as a backstop that does not depend on how SQLite cuts its
 *   writes, whenever the connection touches the wal-index's memory
 *   barrier or locks (xShmBarrier, xShmLock of the database file): SQLite
 *   publishes new frames to other connections by writing the wal-index
 *   header on both sides of a barrier, so no reader can see a frame that
 *   is still in the buffer.
 *
 * So the bytes reach the file at the points they reached it before, with
 * fewer calls: the durability of a commit is unchanged (FULL still syncs
 * the WAL before the commit returns; the sync flushes first).  Every other
 * file (the database, journals, temporary files) passes through; the
 * database file's wrapper only adds the backstop.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "walgather.h"

#define FRAME_HEADER 24
/* Bytes held at most: a larger transaction is written in pieces this big. */
#define GATHER_MAX (1024 * 1024)

struct gfile {
	sqlite3_file base;  /* pMethods: one of the tables below */
	sqlite3_file *real; /* the default VFS's file, GFILE_SIZE after this */
	struct gfile *peer; /* WAL file <-> its database file, same connection */
	unsigned char *buf; /* WAL: pending bytes from offset `off` */
	size_t len, cap;
	sqlite3_int64 off;
	sqlite3_int64 commit_at; /* WAL: offset of the commit frame's page, or -1 */
	int failed;		 /* WAL: a backstop flush failed: its SQLite code */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs gather_vfs;
static pthread_once_t gather_once = PTHREAD_ONCE_INIT;
static int gather_rc = SQLITE_ERROR;

/* The wrapper's size, rounded so that the default VFS's file after it is
 * aligned as SQLite aligns the wrapper. */
#define GFILE_SIZE ((sizeof(struct gfile) + 15) & ~(size_t)15)

#define G(f) ((struct gfile *)(f))
#define REAL(f) (G(f)->real)
#define RCALL(f) (REAL(f)->pMethods)

static int flush(struct gfile *g)
{
	int rc;

	if (g->len == 0)
		return SQLITE_OK;
	rc = g->real->pMethods->xWrite(g->real, g->buf, (int)g->len, g->off);
	g->len = 0;
	return rc;
}

/* The backstop, where no error can be returned: the next call on the WAL
 * file returns it instead. */
static void flush_peer(struct gfile *db)
{
	struct gfile *wal = db->peer;

	if (wal && wal->len) {
		int rc = flush(wal);

		if (rc != SQLITE_OK && wal->failed == SQLITE_OK)
			wal->failed = rc;
	}
}

/* ---- pass-through methods, and the database file's backstop ---- */

static int g_close(sqlite3_file *f)
{
	struct gfile *g = G(f);
	int rc = SQLITE_OK, rc2;

	if (g->peer) {
		g->peer->peer = NULL;
		g->peer = NULL;
	}
	if (g->buf) {
		rc = flush(g);
		free(g->buf);
		g->buf = NULL;
	}
	rc2 = g->real->pMethods->xClose(g->real);
	return rc != SQLITE_OK ? rc : rc2;
}

static int g_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
	return RCALL(f)->xRead(REAL(f), p, amt, off);
}

static int g_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
	return RCALL(f)->xWrite(REAL(f), p, amt, off);
}

static int g_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return RCALL(f)->xTruncate(REAL(f), size);
}

static int g_sync(sqlite3_file *f, int flags)
{
	return RCALL(f)->xSync(REAL(f), flags);
}

static int g_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return RCALL(f)->xFileSize(REAL(f), size);
}

static int g_lock(sqlite3_file *f, int level)
{
	return RCALL(f)->xLock(REAL(f), level);
}

static int g_unlock(sqlite3_file *f, int level)
{
	return RCALL(f)->xUnlock(REAL(f), level);
}

static int g_check_reserved(sqlite3_file *f, int *out)
{
	return RCALL(f)->xCheckReservedLock(REAL(f), out);
}

static int g_file_control(sqlite3_file *f, int op, void *arg)
{
	return RCALL(f)->xFileControl(REAL(f), op, arg);
}

static int g_sector_size(sqlite3_file *f)
{
	return RCALL(f)->xSectorSize(REAL(f));
}

static int g_device_characteristics(sqlite3_file *f)
{
	return RCALL(f)->xDeviceCharacteristics(REAL(f));
}

static int g_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
	return RCALL(f)->xShmMap(REAL(f), region, size, extend, out);
}

static int g_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	flush_peer(G(f));
	return RCALL(f)->xShmLock(REAL(f), offset, n, flags);
}

static void g_shm_barrier(sqlite3_file *f)
{
	flush_peer(G(f));
	RCALL(f)->xShmBarrier(REAL(f));
}

static int g_shm_unmap(sqlite3_file *f, int delete_flag)
{
	flush_peer(G(f));
	return RCALL(f)->xShmUnmap(REAL(f), delete_flag);
}

static int g_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	return RCALL(f)->xFetch(REAL(f), off, amt, out);
}

static int g_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RCALL(f)->xUnfetch(REAL(f), off, p);
}

/* The database file (and any other file with shared-memory methods); the
 * tables of the other files are this one changed (gather_register()). */
static const sqlite3_io_methods db_methods = {
    .iVersion = 3,
    .xClose = g_close,
    .xRead = g_read,
    .xWrite = g_write,
    .xTruncate = g_truncate,
    .xSync = g_sync,
    .xFileSize = g_file_size,
    .xLock = g_lock,
    .xUnlock = g_unlock,
    .xCheckReservedLock = g_check_reserved,
    .xFileControl = g_file_control,
    .xSectorSize = g_sector_size,
    .xDeviceCharacteristics = g_device_characteristics,
    .xShmMap = g_shm_map,
    .xShmLock = g_shm_lock,
    .xShmBarrier = g_shm_barrier,
    .xShmUnmap = g_shm_unmap,
    .xFetch = g_fetch,
    .xUnfetch = g_unfetch,
};

/* Files whose default-VFS methods have no shared memory, and WAL files:
 * version 1, so SQLite never looks past xDeviceCharacteristics. */
static sqlite3_io_methods plain_methods, wal_methods;

/* ---- the WAL file ---- */

static int wal_failed(struct gfile *g)
{
	int rc = g->failed;

	g->failed = SQLITE_OK;
	return rc;
}

static int wal_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
	int rc = wal_failed(G(f));

	if (rc == SQLITE_OK)
		rc = flush(G(f));
	return rc == SQLITE_OK ? g_read(f, p, amt, off) : rc;
}

static int wal_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
	struct gfile *g = G(f);
	const unsigned char *b = p;
	int rc = wal_failed(g);
	bool commit_page;

	if (rc != SQLITE_OK)
		return rc;
	if (amt <= 0)
		return g_write(f, p, amt, off);
	if (g->len > 0 && off != g->off + (sqlite3_int64)g->len) {
		g->commit_at = -1;
		rc = flush(g);
		if (rc != SQLITE_OK)
			return rc;
	}
	commit_page = off == g->commit_at;
	if (amt == FRAME_HEADER && (b[4] | b[5] | b[6] | b[7]) != 0)
		g->commit_at = off + FRAME_HEADER;
	else if (commit_page)
		g->commit_at = -1;
	if (g->len + (size_t)amt > g->cap) {
		size_t cap = g->cap ? g->cap : 64 * 1024;
		unsigned char *nb;

		while (cap < g->len + (size_t)amt && cap < GATHER_MAX)
			cap *= 2;
		if (g->len + (size_t)amt > cap) {
			/* Too much to hold: what is held, then this, as they come. */
			rc = flush(g);
			return rc == SQLITE_OK ? g_write(f, p, amt, off) : rc;
		}
		nb = realloc(g->buf, cap);
		if (!nb) {
			rc = flush(g);
			return rc == SQLITE_OK ? g_write(f, p, amt, off) : rc;
		}
		g->buf = nb;
		g->cap = cap;
	}
	if (g->len == 0)
		g->off = off;
	memcpy(g->buf + g->len, p, (size_t)amt);
	g->len += (size_t)amt;
	return commit_page ? flush(g) : SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = wal_failed(G(f));

	if (rc == SQLITE_OK)
		rc = flush(G(f));
	return rc == SQLITE_OK ? g_truncate(f, size) : rc;
}

static int wal_sync(sqlite3_file *f, int flags)
{
	int rc = wal_failed(G(f));

	if (rc == SQLITE_OK)
		rc = flush(G(f));
	return rc == SQLITE_OK ? g_sync(f, flags) : rc;
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = wal_failed(G(f));

	if (rc == SQLITE_OK)
		rc = flush(G(f));
	return rc == SQLITE_OK ? g_file_size(f, size) : rc;
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
	int rc = flush(G(f));

	return rc == SQLITE_OK ? g_file_control(f, op, arg) : rc;
}

static int wal_close(sqlite3_file *f)
{
	int rc = wal_failed(G(f)), rc2 = g_close(f);

	return rc != SQLITE_OK ? rc : rc2;
}

/* ---- the VFS ---- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct gfile *g = G(f);
	int rc;

	(void)vfs;
	memset(g, 0, sizeof(*g));
	g->real = (sqlite3_file *)((char *)g + GFILE_SIZE);
	g->commit_at = -1;
	rc = real_vfs->xOpen(real_vfs, name, g->real, flags, out_flags);
	if (rc != SQLITE_OK || !g->real->pMethods) {
		if (g->real->pMethods)
			g->real->pMethods->xClose(g->real);
		g->base.pMethods = NULL;
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	if ((flags & SQLITE_OPEN_WAL) && name) {
		sqlite3_file *db = sqlite3_database_file_object(name);

		g->base.pMethods = &wal_methods;
		if (db && db->pMethods == &db_methods) {
			g->peer = G(db);
			G(db)->peer = g;
		}
	} else {
		g->base.pMethods = g->real->pMethods->iVersion >= 3 ? &db_methods : &plain_methods;
	}
	return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	real_vfs->xDlError(real_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	real_vfs->xDlClose(real_vfs, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	if (real_vfs->iVersion >= 2 && real_vfs->xCurrentTimeInt64)
		return real_vfs->xCurrentTimeInt64(real_vfs, out);
	{
		double d = 0;
		int rc = real_vfs->xCurrentTime(real_vfs, &d);

		*out = (sqlite3_int64)(d * 86400000.0);
		return rc;
	}
}

static void gather_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (!real_vfs)
		return;
	plain_methods = db_methods;
	plain_methods.iVersion = 1;
	wal_methods = plain_methods;
	wal_methods.xClose = wal_close;
	wal_methods.xRead = wal_read;
	wal_methods.xWrite = wal_write;
	wal_methods.xTruncate = wal_truncate;
	wal_methods.xSync = wal_sync;
	wal_methods.xFileSize = wal_file_size;
	wal_methods.xFileControl = wal_file_control;
	gather_vfs.iVersion = 2;
	gather_vfs.szOsFile = (int)GFILE_SIZE + real_vfs->szOsFile;
	gather_vfs.mxPathname = real_vfs->mxPathname;
	gather_vfs.zName = WALGATHER_VFS;
	gather_vfs.xOpen = v_open;
	gather_vfs.xDelete = v_delete;
	gather_vfs.xAccess = v_access;
	gather_vfs.xFullPathname = v_full_pathname;
	gather_vfs.xDlOpen = v_dlopen;
	gather_vfs.xDlError = v_dlerror;
	gather_vfs.xDlSym = v_dlsym;
	gather_vfs.xDlClose = v_dlclose;
	gather_vfs.xRandomness = v_randomness;
	gather_vfs.xSleep = v_sleep;
	gather_vfs.xCurrentTime = v_current_time;
	gather_vfs.xGetLastError = v_get_last_error;
	gather_vfs.xCurrentTimeInt64 = v_current_time_int64;
	/* Registered once and never removed: store plugins are never unloaded
	 * (core/loader.c), and this one is not the default VFS. */
	gather_rc = sqlite3_vfs_register(&gather_vfs, 0);
}

int walgather_init(void)
{
	pthread_once(&gather_once, gather_register);
	return gather_rc;
}
