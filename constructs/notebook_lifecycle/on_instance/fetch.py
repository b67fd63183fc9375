"""notebook-lifecycle fetcher: download a hook's payload from S3, verify it, unpack it.

Usage (as root, from the S3-delivery lifecycle script)::

    fetch.py HOOK INSTALL_DIR BUCKET KEY SHA256 SIZE CODEC REGION DEADLINE

1. Credentials: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and
   ``AWS_SESSION_TOKEN``) when set, else the instance role's from IMDSv2
   (``AWS_EC2_METADATA_SERVICE_ENDPOINT`` overrides the address). Region: REGION
   when not empty, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, the notebook's ARN
   in resource-metadata.json, then IMDS.
2. A SigV4-signed GET of ``s3://BUCKET/KEY`` (standard library only: no AWS CLI,
   no boto3); ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` point it elsewhere, with
   path-style addressing.
3. The object must be SIZE bytes with sha256 SHA256 before anything else
   happens: a changed or truncated object is never unpacked.
4. The last verified payload is kept in /home/ec2-user/SageMaker/.lifecycle (the
   EBS volume). ec2-user owns the folder above it, so nothing there is trusted:
   the folder must be root's (else it is renamed away and made again), nothing is
   opened through a symlink, and a cached copy is used only when its sha256 is the
   one this script carries. So a restart without S3 access runs the same scripts.
5. The payload (CODEC ``xz`` or ``gzip``) is unpacked into INSTALL_DIR; the
   lifecycle script then runs the runner.

On any failure it prints one line (what, where, why) and exits 0; the whole
fetch is bounded by DEADLINE seconds. Runs on the system python3 (3.7+),
standard library only.
"""

import datetime
import gzip
import hashlib
import hmac
import json
import lzma
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

CACHE_PARENT = "/home/ec2-user/SageMaker"
CACHE_NAME = ".lifecycle"
METADATA = "/opt/ml/metadata/resource-metadata.json"
IMDS = "http://169.254.169.254"
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Failed(Exception):
    """Why the download failed, in a few words."""


def log(text):
    print("notebook-lifecycle: " + text, flush=True)


