/* The registry module's internals: one HTTP client per registry (libcurl), its endpoint
 * (registries config: mirrors, insecure, CA), authentication (config.json credentials, Basic,
 * Bearer tokens cached until expiry) and the compressed-blob memory push uses. */
#ifndef KEEL_REGCLIENT_H
#define KEEL_REGCLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/registry.h"
#include "store/digest.h"

typedef void CURL;

/* ---- registries config (regconf.c) ---- */

struct keel_reg_endpoint {
	char *url;   /* "https://registry-1.docker.io" or "http://127.0.0.1:5000" (no slash) */
	bool verify; /* verify the TLS certificate */
	bool fallback_http; /* insecure: plain HTTP when TLS fails at ping */
	char *ca_file;	    /* or NULL */
	bool mirror;
};

/* The endpoints to try for registry domain (mirrors first, then the registry itself), from
 * $KEEL_REGISTRIES_CONFIG or /etc/keel/registries.json. *n set; caller frees with
 * keel_reg_endpoints_free. */
struct keel_reg_endpoint *keel_reg_endpoints(const char *domain, size_t *n, keel_error_t *err);
void keel_reg_endpoints_free(struct keel_reg_endpoint *v, size_t n);

/* True for localhost and 127.0.0.0/8, ::1 (with any port). */
bool keel_reg_is_loopback(const char *host);

/* ---- auth (auth.c) ---- */

struct keel_challenge {
	char scheme[16]; /* "bearer", "basic" or "" when the registry wants none */
	char *realm, *service;
};
void keel_challenge_clear(struct keel_challenge *c);
/* Parses a WWW-Authenticate value. */
int keel_challenge_parse(const char *hdr, struct keel_challenge *c);

/* user and pass for domain from config.json (1 found, 0 none). Caller frees both. */
int keel_auth_lookup(const char *domain, char **user, char **pass, keel_error_t *err);
/* Writes or (user NULL) removes server_key in config.json, mode 0600, atomically. Removing
 * a missing key returns 0; found (1) otherwise. */
int keel_auth_store(const char *server_key, const char *user, const char *pass, keel_error_t *err);

/* ---- client (client.c) ---- */

struct keel_token {
	char *scope, *token;
	int64_t expires; /* unix seconds */
};

struct keel_reg_client {
	char *domain; /* as in references: "docker.io", "127.0.0.1:5000" */
	struct keel_reg_endpoint ep;
	char *user, *pass;
	struct keel_challenge chal;
	pthread_mutex_t lock; /* tokens */
	struct keel_token *tokens;
	size_t n_tokens;
	CURL *curl;		       /* the caller thread's handle; workers make their own */
	struct keel_reg_endpoint *eps; /* every endpoint of the domain; ep is a copy of one */
	size_t n_eps, cur;
	bool mirrors, explicit_creds;
};

struct keel_reg_req {
	const char *method; /* GET when NULL */
	const char *url;    /* absolute, or a path starting with "/v2/" */
	const char *scope;  /* auth scope ("repository:a/b:pull") or NULL */
	const char *accept, *content_type, *content_range;
	const void *body; /* request body in memory */
	size_t body_len;
	int body_fd; /* or from this fd (when >= 0 and body NULL) */
	int64_t body_fd_len;
	int64_t range_from; /* > 0: Range: bytes=N- */
	/* 2xx bodies go here when set (else into resp.body, at most max_body bytes); a short
	 * return aborts the transfer */
	size_t (*sink)(const void *buf, size_t len, void *ud);
	void *sink_ud;
	size_t max_body;
	CURL *curl; /* NULL: the client's */
};

struct keel_reg_resp {
	long status;
	char *body;
	size_t len;
	char content_type[128];
	char digest[KEEL_DIGEST_SIZE]; /* Docker-Content-Digest */
	char *location;
	char *www_auth;
	int64_t content_length; /* -1 when unknown */
	int64_t content_range0; /* start of a 206 Content-Range, else -1 */
	int curl_code;		/* CURLcode of the transfer (0 ok) */
};
void keel_reg_resp_clear(struct keel_reg_resp *r);

/* Opens a client for domain: picks the first endpoint that answers GET /v2/ and learns its
 * authentication challenge, with credentials from config.json (or user/pass when given). */
struct keel_reg_client *keel_reg_client_new(const char *domain, const char *user, const char *pass,
					    bool mirrors, keel_error_t *err);
void keel_reg_client_free(struct keel_reg_client *c);
/* Moves a client on a mirror to the next endpoint that answers (a later mirror or the
 * registry itself), forgetting tokens: for a mirror that lacks the image. 0 moved, -1 none. */
int keel_reg_client_next(struct keel_reg_client *c, keel_error_t *err);

CURL *keel_reg_curl_new(keel_error_t *err);
void keel_reg_curl_free(CURL *h);

/* One request with authentication (a Bearer token for req->scope, fetched on demand and
 * cached; or Basic). Returns 0 when the exchange happened (any status: see resp->status) and
 * -1 with *err for transport failures (resp->curl_code tells which). */
int keel_reg_do(struct keel_reg_client *c, const struct keel_reg_req *req,
		struct keel_reg_resp *resp, keel_error_t *err);

/* One exchange with this Authorization value (or none): no challenge handling. */
int keel_reg_perform(struct keel_reg_client *c, const struct keel_reg_req *req, const char *auth,
		     struct keel_reg_resp *resp, keel_error_t *err);
/* "Basic <base64 user:pass>" (caller frees). */
char *keel_reg_basic(const char *user, const char *pass);

/* Turns a non-2xx response into Docker's message: "manifest unknown: manifest unknown",
 * "unauthorized: authentication required". Returns -1. */
int keel_reg_status_err(const struct keel_reg_resp *r, const char *what, keel_error_t *err);

/* A token for scope (maybe cached). 0 and *token NULL when the registry needs none. */
int keel_reg_token(struct keel_reg_client *c, const char *scope, char **token, CURL *h,
		   keel_error_t *err);

/* ---- remembered blobs (blobmeta.c): keel_store_migrate tables ---- */

/* The compressed blob pushed or pulled for diff_id with media_type (1 found, 0 none). */
int keel_regmeta_compressed(struct keel_store *s, const char *diff_id,
			    char digest[KEEL_DIGEST_SIZE], int64_t *size, char media_type[128],
			    keel_error_t *err);
int keel_regmeta_remember(struct keel_store *s, const char *diff_id, const char *digest,
			  int64_t size, const char *media_type, keel_error_t *err);
/* Repositories of registry domain known to hold digest ("a/b"); one found when 1. */
int keel_regmeta_source(struct keel_store *s, const char *digest, const char *domain,
			char repo[256], keel_error_t *err);
int keel_regmeta_add_source(struct keel_store *s, const char *digest, const char *domain,
			    const char *repo, keel_error_t *err);

/* ---- platforms (platform.c) ---- */

struct keel_platform {
	char os[32], arch[32], variant[32];
};
/* "os/arch[/variant]" or NULL for linux/<host arch>. */
int keel_platform_parse(const char *s, struct keel_platform *p, keel_error_t *err);
/* Index of the best manifest of ix (a parsed index JSON) for p, or -1 with a message that
 * lists what the index has. */
int keel_platform_select(json_t *index, const struct keel_platform *p, keel_error_t *err);

#endif
