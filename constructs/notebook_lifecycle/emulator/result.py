"""What one lifecycle hook did in the emulator, and the verdict SageMaker would give: :class:`RunResult`,
:class:`StubCall`, and :func:`summary_table` (the runner's summary table, read from its log)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .profiles import _POWER_VERBS, PLATFORM_LIMIT_SECONDS

@dataclass(frozen=True)
class StubCall:
    """One call of a recording stub: the command name, its arguments and the calling user."""

    cmd: str
    args: Tuple[str, ...]
    user: str = "root"

    def __str__(self) -> str:
        return " ".join(shlex.quote(a) for a in (self.cmd,) + self.args)


@dataclass(frozen=True)
class RunResult:
    """What one lifecycle hook did in the emulator.

    ``exit_code`` is ``None`` when the hook was killed at the timeout.
    ``output`` is the hook's combined stdout and stderr (what CloudWatch would
    get), including what background processes wrote to it before the sandbox
    ended. ``calls`` are the stub calls made from the start of this hook until
    the ``after`` snippets began. ``output_held_by`` lists the processes that
    still held the hook's stdout/stderr open when it returned (a platform that
    reads the log until end-of-file would wait for them). ``earlier`` holds the
    hooks that ran before this one in the same boot (on-create, for
    :meth:`Emulator.start`).
    """

    hook: str
    exit_code: Optional[int]
    seconds: float
    output: str
    after_outputs: List[str] = field(default_factory=list)
    after_codes: List[int] = field(default_factory=list)
    calls: List[StubCall] = field(default_factory=list)
    timed_out: bool = False
    timeout: float = PLATFORM_LIMIT_SECONDS
    output_held_by: List[str] = field(default_factory=list)
    setup_output: str = ""
    platform: str = "al2023"
    earlier: Tuple["RunResult", ...] = ()
    log: str = ""
    drained: Optional[bool] = None

    @property
    def reboot(self) -> Optional[StubCall]:
        """The first call that would restart or stop the machine (``reboot``, ``init 6``...), if any."""
        for c in self.calls:
            if c.cmd in ("reboot", "poweroff", "halt") or (c.cmd == "shutdown" and "-c" not in c.args):
                return c
            if c.cmd in ("init", "telinit") and c.args[:1] and c.args[0] in ("0", "6"):
                return c
            if c.cmd == "systemctl" and any(a in _POWER_VERBS for a in c.args if not a.startswith("-")):
                return c
        return None

    @property
    def late_summary(self) -> List[str]:
        """The runner's final summary table (and total line) from the log, when the log holds more
        than one (a continuation after the deadline or for background steps wrote it); else ``[]``."""
        return summary_table(self.log, self.hook, at_least=2)

    @property
    def failed(self) -> bool:
        """What SageMaker would conclude: a non-zero exit or more than 5 minutes fails the start."""
        return (self.timed_out or self.exit_code != 0 or self.seconds > PLATFORM_LIMIT_SECONDS
                or self.reboot is not None)

    @property
    def reason(self) -> Optional[str]:
        """Why the hook failed, in a few words (``None`` when it did not)."""
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        if self.exit_code != 0:
            return f"exit code {self.exit_code}"
        if self.seconds > PLATFORM_LIMIT_SECONDS:
            return f"took {self.seconds:.1f} s, over the platform's limit of {PLATFORM_LIMIT_SECONDS} s"
        if self.reboot is not None:
            return f"the script ran `{self.reboot}`: a real instance would restart in the middle of the hook"
        return None

    def calls_to(self, cmd: str) -> List[StubCall]:
        """The recorded calls of one stub (``"systemctl"``, ``"amazon-ssm-agent"``...)."""
        return [c for c in self.calls if c.cmd == cmd]

    def summary(self, *, tail: int = 20) -> str:
        """A few lines for people: verdict, time, stub calls, warnings; the output's tail when it failed."""
        lines = [r.summary(tail=tail) for r in self.earlier]
        verdict = f"FAILED ({self.reason})" if self.failed else "ok"
        code = "killed" if self.exit_code is None else f"exit {self.exit_code}"
        lines.append(
            f"{self.hook} ({self.platform}): {verdict}: {code} after {self.seconds:.2f} s "
            f"(platform limit {PLATFORM_LIMIT_SECONDS} s)"
        )
        if self.calls:
            lines.append(f"  {len(self.calls)} stubbed call(s):")
            lines.extend(f"    {c}" + ("" if c.user == "root" else f"  (as {c.user})") for c in self.calls)
        late = self.late_summary
        if late:
            lines.append("  after the hook returned, the runner went on; its final summary:")
            lines.extend(f"    {row}" for row in late)
        if self.drained is False:
            lines.append("  warning: the runner's continuation was still running when the emulator stopped waiting")
        if self.output_held_by:
            lines.append("  warning: still holding the hook's output open when it returned: "
                         + "; ".join(self.output_held_by))
        if self.failed and tail > 0:
            out = self.output.rstrip("\n").splitlines()[-tail:]
            if out:
                lines.append(f"  last {len(out)} line(s) of output:")
                lines.extend(f"    | {line}" for line in out)
        return "\n".join(lines)


def summary_table(text: str, hook: str, *, at_least: int = 1) -> List[str]:
    """The rows of the last summary table the runner wrote for ``hook`` in ``text`` (header first, up to
    its total line), when ``text`` holds at least ``at_least`` of them; else ``[]``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line == f"notebook-lifecycle summary ({hook})"]
    if not starts or len(starts) < at_least:
        return []
    rows = []
    for line in lines[starts[-1] + 1:]:
        if not line.strip():
            break
        rows.append(line)
        if line.startswith("total "):
            break
    return rows
