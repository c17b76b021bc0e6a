/* Docker's json-file log driver: writer (used by the monitor), rotation, reader (`logs`). */
#include "engine/logfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "util/cleanup.h"

/* ---------- encoding ---------- */

void keel_logfile_format_time(const struct timespec *t, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = t->tv_sec;
	size_t n;
	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (t->tv_nsec > 0 && n + 12 < len) {
		/* Go's RFC3339Nano drops trailing zeros of the fraction. */
		char frac[16];
		int digits = 9;
		snprintf(frac, sizeof(frac), "%09ld", t->tv_nsec);
		while (digits > 0 && frac[digits - 1] == '0')
			digits--;
		n += (size_t)snprintf(buf + n, len - n, ".%.*s", digits, frac);
	}
	snprintf(buf + n, len - n, "Z");
}

/* Length of the valid UTF-8 sequence at s (as Go's utf8.DecodeRune accepts: no overlongs,
 * no surrogates, <= U+10FFFF), 0 when invalid. *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Escapes as moby's jsonlog (ffjsonWriteJSONBytesAsString): \" \\ \n \r, other control
 * characters and < > & as \u00XX, invalid UTF-8 as \ufffd, U+2028/2029 escaped. out must
 * hold 6 * len bytes. Returns the bytes written. */
static size_t escape_json(char *out, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (size_t i = 0; i < len;) {
		unsigned char b = s[i];
		uint32_t cp;
		size_t n;
		if (b < 0x80) {
			if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' &&
			    b != '&') {
				*o++ = (char)b;
			} else if (b == '\\' || b == '"') {
				*o++ = '\\';
				*o++ = (char)b;
			} else if (b == '\n' || b == '\r') {
				*o++ = '\\';
				*o++ = b == '\n' ? 'n' : 'r';
			} else {
				memcpy(o, "\\u00", 4);
				o[4] = hex[b >> 4];
				o[5] = hex[b & 0xf];
				o += 6;
			}
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i, &cp);
		if (n == 0) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			memcpy(o, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
			o += 6;
			i += n;
		} else {
			memcpy(o, s + i, n);
			o += n;
			i += n;
		}
	}
	return (size_t)(o - out);
}

char *keel_logfile_encode(enum keel_log_stream s, const char *data, size_t len, const char *attrs,
			  const struct timespec *t, size_t *out_len)
{
	const char *name = s == KEEL_LOG_STDERR ? "stderr" : "stdout";
	char tbuf[48];
	size_t cap = len * 6 + 128 + (attrs ? strlen(attrs) + 10 : 0), n;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	keel_logfile_format_time(t, tbuf, sizeof(tbuf));
	memcpy(buf, "{\"log\":\"", 8);
	n = 8 + escape_json(buf + 8, (const unsigned char *)data, len);
	n += (size_t)snprintf(buf + n, cap - n, "\",\"stream\":\"%s\"%s%s,\"time\":\"%s\"}\n", name,
			      attrs ? ",\"attrs\":" : "", attrs ? attrs : "", tbuf);
	*out_len = n;
	return buf;
}

/* ---------- writer ---------- */

struct pending {
	char *buf; /* KEEL_LOG_LINE_MAX bytes, allocated on first use (keeps idle monitors small) */
	size_t len;
};

struct keel_logfile {
	char *path;
	char *attrs; /* JSON object text or NULL */
	int fd;
	long long size;
	long long max_size;
	int max_files;
	bool compress;
	pid_t gzip_pid;	     /* the child compressing <path>.1, 0 when none */
	struct pending p[2]; /* stdout, stderr */
};

