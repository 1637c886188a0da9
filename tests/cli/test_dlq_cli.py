"""`lakehouse dlq status|redrive` against moto's SQS (SQS message move tasks, which moto lacks: tests/moto_gaps.py)."""

from __future__ import annotations

import io
import json
import re

import pytest
from botocore.exceptions import ClientError
from ops_common.aws import client

from lakehouse.cli import main
from platform_model import aws_names
from tests.moto_gaps import MessageMoveTasks

ENV = "test"
QUEUE = aws_names.intake_queue_name(ENV)
DLQ = aws_names.intake_dlq_name(ENV)


@pytest.fixture
def move_tasks(aws, monkeypatch) -> MessageMoveTasks:
    return MessageMoveTasks().install(monkeypatch)


@pytest.fixture
def queues(aws) -> dict[str, str]:
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    url = sqs.create_queue(QueueName=QUEUE, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return {"queue": url, "dlq": dlq_url, "dlq_arn": dlq_arn}


def visible(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def row(out: str, queue: str) -> list[str]:
    """The cells of the table row naming ``queue``."""
    line = next(line for line in out.splitlines() if re.search(rf"\b{re.escape(queue)}\b(?!-dlq)", line))
    return [cell.strip() for cell in re.split(r"[│┃|]", line) if cell.strip()]


def test_status_names_the_queues_and_their_depths(queues, move_tasks, capsys):
    sqs = client("sqs")
    for i in range(2):
        sqs.send_message(QueueUrl=queues["dlq"], MessageBody=f"dead {i}")
    for i in range(3):
        sqs.send_message(QueueUrl=queues["queue"], MessageBody=f"live {i}")
    sqs.receive_message(QueueUrl=queues["queue"], MaxNumberOfMessages=1, VisibilityTimeout=300)

    assert main(["dlq", "status", "--env", ENV]) == 0

    out = capsys.readouterr().out
    assert row(out, QUEUE) == [QUEUE, "intake", "2", "1", "0"]
    assert row(out, DLQ) == [DLQ, "dead-letter", "2", "0", "0"]
    assert "maxReceiveCount 3" in out
    assert f"no message move tasks from {DLQ}" in out
    assert f"2 message(s) wait in {DLQ}" in out and f"lakehouse dlq redrive --env {ENV}" in out


def test_redrive_moves_the_dead_letters_back_and_status_shows_the_task(queues, move_tasks, capsys):
    sqs = client("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=queues["dlq"], MessageBody=f"dead {i}")

    assert main(["dlq", "redrive", "--env", ENV, "--yes", "--rate", "10"]) == 0

    out = capsys.readouterr().out
    queue_arn = sqs.get_queue_attributes(QueueUrl=queues["queue"], AttributeNames=["QueueArn"])["Attributes"]
    assert move_tasks.started == [
        {"SourceArn": queues["dlq_arn"], "DestinationArn": queue_arn["QueueArn"], "MaxNumberOfMessagesPerSecond": 10}
    ]
    handle = move_tasks.tasks[queues["dlq_arn"]][0]["TaskHandle"]
    assert "redrive started" in out and f"task handle: {handle}" in out
    assert visible(queues["dlq"]) == 0 and visible(queues["queue"]) == 3
    bodies = sorted(
        m["Body"] for m in sqs.receive_message(QueueUrl=queues["queue"], MaxNumberOfMessages=10)["Messages"]
    )
    assert bodies == ["dead 0", "dead 1", "dead 2"]

    assert main(["dlq", "status", "--env", ENV]) == 0
    task = row(capsys.readouterr().out, "COMPLETED")
    assert task[0] == "COMPLETED" and task[2:6] == ["3", "3", "10", QUEUE]


def test_redrive_of_an_empty_dlq_does_nothing(queues, move_tasks, capsys):
    assert main(["dlq", "redrive", "--env", ENV, "--yes"]) == 0
    assert f"{DLQ} is empty: nothing to redrive" in capsys.readouterr().out
    assert move_tasks.started == []


def test_redrive_off_a_terminal_needs_yes(queues, move_tasks, capsys):
    client("sqs").send_message(QueueUrl=queues["dlq"], MessageBody="dead")
    assert main(["dlq", "redrive", "--env", ENV]) == 2
    assert "needs --yes" in capsys.readouterr().err
    assert move_tasks.started == [] and visible(queues["dlq"]) == 1


def test_redrive_asks_before_moving(queues, move_tasks):
    from rich.console import Console

    from lakehouse.ops.dlq import redrive

    client("sqs").send_message(QueueUrl=queues["dlq"], MessageBody="dead")
    questions: list[str] = []

    def refuse(question: str) -> bool:
        questions.append(question)
        return False

    assert redrive(ENV, console=Console(file=io.StringIO()), confirm=refuse) == 1
    assert questions == [f"Move ~1 message(s) from {DLQ} back to {QUEUE}?"]
    assert move_tasks.started == [] and visible(queues["dlq"]) == 1


@pytest.mark.parametrize("argv", [["status"], ["redrive", "--yes"]], ids=["status", "redrive"])
def test_unknown_environment_is_one_clear_line_and_non_zero(queues, move_tasks, capsys, argv):
    assert main(["dlq", *argv, "--env", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "--env nope" in lines[0] and aws_names.intake_queue_name("nope") in lines[0]
    assert "does not exist" in lines[0]


def test_bad_rate_is_refused(queues, move_tasks, capsys):
    assert main(["dlq", "redrive", "--env", ENV, "--yes", "--rate", "0"]) == 2
    assert "--rate 0" in capsys.readouterr().err


def test_missing_credentials_is_one_clear_line(monkeypatch, tmp_path, capsys):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert main(["dlq", "status", "--env", "prod"]) == 2

    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--env prod: no AWS credentials" in err and aws_names.intake_queue_name("prod") in err


def test_a_queue_that_dead_letters_elsewhere_is_refused(aws, move_tasks, capsys):
    sqs = client("sqs")
    sqs.create_queue(QueueName=DLQ)
    other = sqs.create_queue(QueueName="somewhere-else")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": other_arn, "maxReceiveCount": "3"})
    sqs.create_queue(QueueName=QUEUE, Attributes={"RedrivePolicy": policy})

    assert main(["dlq", "redrive", "--env", ENV, "--yes"]) == 2
    assert f"dead-letters to {other_arn}" in capsys.readouterr().err
    assert move_tasks.started == []


def test_gap_filler_refuses_a_source_that_is_not_a_dlq(queues, move_tasks):
    """The filler keeps SQS's rule, so a CLI that pointed the task at the wrong queue would fail here too."""
    sqs = client("sqs")
    move_tasks.attach(sqs)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queues["queue"], AttributeNames=["QueueArn"])["Attributes"]
    with pytest.raises(ClientError, match="Dead Letter Queue"):
        sqs.start_message_move_task(SourceArn=queue_arn["QueueArn"], DestinationArn=queues["dlq_arn"])


def test_missing_region_is_one_clear_line(monkeypatch, tmp_path, capsys):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    assert main(["dlq", "redrive", "--env", "staging", "--yes"]) == 2

    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--env staging: no AWS region" in err and "--region" in err
