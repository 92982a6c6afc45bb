"""Effective-dated fees and VAT rates in the inventory (issue 13): the check validates the dates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.inventory.loader import load_inventory
from hub.inventory.model import InventoryError
from hub.settings import REPO_ROOT
from tests.conftest import python_module


def inventory_with(tmp_path: Path, link_lines: str) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(REPO_ROOT / "inventory", inv)
    sites = inv / "sites.yaml"
    text = sites.read_text(encoding="utf-8")
    marker = '    circuit_id: "NT-UDN-FBB-180107"\n'
    sites.write_text(text.replace(marker, marker + link_lines), encoding="utf-8")
    return inv


def test_changes_load_in_order(tmp_path: Path) -> None:
    inv = inventory_with(tmp_path, "    fee_changes:\n      - effective: 2018-05-16\n        monthly_fee_thb: \"1400.00\"\n"
                                   "    vat_changes:\n      - effective: 2019-10-01\n        vat_rate: \"0.10\"\n")
    link = load_inventory(inv).site("UDN07").link
    assert [str(c.monthly_fee_thb) for c in link.fee_changes] == ["1400.00"]
    assert [str(c.vat_rate) for c in link.vat_changes] == ["0.10"]


@pytest.mark.parametrize(("lines", "words"), [
    ("    fee_changes:\n      - effective: 2018-03-01\n        monthly_fee_thb: \"1400.00\"\n", "after billing_start"),
    ("    fee_changes:\n      - effective: 2018-06-01\n        monthly_fee_thb: \"1400.00\"\n"
     "      - effective: 2018-05-01\n        monthly_fee_thb: \"1500.00\"\n", "must increase"),
    ("    vat_changes:\n      - effective: 2018-06-01\n        vat_rate: \"1.5\"\n", "less than or equal to 1"),
    ("    fee_changes:\n      - effective: 2018-06-01\n        monthly_fee: \"1400.00\"\n", "monthly_fee_thb: required field missing"),
])
def test_bad_dates_and_values_are_named(tmp_path: Path, lines: str, words: str) -> None:
    inv = inventory_with(tmp_path, lines)
    with pytest.raises(InventoryError) as err:
        load_inventory(inv)
    text = "\n".join(str(i) for i in err.value.issues)
    assert words in text and "sites.yaml" in text, text
    out = python_module("hub", "inventory", "check", str(inv))
    assert out.returncode == 1 and words in out.stderr
