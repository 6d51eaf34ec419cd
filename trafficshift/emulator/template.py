"""Load a synthesized CloudFormation template into moto.

moto's own CloudFormation lacks resources this stack uses (AWS::Lambda::Alias,
AWS::CloudWatch::Alarm, ...) and fails on updates (facts: "moto's CloudFormation lacks some
resources"), so the template is loaded directly: its resources are created through the
emulator's APIs in dependency order, and Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ... are
resolved against what was created. Resources the emulator does not need (IAM policies,
dashboards, CDK metadata, permissions, ...) are skipped with a debug log; a Ref or GetAtt
to one resolves to a placeholder.

Lambda functions get a tiny placeholder zip and are registered as *package code*: the
in-process invoke runs their Handler from the importable `rollout` package.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import io
import json
import logging
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from trafficshift.emulator import lambda_runtime

__all__ = [
    "DeployedControlPlane",
    "DeployedResource",
    "IntrinsicResolver",
    "TemplateError",
    "load_template",
    "physical_name",
    "placeholder_zip",
    "synthesize_template",
]

logger = logging.getLogger(__name__)

STACK_NAME = "TrafficShift"
_NO_VALUE = object()

ClientFactory = Callable[[str], Any]


class TemplateError(Exception):
    """The template uses something the loader cannot resolve or create."""


@dataclass(frozen=True)
class DeployedResource:
    logical_id: str
    resource_type: str
    physical_id: str  # what `Ref` returns
    attributes: dict[str, str] = field(default_factory=dict)  # what `Fn::GetAtt` returns
    created: bool = True  # False: skipped, the values are placeholders


@dataclass(frozen=True)
class DeployedControlPlane:
    state_machine_arn: str
    function_names: dict[str, str]  # logical id -> function name
    resources: dict[str, DeployedResource]
    state_machine_arns: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    # The bucket whose uploads go to EventBridge (the control plane's artifact bucket).
    artifact_bucket: str = ""


def physical_name(logical_id: str, *, prefix: str = STACK_NAME, max_length: int = 64) -> str:
    """The name a resource gets when the template does not name it: `TrafficShift-<Id>`.

    Cut to `max_length`; a cut name ends with a hash of the logical id instead, so that two
    long logical ids that share a prefix (CDK's hash suffixes are at the end) stay distinct.
    """
    name = f"{prefix}-{logical_id}"
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(logical_id.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9]}-{digest}"


@functools.cache
def placeholder_zip() -> bytes:
    """The code zip of package-code functions: never run, the package's code is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "index.py",
            "def handler(event, context):\n"
            "    raise RuntimeError('placeholder: the emulator runs the package code')\n",
        )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Synthesis
# --------------------------------------------------------------------------------------

_synth_lock = threading.Lock()
_synthesized: dict[str, Any] | None = None


def synthesize_template() -> dict[str, Any]:
    """Synthesize the CDK app's `TrafficShift` stack (without bundling); memoized per process.

    Returns a copy, so callers may change it freely.
    """
    global _synthesized
    with _synth_lock:
        if _synthesized is None:
            from infra.app_factory import create_app

            with tempfile.TemporaryDirectory(prefix="trafficshift-synth-") as outdir:
                app = create_app({"aws:cdk:bundling-stacks": []}, outdir=outdir)
                stack = app.synth().get_stack_by_name(STACK_NAME)
                _synthesized = copy.deepcopy(stack.template)
        return copy.deepcopy(_synthesized)


# --------------------------------------------------------------------------------------
# Intrinsic functions
# --------------------------------------------------------------------------------------


