#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/store/postgres-suite.sh — everything that needs a real PostgreSQL,
# against one throwaway cluster (tests/store/pg-cluster.sh: initdb in a
# temporary directory, a Unix socket only, removed afterwards, also when a
# test fails): the store conformance suite on the postgres store, the
# postgres store's own tests, several sesamed nodes on one database, and
# `sesame store migrate` between SQLite and PostgreSQL.  Without the
# PostgreSQL server binaries, or without the postgres plugin (no libpq at
# configure time), it says SKIP and exits 77: scripts/install-deps
# installs both, so CI never skips.
set -u

srcdir=${SESAME_TEST_SRCDIR:?run me through make check (SESAME_TEST_SRCDIR unset)}
builddir=${SESAME_TEST_BUILDDIR:?run me through make check (SESAME_TEST_BUILDDIR unset)}

if [ "${SESAME_TEST_HAVE_LIBPQ:-no}" != yes ]; then
	echo "postgres-suite: SKIP: the postgres store plugin was not built (configure found no libpq: install libpq-dev)"
	exit 77
fi
. "$srcdir/tests/store/pg-cluster.sh"
if ! pg_find_bin; then
	echo "postgres-suite: SKIP: the PostgreSQL server (initdb, pg_ctl) is not installed: install the postgresql package"
	exit 77
fi
trap pg_cluster_stop EXIT
trap 'exit 130' INT TERM
pg_cluster_start || exit 99

status=0
for t in tests/store/test-store-conformance tests/store/test-postgres tests/cli/test-store-migrate \
	tests/daemon/test-multinode; do
	[ -x "$builddir/$t" ] || continue
	echo "==> $t (postgres)"
	SESAME_TEST_STORE=postgres "$builddir/$t" || status=1
done
exit $status
