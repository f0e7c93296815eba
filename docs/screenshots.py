"""Screenshots of the planning map for ``docs/map.md``, made by the browser tests themselves
(real Chromium against a real ``geoveilig serve`` on the demo data), so the pictures show what
the tests checked. Writes ``docs/img/kaart-*.png``.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = "public_page or hotspots_come_as_vector_tiles or print_view"

if __name__ == "__main__":
    env = {**os.environ, "GEOVEILIG_DOCS_IMG": str(ROOT / "docs" / "img")}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                              "tests/test_web_map.py", "-k", TESTS], cwd=ROOT, env=env))
