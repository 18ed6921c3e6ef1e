#!/usr/bin/env python3
"""bench/soak_report.py SAMPLES.tsv: the growth report of bench/soak.sh.

Reads the samples (minute, series, value), prints for each series its
first, last and mean value and the least-squares slope per hour over the
whole run, its first half and its second half, and a verdict.  A series
"GROWS" (exit status 1) when its second-half slope is above its threshold
and its last quarter's median is above its second quarter's by more than
the threshold over the time between them: growth that continues to the
end.  Counters (rekeys, traffic) are reported, not judged.  Works on the
samples of a run still in progress, too.
"""
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
series = {}
for m, name, v in rows:
    try:
        series.setdefault(name, []).append((int(m) / 60.0, float(v)))
    except ValueError:
        pass
def thr(name):
    for suffix, t in ((".rss_kib", 1024), (".fds", 2), (".threads", 2),
                      (".udp_sockets", 2), (".links", 1), (".links_up", 1e9),
                      ("loss_pct", 10)):
        if name.endswith(suffix):
            return t
    return None  # counters (rekeys, tx_mib): reported, not judged
def slope(pts):
    if len(pts) < 2:
        return 0.0
    mx = st.mean(p[0] for p in pts); my = st.mean(p[1] for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else 0.0
bad = []
print("%-30s %9s %9s %10s %10s %10s %10s  %s" % ("series", "first", "last", "mean",
      "slope/h", "1st-half/h", "2nd-half/h", "verdict"))
for name in sorted(series):
    pts = series[name]
    n = len(pts); h1, h2 = pts[: n // 2], pts[n // 2:]
    s, s1, s2 = slope(pts), slope(h1), slope(h2)
    t = thr(name); verdict = "counter" if t is None else "flat"
    if t is not None and n >= 8:
        q = n // 4
        q2 = st.median(v for _, v in pts[q: 2 * q]); q4 = st.median(v for _, v in pts[3 * q:])
        dt = pts[-1][0] - pts[q][0]
        if s2 > t and q4 - q2 > t * max(dt / 2, 1 / 60):
            verdict = "GROWS"; bad.append(name)
    elif t is not None:
        verdict = "too short"
    print("%-30s %9.0f %9.0f %10.1f %10.1f %10.1f %10.1f  %s" % (name, pts[0][1], pts[-1][1],
          st.mean(v for _, v in pts), s, s1, s2, verdict))
print("soak_samples %d" % max(len(v) for v in series.values()))
for name in sorted(series):
    print("soak_slope_per_hour %s %.2f" % (name, slope(series[name])))
if bad:
    print("soak: FAIL: grows without bound: " + ", ".join(bad))
    sys.exit(1)
print("soak: ok: nothing grows without bound")
