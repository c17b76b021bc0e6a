/* OCI hooks, run the way runc runs them: path + args + env exactly as given, the state
 * JSON on stdin, stdout and stderr captured (their first bytes go into the error), a
 * timeout enforced with SIGKILL.
 *
 * One poll loop watches the child (through a pidfd), feeds stdin and drains both outputs,
 * so neither a hook that never reads stdin nor one that writes a lot can wedge us, and a
 * grandchild that keeps the output pipes open does not hold us past the hook's own exit.
 * No signal handlers are installed: SIGPIPE (a hook that exits without reading its stdin)
 * is blocked in this thread while we write and any pending one is consumed afterwards. */
#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

/* How much of each output stream ends up in an error message. */
#define HOOK_OUTPUT_MAX 256

static const char *const kind_names[KEEL_HOOK_KINDS] = {
    [KEEL_HOOK_PRESTART] = "prestart",
    [KEEL_HOOK_CREATE_RUNTIME] = "createRuntime",
    [KEEL_HOOK_CREATE_CONTAINER] = "createContainer",
    [KEEL_HOOK_START_CONTAINER] = "startContainer",
    [KEEL_HOOK_POSTSTART] = "poststart",
    [KEEL_HOOK_POSTSTOP] = "poststop",
};

const char *keel_hook_kind_name(enum keel_hook_kind kind)
{
	if ((unsigned)kind >= KEEL_HOOK_KINDS)
		return "unknown";
	return kind_names[kind];
}

/* The pipe ends of one hook run; the parent keeps the first three. */
struct hook_pipes {
	int in_w, out_r, err_r, exec_r; /* parent's ends */
	int in_r, out_w, err_w, exec_w; /* child's ends */
};

struct output {
	char buf[HOOK_OUTPUT_MAX + 1];
	size_t len;
};

static void close_pipes(struct hook_pipes *p)
{
	int *fds[] = {&p->in_w, &p->out_r, &p->err_r, &p->exec_r,
		      &p->in_r, &p->out_w, &p->err_w, &p->exec_w};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		keel_closep(fds[i]);
}

/* Moves fd to a number above stdio, so the child's dup2 onto 0/1/2 cannot clobber it
 * (possible when the caller runs with stdio closed). Keeps O_CLOEXEC. */
static int above_stdio(int *fd)
{
	int nfd;

	if (*fd > 2)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int make_pipe(int *r, int *w)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	*r = fds[0];
	*w = fds[1];
	if (above_stdio(r) < 0 || above_stdio(w) < 0)
		return -1;
	return 0;
}

