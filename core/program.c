/* SPDX-License-Identifier: MIT */
/*
 * core/program.c — running external programs for plugins (the host's
 * program_check/program_run services): trusted program paths, an
 * unprivileged user, a clean environment, a timeout, an output cap, and
 * the clean-up of every process the program started.
 *
 * How a run goes.  The calling thread (in sesamed, one of many) forks a
 * supervisor, which forks the program.  The supervisor is a child subreaper
 * (prctl PR_SET_CHILD_SUBREAPER): whatever the program's descendants do to
 * leave its process group or session (setsid(), double forks), when their
 * parent dies they are re-parented to the supervisor, not to init.  Once
 * the program has exited, timed out or been cancelled, the supervisor
 * kills its children one round after another (listing them in /proc) and
 * reaps them until it has none left, so nothing the program started
 * outlives the call.  A cgroup would do the same with more setup and
 * privileges; a subreaper needs neither.  The supervisor is a process of
 * its own because the caller cannot be the subreaper: sesamed has many
 * threads, and the orphans of one run must not be reaped by another.
 *
 * Between fork() and execve() the supervisor and the program may only make
 * async-signal-safe calls (the parent has other threads): no malloc, no
 * stdio, no locks.  Everything they need is prepared before the fork.
 *
 * The calling thread reads the program's standard output and error from
 * pipes, and the supervisor's one report from a third.  Closing the
 * control pipe tells the supervisor to stop the program now (output cap,
 * or the caller gives up); it also closes when sesame itself dies, so a
 * crash leaves no program behind either.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_ARGS 64
#define MAX_ARG_LENGTH 4096
#define MAX_PROGRAM_INPUT (1024 * 1024)
#define DEFAULT_TIMEOUT_MS 10000
#define MIN_TIMEOUT_MS 100
#define MAX_TIMEOUT_MS 300000
#define DEFAULT_MAX_OUTPUT (64 * 1024)
#define MAX_OUTPUT (16 * 1024 * 1024)
#define MAX_ERRORS 4096
/* How long the caller waits beyond the timeout for the supervisor's report
 * before it cancels the run itself. */
#define REPORT_GRACE_MS 5000
/* Rounds of killing and reaping before the supervisor gives up on
 * processes it cannot get rid of (each round waits at most 5 ms). */
#define CLEANUP_ROUNDS 2000

/* Where the start of the program failed (report.stage). */
enum stage {
	STAGE_NONE = 0,
	STAGE_SUBREAPER, /* prctl(PR_SET_CHILD_SUBREAPER) */
	STAGE_PROC,	 /* cannot list the supervisor's children */
	STAGE_FORK,
	STAGE_FDS,  /* setting up descriptors 0, 1, 2 */
	STAGE_USER, /* setgroups/setgid/setuid */
	STAGE_DIR,  /* chdir("/") */
	STAGE_EXEC,
};

#define REPORT_TIMED_OUT 0x1
#define REPORT_CANCELLED 0x2
#define REPORT_EXITED 0x4    /* `status` is the program's wait status */
#define REPORT_LEFTOVERS 0x8 /* some descendant could not be killed */

/* The supervisor's one message to the caller, written just before it exits. */
struct report {
	int stage;
	int error;
	int status;
	int flags;
};

/* What the supervisor and the program need, prepared before fork(). */
struct launch {
	char *const *argv;
	char *const *env;
	bool switch_user;
	uid_t uid;
	gid_t gid;
	int64_t timeout_ms;
	bool scan_proc;
	int in, out, err; /* the program's 0, 1, 2 */
	int ctl, rep;	  /* control (read end), report (write end) */
};

/* ---- checks --------------------------------------------------------------- */

