"""The Audit page: the trail of a cleared workspace, and undoing the clear from it."""
from __future__ import annotations

from salesops import store, workspace

from .conftest import no_exceptions


def _deals(db) -> int:
    with store.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0]


def test_undo_a_clear_from_the_audit_page(app_at, demo_db):
    n = _deals(demo_db)
    workspace.clear_workspace(demo_db)
    at = app_at("views/audit.py", demo_db)
    no_exceptions(at)
    assert at.button(key="audit_undo").disabled  # asks first
    at.checkbox(key="audit_undo_sure").check().run()
    at.button(key="audit_undo").click().run()
    no_exceptions(at)
    assert any("undone" in s.value for s in at.success)
    assert _deals(demo_db) == n
