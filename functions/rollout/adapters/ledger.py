"""The ledger table (DynamoDB): the per-alias lock, the deployment history, operator signals.

Item shapes and decisions live in `rollout.domain.ledger`; this module only types them for
DynamoDB, writes them with the conditions that make them safe, and reads them back.
Throttling becomes `Throttled` (the state machine retries it) via `translated()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from rollout.adapters import dynamodb_types
from rollout.adapters.aws import client, translated
from rollout.domain import ledger as ledger_domain
from rollout.domain.alias_ref import AliasRef
from rollout.domain.errors import Throttled
from rollout.domain.ledger import (
    DeploymentRecord,
    LockItem,
    LockResult,
    OpenItem,
    Outcome,
    OutcomeResult,
    Signal,
    SignalAction,
)
from rollout.domain.rollout import Deployment, StepRecord

__all__ = ["Ledger", "table_definition"]

_ACQUIRE_ATTEMPTS = 3  # the lock changed hands between our write and our read: try again


class _ConditionFailed(Exception):
    """A conditional write was refused; carries the item as it is now, when DynamoDB says."""

    def __init__(self, exc: ClientError) -> None:
        super().__init__(str(exc))
        self.item: dict[str, Any] | None = exc.response.get("Item")


def _throttled(exc: ClientError) -> Exception:
    return Throttled(f"DynamoDB throttled the ledger: {exc}")


# DynamoDB's own throttling code, on top of the shared ones `translated()` knows.
_ON_CODE: dict[str, Callable[[ClientError], Exception]] = {
    "ProvisionedThroughputExceededException": _throttled,
    "ConditionalCheckFailedException": _ConditionFailed,
}


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable's arguments for the ledger: the schema the item shapes assume.

    The construct must build the same table (plus point-in-time recovery, encryption and
    TTL on `expiresAt`); the tests and the emulator create it from this.
    """
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "openPk", "openSk", "aliasKey", "startedAt")
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": ledger_domain.OPEN_INDEX,
                "KeySchema": [
                    {"AttributeName": "openPk", "KeyType": "HASH"},
                    {"AttributeName": "openSk", "KeyType": "RANGE"},
                ],
                # Not leaseExpiresAt: renewing a lease then writes nothing to the index.
                # Not outcome/outcomeEventPending either: the sweep acts on the record it
                # reads (consistent), and CloudFormation cannot change a deployed index's
                # projection in place ("Cannot update GSI's properties other than ...").
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["kind", "executionArn", "owner", "functionName", "alias"],
                },
            },
            {
                "IndexName": ledger_domain.BY_ALIAS_INDEX,
                "KeySchema": [
                    {"AttributeName": "aliasKey", "KeyType": "HASH"},
                    {"AttributeName": "startedAt", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": [
                        "executionArn",
                        "functionName",
                        "alias",
                        "stableVersion",
                        "targetVersion",
                        "status",
                        "outcome",
                        "reason",
                        "finishedAt",
                    ],
                },
            },
        ],
    }