class Clock:
    """The fetch's deadline: every request waits at most what is left (and 10 s per connect/read)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def timeout(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failed("timed out after %d s" % self.seconds)
        return min(10.0, left)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None  # a redirect is reported as the HTTP error it is


def http(opener, request, clock, limit):
    """The body of a successful response, at most ``limit`` bytes; Failed with the reason otherwise."""
    try:
        with opener.open(request, timeout=clock.timeout()) as resp:
            chunks = []
            got = 0
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    return b"".join(chunks)
                got += len(chunk)
                if got > limit:
                    raise Failed("more than the expected %d bytes" % limit)
                chunks.append(chunk)
                clock.timeout()
    except urllib.error.HTTPError as err:
        raise Failed("HTTP %d%s" % (err.code, s3_error(err))) from None
    except urllib.error.URLError as err:
        raise Failed(str(getattr(err.reason, "strerror", None) or err.reason)) from None
    except OSError as err:  # timeouts, resets
        raise Failed(str(err) or type(err).__name__) from None


def s3_error(err):
    try:
        body = err.read(4096).decode("utf-8", "replace")
    except Exception:
        return ""
    code = body.partition("<Code>")[2].partition("</Code>")[0]
    message = body.partition("<Message>")[2].partition("</Message>")[0]
    return (" " + code if code else "") + (" (%s)" % message if message else "")


TOKEN = []  # type: list


def imds(path, clock):
    """GET ``path`` from the instance metadata service, IMDSv2 style (one session token, reused)."""
    base = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        raise Failed("no credentials: AWS_EC2_METADATA_DISABLED is set and AWS_ACCESS_KEY_ID is not")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    if not TOKEN:
        request = urllib.request.Request(base.rstrip("/") + "/latest/api/token", method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
        try:
            TOKEN.append(http(opener, request, clock, 4096).decode())
        except Failed as err:
            raise Failed("instance metadata (IMDSv2 token): %s" % err) from None
    request = urllib.request.Request(base.rstrip("/") + path, headers={"X-aws-ec2-metadata-token": TOKEN[0]})
    try:
        return http(opener, request, clock, 65536).decode()
    except Failed as err:
        raise Failed("instance metadata %s: %s" % (path, err)) from None


def credentials(clock):
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
    roles = imds("/latest/meta-data/iam/security-credentials/", clock).split()
    if not roles:
        raise Failed("instance metadata: the instance has no role")
    text = imds("/latest/meta-data/iam/security-credentials/" + roles[0], clock)
    try:
        found = json.loads(text)
        return found["AccessKeyId"], found["SecretAccessKey"], found.get("Token")
    except (ValueError, KeyError, TypeError):
        raise Failed("instance metadata: the role's credentials are not readable") from None


def find_region(given, clock):
    region = given or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        try:
            with open(METADATA) as fh:
                region = json.load(fh)["ResourceArn"].split(":")[3]
        except (OSError, ValueError, KeyError, IndexError, AttributeError):
            region = imds("/latest/meta-data/placement/region", clock).strip()
    if not region or not all(c.isalnum() or c == "-" for c in region):
        raise Failed("no usable region (%r)" % region)
    return region


def location(bucket, key, region):
    """``(url, host, canonical path)`` of the object: path-style on a given endpoint, virtual-hosted on AWS."""
    path = "/" + urllib.parse.quote(key, safe="/~")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urllib.parse.urlsplit(endpoint)
        path = parts.path.rstrip("/") + "/" + bucket + path
        return "%s://%s%s" % (parts.scheme, parts.netloc, path), parts.netloc, path
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if "." in bucket:  # a dotted name would not match the wildcard certificate
        host = "s3.%s.%s" % (region, domain)
        path = "/" + bucket + path
    else:
        host = "%s.s3.%s.%s" % (bucket, region, domain)
    return "https://" + host + path, host, path


def sign(host, path, region, creds, when):
    """Headers of a SigV4-signed S3 GET of ``path`` (empty body, no query)."""
    access_key, secret_key, session_token = creds
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    if session_token:
        headers["x-amz-security-token"] = session_token
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(["GET", path, "", "".join("%s:%s\n" % (n, headers[n].strip()) for n in names),
                           signed, EMPTY_SHA256])
    scope = "%s/%s/s3/aws4_request" % (stamp[:8], region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, signed, signature)
    return headers


def download(bucket, key, region, size, sha256, clock):
    creds = credentials(clock)
    region = find_region(region, clock)
    url, host, path = location(bucket, key, region)
    headers = sign(host, path, region, creds, datetime.datetime.utcnow())
    headers.pop("host")  # urllib sends the same Host itself
    opener = urllib.request.build_opener(NoRedirect)
    try:
        data = http(opener, urllib.request.Request(url, headers=headers), clock, size)
    except Failed as err:
        raise Failed("%s: %s" % (url, err)) from None
    check(data, size, sha256, url)
    return data


def check(data, size, sha256, where):
    if len(data) != size:
        raise Failed("%s: %d bytes, expected %d (truncated or changed); not used" % (where, len(data), size))
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise Failed("%s: sha256 %s, expected %s (changed); not used" % (where, found, sha256))


# -- the cache on the EBS volume ---------------------------------------------------------------------
O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def open_dir_nofollow(path):
    """A descriptor of ``path``, opened one component at a time without following any symlink."""
    fd = os.open("/", O_DIR)
    try:
        for part in path.strip("/").split("/"):
            nxt = os.open(part, O_DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def root_owned(fd):
    st = os.fstat(fd)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755


def cache_dir(parent=CACHE_PARENT, name=CACHE_NAME):
    """A descriptor of the cache folder, made root-owned 0755 if it is anything else; None without a volume."""
    try:
        top = open_dir_nofollow(parent)
    except OSError:
        return None
    try:
        try:
            fd = os.open(name, O_DIR, dir_fd=top)
            if root_owned(fd):
                return fd
            os.close(fd)
        except OSError:
            pass  # missing, a symlink, not a folder
        # as the runner does: rename whatever is there (rename does not follow links), make our own
        try:
            os.rename(name, "%s.moved-%d" % (name, os.getpid()), src_dir_fd=top, dst_dir_fd=top)
        except FileNotFoundError:
            pass
        os.mkdir(name, 0o700, dir_fd=top)
        fd = os.open(name, O_DIR, dir_fd=top)
        os.fchmod(fd, 0o755)
        if root_owned(fd):
            return fd
        os.close(fd)
    except OSError:
        pass
    finally:
        os.close(top)
    return None


def cached(cache, hook, size, sha256):
    """The cached payload of ``hook`` when it is a regular file with the right size and sha256, else None."""
    if cache is None:
        return None
    try:
        fd = os.open(hook + ".payload", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=cache)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(size + 1)
    finally:
        os.close(fd)
    try:
        check(data, size, sha256, "the cached copy")
    except Failed as err:
        log(str(err))
        return None
    return data


def keep(cache, hook, data):
    if cache is None:
        return
    tmp = ".%s.payload.%d" % (hook, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=cache)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, hook + ".payload", src_dir_fd=cache, dst_dir_fd=cache)
    except OSError as err:
        log("cannot keep a copy on the volume (%s); the next start needs S3 again" % err)


def unpack(data, codec, install_dir):
    raw = lzma.decompress(data) if codec == "xz" else gzip.decompress(data)
    staging = install_dir + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    os.mkdir(staging, 0o755)
    subprocess.run(["tar", "-xmf", "-", "-C", staging], input=raw, check=True, timeout=60)
    shutil.rmtree(install_dir, ignore_errors=True)
    os.rename(staging, install_dir)


def on_alarm(signum, frame):
    raise Failed("timed out (deadline)")


def main(argv):
    hook, install_dir, bucket, key, sha256, size, codec, region, deadline = argv
    size = int(size)
    clock = Clock(int(deadline))
    if not BUCKET_RE.match(bucket) or codec not in ("xz", "gzip") or not os.path.isabs(install_dir):
        raise ValueError("bad arguments: bucket %r, codec %r, install dir %r" % (bucket, codec, install_dir))
    source = "s3://%s/%s" % (bucket, key)
    started = time.monotonic()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, clock.seconds)  # a backstop for reads that trickle
    cache = cache_dir()
    try:
        try:
            data = download(bucket, key, region, size, sha256, clock)
        except Failed as err:
            signal.setitimer(signal.ITIMER_REAL, 0)
            data = cached(cache, hook, size, sha256)
            log("%s: cannot fetch %s: %s; %s" % (
                hook, source, err,
                "running the copy kept on the volume (sha256 verified)" if data
                else "no verified copy on the volume: no startup scripts run this time"))
            if data is None:
                return
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            keep(cache, hook, data)
            log("%s: fetched %s (%d bytes, sha256 verified) in %.2f s" % (
                hook, source, size, time.monotonic() - started))
        unpack(data, codec, install_dir)
    finally:
        if cache is not None:
            os.close(cache)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BaseException as exc:  # never fail the start
        log("fetch failed: %s: %s" % (type(exc).__name__, exc))
    sys.exit(0)
