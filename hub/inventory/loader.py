"""Inventory: the province's sites and their links, kept as YAML and synced into the database.

The layout follows nornir: ``defaults.yaml`` holds what every site inherits,
``groups.yaml`` named bundles a site can list under ``groups:``, and
``sites.yaml`` the sites keyed by their stable code. A site's attributes are
its own, then its groups' (the first listed group wins), then the defaults;
nested mappings (``link``, ``link.snmp``) merge key by key.

Loading checks everything at once and raises :class:`InventoryError` with every
problem found, each pointing at a file, a line and a field, so an operator can
fix the whole file in one pass. Secrets are never written here: only the names
of the environment variables that hold them (``*_env``).
"""

from __future__ import annotations

import difflib
import itertools
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlmodel import select

from hub.db import session_scope
from hub.models import Link, Site

DEFAULTS_FILE = "defaults.yaml"
GROUPS_FILE = "groups.yaml"
SITES_FILE = "sites.yaml"
FILES = (DEFAULTS_FILE, GROUPS_FILE, SITES_FILE)

SITE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{6,18}[0-9](?: (?:ext\.?|ต่อ) ?[0-9]{1,6})?$")
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,254}$")
# Keys that would hold a secret itself; the inventory only names the variable (<key>_env).
_SECRET_KEY_RE = re.compile(r"(?:^|_)(?:community|password|passwd|secret|key|token|passphrase)$")

Path_ = tuple[str | int, ...]


# --- field types ---------------------------------------------------------------------------


def _site_code(value: str) -> str:
    if not SITE_CODE_RE.match(value):
        raise PydanticCustomError(
            "site_code", "site code must match ^[A-Z0-9][A-Z0-9_-]{1,31}$ (e.g. UDN05)"
        )
    return value


def _env_name(value: str) -> str:
    if value and not _ENV_NAME_RE.match(value):
        raise PydanticCustomError(
            "env_name",
            "must be the NAME of an environment variable (A-Z, 0-9, _), never the secret itself",
        )
    return value


def _phone(value: str) -> str:
    if not _PHONE_RE.match(value):
        raise PydanticCustomError("phone", "not a phone number like 042-123-456 or +66 42 123 456")
    return value


def _host(value: str) -> str:
    if not _HOST_RE.match(value):
        raise PydanticCustomError("host", "not a host name or IP address")
    return value


def _yaml_int_as_str(value: Any) -> Any:
    # `version: 3` in YAML is an int; the protocol name is the string "3".
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


