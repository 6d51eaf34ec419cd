"""A CloudWatch dashboard for one trafficshift control plane.

Built from native `aws_cloudwatch` constructs (see docs/decisions.md for why not
cdk-monitoring-constructs). It shows:

* executions started, succeeded, failed, aborted, timed out and throttled (AWS/States);
* rollouts started, promoted and rolled back: the handlers' EMF metrics, because a
  reverted rollout and a refused input are both a FAILED execution to Step Functions;
* how long a rollout takes (ExecutionTime) and each step (StepDuration);
* each task function's errors, duration (p99) and throttles (AWS/Lambda).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# The handlers' metric names (rollout.handlers._runtime); the template tests pin both sides.
ROLLOUTS_STARTED = "RolloutsStarted"
ROLLOUTS_PROMOTED = "RolloutsPromoted"
ROLLOUTS_ROLLED_BACK = "RolloutsRolledBack"
STEP_DURATION = "StepDuration"

_WIDTH = 24  # a dashboard row is 24 units wide


class ControlPlaneDashboard(Construct):
    """The control plane's health and its rollouts, on one CloudWatch dashboard.

    All options are keyword-only.

    :param state_machine: the deployment state machine (its AWS/States metrics).
    :param functions: the task functions by task name (their AWS/Lambda metrics).
    :param metrics_namespace: the namespace of the handlers' EMF metrics (their
        ``POWERTOOLS_METRICS_NAMESPACE``). Default: ``"TrafficShift"``.
    :param service_name: the ``service`` dimension Powertools adds to those metrics (the
        handlers' ``POWERTOOLS_SERVICE_NAME``). Default: ``"trafficshift"``.
    :param dashboard_name: the dashboard's name, unique in the account. Default: one
        that CloudFormation generates (a fixed name would clash between regions).
    :param period: the period of every graph. Default: 5 minutes.
    :param default_interval: the time range the dashboard opens on. Default: 1 week.
    :param failed_events_alarm: the alarm on the queue of events that could not be
        delivered (uploads, reconciler), shown with its threshold. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        metrics_namespace: str = "TrafficShift",
        service_name: str = "trafficshift",
        dashboard_name: str | None = None,
        period: Duration | None = None,
        default_interval: Duration | None = None,
        failed_events_alarm: cloudwatch.IAlarm | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._period = period or Duration.minutes(5)
        self._namespace = metrics_namespace
        self._service = service_name

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=default_interval or Duration.days(7),
            period_override=cloudwatch.PeriodOverride.INHERIT,
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    "# trafficshift\n"
                    "Executions are what Step Functions counts: a reverted rollout and a refused "
                    "input are both *failed*. **Rollouts** are what the tasks count: "
                    "started = promoted + rolled back (+ executions stopped by hand)."
                ),
                width=_WIDTH,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            self._graph(
                "Executions",
                [
                    state_machine.metric_started(label="started"),
                    state_machine.metric_succeeded(label="succeeded (promoted)"),
                    state_machine.metric_failed(label="failed (reverted or refused)"),
                    state_machine.metric_aborted(label="aborted"),
                    state_machine.metric_timed_out(label="timed out"),
                    state_machine.metric_throttled(label="throttled"),
                ],
                statistic="Sum",
                width=12,
            ),
            self._graph(
                "Rollouts",
                [
                    self._emf(ROLLOUTS_STARTED, "Sum", "started"),
                    self._emf(ROLLOUTS_PROMOTED, "Sum", "promoted"),
                    self._emf(ROLLOUTS_ROLLED_BACK, "Sum", "rolled back"),
                ],
                statistic="Sum",
                width=8,
            ),
            cloudwatch.SingleValueWidget(
                title="Rollouts in the time range",
                metrics=[
                    self._emf(ROLLOUTS_STARTED, "Sum", "started"),
                    self._emf(ROLLOUTS_PROMOTED, "Sum", "promoted"),
                    self._emf(ROLLOUTS_ROLLED_BACK, "Sum", "rolled back"),
                ],
                set_period_to_time_range=True,
                width=4,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Rollout duration (ExecutionTime, ms)",
                [
                    state_machine.metric_time(statistic="Average", label="average"),
                    state_machine.metric_time(statistic="Maximum", label="longest"),
                ],
                statistic="Average",
                width=12,
            ),
            self._graph(
                "Step duration (s): shift to the end of its bake",
                [
                    self._emf(STEP_DURATION, "Average", "average"),
                    self._emf(STEP_DURATION, "Maximum", "longest"),
                ],
                statistic="Average",
                width=12,
            ),
        )
        tasks = sorted(functions.items())
        self.dashboard.add_widgets(
            self._graph(
                "Task errors",
                [fn.metric_errors(label=task, statistic="Sum") for task, fn in tasks],
                statistic="Sum",
                width=8,
            ),
            self._graph(
                "Task duration p99 (ms)",
                [fn.metric_duration(label=task, statistic="p99") for task, fn in tasks],
                statistic="p99",
                width=8,
            ),
            self._graph(
                "Task throttles",
                [fn.metric_throttles(label=task, statistic="Sum") for task, fn in tasks],
                statistic="Sum",
                width=8,
            ),
        )

        if failed_events_alarm is not None:
            self.dashboard.add_widgets(
                cloudwatch.AlarmWidget(
                    title="Undelivered upload and reconciler events (FailedEvents queue)",
                    alarm=failed_events_alarm,
                    width=_WIDTH,
                    height=4,
                )
            )

    @property
    def url(self) -> str:
        """The dashboard in the CloudWatch console of the stack's region."""
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def _emf(self, name: str, statistic: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=name,
            dimensions_map={"service": self._service},
            statistic=statistic,
            label=label,
            period=self._period,
        )

    def _graph(
        self, title: str, metrics: list[cloudwatch.IMetric], *, statistic: str, width: int
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=metrics,
            statistic=statistic,
            period=self._period,
            width=width,
            height=6,
        )
