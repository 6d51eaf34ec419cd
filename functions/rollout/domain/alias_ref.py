"""The alias a rollout moves: a function and one of its aliases, parsed once.

The one owner of what a function and an alias identifier may be. Everything that names an
alias (the input, the ports, the ledger, the reconciler, the CLI) takes an `AliasRef` or
asks `function_name_of`; nothing else splits an ARN.

- `AliasRef.parse(function, alias)`: strict, for input a person typed: a function name or
  an unqualified ARN (a qualified one is refused: the alias goes in `alias`); every other
  value is an `InvalidInput` naming the field and the fix.
- `function_name_of(value)`: tolerant, for what we read back (an execution's input, a ledger
  record): the bare name of a name, an ARN or a qualified ARN, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rollout.domain.errors import InvalidInput, shown

# Lambda's own rules (CreateFunction FunctionName, CreateAlias Name):
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
_FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"function:(?P<name>[a-zA-Z0-9_-]{1,64})(?::(?P<qualifier>[a-zA-Z0-9_$-]+))?"
)

FUNCTION_HELP = 'give the function\'s name or its unqualified ARN, e.g. "orders-api"'
ALIAS_HELP = 'give the alias that serves traffic, e.g. "live"'


@dataclass(frozen=True, slots=True)
class ArnParts:
    """Where an ARN given for the function says it lives."""

    partition: str
    region: str
    account: str


@dataclass(frozen=True, slots=True)
class AliasRef:
    """A function (its bare name) and one of its aliases."""

    function: str
    alias: str
    # Set when the function was given as an ARN: Prepare checks it is ours.
    arn: ArnParts | None = None

    @classmethod
    def parse(cls, function: str, alias: str) -> AliasRef:
        """The alias named by a person's input; InvalidInput names what is wrong."""
        name, arn = _parse_function(function)
        if not ALIAS_NAME.fullmatch(alias):
            raise InvalidInput(
                "alias",
                f"{shown(alias)} is not a valid alias name",
                "use 1-128 letters, digits, '-' or '_', not only digits (a version is not an "
                "alias)",
            )
        return cls(name, alias, arn)

    @classmethod
    def of(cls, function: str, alias: str) -> AliasRef:
        """A reference to what the ledger or the state already holds: no check, no ARN."""
        return cls(function_name_of(function) or function, alias)

    @property
    def qualified(self) -> str:
        """`function:alias`: Lambda's qualified name, CloudWatch's `Resource` dimension."""
        return f"{self.function}:{self.alias}"

    @property
    def alias_key(self) -> str:
        """The ledger's `aliasKey` (the ByAlias index's partition key)."""
        return self.qualified

    @property
    def lock_pk(self) -> str:
        """The partition key of the alias's lock item in the ledger."""
        return f"LOCK#{self.qualified}"

    def __str__(self) -> str:
        return self.qualified

    def check_in(self, *, partition: str | None, account: str | None, region: str | None) -> None:
        """Refuse a function whose ARN names another partition, account or region than the
        control plane's own (None: not known, not checked)."""
        if self.arn is None:
            return
        for where, theirs, ours in (
            ("partition", self.arn.partition, partition),
            ("account", self.arn.account, account),
        ):
            if ours and theirs != ours:
                raise InvalidInput(
                    "functionName",
                    f"the function is in {where} {theirs} but this control plane runs in {ours}",
                    f"deploy trafficshift in the function's {where} and start the deployment there",
                )
        if region and self.arn.region != region:
            raise InvalidInput(
                "functionName",
                f"the function is in {self.arn.region} but this control plane runs in {region}",
                "deploy trafficshift in the function's region and start the deployment there",
            )


def function_name_of(value: Any) -> str | None:
    """The bare function name in a name, an ARN or a qualified ARN; None if not a string."""
    if not isinstance(value, str):
        return None
    if ":function:" in value:
        return value.split(":function:", 1)[1].split(":", 1)[0]
    return value


def _parse_function(value: str) -> tuple[str, ArnParts | None]:
    if value.startswith("arn:"):
        match = _FUNCTION_ARN.fullmatch(value)
        if match is None:
            raise InvalidInput(
                "functionName",
                f"{shown(value)} is not a Lambda function ARN",
                "use arn:aws:lambda:<region>:<account>:function:<name>, or just the name",
            )
        if match["qualifier"]:
            raise InvalidInput(
                "functionName",
                f"the ARN carries the qualifier {shown(match['qualifier'])}",
                'give the unqualified ARN and put the alias in "alias"',
            )
        return match["name"], ArnParts(match["partition"], match["region"], match["account"])
    if not FUNCTION_NAME.fullmatch(value):
        raise InvalidInput(
            "functionName",
            f"{shown(value)} is not a valid function name",
            "use 1-64 letters, digits, '-' or '_', or the function's ARN",
        )
    return value, None
