"""``notebook-lifecycle run-local``: boot the scripts in the local notebook-instance emulator."""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path
from typing import Any, Optional

from ..errors import BundleError
from ._common import _add_bundle_options, _bundle_from, _bundles_in, _command, _int, _os_errors


_RUN_LOCAL_DESCRIPTION = """\
Boot the on-start (and, on the first start, the on-create) script in the notebook-instance
emulator: a throwaway copy of this machine's root filesystem in private mount, PID and
network namespaces, with a user ec2-user, /home/ec2-user/SageMaker kept between restarts,
and recording stubs for systemctl, the SSM agent and reboot/shutdown. Prints each step's
user, status and seconds, the total against the 5-minute limit, the steps that ran after
the deadline (it waits for them, up to 60 s), and what would have failed on a real instance
(a non-zero exit, over 5 minutes, or a reboot in the middle of the hook).

TARGET is a folder of startup scripts (built as `build` would, with the same options), an
on-start script (ours or hand-written), or a synthesized CloudFormation template. Needs
Linux and root.
Exit status: 0 every hook would have succeeded, 1 a hook would have failed the start, 2 error.
"""


def _add_run_local(sub: Any) -> None:
    p = _command(sub, "run-local", _run_local, "boot the lifecycle scripts in the local notebook emulator",
                 _RUN_LOCAL_DESCRIPTION)
    _add_bundle_options(p, output=False)
    emu = p.add_argument_group("emulator")
    emu.add_argument("--restarts", metavar="N", type=_int, default=1,
                     help="restarts after the first start (default: 1); only ~/SageMaker survives them")
    emu.add_argument("--state", metavar="DIR", help="keep the instance's volume (~/SageMaker) in DIR (default: a temporary folder)")
    emu.add_argument("--platform", choices=("al2023", "al2"), default="al2023",
                     help="al2023: systemd, no cron (default); al2: systemd and cron")
    emu.add_argument("--config", metavar="LOGICAL_ID", help="with a template holding several lifecycle configs: the one to run")


def _run_local(args: argparse.Namespace) -> int:
    from .. import emulator  # the emulator is only needed here

    if args.restarts < 0:
        raise BundleError(f"--restarts: {args.restarts} must be 0 or more")
    on_start, on_create = _hooks_to_run(args)
    reason = emulator.unavailable_reason()
    if reason:
        raise BundleError(reason)
    try:
        with contextlib.ExitStack() as stack:
            state = args.state or stack.enter_context(tempfile.TemporaryDirectory(prefix="notebook-lifecycle-state-"))
            emu = emulator.Emulator(state, platform=args.platform)
            boots = [emu.start(on_start, on_create)]
            boots += [emu.run(on_start) for _ in range(args.restarts) if on_start is not None]
    except (emulator.EmulatorUnavailable, emulator.EmulatorError, OSError, ValueError) as exc:
        # every error is one line (exit 2): a missing crontab, a sandbox that broke, an unwritable --state
        raise BundleError(" ".join(str(exc).split()) or type(exc).__name__) from None
    failed = []
    for number, result in enumerate(boots, start=1):
        print(f"boot {number} ({'first start' if number == 1 else 'restart'}, {args.platform})")
        for hook in (*result.earlier, result):
            print(_describe_hook(hook))
            if hook.failed:
                failed.append(f"boot {number} {hook.hook}: {hook.reason}")
    if failed:
        print("a real instance would have FAILED to start: " + "; ".join(failed))
        return 1
    print("a real instance would have started: every hook exited 0 within the 300 s limit")
    return 0


def _hooks_to_run(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """(on-start, on-create) scripts from a folder, a script file or a template."""
    target = args.dir
    if target is None or Path(target).is_dir():
        bundle = _bundle_from(args)
        return bundle.on_start_script, bundle.on_create_script
    try:
        found = _bundles_in(target)
    except BundleError:
        # not one of ours: a hand-written lifecycle script runs as it is
        with _os_errors("cannot read"):
            text = Path(target).read_text(encoding="utf-8", errors="replace")
        if text.lstrip().startswith("{"):
            raise
        return text, None
    configs = sorted({b.label.rsplit("/", 1)[0] for b in found if "/" in b.label})
    if len(configs) > 1 or args.config:
        if args.config not in configs:
            raise BundleError(f"--config: give one of {', '.join(configs) or '(none)'} to choose the lifecycle config to run")
        found = [b for b in found if b.label.rsplit("/", 1)[0] == args.config]
    by_hook = {b.hook: b.script for b in found}
    return by_hook.get("on-start"), by_hook.get("on-create")


def _describe_hook(result: Any) -> str:
    verdict = f"FAILED: {result.reason}" if result.failed else "ok"
    lines = [f"  {result.hook}: {verdict}, {result.seconds:.2f} s of the 300 s limit"]
    from ..emulator import summary_table

    table = summary_table(result.output, result.hook)
    lines += [f"    {row}" for row in table] or ["    (no step summary: the runner did not finish; output tail below)"]
    failed_steps = [row.split()[0] for row in table[1:] if "failed(" in row]
    if failed_steps:
        lines.append(f"    failed steps (logged; they do not fail the start): {', '.join(failed_steps)}")
    late = result.late_summary
    if late:
        lines.append("    after the hook returned, the runner went on (steps after the deadline, background steps); "
                     "final summary from the log:")
        lines += [f"      {row}" for row in late]
        failed_late = [row.split()[0] for row in late[1:] if "failed(" in row or " detached " in row]
        if failed_late:
            lines.append(f"    failed or detached after the hook returned: {', '.join(failed_late)}")
    if result.drained is False:
        lines.append("    warning: the runner was still running steps when the emulator stopped waiting for it")
    lines += [f"    stubbed call: {call}" for call in result.calls]
    if result.failed or not table:
        lines += [f"    | {line}" for line in result.output.rstrip("\n").splitlines()[-15:]]
    return "\n".join(lines)
