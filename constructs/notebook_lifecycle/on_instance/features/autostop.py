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
stop: every error ends in a log line, never in a stop.

Settings: --NAME VALUE, else the variable NL_AUTOSTOP_<NAME> (upper case, '_'),
else the default in SETTINGS; `logs` and `pythons` are ':'-separated. Flags
(--ignore-connections; --dry-run: decide, do not stop; --quiet: no copy of the
log on stdout) are also set by NL_AUTOSTOP_<NAME>=1. main() puts them in the
module's `args`. Jupyter's token files are looked for in $JUPYTER_RUNTIME_DIR
and in ec2-user's and root's runtime folders.

Shipped minified (shipped.minify_python: no comments or docstrings, minimal
spacing, local names shortened). Comments cost nothing on the instance, code
does (the whole on-start script must fit in 16 KiB of base64): keep the code
plain, the messages short, the knobs few, and say each thing once.
"""

import argparse
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
SETTINGS = {  # False: a flag
    "idle-seconds": "3600",
    "jupyter-url": "https://localhost:8443",
    "metadata": "/opt/ml/metadata/resource-metadata.json",
    "state": "/var/lib/notebook-lifecycle/autostop.json",
    "logs": "/var/log/jupyter.log:" + HOME + "SageMaker/.lifecycle/logs/autostop.log",
    # tried in order for the AWS calls, which run as aws-user ("": as whoever runs this)
    "pythons": HOME + "anaconda3/envs/JupyterSystemEnv/bin/python:" + HOME + "anaconda3/envs/python3/bin/python:/usr/bin/python3",
    "aws-user": "ec2-user",
    "ignore-connections": False,
    "dry-run": False,
    "quiet": False,
}
args = None  # the settings, parsed by main()


def parse_time(value):
    """An aware UTC datetime from ISO-8601 text ('Z', +hh:mm, any fraction; naive is UTC), else None."""
    m = isinstance(value, str) and re.match(
        r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,6})\d*)?)?)?\s*(?:[Zz]|([+-]\d\d):?(\d\d)?)?$", value.strip())
    try:
        # what is left out is 0: y, mo, d, h, mi, s, microseconds (at most 6 digits, padded), offset "+hh" and "mm"
        *ymdhms, frac, oh, om = m.groups("0")
        t = dt.datetime(*map(int, ymdhms), int(frac.ljust(6, "0")), UTC)
    except (AttributeError, ValueError):  # no match; a day or hour out of range
        return None
    return t - dt.timedelta(hours=int(oh), minutes=int(oh[0] + om))  # the minutes take the sign of the hours


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def opendir(path):
    """(fd of the folder of `path`, the folder, the name in it): name-relative opens from it follow no link above."""
    d, name = os.path.split(os.path.abspath(path))
    return os.open(d, os.O_RDONLY | os.O_DIRECTORY), d, name


def safe_open(path, flags):
    """os.open without following a symlink, in a folder that, when we are root, only root can change
    and that is where its name says: ec2-user owns ~/SageMaker and could swap a folder there for a link.
    Appending to one of our own logs (not /var/log's) first rotates it once past 512 KiB."""
    dfd, d, name = opendir(path)
    try:
        st = os.fstat(dfd)
        # writable by others, or by a group that is not root's, or reached through a link
        if os.geteuid() == 0 and (st.st_uid or st.st_mode & 2 or st.st_mode & 16 and st.st_gid
                                  or os.readlink("/proc/self/fd/%d" % dfd) != d):
            raise PermissionError("not a root-only folder: " + d)
        if flags & os.O_APPEND and d != "/var/log" and name in os.listdir(dfd) \
                and os.stat(name, dir_fd=dfd, follow_symlinks=False).st_size > 1 << 19:
            os.replace(name, name + ".1", src_dir_fd=dfd, dst_dir_fd=dfd)
        return os.open(name, flags | os.O_NOFOLLOW, 0o644, dir_fd=dfd)
    finally:
        os.close(dfd)


def load(fd):
    """At most 1 MiB of JSON from the open file `fd` (closed after)."""
    with os.fdopen(fd, "rb") as fh:
        return json.loads(fh.read(1 << 20))


def read_token(path):
    """The token in a Jupyter runtime file, read race-free as root: the name is opened without
    following a link (O_NOFOLLOW), and the open file itself must be a regular file with one link,
    owned by root or by the owner of its folder. A link or a hard link planted by ec2-user (say,
    to a root-only file) is never read, whenever it is planted: nothing is checked before the open."""
    dfd, _, name = opendir(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        owner = os.fstat(dfd).st_uid
    finally:
        os.close(dfd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid not in (0, owner):
        os.close(fd)
        raise ValueError("not a server file: " + path)
    return str(load(fd)["token"])


def log(msg):
    """One line, stamped in UTC, on stdout (unless --quiet) and at the end of every log whose folder exists."""
    line = "%s notebook-lifecycle autostop: %s\n" % (iso(dt.datetime.now(UTC)), msg)
    if not args.quiet:
        print(line, end="", flush=True)
    for path in args.logs.split(":"):
        if os.path.isdir(os.path.dirname(path)):  # no volume mounted: no persistent log
            try:
                fd = safe_open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                os.write(fd, line.encode(errors="replace"))
                os.close(fd)
            except OSError as e:
                sys.stderr.write("autostop: cannot write %s: %s\n" % (path, e))


def request(url):
    """(HTTP status, JSON) of a GET on Jupyter, with args.token if set; RuntimeError when it cannot be read."""
    try:
        # Jupyter's certificate is self-signed: the unverified context is the documented opt-out (PEP 476)
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "token " + args.token} if args.token else {}),
                                    timeout=10, context=ssl._create_unverified_context()) as r:
            return 200, json.loads(r.read())
    except urllib.request.HTTPError as e:  # urllib.error's, which urllib.request imports
        return e.code, None
    except (OSError, ValueError) as e:  # URLError is an OSError
        raise RuntimeError("cannot read %s: %s" % (url, e))


