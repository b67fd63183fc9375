#!/usr/bin/env python3
"""notebook-lifecycle autostop: stop this notebook instance when Jupyter has been idle.

One check per run (a systemd timer, cron or a loop runs it every 5 minutes), one
log line per decision. Python 3.9+ (3.5 suffices), standard library only; the
AWS calls run in a Python with boto3 (see `aws`).

Idle: no kernel busy, no open kernel connection (unless --ignore-connections),
and the latest activity of every kernel and terminal, and the latest activity
the state file remembers (it starts when autostop starts), older than the idle
time. Then, if DescribeNotebookInstance says InService, StopNotebookInstance.
When Jupyter, the metadata or the API cannot be read, it logs why and does not
stop: every error ends in a log line, never in a stop.

Settings (the keys of S): --NAME VALUE, else the variable NL_AUTOSTOP_<NAME>
(upper case, '_'), else the default in S; `logs` and `pythons` are ':'-separated.
Flags (FLAGS: --ignore-connections; --dry-run: decide, do not stop; --quiet: no
copy of the log on stdout) are also set by NL_AUTOSTOP_<NAME>=1. main() puts
every setting in S, flags as True/False. Jupyter's token files are looked for
in $JUPYTER_RUNTIME_DIR and in ec2-user's and root's runtime folders.

Shipped minified (shipped.minify_python: no comments or docstrings, minimal
spacing, names shortened: tests reach its functions through shipped.python_names).
Comments cost nothing on the instance, code does (the
whole on-start script must fit in 16 KiB of base64): keep the code plain, the
messages short, the knobs few, and say each thing once.
"""

import datetime as dt
import glob
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import urllib.request

UTC = dt.timezone.utc
HOME = "/home/ec2-user/"
S = {
    "--idle-seconds": "3600",
    "--jupyter-url": "https://localhost:8443",
    "--metadata": "/opt/ml/metadata/resource-metadata.json",
    "--state": "/var/lib/notebook-lifecycle/autostop.json",
    "--logs": "/var/log/jupyter.log:" + HOME + "SageMaker/.lifecycle/logs/autostop.log",
    # tried in order for the AWS calls, which run as aws-user ("": as whoever runs this)
    "--pythons": HOME + "anaconda3/envs/JupyterSystemEnv/bin/python:" + HOME + "anaconda3/envs/python3/bin/python:/usr/bin/python3",
    "--aws-user": "ec2-user",
}
FLAGS = "--ignore-connections", "--dry-run", "--quiet"
H = {}  # type: dict  # the headers of the requests to Jupyter: its token, once one is needed


