"""Generated documentation stays in step with the code it is generated from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tool(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_keys_reference_is_up_to_date() -> None:
    tool = load_tool("gen_config_docs")
    assert (ROOT / "docs" / "reference" / "config-keys.md").read_text() == tool.render(), (
        "run: python tools/gen_config_docs.py"
    )


def test_device_model_reference_is_up_to_date() -> None:
    tool = load_tool("gen_config_docs")
    assert (ROOT / "docs" / "reference" / "device-model.md").read_text() == tool.render_device_model(), (
        "run: python tools/gen_config_docs.py"
    )
