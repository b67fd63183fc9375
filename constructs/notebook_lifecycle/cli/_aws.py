"""AWS clients for the operations commands (status, logs, pull, diff), and their errors as one line.

boto3 comes with the optional ``aws`` extra and is imported only here, only when a command
needs it. A client honours ``--region`` / ``--profile``, then the usual environment
(``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``, the config and credentials files). Every failure becomes a
:class:`BundleError` naming the culprit and the fix: no boto3, an unknown profile, no region, an
unknown region, no credentials, credentials refused, access denied, an endpoint that cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any, Optional

from ..errors import BundleError

_INSTALL_HINT = "pip install 'notebook-lifecycle[aws]'"

# Error codes of refused credentials (as opposed to a missing permission).
_BAD_CREDENTIALS = {
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "IncompleteSignature",
}  # fmt: skip
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"}


def add_aws_options(p: argparse.ArgumentParser) -> None:
    """--region and --profile: shared by every command that calls AWS."""
    aws = p.add_argument_group("AWS (also AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL)")
    aws.add_argument("--region", metavar="REGION", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    aws.add_argument("--profile", metavar="NAME", help="named profile of ~/.aws/config (default: AWS_PROFILE or default)")


class Aws:
    """A boto3 session checked up front: profile, region and credentials are there."""

    def __init__(self, args: argparse.Namespace) -> None:
        boto3 = _boto3()
        from botocore.exceptions import BotoCoreError, ProfileNotFound

        profile = getattr(args, "profile", None)
        # AWS_REGION: the SDKs' common variable, which older botocore releases do not read themselves
        region = getattr(args, "region", None) or os.environ.get("AWS_REGION") or None
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as exc:
            raise BundleError(f"{_profile_flag(profile)}: {exc}; list profiles with `aws configure list-profiles`") from None
        except BotoCoreError as exc:
            raise BundleError(f"AWS configuration: {exc}") from None
        self.region = self.session.region_name or ""
        if not self.region:
            raise BundleError(
                "no AWS region: pass --region (for example --region eu-west-1), or set AWS_REGION, "
                "or set a region in your profile (`aws configure set region ...`)"
            )
        _check_region(self.region, getattr(args, "region", None) is not None)
        try:
            credentials = self.session.get_credentials()
        except BotoCoreError as exc:
            raise BundleError(f"AWS credentials: {exc}") from None
        if credentials is None:
            where = f"profile {profile!r}" if profile else "the environment, ~/.aws/credentials, ~/.aws/config or an instance role"
            raise BundleError(
                f"no AWS credentials found in {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE / --profile, or run `aws configure` (or `aws sso login`)"
            )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A client of ``service`` (made once: sessions are not thread-safe, clients are)."""
        if service not in self._clients:
            from botocore.config import Config

            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60)
            self._clients[service] = self.session.client(service, config=config)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> Any:
        """``client(service).<operation>(**params)``; a failure is a one-line BundleError.

        A ``ClientError`` the caller wants to handle (not found, ...) passes through
        when :func:`error_code` of it is in ``params.pop("passthrough")``.
        """
        passthrough = params.pop("passthrough", ())
        client = self.client(service)
        try:
            return getattr(client, operation)(**params)
        except Exception as exc:
            if error_code(exc) in passthrough:
                raise
            raise self.error(exc, client, operation) from None

    def paginate(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item under ``key`` of every page of ``operation``; a failure is a one-line BundleError."""
        try:
            return self.paginate_raw(service, operation, key, **params)
        except Exception as exc:
            raise self.error(exc, self.client(service), operation) from None

    def paginate_raw(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        """As :meth:`paginate`, but botocore's exceptions pass through for the caller to read."""
        items: list[Any] = []
        for page in self.client(service).get_paginator(operation).paginate(**params):
            items.extend(page.get(key, []))
        return items

    def error(self, exc: BaseException, client: Any, operation: str) -> BundleError:
        """One line for a failed call, naming what failed and how to fix it."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        service = client.meta.service_model.service_name
        action = f"{client.meta.service_model.signing_name}:{_api_name(client, operation)}"
        endpoint = client.meta.endpoint_url
        if isinstance(exc, NoCredentialsError):
            return BundleError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --profile")
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
            override = " (from AWS_ENDPOINT_URL)" if _endpoint_override(service) else ""
            return BundleError(
                f"cannot reach {service} at {endpoint}{override}: check the network, --region {self.region} "
                "and AWS_ENDPOINT_URL"
            )
        if isinstance(exc, ClientError):
            code = error_code(exc)
            message = error_message(exc) or str(exc)
            if code in _ACCESS_DENIED:
                return BundleError(f"access denied to {action} in {self.region}: {_one_line(message)}; "
                                   f"grant {action} to your identity (check with `aws sts get-caller-identity`)")
            if code in _BAD_CREDENTIALS:
                return BundleError(f"AWS refused the credentials ({code}): {_one_line(message)}; "
                                   "refresh them (`aws sso login`, new keys) or choose another --profile")
            return BundleError(f"{action} failed in {self.region} ({code}): {_one_line(message)}")
        if exc.__class__.__module__.startswith("botocore"):
            return BundleError(f"{action} failed: {_one_line(str(exc))}")
        return BundleError(f"{action} failed: {exc.__class__.__name__}: {_one_line(str(exc))}")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else).

    An endpoint that answers a JSON API in XML (some emulators and proxies) leaves botocore
    with the HTTP status as the code; the code is then read from the XML.
    """
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    code = str(response.get("Error", {}).get("Code", ""))
    if code.isdigit():
        found = re.search(r"<Code>\s*([A-Za-z.]+)\s*</Code>", str(response.get("Error", {}).get("Message", "")))
        if found:
            return found.group(1)
    return code


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return str(exc)
    message = str(response.get("Error", {}).get("Message", ""))
    found = re.search(r"<Message>(.*?)</Message>", message, re.S)
    return found.group(1) if found and message.lstrip().startswith("<") else message


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise BundleError(f"this command calls AWS and needs boto3, which is not installed: {_INSTALL_HINT}") from None
    return boto3


def _check_region(region: str, from_flag: bool) -> None:
    """A region botocore knows, or one that fits a partition's pattern (a region newer than botocore)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    partitions = data.get("partitions", [])
    known = {r for p in partitions for r in p.get("regions", {})}
    if region in known or any(re.match(p.get("regionRegex", "^$"), region) for p in partitions):
        return
    culprit = f"--region {region}" if from_flag else f"region {region!r} (from the environment or profile)"
    raise BundleError(f"{culprit}: not an AWS region; give one such as us-east-1 or eu-west-1 "
                      "(`aws ec2 describe-regions` lists them)")


def _profile_flag(profile: Optional[str]) -> str:
    return f"--profile {profile}" if profile else "AWS_PROFILE"


def _endpoint_override(service: str) -> bool:
    env = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_').replace(' ', '_')}"
    return bool(os.environ.get(env) or os.environ.get("AWS_ENDPOINT_URL"))


def _api_name(client: Any, operation: str) -> str:
    try:
        return str(client.meta.method_to_api_mapping.get(operation, operation))
    except AttributeError:
        return operation


def _one_line(text: str) -> str:
    return " ".join(text.split())



# -- SageMaker look-ups shared by status, pull and diff ---------------------------------------


def describe_lifecycle_config(aws: Aws, name: str) -> dict[str, Any]:
    """DescribeNotebookInstanceLifecycleConfig; a missing configuration is a one-line error listing some that exist."""
    try:
        return dict(aws.call("sagemaker", "describe_notebook_instance_lifecycle_config",
                             NotebookInstanceLifecycleConfigName=name, passthrough=("ValidationException",)))
    except Exception as exc:
        if not is_not_found(exc):
            raise aws.error(exc, aws.client("sagemaker"), "describe_notebook_instance_lifecycle_config") from None
    raise BundleError(
        f"lifecycle configuration {name!r} does not exist in {aws.region}{_others(aws)}; "
        "check the name, --region and --profile (`aws sagemaker list-notebook-instance-lifecycle-configs`)"
    )


def _others(aws: Aws) -> str:
    """' (there are: a, b, ...)': some configurations that do exist, or '' when they cannot be listed."""
    try:
        found = aws.paginate_raw("sagemaker", "list_notebook_instance_lifecycle_configs", "NotebookInstanceLifecycleConfigs")
    except Exception:  # a hint only: without the permission (or where the API lacks it), say nothing
        return ""
    names = sorted(c["NotebookInstanceLifecycleConfigName"] for c in found)
    if not names:
        return " (there are none)"
    return f" (there are: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"


def is_not_found(exc: BaseException) -> bool:
    """A SageMaker 'no such notebook instance / lifecycle configuration' answer."""
    message = error_message(exc)
    return error_code(exc) == "ValidationException" and ("RecordNotFound" in message or "does not exist" in message)
