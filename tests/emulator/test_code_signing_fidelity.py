"""The fidelity patch `code_signing_configs`, pinned with the AWS behaviour.

Lambda's code signing configs exist, are read by ARN, and are attached to and detached from
a function (API_CreateCodeSigningConfig, API_GetCodeSigningConfig,
API_PutFunctionCodeSigningConfig, API_DeleteFunctionCodeSigningConfig). moto 5.2 has only
GetFunctionCodeSigningConfig. Signatures are never verified by the emulator.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import returns

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases/abcdef1234"


@pytest.fixture
def function(lam: Any, role_arn: str) -> str:
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns("v1")},
    )
    return "f"


def test_a_created_code_signing_config_has_an_arn_and_warns_by_default(lam: Any) -> None:
    created = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}
    )["CodeSigningConfig"]

    assert re.fullmatch(
        r"arn:aws:lambda:[a-z0-9-]+:\d{12}:code-signing-config:csc-[a-z0-9]{17}",
        created["CodeSigningConfigArn"],
    )
    assert created["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    fetched = lam.get_code_signing_config(CodeSigningConfigArn=created["CodeSigningConfigArn"])
    assert fetched["CodeSigningConfig"] == created


def test_an_unknown_code_signing_config_is_not_found(lam: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as error:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_without_a_config_reports_none(lam: Any, function: str) -> None:
    answer = lam.get_function_code_signing_config(FunctionName=function)
    assert not answer.get("CodeSigningConfigArn")


def test_a_config_is_attached_read_and_detached(lam: Any, function: str) -> None:
    arn = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]

    put = lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=function)
    assert put["CodeSigningConfigArn"] == arn
    assert (
        lam.get_function_code_signing_config(FunctionName=function)["CodeSigningConfigArn"] == arn
    )

    lam.delete_function_code_signing_config(FunctionName=function)
    assert not lam.get_function_code_signing_config(FunctionName=function).get(
        "CodeSigningConfigArn"
    )


def test_attaching_an_unknown_config_is_refused(lam: Any, function: str) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as error:
        lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=function)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