static int check_request(const struct sesame_program *p, int status, sesame_error *err)
{
	size_t i;

	if (!p || p->struct_size < sizeof(struct sesame_program))
		return seterr(err, SESAME_USAGE, "usage", "program: NULL request or struct_size too small");
	if (!p->argv || !p->argv[0])
		return seterr(err, status, "command", "the command must have at least the program's path");
	for (i = 0; p->argv[i]; i++)
		if (i >= MAX_ARGS || strnlen(p->argv[i], MAX_ARG_LENGTH + 1) > MAX_ARG_LENGTH)
			return seterr(err, status, "command", "the command must be 1 to %d strings of at most %d bytes",
				      MAX_ARGS, MAX_ARG_LENGTH);
	if (p->argv[0][0] != '/')
		return seterr(err, status, "command",
			      "the command's program must be an absolute path (no shell, no PATH lookup)");
	if ((p->flags & ~(SESAME_PROGRAM_STDOUT | SESAME_PROGRAM_STDERR)) != 0)
		return seterr(err, status, "command", "unknown program flags 0x%x", p->flags);
	if ((!p->input && p->input_length) || p->input_length > MAX_PROGRAM_INPUT)
		return seterr(err, status, "command", "the program's input must be at most %d bytes",
			      MAX_PROGRAM_INPUT);
	if (p->timeout_ms != 0 && (p->timeout_ms < MIN_TIMEOUT_MS || p->timeout_ms > MAX_TIMEOUT_MS))
		return seterr(err, status, "command", "a program's timeout must be %d to %d ms", MIN_TIMEOUT_MS,
			      MAX_TIMEOUT_MS);
	if (p->max_output > MAX_OUTPUT)
		return seterr(err, status, "command", "a program's output cap must be at most %d bytes", MAX_OUTPUT);
	return SESAME_OK;
}

/* The program file: trusted path, regular, executable by someone. */
static int check_file(const char *path, int status, sesame_error *err)
{
	sesame_error e;
	struct stat st;

	err_clear(&e);
	if (util_check_path_chain(path, geteuid(), &e) != SESAME_OK)
		return seterr(err, status, e.reason, "program: %s", e.text);
	if (stat(path, &st) != 0)
		return seterr(err, status, "file", "program %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
		return seterr(err, status, "file", "program %s is not a regular executable file", path);
	return SESAME_OK;
}

int program_resolve_user(const char *name, struct program_user *u, sesame_error *err)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	int e;

	memset(u, 0, sizeof(*u));
	e = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (e != 0 || !found)
		return seterr(err, SESAME_CONFIG, "user", "no user named \"%.64s\"%s%s", name, e ? ": " : "",
			      e ? strerror(e) : "");
	if (found->pw_uid == 0 || found->pw_gid == 0)
		return seterr(err, SESAME_CONFIG, "user",
			      "user \"%.64s\" is root or in root's group: programs must run as an unprivileged user",
			      name);
	u->uid = found->pw_uid;
	u->gid = found->pw_gid;
	return SESAME_OK;
}

/*
 * Whom the program runs as: `name` when given, else the configured default
 * (`def`, resolved at start when sesame runs as root).  Without root,
 * sesame cannot switch users: it runs the program as itself and accepts
 * only its own name.
 */
static int choose_user(const struct program_setup *ps, const char *name, int status, struct program_user *u,
		       bool *switch_user, sesame_error *err)
{
	bool root = ps->root;
	sesame_error e;

	memset(u, 0, sizeof(*u));
	*switch_user = false;
	if (!name) {
		if (!root)
			return SESAME_OK;
		if (ps->user_error)
			return seterr(err, status, "user", "%s", ps->user_error);
		*u = ps->user;
		*switch_user = true;
		return SESAME_OK;
	}
	if (!root) {
		struct passwd pw, *found = NULL;
		char buf[4096];

		if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found && found->pw_uid == geteuid())
			return SESAME_OK;
		return seterr(err, status, "user",
			      "user \"%.64s\" is set but sesame does not run as root, so it cannot switch users", name);
	}
	err_clear(&e);
	if (program_resolve_user(name, u, &e) != SESAME_OK)
		return seterr(err, status, "user", "%s", e.text);
	*switch_user = true;
	return SESAME_OK;
}

int program_check(const struct program_setup *ps, const struct sesame_program *p, sesame_error *err)
{
	struct program_user u;
	bool sw;
	int rc = check_request(p, SESAME_CONFIG, err);

	if (rc == SESAME_OK)
		rc = check_file(p->argv[0], SESAME_CONFIG, err);
	if (rc == SESAME_OK)
		rc = choose_user(ps, p->user, SESAME_CONFIG, &u, &sw, err);
	return rc;
}

