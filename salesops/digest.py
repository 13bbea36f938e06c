"""The weekly digest: one e-mail-ready HTML page per manager (inline CSS, the chart as an
embedded PNG) saying where the manager's team stands, what changed since the last snapshot,
which deals are at risk and which CRM fixes are owed; and its delivery over SMTP.

Every figure comes from the functions the pages call, for the slice "the reps of this
manager" (``Filters.with_group("manager", name)``): overview.standing, metrics.kpis by rep,
pipeline.movement_for between the last two snapshots, pipeline.risk_for, hygiene.view_for.

SMTP is configured in ``.streamlit/secrets.toml``::

    [smtp]
    host = "smtp.example.com"
    port = 587
    username = "..."
    password = "..."
    sender = "salesops@example.com"
    to = ["manager@example.com"]
    starttls = true

or by the environment (which wins): SALESOPS_SMTP_HOST, SALESOPS_SMTP_PORT,
SALESOPS_SMTP_USER, SALESOPS_SMTP_PASSWORD, SALESOPS_SMTP_FROM, SALESOPS_SMTP_TO (commas),
SALESOPS_SMTP_STARTTLS (1/0), SALESOPS_SMTP_SSL (1/0).
"""
from __future__ import annotations

import base64
import html
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pandas as pd

from . import hygiene, metrics, overview, pipeline, reports
from . import schema as S
from .charts import overview as overview_charts
from .errors import InputError, SalesopsError
from .filters import Filters

K = metrics.KPIS
STALE_DAYS = 30
MAX_ROWS = 10
SECRETS = Path(".streamlit") / "secrets.toml"


@dataclass
class Digest:
    """What one manager's digest says (the numbers, and the chart as PNG)."""

    manager: str
    period_label: str
    as_of: object
    currency: str
    tiles: list[tuple[str, str, str | None]]
    headline: str
    team: pd.DataFrame                 # metrics.kpis by rep for the manager's slice
    changes: pd.DataFrame | None       # the waterfall between the last two snapshots
    changes_text: str
    at_risk: pd.DataFrame
    fixes: pd.DataFrame
    fixes_text: str
    chart_png: bytes | None
    figures: dict = field(default_factory=dict)


def managers(ws) -> list[str]:
    """The managers of the roster (and of the deals), sorted."""
    names = set(ws.values(S.MANAGER))
    if not ws.reps.empty and S.MANAGER in ws.reps.columns:
        names |= {str(m) for m in ws.reps[S.MANAGER].dropna() if str(m)}
    return sorted(n for n in names if n and not n.startswith("("))


def manager_filters(ws, f: Filters, manager: str) -> Filters:
    """The filters narrowed to the reps of ``manager`` (refused when there is no such manager)."""
    known = managers(ws)
    if manager not in known:
        some = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise InputError(f"--manager {manager!r} is not a manager of this workspace" + (f"; known: {some}" if known else ""))
    return f.with_group(S.MANAGER, manager)


