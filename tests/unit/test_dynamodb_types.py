"""The ledger's DynamoDB value codec gives what boto3's TypeSerializer/TypeDeserializer give."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from rollout.adapters import dynamodb_types


def _kind(value: Any) -> str:
    # Stable across processes (pytest-xdist compares ids): no set order, no addresses.
    return type(value).__name__


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    10**37,
    Decimal("0.5"),
    Decimal("-1.25E+10"),
    Decimal("1E-100"),
    "",
    "live",
    "ünïcødé \u202e",
    b"\x00\xff",
    bytearray(b"ab"),
    {Decimal("1.5"), 2, 3},
    {"a", "b"},
    {b"x", b"y"},
    set(),
    [],
    {},
    [1, "two", None, [Decimal("3.5"), {"k": False}]],
    ("a", 1),
    {"deployment": {"plan": [{"percent": Decimal("10"), "bakeSeconds": 300}], "alarms": []}},
]

REFUSED: list[Any] = [
    1.5,
    [0.1],
    {"k": {"n": 2.0}},
    Decimal("Infinity"),
    Decimal("NaN"),
    Decimal("1.000000000000000000000000000000000000001"),  # 40 digits: inexact
    Decimal("1E+200"),  # overflow
    object(),
    {1.5},
]


@pytest.mark.parametrize("value", VALUES, ids=_kind)
def test_values_serialize_as_boto3_serializes_them(value: Any) -> None:
    # Given a Python value the ledger may write
    # When it is serialized by ours and by boto3's
    ours = dynamodb_types.serialize(value)
    theirs = TypeSerializer().serialize(value)
    # Then the attribute values are the same (sets in any order)
    assert _canonical(ours) == _canonical(theirs)


@pytest.mark.parametrize("value", VALUES, ids=_kind)
def test_attribute_values_deserialize_as_boto3_deserializes_them(value: Any) -> None:
    # Given an attribute value as DynamoDB returns it
    attribute = TypeSerializer().serialize(value)
    # When it is read by ours and by boto3's
    ours = dynamodb_types.deserialize(attribute)
    theirs = TypeDeserializer().deserialize(attribute)
    # Then the Python values are equal (boto3's Binary equals its bytes)
    assert ours == theirs


@pytest.mark.parametrize("value", REFUSED, ids=_kind)
def test_values_boto3_refuses_are_refused_with_the_same_error(value: Any) -> None:
    # Given a value boto3 would not write (a float, an infinite, inexact or huge number)
    with pytest.raises((TypeError, decimal.DecimalException)) as theirs:
        TypeSerializer().serialize(value)
    # Then ours refuses it with the same exception type
    with pytest.raises(type(theirs.value)):
        dynamodb_types.serialize(value)


@pytest.mark.parametrize("attribute", [{}, {"X": "1"}], ids=_kind)
def test_unknown_or_empty_attribute_values_are_type_errors(attribute: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        TypeDeserializer().deserialize(attribute)
    with pytest.raises(TypeError):
        dynamodb_types.deserialize(attribute)


def _canonical(attribute: Any) -> Any:
    if isinstance(attribute, dict):
        return {
            k: sorted(map(repr, v)) if k in ("NS", "SS", "BS") else _canonical(v)
            for k, v in attribute.items()
        }
    if isinstance(attribute, list):
        return [_canonical(v) for v in attribute]
    return attribute
