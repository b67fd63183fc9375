"""S3 delivery: the fetcher's size, and what fetching costs at start (emulator + moto).

The same bundle (three small scripts) starts two ways on the same instance: inline
(the payload inside the lifecycle script) and through S3 (the small script from
``delivery.render_s3_script`` fetches the payload from a moto server on this
machine, verifies it and keeps a copy on the volume). Reported: the median wall
time of each over restarts, their difference (the fetch overhead at start), the
fetch time the fetcher logs itself, and the S3 script's size in characters after
base64 (SageMaker's measure).

moto on localhost is faster than S3 over the network; the figure is the fetcher's
own cost (python3 start-up, decompressing itself, signing, verifying, unpacking,
keeping the copy), not a network measurement.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import sys
import tempfile
from pathlib import Path

TITLE = "S3 delivery: fetcher size and fetch overhead at start (emulator + moto)"
RUNS = 5
TARGET_SECONDS = 1.0  # fetch overhead at start against a local S3
SCRIPTS = {
    "10-root.sh": "#!/bin/bash\necho root\n",
    "20-user.sh": "echo user\n",
    "lib/data.txt": "x" * 2000 + "\n",
}


def run() -> str:
    from notebook_lifecycle import Bundle, StartupScripts, archive
    from notebook_lifecycle.delivery import content_length, render_s3_script
    from notebook_lifecycle.emulator import Emulator, unavailable_reason
    from notebook_lifecycle.unbundle import read_script

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from servers import moto_server

    bundle = Bundle(StartupScripts.from_files(SCRIPTS, as_root=("10-root.sh",)), deadline_seconds=60)
    payload = archive.pack(read_script(bundle.on_start_script).files, "xz")
    s3_script = render_s3_script(bucket="bench-assets", key="p.tar.xz", sha256=hashlib.sha256(payload).hexdigest(),
                                 size=len(payload), region="us-east-1", deadline_seconds=60, fetch_seconds=30)
    fetcher_chars = content_length(s3_script)
    inline_chars = len(bundle.on_start_content)
    head = [f"## {TITLE}", "",
            f"- S3 lifecycle script: **{fetcher_chars:,} characters** after base64 "
            f"({len(s3_script):,} before), whatever the payload's size; "
            f"the same bundle inline: {inline_chars:,}; payload {len(payload):,} bytes"]
    reason = unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        return "\n".join(head + ["", f"Fetch overhead not measured: {reason}", ""])

    import boto3

    with moto_server() as url, tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s" * 40)
        client.create_bucket(Bucket="bench-assets")
        client.put_object(Bucket="bench-assets", Key="p.tar.xz", Body=payload)
        env = {"AWS_ENDPOINT_URL_S3": url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s" * 40}
        # the sandbox has its own network: moto's port is forwarded into it
        emu = Emulator(Path(tmp) / "state", env=env, forward=[int(url.rsplit(":", 1)[1])])
        inline, s3, logged = [], [], []
        emu.run(bundle.on_start_script)  # first boot: users, folders
        for _ in range(RUNS):
            for script, times in ((bundle.on_start_script, inline), (s3_script, s3)):
                res = emu.run(script)
                if res.failed or "notebook-lifecycle summary" not in res.output:
                    raise RuntimeError(f"the on-start failed in the emulator:\n{res.summary()}")
                times.append(res.seconds)
                found = re.search(r"sha256 verified\) in (\d+\.\d+) s", res.output)
                if found:
                    logged.append(float(found.group(1)))
    med_inline, med_s3 = statistics.median(inline), statistics.median(s3)
    overhead = med_s3 - med_inline
    verdict = "PASS" if overhead <= TARGET_SECONDS else "MISS"
    print(f"{verdict}: fetch overhead {overhead:.3f} s (target <= {TARGET_SECONDS} s); "
          f"S3 script {fetcher_chars} characters")
    return "\n".join(head + [
        f"- fetch overhead at start (median of {RUNS} restarts, S3 minus inline): **{overhead:.3f} s** "
        f"(target <= {TARGET_SECONDS:.1f} s: {verdict})",
        f"- on-start wall time, median: inline {med_inline:.3f} s, S3 {med_s3:.3f} s "
        f"(min/max S3 {min(s3):.3f}/{max(s3):.3f} s)",
        f"- download + verification as the fetcher logs it, median: {statistics.median(logged):.3f} s",
        "",
    ])
