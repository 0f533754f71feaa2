"""Which organizations want to hear from Haven, and how: the subscriptions file.

The directory events carry no endpoints or secrets (they are signed, not sealed,
and every service reads them), so webhook URLs, webhook secrets and e-mail
addresses of organizations live in one JSON file next to the notifier (mode 0600):

    {"organizations": [{"organization_id": "...", "name": "...", "language": "nl",
      "email": "intake@example.org", "webhook_url": "https://...",
      "webhook_secret": "...", "inbox": true}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.notifier.model import Endpoints


@dataclass
class Subscriptions:
    """Endpoints by organization id, and webhook secrets by URL."""

    endpoints: dict[str, Endpoints] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Subscriptions:
        """Read the file; a missing file means nobody subscribed yet, so no organization
        hears anything, not even by inbox (`make up` writes one for the demo network)."""
        if not path.exists():
            return cls()
        return cls.parse(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def parse(cls, document: dict[str, Any]) -> Subscriptions:
        found = cls()
        for item in document.get("organizations", []):
            endpoints = Endpoints(
                organization_id=str(item["organization_id"]), name=str(item["name"]),
                language=str(item.get("language", "en")), email=item.get("email"),
                webhook_url=item.get("webhook_url"), inbox=bool(item.get("inbox", True)))
            if endpoints.webhook_url:
                if urlsplit(endpoints.webhook_url).scheme not in ("http", "https"):
                    raise ValueError(f"webhook of {endpoints.organization_id} is not http(s)")
                if not item.get("webhook_secret"):
                    raise ValueError(f"webhook of {endpoints.organization_id} has no secret")
                found.secrets[endpoints.webhook_url] = str(item["webhook_secret"]).encode()
            found.endpoints[endpoints.organization_id] = endpoints
        return found

    def secret_for(self, url: str) -> bytes:
        """The HMAC secret for a webhook URL (every webhook has one: checked at load)."""
        return self.secrets[url]
