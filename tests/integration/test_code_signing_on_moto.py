"""Code signing: with the construct's `code_signing`, UpdateCode deploys an upload only to a
function whose code signing config enforces the control plane's signing profile.

The use case with its real adapters on moto (the fidelity patch `code_signing_configs`
supplies the configs moto lacks). moto, like the emulator, verifies no signature: what is
pinned here is the refusal before anything changes, not Lambda's own signature check.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rollout import artifact_usecases as usecases
from rollout.adapters import aws
from rollout.adapters.lambda_code import FunctionCode
from rollout.adapters.s3 import ArtifactObjects
from rollout.domain.artifact import CodeSigning, Defaults, check_code_signing, code_sha256
from rollout.domain.errors import PreflightFailed
from trafficshift.emulator import fidelity

BUCKET = "artifacts"
FUNCTION = "orders-api"
PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/trafficshift/abcdef1234"
OTHER_PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/theirs/0987654321"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrafficShift:orders-api-1"


def _settings(profile: str = PROFILE) -> usecases.ArtifactSettings:
    return usecases.ArtifactSettings(
        bucket=BUCKET,
        defaults=Defaults(alias="live", strategy="AllAtOnce", poll_interval_seconds=5),
        signing_profile_version_arn=profile,
    )


def _zip(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(e, c):\n    return {body!r}\n")
    return buffer.getvalue()


class NothingRunning:
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> Any:
        raise AssertionError("UpdateCode starts nothing")

    def running(self, state_machine_arn: str) -> list[Any]:
        return []


@pytest.fixture
def cloud() -> Iterator[SimpleNamespace]:
    was_installed = fidelity.installed()
    fidelity.install()
    try:
        with mock_aws():
            aws.client.cache_clear()
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            role = boto3.client("iam", region_name="us-east-1").create_role(
                RoleName="r", AssumeRolePolicyDocument="{}"
            )
            lam = boto3.client("lambda", region_name="us-east-1")
            lam.create_function(
                FunctionName=FUNCTION,
                Runtime="python3.13",
                Role=role["Role"]["Arn"],
                Handler="app.handler",
                Code={"ZipFile": _zip("v1")},
            )
            stable = lam.publish_version(FunctionName=FUNCTION)["Version"]
            lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=stable)
            yield SimpleNamespace(s3=s3, lam=lam)
            aws.client.cache_clear()
    finally:
        if not was_installed:
            fidelity.uninstall()


def _attach(cloud: SimpleNamespace, publishers: list[str], policy: str) -> str:
    arn = str(
        cloud.lam.create_code_signing_config(
            AllowedPublishers={"SigningProfileVersionArns": publishers},
            CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
        )["CodeSigningConfig"]["CodeSigningConfigArn"]
    )
    cloud.lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=FUNCTION)
    return arn


def _snapshot(cloud: SimpleNamespace) -> tuple[str, list[str], dict[str, Any]]:
    """$LATEST's code, the published versions, and the alias: what a refusal must not touch."""
    latest = cloud.lam.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"]
    versions = [
        v["Version"] for v in cloud.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    ]
    alias = cloud.lam.get_alias(FunctionName=FUNCTION, Name="live")
    return latest, versions, {k: alias.get(k) for k in ("FunctionVersion", "RoutingConfig")}


def _upload_and_update(cloud: SimpleNamespace, settings: usecases.ArtifactSettings) -> Any:
    code = _zip("v2")
    put = cloud.s3.put_object(Bucket=BUCKET, Key=f"{FUNCTION}/build-2.zip", Body=code)
    source = {"bucket": BUCKET, "key": f"{FUNCTION}/build-2.zip", "versionId": put["VersionId"]}
    return usecases.update_code(
        {"input": {"artifact": source}, "executionId": EXECUTION},
        objects=ArtifactObjects(),
        functions=FunctionCode(),
        workflow=NothingRunning(),
        settings=settings,
        now=1000.0,
    ), code


