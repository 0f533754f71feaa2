"""`python -m services.matching`: run one matching worker (run more to scale out)."""

from services.matching.app import SERVICE, create_app
from shared.settings import KafkaSettings, RuntimeSettings, WorkerSettings
from shared.worker import run_worker


def main() -> None:
    runtime = RuntimeSettings()
    app = create_app(kafka=KafkaSettings(), runtime=runtime, worker=WorkerSettings())
    run_worker(app, service=SERVICE, log_level=runtime.log_level)


if __name__ == "__main__":
    main()
