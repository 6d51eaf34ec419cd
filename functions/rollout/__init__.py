"""trafficshift's Lambda code: thin handlers -> pure domain -> boto3 adapters."""
