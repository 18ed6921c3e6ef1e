/* http.h: libmicrohttpd serves; the event loop renders.
 *
 * Hand-off between the two threads.  libmicrohttpd runs its own thread
 * (MHD_USE_INTERNAL_POLLING_THREAD with epoll): it parses every request,
 * applies the limits below and never touches the controller's state.  The
 * libuv loop renders a snapshot (the /metrics text and the /api/map JSON)
 * from its state on a 1 s timer and swaps it in under a mutex; the HTTP
 * thread copies the current snapshot into its response under the same
 * mutex.  So a slow or abusive client costs the HTTP thread only, and the
 * loop never waits for a socket: the mutex is held for a pointer swap or
 * one memcpy.  While nobody asks (no request for 60 s) the snapshot is
 * renewed every 10 s only; /metrics is then at most 10 s old once, and
 * at most 1 s old while Prometheus scrapes or a map page is open.
 *
 * Only GET and HEAD, on known paths; a loopback listener answers only to a
 * loopback Host (DNS rebinding).  Limits: HTTP_MAX_CONNS connections,
 * HTTP_MAX_PER_IP from one address, HTTP_MEM_LIMIT bytes of request per
 * connection (larger headers are answered 4xx by libmicrohttpd), idle
 * connections closed after HTTP_TIMEOUT_S. */
#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "http_route.h"
#include "links.h"
#include "log.h"
#include "metrics.h"
#include "promtext.h"
#include "tincan.h"

enum {
  HTTP_MAX_CONNS = 64,
  HTTP_MAX_PER_IP = 16,
  HTTP_MEM_LIMIT = 32 * 1024,
  HTTP_TIMEOUT_S = 10,
  HTTP_RENDER_MS = 1000,        /* renew the snapshot while someone asks */
  HTTP_IDLE_RENDER_MS = 10000,  /* ... and while nobody does */
  HTTP_ACTIVE_MS = 60000,       /* "someone asks": a request this recently */
  HTTP_PROCESS_MS = 5000,       /* ask tincan for its process numbers */
  HTTP_STATS_MS = 2000,         /* ... and, while someone asks, for link stats */
};

/* Status classes counted for ipop_http_requests_total. */
static const int counted[] = { 200, 400, 404, 405, 421, 500, 503 };
#define N_COUNTED (sizeof counted / sizeof counted[0])

struct ctrl_http {
  struct ctrl *c;
  struct MHD_Daemon *mhd;
  bool loopback_only;
  uv_timer_t timer;
  uint64_t rendered_ms, process_asked_ms;
  struct ctl_process_info tincan;
  bool has_tincan;
  bool process_in_flight, stats_in_flight;
  uint64_t stats_asked_ms;

  /* shared with the HTTP thread: the lock guards the two texts */
  pthread_mutex_t lock;
  char *metrics, *map;
  size_t metrics_len, map_len;
  _Atomic uint64_t last_request_ms;
  _Atomic uint64_t requests[N_COUNTED];
};

/* ---- the HTTP thread ---------------------------------------------------- */

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static void count(struct ctrl_http *h, int status)
{
  for (size_t i = 0; i < N_COUNTED; i++)
    if (counted[i] == status)
      atomic_fetch_add(&h->requests[i], 1);
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, int status,
                                   struct MHD_Response *r, const char *type)
{
  if (!r)
    return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Content-Security-Policy", csp);
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  if (status == 405)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
  struct ctrl_http *h = cls;
  (void)version; (void)upload_data; (void)upload_size; (void)con_cls;
  atomic_store(&h->last_request_ms, ipop_now_ms());
  struct http_answer a;
  http_route(method, url, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"),
             h->loopback_only, &a);
  if (a.status != 200) {
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s\n", a.status, a.why);
    count(h, a.status);
    return send_answer(conn, a.status,
                       MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY),
                       "text/plain; charset=utf-8");
  }
  if (a.target == HTTP_T_ASSET) {
    const struct http_asset *as = &http_assets[a.asset];
    count(h, 200);
    return send_answer(conn, 200,
                       MHD_create_response_from_buffer(as->len, (void *)as->data,
                                                       MHD_RESPMEM_PERSISTENT),
                       as->content_type);
  }
  bool metrics = a.target == HTTP_T_METRICS;
  pthread_mutex_lock(&h->lock);
  const char *text = metrics ? h->metrics : h->map;
  size_t len = metrics ? h->metrics_len : h->map_len;
  struct MHD_Response *r =
      text ? MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY) : NULL;
  pthread_mutex_unlock(&h->lock);
  if (!text) {
    static const char busy[] = "503 not ready yet\n";
    count(h, 503);
    return send_answer(conn, 503,
                       MHD_create_response_from_buffer(sizeof busy - 1, (void *)busy,
                                                       MHD_RESPMEM_PERSISTENT),
                       "text/plain; charset=utf-8");
  }
  count(h, 200);
  return send_answer(conn, 200, r,
                     metrics ? "text/plain; version=0.0.4; charset=utf-8"
                             : "application/json");
}

/* ---- the event loop ----------------------------------------------------- */

