"""Room left for user scripts with every feature on, and where the characters of such a bundle go.

Issue #8, item 4: with every feature on, a bundle should leave at least 8,000 of SageMaker's
16,384 characters for the user's own scripts. Measured here:

* **room**: 16,384 minus the ``Content`` of an on-start bundle with every feature on and no user
  script (the features of ``EVERY``: the ones the issue names, one value each);
* **corpus that fits**: raw bytes of ``bench/corpus`` files (sorted order, whole files, then the
  next file cut at a line boundary) that fit beside every feature, through
  ``bench_density.fit_fast``: the room in bytes of real scripts;
* **per feature**: what each feature adds alone (its bundle minus the smallest bundle, one
  environment variable) and in context (the full bundle minus the full bundle without it);
* **where the characters go**: decoder, runner, plan, records headers and each feature file in
  context (the full bundle without that file), all in characters of ``Content``.

Target: room >= 8,000. A miss is reported, never raised.
"""

from __future__ import annotations

import math

import bench_density as density
import notebook_lifecycle as nl
from notebook_lifecycle import archive
from notebook_lifecycle.bundle import CONTENT_LIMIT, RUNNER_PATH

TITLE = "room left with every feature on"
TARGET = 8000
#: measured before the work on issue #8 item 4 (same EVERY): main at db44818, and main at e10e64c
#: (the same features with hard-runner's larger runner and decoder), which this branch is based on;
#: main at d04b6cc (lean's minifier and autostop, before the dense branch's records, base95 and runner)
BEFORE = {"total": 14708, "room": 1676}
BEFORE_OLD_RUNNER = {"total": 13088, "room": 3296}
BEFORE_DENSE = {"total": 14276, "room": 2108}

EVERY = dict(
    autostop=nl.Autostop(), persistent_conda=True, stop_ssm_agent=True, persist_dirs=(".config", ".ssh"),
    bin_dir=True, environment={"A": "b"}, binaries=(nl.Binary("x", "https://example.com/x", sha256="0" * 64),),
)
# what each row leaves out of EVERY (bin_dir goes with binaries, which turn it on; both share the
# environment feature's profile)
WITHOUT = {
    "stop_ssm_agent": ("stop_ssm_agent",),
    "environment (1 variable)": ("environment",),
    "persist_dirs (.config, .ssh)": ("persist_dirs",),
    "persistent_conda": ("persistent_conda",),
    "bin_dir + binaries (1)": ("bin_dir", "binaries"),
    "autostop": ("autostop",),
}


def _features(leave_out=()) -> "nl.Features":
    return nl.Features(**{k: v for k, v in EVERY.items() if k not in leave_out})


def _content(features, scripts=None) -> int:
    return len(nl.Bundle(scripts, features=features, check_size=False).on_start_content)


#: characters of Content per compressed payload byte: base95 in the script (8 / log2(95)), then base64 (4/3)
PER_BYTE = 8 / math.log2(95) * 4 / 3


def _chars(compressed_bytes: float) -> int:
    return round(compressed_bytes * PER_BYTE)


