"""``lakehouse access review``: who can read, write or decrypt what, from the synthesized templates."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .common import console


def cmd_access_review(args: argparse.Namespace) -> int:
    """Review ``--assembly`` (``cdk synth``'s output) or, by default, a fresh synth of the checkout."""
    from ..security.access_review import review
    from ..security.report import render
    from ..security.templates import Assembly, AssemblyError

    try:
        if args.assembly:
            assembly = Assembly.load(Path(args.assembly), args.env)
        else:
            assembly = Assembly(_synthesize(Path(args.repo).resolve(), args.env))
    except AssemblyError as exc:
        raise UsageError(str(exc)) from exc
    result = review(assembly, args.env)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        render(result, console)
    return 0


def _synthesize(repo: Path, env: str) -> dict[str, dict[str, Any]]:
    """The environment's templates by stack name, synthesized from the checkout at ``repo`` (no cdk-nag)."""
    from ..ops.envdiff import EnvDiffError, load, synthesize
    from ..security.templates import AssemblyError

    try:
        context, config = load(repo)
    except EnvDiffError as exc:
        raise AssemblyError(str(exc)) from exc
    if env not in config.environments:
        raise AssemblyError(f"unknown environment {env!r}; cdk.json has: {', '.join(config.environments)}")
    return {f"Lakehouse-{env}-{part}": t for part, t in synthesize(context, config, (env,))[env].items()}


def add_parsers(sub: Any) -> None:
    """Register ``access review`` on the ``lakehouse`` parser."""
    access = sub.add_parser("access", help="who may read, write or decrypt the lake (docs/security/ACCESS_REVIEW.md)")
    asub = access.add_subparsers(dest="access_command", required=True, metavar="{review}")
    r = asub.add_parser("review", help="buckets, table prefixes, keys and personal data, per principal")
    r.add_argument("--env", required=True, help="an environment of cdk.json: dev, staging, prod")
    r.add_argument("--json", action="store_true", help="machine-readable output (the pinned matrix's format)")
    r.add_argument(
        "--assembly",
        help="a cloud assembly folder (e.g. cdk.out after `npx cdk synth -c env=E`); default: synthesize now",
    )
    r.add_argument("--repo", default=".", help="the repository checkout (with cdk.json) to synthesize; default: here")
    r.set_defaults(func=cmd_access_review)
