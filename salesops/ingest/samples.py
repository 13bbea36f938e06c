"""Realistic sample exports of every supported vendor, generated from one set of canonical deals.

Used by the tests (import a vendor's file, compare the KPIs with the source deals), the
benchmark and data/samples/. Deterministic for a given seed. Each renderer returns
``(bytes, file_name)`` shaped like the vendor's real export (headers from
crm_export_headers.json, the vendor's date and number formats, its quirks).
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .. import schema as S

OWNERS = ["Ana Müller", "Ben Okafor", "Chloé Dubois", "Dev Patel", "Erin O'Neil", "Femi Adeyemi"]
ACCOUNTS = ["Acme Corp", "Globex", "Initech", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises", "Hooli",
            "Vandelay Import/Export"]
OPEN_STAGES = {
    "salesforce": ["Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review"],
    "german": ["Qualifizierung", "Angebot", "Verhandlung"],
    "hubspot": ["appointmentscheduled", "qualifiedtobuy", "contractsent"],
    "pipedrive": ["Qualified", "Contact Made", "Proposal Made", "Negotiations Started"],
    "zoho": ["Qualification", "Needs Analysis", "Identify Decision Makers"],
    "dynamics": ["Qualify", "Develop", "Propose", "Close"],
    "close": ["Demo Completed", "Proposal Sent", "Contacted"],
}
CLOSED_STAGES = {
    "salesforce": ("Closed Won", "Closed Lost"), "german": ("Geschlossen und gewonnen", "Geschlossen und verloren"),
    "hubspot": ("closedwon", "closedlost"), "zoho": ("Closed Won", "Closed Lost"), "close": ("Won", "Lost"),
}


def canonical_deals(n: int = 60, seed: int = 7, start: date = date(2023, 1, 1)) -> pd.DataFrame:
    """``n`` deals with status, amount, created and close dates (datetime64), owner, account.

    Every status appears; some ids have leading zeros; closed deals carry ``actual_amount`` and
    ``actual_close`` that differ from the expected ``est_amount`` / ``est_close`` (vendors
    that keep both must use the actual ones)."""
    rng = np.random.default_rng(seed)
    status = np.array([S.WON, S.LOST, S.OPEN])[rng.integers(0, 3, n)]
    status[:3] = [S.WON, S.LOST, S.OPEN]
    created = pd.to_datetime(start) + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    cycle = rng.integers(5, 200, n)
    close = created + pd.to_timedelta(cycle, unit="D")
    amount = np.round(rng.uniform(500, 250_000, n), 2)
    est_amount = np.round(amount * rng.uniform(0.7, 1.3, n), 2)
    est_close = close + pd.to_timedelta(rng.integers(-20, 40, n), unit="D")
    frame = pd.DataFrame({
        S.OPPORTUNITY_ID: [f"{i:06d}" for i in range(1, n + 1)],
        S.NAME: [f"Deal {i} – {['Renewal', 'Expansion', 'New logo'][i % 3]}" for i in range(1, n + 1)],
        S.ACCOUNT: [ACCOUNTS[i % len(ACCOUNTS)] for i in range(n)],
        S.OWNER: [OWNERS[int(k)] for k in rng.integers(0, len(OWNERS), n)],
        S.STATUS: status,
        S.AMOUNT: amount,
        S.CREATED_DATE: created,
        S.CLOSE_DATE: close,
        S.PROBABILITY: np.where(status == S.WON, 1.0, np.where(status == S.LOST, 0.0, rng.choice([0.1, 0.4, 0.6], n))),
        "est_amount": np.where(status == S.OPEN, amount, est_amount),
        "est_close": np.where(status == S.OPEN, close, est_close),
        "stage_pick": rng.integers(0, 100, n),
    })
    frame["est_close"] = pd.to_datetime(frame["est_close"])
    return frame


def stages_for(deals: pd.DataFrame, family: str) -> list[str]:
    """The stage text of each deal in a vendor family's vocabulary."""
    opens = OPEN_STAGES[family]
    won, lost = CLOSED_STAGES.get(family, (None, None))
    out = []
    for st, pick in zip(deals[S.STATUS], deals["stage_pick"]):
        if st == S.WON and won:
            out.append(won)
        elif st == S.LOST and lost:
            out.append(lost)
        else:
            out.append(opens[int(pick) % len(opens)])
    return out


