"""Import CRM exports as they come: read bytes -> detect the vendor -> map columns -> normalise
-> validate -> write all or nothing, with snapshots and exact undo (issue #3, docs/import.md).

Modules: ``reader`` (bytes -> text table, safety checks), ``vendors`` (detection and header
maps), ``mapping`` (fuzzy mapper and overrides), ``normalise`` (numbers, dates, booleans),
``validate`` (rows -> canonical deals + problems), ``writer`` (the transaction, snapshots,
undo), ``importer`` (the flow), ``reference`` (roster, accounts, targets).
"""
from .importer import (Analysis, ImportRefused, already_imported, analyse, compare, list_imports, problems_frame, refusal,
                       remember_mapping, run_import, stage_counts, undo_import)
from .reference import run_reference_import
from .vendors import VENDORS, VENDOR_BY_NAME
from .writer import ImportResult

__all__ = ["Analysis", "ImportRefused", "ImportResult", "already_imported", "analyse", "compare", "list_imports", "problems_frame",
           "refusal", "remember_mapping", "run_import", "run_reference_import", "stage_counts", "undo_import",
           "VENDORS", "VENDOR_BY_NAME"]
