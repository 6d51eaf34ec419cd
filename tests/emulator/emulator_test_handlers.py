"""Package-code handlers for the emulator's tests (registered by the tests, never deployed)."""

import os


class OrderRejected(Exception):
    pass


def double(event, context):
    return {"value": event["value"] * 2, "greeting": os.environ.get("GREETING")}


def reject(event, context):
    raise OrderRejected(f"order {event.get('value')} rejected")


def describe(event, context):
    return {
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "region": os.environ.get("AWS_REGION"),
        "tableName": os.environ.get("TABLE_NAME"),
    }
