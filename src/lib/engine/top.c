/* `docker top` (see top.h). */
#include "engine/top.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/template.h"

extern char **environ;

void keel_top_free(struct keel_top *t)
{
	if (!t)
		return;
	keel_strvfreep(&t->titles);
	for (size_t i = 0; i < t->nrows; i++)
		keel_strvfreep(&t->rows[i]);
	free(t->rows);
	*t = (struct keel_top){ 0 };
}

int keel_top_check_args(const char *ps_args, keel_error_t *err)
{
	for (const char *eq = ps_args ? strchr(ps_args, '=') : NULL; eq; eq = strchr(eq + 1, '=')) {
		const char *k = eq, *v = eq + 1, *ve;
		while (k > ps_args && !isspace((unsigned char)k[-1]))
			k--;
		if (k == ps_args) /* docker's pattern needs whitespace before the key */
			continue;
		while (isspace((unsigned char)*v))
			v++;
		if (strncmp(v, "PID", 3) != 0)
			continue;
		for (ve = v; *ve && !isspace((unsigned char)*ve);)
			ve++;
		if ((size_t)(eq - k) != 3 || strncmp(k, "pid", 3) != 0)
			return keel_err_user(err, EINVAL, "specifying \"%.*s=%.*s\" is not allowed",
					     (int)(eq - k), k, (int)(ve - v), v);
	}
	return 0;
}

/* Splits s on ASCII whitespace into a NULL-terminated strv (Go's strings.Fields). */
static char **fields(const char *s, size_t len, size_t *n)
{
	char **v = calloc(len / 2 + 2, sizeof(*v));
	size_t i = 0, k = 0;
	if (!v)
		return NULL;
	while (i < len) {
		size_t j;
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		for (j = i; j < len && !isspace((unsigned char)s[j]);)
			j++;
		if (j > i && !(v[k++] = strndup(s + i, j - i))) {
			keel_strvfreep(&v);
			return NULL;
		}
		i = j;
	}
	*n = k;
	return v;
}

/* Copies the first ntitles-1 fields and joins the rest with spaces into the last. */
static char **fold_row(char *const *f, size_t nf, size_t ntitles)
{
	char **row = calloc(ntitles + 1, sizeof(*row));
	size_t len = 0;
	char *last;
	if (!row)
		return NULL;
	for (size_t i = 0; i + 1 < ntitles; i++) {
		/* a short row (never seen from procps) gets empty cells rather than an error */
		row[i] = strdup(i < nf ? f[i] : "");
		if (!row[i]) {
			keel_strvfreep(&row);
			return NULL;
		}
	}
	for (size_t i = ntitles - 1; i < nf; i++)
		len += strlen(f[i]) + 1;
	last = row[ntitles - 1] = calloc(1, len + 1);
	if (!last) {
		keel_strvfreep(&row);
		return NULL;
	}
	for (size_t i = ntitles - 1; i < nf; i++) {
		if (i > ntitles - 1)
			strcat(last, " ");
		strcat(last, f[i]);
	}
	return row;
}

static bool has_pid(const pid_t *pids, size_t n, long p)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == p)
			return true;
	return false;
}

static int add_row(struct keel_top *t, char **f, size_t nf, keel_error_t *err)
{
	char ***nr = realloc(t->rows, (t->nrows + 1) * sizeof(*nr));
	if (!nr)
		return keel_err(err, ENOMEM, "top");
	t->rows = nr;
	if (!(t->rows[t->nrows] = fold_row(f, nf, t->ntitles)))
		return keel_err(err, ENOMEM, "top");
	t->nrows++;
	return 0;
}

/* One ps row: keeps it when its pid is the container's (or it is a thread row following a
 * kept process). *prev tells whether the last process row was kept. */
static int parse_row(struct keel_top *t, size_t pid_col, const char *line, size_t len,
		     const pid_t *pids, size_t npids, bool *prev, keel_error_t *err)
{
	size_t nf = 0;
	cleanup_strv char **f = fields(line, len, &nf);
	char *end;
	long p;
	if (!f)
		return keel_err(err, ENOMEM, "top");
	if (nf == 0)
		return 0;
	if (nf <= pid_col)
		return keel_err_user(err, EINVAL, "unexpected ps output: %.*s", (int)len, line);
	if (strcmp(f[pid_col], "-") == 0)
		return *prev ? add_row(t, f, nf, err) : 0;
	errno = 0;
	p = strtol(f[pid_col], &end, 10);
	if (errno || *end || end == f[pid_col])
		return keel_err_user(err, EINVAL, "Unexpected pid '%s'", f[pid_col]);
	*prev = has_pid(pids, npids, p);
	return *prev ? add_row(t, f, nf, err) : 0;
}

int keel_top_parse(const char *out, const pid_t *pids, size_t npids, struct keel_top *t,
		   keel_error_t *err)
{
	const char *nl = strchrnul(out, '\n');
	size_t pid_col = 0;
	bool prev = false, found = false;
	*t = (struct keel_top){ 0 };
	if (!(t->titles = fields(out, (size_t)(nl - out), &t->ntitles)))
		return keel_err(err, ENOMEM, "top");
	for (size_t i = 0; i < t->ntitles && !found; i++)
		if (strcmp(t->titles[i], "PID") == 0)
			found = true, pid_col = i;
	if (!found) {
		keel_top_free(t);
		return keel_err_user(err, EINVAL, "Couldn't find PID field in ps output");
	}
	for (const char *line = *nl ? nl + 1 : nl; *line; line = *nl ? nl + 1 : nl) {
		nl = strchrnul(line, '\n');
		if (parse_row(t, pid_col, line, (size_t)(nl - line), pids, npids, &prev, err) < 0) {
			keel_top_free(t);
			return -1;
		}
	}
	return 0;
}

