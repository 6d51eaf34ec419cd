"""Hypothesis strategies for hostile deployment inputs, and the in-memory AWS they run against.

A uniquely named module (not conftest), imported by the fuzz tests. Every strategy draws
values that `json.loads` could return, since that is all a Step Functions execution input
can be; big or deep values are built by `map` from a drawn size, which keeps generation
fast where hypothesis would otherwise draw 10,000 list elements one by one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from hypothesis import strategies as st

from rollout.domain.errors import NotFound
from rollout.domain.rollout import AlarmState, AliasSnapshot, VersionInfo

# --- the world the fakes answer for ----------------------------------------------------

FUNCTION = "orders-api"
ALIAS = "live"
STABLE = "1"
TARGET = "2"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
EXISTING_ALARMS = ("orders-api-errors", "orders-api-latency")

FIELDS = (
    "functionName",
    "alias",
    "targetVersion",
    "publish",
    "strategy",
    "alarms",
    "pollIntervalSeconds",
)
VALID: dict[str, Any] = {
    "functionName": FUNCTION,
    "alias": ALIAS,
    "targetVersion": TARGET,
    "strategy": "Canary10Percent5Minutes",
    "alarms": ["orders-api-errors"],
    "pollIntervalSeconds": 30,
}

# Inputs that went through prepare, and those it prepared, per test: the suite reports both.
FUZZED: Counter[str] = Counter()
PREPARED: Counter[str] = Counter()


def _validation_error(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


# AWS's own input patterns (from the Lambda API reference), matched against the whole value.
_AWS_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_AWS_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}")
_AWS_QUALIFIER = re.compile(r"\$LATEST|[a-zA-Z0-9-_]{1,128}")


@dataclass
class FakeFunctions:
    """Lambda as AWS answers for one function: `orders-api`, alias `live` -> 1, versions 1, 2.

    A malformed name or qualifier gets the ValidationException that the real service returns
    (the adapter lets it escape), so a value that validation let through would show up as an
    unhandled error here. Every call is recorded; the mutating ones also in `mutations`.
    """

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    versions: dict[str, str] = field(
        default_factory=lambda: {STABLE: "sha-1", TARGET: "sha-2", "$LATEST": "sha-3"}
    )

    @property
    def mutations(self) -> list[tuple[str, tuple[Any, ...]]]:
        return [c for c in self.calls if c[0] in ("publish_version", "update_alias")]

    def _function(self, operation: str, name: str) -> None:
        if not isinstance(name, str) or not _AWS_FUNCTION_NAME.fullmatch(name):
            raise _validation_error(operation, f"invalid FunctionName {name!r}")
        if name != FUNCTION:
            raise NotFound(f"Function not found: {name}")

    def get_alias(self, function_name: str, alias: str) -> AliasSnapshot:
        self.calls.append(("get_alias", (function_name, alias)))
        self._function("GetAlias", function_name)
        if not isinstance(alias, str) or not _AWS_ALIAS_NAME.fullmatch(alias):
            raise _validation_error("GetAlias", f"invalid Name {alias!r}")
        if alias != ALIAS:
            raise NotFound(f"Alias not found: {alias}")
        return AliasSnapshot(function_version=STABLE, revision_id="rev-1")

    def get_version(self, function_name: str, version: str) -> VersionInfo:
        self.calls.append(("get_version", (function_name, version)))
        self._function("GetFunctionConfiguration", function_name)
        if not isinstance(version, str) or not _AWS_QUALIFIER.fullmatch(version):
            raise _validation_error("GetFunctionConfiguration", f"invalid Qualifier {version!r}")
        if version not in self.versions:
            raise NotFound(f"Function not found: {function_name}:{version}")
        return VersionInfo(
            version=version, code_sha256=self.versions[version], role="arn:aws:iam::1:role/r"
        )

    def publish_version(self, function_name: str, code_sha256: str, description: str) -> str:
        self.calls.append(("publish_version", (function_name, code_sha256, description)))
        self._function("PublishVersion", function_name)
        if len(description) > 256:
            raise _validation_error("PublishVersion", "Description is longer than 256")
        # $LATEST differs from every published version, so AWS publishes a new one.
        version = str(max(int(v) for v in self.versions if v.isdigit()) + 1)
        self.versions[version] = code_sha256
        return version

    def update_alias(
        self,
        function_name: str,
        alias: str,
        *,
        primary: str,
        additional: dict[str, float],
        revision_id: str,
    ) -> AliasSnapshot:
        self.calls.append(("update_alias", (function_name, alias, primary, additional)))
        raise AssertionError("prepare must never move the alias")


@dataclass
class FakeAlarms:
    """CloudWatch DescribeAlarms: at most 100 names of 1-255 characters, sent as UTF-8."""

    calls: list[tuple[str, ...]] = field(default_factory=list)

    def states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        self.calls.append(tuple(names))
        if len(names) > 100:
            raise _validation_error("DescribeAlarms", "AlarmNames has more than 100 members")
        for name in names:
            name.encode("utf-8")  # what botocore does to the query string: lone surrogates fail
            if not 1 <= len(name) <= 255:
                raise _validation_error("DescribeAlarms", "AlarmNames member length")
        return {n: AlarmState(name=n, state="OK") for n in names if n in EXISTING_ALARMS}


# --- scalar values ---------------------------------------------------------------------

NASTY_TEXT = (
    "",
    " ",
    "../",
    "../../etc/passwd",
    "orders-api/../admin",
    "..\\..\\windows",
    ";",
    "orders-api; rm -rf /",
    "$(reboot)",
    "`id`",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "%00",
    "orders-api%00",
    "\x00",
    "orders-api\x00",
    "'",
    '"',
    "\\",
    "' OR '1'='1",
    '"; DROP TABLE x; --',
    "\n",
    "orders-api\n",
    "live\n",
    "2\n",
    "\r\n",
    "\t",
    "orders-api\t",
    "\u202e",  # right-to-left override
    "live\u200b",  # zero-width space
    "\ufefflive",
    "\ud800",  # a lone surrogate: json.loads returns these for "\ud800"
    "live\udfff",
    "🦄",
    "ｏｒｄｅｒｓ-ａｐｉ",  # fullwidth letters  # noqa: RUF001
    "١٢٣",  # Arabic-Indic digits
    "%s%s%n",
    "<script>alert(1)</script>",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e308",
    "10",
    "10%",
    "0x10",
    "null",
    "true",
    "$LATEST",
    "$latest",
    "live:2",
    "orders-api:live",
    "*",
    "a" * 65,
    "a" * 129,
    "a" * 256,
)

NASTY_NUMBERS: tuple[float | int, ...] = (
    0,
    -0.0,
    0.0,
    -1,
    1,
    2,
    7,
    100,
    100.0,
    101,
    99.99999,
    1e-5,
    0.00005,
    0.00004,
    5e-324,
    2.2250738585072014e-308,
    1e308,
    -1e308,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    10**400,
    int("9" * 4300),  # the longest int that json.loads accepts (int_max_str_digits)
)


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.text(max_size=40),
        st.text(st.characters(codec=None, categories=["Cc", "Cf", "Cs", "Zs", "Mn"]), max_size=8),
        st.builds(
            lambda a, b, c: a + b + c,
            st.sampled_from(["", FUNCTION, ALIAS, TARGET, "orders-api-errors"]),
            st.sampled_from(NASTY_TEXT),
            st.sampled_from(["", FUNCTION, ALIAS, "x"]),
        ),
    )


def numbers() -> st.SearchStrategy[float | int]:
    return st.one_of(
        st.sampled_from(NASTY_NUMBERS),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), numbers(), texts())


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(texts(), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


# --- big and deep values -----------------------------------------------------------------

QUARTER_MB = 256 * 1024


def _nested(depth: int, kind: str, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if kind == "list" or (kind == "mixed" and i % 2) else {"a": value}
    return value


def deep_values() -> st.SearchStrategy[Any]:
    """JSON nested about 1,000 levels deep, as lists, objects or both."""
    return st.builds(
        _nested,
        st.sampled_from([999, 1_000, 1_001, 5_000]),
        st.sampled_from(["list", "dict", "mixed"]),
        st.sampled_from([None, 1, "orders-api", math.nan]),
    )


def big_texts() -> st.SearchStrategy[str]:
    """Strings of about 256 KB (the Step Functions input limit), ASCII or not."""
    return st.builds(
        lambda unit, prefix: (prefix + unit * QUARTER_MB)[:QUARTER_MB],
        st.sampled_from(["a", "0", "-", "\x00", "é", "🦄", "\n", "$LATEST"]),
        st.sampled_from(["", FUNCTION, "arn:aws:lambda:us-east-1:123456789012:function:"]),
    )


def _named(n: int, template: str) -> list[str]:
    return [template.format(i=i) for i in range(n)]


def huge_lists() -> st.SearchStrategy[list[Any]]:
    """Lists of up to 10,000 names, numbers or objects; with or without duplicates."""
    return st.one_of(
        st.builds(
            _named,
            st.sampled_from([101, 1_000, 10_000]),
            st.sampled_from(["alarm-{i}", "orders-api-errors", "", "a{i}\n"]),
        ),
        st.sampled_from([10_000, 100_000]).map(lambda n: list(range(n))),
        st.sampled_from([10_000]).map(lambda n: [{"percent": 1, "bakeSeconds": 1}] * n),
    )


def hostile_values() -> st.SearchStrategy[Any]:
    """Anything that could stand where a field's value goes."""
    return st.one_of(
        json_values(),
        numbers(),
        texts(),
        st.sampled_from([None, True, False, [], {}, [None], [""], {"": ""}]),
        big_texts(),
        deep_values(),
        huge_lists(),
        function_arns(),
    )