def build(ws, f: Filters, manager: str) -> Digest:
    """The digest of ``manager``'s team for the filters' period on their as-of date."""
    fm = manager_filters(ws, f, manager)
    cc = ws.settings.currency
    s = overview.standing(ws, fm)
    cur, prev = s.current, s.previous
    t = s.target
    tiles = [("Bookings", K["won_amount"].format(cur["won_amount"], cc),
              f"{K['won_amount'].delta(cur['won_amount'], prev['won_amount'], cc)} {s.compare_label}"
              if K["won_amount"].delta(cur["won_amount"], prev["won_amount"], cc) else None),
             ("Target", K["target"].format(t.amount, cc), t.label if t.has_target else "no target set"),
             ("Attainment", K["attainment"].format(cur["attainment"]), None),
             ("Win rate", K["win_rate"].format(cur["win_rate"]),
              f"{cur['won_count']:,} won of {cur['won_count'] + cur['lost_count']:,} closed"),
             ("Open pipeline", K["open_pipeline"].format(cur["open_pipeline"], cc), f"{cur['open_count']:,} deals"),
             ("Coverage", K["coverage"].format(cur["coverage"]),
              f"needs {K['required_coverage'].format(cur['required_coverage'])}" if cur["required_coverage"] == cur["required_coverage"] else None)]
    headline = (f"{manager}'s team: {K['won_amount'].format(cur['won_amount'], cc)} booked in {f.period.label}"
                + (f" to {f.as_of:%d %b}" if s.in_progress else "")
                + (f", {K['attainment'].format(cur['attainment'])} of the {t.label}" if t.has_target else "")
                + (f"; {s.pace['days_left']} days left, {K['won_amount'].format(s.pace['needed_per_day'], cc)} needed per day"
                   if s.in_progress and s.pace["needed_per_day"] is not None else "") + ".")
    team = metrics.kpis(ws, fm, S.OWNER)
    dates = [d for d in ws.snapshot_dates if d <= f.as_of.isoformat()]
    changes, changes_text = None, "There is one snapshot or none up to the as-of date: nothing to compare yet."
    if len(dates) >= 2:
        a, b = dates[-2], dates[-1]
        m = pipeline.movement_for(ws, fm, a, b)
        changes = m.waterfall[["step", "label", "amount", "count"]]
        wf = changes.set_index("step")
        money = lambda step: K["won_amount"].format(wf.loc[step, "amount"], cc)  # noqa: E731
        changes_text = (f"Since the snapshot of {pd.Timestamp(a):%d %b %Y} (to {pd.Timestamp(b):%d %b %Y}), the {f.period.label} "
                        f"pipeline went from {money('start')} to {money('end')}: {money('created')} created, "
                        f"{money('pulled_in')} pulled in, {money('pushed_out')} pushed out, {money('won')} won, {money('lost')} lost.")
    risk, _ = pipeline.risk_for(ws, fm, STALE_DAYS)
    hv = hygiene.view_for(ws, fm, STALE_DAYS)
    fixes = hygiene.fix_list(hv.issues)
    score = hv.score.get("score")
    fixes_text = (f"{len(fixes):,} fixes owed on {int((~hv.issues['clean']).sum()) if not hv.issues.empty else 0:,} open deals"
                  + (f"; {K['attainment'].format(score)} of the team's open deals are clean." if score is not None and score == score else "."))
    png = None
    try:
        png = reports.chart_png(overview_charts.bookings_vs_target(s.trend, cc, overview.KIND_WORDS.get(f.period.kind, "period")),
                                width=560, height=240, scale=1.5)
    except (SalesopsError, ValueError, RuntimeError):
        png = None
    return Digest(manager, f.period.label, f.as_of, cc, tiles, headline, team, changes, changes_text, risk, fixes,
                  fixes_text, png, {"won_amount": cur["won_amount"], "target": t.amount, "attainment": cur["attainment"],
                                    "open_pipeline": cur["open_pipeline"], "win_rate": cur["win_rate"]})


# --- HTML -------------------------------------------------------------------------------------------
_TD = "padding:4px 8px;border-bottom:1px solid #e0e0e0;text-align:left;font-size:13px"
_TH = _TD + ";background:#f5f5f5;font-weight:600"


def _table(frame: pd.DataFrame, columns: dict, currency: str, limit: int | None = MAX_ROWS) -> str:
    e = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    cols = [c for c in columns if c in frame.columns]
    if frame.empty or not cols:
        return '<p style="font-size:13px;color:#5f6368">None.</p>'
    part = frame if limit is None else frame.head(limit)
    head = "".join(f'<th style="{_TH}">{e(columns[c][0])}</th>' for c in cols)
    body = "".join("<tr>" + "".join(f'<td style="{_TD}">{e(reports.format_cell(v, columns[c][1], currency))}</td>'
                                    for c, v in zip(cols, rec)) + "</tr>" for rec in part[cols].itertuples(index=False, name=None))
    more = (f'<p style="font-size:12px;color:#5f6368">… and {len(frame) - limit:,} more.</p>'
            if limit is not None and len(frame) > limit else "")
    return f'<table style="border-collapse:collapse;width:100%">{"<tr>" + head + "</tr>"}{body}</table>{more}'


