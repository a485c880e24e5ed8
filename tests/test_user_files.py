"""The bounds of ``user_files.py`` sit exactly where its docstring says (the refusals themselves are checked
through the real command in ``tests/test_cli.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from chargebox.cli import MAX_FLEET_STATIONS, _build_parser
from chargebox.errors import ConfigError
from chargebox.user_files import MAX_CONFIG_BYTES, MAX_DEPTH, ca_context, parse_config, read_bytes, read_config


def test_a_file_of_exactly_the_bound_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, "--f", 100) == b"x" * 100
    with pytest.raises(ConfigError, match=r"^--f .*/f: larger than 99 bytes$"):
        read_bytes(path, "--f", 99)


@pytest.mark.parametrize("toml", [True, False])
def test_a_file_nesting_exactly_max_depth_levels_is_read_one_more_is_not(toml: bool) -> None:
    def nested(levels: int) -> str:  # the table or object around ``a`` is the first level
        inner = "[" * (levels - 1) + "]" * (levels - 1)
        return f"a = {inner}" if toml else f'{{"a": {inner}}}'

    assert set(parse_config(nested(MAX_DEPTH), "f", toml=toml)) == {"a"}
    with pytest.raises(ConfigError, match=f"^f: nests deeper than {MAX_DEPTH} levels$"):
        parse_config(nested(MAX_DEPTH + 1), "f", toml=toml)


def test_a_configuration_file_is_toml_by_its_name_else_json(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("HeartbeatInterval = 60\n")
    (tmp_path / "c.json").write_text('{"HeartbeatInterval": 60}')
    assert read_config(tmp_path / "c.toml", "--x") == {"HeartbeatInterval": 60}
    assert read_config(tmp_path / "c.json", "--x") == {"HeartbeatInterval": 60}
    (tmp_path / "big.json").write_bytes(b" " * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config(tmp_path / "big.json", "--x")


def test_a_ca_file_holds_at_least_one_certificate(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    assert ca_context(bundle, "--ca-file").cert_store_stats()["x509_ca"] == 1
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(ConfigError, match="not a readable PEM CA certificate: no certificate in it"):
        ca_context(tmp_path / "empty.pem", "--ca-file")


def test_a_fleet_of_the_documented_cap_is_accepted() -> None:
    args = _build_parser().parse_args(["fleet", "--csms", "ws://h", "--count", str(MAX_FLEET_STATIONS)])
    assert args.count == MAX_FLEET_STATIONS == 100_000
