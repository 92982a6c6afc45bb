"""Inventory: the real Udon Thani files, every bad-input case, and the database sync.

Fixtures live in tests/hub/data/: ``inventory/`` is a small valid inventory
(a hall and two districts); each ``inventory-<case>/`` holds only the file(s)
that differ from it, laid over a copy in a temp dir.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

import hub.inventory.sync as inventory_sync
from hub.db import create_db_engine, migrate
from hub.inventory.loader import check_main, load_inventory
from hub.inventory.model import InventoryError, InventoryIssue, format_issues
from hub.inventory.sync import sync_inventory
from hub.models import Link, Site

REPO = Path(__file__).resolve().parents[3]
REAL = REPO / "inventory"
DATA = Path(__file__).resolve().parent / "data"

DISTRICTS = [
    ("เมืองอุดรธานี", "Mueang Udon Thani"),
    ("กุดจับ", "Kut Chap"),
    ("หนองวัวซอ", "Nong Wua So"),
    ("กุมภวาปี", "Kumphawapi"),
    ("โนนสะอาด", "Non Sa-at"),
    ("หนองหาน", "Nong Han"),
    ("ทุ่งฝน", "Thung Fon"),
    ("ไชยวาน", "Chai Wan"),
    ("ศรีธาตุ", "Si That"),
    ("วังสามหมอ", "Wang Sam Mo"),
    ("บ้านดุง", "Ban Dung"),
    ("บ้านผือ", "Ban Phue"),
    ("น้ำโสม", "Nam Som"),
    ("เพ็ญ", "Phen"),
    ("สร้างคอม", "Sang Khom"),
    ("หนองแสง", "Nong Saeng"),
    ("นายูง", "Na Yung"),
    ("พิบูลย์รักษ์", "Phibun Rak"),
    ("กู่แก้ว", "Ku Kaeo"),
    ("ประจักษ์ศิลปาคม", "Prachak Sinlapakhom"),
]


def variant(tmp_path: Path, case: str | None = None) -> Path:
    """A copy of the valid test inventory with the files of ``inventory-<case>`` laid over it."""
    target = tmp_path / f"inventory-{case or 'ok'}"
    shutil.copytree(DATA / "inventory", target)
    if case is not None:
        overlay = DATA / f"inventory-{case}"
        assert overlay.is_dir(), overlay
        for file in overlay.iterdir():
            shutil.copy(file, target / file.name)
    return target


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``text``."""
    hits = [
        n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line
    ]
    return hits[occurrence - 1]


def issues_of(path: Path) -> list[InventoryIssue]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.issues, "InventoryError without issues"
    return info.value.issues


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = create_db_engine("sqlite:///" + str(tmp_path / "inventory.db"))
    migrate(eng)
    yield eng
    eng.dispose()


def counts(engine: sa.Engine) -> tuple[int, int]:
    with Session(engine) as session:
        sites = session.exec(select(func.count()).select_from(Site)).one()
        links = session.exec(select(func.count()).select_from(Link)).one()
    return sites, links


def site_row(engine: sa.Engine, code: str) -> Site:
    with Session(engine) as session:
        return session.exec(select(Site).where(Site.code == code)).one()


def link_row(engine: sa.Engine, code: str) -> Link:
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.code == code)).one()
        return session.exec(select(Link).where(Link.site_id == site.id)).one()


# --- the real inventory ----------------------------------------------------------------------


def test_real_inventory_has_the_hall_and_twenty_districts_in_order() -> None:
    inv = load_inventory(REAL)
    assert [s.code for s in inv.sites] == [f"UDN{n:02d}" for n in range(21)]
    assert inv.hub.code == "UDN00"
    assert inv.hub.name_th == "ศาลากลางจังหวัดอุดรธานี"
    assert inv.hub.name_en == "Udon Thani Provincial Hall"
    assert inv.hub.contact_phone
    assert [(s.name_th, s.name_en) for s in inv.districts] == DISTRICTS
    assert all(s.kind == "district" for s in inv.districts)


