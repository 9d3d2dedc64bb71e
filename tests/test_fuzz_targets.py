"""The fuzz targets of tests/fuzz/targets.py, short and repeatable (``make fuzz`` runs them
under atheris for minutes): the seeds, every input atheris found that once escaped (in
tests/fuzz/regressions/), and a fixed number of mutations from a fixed random seed. A
target raises ``Escaped`` when an entry point answers outside what it documents."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fuzz import targets

from passport import cards

REGRESSIONS = Path(__file__).parent / "fuzz" / "regressions"
# Mutations per target: a few seconds in all on a 2-core machine.
MUTATIONS = {"cards": 4000, "lists": 300}
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, ord("\n"), ord(","), ord('"'), ord("<"))


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """One libFuzzer-style mutation: flip, set, insert, erase, repeat or splice bytes. The
    first byte (the input's mode) is mutated like the rest."""
    buf = bytearray(data)
    at = rng.randrange(len(buf) + 1)
    kind = rng.randrange(6)
    if kind == 0 and buf:
        buf[at % len(buf)] ^= 1 << rng.randrange(8)
    elif kind == 1 and buf:
        buf[at % len(buf)] = rng.choice(INTERESTING)
    elif kind == 2:
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 3:
        del buf[at:at + rng.randint(1, 64)]
    elif kind == 4:
        buf[at:at] = buf[at:at + rng.randint(1, 32)] * rng.randint(2, 16)
    else:
        other = rng.choice(others)
        cut = rng.randrange(len(other) + 1)
        buf = buf[:at] + other[cut:cut + rng.randint(1, 256)]
    return bytes(buf)


def regressions(name: str) -> list[Path]:
    return sorted((REGRESSIONS / name).glob("*")) if (REGRESSIONS / name).is_dir() else []


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_seeds_pass(name):
    target, seeds = targets.TARGETS[name]
    for seed in seeds():
        target(seed)


@pytest.mark.parametrize("path", regressions("lists") + regressions("cards"),
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_found_inputs_stay_fixed(path):
    """Each input that atheris found escaping now ends in a documented answer."""
    targets.TARGETS[path.parent.name][0](path.read_bytes())


def test_found_workbooks_are_refused_clearly():
    """The workbooks that once crashed the importer are a one-line file error now."""
    from passport import importer

    for path in regressions("lists"):
        content, filename = targets.list_input(path.read_bytes())
        with pytest.raises(importer.ListValidationError) as caught:
            importer.parse_bytes(content, filename)
        assert str(caught.value) == "file: the file is not a readable Excel .xlsx workbook"


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_mutations_end_in_documented_answers(name):
    target, seeds = targets.TARGETS[name]
    corpus = seeds()
    rng = random.Random(15)  # the number: the same inputs on every run
    for _ in range(MUTATIONS[name]):
        data = rng.choice(corpus)
        for _ in range(rng.randint(1, 4)):
            data = mutate(data, corpus, rng)
        target(data)


def test_no_single_character_change_forges_a_card():
    """Every one-character change of a genuine payload, to any other base32 digit, is
    refused: the strict decoding makes each one a change to the signed bytes."""
    trust, revoked = targets.card_trust()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    tried = 0
    for payload in targets.card_payloads()[0]:
        assert cards.verify_with_trust(payload, trust, targets.VISIT_DAY, revoked).valid
        for at in range(len(cards.PREFIX), len(payload)):
            for digit in alphabet.replace(payload[at], ""):
                forged = payload[:at] + digit + payload[at + 1:]
                check = cards.verify_with_trust(forged, trust, targets.VISIT_DAY, revoked)
                assert not check.valid, forged
                tried += 1
    assert tried > 5000
