#!/usr/bin/env python3
"""Assembles target/bench-report/report.md from the benchmarks' tables and draws the SVG
plots: ping RTT under a headers2 flood (dashnet against the old design), memory and
handshake time against the number of peers, and send() latency percentiles."""
import os, re, subprocess, sys, platform, datetime

out, quick, seconds = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])

def read(name):
    p = os.path.join(out, name)
    return open(p).read().strip() if os.path.exists(p) else "(missing)"

def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
    return f"{model}, {os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB, {platform.system()} {platform.release()}"

def commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        return "?"

# ---------------------------------------------------------------- SVG helpers
W, H, L, R, T, B = 640, 360, 70, 20, 30, 50

def svg(title, body, xlabel, ylabel):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">'
            f'<rect width="{W}" height="{H}" fill="white"/>'
            f'<text x="{W/2}" y="18" text-anchor="middle" font-size="13">{title}</text>'
            f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>'
            f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>'
            f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">{xlabel}</text>'
            f'<text x="14" y="{(T+H-B)/2}" text-anchor="middle" transform="rotate(-90 14 {(T+H-B)/2})">{ylabel}</text>'
            + body + "</svg>\n")

import math

def log_scale(lo, hi):
    lo, hi = math.log10(max(lo, 1e-9)), math.log10(max(hi, lo * 10))
    return lambda v: (math.log10(max(v, 1e-9)) - lo) / (hi - lo), lo, hi

def ticks_log(lo, hi, pos, horizontal):
    s = ""
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        v = 10 ** e
        f = pos(v)
        if 0 <= f <= 1:
            if horizontal:
                x = L + f * (W - L - R)
                s += f'<line x1="{x}" y1="{H-B}" x2="{x}" y2="{H-B+4}" stroke="black"/><text x="{x}" y="{H-B+16}" text-anchor="middle">{fmt(v)}</text>'
            else:
                y = H - B - f * (H - B - T)
                s += f'<line x1="{L-4}" y1="{y}" x2="{L}" y2="{y}" stroke="black"/><text x="{L-6}" y="{y+4}" text-anchor="end">{fmt(v)}</text>'
    return s

def fmt(v):
    return f"{v:g}" if v < 1e4 else f"{v:.0e}"

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

def samples(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    return sorted(float(x) for x in open(p) if x.strip())

def rtt_plot():
    series = [("dashnet", samples("rtt_dashnet_rate.txt")), ("old design", samples("rtt_old_rate.txt"))]
    allv = [v for _, s in series for v in s]
    if not allv:
        return None
    pos, lo, hi = log_scale(min(allv) * 0.8, max(allv) * 1.2)
    body = ticks_log(lo, hi, pos, True)
    for i in range(0, 11, 2):
        y = H - B - i / 10 * (H - B - T)
        body += f'<text x="{L-6}" y="{y+4}" text-anchor="end">{i*10}%</text>'
    for k, (name, s) in enumerate(series):
        if not s:
            continue
        pts = " ".join(f"{L + pos(v) * (W-L-R):.1f},{H - B - (j + 1) / len(s) * (H-B-T):.1f}" for j, v in enumerate(s))
        body += f'<polyline fill="none" stroke="{COLORS[k]}" stroke-width="2" points="{pts}"/>'
        body += f'<text x="{W-R-150}" y="{T+20+16*k}" fill="{COLORS[k]}">{name} ({len(s)} pings)</text>'
    return svg("Ping RTT while the sim floods headers2 (20 msgs x 2000 headers/s): CDF", body, "RTT (us, log)", "share of pings")

def rows(md):
    return [[c.strip() for c in l.strip().strip("|").split("|")] for l in md.splitlines() if l.startswith("|") and not l.startswith("|---")]

def num(s):
    m = re.search(r"[-+]?\d[\d.]*", s.replace(",", ""))
    return float(m.group()) if m else None

def peers_plot(client_md):
    rss, hs = {}, {}
    for r in rows(client_md):
        m = re.match(r"(RSS per idle peer|time until all handshaken), (\d+) peers(?: \(v2\))?$", r[0])
        if m:
            (rss if m.group(1).startswith("RSS") else hs)[int(m.group(2))] = num(r[1])
    if not rss:
        return None
    ns = sorted(rss)
    pos, lo, hi = log_scale(min(ns), max(ns))
    body = ticks_log(lo, hi, pos, True)
    for k, (name, d, unit) in enumerate([("RSS per idle peer (KiB)", rss, "KiB"), ("time until all handshaken (ms)", hs, "ms")]):
        vals = [d.get(n) for n in ns]
        top = max(v for v in vals if v is not None) * 1.15
        pts = []
        for n, v in zip(ns, vals):
            if v is None:
                continue
            x = L + pos(n) * (W - L - R)
            y = H - B - v / top * (H - B - T)
            pts.append(f"{x:.1f},{y:.1f}")
            body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[k]}"/><text x="{x+5:.1f}" y="{y-5:.1f}" fill="{COLORS[k]}">{v:g} {unit}</text>'
        body += f'<polyline fill="none" stroke="{COLORS[k]}" stroke-width="2" points="{" ".join(pts)}"/>'
        body += f'<text x="{L+10}" y="{T+14+16*k}" fill="{COLORS[k]}">{name}</text>'
    return svg("Memory and handshake time against the number of peers", body, "peers (log)", "each series scaled to its max")

