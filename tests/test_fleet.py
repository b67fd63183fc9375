"""NotebookFleet: placement, names, least privilege, grants and errors, on real synthesized templates."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence, Union

import pytest

from cdk_apps import new_app, resources_of  # noqa: I001
import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from notebook_lifecycle import Autostop, Features, FleetUser, LifecycleConfig, NotebookFleet, NotebookInstance, StartupScripts
from notebook_lifecycle.cdk.fleet import MAX_USERS_PER_SHARD, fleet_notebook_name, normalize_user, shard_of

NB = "AWS::SageMaker::NotebookInstance"
LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
ON_START = StartupScripts.from_files({"10-hello.sh": "#!/bin/bash\necho hello\n"})
FEATURES = Features(autostop=Autostop(idle_minutes=60))


@dataclass
class Synth:
    fleet: NotebookFleet
    parent: dict[str, Any]
    nested: dict[str, dict[str, Any]]  # nested stack construct id (Shard007) -> template

    def all_templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield "parent", self.parent
        yield from self.nested.items()


def synth(
    tmp_path: Path, users: Union[Sequence[str], Mapping[str, FleetUser]], *, principals: bool = False, **kwargs: Any
) -> Synth:
    app = new_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Fleet")
    kwargs.setdefault("on_start", ON_START)
    kwargs.setdefault("features", FEATURES)
    fleet = NotebookFleet(stack, "Team", users=users, **kwargs)
    app.synth()
    parent = json.loads((tmp_path / "Fleet.template.json").read_text())
    nested = {ns.node.id: json.loads((tmp_path / ns.template_file).read_text()) for ns in fleet.nested_stacks}
    return Synth(fleet, parent, nested)


def user_resources(tpl: dict[str, Any], key: str) -> dict[str, Any]:
    """The resources of one user's notebook (construct ids <key>/Resource, <key>/Role, <key>/Policy), by logical id."""
    pattern = re.compile(re.escape(re.sub(r"[^A-Za-z0-9]", "", key)) + r"(Role|Policy)?[0-9A-F]{8}")
    return {logical: res for logical, res in tpl["Resources"].items() if pattern.fullmatch(logical)}


def where(s: Synth, key: str) -> tuple[str, dict[str, Any]]:
    hits = [(sid, user_resources(t, key)) for sid, t in s.nested.items() if user_resources(t, key)]
    assert len(hits) == 1, f"{key} is in {[h[0] for h in hits]}"
    return hits[0]


# -- 600 users --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(tmp_path_factory.mktemp("big"), [f"user{i:04d}" for i in range(600)])


def test_600_users_every_stack_under_500_resources_and_1_mb(big: Synth, tmp_path_factory: Any) -> None:
    counts = {sid: len(t["Resources"]) for sid, t in big.all_templates()}
    assert max(counts.values()) < 500, counts
    # with margin: a full shard (150 users) is 450 resources
    assert all(n <= 3 * MAX_USERS_PER_SHARD for n in counts.values())
    assert sum(len(resources_of(t, NB)) for t in big.nested.values()) == 600
    assert len(big.nested) == len(big.fleet.nested_stacks) > 1
    for sid, t in big.all_templates():
        assert len(json.dumps(t, indent=1)) < 1_000_000, sid


def test_600_users_share_one_lifecycle_config_in_the_parent(big: Synth) -> None:
    (lcc_id, _), = resources_of(big.parent, LCC).items()
    assert all(not resources_of(t, LCC) for t in big.nested.values())
    stacks = resources_of(big.parent, "AWS::CloudFormation::Stack")
    assert len(stacks) == len(big.nested)
    for res in stacks.values():  # one parameter per nested stack: the configuration's name
        assert res["Properties"]["Parameters"] == {
            next(iter(res["Properties"]["Parameters"])): {"Fn::GetAtt": [lcc_id, "NotebookInstanceLifecycleConfigName"]}
        }
    for t in big.nested.values():
        (param,) = t["Parameters"]
        for nb in resources_of(t, NB).values():
            assert nb["Properties"]["LifecycleConfigName"] == {"Ref": param}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_every_policy_names_only_its_own_notebook(big: Synth) -> None:
    checked = 0
    for t in big.nested.values():
        notebooks = resources_of(t, NB)
        roles = {}
        for nb in notebooks.values():
            roles[nb["Properties"]["RoleArn"]["Fn::GetAtt"][0]] = nb["Properties"]["NotebookInstanceName"]
        assert len(roles) == len(notebooks)  # a role each
        for policy in resources_of(t, "AWS::IAM::ManagedPolicy").values():
            (role,) = policy["Properties"]["Roles"]
            own = roles[role["Ref"]]
            text = "".join(_strings(policy["Properties"]["PolicyDocument"]))
            names = set(re.findall(r"notebook-instance/([a-z0-9-]+)", text)) | set(
                re.findall(r"log-stream:([a-z0-9-]+)/", text)
            )
            assert names == {own}, (own, names)
            assert "*" not in text
            checked += 1
    assert checked == 600


