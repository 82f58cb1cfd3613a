"""``recsys data import`` / ``import-movielens``: reports, exit code 2 on bad input, atomicity."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from feature_store.offline import OfflineStore
from tests.recommender.test_movielens import fake_ml100k
from training.cli.main import app

ITEMS = "item_id,name,kind,price,prerequisites\ni1,Basic,tariff,10,\ni2,Linux,course,20,i1\n"
CLIENTS = "client_id,industry,segment\nc1,it,B2B\nc2,energy,B2G\n"
INTERACTIONS = (
    "client_id,item_id,event_type,timestamp\n"
    "c1,i1,purchase,2024-01-01\n"
    "c2,i2,enrolment,2024-01-02\n"
    "c2,i2,enrolment,2024-01-02\n"
    "c9,i1,view,2024-01-03\n"
)
runner = CliRunner(env={"COLUMNS": "200"})


def files(tmp_path: Path, **texts: str) -> list[str]:
    args: list[str] = []
    for table, text in texts.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(text)
        args += [f"--{table}", str(path)]
    return args


def run(tmp_path: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data")])


def test_import_reports_counts_and_lands_whole(tmp_path: Path) -> None:
    args = files(tmp_path, items=ITEMS, clients=CLIENTS, interactions=INTERACTIONS)
    result = run(tmp_path, "data", "import", *args, "--on-unknown", "skip")
    assert result.exit_code == 0, result.output
    assert "interactions" in result.output
    assert "unknown client_id" in result.output
    assert "duplicate interactions" in result.output
    store = OfflineStore(tmp_path / "data")
    assert len(store.read_table("interactions")) == 2
    assert store.read_table("items")["prerequisites"].tolist() == [[], ["i1"]]


def test_unknown_ids_exit_2_and_write_nothing(tmp_path: Path) -> None:
    args = files(tmp_path, items=ITEMS, clients=CLIENTS, interactions=INTERACTIONS)
    result = run(tmp_path, "data", "import", *args)
    assert result.exit_code == 2
    assert "interactions.csv row 4 (line 5), column 'client_id': unknown client 'c9'" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert OfflineStore(tmp_path / "data").current_snapshot() is None


def test_bad_value_exit_2_keeps_previous_snapshot(tmp_path: Path) -> None:
    good = files(tmp_path, items=ITEMS, clients=CLIENTS)
    assert run(tmp_path, "data", "import", *good).exit_code == 0
    store = OfflineStore(tmp_path / "data")
    before = store.current_snapshot()
    bad = files(tmp_path, clients=CLIENTS.replace("B2G", "gov"))
    result = run(tmp_path, "data", "import", *bad)
    assert result.exit_code == 2
    assert "clients.csv row 2 (line 3), column 'segment': 'gov' is not one of" in result.output
    assert "nothing was written" in result.output
    assert store.current_snapshot() == before


def test_subset_import_keeps_other_tables_and_checks_against_them(tmp_path: Path) -> None:
    assert (
        run(tmp_path, "data", "import", *files(tmp_path, items=ITEMS, clients=CLIENTS)).exit_code
        == 0
    )
    ok = INTERACTIONS.replace("c9", "c1")
    result = run(tmp_path, "data", "import", *files(tmp_path, interactions=ok))
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    assert store.tables() == ("items", "clients", "interactions")
    assert len(store.read_table("interactions")) == 3
    unknown_item = "client_id,item_id,event_type,timestamp\nc1,i7,view,2024-01-01\n"
    result = run(tmp_path, "data", "import", *files(tmp_path, interactions=unknown_item))
    assert result.exit_code == 2
    assert "unknown item 'i7'" in result.output


def test_missing_column_and_no_files(tmp_path: Path) -> None:
    result = run(tmp_path, "data", "import", *files(tmp_path, clients="industry,segment\nit,B2B\n"))
    assert result.exit_code == 2
    assert "clients.csv: missing required column 'client_id'" in result.output
    assert run(tmp_path, "data", "import").exit_code == 2


#: The fake's four ratings, the last one at 1998-04-22 instead of epoch 0.
ML_RATINGS = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t891717742\n3\t3\t1\t893286638\n"


def test_import_movielens(tmp_path: Path) -> None:
    folder = fake_ml100k(tmp_path / "ml", data=ML_RATINGS)
    result = run(tmp_path, "data", "import-movielens", str(folder))
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    assert len(store.read_table("interactions")) == 4
    assert store.read_table("items")["genres"].tolist()[1] == ["Action", "Comedy"]
    result = run(tmp_path, "data", "import-movielens", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "folder not found" in result.output


def test_timestamps_out_of_range_exit_2_and_write_nothing(tmp_path: Path) -> None:
    early = INTERACTIONS.replace("2024-01-01", "0001-01-01T00:00:00+14:00")
    late = early.replace("2024-01-03", "2999-01-01")
    args = files(tmp_path, items=ITEMS, clients=CLIENTS, interactions=late)
    result = run(tmp_path, "data", "import", *args, "--on-unknown", "skip")
    assert result.exit_code == 2, result.output
    assert "2 problem(s)" in result.output
    assert (
        "interactions.csv row 1 (line 2), column 'timestamp': '0001-01-01T00:00:00+14:00' "
        "is before 1990-01-01" in result.output
    )
    assert (
        "interactions.csv row 4 (line 5), column 'timestamp': '2999-01-01' "
        "is more than 1 day in the future" in result.output
    )
    assert "Traceback" not in result.output
    assert OfflineStore(tmp_path / "data").current_snapshot() is None


def test_import_movielens_refuses_a_rating_at_epoch_0(tmp_path: Path) -> None:
    result = run(tmp_path, "data", "import-movielens", str(fake_ml100k(tmp_path / "ml")))
    assert result.exit_code == 2
    assert "u.data row 4 (line 4), column 'timestamp': '1970-01-01T00:00:00+00:00' is before" in (
        result.output
    )
    assert OfflineStore(tmp_path / "data").current_snapshot() is None


def test_a_dateless_crm_snapshot_imports_and_evaluates_with_defaults(tmp_path: Path) -> None:
    """A CRM export as many are: owned offers without dates, some clients without an industry.
    It imports (dated at the import, blanks counted) and the default split is the snapshot one."""
    rng = np.random.default_rng(0)
    offers = [f"o{n}" for n in range(8)]
    items = "item_id,name,kind,price\n" + "".join(f"{o},Offer {o},addon,10\n" for o in offers)
    clients, owned = ["client_id,industry"], ["client_id,item_id"]
    for n in range(80):
        clients.append(f"c{n},{'' if n % 4 == 0 else ('bank', 'retail')[n % 2]}")
        picked = rng.choice(offers[n % 2 * 3 :], size=int(rng.integers(1, 5)), replace=False)
        owned += [f"c{n},{o}" for o in picked]
    tables = {"clients": "\n".join(clients) + "\n", "interactions": "\n".join(owned) + "\n"}
    result = run(tmp_path, "data", "import", *files(tmp_path, items=items, **tables))
    assert result.exit_code == 0, result.output
    assert "clients without an industry, kept" in result.output
    assert "20" in result.output.split("clients without an industry")[1].splitlines()[0]
    stamps = OfflineStore(tmp_path / "data").read_table("interactions")["timestamp"]
    assert stamps.nunique() == 1
    out = tmp_path / "report"
    result = run(tmp_path, "evaluate", "--models", "popularity,ease", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "split snapshot" in result.output


def test_excel_workbooks_import_like_csv(tmp_path: Path) -> None:
    from openpyxl import Workbook

    args: list[str] = []
    for table, text in {"items": ITEMS, "clients": CLIENTS, "interactions": INTERACTIONS}.items():
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for line in text.splitlines():
            sheet.append(line.split(","))
        book.save(tmp_path / f"{table}.xlsx")
        args += [f"--{table}", str(tmp_path / f"{table}.xlsx")]
    result = run(tmp_path, "data", "import", *args)
    assert result.exit_code == 2
    assert "interactions.xlsx row 4 (sheet row 5), column 'client_id': unknown client" in (
        result.output
    )
    result = run(tmp_path, "data", "import", *args, "--on-unknown", "skip")
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    assert store.read_table("items")["prerequisites"].tolist() == [[], ["i1"]]
    assert len(store.read_table("interactions")) == 2


def test_a_client_x_offer_table_imports_against_the_stored_catalogue(tmp_path: Path) -> None:
    result = run(tmp_path, "data", "import", *files(tmp_path, items=ITEMS, clients=CLIENTS))
    assert result.exit_code == 0, result.output
    wide = "client_id;i1;i2\nc1;1;0\nc2;;3\nc9;1;0\n"
    result = run(tmp_path, "data", "import", *files(tmp_path, interactions=wide))
    assert result.exit_code == 2
    assert "interactions.csv row 3 (line 4), column 'client_id': unknown client 'c9'" in (
        result.output
    )
    result = run(tmp_path, "data", "import", *files(tmp_path, interactions=wide[:-7]))
    assert result.exit_code == 0, result.output
    owned = OfflineStore(tmp_path / "data").read_table("interactions")
    assert owned[["client_id", "item_id", "value"]].to_numpy().tolist() == [
        ["c1", "i1", 1.0],
        ["c2", "i2", 3.0],
    ]


def test_a_wide_table_may_name_offers_by_their_names(tmp_path: Path) -> None:
    result = run(tmp_path, "data", "import", *files(tmp_path, items=ITEMS, clients=CLIENTS))
    assert result.exit_code == 0, result.output
    wide = "client_id;Basic;Linux\nc1;1;0\nc2;1;1\n"
    result = run(tmp_path, "data", "import", *files(tmp_path, interactions=wide))
    assert result.exit_code == 0, result.output
    assert "naming an offer by its name" in result.output
    owned = OfflineStore(tmp_path / "data").read_table("interactions")
    assert owned[["client_id", "item_id"]].to_numpy().tolist() == [
        ["c1", "i1"],
        ["c2", "i1"],
        ["c2", "i2"],
    ]


def test_a_russian_crm_export_imports_and_evaluates_with_defaults(tmp_path: Path) -> None:
    """What a 1C-style export gives: a product list with codes and names only, clients by tax
    id with a name and an industry, and a client x product table headed by the products' names
    whose rows name the client by its tax id or by its name."""
    rng = np.random.default_rng(1)
    names = ["Резервное копирование", "Мониторинг", "Миграция", "Курс Linux", "Лицензии"]
    items = "Код;Наименование\n" + "".join(f"p{n};{name}\n" for n, name in enumerate(names))
    # the sales register writes names in its own case: matched as the catalogue's
    clients, wide = ["ИНН;Клиент;Отрасль"], ["Клиент;" + ";".join(n.upper() for n in names)]
    for n in range(60):
        clients.append(f"77{n:02d};ООО Клиент {n};{('ИТ', 'Ритейл')[n % 2]}")
        owned = rng.random(len(names)) < (0.7, 0.5, 0.2, 0.4, 0.3)
        who = f"ооо клиент {n}" if n % 3 else f"77{n:02d}"
        wide.append(f"{who};" + ";".join("1" if o else "" for o in owned))
    tables = {"clients": "\n".join(clients) + "\n", "interactions": "\n".join(wide) + "\n"}
    result = run(tmp_path, "data", "import", *files(tmp_path, items=items, **tables))
    assert result.exit_code == 0, result.output
    report = result.output.split("Problems")[1]
    assert "offers without a kind, read as add-on services" in report
    assert "offers without a price, read as 0" in report
    assert "naming an offer by its name" in report
    assert "naming a client by its name" in report
    store = OfflineStore(tmp_path / "data")
    assert store.read_table("items")[["kind", "price"]].drop_duplicates().values.tolist() == [
        ["addon", 0.0]
    ]
    assert store.read_table("clients")["industry"].tolist()[:2] == ["ИТ", "Ритейл"]
    owned = store.read_table("interactions")
    assert set(owned["item_id"]) <= {f"p{n}" for n in range(5)}
    assert set(owned["client_id"]) <= {f"77{n:02d}" for n in range(60)}
    result = run(tmp_path, "evaluate", "--models", "popularity,ease", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "split snapshot" in result.output


def test_the_user_maps_headers_no_alias_covers(tmp_path: Path) -> None:
    items = "Код;Наименование;Цена\ni1;Backup;1 234,5\ni2;Linux;99,9\n"
    clients = "Партнёр;Отрасль\nc1;it\nc2;energy\n"
    owned = "Партнёр;Номенклатура\nc1;i1\nc2;i2\n"
    args = files(tmp_path, items=items, clients=clients, interactions=owned)
    result = run(tmp_path, "data", "import", *args)
    assert result.exit_code == 2
    assert "missing required column 'client_id' (columns found: Партнёр, " in result.output
    result = run(tmp_path, "data", "import", *args, "--column", " Партнёр =client_id")
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    assert store.read_table("interactions")["client_id"].tolist() == ["c1", "c2"]
    # a decimal-comma price under a Russian header is read as the price it is, even beside a
    # value that is none (only that one is refused)
    assert store.read_table("items")["price"].tolist() == [1234.5, 99.9]
    quoted = files(tmp_path, items=items.replace("99,9", "по запросу"))
    result = run(tmp_path, "data", "import", *quoted)
    assert result.exit_code == 2
    assert "items.csv row 2 (line 3), column 'price': 'по запросу' is not a number" in result.output
    assert "row 1 (line 2)" not in result.output
    for bad, said in (
        ("Партнёр=client", "'client' is no column of the schema"),
        ("Партнёр", "'Партнёр' is not HEADER=COLUMN"),
    ):
        result = run(tmp_path, "data", "import", *args, "--column", bad)
        assert result.exit_code == 2 and said in result.output


def test_one_portfolio_file_gives_the_clients_and_what_they_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An export listing each client's card and products in one row (an insurer's ``ID``,
    attributes, a 0/1 column per product): the attributes are the clients table."""
    card = (
        "ID,join_date,sex,branch_code,i1,i2\n"
        "A1,1/2/2015,M,748L,1,0\n"
        "A2,13/2/2015,F,1X1H,1,1\n"
        "A3,,F,748L,0,0\n"
    )
    args = files(tmp_path, items=ITEMS, interactions=card)
    result = run(tmp_path, "data", "import", *args)
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    clients = store.read_table("clients")
    assert clients["client_id"].tolist() == ["A1", "A2", "A3"]  # A3 owns nothing: kept, cold
    assert clients["join_date"].tolist()[:2] == ["2015-02-01", "2015-02-13"]
    assert clients["branch_code"].tolist() == ["748L", "1X1H", "748L"]
    owned = store.read_table("interactions")
    assert owned[["client_id", "item_id"]].to_numpy().tolist() == [
        ["A1", "i1"],
        ["A2", "i1"],
        ["A2", "i2"],
    ]
    # the same file given as --clients too reads the same tables
    same = [*args, "--clients", str(tmp_path / "interactions.csv")]
    result = run(tmp_path, "data", "import", *same)
    assert result.exit_code == 0, result.output
    assert OfflineStore(tmp_path / "data").read_table("clients").equals(clients)
    # another clients file beside it: two sources of the clients' attributes, refused
    result = run(tmp_path, "data", "import", *args, *files(tmp_path, clients=CLIENTS))
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # the message wraps after the long temporary path
    assert "column 'join_date' is not an offer of the catalogue" in said
    assert "the clients' attributes come with the offers when --clients is not given" in said
    # the file given as --clients alone: its offer columns are attributes, and the import says so
    caplog.clear()
    result = run(tmp_path, "data", "import", "--clients", str(tmp_path / "interactions.csv"))
    assert result.exit_code == 0, result.output
    assert "column(s) 'i1', 'i2' are named as offers: read as the clients' attributes" in (
        caplog.text
    )
    assert len(OfflineStore(tmp_path / "data").read_table("clients")) == 3  # nothing written