static int open_live(struct keel_logfile *lf, bool truncate, keel_error_t *err)
{
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
	lf->fd = open(lf->path, flags, 0640);
	if (lf->fd < 0)
		return keel_err_sys(err, "opening log %s", lf->path);
	lf->size = fstat(lf->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

struct keel_logfile *keel_logfile_open(const struct keel_logfile_opts *o, keel_error_t *err)
{
	struct keel_logfile *lf = calloc(1, sizeof(*lf));
	if (!lf || !(lf->path = strdup(o->path)) ||
	    (o->attrs && *o->attrs && !(lf->attrs = strdup(o->attrs)))) {
		if (lf)
			free(lf->path);
		free(lf);
		keel_err(err, ENOMEM, "log");
		return NULL;
	}
	lf->max_size = o->max_size;
	lf->max_files = o->max_files < 1 ? 1 : o->max_files;
	lf->compress = o->compress && lf->max_files > 1;
	if (open_live(lf, false, err) < 0) {
		free(lf->attrs);
		free(lf->path);
		free(lf);
		return NULL;
	}
	return lf;
}

/* gzips src into dst (through dst.tmp, renamed when complete) and removes src. */
static int gzip_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX], buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	gzFile gz;
	ssize_t n;
	int ok;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (in < 0 || out < 0 || !(gz = gzdopen(out, "wb"))) {
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n)
			break;
	close(in);
	ok = gzclose(gz) == Z_OK && n == 0;
	if (!ok || rename(tmp, dst) < 0) {
		unlink(tmp);
		return -1;
	}
	return unlink(src);
}

/* The previous compression must be done before the files move again. */
static void gzip_wait(struct keel_logfile *lf)
{
	if (lf->gzip_pid > 0)
		while (waitpid(lf->gzip_pid, NULL, 0) < 0 && errno == EINTR)
			;
	lf->gzip_pid = 0;
}

/* docker compresses a rotated file in the background; here a forked child does it, so the
 * monitor's loop (and its memory: zlib's window is ~256 KiB) is not held up. */
static void gzip_start(struct keel_logfile *lf)
{
	char src[PATH_MAX], dst[PATH_MAX];
	pid_t pid;
	snprintf(src, sizeof(src), "%s.1", lf->path);
	snprintf(dst, sizeof(dst), "%s.1.gz", lf->path);
	pid = fork();
	if (pid == 0)
		_exit(gzip_file(src, dst) < 0 ? 1 : 0);
	if (pid < 0)
		gzip_file(src, dst); /* no fork: do it now */
	lf->gzip_pid = pid > 0 ? pid : 0;
}

static int rotate(struct keel_logfile *lf, keel_error_t *err)
{
	char from[PATH_MAX], to[PATH_MAX];
	if (lf->max_files == 1) {
		/* docker: with one file, start it over. */
		if (ftruncate(lf->fd, 0) < 0)
			return keel_err_sys(err, "truncating log %s", lf->path);
		lf->size = 0;
		return 0;
	}
	const char *ext = lf->compress ? ".gz" : "";
	gzip_wait(lf);
	for (int i = lf->max_files - 1; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%d%s", lf->path, i - 1, ext);
		snprintf(to, sizeof(to), "%s.%d%s", lf->path, i, ext);
		if (rename(from, to) < 0 && errno != ENOENT)
			return keel_err_sys(err, "rotating log %s", from);
	}
	snprintf(to, sizeof(to), "%s.1", lf->path);
	if (rename(lf->path, to) < 0 && errno != ENOENT)
		return keel_err_sys(err, "rotating log %s", lf->path);
	close(lf->fd);
	if (open_live(lf, true, err) < 0)
		return -1;
	if (lf->compress)
		gzip_start(lf);
	return 0;
}