def test_real_inventory_links_carry_the_contract_terms() -> None:
    inv = load_inventory(REAL)
    for site in inv.districts:
        link = site.link
        assert link.provider == "NT (National Telecom)"
        assert (link.plan_down_mbps, link.plan_up_mbps) == (200, 80)
        assert link.monthly_fee_thb == Decimal("1250.00")
        assert str(link.monthly_fee_thb) == "1250.00"  # exact, never a float
        assert link.vat_rate == Decimal("0.07")
        assert link.billing_start == date(2018, 4, 1)
        assert link.billed_to == "ที่ทำการปกครองอำเภอ"
        assert link.snmp.version == "2c"
        assert link.snmp.community_env == "SALAKLANG_SNMP_COMMUNITY"
        assert link.snmp.port == 161
        assert link.circuit_id
    # The hall's router speaks SNMPv3 (group snmp_v3); its keys come from the environment.
    snmp = inv.hub.link.snmp
    assert (snmp.version, snmp.community_env) == ("3", "")
    assert snmp.auth_key_env == "SALAKLANG_SNMP_AUTH_KEY"
    assert snmp.priv_key_env == "SALAKLANG_SNMP_PRIV_KEY"


def test_real_inventory_contacts_are_complete_and_distinct() -> None:
    inv = load_inventory(REAL)
    for site in inv.districts:
        assert site.contact_name == "ปลัดอำเภอ (ฝ่ายความมั่นคง)"
        assert site.contact_phone and site.contact_phone.startswith("042-")
        assert site.contact_email and str(site.contact_email).endswith(".example")
        assert site.room.startswith("ห้องประชุมที่ว่าการอำเภอ")
    for attr in ("contact_phone", "contact_email"):
        values = [getattr(s, attr) for s in inv.sites]
        assert len(set(values)) == len(values), attr
    hosts = [s.link.snmp.host for s in inv.sites]
    assert len(set(hosts)) == len(hosts)


def test_real_inventory_distances_are_plausible() -> None:
    inv = load_inventory(REAL)
    by_en = {s.name_en: s for s in inv.districts}
    assert by_en["Na Yung"].distance_km is not None and by_en["Na Yung"].distance_km > 130
    assert (
        by_en["Mueang Udon Thani"].distance_km is not None
        and by_en["Mueang Udon Thani"].distance_km <= 5
    )
    assert max(inv.districts, key=lambda s: s.distance_km or 0).name_en == "Na Yung"
    hall = inv.hub
    assert hall.latitude is not None and hall.longitude is not None
    for site in inv.districts:
        assert (
            site.latitude is not None
            and site.longitude is not None
            and site.distance_km is not None
        )
        # Inside Udon Thani province.
        assert 16.7 < site.latitude < 18.2 and 101.9 < site.longitude < 103.8, site.code
        # A road is never shorter than the straight line, and rarely twice as long.
        crow = _haversine_km(hall.latitude, hall.longitude, site.latitude, site.longitude)
        assert site.distance_km >= crow, (site.code, crow)
        if crow > 10:
            assert site.distance_km <= 2 * crow, (site.code, crow)


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_real_inventory_files_hold_no_secrets() -> None:
    for file in REAL.glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        for word in ("community:", "password", "auth_key:", "priv_key:"):
            assert word not in text, (file.name, word)


# --- inheritance -----------------------------------------------------------------------------


def test_site_inherits_from_groups_in_order_then_defaults(tmp_path: Path) -> None:
    inv = load_inventory(variant(tmp_path))
    one, two = inv.site("TST01"), inv.site("TST02")
    # defaults only
    assert (one.link.plan_down_mbps, one.link.plan_up_mbps) == (200, 80)
    assert one.link.monthly_fee_thb == Decimal("1250.00")
    # the first listed group wins (fibre_500 over fibre_1g); what it leaves unset comes from the next
    assert (two.link.plan_down_mbps, two.link.plan_up_mbps) == (500, 1000)
    # the site wins over everything, and nested mappings merge key by key
    assert two.link.monthly_fee_thb == Decimal("999.50")
    assert (two.link.snmp.host, two.link.snmp.port, two.link.snmp.if_index) == (
        "router-02.example.net",
        1161,
        1,
    )
    assert two.link.snmp.version == "3"  # `version: 3` in YAML is an int
    assert two.link.billing_start == date(2018, 4, 1)
    # group attributes
    assert two.contact_name == "ปลัดอำเภอ (ฝ่ายความมั่นคง)"
    assert inv.hub.code == "TST00" and inv.hub.link.billed_to == "สำนักงานจังหวัด"
    assert one.groups == ("district",)
    assert set(inv.groups) == {"district", "hub", "snmp_v3", "fibre_500", "fibre_1g"}


