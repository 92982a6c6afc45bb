"""The inventory's typed models, pure: a site and its link after inheritance, the layers, the issues.

hub.inventory.loader reads the YAML into these (with file/line/field issues);
hub.inventory.sync writes them into the database.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

SITE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{6,18}[0-9](?: (?:ext\.?|ต่อ) ?[0-9]{1,6})?$")
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,254}$")
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
    """The site's leased line and what it costs (fee excluding VAT)."""

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
