/* Build progress: the plain renderer (Docker's legacy lines, in sequential order even when
 * stages run at once), the terminal renderer (a live area redrawn in place under the lines
 * of finished steps) and the forwarder that carries a worker's reports over a pipe. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "build/progress.h"
#include "build/strbuf.h"

#define MAX_STAGE 4096
#define TAIL_KEEP 10 /* lines of RUN output kept per stage (shown on failure) */
#define TAIL_SHOW 3  /* of which the live area shows */
#define FEED_MAX  (1u << 20)

enum frame_type { FR_STEP = 1, FR_CACHED, FR_TEXT };

struct frame_hdr {
	uint32_t type;
	uint32_t len;
};

struct frame_step {
	uint64_t step, total;
};

struct keel_progress;

/* What a stage's stream writes to (an index: the stage array moves when it grows). */
struct cookie {
	struct keel_progress *p;
	size_t stage;
};

struct pstage {
	bool used, done, failed;
	char *name;
	size_t nsteps, cur; /* steps in the stage, steps started */
	char *text;	    /* the current step */
	bool cached;
	double t_step;
	struct strbuf held;    /* plain: output waiting for the stages before it */
	char *tail[TAIL_KEEP]; /* tty: last lines of output, a ring */
	size_t ntail;
	struct strbuf partial; /* tty: the line being written */
	struct strbuf in;      /* feed: an incomplete frame */
	FILE *stream;
	struct cookie *cookie;
};

