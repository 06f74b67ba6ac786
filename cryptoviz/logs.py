"""Logging: one JSON object per line for log collectors, or the human format on a terminal.

`[log] format = "auto"` picks JSON when stderr is not a terminal (a service, a container,
`2>file`) and text when it is. The same `logging.config` dictionary configures this
process, granian's main process and its worker (granian takes it as `log_dictconfig`),
so every line on stderr, granian's own included, has one format.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import msgspec

from cryptoviz.config import LogConfig

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
GRANIAN_LOGGERS = ("_granian", "granian.access")
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
"""Attributes every record has; any other one came from `extra=` and goes into the JSON."""


def chosen_format(log: LogConfig, stream: TextIO) -> Literal["json", "text"]:
    """`auto`: text on a terminal, JSON anywhere else."""
    if log.format != "auto":
        return log.format
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # closed or replaced by something without a tty
        return "json"


def _fallback(value: Any) -> str:
    return str(value)


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message"}`, plus `exception` and `stack` when present and
    every `extra` field; values JSON cannot hold are written as their `str`."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=_fallback)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        try:
            return self._encoder.encode(entry).decode()
        except (TypeError, ValueError, OverflowError):  # a key that is not a string, say
            return self._encoder.encode({k: str(v) for k, v in entry.items()}).decode()


def dict_config(log: LogConfig, stream: TextIO | None = None) -> dict[str, Any]:
    """The `logging.config.dictConfig` for this process and granian's: one stderr handler on
    the root logger, granian's loggers propagating to it."""
    stream = sys.stderr if stream is None else stream
    json = chosen_format(log, stream) == "json"
    formatter: dict[str, Any] = {"()": f"{__name__}.JsonFormatter"} if json else {"format": TEXT_FORMAT}
    level = log.level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cryptoviz": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "cryptoviz",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {name: {"level": level, "handlers": [], "propagate": True} for name in GRANIAN_LOGGERS},
    }


def setup_logging(log: LogConfig) -> None:
    """Configure this process; warnings go through logging too, so they share the format."""
    logging.config.dictConfig(dict_config(log))
    logging.captureWarnings(True)
