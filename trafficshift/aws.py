"""How the CLI reaches AWS or the emulator: session, clients, the state machine, errors.

Every failure the CLI can meet becomes a `CliError` with one readable line and the
documented exit code (2 bad input, 3 AWS or connection error); `--debug` shows the
traceback behind it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from rollout.domain.errors import ServiceUnavailable
from trafficshift.progress import EXIT_AWS_ERROR, EXIT_BAD_INPUT

STACK_NAME = "TrafficShift"
STATE_MACHINE_OUTPUT = "StateMachineArn"
ARTIFACT_BUCKET_OUTPUT = "ArtifactBucketName"
LEDGER_TABLE_OUTPUT = "LedgerTableName"
STATE_MACHINE_ENV = "TRAFFICSHIFT_STATE_MACHINE_ARN"
TABLE_ENV = "TRAFFICSHIFT_TABLE_NAME"
ENDPOINT_ENV = "TRAFFICSHIFT_ENDPOINT_URL"
EMULATOR_REGION = "us-east-1"

# A CLI waits on a person: fail within seconds when the endpoint is not there, and let
# botocore's standard mode retry throttling a few times before reporting it.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="trafficshift-cli",
)

_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)
_ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


class CliError(Exception):
    """One line for the person, and the exit code for the script."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def bad_input(message: str) -> CliError:
    return CliError(message, EXIT_BAD_INPUT)


def aws_error(message: str) -> CliError:
    return CliError(message, EXIT_AWS_ERROR)


