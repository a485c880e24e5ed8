"""Every rule id the project cites is defined in ``docs/reference/rules.md``, so the project explains itself.

A citation is a checklist rule id (``T-6``, ``SF-10``; ``T_6`` in a test's name), a compliance case
(``TC_039_CS``, ``TC_042_1``) or a security whitepaper requirement (``A04.FR.01``, ``L01.FR.28-29``) anywhere
under ``src/``, ``tests/``, ``docs/``, ``bench/``, ``tools/`` or in ``README.md``. The rule-id pattern knows
the checklist's prefixes only, and needs a word boundary before the prefix, so ``UTF-8``, ``SHA-256``,
``RS-485``, ``TLS-...`` or an id like ``CP-1`` never look like a rule; what still does and is no rule is listed
in ``NOT_RULES`` with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
RULES: Final = ROOT / "docs" / "reference" / "rules.md"
SCANNED: Final = ("src", "tests", "docs", "bench", "tools", "README.md")

_PREFIX: Final = "SF|LG|CT|MV|SC|CC|CS|[ABCDFGKLMQRSTX]"  # the checklist's groups of rules
RULE_ID: Final = re.compile(rf"\b(?:{_PREFIX})-\d+\b")
TEST_NAME: Final = re.compile(r"\btest_\w+")
# The ids a test's name starts with, one after the other: test_MV_1_TC_070_..., test_L_1_TC_042_1_CS_TC_043_1_CS_...
NAME_ID: Final = re.compile(rf"(?:(?:{_PREFIX})_\d+|TC_\d{{3}}(?:_\d)?(?:_CS)?)(?=_|$)")
# TC_054, TC_042_1_CS, and lists or ranges of them: TC_054/055_CS, TC_046..053_CS, TC_007_1/007_2
TC_CITATION: Final = re.compile(r"(?<![A-Za-z0-9])TC_\d{3}(?:_\d)?(?:(?:/|\.\.)(?:TC_)?\d{3}(?:_\d)?)*")
TC_PART: Final = re.compile(r"(\d{3})(?:_(\d))?")
# A04.FR.01, and the ends of a list or range: A04.FR.01..04, L01.FR.28-29
WP_CITATION: Final = re.compile(r"(?<![A-Za-z0-9])([A-Z]\d{2}\.FR\.)(\d{2,3})((?:(?:-|\N{EN DASH}|\.\.)\d{2,3})?)")
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
            if file.is_file() and not any(part == "__pycache__" or part.endswith(".egg-info") for part in file.parts):
                yield file


def citations() -> dict[str, set[str]]:
    """Every id cited, with the files citing it."""
    found: dict[str, set[str]] = {}

    def cite(rule: str, file: Path) -> None:
        found.setdefault(rule, set()).add(str(file.relative_to(ROOT)))

    for file in scanned_files():
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file cites nothing
        for rule in RULE_ID.findall(text):
            cite(rule, file)
        for name in TEST_NAME.findall(text):
            rest = name.removeprefix("test_")
            while match := NAME_ID.match(rest):
                if not match.group().startswith("TC_"):
                    cite(match.group().replace("_", "-"), file)
                rest = rest[match.end() + 1 :]
        for citation in TC_CITATION.findall(text):
            for number, sub in TC_PART.findall(citation):
                cite(f"TC_{number}_{sub}" if sub else f"TC_{number}", file)
        if file != RULES:  # rules.md names whitepaper requirements as the sources of its rules
            for head, first, last in WP_CITATION.findall(text):
                cite(head + first, file)
                if last:
                    cite(head + last.lstrip("-.\N{EN DASH}"), file)
    return found


def defined() -> list[str]:
    return [anchor for anchor, _shown in ANCHOR.findall(RULES.read_text(encoding="utf-8"))]


def is_defined(rule: str, ids: set[str]) -> bool:
    if rule.startswith("TC_") and rule.count("_") == 1:  # a case family: TC_048 is TC_048_1_CS .. TC_048_4_CS
        return any(i == f"{rule}_CS" or i.startswith(f"{rule}_") for i in ids)
    if rule.startswith("TC_") and not rule.endswith("_CS"):
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