def _csv(rows: list[list], *, delimiter: str = ",", quote_all: bool = False, encoding: str = "utf-8",
         newline: str = "\r\n") -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                   lineterminator=newline)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def _fmt_date(d, fmt: str) -> str:
    if d is None or pd.isna(d):
        return ""
    return pd.Timestamp(d).strftime(fmt)


def _fmt_dates(values: pd.Series, fmt: str) -> list[str]:
    """:func:`_fmt_date` of each value: at once for a column of datetimes, one by one for
    anything else (the 120,000-deal file of the kill -9 test is written in 1.3 s, not 4.1 s)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = pd.DatetimeIndex(values).strftime(fmt)
        return [t if isinstance(t, str) else "" for t in text]
    return [_fmt_date(v, fmt) for v in values]


def _us_date(d) -> str:
    if d is None or pd.isna(d):
        return ""
    t = pd.Timestamp(d)
    return f"{t.month}/{t.day}/{t.year}"


def _num_de(x: float) -> str:
    s = f"{x:,.2f}"
    return s.replace(",", "X").replace(".", ",").replace("X", ".")


def salesforce_report(deals: pd.DataFrame, *, lang: str = "en", generated: date = date(2024, 6, 30),
                      multi_currency: bool = False) -> tuple[bytes, str]:
    """A Salesforce "Details only" report export with its footer (EN: quoted, M/D/YYYY,
    UTF-8; DE: ';', decimal comma, DD.MM.YYYY, cp1252 as Excel saves it)."""
    if lang == "de":
        header = ["Opportunity-Inhaber", "Accountname", "Opportunity-Name", "Phase", "Betrag", "Wahrscheinlichkeit (%)",
                  "Schlusstermin", "Erstelldatum", "Lead-Quelle", "Opportunity-ID"]
        stages = stages_for(deals, "german")
        rows = [header]
        for d, stage in zip(deals.itertuples(), stages):
            rows.append([d.owner, d.account, d.name, stage, _num_de(d.amount), f"{d.probability * 100:.0f}",
                         _fmt_date(d.close_date, "%d.%m.%Y"), _fmt_date(d.created_date, "%d.%m.%Y"), "Web",
                         d.opportunity_id])
        rows += [[], [f"Gesamtsumme ({len(deals)} Datensätze)"], ["Vertrauliche Informationen - Nicht weitergeben"],
                 ["Copyright (c) 2000-2024 salesforce.com, inc. Alle Rechte vorbehalten."],
                 [f"Erstellt von: Anna Admin {generated:%d.%m.%Y} 10:15"]]
        return _csv(rows, delimiter=";", encoding="cp1252"), "report1719741300000.csv"
    header = ["Opportunity Owner", "Account Name", "Opportunity Name", "Stage", "Fiscal Period"]
    header += ["Amount Currency", "Amount"] if multi_currency else ["Amount"]
    header += ["Probability (%)", "Close Date", "Created Date", "Lead Source", "Type", "Opportunity ID"]
    stages = stages_for(deals, "salesforce")
    rows = [header]
    for d, stage in zip(deals.itertuples(), stages):
        q = (pd.Timestamp(d.close_date).month - 1) // 3 + 1
        money = ["USD", f"{d.amount:.2f}"] if multi_currency else [f"{d.amount:.2f}"]
        rows.append([d.owner, d.account, d.name, stage, f"Q{q}-{pd.Timestamp(d.close_date).year}", *money,
                     f"{d.probability * 100:.0f}%", _us_date(d.close_date), _us_date(d.created_date), "Web",
                     "New Business", d.opportunity_id])
    total = f"{deals[S.AMOUNT].sum():.2f}"
    rows += [[], ["Grand Totals (%d records)" % len(deals)] + [""] * (len(header) - 2) + [total],
             ["Confidential Information - Do Not Distribute"],
             ["Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."],
             [f"Generated By: Anna Admin {generated.month}/{generated.day}/{generated.year} 10:15 AM"]]
    return _csv(rows, quote_all=True, newline="\n"), "report_pipeline.csv"


def salesforce_api(deals: pd.DataFrame, *, all_caps: bool = False) -> tuple[bytes, str]:
    """A Data Loader / API-name extract: ISO datetimes, true/false, optionally ALL-CAPS headers."""
    header = ["Id", "Name", "AccountId", "Account.Name", "OwnerId", "Owner.Name", "StageName", "Amount", "Probability",
              "CloseDate", "CreatedDate", "IsClosed", "IsWon", "ForecastCategoryName", "CurrencyIsoCode"]
    stages = stages_for(deals, "salesforce")
    rows = [[h.upper() for h in header] if all_caps else header]
    for i, (d, stage) in enumerate(zip(deals.itertuples(), stages)):
        closed = d.status != S.OPEN
        # like the real extract, IsWon sometimes disagrees with StageName: StageName is the truth
        is_won = (d.status == S.WON) if i % 7 else not (d.status == S.WON)
        rows.append([d.opportunity_id, d.name, f"001{i:05d}", d.account, f"005{OWNERS.index(d.owner):03d}", d.owner,
                     stage, f"{d.amount}", f"{d.probability * 100:.0f}", _fmt_date(d.close_date, "%Y-%m-%d"),
                     _fmt_date(d.created_date, "%Y-%m-%dT%H:%M:%S.000Z"), str(closed).lower(), str(is_won).lower(),
                     "Closed" if closed else "Pipeline", "USD"])
    return _csv(rows), "extract.csv"


def hubspot(deals: pd.DataFrame) -> tuple[bytes, str]:
    header = ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Deal owner", "Pipeline", "Create Date",
              "Associated Company", "Deal probability", "Last Activity Date"]
    stages = stages_for(deals, "hubspot")
    rows = [header]
    for d, stage in zip(deals.itertuples(), stages):
        rows.append([str(int(d.opportunity_id)), d.name, stage, f"{d.amount}", _fmt_date(d.close_date, "%Y-%m-%d %H:%M"),
                     d.owner, "Sales Pipeline", _fmt_date(d.created_date, "%Y-%m-%d %H:%M"), d.account,
                     f"{d.probability}", ""])
    return _csv(rows, quote_all=True), "hubspot-crm-exports-all-deals-2024-06-30.csv"


def pipedrive(deals: pd.DataFrame) -> tuple[bytes, str]:
    """Status decides; a closed deal's close date is its Won/Lost time, not its expected date."""
    header = ["Deal - ID", "Deal - Title", "Deal - Creator", "Deal - Owner", "Deal - Value", "Deal - Currency of Value",
              "Deal - Organization", "Deal - Pipeline", "Deal - Stage", "Deal - Status", "Deal - Deal created",
              "Deal - Won time", "Deal - Lost time", "Deal - Expected close date", "Deal - Lost reason"]
    stages = stages_for(deals, "pipedrive")
    rows = [header]
    for d, stage in zip(deals.itertuples(), stages):
        won = _fmt_date(d.close_date, "%Y-%m-%d %H:%M:%S") if d.status == S.WON else ""
        lost = _fmt_date(d.close_date, "%Y-%m-%d %H:%M:%S") if d.status == S.LOST else ""
        rows.append([str(int(d.opportunity_id)), d.name, "Admin", d.owner, f"{d.amount}", "USD", d.account, "Sales",
                     stage, d.status, _fmt_date(d.created_date, "%Y-%m-%d %H:%M:%S"), won, lost,
                     _fmt_date(d.est_close, "%Y-%m-%d"), "Price" if d.status == S.LOST else ""])
    return _csv(rows), "deals-2024-06-30.csv"


