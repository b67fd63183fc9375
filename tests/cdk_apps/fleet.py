"""A small fleet: three users in nested stacks sharing one lifecycle configuration (for the CDK CLI tests).

Run it with ``cdk --app "python tests/cdk_apps/fleet.py" synth``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from notebook_lifecycle import Autostop, Features, FleetUser, NotebookFleet, StartupScripts

STACK_NAME = "NotebookLifecycleFleet"
USERS = ("alice", "bob", "carol")


def build(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, STACK_NAME)
    alice = iam.Role(stack, "AliceAccess", assumed_by=iam.AccountRootPrincipal(), description="Alice opens her notebook")
    NotebookFleet(
        stack,
        "Team",
        users={"alice": FleetUser(principal=alice), "bob": FleetUser(volume_size_in_gb=10), "carol": FleetUser()},
        on_start=StartupScripts.from_files({"10-hello.sh": "#!/bin/bash\necho hello\n"}),
        features=Features(autostop=Autostop(idle_minutes=60)),
    )
    return stack


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