@pytest.mark.parametrize(
    ("configure", "names"),
    [
        (lambda cloud: None, "has no code signing config"),
        (lambda cloud: _attach(cloud, [PROFILE], "Warn"), "does not enforce"),
        (lambda cloud: _attach(cloud, [OTHER_PROFILE], "Enforce"), "does not allow"),
    ],
    ids=["no-config", "warn-only", "other-profile"],
)
def test_an_upload_to_a_function_not_enforcing_the_profile_is_refused_and_changes_nothing(
    cloud: SimpleNamespace, configure: Any, names: str
) -> None:
    # Given code signing is on, and the function's config is missing or not ours to trust
    configure(cloud)
    before = _snapshot(cloud)
    # When an upload for it reaches UpdateCode
    with pytest.raises(PreflightFailed, match=f"code signing: .*{names}") as refused:
        _upload_and_update(cloud, _settings())
    # Then it is refused naming the profile, no version is published, the alias is as it was
    assert PROFILE in str(refused.value)
    assert _snapshot(cloud) == before


def test_a_function_pointing_at_a_deleted_config_is_refused_like_one_without(
    cloud: SimpleNamespace,
) -> None:
    # Given a function whose config was deleted after it was attached
    arn = _attach(cloud, [PROFILE], "Enforce")
    assert FunctionCode().code_signing(FUNCTION).config_arn == arn
    fidelity.lambda_._code_signing_configs(_lambda_backend()).pop(arn)
    # Then the adapter reads it as no config, and the upload is refused unchanged
    assert FunctionCode().code_signing(FUNCTION) == CodeSigning()
    before = _snapshot(cloud)
    with pytest.raises(PreflightFailed, match="has no code signing config"):
        _upload_and_update(cloud, _settings())
    assert _snapshot(cloud) == before


def _lambda_backend() -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends["123456789012"]["us-east-1"]


def test_an_upload_to_a_function_enforcing_the_profile_goes_ahead(cloud: SimpleNamespace) -> None:
    # Given the function enforces a config that allows our profile (and another)
    _attach(cloud, [OTHER_PROFILE, PROFILE], "Enforce")
    # When the upload reaches UpdateCode / Then $LATEST holds it (moto checks no signature)
    state, code = _upload_and_update(cloud, _settings())
    assert state["update"]["codeSha256"] == code_sha256(code)
    assert _snapshot(cloud)[0] == code_sha256(code)


def test_without_code_signing_a_function_without_a_config_is_updated(
    cloud: SimpleNamespace,
) -> None:
    state, code = _upload_and_update(cloud, _settings(profile=""))
    assert state["update"]["codeSha256"] == code_sha256(code)


def test_the_signing_profile_comes_from_the_environment_the_construct_sets() -> None:
    settings = usecases.ArtifactSettings.from_environ(
        {"TRAFFICSHIFT_SIGNING_PROFILE_VERSION_ARN": PROFILE}
    )
    assert settings.signing_profile_version_arn == PROFILE
    assert usecases.ArtifactSettings.from_environ({}).signing_profile_version_arn == ""


@pytest.mark.parametrize(
    ("signing", "refused"),
    [
        (CodeSigning(), True),
        (CodeSigning(config_arn="c", allowed_publishers=(PROFILE,)), True),  # Warn
        (
            CodeSigning(
                config_arn="c",
                allowed_publishers=(PROFILE,),
                untrusted_artifact_on_deployment="Warn",
            ),
            True,
        ),
        (
            CodeSigning(
                config_arn="c",
                allowed_publishers=(OTHER_PROFILE,),
                untrusted_artifact_on_deployment="Enforce",
            ),
            True,
        ),
        (
            CodeSigning(
                config_arn="c",
                allowed_publishers=(PROFILE,),
                untrusted_artifact_on_deployment="Enforce",
            ),
            False,
        ),
    ],
)
def test_only_an_enforcing_config_that_allows_the_profile_passes(
    signing: CodeSigning, refused: bool
) -> None:
    if refused:
        with pytest.raises(PreflightFailed, match="nothing was changed"):
            check_code_signing(FUNCTION, signing, PROFILE)
    else:
        check_code_signing(FUNCTION, signing, PROFILE)
