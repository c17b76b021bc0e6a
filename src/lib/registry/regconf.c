/* Which URL serves a registry: mirrors, insecure registries and CAs from the registries
 * config file (docs/registry.md):
 *
 *   { "registries": {
 *       "docker.io":       { "mirrors": ["http://127.0.0.1:5000"] },
 *       "myreg:5000":      { "insecure": true },
 *       "127.0.0.1:5443":  { "insecure": false, "ca": "/path/ca.pem" } } }
 *
 * Like Docker, localhost and 127.0.0.0/8 are insecure by default: TLS without verification,
 * then plain HTTP when the registry does not speak TLS. CAs are also found as
 * <certs.d>/<host:port>/ca.crt under $KEEL_CERTS_DIR, /etc/keel/certs.d, /etc/docker/certs.d. */
#include "registry/regclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

bool keel_reg_is_loopback(const char *host)
{
	char h[256];
	struct in_addr a;
	const char *colon;
	size_t n;
	if (host[0] == '[')
		return strncmp(host, "[::1]", 5) == 0;
	colon = strrchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if (n >= sizeof(h))
		return false;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcmp(h, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static json_t *load_config(keel_error_t *err)
{
	const char *path = getenv("KEEL_REGISTRIES_CONFIG");
	json_error_t jerr;
	json_t *j;
	if (!path || !*path)
		path = "/etc/keel/registries.json";
	if (access(path, F_OK) < 0)
		return json_object();
	j = json_load_file(path, 0, &jerr);
	if (!j || !json_is_object(j)) {
		keel_err(err, EINVAL, "%s: %s", path, j ? "not a JSON object" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static char *find_ca(const char *domain)
{
	const char *dirs[] = { getenv("KEEL_CERTS_DIR"), "/etc/keel/certs.d",
			       "/etc/docker/certs.d" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *p = NULL;
		if (!dirs[i] || !*dirs[i] || asprintf(&p, "%s/%s/ca.crt", dirs[i], domain) < 0)
			continue;
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int add_endpoint(struct keel_reg_endpoint *v, size_t *n, const char *url, bool verify,
			bool fallback, const char *ca, bool mirror)
{
	struct keel_reg_endpoint *e = &v[(*n)++];
	size_t len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	e->url = strndup(url, len);
	e->verify = verify;
	e->fallback_http = fallback;
	e->ca_file = ca ? strdup(ca) : NULL;
	e->mirror = mirror;
	return e->url && (!ca || e->ca_file) ? 0 : -1;
}

struct keel_reg_endpoint *keel_reg_endpoints(const char *domain, size_t *n, keel_error_t *err)
{
	cleanup_json json_t *conf = load_config(err);
	cleanup_free char *ca = NULL, *origin = NULL;
	json_t *reg, *mirrors, *ins, *m;
	struct keel_reg_endpoint *v;
	bool insecure;
	size_t i;
	if (!conf)
		return NULL;
	reg = json_object_get(json_object_get(conf, "registries"), domain);
	mirrors = json_object_get(reg, "mirrors");
	ins = json_object_get(reg, "insecure");
	insecure = json_is_boolean(ins) ? json_is_true(ins) : keel_reg_is_loopback(domain);
	ca = json_is_string(json_object_get(reg, "ca"))
		 ? strdup(json_string_value(json_object_get(reg, "ca")))
		 : find_ca(domain);
	v = calloc(json_array_size(mirrors) + 1, sizeof(*v));
	if (!v) {
		keel_err(err, ENOMEM, "registries");
		return NULL;
	}
	*n = 0;
	json_array_foreach (mirrors, i, m) {
		const char *u = json_string_value(m);
		bool plain = u && strncmp(u, "http://", 7) == 0;
		if (!u || (!plain && strncmp(u, "https://", 8) != 0)) {
			keel_reg_endpoints_free(v, *n);
			keel_err(err, EINVAL,
				 "registries config: %s mirror %zu is not an http(s) URL", domain,
				 i);
			return NULL;
		}
		if (add_endpoint(v, n, u, true, false, NULL, true) < 0)
			goto oom;
	}
	if (strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0)
		origin = strdup("https://registry-1.docker.io");
	else if (asprintf(&origin, "https://%s", domain) < 0)
		origin = NULL;
	if (!origin || add_endpoint(v, n, origin, !insecure, insecure, ca, false) < 0)
		goto oom;
	return v;
oom:
	keel_reg_endpoints_free(v, *n);
	keel_err(err, ENOMEM, "registries");
	return NULL;
}

void keel_reg_endpoints_free(struct keel_reg_endpoint *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].url);
		free(v[i].ca_file);
	}
	free(v);
}
