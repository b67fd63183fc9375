#!/usr/bin/env python3
"""notebook-lifecycle autostop: stop this notebook instance when Jupyter has been idle.

One check per run (a systemd timer, cron or a loop runs it every 5 minutes), one
log line per decision. Python 3.9+ (3.5 suffices), standard library only; the
AWS calls run in a Python with boto3 (see `stop`).

Idle: no kernel busy, no open kernel connection (unless --ignore-connections),
and the latest activity of every kernel and terminal, and the latest activity
the state file remembers (it starts when autostop starts), older than the idle
time. Then, if DescribeNotebookInstance says InService, StopNotebookInstance.
When Jupyter, the metadata or the API cannot be read, it logs why and does not
stop.

Settings: --NAME VALUE, else the variable NL_AUTOSTOP_<NAME> (upper case, '_'),
else the default in SETTINGS; lists are ':'-separated. Flags: --ignore-connections,
--dry-run (decide, do not stop), --quiet (no copy of the log on stdout).

Shipped with comments, docstrings and blank lines stripped, indented by one space.
"""

import argparse
import datetime as dt
import errno
import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

UTC = dt.timezone.utc
LOGS = "/home/ec2-user/SageMaker/.lifecycle/logs"
CONDA = "/home/ec2-user/anaconda3/envs/"
SETTINGS = {
    "idle-seconds": "3600",
    "jupyter-url": "https://localhost:8443",
    "metadata": "/opt/ml/metadata/resource-metadata.json",
    "state": "/var/lib/notebook-lifecycle/autostop.json",
    "logs": "/var/log/jupyter.log:" + LOGS + "/autostop.log",
    # where jupyter_server writes jpserver-<pid>.json (with the token, if any)
    "runtime-dirs": "/home/ec2-user/.local/share/jupyter/runtime:/root/.local/share/jupyter/runtime",
    # Pythons tried, in order, for the AWS calls
    "pythons": CONDA + "JupyterSystemEnv/bin/python:" + CONDA + "python3/bin/python:/usr/bin/python3",
    "aws-user": "ec2-user",
}
ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?\s*(?:Z|([+-])(\d\d):?(\d\d)?)?$", re.I)


def parse_time(value):
    """An aware UTC datetime from ISO-8601 text ('Z', +hh:mm, any fraction; naive is UTC), else None."""
    m = ISO.match(value.strip()) if isinstance(value, str) else None
    if not m:
        return None
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), int((frac or "0")[:6].ljust(6, "0")), UTC)
    except ValueError:
        return None
    return t - int(sign + "1") * dt.timedelta(hours=int(oh), minutes=int(om or 0)) if sign else t


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_open(path, flags):
    """os.open without following a symlink, in a folder that, when we are root, only root can change
    and that is where its name says: ec2-user owns ~/SageMaker and could swap a folder there for a link."""
    d, name = os.path.split(os.path.abspath(path))
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        st = os.fstat(dfd)
        writable = st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid)  # by others, or a group but root's
        if os.geteuid() == 0 and (st.st_uid or writable or os.readlink("/proc/self/fd/%d" % dfd) != d):
            raise OSError(errno.EPERM, "not a root-only folder", d)
        if flags & os.O_APPEND and d != "/var/log":  # our own logs: rotate once past 512 KiB
            try:
                if os.stat(name, dir_fd=dfd, follow_symlinks=False).st_size > 1 << 19:
                    os.replace(name, name + ".1", src_dir_fd=dfd, dst_dir_fd=dfd)
            except FileNotFoundError:
                pass
        return os.open(name, flags | os.O_NOFOLLOW, 0o644, dir_fd=dfd)
    finally:
        os.close(dfd)


