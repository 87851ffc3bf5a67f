"""Gateway settings: defaults, and start-up errors that name the variable."""

from __future__ import annotations

import pytest

from gateway.config import GatewaySettings
from services.common.config import ConfigError, load_settings


@pytest.fixture
def clean_environment(monkeypatch):
    for name in GatewaySettings.model_fields:
        monkeypatch.delenv(f"HW_{name.upper()}", raising=False)
    return monkeypatch


def test_defaults_point_at_the_local_services(clean_environment):
    settings = load_settings(GatewaySettings)

    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.address_of("player") == "127.0.0.1:50051"
    assert settings.address_of("nodes") == "127.0.0.1:50052"
    assert settings.address_of("hacks") == "127.0.0.1:50053"
    assert settings.backend_timeout == 2.0
    assert settings.required_backends == ("player", "nodes")
    assert settings.max_body_bytes == 16384


def test_settings_are_read_from_hw_variables(clean_environment):
    clean_environment.setenv("HW_HTTP_PORT", "9000")
    clean_environment.setenv("HW_REQUIRED_BACKENDS", '["player"]')

    settings = load_settings(GatewaySettings)

    assert settings.http_port == 9000
    assert settings.required_backends == ("player",)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HW_HTTP_PORT", "eighty"),
        ("HW_BACKEND_TIMEOUT", "soon"),
        ("HW_REQUIRED_BACKENDS", '["player", "bank"]'),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(
    clean_environment, variable, value
):
    clean_environment.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        load_settings(GatewaySettings)


def test_settings_cannot_change_once_read(clean_environment):
    settings = load_settings(GatewaySettings)

    with pytest.raises(ValueError, match="frozen"):
        settings.http_port = 1