/* The listener's own counters, after the controller's families. */
static void render_http(struct ctrl_http *h, struct promtext *p)
{
  promtext_family(p, "ipop_http_requests_total", "counter",
                  "Requests to this listener, by the status code answered");
  for (size_t i = 0; i < N_COUNTED; i++) {
    char code[8];
    snprintf(code, sizeof code, "%d", counted[i]);
    struct prom_label l = { .name = "code", .value = code };
    promtext_u64(p, "ipop_http_requests_total", &l, 1, atomic_load(&h->requests[i]));
  }
}

static void render(struct ctrl_http *h)
{
  size_t ml = 0, jl = 0, hl = 0;
  char *m = ctrl_metrics_render(h->c, h->has_tincan ? &h->tincan : NULL, &ml);
  char *j = ctrl_map_render(h->c, &jl);
  struct promtext p = { 0 };
  render_http(h, &p);
  char *ht = promtext_take(&p, &hl);
  if (m && ht) {
    char *both = realloc(m, ml + hl + 1);
    if (both) {
      memcpy(both + ml, ht, hl + 1);
      m = both;
      ml += hl;
    }
  }
  free(ht);
  if (!m || !j) {
    static struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(60000, 1);
    ipop_log_rl(&rl, IPOP_LOG_WARN, "http", "out of memory rendering /metrics or /api/map");
  }
  pthread_mutex_lock(&h->lock);
  char *old_m = m ? h->metrics : NULL, *old_j = j ? h->map : NULL;
  if (m) {
    h->metrics = m;
    h->metrics_len = ml;
  }
  if (j) {
    h->map = j;
    h->map_len = jl;
  }
  pthread_mutex_unlock(&h->lock);
  free(old_m);
  free(old_j);
}

static void process_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  struct ctrl_http *h = c->http;
  if (!h)
    return; /* stopped meanwhile */
  h->process_in_flight = false;
  h->has_tincan = status == 0;
  if (status == 0)
    h->tincan = *(const struct ctl_process_info *)result;
}

/* Fresh link stats (RTT, bytes, pair type) while a map is open or
 * Prometheus scrapes: tincan's own stats event comes every 30 s only. */
static void stats_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  if (!c->http)
    return;
  c->http->stats_in_flight = false;
  if (status == 0 && !c->stopping)
    ctrl_on_stats(c, result);
}

static void timer_cb(uv_timer_t *t)
{
  struct ctrl_http *h = t->data;
  uint64_t now = ipop_now_ms();
  bool active = now - atomic_load(&h->last_request_ms) < HTTP_ACTIVE_MS;
  if (!active && now - h->rendered_ms < HTTP_IDLE_RENDER_MS)
    return;
  if (active && h->c->n_nets && !h->stats_in_flight && now - h->stats_asked_ms >= HTTP_STATS_MS &&
      h->c->ep && h->c->tincan_state == CTL_DAEMON_UP) {
    struct ctl_link_stats_query q = { .has_overlay_id = false };
    h->stats_asked_ms = now;
    if (ctrl_tincan_send(h->c, "query_link_stats", &q, 2000, stats_answer, h->c) == 0)
      h->stats_in_flight = true;
  }
  if (!h->process_in_flight && now - h->process_asked_ms >= HTTP_PROCESS_MS && h->c->ep) {
    struct ctl_empty e = { 0 };
    h->process_asked_ms = now;
    if (ctrl_tincan_send(h->c, "query_process", &e, 2000, process_answer, h->c) == 0)
      h->process_in_flight = true;
    else
      h->has_tincan = false;
  }
  h->rendered_ms = now;
  render(h);
}

static void free_http(uv_handle_t *t)
{
  struct ctrl_http *h = t->data;
  pthread_mutex_destroy(&h->lock);
  free(h->metrics);
  free(h->map);
  free(h);
}

int ctrl_http_start(struct ctrl *c, char *why, size_t whylen)
{
  const char *listen = c->cfg.ctrl.http.listen;
  if (!listen[0])
    return 0;
  struct sockaddr_storage ss;
  if (ctrl_parse_listen(listen, &ss, why, whylen) != 0)
    return IPOP_EINVAL;
  struct ctrl_http *h = calloc(1, sizeof *h);
  if (!h)
    return IPOP_ENOMEM;
  h->c = c;
  pthread_mutex_init(&h->lock, NULL);
  if (ss.ss_family == AF_INET)
    h->loopback_only = (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
  else
    h->loopback_only = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
  render(h); /* the first snapshot is there before the first request */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  h->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned)HTTP_MAX_PER_IP, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEM_LIMIT,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      (unsigned)16, MHD_OPTION_END);
  if (!h->mhd) {
    ipop_why(why, whylen, "%s: cannot listen (address in use or not ours?)", listen);
    pthread_mutex_destroy(&h->lock);
    free(h->metrics);
    free(h->map);
    free(h);
    return IPOP_ESYS;
  }
  uv_timer_init(c->loop, &h->timer);
  h->timer.data = h;
  uv_timer_start(&h->timer, timer_cb, HTTP_RENDER_MS, HTTP_RENDER_MS);
  c->http = h;
  LOG_INFO("http", "metrics on http://%s/metrics, overlay map on http://%s/", listen, listen);
  return 0;
}

void ctrl_http_stop(struct ctrl *c)
{
  struct ctrl_http *h = c->http;
  if (!h)
    return;
  c->http = NULL;
  MHD_stop_daemon(h->mhd); /* joins the HTTP thread */
  h->mhd = NULL;
  uv_timer_stop(&h->timer);
  uv_close((uv_handle_t *)&h->timer, free_http);
}
