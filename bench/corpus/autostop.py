#!/usr/bin/env python3
"""Stop this notebook instance after a period without activity.

Run from root's crontab every 5 minutes (see 16-autostop-cron.sh):

    */5 * * * * /path/to/python autostop.py --idle 5400 >> .../autostop.log 2>&1

Activity is the newest of: any kernel's last_activity, any terminal's
last_activity, a browser connection (unless --ignore-connections), and the
instance's start time. The newest activity seen is kept in a state file under
/var/tmp (not on the EBS volume: a restart must reset it), so a kernel that was
shut down does not make the instance look idle since its creation.

Needs sagemaker:StopNotebookInstance on the instance itself. Python 3.7 or newer;
boto3 is used when importable, the aws CLI otherwise.
"""
import argparse
import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import urllib.request

METADATA = "/opt/ml/metadata/resource-metadata.json"
STATE = "/var/tmp/autostop/last-activity"
UTC = dt.timezone.utc


def log(msg, **fields):
    record = {"time": dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "msg": msg}
    record.update(fields)
    print(json.dumps(record, default=str), flush=True)


def parse_time(value):
    """Jupyter timestamps: 2024-03-01T12:34:56.789012Z (sometimes without fraction)."""
    if not value:
        return None
    value = value.rstrip("Z").replace("z", "")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def jupyter_get(port, path, timeout=10):
    # The notebook server uses a self-signed certificate and no token on localhost.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    url = "https://localhost:%d%s" % (port, path)
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def boot_time():
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("btime "):
                return dt.datetime.fromtimestamp(int(line.split()[1]), UTC)
    return dt.datetime.now(UTC)


def read_state():
    try:
        with open(STATE) as fh:
            return parse_time(fh.read().strip())
    except OSError:
        return None


def write_state(when):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    tmp = STATE + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    os.replace(tmp, STATE)


def last_activity(port, ignore_connections):
    """The newest activity time, or None when Jupyter says something is busy right now."""
    newest = boot_time()
    for session in jupyter_get(port, "/api/sessions"):
        kernel = session.get("kernel") or {}
        state = kernel.get("execution_state")
        if state == "busy":
            log("kernel busy", kernel=kernel.get("id"), path=session.get("path"))
            return None
        if not ignore_connections and kernel.get("connections", 0) > 0:
            log("browser connected", kernel=kernel.get("id"))
            return None
        seen = parse_time(kernel.get("last_activity"))
        if seen and seen > newest:
            newest = seen
    try:
        terminals = jupyter_get(port, "/api/terminals")
    except Exception as exc:  # terminals may be disabled on the server
        log("cannot list terminals", error=str(exc))
        terminals = []
    for term in terminals:
        seen = parse_time(term.get("last_activity"))
        if seen and seen > newest:
            newest = seen
    return newest


def notebook_identity():
    with open(METADATA) as fh:
        meta = json.load(fh)
    arn = meta["ResourceArn"]
    return meta["ResourceName"], arn.split(":")[3]


def stop_instance(name, region, dry_run):
    if dry_run:
        log("dry run: would stop", notebook=name)
        return True
    try:
        import boto3  # noqa: PLC0415 - optional, only on some interpreters

        boto3.client("sagemaker", region_name=region).stop_notebook_instance(NotebookInstanceName=name)
        return True
    except ImportError:
        pass
    cmd = ["aws", "sagemaker", "stop-notebook-instance", "--notebook-instance-name", name, "--region", region]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        log("aws cli failed", rc=proc.returncode, output=proc.stdout.strip()[-500:])
        return False
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=int, default=int(os.environ.get("IDLE_TIMEOUT_SECONDS", "3600")),
                    help="seconds without activity before stopping (default 3600)")
    ap.add_argument("--port", type=int, default=8443, help="Jupyter server port (default 8443)")
    ap.add_argument("--ignore-connections", action="store_true",
                    help="an open browser tab does not count as activity")
    ap.add_argument("--dry-run", action="store_true", help="log the decision, do not stop")
    args = ap.parse_args(argv)
    if args.idle < 600:
        ap.error("--idle below 600 seconds would stop instances that are still starting")

    try:
        name, region = notebook_identity()
    except (OSError, KeyError, ValueError, IndexError) as exc:
        log("not a notebook instance?", error=str(exc))
        return 2
    try:
        seen = last_activity(args.port, args.ignore_connections)
    except Exception as exc:
        # Jupyter restarting or not up yet: never stop on an error.
        log("cannot query jupyter", error=str(exc))
        return 0
    if seen is None:
        write_state(dt.datetime.now(UTC))
        return 0

    previous = read_state()
    if previous and previous > seen:
        seen = previous
    else:
        write_state(seen)
    idle_for = (dt.datetime.now(UTC) - seen).total_seconds()
    if idle_for < args.idle:
        log("active", notebook=name, idle_seconds=int(idle_for), limit=args.idle)
        return 0
    log("idle, stopping", notebook=name, idle_seconds=int(idle_for), last_activity=seen)
    return 0 if stop_instance(name, region, args.dry_run) else 1


if __name__ == "__main__":
    sys.exit(main())