static int write_entry(struct keel_logfile *lf, enum keel_log_stream s, const char *data,
		       size_t len, keel_error_t *err)
{
	struct timespec now;
	cleanup_free char *buf = NULL;
	size_t n, off = 0;

	if (lf->max_size > 0 && lf->size >= lf->max_size && rotate(lf, err) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	buf = keel_logfile_encode(s, data, len, lf->attrs, &now, &n);
	if (!buf)
		return keel_err(err, ENOMEM, "log entry");
	while (off < n) {
		ssize_t w = write(lf->fd, buf + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return keel_err_sys(err, "writing log %s", lf->path);
		}
		off += (size_t)w;
	}
	lf->size += (long long)n;
	return 0;
}

int keel_logfile_write(struct keel_logfile *lf, enum keel_log_stream s, const char *buf, size_t len,
		       keel_error_t *err)
{
	struct pending *p = &lf->p[s == KEEL_LOG_STDERR];
	while (len > 0) {
		size_t room = KEEL_LOG_LINE_MAX - p->len;
		size_t scan = len < room ? len : room;
		const char *nl = memchr(buf, '\n', scan);
		size_t take = nl ? (size_t)(nl - buf) + 1 : scan;
		if (p->len == 0 && (nl || take == KEEL_LOG_LINE_MAX)) {
			/* A whole line (or a full partial) straight from the input. */
			if (write_entry(lf, s, buf, take, err) < 0)
				return -1;
		} else {
			if (!p->buf && !(p->buf = malloc(KEEL_LOG_LINE_MAX)))
				return keel_err(err, ENOMEM, "log buffer");
			memcpy(p->buf + p->len, buf, take);
			p->len += take;
			if (nl || p->len == KEEL_LOG_LINE_MAX) {
				size_t l = p->len;
				p->len = 0;
				if (write_entry(lf, s, p->buf, l, err) < 0)
					return -1;
			}
		}
		buf += take;
		len -= take;
	}
	return 0;
}

int keel_logfile_flush(struct keel_logfile *lf, enum keel_log_stream s, keel_error_t *err)
{
	struct pending *p = &lf->p[s == KEEL_LOG_STDERR];
	size_t l = p->len;
	p->len = 0;
	if (l == 0)
		return 0;
	return write_entry(lf, s, p->buf, l, err);
}

void keel_logfile_close(struct keel_logfile *lf)
{
	keel_error_t ignored;
	if (!lf)
		return;
	keel_logfile_flush(lf, KEEL_LOG_STDOUT, &ignored);
	keel_logfile_flush(lf, KEEL_LOG_STDERR, &ignored);
	gzip_wait(lf);
	close(lf->fd);
	free(lf->attrs);
	free(lf->p[0].buf);
	free(lf->p[1].buf);
	free(lf->path);
	free(lf);
}

/* ---------- parsing times and sizes ---------- */

static bool take_digits(const char **s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (!isdigit((unsigned char)**s))
			return false;
		*v = *v * 10 + (**s - '0');
	}
	return true;
}

/* YYYY-MM-DD[THH:MM:SS[.frac][Z|+hh:mm|-hh:mm]]; without a zone the time is local. */
static bool parse_rfc3339(const char *s, struct timespec *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, se = 0, oh, om;
	long nsec = 0;
	bool utc = false;
	long offset = 0;
	if (!take_digits(&s, 4, &y) || *s++ != '-' || !take_digits(&s, 2, &mo) || *s++ != '-' ||
	    !take_digits(&s, 2, &d))
		return false;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (!take_digits(&s, 2, &h) || *s++ != ':' || !take_digits(&s, 2, &mi) ||
		    *s++ != ':' || !take_digits(&s, 2, &se))
			return false;
		if (*s == '.') {
			long scale = 100000000;
			for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
				nsec += (*s - '0') * scale;
		}
		if (*s == 'Z' || *s == 'z') {
			utc = true;
			s++;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1;
			if (!take_digits(&s, 2, &oh) || *s++ != ':' || !take_digits(&s, 2, &om))
				return false;
			utc = true;
			offset = sign * (oh * 3600L + om * 60L);
		}
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	tm.tm_isdst = -1;
	out->tv_sec = (utc ? timegm(&tm) : mktime(&tm)) - offset;
	out->tv_nsec = nsec;
	return true;
}

