"""checkov's skipped checks: one file, a reason for each, and only checks that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

SKIPS = Path(__file__).resolve().parents[2] / "infra" / "checkov-skips.yaml"


def test_every_skipped_checkov_check_is_named_and_gives_a_reason() -> None:
    skips = yaml.safe_load(SKIPS.read_text())
    assert isinstance(skips, dict)
    assert skips
    for check, reason in skips.items():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), check
        assert isinstance(reason, str), check
        assert len(reason.strip()) >= 80, (check, reason)
