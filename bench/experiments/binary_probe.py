#!/usr/bin/env python3
"""Does SageMaker write a lifecycle script to disk byte for byte? One on-start script answers it.

Two experiments of bench/bench_density.py depend on it, and no documentation says:

* P3, the payload as raw bytes after the script instead of base85 text inside it;
* base125, the payload as 7-bit ASCII text (every byte 1-127 but LF and CR) in a heredoc,
  which survives a UTF-8 round trip but needs bash (4.2 on AL2) to pass control
  characters through a quoted heredoc.

(Their figures are in bench/RESULTS.md.) The probe is a short bash script that hashes a
heredoc holding the 125 7-bit characters, then, after its `exit 0`, every byte value
(NUL, CR, invalid UTF-8 and all). It prints two lines to the LifecycleConfigOnStart log
stream and always exits 0:

    binary-probe: OK       the tail arrived intact: raw payloads (P3) work
    binary-probe: MANGLED  it did not (a text/UTF-8 round trip): stay with text encodings
    7bit-probe: OK         the heredoc arrived intact: base125 works
    7bit-probe: MANGLED    it did not: stay with printable ASCII (base85, base95)

Usage (a scratch account, a throwaway instance)::

    .venv/bin/python bench/experiments/binary_probe.py > /tmp/probe.b64
    aws sagemaker create-notebook-instance-lifecycle-config \\
        --notebook-instance-lifecycle-config-name nl-binary-probe \\
        --on-start Content="$(cat /tmp/probe.b64)"
    # create or update a notebook instance with it, start it, then read
    # /aws/sagemaker/NotebookInstances <instance>/LifecycleConfigOnStart

``--script FILE`` writes the decoded script instead, to try it locally: ``bash FILE``.
"""

from __future__ import annotations

import base64
import hashlib
import sys

TAIL = bytes(range(256)) + bytes(reversed(range(256))) + "é€\r\n\x00P\n".encode()
SEVEN_BIT = bytes(c for c in range(1, 128) if c not in (10, 13))  # the base125 alphabet


def probe_script() -> bytes:
    want = hashlib.sha256(TAIL).hexdigest()
    want7 = hashlib.sha256(SEVEN_BIT + b"\n").hexdigest()
    head = f"""#!/bin/bash
# notebook-lifecycle binary probe: do the {len(TAIL)} bytes after `exit 0`, and a heredoc of 7-bit bytes, arrive intact?
want={want}
got=$(tail -c {len(TAIL)} "$0" | sha256sum | cut -d' ' -f1)
size=$(stat -c %s "$0" 2>/dev/null || echo '?')
if [ "$got" = "$want" ]; then r=OK; else r=MANGLED; fi
echo "binary-probe: $r (script $0, $size bytes on disk, @TOTAL@ sent; tail sha256 $got)"
got7=$(sha256sum <<'P' | cut -d' ' -f1
@SEVEN@
P
)
if [ "$got7" = {want7} ]; then r7=OK; else r7=MANGLED; fi
echo "7bit-probe: $r7 (bash $BASH_VERSION; heredoc sha256 $got7)"
[ -d /home/ec2-user/SageMaker ] && echo "binary-probe: $r 7bit-probe: $r7 $(date -u +%FT%TZ)" >>/home/ec2-user/SageMaker/binary-probe.txt
exit 0
"""
    # the total length appears in the script itself; iterate until it is stable
    total = 0
    for _ in range(5):
        script = head.replace("@TOTAL@", str(total)).encode().replace(b"@SEVEN@", SEVEN_BIT) + TAIL
        if len(script) == total:
            break
        total = len(script)
    return script


def main(argv: list[str]) -> int:
    script = probe_script()
    if argv[:1] == ["--script"] and len(argv) == 2:
        with open(argv[1], "wb") as fh:
            fh.write(script)
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(base64.b64encode(script).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
