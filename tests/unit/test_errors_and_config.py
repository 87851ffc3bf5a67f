"""The error table, settings from the environment and the JSON log lines."""

from __future__ import annotations

import importlib
import io
import json
import logging
import pkgutil

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider

import services
from services.common.config import BaseServiceSettings, ConfigError, load_settings
from services.common.errors import STATUS_BY_ERROR, ServiceError, status_for
from services.common.logs import configure_logging


def all_error_classes() -> list[type[ServiceError]]:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if module.name.endswith(".errors"):
            importlib.import_module(module.name)
    found: list[type[ServiceError]] = []
    pending = [ServiceError]
    while pending:
        cls = pending.pop()
        found.extend(cls.__subclasses__())
        pending.extend(cls.__subclasses__())
    return found


def test_every_service_error_maps_to_a_status_other_than_internal():
    classes = all_error_classes()

    assert len(classes) > len(STATUS_BY_ERROR)
    for cls in classes:
        assert status_for(cls("x")) != grpc.StatusCode.INTERNAL, cls


def test_a_subclass_takes_its_parents_status():
    from services.player.errors import InsufficientCredits, UsernameTaken

    assert status_for(UsernameTaken("x")) == grpc.StatusCode.ALREADY_EXISTS
    assert status_for(InsufficientCredits("x")) == grpc.StatusCode.FAILED_PRECONDITION


def test_a_missing_variable_is_named_at_start_up(monkeypatch):
    monkeypatch.delenv("HW_DATABASE_URL", raising=False)

    with pytest.raises(ConfigError, match="HW_DATABASE_URL"):
        load_settings(BaseServiceSettings)


def test_a_malformed_variable_is_named_at_start_up(monkeypatch):
    monkeypatch.setenv("HW_DATABASE_URL", "postgresql://x@127.0.0.1/db")
    monkeypatch.setenv("HW_GRPC_PORT", "fifty")

    with pytest.raises(ConfigError, match="HW_GRPC_PORT"):
        load_settings(BaseServiceSettings)


def test_settings_cannot_change_after_start_up(monkeypatch):
    monkeypatch.setenv("HW_DATABASE_URL", "postgresql://x@127.0.0.1/db")
    settings = load_settings(BaseServiceSettings)

    with pytest.raises(ValueError, match="frozen"):
        settings.grpc_port = 1


def test_log_lines_are_json_with_service_and_trace_id(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("player", "INFO")
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("work") as span:
            logging.getLogger("test").info("spent", extra={"amount": 5})
        trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "spent"
    assert line["service"] == "player"
    assert line["trace_id"] == trace_id
    assert line["amount"] == 5
    assert line["level"] == "INFO"
