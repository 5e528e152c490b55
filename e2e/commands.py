"""The commands the tests run: the stowage CLI, skopeo, and a boto3 ECR client for a server."""

import subprocess

from conftest import BINARY


def stowage(*args, check=True, env=None):
    """Runs `stowage ARGS`; with check, fails the test unless it exits 0."""
    result = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=120, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def skopeo(*args, check=True):
    result = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def ecr(server, retries=1, region="us-east-1"):
    """A boto3 ECR client for `server`, failing at once (no retries) unless asked."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecr", endpoint_url=server.url, region_name=region, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": retries}))
