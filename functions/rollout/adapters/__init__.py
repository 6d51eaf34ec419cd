"""The only modules that call AWS. Each takes its boto3 client in the constructor."""
