/* Docker-style progress for pull and push. On a terminal: one line per layer, rewritten in
 * place ("a3ed95caeb02: Downloading [=====>      ] 12.3MB/45.6MB"), redrawn at most 10 times
 * a second per layer. Otherwise: one plain line per state change, no byte counts. -q: only
 * errors (the caller prints the result). Events arrive from several worker threads. */
#include "cli/registry/registry_cli.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/image/image_cli.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *label(const struct keel_reg_event *ev, bool push)
{
	switch (ev->state) {
	case KEEL_REG_WAITING:
		return push ? "Preparing" : "Pulling fs layer";
	case KEEL_REG_EXISTS:
		return push ? "Layer already exists" : "Already exists";
	case KEEL_REG_DOWNLOADING:
		return "Downloading";
	case KEEL_REG_RETRYING:
		return "Retrying";
	case KEEL_REG_VERIFYING:
		return "Verifying Checksum";
	case KEEL_REG_EXTRACTING:
		return "Extracting";
	case KEEL_REG_PULLED:
		return "Pull complete";
	case KEEL_REG_PUSHING:
		return "Pushing";
	case KEEL_REG_PUSHED:
		return "Pushed";
	case KEEL_REG_MOUNTED:
		return "Mounted from";
	case KEEL_REG_MESSAGE:
		break;
	}
	return "";
}

static int slot(struct cli_progress *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->lines[i].id, id))
			return (int)i;
	if (p->n >= sizeof(p->lines) / sizeof(p->lines[0]))
		return -1;
	snprintf(p->lines[p->n].id, sizeof(p->lines[0].id), "%s", id);
	p->lines[p->n].last = 0;
	return (int)p->n++;
}

static void bar(const struct keel_reg_event *ev, char *out, size_t len)
{
	char cur[32], tot[32], b[52];
	int w = 50, fill;
	human_size(ev->current, 3, cur, sizeof(cur));
	if (ev->total <= 0) {
		snprintf(out, len, " %s", cur);
		return;
	}
	human_size(ev->total, 3, tot, sizeof(tot));
	fill = (int)((double)w * (double)ev->current / (double)ev->total);
	if (fill > w)
		fill = w;
	for (int i = 0; i < w; i++)
		b[i] = i < fill - 1 ? '=' : i == fill - 1 ? '>' : ' ';
	b[w] = '\0';
	snprintf(out, len, " [%s] %s/%s", b, cur, tot);
}

static void draw_tty(struct cli_progress *p, const struct keel_reg_event *ev)
{
	char extra[160] = "";
	int i = slot(p, ev->id);
	double t = now();
	bool counting = ev->state == KEEL_REG_DOWNLOADING || ev->state == KEEL_REG_PUSHING;
	if (i < 0)
		return;
	if (counting && t - p->lines[i].last < 0.1 && ev->current != ev->total)
		return;
	p->lines[i].last = t;
	if (counting)
		bar(ev, extra, sizeof(extra));
	else if (ev->text)
		snprintf(extra, sizeof(extra), " %s", ev->text);
	if ((size_t)i + 1 == p->n && !p->lines[i].drawn) {
		p->lines[i].drawn = true;
		fprintf(stdout, "%s: %s%s\n", ev->id, label(ev, p->push), extra);
	} else {
		int up = (int)(p->n - (size_t)i);
		fprintf(stdout, "\033[%dA\r\033[2K%s: %s%s\033[%dB\r", up, ev->id,
			label(ev, p->push), extra, up);
	}
	fflush(stdout);
}

void cli_progress_event(void *ud, const struct keel_reg_event *ev)
{
	struct cli_progress *p = ud;
	pthread_mutex_lock(&p->lock);
	if (p->quiet) {
		/* nothing */
	} else if (ev->state == KEEL_REG_MESSAGE) {
		printf("%s\n", ev->text);
		fflush(stdout);
	} else if (p->tty) {
		draw_tty(p, ev);
	} else if (ev->state != KEEL_REG_DOWNLOADING && ev->state != KEEL_REG_PUSHING) {
		printf("%s: %s%s%s\n", ev->id, label(ev, p->push), ev->text ? " " : "",
		       ev->text ? ev->text : "");
		if (ev->state == KEEL_REG_VERIFYING)
			printf("%s: Download complete\n", ev->id);
		fflush(stdout);
	} else if (ev->state == KEEL_REG_PUSHING && ev->current == 0) {
		printf("%s: Pushing\n", ev->id);
	}
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_init(struct cli_progress *p, bool quiet, bool push)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->quiet = quiet;
	p->push = push;
	p->tty = isatty(1) && !getenv("KEEL_PROGRESS_PLAIN");
}
