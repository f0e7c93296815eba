"""Corrections over time (``import --update``) on both store backends: re-classification,
relocation and withdrawal replace the current version, the previous one is kept in
``incident_history`` with who, when and what changed; the default still refuses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from geoveilig.cli import app
from geoveilig.errors import ImportRejected
from geoveilig.store.backup import backup, restore, table_rows

from .storehelp import parsed

runner = CliRunner()


@pytest.fixture
def base(demo_incidents):
    return demo_incidents.iloc[:200].reset_index(drop=True)


def _ids(frame) -> list[str]:
    return list(frame["incident_id"])


def test_default_still_refuses_other_content(store, base):
    store.import_incidents(parsed(base), source_name="a.csv", content_sha256="a" * 64)
    changed = base.iloc[:3].copy()
    changed["crime_type"] = "overval"
    with pytest.raises(ImportRejected, match="--update"):
        store.import_incidents(parsed(changed), source_name="b.csv", content_sha256="b" * 64)
    assert store.history().empty


def test_reclassification_and_relocation_replace_the_current_version(store, base, areas):
    store.import_incidents(parsed(base), source_name="a.csv", content_sha256="a" * 64)
    before = store.incidents().set_index("incident_id")
    correction = base.iloc[:10].copy()
    reclassified = correction["incident_id"].iloc[0]
    moved = correction["incident_id"].iloc[1]
    old_type = correction.loc[0, "crime_type"]
    new_type = "overval" if old_type != "overval" else "straatroof"
    correction.loc[0, "crime_type"] = new_type
    new_x, new_y = 175965.6, 385810.5  # another buurt (BU07942901)
    correction.loc[1, ["x", "y"]] = [new_x, new_y]
    correction.loc[1, "buurt_code"] = "BU07942901"
    correction.loc[1, "wijk_code"] = "WK079429"
    summary = store.import_incidents(parsed(correction), source_name="correctie.csv",
                                     content_sha256="c" * 64, update=True, actor="analist")
    assert (summary.updated, summary.accepted, summary.already_present) == (2, 0, 8)
    after = store.incidents().set_index("incident_id")
    assert len(after) == len(before) == 200  # no double counting
    assert after.loc[reclassified, "crime_type"] == new_type
    assert (after.loc[moved, "x"], after.loc[moved, "y"]) == (new_x, new_y)
    assert after.loc[moved, "buurt_code"] == "BU07942901"
    # queries use the current version
    assert moved in _ids(store.incidents(area_codes=["BU07942901"]))
    assert reclassified in _ids(store.incidents(crime_types=[new_type]))
    assert reclassified not in _ids(store.incidents(crime_types=[old_type]))
    hist = store.history()
    assert sorted(hist["incident_id"]) == sorted([reclassified, moved])
    assert set(hist["action"]) == {"update"} and set(hist["actor"]) == {"analist"}
    assert (hist["batch_id"] == summary.batch_id).all()
    h = hist.set_index("incident_id")
    assert h.loc[reclassified, "changes"] == {"crime_type": [old_type, new_type]}
    assert h.loc[reclassified, "crime_type"] == old_type  # the previous version itself
    changes = h.loc[moved, "changes"]
    assert changes["x"] == [before.loc[moved, "x"], new_x]
    assert changes["buurt_code"] == [before.loc[moved, "buurt_code"], "BU07942901"]
    assert h.loc[moved, "x"] == before.loc[moved, "x"]
    assert h.loc[moved, "changed_at"].tzinfo is not None
    # the same correction again changes nothing
    again = store.import_incidents(parsed(correction), source_name="correctie.csv",
                                   content_sha256="c" * 64, update=True, actor="analist")
    assert (again.updated, again.already_present) == (0, 10)
    assert len(store.history()) == 2


def test_withdrawal_removes_the_incident_and_keeps_it_in_history(store, base, backend,
                                                                 tmp_path):
    store.import_incidents(parsed(base), source_name="a.csv", content_sha256="a" * 64)
    gone = base.iloc[[5, 6]].copy()
    p = parsed(gone)
    p.frame["withdrawn"] = True
    with pytest.raises(ImportRejected, match="ingetrokken registratie"):
        store.import_incidents(p, source_name="w.csv", content_sha256="w" * 64)
    summary = store.import_incidents(p, source_name="w.csv", content_sha256="w" * 64,
                                     update=True, actor="analist")
    assert (summary.withdrawn, summary.updated, summary.accepted) == (2, 0, 0)
    assert store.count_incidents() == 198
    assert not set(_ids(gone)) & set(_ids(store.incidents()))
    hist = store.history()
    assert list(hist["action"]) == ["withdraw", "withdraw"]
    assert sorted(hist["incident_id"]) == sorted(_ids(gone))
    # a backup keeps the history
    out = tmp_path / "backup.bin"
    backup(store, out)
    with store.engine.connect() as conn:
        rows = table_rows(conn)
    assert len(rows["incident_history"]) == 2
    from geoveilig.store import Store

    target = Store.sqlite(tmp_path / "restored.sqlite")
    try:
        restore(target, out)
        with target.engine.connect() as conn:
            assert table_rows(conn)["incident_history"] == rows["incident_history"]
        assert list(target.history()["action"]) == ["withdraw", "withdraw"]
    finally:
        target.close()


def test_update_through_the_cli(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GEOVEILIG_DATABASE_URL", raising=False)
    head = "registratienummer;soort;pleegdatum;x;y;status\n"
    first = tmp_path / "jan.csv"
    first.write_text(head + "u1;woninginbraak;2017-01-01 10:00;173624;388270;\n"
                     "u2;overval;2017-01-02 10:00;173624;388270;\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(first)]).exit_code == 0
    second = tmp_path / "feb.csv"
    second.write_text(head + "u1;inbraak-schuur-garage;2017-01-01 10:00;173624;388270;"
                      "gewijzigd\nu2;overval;2017-01-02 10:00;173624;388270;ingetrokken\n"
                      "u3;straatroof;2017-02-02 10:00;173624;388270;\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(second)])
    assert result.exit_code == 2 and "--update" in result.output
    result = runner.invoke(app, ["import", str(second), "--update"])
    assert result.exit_code == 0, result.output
    assert "Ingelezen: 1, bijgewerkt: 1, ingetrokken: 1, afgewezen: 0" in result.output