/* Go's time.ParseDuration subset: [number unit]+ with units ns us ms s m h. */
static bool parse_duration(const char *s, long double *secs)
{
	static const struct {
		const char *u;
		long double mult;
	} units[] = { { "ns", 1e-9L }, { "us", 1e-6L }, { "ms", 1e-3L },
		      { "s", 1 },      { "m", 60 },	{ "h", 3600 } };
	*secs = 0;
	if (!*s)
		return false;
	while (*s) {
		char *end;
		long double v = strtold(s, &end);
		size_t best = 0;
		long double mult = 0;
		if (end == s || !isalpha((unsigned char)*end))
			return false;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(end, units[i].u, l) == 0 && l > best &&
			    !isalpha((unsigned char)end[l])) {
				best = l;
				mult = units[i].mult;
			}
		}
		if (!best)
			return false;
		*secs += v * mult;
		s = end + best;
	}
	return true;
}

int keel_logfile_parse_time(const char *s, const struct timespec *now, struct timespec *out,
			    keel_error_t *err)
{
	long double secs;
	char *end;
	if (parse_rfc3339(s, out))
		return 0;
	if (*s && isdigit((unsigned char)*s)) {
		secs = strtold(s, &end);
		if (*end == '\0') {
			out->tv_sec = (time_t)secs;
			out->tv_nsec = (long)((secs - (long double)out->tv_sec) * 1e9L);
			return 0;
		}
	}
	if (parse_duration(s, &secs) && secs >= 0) {
		long double t = (long double)now->tv_sec + (long double)now->tv_nsec / 1e9L - secs;
		out->tv_sec = (time_t)t;
		out->tv_nsec = (long)((t - (long double)out->tv_sec) * 1e9L);
		if (out->tv_nsec < 0) {
			out->tv_nsec += 1000000000L;
			out->tv_sec--;
		}
		return 0;
	}
	return keel_err(err, EINVAL,
			"invalid time \"%s\": want RFC 3339, unix seconds or a "
			"duration like 10m",
			s);
}

long long keel_logfile_parse_size(const char *s, keel_error_t *err)
{
	static const char units[] = "bkmgtp";
	char *end;
	double v = strtod(s, &end);
	long double mult = 1;
	const char *u;
	if (end == s || v < 0)
		goto bad;
	if (*end) {
		u = strchr(units, tolower((unsigned char)*end));
		if (!u)
			goto bad;
		for (const char *p = units; p < u; p++)
			mult *= 1000;
		end++;
		if (u != units && (*end == 'i' || *end == 'I'))
			end++;
		if (u != units && (*end == 'b' || *end == 'B'))
			end++;
		if (*end)
			goto bad;
	}
	return (long long)(v * mult);
bad:
	return keel_err_user(err, EINVAL, "invalid size: '%s'", s);
}

/* ---------- reader ---------- */

