"""Message templates: the placeholders they may use, checking and rendering. Pure."""

from __future__ import annotations

import string

from dmledger.domain.text import MESSAGE_MAX_BYTES, validate_name
from dmledger.errors import InvalidInput

PLACEHOLDERS: tuple[str, ...] = ("handle", "actor", "operator")


def check_template(name: str, text: str) -> tuple[str, str]:
    """The template's name and text as stored; refuses an unknown or malformed placeholder,
    naming it, and a text the cloud cannot hold."""
    clean_name = validate_name(name, "template name")
    if not text.strip():
        raise InvalidInput(f"template {clean_name!r} is empty: give the message text")
    if len(text.encode("utf-8")) > MESSAGE_MAX_BYTES:
        raise InvalidInput(
            f"template {clean_name!r} is longer than {MESSAGE_MAX_BYTES} bytes, the DM limit"
        )
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
    except ValueError as error:
        raise InvalidInput(
            f"template {clean_name!r} has a stray brace ({error}): write {{{{ or }}}} for a "
            f"literal brace; placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        ) from None
    for field in fields:
        if field not in PLACEHOLDERS:
            raise InvalidInput(
                f"template {clean_name!r} uses the unknown placeholder {{{field}}}: "
                f"the placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
    return clean_name, text


def render_template(text: str, *, handle: str, actor: str, operator: str) -> str:
    """The message a template gives for one lead."""
    return text.format(handle=handle, actor=actor, operator=operator)