/* The whole content of a memfd (NUL-terminated, caller frees). */
static char *slurp(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf;
	if (size < 0 || !(buf = malloc((size_t)size + 1)))
		return NULL;
	if (pread(fd, buf, (size_t)size, 0) != size) {
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

/* Runs ps with argv; 0 with *out (stdout) on exit status 0, else -1 with ps' stderr. Output
 * goes to memfds, so no pipe can fill up and block ps. */
static int run_ps(char *const *argv, char **out, keel_error_t *err)
{
	cleanup_close int ofd = memfd_create("keel-top-out", MFD_CLOEXEC);
	cleanup_close int efd = memfd_create("keel-top-err", MFD_CLOEXEC);
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;
	if (ofd < 0 || efd < 0)
		return keel_err_sys(err, "top: memfd");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	r = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return keel_err(err, r, "top: running ps");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return keel_err_sys(err, "top: waiting for ps");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cleanup_free char *e = slurp(efd);
		size_t n = e ? strlen(e) : 0;
		while (n && isspace((unsigned char)e[n - 1]))
			e[--n] = '\0';
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		return keel_err(err, 0, "ps: exit status %d: %s", code, e ? e : "");
	}
	if (!(*out = slurp(ofd)))
		return keel_err(err, ENOMEM, "top: reading ps output");
	return 0;
}

/* "-q1,2,3" (procps' pid list option, one argument as docker passes it). */
static char *pids_arg(const pid_t *pids, size_t npids)
{
	char *s = malloc(npids * 12 + 3);
	size_t o = 2;
	if (!s)
		return NULL;
	memcpy(s, "-q", 2);
	for (size_t i = 0; i < npids; i++)
		o += (size_t)sprintf(s + o, "%s%d", i ? "," : "", (int)pids[i]);
	s[o] = '\0';
	return s;
}

int keel_top_run(const char *ps_args, const pid_t *pids, size_t npids, struct keel_top *t,
		 keel_error_t *err)
{
	cleanup_free char *args = strdup(ps_args && *ps_args ? ps_args : "-ef");
	cleanup_free char **argv = NULL;
	cleanup_free char *q = NULL;
	cleanup_free char *out = NULL;
	size_t n = 1;
	char *save = NULL;
	if (!args)
		return keel_err(err, ENOMEM, "top");
	if (keel_top_check_args(args, err) < 0)
		return -1;
	if (!(argv = calloc(strlen(args) + 3, sizeof(*argv))))
		return keel_err(err, ENOMEM, "top");
	argv[0] = "ps";
	for (char *a = strtok_r(args, " ", &save); a; a = strtok_r(NULL, " ", &save))
		argv[n++] = a;
	if (npids && (q = pids_arg(pids, npids))) {
		argv[n] = q;
		if (run_ps(argv, &out, err) == 0)
			return keel_top_parse(out, pids, npids, t, err);
		argv[n] = NULL; /* some options (e.g. "f") refuse -q: retry without */
	}
	if (run_ps(argv, &out, err) < 0)
		return -1;
	return keel_top_parse(out, pids, npids, t, err);
}

int keel_top_read_pids(const char *procs_path, pid_t **pids, size_t *npids, keel_error_t *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free pid_t *v = NULL;
	size_t n = 0;
	ssize_t len = keel_read_file(procs_path, &buf, err);
	if (len < 0)
		return -1;
	if (!(v = calloc((size_t)len / 2 + 1, sizeof(*v))))
		return keel_err(err, ENOMEM, "top");
	for (char *p = buf, *end; *p; p = end) {
		long x = strtol(p, &end, 10);
		if (end == p) {
			if (!isspace((unsigned char)*p))
				return keel_err(err, EINVAL, "%s: bad pid line", procs_path);
			end = p + 1;
			continue;
		}
		v[n++] = (pid_t)x;
	}
	*pids = steal_pointer(&v);
	*npids = n;
	return 0;
}

/* One line of cells for the table: joined by tabs (as docker's top writes them). */
static int add_line(struct keel_table *tab, char *const *cells, size_t n)
{
	cleanup_free char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "\t" : "", cells[i]);
	fclose(f);
	return keel_table_add(tab, line);
}

/* docker's top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0) */
void keel_top_print(const struct keel_top *t, FILE *out)
{
	struct keel_table *tab = keel_table_new_min(20);
	bool ok = tab && add_line(tab, t->titles, t->ntitles) == 0;
	for (size_t r = 0; ok && r < t->nrows; r++)
		ok = add_line(tab, t->rows[r], t->ntitles) == 0;
	if (ok)
		keel_table_print(tab, out);
	keel_table_free(tab);
}

json_t *keel_top_json(const struct keel_top *t)
{
	json_t *titles = json_array(), *procs = json_array();
	for (size_t i = 0; i < t->ntitles; i++)
		json_array_append_new(titles, json_string(t->titles[i]));
	for (size_t r = 0; r < t->nrows; r++) {
		json_t *row = json_array();
		for (size_t i = 0; i < t->ntitles; i++)
			json_array_append_new(row, json_string(t->rows[r][i]));
		json_array_append_new(procs, row);
	}
	return json_pack("{s:o,s:o}", "Titles", titles, "Processes", procs);
}
