"""The size report of a bundle: what each hook costs against SageMaker's limit (:class:`SizeReport`,
:class:`HookSize`, :class:`FileCost`); :meth:`Bundle.size_report` fills it in.

Pure Python; no CDK here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileCost:
    """What one file adds to a hook's content, approximately (compressed alone, then twice base64)."""

    path: str
    raw_bytes: int
    approx_chars: int


@dataclass(frozen=True)
class HookSize:
    """Size budget of one lifecycle hook.

    ``total`` is what counts against the limit: the inline script, or for S3 delivery the
    fetcher script (``fetcher_chars``, counted with the bucket, region and key at their bound);
    ``inline_total`` is what the inline script is (or would be), ``payload_bytes`` the size of
    the compressed payload (the S3 object for S3 delivery).
    """

    hook: str
    total: int
    limit: int
    decoder_chars: int
    runner_chars: int
    files: tuple[FileCost, ...]
    #: one entry per deploy-time value: ``path`` is its name, ``raw_bytes`` the bound it is counted at
    values: tuple[FileCost, ...] = ()
    #: "inline" or "s3": how the payload reaches the instance
    delivery: str = "inline"
    #: bytes of the compressed payload (the S3 object, for S3 delivery)
    payload_bytes: int = 0
    #: characters after base64 of the S3 fetcher script (0 for inline delivery)
    fetcher_chars: int = 0
    #: characters after base64 of the inline script (equal to ``total`` for inline delivery)
    inline_total: int = 0

    @property
    def headroom(self) -> int:
        return self.limit - self.total

    @property
    def fits(self) -> bool:
        return self.total <= self.limit

    def costliest(self, n: int = 3) -> list[FileCost]:
        return sorted(self.files, key=lambda f: (-f.approx_chars, f.path))[:n]

    def render(self) -> str:
        lines = [f"{self.hook}: {self.total} of {self.limit} characters (headroom {self.headroom})"]
        if self.delivery == "s3":
            lines[0] += ", delivery s3"
            lines.append(
                f"  delivery s3: the payload ({self.payload_bytes} bytes) is an S3 object; the lifecycle script is "
                f"the fetcher ({self.fetcher_chars} characters, bucket, region and key counted at their bound); "
                f"inline it would be {self.inline_total} characters"
            )
        else:
            lines[0] += f", delivery inline (payload {self.payload_bytes} bytes)"
        lines.append(f"  {'FILE':<44} {'BYTES':>8} {'~CHARS':>8}")
        for f in sorted(self.files, key=lambda f: f.path):
            lines.append(f"  {f.path:<44} {f.raw_bytes:>8} {f.approx_chars:>8}")
        lines.append(f"  {'(runner, compressed in the payload)':<44} {'':>8} {self.runner_chars:>8}")
        lines.append(f"  {'(decoder, plain text)':<44} {'':>8} {self.decoder_chars:>8}")
        for v in self.values:
            lines.append(f"  {'(deploy-time value ' + v.path + ')':<44} {v.raw_bytes:>8} {v.approx_chars:>8}")
        if self.values:
            lines.append(
                "  deploy-time values are counted at their bound (BYTES: DeployValue.max_length, default 256); "
                "a longer value can exceed the limit at deploy time"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class SizeReport:
    """Size budget of every hook of a bundle; ``str()`` renders a table.

    ``total``, ``limit``, ``headroom`` and ``files`` speak of the on-start hook
    (the on-create hook when there is no on-start).
    """

    hooks: tuple[HookSize, ...]

    @property
    def main(self) -> HookSize:
        return self.hooks[0]

    @property
    def total(self) -> int:
        return self.main.total

    @property
    def limit(self) -> int:
        return self.main.limit

    @property
    def headroom(self) -> int:
        return self.main.headroom

    @property
    def files(self) -> tuple[FileCost, ...]:
        return self.main.files

    @property
    def fits(self) -> bool:
        return all(h.fits for h in self.hooks)

    @property
    def delivery(self) -> str:
        """How the main hook's payload reaches the instance: ``"inline"`` or ``"s3"``."""
        return self.main.delivery

    def __str__(self) -> str:
        return "\n\n".join(h.render() for h in self.hooks)
