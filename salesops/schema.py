"""Canonical field names, SQL types, statuses, forecast categories and the default stage map.

Every column name the product uses lives here; other modules import the constants instead of
spelling the strings again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# --- opportunities -------------------------------------------------------------------------
OPPORTUNITY_ID = "opportunity_id"
NAME = "name"
ACCOUNT = "account"
OWNER = "owner"
STAGE = "stage"
STATUS = "status"
AMOUNT = "amount"
CURRENCY = "currency"
CREATED_DATE = "created_date"
CLOSE_DATE = "close_date"
PROBABILITY = "probability"
FORECAST_CATEGORY = "forecast_category"
TYPE = "type"
LEAD_SOURCE = "lead_source"
REGION = "region"
SEGMENT = "segment"
INDUSTRY = "industry"
PRODUCT = "product"
PIPELINE = "pipeline"
LOSS_REASON = "loss_reason"
EXTRA = "extra"
IMPORT_ID = "import_id"
#: Where a deal's status came from (schema 4): STATUS_FROM_FILE (an explicit status column of
#: the export, a second-opinion status or won/closed flags) or STATUS_FROM_MAP (the stage map,
#: including "counted as open" for a stage the map does not know). A stage-map change
#: re-derives only the statuses that came from the map.
STATUS_SOURCE = "status_source"
STATUS_FROM_FILE, STATUS_FROM_MAP = "file", "stage_map"
STATUS_SOURCES = (STATUS_FROM_FILE, STATUS_FROM_MAP)

#: Every column of the ``opportunities`` table, in order, with its SQLite type.
OPPORTUNITY_COLUMNS: dict[str, str] = {
    OPPORTUNITY_ID: "TEXT",
    NAME: "TEXT",
    ACCOUNT: "TEXT",
    OWNER: "TEXT",
    STAGE: "TEXT",
    STATUS: "TEXT",
    AMOUNT: "REAL",
    CURRENCY: "TEXT",
    CREATED_DATE: "TEXT",
    CLOSE_DATE: "TEXT",
    PROBABILITY: "REAL",
    FORECAST_CATEGORY: "TEXT",
    TYPE: "TEXT",
    LEAD_SOURCE: "TEXT",
    REGION: "TEXT",
    SEGMENT: "TEXT",
    INDUSTRY: "TEXT",
    PRODUCT: "TEXT",
    PIPELINE: "TEXT",
    LOSS_REASON: "TEXT",
    EXTRA: "TEXT",
    IMPORT_ID: "INTEGER",
    STATUS_SOURCE: "TEXT",
}
#: Columns of ``opportunities`` that are bookkeeping, not a field of the export (no mapping,
#: no SPIF filter names them).
BOOKKEEPING_COLUMNS = (EXTRA, IMPORT_ID, STATUS_SOURCE)
DATE_FIELDS = (CREATED_DATE, CLOSE_DATE)
MONEY_FIELDS = (AMOUNT,)
#: Optional text dimensions a user can group or filter by.
DIMENSIONS = (TYPE, LEAD_SOURCE, REGION, SEGMENT, INDUSTRY, PRODUCT, PIPELINE)
#: Columns an import must be able to fill (DESIGN.md section 2).
REQUIRED_FOR_IMPORT = ((OPPORTUNITY_ID, NAME), (OWNER,), (STAGE, STATUS), (AMOUNT,))

# --- snapshots: the state of every deal as of each import ------------------------------------
AS_OF = "as_of"
SNAPSHOT_COLUMNS: dict[str, str] = {
    AS_OF: "TEXT",
    OPPORTUNITY_ID: "TEXT",
    OWNER: "TEXT",
    STAGE: "TEXT",
    STATUS: "TEXT",
    AMOUNT: "REAL",
    CREATED_DATE: "TEXT",
    CLOSE_DATE: "TEXT",
    PROBABILITY: "REAL",
    FORECAST_CATEGORY: "TEXT",
    IMPORT_ID: "INTEGER",
}

# --- stage history ---------------------------------------------------------------------------
ENTERED_AT = "entered_at"
STAGE_HISTORY_COLUMNS: dict[str, str] = {
    OPPORTUNITY_ID: "TEXT",
    STAGE: "TEXT",
    ENTERED_AT: "TEXT",
    IMPORT_ID: "INTEGER",
}

# --- roster, accounts, targets ---------------------------------------------------------------
MANAGER = "manager"
TEAM = "team"
HIRE_DATE = "hire_date"
END_DATE = "end_date"
OTE = "ote"
BASE_SALARY = "base_salary"
ACTIVE = "active"
REP_COLUMNS: dict[str, str] = {
    NAME: "TEXT",
    MANAGER: "TEXT",
    TEAM: "TEXT",
    REGION: "TEXT",
    HIRE_DATE: "TEXT",
    END_DATE: "TEXT",
    OTE: "REAL",
    BASE_SALARY: "REAL",
    ACTIVE: "INTEGER",
}
ACCOUNT_COLUMNS: dict[str, str] = {
    NAME: "TEXT",
    INDUSTRY: "TEXT",
    "employees": "INTEGER",
    "revenue": "REAL",
    REGION: "TEXT",
    "territory": "TEXT",
}
#: A target belongs to an owner (rep) or a team (``scope`` says which) for one period.
SCOPE = "scope"  # 'owner' | 'team' | 'region' | 'all'
SCOPE_NAME = "scope_name"
PERIOD_START = "period_start"
PERIOD_END = "period_end"
TARGET_COLUMNS: dict[str, str] = {
    SCOPE: "TEXT",
    SCOPE_NAME: "TEXT",
    PERIOD_START: "TEXT",
    PERIOD_END: "TEXT",
    AMOUNT: "REAL",
}

# --- statuses and forecast categories ---------------------------------------------------------
OPEN, WON, LOST = "open", "won", "lost"
STATUSES = (OPEN, WON, LOST)
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")


@dataclass(frozen=True)
class StageRule:
    """What one stage text means: its status, default probability (0..1) and funnel order."""

    status: str
    probability: float
    order: int


def stage_key(stage: str) -> str:
    """Normalise a stage text for look-ups: case, spaces and punctuation do not matter."""
    return re.sub(r"[^0-9a-zäöüß]+", "", str(stage).casefold())


#: Known stage texts of Salesforce, HubSpot, Pipedrive, Zoho, Dynamics and common English and
#: German names. Keys are display texts; look-ups go through :func:`stage_key`.
DEFAULT_STAGE_MAP: dict[str, StageRule] = {
    # Salesforce defaults
    "Prospecting": StageRule(OPEN, 0.10, 1),
    "Qualification": StageRule(OPEN, 0.10, 2),
    "Needs Analysis": StageRule(OPEN, 0.20, 3),
    "Value Proposition": StageRule(OPEN, 0.50, 4),
    "Id. Decision Makers": StageRule(OPEN, 0.60, 5),
    "Perception Analysis": StageRule(OPEN, 0.70, 6),
    "Proposal/Price Quote": StageRule(OPEN, 0.75, 7),
    "Proposal/Quote": StageRule(OPEN, 0.75, 7),
    "Negotiation/Review": StageRule(OPEN, 0.90, 8),
    "Closed Won": StageRule(WON, 1.0, 9),
    "Closed Lost": StageRule(LOST, 0.0, 10),
    # common English names
    "Lead": StageRule(OPEN, 0.05, 1),
    "Discovery": StageRule(OPEN, 0.15, 2),
    "Engaging": StageRule(OPEN, 0.30, 3),
    "Demo": StageRule(OPEN, 0.30, 4),
    "Proposal": StageRule(OPEN, 0.60, 5),
    "Negotiation": StageRule(OPEN, 0.80, 6),
    "Commit": StageRule(OPEN, 0.90, 7),
    "Won": StageRule(WON, 1.0, 9),
    "Lost": StageRule(LOST, 0.0, 10),
    "Closed": StageRule(WON, 1.0, 9),
    # HubSpot internal and label names
    "appointmentscheduled": StageRule(OPEN, 0.20, 1),
    "Appointment Scheduled": StageRule(OPEN, 0.20, 1),
    "qualifiedtobuy": StageRule(OPEN, 0.40, 2),
    "Qualified To Buy": StageRule(OPEN, 0.40, 2),
    "presentationscheduled": StageRule(OPEN, 0.60, 3),
    "Presentation Scheduled": StageRule(OPEN, 0.60, 3),
    "decisionmakerboughtin": StageRule(OPEN, 0.80, 4),
    "Decision Maker Bought-In": StageRule(OPEN, 0.80, 4),
    "contractsent": StageRule(OPEN, 0.90, 5),
    "Contract Sent": StageRule(OPEN, 0.90, 5),
    "closedwon": StageRule(WON, 1.0, 9),
    "closedlost": StageRule(LOST, 0.0, 10),
    # Pipedrive defaults
    "Qualified": StageRule(OPEN, 0.10, 1),
    "Contact Made": StageRule(OPEN, 0.20, 2),
    "Demo Scheduled": StageRule(OPEN, 0.40, 3),
    "Proposal Made": StageRule(OPEN, 0.60, 4),
    "Negotiations Started": StageRule(OPEN, 0.80, 5),
    # Zoho defaults
    "Needs Analysis ": StageRule(OPEN, 0.20, 3),
    "Identify Decision Makers": StageRule(OPEN, 0.60, 5),
    "Proposal/Price Quote ": StageRule(OPEN, 0.75, 7),
    "Closed (Won)": StageRule(WON, 1.0, 9),
    "Closed (Lost)": StageRule(LOST, 0.0, 10),
    "Closed-Lost to Competition": StageRule(LOST, 0.0, 10),
    # Dynamics 365 sales stages / pipeline phases
    "Qualify": StageRule(OPEN, 0.20, 1),
    "Develop": StageRule(OPEN, 0.40, 2),
    "Propose": StageRule(OPEN, 0.60, 3),
    "Close": StageRule(OPEN, 0.80, 4),
    # German
    "Interessent": StageRule(OPEN, 0.10, 1),
    "Qualifizierung": StageRule(OPEN, 0.10, 2),
    "Bedarfsanalyse": StageRule(OPEN, 0.20, 3),
    "Angebot": StageRule(OPEN, 0.60, 5),
    "Verhandlung": StageRule(OPEN, 0.80, 6),
    "Gewonnen": StageRule(WON, 1.0, 9),
    "Verloren": StageRule(LOST, 0.0, 10),
    "Geschlossen und gewonnen": StageRule(WON, 1.0, 9),
    "Geschlossen und verloren": StageRule(LOST, 0.0, 10),
    "Geschlossen/gewonnen": StageRule(WON, 1.0, 9),
    "Geschlossen/verloren": StageRule(LOST, 0.0, 10),
}

#: The same map keyed by :func:`stage_key`, for look-ups.
DEFAULT_STAGE_RULES: dict[str, StageRule] = {stage_key(k): v for k, v in DEFAULT_STAGE_MAP.items()}

# --- settings ----------------------------------------------------------------------------------
DEFAULT_SETTINGS: dict[str, object] = {
    "fiscal_year_start_month": 1,
    "currency": "USD",
    "holiday_country": "US",
    "workspace_name": "My workspace",
}
