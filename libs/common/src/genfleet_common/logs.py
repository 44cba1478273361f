"""Structured logging: one logger per component, JSON lines or readable text."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

ROOT = "genfleet"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is data.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "component": record.name.removeprefix(f"{ROOT}."),
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = (
            f"{record.levelname[0]} {record.name.removeprefix(ROOT + '.')}: {record.getMessage()}"
        )
        line = f"{line}  {extras}" if extras else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def get_logger(component: str) -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{component}")


def setup_logging(
    level: str = "INFO", *, json_lines: bool = False, log_dir: str = "", service: str = "genfleet"
) -> None:
    """Configure the genfleet loggers once per process: stderr, plus a file in `log_dir`."""
    root = logging.getLogger(ROOT)
    root.setLevel(level.upper())
    root.handlers.clear()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.addHandler(stderr)
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(Path(log_dir) / f"{service}.log")
        file.setFormatter(JsonFormatter())
        root.addHandler(file)
    root.propagate = False
