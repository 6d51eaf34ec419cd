"""The use cases: one module per workflow task (or cohesive group of them); handlers call
them with the real adapters, tests with fakes. Nothing here reads the environment or
builds a client. The ports they need are declared once, in `ports`."""
