"""Print sheets of member cards: a PDF of CR80 cards (85.6 x 54 mm), ten to a Letter or A4
page, with cut marks (fpdf2).

Each card carries its QR code drawn as vectors (filled rectangles, one per horizontal run of
dark modules of ``passport.qr.qr_matrix``: no image, sharp at any printer resolution), the
names, the home site, the member id and membership, the last valid day and the program's
rule sentence (``rules.benefit_sentence``). The cards sit edge to edge in two columns of five,
centred on the page; marks outside the grid show every cut.

Text is set in DejaVu Sans (or Liberation Sans) when the machine has it, so every name prints
as written; without either, in the PDF's built-in Helvetica, where characters outside
Windows-1252 become ``?`` (``SheetResult.warnings`` says so). ``$PASSPORT_PDF_FONT`` names
another TrueType font (its bold: the same file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy

from passport.qr import BORDER_MODULES, qr_matrix

CARD_W_MM, CARD_H_MM = 85.6, 54.0  # ISO/IEC 7810 ID-1 (CR80)
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
PAPER_MM = {"letter": (215.9, 279.4), "a4": (210.0, 297.0)}
QR_MM = 40.0  # the code with its quiet zone; 0.66 mm a module for a typical card (version 9)
QR_OFFSET_MM = 1.0  # from the card's top-left corner
PAD_MM = 2.5
CUT_MARK_MM = 4.0
CUT_GAP_MM = 1.0
FONT_ENV_VAR = "PASSPORT_PDF_FONT"
FONT_FILES = (  # (regular, bold) TrueType files looked for, in this order
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)


@dataclass(frozen=True)
class PrintCard:
    """What one printed card shows (its payload is drawn as the QR code)."""

    payload: str
    member_id: str
    names: tuple[str, ...]
    expires: date
    party_size: int
    programs: tuple[str, ...] = ("astc",)  # Card.programs


@dataclass
class SheetResult:
    """What ``write_sheets`` wrote."""

    cards: int
    pages: int
    font: str
    warnings: list[str] = field(default_factory=list)


def card_origin(paper: str, index: int) -> tuple[float, float]:
    """Top-left corner (mm from the page's top left) of a page's ``index``-th card, row by
    row: two columns of five, edge to edge, centred on the ``paper``."""
    page_w, page_h = PAPER_MM[paper]
    row, column = divmod(index, COLUMNS)
    return ((page_w - COLUMNS * CARD_W_MM) / 2 + column * CARD_W_MM,
            (page_h - ROWS * CARD_H_MM) / 2 + row * CARD_H_MM)


def _font_files() -> tuple[str, str] | None:
    chosen = os.environ.get(FONT_ENV_VAR)
    if chosen:
        if not Path(chosen).is_file():
            raise FileNotFoundError(f"${FONT_ENV_VAR} names no file: {chosen}")
        return chosen, chosen
    for regular, bold in FONT_FILES:
        if Path(regular).is_file() and Path(bold).is_file():
            return regular, bold
    return None


class _Sheets:
    """An fpdf2 document being filled with cards, ten to a page."""

    def __init__(self, paper: str, home_name: str, benefit: str) -> None:
        from fpdf import FPDF
        from fpdf.enums import RenderStyle

        self.fill = RenderStyle.F  # the enum itself: fpdf2 parses a "F" on every rectangle

        if paper not in PAPER_MM:
            raise ValueError(f"paper must be one of {sorted(PAPER_MM)}, not {paper!r}")
        self.paper = paper
        self.page_w, self.page_h = PAPER_MM[paper]
        self.pdf = FPDF(unit="mm", format=(self.page_w, self.page_h))
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.pdf.set_creator("passport")
        self.pdf.set_title("Passport member cards")
        files = _font_files()
        if files is None:
            self.family, self.unicode = "helvetica", False
        else:
            self.pdf.add_font("card", "", files[0])
            self.pdf.add_font("card", "B", files[1])
            self.family, self.unicode = "card", True
        self.font_name = Path(files[0]).name if files else "Helvetica (built in)"
        self.replaced = 0
        self.grid_x, self.grid_y = card_origin(paper, 0)
        self.home_lines = self._wrap(self.clean(home_name), "B", 7.0, self.text_w, 2)
        self.benefit_lines = self._wrap(self.clean(benefit), "", 5.2,
                                        CARD_W_MM - 2 * PAD_MM, 3)

    @property
    def text_w(self) -> float:
        return CARD_W_MM - QR_MM - PAD_MM - 1.5

    def clean(self, text: str) -> str:
        """``text`` as the font can print it (Helvetica: Windows-1252 only, else ``?``)."""
        if self.unicode:
            return text
        kept = text.encode("cp1252", "replace").decode("cp1252")
        self.replaced += kept.count("?") - text.count("?")
        return kept

    def _wrap(self, text: str, style: str, size_pt: float, width_mm: float,
              max_lines: int) -> list[str]:
        self.pdf.set_font(self.family, style, size_pt)
        lines: list[str] = []
        for word in text.split():
            if lines and self.pdf.get_string_width(f"{lines[-1]} {word}") <= width_mm:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self._fit(lines[-1] + " ...", width_mm)
        return lines

    def _fit(self, text: str, width_mm: float) -> str:
        """``text`` shortened (with "...") to ``width_mm`` in the current font."""
        if self.pdf.get_string_width(text) <= width_mm:
            return text
        while text and self.pdf.get_string_width(text + "...") > width_mm:
            text = text[:-1]
        return text.rstrip() + "..."

    def close(self) -> None:
        """Close the font files (fontTools reads them lazily and keeps them open)."""
        for font in self.pdf.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()

    def add_page(self) -> None:
        self.pdf.add_page()
        self._cut_marks()

    def _cut_marks(self) -> None:
        pdf = self.pdf
        pdf.set_draw_color(90, 90, 90)
        pdf.set_line_width(0.2)
        top, bottom = self.grid_y, self.grid_y + ROWS * CARD_H_MM
        left, right = self.grid_x, self.grid_x + COLUMNS * CARD_W_MM
        for column in range(COLUMNS + 1):
            x = left + column * CARD_W_MM
            pdf.line(x, max(top - CUT_GAP_MM - CUT_MARK_MM, 0.5), x, top - CUT_GAP_MM)
            pdf.line(x, bottom + CUT_GAP_MM, x,
                     min(bottom + CUT_GAP_MM + CUT_MARK_MM, self.page_h - 0.5))
        for row in range(ROWS + 1):
            y = top + row * CARD_H_MM
            pdf.line(max(left - CUT_GAP_MM - CUT_MARK_MM, 0.5), y, left - CUT_GAP_MM, y)
            pdf.line(right + CUT_GAP_MM, y,
                     min(right + CUT_GAP_MM + CUT_MARK_MM, self.page_w - 0.5), y)

    def draw_qr(self, payload: str, x_mm: float, y_mm: float) -> None:
        """The code as filled rectangles, one per horizontal run of dark modules."""
        modules = qr_matrix(payload)
        size = modules.shape[0]
        module_mm = QR_MM / (size + 2 * BORDER_MODULES)
        left = x_mm + BORDER_MODULES * module_mm
        top = y_mm + BORDER_MODULES * module_mm
        edges = numpy.diff(numpy.pad(modules, ((0, 0), (1, 1))).astype(numpy.int8), axis=1)
        starts, ends = numpy.argwhere(edges == 1), numpy.argwhere(edges == -1)
        self.pdf.set_fill_color(0, 0, 0)
        rect, fill = self.pdf.rect, self.fill
        for (row, first), (_, stop) in zip(starts.tolist(), ends.tolist(), strict=True):
            rect(left + first * module_mm, top + row * module_mm,
                 (stop - first) * module_mm, module_mm, style=fill)

    def draw_card(self, card: PrintCard, index: int) -> None:
        x, y = card_origin(self.paper, index)
        self.draw_qr(card.payload, x + QR_OFFSET_MM, y + QR_OFFSET_MM)
        self._draw_text(card, x + QR_MM + 1.5, y + PAD_MM + 1.5)
        pdf = self.pdf
        pdf.set_font(self.family, "", 5.2)
        pdf.set_text_color(60, 60, 60)
        for k, line in enumerate(self.benefit_lines):
            pdf.text(x + PAD_MM, y + QR_MM + 3.8 + k * 2.3, line)

    def _draw_text(self, card: PrintCard, x: float, y: float) -> None:
        pdf, width = self.pdf, self.text_w
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(self.family, "B", 7.0)
        for line in self.home_lines:
            pdf.text(x, y, line)
            y += 3.0
        y += 1.6
        size_pt = 9.0 if len(card.names) <= 2 else 7.5 if len(card.names) <= 4 else 6.0
        pdf.set_font(self.family, "B", size_pt)
        for name in card.names:
            pdf.text(x, y, self._fit(self.clean(name), width))
            y += size_pt * 0.42
        y += 1.2
        pdf.set_font(self.family, "", 6.0)
        membership = "individual" if card.party_size == 1 else \
            f"group, up to {card.party_size} people"
        lines = [self._fit(self.clean(f"Member {card.member_id}"), width),
                 self._fit(membership, width)]
        if card.programs != ("astc",):  # a version 2 card: say which programs it vouches for
            lines.append(self._fit(self.clean(
                "Programs: " + ", ".join(p.upper() for p in card.programs)), width))
        for line in lines:
            pdf.text(x, y, line)
            y += 2.7
        pdf.set_font(self.family, "B", 7.0)
        pdf.text(x, y + 0.6, f"Valid through {_long_date(card.expires)}")


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


def write_sheets(path: str | os.PathLike[str], cards: Iterable[PrintCard] | Sequence[PrintCard],
                 *, home_name: str, benefit: str, paper: str = "letter",
                 progress: Callable[[int], None] | None = None) -> SheetResult:
    """Write the print sheets of ``cards`` to ``path`` (PDF). ``paper``: ``letter`` or
    ``a4``. ``progress(n)`` is called after each card. Example::

        write_sheets("cards.pdf", [PrintCard(payload, "M-1042", ("Ada Lovelace",),
                     date(2027, 6, 30), 1)], home_name="Exploratorium",
                     benefit=rules.benefit_sentence(profile))
    """
    sheets = _Sheets(paper, home_name, benefit)
    count = 0
    try:
        for count, card in enumerate(cards, start=1):
            index = (count - 1) % CARDS_PER_PAGE
            if index == 0:
                sheets.add_page()
            sheets.draw_card(card, index)
            if progress is not None:
                progress(count)
        if count == 0:
            sheets.add_page()  # a valid PDF, with only the cut marks
        sheets.pdf.output(str(path))
    finally:
        sheets.close()
    warnings = []
    if sheets.replaced:
        warnings.append(f"{sheets.replaced} characters of names could not be printed in "
                        "the built-in PDF font and show as '?': install fonts-dejavu-core or "
                        f"set ${FONT_ENV_VAR} to a TrueType font")
    return SheetResult(count, sheets.pdf.pages_count, sheets.font_name, warnings)