def to_html(d: Digest, image_src: str | None = None) -> str:
    """The digest as e-mail-ready HTML: inline styles only, every text escaped. The chart is
    ``image_src`` (e.g. ``cid:...`` in an e-mail), by default an embedded PNG data URI."""
    e = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    h2 = 'style="font-size:17px;color:#1565c0;margin:22px 0 6px"'
    tiles = "".join(
        f'<td style="padding:8px 10px;background:#f1f3f4;border:1px solid #dadce0;border-radius:6px;vertical-align:top">'
        f'<div style="font-size:12px;color:#5f6368">{e(label)}</div><div style="font-size:20px;font-weight:700">{e(value)}</div>'
        f'<div style="font-size:11px;color:#5f6368">{e(note or "")}</div></td>' for label, value, note in d.tiles)
    src = image_src or (f"data:image/png;base64,{base64.b64encode(d.chart_png).decode()}" if d.chart_png else None)
    chart = f'<img alt="Bookings by quarter against target" src="{e(src)}" style="max-width:100%;height:auto">' if src else ""
    team_cols = {"group": ("Rep", "text"), "won_amount": ("Bookings", "money"), "target": ("Target", "money"),
                 "attainment": ("Attainment", "pct"), "win_rate": ("Win rate", "pct"), "open_pipeline": ("Open pipeline", "money")}
    risk_cols = {S.NAME: ("Deal", "text"), S.ACCOUNT: ("Account", "text"), S.OWNER: ("Rep", "text"), S.AMOUNT: ("Amount", "money"),
                 S.CLOSE_DATE: ("Close date", "date"), "reasons": ("Why", "text")}
    fix_cols = {S.OWNER: ("Rep", "text"), S.NAME: ("Deal", "text"), S.AMOUNT: ("Amount", "money"), "issue": ("Issue", "text"),
                "fix": ("Fix", "text")}
    change_cols = {"label": ("Step", "text"), "amount": ("Amount", "money"), "count": ("Deals", "count")}
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(d.manager)} · weekly digest · {e(d.period_label)}</title></head>"
        '<body style="margin:0;padding:0;background:#ffffff">'
        '<div style="max-width:760px;margin:0 auto;padding:16px;font-family:Helvetica,Arial,sans-serif;color:#202124">'
        f'<h1 style="font-size:22px;margin:0 0 4px">Weekly digest · {e(d.manager)}</h1>'
        f'<p style="font-size:13px;color:#5f6368;margin:0 0 12px">{e(d.period_label)} as of {d.as_of:%d %b %Y}</p>'
        f'<p style="font-size:15px">{e(d.headline)}</p>'
        f'<h2 {h2}>Where the team stands</h2>'
        f'<table style="border-collapse:separate;border-spacing:6px;width:100%"><tr>{tiles}</tr></table>{chart}'
        f'{_table(d.team, team_cols, d.currency, None)}'
        f'<h2 {h2}>What changed since the last snapshot</h2><p style="font-size:14px">{e(d.changes_text)}</p>'
        + (_table(d.changes, change_cols, d.currency, None) if d.changes is not None else "")
        + f'<h2 {h2}>Deals at risk</h2><p style="font-size:14px">{len(d.at_risk):,} open deals carry a risk flag '
        f'(pushed twice, no change for {STALE_DAYS} days, close date past, or open too long).</p>'
        f'{_table(d.at_risk, risk_cols, d.currency)}'
        f'<h2 {h2}>Fixes owed</h2><p style="font-size:14px">{e(d.fixes_text)}</p>{_table(d.fixes, fix_cols, d.currency)}'
        f'<p style="font-size:11px;color:#5f6368;margin-top:20px">Numbers as the salesops pages show them (definitions version '
        f'{e(metrics.definitions_version())}).</p></div></body></html>')