struct keel_progress {
	FILE *out;
	int fd; /* forwarder: the pipe; -1 for a renderer */
	bool tty, failed;
	struct pstage *st;
	size_t nst;
	size_t *order, norder, head; /* plain: stages in output order, the live one */
	struct strbuf perm;	     /* tty: finished lines not yet drawn */
	int drawn;		     /* tty: lines of the live area on the screen */
	double t0, last_draw;
	size_t done_steps, total_steps;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct pstage *stage_of(struct keel_progress *p, size_t i)
{
	if (i >= MAX_STAGE)
		return NULL;
	if (i >= p->nst) {
		struct pstage *n = realloc(p->st, (i + 1) * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + p->nst, 0, (i + 1 - p->nst) * sizeof(*n));
		p->st = n;
		p->nst = i + 1;
	}
	return &p->st[i];
}

static struct keel_progress *alloc(keel_error_t *err)
{
	struct keel_progress *p = calloc(1, sizeof(*p));
	if (!p) {
		keel_err(err, ENOMEM, "build progress");
		return NULL;
	}
	p->fd = -1;
	p->t0 = now();
	return p;
}

struct keel_progress *keel_progress_new(FILE *out, enum keel_progress_mode mode, keel_error_t *err)
{
	struct keel_progress *p = alloc(err);
	if (!p)
		return NULL;
	p->out = out;
	if (mode == KEEL_PROGRESS_AUTO) {
		const char *term = getenv("TERM");
		p->tty = isatty(fileno(out)) && !(term && !strcmp(term, "dumb"));
	} else {
		p->tty = mode == KEEL_PROGRESS_TTY;
	}
	return p;
}

struct keel_progress *keel_progress_forward(int fd, keel_error_t *err)
{
	struct keel_progress *p = alloc(err);
	if (p)
		p->fd = fd;
	return p;
}

bool keel_progress_is_tty(const struct keel_progress *p)
{
	return p && p->tty;
}

int keel_progress_add_stage(struct keel_progress *p, size_t stage, const char *name, size_t nsteps,
			    keel_error_t *err)
{
	struct pstage *s;
	size_t *o;
	if (!p)
		return 0;
	if (!(s = stage_of(p, stage)) || !(o = realloc(p->order, (p->norder + 1) * sizeof(*o))))
		return keel_err(err, ENOMEM, "build progress");
	p->order = o;
	free(s->name);
	if (!(s->name = strdup(name)))
		return keel_err(err, ENOMEM, "build progress");
	s->used = true;
	s->nsteps = nsteps;
	p->order[p->norder++] = stage;
	p->total_steps += nsteps;
	return 0;
}

/* ---- forwarder ---- */

static void write_all(int fd, const void *buf, size_t len)
{
	const char *c = buf;
	while (len) {
		ssize_t n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the parent is gone: nobody to tell */
		c += n;
		len -= (size_t)n;
	}
}

static void send_frame(struct keel_progress *p, enum frame_type type, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	struct frame_hdr h = { .type = type, .len = (uint32_t)(alen + blen) };
	struct strbuf f = { 0 };
	/* one write per frame: small frames reach the parent whole */
	sb_addn(&f, (const char *)&h, sizeof(h));
	sb_addn(&f, a, alen);
	sb_addn(&f, b, blen);
	if (!f.oom)
		write_all(p->fd, f.s, f.len);
	sb_free(&f);
}

/* ---- plain ---- */

static bool is_live(const struct keel_progress *p, size_t stage)
{
	if (stage >= p->nst || !p->st[stage].used)
		return true;
	return p->head < p->norder && p->order[p->head] == stage;
}

static void plain_emit(struct keel_progress *p, size_t stage, const char *buf, size_t len)
{
	if (is_live(p, stage)) {
		fwrite(buf, 1, len, p->out);
		fflush(p->out);
	} else {
		sb_addn(&p->st[stage].held, buf, len);
	}
}

/* The live stage finished: show what the next ones held back, up to the first still running. */
static void plain_advance(struct keel_progress *p)
{
	while (p->head < p->norder) {
		struct pstage *s = &p->st[p->order[p->head]];
		if (s->held.len)
			fwrite(s->held.s, 1, s->held.len, p->out);
		sb_free(&s->held);
		if (!s->done)
			break;
		p->head++;
	}
	fflush(p->out);
}

/* ---- tty ---- */

static int term_width(const struct keel_progress *p)
{
	struct winsize ws;
	if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Appends s to sb cut to width columns (bytes: conservative for UTF-8), control characters
 * shown as '?' so they cannot move the cursor. */
static void add_cut(struct strbuf *sb, const char *s, size_t width)
{
	for (size_t i = 0; s[i] && i < width; i++) {
		unsigned char c = (unsigned char)s[i];
		sb_addc(sb, c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c);
	}
}

static const char *stage_name(const struct pstage *s)
{
	return s->name ? s->name : "?";
}

/* "[name k/n] TEXT" and, at the right edge, a mark (time, CACHED): one screen line. */
static void step_line(struct strbuf *sb, const struct pstage *s, const char *mark, int width)
{
	char head[256];
	size_t w = (size_t)width - 1, hl, ml = strlen(mark), start = sb->len, used;
	snprintf(head, sizeof(head), "[%s %zu/%zu] ", stage_name(s), s->cur, s->nsteps);
	hl = strlen(head);
	add_cut(sb, head, w);
	if (hl + ml + 1 < w)
		add_cut(sb, s->text ? s->text : "", w - hl - ml - 1);
	used = sb->len - start;
	while (used + ml < w)
		sb_addc(sb, ' '), used++;
	if (used + ml <= w)
		sb_add(sb, mark);
	sb_addc(sb, '\n');
}

static void tail_push(struct pstage *s, char *line)
{
	if (s->ntail == TAIL_KEEP) {
		free(s->tail[0]);
		memmove(s->tail, s->tail + 1, (TAIL_KEEP - 1) * sizeof(char *));
		s->ntail--;
	}
	s->tail[s->ntail++] = line;
}

static void tail_clear(struct pstage *s)
{
	for (size_t i = 0; i < s->ntail; i++)
		free(s->tail[i]);
	s->ntail = 0;
	sb_free(&s->partial);
}

/* The builder's own chatter (" ---> 1a2b3c", "Removing intermediate container ...") is left
 * out of the tail: the display says the same with its marks. */
static bool chatter(const char *l)
{
	return !strncmp(l, " ---> ", 6) || !strncmp(l, "Removing intermediate container ", 32) ||
	       !strncmp(l, "# Executing ", 12);
}

static void tty_text(struct pstage *s, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r') {
			sb_reset(&s->partial); /* a progress bar redrawing its line */
		} else if (buf[i] == '\n') {
			char *l = sb_steal(&s->partial);
			if (l && !chatter(l))
				tail_push(s, l);
			else
				free(l);
		} else if (s->partial.len < 4096) { /* more than a screen line is never shown */
			sb_addc(&s->partial, buf[i]);
		}
	}
}

