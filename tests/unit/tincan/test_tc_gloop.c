/* The GLib-in-libuv glue: GLib timeouts and fd watches fire from uv_run,
 * a replaced fd (likely the same number) is watched after tc_gloop_reset(),
 * and closing leaves a loop that uv_loop_close() accepts.  (This scenario
 * also passes without the reset on this libuv; the reset is kept as the
 * cheap safe side for fd reuse inside libnice.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <unistd.h>

#include "gloop.h"

struct fx {
  uv_loop_t loop;
  GMainContext *ctx;
  struct tc_gloop g;
  int ticks, reads;
  int pipefd[2];
  uv_timer_t writer, stopper;
  GSource *watch;
};

static gboolean on_timeout(gpointer data)
{
  struct fx *fx = data;
  return ++fx->ticks < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean on_readable(GIOChannel *ch, GIOCondition cond, gpointer data)
{
  struct fx *fx = data;
  char buf[16];
  (void)cond;
  if (read(g_io_channel_unix_get_fd(ch), buf, sizeof buf) > 0)
    fx->reads++;
  return G_SOURCE_CONTINUE;
}

static void watch_pipe(struct fx *fx)
{
  GIOChannel *ch = g_io_channel_unix_new(fx->pipefd[0]);
  fx->watch = g_io_create_watch(ch, G_IO_IN);
  g_source_set_callback(fx->watch, (GSourceFunc)(void (*)(void))on_readable, fx, NULL);
  g_source_attach(fx->watch, fx->ctx);
  g_io_channel_unref(ch);
}

static void write_cb(uv_timer_t *t)
{
  struct fx *fx = t->data;
  if (write(fx->pipefd[1], "x", 1) != 1)
    fail();
}

static void stop_cb(uv_timer_t *t)
{
  struct fx *fx = t->data;
  uv_timer_stop(&fx->writer);
  uv_stop(&fx->loop);
}

static void run_for(struct fx *fx, uint64_t ms)
{
  uv_timer_start(&fx->writer, write_cb, 20, 20);
  uv_timer_start(&fx->stopper, stop_cb, ms, 0);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
}

static void glib_sources_fire_from_uv(void **state)
{
  (void)state;
  struct fx fx = { 0 };
  assert_int_equal(uv_loop_init(&fx.loop), 0);
  fx.ctx = g_main_context_new();
  assert_int_equal(tc_gloop_init(&fx.g, &fx.loop, fx.ctx), 0);
  uv_timer_init(&fx.loop, &fx.writer);
  uv_timer_init(&fx.loop, &fx.stopper);
  fx.writer.data = fx.stopper.data = &fx;

  GSource *t = g_timeout_source_new(30);
  g_source_set_callback(t, on_timeout, &fx, NULL);
  g_source_attach(t, fx.ctx);
  g_source_unref(t);
  assert_int_equal(pipe(fx.pipefd), 0);
  watch_pipe(&fx);

  run_for(&fx, 300);
  assert_int_equal(fx.ticks, 3);   /* the timeout ran and removed itself */
  assert_true(fx.reads >= 5);      /* the fd watch fired from libuv's poll */

  /* Replace the pipe: the new read end very likely gets the same number. */
  int old = fx.pipefd[0];
  g_source_destroy(fx.watch);
  g_source_unref(fx.watch);
  close(fx.pipefd[0]);
  close(fx.pipefd[1]);
  tc_gloop_reset(&fx.g);
  assert_int_equal(pipe(fx.pipefd), 0);
  (void)old;
  watch_pipe(&fx);
  int before = fx.reads;
  run_for(&fx, 200);
  assert_true(fx.reads - before >= 3);

  g_source_destroy(fx.watch);
  g_source_unref(fx.watch);
  close(fx.pipefd[0]);
  close(fx.pipefd[1]);
  tc_gloop_close(&fx.g);
  uv_close((uv_handle_t *)&fx.writer, NULL);
  uv_close((uv_handle_t *)&fx.stopper, NULL);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx.loop), 0);
  g_main_context_unref(fx.ctx);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(glib_sources_fire_from_uv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