def zoho(deals: pd.DataFrame) -> tuple[bytes, str]:
    header = ["Record Id", "Deal Owner.id", "Deal Owner", "Amount", "Deal Name", "Closing Date", "Account Name.id",
              "Account Name", "Stage", "Probability (%)", "Created Time", "Modified Time"]
    stages = stages_for(deals, "zoho")
    rows = [header]
    for i, (d, stage) in enumerate(zip(deals.itertuples(), stages)):
        rows.append([f"zcrm_48768760000{int(d.opportunity_id):05d}", f"zcrm_4876876000000{i % 6}", d.owner,
                     f"{d.amount}", d.name, _fmt_date(d.close_date, "%Y-%m-%d"), f"zcrm_99{i:04d}", d.account, stage,
                     f"{d.probability * 100:.0f}", _fmt_date(d.created_date, "%Y-%m-%d %H:%M:%S"), "2024-06-30 10:00:00"])
    return _csv(rows), "Deals_2024_06_30.csv"


def close(deals: pd.DataFrame) -> tuple[bytes, str]:
    """Close opportunity export: value in cents beside value_formatted; date_won is the
    estimated close date of active opportunities."""
    header = ["id", "lead_id", "lead_name", "user_id", "user_name", "status_id", "status_label", "status_type", "value",
              "value_period", "value_currency", "value_formatted", "confidence", "date_created", "date_won",
              "date_lost"]
    stages = stages_for(deals, "close")
    rows = [header]
    for i, (d, stage) in enumerate(zip(deals.itertuples(), stages)):
        stype = {S.OPEN: "active", S.WON: "won", S.LOST: "lost"}[d.status]
        cents = int(round(d.amount * 100))
        rows.append([f"oppo_{d.opportunity_id}", f"lead_{i}", d.name, f"user_{i % 6}", d.owner, f"stat_{i % 5}", stage,
                     stype, str(cents), "one_time", "USD", f"${cents / 100:,.2f}", f"{d.probability * 100:.0f}",
                     _fmt_date(d.created_date, "%Y-%m-%dT%H:%M:%S+00:00"),
                     _fmt_date(d.close_date, "%Y-%m-%dT%H:%M:%S+00:00") if d.status != S.LOST else "",
                     _fmt_date(d.close_date, "%Y-%m-%dT%H:%M:%S+00:00") if d.status == S.LOST else ""])
    return _csv(rows), "close-opportunities-2024-06-30.csv"


