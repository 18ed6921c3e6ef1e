/* Running a GLib main context (libnice's) inside the libuv loop.
 *
 * One thread, no locks: before libuv polls (uv_prepare), we run
 * g_main_context_prepare/query and mirror GLib's fds into uv_poll handles
 * and its timeout into a uv_timer; after libuv polled (uv_check), we copy the
 * revents back and run g_main_context_check/dispatch.  libuv's poll then
 * sleeps on GLib's sources and its own at once, so an idle daemon sleeps.
 *
 * fd reuse: if GLib closes an fd and a new socket gets the same number
 * between two iterations, the stale epoll registration would be lost; and
 * an fd closed while a dup of it lives stays registered in epoll.  Call
 * tc_gloop_reset() right BEFORE anything that closes GLib fds (freeing a
 * NiceAgent): it drops every watcher at once (the fds are still open, so
 * epoll forgets them), and the next prepare re-registers from scratch. */
#ifndef IPOP_TINCAN_GLOOP_H
#define IPOP_TINCAN_GLOOP_H

#include <glib.h>
#include <stdbool.h>
#include <uv.h>

struct tc_gloop_fd;

struct tc_gloop {
  uv_loop_t *loop;
  GMainContext *ctx;
  uv_prepare_t prepare;
  uv_check_t check;
  uv_timer_t timer;
  GPollFD *fds;
  int nfds, cap;
  int max_priority;
  struct tc_gloop_fd *watch;   /* uv_poll handles, one per distinct fd */
  bool reset;
  bool prepared;
  int closing;                 /* handles still to close in tc_gloop_close */
};

int tc_gloop_init(struct tc_gloop *g, uv_loop_t *loop, GMainContext *ctx);
void tc_gloop_reset(struct tc_gloop *g);
/* Stop and close all handles (the struct must live until uv_run returns). */
void tc_gloop_close(struct tc_gloop *g);

#endif