# --- ARNs ---------------------------------------------------------------------------------


def function_arns() -> st.SearchStrategy[str]:
    """Lambda ARNs of this and other partitions, regions and accounts, some qualified."""
    return st.one_of(
        st.builds(
            lambda partition, region, account, name, qualifier: (
                f"arn:{partition}:lambda:{region}:{account}:function:{name}{qualifier}"
            ),
            st.sampled_from(
                ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc", "AWS", ""]
            ),
            st.sampled_from(
                ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "", "US-EAST-1"]
            ),
            st.sampled_from(
                [
                    ACCOUNT,
                    "210987654321",
                    "000000000000",
                    "12345678901",
                    "1234567890123",
                    "١٢٣٤٥٦٧٨٩٠١٢",  # twelve Arabic-Indic digits
                    "",
                ]
            ),
            st.sampled_from([FUNCTION, "other", "a" * 64, "a" * 65, "orders-api\n", "../x"]),
            st.sampled_from(["", ":live", ":1", ":$LATEST", ":", ":live:2", "\n"]),
        ),
        st.sampled_from(
            [
                "arn:aws:lambda:us-east-1:123456789012:layer:orders-api:1",
                "arn:aws:iam::123456789012:role/orders-api",
                "arn:aws:lambda:us-east-1:123456789012:orders-api",
                "arn:aws:lambda:::function:orders-api",
                "arn:",
                "arn:aws:lambda:us-east-1:123456789012:function:orders-api\n",
                "123456789012:function:orders-api",
                "function:orders-api",
            ]
        ),
    )