# --- bad input: every problem with file, line and field --------------------------------------


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = variant(tmp_path, "bad-yaml")
    [issue] = issues_of(path)
    sites = path / "sites.yaml"
    assert issue.file == str(sites)
    broken = line_of(sites, 'name_en "District One"')
    assert issue.line in (broken, broken + 1)
    assert f"line {broken}" in issue.message or issue.line == broken
    assert "invalid YAML" in issue.message


def test_duplicate_site_codes_name_both_lines(tmp_path: Path) -> None:
    path = variant(tmp_path, "duplicate")
    issues = issues_of(path)
    sites = path / "sites.yaml"
    first, second = line_of(sites, "TST01:", 1), line_of(sites, "TST01:", 2)
    assert [(i.file, i.line, i.field) for i in issues] == [
        (str(sites), first, "TST01"),
        (str(sites), second, "TST01"),
    ]
    assert all("duplicate site code" in i.message for i in issues)
    assert f"line {second}" in issues[0].message and f"line {first}" in issues[1].message


def test_duplicate_key_inside_a_site(tmp_path: Path) -> None:
    path = variant(tmp_path, "duplicate-key")
    [issue] = issues_of(path)
    sites = path / "sites.yaml"
    assert (issue.line, issue.key_path, issue.field) == (
        line_of(sites, "042-111-112"),
        "TST01",
        "contact_phone",
    )
    assert f"first at line {line_of(sites, '042-111-111')}" in issue.message


def test_unknown_field(tmp_path: Path) -> None:
    path = variant(tmp_path, "unknown-field")
    [issue] = issues_of(path)
    assert (issue.file, issue.line) == (
        str(path / "sites.yaml"),
        line_of(path / "sites.yaml", "fax:"),
    )
    assert (issue.key_path, issue.field) == ("TST01", "fax")
    assert "unknown field" in issue.message


def test_unknown_field_in_a_group_suggests_the_right_name(tmp_path: Path) -> None:
    path = variant(tmp_path, "group-error")
    [issue] = issues_of(path)
    groups = path / "groups.yaml"
    assert (issue.file, issue.line) == (str(groups), line_of(groups, "plan_down_mpbs"))
    assert (issue.key_path, issue.field) == ("fibre_500.link", "plan_down_mpbs")
    assert "did you mean plan_down_mbps?" in issue.message


def test_missing_fee_is_reported_for_each_site_that_inherits_it(tmp_path: Path) -> None:
    path = variant(tmp_path, "missing-fee")
    issues = issues_of(path)
    sites = path / "sites.yaml"
    # TST02 sets its own fee, so only the other two lack one.
    assert [(i.key_path, i.field) for i in issues] == [
        ("TST00.link", "monthly_fee_thb"),
        ("TST01.link", "monthly_fee_thb"),
    ]
    assert [i.line for i in issues] == [line_of(sites, "  link:", 1), line_of(sites, "  link:", 2)]
    assert all(i.file == str(sites) and "required" in i.message for i in issues)


def test_wrong_type(tmp_path: Path) -> None:
    path = variant(tmp_path, "wrong-type")
    [issue] = issues_of(path)
    assert issue.line == line_of(path / "sites.yaml", "plan_down_mbps: fast")
    assert (issue.key_path, issue.field) == ("TST01.link", "plan_down_mbps")
    assert "integer" in issue.message


