"""Which Lambda functions a control plane may change, and how IAM says so.

Two modes (docs/decisions.md, "Tag mode by default"):

* ``ManagedFunctions.tagged()`` (the default): every function tagged
  ``trafficshift:managed=true``. Statements name ``function:*`` of the stack's account and
  region with the condition ``aws:ResourceTag/trafficshift:managed = true``. Lambda honours
  that condition for every function action the control plane uses (GetAlias, UpdateAlias,
  GetFunctionConfiguration, ListVersionsByFunction, PublishVersion, UpdateFunctionCode,
  GetFunctionCodeSigningConfig, InvokeFunction) and evaluates a function's tags for its
  versions and aliases too: tags live on the function, not on a qualifier.
* ``ManagedFunctions.named([...])``: names or name patterns, as before; statements name
  ``function:<name>`` and ``function:<name>:*`` with no condition.

An action Lambda does not evaluate ``aws:ResourceTag`` for (none of the above today) would
be listed in :data:`WITHOUT_RESOURCE_TAG`; in tag mode it is granted on the explicit list
given to ``tagged(fallback_names=...)``, and never on ``function:*`` without a condition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

MANAGED_TAG_KEY = "trafficshift:managed"
MANAGED_TAG_VALUE = "true"

# Lambda function actions that do NOT honour aws:ResourceTag (the developer guide's
# "Function actions" table, lambda-api-permissions-ref): GetAccountSettings and
# ListFunctions accept only "*". The control plane uses neither; the set exists so that a
# future action of that kind cannot slip into a tag-mode statement unconditioned.
WITHOUT_RESOURCE_TAG: frozenset[str] = frozenset(
    {"lambda:GetAccountSettings", "lambda:ListFunctions"}
)

_TAG_PART = re.compile(r"[\w .:/=+\-@]+", re.UNICODE)


def _validated_names(names: Sequence[str], *, option: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError(f"{option} takes a sequence of names, not one string")
    cleaned = tuple(names)
    if not cleaned:
        raise ValueError(f"{option} must name at least one function or pattern")
    for name in cleaned:
        # A full ARN or a qualified name would produce a malformed (or wider) ARN.
        if not name or ":" in name:
            raise ValueError(f"not a function name or name pattern: {name!r}")
        # "*" alone is every function of the account: unconditioned, that is the grant
        # issue 7 removes. Tag mode is the way to say "any function we are told about".
        if set(name) <= {"*", "?"}:
            raise ValueError(
                f"{option}: {name!r} would let the control plane change every function of "
                "the account; use ManagedFunctions.tagged() (the default) or name the "
                "functions or a narrower pattern"
            )
    return cleaned


@dataclass(frozen=True)
class ManagedFunctions:
    """The functions a control plane may change: by tag (default) or by name.

    Build it with :meth:`tagged` or :meth:`named`.
    """

    mode: str  # "tagged" or "named"
    names: tuple[str, ...] = ()
    tag_key: str = MANAGED_TAG_KEY
    tag_value: str = MANAGED_TAG_VALUE
    fallback_names: tuple[str, ...] = field(default=())

    @staticmethod
    def tagged(
        key: str = MANAGED_TAG_KEY,
        value: str = MANAGED_TAG_VALUE,
        *,
        fallback_names: Sequence[str] = (),
    ) -> ManagedFunctions:
        """Functions tagged ``key=value`` (default ``trafficshift:managed=true``).

        :param fallback_names: names or patterns for any action Lambda does not evaluate
            ``aws:ResourceTag`` for (:data:`WITHOUT_RESOURCE_TAG`). Default: none, and
            such an action is then refused at synth.
        """
        for part, what in ((key, "key"), (value, "value")):
            if not part or not _TAG_PART.fullmatch(part):
                raise ValueError(f"not a valid tag {what}: {part!r}")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag keys starting with 'aws:' are reserved: {key!r}")
        fallback = (
            _validated_names(fallback_names, option="fallback_names") if fallback_names else ()
        )
        return ManagedFunctions(
            mode="tagged", tag_key=key, tag_value=value, fallback_names=fallback
        )

    @staticmethod
    def named(names: Sequence[str]) -> ManagedFunctions:
        """Functions named (or matching IAM wildcards ``*``/``?``), e.g. ``["orders-*"]``."""
        return ManagedFunctions(
            mode="named", names=_validated_names(names, option="managed_function_names")
        )

    @property
    def is_tagged(self) -> bool:
        return self.mode == "tagged"

    @property
    def condition(self) -> dict[str, dict[str, str]] | None:
        """The IAM condition of tag mode, None in named mode."""
        if not self.is_tagged:
            return None
        return {"StringEquals": {f"aws:ResourceTag/{self.tag_key}": self.tag_value}}

    def arns(self, stack: Stack) -> list[str]:
        """The function ARNs (and ARN patterns) that statements name."""
        if self.is_tagged:
            # One pattern covers the unqualified and every qualified ARN (versions, aliases):
            # Lambda matches the resource against FunctionName and Qualifier both.
            return [_function_arn(stack, "*")]
        return _named_arns(stack, self.names)

    def statements(self, stack: Stack, actions: Sequence[str]) -> list[iam.PolicyStatement]:
        """Allow `actions` on the managed functions: one statement, or two in tag mode when
        an action ignores aws:ResourceTag (that one goes on the fallback names)."""
        if not self.is_tagged:
            return [iam.PolicyStatement(actions=list(actions), resources=self.arns(stack))]
        tagged = [a for a in actions if a not in WITHOUT_RESOURCE_TAG]
        untagged = [a for a in actions if a in WITHOUT_RESOURCE_TAG]
        statements = []
        if tagged:
            statements.append(
                iam.PolicyStatement(
                    actions=tagged, resources=self.arns(stack), conditions=self.condition
                )
            )
        if untagged:
            if not self.fallback_names:
                raise ValueError(
                    f"{', '.join(untagged)} ignore aws:ResourceTag: give "
                    "ManagedFunctions.tagged(fallback_names=[...]) to scope them"
                )
            statements.append(
                iam.PolicyStatement(
                    actions=untagged, resources=_named_arns(stack, self.fallback_names)
                )
            )
        return statements

    def describe(self) -> str:
        if self.is_tagged:
            return f"functions tagged {self.tag_key}={self.tag_value}"
        return f"functions named {', '.join(self.names)}"


def _function_arn(stack: Stack, name: str) -> str:
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def _named_arns(stack: Stack, names: Sequence[str]) -> list[str]:
    # The unqualified ARN and the qualified ones (versions and aliases) of each.
    return [
        arn
        for name in names
        for arn in (_function_arn(stack, name), _function_arn(stack, f"{name}:*"))
    ]
