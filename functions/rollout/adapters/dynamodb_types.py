"""DynamoDB's typed attribute values ({"S": ...}, {"N": ...}, ...) to Python and back.

The rules of boto3's `boto3.dynamodb.types.TypeSerializer` and `TypeDeserializer`, which
tests/unit/test_dynamodb_types.py checks value by value, without importing boto3: any
`boto3.*` import runs boto3's `__init__`, which imports s3transfer, multiprocessing and
concurrent.futures, about 20 ms of every cold start (docs/decisions.md, "Cold imports").

Numbers are `int` or `Decimal` within DynamoDB's 38 digits (a float is a TypeError, an
inexact number a decimal trap); a set becomes NS, SS or BS; binary comes back as `bytes`
(boto3 wraps it in its `Binary`, which compares equal to the bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

__all__ = ["deserialize", "serialize"]

# DynamoDB's number type, as boto3 declares it (boto3.dynamodb.types.DYNAMODB_CONTEXT).
DYNAMODB_CONTEXT = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def serialize(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": value}
    if isinstance(value, Set):
        if all(_is_number(v) for v in value):
            return {"NS": [_number(v) for v in value]}
        if all(isinstance(v, str) for v in value):
            return {"SS": list(value)}
        if all(isinstance(v, bytes | bytearray) for v in value):
            return {"BS": list(value)}
    if isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def deserialize(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as Python: numbers are Decimal, sets are sets."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    dynamodb_type, item = next(iter(value.items()))
    reader = _READERS.get(dynamodb_type)
    if reader is None:
        raise TypeError(f"Dynamodb type {dynamodb_type} is not supported")
    return reader(item)


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal)


def _number(value: int | Decimal) -> str:
    text = str(DYNAMODB_CONTEXT.create_decimal(value))
    if text in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return text


_READERS: dict[str, Callable[[Any], Any]] = {
    "NULL": lambda _: None,
    "BOOL": lambda item: item,
    "N": DYNAMODB_CONTEXT.create_decimal,
    "S": lambda item: item,
    "B": bytes,
    "NS": lambda items: set(map(DYNAMODB_CONTEXT.create_decimal, items)),
    "SS": set,
    "BS": lambda items: set(map(bytes, items)),
    "L": lambda items: [deserialize(v) for v in items],
    "M": lambda items: {k: deserialize(v) for k, v in items.items()},
}
