/* The HTTP side of the registry client: one libcurl easy handle per thread (connections are
 * reused per handle), the /v2/ ping that picks an endpoint and learns its challenge, and
 * authenticated requests with one retry after a stale token. */
#include "registry/regclient.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "util/cleanup.h"

#define ERR_BODY_MAX (64 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *keel_reg_curl_new(keel_error_t *err)
{
	CURL *h;
	pthread_once(&curl_once, curl_init);
	h = curl_easy_init();
	if (!h)
		keel_err(err, ENOMEM, "curl");
	return h;
}

void keel_reg_curl_free(CURL *h)
{
	if (h)
		curl_easy_cleanup(h);
}

void keel_reg_resp_clear(struct keel_reg_resp *r)
{
	free(r->body);
	free(r->location);
	free(r->www_auth);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->content_range0 = -1;
}

struct xfer {
	const struct keel_reg_req *req;
	struct keel_reg_resp *resp;
	size_t max;
	int64_t fd_sent;
};

static char *trimmed(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	return strndup(v, n);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct keel_reg_resp *r = x->resp;
	size_t n = size * nitems;
	const char *colon = memchr(buf, ':', n);
	cleanup_free char *v = NULL;
	size_t klen;
	if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
		/* a new response (after a redirect or 100-continue): forget the last one's headers
		 */
		const char *sp = memchr(buf, ' ', n);
		free(r->location);
		free(r->www_auth);
		r->location = r->www_auth = NULL;
		r->content_type[0] = r->digest[0] = '\0';
		r->content_length = r->content_range0 = -1;
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (!colon)
		return n;
	klen = (size_t)(colon - buf);
	v = trimmed(colon + 1, n - klen - 1);
	if (!v)
		return 0;
#define IS(k) (klen == strlen(k) && !strncasecmp(buf, k, klen))
	if (IS("content-type"))
		snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)strcspn(v, ";"), v);
	else if (IS("docker-content-digest"))
		snprintf(r->digest, sizeof(r->digest), "%s", v);
	else if (IS("location") && !r->location)
		r->location = steal_pointer(&v);
	else if (IS("www-authenticate") && !r->www_auth)
		r->www_auth = steal_pointer(&v);
	else if (IS("content-length"))
		r->content_length = strtoll(v, NULL, 10);
	else if (IS("content-range") && !strncmp(v, "bytes ", 6))
		r->content_range0 = strtoll(v + 6, NULL, 10);
#undef IS
	return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct keel_reg_resp *r = x->resp;
	size_t n = size * nmemb;
	char *nb;
	if (r->status >= 200 && r->status < 300 && x->req->sink)
		return x->req->sink(buf, n, x->req->sink_ud);
	if (r->len + n > x->max)
		return 0; /* CURLE_WRITE_ERROR; the caller sees the cap */
	nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, buf, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t want = size * nitems;
	ssize_t n;
	if ((int64_t)want > x->req->body_fd_len - x->fd_sent)
		want = (size_t)(x->req->body_fd_len - x->fd_sent);
	if (!want)
		return 0;
	n = read(x->req->body_fd, buf, want);
	if (n <= 0)
		return CURL_READFUNC_ABORT;
	x->fd_sent += n;
	return (size_t)n;
}

static char *full_url(struct keel_reg_client *c, const char *url)
{
	char *out = NULL;
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		return strdup(url);
	return asprintf(&out, "%s%s", c->ep.url, url) < 0 ? NULL : out;
}

static void set_tls(CURL *h, const struct keel_reg_endpoint *ep)
{
	if (!ep->verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ep->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ep->ca_file);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *v)
{
	char buf[4096];
	if (!v)
		return l;
	snprintf(buf, sizeof(buf), "%s: %s", name, v);
	return curl_slist_append(l, buf);
}

