"""Helpers and data of the emulator's tests (a uniquely named module: every test directory
has a `conftest`, so tests must not import from theirs)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from botocore.config import Config

HERE = Path(__file__).parent
NO_RETRIES = Config(retries={"total_max_attempts": 1})

ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# A hand-written stand-in for the synthesized stack: a role, a table, two package-code
# functions and a state machine whose definition is an Fn::Join, as CDK writes it.
SMALL_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Greeting": {"Type": "String", "Default": "hello"}},
    "Conditions": {"IsUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
    "Resources": {
        "HandlerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": ROLE_TRUST},
        },
        "HandlerRoleDefaultPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "p",
                "Roles": [{"Ref": "HandlerRole"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": []},
            },
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            },
        },
        "DoubleFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "emulator_test_handlers.double",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["HandlerRole", "Arn"]},
                "Code": {"S3Bucket": {"Fn::Sub": "cdk-assets-${AWS::AccountId}"}, "S3Key": "x.zip"},
                "Timeout": 30,
                "MemorySize": 256,
                "Architectures": ["arm64"],
                "Environment": {
                    "Variables": {
                        "GREETING": {"Ref": "Greeting"},
                        "TABLE_NAME": {"Ref": "Table"},
                        "UNUSED": {"Fn::If": ["IsUsEast1", {"Ref": "AWS::NoValue"}, "elsewhere"]},
                    }
                },
            },
            "DependsOn": ["HandlerRoleDefaultPolicy"],
        },
        "RejectFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "reject-orders",
                "Handler": "emulator_test_handlers.reject",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": "HandlerRole.Arn"},
                "Code": {"ZipFile": "ignored"},
            },
        },
        "MachineRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": ROLE_TRUST},
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
                "DefinitionString": {
                    "Fn::Join": [
                        "",
                        [
                            '{"StartAt":"Double","States":{"Double":{"Type":"Task",'
                            '"Resource":"arn:',
                            {"Ref": "AWS::Partition"},
                            ':states:::lambda:invoke","Parameters":{"FunctionName":"',
                            {"Fn::GetAtt": ["DoubleFn", "Arn"]},
                            '","Payload.$":"$"},"ResultSelector":{"value.$":"$.Payload.value",'
                            '"greeting.$":"$.Payload.greeting"},"Next":"Reject"},'
                            '"Reject":{"Type":"Task","Resource":"',
                            {"Fn::GetAtt": ["RejectFn", "Arn"]},
                            '","Catch":[{"ErrorEquals":["OrderRejected"],"ResultPath":"$.error",'
                            '"Next":"Rejected"}],"End":true},'
                            '"Rejected":{"Type":"Pass","End":true}}}',
                        ],
                    ]
                },
            },
            "DependsOn": ["MachineRole"],
        },
        "CDKMetadata": {
            "Type": "AWS::CDK::Metadata",
            "Properties": {"Analytics": "v2:deflate64:x"},
        },
    },
}


def code_zip(source: str, filename: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def returns(value: str) -> bytes:
    """The code zip of a function that returns `value` and the version it runs as."""
    return code_zip(
        "import os\n"
        "def handler(event, context):\n"
        f"    return {{'value': {value!r}, 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION']}}\n"
    )
