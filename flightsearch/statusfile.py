"""Status files a lab process rewrites every second for its health check to read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_status(out_dir: Path, name: str, status: dict[str, Any]) -> None:
    """Replace `<out_dir>/status-<name>.json` atomically (a reader never sees half a file)."""
    tmp = out_dir / f"status-{name}.tmp"
    tmp.write_text(json.dumps(status))
    os.replace(tmp, out_dir / f"status-{name}.json")


def read_status(out_dir: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((out_dir / f"status-{name}.json").read_text())
    except (OSError, ValueError):
        return None
