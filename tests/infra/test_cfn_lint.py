"""cfn-lint finds nothing in the synthesized template but CDK's redundant DependsOn."""

from __future__ import annotations

import json
from typing import Any

from cfnlint.api import lint

# W3005: CDK emits a DependsOn that is also implied by a Ref/GetAtt.
EXPECTED = {"W3005"}


def test_cfn_lint_reports_nothing_but_redundant_depends_on(template_dict: dict[str, Any]) -> None:
    matches = lint(json.dumps(template_dict), regions=["us-east-1"])
    unexpected = [
        f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}"
        for m in matches
        if m.rule.id not in EXPECTED
    ]
    assert unexpected == []
