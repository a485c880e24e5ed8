"""Every command block of README.md and docs/ is run, so that a documented step can no longer rot.

The convention (docs/topics/design.md, "Documented commands"), for whoever adds a block:

- A fenced block tagged ``sh``, ``bash`` or ``console`` is a command block, and it is run as written. ``sh`` and
  ``bash`` blocks are scripts; in a ``console`` block the lines starting with ``$ `` are the commands and the lines
  after each are what it prints. Any other tag (``toml``, ``python``, ``json``, ``text``) is not a command; an
  untagged block must not hold one.
- ``<!-- not run: REASON -->`` on the line right before a block: it is not run (real hardware, a ``wss://`` server
  with a real certificate, the test suite itself, minutes of work), and REASON says why, naming the test that
  covers it where there is one. A block is either run or marked so: a bare one fails this module.
- ``<!-- run with the block above -->``: the block goes on from the one above (a walkthrough): one script.
- ``<!-- exit status: N -->``: the block ends in a documented error, with exit status N (0 otherwise).
- ``<!-- bound: N -->`` on the first block of a run: its chargebox commands run at most N seconds before their
  SIGTERM, not ``BOUND`` (a walkthrough whose servers must outlive several steps).
- Output: in a ``sh`` block, a comment line holding JSON (``# {"result": ...}``) is the output of the command above
  it; in a ``console`` block, every line that is not a command. ``…`` stands for anything. Each must appear in
  what the block printed, in order.

How a block runs: in a network, mount and pid namespace of its own (``unshare``), so its fixed ports (9000, 9001,
8080) meet no other test's and the harness signals its processes only, with loopback up and ``csms.example`` and
``csms.test`` naming 127.0.0.1; in a fresh directory holding the files the docs' commands read (``FIXTURES``); with
``chargebox`` on the PATH, each run bounded by ``timeout`` (SIGTERM after ``BOUND`` seconds: a server or a station
stops cleanly, exit 0); with ``curl`` retrying until the server it asks is up. Each ``ws://`` port a block connects
to has a built-in ``chargebox csms`` listening, unless the block starts its own, and every station a block simulates
against it must have booted there. A block's background jobs (``&``) must end with exit 0 too.

The SIGTERM comes sooner when nothing is left to wait for (the bound is a ceiling, not a pause): a station the block
runs in the foreground against a harness central system gets it once it has booted there and reported its statuses;
every command still running gets it once the block's steps have run, everything it must print is printed and each of
its harness stations has booted and reported its statuses.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
COMMAND_TAGS = frozenset({"sh", "bash", "console"})
BOUND = 8  # seconds a chargebox command of a block runs before its SIGTERM
HOSTS = "127.0.0.1 localhost csms.example csms.test\n::1 localhost\n"
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(not run|run with the block above|exit status|bound)\s*:?\s*(.*?)\s*-->\s*$")
CSMS_URL = re.compile(r"wss?://(?:127\.0\.0\.1|localhost|csms\.example|csms\.test):(\d+)")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    tag: str
    text: str
    markers: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, with the markers on the lines right before it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, tag = opening.groups()
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[index + 1 : end]]
        markers: dict[str, str] = {}
        before = index - 1
        while before >= 0 and (marker := MARKER.match(lines[before])):
            markers[marker.group(1)] = marker.group(2)
            before -= 1
        found.append(Block(path, index + 1, tag, "\n".join(body) + "\n", markers))
        index = end + 1
    return found


ALL_BLOCKS = [block for path in DOCS for block in blocks(path)]
COMMAND_BLOCKS = [block for block in ALL_BLOCKS if block.tag in COMMAND_TAGS]


def runnable() -> list[list[Block]]:
    """The command blocks to run, a walkthrough's blocks joined into one run."""
    runs: list[list[Block]] = []
    for block in COMMAND_BLOCKS:
        if "not run" in block.markers:
            continue
        if "run with the block above" in block.markers:
            runs[-1].append(block)
        else:
            runs.append([block])
    return runs


# -- the files the documented commands read --------------------------------------------------------------------


def _toml_block(page: str, after: str) -> str:
    """The first ``toml`` block of ``page`` after the text ``after``: the docs' own example file."""
    [block] = [b for b in ALL_BLOCKS if b.path == ROOT / page and b.tag == "toml" and b.line > _line_of(page, after)][
        :1
    ]
    return block.text


def _line_of(page: str, text: str) -> int:
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def fixtures() -> dict[str, str]:
    """What the docs' commands read, as the docs describe it: ``wallbox.toml`` and ``fleet-plan.toml`` are the docs'
    own examples; ``station.toml`` is integrate.md's complete file with the mistake its error line names."""
    station = _toml_block("docs/howto/integrate.md", "A complete file")
    meter = station.index("[hardware.meter]")
    station = station[:meter] + station[meter:].replace("unit_id = 1 ", "unit_id = 0 ", 1)
    return {
        "cp-1.key": "0123456789abcdef0123456789abcdef01234567\n",
        "wallbox.toml": _toml_block("README.md", "A template (`--template`)"),
        "fleet-plan.toml": _toml_block("README.md", "A plan (`--plan`)"),
        "station.toml": station,
    }


