"""The access review as rich tables: buckets, table prefixes that differ from their bucket, keys, personal data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def _who(entries: Mapping[str, Any]) -> str:
    """``role (scope, scope)`` per line; a whole bucket (``*``) shows the role alone."""
    lines = []
    for name, scopes in sorted(entries.items()):
        if isinstance(scopes, list):
            shown = "" if scopes == ["*"] else f" ({', '.join(scopes)})"
        else:
            shown = "" if scopes == "full" else f" ({scopes})"
        lines.append(name + shown)
    return "\n".join(lines) or "-"


def _buckets(review: Mapping[str, Any]) -> Table:
    table = Table(title="Buckets: who may read (s3:GetObject) and write (s3:PutObject/DeleteObject)", show_lines=True)
    for column in ("bucket", "key", "read", "write"):
        table.add_column(column)
    for row in review["buckets"]:
        table.add_row(row["bucket"], row["key"] or "SSE-S3", _who(row["read"]), _who(row["write"]))
    return table


def _prefixes(review: Mapping[str, Any]) -> Table:
    table = Table(title="Table prefixes whose readers or writers differ from the whole bucket's", show_lines=True)
    for column in ("bucket/prefix", "table", "read", "write"):
        table.add_column(column)
    for row in review["buckets"]:
        whole = {verb: {n for n, s in row[verb].items() if s == ["*"]} for verb in ("read", "write")}
        for prefix in row["prefixes"]:
            if any(set(prefix[verb].items()) != {(n, "full") for n in whole[verb]} for verb in ("read", "write")):
                table.add_row(
                    f"{row['bucket']}/{prefix['prefix']}", prefix["table"], _who(prefix["read"]), _who(prefix["write"])
                )
    return table


def _keys(review: Mapping[str, Any]) -> Table:
    table = Table(title="KMS keys: who may kms:Decrypt", show_lines=True)
    table.add_column("key")
    table.add_column("decrypt")
    for row in review["keys"]:
        table.add_row(row["key"], "\n".join(row["decrypt"]) or "-")
    return table


def _pii(review: Mapping[str, Any]) -> Table:
    table = Table(title="Who reaches personal data (contracts' pii columns)", show_lines=True)
    for column in ("table", "pii columns", "read + decrypt its files", "Lake Formation SELECT"):
        table.add_column(column)
    for row in review["pii"]:
        table.add_row(
            row["table"],
            ", ".join(row["columns"]),
            "\n".join(row["read_and_decrypt"]) or "-",
            "\n".join(row["lake_formation_select"]) or "-",
        )
    return table


def render(review: Mapping[str, Any], console: Console) -> None:
    """Print the review; AWS managed policies (not evaluated) are named under the tables."""
    console.print(f"[bold]Access review of {review['environment']}[/] (from the synthesized templates)")
    for table in (_buckets(review), _prefixes(review), _keys(review), _pii(review)):
        if table.row_count:
            console.print(table)
        else:
            console.print(f"{table.title}: none")
    unevaluated = {n: p["not_evaluated"] for n, p in review["principals"].items() if p["not_evaluated"]}
    for name, policies in sorted(unevaluated.items()):
        console.print(f"not evaluated (AWS managed policies) for {name}: {', '.join(policies)}")