class IntrinsicResolver:
    """Resolves CloudFormation intrinsic functions against the deployed resources."""

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        stack_name: str = STACK_NAME,
        parameters: dict[str, Any] | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})
        self.condition_definitions = dict(conditions or {})
        self.resources: dict[str, DeployedResource] = {}
        self._conditions: dict[str, bool] = {}

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": "",
        }

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.condition_definitions:
                raise TemplateError(f"Unknown condition '{name}'")
            self._conditions[name] = bool(self.resolve(self.condition_definitions[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in `value`; `Ref: AWS::NoValue` drops the entry."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _intrinsic(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            if isinstance(argument, str):
                logical_id, _, attribute = argument.partition(".")
            else:
                logical_id, attribute = argument[0], self.resolve(argument[1])
            return self.get_att(logical_id, attribute)
        if function == "Fn::Join":
            separator, items = argument
            return str(separator).join(_as_text(item) for item in self.resolve(items))
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = self.resolve(argument)
            return str(text).split(separator)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = self.resolve(argument)
            return _as_text(left) == _as_text(right)
        if function == "Fn::Not":
            return not self.resolve(argument)[0]
        if function == "Fn::And":
            return all(self.resolve(argument))
        if function == "Fn::Or":
            return any(self.resolve(argument))
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if function == "Fn::Base64":
            return base64.b64encode(_as_text(self.resolve(argument)).encode()).decode()
        if function == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        raise TemplateError(f"Unsupported intrinsic function {function}")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name].physical_id
        raise TemplateError(f"Ref to '{name}', which is not deployed (yet) or unknown")

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Fn::GetAtt on '{logical_id}', which is not deployed (yet)")
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        if not resource.created:
            return f"{resource.physical_id}.{attribute}"
        raise TemplateError(
            f"Fn::GetAtt {logical_id}.{attribute}: the loader knows "
            f"{sorted(resource.attributes)} for {resource.resource_type}"
        )

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _as_text(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return _as_text(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _references(value: Any) -> set[str]:
    """Every logical id that `value` refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item.split(".", 1)[0] if isinstance(item, str) else item[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {
                    name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text))
                }
                if isinstance(item, list):
                    found |= _references(item[1])
            else:
                found |= _references(item)
    return found


def _deployment_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids in an order where every resource comes after what it refers to."""
    dependencies: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        refs = _references(resource.get("Properties", {})) | set(depends_on)
        dependencies[logical_id] = {ref for ref in refs if ref in resources and ref != logical_id}
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(resources):
        ready = [
            logical_id
            for logical_id in resources
            if logical_id not in done and dependencies[logical_id] <= done
        ]
        if not ready:
            cycle = sorted(set(resources) - done)
            raise TemplateError(f"Circular dependencies between {cycle}")
        ordered.extend(ready)
        done.update(ready)
    return ordered


# --------------------------------------------------------------------------------------
# Resource creators
# --------------------------------------------------------------------------------------


@dataclass
class _Context:
    client: ClientFactory
    resolver: IntrinsicResolver
    region: str
    account_id: str
    stack_name: str
    package_functions: list[str] = field(default_factory=list)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


Creator = Callable[[_Context, str, dict[str, Any]], DeployedResource]


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    tags = properties.get("Tags") or []
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags if "Key" in t]


def _create_role(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("RoleName") or physical_name(logical_id, prefix=ctx.stack_name)
    iam = ctx.client("iam")
    role = iam.create_role(
        RoleName=name,
        Path=props.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
        Description=props.get("Description", ""),
    )["Role"]
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return DeployedResource(
        logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}
    )


def _create_function(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("FunctionName") or physical_name(logical_id, prefix=ctx.stack_name)
    request: dict[str, Any] = {
        "FunctionName": name,
        "Role": props["Role"],
        "Handler": props.get("Handler", "index.handler"),
        "Runtime": props.get("Runtime", "python3.13"),
        "Code": {"ZipFile": placeholder_zip()},
        "Timeout": int(props.get("Timeout", 3)),
        "MemorySize": int(props.get("MemorySize", 128)),
        "Architectures": props.get("Architectures") or ["x86_64"],
        "Description": props.get("Description", ""),
    }
    variables = (props.get("Environment") or {}).get("Variables")
    if variables:
        request["Environment"] = {"Variables": {k: _as_text(v) for k, v in variables.items()}}
    if "TracingConfig" in props:
        request["TracingConfig"] = props["TracingConfig"]
    if tags := _tags(props):
        request["Tags"] = {tag["Key"]: tag["Value"] for tag in tags}
    # Not passed: Layers (moto checks they exist; the Powertools layer does not) and Code.
    created = ctx.client("lambda").create_function(**request)
    lambda_runtime.register_package_function(name)
    ctx.package_functions.append(name)
    return DeployedResource(
        logical_id, "AWS::Lambda::Function", name, {"Arn": created["FunctionArn"]}
    )


def _create_state_machine(
    ctx: _Context, logical_id: str, props: dict[str, Any]
) -> DeployedResource:
    name = props.get("StateMachineName") or physical_name(logical_id, prefix=ctx.stack_name)
    if "DefinitionString" in props:
        definition = _as_text(props["DefinitionString"])
    elif "Definition" in props:
        definition = json.dumps(props["Definition"])
    else:
        raise TemplateError(f"{logical_id}: no Definition/DefinitionString (S3 not supported)")
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", _as_text(value))
    request: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": props["RoleArn"],
        "type": props.get("StateMachineType", "STANDARD"),
    }
    if tags := _tags(props):
        request["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags]
    arn = ctx.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    return DeployedResource(
        logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name}
    )


def _create_table(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("TableName") or physical_name(
        logical_id, prefix=ctx.stack_name, max_length=255
    )
    billing = props.get("BillingMode", "PAY_PER_REQUEST")
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    indexes = []
    for index in props.get("GlobalSecondaryIndexes") or []:
        entry = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
        if billing == "PROVISIONED":
            entry["ProvisionedThroughput"] = index.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            )
        indexes.append(entry)
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    dynamodb = ctx.client("dynamodb")
    table = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return DeployedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)


def _bucket_name(ctx: _Context, logical_id: str) -> str:
    digest = hashlib.sha256(f"{ctx.account_id}/{ctx.region}/{logical_id}".encode()).hexdigest()
    stem = re.sub(r"[^a-z0-9-]", "-", f"{ctx.stack_name}-{logical_id}".lower())[:50]
    return f"{stem}-{digest[:12]}"


def _create_bucket(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("BucketName") or _bucket_name(ctx, logical_id)
    s3 = ctx.client("s3")
    request: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**request)
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    notifications = props.get("NotificationConfiguration") or {}
    if "EventBridgeConfiguration" in notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    return DeployedResource(
        logical_id,
        "AWS::S3::Bucket",
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        },
    )


def _create_topic(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("TopicName") or physical_name(
        logical_id, prefix=ctx.stack_name, max_length=256
    )
    arn = ctx.client("sns").create_topic(Name=name)["TopicArn"]
    return DeployedResource(
        logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name}
    )


def _create_queue(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("QueueName") or physical_name(logical_id, prefix=ctx.stack_name, max_length=80)
    attributes = {}
    if props.get("FifoQueue"):
        attributes["FifoQueue"] = "true"
        if not name.endswith(".fifo"):
            name = f"{name[:75]}.fifo"
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = ctx.arn("sqs", name)
    return DeployedResource(
        logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
    )


def _create_event_bus(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props["Name"]
    arn = ctx.client("events").create_event_bus(Name=name)["EventBusArn"]
    return DeployedResource(logical_id, "AWS::Events::EventBus", name, {"Arn": arn, "Name": name})


def _create_rule(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("Name") or physical_name(logical_id, prefix=ctx.stack_name)
    events = ctx.client("events")
    bus = props.get("EventBusName", "default")
    request: dict[str, Any] = {
        "Name": name,
        "State": props.get("State", "ENABLED"),
        "EventBusName": bus,
        "Description": props.get("Description", ""),
    }
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "ScheduleExpression" in props:
        request["ScheduleExpression"] = props["ScheduleExpression"]
    arn = events.put_rule(**request)["RuleArn"]
    targets = [_target(target) for target in props.get("Targets") or []]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return DeployedResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn})


def _target(target: dict[str, Any]) -> dict[str, Any]:
    keys = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "SqsParameters")
    entry = {key: target[key] for key in keys if key in target}
    transformer = entry.get("InputTransformer")
    if transformer and not isinstance(transformer.get("InputTemplate", ""), str):
        transformer["InputTemplate"] = _as_text(transformer["InputTemplate"])
    return entry


def _create_log_group(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    name = props.get("LogGroupName") or f"/aws/vendedlogs/{physical_name(logical_id)}"
    ctx.client("logs").create_log_group(logGroupName=name)
    return DeployedResource(
        logical_id, "AWS::Logs::LogGroup", name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")}
    )


def _create_key(ctx: _Context, logical_id: str, props: dict[str, Any]) -> DeployedResource:
    key = ctx.client("kms").create_key(Description=props.get("Description", logical_id))
    metadata = key["KeyMetadata"]
    return DeployedResource(
        logical_id,
        "AWS::KMS::Key",
        metadata["KeyId"],
        {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]},
    )


_CREATORS: dict[str, Creator] = {
    "AWS::IAM::Role": _create_role,
    "AWS::Lambda::Function": _create_function,
    "AWS::StepFunctions::StateMachine": _create_state_machine,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SQS::Queue": _create_queue,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_rule,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::KMS::Key": _create_key,
}


def _placeholder(ctx: _Context, logical_id: str, resource_type: str) -> DeployedResource:
    service = resource_type.split("::")[1].lower() if "::" in resource_type else "custom"
    physical_id = physical_name(logical_id, prefix=ctx.stack_name)
    arn = ctx.arn(service, f"{logical_id.lower()}/{physical_id}")
    return DeployedResource(logical_id, resource_type, physical_id, {"Arn": arn}, created=False)


def load_template(
    template: dict[str, Any],
    *,
    region: str,
    account_id: str | None = None,
    stack_name: str = STACK_NAME,
    parameters: dict[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
    state_machine: str | None = None,
) -> DeployedControlPlane:
    """Create the template's resources in the (already mocked) emulator.

    `state_machine` picks the logical id of the state machine reported as
    `state_machine_arn` when the template has several (default: the first in template
    order). Lambda functions are registered as package-code functions.
    """

    def default_client(service: str) -> Any:
        return boto3.client(service, region_name=region)

    client = client_factory or default_client
    account = account_id or client("sts").get_caller_identity()["Account"]
    parameter_values = {
        name: definition.get("Default")
        for name, definition in (template.get("Parameters") or {}).items()
    }
    parameter_values.update(parameters or {})
    resolver = IntrinsicResolver(
        region=region,
        account_id=account,
        stack_name=stack_name,
        parameters=parameter_values,
        conditions=template.get("Conditions"),
    )
    ctx = _Context(client, resolver, region, account, stack_name)
    resources: dict[str, Any] = template.get("Resources") or {}

    for logical_id in _deployment_order(resources):
        resource = resources[logical_id]
        resource_type = resource.get("Type", "")
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            logger.debug("Skipping %s (%s): condition is false", logical_id, resource_type)
            continue
        creator = _CREATORS.get(resource_type)
        if creator is None:
            logger.debug(
                "Skipping %s (%s): the emulator does not need it", logical_id, resource_type
            )
            resolver.resources[logical_id] = _placeholder(ctx, logical_id, resource_type)
            continue
        try:
            properties = resolver.resolve(resource.get("Properties") or {})
            resolver.resources[logical_id] = creator(ctx, logical_id, properties)
        except Exception as exc:
            raise TemplateError(f"{logical_id} ({resource_type}): {exc}") from exc

    deployed = dict(resolver.resources)
    function_names = {
        r.logical_id: r.physical_id
        for r in deployed.values()
        if r.resource_type == "AWS::Lambda::Function" and r.created
    }
    machines = {  # in template order
        logical_id: deployed[logical_id].physical_id
        for logical_id in resources
        if logical_id in deployed
        and deployed[logical_id].resource_type == "AWS::StepFunctions::StateMachine"
    }
    if state_machine is not None and state_machine not in machines:
        raise TemplateError(f"No state machine '{state_machine}' in {sorted(machines)}")
    chosen = state_machine or next(iter(machines), None)
    event_buckets = [
        deployed[logical_id].physical_id
        for logical_id, resource in resources.items()
        if logical_id in deployed
        and resource.get("Type") == "AWS::S3::Bucket"
        and "EventBridgeConfiguration"
        in ((resource.get("Properties") or {}).get("NotificationConfiguration") or {})
    ]
    return DeployedControlPlane(
        state_machine_arn=machines[chosen] if chosen else "",
        function_names=function_names,
        resources=deployed,
        state_machine_arns=machines,
        artifact_bucket=event_buckets[0] if event_buckets else "",
    )