# --- SMTP -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "salesops@localhost"
    to: tuple[str, ...] = ()
    starttls: bool = True
    use_ssl: bool = False


def _flag(text) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def smtp_config(secrets_path: str | Path | None = None, environ: dict | None = None) -> SmtpConfig:
    """The SMTP settings: ``[smtp]`` of .streamlit/secrets.toml, then the SALESOPS_SMTP_*
    environment variables on top. Raises InputError when no host is configured."""
    import tomllib

    env = os.environ if environ is None else environ
    values: dict = {}
    path = Path(secrets_path) if secrets_path else SECRETS
    if path.exists():
        try:
            values = dict(tomllib.loads(path.read_text(encoding="utf-8")).get("smtp") or {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: the [smtp] settings cannot be read ({exc})") from None
    for key, name in (("host", "HOST"), ("port", "PORT"), ("username", "USER"), ("password", "PASSWORD"),
                      ("sender", "FROM"), ("to", "TO"), ("starttls", "STARTTLS"), ("use_ssl", "SSL")):
        if env.get(f"SALESOPS_SMTP_{name}"):
            values[key] = env[f"SALESOPS_SMTP_{name}"]
    if not values.get("host"):
        raise InputError("no SMTP server is configured: set [smtp] host in .streamlit/secrets.toml or SALESOPS_SMTP_HOST")
    to = values.get("to") or ()
    to = tuple(x.strip() for x in (to.split(",") if isinstance(to, str) else to) if str(x).strip())
    try:
        port = int(values.get("port", 587))
    except (TypeError, ValueError):
        raise InputError(f"the SMTP port {values.get('port')!r} is not a number") from None
    return SmtpConfig(host=str(values["host"]), port=port, username=values.get("username") or None,
                      password=values.get("password") or None, sender=str(values.get("sender") or "salesops@localhost"),
                      to=to, starttls=_flag(values.get("starttls", port == 587)), use_ssl=_flag(values.get("use_ssl", False)))


def message(d: Digest, sender: str, to: list[str]) -> EmailMessage:
    """The digest as an e-mail: a plain-text part and the HTML with the chart attached inline (cid)."""
    msg = EmailMessage()
    msg["Subject"] = f"Weekly digest · {d.manager} · {d.period_label}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(f"{d.headline}\n\n{d.changes_text}\n\n{len(d.at_risk):,} deals at risk. {d.fixes_text}\n")
    cid = make_msgid(domain="salesops.local")
    msg.add_alternative(to_html(d, image_src=f"cid:{cid[1:-1]}" if d.chart_png else None), subtype="html")
    if d.chart_png:
        msg.get_payload()[1].add_related(d.chart_png, maintype="image", subtype="png", cid=cid, filename="bookings.png")
    return msg


def send(d: Digest, config: SmtpConfig, to: list[str] | None = None) -> list[str]:
    """Send the digest; returns the recipients. SMTP failures become a clear SalesopsError."""
    rcpt = list(to or config.to)
    if not rcpt:
        raise InputError("no recipient: pass --to ADDRESS or set [smtp] to in .streamlit/secrets.toml (SALESOPS_SMTP_TO)")
    msg = message(d, config.sender, rcpt)
    try:
        if config.use_ssl:
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=30, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=30)
        with client:
            if config.starttls and not config.use_ssl:
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password or "")
            client.send_message(msg, from_addr=config.sender, to_addrs=rcpt)
    except (smtplib.SMTPException, OSError) as exc:
        raise SalesopsError(f"the digest could not be sent through {config.host}:{config.port} ({exc})") from None
    return rcpt
