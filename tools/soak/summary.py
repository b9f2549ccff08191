"""The soak's figures: from ``samples.csv`` and how the manager process ended to a verdict.

Owns: :func:`read_samples`, :func:`exit_verdict` (did the manager abort?),
:func:`soak_summary` (the timed run: RSS after warm-up vs at the end, growth, slope, None's
refcount, the VMs), :func:`cycles_summary` (start/stop cycles: the manager before and
after), :func:`format_summary`.  Pure functions of their inputs (tested in
``tests/unit/test_soak.py``).
"""

from __future__ import annotations

import csv
import signal
from pathlib import Path

RSS_GROWTH_LIMIT_PCT = 5.0  # issue 12: the hour-long run
CYCLES_RSS_LIMIT_PCT = 2.0  # "no growth" over the cycles, allowing allocator noise
NONE_DROP_LIMIT = 0.10  # None's refcount falling by more than this share is the 6.12 bug
FATAL_MARKERS = ("Fatal Python error", "Segmentation fault", "Aborted (core dumped)")


def _number(text: str) -> int | float | str | None:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_samples(path: Path) -> list[dict]:
    """Rows of samples.csv with numbers as numbers and empty cells as None."""
    with path.open(newline="") as fh:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def exit_verdict(returncode: int | None, log_text: str) -> str | None:
    """Why the manager process did not end cleanly, or None.  ``returncode`` as
    :class:`subprocess.Popen` gives it (negative: killed by that signal; None: it was
    still running and had to be killed)."""
    fatal = next((line.strip() for line in log_text.splitlines()
                  if any(marker in line for marker in FATAL_MARKERS)), None)
    if returncode is None:
        how = "did not exit at the end of the run (killed)"
    elif returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        how = f"killed by {name}"
    elif returncode != 0:
        how = f"exit status {returncode}"
    else:
        how = None
    if how is None and fatal is None:
        return None
    return "; ".join(part for part in (how, fatal) if part)


def slope_per_hour(rows: list[dict], key: str) -> float | None:
    """Least-squares slope of ``key`` against t_s, per hour (None with < 3 points)."""
    points = [(r["t_s"], r[key]) for r in rows if r.get(key) is not None]
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def _growth_pct(start: float | None, end: float | None) -> float | None:
    if not start or end is None:
        return None
    return (end - start) / start * 100


def _none_refcount(rows: list[dict]) -> dict:
    """None's refcount over the measured rows: start, end, lowest, falling?"""
    values = [r["none_refcount"] for r in rows if r.get("none_refcount") is not None]
    lows = [r["none_refcount_min"] for r in rows if r.get("none_refcount_min") is not None]
    if not values:
        return {"start": None, "end": None, "min": None, "falling": False}
    start, lowest = values[0], min(values + lows)
    return {"start": start, "end": values[-1], "min": lowest,
            "falling": start - lowest > NONE_DROP_LIMIT * start}


def _span(rows: list[dict], key: str) -> dict:
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return {"start": None, "end": None, "max": None}
    return {"start": values[0], "end": values[-1], "max": max(values)}


def _vm_summary(rows: list[dict], index: int) -> dict:
    pre = f"vm{index}_"
    states = sorted({r[pre + "state"] for r in rows if r.get(pre + "state") is not None})
    frames = [r[pre + "frames"] for r in rows if r.get(pre + "frames") is not None]
    seconds = rows[-1]["t_s"] - rows[0]["t_s"] if len(rows) > 1 else 0
    fps = (frames[-1] - frames[0]) / seconds if len(frames) > 1 and seconds > 0 else None
    return {"rss_kb": _span(rows, pre + "rss_kb"), "states": states,
            "frames_per_s": None if fps is None else round(fps, 2)}


def soak_summary(rows: list[dict], *, verdict: str | None,
                 limit_pct: float = RSS_GROWTH_LIMIT_PCT) -> dict:
    """The timed run: figures over the rows after warm-up (phase measure/end)."""
    measured = [r for r in rows if r["phase"] in ("measure", "end")]
    base = measured or rows
    rss = _span(base, "mgr_rss_kb")
    growth = _growth_pct(rss["start"], rss["end"])
    none = _none_refcount(base)
    vms = {i: _vm_summary(base, i) for i in (1, 2)}
    stopped = [i for i, vm in vms.items()
               if any(s not in ("running", "paused") for s in vm["states"])]
    problems = []
    if verdict:
        problems.append(f"the manager did not end cleanly: {verdict}")
    if not measured:
        problems.append("no sample after the warm-up")
    if growth is not None and growth > limit_pct:
        problems.append(f"manager RSS grew {growth:.1f}% (limit {limit_pct}%)")
    if none["falling"]:
        problems.append("None's refcount is falling")
    problems += [f"VM {i} left the running state ({', '.join(vms[i]['states'])})"
                 for i in stopped]
    return {"mode": "soak", "duration_s": rows[-1]["t_s"] if rows else 0,
            "warmup_end_s": measured[0]["t_s"] if measured else None,
            "samples": len(rows), "rss_kb": rss, "rss_max_all_kb": _span(rows, "mgr_rss_kb")["max"],
            "rss_growth_pct": None if growth is None else round(growth, 2),
            "rss_slope_kb_per_h": _round(slope_per_hour(base, "mgr_rss_kb")),
            "threads": _span(base, "mgr_threads"), "fds": _span(base, "mgr_fds"),
            "maps": _span(base, "mgr_maps"), "gc_objects": _span(base, "gc_objects"),
            "none_refcount": none, "vms": vms, "abort": verdict,
            "ok": not problems, "problems": problems}