def test_names_follow_the_documented_rule(big: Synth) -> None:
    names = [nb.notebook_instance_name for nb in (big.fleet.notebook(u) for u in big.fleet.users)]
    assert len(set(names)) == 600
    assert names[0] == "team-user0000"
    for n in names:
        assert NAME_RE.match(n) and len(n) <= 63


# -- placement is stable ----------------------------------------------------------------------


def test_adding_and_removing_users_leaves_everyone_else_byte_identical(tmp_path: Path) -> None:
    before_users = [f"user{i:03d}" for i in range(200)]
    after_users = [u for u in before_users if u != "user042"] + ["newcomer"]
    before = synth(tmp_path / "before", before_users)
    after = synth(tmp_path / "after", list(reversed(after_users)))  # the order given does not matter
    touched = {where(before, "user042")[0], where(after, "newcomer")[0]}
    for user in before_users:
        if user == "user042":
            continue
        sid_b, res_b = where(before, user)
        sid_a, res_a = where(after, user)
        assert sid_a == sid_b, user
        assert len(res_b) == 3  # role, managed policy, notebook instance
        assert json.dumps(res_a, sort_keys=True) == json.dumps(res_b, sort_keys=True), user
    # nested stacks that gained or lost nobody are identical, parameters and all
    for sid in set(before.nested) - touched:
        assert before.nested[sid] == after.nested[sid], sid
    # the removed user is gone, the new one is where its hash says
    assert all(not user_resources(t, "user042") for t in after.nested.values())
    assert where(after, "newcomer")[0] == f"Shard{shard_of('newcomer', after.fleet.shard_count):03d}"


def test_same_users_give_byte_identical_templates(tmp_path: Path) -> None:
    a = synth(tmp_path / "a", ["b", "a", "c"])
    b = synth(tmp_path / "b", ["c", "a", "b"])
    assert list(a.all_templates()) == list(b.all_templates())


# -- names --------------------------------------------------------------------------------------


def test_normalised_names_and_truncation() -> None:
    assert normalize_user("Alice.Smith@Example.com") == "alice-smith-example-com"
    assert fleet_notebook_name("team", "alice") == "team-alice"
    long_a = "a" * 70
    long_b = "a" * 69 + "b"
    na, nb_ = fleet_notebook_name("team", long_a), fleet_notebook_name("team", long_b)
    assert len(na) == len(nb_) == 63 and na != nb_
    assert NAME_RE.match(na) and NAME_RE.match(nb_)
    assert na.startswith("team-aaaa") and fleet_notebook_name("team", long_a) == na  # stable