def test_one_workbook_with_a_sheet_per_table_imports(tmp_path: Path) -> None:
    """A CRM workbook given as every table: each reads its own sheet, in any order; a wide sheet
    with attributes beside a clients sheet is two sources of the clients, refused."""
    from openpyxl import Workbook

    book = Workbook()
    sales = book.active
    assert sales is not None
    sales.title = "Продажи"
    for row in (["Код клиента", "Услуга"], ["c1", "i1"], ["c2", "i2"]):
        sales.append(row)
    for title, rows in {
        "Клиенты": [["Код клиента", "Отрасль"], ["c1", "ИТ"], ["c2", "Банки"]],
        "Услуги": [["Код", "Наименование"], ["i1", "Basic"], ["i2", "Linux"]],
    }.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "crm.xlsx"
    book.save(path)
    given = [x for table in ("items", "clients", "interactions") for x in (f"--{table}", str(path))]
    result = run(tmp_path, "data", "import", *given)
    assert result.exit_code == 0, result.output
    store = OfflineStore(tmp_path / "data")
    assert store.read_table("clients")["industry"].tolist() == ["ИТ", "Банки"]
    assert store.read_table("items")["name"].tolist() == ["Basic", "Linux"]
    assert store.read_table("interactions")["item_id"].tolist() == ["i1", "i2"]
    book.remove(sales)
    owned = book.create_sheet("Продажи")
    for row in (["Код клиента", "Регион", "i1", "i2"], ["c1", "Москва", 1, 0]):
        owned.append(row)
    book.save(path)
    result = run(tmp_path, "data", "import", *given)
    assert result.exit_code == 2
    assert "column 'Регион' is not an offer" in " ".join(result.output.split())
