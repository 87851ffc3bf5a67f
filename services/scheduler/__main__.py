"""Entry point: python -m services.scheduler"""

from services.common.process import run_service
from services.scheduler.config import SchedulerSettings
from services.scheduler.server import build

if __name__ == "__main__":
    run_service("scheduler", SchedulerSettings, build)
