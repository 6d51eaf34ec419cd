"""S3: the uploaded artifact, its metadata (the manifest) and its bytes."""

from __future__ import annotations

from typing import IO, Any

# boto3 gives its S3 clients this method; our clients are plain botocore (adapters/aws.py),
# so the S3 adapter, which only the upload path imports, calls it itself: the same managed
# (ranged, retried) transfer, with boto3 and s3transfer paid for by UpdateCode alone.
from boto3.s3.inject import download_fileobj
from botocore.exceptions import ClientError

from rollout.adapters.aws import client, error_code, translated
from rollout.domain.errors import NotFound

__all__ = ["ArtifactObjects", "ObjectInfo"]

# What S3 answers for a key, version or bucket that is not there (HeadObject has no body,
# so only the status code is left; an invalid version id is a 400).
_MISSING = frozenset({"404", "400", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound"})


class ObjectInfo:
    def __init__(self, size: int, metadata: dict[str, str], version_id: str | None) -> None:
        self.size = size
        self.metadata = metadata
        self.version_id = version_id


class ArtifactObjects:
    def __init__(self, s3_client: Any | None = None) -> None:
        self._client = s3_client or client("s3")

    def head(self, bucket: str, key: str, version_id: str) -> ObjectInfo:
        """Size and user metadata of one object version; NotFound if it is not there."""
        try:
            with translated("HeadObject"):
                found = self._client.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise NotFound(f"no object s3://{bucket}/{key} version {version_id}") from exc
            raise
        metadata = {str(k).lower(): str(v) for k, v in (found.get("Metadata") or {}).items()}
        return ObjectInfo(int(found.get("ContentLength", 0)), metadata, found.get("VersionId"))

    def download(self, bucket: str, key: str, version_id: str, into: IO[bytes]) -> None:
        """Stream one object version into a (temporary) file."""
        with translated("GetObject"):
            download_fileobj(
                self._client,
                Bucket=bucket,
                Key=key,
                Fileobj=into,
                ExtraArgs={"VersionId": version_id},
            )