def send_plot(c_md):
    data = []
    for r in rows(c_md):
        m = re.match(r"send\(\) (p50|p99\.9|max), (\d) thread\(s\), (.*)", r[0])
        if m:
            v = num(r[1])
            if m.group(1) == "max":
                v *= 1000  # us to ns
            data.append((f"{m.group(2)}t {m.group(3).replace('peer stopped reading', 'stalled').replace('reading peer', 'reading')}", m.group(1), v))
    if not data:
        return None
    groups = []
    for g, _, _ in data:
        if g not in groups:
            groups.append(g)
    pos, lo, hi = log_scale(min(v for _, _, v in data) * 0.5, max(v for _, _, v in data) * 2)
    body = ticks_log(lo, hi, pos, False)
    gw = (W - L - R) / len(groups)
    kinds = ["p50", "p99.9", "max"]
    for gi, g in enumerate(groups):
        body += f'<text x="{L + gw * (gi + 0.5):.1f}" y="{H-B+16}" text-anchor="middle">{g}</text>'
        for ki, k in enumerate(kinds):
            v = next((v for gg, kk, v in data if gg == g and kk == k), None)
            if v is None:
                continue
            h = pos(v) * (H - B - T)
            x = L + gw * gi + 10 + ki * (gw - 20) / 3
            body += f'<rect x="{x:.1f}" y="{H-B-h:.1f}" width="{(gw-20)/3-4:.1f}" height="{h:.1f}" fill="{COLORS[ki]}"/>'
    for ki, k in enumerate(kinds):
        body += f'<text x="{W-R-60}" y="{T+14+16*ki}" fill="{COLORS[ki]}">{k}</text>'
    body += f'<line x1="{L}" y1="{H-B-pos(200)*(H-B-T):.1f}" x2="{W-R}" y2="{H-B-pos(200)*(H-B-T):.1f}" stroke="gray" stroke-dasharray="4"/>'
    body += f'<text x="{W-R-4}" y="{H-B-pos(200)*(H-B-T)-4:.1f}" text-anchor="end" fill="gray">200 ns goal (p50)</text>'
    return svg("dashnet_send() call time from C", body, "threads, peer state", "ns (log)")

plots = []
for name, make in [("ping-rtt-under-flood.svg", rtt_plot),
                   ("peers-memory-handshake.svg", lambda: peers_plot(read("client.md"))),
                   ("send-latency.svg", lambda: send_plot(read("c.md")))]:
    s = make()
    if s:
        open(os.path.join(out, name), "w").write(s)
        plots.append(name)

report = f"""# dashnet benchmark report

- Machine: {machine()}
- Commit: {commit()}, {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- Mode: {"QUICK (one short round each: proves the benchmarks run; do not quote these numbers)" if quick else "full"}; took {seconds} s
- Every figure is the median of the per-round values (min..max across rounds), beside its baseline measured in the same run.

## Codec (benches/wire.rs, criterion)
{read("wire.md")}

## Peer (benches/peer.rs): ping RTT, send-to-wire latency, throughput, wake-ups
The old design is a model of dash-spv's network layer at rust-dashcore v0.42-dev (`OldPeer`
in benches/peer.rs names the lines it follows): one lock per peer over the unsplit socket,
held by the reader while it waits up to 10 ms for a frame, released for a moment, taken
again by every send, pong and keepalive ping; headers2 are decompressed in the reader task
without the lock. Its RTT is measured from the moment the ping is written, as dash-spv does.

{read("peer.md")}

## Client (benches/client.rs): many peers, header sync
{read("client.md")}

## C ABI (benches/c/send_bench.c)
{read("c.md")}

## Edges (benches/c/edge_bench.c via scripts/bench-edges): memory under a flood, time of free
The baseline is the first version (29a9f2b), built in the same run from git.

{read("edges.md")}

## Sizes
{read("sizes.md")}

## Plots
""" + "\n".join(f"![{p}]({p})" for p in plots) + "\n"
open(os.path.join(out, "report.md"), "w").write(report)
