"""Find anything: the FTS5 index of accounts, deals and reps, kept current by every import
(the deal import updates it in its own transaction; other changes are caught by the
fingerprint and rebuilt on the next search), and queries that cannot break it."""
import sqlite3

import pytest

from salesops import ingest, search, store, workspace


def kinds(hits):
    return [(h.kind, h.key) for h in hits]


def test_a_few_letters_find_accounts_reps_and_deals(demo_db):
    hits = search.find(demo_db, "acm cor")
    assert hits[0] == search.Hit("account", "Acme Corp", "Acme Corp", hits[0].detail)
    assert all(h.kind == "deal" for h in hits[1:])
    for h in hits[1:]:  # every word of the query starts a word of the deal's name or details
        words = (h.label + " " + h.detail).lower().replace("-", " ").split()
        assert any(w.startswith("acm") for w in words) and any(w.startswith("cor") for w in words), h
    reps = [h for h in search.find(demo_db, "ben han") if h.kind == "rep"]
    assert [h.key for h in reps] == ["Ben Hansen"] and "North America" in reps[0].detail
    ws = workspace.load(demo_db)
    some_id = str(ws.deals["opportunity_id"].iloc[10])
    assert (("deal", some_id) in kinds(search.find(demo_db, some_id)))
    # accounts first, then reps, then deals; each kind capped
    order = [h.kind for h in search.find(demo_db, "a")] + [h.kind for h in search.find(demo_db, "ac")]
    assert order == sorted(order, key=search.KINDS.index)
    assert len([h for h in search.find(demo_db, "ac") if h.kind == "deal"]) <= search.PER_KIND["deal"]


@pytest.mark.parametrize("text", ['"', "OR", "AND NOT", "a*", "(", "acme)", "NEAR(", "^x", "-", "col:val", "'; DROP TABLE reps; --"])
def test_odd_queries_find_nothing_or_something_but_never_fail(demo_db, text):
    hits = search.find(demo_db, text)
    assert isinstance(hits, list)
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("SELECT count(*) FROM reps").fetchone()[0] == 30


def test_query_words_are_prefixes():
    assert search.query("acm cor") == '"acm"* "cor"*'
    assert search.query('say "hi"') == '"say"* "hi"*'
    assert search.query("a") is None and search.query("  ") is None and search.query("-") is None


def csv(rows):
    head = "Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Stage,Amount,Close Date,Created Date"
    return ("\n".join([head, *rows]) + "\n").encode()


def test_every_import_keeps_the_index_current(tmp_path):
    db = tmp_path / "s.db"
    ingest.run_import(db, csv(["001,Zephyr renewal,Quokka Ltd,Ann Lee,Closed Won,1000,2026-02-01,2026-01-01"]), "a.csv")
    assert kinds(search.find(db, "zeph")) == [("deal", "001")]      # the first search builds the index
    version = store.data_version(db)
    assert search.ensure(db) == []                                    # current, and building it moved no data version
    assert store.data_version(db) == version
    # a second import: the index follows inside the import itself (nothing left to rebuild)
    ingest.run_import(db, csv(["001,Zephyr renewal,Quokka Ltd,Ann Lee,Closed Won,1000,2026-02-01,2026-01-01",
                               "002,Yonder upsell,Wombat GmbH,Bea Kim,Prospecting,500,2026-05-01,2026-02-01"]), "b.csv")
    with store.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM search_items WHERE kind = 'deal'").fetchone()[0] == 2
        assert search._stored(conn) == search.fingerprint(conn)
    assert search.ensure(db) == []
    assert kinds(search.find(db, "yond")) == [("deal", "002")]
    assert ("account", "Wombat GmbH") in kinds(search.find(db, "womb")) and ("rep", "Bea Kim") in kinds(search.find(db, "bea"))
    # an accounts import and an undo are caught by the fingerprint and rebuilt on the next search
    ingest.run_reference_import(db, b"name,industry\nAardvark Inc,Retail\n", "acc.csv", "accounts")
    assert kinds(search.find(db, "aardv")) == [("account", "Aardvark Inc")]
    last = ingest.list_imports(db)
    opp_id = int(last[last["kind"] == "opportunities"]["id"].max())
    ingest.undo_import(db, opp_id)
    assert search.find(db, "yond") == []


def test_a_failed_import_leaves_the_index_as_it_was(tmp_path):
    db = tmp_path / "s.db"
    ingest.run_import(db, csv(["001,Zephyr renewal,Quokka Ltd,Ann Lee,Closed Won,1000,2026-02-01,2026-01-01"]), "a.csv")
    search.ensure(db)
    with pytest.raises(Exception):
        ingest.run_import(db, csv(["003,Xylo,Quokka Ltd,Ann Lee,Closed Won,not money,2026-02-01,2026-01-01"]), "bad.csv")
    with store.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT key FROM search_items WHERE kind = 'deal'")] == ["001"]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_demo_reload_and_clearing_rebuild(demo_db):
    assert search.find(demo_db, "acme corp")
    workspace.clear_workspace(demo_db)
    assert search.find(demo_db, "acme corp") == []