def get(path):
    """The list at `path` of Jupyter's REST API. Jupyter normally wants no token; when it answers
    401/403, the token of each runtime file (`jupyter server list` reads them) is tried."""
    url = args.jupyter_url.rstrip("/") + path
    code, data = request(url)
    if code in (401, 403) and not args.token:
        # jpserver-<pid>.json: jupyter_server; nbserver-<pid>.json: the classic notebook server
        for d in os.environ.get("JUPYTER_RUNTIME_DIR", ""), HOME + ".local/share/jupyter/runtime", "/root/.local/share/jupyter/runtime":
            for f in glob.glob(d + "/*server-*.json") if d else ():
                try:
                    args.token = read_token(f)
                except Exception:  # a link, not a server's file, or not readable
                    continue
                code, data = request(url)
                if code == 200:
                    log("Jupyter asks for a token; using the one in " + f)
                    break
            if code == 200:
                break
    if code == 404 and path == "/api/terminals":  # terminals are disabled
        return []
    if code != 200:
        raise RuntimeError("%s answered HTTP %d" % (url, code))
    return data


def aws(name, region, dry_run):
    """(--aws NAME REGION, in a Python with boto3) DescribeNotebookInstance; StopNotebookInstance if InService.
    Exit status 3: no boto3 here."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return 3
    try:
        sm = boto3.client("sagemaker", region_name=region, config=Config(connect_timeout=10, read_timeout=20))
        status = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
        if status == "InService" and not dry_run:
            sm.stop_notebook_instance(NotebookInstanceName=name)
            print("StopNotebookInstance %s (%s): requested" % (name, region))
        else:
            print("%s is %s; not stopping%s" % (name, status, " (dry run)" * dry_run))
    except Exception as e:  # botocore's many errors: report them, never stop by mistake
        print("cannot stop %s: %s: %s" % (name, type(e).__name__, e))


def stop(name, region):
    """Run --aws in the first Python with boto3, as aws-user (the AWS calls need no root, and
    root must not run ec2-user's conda Pythons, which ec2-user can change)."""
    for py in filter(os.path.isfile, args.pythons.split(":")):
        cmd = [py, os.path.abspath(__file__), "--aws", name, region] + ["--dry-run"] * args.dry_run
        if os.geteuid() == 0 and args.aws_user:
            cmd = ["/usr/sbin/runuser", "-u", args.aws_user, "--"] + cmd  # absolute: cron's PATH lacks sbin
        # an error (say, a timeout) reaches main, which logs it
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, cwd="/")
        if r.returncode != 3:
            for line in r.stdout.decode(errors="replace").splitlines()[-5:]:
                log("%s [%s]" % (line, py))
            return
    log("cannot stop %s: no Python with boto3 in %s" % (name, args.pythons))


