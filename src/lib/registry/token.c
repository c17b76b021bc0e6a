/* Opening a client (the /v2/ ping that picks an endpoint and learns how it authenticates)
 * and the Bearer token flow of the distribution spec: GET <realm>?service=..&scope=.. with
 * Basic credentials when we have them; tokens cached per scope until they expire. */
#include "registry/regclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "util/cleanup.h"

/* realm?service=S&scope=A&scope=B: scope may hold several scopes separated by spaces (a
 * cross-repository mount needs pull on the source as well as push on the target). */
static char *token_url(const struct keel_challenge *ch, const char *scope, CURL *h)
{
	char *svc = ch->service ? curl_easy_escape(h, ch->service, 0) : NULL;
	size_t cap =
	    strlen(ch->realm) + (svc ? strlen(svc) : 0) + (scope ? 3 * strlen(scope) : 0) + 64;
	char *out = malloc(cap);
	const char *p = scope;
	char sep = strchr(ch->realm, '?') ? '&' : '?';
	size_t n;
	if (!out)
		goto done;
	n = (size_t)snprintf(out, cap, "%s", ch->realm);
	if (svc) {
		n += (size_t)snprintf(out + n, cap - n, "%cservice=%s", sep, svc);
		sep = '&';
	}
	while (p && *p) {
		size_t len = strcspn(p, " ");
		char *one = len ? curl_easy_escape(h, p, (int)len) : NULL;
		if (one) {
			n += (size_t)snprintf(out + n, cap - n, "%cscope=%s", sep, one);
			sep = '&';
		}
		curl_free(one);
		p += len;
		while (*p == ' ')
			p++;
	}
done:
	curl_free(svc);
	return out;
}

static const char *cached(struct keel_reg_client *c, const char *scope)
{
	int64_t now = time(NULL);
	for (size_t i = 0; i < c->n_tokens; i++)
		if (!strcmp(c->tokens[i].scope, scope) && c->tokens[i].expires > now)
			return c->tokens[i].token;
	return NULL;
}

static int remember(struct keel_reg_client *c, const char *scope, const char *tok, int64_t expires)
{
	struct keel_token *t;
	for (size_t i = 0; i < c->n_tokens; i++)
		if (!strcmp(c->tokens[i].scope, scope)) {
			char *nt = strdup(tok);
			if (!nt)
				return -1;
			free(c->tokens[i].token);
			c->tokens[i].token = nt;
			c->tokens[i].expires = expires;
			return 0;
		}
	t = realloc(c->tokens, (c->n_tokens + 1) * sizeof(*t));
	if (!t)
		return -1;
	c->tokens = t;
	t = &c->tokens[c->n_tokens];
	t->scope = strdup(scope);
	t->token = strdup(tok);
	t->expires = expires;
	if (!t->scope || !t->token) {
		free(t->scope);
		free(t->token);
		return -1;
	}
	c->n_tokens++;
	return 0;
}

static int fetch(struct keel_reg_client *c, const char *scope, CURL *h, char **out,
		 keel_error_t *err)
{
	struct keel_reg_resp r = { 0 };
	cleanup_free char *url = token_url(&c->chal, scope[0] ? scope : NULL, h);
	cleanup_json json_t *j = NULL;
	cleanup_free char *basic = c->user ? keel_reg_basic(c->user, c->pass) : NULL;
	struct keel_reg_req req = { .url = url, .body_fd = -1, .curl = h, .max_body = 1 << 20 };
	const char *tok;
	json_int_t ttl;
	int ret = -1;
	if (!url)
		return keel_err(err, ENOMEM, "token");
	/* the token endpoint takes Basic credentials (or none), never a token */
	if (keel_reg_perform(c, &req, basic, &r, err) < 0)
		return keel_err_wrap(err, "getting a token");
	if (r.status == 401 && c->user) {
		keel_err_user(err, EACCES, "unauthorized: incorrect username or password");
		goto out;
	}
	if (r.status != 200) {
		keel_reg_status_err(&r, NULL, err);
		goto out;
	}
	j = json_loads(r.body ? r.body : "", 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok) {
		keel_err(err, EPROTO, "token server %s: no token in the answer", c->chal.realm);
		goto out;
	}
	ttl = json_integer_value(json_object_get(j, "expires_in"));
	if (ttl < 60)
		ttl = 60; /* the spec's default and minimum */
	if (remember(c, scope, tok, (int64_t)time(NULL) + ttl - 5) < 0 || !(*out = strdup(tok))) {
		keel_err(err, ENOMEM, "token");
		goto out;
	}
	ret = 0;
out:
	keel_reg_resp_clear(&r);
	return ret;
}

int keel_reg_token(struct keel_reg_client *c, const char *scope, char **token, CURL *h,
		   keel_error_t *err)
{
	const char *t;
	int ret = 0;
	*token = NULL;
	if (!scope)
		scope = "";
	/* one fetch at a time: parallel layer workers share the first worker's token */
	pthread_mutex_lock(&c->lock);
	t = cached(c, scope);
	if (t)
		*token = strdup(t);
	else
		ret = fetch(c, scope, h, token, err);
	pthread_mutex_unlock(&c->lock);
	if (ret == 0 && !*token)
		return keel_err(err, ENOMEM, "token");
	return ret;
}

