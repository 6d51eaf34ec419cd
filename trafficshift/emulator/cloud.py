"""`LocalCloud`: moto, made faithful, with the control plane deployed in it.

    with LocalCloud() as cloud:                       # synthesizes the CDK app
        sfn = cloud.client("stepfunctions")
        sfn.start_execution(stateMachineArn=cloud.state_machine_arn, input="{...}")

    with LocalCloud(template=my_template) as cloud:   # a template you pass in
        ...

    with LocalCloud(load_control_plane=False) as cloud:   # just the faithful AWS APIs
        ...

Everything runs in this process: the ASL interpreter (in background threads), the Lambda
handlers (in-process, see `lambda_runtime`) and every AWS API (moto). Clients made with
`cloud.client(...)`, or any boto3 client made while the cloud runs, talk to it.
"""

from __future__ import annotations

import logging
import os
import time
from types import TracebackType
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig

from trafficshift.emulator import fidelity, lambda_metrics, lambda_runtime
from trafficshift.emulator.template import DeployedControlPlane, load_template, synthesize_template

__all__ = ["MOTO_CONFIG", "LocalCloud"]

logger = logging.getLogger(__name__)

MOTO_CONFIG: DefaultConfig = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}

# The Check's metric period (rollout.adapters.metrics), set when the emulator compresses time.
_METRIC_PERIOD = "TRAFFICSHIFT_METRIC_PERIOD_SECONDS"

_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class LocalCloud:
    """Start moto (with the fidelity patches) and deploy the control plane into it.

    Parameters:
        template: the CloudFormation template to deploy; default: `synthesize_template()`.
        region: the emulated region (default us-east-1).
        load_control_plane: False to deploy nothing (only the faithful AWS APIs).
        routing_seed: seed of alias weighted routing, for reproducible tests.
        parameters: CloudFormation parameter values, over the template's defaults.
        metric_delivery: how invocations' AWS/Lambda metrics arrive (`lambda_metrics`);
            default AWS_LIKE: per minute, 1 to 3 minutes late, each metric on its own. A
            shorter "minute" compresses time: the Check then reads periods of that length.
    """

    def __init__(
        self,
        template: dict[str, Any] | None = None,
        *,
        region: str = "us-east-1",
        load_control_plane: bool = True,
        routing_seed: int | None = None,
        parameters: dict[str, Any] | None = None,
        metric_delivery: lambda_metrics.Delivery | None = None,
    ) -> None:
        self._template = template
        self._region = region
        self._load_control_plane = load_control_plane
        self._routing_seed = routing_seed
        self._parameters = parameters
        self._metric_delivery = metric_delivery or lambda_metrics.AWS_LIKE
        self._mock: Any = None
        self._installed_fidelity = False
        self._saved_environment: dict[str, str | None] = {}
        self._deployed: DeployedControlPlane | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> LocalCloud:
        if self._mock is not None:
            raise RuntimeError("LocalCloud is already started")
        defaults = {**_FAKE_ENVIRONMENT, "AWS_DEFAULT_REGION": self._region}
        lambda_metrics.configure(self._metric_delivery)
        if self._metric_delivery.minute_seconds != 60:
            period = str(self._metric_delivery.minute_seconds)
            self._saved_environment[_METRIC_PERIOD] = os.environ.get(_METRIC_PERIOD)
            os.environ[_METRIC_PERIOD] = period
        for name, value in defaults.items():
            if not os.environ.get(name):
                self._saved_environment[name] = os.environ.get(name)
                os.environ[name] = value
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        try:
            if not fidelity.installed():
                fidelity.install()
                self._installed_fidelity = True
            fidelity.seed_routing(self._routing_seed)
            if self._load_control_plane:
                template = self._template if self._template is not None else synthesize_template()
                self._deployed = load_template(
                    template,
                    region=self._region,
                    parameters=self._parameters,
                    client_factory=self.client,
                )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop running executions, unregister the functions, stop moto, undo the patches."""
        if self._mock is None:
            return
        try:
            self._stop_running_executions()
        finally:
            if self._deployed is not None:
                for name in self._deployed.function_names.values():
                    lambda_runtime.unregister_package_function(name)
                self._deployed = None
            self._mock.stop()
            self._mock = None
            if self._installed_fidelity:
                fidelity.uninstall()
                self._installed_fidelity = False
            for name, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environment.clear()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what it exposes ------------------------------------------------------------

    @property
    def region(self) -> str:
        return self._region

    @property
    def running(self) -> bool:
        return self._mock is not None

    @property
    def deployed(self) -> DeployedControlPlane:
        if self._deployed is None:
            raise RuntimeError(
                "No control plane deployed (not started, or load_control_plane=False)"
            )
        return self._deployed

    @property
    def state_machine_arn(self) -> str:
        arn = self.deployed.state_machine_arn
        if not arn:
            raise RuntimeError("The deployed template has no state machine")
        return arn

    @property
    def artifact_bucket(self) -> str:
        """The deployed artifact bucket: an upload to it starts a deployment."""
        bucket = self.deployed.artifact_bucket
        if not bucket:
            raise RuntimeError("The deployed template has no bucket that sends EventBridge events")
        return bucket

    @property
    def ledger_table(self) -> str:
        """The deployed ledger table: locks, deployment history, operator signals."""
        tables = [
            resource.physical_id
            for resource in self.deployed.resources.values()
            if resource.resource_type == "AWS::DynamoDB::Table"
            and resource.created
            and resource.logical_id.startswith("ControlPlaneLedger")
        ]
        if len(tables) != 1:
            raise RuntimeError(f"The deployed template has {len(tables)} ledger tables, not 1")
        return tables[0]

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` in this cloud's region (kwargs go to boto3.client)."""
        kwargs.setdefault("region_name", self._region)
        return boto3.client(service, **kwargs)

    # -- internals --------------------------------------------------------------------

    def _stop_running_executions(self, wait_seconds: float = 2.0) -> None:
        """Executions run in background threads: stop them before moto goes away, so that
        none of them calls a real AWS endpoint once the mock is off."""
        sfn = self.client("stepfunctions")
        running: list[str] = []
        try:
            for page in sfn.get_paginator("list_state_machines").paginate():
                for machine in page["stateMachines"]:
                    executions = sfn.list_executions(
                        stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                    )["executions"]
                    running += [execution["executionArn"] for execution in executions]
            for arn in running:
                sfn.stop_execution(executionArn=arn, error="LocalCloud.stop")
            deadline = time.monotonic() + wait_seconds
            while running and time.monotonic() < deadline:
                statuses = [sfn.describe_execution(executionArn=arn)["status"] for arn in running]
                running = [a for a, s in zip(running, statuses, strict=True) if s == "RUNNING"]
                if running:
                    time.sleep(0.05)
        except Exception:
            logger.debug("Could not stop the running executions", exc_info=True)
