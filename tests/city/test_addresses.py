"""A cluster's nodes in one broker URL: ``mqtt://city-1:1883,mqtt://city-2:1883``."""

from __future__ import annotations

import pytest

from drone_patrol.alerts.connection import BrokerAddress, ClientSettings
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.errors import ConfigError


def test_the_first_node_is_the_address_the_rest_fall_back() -> None:
    s = ClientSettings.from_url("mqtt://room@city-1:1883, mqtt://city-2:1884,mqtts://city-3")
    assert s.address == BrokerAddress("city-1", 1883, False, "room") and s.username == "room"
    assert s.fallbacks == (BrokerAddress("city-2", 1884, False), BrokerAddress("city-3", 8883, True))
    assert ClientSettings.from_url("mqtt://one:1883").fallbacks == ()


def test_a_ca_file_makes_every_node_tls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    cfg = AlertsConfig(broker_url="mqtt://city-1:8883,mqtt://city-2:8883", tls_ca_file=ca)
    s = ClientSettings.from_config(cfg)
    assert s.address.tls and all(a.tls for a in s.fallbacks) and len(s.fallbacks) == 1


@pytest.mark.parametrize(
    ("urls", "words"),
    [("mqtt://a:1883,,mqtt://b", "empty entry"), ("mqtt://a:1883,http://b", "expected mqtt://")],
)
def test_a_bad_node_url_is_a_one_line_error(urls: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        ClientSettings.from_url(urls)
    assert "\n" not in str(info.value)
