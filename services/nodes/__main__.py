"""Entry point: python -m services.nodes"""

from services.common.process import run_service
from services.nodes.config import NodesSettings
from services.nodes.server import build

if __name__ == "__main__":
    run_service("nodes", NodesSettings, build)
