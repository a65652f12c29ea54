"""The demo dataset every page is shown on: a manufacturer over several half-year cycles.

`generate()` writes a dataset folder in the contract (gradelens.contract) judged by the
default policy (gradelens.policy), with a few phenomena planted on purpose so tests and
docs can check that the pages find them. `demo_manifest.json` records what was planted:

- lenient and severe raters: team leads whose manager ratings sit 0.6-0.8 points above
  (below) what everyone else sees in their reports, in every cycle;
- grade drift: one department (Marketing) whose S+A share rises every cycle, both in
  proposed and in final grades;
- an appeal spike: one cycle (the third from last) with about three times the usual
  appeal rate, mostly calibration downgrades and unclear criteria;
- unlinked goals: about 3% of all individual goals, all in two departments, have no parent;
- unbalanced weights: about 1% of people have goal weights summing to 0.9 or 1.1;
- a weak region (West) and a strong department (R&D) in KPI attainment.

Everyone else is drawn with genuinely small rater effects, so a good leniency model flags
only the planted raters.

Modelling choices pages may rely on:
- Cycles are half years ending with 2026 H1, all complete.
- Each team is a lead plus members; leads report to their department head, heads to the
  CEO. Heads and the CEO sit in the HQ region (East); everyone else has their team's region.
- Headcount per team is constant across cycles: a leaver is replaced by a new hire in the
  same seat (about 8% turnover per cycle). Planted raters, heads and the CEO never leave.
- The CEO owns no individual goals, is not rated and not graded. Department heads hang
  their individual goals on their department's goals; everyone else on their team's goals.
- strategy_theme is set on company goals and inherited down the cascade; an unlinked goal
  has no theme.
- Attainment is actual / target for higher_better and target / actual for lower_better
  KPIs; lower_better actuals are never 0 so that ratio is always defined.
- kpi_actuals hold one value per goal and month end, to date: volume KPIs accumulate to
  the final value, rate KPIs fluctuate around it. The last month is the final value.
- Customers rate about half of Sales' members; their rater_id is `CUST-nnnnn`, not an
  employee.
- overall_score uses the policy's dimension weights, then rater-role weights renormalised
  over the roles a person actually has (self weighs 0).
- grades.final_grade is the calibrated grade before appeals; an appeal records its own
  grade_after.
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gradelens import derived
from gradelens.contract import APPEAL_REASONS, DIMENSIONS, RATER_ROLES, TABLES
from gradelens.errors import GradelensError
from gradelens.i18n import t
from gradelens.policy import Policy

MANIFEST_FILE = "demo_manifest.json"
# Bumped when the same arguments start writing different files, so a kept demo (the benchmarks')
# can tell it is out of date. 2: ratings in the contract's stored order.
GENERATOR_VERSION = 2
MIN_EMPLOYEES = 100
MAX_CYCLES = 20
LAST_CYCLE = (2026, 1)
"""(year, half) of the latest cycle; fixed so the demo never depends on today's date."""

COMPANY_UNIT_ID = "HQ"
COMPANY_NAME = "Hengda Manufacturing 恒达制造"
HQ_REGION = "East"

REGIONS = ("East", "North", "South", "West", "Central")
_REGION_TEAM_SHARE = np.array([0.30, 0.20, 0.20, 0.15, 0.15])
_REGION_ATTAINMENT_EFFECT = np.array([0.02, 0.0, 0.01, -0.07, -0.01])
WEAK_REGION = "West"

THEMES = ("Grow market share", "Operational excellence", "Quality first", "Cost leadership", "Innovation")
_GROW, _OPEX, _QUALITY, _COST, _INNOVATION = range(5)

GRADES = Policy().grades
_S, _A, _B, _C, _D = range(5)

_SEAT_CEO, _SEAT_HEAD, _SEAT_LEAD, _SEAT_MEMBER = range(4)
_JOB_LEVELS = ("P3", "P4", "P5", "P6", "P7", "M1", "M2", "M3")
_P7, _M1, _M2, _M3 = 4, 5, 6, 7

_ROLE = {role: i for i, role in enumerate(RATER_ROLES)}
_DIM = {dim: i for i, dim in enumerate(DIMENSIONS)}


@dataclass(frozen=True)
class _Kpi:
    code: str
    label: str
    direction: str
    accumulates: bool
    """Volume KPIs (counts, amounts) accumulate over the cycle and their targets scale with headcount."""
    target_low: float
    target_high: float
    decimals: int
    theme: int
    spread: float = 1.0
    """How strongly attainment varies for this KPI; small for percentages close to 100."""
    ceiling: float | None = None


def _kpi(code, label, direction, accumulates, low, high, decimals, theme, spread=1.0, ceiling=None) -> _Kpi:
    return _Kpi(code, label, direction, accumulates, low, high, decimals, theme, spread, ceiling)


_UP, _DOWN = "higher_better", "lower_better"


@dataclass(frozen=True)
class _Department:
    unit_id: str
    name: str
    headcount_share: float
    attainment_effect: float
    kpis: tuple[_Kpi, ...]


# KPIs by function follow docs DOMAIN.md; five per department so every person's 3-5 goals
# can use distinct KPIs.
DEPARTMENTS = (
    _Department("D-SAL", "Sales", 0.20, 0.0, (
        _kpi("sales_revenue", "Sales revenue (10k CNY)", _UP, True, 150, 400, 0, _GROW),
        _kpi("new_customers", "New customers", _UP, True, 6, 20, 0, _GROW),
        _kpi("customer_visits", "Customer visits", _UP, True, 60, 150, 0, _GROW),
        _kpi("customer_satisfaction", "Customer satisfaction (%)", _UP, False, 85, 92, 1, _QUALITY, 0.4, 100.0),
        _kpi("market_share_growth", "Market share growth (pp)", _UP, False, 0.8, 2.5, 2, _GROW, 1.5),
    )),
    _Department("D-MKT", "Marketing", 0.09, 0.0, (
        _kpi("qualified_leads", "Qualified leads", _UP, True, 120, 400, 0, _GROW),
        _kpi("lead_conversion_rate", "Lead conversion rate (%)", _UP, False, 8, 15, 1, _GROW),
        _kpi("brand_exposure", "Brand exposure (10k impressions)", _UP, True, 50, 200, 0, _GROW),
        _kpi("campaigns_delivered", "Campaigns delivered", _UP, True, 3, 8, 0, _INNOVATION),
        _kpi("cost_per_lead", "Cost per qualified lead (CNY)", _DOWN, False, 150, 300, 0, _COST),
    )),
    _Department("D-PRD", "Production", 0.30, 0.02, (
        _kpi("output_units", "Output (units)", _UP, True, 8000, 20000, 0, _OPEX),
        _kpi("yield_rate", "Yield (%)", _UP, False, 96, 99, 2, _QUALITY, 0.12, 100.0),
        _kpi("equipment_failure_rate", "Equipment failure rate (%)", _DOWN, False, 1.0, 3.0, 2, _OPEX),
        _kpi("material_utilisation", "Material utilisation (%)", _UP, False, 90, 96, 1, _COST, 0.3, 100.0),
        _kpi("on_time_production", "Production orders on time (%)", _UP, False, 90, 97, 1, _OPEX, 0.3, 100.0),
    )),
    _Department("D-PUR", "Purchasing", 0.08, -0.02, (
        _kpi("cost_reduction", "Purchase cost reduction (%)", _UP, False, 2, 5, 2, _COST, 1.5),
        _kpi("supplier_on_time_delivery", "Supplier on-time delivery (%)", _UP, False, 92, 97, 1, _OPEX, 0.3, 100.0),
        _kpi("incoming_quality", "Incoming material pass rate (%)", _UP, False, 97, 99.5, 2, _QUALITY, 0.12, 100.0),
        _kpi("purchase_cycle_days", "Purchase order cycle time (days)", _DOWN, False, 10, 20, 1, _OPEX),
        _kpi("supplier_audits", "Supplier audits completed", _UP, True, 4, 10, 0, _QUALITY),
    )),
    _Department("D-QUA", "Quality", 0.10, 0.01, (
        _kpi("inspection_accuracy", "Inspection accuracy (%)", _UP, False, 97, 99.5, 2, _QUALITY, 0.1, 100.0),
        _kpi("timely_defect_detection", "Defects found on time (%)", _UP, False, 90, 96, 1, _QUALITY, 0.3, 100.0),
        _kpi("improvement_proposals_adopted", "Improvement proposals adopted", _UP, True, 3, 8, 0, _INNOVATION),
        _kpi("defect_rate", "Defect rate (%)", _DOWN, False, 0.5, 2.0, 2, _QUALITY),
        _kpi("customer_complaints", "Customer quality complaints", _DOWN, True, 4, 12, 0, _QUALITY),
    )),
    _Department("D-ADM", "Admin", 0.06, 0.0, (
        _kpi("timely_handling", "Requests handled on time (%)", _UP, False, 92, 98, 1, _OPEX, 0.3, 100.0),
        _kpi("employee_satisfaction", "Employee satisfaction (%)", _UP, False, 78, 88, 1, _OPEX, 0.4, 100.0),
        _kpi("budget_variance", "Budget overrun (%)", _DOWN, False, 3, 8, 1, _COST),
        _kpi("service_requests_closed", "Service requests closed", _UP, True, 150, 400, 0, _OPEX),
        _kpi("safety_incidents", "Safety incidents", _DOWN, True, 2, 6, 0, _OPEX),
    )),
    _Department("D-RND", "R&D", 0.17, 0.07, (
        _kpi("milestones_on_time", "Milestones on time (%)", _UP, False, 85, 95, 1, _INNOVATION, 0.4, 100.0),
        _kpi("defects_escaped", "Defects escaped to production", _DOWN, True, 3, 10, 0, _QUALITY),
        _kpi("cycle_time_days", "Delivery cycle time (days)", _DOWN, False, 20, 45, 1, _INNOVATION),
        _kpi("patents_filed", "Patents filed", _UP, True, 1, 4, 0, _INNOVATION),
        _kpi("test_coverage", "Automated test coverage (%)", _UP, False, 60, 80, 1, _QUALITY, 0.5, 100.0),
    )),
)
DRIFTING_DEPARTMENT = "D-MKT"
STRONG_DEPARTMENT = "D-RND"
UNLINKED_GOAL_DEPARTMENTS = ("D-PUR", "D-ADM")