def canonical(deals: pd.DataFrame) -> tuple[bytes, str]:
    cols = [S.OPPORTUNITY_ID, S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE,
            S.PROBABILITY]
    stages = stages_for(deals, "salesforce")
    columns = [deals[S.OPPORTUNITY_ID].tolist(), deals[S.NAME].tolist(), deals[S.ACCOUNT].tolist(), deals[S.OWNER].tolist(),
               list(stages), deals[S.STATUS].tolist(), [f"{a}" for a in deals[S.AMOUNT].tolist()],
               _fmt_dates(deals[S.CREATED_DATE], "%Y-%m-%d"), _fmt_dates(deals[S.CLOSE_DATE], "%Y-%m-%d"),
               [f"{p}" for p in deals[S.PROBABILITY].tolist()]]
    return _csv([cols, *map(list, zip(*columns))], newline="\n"), "deals.csv"


def dynamics_xlsx(deals: pd.DataFrame) -> tuple[bytes, str]:
    """Dynamics 365 "Export to Excel": three hidden leading "(Do Not Modify)" columns, Status
    decides, closed deals use Actual Revenue / Actual Close Date (Est. values differ)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "My Open Opportunities"
    header = ["(Do Not Modify) Opportunity", "(Do Not Modify) Row Checksum", "(Do Not Modify) Modified On", "Topic",
              "Potential Customer", "Owner", "Est. close date", "Est. revenue", "Actual Close Date", "Actual Revenue",
              "Status", "Sales Stage", "Probability", "Created On"]
    ws.append(header)
    stages = stages_for(deals, "dynamics")
    for i, (d, stage) in enumerate(zip(deals.itertuples(), stages)):
        closed = d.status != S.OPEN
        guid = f"{int(d.opportunity_id):08x}-0000-4000-8000-{i:012x}"
        ws.append([guid, f"chk{i}", pd.Timestamp("2024-06-30 10:00").to_pydatetime(), d.name, d.account, d.owner,
                   pd.Timestamp(d.est_close).to_pydatetime(), float(d.est_amount),
                   pd.Timestamp(d.close_date).to_pydatetime() if closed else None, float(d.amount) if closed else None,
                   {S.OPEN: "Open", S.WON: "Won", S.LOST: "Lost"}[d.status], stage, int(d.probability * 100),
                   pd.Timestamp(d.created_date).to_pydatetime()])
    for col in ("A", "B", "C"):
        ws.column_dimensions[col].hidden = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "Opportunities 6-30-2024.xlsx"


def salesforce_report_xlsx(deals: pd.DataFrame) -> tuple[bytes, str]:
    """A "Formatted Report" XLSX: title rows above the header, a second sheet, dates as dates."""
    import openpyxl

    wb = openpyxl.Workbook()
    info = wb.active
    info.title = "Report info"
    info.append(["Filtered by: all opportunities"])
    ws = wb.create_sheet("Pipeline")
    ws.append(["Pipeline report"])
    ws.append(["As of 30 June 2024"])
    ws.append([])
    ws.append(["Opportunity Owner", "Account Name", "Opportunity Name", "Stage", "Amount", "Close Date",
               "Created Date", "Opportunity ID"])
    for d, stage in zip(deals.itertuples(), stages_for(deals, "salesforce")):
        ws.append([d.owner, d.account, d.name, stage, float(d.amount), pd.Timestamp(d.close_date).to_pydatetime(),
                   pd.Timestamp(d.created_date).to_pydatetime(), d.opportunity_id])
    ws.append([])
    ws.append([f"Grand Totals ({len(deals)} records)"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "pipeline report.xlsx"


def history(deals: pd.DataFrame) -> tuple[bytes, str]:
    """A Salesforce OpportunityHistory extract: stage changes per deal."""
    rows = [["OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate"]]
    for d in deals.itertuples():
        t = pd.Timestamp(d.created_date)
        for k, stage in enumerate(OPEN_STAGES["salesforce"][:2]):
            rows.append([d.opportunity_id, (t + timedelta(days=k)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), stage,
                         f"{d.amount}", _fmt_date(d.close_date, "%Y-%m-%d")])
        if d.status != S.OPEN:
            rows.append([d.opportunity_id, pd.Timestamp(d.close_date).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                         "Closed Won" if d.status == S.WON else "Closed Lost", f"{d.amount}",
                         _fmt_date(d.close_date, "%Y-%m-%d")])
    return _csv(rows), "OpportunityHistory.csv"


RENDERERS = {
    "salesforce_report": salesforce_report,
    "salesforce_api": salesforce_api,
    "hubspot": hubspot,
    "pipedrive": pipedrive,
    "zoho": zoho,
    "close": close,
    "canonical": canonical,
    "dynamics": dynamics_xlsx,
}


#: Sample exports offered on the Import page ("try one"), label -> renderer of 60 demo deals.
SAMPLE_EXPORTS = {
    "Salesforce report (English)": lambda: salesforce_report(canonical_deals(60, seed=21)),
    "Salesforce report (German, cp1252, ';')": lambda: salesforce_report(canonical_deals(60, seed=21), lang="de"),
    "Salesforce Data Loader extract": lambda: salesforce_api(canonical_deals(60, seed=21)),
    "HubSpot deals": lambda: hubspot(canonical_deals(60, seed=21)),
    "Pipedrive deals": lambda: pipedrive(canonical_deals(60, seed=21)),
    "Zoho CRM deals": lambda: zoho(canonical_deals(60, seed=21)),
    "Dynamics 365 (XLSX)": lambda: dynamics_xlsx(canonical_deals(60, seed=21)),
    "Close opportunities": lambda: close(canonical_deals(60, seed=21)),
}
