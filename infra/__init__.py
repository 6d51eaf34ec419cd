"""CDK app for trafficshift: the reusable control-plane construct and the stack that uses it."""
