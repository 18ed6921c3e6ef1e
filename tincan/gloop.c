#include "gloop.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"

struct tc_gloop_fd {
  uv_poll_t h;
  struct tc_gloop *g;
  int fd;
  int uv_events;    /* wanted this iteration */
  int active;       /* what uv_poll is started with (0: stopped) */
  int revents;      /* UV_* seen since the last prepare */
  bool seen;
  struct tc_gloop_fd *next;
};

static void fd_closed(uv_handle_t *h)
{
  free(h->data);
}

static void fd_cb(uv_poll_t *h, int status, int events)
{
  struct tc_gloop_fd *w = h->data;
  if (status < 0)
    w->revents |= UV_READABLE | UV_WRITABLE; /* let GLib see the error */
  else
    w->revents |= events;
}

static void timer_cb(uv_timer_t *t)
{
  (void)t; /* only wakes the loop; dispatching happens in check_cb */
}

static void drop_watch(struct tc_gloop_fd *w)
{
  uv_close((uv_handle_t *)&w->h, fd_closed);
}

static int to_uv(gushort ev)
{
  int e = 0;
  if (ev & (G_IO_IN | G_IO_PRI | G_IO_HUP | G_IO_ERR))
    e |= UV_READABLE;
  if (ev & G_IO_OUT)
    e |= UV_WRITABLE;
  return e;
}

static void prepare_cb(uv_prepare_t *p)
{
  struct tc_gloop *g = p->data;
  gint timeout = -1;

  if (g->reset) {
    for (struct tc_gloop_fd *w = g->watch, *nx; w; w = nx) {
      nx = w->next;
      drop_watch(w);
    }
    g->watch = NULL;
    g->reset = false;
  }

  g_main_context_prepare(g->ctx, &g->max_priority);
  for (;;) {
    int n = g_main_context_query(g->ctx, g->max_priority, &timeout, g->fds, g->cap);
    if (n <= g->cap) {
      g->nfds = n;
      break;
    }
    GPollFD *nf = realloc(g->fds, (size_t)n * sizeof *nf);
    if (!nf) {
      g->nfds = g->cap;
      break;
    }
    g->fds = nf;
    g->cap = n;
  }

  for (struct tc_gloop_fd *w = g->watch; w; w = w->next)
    w->seen = false;
  for (int i = 0; i < g->nfds; i++) {
    GPollFD *pf = &g->fds[i];
    pf->revents = 0;
    struct tc_gloop_fd *w;
    for (w = g->watch; w && w->fd != pf->fd; w = w->next)
      ;
    if (!w) {
      w = calloc(1, sizeof *w);
      if (!w)
        continue;
      if (uv_poll_init(g->loop, &w->h, pf->fd) != 0) {
        free(w);
        continue;
      }
      w->h.data = w;
      w->g = g;
      w->fd = pf->fd;
      w->next = g->watch;
      g->watch = w;
    }
    if (!w->seen) {
      w->seen = true;
      w->revents = 0;
      w->uv_events = 0;
    }
    w->uv_events |= to_uv(pf->events);
  }
  /* Start/adjust the watchers still wanted, close the others. */
  for (struct tc_gloop_fd **pw = &g->watch; *pw;) {
    struct tc_gloop_fd *w = *pw;
    if (!w->seen) {
      *pw = w->next;
      drop_watch(w);
      continue;
    }
    /* uv_poll_start() always re-registers with epoll (a syscall), so only
     * call it when the wanted events changed. */
    if (w->uv_events != w->active) {
      if (w->uv_events)
        uv_poll_start(&w->h, w->uv_events, fd_cb);
      else
        uv_poll_stop(&w->h);
      w->active = w->uv_events;
    }
    pw = &w->next;
  }
  if (timeout >= 0)
    uv_timer_start(&g->timer, timer_cb, (uint64_t)timeout, 0);
  else
    uv_timer_stop(&g->timer);
  g->prepared = true;
}

static void check_cb(uv_check_t *c)
{
  struct tc_gloop *g = c->data;
  if (!g->prepared)
    return;
  g->prepared = false;
  for (int i = 0; i < g->nfds; i++) {
    GPollFD *pf = &g->fds[i];
    for (struct tc_gloop_fd *w = g->watch; w; w = w->next)
      if (w->fd == pf->fd) {
        if (w->revents & UV_READABLE)
          pf->revents |= pf->events & (G_IO_IN | G_IO_PRI | G_IO_HUP | G_IO_ERR);
        if (w->revents & UV_WRITABLE)
          pf->revents |= pf->events & G_IO_OUT;
        break;
      }
  }
  for (struct tc_gloop_fd *w = g->watch; w; w = w->next)
    w->revents = 0;
  if (g_main_context_check(g->ctx, g->max_priority, g->fds, g->nfds))
    g_main_context_dispatch(g->ctx);
}

int tc_gloop_init(struct tc_gloop *g, uv_loop_t *loop, GMainContext *ctx)
{
  memset(g, 0, sizeof *g);
  g->loop = loop;
  g->ctx = ctx;
  if (!g_main_context_acquire(ctx))
    return IPOP_EBUSY;
  uv_prepare_init(loop, &g->prepare);
  uv_check_init(loop, &g->check);
  uv_timer_init(loop, &g->timer);
  g->prepare.data = g->check.data = g->timer.data = g;
  uv_prepare_start(&g->prepare, prepare_cb);
  uv_check_start(&g->check, check_cb);
  /* Prepare/check handles do not keep the loop alive by themselves. */
  uv_unref((uv_handle_t *)&g->prepare);
  uv_unref((uv_handle_t *)&g->check);
  uv_unref((uv_handle_t *)&g->timer);
  return 0;
}

void tc_gloop_reset(struct tc_gloop *g)
{
  /* Now, not at the next prepare: the caller is about to close GLib fds,
   * and epoll can only forget an fd while it is still open (a registration
   * of a closed fd whose file lives on in a dup would stay behind). */
  for (struct tc_gloop_fd *w = g->watch, *nx; w; w = nx) {
    nx = w->next;
    drop_watch(w);
  }
  g->watch = NULL;
  g->reset = false;
}

void tc_gloop_close(struct tc_gloop *g)
{
  for (struct tc_gloop_fd *w = g->watch, *nx; w; w = nx) {
    nx = w->next;
    drop_watch(w);
  }
  g->watch = NULL;
  uv_close((uv_handle_t *)&g->prepare, NULL);
  uv_close((uv_handle_t *)&g->check, NULL);
  uv_close((uv_handle_t *)&g->timer, NULL);
  free(g->fds);
  g->fds = NULL;
  g_main_context_release(g->ctx);
}
