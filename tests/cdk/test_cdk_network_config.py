"""cdk.json's network and producers sections: each mistake stops synth with a message naming the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk.config import ConfigError, load_config

ENV = "lakehouse.environments"


def mutated(raw: dict[str, Any], env: str, section: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    data["environments"][env][section].update(changes)
    return data


def test_committed_networks_are_on_disjoint_and_named(raw_config: dict[str, Any]) -> None:
    config = load_config(raw_config)
    networks = {name: env.network for name, env in config.environments.items()}
    assert all(network.enabled for network in networks.values())
    assert {name: n.cidr for name, n in networks.items()} == {
        "dev": "10.40.0.0/20",
        "staging": "10.41.0.0/20",
        "prod": "10.42.0.0/20",
    }
    assert networks["prod"].availability_zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    # A role name is completed with the environment's own account.
    assert networks["prod"].data_access_exceptions == ("arn:aws:iam::333333333333:role/lakehouse-prod-break-glass",)
    producers = config.environments["prod"].producers
    assert sorted(producers) == ["crm", "snowflake"]
    assert producers["crm"].principal == "444444444444"
    assert producers["snowflake"].principal == "arn:aws:iam::555555555555:role/snowflake-unload"


@pytest.mark.parametrize(
    ("env", "changes", "key", "message"),
    [
        ("dev", {"availability_zones": []}, "dev.network.availability_zones", "needs 2 or 3 availability zones"),
        ("dev", {"availability_zones": ["eu-west-1a"]}, "dev.network.availability_zones", "got 1"),
        (
            "prod",
            {"availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1a"]},
            "prod.network.availability_zones",
            "got 4",
        ),
        ("dev", {"availability_zones": ["eu-west-1a", "us-east-1b"]}, "dev.network.availability_zones[1]", "not an AZ"),
        ("dev", {"availability_zones": ["eu-west-1a", "eu-west-1a"]}, "dev.network.availability_zones", "twice"),
        ("dev", {"cidr": "10.40.0.0/33"}, "dev.network.cidr", "not an IPv4 network"),
        ("dev", {"cidr": "10.40.0.1/20"}, "dev.network.cidr", "not an IPv4 network"),
        ("dev", {"cidr": "8.8.0.0/20"}, "dev.network.cidr", "not a private"),
        ("dev", {"cidr": "10.40.0.0/26"}, "dev.network.cidr", "between /16 and /22"),
        ("staging", {"cidr": "10.40.8.0/21"}, "staging.network.cidr", "overlaps dev's network.cidr 10.40.0.0/20"),
        ("prod", {"cidr": "10.0.0.0/8"}, "prod.network.cidr", "between /16 and /22"),
        ("prod", {"data_access_exceptions": [""]}, "prod.network.data_access_exceptions[0]", "names no IAM role"),
        (
            "prod",
            {"data_access_exceptions": ["arn:aws:iam::333333333333:user/alice"]},
            "prod.network.data_access_exceptions[0]",
            "names no IAM role",
        ),
        (
            "prod",
            {"data_access_exceptions": ["arn:aws:iam::333333333333:root"]},
            "prod.network.data_access_exceptions[0]",
            "names no IAM role",
        ),
        ("prod", {"data_access_exceptions": [42]}, "prod.network.data_access_exceptions[0]", "names no IAM role"),
        ("prod", {"enabled": "yes"}, "prod.network.enabled", "expected bool"),
        ("prod", {"vpc_id": "vpc-1"}, "prod.network.vpc_id", "unknown field"),
    ],
)
def test_bad_network_stops_synth_naming_the_key(
    raw_config: dict[str, Any], env: str, changes: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(mutated(raw_config, env, "network", **changes))
    assert raised.value.key == f"{ENV}.{key}"


def test_a_disabled_network_may_overlap_and_has_no_zones(raw_config: dict[str, Any]) -> None:
    raw = mutated(raw_config, "dev", "network", enabled=False, availability_zones=[], cidr="10.41.0.0/20")
    assert load_config(raw).environments["dev"].network.enabled is False


def test_a_missing_network_section_names_it(raw_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_config)
    del raw["environments"]["staging"]["network"]
    with pytest.raises(ConfigError, match="missing required section") as raised:
        load_config(raw)
    assert raised.value.key == f"{ENV}.staging.network"


@pytest.mark.parametrize(
    ("source", "changes", "key", "message"),
    [
        ("crm", {"principal": "crm-team"}, "crm.principal", "names no role or account"),
        ("crm", {"principal": "arn:aws:iam::444444444444:user/etl"}, "crm.principal", "names no role or account"),
        ("crm", {"principal": "*"}, "crm.principal", "names no role or account"),
        ("snowflake", {"external_id": "x"}, "snowflake.external_id", "2-1224 characters"),
        ("snowflake", {"external_id": "has space"}, "snowflake.external_id", "2-1224 characters"),
        ("snowflake", {"bucket": "b"}, "snowflake.bucket", "unknown field"),
    ],
)
def test_bad_producer_stops_synth_naming_the_key(
    raw_config: dict[str, Any], source: str, changes: dict[str, Any], key: str, message: str
) -> None:
    raw = copy.deepcopy(raw_config)
    raw["environments"]["dev"]["producers"][source].update(changes)
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(raw)
    assert raised.value.key == f"{ENV}.dev.producers.{key}"


def test_an_unknown_producer_source_names_the_sources(raw_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_config)
    raw["environments"]["dev"]["producers"]["reference"] = {"principal": "444444444444", "external_id": "abc"}
    with pytest.raises(ConfigError, match="expected one of crm, snowflake") as raised:
        load_config(raw)
    assert raised.value.key == f"{ENV}.dev.producers.reference"
