"""Structured JSON log lines for every process, including Faust's and uvicorn's own loggers.

Log calls pass ids, codes and counts as fields; payloads are never logged. The
canary tests read these lines back to prove it.
"""

from __future__ import annotations

import logging
import sys

import structlog

_EXTRA_FIELDS = ("topic", "partition", "offset", "reason", "event_type", "event_id", "service")


def _copy_stdlib_extras(
    logger: object, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    record = event_dict.get("_record")
    if record is not None:
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                event_dict[name] = getattr(record, name)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON object per line on stderr, tagged with the service name."""
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _copy_stdlib_extras,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
