"""The language of the sentences the domain writes for members (the planner's reasons and
answers, ``rules.MEMBER_TEXT``, distances): English unless a caller passes other ``Words``.

The domain never imports Flask or a catalogue: the kiosk builds ``Words`` from its own
(Flask-Babel's translations of the request's language and that language's decimal mark) and
passes them in. Every English text the domain translates is a literal inside a call named
``gettext`` or ``N_``, so that ``pybabel extract`` finds it (``babel.cfg``); placeholders are
``%(name)s``, as in the kiosk's templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def N_(text: str) -> str:
    """Marks ``text`` for the catalogues (``pybabel extract`` reads it) and returns it as is:
    translated later, where it is shown."""
    return text


def _english(text: str) -> str:
    return text


@dataclass(frozen=True)
class Words:
    """``gettext``: English text in, the member's language out; ``decimal_mark``: what
    stands between a number's whole and decimal part (``62.3``, ``62,3``)."""

    gettext: Callable[[str], str] = _english
    decimal_mark: str = "."

    def number(self, text: str) -> str:
        """A number written with ``.`` (``format_miles``'s output) in this language."""
        return text.replace(".", self.decimal_mark) if self.decimal_mark != "." else text


ENGLISH = Words()
