"""The server's log lines for log collectors: `serve --log-format json` writes each
record the server logs (through `logging`: calls cancelled, faults injected,
internal errors, the store's failures, gRPC's and asyncio's own) as one JSON
object on one line of stderr: `time` (ISO 8601, UTC), `level`, `logger`,
`message`, and `exception` (the traceback, as text) when there is one.

The text format (the default) leaves logging as it is: Python's last-resort
handler prints each record's message, warnings and worse, on stderr.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import TextIO

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One record -> one line of JSON (newlines in the message or a traceback escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
                    .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
        return json.dumps(entry)


def configure(log_format: str, stream: TextIO | None = None) -> None:
    """Send every log record of WARNING and worse (what the text format shows too) to
    `stream` (default stderr) as JSON; `text` changes nothing."""
    if log_format == "text":
        return
    if log_format != "json":
        raise ValueError(f"unknown log format {log_format!r}: expected one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)  # configured again (serve run twice in one process): one handler
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # The serve command's own lines (cli.py's `say`), informational ones included.
    logging.getLogger("sdamanager_stub.cli").setLevel(logging.INFO)
