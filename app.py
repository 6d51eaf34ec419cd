#!/usr/bin/env python3
"""CDK entry point (cdk.json runs it): one stack, `TrafficShift`."""

from infra.app_factory import create_app

create_app().synth()
