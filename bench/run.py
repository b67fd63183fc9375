#!/usr/bin/env python3
"""Benchmarks of notebook-lifecycle. ``make bench`` runs ``.venv/bin/python bench/run.py``.

Convention, for whoever adds a benchmark
----------------------------------------
* A benchmark is a module ``bench/bench_<name>.py`` that defines ``run() -> str``.
  It may also define ``TITLE = "..."`` (shown in the progress line).
* ``run()`` does its measurements, prints its own summary to stdout, and returns ONE
  Markdown section for RESULTS.md that starts with a ``## `` heading. It does not write
  RESULTS.md itself; scratch files go under ``bench/out/`` (git-ignored) or a temp dir.
* A benchmark measures, it does not test: a missed target is reported (print a
  ``PASS``/``MISS`` line and say it in the section), never raised.
* This script imports every ``bench_*.py`` in name order, runs each, and writes
  ``bench/RESULTS.md``: a header (date, machine, tool versions) and then the sections
  in that order. ``bench/run.py density synth`` runs only the named benchmarks and
  writes ``bench/out/RESULTS-<names>.md`` instead, so a partial run never clobbers
  the full results.
* A benchmark that raises gets a section holding its traceback; this script still
  writes the results, then exits 1 (a crash is a bug). Otherwise it exits 0.
* Keep the whole run under about two minutes on a laptop-class machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _ensure_importable() -> None:
    """Benchmarks import ``notebook_lifecycle``; fall back to the source tree when not installed."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    try:
        import notebook_lifecycle  # noqa: F401
    except ImportError:
        sys.path.insert(1, str(REPO / "constructs"))


def _cmd_version(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "not found"
    return out.splitlines()[0].strip() if out.strip() else "unknown"


def _liblzma_version() -> str:
    name = ctypes.util.find_library("lzma")
    if not name:
        return "unknown"
    try:
        lib = ctypes.CDLL(name)
        lib.lzma_version_string.restype = ctypes.c_char_p
        return f"{lib.lzma_version_string().decode()} ({name})"
    except (OSError, AttributeError):
        return f"unknown ({name})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' (with uncommitted changes)' if dirty else ''}" if rev else "unknown"


def machine_info() -> list[tuple[str, str]]:
    import notebook_lifecycle

    return [
        ("date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("notebook-lifecycle", f"{notebook_lifecycle.__version__}, git {_git_revision()}"),
        ("machine", f"{platform.system()} {platform.release()} {platform.machine()}, {_cpu_model()}, {os.cpu_count()} CPUs"),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("zlib", f"{zlib.ZLIB_RUNTIME_VERSION} (runtime)"),
        ("liblzma", _liblzma_version()),
        ("tar / gzip / base64", " / ".join(
            (_cmd_version("tar", "--version"), _cmd_version("gzip", "--version"), _cmd_version("base64", "--version"))
        )),
    ]


def discover() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    _ensure_importable()
    available = discover()
    wanted = argv or available
    unknown = [w for w in wanted if w not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2

    sections: list[str] = []
    crashed: list[str] = []
    t_all = time.perf_counter()
    for name in wanted:
        module = importlib.import_module(f"bench_{name}")
        title = getattr(module, "TITLE", name)
        print(f"\n=== {name}: {title}", flush=True)
        t0 = time.perf_counter()
        try:
            section = module.run()
        except Exception:  # noqa: BLE001 - report, keep going, exit 1 at the end
            crashed.append(name)
            tb = traceback.format_exc()
            print(tb, file=sys.stderr)
            section = f"## {title}\n\n**The benchmark crashed:**\n\n```\n{tb}```\n"
        took = time.perf_counter() - t0
        print(f"=== {name}: {took:.1f}s", flush=True)
        sections.append(section.rstrip() + f"\n\n_({name}: {took:.1f} s)_\n")

    header = ["# Benchmark results", "", "Written by `make bench` (`bench/run.py`); do not edit by hand.", ""]
    header += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in machine_info()] + [""]
    text = "\n".join(header) + "\n" + "\n".join(sections)
    if argv:
        out = HERE / "out" / f"RESULTS-{'-'.join(wanted)}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out = HERE / "RESULTS.md"
    out.write_text(text, encoding="utf-8")
    print(f"\nwrote {out.relative_to(REPO)} in {time.perf_counter() - t_all:.1f}s")
    if crashed:
        print(f"crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