# --- strategy objects and schedules ------------------------------------------------------

_NUMBER_KEYS = ("percent", "bakeSeconds", "intervalSeconds", "startPercent", "growthFactor")


def field_values() -> st.SearchStrategy[Any]:
    """A number in a strategy object: sane, extreme, or of the wrong type."""
    return st.one_of(
        st.integers(min_value=0, max_value=100),
        st.floats(min_value=0, max_value=100),
        st.sampled_from(NASTY_NUMBERS),
        st.sampled_from(["10", "10%", "ten", "", None, True, False, [10], {"value": 10}]),
        st.sampled_from([86_400 * d for d in (1, 7, 8, 30, 365)]),
    )


def steps_lists() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(
            st.one_of(
                st.fixed_dictionaries({"percent": field_values(), "bakeSeconds": field_values()}),
                st.dictionaries(st.sampled_from([*_NUMBER_KEYS, "type", "x"]), field_values()),
                scalars(),
            ),
            max_size=6,
        ),
        # ascending plans of many steps: over MAX_STEPS, but otherwise well formed
        st.sampled_from([100, 101, 1_000, 10_000]).map(
            lambda n: [{"percent": 100 * (i + 1) / n, "bakeSeconds": 60} for i in range(n)]
        ),
        huge_lists(),
        texts(),
        deep_values(),
    )


