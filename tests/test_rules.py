"""Every rule id the project cites is defined in ``docs/reference/rules.md``, so the project explains itself.

A citation, anywhere under ``src/``, ``tests/``, ``docs/``, ``bench/``, ``tools/`` or in ``README.md``, is

- a checklist rule id of OCPP 1.6 (``T-6``, ``SF-10``; ``T_6`` in a test's name) or a 1.6 compliance case
  (``TC_039_CS``, ``TC_042_1``);
- a requirement id (``A04.FR.01``): OCPP 2.0.1 Part 2's, which the 1.6 security whitepaper reuses, so one
  definition serves both; in a list or range (``E05.FR.08/09``, ``L01.FR.28-29``, ``E01.FR.05..07``) each listed
  id and the two ends of a range; ``E01_FR_05`` in a test's name;
- an OCPP 2.0.1 Part 6 test case (``TC_B_01_CS``; ``TC_A_20`` names the station's case, a name ending in
  ``_CSMS`` the CSMS's);
- an OCPP 2.0.1 use case (``B01``), but only where it is written as one: after "use case" or "use cases"
  (``use cases B09, B10``, ``use cases C10 to C12``), or in the ``use_cases`` column of a Markdown table. A bare
  ``B23`` is too often something else (an ABB B23 meter) to count.

The rule-id pattern knows the checklist's prefixes only, and needs a word boundary before the prefix, so
``UTF-8``, ``SHA-256``, ``RS-485``, ``TLS-...`` or an id like ``CP-1`` never look like a rule; what still does
and is no rule is listed in ``NOT_RULES`` with its reason. In OCPP 2.0.1's own files (a path with ``v201`` or
``ocpp201`` in it) a ``C-`` id of two digits, dotted or not, is an optional feature of Part 5 (the authorization
cache, a kind of TriggerMessage), which shares the checklist's spelling, so there it is not read as a rule.
``rules.md`` itself is not scanned for requirement and use case ids: it names them as the sources of its 1.6
rules, whitepaper ranges included, and the whitepaper has a few numbers 2.0.1 has not. Nor is this file: its
ids are examples for the patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

THIS: Final = Path(__file__).resolve()
ROOT: Final = THIS.parent.parent
RULES: Final = ROOT / "docs" / "reference" / "rules.md"
SCANNED: Final = ("src", "tests", "docs", "bench", "tools", "README.md")

_PREFIX: Final = "SF|LG|CT|MV|SC|CC|CS|[ABCDFGKLMQRSTX]"  # the checklist's groups of rules
RULE_ID: Final = re.compile(rf"\b(?:{_PREFIX})-\d+\b")
TEST_NAME: Final = re.compile(r"\btest_\w+")
# The ids a test's name starts with, one after the other: test_MV_1_TC_070_..., test_L_1_TC_042_1_CS_TC_043_1_CS_...,
# test_TC_B_01_CS_..., test_E01_FR_05_...
NAME_ID: Final = re.compile(
    rf"(?P<rule>(?:{_PREFIX})_\d+)(?=_|$)"
    r"|TC_\d{3}(?:_\d)?(?:_CS)?(?=_|$)"
    r"|TC_[A-P]_\d{2,3}_CS(?:MS)?(?=_|$)"
    r"|(?P<requirement>[A-P]\d{2})_FR_(?P<number>\d{2,3})(?=_|$)"
)
# TC_054, TC_042_1_CS, and lists or ranges of them: TC_054/055_CS, TC_046..053_CS, TC_007_1/007_2
TC_CITATION: Final = re.compile(r"(?<![A-Za-z0-9])TC_\d{3}(?:_\d)?(?:(?:/|\.\.)(?:TC_)?\d{3}(?:_\d)?)*")
TC_PART: Final = re.compile(r"(\d{3})(?:_(\d))?")
# TC_B_01_CS, TC_A_20 (the station's case); two or three digits, and a CSMS case ends in _CSMS
TC201_CITATION: Final = re.compile(r"(?<![A-Za-z0-9])TC_[A-P]_\d{2,3}(?:_CSMS|_CS)?(?![A-Za-z0-9])")
# A04.FR.01, and the ends of a range or the items of a list: A04.FR.01..04, L01.FR.28-29, E05.FR.08/09
FR_CITATION: Final = re.compile(r"(?<![A-Za-z0-9])([A-Z]\d{2}\.FR\.)(\d{2,3}(?:(?:-|\N{EN DASH}|\.\.|/)\d{2,3})*)")
FR_NUMBER: Final = re.compile(r"\d{2,3}")
# use case B01, use cases B09, B10, use cases C10 to C12, use case E01(S3), Use cases A02/A03 and A05
USE_CASE_CITATION: Final = re.compile(
    r"\buse[ -]cases? ((?:[A-P]\d{2}\b(?:\(S\d+\))?(?:, | and | or | to |/| & )?)+)", re.IGNORECASE
)
USE_CASE: Final = re.compile(r"\b[A-P]\d{2}\b")
USE_CASE_COLUMN: Final = "use_cases"
PART5_FEATURE: Final = re.compile(r"\bC-\d{2}(?:\.(?:\d+|x))?\b")  # Part 5's optional features
ANCHOR: Final = re.compile(r'<a id="([^"]+)"></a>([^ |]+)')

NOT_RULES: Final = {
    "T-600": "tests/station/test_schedule.py: a moment, 600 s before the schedule starts",
}


def scanned_files() -> Iterator[Path]:
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            skipped = file == THIS or any(part == "__pycache__" or part.endswith(".egg-info") for part in file.parts)
            if file.is_file() and not skipped:
                yield file


def is_ocpp201(file: Path) -> bool:
    return any("v201" in part or "ocpp201" in part for part in file.relative_to(ROOT).parts)


def use_case_column(text: str) -> Iterator[str]:
    """The cells of every Markdown table column headed ``use_cases`` (ocpp201-test-cases.md's)."""
    column = None
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            column = None
        elif USE_CASE_COLUMN in cells:
            column = cells.index(USE_CASE_COLUMN)
        elif column is not None and column < len(cells):
            yield cells[column]


def ids_in(text: str, file: Path) -> Iterator[str]:
    """The ids ``text`` cites, read as the contents of ``file``."""
    yield from RULE_ID.findall(PART5_FEATURE.sub("", text) if is_ocpp201(file) else text)
    for name in TEST_NAME.findall(text):
        rest = name.removeprefix("test_")
        while match := NAME_ID.match(rest):
            if match["rule"]:
                yield match["rule"].replace("_", "-")
            elif match["requirement"]:
                yield f"{match['requirement']}.FR.{match['number']}"
            rest = rest[match.end() + 1 :]
    for citation in TC_CITATION.findall(text):
        for number, sub in TC_PART.findall(citation):
            yield f"TC_{number}_{sub}" if sub else f"TC_{number}"
    yield from TC201_CITATION.findall(text)
    if file == RULES:  # rules.md names requirements and use cases as the sources of its rules
        return
    for head, numbers in FR_CITATION.findall(text):
        yield from (head + number for number in FR_NUMBER.findall(numbers))
    for cases in USE_CASE_CITATION.findall(text):
        yield from USE_CASE.findall(cases)
    if file.suffix == ".md":
        for cell in use_case_column(text):
            yield from USE_CASE.findall(cell)


def citations() -> dict[str, set[str]]:
    """Every id cited, with the files citing it."""
    found: dict[str, set[str]] = {}
    for file in scanned_files():
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file cites nothing
        for rule in ids_in(text, file):
            found.setdefault(rule, set()).add(str(file.relative_to(ROOT)))
    return found


def defined() -> list[str]:
    return [anchor for anchor, _shown in ANCHOR.findall(RULES.read_text(encoding="utf-8"))]


def is_defined(rule: str, ids: set[str]) -> bool:
    if rule.startswith("TC_") and rule.count("_") == 1:  # a case family: TC_048 is TC_048_1_CS .. TC_048_4_CS
        return any(i == f"{rule}_CS" or i.startswith(f"{rule}_") for i in ids)
    if rule.startswith("TC_") and not rule.endswith(("_CS", "_CSMS")):  # TC_042_1, TC_A_20: the station's case
        return f"{rule}_CS" in ids
    return rule in ids


def test_every_cited_rule_id_is_defined_in_rules_md() -> None:
    ids = set(defined())
    undefined = {
        rule: sorted(files)
        for rule, files in sorted(citations().items())
        if rule not in NOT_RULES and not is_defined(rule, ids)
    }
    assert undefined == {}, f"cited but not defined in {RULES.relative_to(ROOT)}: {undefined}"


def test_each_rule_is_defined_once_under_its_own_name() -> None:
    anchors = ANCHOR.findall(RULES.read_text(encoding="utf-8"))
    assert [anchor for anchor, shown in anchors if anchor != shown] == []
    names = [anchor for anchor, _shown in anchors]
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_the_exclusions_are_still_needed() -> None:
    """An exclusion that nothing matches any more would hide a real citation later."""
    found = citations()
    assert [rule for rule in NOT_RULES if rule not in found] == []


def test_the_pattern_skips_what_is_no_rule_id() -> None:
    text = "UTF-8, SHA-256, RS-485, RFC-6455, ISO-8601, TLS-1, CP-1, TAG-2, SN-42, P-256, A00-1x"
    assert RULE_ID.findall(text) == []
    assert RULE_ID.findall("T-6, SF-10 and MV-1; (Q-2)") == ["T-6", "SF-10", "MV-1", "Q-2"]


def test_the_2_0_1_patterns_find_what_is_cited_and_nothing_else() -> None:
    doc = ROOT / "docs" / "topics" / "any.md"
    text = (
        "TC_B_01_CS, TC_A_20 and TC_E_04_CSMS; not TC_<block>_<nn>_CS nor TC_[A-P]_\\d\\d_CS. "
        "B09.FR.02/04/05, E01.FR.05..07, L01.FR.28-29, A00.FR.202\N{EN DASH}205. "
        "An ABB B23/B24 meter, RS-485 (B01 to B03), but use cases B09, B10 and C12 when offered, use case E01(S3)."
    )
    assert list(ids_in(text, doc)) == [
        "TC_B_01_CS", "TC_A_20", "TC_E_04_CSMS",
        "B09.FR.02", "B09.FR.04", "B09.FR.05", "E01.FR.05", "E01.FR.07", "L01.FR.28", "L01.FR.29",
        "A00.FR.202", "A00.FR.205",
        "B09", "B10", "C12", "E01",
    ]  # fmt: skip
    assert list(ids_in("def test_TC_B_01_CS_E01_FR_05_T_6_boots() -> None:", ROOT / "tests" / "t.py")) == [
        "E01.FR.05", "T-6", "TC_B_01_CS"
    ]  # fmt: skip
    table = "| id | use_cases | condition |\n|---|---|---|\n| TC_C_02_CS | C01 OR C04 | C-30 or C-49 |\n\nC-9 and B23"
    assert sorted(ids_in(table, ROOT / "docs" / "reference" / "ocpp201-test-cases.md")) == [
        "C-9", "C01", "C04", "TC_C_02_CS"
    ]  # fmt: skip
    assert sorted(ids_in(table, doc)) == ["C-30", "C-49", "C-9", "C01", "C04", "TC_C_02_CS"]
    ids = {"TC_A_20_CS", "TC_042_1_CS", "E01.FR.05", "E01"}
    assert [is_defined(i, ids) for i in ("TC_A_20", "TC_A_20_CS", "TC_A_20_CSMS", "E01.FR.05", "E01.FR.06", "E02")] == [
        True, True, False, True, False, False
    ]  # fmt: skip
