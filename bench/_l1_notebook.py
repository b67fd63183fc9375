"""The hand-written L1 notebook that the synth benchmarks (``bench_synth``, ``bench_fleet``) compare
the constructs with: what one ``NotebookInstance`` emits, written with L1 classes only.

The ARNs come from the caller, computed there as each benchmark's hand-written app does (once per
stack, or per notebook): what a baseline looks up from Node is part of what it measures, so this
helper looks up nothing itself.
"""

from __future__ import annotations

from typing import Any

ASSUME_SAGEMAKER = {
    "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}],
    "Version": "2012-10-17",
}


def notebook(
    scope: Any, ids: tuple, name: str, *, log_prefix: str, notebook_arn: str, lifecycle_config_name: str,
    policy_description: str, retain: bool = False,
) -> Any:
    """A ``CfnRole`` SageMaker assumes, a ``CfnManagedPolicy`` with the library's statements and a
    ``CfnNotebookInstance`` that ``DependsOn`` it (retained with ``retain``), in ``scope`` with the
    construct ids ``ids`` (role, policy, notebook). ``log_prefix``: the ARN of the lifecycle log group
    (``arn:...:log-group:/aws/sagemaker/NotebookInstances``); ``notebook_arn``: the instance's ARN."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_sagemaker as sm

    role_id, policy_id, notebook_id = ids
    role = iam.CfnRole(
        scope,
        role_id,
        assume_role_policy_document=ASSUME_SAGEMAKER,
        description=f"Execution role of the SageMaker notebook instance {name}",
    )
    policy = iam.CfnManagedPolicy(
        scope,
        policy_id,
        description=policy_description,
        path="/",
        roles=[role.ref],
        policy_document={
            "Statement": [
                {"Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"], "Effect": "Allow",
                 "Resource": log_prefix, "Sid": "WriteLifecycleLogGroup"},
                {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
                 "Resource": [f"{log_prefix}:log-stream:{name}/LifecycleConfigOnStart",
                              f"{log_prefix}:log-stream:{name}/jupyter.log"],
                 "Sid": "WriteLifecycleLogStreams"},
                {"Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                 "Effect": "Allow", "Resource": notebook_arn, "Sid": "NotebookInstanceSelf"},
            ],
            "Version": "2012-10-17",
        },
    )
    resource = sm.CfnNotebookInstance(
        scope,
        notebook_id,
        notebook_instance_name=name,
        instance_type="ml.t3.medium",
        role_arn=role.attr_arn,
        platform_identifier="notebook-al2023-v1",
        volume_size_in_gb=5,
        direct_internet_access="Enabled",
        root_access="Enabled",
        instance_metadata_service_configuration=sm.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
            minimum_instance_metadata_service_version="2"
        ),
        lifecycle_config_name=lifecycle_config_name,
    )
    if retain:
        resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    resource.node.add_dependency(policy)
    return resource
