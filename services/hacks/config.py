"""Hacks service settings (HW_* environment variables)."""

from __future__ import annotations

from services.common.config import BaseServiceSettings


class HacksSettings(BaseServiceSettings):
    pass