/* ---- in the supervisor and the program: async-signal-safe only ------------ */

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Close every descriptor from `low` up. */
static void close_from(int low)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0U, 0) == 0)
		return;
#endif
	for (int fd = low; fd < 65536; fd++)
		close(fd);
}

/* Move descriptor `fd` to `target` (which may be `fd` itself), without
 * close-on-exec. */
static int move_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0) == 0 ? 0 : -1;
	return dup2(fd, target) == target ? 0 : -1;
}

/* "/proc/PID/task/PID/children" for `pid` into buf. */
static void children_path(pid_t pid, char buf[64])
{
	char digits[16];
	int n = 0;
	size_t off = 0;
	const char *a = "/proc/", *b = "/task/", *c = "/children";

	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	for (const char *s = a; *s; s++)
		buf[off++] = *s;
	for (int i = n - 1; i >= 0; i--)
		buf[off++] = digits[i];
	for (const char *s = b; *s; s++)
		buf[off++] = *s;
	for (int i = n - 1; i >= 0; i--)
		buf[off++] = digits[i];
	for (const char *s = c; *s; s++)
		buf[off++] = *s;
	buf[off] = '\0';
}

/* SIGKILL every child listed in /proc/self/task/self/children (Linux's
 * CONFIG_PROC_CHILDREN); their count, or -1 when the list cannot be read. */
static int kill_listed_children(pid_t self)
{
	char path[64], buf[512];
	long pid = 0;
	bool digits = false;
	int fd, n = 0;
	ssize_t got;

	children_path(self, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((got = read(fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = pid * 10 + (buf[i] - '0');
				digits = true;
			} else if (digits) {
				kill((pid_t)pid, SIGKILL);
				n++;
				pid = 0;
				digits = false;
			}
		}
	}
	if (digits) {
		kill((pid_t)pid, SIGKILL);
		n++;
	}
	close(fd);
	return got < 0 ? -1 : n;
}

/* The parent pid in the text of /proc/PID/stat ("pid (comm) state ppid
 * ..."; comm may hold anything, so look after its last ')'), or -1. */
static long stat_ppid(const char *s, size_t len)
{
	size_t i, close = 0;
	long ppid = 0;
	bool found = false;

	for (i = 0; i < len; i++)
		if (s[i] == ')') {
			close = i;
			found = true;
		}
	if (!found || close + 4 >= len)
		return -1;
	for (i = close + 4; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		ppid = ppid * 10 + (s[i] - '0');
	return i > close + 4 ? ppid : -1;
}

/* The same by reading every /proc/PID/stat, for kernels without the
 * children list. */
static int kill_scanned_children(pid_t self)
{
	char dents[4096], path[64], stat[512];
	int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	long got;

	if (dir < 0)
		return -1;
	while ((got = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < got;) {
			/* struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name */
			unsigned short reclen;
			const char *name = dents + off + 19;
			long pid = 0;
			size_t k = 0, plen = 0;
			ssize_t r;
			int fd;

			memcpy(&reclen, dents + off + 16, sizeof(reclen));
			off += reclen;
			for (k = 0; name[k] >= '0' && name[k] <= '9'; k++)
				pid = pid * 10 + (name[k] - '0');
			if (k == 0 || name[k] != '\0' || pid == self)
				continue;
			for (const char *s = "/proc/"; *s; s++)
				path[plen++] = *s;
			for (size_t j = 0; j < k && plen < 50; j++)
				path[plen++] = name[j];
			for (const char *s = "/stat"; *s; s++)
				path[plen++] = *s;
			path[plen] = '\0';
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			r = read(fd, stat, sizeof(stat));
			close(fd);
			if (r > 0 && stat_ppid(stat, (size_t)r) == self) {
				kill((pid_t)pid, SIGKILL);
				n++;
			}
		}
	}
	close(dir);
	return got < 0 ? -1 : n;
}

static int kill_children(const struct launch *l, pid_t self)
{
	int n = l->scan_proc ? -1 : kill_listed_children(self);

	return n >= 0 ? n : kill_scanned_children(self);
}

static void on_sigchld(int sig)
{
	(void)sig;
}

/* The program: descriptors, user, directory, signals, then execve().  On
 * failure it writes {stage, errno} on `report` (close-on-exec, so an
 * execve() that works closes it with nothing written). */
__attribute__((noreturn)) static void program_child(const struct launch *l, int report)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int msg[2] = {STAGE_FDS, 0}, in, out, err, rep;

	/* Out of the way of 0..3 first: any of them may be one of these. */
	in = fcntl(l->in, F_DUPFD, 10);
	out = fcntl(l->out, F_DUPFD, 10);
	err = fcntl(l->err, F_DUPFD, 10);
	rep = fcntl(report, F_DUPFD_CLOEXEC, 10);
	if (in < 0 || out < 0 || err < 0 || rep < 0 || move_fd(in, 0) || move_fd(out, 1) || move_fd(err, 2) ||
	    dup3(rep, 3, O_CLOEXEC) != 3)
		goto fail;
	close_from(4);
	if (l->switch_user) {
		msg[0] = STAGE_USER;
		if (setgroups(1, &l->gid) != 0 || setgid(l->gid) != 0 || setuid(l->uid) != 0)
			goto fail;
		/* Paranoia: the switch must be complete and irreversible. */
		if (getuid() != l->uid || geteuid() != l->uid || getgid() != l->gid || getegid() != l->gid ||
		    setuid(0) == 0) {
			errno = EPERM;
			goto fail;
		}
	}
	msg[0] = STAGE_DIR;
	if (chdir("/") != 0)
		goto fail;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	msg[0] = STAGE_EXEC;
	execve(l->argv[0], l->argv, l->env);
fail:
	msg[1] = errno;
	write_all(3, msg, sizeof(msg));
	_exit(127);
}

/* Wait up to `ms` (or forever when negative) for a SIGCHLD or an event on
 * `fds`; the other signals stay blocked. */
static int wait_event(struct pollfd *fds, nfds_t n, int64_t ms, const sigset_t *chld_open)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	return ppoll(fds, n, ms < 0 ? NULL : &ts, chld_open);
}

