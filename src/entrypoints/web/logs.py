"""Log lines, each with the id of the request it belongs to; the id also goes back to the
client as X-Request-ID. JSON for machines (production's default), or text for a person at a
terminal (development's): MICROBLOG_LOG_FORMAT chooses. Configured at start by the CLI and
by gunicorn's workers."""

import json
import logging
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# A trusted proxy's id is kept when it looks like one; anything else is replaced.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Fields of a LogRecord that every record has: what is left over was passed as `extra`.
STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in vars(record).items() if k not in STANDARD_FIELDS}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextLines(logging.Formatter):
    """One readable line: time, level, message, request id, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        extras = {k: v for k, v in vars(record).items() if k not in STANDARD_FIELDS}
        request_id = extras.pop("request_id", None)
        line = f"{time} {record.levelname:<7} {record.getMessage()}"
        if request_id:
            line += f"  [request {request_id}]"
        line += "".join(f" {k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


FORMATTERS: dict[str, type[logging.Formatter]] = {"json": JsonLines, "text": TextLines}


class RequestIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """Log lines on stderr for the whole process (once), in `log_format` ("json", "text":
    `entrypoints.settings.configured_log_format`)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, tuple(FORMATTERS.values())) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[log_format]())
    handler.addFilter(RequestIds())
    root.addHandler(handler)
    root.setLevel(level)


def set_up_request_ids(app: Flask, from_proxies: bool = False) -> None:
    """Every request gets an id; the one in X-Request-ID is taken only `from_proxies`, when
    MICROBLOG_TRUSTED_PROXIES says proxies in front set it (a client could forge it)."""

    @app.before_request
    def name_the_request() -> None:
        offered = request.headers.get(REQUEST_ID_HEADER, "") if from_proxies else ""
        g.request_id = offered if ACCEPTED_REQUEST_ID.fullmatch(offered) else secrets.token_hex(16)

    @app.after_request
    def say_its_name(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response