def test_unknown_group(tmp_path: Path) -> None:
    path = variant(tmp_path, "unknown-group")
    [issue] = issues_of(path)
    assert issue.line == line_of(path / "sites.yaml", "snmpv3")
    assert (issue.key_path, issue.field) == ("TST02", "groups")
    assert "'snmpv3'" in issue.message and "snmp_v3" in issue.message


def test_secret_literal_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "secret")
    [issue] = issues_of(path)
    assert issue.line == line_of(path / "sites.yaml", "community: public")
    assert (issue.key_path, issue.field) == ("TST01.link.snmp", "community")
    assert "secret" in issue.message and "community_env" in issue.message


def test_secret_written_where_the_variable_name_goes_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "secret-in-env")
    [issue] = issues_of(path)
    defaults = path / "defaults.yaml"
    assert (issue.file, issue.line) == (str(defaults), line_of(defaults, "community_env"))
    assert (issue.key_path, issue.field) == ("link.snmp", "community_env")
    assert "environment variable" in issue.message


def test_secret_in_a_group_is_refused_but_a_site_code_is_not_mistaken_for_one(
    tmp_path: Path,
) -> None:
    path = variant(tmp_path)
    groups = path / "groups.yaml"
    text = groups.read_text(encoding="utf-8")
    text = text.replace(
        "      user: salaklang\n", "      user: salaklang\n      auth_key: hunter2hunter2\n"
    )
    groups.write_text(text, encoding="utf-8")
    sites = path / "sites.yaml"
    sites.write_text(sites.read_text(encoding="utf-8").replace("TST01:", "KEY:"), encoding="utf-8")
    [issue] = issues_of(path)
    assert (issue.file, issue.line) == (str(groups), line_of(groups, "auth_key: hunter2"))
    assert (issue.key_path, issue.field) == ("snmp_v3.link.snmp", "auth_key")
    assert "auth_key_env" in issue.message


def test_snmp_v3_needs_its_credentials(tmp_path: Path) -> None:
    path = variant(tmp_path)
    groups = path / "groups.yaml"
    text = groups.read_text(encoding="utf-8").replace(
        "      auth_key_env: SALAKLANG_SNMP_AUTH_KEY\n", ""
    )
    groups.write_text(text, encoding="utf-8")
    [issue] = issues_of(path)
    sites = path / "sites.yaml"
    assert (issue.file, issue.line) == (str(sites), line_of(sites, "    snmp:", 3))
    assert (issue.key_path, issue.field) == ("TST02.link", "snmp")
    assert issue.message == "SNMP v3 needs auth_key_env"


def test_invalid_email(tmp_path: Path) -> None:
    path = variant(tmp_path, "bad-email")
    [issue] = issues_of(path)
    assert issue.line == line_of(path / "sites.yaml", "tst01.example.org")
    assert (issue.key_path, issue.field) == ("TST01", "contact_email")
    assert "email" in issue.message


def test_exactly_one_hub(tmp_path: Path) -> None:
    path = variant(tmp_path, "two-hubs")
    issues = issues_of(path)
    sites = path / "sites.yaml"
    assert [(i.line, i.key_path, i.field) for i in issues] == [
        (line_of(sites, "TST00:"), "TST00", "kind"),
        (line_of(sites, "TST01:"), "TST01", "kind"),
    ]


def test_no_hub(tmp_path: Path) -> None:
    path = variant(tmp_path)
    text = (
        (path / "sites.yaml")
        .read_text(encoding="utf-8")
        .replace("groups: [hub]", "groups: [district]")
    )
    (path / "sites.yaml").write_text(text, encoding="utf-8")
    [issue] = issues_of(path)
    assert (issue.field, issue.line) == ("kind", 1)
    assert "hub" in issue.message


