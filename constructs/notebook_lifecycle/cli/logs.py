"""``notebook-lifecycle logs``: the lifecycle log streams of a notebook instance, from CloudWatch Logs."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from typing import Any, Optional

from ..errors import BundleError
from ._aws import Aws, add_aws_options, error_code
from ._common import _command


LOG_GROUP = "/aws/sagemaker/NotebookInstances"
#: The stream of each hook: <notebook-instance-name>/<suffix>.
STREAM_SUFFIX = {"on-start": "LifecycleConfigOnStart", "on-create": "LifecycleConfigOnCreate"}

_LOGS_DESCRIPTION = f"""\
Print what the lifecycle scripts of notebook instance NAME wrote to stdout and
stderr, as SageMaker ships it to CloudWatch Logs: group {LOG_GROUP},
streams NAME/LifecycleConfigOnCreate and NAME/LifecycleConfigOnStart. Events of
both hooks (or the one --hook names) are merged in time order, one per line:
the UTC time, the stream, the message.

--since takes a duration back from now (30s, 30m, 1h, 2d, 1w) or an ISO 8601 time
(2024-05-01, 2024-05-01T12:00:00Z; without a zone it is UTC). --follow keeps
polling for new events every 5 seconds until interrupted (Ctrl-C).

A notebook in a VPC without internet access and without a CloudWatch Logs
endpoint writes no lifecycle logs. Needs boto3 (the aws extra).
Exit status: 0 events printed (or none in the window), 1 the log group or the
streams do not exist (nothing was logged yet), 2 error.
"""

_DURATION_RE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _add_logs(sub: Any) -> None:
    p = _command(sub, "logs", _logs, "print the lifecycle logs of a notebook instance from CloudWatch", _LOGS_DESCRIPTION)
    p.add_argument("name", metavar="NAME", help="notebook instance name")
    p.add_argument("--hook", choices=("on-start", "on-create"), help="only this hook's stream (default: both)")
    p.add_argument("--since", metavar="WHEN", help="only events after WHEN: 30m, 1h, 2d or an ISO time (default: all)")
    p.add_argument("--follow", action="store_true", help="keep printing new events until interrupted")
    add_aws_options(p)


def parse_since(text: str, now: Optional[dt.datetime] = None) -> dt.datetime:
    """``30m`` / ``1h`` / ``2d`` back from ``now``, or an ISO 8601 time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    value = text.strip()
    match = _DURATION_RE.match(value)
    if match:
        return now - dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise BundleError(f"--since {text!r}: give a duration such as 30m, 1h or 2d, "
                          "or an ISO time such as 2024-05-01T12:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _logs(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since is not None else None
    aws = Aws(args)
    hooks = [args.hook] if args.hook else ["on-create", "on-start"]
    wanted = {f"{args.name}/{STREAM_SUFFIX[h]}": h for h in hooks}
    streams = _existing_streams(aws, args.name, wanted)
    if streams is None:
        print(f"notebook-lifecycle: log group {LOG_GROUP} does not exist in {aws.region}: no notebook instance has "
              "sent lifecycle logs here yet; check --region, or wait for the instance to start", file=sys.stderr)
        return 1
    if not streams:
        names = " or ".join(wanted)
        print(f"notebook-lifecycle: no log stream {names} in {LOG_GROUP} ({aws.region}): {args.name} has not run "
              "that lifecycle hook with CloudWatch access yet; check the name, or that the instance has "
              "internet access or a logs VPC endpoint", file=sys.stderr)
        return 1
    start_ms = int(since.timestamp() * 1000) if since is not None else None
    tokens: dict[str, Optional[str]] = {s: None for s in streams}
    try:
        while True:
            events = []
            for stream in streams:
                got, tokens[stream] = _events(aws, stream, start_ms, tokens[stream])
                events += got
            order = {s: i for i, s in enumerate(streams)}
            events.sort(key=lambda e: (e[0], order[e[1]], e[2]))
            for stamp, stream, _, message in events:
                print(f"{_utc(stamp)}  {stream}  {message.rstrip()}", flush=args.follow)
            if not args.follow:
                return 0
            time.sleep(5)
            if len(streams) < len(wanted):  # a stream may appear later (on-start after on-create)
                streams = _existing_streams(aws, args.name, wanted) or streams
                for s in streams:
                    tokens.setdefault(s, None)
    except KeyboardInterrupt:
        return 0


def _existing_streams(aws: Aws, name: str, wanted: dict[str, str]) -> Optional[list[str]]:
    """The wanted streams that exist, in hook order; None when the log group does not exist."""
    try:
        found = aws.paginate_raw("logs", "describe_log_streams", "logStreams",
                                 logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise aws.error(exc, aws.client("logs"), "describe_log_streams") from None
    names = {s["logStreamName"] for s in found}
    return [s for s in wanted if s in names]


def _events(aws: Aws, stream: str, start_ms: Optional[int], token: Optional[str]) -> tuple[list[tuple[int, str, int, str]], Optional[str]]:
    """Every event of ``stream`` after ``start_ms`` (or after ``token``), and the token to continue from."""
    events: list[tuple[int, str, int, str]] = []
    while True:
        params: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
        if token is not None:
            params["nextToken"] = token
        if start_ms is not None:  # with a token too: the token wins, and every server reads it the same
            params["startTime"] = start_ms
        page = aws.call("logs", "get_log_events", **params)
        for event in page.get("events", []):
            events.append((int(event["timestamp"]), stream, len(events), str(event.get("message", ""))))
        next_token = page.get("nextForwardToken")
        if not page.get("events") or next_token is None or next_token == token:
            return events, next_token or token
        token = next_token


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