/*
 * Kill and reap everything below the supervisor.  SIGKILLed processes
 * re-parent their children to us (we are their subreaper), so each round
 * finds the next generation; no children left at all (ECHILD) means no
 * descendant is left either.  `status` gets the program's wait status when
 * it is reaped here.
 */
static void kill_tree(const struct launch *l, pid_t self, pid_t program, struct report *r, const sigset_t *chld_open)
{
	for (int round = 0; round < CLEANUP_ROUNDS; round++) {
		bool progress = false;
		int status;
		pid_t w;

		if (kill_children(l, self) < 0)
			break;
		while ((w = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
			progress = true;
			if (w == program && !(r->flags & REPORT_EXITED)) {
				r->status = status;
				r->flags |= REPORT_EXITED;
			}
		}
		if (w < 0 && errno == ECHILD)
			return;
		if (!progress)
			wait_event(NULL, 0, 5, chld_open);
	}
	r->flags |= REPORT_LEFTOVERS;
}

/* The supervisor could not even arrange its descriptors. */
__attribute__((noreturn)) static void fail_early(int rep, int stage)
{
	struct report r = {.stage = stage, .error = errno};

	write_all(rep, &r, sizeof(r));
	_exit(1);
}

__attribute__((noreturn)) static void supervise(struct launch *l)
{
	struct sigaction chld = {.sa_handler = on_sigchld, .sa_flags = SA_NOCLDSTOP};
	struct report r = {0};
	sigset_t all, chld_open;
	int exec_pipe[2] = {-1, -1}, msg[2];
	int64_t deadline = util_monotonic_ms() + l->timeout_ms;
	pid_t self = getpid(), program = -1;
	bool exec_open = true;

	/* Signals reach the supervisor only as SIGCHLD, inside ppoll(). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigaction(SIGCHLD, &chld, NULL);
	chld_open = all;
	sigdelset(&chld_open, SIGCHLD);
	/* Its own process group: a terminal's ^C to sesame is not for it. */
	setpgid(0, 0);
	/* Keep only what this run needs; other threads' descriptors (their
	 * pipes included) must not stay open here. */
	{
		int *keep[5] = {&l->in, &l->out, &l->err, &l->ctl, &l->rep}, moved[5];

		/* All out of the way of 3..7 first: any of them may be one of these. */
		for (int i = 0; i < 5; i++)
			if ((moved[i] = fcntl(*keep[i], F_DUPFD_CLOEXEC, 64)) < 0)
				fail_early(l->rep, STAGE_FDS);
		for (int i = 0; i < 5; i++) {
			if (dup3(moved[i], 3 + i, O_CLOEXEC) != 3 + i)
				fail_early(moved[4], STAGE_FDS);
			*keep[i] = 3 + i;
		}
		close_from(3 + 5);
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		r.stage = STAGE_SUBREAPER;
		r.error = errno;
	} else if (kill_children(l, self) < 0) {
		/* Without a way to find orphans, a run could leave some behind. */
		r.stage = STAGE_PROC;
		r.error = errno;
	} else if (pipe2(exec_pipe, O_CLOEXEC) != 0 || (program = fork()) < 0) {
		r.stage = STAGE_FORK;
		r.error = errno;
	} else if (program == 0) {
		close(exec_pipe[0]);
		close(l->ctl);
		close(l->rep);
		program_child(l, exec_pipe[1]);
	}
	if (r.stage != STAGE_NONE) {
		write_all(l->rep, &r, sizeof(r));
		_exit(1);
	}
	/* Only the program holds its ends now: the caller sees EOF when the
	 * program and everything that inherited them are gone. */
	close(l->in);
	close(l->out);
	close(l->err);
	close(exec_pipe[1]);
	for (;;) {
		struct pollfd p[2] = {{.fd = l->ctl, .events = POLLIN},
				      {.fd = exec_open ? exec_pipe[0] : -1, .events = POLLIN}};
		int64_t left = deadline - util_monotonic_ms();
		int status;
		pid_t w;

		w = waitpid(program, &status, WNOHANG | __WALL);
		if (w == program) {
			r.status = status;
			r.flags |= REPORT_EXITED;
			break;
		}
		if (left <= 0) {
			r.flags |= REPORT_TIMED_OUT;
			break;
		}
		if (wait_event(p, 2, left, &chld_open) > 0) {
			if (p[0].revents) {
				r.flags |= REPORT_CANCELLED;
				break;
			}
			if (p[1].revents) {
				ssize_t n = read(exec_pipe[0], msg, sizeof(msg));

				if (n == (ssize_t)sizeof(msg)) {
					r.stage = msg[0];
					r.error = msg[1];
				}
				if (n >= 0 || errno != EINTR) {
					close(exec_pipe[0]);
					exec_open = false;
				}
			}
		}
	}
	if (!(r.flags & REPORT_EXITED))
		kill(program, SIGKILL);
	kill_tree(l, self, program, &r, &chld_open);
	if (exec_open && r.stage == STAGE_NONE && read(exec_pipe[0], msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
		r.stage = msg[0];
		r.error = msg[1];
	}
	write_all(l->rep, &r, sizeof(r));
	_exit(0);
}

/* ---- in the caller --------------------------------------------------------- */

/* Standard input: a sealed in-memory file, so the program may read it or
 * not, sesame never blocks on a pipe or gets SIGPIPE, and the program can
 * neither change nor grow it. */
static int input_fd(const void *data, size_t len)
{
	int fd = memfd_create("sesame-program-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A growing buffer for a stream, keeping at most `cap` bytes. */
struct sink {
	char *buf;
	size_t len, size, cap;
	bool overflow, eof, keep;
};

/* Read what non-blocking `fd` has; bytes past the cap are dropped and set
 * `overflow`.  false when out of memory. */
static bool sink_read(struct sink *s, int fd)
{
	char scratch[4096];

	for (;;) {
		ssize_t n = read(fd, scratch, sizeof(scratch));
		size_t take;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				s->eof = true;
			return true;
		}
		if (n == 0) {
			s->eof = true;
			return true;
		}
		take = s->len < s->cap ? s->cap - s->len : 0;
		if ((size_t)n > take)
			s->overflow = true;
		take = take < (size_t)n ? take : (size_t)n;
		if (take && s->keep) {
			if (s->len + take + 1 > s->size) {
				size_t want = s->size ? s->size : 4096;
				char *grown;

				while (want < s->len + take + 1)
					want *= 2;
				if (want > s->cap + 1)
					want = s->cap + 1;
				grown = malloc(want);
				if (!grown)
					return false;
				if (s->len)
					memcpy(grown, s->buf, s->len);
				util_wipe(s->buf, s->size);
				free(s->buf);
				s->buf = grown;
				s->size = want;
			}
			memcpy(s->buf + s->len, scratch, take);
			s->len += take;
		}
		util_wipe(scratch, (size_t)n);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static const char *stage_text(int stage)
{
	switch (stage) {
	case STAGE_SUBREAPER:
		return "cannot become a subreaper";
	case STAGE_PROC:
		return "cannot list child processes in /proc";
	case STAGE_FORK:
		return "cannot fork";
	case STAGE_FDS:
		return "cannot set up descriptors";
	case STAGE_USER:
		return "cannot switch user";
	case STAGE_DIR:
		return "cannot change to /";
	default:
		return "cannot execute";
	}
}

/* The buffer of `s` as a NUL-terminated result string (or NULL). */
static char *sink_take(struct sink *s, size_t *len)
{
	char *out = s->buf;

	*len = s->len;
	if (!out)
		out = calloc(1, 1);
	else
		out[s->len] = '\0';
	s->buf = NULL;
	return out;
}

int program_run(const struct program_setup *ps, char *const *env, const struct sesame_program *p,
		struct sesame_program_result *res, sesame_error *err)
{
	struct launch l = {.argv = (char *const *)p->argv,
			   .env = env,
			   .in = -1,
			   .out = -1,
			   .err = -1,
			   .ctl = -1,
			   .rep = -1,
			   .scan_proc = ps->scan_proc};
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, ctlp[2] = {-1, -1}, repp[2] = {-1, -1}, null = -1;
	struct sink out = {0}, errs = {0};
	struct report rep = {0};
	struct program_user u;
	size_t rep_len = 0;
	bool rep_eof = false, oom = false;
	int64_t deadline;
	pid_t sup;
	int rc, status;

	rc = check_request(p, SESAME_USAGE, err);
	if (rc == SESAME_OK)
		rc = check_file(p->argv[0], SESAME_UNAVAILABLE, err);
	if (rc == SESAME_OK)
		rc = choose_user(ps, p->user, SESAME_UNAVAILABLE, &u, &l.switch_user, err);
	if (rc != SESAME_OK)
		return rc;
	l.uid = u.uid;
	l.gid = u.gid;
	l.timeout_ms = p->timeout_ms ? p->timeout_ms : DEFAULT_TIMEOUT_MS;
	out.cap = p->max_output ? p->max_output : DEFAULT_MAX_OUTPUT;
	out.keep = (p->flags & SESAME_PROGRAM_STDOUT) != 0;
	errs.cap = MAX_ERRORS;
	errs.keep = (p->flags & SESAME_PROGRAM_STDERR) != 0;

	l.in = input_fd(p->input, p->input_length);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (l.in < 0 || null < 0 || pipe2(ctlp, O_CLOEXEC) != 0 || pipe2(repp, O_CLOEXEC) != 0 ||
	    (out.keep && pipe2(outp, O_CLOEXEC) != 0) || (errs.keep && pipe2(errp, O_CLOEXEC) != 0)) {
		rc = seterr(err, SESAME_UNAVAILABLE, "program", "cannot set up %s's input and output: %s", p->argv[0],
			    strerror(errno));
		goto out;
	}
	l.out = out.keep ? outp[1] : null;
	l.err = errs.keep ? errp[1] : null;
	l.ctl = ctlp[0];
	l.rep = repp[1];
	sup = fork();
	if (sup == 0)
		supervise(&l);
	if (sup < 0) {
		rc = seterr(err, SESAME_UNAVAILABLE, "program", "cannot start %s: fork failed: %s", p->argv[0],
			    strerror(errno));
		goto out;
	}
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&ctlp[0]);
	close_fd(&repp[1]);
	close_fd(&null);
	close_fd(&l.in);
	out.eof = !out.keep;
	errs.eof = !errs.keep;
	if (out.keep)
		fcntl(outp[0], F_SETFL, O_NONBLOCK);
	if (errs.keep)
		fcntl(errp[0], F_SETFL, O_NONBLOCK);
	deadline = util_monotonic_ms() + l.timeout_ms + REPORT_GRACE_MS;
	/* Until the supervisor has reported and both streams are at EOF (which
	 * they are as soon as it has killed everything). */
	while (!rep_eof || !out.eof || !errs.eof) {
		struct pollfd pf[3] = {{.fd = rep_eof ? -1 : repp[0], .events = POLLIN},
				       {.fd = out.eof ? -1 : outp[0], .events = POLLIN},
				       {.fd = errs.eof ? -1 : errp[0], .events = POLLIN}};
		int64_t left = deadline - util_monotonic_ms();
		int n;

		if (left <= 0) {
			/* The supervisor is overdue: tell it to stop, then wait. */
			if (ctlp[1] >= 0) {
				close_fd(&ctlp[1]);
				deadline = util_monotonic_ms() + REPORT_GRACE_MS;
				continue;
			}
			break;
		}
		n = poll(pf, 3, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (pf[0].revents) {
			ssize_t r = read(repp[0], (char *)&rep + rep_len, sizeof(rep) - rep_len);

			if (r > 0)
				rep_len += (size_t)r;
			if (r == 0 || (r < 0 && errno != EINTR) || rep_len == sizeof(rep))
				rep_eof = true;
		}
		if (pf[1].revents && !sink_read(&out, outp[0]))
			oom = true;
		if (pf[2].revents && !sink_read(&errs, errp[0]))
			oom = true;
		/* Too much output, or no memory for it: stop the program now. */
		if ((out.overflow || oom) && ctlp[1] >= 0)
			close_fd(&ctlp[1]);
	}
	close_fd(&ctlp[1]);
	while (waitpid(sup, &status, __WALL) < 0 && errno == EINTR)
		;
	if (rep_len != sizeof(rep)) {
		rc = seterr(err, SESAME_UNAVAILABLE, "program", "the supervisor of %s failed", p->argv[0]);
		goto out;
	}
	if (rep.flags & REPORT_LEFTOVERS)
		log_msg(ps->log, SESAME_LOG_ERR, "%s: some processes it started could not be killed", p->argv[0]);
	if (rep.stage != STAGE_NONE) {
		rc = seterr(err, SESAME_UNAVAILABLE, "program", "cannot run %s: %s: %s", p->argv[0],
			    stage_text(rep.stage), strerror(rep.error));
		goto out;
	}
	if (oom) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory reading the output of %s", p->argv[0]);
		goto out;
	}
	if (rep.flags & REPORT_TIMED_OUT)
		res->outcome = SESAME_PROGRAM_TIMED_OUT;
	else if (out.overflow)
		res->outcome = SESAME_PROGRAM_OUTPUT_TOO_LARGE;
	else if (!(rep.flags & REPORT_EXITED) || WIFSIGNALED(rep.status))
		res->outcome = SESAME_PROGRAM_SIGNALED;
	else
		res->outcome = SESAME_PROGRAM_EXITED;
	res->code = !(rep.flags & REPORT_EXITED) ? SIGKILL
		    : WIFSIGNALED(rep.status)	 ? WTERMSIG(rep.status)
						 : WEXITSTATUS(rep.status);
	if (out.keep && !(res->output = sink_take(&out, &res->output_length)))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (errs.keep && !(res->errors = sink_take(&errs, &res->errors_length)))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
out:
	if (out.buf) {
		util_wipe(out.buf, out.size);
		free(out.buf);
	}
	if (errs.buf) {
		util_wipe(errs.buf, errs.size);
		free(errs.buf);
	}
	for (int i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&errp[i]);
		close_fd(&ctlp[i]);
		close_fd(&repp[i]);
	}
	close_fd(&null);
	close_fd(&l.in);
	return rc;
}

void program_result_clear(struct sesame_program_result *res)
{
	if (!res)
		return;
	if (res->output) {
		util_wipe(res->output, res->output_length);
		free(res->output);
	}
	if (res->errors) {
		util_wipe(res->errors, res->errors_length);
		free(res->errors);
	}
	res->output = res->errors = NULL;
	res->output_length = res->errors_length = 0;
	res->outcome = res->code = 0;
}
