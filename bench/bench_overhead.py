"""On-start overhead of the feature flags: wall time of the real on-start script in the emulator.

The bundle has every feature on (autostop, persistent conda, stop SSM agent, two
persisted folders, bin dir, environment, one binary from a local HTTP server) and
no user scripts. Each configuration boots the same instance (state folder) several
times, i.e. restarts, like a notebook that is stopped and started; the first boot
(which downloads the binary and moves folders) is reported apart from the restarts.

Reported: the median of the hook's wall time (``RunResult.seconds``: from bash
starting the script to its exit, the decoder's unpacking included), per platform
profile, against a target of 2 s; the per-step medians from the runner's summary; the
emulator's own floor (a script that only does ``exit 0``), and the bundle's size.
"""

from __future__ import annotations

import hashlib
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from notebook_lifecycle import Autostop, Binary, Bundle, Features

TITLE = "On-start overhead of the feature flags (emulator)"

TARGET_SECONDS = 2.0
RESTARTS = 7


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _features(url: str, sha: str) -> Features:
    return Features(
        autostop=Autostop(idle_minutes=60),
        persistent_conda=True,
        stop_ssm_agent=True,
        persist_dirs=(".config", ".ssh"),
        bin_dir=True,
        environment={"TEAM": "data", "AWS_DEFAULT_REGION": "eu-west-1"},
        binaries=(Binary("tool", f"{url}/tool", sha),),
    )


def _steps(output: str) -> dict[str, float]:
    rows: dict[str, float] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("notebook-lifecycle summary"):
            for row in lines[i + 2:]:
                parts = row.split()
                if len(parts) != 4 or parts[1] not in ("root", "ec2-user"):
                    break
                rows[parts[0]] = float(parts[3])
    return rows


def _fake_env(volume: Path, uid: int) -> bool:
    """One persisted 'conda' environment with ipykernel (a venv using this project's site-packages)."""
    env = volume / ".conda" / "envs" / "analysis"
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(env)], check=True, timeout=120,
                       capture_output=True)
        ver = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    site = Path(sys.prefix) / "lib" / ver / "site-packages"
    if not (site / "ipykernel").is_dir():
        return False
    (env / "lib" / ver / "site-packages" / "project.pth").write_text(f"{site}\n")
    subprocess.run(["chown", "-R", f"{uid}:{uid}", str(volume / ".conda")], check=True)
    return True


def run() -> str:
    from notebook_lifecycle.emulator import Emulator, unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        return f"## {TITLE}\n\nNot measured: {reason}\n"

    www = Path(tempfile.mkdtemp(prefix="bench-overhead-www-"))
    tool = b"#!/bin/sh\necho tool\n" + b"x" * 200_000  # a 200 kB download on the first boot
    (www / "tool").write_bytes(tool)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    bundle = Bundle(features=_features(url, hashlib.sha256(tool).hexdigest()))
    script = bundle.on_start_script
    size = bundle.size_report()

    rows = []  # (configuration, first boot, median restart, min, max, per-step medians, verdict)
    lines = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
            floor_emu = Emulator(Path(tmp) / "floor")
            floor = statistics.median(floor_emu.run("#!/bin/bash\nexit 0\n").seconds for _ in range(RESTARTS))
            configs = [("al2023 (systemd, no cron)", dict(platform="al2023"), False),
                       ("al2 (systemd, cron)", dict(platform="al2"), False),
                       ("al2023, one persisted conda env with ipykernel", dict(platform="al2023"), True)]
            for label, options, with_env in configs:
                emu = Emulator(Path(tmp) / label.split()[0] / str(len(rows)), forward=[server.server_address[1]],
                               **options)
                if with_env and not _fake_env(emu.volume, emu.ec2_uid):
                    lines.append(f"- {label}: skipped (no /usr/bin/python3 venv or no ipykernel here)")
                    continue
                first = emu.run(script)
                if first.failed:
                    raise RuntimeError(f"the on-start failed in the emulator:\n{first.summary()}")
                times, steps = [], []
                for _ in range(RESTARTS):
                    res = emu.run(script)
                    if res.failed:
                        raise RuntimeError(f"the on-start failed in the emulator:\n{res.summary()}")
                    times.append(res.seconds)
                    steps.append(_steps(res.output))
                med = statistics.median(times)
                per_step = {k: statistics.median(s.get(k, 0.0) for s in steps) for k in steps[0]}
                verdict = "PASS" if med <= TARGET_SECONDS else "MISS"
                rows.append((label, first.seconds, med, min(times), max(times), per_step, verdict))
                print(f"{verdict}: {label}: median {med:.3f}s over {RESTARTS} restarts "
                      f"(first boot {first.seconds:.3f}s; target <= {TARGET_SECONDS:.1f}s)")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        for p in www.iterdir():
            p.unlink()
        www.rmdir()

    out = [f"## {TITLE}", ""]
    out.append(f"Every feature on, no user scripts; {RESTARTS} restarts of one instance per row after a first boot. "
               f"Target: median on-start ≤ {TARGET_SECONDS:.1f} s. Bundle: {size.total} of {size.limit} characters "
               f"(headroom {size.headroom} for user scripts).")
    out.append("")
    out.append("| configuration | first boot (s) | median restart (s) | min–max (s) | verdict |")
    out.append("|---|---:|---:|---:|---|")
    for label, first_s, med, lo, hi, _, verdict in rows:
        out.append(f"| {label} | {first_s:.3f} | **{med:.3f}** | {lo:.3f}–{hi:.3f} | {verdict} |")
    out.append(f"| emulator floor (`exit 0`) | | {floor:.3f} | | |")
    out.append("")
    if rows:
        names = list(rows[0][5])
        out.append("Median seconds per step (runner summary), per configuration:")
        out.append("")
        out.append("| step | " + " | ".join(r[0] for r in rows) + " |")
        out.append("|---|" + "---:|" * len(rows))
        for name in names:
            out.append(f"| {name} | " + " | ".join(f"{r[5].get(name, 0.0):.3f}" for r in rows) + " |")
        out.append("")
    out.extend(lines)
    verdicts = {r[6] for r in rows}
    summary = "PASS" if verdicts == {"PASS"} else "MISS"
    out.append(f"**{summary}**: " + ("every configuration is within the target." if summary == "PASS"
                                       else "at least one configuration is over the target."))
    print(f"{summary}: overall")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    t = time.perf_counter()
    print(run())
    print(f"({time.perf_counter() - t:.1f}s)")
