"""`python -m services.intake`: serve the HTTP API and pages with uvicorn."""

import uvicorn

from services.intake.main import create_app
from shared.log import configure_logging
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings

SERVICE = "intake"


def main() -> None:
    runtime = RuntimeSettings()
    intake = IntakeSettings()
    configure_logging(SERVICE, runtime.log_level)
    app = create_app(intake=intake, kafka=KafkaSettings(), runtime=runtime)
    uvicorn.run(app, host=intake.host, port=intake.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