@dataclass
class Connection:
    """Where the CLI talks to: `--profile`, `--region`, `--endpoint-url`, `--state-machine`
    (and `--table` for the commands that write to the ledger)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    state_machine: str | None = None
    table: str | None = None
    stack_name: str = STACK_NAME
    _session: boto3.Session | None = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _state_machine_arn: str | None = field(default=None, repr=False)
    _outputs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS ({self.session().region_name})"

    def session(self) -> boto3.Session:
        if self._session is None:
            with self.errors():
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
            if not session.region_name:
                if not self.endpoint_url:
                    raise bad_input(
                        "no AWS region: pass --region or set AWS_REGION (or a profile's region)"
                    )
                session = boto3.Session(profile_name=self.profile, region_name=EMULATOR_REGION)
            if self.endpoint_url and _is_local(self.endpoint_url):
                with self.errors():
                    has_credentials = session.get_credentials() is not None
                if not has_credentials:
                    # The emulator accepts any key; without one boto3 would refuse to sign.
                    session = boto3.Session(
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy
                        region_name=session.region_name,
                    )
            self._session = session
        return self._session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with self.errors():
                self._clients[service] = self.session().client(
                    service, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG
                )
        return self._clients[service]

    def state_machine_arn(self) -> str:
        """`--state-machine`, else TRAFFICSHIFT_STATE_MACHINE_ARN, else the stack's output."""
        if self._state_machine_arn:
            return self._state_machine_arn
        given = self.state_machine or os.environ.get(STATE_MACHINE_ENV)
        if given:
            self._state_machine_arn = given if given.startswith("arn:") else self._by_name(given)
        else:
            self._state_machine_arn = self._from_stack()
        return self._state_machine_arn

    def table_name(self) -> str:
        """`--table`, else TRAFFICSHIFT_TABLE_NAME, else the stack's LedgerTableName output."""
        given = self.table or os.environ.get(TABLE_ENV)
        if given:
            return given
        return self.stack_output(LEDGER_TABLE_OUTPUT, hint=f"--table (or set {TABLE_ENV})")

    def execution_arn(self, execution: str) -> str:
        """An execution ARN as given, or the ARN of the execution with this name."""
        if execution.startswith("arn:"):
            return execution
        machine = self.state_machine_arn()
        return machine.replace(":stateMachine:", ":execution:", 1) + f":{execution}"

    def _from_stack(self) -> str:
        return self.stack_output(
            STATE_MACHINE_OUTPUT, hint=f"--state-machine (or set {STATE_MACHINE_ENV})"
        )

    def stack_output(self, key: str, *, hint: str = "") -> str:
        """One output of the TrafficShift stack (DescribeStacks)."""
        if key in self._outputs:
            return self._outputs[key]
        instead = f", or pass {hint}" if hint else ""
        cloudformation = self.client("cloudformation")
        try:
            with self.errors():
                stacks = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"]
        except CliError as exc:
            if "does not exist" in exc.message:
                raise aws_error(
                    f"no {self.stack_name} stack in {self.where}: deploy it with `cdk deploy`"
                    f"{instead}"
                ) from exc
            raise
        for output in (stacks[0] if stacks else {}).get("Outputs", []):
            self._outputs[str(output.get("OutputKey"))] = str(output.get("OutputValue"))
        if key not in self._outputs:
            raise aws_error(
                f"the {self.stack_name} stack has no {key} output: is it still being created, "
                f"or older than this CLI? Update it with `cdk deploy`{instead}"
            )
        return self._outputs[key]

    def _by_name(self, name: str) -> str:
        sfn = self.client("stepfunctions")
        with self.errors():
            for page in sfn.get_paginator("list_state_machines").paginate():
                for machine in page["stateMachines"]:
                    if machine["name"] == name:
                        return str(machine["stateMachineArn"])
        raise bad_input(f"no state machine named {name!r} in {self.where}")

    @contextlib.contextmanager
    def errors(self, operation: str = "") -> Iterator[None]:
        """Turn boto3's exceptions into one line each, with the documented exit code."""
        try:
            yield
        except CliError:
            raise
        except ClientError as exc:
            raise self._client_error(exc, operation) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            hint = (
                "pass --profile, set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
            raise aws_error(f"no AWS credentials found: {hint}") from exc
        except ProfileNotFound as exc:
            raise bad_input(f"{exc}: check --profile or AWS_PROFILE") from exc
        except NoRegionError as exc:
            raise bad_input("no AWS region: pass --region or set AWS_REGION") from exc
        except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError) as exc:
            raise aws_error(self._unreachable()) from exc
        except ServiceUnavailable as exc:
            # The Lambda code's adapters (the ledger) wrap connection errors this way.
            cause = exc.__cause__
            if isinstance(cause, EndpointConnectionError | ConnectTimeoutError):
                raise aws_error(self._unreachable()) from exc
            raise aws_error(" ".join(str(exc).split())) from exc
        except ReadTimeoutError as exc:
            raise aws_error(f"{self.where} did not answer in time: {exc}") from exc
        except ParamValidationError as exc:
            raise bad_input(" ".join(str(exc).split())) from exc
        except BotoCoreError as exc:
            raise aws_error(" ".join(str(exc).split())) from exc

    def _unreachable(self) -> str:
        if self.endpoint_url:
            return (
                f"cannot reach {self.endpoint_url}: is the emulator running? "
                "Start it with `trafficshift local serve`"
            )
        return f"cannot reach AWS in {self.session().region_name}: check the network and region"

    def _client_error(self, exc: ClientError, operation: str) -> CliError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = " ".join(str(error.get("Message", "")).split()) or code
        name = operation or exc.operation_name
        if code in _CREDENTIAL_CODES:
            return aws_error(f"AWS refused the credentials ({code}): {message}")
        if code in _ACCESS_CODES:
            return aws_error(f"access denied to {name}: {message}")
        if code == "ExecutionDoesNotExist":
            return bad_input(f"no such execution: {message}")
        if code in ("InvalidArn", "InvalidName", "InvalidExecutionInput"):
            return bad_input(f"{name}: {message}")
        if code == "StateMachineDoesNotExist":
            return aws_error(
                f"{message}: the state machine is not there; check --state-machine or "
                f"{STATE_MACHINE_ENV}, or deploy with `cdk deploy`"
            )
        return aws_error(f"{name} failed ({code}): {message}")


def _is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
