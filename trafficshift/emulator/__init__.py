"""The local emulator: moto, made faithful to AWS where the control plane depends on it.

Modules (import the one you need; none is imported here, so `import trafficshift` stays
cheap and free of moto):

* `fidelity` - every patch of moto, each pinned to the AWS behaviour it restores;
* `lambda_runtime` - how a function version's code runs in-process;
* `faults` - fault injection for tests (throttling and other API errors);
* `template` - load a synthesized CloudFormation template into moto;
* `cloud` - `LocalCloud`, the context manager that puts it all together;
* `server` - `serve()`: the emulator behind an HTTP endpoint for the CLI and boto3;
* `sample` - the demo's sample function;
* `traffic` - simulated traffic that publishes Lambda's per-version metrics.
"""
