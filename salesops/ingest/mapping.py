"""Column mapping: a detected vendor's map, or a fuzzy proposal from English and German
synonyms, then the user's overrides (``--map SRC=FIELD`` or the Import page).

A mapping is ``{source column: field}`` for every column of the file; a column mapped to
``"extra"`` is kept in the ``extra`` JSON only (nothing uploaded is dropped).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .. import schema as S
from ..errors import InputError, Problem
from .headers import SYNONYMS, header_key
from .vendors import ALL_FIELDS, IGNORE, VENDOR_BY_NAME, Vendor, detect_vendor

_SYN_KEYS: dict[str, str] = {}
for _field, _syns in SYNONYMS.items():
    for _s in _syns:
        _SYN_KEYS.setdefault(header_key(_s), _field)


@dataclass
class Mapping:
    """The proposed or confirmed mapping of one file."""

    vendor: str  # a vendor name, or "generic"
    vendor_label: str
    columns: dict[str, str]  # source header -> field or "extra"
    confidence: dict[str, float] = field(default_factory=dict)  # source header -> 0..1
    vendor_score: float = 0.0
    status_decides: bool = False
    kind: str = "opportunities"

    def fields(self) -> dict[str, str]:
        """field -> source header, for the mapped (non-extra) columns."""
        return {f: src for src, f in self.columns.items() if f != IGNORE}

    def as_contract(self) -> dict[str, str]:
        """{source column: field} of the mapped columns, for the JSON contract."""
        return {src: f for src, f in self.columns.items() if f != IGNORE}


#: Fields a column qualified as a lookup (see :func:`lookup_qualifier`) is never proposed for.
CORE_FIELDS = (S.OPPORTUNITY_ID, S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE,
               S.CLOSE_DATE, S.PROBABILITY, "actual_amount", "is_won", "is_closed")
_BY_RE = re.compile(r"^(created|last modified|modified|last updated|updated|closed|erstellt|geändert|"
                    r"zuletzt geändert)\s*(by|von)(\s*id)?$", re.I)
_BAND_RE = re.compile(r"\b(tier|band|bucket|range|group|class|size class|stufe|klasse)$", re.I)


def lookup_qualifier(header: str) -> str | None:
    """Why a column that looks like owner / created date / amount is not one, or None.

    ``Opportunity Owner: Manager`` / ``Owner: Role`` are fields of the owner (Salesforce reports
    write "Lookup: Field"), ``Created By`` / ``Last Modified By`` are the users who touched the
    record, ``Amount Tier`` / ``Age Tier`` are bands of a value: never the deal's owner, created
    date or amount."""
    h = str(header).replace("\ufeff", "").strip()
    if ":" in h:
        base, _, part = h.partition(":")
        if base.strip() and part.strip():
            return f"a field ({part.strip()}) of {base.strip()}, not {base.strip()} itself"
    if _BY_RE.match(h.replace("_", " ")):
        return "the user who created or changed the record, not the deal's owner or a date"
    if _BAND_RE.search(h.replace("_", " ")):
        return "a band of values, not the value itself"
    return None


def _split_words(header: str) -> str:
    """``DateTimeCreated__c`` -> ``Date Time Created``: custom-field suffix off, camel case split."""
    h = re.sub(r"__c$", "", str(header).strip(), flags=re.I)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", h).replace("_", " ")


def fuzzy_field(header: str) -> tuple[str | None, float]:
    """The field a header most likely means, and a confidence 0..1. Columns qualified as a
    lookup (:func:`lookup_qualifier`) are not proposed for the core fields."""
    fld, conf = _fuzzy_field(header)
    if fld in CORE_FIELDS and lookup_qualifier(header):
        return None, 0.0
    return fld, conf


def _fuzzy_field(header: str) -> tuple[str | None, float]:
    key = header_key(header)
    if not key:
        return None, 0.0
    if header_key(header) != header_key(_split_words(header)) or str(header).strip().lower().endswith("__c"):
        key = header_key(_split_words(header))
    if key in _SYN_KEYS:
        return _SYN_KEYS[key], 0.95
    # token containment: "Deal Amount (EUR)" contains "amount"
    best, score = None, 0.0
    for syn_key, fld in _SYN_KEYS.items():
        if len(syn_key) >= 4 and (key.startswith(syn_key) or key.endswith(syn_key)):
            s = 0.6 + 0.3 * len(syn_key) / len(key)
            if s > score:
                best, score = fld, s
    close = difflib.get_close_matches(key, list(_SYN_KEYS), n=1, cutoff=0.84)
    if close:
        s = 0.85 * difflib.SequenceMatcher(None, key, close[0]).ratio()
        if s > score:
            best, score = _SYN_KEYS[close[0]], s
    return best, round(score, 2)


def propose(header: list[str], vendor_name: str | None = None) -> Mapping:
    """The mapping for a header row: the forced or detected vendor's map, else the fuzzy one.

    Each field is taken by at most one column (the vendor's priority, else the most confident);
    the other columns go to ``extra``."""
    if vendor_name and vendor_name != "generic":
        vendor = VENDOR_BY_NAME.get(vendor_name)
        if vendor is None:
            raise InputError(f"--vendor: unknown vendor {vendor_name!r}; choose one of "
                             f"{', '.join([*VENDOR_BY_NAME, 'generic'])}", [])
        score = 1.0
    elif vendor_name == "generic":
        vendor, score = None, 0.0
    else:
        vendor, score = detect_vendor(header)
    if vendor is not None:
        return _vendor_mapping(header, vendor, score)
    return _fuzzy_mapping(header, score)


def _vendor_mapping(header: list[str], vendor: Vendor, score: float) -> Mapping:
    hmap, prio = vendor.header_map(), vendor.priority()
    candidates: list[tuple[int, str, str]] = []
    for h in header:
        if vendor.twin_suffix and h.strip().lower().endswith(vendor.twin_suffix):
            continue  # Zoho 'Deal Owner.id' twins stay in extra
        k = header_key(h)
        if k in hmap:
            candidates.append((prio[k], h, hmap[k]))
    columns = {h: IGNORE for h in header}
    confidence = {h: 0.0 for h in header}
    taken: set[str] = set()
    for _, h, fld in sorted(candidates):
        if fld in taken:
            continue
        columns[h] = fld
        confidence[h] = 1.0
        taken.add(fld)
    # headers the vendor map does not know: try the synonyms for fields still free
    for h in header:
        if columns[h] != IGNORE or (vendor.twin_suffix and h.strip().lower().endswith(vendor.twin_suffix)):
            continue
        if vendor.kind != "opportunities":
            continue
        fld, conf = fuzzy_field(h)
        if fld and fld not in taken and conf >= 0.9 and fld not in ("is_won", "is_closed", S.STATUS):
            columns[h], confidence[h] = fld, conf
            taken.add(fld)
    return Mapping(vendor.name, vendor.label, columns, confidence, score, vendor.status_decides, vendor.kind)


def _fuzzy_mapping(header: list[str], score: float) -> Mapping:
    proposals = []
    for h in header:
        fld, conf = fuzzy_field(h)
        if fld and conf >= 0.6:
            proposals.append((-conf, header.index(h), h, fld))
    columns = {h: IGNORE for h in header}
    confidence = {h: 0.0 for h in header}
    taken: set[str] = set()
    for negconf, _, h, fld in sorted(proposals):
        if fld in taken:
            continue
        columns[h], confidence[h] = fld, -negconf
        taken.add(fld)
    return Mapping("generic", "Other (mapped by column names)", columns, confidence, score,
                   status_decides=S.STATUS in taken)


def apply_overrides(mapping: Mapping, overrides: dict[str, str], *, strict: bool = True,
                    file_name: str | None = None) -> Mapping:
    """Apply the user's ``{source: field}`` choices (field "extra" keeps a column only in extra).

    A field given to a column is taken from whichever column had it before. With ``strict``,
    unknown columns or fields are errors; otherwise (remembered mappings) they are skipped."""
    by_key = {header_key(h): h for h in mapping.columns}
    columns = dict(mapping.columns)
    confidence = dict(mapping.confidence)
    problems = []
    for src, fld in overrides.items():
        h = src if src in columns else by_key.get(header_key(src))
        fld = str(fld).strip()
        fld = {"ignore": IGNORE, "-": IGNORE, "none": IGNORE, "": IGNORE}.get(fld.lower(), fld)
        if h is None:
            if strict:
                problems.append(Problem(f"--map: the file has no column {src!r}; its columns are "
                                        f"{', '.join(mapping.columns)}", column=src, file=file_name))
            continue
        if fld != IGNORE and fld not in ALL_FIELDS:
            if strict:
                problems.append(Problem(f"--map: {fld!r} is not a field; use one of {', '.join(ALL_FIELDS)} or 'extra'",
                                        column=src, value=fld, file=file_name))
            continue
        if fld != IGNORE:
            for other, f in list(columns.items()):
                if f == fld and other != h:
                    columns[other] = IGNORE
                    confidence[other] = 0.0
        columns[h] = fld
        confidence[h] = 1.0
    if len(problems) == 1:
        raise InputError(f"{file_name or 'the file'}: {problems[0].problem}", [])
    if problems:
        raise InputError(f"{file_name or 'the file'}: {len(problems)} problems with --map", problems)
    status_decides = mapping.status_decides or (mapping.vendor == "generic" and S.STATUS in columns.values())
    if S.STATUS not in columns.values():
        status_decides = False
    return Mapping(mapping.vendor, mapping.vendor_label, columns, confidence, mapping.vendor_score,
                   status_decides, mapping.kind)


def parse_map_args(items: list[str] | None) -> dict[str, str]:
    """``["engage_date=created_date", ...]`` -> ``{"engage_date": "created_date"}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--map {item!r}: write SOURCE=FIELD, e.g. --map engage_date=created_date", [])
        src, fld = item.rsplit("=", 1)
        out[src.strip()] = fld.strip()
    return out


# --- an id column the vendor map does not know ---------------------------------------------------------
_RELATED = re.compile(r"^(account|owner|contact|campaign|created|modified|last ?modified|pricebook|user|product|"
                      r"territory|parent|record ?type|company|organi[sz]ation|employee)", re.I)


def _id_rank(header: str) -> int | None:
    """How much a header reads like the deal's own id (0 best), or None when it does not."""
    words = _split_words(header).strip().lower()
    compact = header_key(words)
    if not (compact.endswith("id") or re.search(r"\b(id|key|number|nummer|nr)$", words)):
        return None
    if _RELATED.match(words):
        return None  # the id of a related record repeats across deals
    if "external" in compact:
        return 0
    if re.search(r"opportunit|deal|potential|record|\bopp\b|chance", words):
        return 1
    return 2 if compact in ("id", "key") else 3


def adopt_unique_id(frame, header: list[str], mapping: Mapping) -> tuple[Mapping, str | None]:
    """When no column is mapped to the deal id: the column named like an id (External_Id__c,
    Potential Id, LEADID, ...) whose values are filled and unique in every row becomes it, so
    re-imports find each deal again (instead of a hash of name + row position). ``frame`` holds
    the file's text cells by column position. Returns the mapping and a note (or None)."""
    if mapping.kind != "opportunities" or S.OPPORTUNITY_ID in mapping.fields() or len(frame) < 2:
        return mapping, None
    from . import normalise as N

    ranked = sorted((r, i, h) for i, h in enumerate(header)
                    if mapping.columns.get(h) == IGNORE and (r := _id_rank(h)) is not None)
    for _, i, h in ranked:
        values = N.clean_text(frame[i]).values
        if values.isna().any() or values.duplicated().any():
            continue
        columns = dict(mapping.columns)
        confidence = dict(mapping.confidence)
        columns[h], confidence[h] = S.OPPORTUNITY_ID, 0.8
        note = (f"the column {h!r} is filled and unique in every row: it is used as the deal id (so a later export "
                "finds each deal again)")
        return Mapping(mapping.vendor, mapping.vendor_label, columns, confidence, mapping.vendor_score,
                       mapping.status_decides, mapping.kind), note
    return mapping, None