/* The stage's current step is over: it becomes a line above the live area. */
static void tty_finish_step(struct keel_progress *p, struct pstage *s, const char *why)
{
	char mark[32];
	if (!s->text)
		return;
	if (why)
		snprintf(mark, sizeof(mark), "%s", why);
	else if (s->cached)
		snprintf(mark, sizeof(mark), "CACHED");
	else
		snprintf(mark, sizeof(mark), "%.1fs", now() - s->t_step);
	step_line(&p->perm, s, mark, term_width(p));
	free(s->text);
	s->text = NULL;
	if (!why)
		p->done_steps++;
}

static void tty_draw(struct keel_progress *p, bool final)
{
	struct strbuf sb = { 0 };
	int width = term_width(p), lines = 0;
	char head[128];
	if (p->drawn) {
		/* back to the live area's first line, erase it and everything below */
		char up[32];
		snprintf(up, sizeof(up), "\r\033[%dA\033[J", p->drawn);
		sb_add(&sb, up);
	}
	sb_addn(&sb, p->perm.s ? p->perm.s : "", p->perm.len);
	sb_reset(&p->perm);
	snprintf(head, sizeof(head), "[+] Building %.1fs (%zu/%zu)%s", now() - p->t0, p->done_steps,
		 p->total_steps, final ? (p->failed ? " FAILED" : " FINISHED") : "");
	add_cut(&sb, head, (size_t)width - 1), sb_addc(&sb, '\n');
	lines++;
	for (size_t k = 0; !final && k < p->norder; k++) {
		struct pstage *s = &p->st[p->order[k]];
		char mark[32];
		if (s->done || !s->text)
			continue;
		snprintf(mark, sizeof(mark), "%.1fs", now() - s->t_step);
		step_line(&sb, s, mark, width);
		lines++;
		for (size_t t = s->ntail > TAIL_SHOW ? s->ntail - TAIL_SHOW : 0; t < s->ntail;
		     t++) {
			sb_add(&sb, "\033[2m  > ");
			add_cut(&sb, s->tail[t], (size_t)width > 5 ? (size_t)width - 5 : 0);
			sb_add(&sb, "\033[0m\n");
			lines++;
		}
	}
	if (!sb.oom)
		fwrite(sb.s, 1, sb.len, p->out);
	fflush(p->out);
	sb_free(&sb);
	p->drawn = final ? 0 : lines;
	p->last_draw = now();
}

void keel_progress_tick(struct keel_progress *p)
{
	if (p && p->tty && p->fd < 0 && (p->perm.len || now() - p->last_draw >= 0.1))
		tty_draw(p, false);
}

/* ---- the reports ---- */

void keel_progress_step(struct keel_progress *p, size_t stage, size_t step, size_t total,
			const char *text)
{
	struct pstage *s;
	if (!p)
		return;
	if (p->fd >= 0) {
		struct frame_step f = { .step = step, .total = total };
		send_frame(p, FR_STEP, &f, sizeof(f), text, strlen(text));
		return;
	}
	if (!p->tty) {
		char head[64];
		snprintf(head, sizeof(head), "Step %zu/%zu : ", step, total);
		plain_emit(p, stage, head, strlen(head));
		plain_emit(p, stage, text, strlen(text));
		plain_emit(p, stage, "\n", 1);
		return;
	}
	if (!(s = stage_of(p, stage)))
		return;
	tty_finish_step(p, s, NULL);
	s->cur++;
	if (!s->nsteps)
		s->nsteps = s->cur;
	s->text = strdup(text);
	s->cached = false;
	s->t_step = now();
	tail_clear(s);
	keel_progress_tick(p);
}

void keel_progress_cached(struct keel_progress *p, size_t stage)
{
	struct pstage *s;
	if (!p)
		return;
	if (p->fd >= 0)
		send_frame(p, FR_CACHED, NULL, 0, NULL, 0);
	else if (!p->tty)
		plain_emit(p, stage, " ---> Using cache\n", 18);
	else if ((s = stage_of(p, stage)))
		s->cached = true;
}

void keel_progress_text(struct keel_progress *p, size_t stage, const void *buf, size_t len)
{
	struct pstage *s;
	if (!p || !len)
		return;
	if (p->fd >= 0)
		send_frame(p, FR_TEXT, buf, len, NULL, 0);
	else if (!p->tty)
		plain_emit(p, stage, buf, len);
	else if ((s = stage_of(p, stage)))
		tty_text(s, buf, len), keel_progress_tick(p);
}