# One company goal per strategy theme: (theme, department code, KPI code, title).
_COMPANY_GOALS = (
    (_GROW, "D-SAL", "sales_revenue", "Grow revenue and market share"),
    (_OPEX, "D-PRD", "output_units", "Deliver planned output efficiently"),
    (_QUALITY, "D-QUA", "defect_rate", "Cut the defect rate"),
    (_COST, "D-PUR", "cost_reduction", "Lower purchase and running costs"),
    (_INNOVATION, "D-RND", "milestones_on_time", "Deliver the product roadmap on time"),
)

_KPIS = tuple(kpi for dept in DEPARTMENTS for kpi in dept.kpis)
_KPI_INDEX = {kpi.code: i for i, kpi in enumerate(_KPIS)}
_KPI_LOWER = np.array([kpi.direction == _DOWN for kpi in _KPIS])
_KPI_ACCUMULATES = np.array([kpi.accumulates for kpi in _KPIS])
_KPI_LOW = np.array([kpi.target_low for kpi in _KPIS])
_KPI_HIGH = np.array([kpi.target_high for kpi in _KPIS])
_KPI_DECIMALS = np.array([kpi.decimals for kpi in _KPIS])
_KPI_SPREAD = np.array([kpi.spread for kpi in _KPIS])
_KPI_CEILING = np.array([np.inf if kpi.ceiling is None else kpi.ceiling for kpi in _KPIS])
_KPI_THEME = np.array([kpi.theme for kpi in _KPIS])

# Weight templates per number of goals (rows sum to 1); padded with zeros.
_WEIGHT_TEMPLATES = {
    2: ((0.6, 0.4), (0.5, 0.5), (0.7, 0.3)),
    3: ((0.4, 0.3, 0.3), (0.5, 0.3, 0.2), (0.4, 0.4, 0.2)),
    4: ((0.4, 0.2, 0.2, 0.2), (0.3, 0.3, 0.2, 0.2), (0.35, 0.25, 0.2, 0.2)),
    5: ((0.3, 0.2, 0.2, 0.15, 0.15), (0.2, 0.2, 0.2, 0.2, 0.2), (0.25, 0.25, 0.2, 0.15, 0.15)),
}
_WEIGHTS = np.zeros((6, 3, 5))
for _n, _templates in _WEIGHT_TEMPLATES.items():
    for _t, _row in enumerate(_templates):
        _WEIGHTS[_n, _t, : len(_row)] = _row

# Common surnames, most frequent first, with rough relative frequencies.
_SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦向柳邢")
_SURNAME_P = 1.0 / (np.arange(len(_SURNAMES)) + 8.0)
_SURNAME_P /= _SURNAME_P.sum()
_GIVEN = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩凯晨欣怡婷雪琳颖思佳子轩梓涵一诺雨嘉俊博志坤海波斌宁倩慧晶燕丹琴云飞龙亮成鑫")

# Rating model: score = base + a*(attainment-1) + b*performance + trait + rater effect + noise.
_SCORE_BASE = 3.05
_DIM_ATTAINMENT_SLOPE = np.array([2.2, 0.8, 0.4])
_DIM_PERFORMANCE_SLOPE = np.array([0.15, 0.35, 0.2])
_ROLE_EFFECT = {"self": 0.3, "manager": 0.0, "peer": 0.05, "subordinate": 0.1, "customer": 0.0}
_PLANTED_RATERS_PER_KIND = 4
_MIN_PLANTED_REPORTS = 6
_PROPOSAL_THRESHOLDS = np.array([3.65, 3.2, 2.5, 2.25])
"""Manager-view score at or above which a manager proposes S, A, B, C (else D)."""

_APPEAL_GRADE_WEIGHT = np.array([0.05, 0.3, 0.8, 2.5, 4.0])
# Reason mixes (columns follow contract.APPEAL_REASONS), per situation.
_REASONS_GENERAL = (0.30, 0.15, 0.15, 0.25, 0.0, 0.15)
_REASONS_DOWNGRADED = (0.15, 0.05, 0.10, 0.05, 0.60, 0.05)
_REASONS_SEVERE = (0.15, 0.05, 0.55, 0.10, 0.10, 0.05)
_REASONS_SPIKE_GENERAL = (0.70, 0.05, 0.05, 0.10, 0.0, 0.10)
_REASONS_SPIKE_DOWNGRADED = (0.25, 0.02, 0.03, 0.03, 0.65, 0.02)
_APPEAL_OUTCOMES = ("upheld", "partially_upheld", "rejected", "withdrawn")
_OUTCOMES_GENERAL = (0.12, 0.18, 0.55, 0.15)
_OUTCOMES_DOWNGRADED = (0.20, 0.25, 0.42, 0.13)
_OUTCOMES_SEVERE = (0.32, 0.25, 0.33, 0.10)