static int open_pipes(struct hook_pipes *p)
{
	if (make_pipe(&p->in_r, &p->in_w) < 0 || make_pipe(&p->out_r, &p->out_w) < 0 ||
	    make_pipe(&p->err_r, &p->err_w) < 0 || make_pipe(&p->exec_r, &p->exec_w) < 0)
		return -1;
	/* The parent side never blocks: the poll loop drives it. The exec pipe too, in case
	 * a fork in another thread inherited its write end. */
	if (fcntl(p->in_w, F_SETFL, O_NONBLOCK) < 0 || fcntl(p->out_r, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(p->err_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(p->exec_r, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* In the child, between fork and execve: async-signal-safe calls only (the caller may be
 * multithreaded). Reports a failure's errno over the CLOEXEC exec pipe. */
static __attribute__((noreturn)) void exec_hook(const struct hook_pipes *p, char *const argv[],
						char *const envp[], const char *path)
{
	sigset_t none;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	int e;

	/* The hook starts with a clean mask and default SIGPIPE, whatever the caller had. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);

	if (dup2(p->in_r, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0)
		goto fail;
	/* Nothing of the caller's leaks into the hook but the exec pipe, which is CLOEXEC. */
	if (p->exec_w > 3 && syscall(SYS_close_range, 3U, (unsigned)p->exec_w - 1, 0U) < 0)
		goto fail;
	if (syscall(SYS_close_range, (unsigned)p->exec_w + 1, ~0U, 0U) < 0)
		goto fail;
	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(p->exec_w, &e, sizeof(e));
	_exit(127);
}

static void append_output(struct output *o, const char *data, size_t n)
{
	size_t room = HOOK_OUTPUT_MAX - o->len;

	if (n > room)
		n = room;
	memcpy(o->buf + o->len, data, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Reads what is there; returns false at EOF or on error (the fd is then done). */
static bool drain(int fd, struct output *o)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			append_output(o, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

/* Writes what the pipe takes; returns false when finished (all written, or the hook closed
 * its stdin: EPIPE is not an error, as in runc). */
static bool feed(int fd, const char *data, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = write(fd, data + *off, len - *off);

		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return false;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The state of one running hook, as the poll loop sees it. */
struct hook_run {
	pid_t pid;
	int pidfd; /* -1 when pidfd_open is unavailable: then poll in short steps */
	struct hook_pipes pipes;
	const char *input;
	size_t input_len, input_off;
	struct output out, errout;
	long long deadline; /* CLOCK_MONOTONIC ms, 0 = none */
	int status;
	bool timed_out;
};

/* Poll timeout for the next round, in ms (-1 = forever). */
static int next_wait(const struct hook_run *r)
{
	long long left;

	if (!r->deadline)
		return r->pidfd >= 0 ? -1 : 10;
	left = r->deadline - now_ms();
	if (left < 0)
		left = 0;
	if (r->pidfd < 0 && left > 10)
		left = 10;
	return (int)left;
}

static int reap(struct hook_run *r, int flags)
{
	pid_t w;

	do
		w = waitpid(r->pid, &r->status, flags);
	while (w < 0 && errno == EINTR);
	return w;
}

/* Runs the loop until the child has been reaped; returns -1 only on a system error (the
 * child is then killed and reaped). */
static int supervise(struct hook_run *r)
{
	struct pollfd pfd[4] = {
	    {.fd = r->pidfd, .events = POLLIN},
	    {.fd = r->pipes.in_w, .events = POLLOUT},
	    {.fd = r->pipes.out_r, .events = POLLIN},
	    {.fd = r->pipes.err_r, .events = POLLIN},
	};

	for (;;) {
		int n = poll(pfd, 4, next_wait(r));

		if (n < 0 && errno != EINTR)
			goto fail;
		if (pfd[1].fd >= 0 && !feed(pfd[1].fd, r->input, r->input_len, &r->input_off)) {
			keel_closep(&r->pipes.in_w); /* EOF for the hook */
			r->pipes.in_w = pfd[1].fd = -1;
		}
		if (pfd[2].fd >= 0 && !drain(pfd[2].fd, &r->out))
			pfd[2].fd = -1;
		if (pfd[3].fd >= 0 && !drain(pfd[3].fd, &r->errout))
			pfd[3].fd = -1;

		n = reap(r, WNOHANG);
		if (n < 0)
			goto fail;
		if (n == r->pid) {
			/* Late output written just before exit; do not wait for EOF, which a
			 * daemonized grandchild may hold off forever. */
			drain(r->pipes.out_r, &r->out);
			drain(r->pipes.err_r, &r->errout);
			return 0;
		}
		if (r->deadline && now_ms() >= r->deadline) {
			r->timed_out = true;
			kill(r->pid, SIGKILL);
			return reap(r, 0) < 0 ? -1 : 0;
		}
	}
fail:
	kill(r->pid, SIGKILL);
	reap(r, 0);
	return -1;
}

/* The first line of captured output, for one-line error messages. */
static const char *first_line(struct output *o)
{
	char *nl = strchr(o->buf, '\n');

	if (nl)
		*nl = '\0';
	return o->buf;
}

/* Turns the outcome into *err; returns 0 when the hook succeeded. */
static int judge(struct hook_run *r, const struct keel_spec_hook *h, const char *what,
		 keel_error_t *err)
{
	char reason[64];
	int exec_errno = 0;

	if (read(r->pipes.exec_r, &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno))
		return keel_err(err, exec_errno, "%s: exec", what);
	if (r->timed_out)
		snprintf(reason, sizeof(reason), "timed out after %ds", h->timeout);
	else if (WIFSIGNALED(r->status))
		snprintf(reason, sizeof(reason), "killed by signal %d", WTERMSIG(r->status));
	else if (WEXITSTATUS(r->status) != 0)
		snprintf(reason, sizeof(reason), "exit status %d", WEXITSTATUS(r->status));
	else
		return 0;

	keel_err(err, 0, "%s: %s%s%s%s%s", what, reason, r->errout.len ? ", stderr: " : "",
		 first_line(&r->errout), r->out.len ? ", stdout: " : "", first_line(&r->out));
	return -1;
}

/* Blocks SIGPIPE in this thread; remembers whether one was already pending, so we only
 * consume the one our own writes raised. */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;
	const struct timespec zero = {0, 0};

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int run_one(const struct keel_spec_hook *h, const char *what, const char *state_json,
		   keel_error_t *err)
{
	char *default_argv[] = {h->path, NULL};
	char *empty_env[] = {NULL};
	char *const *argv = h->args && h->args[0] ? h->args : default_argv;
	char *const *envp = h->env ? h->env : empty_env;
	struct hook_run r = {.pidfd = -1, .input = state_json, .input_len = strlen(state_json)};
	struct hook_pipes *p = &r.pipes;
	int ret;

	*p = (struct hook_pipes){-1, -1, -1, -1, -1, -1, -1, -1};
	if (open_pipes(p) < 0) {
		keel_err_sys(err, "%s: creating pipes", what);
		close_pipes(p);
		return -1;
	}
	if (h->has_timeout && h->timeout > 0)
		r.deadline = now_ms() + h->timeout * 1000LL;

	r.pid = fork();
	if (r.pid < 0) {
		keel_err_sys(err, "%s: fork", what);
		close_pipes(p);
		return -1;
	}
	if (r.pid == 0)
		exec_hook(p, argv, envp, h->path);

	keel_closep(&p->in_r);
	keel_closep(&p->out_w);
	keel_closep(&p->err_w);
	keel_closep(&p->exec_w);
	p->in_r = p->out_w = p->err_w = p->exec_w = -1;
	/* pidfd_open needs Linux 5.3; without it the loop polls in short steps. */
	r.pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);

	ret = supervise(&r);
	if (ret < 0)
		keel_err_sys(err, "%s: waiting", what);
	else
		ret = judge(&r, h, what, err);
	keel_closep(&r.pidfd);
	close_pipes(p);
	return ret;
}

int keel_hooks_run(const struct keel_spec_hook *hooks, size_t n, const char *kind_name,
		   const char *state_json, keel_error_t *err)
{
	struct sigpipe_guard guard;
	int ret = 0;

	sigpipe_block(&guard);
	for (size_t i = 0; i < n && ret == 0; i++) {
		char what[512];

		snprintf(what, sizeof(what), "%s hook #%zu (%s)", kind_name, i, hooks[i].path);
		ret = run_one(&hooks[i], what, state_json ? state_json : "", err);
	}
	sigpipe_restore(&guard);
	return ret;
}
