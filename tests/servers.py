"""Local servers the tests start for real (moto standing in for the AWS APIs), and how to stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Optional, Union

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
#: moto accepts any credentials; these are the ones the tests give the SDKs and the CDK CLI.
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: "subprocess.Popen[bytes]", timeout: float = 15) -> None:
    """Stop a process started with ``start_new_session=True``, and everything in its group."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


@contextlib.contextmanager
def moto_server(
    *, host: str = "localhost", log: Union[IO[bytes], IO[str], None] = None, env: Optional[Mapping[str, str]] = None
) -> Iterator[str]:
    """A moto server on this machine; yields ``http://localhost:PORT`` once it answers, stops it after.

    Use ``localhost`` in the URL, not an IP: moto takes an S3 bucket name from
    the host of a path-style URL (the CDK CLI's asset uploads need this).
    """
    port = free_port()
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(MOTO_SERVER), "-H", host, "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True, env=dict(env) if env is not None else None,
    )  # fmt: skip
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start (exit {proc.poll()})") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


def moto_env(base: Mapping[str, str], endpoint: str, region: str = "us-east-1", **more: str) -> dict[str, str]:
    """``base`` plus what sends the AWS SDKs (and the CDK CLI) to the moto server at ``endpoint``: its URL,
    the dummy credentials and ``region``; then ``more``."""
    return {**base, "AWS_ENDPOINT_URL": endpoint, **MOTO_CREDENTIALS, "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region, **more}


def moto_clients(endpoint: str, *services: str, region: str = "us-east-1") -> list[Any]:
    """boto3 clients of ``services`` (``"cloudformation"``, ``"iam"``...) on the moto server at ``endpoint``."""
    import boto3

    session = boto3.Session(aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name=region)
    return [session.client(s, endpoint_url=endpoint) for s in services]