def test_user_overrides_principal_and_accessors(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Fleet")
    alice_role = iam.Role(stack, "AliceRole", assumed_by=iam.AccountRootPrincipal())
    bob_role = iam.Role(stack, "BobRole", assumed_by=iam.AccountRootPrincipal())
    lcc = LifecycleConfig(stack, "Shared", on_start=ON_START)
    fleet = NotebookFleet(
        stack, "Team", lifecycle_config=lcc, volume_size_in_gb=20,
        users={
            "Alice.Smith": FleetUser(instance_type="ml.m5.large", volume_size_in_gb=50, principal=alice_role,
                                     default_code_repository="https://github.com/example/a.git"),
            "bob": FleetUser(),
            "carol": FleetUser(),
        },
    )
    fleet.grant_connect("bob", bob_role)
    app.synth()
    assert fleet.users == ("Alice.Smith", "bob", "carol")
    alice = fleet.notebook("Alice.Smith")
    assert isinstance(alice, NotebookInstance) and fleet.notebook("alice-smith") is alice
    assert alice.lifecycle_config is lcc and fleet.lifecycle_config is lcc
    with pytest.raises(KeyError, match="no user 'dave'"):
        fleet.notebook("dave")
    parent = json.loads((tmp_path / "Fleet.template.json").read_text())
    props = {}
    for ns in fleet.nested_stacks:
        t = json.loads((tmp_path / ns.template_file).read_text())
        for nb in resources_of(t, NB).values():
            props[nb["Properties"]["NotebookInstanceName"]] = nb["Properties"]
        for nb in resources_of(t, NB).values():
            assert nb["DeletionPolicy"] == "Retain" and nb["UpdateReplacePolicy"] == "Retain"
    assert props["team-alice-smith"]["InstanceType"] == "ml.m5.large"
    assert props["team-alice-smith"]["VolumeSizeInGB"] == 50
    assert props["team-alice-smith"]["DefaultCodeRepository"] == "https://github.com/example/a.git"
    assert props["team-bob"]["InstanceType"] == "ml.t3.medium" and props["team-bob"]["VolumeSizeInGB"] == 20
    assert "DefaultCodeRepository" not in props["team-carol"]

    # each principal can open exactly one notebook: its own
    grants = {}
    for policy in resources_of(parent, "AWS::IAM::Policy").values():
        (role,) = policy["Properties"]["Roles"]
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert sorted(statement["Action"]) == [
            "sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:DescribeNotebookInstance"
        ]
        text = "".join(_strings(statement["Resource"]))
        grants[role["Ref"]] = re.findall(r"notebook-instance/([a-z0-9-]+)$", text)
    assert {k.split("Role")[0]: v for k, v in grants.items()} == {
        "Alice": ["team-alice-smith"], "Bob": ["team-bob"]
    }


def test_removal_policy_can_be_changed(tmp_path: Path) -> None:
    s = synth(tmp_path, ["alice"], removal_policy=cdk.RemovalPolicy.DESTROY)
    ((_, nb),) = [(k, v) for t in s.nested.values() for k, v in resources_of(t, NB).items()]
    assert nb["DeletionPolicy"] == "Delete"


def test_the_fleet_passes_its_delivery_to_its_lifecycle_config(tmp_path: Path) -> None:
    s = synth(tmp_path, ["alice", "bob"], delivery="s3")
    lcc = s.fleet.lifecycle_config
    assert lcc is not None and lcc.bundle.delivery_of("on-start") == "s3"
    statements = [st for t in s.nested.values() for r in t["Resources"].values()
                  if r["Type"] == "AWS::IAM::ManagedPolicy" for st in r["Properties"]["PolicyDocument"]["Statement"]]
    fetches = [st for st in statements if st.get("Sid") == "FetchLifecyclePayload"]
    assert len(fetches) == 2 and all(st["Action"] == "s3:GetObject" for st in fetches)
    with pytest.raises(Exception, match=r"delivery"):
        synth(tmp_path / "bad", ["alice"], delivery="ftp")


def test_no_scripts_no_lifecycle_config(tmp_path: Path) -> None:
    s = synth(tmp_path, ["alice"], on_start=None, features=None)
    assert s.fleet.lifecycle_config is None
    assert not resources_of(s.parent, LCC)


# -- errors ----------------------------------------------------------------------------------


def _fleet(users: Any, **kwargs: Any) -> NotebookFleet:
    stack = cdk.Stack(new_app(), "Fleet")
    return NotebookFleet(stack, "Team", users=users, **kwargs)


@pytest.mark.parametrize(
    ("users", "kwargs", "message"),
    [
        (["alice", "alice"], {}, r"'alice' is given 2 times"),
        (["Alice", "alice"], {}, r"'Alice', 'alice' are the same user once normalised \('alice'"),
        (["a.b", "a_b"], {}, r"'a.b', 'a_b' are the same user"),
        (["ok", "has space", "", "-x", 7], {}, r"invalid user name\(s\) 'has space', '', '-x', 7"),
        ([], {}, r"users: empty"),
        ("alice", {}, r"users: expected a sequence"),
        ({"alice": "ml.t3.large"}, {}, r"users\['alice'\]: expected a FleetUser"),
        ({"alice": FleetUser(principal="arn:aws:iam::1:role/x")}, {}, r"principal: expected an iam.IGrantable"),
        ([f"u{i}" for i in range(11)], {"max_users": 10}, r"11 users, but max_users is 10: split the users"),
        (["alice"], {"name_prefix": "Bad_Prefix"}, r"name_prefix: 'Bad_Prefix' is not a valid prefix"),
        (["alice"], {"users_per_stack": 500}, r"users_per_stack: expected a whole number from 1 to 150"),
        (["alice"], {"lifecycle_config": "x", "on_start": ON_START, "compression": "gzip"},
         r"expected a LifecycleConfig.*not both.*compression: only for"),
    ],
)
def test_bad_input_is_refused_at_synth_with_the_names(users: Any, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=r"(?s)NotebookFleet Fleet/Team.*" + message):
        _fleet(users, **kwargs)


def test_a_full_shard_is_refused() -> None:
    # users_per_stack=150 and max_users=151: 2 shards; 152 users would be refused by max_users, so
    # fill one shard past 150 by choosing users that hash into shard 0
    users = [f"u{i}" for i in range(2000) if shard_of(f"u{i}", 2) == 0][:151]
    with pytest.raises(ValueError, match=r"Shard000 would hold more than 150 notebooks"):
        _fleet(users, max_users=300, users_per_stack=150)


def test_grant_connect_refuses_a_non_principal() -> None:
    fleet = _fleet(["alice"])
    with pytest.raises(TypeError, match=r"grant_connect\('alice', \.\.\.\): expected an iam.IGrantable"):
        fleet.grant_connect("alice", "arn:aws:iam::123456789012:user/alice")  # type: ignore[arg-type]


def test_an_imported_role_gets_its_own_policy_for_one_notebook(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Fleet")
    sso = iam.Role.from_role_name(stack, "AliceSso", "alice-sso")
    NotebookFleet(
        stack, "Team", on_start=ON_START,
        users={"carol.smith@example.com": FleetUser(), "alice": FleetUser(principal=sso)},
    )
    app.synth()
    parent = json.loads((tmp_path / "Fleet.template.json").read_text())
    ((_, policy),) = resources_of(parent, "AWS::IAM::Policy").items()
    assert policy["Properties"]["Roles"] == ["alice-sso"]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert "".join(_strings(statement["Resource"])).endswith(":notebook-instance/team-alice")