# -- running a block -----------------------------------------------------------------------------------------------

PRELUDE = r"""
set -euo pipefail
ip link set lo up
mount --bind "$HARNESS/hosts" /etc/hosts
mount --bind "$HARNESS/var-tmp" /var/tmp
export PATH="$VENV_BIN:$PATH"
harness_booted() {  # station $1 has booted at a harness central system and reported its statuses
  local port
  for port in $HARNESS_CSMS_PORTS; do
    grep -F "\"cp\":\"$1\"" "$HARNESS/csms-$port.jsonl" 2>/dev/null | grep -qF '"StatusNotification"' && return 0
  done
  return 1
}
harness_station() {  # the --id of a command that simulates a harness station, if it is one
  local previous=
  for arg in "$@"; do
    if [[ $previous == --id && " $HARNESS_STATIONS " == *" $arg "* ]]; then echo "$arg"; return 0; fi
    previous=$arg
  done
  return 1
}
chargebox() {
  timeout --preserve-status -s TERM "$BOUND" "$VENV_BIN/chargebox" "$@" <&0 &  # <&0: keeps its stdin, as a job
  local pid=$! station
  echo "$pid" >>"$HARNESS/chargebox.pids"
  if [[ $BASHPID == "$$" ]] && station=$(harness_station "$@"); then  # in the foreground: done once it booted
    until harness_booted "$station" || ! kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    kill -TERM "$pid" 2>/dev/null || true
  fi
  wait "$pid"
}
curl() { command curl --fail-with-body --retry 20 --retry-all-errors --retry-delay 1 --max-time 5 "$@"; }
harness_pids=()
for port in $HARNESS_CSMS_PORTS; do
  "$VENV_BIN/chargebox" csms --listen "127.0.0.1:$port" --transcript "$HARNESS/csms-$port.jsonl" \
    2>>"$HARNESS/csms-$port.log" &
  harness_pids+=($!)
done
for index in ${harness_pids[@]+"${!harness_pids[@]}"}; do  # listening before the block's first station tries
  port=($HARNESS_CSMS_PORTS)
  until grep -q "listening on" "$HARNESS/csms-${port[index]}.log" 2>/dev/null; do
    kill -0 "${harness_pids[index]}" || exit 98
    sleep 0.05
  done
done
trap 'kill ${harness_pids[@]+"${harness_pids[@]}"} 2>/dev/null || true' EXIT
cd "$HARNESS/work"
"""

EPILOGUE = r"""
touch "$HARNESS/chargebox.pids" "$HARNESS/steps-done"
harness_running() {
  while read -r pid; do kill -0 "$pid" 2>/dev/null && return 0; done <"$HARNESS/chargebox.pids"
  return 1
}
until [[ -e $HARNESS/stop ]] || ! harness_running; do sleep 0.05; done  # the test says when all was shown
while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$HARNESS/chargebox.pids"
for job in $(jobs -p); do
  case " ${harness_pids[*]-} " in *" $job "*) continue;; esac
  wait "$job" || { echo "a background job of the block exited $?" >&2; exit 99; }
done
"""


def script_of(run: list[Block]) -> str:
    parts = []
    for block in run:
        if block.tag == "console":
            parts.extend(line[2:] for line in block.text.splitlines() if line.startswith("$ "))
        else:
            parts.append(block.text)
    return "\n".join(parts) + "\n"


def expected_output(run: list[Block]) -> list[str]:
    lines: list[str] = []
    for block in run:
        for line in block.text.splitlines():
            if block.tag == "console":
                if not line.startswith("$ ") and line.strip():
                    lines.append(line)
            elif (comment := re.match(r"^\s*#\s*([\[{].*)$", line)) is not None:
                lines.append(comment.group(1))
    return lines


def assert_shows(output: str, expected: list[str]) -> None:
    """Each expected line appears in the output, in order; ``…`` stands for anything."""
    position = 0
    for line in expected:
        pattern = ".*?".join(re.escape(part) for part in line.split("…"))
        found = re.compile(pattern).search(output, position)
        assert found is not None, f"not shown: {line!r}\nin:\n{output}"
        position = found.end()


def harness_stations(script: str, ports: list[str]) -> list[tuple[str, str]]:
    """(port, id) of each station the script simulates against a harness central system."""
    found = []
    for command in re.findall(r"chargebox\s+simulate\b[^\n]*", script.replace("\\\n", " ")):
        args = shlex.split(command)
        found.extend(
            (port, args[args.index("--id") + 1]) for port in ports if f":{port}" in args[args.index("--csms") + 1]
        )
    return found


# A pid namespace too: the harness signals the block's processes by pid, and only ever its own. Its own /proc with
# it, where a process finds itself by its pid (Locust's psutil.Process() does).
UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc"]


def _namespaces_work() -> bool:
    try:
        return subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


NAMESPACES = _namespaces_work()


