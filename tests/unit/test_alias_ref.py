"""AliasRef: the one parser of function and alias identifiers."""

from __future__ import annotations

import pytest

from rollout.domain.alias_ref import AliasRef, function_name_of
from rollout.domain.errors import InvalidInput

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"


def test_a_name_and_an_unqualified_arn_name_the_same_alias() -> None:
    by_name = AliasRef.parse("orders-api", "live")
    by_arn = AliasRef.parse(ARN, "live")

    assert (by_name.function, by_name.alias) == (by_arn.function, by_arn.alias)
    assert by_arn.qualified == "orders-api:live"
    assert by_arn.alias_key == by_name.alias_key == "orders-api:live"
    assert by_arn.lock_pk == "LOCK#orders-api:live"
    assert by_arn.arn is not None
    assert (by_arn.arn.partition, by_arn.arn.region, by_arn.arn.account) == (
        "aws",
        "eu-west-1",
        "123456789012",
    )


@pytest.mark.parametrize(
    ("function", "alias", "field", "says"),
    [
        (ARN + ":live", "live", "functionName", "carries the qualifier"),
        ("arn:aws:s3:::bucket", "live", "functionName", "is not a Lambda function ARN"),
        ("orders api", "live", "functionName", "is not a valid function name"),
        ("x" * 65, "live", "functionName", "is not a valid function name"),
        ("orders-api", "7", "alias", "is not a valid alias name"),
        ("orders-api", "", "alias", "is not a valid alias name"),
        ("orders-api", "a" * 129, "alias", "is not a valid alias name"),
    ],
)
def test_a_bad_identifier_names_its_field_and_the_fix(
    function: str, alias: str, field: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        AliasRef.parse(function, alias)

    assert raised.value.field == field
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("orders-api", "orders-api"),
        (ARN, "orders-api"),
        (ARN + ":live", "orders-api"),  # a qualified ARN names the function, not function:alias
        (ARN + ":7", "orders-api"),
        (None, None),
        (7, None),
    ],
)
def test_what_we_read_back_is_reduced_to_the_bare_function_name(value: object, name: str) -> None:
    assert function_name_of(value) == name


@pytest.mark.parametrize(
    ("partition", "account", "region", "says"),
    [
        ("aws-cn", None, None, "partition aws"),
        (None, "210987654321", None, "account 123456789012"),
        (None, None, "us-east-1", "is in eu-west-1"),
    ],
)
def test_an_arn_of_another_partition_account_or_region_is_refused(
    partition: str | None, account: str | None, region: str | None, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        AliasRef.parse(ARN, "live").check_in(partition=partition, account=account, region=region)


def test_a_bare_name_or_our_own_arn_is_accepted_anywhere() -> None:
    AliasRef.parse("orders-api", "live").check_in(
        partition="aws-cn", account="210987654321", region="us-east-1"
    )
    AliasRef.parse(ARN, "live").check_in(
        partition="aws", account="123456789012", region="eu-west-1"
    )
