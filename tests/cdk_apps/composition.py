"""The composition example: notebook-lifecycle inside an app that wires it to what the app creates.

* a VPC with private (isolated) subnets only, a SageMaker API interface endpoint (autostop
  stops the instance through it) and an S3 gateway endpoint;
* a KMS key (with rotation) for the notebooks' volumes;
* a data bucket whose name reaches the startup scripts through ``environment``: a deploy-time
  value, carried as ``Fn::Base64`` and exported as ``$DATA_BUCKET`` on the instances;
* three notebook instances sharing one :class:`LifecycleConfig`;
* a grant: ``bucket.grant_read(analyst)``;
* a team's hand-written ``CfnNotebookInstance`` with its own lifecycle configuration;
* the :class:`NotebookGovernance` Aspect, which gives every notebook instance autostop and a
  stopped SSM agent: the three notebooks through their shared configuration, the hand-written
  one through a new configuration that runs its previous on-start script first.

Run it alone with ``.venv/bin/python tests/cdk_apps/composition.py`` (writes
``cdk.out/composition/``), or with the CLI: ``cdk synth --app ".venv/bin/python tests/cdk_apps/composition.py"``.
"""

from __future__ import annotations

import base64

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from notebook_lifecycle import Autostop, Features, LifecycleConfig, NotebookGovernance, NotebookInstance, StartupScripts

STACK_NAME = "NotebookLifecycleComposition"
NOTEBOOKS = ("analyst", "engineer", "scientist")
LEGACY_NAME = "legacy-notebook"

ON_START = {
    "10-data-bucket.sh": (
        "#!/bin/bash\n"
        "# ec2-user: point the team's tools at the data bucket (a deploy-time value, exported by the profile)\n"
        "set -eu\n"
        "mkdir -p ~/.config/team\n"
        "printf 'data_bucket = %s\\n' \"$DATA_BUCKET\" > ~/.config/team/settings.ini\n"
    ),
}
LEGACY_ON_START = "#!/bin/bash\n# the team's hand-written on-start, kept as it is\necho legacy on-start >/tmp/legacy-on-start\n"

GOVERNANCE = Features(autostop=Autostop(idle_minutes=60), stop_ssm_agent=True)


class CompositionStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        vpc = ec2.Vpc(
            self, "Vpc", max_azs=1, nat_gateways=0, restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
        )
        subnet = vpc.isolated_subnets[0]
        notebook_sg = ec2.SecurityGroup(
            self, "NotebookSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SageMaker notebook instances: HTTPS to the VPC endpoints only",
        )
        notebook_sg.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to the VPC endpoints")
        endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SageMaker API endpoint: HTTPS from the notebooks",
        )
        endpoint_sg.add_ingress_rule(notebook_sg, ec2.Port.tcp(443), "HTTPS from the notebook instances")
        vpc.add_interface_endpoint(
            "SageMakerApi", service=ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API, private_dns_enabled=True,
            security_groups=[endpoint_sg], open=False,
        )
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)

        key = kms.Key(
            self, "VolumeKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY,
            description="Encrypts the ML storage volumes of the notebook instances",
        )
        self.bucket = s3.Bucket(
            self, "Data", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        self.lifecycle_config = LifecycleConfig(
            self, "TeamLifecycle",
            on_start=StartupScripts.from_files(ON_START),
            features=Features(environment={"DATA_BUCKET": self.bucket.bucket_name}, persist_dirs=(".config",)),
        )
        self.notebooks = [
            NotebookInstance(
                self, name.title(), notebook_instance_name=name, lifecycle_config=self.lifecycle_config,
                subnet=subnet, security_groups=[notebook_sg], kms_key=key,
                direct_internet_access=False, root_access=False,
            )
            for name in NOTEBOOKS
        ]
        self.bucket.grant_read(self.notebooks[0])

        # a team's hand-written notebook, as many apps already have one
        legacy_role = iam.Role(
            self, "LegacyRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Execution role of the hand-written notebook instance",
        )
        legacy_config = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self, "LegacyLifecycle",
            notebook_instance_lifecycle_config_name="legacy-lifecycle",
            on_start=[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=base64.b64encode(LEGACY_ON_START.encode()).decode())],
        )
        self.legacy = sagemaker.CfnNotebookInstance(
            self, "LegacyNotebook", notebook_instance_name=LEGACY_NAME, instance_type="ml.t3.medium",
            role_arn=legacy_role.role_arn, platform_identifier="notebook-al2023-v1",
            lifecycle_config_name=legacy_config.attr_notebook_instance_lifecycle_config_name,
            subnet_id=subnet.subnet_id, security_group_ids=[notebook_sg.security_group_id], kms_key_id=key.key_arn,
            direct_internet_access="Disabled", root_access="Disabled",
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version="2"
            ),
        )


def build(app: cdk.App, *, govern: cdk.IConstruct | None = None) -> CompositionStack:
    """The stack, with NotebookGovernance applied to ``govern`` (default: the stack; an app of its own
    applies it to the whole app, as platform teams do)."""
    stack = CompositionStack(app, STACK_NAME, description="notebook-lifecycle: composition example")
    cdk.Aspects.of(govern or stack).add(NotebookGovernance(features=GOVERNANCE), priority=cdk.AspectPriority.MUTATING)
    return stack


if __name__ == "__main__":
    import json
    import os
    from pathlib import Path

    if "CDK_OUTDIR" in os.environ:  # run by the CDK CLI: it passes context and outdir itself
        app = cdk.App()
    else:
        cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
        app = cdk.App(context=json.loads(cdk_json.read_text())["context"], outdir="cdk.out/composition")
    build(app, govern=app)
    app.synth()
