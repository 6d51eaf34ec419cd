"""Deploy by uploading: put a zip into the artifact bucket the way the control plane expects.

    from trafficshift.upload import upload_artifact, execution_arn

    uploaded = upload_artifact(s3, bucket, "build/orders-api.zip", "orders-api",
                               {"strategy": "Canary10Percent5Minutes", "alarms": ["errors"]})
    sfn.describe_execution(executionArn=execution_arn(state_machine_arn,
                                                      uploaded["executionName"]))

The upload is all it takes: S3 tells EventBridge, whose rule invokes the trigger, which
starts the one execution named after the object version. Its name is computed here too,
so a caller can follow the deployment it started. Works against AWS and the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rollout.domain.alias_ref import FUNCTION_NAME
from rollout.domain.artifact import (
    MANIFEST_HEADER,
    MANIFEST_METADATA_KEY,
    MAX_METADATA_BYTES,
    code_sha256,
    execution_name,
)

__all__ = ["execution_arn", "upload_artifact"]


def upload_artifact(
    s3_client: Any,
    bucket: str,
    zip_path: str | Path,
    function_name: str,
    manifest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload `zip_path` as `<function_name>/<file stem>.zip`, with the manifest (if any)
    as the object's `x-amz-meta-trafficshift` metadata.

    `manifest` holds the console's input fields an upload may set: alias, strategy,
    alarms, pollIntervalSeconds (the rest come from the control plane's defaults).

    Returns bucket, key, versionId, executionName (the execution this upload starts),
    codeSha256 (what Lambda will report for the new version) and size.

    Raises ValueError for a function name Lambda would refuse or a manifest over S3's 2 KB
    of user metadata; everything else is checked by the deployment, whose execution fails
    naming the problem.
    """
    if not FUNCTION_NAME.fullmatch(function_name):
        raise ValueError(
            f"{function_name!r} is not a Lambda function name (1-64 letters, digits, '-', '_')"
        )
    path = Path(zip_path)
    body = path.read_bytes()
    key = f"{function_name}/{path.stem if path.suffix == '.zip' else path.name}.zip"
    metadata: dict[str, str] = {}
    if manifest is not None:
        # ASCII-only JSON: S3 sends user metadata as an HTTP header.
        text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=True)
        size = len(MANIFEST_METADATA_KEY) + len(text.encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(
                f"the manifest takes {size} bytes of {MANIFEST_HEADER}; S3 allows "
                f"{MAX_METADATA_BYTES} bytes of user metadata per object"
            )
        metadata[MANIFEST_METADATA_KEY] = text
    put = s3_client.put_object(
        Bucket=bucket, Key=key, Body=body, Metadata=metadata, ContentType="application/zip"
    )
    version_id = put.get("VersionId") or "null"
    return {
        "bucket": bucket,
        "key": key,
        "versionId": version_id,
        "executionName": execution_name(bucket, key, version_id),
        "codeSha256": code_sha256(body),
        "size": len(body),
    }


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution `name` of the state machine (what StartExecution returns)."""
    prefix, marker, machine = state_machine_arn.partition(":stateMachine:")
    if not marker:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{prefix}:execution:{machine}:{name}"