struct reader {
	const struct keel_logs_opts *o;
	char *buf;
	size_t len, cap;
	long skip; /* entries still to skip before emitting (tail) */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's url.QueryEscape: unreserved bytes as they are, ' ' as '+', the rest %XX. */
static char *query_escape(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else if (c == ' ') {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	return o;
}

/* docker logs --details: "k=v,k2=v2 " (keys sorted, query-escaped) before the data; just " "
 * for an entry without attrs. Returns a malloc'd buffer of *out_len bytes, NULL on ENOMEM. */
static char *with_details(json_t *attrs, const char *data, size_t len, size_t *out_len)
{
	size_t n = json_is_object(attrs) ? json_object_size(attrs) : 0, cap = len + 2, k = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	const char *key;
	json_t *v;
	char *buf, *o;
	if (!keys)
		return NULL;
	json_object_foreach (attrs, key, v) {
		if (!json_is_string(v))
			continue;
		keys[k++] = key;
		cap += 3 * (strlen(key) + json_string_length(v)) + 2;
	}
	qsort(keys, k, sizeof(*keys), cmp_str);
	if (!(o = buf = malloc(cap))) {
		free(keys);
		return NULL;
	}
	for (size_t i = 0; i < k; i++) {
		if (i)
			*o++ = ',';
		o = query_escape(o, keys[i]);
		*o++ = '=';
		o = query_escape(o, json_string_value(json_object_get(attrs, keys[i])));
	}
	*o++ = ' ';
	memcpy(o, data, len);
	*out_len = (size_t)(o - buf) + len;
	free(keys);
	return buf;
}

static int emit_entry(const struct keel_logs_opts *o, enum keel_log_stream s,
		      const struct timespec *t, const char *data, size_t len)
{
	if (o->emit)
		return o->emit(o->emit_arg, s, t, data, len);
	return keel_logs_emit_fds((void *)o, s, t, data, len);
}

static int emit_line(struct reader *r, const char *line, size_t len)
{
	cleanup_json json_t *j = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
	const char *log, *stream, *time;
	size_t log_len;
	struct timespec t;
	enum keel_log_stream s;
	const struct keel_logs_opts *o = r->o;

	if (!j || json_unpack(j, "{s:s%,s:s,s:s}", "log", &log, &log_len, "stream", &stream, "time",
			      &time))
		return 0;
	if (r->skip > 0) {
		r->skip--;
		return 0;
	}
	if (!parse_rfc3339(time, &t))
		return 0;
	if (o->has_since && (t.tv_sec < o->since.tv_sec ||
			     (t.tv_sec == o->since.tv_sec && t.tv_nsec < o->since.tv_nsec)))
		return 0;
	if (o->has_until && (t.tv_sec > o->until.tv_sec ||
			     (t.tv_sec == o->until.tv_sec && t.tv_nsec >= o->until.tv_nsec)))
		return 0;
	s = strcmp(stream, "stderr") == 0 ? KEEL_LOG_STDERR : KEEL_LOG_STDOUT;
	if (o->details) {
		size_t n;
		cleanup_free char *d = with_details(json_object_get(j, "attrs"), log, log_len, &n);
		return d ? emit_entry(o, s, &t, d, n) : -1;
	}
	return emit_entry(o, s, &t, log, log_len);
}

/* Reads what fd has now and emits every complete line; an unfinished last line stays in the
 * buffer (the writer is mid-entry). */
static int read_lines(struct reader *r, int fd, keel_error_t *err)
{
	for (;;) {
		ssize_t n;
		char *start, *nl;
		if (r->cap - r->len < 65536) {
			char *b = realloc(r->buf, r->cap + 131072);
			if (!b)
				return keel_err(err, ENOMEM, "reading log");
			r->buf = b;
			r->cap += 131072;
		}
		n = read(fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return keel_err_sys(err, "reading log");
		if (n == 0)
			return 0;
		r->len += (size_t)n;
		start = r->buf;
		while ((nl = memchr(start, '\n', r->len - (size_t)(start - r->buf)))) {
			int ret = emit_line(r, start, (size_t)(nl - start));
			if (ret < 0)
				return ret;
			start = nl + 1;
		}
		r->len -= (size_t)(start - r->buf);
		memmove(r->buf, start, r->len);
	}
}

/* Lines in a file (entries always end with "\n"). */
static long count_lines(int fd)
{
	char buf[65536];
	long lines = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
			lines++;
	lseek(fd, 0, SEEK_SET);
	return lines;
}

/* How many rotated files (<path>.1 or <path>.1.gz, ...) exist, counting up to the first
 * gap. */
static int count_rotated(const char *path)
{
	char p[PATH_MAX], gz[PATH_MAX];
	int n = 0;
	for (;;) {
		snprintf(p, sizeof(p), "%s.%d", path, n + 1);
		snprintf(gz, sizeof(gz), "%s.%d.gz", path, n + 1);
		if (access(p, F_OK) < 0 && access(gz, F_OK) < 0)
			return n;
		n++;
	}
}

/* Rotated file i, plain (<path>.i, also while its compression runs) or gzipped
 * (<path>.i.gz, inflated into a memfd): an fd at offset 0, or -1. */
static int open_rotated(const char *path, int i)
{
	char p[PATH_MAX], buf[65536];
	int fd, mfd, n = 0;
	gzFile gz;
	snprintf(p, sizeof(p), "%s.%d", path, i);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0 || errno != ENOENT)
		return fd;
	snprintf(p, sizeof(p), "%s.%d.gz", path, i);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	mfd = memfd_create("keel-log", MFD_CLOEXEC);
	if (mfd < 0 || !(gz = gzdopen(fd, "rb"))) {
		close(fd);
		if (mfd >= 0)
			close(mfd);
		return -1;
	}
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, (size_t)n) != n)
			break;
	gzclose(gz); /* closes fd */
	lseek(mfd, 0, SEEK_SET);
	return mfd;
}