def check():
    """One decision, logged. What is not shaped as expected raises (main logs it): an error never stops."""
    now = dt.datetime.now(UTC)
    try:
        stored = load(safe_open(args.state, os.O_RDONLY))["last_activity"]
    except Exception:  # none yet (the idle clock starts now), or unusable (then it cannot be written either)
        stored = None
    latest = parse_time(stored) or now
    active = []
    try:
        kernels = {k["id"]: k for k in get("/api/kernels")}
        sessions = get("/api/sessions")
        for s in sessions:
            if s.get("kernel"):  # normally in /api/kernels too; not if it started in between
                kernels.setdefault(s["kernel"]["id"], s["kernel"])
        terminals = get("/api/terminals")
        for kid, k in kernels.items():
            if k.get("execution_state") == "busy":
                active.append("kernel %.8s is busy" % kid)
            if k.get("connections") and not args.ignore_connections:
                active.append("kernel %.8s has %s connection(s)" % (kid, k["connections"]))
        # without a (readable) last_activity, a kernel or terminal counts as active now;
        # a time in the future counts as now
        latest = now if active else min(now, max([latest] + [
            parse_time(x.get("last_activity")) or now for x in list(kernels.values()) + terminals]))
        inventory = "%d kernel(s), %d session(s), %d terminal(s)" % (len(kernels), len(sessions), len(terminals))
    except RuntimeError as e:
        inventory = e
    if iso(latest) != stored:  # the state file changes when the last activity it remembers does
        try:
            os.makedirs(os.path.dirname(args.state), exist_ok=True)
            with os.fdopen(safe_open(args.state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
                json.dump({"last_activity": iso(latest)}, fh)
        except OSError as e:
            log("cannot write %s: %s" % (args.state, e))
    idle = int((now - latest).total_seconds())
    if isinstance(inventory, RuntimeError):
        return log("%s; not stopping" % inventory)
    if active:
        return log("active (%s): %s" % (inventory, "; ".join(active)))
    if idle < int(args.idle_seconds):
        return log("not idle long enough (%s): idle %ds of %ss" % (inventory, idle, args.idle_seconds))
    try:
        meta = load(os.open(args.metadata, os.O_RDONLY | os.O_NONBLOCK))  # not blocking on a FIFO
        name, region = meta["ResourceName"], meta["ResourceArn"].split(":")[3]
    except Exception as e:
        return log("%s is unusable (%r); not stopping" % (args.metadata, e))
    log("idle %ds (%s); stopping %s" % (idle, inventory, name))
    stop(name, region)


def main():
    global args
    p = argparse.ArgumentParser()
    for key, default in SETTINGS.items():
        value = os.environ.get("NL_AUTOSTOP_" + key.upper().replace("-", "_"), default)
        if default is False:
            p.add_argument("--" + key, action="store_true", default=value == "1")
        else:
            p.add_argument("--" + key, default=value)
    p.add_argument("--aws", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.token = None
    if args.aws:
        return aws(*args.aws, args.dry_run)
    try:  # never raise: a scheduled job has nobody to raise to (runs cannot overlap: each takes seconds)
        check()
    except Exception as e:
        log("check failed: %r" % e)


if __name__ == "__main__":
    sys.exit(main())