@pytest.mark.skipif(not NAMESPACES, reason="unshare --net --mount --pid is not allowed here (run as root, as CI does)")
@pytest.mark.parametrize("run", runnable(), ids=lambda run: run[0].name)
async def test_a_documented_command_block_runs_as_written(run: list[Block], tmp_path: Path) -> None:
    script = script_of(run)
    own_csms = re.search(r"\bchargebox\s+csms\b", script) is not None
    ports = [] if own_csms else sorted(set(CSMS_URL.findall(script)))
    stations = harness_stations(script, ports)
    harness = tmp_path
    for directory in ("work", "var-tmp"):
        (harness / directory).mkdir()
    (harness / "hosts").write_text(HOSTS)
    for name, content in fixtures().items():
        (harness / "work" / name).write_text(content)
        (harness / "work" / name).chmod(0o600)
    env = {
        **os.environ, "HARNESS": str(harness), "VENV_BIN": str(Path(sys.executable).parent),
        "BOUND": run[0].markers.get("bound") or str(BOUND),
        "HARNESS_CSMS_PORTS": " ".join(ports), "HARNESS_STATIONS": " ".join(sorted({s for _, s in stations})),
    }  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *UNSHARE, "bash", "-c", PRELUDE + script + EPILOGUE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    expected = expected_output(run)
    output = await asyncio.wait_for(block_output(proc, harness, expected, stations), 60)
    expected_status = int(run[-1].markers.get("exit status", "0") or 0)
    assert proc.returncode == expected_status, f"{run[0].name}: exit {proc.returncode}\n{script}\n{output}"
    assert "Traceback" not in output, output
    assert_shows(output, expected)
    for port, station in stations:  # every station simulated against a harness central system booted there
        assert station in frames_from(harness / f"csms-{port}.jsonl", "BootNotification"), (
            f"{station}: no boot at :{port}"
        )


async def block_output(
    proc: asyncio.subprocess.Process, harness: Path, expected: list[str], stations: list[tuple[str, str]]
) -> str:
    """What the block printed. Once its steps have run, everything it must show is shown and its harness stations
    have booted and reported their statuses, the harness stops its commands (``$HARNESS/stop``) rather than let
    them run to their bound."""
    assert proc.stdout is not None
    chunks: list[bytes] = []

    async def read(stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(1 << 16):
            chunks.append(chunk)

    def done() -> bool:
        if not (harness / "steps-done").exists():
            return False
        try:
            assert_shows(b"".join(chunks).decode(errors="replace"), expected)
        except AssertionError:
            return False
        return all(
            station in frames_from(harness / f"csms-{port}.jsonl", "StatusNotification") for port, station in stations
        )

    reading = asyncio.ensure_future(read(proc.stdout))
    while not reading.done():
        if not (harness / "stop").exists() and done():
            (harness / "stop").touch()
        await asyncio.wait([reading], timeout=0.05)
    await proc.wait()
    return b"".join(chunks).decode(errors="replace")


def frames_from(transcript: Path, action: str) -> set[str]:
    """The charge points that sent a CALL of ``action``, in a harness central system's transcript."""
    lines = transcript.read_text().split("\n")[:-1] if transcript.exists() else []  # whole lines: it may be writing
    return {
        frame["cp"] for frame in map(json.loads, lines) if frame["frame"][:1] == [2] and frame["frame"][2] == action
    }


def test_every_command_block_is_run_or_says_why_not() -> None:
    bare = [b.name for b in COMMAND_BLOCKS if "not run" in b.markers and not b.markers["not run"].strip()]
    assert bare == [], "a <!-- not run: REASON --> needs its reason"
    orphans = [b.name for b in COMMAND_BLOCKS if "run with the block above" in b.markers and b is COMMAND_BLOCKS[0]]
    assert orphans == []
    hidden = [
        b.name for b in ALL_BLOCKS
        if b.tag == "" and any(line.startswith(("$ ", "chargebox ")) for line in b.text.splitlines())
    ]  # fmt: skip
    assert hidden == [], "a command in an untagged block: tag it sh or console"
    assert sum(len(run) for run in runnable()) + sum("not run" in b.markers for b in COMMAND_BLOCKS) == len(
        COMMAND_BLOCKS
    )
    assert len(runnable()) >= 8  # the docs' walkthroughs are run, not all marked away


def test_the_marker_parser_reads_the_conventions(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- not run: needs a charger -->\n```sh\nreboot\n```\n\n<!-- exit status: 2 -->\n"
        "```console\n$ chargebox teleport\nchargebox: error: …\n```\n"
    )
    first, second = blocks(page)
    assert first.markers == {"not run": "needs a charger"} and first.tag == "sh"
    assert second.markers == {"exit status": "2"}
    assert script_of([second]) == "chargebox teleport\n"
    assert expected_output([second]) == ["chargebox: error: …"]
    assert_shows("x\nchargebox: error: invalid choice\n", expected_output([second]))
    with pytest.raises(AssertionError):
        assert_shows("chargebox: fine\n", expected_output([second]))
