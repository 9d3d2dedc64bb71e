"""Identifier rules shared by the participant lists, issuer keys and cards.

One home for each pattern, so the importer, the key store and the decision flow accept
exactly the same ids (no domain module imports another for a constant).
"""

from __future__ import annotations

import re

# An institution id on a participant list: a slug of up to 100 characters that starts with
# a letter or digit; ``:`` is allowed for ids namespaced by a program (``narm:123``).
INSTITUTION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")

# An issuer key id: the first 6 bytes of the public key's SHA-256, as 12 lowercase hex digits.
KEY_ID_PATTERN = re.compile(r"[0-9a-f]{12}")


def is_institution_id(value: object) -> bool:
    """True when ``value`` is a string that is a well-formed institution id."""
    return isinstance(value, str) and INSTITUTION_ID_PATTERN.fullmatch(value) is not None


def is_key_id(value: object) -> bool:
    """True when ``value`` is a string that is a well-formed issuer key id."""
    return isinstance(value, str) and KEY_ID_PATTERN.fullmatch(value) is not None


def check_institution_id(institution_id: object) -> str:
    """Return ``institution_id`` or raise ``ValueError`` naming it."""
    if not is_institution_id(institution_id):
        raise ValueError(f"not a valid institution id: {institution_id!r}")
    return institution_id
