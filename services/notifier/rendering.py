"""Words from editable templates: one jinja2 file per message and language, a block per channel.

A template sees only the fields its audience may see. Survivor templates may use
`sender` (their cover story) and `organization` (only when they allowed naming
it); `check_templates` refuses any template that reaches for another name, so a
template edit cannot put a personal field into a message. Rendering is strict:
a name a template uses but the consent did not provide is an error, not a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta

from shared.events import PlannedNotification

TEMPLATES = Path(__file__).resolve().parent / "templates"
SURVIVOR_FIELDS = frozenset({"sender", "organization"})
STAFF_FIELDS = frozenset({"organization", "expires_at", "link", "urgency", "needs", "reason",
                          "confirmed_at", "reference"})
# Never a template variable, whatever the audience: identity and contact details.
PERSONAL_FIELDS = frozenset({"name", "display_name", "phone", "email", "address", "notes",
                             "contact", "story", "date_of_birth", "location"})
BLOCKS = ("subject", "body", "sms")


@dataclass(frozen=True)
class Rendered:
    """A message ready for a channel: a subject line (may be empty) and the text."""

    subject: str
    text: str


def allowed_fields(audience: str) -> frozenset[str]:
    """The names a template for this audience may use."""
    return SURVIVOR_FIELDS if audience == "survivor" else STAFF_FIELDS


class Renderer:
    """Renders planned notifications from the template folder (read once, cached by jinja)."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self._env = _environment(folder)

    def render(self, notification: PlannedNotification) -> Rendered:
        """Subject and text for the notification's channel, from the allowed fields only."""
        allowed = allowed_fields(notification.audience)
        context = {k: v for k, v in notification.fields.items() if k in allowed}
        template = self._env.get_template(f"{notification.language}/{notification.template}.j2")
        made = template.new_context(context)
        blocks = template.blocks
        text_block = "sms" if notification.channel == "sms" and "sms" in blocks else "body"
        subject = "".join(blocks["subject"](made)).strip() if "subject" in blocks else ""
        return Rendered(subject=subject, text="".join(blocks[text_block](made)).strip())


def check_templates(folder: Path = TEMPLATES) -> list[str]:
    """Every problem with the template files, as readable lines; empty when all is well."""
    env = _environment(folder)
    problems = []
    for path in sorted(folder.glob("*/*.j2")):
        name = f"{path.parent.name}/{path.name}"
        audience = "survivor" if path.name.startswith("survivor_") else "staff"
        source = path.read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(env.parse(source))
        for field in sorted(used & PERSONAL_FIELDS):
            problems.append(f"{name}: uses the personal field {field!r}")
        for field in sorted(used - allowed_fields(audience) - PERSONAL_FIELDS):
            problems.append(f"{name}: uses {field!r}, not allowed for {audience} messages")
        if "body" not in env.get_template(name).blocks:
            problems.append(f"{name}: has no body block")
    return problems


def _environment(folder: Path) -> Environment:
    # Plain text, not HTML: nothing to escape; StrictUndefined turns a missing field into an error.
    return Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                       autoescape=False, keep_trailing_newline=False)