/* GET /v2/: 200 (open) or 401 with a challenge means a registry lives there. */
static int ping(struct keel_reg_client *c, keel_error_t *err)
{
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .url = "/v2/", .body_fd = -1 };
	int ret = keel_reg_perform(c, &req, NULL, &r, err);
	if (ret == 0 && r.status == 401 && r.www_auth) {
		if (keel_challenge_parse(r.www_auth, &c->chal) < 0)
			ret = keel_err(err, EPROTO, "%s: bad WWW-Authenticate: %s", c->ep.url,
				       r.www_auth);
	} else if (ret == 0 && r.status != 200) {
		ret =
		    keel_err(err, EPROTO, "%s/v2/: HTTP %ld: not a registry", c->ep.url, r.status);
	}
	keel_reg_resp_clear(&r);
	return ret;
}

static int use_endpoint(struct keel_reg_client *c, const struct keel_reg_endpoint *e,
			keel_error_t *err)
{
	free(c->ep.url);
	free(c->ep.ca_file);
	c->ep = *e;
	c->ep.url = strdup(e->url);
	c->ep.ca_file = e->ca_file ? strdup(e->ca_file) : NULL;
	if (!c->ep.url || (e->ca_file && !c->ep.ca_file))
		return keel_err(err, ENOMEM, "registry");
	if (ping(c, err) == 0)
		return 0;
	if (!e->fallback_http || strncmp(e->url, "https://", 8) != 0)
		return -1;
	/* insecure registry: plain HTTP when TLS did not work */
	free(c->ep.url);
	if (asprintf(&c->ep.url, "http://%s", e->url + 8) < 0) {
		c->ep.url = NULL;
		return keel_err(err, ENOMEM, "registry");
	}
	return ping(c, err);
}

/* Credentials for endpoint e: a mirror gets its own host's, never the registry's. */
static int endpoint_creds(struct keel_reg_client *c, const struct keel_reg_endpoint *e,
			  keel_error_t *err)
{
	cleanup_free char *host = NULL;
	if (c->explicit_creds)
		return 0;
	free(c->user);
	free(c->pass);
	c->user = c->pass = NULL;
	if (!e->mirror)
		return keel_auth_lookup(c->domain, &c->user, &c->pass, err) < 0 ? -1 : 0;
	host = keel_auth_server_key(e->url);
	if (!host)
		return keel_err(err, ENOMEM, "registry");
	return keel_auth_lookup(host, &c->user, &c->pass, err) < 0 ? -1 : 0;
}

static void forget_tokens(struct keel_reg_client *c)
{
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].scope);
		free(c->tokens[i].token);
	}
	free(c->tokens);
	c->tokens = NULL;
	c->n_tokens = 0;
}

/* The first endpoint from index `from` on that answers. */
static int select_from(struct keel_reg_client *c, size_t from, keel_error_t *err)
{
	for (size_t i = from; i < c->n_eps; i++) {
		if (c->eps[i].mirror && !c->mirrors)
			continue;
		keel_challenge_clear(&c->chal);
		forget_tokens(c);
		if (endpoint_creds(c, &c->eps[i], err) < 0)
			return -1;
		if (use_endpoint(c, &c->eps[i], err) == 0) {
			c->cur = i;
			return 0;
		}
	}
	return -1;
}

int keel_reg_client_next(struct keel_reg_client *c, keel_error_t *err)
{
	if (!c->ep.mirror)
		return -1;
	return select_from(c, c->cur + 1, err);
}

struct keel_reg_client *keel_reg_client_new(const char *domain, const char *user, const char *pass,
					    bool mirrors, keel_error_t *err)
{
	struct keel_reg_client *c = calloc(1, sizeof(*c));
	if (!c || !(c->domain = strdup(domain))) {
		free(c);
		keel_err(err, ENOMEM, "registry");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->mirrors = mirrors;
	if (user) {
		c->explicit_creds = true;
		c->user = strdup(user);
		c->pass = strdup(pass ? pass : "");
	}
	c->curl = keel_reg_curl_new(err);
	c->eps = c->curl ? keel_reg_endpoints(domain, &c->n_eps, err) : NULL;
	if (!c->eps || select_from(c, 0, err) < 0)
		goto fail;
	return c;
fail:
	keel_reg_client_free(c);
	return NULL;
}

void keel_reg_client_free(struct keel_reg_client *c)
{
	if (!c)
		return;
	forget_tokens(c);
	keel_reg_endpoints_free(c->eps, c->n_eps);
	keel_challenge_clear(&c->chal);
	free(c->ep.url);
	free(c->ep.ca_file);
	free(c->domain);
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->user);
	free(c->pass);
	keel_reg_curl_free(c->curl);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
