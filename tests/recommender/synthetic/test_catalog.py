from recommender.domain import ITEM_COLUMNS, CatalogItem, ItemKind
from recommender.synthetic.catalog import OFFERS, THEMES, catalog_frame


def test_catalog_has_60_to_150_offers_of_every_kind():
    frame = catalog_frame()
    assert 60 <= len(frame) <= 150
    assert set(frame["kind"]) == {k.value for k in ItemKind}
    assert frame["item_id"].is_unique


def test_columns_are_exactly_the_domain_item_columns():
    assert tuple(catalog_frame().columns) == ITEM_COLUMNS


def test_every_row_validates_as_catalog_item():
    items = [CatalogItem(**row) for row in catalog_frame().to_dict("records")]
    assert all(item.price >= 0 and 0 <= item.margin <= 1 for item in items)


def test_family_only_for_tariffs_and_lists_are_lists():
    frame = catalog_frame()
    tariffs = frame["kind"] == "tariff"
    assert frame.loc[tariffs, "family"].notna().all()
    assert frame.loc[~tariffs, "family"].isna().all()
    assert all(isinstance(v, list) for v in frame["prerequisites"])
    assert all(isinstance(v, list) and v for v in frame["tags"])


def test_prerequisites_are_known_and_typed():
    kinds = {o.item_id: o.kind for o in OFFERS}
    for offer in OFFERS:
        for pre in offer.prerequisites:
            assert pre in kinds, f"{offer.item_id} requires unknown {pre}"
            expected = "course" if offer.kind == "course" else "tariff"
            assert kinds[pre] == expected, f"{offer.item_id} requires a {kinds[pre]}"


def test_tiers_of_a_family_share_eligibility_and_rise_in_price():
    families: dict[str, list] = {}
    for offer in OFFERS:
        if offer.family:
            families.setdefault(offer.family, []).append(offer)
    assert len(families) >= 8
    for members in families.values():
        assert len({o.eligibility for o in members}) == 1
        prices = [o.price for o in sorted(members, key=lambda o: o.tier)]
        assert prices == sorted(prices)
        assert any("24x7" in o.item_id for o in OFFERS)


def test_hidden_attributes_are_consistent():
    assert {o.theme for o in OFFERS} == set(THEMES)
    assert all(o.base > 0 for o in OFFERS)
