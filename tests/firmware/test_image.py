"""The simulator's firmware image format (firmware_image.py) and ``chargebox firmware-image``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargebox.cli import main
from chargebox.firmware_image import MAGIC, MAX_HEADER, ImageError, make_image, read_header, verify_image


def test_F_7_an_image_verifies_and_names_its_version(tmp_path: Path) -> None:
    (tmp_path / "fw.img").write_bytes(make_image("1.2.3", b"payload" * 1000))
    assert verify_image(tmp_path / "fw.img", "1.0.0") == "1.2.3"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda image: image[:-1] + bytes([image[-1] ^ 1]), "SHA-256"),
        (lambda image: image[:-1], "bytes, the header says"),
        (lambda image: image.replace(b"size: ", b"size: x"), "size is not a number"),
        (lambda image: image.replace(b"version: 1.2.3\n", b""), "lacks version"),
    ],
)
def test_TC_044_3_a_corrupt_image_is_refused(tmp_path: Path, damage: object, message: str) -> None:
    assert callable(damage)
    (tmp_path / "fw.img").write_bytes(damage(make_image("1.2.3", b"payload" * 1000)))
    with pytest.raises(ImageError, match=message):
        verify_image(tmp_path / "fw.img", "1.0.0")


def test_F_7_any_other_file_is_an_opaque_image(tmp_path: Path) -> None:
    (tmp_path / "vendor.bin").write_bytes(b"\x7fELF vendor firmware")
    version = verify_image(tmp_path / "vendor.bin", "1.0.0")
    assert version.startswith("1.0.0+") and len(version) == 14


@given(st.binary(max_size=MAX_HEADER))
def test_read_header_never_fails_but_with_image_error(head: bytes) -> None:
    for data in (head, MAGIC + head):
        try:
            header = read_header(data)
        except ImageError:
            continue
        assert header is None or 1 <= len(header.version) <= 50


def test_cli_firmware_image_writes_a_verifiable_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "payload.bin").write_bytes(b"my firmware")
    code = main(["firmware-image", "--version", "4.5.6", "--output", str(tmp_path / "fw.img"),
                 "--payload", str(tmp_path / "payload.bin")])  # fmt: skip
    assert code == 0 and "4.5.6" in capsys.readouterr().out
    assert verify_image(tmp_path / "fw.img", None) == "4.5.6"
    assert (tmp_path / "fw.img").read_bytes().endswith(b"\n\nmy firmware")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--version", "x" * 51], "--version: version must be 1 to 50"),
        (["--version", "1", "--payload", "/nonexistent/p"], "cannot read --payload"),
    ],
)
def test_cli_firmware_image_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert main(["firmware-image", "--output", str(tmp_path / "fw.img"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert error in err and "\n" not in err
