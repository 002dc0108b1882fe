"""Client properties that must never reach results, logs or reports.

Users pass security settings (SASL, SSL) as client properties; results are shared, committed
and published, so anything that looks like a credential is replaced before it is written.
"""

from __future__ import annotations

import re
from typing import Mapping

REDACTED = "[redacted]"
_SECRET = re.compile(r"(password|secret|token|credential|\.key$|\.key\.pem$|keystore\.key|jaas)", re.IGNORECASE)


def is_secret(key: str) -> bool:
    return bool(_SECRET.search(key))


def redact(config: Mapping[str, object]) -> dict[str, object]:
    return {k: (REDACTED if is_secret(k) else v) for k, v in config.items()}
