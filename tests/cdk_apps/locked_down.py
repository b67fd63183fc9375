"""The locked-down setup: private subnet and security group, a KMS key with rotation,
no direct internet access, no root access, IMDSv2, autostop through a SageMaker API
VPC endpoint. Zero cdk-nag findings under AwsSolutions, HIPAA, NIST 800-53 R4/R5 and
PCI DSS 3.2.1, without acknowledgments; checkov passes.

Run it alone with ``.venv/bin/python tests/cdk_apps/locked_down.py`` (writes ``cdk.out/locked-down/``).
The VPC and subnet are imported by id (real-looking ids, so cfn-lint's format checks
apply); nothing needs credentials to synthesize.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from notebook_lifecycle import Autostop, Features, NotebookInstance, StartupScripts
from notebook_lifecycle.cdk import WARN_AUTOSTOP_ENDPOINT, WARN_S3_DELIVERY_ENDPOINT

STACK_NAME = "NotebookLifecycleLockedDown"
#: The same setup with delivery="s3" and the S3 gateway endpoint the fetch needs.
S3_STACK_NAME = "NotebookLifecycleLockedDownS3"
VPC_ID = "vpc-0a1b2c3d4e5f67890"
VPC_CIDR = "10.20.0.0/16"
SUBNET_ID = "subnet-0a1b2c3d4e5f67891"
AZ = "us-east-1a"
ROUTE_TABLE_ID = "rtb-0a1b2c3d4e5f67892"

ON_START = {
    "10-harden.sh": (
        "#!/bin/bash\n"
        "# root: no world-readable home folders on a shared instance\n"
        "set -euo pipefail\n"
        "chmod 750 /home/ec2-user\n"
    ),
    "20-pip-mirror.sh": (
        "#!/bin/bash\n"
        "# ec2-user: no internet here, so pip uses the team's internal mirror\n"
        "set -euo pipefail\n"
        "mkdir -p ~/.config/pip\n"
        "printf '[global]\\nindex-url = https://pypi.internal.example.com/simple\\n' > ~/.config/pip/pip.conf\n"
    ),
}


class LockedDownStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, delivery: str = "auto", **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id=VPC_ID, vpc_cidr_block=VPC_CIDR, availability_zones=[AZ],
            private_subnet_ids=[SUBNET_ID], private_subnet_route_table_ids=[ROUTE_TABLE_ID],
        )
        subnet = ec2.Subnet.from_subnet_attributes(
            self, "Subnet", subnet_id=SUBNET_ID, availability_zone=AZ, route_table_id=ROUTE_TABLE_ID
        )

        notebook_sg = ec2.SecurityGroup(
            self, "NotebookSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SageMaker notebook instance: HTTPS to the VPC only",
        )
        notebook_sg.add_egress_rule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS to the VPC endpoints")

        # autostop calls the SageMaker API; without internet it goes through this endpoint
        endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SageMaker API endpoint: HTTPS from the notebook",
        )
        endpoint_sg.add_ingress_rule(notebook_sg, ec2.Port.tcp(443), "HTTPS from the notebook instance")
        ec2.InterfaceVpcEndpoint(
            self, "SageMakerApiEndpoint", vpc=vpc, service=ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
            private_dns_enabled=True, subnets=ec2.SubnetSelection(subnets=[subnet]),
            security_groups=[endpoint_sg], open=False,
        )

        key = kms.Key(
            self, "VolumeKey", enable_key_rotation=True,
            description="Encrypts the ML storage volume of the locked-down notebook instance",
        )

        self.notebook = NotebookInstance(
            self,
            "Notebook",
            on_start=StartupScripts.from_files(ON_START, as_root=["10-harden.sh"]),
            features=Features(autostop=Autostop(idle_minutes=30), persist_dirs=(".config",)),
            subnet=subnet,
            security_groups=[notebook_sg],
            kms_key=key,
            direct_internet_access=False,
            root_access=False,
            delivery=delivery,
        )
        cdk.Annotations.of(self.notebook).acknowledge_warning(
            WARN_AUTOSTOP_ENDPOINT, "the stack creates the com.amazonaws.<region>.sagemaker.api endpoint"
        )
        if delivery == "s3":
            # the payload is fetched from the asset bucket: S3 through a gateway endpoint in the subnet's route table
            ec2.GatewayVpcEndpoint(
                self, "S3Endpoint", vpc=vpc, service=ec2.GatewayVpcEndpointAwsService.S3,
                subnets=[ec2.SubnetSelection(subnets=[subnet])],
            )
            cdk.Annotations.of(self.notebook).acknowledge_warning(
                WARN_S3_DELIVERY_ENDPOINT, "the stack creates the com.amazonaws.<region>.s3 gateway endpoint"
            )


def build(app: cdk.App) -> LockedDownStack:
    return LockedDownStack(
        app, STACK_NAME, description="notebook-lifecycle: a locked-down notebook instance"
    )


def build_s3(app: cdk.App) -> LockedDownStack:
    return LockedDownStack(
        app, S3_STACK_NAME, delivery="s3",
        description="notebook-lifecycle: a locked-down notebook instance, scripts delivered through S3",
    )


if __name__ == "__main__":
    import json
    from pathlib import Path

    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
    app = cdk.App(context=json.loads(cdk_json.read_text())["context"], outdir="cdk.out/locked-down")
    build(app)
    app.synth()