def cycles_summary(rows: list[dict], *, verdict: str | None, cycles: int,
                   limit_pct: float = CYCLES_RSS_LIMIT_PCT) -> dict:
    """Start/stop cycles: the manager after the warm-up cycles vs after the last one."""
    measured = [r for r in rows if r["phase"] == "measure"]
    warm = [r for r in rows if r["phase"] == "warmup"]
    before = warm[-1] if warm else (rows[0] if rows else {})
    after = rows[-1] if rows else {}
    done = after.get("cycle") or 0
    keys = ("mgr_rss_kb", "mgr_fds", "mgr_threads", "mgr_maps", "mgr_children", "gc_objects",
            "none_refcount")
    compare = {k: {"before": before.get(k), "after": after.get(k)} for k in keys}
    growth = _growth_pct(before.get("mgr_rss_kb"), after.get("mgr_rss_kb"))
    span = done - (before.get("cycle") or 0)
    problems = []
    if verdict:
        problems.append(f"the manager did not end cleanly: {verdict}")
    if done < cycles:
        problems.append(f"only {done} of {cycles} cycles ran")
    if growth is not None and growth > limit_pct:
        problems.append(f"manager RSS grew {growth:.1f}% (limit {limit_pct}%)")
    for key in ("mgr_fds", "mgr_threads", "mgr_children", "mgr_maps"):
        b, a = compare[key]["before"], compare[key]["after"]
        if b is not None and a is not None and a > b:
            problems.append(f"{key} grew from {b} to {a}")
    none = _none_refcount(measured or rows)
    if none["falling"]:
        problems.append("None's refcount is falling")
    per_cycle = None
    if growth is not None and span > 0:
        per_cycle = round((after["mgr_rss_kb"] - before["mgr_rss_kb"]) / span, 1)
    return {"mode": "cycles", "cycles_done": done, "cycles_asked": cycles,
            "duration_s": after.get("t_s", 0), "before_cycle": before.get("cycle"),
            "compare": compare, "rss_growth_pct": None if growth is None else round(growth, 2),
            "rss_kb_per_cycle": per_cycle, "rss_max_kb": _span(rows, "mgr_rss_kb")["max"],
            "rss_slope_kb_per_h": _round(slope_per_hour(measured, "mgr_rss_kb")),
            "none_refcount": none, "abort": verdict, "ok": not problems,
            "problems": problems}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def format_summary(summary: dict) -> str:
    """The summary as the lines the supervisor prints and writes to summary.txt."""
    lines = [f"verdict: {'PASS' if summary['ok'] else 'FAIL'}"]
    lines += [f"  problem: {p}" for p in summary["problems"]]
    lines.append(f"manager exit: {summary['abort'] or 'clean (status 0, no fatal error logged)'}")
    if summary["mode"] == "soak":
        rss = summary["rss_kb"]
        lines += [
            f"duration: {summary['duration_s'] / 60:.1f} min, {summary['samples']} samples, "
            f"warm-up until {summary['warmup_end_s']} s",
            f"manager RSS: start {rss['start']} kB, end {rss['end']} kB, growth "
            f"{summary['rss_growth_pct']}%, max {rss['max']} kB after warm-up "
            f"({summary['rss_max_all_kb']} kB overall), slope "
            f"{summary['rss_slope_kb_per_h']} kB/h"]
        for key in ("threads", "fds", "maps", "gc_objects"):
            span = summary[key]
            lines.append(f"manager {key}: start {span['start']}, end {span['end']}, "
                         f"max {span['max']}")
        for index, vm in summary["vms"].items():
            lines.append(f"VM {index}: RSS start {vm['rss_kb']['start']} kB, end "
                         f"{vm['rss_kb']['end']} kB, max {vm['rss_kb']['max']} kB; states "
                         f"{', '.join(vm['states'])}; console {vm['frames_per_s']} frames/s")
    else:
        lines.append(f"cycles: {summary['cycles_done']} of {summary['cycles_asked']} in "
                     f"{summary['duration_s'] / 60:.1f} min; before = after cycle "
                     f"{summary['before_cycle']}")
        for key, pair in summary["compare"].items():
            lines.append(f"{key}: before {pair['before']}, after {pair['after']}")
        lines.append(f"manager RSS growth {summary['rss_growth_pct']}% "
                     f"({summary['rss_kb_per_cycle']} kB per cycle), max "
                     f"{summary['rss_max_kb']} kB")
    none = summary["none_refcount"]
    lines.append(f"None refcount: start {none['start']}, end {none['end']}, lowest "
                 f"{none['min']}, falling: {'YES' if none['falling'] else 'no'}")
    return "\n".join(lines)