def strategy_objects() -> st.SearchStrategy[Any]:
    """Strategy objects of every type, their numbers sane, extreme or wrongly typed."""
    typed = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("canary"), "percent": field_values(), "bakeSeconds": field_values()}
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("linear"),
                "percent": field_values(),
                "intervalSeconds": field_values(),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("exponential"),
                "startPercent": field_values(),
                "growthFactor": st.one_of(
                    field_values(), st.floats(min_value=1, max_value=1.01), st.just(10**400)
                ),
                "intervalSeconds": field_values(),
            }
        ),
        st.fixed_dictionaries({"type": st.just("steps"), "steps": steps_lists()}),
    )
    return st.one_of(
        typed,
        # a key dropped, renamed, added, or the type itself wrong
        st.builds(_drop_a_key, typed, st.integers(min_value=0, max_value=3)),
        st.builds(lambda s, k, v: {**s, k: v}, typed, texts(), json_values(4)),
        st.builds(lambda s, t: {**s, "type": t}, typed, json_values(4)),
        st.dictionaries(st.sampled_from([*_NUMBER_KEYS, "type", "steps"]), json_values(4)),
    )


def _drop_a_key(strategy: dict[str, Any], index: int) -> dict[str, Any]:
    keys = list(strategy)
    del strategy[keys[index % len(keys)]]
    return strategy


def strategy_names() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "Canary10Percent5Minutes",
                "CodeDeployDefault.LambdaCanary10Percent5Minutes",
                "canary10percent5minutes",
                "Canary10Percent7Minutes",
                "AllAtOnce",
                "AllAtOnce\n",
                "CodeDeployDefault.",
                "CodeDeployDefault.Lambda",
            ]
        ),
        texts(),
        big_texts(),
    )