static int follow(struct reader *r, const char *path, int fd, keel_error_t *err);

int keel_logfile_read(const char *path, const struct keel_logs_opts *o, keel_error_t *err)
{
	struct reader r = { .o = o };
	int rotated = count_rotated(path), ret = 0;
	int fds[64];
	int nf = 0;
	long total = 0;

	if (rotated > 62)
		rotated = 62;
	for (int i = rotated; i >= 0; i--) {
		fds[nf] = i ? open_rotated(path, i) : open(path, O_RDONLY | O_CLOEXEC);
		if (fds[nf] >= 0) {
			if (o->tail >= 0)
				total += count_lines(fds[nf]);
			nf++;
		}
	}
	r.skip = o->tail >= 0 && total > o->tail ? total - o->tail : 0;
	for (int i = 0; i < nf && ret >= 0; i++) {
		ret = read_lines(&r, fds[i], err);
		r.len = 0; /* an unfinished line in an older file is dropped */
	}
	if (ret >= 0 && o->follow) {
		int live = -1;
		if (nf > 0 && rotated >= 0)
			live = fds[nf - 1];
		ret = follow(&r, path, live, err);
	}
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	free(r.buf);
	return ret < 0 ? ret : 0;
}

static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	if (fd < 0 || fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Waits for appends (inotify on the directory: the file may be rotated or created), until
 * stop_fd fires; then reads what is left once more and returns. fd is borrowed. */
static int follow(struct reader *r, const char *path, int fd, keel_error_t *err)
{
	char dir[PATH_MAX];
	char *slash;
	cleanup_close int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	cleanup_close int own = -1;
	bool stop = false;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (in >= 0)
		inotify_add_watch(in, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM);
	while (!stop) {
		struct pollfd p[2] = { { .fd = in, .events = POLLIN },
				       { .fd = r->o->stop_fd, .events = POLLIN } };
		char evbuf[4096];
		int n = poll(p, 2, 1000); /* the timeout covers a missing inotify */
		if (n < 0 && errno != EINTR)
			return keel_err_sys(err, "following log");
		if (p[0].revents)
			while (read(in, evbuf, sizeof(evbuf)) > 0)
				;
		if (p[1].revents)
			stop = true; /* the writer flushed before it signalled: one last read */
		if (fd >= 0 && read_lines(r, fd, err) < 0)
			return -1;
		if (!same_file(fd, path)) {
			/* Rotated (or first created): the rest of the old file was read above. */
			int nfd = open(path, O_RDONLY | O_CLOEXEC);
			if (nfd >= 0) {
				if (own >= 0)
					close(own);
				fd = own = nfd;
				r->len = 0;
				if (read_lines(r, fd, err) < 0)
					return -1;
			}
		}
	}
	return 0;
}

int keel_logs_emit_fds(void *arg, enum keel_log_stream s, const struct timespec *t,
		       const char *data, size_t len)
{
	const struct keel_logs_opts *o = arg;
	int fd = s == KEEL_LOG_STDERR ? o->err_fd : o->out_fd;
	if (o->timestamps) {
		/* docker logs -t: RFC3339Nano with a fixed 9-digit fraction, then a space. */
		char ts[64];
		struct tm tm;
		time_t sec = t->tv_sec;
		size_t n;
		gmtime_r(&sec, &tm);
		n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + n, sizeof(ts) - n, ".%09ldZ ", t->tv_nsec);
		if (write(fd, ts, strlen(ts)) < 0)
			return -1;
	}
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}
