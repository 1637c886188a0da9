"""AWS on this machine: moto's server on 127.0.0.1, reached by boto3, Spark's s3a, delta-rs and pyarrow alike.

``AwsServer.start()`` runs ``moto.server.ThreadedMotoServer`` on a free port with fixed test credentials;
nothing is read from the user's AWS configuration (config and credential files point at /dev/null, the
instance metadata service is off). ``hadoop_conf`` is what Spark needs to reach it with s3a (``s3://`` URIs
are mapped to S3A, as EMR maps them to EMRFS), with a few quick retries instead of the SDK's minutes of them;
``fail_fast`` cuts them for a bucket whose endpoint must fail within seconds. ``storage_options`` is what
delta-rs needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

REGION = "eu-west-1"
ACCESS_KEY = SECRET_KEY = "testing"

# The process environment the server's clients run under (boto3 in the Lambdas and the CLI, delta-rs).
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_CREDENTIAL_PROFILES_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


FAIL_FAST = {
    "attempts.maximum": "1",
    "retry.limit": "1",
    "retry.interval": "100ms",
    "connection.establish.timeout": "2000",
    "connection.timeout": "10000",
}
"""S3A's retries and timeouts cut, for a bucket whose endpoint must fail within seconds (``fs.s3a.bucket.<b>.*``)."""


def hadoop_conf(endpoint: str) -> dict[str, str]:
    """s3a (and ``s3://`` through S3A) against ``endpoint``.

    The server is a thread of the test process, sharing its interpreter with pytest and PySpark's driver on a
    loaded 2-core machine: an answer can be seconds late. Two attempts, two retries and a 30 s read timeout ride
    that out; S3A's defaults (20 SDK attempts, 7 retries, 200 s reads: core-default.xml) would take hours to
    report a server that hangs, these about 3 minutes.
    A test of an endpoint that does not answer cuts them for its own bucket (:func:`fail_fast`).
    """
    return {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": ACCESS_KEY,
        "fs.s3a.secret.key": SECRET_KEY,
        "fs.s3a.endpoint.region": REGION,
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.s3a.attempts.maximum": "2",
        "fs.s3a.retry.limit": "2",
        "fs.s3a.retry.interval": "250ms",
        "fs.s3a.connection.establish.timeout": "5000",
        "fs.s3a.connection.timeout": "30000",
    }


def fail_fast(bucket: str) -> dict[str, str]:
    """Hadoop settings that make S3A give up on ``bucket`` within seconds (:data:`FAIL_FAST`, that bucket only)."""
    return {f"fs.s3a.bucket.{bucket}.{key}": value for key, value in FAIL_FAST.items()}


def spark_conf(endpoint: str) -> dict[str, str]:
    """:func:`hadoop_conf` as ``spark.hadoop.*`` settings (``spark-submit --conf``)."""
    return {f"spark.hadoop.{k}": v for k, v in hadoop_conf(endpoint).items()}


@dataclass
class AwsServer:
    endpoint: str = ""
    _server: Any = field(default=None, repr=False)

    def start(self) -> AwsServer:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Forget every resource (moto's reset API), for a test that needs an empty account."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).close()

    @property
    def environment(self) -> dict[str, str]:
        """:data:`ENVIRONMENT` plus ``AWS_ENDPOINT_URL``: boto3 clients then call this server."""
        return {**ENVIRONMENT, "AWS_ENDPOINT_URL": self.endpoint}

    @property
    def storage_options(self) -> dict[str, str]:
        """delta-rs (object_store) options for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self, service: str, region: str = REGION) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@contextmanager
def patched_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` (and unset :data:`UNSET`) in ``os.environ``; restore everything afterwards."""
    saved = {k: os.environ.get(k) for k in (*values, *UNSET)}
    try:
        for k in UNSET:
            os.environ.pop(k, None)
        os.environ.update(values)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def point_spark_at(spark: Any, endpoint: str) -> None:
    """Set :func:`hadoop_conf` on a running session (before its first s3a use: file systems are cached)."""
    conf = spark._jsc.hadoopConfiguration()
    for key, value in hadoop_conf(endpoint).items():
        conf.set(key, value)