void keel_progress_end(struct keel_progress *p, size_t stage, bool ok)
{
	struct pstage *s;
	if (!p || p->fd >= 0 || !(s = stage_of(p, stage)))
		return;
	s->done = true;
	s->failed = !ok;
	if (!p->tty) {
		if (is_live(p, stage) || !s->used)
			plain_advance(p);
		return;
	}
	tty_finish_step(p, s, ok ? NULL : "ERROR");
	if (!ok) {
		/* what the failed step printed stays on the screen */
		p->failed = true;
		if (s->partial.len)
			tty_text(s, "\n", 1);
		for (size_t t = 0; t < s->ntail; t++) {
			sb_add(&p->perm, "  > ");
			add_cut(&p->perm, s->tail[t], (size_t)term_width(p) - 5);
			sb_addc(&p->perm, '\n');
		}
	}
	tail_clear(s);
	tty_draw(p, false);
}

/* ---- streams ---- */

static ssize_t stream_write(void *cookie, const char *buf, size_t len)
{
	struct cookie *c = cookie;
	keel_progress_text(c->p, c->stage, buf, len);
	return (ssize_t)len;
}

FILE *keel_progress_stream(struct keel_progress *p, size_t stage)
{
	struct pstage *s;
	if (!p || !(s = stage_of(p, stage)))
		return NULL;
	if (!s->stream) {
		cookie_io_functions_t io = { .write = stream_write };
		if (!s->cookie && !(s->cookie = malloc(sizeof(*s->cookie))))
			return NULL;
		*s->cookie = (struct cookie){ .p = p, .stage = stage };
		if (!(s->stream = fopencookie(s->cookie, "w", io)))
			return NULL;
		setvbuf(s->stream, NULL, _IONBF, 0);
	}
	return s->stream;
}

/* ---- feed ---- */

static void replay(struct keel_progress *p, size_t stage, const struct frame_hdr *h,
		   const char *body)
{
	switch (h->type) {
	case FR_STEP: {
		struct frame_step f;
		char *text;
		if (h->len < sizeof(f))
			return;
		memcpy(&f, body, sizeof(f));
		text = strndup(body + sizeof(f), h->len - sizeof(f));
		if (text)
			keel_progress_step(p, stage, (size_t)f.step, (size_t)f.total, text);
		free(text);
		break;
	}
	case FR_CACHED:
		keel_progress_cached(p, stage);
		break;
	case FR_TEXT:
		keel_progress_text(p, stage, body, h->len);
		break;
	}
}

int keel_progress_feed(struct keel_progress *p, size_t stage, int fd, keel_error_t *err)
{
	char buf[65536];
	struct strbuf *in;
	struct pstage *s;
	ssize_t n;
	size_t off = 0;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return keel_err_sys(err, "reading a build worker's output");
	if (n == 0)
		return 0;
	if (!p)
		return 1;
	if (!(s = stage_of(p, stage)))
		return keel_err(err, ENOMEM, "build progress");
	in = &s->in;
	sb_addn(in, buf, (size_t)n);
	if (in->oom)
		return keel_err(err, ENOMEM, "build progress");
	while (in->len - off >= sizeof(struct frame_hdr)) {
		struct frame_hdr h;
		memcpy(&h, in->s + off, sizeof(h));
		if (h.len > FEED_MAX)
			return keel_err(err, EPROTO, "a build worker sent a bad frame");
		if (in->len - off - sizeof(h) < h.len)
			break;
		replay(p, stage, &h, in->s + off + sizeof(h));
		off += sizeof(h) + h.len;
	}
	memmove(in->s, in->s + off, in->len - off);
	in->len -= off;
	return 1;
}

void keel_progress_free(struct keel_progress *p)
{
	if (!p)
		return;
	if (p->fd < 0 && p->tty) {
		tty_draw(p, true);
	} else if (p->fd < 0) {
		/* stages never started (a failure stopped the build) hold nothing back */
		for (size_t i = 0; i < p->nst; i++)
			p->st[i].done = true;
		plain_advance(p);
	}
	for (size_t i = 0; i < p->nst; i++) {
		struct pstage *s = &p->st[i];
		if (s->stream)
			fclose(s->stream);
		free(s->cookie);
		free(s->name);
		free(s->text);
		sb_free(&s->held);
		tail_clear(s);
		sb_free(&s->in);
	}
	free(p->st);
	free(p->order);
	sb_free(&p->perm);
	free(p);
}
