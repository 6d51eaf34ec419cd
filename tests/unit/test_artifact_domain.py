"""Deploying an uploaded zip, the pure part: key, name, manifest, request, zip, update loop."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.domain import artifact
from rollout.domain.artifact import (
    MAX_UNZIPPED_BYTES,
    CodeState,
    CodeUpdate,
    Defaults,
    RunningExecution,
)
from rollout.domain.errors import InvalidInput, PreflightFailed

DEFAULTS = Defaults(alias="live", strategy="Canary10Percent5Minutes", poll_interval_seconds=30)
SOURCE = {"bucket": "artifacts", "key": "orders-api/build-42.zip", "versionId": "v1"}


def _zip(files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (files or {"app.py": b"def handler(e, c):\n    return 1\n"}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _check(data: bytes) -> artifact.ZipSummary:
    return artifact.check_zip(io.BytesIO(data), len(data))


# -- the key convention ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "function"),
    [
        ("orders-api/build-42.zip", "orders-api"),
        ("orders_api/2026/11/27/build.zip", "orders_api"),
        ("A/b.zip", "A"),
    ],
)
def test_key_names_its_function_by_its_folder(key: str, function: str) -> None:
    assert artifact.function_of_key(key) == function


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("build.zip", "is not inside a function's folder"),
        ("/build.zip", "is not a Lambda function name"),
        ("orders api/build.zip", "is not a Lambda function name"),
        ("x" * 65 + "/build.zip", "is not a Lambda function name"),
        ("orders-api/build.tar.gz", "does not end in <name>.zip"),
        ("orders-api/build.ZIP", "does not end in <name>.zip"),
        ("orders-api/.zip", "does not end in <name>.zip"),
        ("orders-api/", "does not end in <name>.zip"),
    ],
)
def test_key_outside_the_convention_is_invalid_input_naming_the_key(key: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.function_of_key(key)
    assert refused.value.field == "artifact.key"
    assert problem in refused.value.problem
    assert "orders-api/build-42.zip" in refused.value.fix


# -- the execution name ------------------------------------------------------------------


def test_execution_name_is_readable_and_the_same_for_the_same_upload() -> None:
    name = artifact.execution_name("artifacts", "orders-api/build-42.zip", "v1")
    assert name == artifact.execution_name("artifacts", "orders-api/build-42.zip", "v1")
    assert re.fullmatch(r"orders-api-[0-9a-f]{24}", name)


@pytest.mark.parametrize(
    ("bucket", "key", "version"),
    [
        ("artifacts", "orders-api/build-42.zip", "v2"),
        ("artifacts", "orders-api/build-43.zip", "v1"),
        ("other", "orders-api/build-42.zip", "v1"),
        ("artifacts/orders-api", "build-42.zip", "v1"),  # no ambiguity across the parts
    ],
)
def test_a_different_bucket_key_or_version_is_a_different_execution(
    bucket: str, key: str, version: str
) -> None:
    assert artifact.execution_name(bucket, key, version) != artifact.execution_name(
        "artifacts", "orders-api/build-42.zip", "v1"
    )


@given(bucket=st.text(min_size=1), key=st.text(min_size=1), version=st.text(min_size=1))
def test_execution_name_is_always_a_valid_step_functions_name(
    bucket: str, key: str, version: str
) -> None:
    name = artifact.execution_name(bucket, key, version)
    assert 1 <= len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)


def test_a_long_function_name_is_cut_so_the_name_stays_within_80() -> None:
    name = artifact.execution_name("b", "f" * 64 + "/x.zip", "v")
    assert len(name) == 80
    assert name.startswith("f" * 55 + "-")


def test_an_upload_outside_the_convention_still_gets_a_name() -> None:
    assert artifact.execution_name("b", "build.zip", None).startswith("upload-")


def test_code_sha256_is_what_lambda_reports() -> None:
    # Lambda's CodeSha256 is base64(sha256(zip)); this is the digest of b"".
    assert artifact.code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


# -- the manifest ------------------------------------------------------------------------


def test_no_manifest_is_an_empty_one() -> None:
    assert artifact.parse_manifest(None) == {}


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('{"alias": "live"', "manifest", "is not valid JSON (Expecting"),
        ("[1, 2]", "manifest", "must be a JSON object"),
        ('{"strategyy": "AllAtOnce"}', "manifest.strategyy", "is not a field of the manifest"),
        ('{"targetVersion": "7"}', "manifest.targetVersion", "the uploaded zip is what"),
        ('{"publish": true}', "manifest.publish", "the uploaded zip is what"),
    ],
)
def test_a_bad_manifest_is_invalid_input_naming_the_manifest(
    text: str, field: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.parse_manifest(text)
    assert refused.value.field == field
    assert problem in refused.value.problem


# -- the request an upload stands for ----------------------------------------------------


def test_an_upload_without_manifest_takes_the_defaults_and_the_keys_function() -> None:
    parsed, source = artifact.resolve_request({"artifact": SOURCE}, manifest={}, defaults=DEFAULTS)
    assert parsed.function_name == "orders-api"
    assert parsed.request.alias == "live"
    assert parsed.request.strategy == "Canary10Percent5Minutes"
    assert parsed.request.poll_interval_seconds == 30
    assert source.version_id == "v1"


def test_the_input_wins_over_the_manifest_which_wins_over_the_defaults() -> None:
    manifest = {"alias": "prod", "strategy": "AllAtOnce", "pollIntervalSeconds": 5}
    parsed, _ = artifact.resolve_request(
        {"artifact": SOURCE, "pollIntervalSeconds": 7}, manifest=manifest, defaults=DEFAULTS
    )
    assert parsed.request.alias == "prod"
    assert parsed.request.strategy == "AllAtOnce"
    assert parsed.request.poll_interval_seconds == 7


def test_a_bad_field_from_the_manifest_is_named_as_the_manifests() -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.resolve_request(
            {"artifact": SOURCE},
            manifest={"strategy": {"type": "canary", "percent": 0, "bakeSeconds": 5}},
            defaults=DEFAULTS,
        )
    assert refused.value.field == "manifest.strategy.percent"


def test_a_function_name_that_contradicts_the_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.resolve_request(
            {"artifact": SOURCE}, manifest={"functionName": "billing"}, defaults=DEFAULTS
        )
    assert refused.value.field == "manifest.functionName"
    assert "names orders-api" in refused.value.problem


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("s3://artifacts/orders-api/build.zip", "artifact"),
        ({"bucket": "artifacts", "key": "orders-api/b.zip"}, "artifact.versionId"),
        ({**SOURCE, "bucket": ""}, "artifact.bucket"),
        ({**SOURCE, "etag": "x"}, "artifact.etag"),
    ],
)
def test_a_malformed_artifact_is_invalid_input(raw: object, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.parse_source(raw)
    assert refused.value.field == field


def test_prepare_gets_the_console_request_with_the_published_version() -> None:
    request = {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce"}
    assert artifact.request_for_prepare(request, "7") == {**request, "targetVersion": "7"}


@pytest.mark.parametrize(
    ("raw", "function"),
    [
        ({"functionName": "orders-api"}, "orders-api"),
        (
            {"functionName": "arn:aws:lambda:us-east-1:123456789012:function:orders-api"},
            "orders-api",
        ),
        ({"artifact": SOURCE}, "orders-api"),
        ({"artifact": {**SOURCE, "key": "build.zip"}}, None),
        ("not an object", None),
    ],
)
def test_the_function_of_a_running_execution_is_read_from_its_input(
    raw: object, function: str | None
) -> None:
    assert artifact.function_of_input(raw) == function


def test_bad_construct_defaults_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        artifact.validate_defaults(Defaults(strategy="Canary10Percent7Minutes"))
    assert refused.value.field == "strategy"


# -- the zip -----------------------------------------------------------------------------


def test_a_valid_zip_is_summarized() -> None:
    summary = _check(_zip({"app.py": b"x" * 10, "lib/util.py": b"y" * 5}))
    assert (summary.files, summary.unzipped_bytes) == (2, 15)


def test_an_empty_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="the object is empty"):
        artifact.check_zip(io.BytesIO(b""), 0)


def test_an_object_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a zip archive"):
        _check(b"#!/bin/sh\necho this is not a zip\n")


def test_a_zip_with_a_corrupt_member_is_refused() -> None:
    good = _zip({"app.py": b"print('hello')\n" * 50})
    # Flip a byte inside the first member's compressed data (after its 30-byte header + name).
    corrupt = bytearray(good)
    corrupt[40] ^= 0xFF
    with pytest.raises(InvalidInput, match="the zip is corrupt"):
        _check(bytes(corrupt))


def test_a_truncated_zip_is_refused() -> None:
    good = _zip()
    with pytest.raises(InvalidInput, match="is not a zip archive"):
        _check(good[: len(good) // 2])


def test_a_zip_without_files_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("only-a-folder/", b"")
    with pytest.raises(InvalidInput, match="holds no files"):
        _check(buffer.getvalue())


def test_a_zip_that_unzips_past_lambdas_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Declared sizes are checked before anything is decompressed (a zip bomb stays shut).
    monkeypatch.setattr(artifact, "MAX_UNZIPPED_BYTES", 1000)
    with pytest.raises(InvalidInput, match="unzips to 1,001 bytes"):
        _check(_zip({"big.bin": b"\0" * 1001}))


def test_an_object_past_lambdas_limit_is_refused_by_its_size() -> None:
    with pytest.raises(InvalidInput, match="a Lambda deployment package unzips to at most"):
        artifact.check_object_size(MAX_UNZIPPED_BYTES + 1)


def test_a_container_image_function_cannot_take_a_zip() -> None:
    with pytest.raises(InvalidInput, match="is a Image function"):
        artifact.check_updatable("orders-api", CodeState(package_type="Image"))


# -- waiting for Lambda to apply the code ------------------------------------------------


UPDATE = CodeUpdate(code_sha256="abc=", started_at=1000.0)


def test_successful_update_of_our_code_is_ready_to_publish() -> None:
    code = CodeState(code_sha256="abc=", last_update_status="Successful")
    assert artifact.next_update_check("f", UPDATE, code, now=1001, timeout_seconds=600) is None


def test_an_update_in_progress_waits_longer_each_time_up_to_5_s() -> None:
    code = CodeState(code_sha256="abc=", last_update_status="InProgress")
    waits = []
    update = UPDATE
    for _ in range(6):
        following = artifact.next_update_check("f", update, code, now=1001, timeout_seconds=600)
        assert following is not None
        waits.append(following.wait_seconds)
        update = following
    assert waits == [2, 3, 4, 5, 5, 5]
    assert update.polls == 6


def test_the_last_wait_ends_at_the_timeout() -> None:
    code = CodeState(code_sha256="abc=", last_update_status="InProgress")
    following = artifact.next_update_check(
        "f", UPDATE.model_copy(update={"polls": 9}), code, now=1598.5, timeout_seconds=600
    )
    assert following is not None
    assert following.wait_seconds == 2


def test_an_update_still_in_progress_at_the_timeout_fails() -> None:
    code = CodeState(code_sha256="abc=", last_update_status="InProgress")
    with pytest.raises(PreflightFailed, match="still InProgress after 600 s"):
        artifact.next_update_check("f", UPDATE, code, now=1600, timeout_seconds=600)


def test_a_failed_update_is_invalid_input_with_lambdas_reason() -> None:
    code = CodeState(
        code_sha256="abc=",
        last_update_status="Failed",
        last_update_status_reason="Unzipped size must be smaller than 262144000 bytes",
        last_update_status_reason_code="InvalidUnzippedSize",
    )
    with pytest.raises(InvalidInput) as refused:
        artifact.next_update_check("f", UPDATE, code, now=1001, timeout_seconds=600)
    assert "Unzipped size must be smaller" in refused.value.problem
    assert "(InvalidUnzippedSize)" in refused.value.problem


def test_someone_elses_code_in_latest_is_never_published() -> None:
    code = CodeState(code_sha256="other=", last_update_status="Successful")
    with pytest.raises(PreflightFailed, match="changed while this upload was applied"):
        artifact.next_update_check("f", UPDATE, code, now=1001, timeout_seconds=600)


# -- one rollout per function at a time --------------------------------------------------

ME = "arn:aws:states:us-east-1:123456789012:execution:sm:orders-api-bbb"


def _running(name: str, started_at: float, function: str | None = "orders-api") -> RunningExecution:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:sm:{name}"
    return RunningExecution(arn=arn, name=name, started_at=started_at, function=function)


def test_an_earlier_rollout_of_the_same_function_is_a_rival() -> None:
    earlier = _running("console-1", 90.0)
    others = [earlier, _running("other-fn", 80.0, "billing"), _running("orders-api-bbb", 100.0)]
    assert artifact.rivals("orders-api", me=ME, my_start=100.0, running=others) == [earlier]


def test_of_two_uploads_that_see_each_other_only_the_later_gives_way() -> None:
    later = _running("orders-api-ccc", 100.0)
    earlier_same_time = _running("orders-api-aaa", 100.0)
    assert artifact.rivals("orders-api", me=ME, my_start=100.0, running=[later]) == []
    assert artifact.rivals("orders-api", me=ME, my_start=100.0, running=[earlier_same_time]) == [
        earlier_same_time
    ]


def test_the_refusal_names_the_running_rollout() -> None:
    refusal = artifact.refuse_for("orders-api", [_running("console-1", 90.0)])
    assert "a rollout of orders-api is already running (console-1)" in str(refusal)
    assert "Upload it again when that rollout has finished" in str(refusal)