@dataclass(frozen=True)
class DemoManifest:
    """What the demo planted, so tests and docs can check the pages find it."""

    lenient_rater_ids: tuple[str, ...]
    severe_rater_ids: tuple[str, ...]
    drifting_department_id: str
    appeal_spike_cycle_id: str
    unlinked_goal_ids: tuple[str, ...]
    """Individual goals with no parent link."""
    unlinked_goal_department_ids: tuple[str, ...]
    unbalanced_weight_owners: tuple[tuple[str, str], ...]
    """(cycle_id, employee_id) of people whose individual goal weights do not sum to 1."""
    planted_rater_effects: dict[str, float]
    """Points added to every manager rating by each planted lenient (+) or severe (-) rater."""
    weak_region: str
    strong_department_id: str
    cycle_ids: tuple[str, ...]
    company_unit_id: str
    ceo_id: str
    employees: int
    seed: int
    generator: int = 1
    """GENERATOR_VERSION of the code that wrote the demo (1 for manifests older than the field)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DemoManifest:
        raw = json.loads(text)
        raw["unbalanced_weight_owners"] = tuple(tuple(pair) for pair in raw["unbalanced_weight_owners"])
        for name in ("lenient_rater_ids", "severe_rater_ids", "unlinked_goal_ids", "unlinked_goal_department_ids", "cycle_ids"):
            raw[name] = tuple(raw[name])
        return cls(**raw)


def read_manifest(dataset_dir: Path) -> DemoManifest:
    """The manifest of a demo dataset folder written by `generate`."""
    path = Path(dataset_dir) / MANIFEST_FILE
    if not path.exists():
        raise GradelensError("errors.demo_no_manifest", path=path, folder=dataset_dir)
    return DemoManifest.from_json(path.read_text(encoding="utf-8"))


def generate(
    out_dir: Path,
    employees: int = 2000,
    cycles: int = 6,
    seed: int = 7,
    progress: Callable[[float, str], None] | None = None,
) -> DemoManifest:
    """Write a demo dataset folder at `out_dir` and return what was planted in it.

    Tables go to `<out_dir>/<table>.parquet`, ratings and KPI actuals to the Hive-partitioned
    folders `<out_dir>/ratings/cycle_id=<id>/part-0.parquet` and
    `<out_dir>/kpi_actuals/cycle_id=<id>/part-0.parquet` (an actual under its goal's cycle),
    the derived tables to `<out_dir>/_derived/` (gradelens/derived.py), the manifest to
    `<out_dir>/demo_manifest.json`. The folder is built next to `out_dir` and renamed into
    place, so a half-written demo never appears; an existing demo at `out_dir` is
    replaced, any other non-empty folder is left alone and reported.

    The same arguments always give the same bytes. `employees` is the headcount of every
    cycle; `progress(fraction, message)` is called at each stage.
    """
    if isinstance(employees, bool) or not isinstance(employees, numbers.Integral) or employees < MIN_EMPLOYEES:
        raise GradelensError("errors.demo_employees", minimum=MIN_EMPLOYEES, value=repr(employees))
    if isinstance(cycles, bool) or not isinstance(cycles, numbers.Integral) or not 1 <= cycles <= MAX_CYCLES:
        raise GradelensError("errors.demo_cycles", maximum=MAX_CYCLES, value=repr(cycles))
    employees, cycles, seed = int(employees), int(cycles), int(seed)
    out_dir = Path(out_dir)
    if out_dir.exists() and not _is_replaceable(out_dir):
        raise GradelensError("errors.demo_folder_taken", path=out_dir)
    report = progress or (lambda fraction, message: None)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o755)
        manifest = _write_demo(staging, employees, cycles, seed, report)
        report(0.98, t("data.progress_derived"))
        derived.build(staging)  # stays valid after the move: its fingerprint uses relative paths
        _move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report(1.0, t("demo.ready"))
    return manifest


def _is_replaceable(out_dir: Path) -> bool:
    if not out_dir.is_dir():
        return False
    return (out_dir / MANIFEST_FILE).exists() or not any(out_dir.iterdir())


def _move_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    retired.rmdir()
    out_dir.rename(retired)
    staging.rename(out_dir)
    shutil.rmtree(retired, ignore_errors=True)


# ----------------------------------------------------------------------------- cycles


@dataclass(frozen=True)
class _Cycle:
    cycle_id: str
    name: str
    start: np.datetime64
    end: np.datetime64

    @property
    def month_ends(self) -> np.ndarray:
        first_month = self.start.astype("datetime64[M]")
        return (first_month + np.arange(1, 7)).astype("datetime64[D]") - np.timedelta64(1, "D")


def _cycles(count: int) -> list[_Cycle]:
    last_year, last_half = LAST_CYCLE
    last_index = last_year * 2 + (last_half - 1)
    result = []
    for index in range(last_index - count + 1, last_index + 1):
        year, half = divmod(index, 2)
        start = np.datetime64(f"{year}-{'01' if half == 0 else '07'}-01")
        end = np.datetime64(f"{year}-06-30") if half == 0 else np.datetime64(f"{year}-12-31")
        result.append(_Cycle(f"{year}H{half + 1}", f"{year} H{half + 1}", start, end))
    return result


# ----------------------------------------------------------------------------- organisation


@dataclass
class _Org:
    """Seats: the CEO (seat 0), one head per department (seats 1-7), then per team a lead and its members."""

    dept_headcount: np.ndarray
    team_dept: np.ndarray
    team_region: np.ndarray
    team_size: np.ndarray
    team_lead_seat: np.ndarray
    team_unit_ids: list[str]
    team_names: list[str]
    seat_kind: np.ndarray
    seat_dept: np.ndarray
    seat_team: np.ndarray
    seat_manager: np.ndarray
    seat_region: np.ndarray
    seat_unit: np.ndarray
    unit_ids: np.ndarray

    @property
    def seats(self) -> int:
        return len(self.seat_kind)

    @property
    def teams(self) -> int:
        return len(self.team_dept)


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to `shares` that sum to `total` (Hamilton's method)."""
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - counts.sum()
    if short > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def _team_sizes(headcount: int, teams: int, rng: np.random.Generator, smallest: int = 6, largest: int = 12) -> np.ndarray:
    """Random team sizes (lead included) that sum to `headcount`, within [smallest, largest] where that is possible."""
    sizes = _largest_remainder(rng.uniform(smallest, largest, teams), headcount)
    if smallest * teams <= headcount <= largest * teams:
        while sizes.max() > largest or sizes.min() < smallest:  # a few moves at most
            sizes[np.argmax(sizes)] -= 1
            sizes[np.argmin(sizes)] += 1
    return sizes


def _build_org(employees: int, rng: np.random.Generator) -> _Org:
    departments = len(DEPARTMENTS)
    in_teams = employees - 1 - departments
    dept_headcount = _largest_remainder(np.array([d.headcount_share for d in DEPARTMENTS]), in_teams)
    team_dept, team_size = [], []
    for d, headcount in enumerate(dept_headcount):
        teams = max(1, int(round(headcount / 9)))
        sizes = _team_sizes(int(headcount), teams, rng)
        team_dept.append(np.full(teams, d))
        team_size.append(sizes)
    team_dept = np.concatenate(team_dept)
    team_size = np.concatenate(team_size)
    team_region = rng.choice(len(REGIONS), size=len(team_dept), p=_REGION_TEAM_SHARE)

    team_unit_ids, team_names = [], []
    per_dept = np.bincount(team_dept, minlength=departments)
    width = max(3, len(str(per_dept.max())))
    numbering = np.zeros(departments, dtype=np.int64)
    by_region = np.zeros((departments, len(REGIONS)), dtype=np.int64)
    for d, region in zip(team_dept.tolist(), team_region.tolist()):
        numbering[d] += 1
        by_region[d, region] += 1
        code = DEPARTMENTS[d].unit_id.removeprefix("D-")
        team_unit_ids.append(f"T-{code}-{numbering[d]:0{width}d}")
        team_names.append(f"{DEPARTMENTS[d].name} {REGIONS[region]} {by_region[d, region]:02d}")

    teams = len(team_dept)
    team_lead_seat = 1 + departments + np.cumsum(team_size) - team_size
    seat_team = np.concatenate([np.full(1 + departments, -1), np.repeat(np.arange(teams), team_size)])
    seat_kind = np.full(len(seat_team), _SEAT_MEMBER, dtype=np.int8)
    seat_kind[0] = _SEAT_CEO
    seat_kind[1 : 1 + departments] = _SEAT_HEAD
    seat_kind[team_lead_seat] = _SEAT_LEAD
    seat_dept = np.concatenate([[-1], np.arange(departments), team_dept[seat_team[1 + departments :]]])
    head_seat = 1 + np.arange(departments)
    seat_manager = np.empty(len(seat_team), dtype=np.int64)
    seat_manager[0] = -1
    seat_manager[head_seat] = 0
    in_team = seat_team >= 0
    seat_manager[in_team] = np.where(
        seat_kind[in_team] == _SEAT_LEAD, head_seat[seat_dept[in_team]], team_lead_seat[seat_team[in_team]]
    )
    hq = REGIONS.index(HQ_REGION)
    seat_region = np.where(in_team, team_region[np.maximum(seat_team, 0)], hq)
    seat_unit = np.where(in_team, 1 + departments + seat_team, np.where(seat_kind == _SEAT_HEAD, seat_dept + 1, 0))
    unit_ids = np.array([COMPANY_UNIT_ID, *(d.unit_id for d in DEPARTMENTS), *team_unit_ids], dtype=object)
    return _Org(
        dept_headcount=dept_headcount + 1,  # the head sits in the department too
        team_dept=team_dept,
        team_region=team_region,
        team_size=team_size,
        team_lead_seat=team_lead_seat,
        team_unit_ids=team_unit_ids,
        team_names=team_names,
        seat_kind=seat_kind,
        seat_dept=seat_dept,
        seat_team=seat_team,
        seat_manager=seat_manager,
        seat_region=seat_region,
        seat_unit=seat_unit,
        unit_ids=unit_ids,
    )


def _org_units_table(org: _Org) -> pa.Table:
    departments = len(DEPARTMENTS)
    parent = [None] + [COMPANY_UNIT_ID] * departments + [DEPARTMENTS[d].unit_id for d in org.team_dept.tolist()]
    names = [COMPANY_NAME, *(d.name for d in DEPARTMENTS), *org.team_names]
    kinds = ["company"] + ["department"] * departments + ["team"] * org.teams
    regions = [None] * (1 + departments) + [REGIONS[r] for r in org.team_region.tolist()]
    return _table("org_units", [org.unit_ids.tolist(), parent, names, kinds, regions])


# ----------------------------------------------------------------------------- people


@dataclass
class _Workforce:
    """Who sits in each seat in each cycle, and the people's fixed attributes."""

    occupant: np.ndarray  # (cycles, seats) employee index
    hired: np.ndarray  # (cycles, seats) the occupant is new this cycle
    employee_ids: pa.Array  # by employee index
    names: pa.Array
    hire_dates: np.ndarray


def _choose_planted_seats(org: _Org, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    drifting = [d.unit_id for d in DEPARTMENTS].index(DRIFTING_DEPARTMENT)
    eligible = np.flatnonzero((org.team_size - 1 >= _MIN_PLANTED_REPORTS) & (org.team_dept != drifting))
    per_kind = min(_PLANTED_RATERS_PER_KIND, len(eligible) // 2)
    chosen = org.team_lead_seat[rng.choice(eligible, size=2 * per_kind, replace=False)]
    return chosen[:per_kind], chosen[per_kind:]


def _simulate_workforce(org: _Org, cycles: list[_Cycle], protected: np.ndarray, rng: np.random.Generator) -> _Workforce:
    seats = org.seats
    leave_rate = np.select([org.seat_kind == _SEAT_MEMBER, org.seat_kind == _SEAT_LEAD], [0.09, 0.04], 0.0)
    leave_rate[protected] = 0.0
    occupant = np.empty((len(cycles), seats), dtype=np.int64)
    hired = np.zeros((len(cycles), seats), dtype=bool)
    occupant[0] = rng.permutation(seats)
    hire_dates = [_initial_hire_dates(org, occupant[0], cycles[0].start, rng)]
    next_id = seats
    for c in range(1, len(cycles)):
        leaving = rng.random(seats) < leave_rate
        newcomers = int(leaving.sum())
        occupant[c] = occupant[c - 1]
        occupant[c, leaving] = next_id + np.arange(newcomers)
        hired[c] = leaving
        next_id += newcomers
        hire_dates.append(cycles[c].start + rng.integers(-90, 91, newcomers).astype("timedelta64[D]"))
    width = max(6, len(str(next_id)))
    return _Workforce(
        occupant=occupant,
        hired=hired,
        employee_ids=_ids("E", np.arange(1, next_id + 1), width),
        names=_names(next_id, rng),
        hire_dates=np.concatenate(hire_dates),
    )


def _initial_hire_dates(org: _Org, first_occupants: np.ndarray, first_start: np.datetime64, rng) -> np.ndarray:
    seats = org.seats
    tenure_years = np.select(
        [org.seat_kind == _SEAT_CEO, org.seat_kind == _SEAT_HEAD, org.seat_kind == _SEAT_LEAD],
        [rng.uniform(15, 20, seats), rng.uniform(8, 15, seats), rng.uniform(3, 12, seats)],
        np.minimum(rng.exponential(3.5, seats), 14) + 0.1,
    )
    by_seat = first_start - (tenure_years * 365.25).astype("timedelta64[D]")
    dates = np.empty(seats, dtype="datetime64[D]")
    dates[first_occupants] = by_seat
    return dates


def _names(count: int, rng: np.random.Generator) -> pa.Array:
    surnames = np.array(_SURNAMES, dtype=object)[rng.choice(len(_SURNAMES), size=count, p=_SURNAME_P)]
    given = np.array(_GIVEN, dtype=object)
    first = given[rng.integers(0, len(_GIVEN), count)]
    second = np.where(rng.random(count) < 0.7, given[rng.integers(0, len(_GIVEN), count)], "")
    return pa.array(surnames + first + second, type=pa.string())


def _initial_levels(org: _Org, rng: np.random.Generator) -> np.ndarray:
    levels = rng.choice(5, size=org.seats, p=[0.25, 0.35, 0.25, 0.12, 0.03])
    levels[org.seat_kind == _SEAT_LEAD] = _M1
    levels[org.seat_kind == _SEAT_HEAD] = _M2
    levels[org.seat_kind == _SEAT_CEO] = _M3
    return levels


# ----------------------------------------------------------------------------- helpers


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(strings: pa.Array, index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pc.take(strings, pa.array(index, type=pa.int64(), mask=null))


def _table(name: str, columns: list, drop: tuple[str, ...] = ()) -> pa.Table:
    schema = TABLES[name].arrow_schema
    for column in drop:
        schema = schema.remove(schema.get_field_index(column))
    arrays = [
        column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(column, type=field.type)
        for column, field in zip(columns, schema)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _repeat_str(value: str, count: int) -> pa.Array:
    return pc.take(pa.array([value], type=pa.string()), pa.array(np.zeros(count, dtype=np.int64)))


def _round(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    scale = 10.0 ** decimals
    return np.round(values * scale) / scale


def _choice_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of a (rows, categories) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    draws = rng.random(len(probabilities))[:, None]
    return np.minimum((draws >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def _group_positions(groups: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle items within their group: (order, start of the item's group in order, group size)."""
    order = np.lexsort((rng.random(len(groups)), groups))
    sorted_groups = groups[order]
    unique, first, counts = np.unique(sorted_groups, return_index=True, return_counts=True)
    which = np.searchsorted(unique, sorted_groups)
    return order, first[which], counts[which]


# ----------------------------------------------------------------------------- one cycle


@dataclass
class _SeatState:
    """Per-seat traits of the current occupant; redrawn when the seat changes hands."""

    performance: np.ndarray
    self_bias: np.ndarray
    rater_effect: np.ndarray
    leniency: np.ndarray
    level: np.ndarray

    @classmethod
    def draw(cls, org: _Org, rng: np.random.Generator) -> _SeatState:
        seats = org.seats
        return cls(
            performance=rng.standard_normal(seats),
            self_bias=rng.normal(0, 0.1, seats),
            rater_effect=rng.normal(0, 0.08, seats),
            leniency=rng.normal(0, 0.1, seats),
            level=_initial_levels(org, rng),
        )

    def next_cycle(self, org: _Org, hired: np.ndarray, rng: np.random.Generator) -> None:
        seats = org.seats
        drifted = 0.85 * self.performance + np.sqrt(1 - 0.85**2) * rng.standard_normal(seats)
        self.performance = np.where(hired, rng.standard_normal(seats), drifted)
        self.self_bias = np.where(hired, rng.normal(0, 0.1, seats), self.self_bias)
        self.rater_effect = np.where(hired, rng.normal(0, 0.08, seats), self.rater_effect)
        self.leniency = np.where(hired, rng.normal(0, 0.1, seats), self.leniency)
        promoted = (self.level < _P7) & (rng.random(seats) < 0.07)
        new_level = np.where(org.seat_kind == _SEAT_MEMBER, rng.choice(4, size=seats, p=[0.5, 0.3, 0.15, 0.05]), self.level)
        self.level = np.where(hired, new_level, self.level + promoted)


@dataclass
class _Goals:
    table: pa.Table
    kpi: np.ndarray
    actual: np.ndarray
    goal_ids: pa.Array
    unlinked: np.ndarray
    unbalanced_seats: np.ndarray
    attainment_by_seat: np.ndarray


def _goals(org, cycle, seat_order, occupant, state, workforce, rng, planted_unlinked_depts) -> _Goals:
    """The goal cascade of one cycle and each goal's final actual."""
    departments = len(DEPARTMENTS)
    teams = org.teams
    dept_index = {d.unit_id: i for i, d in enumerate(DEPARTMENTS)}

    # Company goals: one per theme.
    company_kpi = np.array([_KPI_INDEX[kpi] for _, _, kpi, _ in _COMPANY_GOALS])
    company_dept = np.array([dept_index[dept] for _, dept, _, _ in _COMPANY_GOALS])
    company_goal_of_theme = np.empty(len(THEMES), dtype=np.int64)
    company_goal_of_theme[[theme for theme, *_ in _COMPANY_GOALS]] = np.arange(len(_COMPANY_GOALS))

    # Department goals: 3-5 of the department's five KPIs, each under the company goal of its theme.
    dept_goal_count = rng.integers(3, 6, departments)
    dept_goal_start = len(_COMPANY_GOALS) + np.cumsum(dept_goal_count) - dept_goal_count
    dept_kpi_order = np.argsort(rng.random((departments, 5)), axis=1)
    dept_goal_dept = np.repeat(np.arange(departments), dept_goal_count)
    dept_goal_slot = np.arange(dept_goal_count.sum()) - (dept_goal_start - len(_COMPANY_GOALS))[dept_goal_dept]
    dept_goal_kpi = dept_goal_dept * 5 + dept_kpi_order[dept_goal_dept, dept_goal_slot]
    dept_goal_weight_template = rng.integers(0, 3, departments)

    # Team goals: 2-4 distinct department goals of the team's department, same KPI.
    team_dept = org.team_dept
    team_goal_count = np.minimum(rng.integers(2, 5, teams), dept_goal_count[team_dept])
    keys = rng.random((teams, 5))
    keys[np.arange(5)[None, :] >= dept_goal_count[team_dept][:, None]] = np.inf
    team_pick = np.argsort(keys, axis=1)  # positions within the department's goals
    team_goal_start = dept_goal_start[-1] + dept_goal_count[-1] + np.cumsum(team_goal_count) - team_goal_count
    team_goal_team = np.repeat(np.arange(teams), team_goal_count)
    team_goal_slot = np.arange(team_goal_count.sum()) - (team_goal_start - team_goal_start[0])[team_goal_team]
    team_goal_parent = dept_goal_start[team_dept[team_goal_team]] + team_pick[team_goal_team, team_goal_slot]
    first_individual = int(team_goal_start[-1] + team_goal_count[-1])
    team_goal_weight_template = rng.integers(0, 3, teams)

    # Goal groups hold the KPIs an individual's goals use, in order, and their parents:
    # one group per team (parents: team goals) and one per department for its head
    # (parents: department goals).
    group_kpi_pos = np.empty((teams + departments, 5), dtype=np.int64)
    team_kpi_pos = dept_kpi_order[team_dept[:, None], team_pick]  # catalog positions of team goals' KPIs
    order_keys = 10 + rng.random((teams, 5))
    rows = np.repeat(np.arange(teams), 5)
    ranks = np.tile(np.arange(5), teams)
    in_team = ranks < np.repeat(team_goal_count, 5)
    order_keys[rows[in_team], team_kpi_pos.ravel()[in_team]] = ranks[in_team]
    group_kpi_pos[:teams] = np.argsort(order_keys, axis=1)
    group_kpi_pos[teams:] = dept_kpi_order
    group_dept = np.concatenate([team_dept, np.arange(departments)])
    group_kpi = group_dept[:, None] * 5 + group_kpi_pos
    group_parent_count = np.concatenate([team_goal_count, dept_goal_count])
    group_parent_start = np.concatenate([team_goal_start, dept_goal_start])

    # Individual goals: 3-5 per person except the CEO, in employee-id order.
    people = seat_order[org.seat_kind[seat_order] != _SEAT_CEO]
    person_group = np.where(org.seat_kind[people] == _SEAT_HEAD, teams + org.seat_dept[people], org.seat_team[people])
    goal_count = rng.integers(3, 6, len(people))
    template = rng.integers(0, 3, len(people))
    owner = np.repeat(np.arange(len(people)), goal_count)
    rank = np.arange(goal_count.sum()) - np.repeat(np.cumsum(goal_count) - goal_count, goal_count)
    group = person_group[owner]
    ind_kpi = group_kpi[group, rank]
    ind_parent = group_parent_start[group] + rank % group_parent_count[group]
    ind_weight = _WEIGHTS[goal_count[owner], template[owner], rank]
    unbalanced = rng.random(len(people)) < 0.01
    last_goal = np.cumsum(goal_count) - 1
    ind_weight[last_goal[unbalanced]] += np.where(rng.random(int(unbalanced.sum())) < 0.5, -0.1, 0.1)
    ind_seat = people[owner]
    ind_dept = org.seat_dept[ind_seat]
    in_planted = np.isin(ind_dept, planted_unlinked_depts)
    unlink_rate = 0.03 * len(ind_kpi) / max(1, int(in_planted.sum()))
    unlinked_individual = in_planted & (rng.random(len(ind_kpi)) < unlink_rate)
    ind_parent[unlinked_individual] = -1

    # Stack the four levels.
    companies, dept_goals, team_goals = len(_COMPANY_GOALS), len(dept_goal_kpi), len(team_goal_team)
    level = np.repeat(np.arange(4), [companies, dept_goals, team_goals, len(ind_kpi)])
    kpi = np.concatenate([company_kpi, dept_goal_kpi, dept_goal_kpi[team_goal_parent - len(_COMPANY_GOALS)], ind_kpi])
    parent = np.concatenate([
        np.full(companies, -1),
        company_goal_of_theme[_KPI_THEME[dept_goal_kpi]],
        team_goal_parent,
        ind_parent,
    ])
    weight = np.concatenate([
        _WEIGHTS[companies, 0, :companies],
        _WEIGHTS[dept_goal_count[dept_goal_dept], dept_goal_weight_template[dept_goal_dept], dept_goal_slot],
        _WEIGHTS[team_goal_count[team_goal_team], team_goal_weight_template[team_goal_team], team_goal_slot],
        ind_weight,
    ])
    weight = np.round(weight, 2)  # template sums like 0.35+0.25+0.2+0.2 must not carry float dust
    goals = len(kpi)
    theme = np.full(goals, -1)
    theme[:companies] = [t for t, *_ in _COMPANY_GOALS]
    for lvl in (1, 2, 3):  # parents always come before children
        rows = np.flatnonzero((level == lvl) & (parent >= 0))
        theme[rows] = theme[parent[rows]]

    # Targets: volume KPIs scale with the owner's headcount, rates do not.
    team_headcount = org.team_size
    headcount = np.concatenate([
        org.dept_headcount[company_dept],
        org.dept_headcount[dept_goal_dept],
        team_headcount[team_goal_team],
        np.ones(len(ind_kpi)),
    ])
    drawn = rng.uniform(_KPI_LOW[kpi], _KPI_HIGH[kpi])
    middle = (_KPI_LOW[kpi] + _KPI_HIGH[kpi]) / 2
    base = np.where(level >= 2, drawn, middle)
    target = np.where(_KPI_ACCUMULATES[kpi], base * np.where(level == 3, 1.0, headcount * 0.95), base)
    target = np.maximum(_round(target, _KPI_DECIMALS[kpi]), 10.0 ** -_KPI_DECIMALS[kpi])

    # Attainment: the owner's performance plus department and region effects.
    dept_effect = np.array([d.attainment_effect for d in DEPARTMENTS])
    team_performance = np.bincount(org.seat_team[org.seat_team >= 0], weights=state.performance[org.seat_team >= 0], minlength=teams) / team_headcount
    team_dev = dept_effect[team_dept] + _REGION_ATTAINMENT_EFFECT[org.team_region] + 0.08 * team_performance
    deviation = np.concatenate([
        rng.normal(0, 0.04, companies),
        dept_effect[dept_goal_dept] + rng.normal(0, 0.04, dept_goals),
        team_dev[team_goal_team] + rng.normal(0, 0.05, team_goals),
        0.08 * state.performance[ind_seat]
        + dept_effect[ind_dept]
        + _REGION_ATTAINMENT_EFFECT[org.seat_region[ind_seat]]
        + rng.normal(0, 0.12, len(ind_kpi)),
    ])
    windfall = (level == 3) & _KPI_ACCUMULATES[kpi] & ~_KPI_LOWER[kpi] & (rng.random(goals) < 0.015)
    deviation = deviation + windfall * rng.uniform(0.4, 0.9, goals)
    attainment = np.maximum(1 + _KPI_SPREAD[kpi] * deviation, 0.05)
    actual = np.where(_KPI_LOWER[kpi], target / attainment, target * attainment)
    actual = _round(np.minimum(actual, _KPI_CEILING[kpi]), _KPI_DECIMALS[kpi])
    smallest = 10.0 ** -_KPI_DECIMALS[kpi]
    actual = np.where(_KPI_LOWER[kpi], np.maximum(actual, smallest), np.maximum(actual, 0.0))

    # Each person's attainment, weighted and capped as the policy does.
    realised = np.where(_KPI_LOWER[kpi], target / np.maximum(actual, smallest), actual / target)
    capped = np.minimum(realised, Policy().attainment_cap)[level == 3]
    person_attainment = np.bincount(owner, weights=capped * ind_weight) / np.bincount(owner, weights=ind_weight)
    attainment_by_seat = np.ones(org.seats)
    attainment_by_seat[people] = person_attainment

    # Strings.
    width = max(6, len(str(goals)))
    goal_ids = _ids(f"{cycle.cycle_id}-G", np.arange(1, goals + 1), width)
    parent_ids = _take(goal_ids, np.maximum(parent, 0), null=parent < 0)
    owner_type = _take(pa.array(["company", "department", "team", "employee"]), level)
    owner_ids = pa.concat_arrays([
        _repeat_str(COMPANY_UNIT_ID, companies),
        _take(pa.array([d.unit_id for d in DEPARTMENTS]), dept_goal_dept),
        _take(pa.array(org.team_unit_ids, type=pa.string()), team_goal_team),
        _take(workforce.employee_ids, occupant[ind_seat]),
    ])
    labels = np.array([k.label for k in _KPIS], dtype=object)
    titles = np.concatenate([
        np.array([title for *_, title in _COMPANY_GOALS], dtype=object),
        np.array([f"{DEPARTMENTS[d].name}: " for d in dept_goal_dept.tolist()], dtype=object) + labels[dept_goal_kpi],
        np.array(org.team_names, dtype=object)[team_goal_team] + ": " + labels[kpi[level == 2]],
        labels[ind_kpi],
    ])
    table = _table("goals", [
        _repeat_str(cycle.cycle_id, goals),
        goal_ids,
        parent_ids,
        owner_type,
        owner_ids,
        pa.array(titles, type=pa.string()),
        _take(pa.array([k.code for k in _KPIS]), kpi),
        _take(pa.array(THEMES), np.maximum(theme, 0), null=theme < 0),
        _take(pa.array([_UP, _DOWN]), _KPI_LOWER[kpi].astype(np.int64)),
        target,
        weight,
    ])
    unlinked = np.zeros(goals, dtype=bool)
    unlinked[first_individual:] = unlinked_individual
    return _Goals(
        table=table,
        kpi=kpi,
        actual=actual,
        goal_ids=goal_ids,
        unlinked=unlinked,
        unbalanced_seats=people[unbalanced],
        attainment_by_seat=attainment_by_seat,
    )


def _kpi_actuals(cycle: _Cycle, goals: _Goals, rng: np.random.Generator) -> pa.Table:
    """Month-end values to date: volumes accumulate to the final actual, rates fluctuate around it."""
    kpi, actual = goals.kpi, goals.actual
    count = len(kpi)
    months = 6
    steps = rng.uniform(0.7, 1.3, (count, months))
    share = np.cumsum(steps, axis=1)
    share /= share[:, -1:]
    closeness = (months - 1 - np.arange(months)) / (months - 1)
    wobble = 1 + rng.normal(0, 0.05, (count, months)) * _KPI_SPREAD[kpi][:, None] * closeness
    values = np.where(_KPI_ACCUMULATES[kpi][:, None], actual[:, None] * share, actual[:, None] * wobble)
    decimals = _KPI_DECIMALS[kpi][:, None]
    values = _round(np.minimum(values, _KPI_CEILING[kpi][:, None]), decimals)
    floor = np.where(_KPI_LOWER[kpi] & ~_KPI_ACCUMULATES[kpi], 10.0 ** -_KPI_DECIMALS[kpi], 0.0)
    values = np.maximum(values, floor[:, None])
    values[:, -1] = actual
    goal_index = np.repeat(np.arange(count), months)
    return _table("kpi_actuals", [
        pc.take(goals.goal_ids, pa.array(goal_index)),
        np.tile(cycle.month_ends, count),
        values.ravel(),
    ])


@dataclass
class _Ratings:
    table: pa.Table
    overall_score: np.ndarray  # by seat
    manager_view: np.ndarray  # by seat: the manager's ratings, dimension-weighted


def _ratings(org, cycle, seat_order, occupant, state, attainment, planted_effect, workforce, customer_ids, rng) -> _Ratings:
    """360 ratings of everyone but the CEO, and the scores grades are built from."""
    policy = Policy()
    seats = org.seats
    ratee_seats = seat_order[org.seat_kind[seat_order] != _SEAT_CEO]
    ratee_seat_parts, rater_key_parts, role_parts, effect_parts = [], [], [], []

    def add(ratee, rater_key, role, effect):
        ratee_seat_parts.append(ratee)
        rater_key_parts.append(rater_key)
        role_parts.append(np.full(len(ratee), _ROLE[role]))
        effect_parts.append(_ROLE_EFFECT[role] + effect)

    add(ratee_seats, occupant[ratee_seats], "self", state.self_bias[ratee_seats])
    managers = org.seat_manager[ratee_seats]
    leniency = np.where(planted_effect != 0, planted_effect, state.leniency)
    add(ratee_seats, occupant[managers], "manager", leniency[managers])

    # Peers: 2-3 from the same team; leads' peers are the department's other leads, heads' the other heads.
    # Leads of a department with fewer than three teams are rated by leads from across the company.
    kind = org.seat_kind[ratee_seats]
    leads_per_dept = np.bincount(org.team_dept, minlength=len(DEPARTMENTS))
    cross_department = (kind == _SEAT_LEAD) & (leads_per_dept[np.maximum(org.seat_dept[ratee_seats], 0)] < 3)
    peer_group = np.select(
        [kind == _SEAT_MEMBER, kind == _SEAT_LEAD], [org.seat_team[ratee_seats], org.teams + org.seat_dept[ratee_seats]],
        org.teams + len(DEPARTMENTS),
    )
    in_group = ratee_seats[~cross_department]
    order, start, size = _group_positions(peer_group[~cross_department], rng)
    position = np.arange(len(order)) - start
    wanted = np.minimum(rng.integers(2, 4, len(order)), size - 1)
    for j in range(3):
        chosen = j < wanted
        ratee = in_group[order[chosen]]
        rater = in_group[order[(start + (position + 1 + j) % size)[chosen]]]
        add(ratee, occupant[rater], "peer", state.rater_effect[rater])
    all_leads = org.team_lead_seat
    for lead in ratee_seats[cross_department].tolist():  # at most a few, and only in small demos
        others = all_leads[all_leads != lead]
        rater = rng.choice(others, size=min(int(rng.integers(2, 4)), len(others)), replace=False)
        add(np.full(len(rater), lead), occupant[rater], "peer", state.rater_effect[rater])

    # Subordinates: 2-3 direct reports rate each head and lead.
    reporting = ratee_seats[org.seat_manager[ratee_seats] > 0]
    order, start, size = _group_positions(org.seat_manager[reporting], rng)
    wanted = np.minimum(rng.integers(2, 4, seats), np.bincount(org.seat_manager[reporting], minlength=seats))
    reporting = reporting[order]
    chosen = np.arange(len(order)) - start < wanted[org.seat_manager[reporting]]
    rater = reporting[chosen]
    add(org.seat_manager[rater], occupant[rater], "subordinate", state.rater_effect[rater])

    # Customers rate about half of Sales' members.
    sales = ratee_seats[(kind == _SEAT_MEMBER) & (org.seat_dept[ratee_seats] == 0)]
    sales = sales[rng.random(len(sales)) < 0.5]
    customer = rng.integers(0, len(customer_ids), len(sales))
    add(sales, len(workforce.employee_ids) + customer, "customer", rng.normal(0, 0.1, len(sales)))

    ratee = np.concatenate(ratee_seat_parts)
    rater_key = np.concatenate(rater_key_parts)
    role = np.concatenate(role_parts)
    effect = np.concatenate(effect_parts)

    trait = rng.normal(0, 0.15, (seats, len(DIMENSIONS)))
    base = (
        _SCORE_BASE
        + _DIM_ATTAINMENT_SLOPE[None, :] * (attainment[:, None] - 1)
        + _DIM_PERFORMANCE_SLOPE[None, :] * state.performance[:, None]
        + trait
    )
    raw = base[ratee] + effect[:, None] + rng.normal(0, 0.3, (len(ratee), len(DIMENSIONS)))
    score = np.clip(np.round(raw, 1), policy.score_min, policy.score_max)

    # Scores per person: mean per role and dimension, role weights renormalised over the roles present.
    roles, dims = len(RATER_ROLES), len(DIMENSIONS)
    cell = (ratee[:, None] * roles + role[:, None]) * dims + np.arange(dims)[None, :]
    totals = np.bincount(cell.ravel(), weights=score.ravel(), minlength=seats * roles * dims).reshape(seats, roles, dims)
    counts = np.bincount(cell.ravel(), minlength=seats * roles * dims).reshape(seats, roles, dims)
    means = totals / np.maximum(counts, 1)
    role_weight = np.array([policy.rater_role_weights[r] for r in RATER_ROLES])[None, :] * (counts[:, :, 0] > 0)
    by_dimension = (role_weight[:, :, None] * means).sum(axis=1) / np.maximum(role_weight.sum(axis=1), 1e-12)[:, None]
    dim_weight = np.array([policy.dimension_weights[d] for d in DIMENSIONS])
    overall = np.round(by_dimension @ dim_weight / dim_weight.sum(), 2)
    manager_view = means[:, _ROLE["manager"], :] @ dim_weight / dim_weight.sum()

    # Rows in the contract's stored order: role (by name), rater, ratee; dimensions in contract order. Ids are
    # zero-padded, so sorting by position sorts by id; customers ("CUST-") come before employees ("E").
    employees = len(workforce.employee_ids)
    keys = employees + len(customer_ids)
    rater_rank = np.where(rater_key >= employees, rater_key - employees, rater_key + len(customer_ids))
    role_rank = np.argsort(np.argsort(RATER_ROLES))[role]
    order = np.argsort((role_rank.astype(np.int64) * keys + rater_rank) * employees + occupant[ratee], kind="stable")
    all_ids = pa.concat_arrays([workforce.employee_ids, customer_ids])
    pair_rows = np.repeat(order, dims)
    table = _table(
        "ratings",
        [
            pc.take(workforce.employee_ids, pa.array(occupant[ratee][pair_rows])),
            pc.take(all_ids, pa.array(rater_key[pair_rows])),
            _take(pa.array(list(RATER_ROLES)), role[pair_rows]),
            _take(pa.array(list(DIMENSIONS)), np.tile(np.arange(dims), len(order))),
            score[order].ravel(),
        ],
        drop=("cycle_id",),
    )
    return _Ratings(table=table, overall_score=overall, manager_view=manager_view)


def _quota(n: int, proposed_counts: np.ndarray, strictness: float, shares: np.ndarray) -> np.ndarray:
    """Final counts per grade: the proposal pulled `strictness` of the way toward the guideline."""
    desired = (1 - strictness) * proposed_counts + strictness * n * shares
    return _largest_remainder(np.maximum(desired, 0), n) if n else np.zeros(5, dtype=np.int64)


def _assign_by_rank(key: np.ndarray, counts: np.ndarray) -> np.ndarray:
    grades = np.empty(len(key), dtype=np.int64)
    grades[np.argsort(-key, kind="stable")] = np.repeat(np.arange(len(counts)), counts)
    return grades


@dataclass
class _Grades:
    graded: np.ndarray  # seats, employee-id order
    proposed: np.ndarray
    final: np.ndarray
    table: pa.Table


def _grades(org, cycle, c, cycles, seat_order, occupant, ratings, workforce, drift_history, spike, rng) -> _Grades:
    """Proposals from each manager's view, then calibration per department toward the forced distribution."""
    shares = np.array([Policy().target_shares[g] for g in GRADES])
    graded = seat_order[org.seat_kind[seat_order] != _SEAT_CEO]
    view = ratings.manager_view[graded]
    overall = ratings.overall_score[graded]
    proposed = np.searchsorted(-_PROPOSAL_THRESHOLDS, -view, side="left")
    final = np.empty_like(proposed)
    dept = org.seat_dept[graded]
    progress = c / max(cycles - 1, 1)
    for d, department in enumerate(DEPARTMENTS):
        members = np.flatnonzero(dept == d)
        n = len(members)
        key = overall[members] + 0.3 * (2 - proposed[members]) + rng.normal(0, 0.05, n)
        if department.unit_id == DRIFTING_DEPARTMENT:
            proposed[members], final[members] = _drifting_grades(view[members], key, progress, drift_history, shares)
            continue
        counts = np.bincount(proposed[members], minlength=5)
        strictness = 0.95 if spike else rng.uniform(0.55, 0.85)
        final[members] = _assign_by_rank(key, _quota(n, counts, strictness, shares))
    grade_names = pa.array(list(GRADES))
    table = _table("grades", [
        _repeat_str(cycle.cycle_id, len(graded)),
        _take(workforce.employee_ids, occupant[graded]),
        _take(workforce.employee_ids, occupant[org.seat_manager[graded]]),
        overall,
        _take(grade_names, proposed),
        _take(grade_names, final),
    ])
    return _Grades(graded=graded, proposed=proposed, final=final, table=table)


def _drifting_grades(view, key, progress, history, shares) -> tuple[np.ndarray, np.ndarray]:
    """The drifting department: its S+A share grows every cycle, proposed and final.

    Its managers propose S/A to a growing share of people (35% -> 65%) and calibration
    pushes back less every cycle (strictness 0.7 -> 0.2). Counts are forced to grow by at
    least one so small demos drift too; headcount per department is constant.
    """
    n = len(view)
    top_proposed = min(n, max(int(round(n * (0.35 + 0.30 * progress))), history.get("proposed", -1) + 1))
    strictness = 0.7 - 0.5 * progress
    top_final = int(round((1 - strictness) * top_proposed + strictness * n * (shares[_S] + shares[_A])))
    top_final = min(n, max(top_final, history.get("final", -1) + 1))
    history["proposed"], history["final"] = top_proposed, top_final

    def counts(top: int) -> np.ndarray:
        s = int(round(top * 0.22))
        d = min(int(round(n * 0.03)), n - top)
        c = min(int(round(n * 0.08)), n - top - d)
        return np.array([s, top - s, n - top - c - d, c, d])

    return _assign_by_rank(view, counts(top_proposed)), _assign_by_rank(key, counts(top_final))


def _appeals(org, cycle, is_last, spike, grades, occupant, workforce, severe_seats, rng) -> pa.Table:
    """Appeals: likelier after a C/D, a calibration downgrade or a severe manager."""
    graded, proposed, final = grades.graded, grades.proposed, grades.final
    downgraded = final > proposed
    severe_report = np.isin(org.seat_manager[graded], severe_seats)
    weight = _APPEAL_GRADE_WEIGHT[final] * np.where(downgraded, 3.0, 1.0) * np.where(severe_report, 3.5, 1.0)
    rate = rng.uniform(0.035, 0.045) * (3.0 if spike else 1.0)
    count = int(round(rate * len(graded)))
    # Weighted sampling without replacement (Efraimidis & Spirakis 2006): the `count`
    # largest u ** (1 / weight) win. A fixed count keeps the spike visible in small demos.
    keys = rng.random(len(graded)) ** (1 / weight)
    rows = np.sort(np.argsort(-keys, kind="stable")[:count])
    down, severe = downgraded[rows], severe_report[rows]

    general, downgrade = (_REASONS_SPIKE_GENERAL, _REASONS_SPIKE_DOWNGRADED) if spike else (_REASONS_GENERAL, _REASONS_DOWNGRADED)
    reason_p = np.where(down[:, None], downgrade, general)
    if not spike:
        reason_p = np.where((severe & ~down)[:, None], _REASONS_SEVERE, reason_p)
    reason = _choice_rows(np.asarray(reason_p, dtype=float), rng)
    outcome_p = np.where(severe[:, None], _OUTCOMES_SEVERE, np.where(down[:, None], _OUTCOMES_DOWNGRADED, _OUTCOMES_GENERAL))
    outcome = _choice_rows(np.asarray(outcome_p, dtype=float), rng)
    before = final[rows]
    improves = outcome <= 1
    outcome = np.where(improves & (before == _S), 2, outcome)  # nothing above S to give
    status = np.array(_APPEAL_OUTCOMES, dtype=object)[outcome]
    if is_last:  # about 15% of the latest cycle's appeals are still open, at least one
        kept_open = rng.permutation(count) < (max(1, int(round(0.15 * count))) if count else 0)
        status = np.where(kept_open, "open", status)
    upheld, partial, rejected = status == "upheld", status == "partially_upheld", status == "rejected"
    after = np.where(upheld & down, np.minimum(proposed[rows], before - 1), before - 1)
    after = np.where(upheld | partial, np.maximum(after, 0), np.where(rejected, before, -1))

    filed = cycle.end + rng.integers(7, 21, count).astype("timedelta64[D]")
    resolved = filed + rng.integers(2, 41, count).astype("timedelta64[D]")
    still_open = status == "open"
    width = max(4, len(str(count)))
    grade_names = pa.array(list(GRADES))
    return _table("appeals", [
        _ids(f"AP-{cycle.cycle_id}-", np.arange(1, count + 1), width),
        _repeat_str(cycle.cycle_id, count),
        _take(workforce.employee_ids, occupant[graded[rows]]),
        filed,
        _take(pa.array(list(APPEAL_REASONS)), reason),
        pa.array(status, type=pa.string()),
        pa.array(resolved, type=pa.date32(), mask=still_open),
        _take(grade_names, before),
        _take(grade_names, np.maximum(after, 0), null=after < 0),
    ])


def _employees_table(org, cycle, seat_order, occupant, state, workforce) -> pa.Table:
    people = occupant[seat_order]
    managers = org.seat_manager[seat_order]
    return _table("employees", [
        _repeat_str(cycle.cycle_id, len(seat_order)),
        _take(workforce.employee_ids, people),
        _take(workforce.names, people),
        _take(pa.array(org.unit_ids.tolist(), type=pa.string()), org.seat_unit[seat_order]),
        _take(workforce.employee_ids, occupant[np.maximum(managers, 0)], null=managers < 0),
        _take(pa.array(REGIONS), org.seat_region[seat_order]),
        _take(pa.array(_JOB_LEVELS), state.level[seat_order]),
        workforce.hire_dates[people],
    ])


# ----------------------------------------------------------------------------- writing


def _write_demo(folder: Path, employees: int, cycle_count: int, seed: int, report) -> DemoManifest:
    rng = np.random.default_rng(seed)
    cycles = _cycles(cycle_count)
    spike_index = max(0, cycle_count - 3)
    report(0.0, t("demo.building_org"))
    org = _build_org(employees, rng)
    lenient_seats, severe_seats = _choose_planted_seats(org, rng)
    planted_effect = np.zeros(org.seats)
    planted_effect[lenient_seats] = rng.uniform(0.6, 0.8, len(lenient_seats))
    planted_effect[severe_seats] = -rng.uniform(0.6, 0.8, len(severe_seats))
    protected = np.concatenate([lenient_seats, severe_seats])
    workforce = _simulate_workforce(org, cycles, protected, rng)
    customers = max(20, int(org.dept_headcount[0] // 2))
    customer_ids = _ids("CUST-", np.arange(1, customers + 1), max(5, len(str(customers))))
    planted_unlinked = np.array([i for i, d in enumerate(DEPARTMENTS) if d.unit_id in UNLINKED_GOAL_DEPARTMENTS])
    state = _SeatState.draw(org, rng)

    options = {"compression": "zstd"}
    pq.write_table(_table("cycles", [
        [c.cycle_id for c in cycles], [c.name for c in cycles],
        np.array([c.start for c in cycles]), np.array([c.end for c in cycles]),
    ]), folder / "cycles.parquet", **options)
    pq.write_table(_org_units_table(org), folder / "org_units.parquet", **options)
    per_cycle = ("employees", "goals", "grades", "appeals")
    writers = {name: pq.ParquetWriter(folder / f"{name}.parquet", TABLES[name].arrow_schema, **options) for name in per_cycle}

    unlinked_goal_ids: list[str] = []
    unbalanced: list[tuple[str, str]] = []
    drift_history: dict[str, int] = {}
    try:
        for c, cycle in enumerate(cycles):
            report(0.02 + 0.93 * c / cycle_count, t("demo.generating_cycle", cycle=cycle.name))
            occupant = workforce.occupant[c]
            if c > 0:
                state.next_cycle(org, workforce.hired[c], rng)
            seat_order = np.argsort(occupant, kind="stable")
            writers["employees"].write_table(_employees_table(org, cycle, seat_order, occupant, state, workforce))

            goals = _goals(org, cycle, seat_order, occupant, state, workforce, rng, planted_unlinked)
            writers["goals"].write_table(goals.table)
            # Actuals under their goals' cycle, as imports write them: one cycle's questions read one folder.
            actuals_folder = folder / "kpi_actuals" / f"cycle_id={cycle.cycle_id}"
            actuals_folder.mkdir(parents=True)
            pq.write_table(_kpi_actuals(cycle, goals, rng), actuals_folder / "part-0.parquet", **options)
            unlinked_goal_ids += pc.filter(goals.goal_ids, pa.array(goals.unlinked)).to_pylist()
            owners = _take(workforce.employee_ids, occupant[goals.unbalanced_seats]).to_pylist()
            unbalanced += [(cycle.cycle_id, owner) for owner in owners]

            ratings = _ratings(org, cycle, seat_order, occupant, state, goals.attainment_by_seat,
                               planted_effect, workforce, customer_ids, rng)
            partition = folder / "ratings" / f"cycle_id={cycle.cycle_id}"
            partition.mkdir(parents=True)
            pq.write_table(ratings.table, partition / "part-0.parquet", **options)

            grades = _grades(org, cycle, c, cycle_count, seat_order, occupant, ratings, workforce,
                             drift_history, c == spike_index, rng)
            writers["grades"].write_table(grades.table)
            writers["appeals"].write_table(
                _appeals(org, cycle, c == cycle_count - 1, c == spike_index, grades, occupant, workforce, severe_seats, rng)
            )
    finally:
        for writer in writers.values():
            writer.close()

    report(0.97, t("demo.writing_manifest"))

    def ids_of(seats: np.ndarray) -> tuple[str, ...]:
        return tuple(sorted(_take(workforce.employee_ids, workforce.occupant[0][seats]).to_pylist()))

    planted_ids = _take(workforce.employee_ids, workforce.occupant[0][protected]).to_pylist()
    effects = dict(sorted(zip(planted_ids, np.round(planted_effect[protected], 3).tolist())))
    manifest = DemoManifest(
        lenient_rater_ids=ids_of(lenient_seats),
        severe_rater_ids=ids_of(severe_seats),
        drifting_department_id=DRIFTING_DEPARTMENT,
        appeal_spike_cycle_id=cycles[spike_index].cycle_id,
        unlinked_goal_ids=tuple(unlinked_goal_ids),
        unlinked_goal_department_ids=UNLINKED_GOAL_DEPARTMENTS,
        unbalanced_weight_owners=tuple(unbalanced),
        planted_rater_effects=effects,
        weak_region=WEAK_REGION,
        strong_department_id=STRONG_DEPARTMENT,
        cycle_ids=tuple(c.cycle_id for c in cycles),
        company_unit_id=COMPANY_UNIT_ID,
        ceo_id=_take(workforce.employee_ids, workforce.occupant[0][[0]]).to_pylist()[0],
        employees=employees,
        seed=seed,
        generator=GENERATOR_VERSION,
    )
    (folder / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest
