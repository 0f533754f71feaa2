"""Run a Faust app as a worker process with Haven's logging, not Faust's banner and colours."""

from __future__ import annotations

import faust

from shared.log import configure_logging


def run_worker(app: faust.App, *, service: str, log_level: str) -> None:
    """Block until SIGINT/SIGTERM; Faust commits processed offsets on the way out."""
    configure_logging(service, log_level)
    worker = faust.Worker(
        app, loglevel=log_level, override_logging=False, redirect_stdouts=False, quiet=True,
    )
    worker.execute_from_commandline()
