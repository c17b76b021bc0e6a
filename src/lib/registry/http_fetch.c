/* Remote ADD's download (see http_fetch.h): one easy handle per call, the body written
 * straight to the caller's file. */
#include "registry/http_fetch.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "registry/regclient.h"

struct sink {
	int fd;
	int err; /* errno of a failed write */
};

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, done = 0;
	while (done < n) {
		ssize_t w = write(s->fd, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->err = w < 0 ? errno : EIO;
			return 0; /* curl then fails with CURLE_WRITE_ERROR */
		}
		done += (size_t)w;
	}
	return n;
}

int keel_http_fetch(const char *url, int fd, int64_t *mtime, keel_error_t *err)
{
	CURL *h = keel_reg_curl_new(err);
	struct sink s = {.fd = fd};
	curl_off_t ft = -1;
	long code = 0;
	CURLcode rc;
	*mtime = -1;
	if (!h)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "keel-build");
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
	keel_reg_curl_free(h);
	if (rc == CURLE_WRITE_ERROR && s.err)
		return keel_err(err, s.err, "GET %s: writing: %s", url, strerror(s.err));
	if (rc != CURLE_OK)
		return keel_err(err, EIO, "GET %s: %s", url, curl_easy_strerror(rc));
	if (code >= 400)
		return keel_err(err, code == 404 ? ENOENT : EIO, "GET %s: HTTP status %ld", url,
				code);
	*mtime = ft >= 0 ? (int64_t)ft : -1;
	return 0;
}
