"""Who is looking: viewers, roles and department scopes, read from an access file.

`access.toml` (next to the dataset, or the file named by GRADELENS_ACCESS) maps each viewer
(an e-mail or login name, compared case-insensitively) to a role and, for an HRBP, the
departments they look after:

    [settings]
    default_role = ""            # role of a signed-in viewer who is not listed ("" = no access)

    [viewers."ana@example.com"]
    role = "hrbp"
    departments = ["D1"]

Roles: `executive` (all departments, aggregate queries only, small groups suppressed),
`performance_manager` (all departments, individual rows), `hrbp` (only the listed
departments, everything there), `admin` (everything, plus import). The query layer enforces
them (gradelens.queries.run_query with `viewer=`); pages only pass the viewer along.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gradelens.errors import QueryError
from gradelens.i18n import Message

ROLES = ("executive", "performance_manager", "hrbp", "admin")
ACCESS_FILE = "access.toml"
ACCESS_ENV = "GRADELENS_ACCESS"

# Privacy classes a query header may declare with `-- @privacy CLASS`.
PRIVACY_CLASSES = ("public", "aggregate", "individual")


@dataclass(frozen=True)
class Viewer:
    """A person looking at the data. `departments` None means all departments."""

    id: str
    role: str
    departments: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise QueryError("access.error_unknown_role", viewer=self.id, role=self.role, roles=", ".join(ROLES))
        if self.role == "hrbp" and not self.departments:
            raise QueryError("access.error_hrbp_needs_departments", viewer=self.id)

    @property
    def sees_individuals(self) -> bool:
        return self.role != "executive"

    @property
    def department_scoped(self) -> bool:
        return self.departments is not None

    @property
    def may_import(self) -> bool:
        return self.role == "admin"

    def cache_key(self) -> tuple[str, str, tuple[str, ...] | None]:
        return (self.id, self.role, self.departments)


ADMIN = Viewer("cli", "admin")


@dataclass(frozen=True)
class AccessPolicy:
    viewers: dict[str, Viewer]
    default_role: str | None = None
    source: str = ""

    def viewer(self, identity: str | None) -> Viewer | None:
        """The viewer for a login name or e-mail; None when they may not look at all."""
        if not identity:
            return None
        key = identity.strip().lower()
        if key in self.viewers:
            return self.viewers[key]
        if self.default_role and self.default_role != "hrbp":
            return Viewer(key, self.default_role)
        return None


def parse_access(raw: dict, where: str) -> AccessPolicy:
    settings = raw.get("settings", {})
    default_role = settings.get("default_role") or None
    if default_role is not None and default_role not in ROLES:
        raise QueryError("access.error_default_role", where=where, role=default_role, roles=", ".join(ROLES))
    viewers: dict[str, Viewer] = {}
    for identity, entry in raw.get("viewers", {}).items():
        if not isinstance(entry, dict) or "role" not in entry:
            raise QueryError("access.error_viewer_needs_role", where=where, identity=identity, roles=", ".join(ROLES))
        departments = entry.get("departments")
        if departments is not None:
            if not isinstance(departments, list) or not all(isinstance(d, str) and d for d in departments):
                raise QueryError("access.error_departments_list", where=where, identity=identity)
            departments = tuple(departments)
        if entry["role"] == "hrbp" and not departments:
            raise QueryError("access.error_hrbp_without_departments", where=where, identity=identity)
        if entry["role"] != "hrbp" and departments is not None:
            raise QueryError("access.error_departments_not_hrbp", where=where, identity=identity)
        key = identity.strip().lower()
        try:
            viewers[key] = Viewer(key, entry["role"], departments)
        except QueryError as exc:
            raise QueryError("access.error_in_file", where=where, error=Message(exc.key, exc.values)) from None
    return AccessPolicy(viewers, default_role, where)


def load_access(path: Path) -> AccessPolicy:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QueryError("access.error_file_missing", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise QueryError("access.error_file_toml", path=path, error=exc) from None
    return parse_access(raw, str(path))


def find_access_file(dataset_dir: Path | None) -> Path | None:
    """GRADELENS_ACCESS if set, else access.toml next to the dataset, else None."""
    configured = os.environ.get(ACCESS_ENV)
    if configured:
        return Path(configured)
    if dataset_dir is not None and (Path(dataset_dir) / ACCESS_FILE).is_file():
        return Path(dataset_dir) / ACCESS_FILE
    return None


def privacy_tag(text: str, where: str) -> tuple[str, dict[str, str]]:
    """Read `@privacy CLASS [key=value ...]` (keys: count, by, within)."""
    words = text.split()
    if not words or words[0] not in PRIVACY_CLASSES:
        raise QueryError("access.error_privacy_class", where=where, text=text, classes=", ".join(PRIVACY_CLASSES))
    options: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key not in ("count", "by", "within") or not value:
            raise QueryError("access.error_privacy_option", where=where, word=word)
        options[key] = value
    if words[0] == "aggregate" and "count" not in options:
        raise QueryError("access.error_privacy_count", where=where)
    return words[0], options
