"""CRM vendors, recognised from the headers alone, and their header -> field maps.

A vendor's map lists (header, field) pairs in priority order: when two headers of a file map
to the same field, the earlier pair wins and the other column stays in ``extra``. Besides the
canonical fields of ``schema.OPPORTUNITY_COLUMNS`` a map may name helper fields that the
validator resolves by rule (see :data:`HELPER_FIELDS`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .. import schema as S
from .headers import SYNONYMS, header_key

#: Fields that are not columns of ``opportunities`` but feed rules:
#: is_won / is_closed / is_lost (flags used when the stage is unknown), won_date / lost_date /
#: closed_on / actual_close_date (the close date of closed deals), actual_amount (the amount
#: of closed deals), status_check (a second opinion on open/won/lost: decides for unknown
#: stages, reported where it disagrees; Zoho's Forecast Type), status_reason (a reason that is
#: a loss reason for lost deals only; Dynamics' Status Reason), entered_at (stage history).
HELPER_FIELDS = ("is_won", "is_closed", "is_lost", "won_date", "lost_date", "closed_on",
                 "actual_close_date", "actual_amount", "status_check", "status_reason", S.ENTERED_AT)
#: Every field a column may be mapped to.
DEAL_FIELDS = tuple(c for c in S.OPPORTUNITY_COLUMNS if c not in S.BOOKKEEPING_COLUMNS)
ALL_FIELDS = DEAL_FIELDS + HELPER_FIELDS
#: Mapping a column to this keeps it in ``extra`` only.
IGNORE = "extra"


@dataclass(frozen=True)
class Vendor:
    """One export format: how to recognise it and how its headers map to fields.

    ``signatures``: sets of header keys; the vendor's score is the best share of one set
    present in the file. ``status_decides``: the vendor has a status column that decides
    won/lost/open (Pipedrive, Dynamics, Close); otherwise the stage map decides and won/closed
    flags only help for unknown stages. ``kind``: what the file holds."""

    name: str
    label: str
    pairs: tuple[tuple[str, str], ...]
    signatures: tuple[frozenset[str], ...]
    status_decides: bool = False
    kind: str = "opportunities"  # or "stage_history"
    twin_suffix: str | None = None  # Zoho: 'X.id' columns are the ids of lookup 'X'
    notes: tuple[str, ...] = field(default_factory=tuple)

    def header_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for header, fld in self.pairs:
            out.setdefault(header_key(header), fld)
        return out

    def priority(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, (header, _) in enumerate(self.pairs):
            out.setdefault(header_key(header), i)
        return out


def _sig(*headers: str) -> frozenset[str]:
    return frozenset(header_key(h) for h in headers)


SALESFORCE_REPORT = Vendor(
    "salesforce_report", "Salesforce report",
    pairs=(
        ("Opportunity ID", S.OPPORTUNITY_ID), ("Opportunity-ID", S.OPPORTUNITY_ID), ("Opportunity ID (18)", S.OPPORTUNITY_ID),
        ("Deal ID", S.OPPORTUNITY_ID),  # an org that relabelled the Opportunity object "Deal"
        ("Opportunity Name", S.NAME), ("Opportunity-Name", S.NAME), ("Deal Name", S.NAME),
        ("Account Name", S.ACCOUNT), ("Accountname", S.ACCOUNT),
        ("Opportunity Owner", S.OWNER), ("Opportunity-Inhaber", S.OWNER), ("Deal Owner", S.OWNER), ("Owner", S.OWNER),
        ("Stage", S.STAGE), ("Phase", S.STAGE),
        ("Amount (converted)", S.AMOUNT), ("Betrag (konvertiert)", S.AMOUNT),
        ("Amount", S.AMOUNT), ("Betrag", S.AMOUNT),
        ("Amount (converted) Currency", S.CURRENCY), ("Betrag (konvertiert) Währung", S.CURRENCY),
        ("Amount Currency", S.CURRENCY), ("Betrag Währung", S.CURRENCY), ("Opportunity Currency", S.CURRENCY),
        ("Opportunity-Währung", S.CURRENCY),
        ("Created Date", S.CREATED_DATE), ("Erstelldatum", S.CREATED_DATE),
        ("Close Date", S.CLOSE_DATE), ("Schlusstermin", S.CLOSE_DATE),
        ("Probability (%)", S.PROBABILITY), ("Wahrscheinlichkeit (%)", S.PROBABILITY),
        ("Forecast Category", S.FORECAST_CATEGORY), ("Prognosekategorie", S.FORECAST_CATEGORY),
        ("Type", S.TYPE), ("Typ", S.TYPE), ("Opportunity Type", S.TYPE), ("Opportunity-Typ", S.TYPE),
        ("Lead Source", S.LEAD_SOURCE), ("Lead-Quelle", S.LEAD_SOURCE),
        ("Loss Reason", S.LOSS_REASON), ("Verlustgrund", S.LOSS_REASON),
        ("Region", S.REGION), ("Segment", S.SEGMENT), ("Industry", S.INDUSTRY), ("Branche", S.INDUSTRY),
        ("Product", S.PRODUCT), ("Produkt", S.PRODUCT),
        ("Won", "is_won"), ("Gewonnen", "is_won"), ("Closed", "is_closed"), ("Geschlossen", "is_closed"),
    ),
    signatures=(
        _sig("Opportunity Owner", "Opportunity Name", "Stage", "Close Date", "Amount", "Account Name"),
        _sig("Opportunity-Inhaber", "Opportunity-Name", "Phase", "Schlusstermin", "Betrag", "Accountname"),
        _sig("Deal Owner", "Deal Name", "Stage", "Close Date", "Amount", "Account Name"),
    ),
    notes=("Footer lines (Grand Totals, Confidential Information, copyright, Generated By) are dropped.",),
)

SALESFORCE_API = Vendor(
    "salesforce_api", "Salesforce (API names / Data Loader)",
    pairs=(
        ("Id", S.OPPORTUNITY_ID), ("External_Id__c", S.OPPORTUNITY_ID), ("Name", S.NAME),
        # relationship headers of Data Loader and Analytics load files: the related record's field
        ("Account.Name", S.ACCOUNT), ("AccountName", S.ACCOUNT), ("Account.External_Id__c", S.ACCOUNT),
        ("AccountId", S.ACCOUNT),
        ("Owner.Name", S.OWNER), ("OwnerName", S.OWNER), ("Owner.Email", S.OWNER), ("Owner.Username", S.OWNER),
        ("Owner.External_Id__c", S.OWNER), ("OwnerId", S.OWNER),
        ("StageName", S.STAGE),
        ("Amount", S.AMOUNT), ("CurrencyIsoCode", S.CURRENCY),
        ("CreatedDate", S.CREATED_DATE), ("DateTimeCreated__c", S.CREATED_DATE), ("Created_Date__c", S.CREATED_DATE),
        ("CloseDate", S.CLOSE_DATE),
        ("Probability", S.PROBABILITY),
        ("ForecastCategoryName", S.FORECAST_CATEGORY), ("ForecastCategory", S.FORECAST_CATEGORY),
        ("Type", S.TYPE), ("LeadSource", S.LEAD_SOURCE), ("Loss_Reason__c", S.LOSS_REASON),
        ("IsWon", "is_won"), ("IsClosed", "is_closed"),
    ),
    signatures=(_sig("Id", "Name", "StageName", "CloseDate", "Amount", "IsWon"),
                _sig("Id", "StageName", "CloseDate", "OwnerId", "AccountId"),
                _sig("External_Id__c", "Name", "StageName", "CloseDate", "Amount", "Owner.External_Id__c")),
)

SALESFORCE_HISTORY = Vendor(
    "salesforce_history", "Salesforce OpportunityHistory (stage history)",
    pairs=(
        ("OpportunityId", S.OPPORTUNITY_ID), ("OppID", S.OPPORTUNITY_ID), ("Opportunity ID", S.OPPORTUNITY_ID),
        ("StageName", S.STAGE), ("Stage Name", S.STAGE), ("To Stage", S.STAGE),
        ("CreatedDate", S.ENTERED_AT), ("Created Date", S.ENTERED_AT), ("Edit Date", S.ENTERED_AT),
        ("Last Modified", S.ENTERED_AT),
    ),
    signatures=(_sig("OpportunityId", "StageName", "CreatedDate"),
                _sig("OppID", "StageName", "CreatedDate"),
                _sig("Opportunity ID", "Stage Name", "Created Date", "Opportunity History ID")),
    kind="stage_history",
)

HUBSPOT = Vendor(
    "hubspot", "HubSpot deals",
    pairs=(
        ("Record ID", S.OPPORTUNITY_ID), ("hs_object_id", S.OPPORTUNITY_ID), ("Deal ID", S.OPPORTUNITY_ID),
        ("Deal Name", S.NAME), ("dealname", S.NAME),
        ("Associated Company", S.ACCOUNT), ("Associated Company (Primary)", S.ACCOUNT), ("Company name", S.ACCOUNT),
        ("Deal owner", S.OWNER), ("hubspot_owner_id", S.OWNER),
        ("Deal Stage", S.STAGE), ("dealstage", S.STAGE),
        ("Amount in company currency", S.AMOUNT), ("amount_in_home_currency", S.AMOUNT),
        ("Amount", S.AMOUNT), ("amount", S.AMOUNT),
        ("Currency", S.CURRENCY), ("deal_currency_code", S.CURRENCY),
        ("Create Date", S.CREATED_DATE), ("createdate", S.CREATED_DATE),
        ("Close Date", S.CLOSE_DATE), ("closedate", S.CLOSE_DATE),
        ("Deal probability", S.PROBABILITY), ("hs_deal_stage_probability", S.PROBABILITY),
        ("Forecast category", S.FORECAST_CATEGORY), ("hs_forecast_category", S.FORECAST_CATEGORY),
        ("Deal Type", S.TYPE), ("dealtype", S.TYPE),
        ("Pipeline", S.PIPELINE), ("pipeline", S.PIPELINE),
        ("Closed Lost Reason", S.LOSS_REASON), ("closed_lost_reason", S.LOSS_REASON),
        ("Original Source Type", S.LEAD_SOURCE), ("Original Traffic Source", S.LEAD_SOURCE),
        ("Is Closed Won", "is_won"), ("hs_is_closed_won", "is_won"),
        ("Is closed lost", "is_lost"), ("Is Closed", "is_closed"), ("hs_is_closed", "is_closed"),
    ),
    signatures=(_sig("Record ID", "Deal Name", "Deal Stage", "Deal owner", "Close Date", "Amount"),
                _sig("hs_object_id", "dealname", "dealstage", "closedate", "amount")),
)

PIPEDRIVE = Vendor(
    "pipedrive", "Pipedrive deals",
    pairs=(
        ("Deal - ID", S.OPPORTUNITY_ID), ("Deal - Pipedrive System ID", S.OPPORTUNITY_ID),
        ("Deal - Title", S.NAME),
        ("Deal - Organization", S.ACCOUNT), ("Organization - Name", S.ACCOUNT),
        ("Deal - Owner", S.OWNER),
        ("Deal - Stage", S.STAGE), ("Deal - Stage (pipeline)", S.STAGE),
        ("Deal - Status", S.STATUS),
        ("Deal - Value", S.AMOUNT), ("Deal - Deal value", S.AMOUNT),
        ("Deal - Currency of Value", S.CURRENCY), ("Deal - Currency", S.CURRENCY),
        ("Deal - Deal created", S.CREATED_DATE), ("Deal - Creation date", S.CREATED_DATE),
        ("Deal - Deal created on", S.CREATED_DATE),
        ("Deal - Expected close date", S.CLOSE_DATE),
        ("Deal - Won time", "won_date"), ("Deal - Lost time", "lost_date"),
        ("Deal - Deal closed on", "closed_on"), ("Deal - Closed on", "closed_on"),
        ("Deal - Probability", S.PROBABILITY),
        ("Deal - Pipeline", S.PIPELINE),
        ("Deal - Lost reason", S.LOSS_REASON),
        ("Deal - Product name", S.PRODUCT),
        ("Deal - Source channel", S.LEAD_SOURCE), ("Deal - Source origin", S.LEAD_SOURCE),
    ),
    signatures=(_sig("Deal - ID", "Deal - Title", "Deal - Owner", "Deal - Value", "Deal - Stage", "Deal - Status"),),
    status_decides=True,
    notes=("'Deal - Status' decides won/lost/open; a closed deal's close date is its Won time or Lost time.",),
)

#: Zoho's Deals module was called Potentials until 2018, and an organisation may rename it
#: (Opportunities): its field labels follow the module's name.
ZOHO_MODULE_NAMES = ("Deal", "Potential", "Opportunity")


def _zoho_module(label: str, field_: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{m} {label}", field_) for m in ZOHO_MODULE_NAMES)


ZOHO = Vendor(
    "zoho", "Zoho CRM deals (or Potentials)",
    pairs=(
        ("Record Id", S.OPPORTUNITY_ID), ("id", S.OPPORTUNITY_ID), *_zoho_module("Id", S.OPPORTUNITY_ID),
        *_zoho_module("Name", S.NAME), ("Deal_Name", S.NAME), ("Potential_Name", S.NAME),
        ("Account Name", S.ACCOUNT), ("Account_Name", S.ACCOUNT),
        *_zoho_module("Owner", S.OWNER), ("Owner", S.OWNER),
        ("Stage", S.STAGE),
        ("Amount", S.AMOUNT), ("Currency", S.CURRENCY),
        ("Created Time", S.CREATED_DATE), ("Created_Time", S.CREATED_DATE),
        ("Closing Date", S.CLOSE_DATE), ("Closing_Date", S.CLOSE_DATE),
        ("Probability (%)", S.PROBABILITY), ("Probability", S.PROBABILITY),
        ("Forecast Type", "status_check"),
        ("Type", S.TYPE), ("Lead Source", S.LEAD_SOURCE), ("Lead_Source", S.LEAD_SOURCE),
        ("Pipeline", S.PIPELINE), ("Reason For Loss", S.LOSS_REASON), ("Reason_For_Loss__s", S.LOSS_REASON),
    ),
    signatures=(_sig("Record Id", "Deal Owner", "Deal Name", "Closing Date", "Stage", "Amount", "Deal Owner.id"),
                _sig("Deal_Name", "Closing_Date", "Account_Name", "Stage", "Amount"),
                _sig("Potential Name", "Potential Owner", "Closing Date", "Stage", "Amount", "Created Time"),
                _sig("Opportunity Name", "Opportunity Owner", "Closing Date", "Stage", "Amount", "Created Time")),
    twin_suffix=".id",
    notes=("Stage decides; Forecast Type (Open / Won / Lost) is checked against it.",),
)

DYNAMICS = Vendor(
    "dynamics", "Dynamics 365 opportunities",
    pairs=(
        ("(Do Not Modify) Opportunity", S.OPPORTUNITY_ID), ("(Do Not Modify) Deal", S.OPPORTUNITY_ID),
        ("opportunityid", S.OPPORTUNITY_ID),
        ("Topic", S.NAME), ("name", S.NAME),
        ("Potential Customer", S.ACCOUNT), ("Account", S.ACCOUNT), ("customerid", S.ACCOUNT),
        ("Owner", S.OWNER), ("ownerid", S.OWNER),
        ("Sales Stage", S.STAGE), ("Pipeline Phase", S.STAGE), ("salesstage", S.STAGE), ("stepname", S.STAGE),
        ("Status", S.STATUS), ("statecode", S.STATUS),
        ("Est. revenue", S.AMOUNT), ("Est. Revenue", S.AMOUNT), ("estimatedvalue", S.AMOUNT),
        ("Actual Revenue", "actual_amount"), ("actualvalue", "actual_amount"),
        ("Currency", S.CURRENCY), ("transactioncurrencyid", S.CURRENCY),
        ("Created On", S.CREATED_DATE), ("createdon", S.CREATED_DATE),
        ("Est. close date", S.CLOSE_DATE), ("estimatedclosedate", S.CLOSE_DATE),
        ("Actual Close Date", "actual_close_date"), ("actualclosedate", "actual_close_date"),
        ("Probability", S.PROBABILITY), ("closeprobability", S.PROBABILITY),
        ("Forecast category", S.FORECAST_CATEGORY), ("msdyn_forecastcategory", S.FORECAST_CATEGORY),
        ("Status Reason", "status_reason"),
    ),
    signatures=(_sig("(Do Not Modify) Opportunity", "Topic", "Potential Customer", "Est. close date", "Est. revenue", "Status"),
                _sig("Topic", "Potential Customer", "Est. close date", "Est. revenue", "Status", "Actual Revenue"),
                _sig("opportunityid", "name", "estimatedclosedate", "estimatedvalue", "statecode")),
    status_decides=True,
    notes=("Status decides; closed deals use Actual Revenue and Actual Close Date.",),
)

CLOSE = Vendor(
    "close", "Close opportunities",
    pairs=(
        ("id", S.OPPORTUNITY_ID),
        ("lead_name", S.NAME),
        ("user_name", S.OWNER),
        ("status_label", S.STAGE), ("status_display_name", S.STAGE),
        ("status_type", S.STATUS),
        ("value", S.AMOUNT), ("value_currency", S.CURRENCY),
        ("date_created", S.CREATED_DATE),
        ("date_won", "won_date"), ("date_lost", "lost_date"),
        ("confidence", S.PROBABILITY),
        ("pipeline_name", S.PIPELINE),
    ),
    signatures=(_sig("id", "lead_name", "user_name", "status_label", "status_type", "value", "date_created"),),
    status_decides=True,
    notes=("status_type (active/won/lost) decides; value is in cents when value_formatted shows it.",),
)

CANONICAL = Vendor(
    "canonical", "salesops canonical format",
    pairs=tuple((c, c) for c in DEAL_FIELDS),
    signatures=(_sig(S.OPPORTUNITY_ID, S.OWNER, S.STAGE, S.AMOUNT, S.CLOSE_DATE, S.CREATED_DATE, S.STATUS),),
)

VENDORS: tuple[Vendor, ...] = (SALESFORCE_REPORT, SALESFORCE_API, SALESFORCE_HISTORY, HUBSPOT, PIPEDRIVE, ZOHO,
                               DYNAMICS, CLOSE, CANONICAL)
VENDOR_BY_NAME = {v.name: v for v in VENDORS}
#: Below this signature share a file is "generic" and goes to the fuzzy mapper.
DETECT_THRESHOLD = 0.6


@lru_cache(maxsize=1)
def known_header_keys() -> frozenset[str]:
    """Every header key any vendor or the fuzzy mapper knows (used to find the header row)."""
    keys = {header_key(h) for v in VENDORS for h, _ in v.pairs}
    keys |= {header_key(s) for syns in SYNONYMS.values() for s in syns}
    return frozenset(keys)


def vendor_scores(header: list[str]) -> dict[str, float]:
    """Each vendor's score for this header row (0..1)."""
    keys = {header_key(h) for h in header}
    raw = [str(h) for h in header]
    out = {}
    for v in VENDORS:
        score = max(len(sig & keys) / len(sig) for sig in v.signatures)
        if v is ZOHO and any(h.strip().lower().endswith(".id") for h in raw):
            score = max(score, 0.5) + 0.2
        if v is DYNAMICS and any(h.strip().lower().startswith("(do not modify)") for h in raw):
            score += 0.3
        if v is PIPEDRIVE:
            n = sum(1 for h in raw if h.strip().lower().startswith("deal - "))
            if n >= 3:
                score = max(score, 0.7)
        if v is SALESFORCE_HISTORY and (not ({"opportunityid", "oppid"} & keys or "opportunityhistoryid" in keys)
                                        or not {"stagename", "tostage"} & keys):
            score = min(score, 0.3)  # a stage history needs the deal's id and the stage it entered
        out[v.name] = min(score, 1.0)
    return out


def detect_vendor(header: list[str]) -> tuple[Vendor | None, float]:
    """The vendor whose signature the header matches best, or (None, score) below the threshold."""
    scores = vendor_scores(header)
    name = max(scores, key=lambda k: (scores[k], -list(VENDOR_BY_NAME).index(k)))
    if scores[name] < DETECT_THRESHOLD:
        return None, scores[name]
    return VENDOR_BY_NAME[name], scores[name]