static void set_method(CURL *h, const struct keel_reg_req *req, struct xfer *x)
{
	const char *m = req->method ? req->method : "GET";
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
		if (!strcmp(m, "HEAD"))
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (!req->body && req->body_fd >= 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_fd_len);
	} else {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

/* One exchange with the given Authorization value (or none). */
int keel_reg_perform(struct keel_reg_client *c, const struct keel_reg_req *req, const char *auth,
		     struct keel_reg_resp *resp, keel_error_t *err)
{
	CURL *h = req->curl ? req->curl : c->curl;
	struct xfer x = { .req = req,
			  .resp = resp,
			  .max = req->max_body ? req->max_body : ERR_BODY_MAX };
	cleanup_free char *url = full_url(c, req->url);
	struct curl_slist *hdrs = NULL;
	char range[64], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	keel_reg_resp_clear(resp);
	if (!url)
		return keel_err(err, ENOMEM, "request");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "keel");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled transfer (nothing for 60 s) is a dropped connection */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	set_tls(h, &c->ep);
	set_method(h, req, &x);
	hdrs = add_header(hdrs, "Accept", req->accept);
	hdrs = add_header(hdrs, "Content-Type", req->content_type);
	hdrs = add_header(hdrs, "Content-Range", req->content_range);
	hdrs = add_header(hdrs, "Authorization", auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (req->range_from > 0) {
		snprintf(range, sizeof(range), "%lld-", (long long)req->range_from);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	resp->curl_code = (int)rc;
	if (rc == CURLE_OK)
		return 0;
	if (rc == CURLE_WRITE_ERROR && resp->len + 1 > x.max &&
	    !(resp->status / 100 == 2 && req->sink))
		return keel_err(err, EFBIG, "%s: response larger than %zu bytes", url, x.max);
	if (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK)
		return keel_err(err, ECANCELED, "%s: transfer stopped", url);
	return keel_err(err, rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : ECONNRESET, "%s: %s", url,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

char *keel_reg_basic(const char *user, const char *pass)
{
	cleanup_free char *plain = NULL;
	char *out;
	size_t n;
	if (asprintf(&plain, "%s:%s", user, pass) < 0)
		return NULL;
	n = strlen(plain);
	out = malloc(6 + n / 3 * 4 + 8);
	if (!out)
		return NULL;
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	return out;
}

static char *auth_value(struct keel_reg_client *c, const char *scope, CURL *h, keel_error_t *err,
			int *failed)
{
	cleanup_free char *tok = NULL;
	char *out = NULL;
	*failed = 0;
	if (!strcmp(c->chal.scheme, "basic") && c->user)
		return keel_reg_basic(c->user, c->pass);
	if (strcmp(c->chal.scheme, "bearer") != 0)
		return NULL;
	if (keel_reg_token(c, scope, &tok, h, err) < 0) {
		*failed = 1;
		return NULL;
	}
	if (tok && asprintf(&out, "Bearer %s", tok) < 0)
		out = NULL;
	return out;
}

static void forget_token(struct keel_reg_client *c, const char *scope)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_tokens; i++)
		if (!strcmp(c->tokens[i].scope, scope ? scope : ""))
			c->tokens[i].expires = 0;
	pthread_mutex_unlock(&c->lock);
}

int keel_reg_do(struct keel_reg_client *c, const struct keel_reg_req *req,
		struct keel_reg_resp *resp, keel_error_t *err)
{
	CURL *h = req->curl ? req->curl : c->curl;
	for (int attempt = 0; attempt < 2; attempt++) {
		cleanup_free char *auth = NULL;
		int failed;
		auth = auth_value(c, req->scope, h, err, &failed);
		if (failed)
			return -1;
		if (keel_reg_perform(c, req, auth, resp, err) < 0)
			return -1;
		if (resp->status != 401 || !resp->www_auth || attempt || req->body_fd >= 0)
			return 0;
		/* a stale token, or a registry that asks for auth only on some paths */
		pthread_mutex_lock(&c->lock);
		{
			struct keel_challenge ch = { 0 };
			if (keel_challenge_parse(resp->www_auth, &ch) == 0 &&
			    (strcmp(ch.scheme, c->chal.scheme) != 0 || !auth)) {
				keel_challenge_clear(&c->chal);
				c->chal = ch;
			} else {
				keel_challenge_clear(&ch);
			}
		}
		pthread_mutex_unlock(&c->lock);
		if (!strcmp(c->chal.scheme, "basic") && (!c->user || auth))
			return 0;
		forget_token(c, req->scope);
	}
	return 0;
}

static char *lower_code(const char *code)
{
	char *s = strdup(code);
	for (char *p = s; p && *p; p++)
		*p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
	return s;
}

int keel_reg_status_err(const struct keel_reg_resp *r, const char *what, keel_error_t *err)
{
	int errnum = r->status == 401 || r->status == 403 ? EACCES
		     : r->status == 404			  ? ENOENT
							  : EIO;
	cleanup_json json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	/* Docker prints authentication failures alone, whatever was being fetched */
	if (errnum == EACCES)
		what = NULL;
	if (code) {
		cleanup_free char *lc = lower_code(code);
		if (r->status == 401 && !strcmp(code, "UNAUTHORIZED"))
			msg = msg && *msg ? msg : "authentication required";
		return keel_err_user(err, errnum, "%s%s%s: %s", what ? what : "", what ? ": " : "",
				     lc ? lc : code, msg ? msg : "");
	}
	if (r->status == 401)
		return keel_err_user(err, EACCES, "%s%sunauthorized: authentication required",
				     what ? what : "", what ? ": " : "");
	return keel_err_user(err, errnum, "%s%sunexpected HTTP status %ld", what ? what : "",
			     what ? ": " : "", r->status);
}
