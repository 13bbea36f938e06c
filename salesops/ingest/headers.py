"""Header names: the matching key of a column header and the synonyms per field for files from
unknown tools. A leaf module: the reader (finding the header row), the vendor maps and the fuzzy
mapper all read it, and it imports none of them."""
from __future__ import annotations

import re

from .. import schema as S


def header_key(text: str) -> str:
    """A header for matching: case, spaces, punctuation, a BOM and a trailing '*' do not matter."""
    t = str(text).replace("\ufeff", "").strip().rstrip("*").casefold()
    return re.sub(r"[^0-9a-zäöüß]+", "", t)


#: Synonyms (English and German) per field for files from unknown tools.
SYNONYMS: dict[str, tuple[str, ...]] = {
    S.OPPORTUNITY_ID: ("opportunity id", "opportunity_id", "deal id", "potential id", "id", "record id", "opp id",
                       "oppid", "external id",
                       "deal number", "deal no", "opportunity number", "chance id", "verkaufschance id",
                       "opportunity-id", "deal-id", "nummer", "kennung"),
    S.NAME: ("name", "opportunity name", "deal name", "potential name", "deal", "opportunity", "title", "deal title",
             "topic",
             "opportunity-name", "verkaufschance", "chance", "titel", "bezeichnung", "projekt"),
    S.ACCOUNT: ("account", "account name", "company", "customer", "client", "organization", "organisation",
                "firma", "kunde", "unternehmen", "accountname", "organisation name", "company name"),
    S.OWNER: ("owner", "opportunity owner", "deal owner", "potential owner", "sales rep", "rep", "salesperson", "sales person",
              "sales agent", "agent", "account executive", "ae", "seller", "assigned to", "user", "inhaber",
              "verantwortlicher", "vertriebsmitarbeiter", "verkäufer", "besitzer", "opportunity-inhaber",
              "mitarbeiter", "owner name"),
    S.STAGE: ("stage", "deal stage", "sales stage", "opportunity stage", "stage name", "phase", "pipeline stage",
              "status stage", "verkaufsphase", "stufe", "deal_stage"),
    S.STATUS: ("status", "deal status", "state", "outcome", "result", "won lost", "zustand", "ergebnis"),
    S.AMOUNT: ("amount", "value", "deal value", "deal amount", "revenue", "close value", "opportunity amount",
               "total", "price", "booking", "bookings", "arr", "acv", "betrag", "wert", "umsatz", "volumen",
               "auftragswert", "deal size", "close_value"),
    S.CURRENCY: ("currency", "currency code", "amount currency", "währung", "waehrung", "iso currency"),
    S.CREATED_DATE: ("created date", "create date", "created", "created on", "creation date", "date created",
                     "created at", "open date", "opened", "start date", "engage date", "engaged", "engage_date",
                     "erstelldatum", "erstellt am", "angelegt am", "anlagedatum", "created time"),
    S.CLOSE_DATE: ("close date", "closed date", "closing date", "expected close date", "close", "closed on",
                   "closed at", "decision date", "schlusstermin", "abschlussdatum", "abschluss", "close_date"),
    S.PROBABILITY: ("probability", "probability (%)", "win probability", "likelihood", "confidence", "chance",
                    "wahrscheinlichkeit", "wahrscheinlichkeit (%)"),
    S.FORECAST_CATEGORY: ("forecast category", "forecast", "forecast type", "prognosekategorie", "prognose"),
    S.TYPE: ("type", "deal type", "opportunity type", "typ", "art", "business type", "new business"),
    S.LEAD_SOURCE: ("lead source", "source", "channel", "origin", "lead-quelle", "quelle", "herkunft"),
    S.REGION: ("region", "territory", "area", "geo", "market", "office", "regional office", "gebiet", "vertriebsgebiet"),
    S.SEGMENT: ("segment", "customer segment", "tier", "size segment", "kundensegment"),
    S.INDUSTRY: ("industry", "sector", "vertical", "branche", "sektor"),
    S.PRODUCT: ("product", "product name", "products", "sku", "item", "produkt", "artikel"),
    S.PIPELINE: ("pipeline", "pipeline name", "sales pipeline", "funnel"),
    S.LOSS_REASON: ("loss reason", "lost reason", "reason lost", "closed lost reason", "reason for loss",
                    "verlustgrund", "grund"),
    "is_won": ("won", "is won", "iswon", "gewonnen"),
    "is_closed": ("closed", "is closed", "isclosed", "geschlossen"),
    "won_date": ("won date", "won time", "date won", "gewonnen am"),
    "lost_date": ("lost date", "lost time", "date lost", "verloren am"),
}