def schedules() -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed strategies across the limits: up to 10,000 steps and 30 days of bake."""
    seconds = st.one_of(
        st.integers(min_value=0, max_value=30 * 86_400),
        st.sampled_from([0, 1, 86_400, 7 * 86_400, 7 * 86_400 + 1, 30 * 86_400]),
    )
    percent = st.one_of(
        st.floats(min_value=1e-6, max_value=99.9999),
        st.sampled_from([1e-4, 0.5, 1, 0.99, 1.01, 10, 50, 99]),
    )
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("canary"), "percent": percent, "bakeSeconds": seconds}
        ),
        st.fixed_dictionaries(
            {"type": st.just("linear"), "percent": percent, "intervalSeconds": seconds}
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("exponential"),
                "startPercent": percent,
                "growthFactor": st.floats(min_value=1.000001, max_value=1e6),
                "intervalSeconds": seconds,
            }
        ),
        st.builds(
            lambda n, bake: {
                "type": "steps",
                "steps": [{"percent": 100 * (i + 1) / n, "bakeSeconds": bake} for i in range(n)],
            },
            st.one_of(st.integers(min_value=1, max_value=120), st.sampled_from([1_000, 10_000])),
            seconds,
        ),
    )


# --- whole inputs -------------------------------------------------------------------------


def near_valid_values(name: str) -> st.SearchStrategy[Any]:
    """A value for `name` that is often valid, so combinations of fields get exercised."""
    good: dict[str, st.SearchStrategy[Any]] = {
        "functionName": st.sampled_from(
            [FUNCTION, f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}", "other"]
        ),
        "alias": st.sampled_from([ALIAS, "other", "1"]),
        "targetVersion": st.sampled_from([TARGET, int(TARGET), STABLE, "3", "$LATEST"]),
        "publish": st.booleans(),
        "strategy": st.one_of(strategy_names(), schedules()),
        "alarms": st.one_of(
            st.lists(st.sampled_from([*EXISTING_ALARMS, "no-such-alarm"]), max_size=3),
            st.just([]),
        ),
        "pollIntervalSeconds": st.one_of(st.integers(min_value=1, max_value=3_600), numbers()),
    }
    return good[name]


def near_valid_inputs() -> st.SearchStrategy[dict[str, Any]]:
    """Every field present or not, each near-valid, hostile or of a wrong type."""

    def field_strategy(name: str) -> st.SearchStrategy[Any]:
        return st.one_of(near_valid_values(name), hostile_values())

    return st.fixed_dictionaries({}, optional={name: field_strategy(name) for name in FIELDS})


def one_field_replaced() -> st.SearchStrategy[tuple[str, Any, dict[str, Any]]]:
    """The valid request with one field replaced by a hostile value: (field, value, input)."""

    def replace(name: str, value: Any) -> tuple[str, Any, dict[str, Any]]:
        return name, value, {**VALID, name: value}

    return st.sampled_from(FIELDS).flatmap(
        lambda name: st.builds(replace, st.just(name), hostile_values())
    )


def extra_fields() -> st.SearchStrategy[dict[str, Any]]:
    """The valid request with unknown keys: hostile names, near-misses, huge or empty."""
    keys = st.one_of(
        texts(),
        st.sampled_from(
            [
                "functionname",
                "FunctionName",
                "function_name",
                "targetversion",
                "__proto__",
                "constructor",
                "alias ",
                "strategy\n",
                "x" * 100_000,
            ]
        ),
    ).filter(lambda k: k not in FIELDS)
    return st.builds(
        lambda extra: {**VALID, **extra},
        st.dictionaries(keys, json_values(4), min_size=1, max_size=3),
    )


def missing_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.sets(st.sampled_from(list(VALID)), min_size=1).map(
        lambda gone: {k: v for k, v in VALID.items() if k not in gone}
    )


# --- what a refusal may name ----------------------------------------------------------

KNOWN_LEAVES = frozenset(
    {
        *FIELDS,
        "type",
        "percent",
        "bakeSeconds",
        "intervalSeconds",
        "startPercent",
        "growthFactor",
        "steps",
    }
)


def _is_plain_key(key: object) -> bool:
    return isinstance(key, str) and 0 < len(key) <= 64 and key.isprintable()


def names_a_field(raw: Any, field: str) -> bool:
    """Whether `field` (e.g. `strategy.steps[3].percent`) is a path into `raw`.

    A path ends at a key present in the input, at a missing key of the contract, or at an
    unknown key: named as itself when it is a printable name of at most 64 characters, else
    as a shortened repr (a 100,000-character key is not repeated in the Cause).
    """
    if field == "input":
        return not isinstance(raw, Mapping)
    return _walk(raw, field)


def _walk(node: Any, rest: str) -> bool:
    if not isinstance(node, Mapping):
        return False
    for key in node:
        if not _is_plain_key(key):
            continue
        if rest == key:
            return True
        after = rest[len(key) :]
        if rest.startswith(key) and after[:1] in (".", "["):
            return _after(node[key], after)
    if rest in KNOWN_LEAVES:  # a missing key of the contract
        return True
    # an unknown key that cannot be shown as it is
    return rest[:1] in ("'", '"') and len(rest) <= 100 and any(not _is_plain_key(k) for k in node)


def _after(node: Any, rest: str) -> bool:
    if rest.startswith("."):
        return _walk(node, rest[1:])
    index = re.match(r"\[(\d+)\]", rest)
    if index is None or isinstance(node, str | bytes) or not isinstance(node, Sequence):
        return False
    i = int(index[1])
    if i >= len(node):
        return False
    tail = rest[index.end() :]
    return tail == "" or _after(node[i], tail)


def root_of(field: str) -> str:
    return re.split(r"[.\[]", field, maxsplit=1)[0]
