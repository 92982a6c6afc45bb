"""Writing the inventory into the database: sites and links upserted by code (hub.models tables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from hub.db import session_scope
from hub.inventory.model import Inventory, LinkSpec, SiteSpec
from hub.models import Link, Site


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
