"""The artifact bucket and the rules that turn an upload into a deployment.

Teams upload ``<function-name>/<anything>.zip``; S3 sends "Object Created" to EventBridge
natively (a property override on the bucket, no custom-resource Lambda); two rules on this
bucket send every upload to the trigger function, which starts the one execution the object
version names. The execution validates the upload and names any problem.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from rollout.domain.artifact import KEY_WILDCARD

# The property override that turns on S3's native EventBridge notifications.
EVENT_BRIDGE_OVERRIDE = "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"
ACCESS_LOG_PREFIX = "artifacts/"


class ArtifactBucket(Construct):
    """A versioned, private, SSL-only, encrypted bucket whose uploads go to EventBridge.

    :param noncurrent_version_expiration: how long an overwritten artifact version is kept
        (rollbacks publish versions, so old zips are only an audit trail).
        Default: 30 days.
    :param access_log_retention: how long the server access logs are kept.
        Default: 90 days.
    :param removal_policy: of both buckets. Default: ``RemovalPolicy.RETAIN`` (what was
        deployed, and who uploaded it, outlives the stack).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        noncurrent_version_expiration: Duration | None = None,
        access_log_retention: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # Server access log delivery supports SSE-S3 only, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=access_log_retention or Duration.days(90),
                )
            ],
            removal_policy=removal_policy,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-artifacts",
                    noncurrent_version_expiration=noncurrent_version_expiration
                    or Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )
        # Native EventBridge notifications. CDK's `event_bridge_enabled=True` would do this
        # through a custom-resource Lambda (PutBucketNotificationConfiguration at deploy);
        # CloudFormation's own property needs none.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(EVENT_BRIDGE_OVERRIDE, True)


class UploadRules(Construct):
    """The rules that send this bucket's "Object Created" events to the trigger.

    ``Uploaded`` matches the key convention (``*/*.zip``: a folder, then a zip); the
    pattern cannot check that the folder is a valid function name, the execution does.
    ``Misplaced`` matches every other key of the bucket, so that an upload outside the
    convention is never silent: its execution fails naming the key.

    :param dead_letter_queue: where an event goes that EventBridge could not deliver to the
        trigger within ``max_event_age`` (an upload is never dropped silently).
    :param max_event_age: how long EventBridge retries delivering an event. Default: 2 hours.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        trigger: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        max_event_age: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._target = targets.LambdaFunction(
            trigger,
            dead_letter_queue=dead_letter_queue,
            max_event_age=max_event_age or Duration.hours(2),
            retry_attempts=8,
        )
        self.uploaded = self._rule(
            "Uploaded",
            bucket,
            key=[{"wildcard": KEY_WILDCARD}],
            description="An artifact uploaded as <function-name>/<anything>.zip: deploy it",
        )
        self.misplaced = self._rule(
            "Misplaced",
            bucket,
            key=[{"anything-but": {"wildcard": KEY_WILDCARD}}],
            description="An upload outside <function-name>/<anything>.zip: refuse it, by name",
        )

    def _rule(
        self,
        name: str,
        bucket: s3.IBucket,
        *,
        key: list[object],
        description: str,
    ) -> events.Rule:
        return events.Rule(
            self,
            f"{name}Rule",
            description=description,
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": key}},
            ),
            targets=[self._target],
        )