SiteCode = Annotated[str, AfterValidator(_site_code)]
SiteKind = Literal["hub", "district"]
Text = Annotated[str, Field(min_length=1, max_length=200)]
EnvName = Annotated[str, Field(max_length=100), AfterValidator(_env_name)]
Phone = Annotated[str, AfterValidator(_phone)]
Host = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
IfIndex = Annotated[int, Field(ge=1)]
Mbps = Annotated[int, Field(gt=0, le=100_000)]
MoneyTHB = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Km = Annotated[float, Field(ge=0, le=2000)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
SnmpVersion = Annotated[Literal["2c", "3"], BeforeValidator(_yaml_int_as_str)]
# "" means not used (v2c has no auth/priv).
AuthProtocol = Literal["", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["", "DES", "3DES", "AES128", "AES192", "AES256"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- resolved models: one site after inheritance ---------------------------------------------


class SnmpSpec(_Strict):
    """The router the hub polls for this site's link figures."""

    host: Host
    port: Port
    version: SnmpVersion
    if_index: IfIndex
    community_env: EnvName = ""
    user: str = Field(default="", max_length=100)
    auth_protocol: AuthProtocol = ""
    auth_key_env: EnvName = ""
    priv_protocol: PrivProtocol = ""
    priv_key_env: EnvName = ""

    @model_validator(mode="after")
    def _credentials(self) -> SnmpSpec:
        if self.version == "2c" and not self.community_env:
            raise PydanticCustomError(
                "snmp_credentials", "SNMP v2c needs community_env (the variable holding it)"
            )
        if self.version == "3":
            missing = [n for n in ("user", "auth_protocol", "auth_key_env") if not getattr(self, n)]
            if missing:
                raise PydanticCustomError(
                    "snmp_credentials", "SNMP v3 needs {missing}", {"missing": ", ".join(missing)}
                )
            if bool(self.priv_protocol) != bool(self.priv_key_env):
                raise PydanticCustomError(
                    "snmp_credentials",
                    "SNMP v3 needs both priv_protocol and priv_key_env, or neither",
                )
        return self


class FeeChange(_Strict):
    """A new monthly fee (excluding VAT) in force from ``effective`` (a contract change)."""

    effective: date
    monthly_fee_thb: MoneyTHB


class VatChange(_Strict):
    """A new VAT rate in force from ``effective`` (a change in the law)."""

    effective: date
    vat_rate: Rate


def _dates_increase(changes: tuple[FeeChange | VatChange, ...]) -> None:
    for before, after in itertools.pairwise(changes):
        if after.effective <= before.effective:
            raise PydanticCustomError(
                "tariff_dates",
                "effective dates must increase: {after} is not after {before}",
                {"after": after.effective.isoformat(), "before": before.effective.isoformat()},
            )


class LinkSpec(_Strict):
    """The site's leased line and what it costs (fee excluding VAT).

    ``monthly_fee_thb`` and ``vat_rate`` are in force from ``billing_start``;
    ``fee_changes`` and ``vat_changes`` (effective-dated, increasing, after
    billing_start) replace them from their dates, so a month with a change is
    priced by the days each rate was in force (issue 13).
    """

    provider: Text
    circuit_id: str = Field(default="", max_length=100)
    plan_down_mbps: Mbps
    plan_up_mbps: Mbps
    monthly_fee_thb: MoneyTHB
    vat_rate: Rate
    billing_start: date
    billed_to: Text
    snmp: SnmpSpec
    fee_changes: tuple[FeeChange, ...] = ()
    vat_changes: tuple[VatChange, ...] = ()

    @model_validator(mode="after")
    def _tariff_dates(self) -> LinkSpec:
        for changes in (self.fee_changes, self.vat_changes):
            _dates_increase(changes)
            if changes and changes[0].effective <= self.billing_start:
                raise PydanticCustomError(
                    "tariff_dates",
                    "a change effective {first} must come after billing_start {start}",
                    {"first": changes[0].effective.isoformat(), "start": self.billing_start.isoformat()},
                )
        return self


class SiteSpec(_Strict):
    code: SiteCode
    kind: SiteKind
    name_th: Text
    name_en: Text
    groups: tuple[str, ...] = ()
    distance_km: Km | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    contact_name: str = Field(default="", max_length=200)
    contact_phone: Phone | None = None
    contact_email: EmailStr | None = None
    room: str = Field(default="", max_length=200)
    link: LinkSpec


# --- layers: defaults.yaml and each group of groups.yaml (everything optional) ----------------


class SnmpDefaults(_Strict):
    host: Host | None = None
    port: Port | None = None
    version: SnmpVersion | None = None
    if_index: IfIndex | None = None
    community_env: EnvName | None = None
    user: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key_env: EnvName | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key_env: EnvName | None = None


class LinkDefaults(_Strict):
    provider: Text | None = None
    circuit_id: str | None = None
    plan_down_mbps: Mbps | None = None
    plan_up_mbps: Mbps | None = None
    monthly_fee_thb: MoneyTHB | None = None
    vat_rate: Rate | None = None
    billing_start: date | None = None
    billed_to: Text | None = None
    snmp: SnmpDefaults | None = None
    fee_changes: tuple[FeeChange, ...] | None = None
    vat_changes: tuple[VatChange, ...] | None = None


class Defaults(_Strict):
    """The shape of defaults.yaml: any inheritable site attribute."""

    kind: SiteKind | None = None
    contact_name: str | None = None
    contact_phone: Phone | None = None
    contact_email: EmailStr | None = None
    room: str | None = None
    link: LinkDefaults | None = None


class Group(Defaults):
    """One entry of groups.yaml; same attributes as the defaults."""


class Inventory(_Strict):
    defaults: Defaults
    groups: dict[str, Group]
    sites: tuple[SiteSpec, ...]

    @property
    def hub(self) -> SiteSpec:
        return next(s for s in self.sites if s.kind == "hub")

    @property
    def districts(self) -> tuple[SiteSpec, ...]:
        return tuple(s for s in self.sites if s.kind == "district")

    def site(self, code: str) -> SiteSpec:
        for s in self.sites:
            if s.code == code:
                return s
        raise KeyError(code)


# --- issues ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryIssue:
    file: str
    line: int  # 1-based; 0 when the problem has no line (a missing file)
    key_path: str  # dotted path of the mapping holding `field`, e.g. "UDN05.link"
    field: str
    message: str

    def __str__(self) -> str:
        head = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(p for p in (head, self.key_path, self.field, self.message) if p)


class InventoryError(Exception):
    def __init__(self, issues: list[InventoryIssue]) -> None:
        super().__init__(format_issues(issues))
        self.issues = issues


def format_issues(issues: Iterable[InventoryIssue]) -> str:
    """One line per issue: ``file:line: key.path: field: message``."""
    return "\n".join(str(i) for i in issues)


# --- YAML with line numbers ------------------------------------------------------------------


@dataclass
class _Doc:
    file: str
    data: dict[str, Any]
    lines: dict[Path_, int]  # key path -> line of that key (or list item)


def _dotted(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path)


class _Reader:
    """Builds plain data from a composed YAML tree, keeping each key's line.

    PyYAML's loaders silently keep the last of two equal keys; walking the
    nodes ourselves lets us report duplicates (a copy-pasted site would
    otherwise vanish without a word).
    """

    def __init__(self, file: str, issues: list[InventoryIssue], keyed_by_site: bool) -> None:
        self.file = file
        self.issues = issues
        self.keyed_by_site = keyed_by_site
        self.lines: dict[Path_, int] = {}
        self._constructor = yaml.SafeLoader("")

    def issue(self, line: int, path: Path_, fld: str, message: str) -> None:
        self.issues.append(InventoryIssue(self.file, line, _dotted(path), fld, message))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.issue(
                node.start_mark.line + 1, path[:-1], str(path[-1]) if path else "", str(exc.problem)
            )
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        self._constructor.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        reported: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(line, path, "", "keys must be plain names")
                continue
            key = str(key_node.value)
            if key in first_line:
                first = first_line[key]
                if self.keyed_by_site and not path:
                    if key not in reported:
                        reported.add(key)
                        self.issue(
                            first, (), key, f"duplicate site code {key} (also at line {line})"
                        )
                    self.issue(line, (), key, f"duplicate site code {key} (first at line {first})")
                else:
                    self.issue(line, path, key, f"duplicate key (first at line {first})")
                continue
            first_line[key] = line
            self.lines[(*path, key)] = line
            out[key] = self.build(value_node, (*path, key))
        return out


def _read(path: Path, issues: list[InventoryIssue], *, required: bool) -> _Doc | None:
    name = str(path)
    if not path.is_file():
        if required:
            issues.append(InventoryIssue(name, 0, "", "", "file not found"))
            return None
        return _Doc(name, {}, {})
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(InventoryIssue(name, 0, "", "", f"cannot read: {exc}"))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = str(exc.problem or exc.context)
        if exc.context and exc.context_mark and exc.problem_mark:
            # The construct that failed often starts on an earlier line: name both.
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        issues.append(
            InventoryIssue(name, mark.line + 1 if mark else 1, "", "", f"invalid YAML: {what}")
        )
        return None
    except yaml.YAMLError as exc:
        issues.append(InventoryIssue(name, 1, "", "", f"invalid YAML: {exc}"))
        return None
    if node is None:  # empty file
        return _Doc(name, {}, {})
    if not isinstance(node, yaml.MappingNode):
        issues.append(
            InventoryIssue(
                name,
                node.start_mark.line + 1,
                "",
                "",
                "the top level must be a mapping (name: ...)",
            )
        )
        return None
    reader = _Reader(name, issues, keyed_by_site=path.name == SITES_FILE)
    try:
        data = reader.build(node, ())
    except yaml.MarkedYAMLError as exc:  # a bad merge key (<<)
        mark = exc.problem_mark
        issues.append(
            InventoryIssue(
                name, mark.line + 1 if mark else 1, "", "", f"invalid YAML: {exc.problem}"
            )
        )
        return None
    return _Doc(name, data, reader.lines)


# --- inheritance with provenance -------------------------------------------------------------

Origin = tuple[str, int, Path_]  # file, line, key path inside that file


def _merge(
    target: dict[str, Any],
    origins: dict[Path_, Origin],
    layer: Mapping[str, Any],
    doc: _Doc,
    prefix: Path_,
    rel: Path_ = (),
) -> None:
    """Deep-merge ``layer`` (found at ``prefix`` in ``doc``) over ``target``, noting where each value came from."""
    for key, value in layer.items():
        rp: Path_ = (*rel, key)
        fp: Path_ = (*prefix, *rp)
        origins[rp] = (doc.file, doc.lines.get(fp, 1), fp)
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            else:
                target[key] = dict(target[key])
            _merge(target[key], origins, value, doc, prefix, rp)
            continue
        for stale in [p for p in origins if len(p) > len(rp) and p[: len(rp)] == rp]:
            del origins[stale]
        if isinstance(value, list):
            for index in range(len(value)):
                origins[(*rp, index)] = (doc.file, doc.lines.get((*fp, index), 1), (*fp, index))
        target[key] = value


def _field_names(model: type[BaseModel], loc: Path_) -> list[str]:
    """Field names of the (nested) model found at ``loc``, for "did you mean" hints."""
    current: type[BaseModel] = model
    for part in loc:
        info = current.model_fields.get(str(part))
        if info is None:
            return []
        candidates = [info.annotation, *getattr(info.annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return [name for name in current.model_fields if name != "code"]  # the code is the key


def _message(error: Mapping[str, Any], model: type[BaseModel], missing_hint: str) -> str:
    kind = error["type"]
    loc: Path_ = tuple(error["loc"])
    if kind == "extra_forbidden":
        names = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), names, n=1) if loc else []
        if close:
            return f"unknown field (did you mean {close[0]}?)"
        return f"unknown field (known: {', '.join(names)})" if names else "unknown field"
    if kind == "missing":
        return f"required field missing{missing_hint}"
    return str(error["msg"])


# --- loading ---------------------------------------------------------------------------------


def _layer_issues(
    model: type[BaseModel], data: Any, doc: _Doc, prefix: Path_, issues: list[InventoryIssue]
) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            fp: Path_ = (*prefix, *error["loc"])
            line = next(
                (doc.lines[fp[:n]] for n in range(len(fp), 0, -1) if fp[:n] in doc.lines), 1
            )
            fld = str(fp[-1]) if fp else ""
            issues.append(
                InventoryIssue(doc.file, line, _dotted(fp[:-1]), fld, _message(error, model, ""))
            )
        return None


def _secret_issues(doc: _Doc, issues: list[InventoryIssue]) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    names_at_top = Path(doc.file).name in (GROUPS_FILE, SITES_FILE)  # group names, site codes
    for path, line in doc.lines.items():
        key = path[-1]
        if names_at_top and len(path) == 1:
            continue
        if isinstance(key, str) and _SECRET_KEY_RE.search(key.lower()):
            issues.append(
                InventoryIssue(
                    doc.file,
                    line,
                    _dotted(path[:-1]),
                    key,
                    f"looks like a secret; write only the name of the environment variable "
                    f"that holds it, as {key}_env: SALAKLANG_...",
                )
            )
            found.add((doc.file, line))
    return found


def _resolve_site(
    code: str,
    raw: Any,
    docs: tuple[_Doc, _Doc, _Doc],
    groups: Mapping[str, Any],
    issues: list[InventoryIssue],
) -> tuple[SiteSpec | None, Any]:
    defaults, groups_doc, sites = docs
    site_line = sites.lines.get((code,), 1)
    if not isinstance(raw, dict):
        issues.append(
            InventoryIssue(
                sites.file, site_line, "", code, "a site must be a mapping of its fields"
            )
        )
        return None, None
    names = raw.get("groups", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        line = sites.lines.get((code, "groups"), site_line)
        issues.append(
            InventoryIssue(sites.file, line, code, "groups", "must be a list of group names")
        )
        names = []
    for index, name in enumerate(names):
        if name not in groups:
            known = ", ".join(groups) or "none defined"
            line = sites.lines.get((code, "groups", index), site_line)
            issues.append(
                InventoryIssue(
                    sites.file,
                    line,
                    code,
                    "groups",
                    f"unknown group {name!r} (groups.yaml: {known})",
                )
            )
    merged: dict[str, Any] = {}
    origins: dict[Path_, Origin] = {}
    _merge(merged, origins, defaults.data, defaults, ())
    for name in reversed(names):  # the first group listed wins
        if isinstance(groups.get(name), dict):
            _merge(merged, origins, groups[name], groups_doc, (name,))
    _merge(merged, origins, raw, sites, (code,))
    merged["code"] = code
    origins[("code",)] = (sites.file, site_line, (code,))
    try:
        return SiteSpec.model_validate(merged), merged
    except ValidationError as exc:
        for error in exc.errors():
            loc: Path_ = tuple(error["loc"])
            fld = str(loc[-1]) if loc else ""
            hint_model: type[BaseModel] = SiteSpec
            if loc in origins and error["type"] != "missing":
                file, line, fp = origins[loc]
                key_path = _dotted(fp if loc == ("code",) else fp[:-1])
                # Same wording as the layer check of that file, so the repeat is dropped.
                hint_model = {defaults.file: Defaults, groups_doc.file: Group}.get(file, SiteSpec)
            else:
                # Missing or whole-object errors: point at the site, at its deepest key we have.
                file, key_path = sites.file, _dotted((code, *loc[:-1]))
                line = next(
                    (
                        sites.lines[(code, *loc[:n])]
                        for n in range(len(loc) - 1, -1, -1)
                        if (code, *loc[:n]) in sites.lines
                    ),
                    site_line,
                )
            hint = " (set it in the site, one of its groups or defaults.yaml)"
            issues.append(
                InventoryIssue(file, line, key_path, fld, _message(error, hint_model, hint))
            )
        return None, merged


def load_inventory(path: Path) -> Inventory:
    """Read and check ``path``/{defaults,groups,sites}.yaml; raise InventoryError listing every problem."""
    path = Path(path)
    issues: list[InventoryIssue] = []
    if not path.is_dir():
        raise InventoryError(
            [
                InventoryIssue(
                    str(path),
                    0,
                    "",
                    "",
                    "not a directory holding defaults.yaml, groups.yaml and sites.yaml",
                )
            ]
        )
    defaults_doc = _read(path / DEFAULTS_FILE, issues, required=False)
    groups_doc = _read(path / GROUPS_FILE, issues, required=False)
    sites_doc = _read(path / SITES_FILE, issues, required=True)

    secrets: set[tuple[str, int]] = set()
    for doc in (defaults_doc, groups_doc, sites_doc):
        if doc is not None:
            secrets |= _secret_issues(doc, issues)

    defaults: BaseModel | None = None
    groups: dict[str, Group] = {}
    if defaults_doc is not None:
        defaults = _layer_issues(Defaults, defaults_doc.data, defaults_doc, (), issues)
    if groups_doc is not None:
        for name, data in groups_doc.data.items():
            group = _layer_issues(Group, data, groups_doc, (name,), issues)
            if isinstance(group, Group):
                groups[name] = group

    sites: list[SiteSpec] = []
    if defaults_doc is not None and groups_doc is not None and sites_doc is not None:
        docs = (defaults_doc, groups_doc, sites_doc)
        hub_lines: list[tuple[str, int]] = []
        for code, raw in sites_doc.data.items():
            spec, merged = _resolve_site(code, raw, docs, groups_doc.data, issues)
            if spec is not None:
                sites.append(spec)
            if isinstance(merged, dict) and merged.get("kind") == "hub":
                hub_lines.append((code, sites_doc.lines.get((code,), 1)))
        if not hub_lines and sites_doc.data:
            issues.append(
                InventoryIssue(
                    sites_doc.file,
                    1,
                    "",
                    "kind",
                    "no site is the hub (kind: hub, e.g. via groups: [hub])",
                )
            )
        if len(hub_lines) > 1:
            codes = ", ".join(c for c, _ in hub_lines)
            for code, line in hub_lines:
                issues.append(
                    InventoryIssue(
                        sites_doc.file,
                        line,
                        code,
                        "kind",
                        f"exactly one site may be the hub; found {codes}",
                    )
                )

    if issues:
        raise InventoryError(_tidy(issues, secrets))
    assert isinstance(defaults, Defaults)  # no issues means every layer validated
    return Inventory(defaults=defaults, groups=groups, sites=tuple(sites))


def _tidy(issues: list[InventoryIssue], secrets: set[tuple[str, int]]) -> list[InventoryIssue]:
    """Drop repeats (an inherited mistake shows up once per site) and the generic
    "unknown field" beside a secret we already explained; order by file and line."""
    seen: set[InventoryIssue] = set()
    kept: list[InventoryIssue] = []
    for issue in issues:
        if issue in seen:
            continue
        if (issue.file, issue.line) in secrets and issue.message.startswith("unknown field"):
            continue
        seen.add(issue)
        kept.append(issue)

    def order(issue: InventoryIssue) -> tuple[int, str, int]:
        name = Path(issue.file).name
        return (FILES.index(name) if name in FILES else len(FILES), issue.file, issue.line)

    return sorted(kept, key=order)


# --- database sync ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    changed_codes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"deactivated {self.deactivated}, unchanged {self.unchanged}"
        )


def _site_values(spec: SiteSpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "kind": spec.kind,
        "name_th": spec.name_th,
        "name_en": spec.name_en,
        "distance_km": spec.distance_km,
        "latitude": spec.latitude,
        "longitude": spec.longitude,
        "contact_name": spec.contact_name,
        "contact_phone": spec.contact_phone or "",
        "contact_email": str(spec.contact_email or ""),
        "room": spec.room,
        "active": True,
    }


def _link_values(link: LinkSpec) -> dict[str, Any]:
    snmp = link.snmp
    return {
        "provider": link.provider,
        "circuit_id": link.circuit_id,
        "plan_down_mbps": link.plan_down_mbps,
        "plan_up_mbps": link.plan_up_mbps,
        "monthly_fee_thb": link.monthly_fee_thb,
        "vat_rate": link.vat_rate,
        "billing_start": link.billing_start,
        "billed_to": link.billed_to,
        "snmp_host": snmp.host,
        "snmp_port": snmp.port,
        "snmp_version": snmp.version,
        "snmp_if_index": snmp.if_index,
        "snmp_community_env": snmp.community_env,
        "snmp_user": snmp.user,
        "snmp_auth_protocol": snmp.auth_protocol,
        "snmp_auth_key_env": snmp.auth_key_env,
        "snmp_priv_protocol": snmp.priv_protocol,
        "snmp_priv_key_env": snmp.priv_key_env,
    }


def _apply(row: Site | Link, values: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def sync_inventory(engine: sa.Engine, inventory: Inventory) -> SyncResult:
    """Upsert sites and links by code in one transaction.

    Sites missing from the inventory are deactivated, never deleted: agents,
    conferences and audit events keep referring to them. Running it twice
    changes nothing the second time.
    """
    created = updated = deactivated = unchanged = 0
    changed_codes: list[str] = []
    with session_scope(engine) as session:
        existing = {s.code: s for s in session.exec(select(Site)).all()}
        links = {link.site_id: link for link in session.exec(select(Link)).all()}
        for spec in inventory.sites:
            site = existing.get(spec.code)
            if site is None:
                site = Site(**_site_values(spec))
                session.add(site)
                session.flush()  # assigns site.id for the link
                assert site.id is not None
                session.add(Link(site_id=site.id, **_link_values(spec.link)))
                created += 1
                changed_codes.append(spec.code)
                continue
            changed = _apply(site, _site_values(spec))
            link = links.get(site.id) if site.id is not None else None
            if link is None:
                assert site.id is not None
                session.add(Link(site_id=site.id, **_link_values(spec.link)))
                changed = True
            else:
                changed = _apply(link, _link_values(spec.link)) or changed
            if changed:
                updated += 1
                changed_codes.append(spec.code)
            else:
                unchanged += 1
        wanted = {spec.code for spec in inventory.sites}
        for code, site in existing.items():
            if code not in wanted and site.active:
                site.active = False
                deactivated += 1
                changed_codes.append(code)
    return SyncResult(created, updated, deactivated, unchanged, tuple(changed_codes))


# --- command line ----------------------------------------------------------------------------


def check_main(path: str) -> int:
    """``python -m hub inventory check PATH``: 0 and a summary when valid, 1 and every issue if not."""
    try:
        inventory = load_inventory(Path(path))
    except InventoryError as exc:
        print(format_issues(exc.issues), file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) in {path}", file=sys.stderr)
        return 1
    hubs, districts = 1, len(inventory.districts)
    print(f"OK: {len(inventory.sites)} sites ({hubs} hub, {districts} districts)")
    return 0
