"""The weekly digest: the manager's team numbers (equal to kpis for the manager's reps, and to
pandas), e-mail-ready HTML, and delivery to a local SMTP server started by the test."""
import email
import json
import socket
import time
from email import policy

import pytest

from salesops import digest, metrics, workspace
from salesops.cli import main
from salesops.filters import Filters

K = metrics.KPIS
PERIOD = "2026Q4"


@pytest.fixture(scope="module")
def ws(_demo_template):
    return workspace.load(_demo_template)


def manager_and_reps(ws):
    name = digest.managers(ws)[0]
    reps = sorted(ws.reps.loc[ws.reps["manager"] == name, "name"])
    return name, reps


def test_digest_holds_the_teams_numbers(ws, _demo_template, tmp_path, capsys):
    name, reps = manager_and_reps(ws)
    out = tmp_path / "digest.html"
    assert main(["--db", str(_demo_template), "digest", "--period", PERIOD, "--manager", name, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    f = Filters.make(ws, PERIOD, rep=reps)
    truth = metrics.team(ws, f)  # the same reps through the rep filter
    assert doc["figures"]["won_amount"] == pytest.approx(truth["won_amount"])
    assert doc["figures"]["open_pipeline"] == pytest.approx(truth["open_pipeline"])
    d = ws.deals
    won = d[(d["status"] == "won") & d["close_date"].between("2026-10-01", "2026-11-20") & d["owner"].isin(reps)]
    assert doc["figures"]["won_amount"] == pytest.approx(won["amount"].sum())
    page = out.read_text()
    assert f"Weekly digest · {name}" in page
    assert K["won_amount"].format(truth["won_amount"]) in page
    assert K["open_pipeline"].format(truth["open_pipeline"]) in page
    per_rep = metrics.kpis(ws, f, "owner").set_index("group")["won_amount"]
    for rep in reps:
        assert rep in page and f"${per_rep.get(rep, 0):,.0f}" in page
    assert "<script" not in page and "<style" not in page and 'src="data:image/png;base64,' in page
    assert "What changed since the last snapshot" in page and "Deals at risk" in page and "Fixes owed" in page


def test_an_unknown_manager_or_missing_smtp_is_refused(demo_db, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("SALESOPS_SMTP_HOST", "SALESOPS_SMTP_TO"):
        monkeypatch.delenv(var, raising=False)
    assert main(["--db", str(demo_db), "digest", "--manager", "Nobody", "--out", str(tmp_path / "d.html")]) == 2
    assert "'Nobody' is not a manager" in capsys.readouterr().err and not (tmp_path / "d.html").exists()
    assert main(["--db", str(demo_db), "digest", "--manager", "Nobody", "--send"]) == 2
    assert "no SMTP server is configured" in capsys.readouterr().err


def test_smtp_settings_come_from_secrets_and_the_environment_wins(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[smtp]\nhost = "mail.example.com"\nport = 465\nuse_ssl = true\nto = ["a@example.com"]\n')
    c = digest.smtp_config(secrets, environ={})
    assert (c.host, c.port, c.use_ssl, c.to, c.starttls) == ("mail.example.com", 465, True, ("a@example.com",), False)
    c = digest.smtp_config(secrets, environ={"SALESOPS_SMTP_HOST": "127.0.0.1", "SALESOPS_SMTP_PORT": "2525",
                                             "SALESOPS_SMTP_TO": "x@example.com, y@example.com"})
    assert (c.host, c.port, c.to) == ("127.0.0.1", 2525, ("x@example.com", "y@example.com"))


def test_digest_is_sent_to_a_local_smtp_server(_demo_template, ws, tmp_path, monkeypatch, capsys):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here: the environment configures it
        monkeypatch.setenv("SALESOPS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SALESOPS_SMTP_PORT", str(port))
        monkeypatch.setenv("SALESOPS_SMTP_STARTTLS", "0")
        monkeypatch.setenv("SALESOPS_SMTP_FROM", "salesops@example.com")
        name, reps = manager_and_reps(ws)
        assert main(["--db", str(_demo_template), "digest", "--period", PERIOD, "--manager", name, "--send",
                     "--to", "boss@example.com", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        for _ in range(50):
            if received:
                break
            time.sleep(0.1)
    finally:
        controller.stop()
    assert doc["sent_to"] == ["boss@example.com"]
    assert len(received) == 1 and received[0].rcpt_tos == ["boss@example.com"]
    msg = email.message_from_bytes(received[0].content, policy=policy.default)
    assert msg["Subject"] == f"Weekly digest · {name} · {PERIOD}"
    body = msg.get_body(("html",)).get_content()
    truth = metrics.team(ws, Filters.make(ws, PERIOD, rep=reps))
    assert K["won_amount"].format(truth["won_amount"]) in body
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and f'src="cid:{images[0]["Content-ID"].strip("<>")}"' in body
    assert msg.get_body(("plain",)).get_content().startswith(f"{name}'s team")