def run() -> str:
    full = nl.Bundle(features=_features())
    total = len(full.on_start_content)
    room = CONTENT_LIMIT - total
    hook = full._hooks["on-start"]  # the files as packed (the bench reads the library's own render)
    files = hook.files
    decoder_len = full._render_hook("on-start").decoder_len
    xz = len(archive.compress(archive.records(files), "xz"))
    # the decoder's writer travels in the payload, before the records (archive.inline_records)
    payload = len(archive.compress(archive.inline_records(files), "xz"))
    writer = payload - xz

    def without(path: str) -> int:
        return _chars(xz - len(archive.compress(archive.records([f for f in files if f.path != path]), "xz")))

    bare = len(archive.compress(b"".join(f.data for f in sorted(files, key=lambda f: f.path)), "xz"))
    one = nl.StartupScripts.from_files({"10-hello.sh": "#!/bin/bash\necho hello\n"})
    baseline = _content(None, one)
    rows = []
    for label, leave in WITHOUT.items():
        alone = nl.Features(**{k: v for k, v in EVERY.items() if k in leave})
        rows.append((label, total - _content(_features(leave)), _content(alone, one) - baseline))

    corpus = density.load_corpus()
    fits = density.fit_fast("sorted", sorted(corpus), corpus,
                            lambda fs: _content(_features(), density.startup_scripts(fs)))

    verdict = "PASS" if room >= TARGET else "MISS"
    print(f"{verdict}: room left with every feature on {room} (target >= {TARGET}); before {BEFORE['room']}")
    out = [
        "## Room left for user scripts with every feature on",
        "",
        "Every feature on (`autostop=Autostop()`, `persistent_conda`, `stop_ssm_agent`, "
        "`persist_dirs=('.config', '.ssh')`, `bin_dir`, one environment variable, one `Binary` with a sha256), "
        "no user script, xz. Room = 16,384 - `Content`. Target (issue #8): room >= 8,000.",
        "",
        "| | Content chars | room left |",
        "|---|---|---|",
        f"| before, main at db44818 (the runner before hard-runner) | {BEFORE_OLD_RUNNER['total']:,} | "
        f"{BEFORE_OLD_RUNNER['room']:,} |",
        f"| before, main at e10e64c (hard-runner's runner and decoder) | {BEFORE['total']:,} | {BEFORE['room']:,} |",
        f"| before, main at d04b6cc (tar, base85; this branch's start) | {BEFORE_DENSE['total']:,} | "
        f"{BEFORE_DENSE['room']:,} |",
        f"| now | {total:,} | **{room:,}** |",
        "",
        f"**{verdict}: {room:,} characters left (target >= {TARGET:,}; "
        + (f"short by {TARGET - room:,}" if room < TARGET else "met") + f"; {room - BEFORE_DENSE['room']:+,} against main at d04b6cc).**",
        "",
        f"Corpus that fits beside every feature (sorted order, `bench/corpus`): {fits.raw_bytes:,} raw bytes "
        f"({fits.whole} whole files" + (f" + {fits.partial} ({fits.partial_lines[0]}/{fits.partial_lines[1]} lines)"
                                         if fits.partial else "") + ").",
        "",
        "### Cost of each feature (characters of `Content`)",
        "",
        "Alone: a one-script bundle with it minus the same bundle without features (the records headers, the plan "
        "line and the code it adds). In context: the full "
        "bundle minus the full bundle without it (what turning it off gives back).",
        "",
        "| feature | alone | in context |",
        "|---|---|---|",
    ]
    out += [f"| {label} | {alone:,} | {ctx:,} |" for label, ctx, alone in rows]
    out += [
        "",
        "### Where the characters of the full bundle go",
        "",
        "Each file in context: the full payload minus the payload without that file (its data and its records "
        f"header), x{PER_BYTE:.3f} (base95, then base64). Records headers: xz of the records minus xz of the "
        "files' bare concatenation. The decoder is plain text, base64 once.",
        "",
        "| part | bytes | chars |",
        "|---|---|---|",
        f"| decoder (plain text) | {decoder_len:,} | {round(decoder_len * 4 / 3):,} |",
        f"| the decoder's writer (in the payload) | {len(archive.WRITER) + 1:,} | {_chars(writer):,} |",
    ]
    for f in sorted(files, key=lambda f: (f.path != RUNNER_PATH, f.path)):
        out.append(f"| `{f.path.split('/', 1)[1]}` | {len(f.data):,} | {without(f.path):,} |")
    out += [
        f"| records headers ({len(files)} files) | {len(archive.records(files)) - sum(len(f.data) for f in files):,} "
        f"| {_chars(xz - bare):,} |",
        f"| **total Content** | | **{total:,}** |",
        "",
        "The rows overlap a little (LZMA shares what files have in common), so they add up to more than the "
        "total; each is what removing that part alone would give back.",
        "",
        "### The same payload in encodings the library does not ship (estimates)",
        "",
        f"The full bundle's compressed payload ({payload:,} bytes: writer and records, LZMA) written into the script "
        "in other ways; `Content` = base64 of the plain decoder plus the encoded payload (the model gives "
        f"{_estimate(decoder_len, payload, math.log2(95)):,} for the library's base95 against the real {total:,}). "
        "Neither encoding is verified on a real notebook instance (`bench/experiments/binary_probe.py` asks): "
        "they show how far an encoding alone would go.",
        "",
        "| encoding | Content chars (est.) | room left (est.) |",
        "|---|---|---|",
    ]
    for label, bits, extra in (
        ("base95 in a heredoc (the library)", math.log2(95), 0),
        ("base125: 7-bit ASCII without NUL, LF, CR, in a heredoc", math.log2(125), 0),
        ("raw bytes after the script (`tail -c N \"$0\"`, ~20 more decoder bytes)", 8.0, 20),
    ):
        est = _estimate(decoder_len + extra, payload, bits)
        out.append(f"| {label} | {est:,} | {CONTENT_LIMIT - est:,} |")
    return "\n".join(out)


def _estimate(decoder_bytes: int, payload_bytes: int, bits_per_char: float) -> int:
    """Characters of ``Content`` for a decoder of ``decoder_bytes`` followed by ``payload_bytes`` encoded at
    ``bits_per_char`` bits per script byte, all base64-encoded once."""
    return 4 * math.ceil((decoder_bytes + math.ceil(payload_bytes * 8 / bits_per_char)) / 3)
