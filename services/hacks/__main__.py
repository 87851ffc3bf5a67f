"""Entry point: python -m services.hacks"""

from services.common.process import run_service
from services.hacks.config import HacksSettings
from services.hacks.server import build

if __name__ == "__main__":
    run_service("hacks", HacksSettings, build)
