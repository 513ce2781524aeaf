"""The served catalogue equals tests/snapshots/catalogue.json, so no change to it goes unnoticed.

After an intended change (a new layer, a renamed field, new help text) regenerate it with `make snapshot`
(which runs this file with --write) and commit the snapshot with the change.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "catalogue.json"


def served_catalogue() -> dict[str, Any]:
    """GET /api/catalogue from an app with default limits (other settings do not reach the catalogue)."""
    from fastapi.testclient import TestClient

    from layerlab.app import create_app
    from layerlab.catalogue.limits import Limits
    from layerlab.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), limits=Limits()))
        response = TestClient(app, base_url="http://127.0.0.1").get("/api/catalogue")
    assert response.status_code == 200, response.text
    return response.json()


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def drift(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Name what changed: top-level sections, and layers added, removed or changed by type."""
    notes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key == "layers":
            before = {item["type"]: item for item in old.get(key, [])}
            after = {item["type"]: item for item in new.get(key, [])}
            added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
            changed = sorted(t for t in set(before) & set(after) if before[t] != after[t])
            notes.append(f"layers: added {added}, removed {removed}, changed {changed}")
        else:
            notes.append(f"{key} changed")
    return notes


def test_served_catalogue_matches_the_snapshot() -> None:
    assert SNAPSHOT.exists(), "tests/snapshots/catalogue.json is missing: run `make snapshot` and commit it"
    current = served_catalogue()
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if current != recorded:
        raise AssertionError(
            "the served catalogue drifted from tests/snapshots/catalogue.json: "
            + "; ".join(drift(recorded, current))
            + ". If the change is intended, run `make snapshot` and commit the snapshot with it."
        )


def test_snapshot_file_is_canonical() -> None:
    """The file is written by `make snapshot` only, so hand edits that merely reformat it also fail."""
    text = SNAPSHOT.read_text(encoding="utf-8")
    assert text == dump(json.loads(text)), "reformatted snapshot: run `make snapshot`"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/unit/test_catalogue_snapshot.py --write")
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(dump(served_catalogue()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
