#!/usr/bin/env python3
"""Writes the README's performance table from the committed benchmark report (docs/bench/).

Each README row is one row of the report, named by its exact label there and the file it
is in, with the value (median, min..max), its baseline from the same run, the ratio, and
the goal where one was set (judged here from the numbers, not by hand).

    scripts/bench-readme.py          rewrite the table between the README's markers
    scripts/bench-readme.py --check  fail if the README's table differs from the report
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "docs/bench"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def rows(name):
    """{label: cells} of every table row in docs/bench/NAME (label = first cell; wire.md
    rows are keyed "build figure")."""
    out = {}
    for line in (BENCH / name).read_text().splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if name == "wire.md" and len(cells) == 6:
            out[f"{cells[0]} {cells[1]}"] = cells[1:]
        else:
            out[cells[0]] = cells
    return out


def find(table, prefix, name):
    hits = [k for k in table if k.startswith(prefix)]
    if len(hits) != 1:
        sys.exit(f"bench-readme: {len(hits)} rows of docs/bench/{name} start with {prefix!r}")
    return hits[0], table[hits[0]]


def num(text):
    """The first number in a cell, in base units where a unit follows (us, ms, s, ns, KiB, MiB)."""
    m = re.search(r"([0-9]+(?:\.[0-9]+)?)\s*(ns|us|ms|s|KiB|MiB|x)?", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}.get(unit, 1.0)
    return v * scale


# (file, row label prefix, baseline, goal text, goal test on (value, ratio)).
# baseline: None; "col" (the row's own baseline and ratio columns: peer.md, wire.md);
# ("rows", baseline row prefix, ratio row prefix); or "edges" (edges.md's baseline column).
SPEC = [
    ("peer.md", "ping RTT p99, sim flood 20 x 2000 headers2/s", "col",
     "p99 <= 2 ms and >= 20x", lambda v, r: v <= 2e-3 and r >= 20),
    ("peer.md", "ping RTT p50, sim flood 20 x 2000 headers2/s", "col", "", None),
    ("peer.md", "ping RTT p50, sim idle", "col", "", None),
    ("peer.md", "ping RTT p99, sim idle", "col", "", None),
    ("peer.md", "ping RTT p99, sim flood full speed", "col", "", None),
    ("peer.md", "wake-ups/s, 8 quiet peers", "col", "", None),
    ("peer.md", "2 decode threads vs 1: ping RTT p99, sim flood full speed", "col", "", None),
    ("peer.md", "send() to sim p99, flood 20 x 2000 headers2/s", "col", "", None),
    ("peer.md", "send() to sim p99, flood full speed", "col", "", None),
    ("peer.md", "outbound MB/s, 32-byte payloads", "col", "", None),
    ("peer.md", "outbound MB/s, 1048576-byte payloads", "col", "", None),
    ("peer.md", "outbound payload MB/s, 32-byte payloads, v2 vs v1", "col", "v2 no slower (>= 1.0x)",
     lambda v, r: r >= 1.0),
    ("peer.md", "outbound payload MB/s, 1048576-byte payloads, v2 vs v1", "col",
     "v2 no slower (>= 1.0x)", lambda v, r: r >= 1.0),
    ("peer.md", "inbound decode payload MB/s, 32-byte payloads, v2 vs v1", "col",
     "v2 no slower (>= 1.0x)", lambda v, r: r >= 1.0),
    ("peer.md", "inbound decode payload MB/s, 1048576-byte payloads, v2 vs v1", "col",
     "v2 no slower (>= 1.0x)", lambda v, r: r >= 1.0),
    ("c.md", "send() p50, 1 thread(s), reading peer, default queue bounds", None,
     "<= 200 ns", lambda v, r: v <= 200e-9),
    ("c.md", "send() p99.9, 4 thread(s), reading peer, default queue bounds", None,
     "<= 5 us", lambda v, r: v <= 5e-6),
    ("c.md", "send() p99.9, 4 thread(s), peer stopped reading, default queue bounds", None,
     "<= 5 us", lambda v, r: v <= 5e-6),
    ("c.md", "send() max, 4 thread(s), peer stopped reading, default queue bounds", None, "", None),
    ("c.md", "send() returned OK / QUEUE_FULL, 4 thread(s), reading peer, default queue bounds",
     None, "", None),
    ("c.md", "headers2 sync through the C callback",
     ("rows", "bare X11 of the same headers, dashnet_x11", "C callback sync rate / bare X11"), "", None),
    ("client.md", "header sync via headers2",
     ("rows", "bare X11 of the same headers (baseline)", "sync rate / bare X11 rate"),
     ">= 0.9 of X11", lambda v, r: r >= 0.9),
    ("client.md", "sync service, 1000000 headers from 4 sims (checkpoints every 50000), 1 decode",
     ("rows", "bare one-core X11 of the same headers, same processes (baseline)",
      "sync service / bare one-core X11, 1 decode"),
     ">= 0.9 of one-core X11", lambda v, r: r >= 0.9),
    ("client.md", "sync service, 1000000 headers from 4 sims (checkpoints every 50000), 2 decode",
     ("rows", "bare one-core X11 of the same headers, same processes (baseline)",
      "sync service / bare one-core X11, 2 decode"),
     ">= 0.9 x 2 threads = 1.8 of one-core X11", lambda v, r: r >= 1.8),
    ("client.md", "sync service, 1000000 headers from 4 sims (checkpoints every 10000), 2 decode",
     ("rows", "bare one-core X11 of the same headers, same processes (baseline)",
      "sync service / bare one-core X11, checkpoints every 10000, 2 decode"),
     ">= 0.9 x 2 threads = 1.8 of one-core X11", lambda v, r: r >= 1.8),
    ("client.md", "cores busy during the sync, 2 decode thread(s): the client", None, "", None),
    ("client.md", "cores busy during the sync, 2 decode thread(s): the 4 sims", None, "", None),
    ("client.md", "cores busy during the sync, checkpoints every 10000", None, "", None),
    ("client.md", "sync service, 2 decode threads vs 1", None, "", None),
    ("client.md", "projected mainnet header sync", None, "", None),
    ("client.md", "RSS growth during the sync, 2 decode", None, "", None),
    ("client.md", "RSS per idle peer, 1000 peers (v2)", None, "<= 48 KiB", lambda v, r: v <= 48),
    ("client.md", "RSS per idle peer, 1000 peers, v1 (baseline)", None, "", None),
    ("client.md", "time until all handshaken, 1000 peers", None, "<= 2 s", lambda v, r: v <= 2),
    ("client.md", "CPU while idle, 1000 peers", None, "", None),
    ("client.md", "shutdown with 100 busy peers", None, "", None),
    ("client.md", "handshake, BIP324 v2",
     ("rows", "handshake, v1 (baseline)", "handshake v2 / v1"), "", None),
    ("client.md", "200000-header sync, BIP324 v2",
     ("rows", "200000-header sync, v1 (baseline)", "sync rate v2 / v1"), "", None),
    ("client.md", "handshake through Dante (SOCKS5)",
     ("rows", "handshake, direct (baseline)", "handshake through Dante / direct"), "", None),
    ("client.md", "20000-header sync through Dante (SOCKS5)",
     ("rows", "20000-header sync, direct (baseline)", "sync rate through Dante / direct"),
     "", None),
    ("wire.md", "portable headers2_2000/decode_headers2_2000", "col", ">= 0.9 of X11",
     lambda v, r: r >= 0.9),
    ("wire.md", "accelerated headers2_2000/decode_headers2_2000", "col", ">= 0.9 of X11",
     lambda v, r: r >= 0.9),
    ("wire.md", "portable frame_1MiB/frame_decode_streaming_64KiB_reads", "col", "", None),
    ("wire.md", "portable cfheaders_2000/decode_and_check_2000", "col", "", None),
    ("edges.md", "peak RSS, 8 peers flooding", "edges", "<= 64 MiB", lambda v, r: v <= 64),
    ("edges.md", "RSS over the last third", "edges", "flat", None),
    ("edges.md", "free with 8 busy peers", "edges", "<= 2.5 s", lambda v, r: v <= 2.5),
    ("sizes.md", "release cdylib", None, "", None),
    ("sizes.md", "release staticlib", None, "", None),
]


def ratio_of(text):
    m = re.search(r"([0-9]+(?:\.[0-9]+)?)", text or "")
    return float(m.group(1)) if m else float("nan")


def table():
    out = [
        "| figure (its row in the report) | dashnet: median (min..max) | baseline, same run | ratio | goal | report |",
        "|---|---|---|---|---|---|",
    ]
    tables = {}
    for name, prefix, base, goal, test in SPEC:
        t = tables.setdefault(name, rows(name))
        label, cells = find(t, prefix, name)
        value, base_txt, ratio_txt = cells[1], "", ""
        if name in ("peer.md", "wire.md", "client.md", "c.md") and len(cells) >= 3 and cells[2]:
            value = f"{cells[1]} ({cells[2]})"
        if base == "col":
            base_txt, ratio_txt = cells[3], cells[4]
        elif base == "edges":
            base_txt = cells[2]
        elif isinstance(base, tuple):
            _, bc = find(t, base[1], name)
            _, rc = find(t, base[2], name)
            base_txt, ratio_txt = f"{bc[1]} ({bc[2]})", rc[1]
        verdict = ""
        if test is not None:
            ok = test(num(cells[1]), ratio_of(ratio_txt))
            verdict = f"{goal}: **{'met' if ok else 'missed'}**"
        elif goal:
            verdict = goal
        out.append(f"| {label} | {value} | {base_txt} | {ratio_txt} | {verdict} | `{name}` |")
    return "\n".join(out)


def main():
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"bench-readme: README.md lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table()}\n{END}{tail}"
    if sys.argv[1:] == ["--check"]:
        if new != text:
            sys.exit("bench-readme: the README's performance table differs from docs/bench/ "
                     "(run scripts/bench-readme.py)")
        return
    README.write_text(new)


main()
