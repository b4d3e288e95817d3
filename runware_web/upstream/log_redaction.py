from __future__ import annotations

import logging

from runware_web.upstream.errors import redact


class RedactApiKey(logging.Filter):
    """Belt and braces: no log record may carry the Runware API key."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