def read_json(path, safe=False):
    with os.fdopen(safe_open(path, os.O_RDONLY) if safe else os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
        return json.loads(fh.read(1 << 20).decode("utf-8"))


class Jupyter:
    """The local Jupyter server's REST API: self-signed HTTPS, normally without a token."""

    def __init__(self, a, log):
        self.url, self.a, self.log, self.token = a.jupyter_url.rstrip("/"), a, log, None
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def _get(self, path, token):
        req = urllib.request.Request(self.url + path, headers={"Authorization": "token " + token} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx if self.url[:6] == "https:" else None) as r:
                return 200, json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            return e.code, None
        except (OSError, ValueError) as e:  # URLError is an OSError
            raise RuntimeError("cannot read %s%s: %s" % (self.url, path, getattr(e, "reason", e))) from None

    def get(self, path):
        code, data = self._get(path, self.token)
        if code in (401, 403) and not self.token:
            for token, source in self.tokens():
                code, data = self._get(path, token)
                if code == 200:
                    self.token = token
                    self.log("Jupyter asks for a token; using the one in " + source)
                    break
        if code != 200:
            raise RuntimeError("%s%s answered HTTP %d" % (self.url, path, code))
        return [x for x in data if isinstance(x, dict)] if isinstance(data, list) else []

    def tokens(self):
        """Tokens of the servers on our port, newest first, from the files `jupyter server list` reads."""
        port = urllib.parse.urlsplit(self.url).port
        files = [f for d in self.a.runtime_dirs for f in glob.glob(d + "/jpserver-*.json") + glob.glob(d + "/nbserver-*.json")]
        for path in sorted(files, key=os.path.getmtime, reverse=True):
            try:
                info = read_json(path)
                if info["token"] and info.get("port", port) == port:
                    yield str(info["token"]), path
            except (OSError, ValueError, KeyError, TypeError):
                pass


def survey(jupyter, a, now):
    """(reasons it is active now, activity times, inventory) of the kernels, sessions and terminals."""
    kernels = {k.get("id"): k for k in jupyter.get("/api/kernels")}
    sessions = jupyter.get("/api/sessions")
    for s in sessions:
        if isinstance(s.get("kernel"), dict):
            kernels.setdefault(s["kernel"].get("id"), s["kernel"])
    try:
        terminals = jupyter.get("/api/terminals")
    except RuntimeError as e:
        if "HTTP 404" not in str(e):  # 404: terminals are disabled
            raise
        terminals = []
    active, seen = [], []
    for kid, k in sorted(kernels.items(), key=str):
        if k.get("execution_state") == "busy":
            active.append("kernel %.8s is busy" % kid)
        if not a.ignore_connections and (k.get("connections") or 0) > 0:
            active.append("kernel %.8s has %s connection(s)" % (kid, k["connections"]))
        seen.append(parse_time(k.get("last_activity")))
    for t in terminals:
        seen.append(parse_time(t.get("last_activity")))
        if not seen[-1]:
            active.append("terminal %s has no last_activity" % t.get("name"))
    inventory = "%d kernel(s), %d session(s), %d terminal(s)" % (len(kernels), len(sessions), len(terminals))
    return active, [min(t, now) for t in seen if t], inventory


def aws(name, region, dry_run):
    """(--aws NAME REGION, in a Python with boto3) DescribeNotebookInstance; StopNotebookInstance if InService."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return 3
    try:
        sm = boto3.client("sagemaker", region_name=region, config=Config(connect_timeout=10, read_timeout=20))
        status = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
        if status != "InService" or dry_run:
            print("%s is %s; not stopping%s" % (name, status, " (dry run)" * dry_run))
        else:
            sm.stop_notebook_instance(NotebookInstanceName=name)
            print("StopNotebookInstance %s (%s): requested" % (name, region))
    except Exception as e:  # botocore's many errors: report them, never stop by mistake
        print("cannot stop %s: %s: %s" % (name, type(e).__name__, e))
    return 0


def stop(name, region, a, log):
    """Run --aws in the first Python with boto3, as --aws-user (the AWS calls need no root, and
    root must not run ec2-user's conda Pythons, which ec2-user can change)."""
    for py in filter(os.path.isfile, a.pythons):
        cmd = [py, os.path.abspath(__file__), "--aws", name, region] + ["--dry-run"] * a.dry_run
        if os.geteuid() == 0 and a.aws_user not in ("", "root"):
            runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or "runuser"  # cron's PATH lacks sbin
            cmd = [runuser, "-u", a.aws_user, "--"] + cmd
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, cwd="/")
        except (OSError, subprocess.SubprocessError) as e:
            return log("cannot stop %s with %s: %s" % (name, py, e))
        if r.returncode != 3:
            for line in r.stdout.decode("utf-8", "replace").splitlines()[-5:]:
                log("%s [%s]" % (line, py))
            return
    log("cannot stop %s: no Python with boto3 in %s" % (name, ":".join(a.pythons)))


def save(a, state, log):
    try:
        os.makedirs(os.path.dirname(a.state), 0o755, exist_ok=True)
        tmp = "%s.%d" % (a.state, os.getpid())
        with os.fdopen(safe_open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
            json.dump(state, fh)
        os.replace(tmp, a.state)
    except OSError as e:
        log("cannot write the state file: %s" % e)


def check(a, log):
    now = dt.datetime.now(UTC)
    try:
        state = read_json(a.state, safe=True)
        last = parse_time(state["last_activity"])
        if not last:
            raise ValueError("no last_activity")
    except FileNotFoundError:
        state, last = {"since": iso(now)}, now
    except Exception as e:
        log("state file %s unusable (%r); counting from now" % (a.state, e))
        state, last = {"since": iso(now)}, now
    try:
        active, seen, inventory = survey(Jupyter(a, log), a, now)
    except RuntimeError as e:
        if "last_activity" not in state:
            state["last_activity"] = iso(last)
            save(a, state, log)
        return log("%s; not stopping" % e)
    latest = now if active else max([last] + seen)
    if state.get("last_activity") != iso(latest):
        state["last_activity"] = iso(latest)
        save(a, state, log)
    idle = int((now - latest).total_seconds())
    if active:
        return log("active (%s): %s" % (inventory, "; ".join(active)))
    if idle < a.idle_seconds:
        return log("not idle long enough (%s): last activity %s, idle %ds of %ds" % (inventory, iso(latest), idle, a.idle_seconds))
    try:
        meta = read_json(a.metadata)
        name, region = meta["ResourceName"], meta["ResourceArn"].split(":")[3]
    except Exception as e:
        return log("idle for %ds, but %s is unusable (%r); not stopping" % (idle, a.metadata, e))
    log("idle for %ds of %ds (%s, last activity %s); stopping %s" % (idle, a.idle_seconds, inventory, iso(latest), name))
    stop(name, region, a, log)


def main(argv=None):
    p = argparse.ArgumentParser(description="Stop this notebook instance when Jupyter has been idle.")
    for key, default in SETTINGS.items():
        p.add_argument("--" + key, default=os.environ.get("NL_AUTOSTOP_" + key.upper().replace("-", "_"), default))
    for flag in ("ignore-connections", "dry-run", "quiet"):
        p.add_argument("--" + flag, action="store_true", default=os.environ.get("NL_AUTOSTOP_" + flag.upper().replace("-", "_")) == "1")
    p.add_argument("--aws", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.aws:
        return aws(a.aws[0], a.aws[1], a.dry_run)
    a.idle_seconds = int(a.idle_seconds)
    a.state = os.path.abspath(a.state)
    for key in ("logs", "runtime_dirs", "pythons"):
        setattr(a, key, [x for x in getattr(a, key).split(":") if x])
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        a.runtime_dirs.insert(0, os.environ["JUPYTER_RUNTIME_DIR"])

    def log(msg):
        line = "%s notebook-lifecycle autostop: %s\n" % (iso(dt.datetime.now(UTC)), msg)
        if not a.quiet:
            sys.stdout.write(line)
            sys.stdout.flush()
        for path in a.logs:
            if os.path.isdir(os.path.dirname(path)):  # no volume mounted: no persistent log
                try:
                    fd = safe_open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                    os.write(fd, line.encode("utf-8", "replace"))
                    os.close(fd)
                except OSError as e:
                    sys.stderr.write("autostop: cannot write %s: %s\n" % (path, e))

    try:  # never raise: a scheduled job has nobody to raise to (runs cannot overlap: each takes seconds)
        check(a, log)
    except Exception as e:
        log("check failed: %s: %s" % (type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
