"""Commission plans (DESIGN.md section 7), by concept:

* :mod:`~salesops.compensation.plan`: the plan model, its validation, the payout curve, the
  sample plans and the designer form;
* :mod:`~salesops.compensation.payout`: payouts from actual bookings, once per plan period,
  with published rep targets as the default quotas; plan effectiveness and comparison;
* :mod:`~salesops.compensation.simulation`: a Monte Carlo of the plan's cost with what-ifs.

``from salesops import compensation as C`` gives all of it (``C.parse_plan``,
``C.payouts(ws, f, plan)``, ``C.simulate(ws, f, plan)``...).
"""
from .payout import (FROM_FALLBACK, FROM_PLAN, FROM_PLAN_REP, FROM_TARGET, FROM_ZERO, PAYOUT_COLUMNS, PERIOD_COLUMNS,
                     QUOTA_SOURCES, PayoutResult, PlanPeriod, booked_deals, compare_plans, comparison, compute_payouts,
                     effectiveness, measure_by_rep, pay_for_performance, payout_columns, payouts, plan_periods, plan_reps,
                     published_quotas, rep_quotas, top_performer_share)
from .plan import (DEFAULT_CANCEL_STAGES, EPS, MEASURE_LABELS, MEASURES, NO_PERIOD, PERIOD_CHOICES, PERIOD_LABELS, PLAN_KEYS, PLAN_PERIOD_MONTHS,
                   PLANS_DIR, SPIF_FIELDS, TIER_MODES, Clawback, Component, Draw, Plan, RepAmounts, Spif, Tier, as_plan,
                   component_multiple, curve_cliffs, curve_table, curve_view, form_values, from_form, load_plan_file,
                   parse_json_text, parse_plan, payout_multiple, plan_json, plan_sources, problems_table, sample_plans,
                   source_doc, spif_mask)
from .simulation import HEADCOUNT_STEPS, WHAT_IF_STEPS, SimulationResult, simulate, simulate_period

__all__ = [name for name in dir() if not name.startswith("_") and name not in ("payout", "plan", "simulation")]
