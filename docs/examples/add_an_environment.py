"""Add an environment: a new block in cdk.json, checked by the same loader ``cdk synth`` runs.

Every environment is one block under ``context.lakehouse.environments`` in ``cdk.json``; ``app.py`` hands
the whole ``lakehouse`` block to :func:`cdk.config.load_config`, which returns the typed, frozen
``EnvironmentConfig`` of each environment or stops with a ``ConfigError`` naming the offending key.
The set of environments is closed (``ENVIRONMENT_NAMES`` in ``cdk/config.py``), so adding ``qa`` takes two
edits: its name there, and its block in ``cdk.json``.

This example does both on a copy (cdk.json is only read) and shows what the loader says at each step: the
unknown name, then the copied block's network overlapping the environment it was copied from, then the
fixed block loading. Nothing is synthesized: the loader is pure Python.

Run from the checkout: ``.venv/bin/python docs/examples/add_an_environment.py``
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # cdk/ is the checkout's package, not an installed one

from cdk.config import ENVIRONMENT_NAMES, ConfigError, load_config  # noqa: E402

raw = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]["lakehouse"]

# 1. Start from the closest environment's block, and change what must differ: the account, the names.
qa = copy.deepcopy(raw["environments"]["staging"])
qa["account"] = "444444444444"
qa["promotion"]["requires_passed_in"] = "dev"  # versions reach qa after dev, like staging
for role in ("analyst", "privileged"):
    qa["data_access"][role]["role_name"] = qa["data_access"][role]["role_name"].replace("staging", "qa")
candidate = copy.deepcopy(raw)
candidate["environments"]["qa"] = qa


def check(names: tuple[str, ...]) -> str:
    """What the loader says about the candidate block with these environment names."""
    try:
        config = load_config(candidate, names=names)
    except ConfigError as error:
        return f"refused: {error}"
    env = config.environments["qa"]
    return f"loaded: {env.stack_name('Storage')} in {env.account}/{env.region}, network {env.network.cidr}"


# 2. The name must be one the platform knows: today's ENVIRONMENT_NAMES refuse it, naming the key.
first = check(ENVIRONMENT_NAMES)
print(first)
assert first.startswith("refused: lakehouse.environments.qa: unknown environment")

# 3. With "qa" added to ENVIRONMENT_NAMES, the copied block is checked like any other; a copy keeps the
#    network range of the environment it came from, and the environments' networks must not overlap.
names = (*ENVIRONMENT_NAMES, "qa")
second = check(names)
print(second)
assert second.startswith("refused: lakehouse.environments.") and "network.cidr" in second

# 4. Its own private range, and the block loads: synth would now build Lakehouse-qa-* stacks.
qa["network"]["cidr"] = "10.99.0.0/16"
third = check(names)
print(third)
assert third.startswith("loaded: Lakehouse-qa-Storage in 444444444444/")
print("OK: add 'qa' to ENVIRONMENT_NAMES in cdk/config.py and its block to cdk.json, then `make synth`")
