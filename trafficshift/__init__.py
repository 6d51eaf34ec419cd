"""trafficshift: progressive delivery of AWS Lambda functions with Step Functions.

This package holds the operator side: the CLI and the local emulator. The Lambda code
lives in `functions/` (package `rollout`).
"""

__version__ = "0.1.0"
