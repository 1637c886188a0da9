"""What every operational Lambda shares: lazy AWS clients, X-Ray patching, JSON logs, metrics, Delta logs.

Nothing here creates a boto3 client at import time: handlers import cheaply, and tests (moto) decide
when the first client is made.
"""