def test_bad_site_code(tmp_path: Path) -> None:
    path = variant(tmp_path, "bad-code")
    [issue] = issues_of(path)
    assert (issue.line, issue.key_path, issue.field) == (
        line_of(path / "sites.yaml", "tst-01:"),
        "tst-01",
        "code",
    )


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    path = variant(tmp_path, "many")
    issues = issues_of(path)
    found = {(Path(i.file).name, i.key_path, i.field) for i in issues}
    assert found == {
        ("defaults.yaml", "link.snmp", "port"),
        ("groups.yaml", "district", "kind"),
        ("sites.yaml", "TST01", "contact_email"),
        ("sites.yaml", "TST02", "name_en"),
    }
    assert len(issues) == 4  # the bad default port is inherited by three sites, reported once
    assert [Path(i.file).name for i in issues] == [
        "defaults.yaml",
        "groups.yaml",
        "sites.yaml",
        "sites.yaml",
    ]


def test_missing_directory_and_missing_sites_file(tmp_path: Path) -> None:
    [issue] = issues_of(tmp_path / "nowhere")
    assert "not a directory" in issue.message
    (tmp_path / "empty").mkdir()
    [issue] = issues_of(tmp_path / "empty")
    assert (issue.file, issue.message) == (str(tmp_path / "empty" / "sites.yaml"), "file not found")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = variant(tmp_path)
    (path / "groups.yaml").write_text("- district\n- hub\n", encoding="utf-8")
    [issue] = issues_of(path)
    assert (issue.file, issue.line) == (str(path / "groups.yaml"), 1)
    assert "mapping" in issue.message


def test_format_issues_one_line_each() -> None:
    issues = [
        InventoryIssue(
            "inventory/sites.yaml", 12, "UDN05.link", "monthly_fee_thb", "required field missing"
        ),
        InventoryIssue("inventory/sites.yaml", 3, "", "", "invalid YAML: oops"),
    ]
    assert format_issues(issues).splitlines() == [
        "inventory/sites.yaml:12: UDN05.link: monthly_fee_thb: required field missing",
        "inventory/sites.yaml:3: invalid YAML: oops",
    ]


# --- database sync ---------------------------------------------------------------------------


def test_sync_creates_then_is_idempotent(engine: sa.Engine) -> None:
    inv = load_inventory(REAL)
    first = sync_inventory(engine, inv)
    assert (first.created, first.updated, first.deactivated, first.unchanged) == (21, 0, 0, 0)
    assert counts(engine) == (21, 21)
    second = sync_inventory(engine, load_inventory(REAL))
    assert (second.created, second.updated, second.deactivated, second.unchanged) == (0, 0, 0, 21)
    assert str(second) == "created 0, updated 0, deactivated 0, unchanged 21"
    assert counts(engine) == (21, 21)
    na_yung = site_row(engine, "UDN17")
    assert (na_yung.name_th, na_yung.name_en, na_yung.kind, na_yung.active) == (
        "นายูง",
        "Na Yung",
        "district",
        True,
    )
    link = link_row(engine, "UDN17")
    assert link.monthly_fee_thb == Decimal("1250.00") and link.vat_rate == Decimal("0.07")
    assert link.billing_start == date(2018, 4, 1)
    assert link.snmp_community_env == "SALAKLANG_SNMP_COMMUNITY"
    assert link_row(engine, "UDN00").snmp_version == "3"


def test_sync_updates_a_changed_phone_and_fee(engine: sa.Engine, tmp_path: Path) -> None:
    path = variant(tmp_path)
    sync_inventory(engine, load_inventory(path))
    sites = path / "sites.yaml"
    text = sites.read_text(encoding="utf-8").replace("042-111-111", "042-111-999")
    text = text.replace('monthly_fee_thb: "999.50"', 'monthly_fee_thb: "1100.00"')
    sites.write_text(text, encoding="utf-8")
    result = sync_inventory(engine, load_inventory(path))
    assert (result.created, result.updated, result.deactivated, result.unchanged) == (0, 2, 0, 1)
    assert result.changed_codes == ("TST01", "TST02")
    assert site_row(engine, "TST01").contact_phone == "042-111-999"
    assert link_row(engine, "TST02").monthly_fee_thb == Decimal("1100.00")


