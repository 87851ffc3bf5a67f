"""Entry point: python -m services.player"""

from services.common.process import run_service
from services.player.config import PlayerSettings
from services.player.server import build

if __name__ == "__main__":
    run_service("player", PlayerSettings, build)
