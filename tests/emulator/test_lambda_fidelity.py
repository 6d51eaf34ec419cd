"""Each Lambda fidelity patch, pinned with the AWS behaviour it restores.

Given / When / Then, one behaviour per test. The `cloud` fixture is a fresh LocalCloud with
nothing deployed; `lam` is a Lambda client without retries.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_helpers import code_zip, returns

from trafficshift.emulator import fidelity, lambda_runtime
from trafficshift.emulator.cloud import LocalCloud


def _function_with_versions(lam: Any, role_arn: str, *values: str, name: str = "f") -> None:
    """Create `name` and publish one version per value (version N returns values[N-1])."""
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": returns(values[0])},
    )
    lam.publish_version(FunctionName=name)
    for value in values[1:]:
        lam.update_function_code(FunctionName=name, ZipFile=returns(value))
        lam.publish_version(FunctionName=name)


def _error_code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


# -- in_process_invoke ------------------------------------------------------------------


def test_invoke_with_qualifier_runs_that_version(lam: Any, role_arn: str) -> None:
    # Given versions 1 and 2 with different code, and $LATEST updated again afterwards
    _function_with_versions(lam, role_arn, "one", "two")
    lam.update_function_code(FunctionName="f", ZipFile=returns("latest"))

    # When each is invoked by Qualifier, by qualified name and by qualified ARN
    arn = lam.get_function(FunctionName="f")["Configuration"]["FunctionArn"]
    by_qualifier = lam.invoke(FunctionName="f", Qualifier="1")
    by_name = lam.invoke(FunctionName="f:2")
    by_arn = lam.invoke(FunctionName=f"{arn}:1")
    unqualified = lam.invoke(FunctionName="f")

    # Then each runs its own code, and says which version ran
    assert (by_qualifier["ExecutedVersion"], _payload(by_qualifier)["value"]) == ("1", "one")
    assert (by_name["ExecutedVersion"], _payload(by_name)["value"]) == ("2", "two")
    assert (by_arn["ExecutedVersion"], _payload(by_arn)["value"]) == ("1", "one")
    assert (unqualified["ExecutedVersion"], _payload(unqualified)["value"]) == (
        "$LATEST",
        "latest",
    )


def test_alias_weights_route_invocations_to_both_versions(lam: Any, role_arn: str) -> None:
    # Given an alias on version 1 that sends 30% of its traffic to version 2
    _function_with_versions(lam, role_arn, "one", "two")
    lam.create_alias(
        FunctionName="f",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )

    # When the alias is invoked 400 times
    executed = collections.Counter(
        lam.invoke(FunctionName="f", Qualifier="live")["ExecutedVersion"] for _ in range(400)
    )

    # Then both versions ran, about 70/30 (seeded routing; 5 sigma is +-46)
    assert set(executed) == {"1", "2"}
    assert 120 - 46 <= executed["2"] <= 120 + 46


def test_alias_without_weights_runs_only_its_version(lam: Any, role_arn: str) -> None:
    # Given an alias on version 2 with routing cleared
    _function_with_versions(lam, role_arn, "one", "two")
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="2")
    lam.update_alias(FunctionName="f", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})

    # When it is invoked
    executed = {lam.invoke(FunctionName="f:live")["ExecutedVersion"] for _ in range(20)}

    # Then only version 2 ran
    assert executed == {"2"}


def test_routing_is_reproducible_with_the_same_seed(role_arn: str, cloud: LocalCloud) -> None:
    # Given a 50/50 alias
    lam = cloud.client("lambda")
    _function_with_versions(lam, role_arn, "one", "two")
    lam.create_alias(
        FunctionName="f",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )

    # When the same seed is set before two runs
    def run() -> list[str]:
        fidelity.seed_routing(42)
        return [lam.invoke(FunctionName="f:live")["ExecutedVersion"] for _ in range(30)]

    # Then they route identically
    assert run() == run()


def test_python_exception_maps_to_unhandled_function_error(lam: Any, role_arn: str) -> None:
    # Given a function whose handler raises a custom exception
    source = (
        "class PaymentDeclined(Exception):\n    pass\n"
        "def handler(event, context):\n    raise PaymentDeclined('card 42 declined')\n"
    )
    lam.create_function(
        FunctionName="pay",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source)},
    )

    # When it is invoked synchronously
    response = lam.invoke(FunctionName="pay")

    # Then, as on AWS, the call succeeds with FunctionError Unhandled and the error payload
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    payload = _payload(response)
    assert payload["errorType"] == "PaymentDeclined"
    assert payload["errorMessage"] == "card 42 declined"
    assert any("raise PaymentDeclined" in line for line in payload["stackTrace"])
    assert not any("trafficshift/emulator" in line for line in payload["stackTrace"])


def test_handler_that_cannot_be_imported_reports_runtime_import_error(
    lam: Any, role_arn: str
) -> None:
    # Given a function whose Handler names a module missing from its zip
    lam.create_function(
        FunctionName="broken",
        Runtime="python3.13",
        Role=role_arn,
        Handler="missing.handler",
        Code={"ZipFile": returns("x")},
    )

    # When it is invoked
    response = lam.invoke(FunctionName="broken")

    # Then the Lambda runtime's error type comes back
    assert response["FunctionError"] == "Unhandled"
    assert _payload(response)["errorType"] == "Runtime.ImportModuleError"


def test_function_environment_and_region_apply_during_the_call_only(
    lam: Any, role_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function with an environment variable, and a process that has its own value
    monkeypatch.setenv("COLOUR", "process")
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    keys = ['COLOUR', 'AWS_REGION', 'AWS_DEFAULT_REGION',\n"
        "            'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION']\n"
        "    return {k: os.environ.get(k) for k in keys}\n"
    )
    lam.create_function(
        FunctionName="env",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source)},
        Environment={"Variables": {"COLOUR": "function"}},
    )
    lam.publish_version(FunctionName="env")

    # When version 1 is invoked
    seen = _payload(lam.invoke(FunctionName="env", Qualifier="1"))

    # Then the handler saw the function's environment, and the process got its own back
    assert seen == {
        "COLOUR": "function",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "env",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
    }
    assert lambda_runtime.os.environ["COLOUR"] == "process"


def test_published_version_keeps_its_code_and_configuration(lam: Any, role_arn: str) -> None:
    # Given version 1 published, then $LATEST's code and environment changed
    source = (
        "import os\nVALUE = {value!r}\n"
        "def handler(event, context):\n    return [VALUE, os.environ.get('MODE')]\n"
    )
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source.format(value="old"))},
        Environment={"Variables": {"MODE": "v1"}},
    )
    lam.publish_version(FunctionName="f")
    lam.update_function_code(FunctionName="f", ZipFile=code_zip(source.format(value="new")))
    lam.update_function_configuration(FunctionName="f", Environment={"Variables": {"MODE": "v2"}})

    # When version 1 and $LATEST are invoked
    # Then each runs its own code with its own environment, as on AWS
    assert _payload(lam.invoke(FunctionName="f:1")) == ["old", "v1"]
    assert _payload(lam.invoke(FunctionName="f")) == ["new", "v2"]


def test_event_invoke_runs_the_function_and_returns_202(lam: Any, role_arn: str) -> None:
    # Given a function that records its events in a module-level list of its own
    source = (
        "SEEN = []\ndef handler(event, context):\n    SEEN.append(event)\n    return len(SEEN)\n"
    )
    lam.create_function(
        FunctionName="async",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source)},
    )

    # When it is invoked asynchronously, then synchronously
    queued = lam.invoke(FunctionName="async", InvocationType="Event", Payload=b'{"n": 1}')
    counted = _payload(lam.invoke(FunctionName="async", Payload=b'{"n": 2}'))

    # Then the Event invoke was accepted (202) and did run (synchronously, in the emulator)
    assert queued["StatusCode"] == 202
    assert counted == 2


def test_invoke_payload_that_is_a_list_or_has_a_qualifier_key_is_just_the_event(
    lam: Any, role_arn: str
) -> None:
    # Given versions 1 and 2 (moto took a payload's "qualifier" key as the qualifier and
    # crashed on a list payload)
    _function_with_versions(lam, role_arn, "one", "two")

    # When version 1 is invoked with such payloads
    with_key = lam.invoke(FunctionName="f:1", Payload=json.dumps({"qualifier": "2"}))
    a_list = lam.invoke(FunctionName="f:1", Payload=b"[1, 2, 3]")

    # Then version 1 ran both times
    assert with_key["ExecutedVersion"] == a_list["ExecutedVersion"] == "1"
    assert "FunctionError" not in a_list


def test_invoke_unknown_qualifier_is_resource_not_found(lam: Any, role_arn: str) -> None:
    _function_with_versions(lam, role_arn, "one")

    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="f", Qualifier="nope")

    assert _error_code(error) == ("ResourceNotFoundException", 404)


def test_lambda_context_is_accepted_by_powertools_logger(lam: Any, role_arn: str) -> None:
    # Given a handler decorated with Powertools' inject_lambda_context
    source = (
        "from aws_lambda_powertools import Logger\n"
        "logger = Logger(service='ctx-test')\n"
        "@logger.inject_lambda_context\n"
        "def handler(event, context):\n"
        "    return [context.function_name, context.function_version,\n"
        "            context.invoked_function_arn, context.get_remaining_time_in_millis() > 0]\n"
    )
    lam.create_function(
        FunctionName="ctx",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code_zip(source)},
        Timeout=30,
    )
    lam.publish_version(FunctionName="ctx")
    lam.create_alias(FunctionName="ctx", Name="live", FunctionVersion="1")

    # When it is invoked through its alias
    response = lam.invoke(FunctionName="ctx", Qualifier="live")

    # Then the context carried the alias ARN and the executed version
    assert "FunctionError" not in response, _payload(response)
    name, version, arn, has_time = _payload(response)
    assert (name, version, has_time) == ("ctx", "1", True)
    assert arn.endswith(":function:ctx:live")


# -- update_alias_validates_like_aws ------------------------------------------------


def test_update_alias_with_stale_revision_id_is_refused_like_aws(lam: Any, role_arn: str) -> None:
    # Given an alias whose RevisionId was read, then changed by someone else
    _function_with_versions(lam, role_arn, "one", "two")
    read = lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")["RevisionId"]
    lam.update_alias(FunctionName="f", Name="live", Description="someone else")

    # When an update is sent with the stale RevisionId
    with pytest.raises(ClientError) as error:
        lam.update_alias(FunctionName="f", Name="live", FunctionVersion="2", RevisionId=read)

    # Then AWS's PreconditionFailedException (412) refuses it, and nothing changed
    assert _error_code(error) == ("PreconditionFailedException", 412)
    assert lam.get_alias(FunctionName="f", Name="live")["FunctionVersion"] == "1"


def test_alias_revision_id_changes_on_every_update(lam: Any, role_arn: str) -> None:
    # Given an alias
    _function_with_versions(lam, role_arn, "one", "two")
    created = lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")

    # When it is updated twice, each time with the current RevisionId
    first = lam.update_alias(
        FunctionName="f",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
        RevisionId=created["RevisionId"],
    )
    second = lam.update_alias(
        FunctionName="f",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        RevisionId=first["RevisionId"],
    )

    # Then every update produced a new RevisionId, and GetAlias returns the latest
    revisions = {created["RevisionId"], first["RevisionId"], second["RevisionId"]}
    assert len(revisions) == 3
    assert lam.get_alias(FunctionName="f", Name="live")["RevisionId"] == second["RevisionId"]


@pytest.mark.parametrize(
    ("weights", "primary", "expected_code"),
    [
        pytest.param({"2": 1.5}, "1", "ValidationException", id="weight-above-one"),
        pytest.param({"2": -0.5}, "1", "ValidationException", id="weight-below-zero"),
        pytest.param({"1": 0.5}, "1", "InvalidParameterValueException", id="primary-in-routing"),
        pytest.param({"$LATEST": 0.1}, "1", "ValidationException", id="latest-in-routing"),
        pytest.param({"2": 0.1}, "$LATEST", "InvalidParameterValueException", id="latest-primary"),
        pytest.param(
            {"2": 0.1, "3": 0.1}, "1", "InvalidParameterValueException", id="two-additional"
        ),
        pytest.param({"9": 0.1}, "1", "ResourceNotFoundException", id="missing-version"),
    ],
)
def test_update_alias_refuses_routing_that_aws_refuses(
    cloud: LocalCloud, role_arn: str, weights: dict[str, Any], primary: str, expected_code: str
) -> None:
    # Given versions 1..3 and an alias on 1 (no client-side validation: the state machine's
    # interpreter calls Lambda without it, so the emulator must refuse like AWS does)
    lam = cloud.client(
        "lambda",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    _function_with_versions(lam, role_arn, "one", "two", "three")
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")

    # When the routing is updated to something AWS refuses
    with pytest.raises(ClientError) as error:
        lam.update_alias(
            FunctionName="f",
            Name="live",
            FunctionVersion=primary,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )

    # Then it is refused with AWS's error code, and the alias is unchanged
    assert _error_code(error)[0] == expected_code
    alias = lam.get_alias(FunctionName="f", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_alias_versions_with_different_roles_are_refused(lam: Any, cloud: LocalCloud) -> None:
    # Given version 1 and version 2 with different execution roles
    iam = cloud.client("iam")
    roles = [
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for name in ("role-a", "role-b")
    ]
    _function_with_versions(lam, roles[0], "one")
    lam.update_function_configuration(FunctionName="f", Role=roles[1])
    lam.publish_version(FunctionName="f")
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")

    # When the alias is asked to route to both
    with pytest.raises(ClientError) as error:
        lam.update_alias(
            FunctionName="f", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
        )

    # Then AWS refuses: the versions must share the execution role
    assert _error_code(error)[0] == "InvalidParameterValueException"


def test_create_alias_refuses_routing_like_update(lam: Any, role_arn: str) -> None:
    _function_with_versions(lam, role_arn, "one", "two")

    with pytest.raises(ClientError) as error:
        lam.create_alias(
            FunctionName="f",
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )

    assert _error_code(error)[0] == "InvalidParameterValueException"
    assert lam.list_aliases(FunctionName="f")["Aliases"] == []


def test_cleared_routing_comes_back_empty_or_missing(lam: Any, role_arn: str) -> None:
    # Given a weighted alias, promoted to version 2 with its routing cleared
    _function_with_versions(lam, role_arn, "one", "two")
    lam.create_alias(
        FunctionName="f",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    lam.update_alias(
        FunctionName="f",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )

    # When it is read back
    alias = lam.get_alias(FunctionName="f", Name="live")

    # Then there are no additional versions, whichever of AWS's two shapes comes back
    assert alias["FunctionVersion"] == "2"
    assert (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}) == {}


# -- function_revision_id and publish_version_guards -------------------------------


def test_function_revision_id_changes_when_latest_changes(lam: Any, role_arn: str) -> None:
    _function_with_versions(lam, role_arn, "one")
    before = lam.get_function_configuration(FunctionName="f")["RevisionId"]

    lam.update_function_configuration(FunctionName="f", Description="changed")
    after = lam.get_function_configuration(FunctionName="f")["RevisionId"]

    assert before
    assert after
    assert before != after


def test_publish_version_with_wrong_code_sha256_is_refused_like_aws(
    lam: Any, role_arn: str
) -> None:
    # Given $LATEST whose code changed after its CodeSha256 was read
    _function_with_versions(lam, role_arn, "one")
    read = lam.get_function_configuration(FunctionName="f")["CodeSha256"]
    lam.update_function_code(FunctionName="f", ZipFile=returns("someone else's"))

    # When PublishVersion is guarded with the old CodeSha256
    with pytest.raises(ClientError) as error:
        lam.publish_version(FunctionName="f", CodeSha256=read)

    # Then nothing is published
    assert _error_code(error) == ("InvalidParameterValueException", 400)
    assert "CodeSHA256" in error.value.response["Error"]["Message"]
    versions = lam.list_versions_by_function(FunctionName="f")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_publish_version_with_stale_revision_id_is_refused_like_aws(
    lam: Any, role_arn: str
) -> None:
    _function_with_versions(lam, role_arn, "one")
    read = lam.get_function_configuration(FunctionName="f")["RevisionId"]
    lam.update_function_configuration(FunctionName="f", Description="someone else")

    with pytest.raises(ClientError) as error:
        lam.publish_version(FunctionName="f", RevisionId=read)

    assert _error_code(error) == ("PreconditionFailedException", 412)


def test_publish_version_with_current_guards_publishes(lam: Any, role_arn: str) -> None:
    _function_with_versions(lam, role_arn, "one")
    lam.update_function_code(FunctionName="f", ZipFile=returns("two"))
    latest = lam.get_function_configuration(FunctionName="f")

    published = lam.publish_version(
        FunctionName="f", CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"]
    )

    assert published["Version"] == "2"
    assert published["CodeSha256"] == latest["CodeSha256"]


# -- delete_version_in_use --------------------------------------------------------------


@pytest.mark.parametrize("routing", [None, {"AdditionalVersionWeights": {"2": 0.2}}])
def test_deleting_a_version_an_alias_routes_to_is_refused_like_aws(
    lam: Any, role_arn: str, routing: dict[str, Any] | None
) -> None:
    # Given an alias on version 2, or on 1 with version 2 in its routing
    _function_with_versions(lam, role_arn, "one", "two", "three")
    if routing is None:
        lam.create_alias(FunctionName="f", Name="live", FunctionVersion="2")
    else:
        lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1", RoutingConfig=routing)

    # When version 2 is deleted
    with pytest.raises(ClientError) as error:
        lam.delete_function(FunctionName="f", Qualifier="2")

    # Then AWS's ResourceConflictException refuses it, naming the alias
    assert _error_code(error) == ("ResourceConflictException", 409)
    assert error.value.response["Error"]["Message"] == (
        "Unable to delete version because the following aliases reference it: [live]"
    )
    # And a version no alias uses can still be deleted
    lam.delete_function(FunctionName="f", Qualifier="3")
    versions = lam.list_versions_by_function(FunctionName="f")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]


# -- install / uninstall ----------------------------------------------------------------


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.models import StateMachineInstance

    original_invoke = LambdaSimpleBackend.invoke
    assert not fidelity.installed()

    fidelity.install()
    patched_invoke = LambdaSimpleBackend.invoke
    fidelity.install()
    assert LambdaSimpleBackend.invoke is patched_invoke is not original_invoke

    fidelity.uninstall()
    assert LambdaSimpleBackend.invoke is original_invoke
    assert "__deepcopy__" not in StateMachineInstance.__dict__
    assert not fidelity.installed()