def test_sync_deactivates_a_removed_site_and_reactivates_it(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = variant(tmp_path)
    sync_inventory(engine, load_inventory(path))
    sites = path / "sites.yaml"
    original = sites.read_text(encoding="utf-8")
    head = original.partition("TST02:")[0]
    sites.write_text(head, encoding="utf-8")
    result = sync_inventory(engine, load_inventory(path))
    assert (result.created, result.updated, result.deactivated, result.unchanged) == (0, 0, 1, 2)
    # Never deleted: history refers to it.
    assert counts(engine) == (3, 3)
    assert site_row(engine, "TST02").active is False
    again = sync_inventory(engine, load_inventory(path))
    assert (again.deactivated, again.updated) == (0, 0)
    sites.write_text(original, encoding="utf-8")
    back = sync_inventory(engine, load_inventory(path))
    assert (back.created, back.updated) == (0, 1)
    assert site_row(engine, "TST02").active is True


@pytest.mark.parametrize(
    "case",
    [
        "bad-yaml",
        "duplicate",
        "duplicate-key",
        "unknown-field",
        "missing-fee",
        "wrong-type",
        "unknown-group",
        "secret",
        "bad-email",
        "two-hubs",
    ],
)
def test_bad_inventory_syncs_nothing(engine: sa.Engine, tmp_path: Path, case: str) -> None:
    sync_inventory(engine, load_inventory(variant(tmp_path)))
    before = (
        counts(engine),
        site_row(engine, "TST01").model_dump(),
        link_row(engine, "TST01").model_dump(),
    )
    with pytest.raises(InventoryError):
        sync_inventory(engine, load_inventory(variant(tmp_path, case)))
    after = (
        counts(engine),
        site_row(engine, "TST01").model_dump(),
        link_row(engine, "TST01").model_dump(),
    )
    assert after == before


def test_sync_is_all_or_nothing(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = load_inventory(REAL)
    real_link_values = inventory_sync._link_values
    calls = 0

    def failing(link: inventory_sync.LinkSpec) -> dict[str, object]:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("disk full")
        return real_link_values(link)

    monkeypatch.setattr(inventory_sync, "_link_values", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        sync_inventory(engine, inv)
    assert calls == 5
    assert counts(engine) == (0, 0)


# --- command line ----------------------------------------------------------------------------


def test_check_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main(str(REAL)) == 0
    assert capsys.readouterr().out.strip() == "OK: 21 sites (1 hub, 20 districts)"
    bad = variant(tmp_path, "many")
    assert check_main(str(bad)) == 1
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{bad / 'defaults.yaml'}:{line_of(bad / 'defaults.yaml', 'port: 99999')}: link.snmp: port: "
        in err[0]
    )
    assert err[-1] == f"4 problem(s) in {bad}"


def _hub_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_cli_inventory_check(tmp_path: Path) -> None:
    ok = _hub_cli("inventory", "check", "inventory/")
    assert ok.returncode == 0, ok.stderr
    assert "OK: 21 sites (1 hub, 20 districts)" in ok.stdout
    bad_path = variant(tmp_path, "duplicate")
    bad = _hub_cli("inventory", "check", str(bad_path))
    assert bad.returncode == 1
    assert (
        f"{bad_path / 'sites.yaml'}:{line_of(bad_path / 'sites.yaml', 'TST01:', 2)}: TST01:"
        in bad.stderr
    )


@pytest.mark.slow
def test_cli_inventory_sync_refuses_a_bad_inventory(tmp_path: Path) -> None:
    env = {"SALAKLANG_DATA_DIR": str(tmp_path / "var"), "SALAKLANG_DATABASE_URL": ""}
    good = _hub_cli("inventory", "sync", str(variant(tmp_path)), env=env)
    assert good.returncode == 0, good.stderr
    bad = _hub_cli("inventory", "sync", str(variant(tmp_path, "missing-fee")), env=env)
    assert bad.returncode == 1
    assert "monthly_fee_thb" in bad.stderr
    engine = create_db_engine("sqlite:///" + str(tmp_path / "var" / "salaklang.db"))
    try:
        assert counts(engine) == (3, 3)
        assert link_row(engine, "TST01").monthly_fee_thb == Decimal("1250.00")
    finally:
        engine.dispose()