class Ledger:
    def __init__(self, table_name: str, dynamodb_client: Any | None = None) -> None:
        if not table_name:
            raise ValueError("the ledger needs its table's name (TABLE_NAME)")
        self._table = table_name
        self._client = dynamodb_client or client("dynamodb")

    # --- the per-alias lock ------------------------------------------------------------

    def acquire_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult:
        """Take the alias if it is free, its lease expired, or it is already ours.

        Refused: `acquired=False` and the holder's execution ARN in `owner`, so that the
        caller can name the running execution.
        """
        for _ in range(_ACQUIRE_ATTEMPTS):
            item = ledger_domain.lock_item(function_name, alias, execution, lease_seconds, now)
            try:
                with translated("PutItem", _ON_CODE):
                    put = self._client.put_item(
                        TableName=self._table,
                        Item=_typed(item),
                        ConditionExpression=(
                            "attribute_not_exists(pk) OR leaseExpiresAt < :now OR #owner = :me"
                        ),
                        ExpressionAttributeNames={"#owner": "owner"},
                        ExpressionAttributeValues=_typed({":now": now, ":me": execution}),
                        ReturnValues="ALL_OLD",
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
            except _ConditionFailed as refused:
                current = (
                    _lock(_plain(refused.item)) if refused.item else self.lock(function_name, alias)
                )
                if current is None or ledger_domain.takeable(current, execution, now):
                    continue  # released or expired since: try again
                return LockResult(
                    acquired=False, owner=current.owner, lease_expires_at=current.lease_expires_at
                )
            old = _plain(put.get("Attributes") or {})
            previous = old.get("owner")
            return LockResult(
                acquired=True,
                owner=execution,
                lease_expires_at=item["leaseExpiresAt"],
                previous_owner=previous if previous and previous != execution else None,
            )
        current = self.lock(function_name, alias)
        return LockResult(
            acquired=False,
            owner=current.owner if current else None,
            lease_expires_at=current.lease_expires_at if current else None,
        )

    def renew_lock(
        self, function_name: str, alias: str, execution: str, lease_seconds: int, now: float
    ) -> LockResult:
        """Extend our lease. Refused only if another execution holds the alias now (ours
        expired and was taken over): then `acquired=False` names it, and the rollout must stop.
        A lock that vanished (TTL, a sweep) is taken again."""
        item = ledger_domain.lock_item(function_name, alias, execution, lease_seconds, now)
        keep = ("pk", "sk", "acquiredAt", "openSk")
        fields = {k: v for k, v in item.items() if k not in keep}
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in fields.items()}
        sets = [f"#{k} = :{k}" for k in fields]
        # A lock re-created here keeps the same shape as an acquired one.
        sets += ["acquiredAt = if_not_exists(acquiredAt, :acquiredAt)"]
        sets += ["openSk = if_not_exists(openSk, :openSk)"]
        values.update({":acquiredAt": item["acquiredAt"], ":openSk": item["openSk"]})
        try:
            with translated("UpdateItem", _ON_CODE):
                self._client.update_item(
                    TableName=self._table,
                    Key=_typed(ledger_domain.lock_key(function_name, alias)),
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression="attribute_not_exists(pk) OR #owner = :owner",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=_typed(values),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            current = (
                _lock(_plain(refused.item)) if refused.item else self.lock(function_name, alias)
            )
            return LockResult(
                acquired=False,
                owner=current.owner if current else None,
                lease_expires_at=current.lease_expires_at if current else None,
            )
        return LockResult(acquired=True, owner=execution, lease_expires_at=item["leaseExpiresAt"])

    def release_lock(self, function_name: str, alias: str, execution: str) -> bool:
        """Free the alias if, and only if, `execution` holds it. True if it did."""
        try:
            with translated("DeleteItem", _ON_CODE):
                self._client.delete_item(
                    TableName=self._table,
                    Key=_typed(ledger_domain.lock_key(function_name, alias)),
                    ConditionExpression="#owner = :me",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues=_typed({":me": execution}),
                )
        except _ConditionFailed:
            return False
        return True

    def lock(self, function_name: str, alias: str) -> LockItem | None:
        with translated("GetItem", _ON_CODE):
            found = self._client.get_item(
                TableName=self._table,
                Key=_typed(ledger_domain.lock_key(function_name, alias)),
                ConsistentRead=True,
            )
        return _lock(_plain(found["Item"])) if "Item" in found else None

    # --- the deployment history --------------------------------------------------------

    def record_deployment_started(
        self, deployment: Deployment, request_input: Mapping[str, Any], now: float
    ) -> bool:
        """Write the record: input, plan, versions. False if it already has an outcome
        (a late retry of Prepare must not reopen a finished deployment)."""
        item = ledger_domain.deployment_item(deployment, request_input, now)
        try:
            with translated("PutItem", _ON_CODE):
                self._client.put_item(
                    TableName=self._table,
                    Item=_typed(item),
                    ConditionExpression="attribute_not_exists(pk) OR attribute_not_exists(outcome)",
                )
        except _ConditionFailed:
            return False
        return True

    def record_deployment_step(
        self,
        execution: str,
        record: StepRecord,
        now: float,
        *,
        numbers: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a step's latest decision, with its numbers and times (overwrites: retries and
        later Checks of the same step replace it)."""
        item = ledger_domain.step_item(execution, record, now, numbers=numbers)
        with translated("PutItem", _ON_CODE):
            self._client.put_item(TableName=self._table, Item=_typed(item))

    def record_deployment_outcome(
        self,
        execution: str,
        outcome: Outcome,
        reason: str,
        now: float,
        *,
        details: Mapping[str, Any] | None = None,
        function_name: str | None = None,
        alias: str | None = None,
        event_pending: bool = True,
    ) -> OutcomeResult:
        """Close the record (first outcome wins), marked as having its event to send
        (`event_pending`). A record that already had an outcome is left as it is, and the
        result says which outcome that is and whether its event is still pending.

        A record whose event is pending stays in the `Open` index (its `openPk`/`openSk`
        kept, or set on a record created here) until `outcome_event_sent`, so the sweep
        sends an event that no retried task will; without the marker it leaves the index.

        With `function_name` and `alias`, a record that was never started (Prepare died
        before writing it) is created, so that every execution ends with one.
        """
        fields = ledger_domain.outcome_attributes(
            outcome, reason, now, details=details, event_pending=event_pending
        )
        names = {f"#{k}": k for k in fields}
        values: dict[str, Any] = {f":{k}": v for k, v in fields.items()}
        sets = [f"#{k} = :{k}" for k in fields]
        if function_name and alias:
            identity = {
                "kind": "deployment",
                "executionArn": execution,
                "functionName": function_name,
                "alias": alias,
                "aliasKey": AliasRef(function_name, alias).alias_key,
                "startedAt": fields["finishedAt"],
            }
            for key, value in identity.items():
                names[f"#{key}"] = key
                values[f":{key}"] = value
                sets.append(f"#{key} = if_not_exists(#{key}, :{key})")
        if event_pending:
            # In the sweep's view until the event is out (the start's openSk if any).
            sets += ["openPk = :openPk", "openSk = if_not_exists(openSk, :openSk)"]
            values[":openPk"] = ledger_domain.OPEN
            values[":openSk"] = ledger_domain.open_deployment_sk(fields["finishedAt"], execution)
            update = "SET " + ", ".join(sets)
        else:
            update = "SET " + ", ".join(sets) + " REMOVE openPk, openSk"
        try:
            with translated("UpdateItem", _ON_CODE):
                self._client.update_item(
                    TableName=self._table,
                    Key=_typed(ledger_domain.deployment_key(execution)),
                    UpdateExpression=update,
                    ConditionExpression="attribute_not_exists(outcome)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=_typed(values),
                    # The record as it is, in the same call: no read (nor GetItem grant) for
                    # a retry to learn whether the first attempt sent the event.
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            return ledger_domain.outcome_found(_plain(refused.item or {}))
        return OutcomeResult(
            recorded=True, outcome=outcome, reason=reason, event_pending=event_pending
        )

    def outcome_event_sent(self, execution: str) -> None:
        """Clear the record's pending-event marker once the outcome's event is out, and take
        the record out of the sweep's view (`Open`) in the same write."""
        try:
            with translated("UpdateItem", _ON_CODE):
                self._client.update_item(
                    TableName=self._table,
                    Key=_typed(ledger_domain.deployment_key(execution)),
                    UpdateExpression="REMOVE #pending, openPk, openSk",
                    # Never create a bare item (UpdateItem would, for a key that is not there).
                    ConditionExpression="attribute_exists(outcome)",
                    ExpressionAttributeNames={"#pending": ledger_domain.OUTCOME_EVENT_PENDING},
                )
        except _ConditionFailed:
            pass

    def deployment(self, execution: str) -> DeploymentRecord | None:
        """The whole record: input, plan, versions, steps, signals and outcome."""
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_typed(
                {":pk": ledger_domain.deployment_key(execution)["pk"]}
            ),
            ConsistentRead=True,
        )
        return ledger_domain.record_from_items(items)

    def deployments_for(
        self, function_name: str, alias: str, limit: int = 20
    ) -> list[DeploymentRecord]:
        """An alias's deployments, newest first (the records only, without steps)."""
        with translated("Query", _ON_CODE):
            found = self._client.query(
                TableName=self._table,
                IndexName=ledger_domain.BY_ALIAS_INDEX,
                KeyConditionExpression="aliasKey = :key",
                ExpressionAttributeValues=_typed(
                    {":key": AliasRef(function_name, alias).alias_key}
                ),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [DeploymentRecord.model_validate(_plain(item)) for item in found["Items"]]

    def find_unfinished(self) -> list[OpenItem]:
        """Every lock, every deployment with no outcome, and every deployment whose outcome's
        event is still pending: what the reconciler sweeps. (Read from a sparse index, so
        eventually consistent: a second sweep sees the rest, and the sweep reads each record
        itself before it acts, so an entry not yet gone sends nothing twice.)"""
        items = self._query(
            IndexName=ledger_domain.OPEN_INDEX,
            KeyConditionExpression="openPk = :open",
            ExpressionAttributeValues=_typed({":open": ledger_domain.OPEN}),
        )
        return [OpenItem.from_item(item) for item in items]

    # --- approval ------------------------------------------------------------------------

    def request_approval(
        self, execution: str, task_token: str, now: float, timeout_seconds: int
    ) -> None:
        """Leave the approval gate's task token where `approve` finds it."""
        item = ledger_domain.approval_item(execution, task_token, now, timeout_seconds)
        with translated("PutItem", _ON_CODE):
            self._client.put_item(TableName=self._table, Item=_typed(item))

    def approval_token(self, execution: str) -> str | None:
        with translated("GetItem", _ON_CODE):
            found = self._client.get_item(
                TableName=self._table,
                Key=_typed({"pk": ledger_domain.deployment_key(execution)["pk"], "sk": "APPROVAL"}),
                ConsistentRead=True,
            )
        token = _plain(found.get("Item") or {}).get("taskToken")
        return str(token) if token else None

    # --- operator signals ------------------------------------------------------------------

    def put_signal(
        self,
        execution: str,
        action: SignalAction | str,
        by: str,
        now: float,
        *,
        signal_id: str | None = None,
    ) -> Signal:
        """Record an operator signal for a running deployment; Check reads it at its next poll.

        Refused with InvalidInput if the deployment is unknown or already finished. Sending
        the same signal twice is harmless (see `fold_signals`).
        """
        chosen = action if isinstance(action, SignalAction) else ledger_domain.parse_action(action)
        item = ledger_domain.signal_item(
            execution, chosen, by, now, signal_id or uuid.uuid4().hex[:12]
        )
        try:
            with translated("TransactWriteItems", _ON_CODE):
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "ConditionCheck": {
                                "TableName": self._table,
                                "Key": _typed(ledger_domain.deployment_key(execution)),
                                "ConditionExpression": (
                                    "attribute_exists(pk) AND attribute_not_exists(outcome)"
                                ),
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                        {"Put": {"TableName": self._table, "Item": _typed(item)}},
                    ]
                )
        except ClientError as exc:
            raise _signal_refused(exc, execution, chosen) from exc
        return Signal.model_validate(item)

    def signals(self, execution: str) -> list[Signal]:
        """The execution's signals, oldest first."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :signal)",
            ExpressionAttributeValues=_typed(
                {
                    ":pk": ledger_domain.deployment_key(execution)["pk"],
                    ":signal": ledger_domain.SIGNAL_PREFIX,
                }
            ),
            ConsistentRead=True,
        )
        return sorted((Signal.model_validate(i) for i in items), key=lambda s: (s.at, s.id))

    # --- plumbing ----------------------------------------------------------------------

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with translated("Query", _ON_CODE):
            pages = self._client.get_paginator("query").paginate(TableName=self._table, **kwargs)
            for page in pages:
                for item in page["Items"]:
                    yield _plain(item)


def _signal_refused(exc: ClientError, execution: str, action: SignalAction) -> Exception:
    reasons = exc.response.get("CancellationReasons") or []
    codes = [str(r.get("Code", "")) for r in reasons]
    if "ThrottlingError" in codes or "ProvisionedThroughputExceeded" in codes:
        return Throttled(f"DynamoDB throttled the signal: {exc}")
    if codes[:1] != ["ConditionalCheckFailed"]:
        return exc
    current = _plain(reasons[0].get("Item") or {})
    return ledger_domain.signal_refused(execution, action, current or None)


def _lock(plain: Mapping[str, Any]) -> LockItem | None:
    return LockItem.model_validate(plain) if plain.get("owner") else None


def _typed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dynamodb_types.serialize(_decimals(v)) for k, v in values.items()}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _numbers(dynamodb_types.deserialize(v)) for k, v in item.items()}


def _decimals(value: Any) -> Any:
    # DynamoDB numbers are decimals; str() keeps what a float prints (0.5, not 0.5000000001).
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value
