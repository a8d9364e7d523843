"""`fab flyer` against the stand-in 3.0.5.1 and 4.1.0.4 stores: real SQL, real SFTP, real PNGs."""

from __future__ import annotations

import json
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from invoke.exceptions import Exit
from PIL import Image

from maint.sandbox.fixture_data import product_image
from maint.tasks.flyer import flyer


def _flyer(ctx, store, **kwargs):
    kwargs.setdefault("json", True)
    return flyer(ctx, store, **kwargs)


@pytest.mark.parametrize("store", ["s30", "s4"])
def test_flyer_shows_the_prices_a_customer_sees_with_tax_special_and_quantity_tiers(
    store, task_context, store_sql, capsys
) -> None:
    # product 2 has a 15 % special, product 1 quantity tiers (10 → -10 %, 20 → -20 %), product 3 neither
    ctx = task_context()
    result = _flyer(ctx, store, products="1,SKU-00002,M00003", headline="Winter deals", text="Three for you")
    prices = {p["product_id"]: p for p in result["products"]}
    base = {pid: float(v) for pid, v in store_sql(store, "SELECT product_id, price FROM {p}product WHERE product_id IN (1,2,3)")}

    def shown(ex_tax: float) -> str:  # 20 % VAT + 2.00 eco tax, USD, as the shop shows it
        return f"${ex_tax * 1.2 + 2:,.2f}"

    assert prices[3]["price"] == shown(base[3]) and prices[3]["special"] is None and prices[3]["tiers"] == []
    special = float(store_sql(store, "SELECT price FROM {p}product_discount WHERE product_id = 2 AND special = 1")[0][0]
                    if store == "s4" else store_sql(store, "SELECT price FROM {p}product_special WHERE product_id = 2")[0][0])
    assert prices[2]["special"] == shown(special) and prices[2]["price"] == shown(base[2])
    tiers = store_sql(store, "SELECT quantity, price FROM {p}product_discount WHERE product_id = 1 "
                             "AND customer_group_id = 1 AND quantity > 1 ORDER BY quantity")
    assert prices[1]["tiers"] == [[q, shown(float(p))] for q, p in tiers] or prices[1]["tiers"] == [
        (q, shown(float(p))) for q, p in tiers
    ]
    folder = Path(result["folder"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name for p in folder.iterdir()} == {"flyer.png", "flyer-square.png", "body.html", "flyer.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    with Image.open(folder / "flyer.png") as email_png, Image.open(folder / "flyer-square.png") as square:
        assert email_png.width == 600 and email_png.height > 400
        assert square.size == (1080, 1080)
    body = (folder / "body.html").read_text()
    assert 'src="flyer.png"' in body and "product_id=2" in body and "{{unsubscribe}}" in body
    assert prices[2]["name"] in body


def test_specials_flag_picks_every_current_special_and_a_second_flyer_needs_over_budget(task_context) -> None:
    ctx = task_context()
    first = _flyer(ctx, "s30", specials=True, headline="Specials", skip_invalid=True)
    ids = [p["product_id"] for p in first["products"]]
    assert ids and all(pid % 5 == 2 for pid in ids)  # the fixture's specials: products 2, 7, 12, …
    with pytest.raises(Exit) as refused:
        _flyer(ctx, "s30", products="3", headline="Again")
    assert refused.value.code == 62
    again = _flyer(ctx, "s30", products="3", headline="Again", over_budget=True)
    assert again["id"] != first["id"]


def test_a_disabled_product_one_without_image_and_a_special_ending_before_the_send_date_are_refused_by_name(
    mail_sandbox, task_context, store_sql, capsys
) -> None:
    ctx = task_context()
    send = date.today() + timedelta(days=7)
    end = (date.today() + timedelta(days=3)).isoformat()
    store_sql("s4", "UPDATE {p}product SET status = 0 WHERE product_id = 4")
    store_sql("s4", "UPDATE {p}product SET image = '' WHERE product_id = 33")
    damaged = mail_sandbox.store("s4").root / "image" / product_image(20)
    kept_bytes = damaged.read_bytes()
    damaged.write_bytes(b"\xff\xd8 not really a picture")
    store_sql("s4", "UPDATE {p}product_discount SET date_end = %s WHERE product_id = 7 AND special = 1", (end,))
    try:
        with pytest.raises(Exit) as refused:
            _flyer(ctx, "s4", products="4,7,33,20,5", send_date=send.isoformat(), headline="x")
        assert refused.value.code == 50
        captured = capsys.readouterr()
        err = captured.out + captured.err  # --json: the problems as JSON on stdout, the one-line error on stderr
        assert "disabled" in err and "has no image" in err and "before the send date" in err
        assert "not a readable image" in err  # product 20's file is damaged
        kept = _flyer(ctx, "s4", products="4,7,33,20,5", send_date=send.isoformat(), headline="x", skip_invalid=True)
        assert [p["product_id"] for p in kept["products"]] == [5]
        assert {s["row"] for s in kept["skipped"]} == {4, 7, 20, 33}
    finally:
        store_sql("s4", "UPDATE {p}product SET status = 1 WHERE product_id = 4")
        store_sql("s4", "UPDATE {p}product SET image = %s WHERE product_id = 33", (product_image(33),))
        damaged.write_bytes(kept_bytes)
        store_sql("s4", "UPDATE {p}product_discount SET date_end = '0000-00-00' WHERE product_id = 7 AND special = 1")


def test_dry_run_writes_no_flyer(task_context, tmp_path) -> None:
    ctx = task_context()
    result = _flyer(ctx, "s30", products="1,2", dry_run=True, headline="x")
    assert result["folder"] is None and len(result["products"]) == 2
    assert not (tmp_path / "state" / "clients").exists() or not list((tmp_path / "state" / "clients").rglob("flyer.json"))


def test_twelve_products_render_in_under_two_seconds(task_context) -> None:
    result = _flyer(task_context(), "s4", products=",".join(str(i) for i in range(1, 13)), headline="Twelve")
    assert len(result["products"]) == 12
    assert result["render_seconds"] < 2.0
    meta = json.loads((Path(result["folder"]) / "flyer.json").read_text())
    assert meta["id"] == result["id"]


def test_products_from_a_sheet_and_words_from_a_yaml_file(task_context, tmp_path) -> None:
    sheet = tmp_path / "picks.csv"
    sheet.write_text("Artikelnummer;Bemerkung\nSKU-00005;top\nM00006;\n8;neu\n", encoding="utf-8")
    words = tmp_path / "flyer.yaml"
    words.write_text("headline: Frühjahrsputz\ntext: Nur diese Woche\nfooter: shop.example\n", encoding="utf-8")
    result = _flyer(task_context(), "s30", sheet=str(sheet), content=str(words))
    assert [p["product_id"] for p in result["products"]] == [5, 6, 8]
    assert result["headline"] == "Frühjahrsputz" and result["text"] == "Nur diese Woche"
    assert "Frühjahrsputz" in (Path(result["folder"]) / "body.html").read_text()