def parse_time(value):
    """An aware UTC datetime from ISO-8601 text ('Z', +hh:mm, any fraction; naive is UTC), else None."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,6})\d*)?)?)?\s*(?:[Zz]|([+-]\d\d):?(\d\d)?)?$",
                 str(value).strip())
    try:
        # what is left out is 0: y, mo, d, h, mi, s, microseconds (at most 6 digits, padded), offset "+hh" and "mm"
        *ymdhms, frac, oh, om = m.groups("0")
        # the offset's minutes take the sign of its hours
        return dt.datetime(*map(int, ymdhms), int(frac.ljust(6, "0")), UTC) - dt.timedelta(hours=int(oh), minutes=int(oh[0] + om))
    except Exception:  # no match (None has no groups); a day or an hour out of range
        return None


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_open(path, flags, server=False):
    """os.open of `path` without following a symlink at its name, relative to its folder, opened once.
    For our own files (server False), when we are root, that folder must be one only root can change
    and be where its name says: ec2-user owns ~/SageMaker and could swap a folder there for a link.
    Appending to one of our own logs (not /var/log's) first rotates it once past 512 KiB.
    For a Jupyter runtime file (server True; its folder is ec2-user's), the open file itself must be
    a regular file with one link, owned by root or by the owner of its folder: a link or a hard link
    planted by ec2-user (say, to a root-only file) is never read, whenever it is planted, as nothing is
    checked before the open. O_NONBLOCK: a FIFO never blocks."""
    d, name = os.path.split(os.path.abspath(path))
    dfd = os.open(d, os.O_DIRECTORY)  # read-only: os.O_RDONLY is 0
    try:
        st = os.fstat(dfd)
        # writable by others, or by a group that is not root's, or reached through a link
        if not server and os.geteuid() == 0 and (st.st_uid or st.st_mode & 2 or st.st_mode & 16 and st.st_gid
                                                 or os.readlink("/proc/self/fd/%d" % dfd) != d):
            raise PermissionError("not a root-only folder: " + d)
        if flags & os.O_APPEND and d != "/var/log" and name in os.listdir(dfd) \
                and os.stat(name, dir_fd=dfd, follow_symlinks=False).st_size > 1 << 19:
            os.replace(name, name + ".1", src_dir_fd=dfd, dst_dir_fd=dfd)
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644, dir_fd=dfd)
    finally:
        os.close(dfd)
    f = os.fstat(fd)
    if server and not (stat.S_ISREG(f.st_mode) and f.st_nlink == 1 and f.st_uid in (0, st.st_uid)):
        os.close(fd)
        raise ValueError("not a server file: " + path)
    return fd


def load(fd):
    """At most 1 MiB of JSON from the open file `fd` (closed after)."""
    with os.fdopen(fd, "rb") as fh:
        return json.loads(fh.read(1 << 20))


def write(path, text, flags):
    """Write `text` into `path` (safe_open; created 644); the error as a message, else None."""
    try:
        fd = safe_open(path, os.O_WRONLY | os.O_CREAT | flags)
        os.write(fd, text.encode(errors="replace"))
        os.close(fd)
    except OSError as e:
        return "cannot write %s: %s" % (path, e)


def log(msg):
    """One line, stamped in UTC, on stdout (unless --quiet) and at the end of every log whose folder exists
    (no volume mounted: no persistent log)."""
    line = "%s notebook-lifecycle autostop: %s\n" % (iso(dt.datetime.now(UTC)), msg)
    if not S["--quiet"]:
        sys.stdout.write(line)
    for path in S["--logs"].split(":"):
        e = os.path.isdir(os.path.dirname(path)) and write(path, line, os.O_APPEND)
        if e:
            sys.stderr.write("autostop: %s\n" % e)


def request(url):
    """(HTTP status, JSON) of a GET on Jupyter; RuntimeError when it cannot be read."""
    try:
        # Jupyter's certificate is self-signed: the unverified context is the documented opt-out (PEP 476)
        with urllib.request.urlopen(urllib.request.Request(url, headers=H), timeout=10, context=ssl._create_unverified_context()) as r:
            return 200, json.load(r)
    except urllib.request.HTTPError as e:  # urllib.error's, which urllib.request imports
        return e.code, None
    except (OSError, ValueError) as e:  # URLError is an OSError
        raise RuntimeError("cannot read %s: %s" % (url, e))


def get(path):
    """The list at `path` of Jupyter's REST API. Jupyter normally wants no token; when it answers
    401/403, the token of each runtime file (`jupyter server list` reads them) is tried."""
    url = S["--jupyter-url"].rstrip("/") + path
    code, data = request(url)
    if code in (401, 403) and not H:
        # jpserver-<pid>.json: jupyter_server; nbserver-<pid>.json: the classic notebook server
        for f in [f for d in (os.environ.get("JUPYTER_RUNTIME_DIR", "/-"), HOME + ".local/share/jupyter/runtime",
                              "/root/.local/share/jupyter/runtime") for f in glob.glob(d + "/*server-*.json")]:
            try:
                H["Authorization"] = "token " + load(safe_open(f, 0, True))["token"]  # 0: read-only
            except Exception:  # a link, not a server's file, or not readable
                continue
            code, data = request(url)
            if code == 200:
                log("Jupyter asks for a token; using the one in " + f)
                break
    if code == 404 and path == "/api/terminals":  # terminals are disabled
        return []
    if code != 200:
        raise RuntimeError("%s answered HTTP %d" % (url, code))
    return data


def aws(name, region, dry_run=""):
    """(--aws NAME REGION [--dry-run], in a Python with boto3) DescribeNotebookInstance; StopNotebookInstance
    if InService. Exit status 3: no boto3 here."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return 3
    try:
        sm = boto3.client("sagemaker", region, config=Config(connect_timeout=10, read_timeout=20))
        status = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
        if status == "InService" and not dry_run:
            sm.stop_notebook_instance(NotebookInstanceName=name)
            print("StopNotebookInstance %s (%s): requested" % (name, region))
        else:
            print("%s is %s; not stopping%s" % (name, status, dry_run and " (dry run)"))
    except Exception as e:  # botocore's many errors: report them, never stop by mistake
        print("cannot stop %s: %s: %s" % (name, type(e).__name__, e))


def check():
    """One decision, logged. What is not shaped as expected raises (main logs it): an error never stops."""
    now = dt.datetime.now(UTC)
    try:
        stored = load(safe_open(S["--state"], 0))["last_activity"]  # 0: read-only
    except Exception:  # none yet (the idle clock starts now), or unusable (then it cannot be written either)
        stored = None
    latest = parse_time(stored) or now
    try:
        kernels = {k["id"]: k for k in get("/api/kernels")}
        sessions = get("/api/sessions")
        for s in sessions:
            if s.get("kernel"):  # normally in /api/kernels too; not if it started in between
                kernels.setdefault(s["kernel"]["id"], s["kernel"])
        terminals = get("/api/terminals")
        active = []
        for kid, k in kernels.items():
            if k.get("execution_state") == "busy":
                active.append("kernel %.8s is busy" % kid)
            if k.get("connections") and not S["--ignore-connections"]:
                active.append("kernel %.8s has %s connection(s)" % (kid, k["connections"]))
        # without a (readable) last_activity, a kernel or terminal counts as active now;
        # a time in the future counts as now
        latest = now if active else min(now, max([latest] + [
            parse_time(x.get("last_activity")) or now for x in [*kernels.values(), *terminals]]))
        inventory = "%d kernel(s), %d session(s), %d terminal(s)" % (len(kernels), len(sessions), len(terminals))
        idle = int((now - latest).total_seconds())
        why = "active (%s): %s" % (inventory, "; ".join(active)) if active else idle < int(S["--idle-seconds"]) and \
            "not idle long enough (%s): idle %ds of %ss" % (inventory, idle, S["--idle-seconds"])
    except RuntimeError as e:
        why = "%s; not stopping" % e
    if iso(latest) != stored:  # the state file changes when the last activity it remembers does
        os.makedirs(os.path.dirname(S["--state"]), exist_ok=True)
        failed = write(S["--state"], json.dumps({"last_activity": iso(latest)}), os.O_TRUNC)
        if failed:
            log(failed)
    if why:
        return log(why)
    try:
        meta = load(os.open(S["--metadata"], os.O_RDONLY | os.O_NONBLOCK))  # not blocking on a FIFO
        name, region = meta["ResourceName"], meta["ResourceArn"].split(":")[3]
    except Exception as e:
        return log("%s is unusable (%r); not stopping" % (S["--metadata"], e))
    log("idle %ds (%s); stopping %s" % (idle, inventory, name))
    # --aws in the first Python with boto3, as aws-user (the AWS calls need no root, and root must not
    # run ec2-user's conda Pythons, which ec2-user can change)
    for py in filter(os.path.isfile, S["--pythons"].split(":")):
        cmd = [py, os.path.abspath(__file__), "--aws", name, region] + ["--dry-run"] * S["--dry-run"]
        if os.geteuid() == 0 and S["--aws-user"]:
            cmd = ["/usr/sbin/runuser", "-u", S["--aws-user"], "--"] + cmd  # absolute: cron's PATH lacks sbin
        # an error (say, a timeout) reaches main, which logs it
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, cwd="/")
        if r.returncode != 3:
            for line in r.stdout.decode(errors="replace").splitlines()[-5:]:
                log("%s [%s]" % (line, py))
            return
    log("cannot stop %s: no Python with boto3 in %s" % (name, S["--pythons"]))


def main():
    a = sys.argv[1:]
    if a[:1] == ["--aws"]:
        return aws(*a[1:])
    for k in [*S, *FLAGS]:
        v = os.environ.get("NL_AUTOSTOP_" + k[2:].upper().replace("-", "_"), S.get(k))
        S[k] = v == "1" if k in FLAGS else v
    while a:
        k = a.pop(0)
        if k in FLAGS:
            S[k] = True
        elif k in S and a:
            S[k] = a.pop(0)
        else:  # --help, or not a setting: the settings, with their values now
            print("usage: autostop.py [--NAME VALUE | --FLAG]...; now", S)
            return 2 * (k != "--help")
    try:  # never raise: a scheduled job has nobody to raise to (runs cannot overlap: each takes seconds)
        check()
    except Exception as e:
        log("check failed: %r" % e)


if __name__ == "__main__":
    sys.exit(main())
