"""The performance policy a dataset is judged against (policy.toml, all keys optional).

Example policy.toml (every value shown is the default):

    grades = ["S", "A", "B", "C", "D"]          # best first
    [target_shares]                            # forced distribution guideline
    S = 0.05
    A = 0.20
    B = 0.60
    C = 0.10
    D = 0.05
    [score_scale]
    min = 1
    max = 5
    [dimension_weights]
    results = 0.6
    competency = 0.3
    attitude = 0.1
    [rater_role_weights]
    manager = 0.6
    peer = 0.2
    subordinate = 0.1
    customer = 0.1
    self = 0.0
    [attainment]
    cap = 1.5
    [privacy]
    min_group_size = 5
    [appeals]
    service_target_days = 15
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gradelens.contract import DIMENSIONS, RATER_ROLES
from gradelens.errors import DatasetError


def _default_shares() -> dict[str, float]:
    return {"S": 0.05, "A": 0.20, "B": 0.60, "C": 0.10, "D": 0.05}


@dataclass(frozen=True)
class Policy:
    grades: tuple[str, ...] = ("S", "A", "B", "C", "D")
    target_shares: dict[str, float] = field(default_factory=_default_shares)
    score_min: float = 1.0
    score_max: float = 5.0
    dimension_weights: dict[str, float] = field(
        default_factory=lambda: {"results": 0.6, "competency": 0.3, "attitude": 0.1}
    )
    rater_role_weights: dict[str, float] = field(
        default_factory=lambda: {"manager": 0.6, "peer": 0.2, "subordinate": 0.1, "customer": 0.1, "self": 0.0}
    )
    attainment_cap: float = 1.5
    min_group_size: int = 5
    appeal_service_target_days: int = 15

    def grade_rank(self, grade: str) -> int:
        """0 for the best grade, 1 for the next, ..."""
        return self.grades.index(grade)


def load_policy(dataset_dir: Path) -> Policy:
    """Read `policy.toml` from a dataset folder; defaults where the file or a key is absent."""
    path = Path(dataset_dir) / "policy.toml"
    if not path.exists():
        return Policy()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError("errors.policy_bad_toml", source=path, problem=str(exc))
    return policy_from_dict(raw, source=str(path))


def policy_from_dict(raw: dict, source: str = "policy") -> Policy:
    default = Policy()

    def fail(key: str, **values: object) -> DatasetError:
        return DatasetError(key, source=source, **values)

    def number(value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail("errors.policy_not_number", key=key, value=repr(value))
        return float(value)

    grades = tuple(raw.get("grades", default.grades))
    if len(grades) < 2 or len(set(grades)) != len(grades) or not all(isinstance(g, str) and g for g in grades):
        raise fail("errors.policy_grades")

    shares_raw = raw.get("target_shares", default.target_shares if grades == default.grades else None)
    if shares_raw is None:
        raise fail("errors.policy_shares_needed")
    if set(shares_raw) != set(grades):
        raise fail("errors.policy_shares_grades", grades=list(grades), found=sorted(shares_raw))
    shares = {g: number(shares_raw[g], f"target_shares.{g}") for g in grades}
    if any(s < 0 for s in shares.values()) or abs(sum(shares.values()) - 1) > 1e-6:
        raise fail("errors.policy_shares_sum", total=f"{sum(shares.values()):.4f}")

    scale = raw.get("score_scale", {})
    score_min = number(scale.get("min", default.score_min), "score_scale.min")
    score_max = number(scale.get("max", default.score_max), "score_scale.max")
    if score_min >= score_max:
        raise fail("errors.policy_score_scale", low=score_min, high=score_max)

    dims = {**default.dimension_weights, **raw.get("dimension_weights", {})}
    if set(dims) != set(DIMENSIONS):
        raise fail("errors.policy_dimension_names", names=list(DIMENSIONS))
    dims = {k: number(v, f"dimension_weights.{k}") for k, v in dims.items()}
    if any(v < 0 for v in dims.values()) or sum(dims.values()) <= 0:
        raise fail("errors.policy_dimension_weights")

    roles = {**default.rater_role_weights, **raw.get("rater_role_weights", {})}
    if set(roles) != set(RATER_ROLES):
        raise fail("errors.policy_role_names", names=list(RATER_ROLES))
    roles = {k: number(v, f"rater_role_weights.{k}") for k, v in roles.items()}
    if any(v < 0 for v in roles.values()):
        raise fail("errors.policy_role_weights")

    cap = number(raw.get("attainment", {}).get("cap", default.attainment_cap), "attainment.cap")
    if cap <= 0:
        raise fail("errors.policy_cap")
    min_group = raw.get("privacy", {}).get("min_group_size", default.min_group_size)
    if not isinstance(min_group, int) or isinstance(min_group, bool) or min_group < 1:
        raise fail("errors.policy_min_group", value=repr(min_group))
    service_days = raw.get("appeals", {}).get("service_target_days", default.appeal_service_target_days)
    if not isinstance(service_days, int) or isinstance(service_days, bool) or service_days < 1:
        raise fail("errors.policy_service_days", value=repr(service_days))

    return Policy(
        grades=grades,
        target_shares=shares,
        score_min=score_min,
        score_max=score_max,
        dimension_weights=dims,
        rater_role_weights=roles,
        attainment_cap=cap,
        min_group_size=min_group,
        appeal_service_target_days=service_days,
    )
