/* Layer downloads. Each worker takes the next layer, GETs its blob and feeds every byte, as
 * it arrives, to the blob writer (sha256 + temp file) and through a socketpair to an
 * unpacker thread (decompress + diff-id sha256 + extract): one pass over the data, no second
 * read of the blob. A dropped connection resumes with Range from the bytes already kept; the
 * unpacker does not notice. The blob appears under its digest only when digest and size
 * match the manifest; the layer directory only when its diff id matches the config (which
 * itself was verified against the manifest). */
#include "pull.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/layer.h"
#include "util/cleanup.h"

#define MAX_ATTEMPTS 6
#define REPORT_EVERY (512 * 1024)

void pull_emit(const struct keel_reg_options *o, enum keel_reg_state st, const char *id,
	       int64_t cur, int64_t total, const char *text)
{
	struct keel_reg_event ev = {
		.state = st, .id = id, .current = cur, .total = total, .text = text
	};
	if (o && o->progress)
		o->progress(o->progress_ud, &ev);
}

struct unpacker {
	pthread_t thread;
	struct keel_store *s;
	int fd;
	const char *parent, *diff;
	struct keel_layer_info info;
	keel_error_t err;
	int ret;
	atomic_bool failed; /* set before it closes its end: the download can stop */
};

static void *unpack_main(void *arg)
{
	struct unpacker *u = arg;
	u->ret = keel_layer_unpack_fd(u->s, u->fd, u->parent[0] ? u->parent : NULL, u->diff,
				      &u->info, &u->err);
	if (u->ret < 0)
		atomic_store(&u->failed, true);
	/* what the tar reader left unread is still drained by the writer: close our end so its
	 * sends fail fast instead of blocking */
	close(u->fd);
	u->fd = -1;
	return NULL;
}

struct fetch {
	struct unpacker *u;
	struct pull_ctx *ctx;
	struct pull_job *job;
	struct keel_blob_writer w;
	int sock;	   /* to the unpacker; -1 once it is gone */
	int64_t got, size; /* bytes kept, bytes expected */
	int64_t skip;	   /* a 200 to a Range request: drop what we already have */
	int64_t reported;
	struct keel_reg_resp *resp;
	int64_t asked_from;
	bool first;
	keel_error_t err;
	bool failed;
	bool refused; /* stopped because the unpacker refused the layer */
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t sink(const void *buf, size_t len, void *ud)
{
	struct fetch *f = ud;
	const char *p = buf;
	size_t n = len;
	if (atomic_load(&f->ctx->cancel))
		return 0;
	if (f->first) {
		f->first = false;
		if (f->asked_from > 0 && f->resp->status == 200)
			f->skip = f->asked_from; /* the server ignored Range */
	}
	if (f->skip) {
		size_t d = (int64_t)n < f->skip ? n : (size_t)f->skip;
		f->skip -= (int64_t)d;
		p += d;
		n -= d;
	}
	if (f->got + (int64_t)n > f->size) {
		keel_err_user(&f->err, EFBIG,
			      "blob %s is larger than its manifest says (%lld bytes)",
			      f->job->desc->digest, (long long)f->size);
		f->failed = true;
		return 0;
	}
	if (n && keel_blob_write(&f->w, p, n, &f->err) < 0) {
		f->failed = true;
		return 0;
	}
	/* the unpacker may be done early (it stops at the end of the compressed stream) */
	if (n && f->sock >= 0 && send_all(f->sock, p, n) < 0) {
		close(f->sock);
		f->sock = -1;
		/* a refused layer: no point downloading the rest (its error is reported) */
		if (atomic_load(&f->u->failed)) {
			keel_err_user(&f->err, EILSEQ, "layer refused");
			f->failed = f->refused = true;
			return 0;
		}
	}
	f->got += (int64_t)n;
	if (f->got - f->reported >= REPORT_EVERY || f->got == f->size) {
		f->reported = f->got;
		pull_emit(f->ctx->o, KEEL_REG_DOWNLOADING, f->job->id, f->got, f->size, NULL);
	}
	return len;
}

static bool retryable(const struct keel_reg_resp *r, int ret)
{
	if (ret < 0)
		return r->curl_code != 0 && r->curl_code != 23 /* write error: ours */ &&
		       r->curl_code != 42 /* aborted by us */;
	return r->status >= 500 || r->status == 429 || (r->status / 100 == 2);
}

/* GETs the blob until f->size bytes are kept, resuming after drops. */
static int download(struct fetch *f, CURL *h, keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	const struct keel_descriptor *d = f->job->desc;
	if (asprintf(&url, "%s%s", f->ctx->blob_url, d->digest) < 0)
		return keel_err(err, ENOMEM, "pull");
	for (int attempt = 0; f->got < f->size || attempt == 0; attempt++) {
		struct keel_reg_req req = { .url = url,
					    .scope = f->ctx->scope,
					    .body_fd = -1,
					    .range_from = f->got,
					    .sink = sink,
					    .sink_ud = f,
					    .curl = h };
		int ret;
		f->resp = &r;
		f->asked_from = f->got;
		f->first = true;
		f->skip = 0;
		ret = keel_reg_do(f->ctx->c, &req, &r, err);
		if (f->failed) {
			*err = f->err;
			break;
		}
		if (ret == 0 && r.status / 100 != 2) {
			if (!retryable(&r, ret) || attempt + 1 >= MAX_ATTEMPTS) {
				keel_reg_status_err(&r, d->digest, err);
				break;
			}
		} else if (ret < 0 && !retryable(&r, ret)) {
			break;
		}
		if (f->got >= f->size && ret == 0) {
			keel_reg_resp_clear(&r);
			return 0;
		}
		if (attempt + 1 >= MAX_ATTEMPTS) {
			if (ret == 0)
				keel_err_user(err, EILSEQ,
					      "blob %s: truncated: got %lld of %lld bytes",
					      d->digest, (long long)f->got, (long long)f->size);
			else
				keel_err_wrap(err, "blob %s: %d attempts, got %lld of %lld bytes",
					      d->digest, MAX_ATTEMPTS, (long long)f->got,
					      (long long)f->size);
			break;
		}
		pull_emit(f->ctx->o, KEEL_REG_RETRYING, f->job->id, f->got, f->size,
			  ret < 0 ? err->msg : "short read");
		usleep(200000u * (unsigned)(attempt + 1));
	}
	keel_reg_resp_clear(&r);
	return -1;
}

static void fill_rec(struct pull_job *job, const struct unpacker *u, int64_t blob_size)
{
	memset(&job->rec, 0, sizeof(job->rec));
	memcpy(job->rec.chain_id, u->info.chain_id, sizeof(job->rec.chain_id));
	memcpy(job->rec.diff_id, u->info.diff_id, sizeof(job->rec.diff_id));
	snprintf(job->rec.blob_digest, sizeof(job->rec.blob_digest), "%s", job->desc->digest);
	snprintf(job->media_type, sizeof(job->media_type), "%s", job->desc->media_type);
	job->rec.media_type = job->media_type;
	job->rec.size = u->info.size;
	job->rec.diff_size = u->info.diff_size;
	job->rec.blob_size = blob_size;
}

static int fetch_layer(struct pull_ctx *ctx, struct pull_job *job, CURL *h, keel_error_t *err)
{
	struct fetch f = { .ctx = ctx, .job = job, .size = job->desc->size, .sock = -1 };
	struct unpacker u = { .s = ctx->s, .parent = job->parent_chain, .diff = job->diff_id };
	char digest[KEEL_DIGEST_SIZE];
	int sv[2], ret = -1;
	if (keel_blob_begin(ctx->s, &f.w, err) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		keel_blob_abort(&f.w);
		return keel_err_sys(err, "socketpair");
	}
	f.sock = sv[0];
	u.fd = sv[1];
	if (pthread_create(&u.thread, NULL, unpack_main, &u) != 0) {
		close(sv[0]);
		close(sv[1]);
		keel_blob_abort(&f.w);
		return keel_err(err, EAGAIN, "unpacker thread");
	}
	f.u = &u;
	ret = download(&f, h, err);
	if (f.sock >= 0)
		close(f.sock); /* EOF for the unpacker (a truncated stream on failure) */
	if (ret == 0) {
		pull_emit(ctx->o, KEEL_REG_VERIFYING, job->id, f.got, f.size, NULL);
		if (keel_blob_finish(&f.w, digest, err) < 0)
			ret = -1;
		else if (strcmp(digest, job->desc->digest) != 0)
			ret = keel_err_user(err, EILSEQ, "blob %s: content has digest %s",
					    job->desc->digest, digest);
	}
	pull_emit(ctx->o, KEEL_REG_EXTRACTING, job->id, f.got, f.size, NULL);
	pthread_join(u.thread, NULL);
	if ((ret == 0 || f.refused) && u.ret < 0) {
		*err = u.err;
		ret = keel_err_wrap(err, "layer %s", job->desc->digest);
	}
	if (ret == 0 && keel_blob_publish(&f.w, err) < 0)
		ret = -1;
	if (ret < 0) {
		keel_blob_abort(&f.w);
		return -1;
	}
	fill_rec(job, &u, f.got);
	return 0;
}

/* The blob is in the store already (an earlier pull stopped before recording the image). */
static int local_layer(struct pull_ctx *ctx, struct pull_job *job, keel_error_t *err)
{
	struct unpacker u = { .s = ctx->s, .parent = job->parent_chain, .diff = job->diff_id };
	cleanup_close int fd = keel_blob_open(ctx->s, job->desc->digest, err);
	if (fd < 0)
		return -1;
	pull_emit(ctx->o, KEEL_REG_EXTRACTING, job->id, job->desc->size, job->desc->size, NULL);
	if (keel_layer_unpack_fd(ctx->s, fd, u.parent[0] ? u.parent : NULL, u.diff, &u.info, err) <
	    0)
		return keel_err_wrap(err, "layer %s", job->desc->digest);
	fill_rec(job, &u, job->desc->size);
	return 0;
}

static void *worker(void *arg)
{
	struct pull_ctx *ctx = arg;
	keel_error_t err = { 0 };
	CURL *h = keel_reg_curl_new(&err);
	for (;;) {
		struct pull_job *job;
		int ret;
		pthread_mutex_lock(&ctx->lock);
		job = ctx->next < ctx->n && !atomic_load(&ctx->cancel) ? &ctx->jobs[ctx->next++]
								       : NULL;
		pthread_mutex_unlock(&ctx->lock);
		if (!job)
			break;
		if (job->kind == JOB_SKIP)
			continue;
		ret = !h		       ? -1
		      : job->kind == JOB_LOCAL ? local_layer(ctx, job, &err)
					       : fetch_layer(ctx, job, h, &err);
		if (ret < 0) {
			pthread_mutex_lock(&ctx->lock);
			if (!ctx->failed) {
				ctx->failed = true;
				ctx->err = err;
			}
			atomic_store(&ctx->cancel, true);
			pthread_mutex_unlock(&ctx->lock);
			break;
		}
		pull_emit(ctx->o, KEEL_REG_PULLED, job->id, 0, 0, NULL);
	}
	keel_reg_curl_free(h);
	return NULL;
}

int pull_layers(struct pull_ctx *ctx, keel_error_t *err)
{
	int n = ctx->o && ctx->o->parallel > 0 ? ctx->o->parallel : 3;
	pthread_t t[64];
	int started = 0;
	if (n > 64)
		n = 64;
	pthread_mutex_init(&ctx->lock, NULL);
	for (int i = 0; i < n && (size_t)i < ctx->n; i++) {
		if (pthread_create(&t[started], NULL, worker, ctx) != 0)
			break;
		started++;
	}
	if (!started && ctx->n)
		worker(ctx);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&ctx->lock);
	if (ctx->failed) {
		*err = ctx->err;
		return -1;
	}
	return 0;
}
