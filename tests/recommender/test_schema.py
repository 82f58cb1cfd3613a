"""Per-table validation: every bad value is reported with file, row, line, column and reason."""

import io
from pathlib import Path

import pandas as pd
import pytest

from recommender.schema import MAX_LISTED, DataValidationError, Source, validate_table
from recommender.table_files import read_table_file

ITEMS_CSV = """item_id,name,kind,family,price,margin,eligibility,prerequisites,vendor,tags
sup_basic,Basic support,tariff,support,100,0.2,both,,,support
course_b,Linux 2,COURSE,,70.5,0.5,B2G,course_a; sup_basic,training centre,linux;admin
course_a,Linux 1,course,,50,,,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, table: str) -> str:
    with pytest.raises(DataValidationError) as info:
        read_table_file(path, table)
    return str(info.value)


def test_valid_items_are_typed_with_defaults(tmp_path: Path) -> None:
    items = read_table_file(write(tmp_path, "items.csv", ITEMS_CSV), "items")
    assert items["price"].tolist() == [100.0, 70.5, 50.0]
    assert items["kind"].tolist() == ["tariff", "course", "course"]
    assert items["prerequisites"].tolist() == [[], ["course_a", "sup_basic"], []]
    assert items["tags"].tolist() == [["support"], ["linux", "admin"], []]
    assert items["eligibility"].tolist() == ["both", "B2G", "both"]
    assert items["vendor"].tolist() == ["integrator", "training centre", "integrator"]
    assert items["margin"].isna().tolist() == [False, False, True]
    assert items["family"].isna().tolist() == [False, True, True]


@pytest.mark.parametrize(
    ("column", "bad", "reason"),
    [
        ("kind", "service", "'service' is not one of tariff, course, addon"),
        ("price", "abc", "'abc' is not a number"),
        ("price", "-5", "'-5' is below the minimum 0"),
        ("margin", "1.5", "'1.5' is above the maximum 1"),
        ("eligibility", "everyone", "'everyone' is not one of B2B, B2G, both"),
        ("name", "", "value is missing"),
    ],
)
def test_bad_item_value_names_file_row_line_column(
    tmp_path: Path, column: str, bad: str, reason: str
) -> None:
    frame = pd.read_csv(io.StringIO(ITEMS_CSV), dtype=str, keep_default_na=False)
    frame.loc[1, column] = bad
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    message = error_of(path, "items")
    assert f"items.csv row 2 (line 3), column '{column}': {reason}" in message
    assert message.startswith("1 problem(s)")


def test_bad_timestamp_and_event_type_in_interactions(tmp_path: Path) -> None:
    text = (
        "client_id,item_id,event_type,timestamp,value\n"
        "c1,i1,purchase,2024-01-01T10:00:00,1\n"
        "c1,i2,buy,2024-01-02,2\n"
        "c2,i1,view,yesterday,1\n"
    )
    message = error_of(write(tmp_path, "interactions.csv", text), "interactions")
    assert "interactions.csv row 2 (line 3), column 'event_type': 'buy' is not one of" in message
    assert (
        "interactions.csv row 3 (line 4), column 'timestamp': 'yesterday' is not a timestamp"
        in message
    )


def interactions_at(tmp_path: Path, *stamps: str) -> pd.DataFrame:
    """An interactions file with one event per timestamp, read and validated."""
    rows = "".join(f"c1,i{n},purchase,{stamp}\n" for n, stamp in enumerate(stamps))
    text = "client_id,item_id,event_type,timestamp\n" + rows
    return read_table_file(write(tmp_path, "i.csv", text), "interactions")


def test_timestamps_become_utc(tmp_path: Path) -> None:
    frame = interactions_at(tmp_path, "2024-01-01 10:00:00", "2024-01-01T10:00:00+03:00")
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].dt.hour.tolist() == [10, 7]
    assert frame["value"].tolist() == [1.0, 1.0]
    assert "event_id" not in frame


def test_a_crm_s_local_dates_are_read_per_column(tmp_path: Path) -> None:
    """31.12.2023 (1C) and 12/31/2023 read as the one format their column allows."""
    frame = interactions_at(tmp_path, "31.12.2023 14:05", "05.01.2024 09:00")
    assert frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2023-12-31 14:05",
        "2024-01-05 09:00",
    ]
    clients = (
        "client_id,industry,signup_date,join_date,occupation,birth_year\n"
        "c1,bank,12/31/2019,1/5/2019,2A7I,1980\n"
        "c2,bank,01/05/2020,25/12/2018,T4MS,1975\n"
        "c3,bank,,,2A7I,\n"
    )
    frame = read_table_file(write(tmp_path, "clients.csv", clients), "clients")
    signup = frame["signup_date"].dt.strftime("%Y-%m-%d").tolist()
    assert signup[:2] == ["2019-12-31", "2020-01-05"]
    # an extra column of local dates becomes ISO text, the form the ranker reads as days
    assert frame["join_date"].tolist() == ["2019-05-01", "2018-12-25", ""]
    assert frame["occupation"].tolist() == ["2A7I", "T4MS", "2A7I"]
    assert frame["birth_year"].tolist() == ["1980", "1975", ""]


def test_ambiguous_or_mixed_dates_name_row_column_and_why(tmp_path: Path) -> None:
    ambiguous = "client_id,industry,signup_date\nc1,bank,05/01/2020\nc2,bank,01/02/2019\n"
    message = error_of(write(tmp_path, "clients.csv", ambiguous), "clients")
    assert (
        "clients.csv row 1 (line 2), column 'signup_date': '05/01/2020' is ambiguous: the column "
        "reads as DD/MM/YYYY and as MM/DD/YYYY and no value decides (a day above 12)"
    ) in message
    mixed = "client_id,industry,signup_date\nc1,bank,31.12.2020\nc2,bank,12/31/2019\n"
    message = error_of(write(tmp_path, "mixed.csv", mixed), "clients")
    assert (
        "mixed.csv row 2 (line 3), column 'signup_date': '12/31/2019' is not a timestamp "
        "(expected ISO 8601, or one of DD.MM.YYYY, DD/MM/YYYY, MM/DD/YYYY"
    ) in message
    # an ambiguous extra column is not a date the ranker could misread: it stays text
    extra = "client_id,industry,join_date\nc1,bank,05/01/2020\nc2,bank,01/02/2019\n"
    frame = read_table_file(write(tmp_path, "extra.csv", extra), "clients")
    assert frame["join_date"].tolist() == ["05/01/2020", "01/02/2019"]


def test_missing_required_column_names_column_and_file(tmp_path: Path) -> None:
    text = "client_id,event_type,timestamp\nc1,purchase,2024-01-01\n"
    message = error_of(write(tmp_path, "interactions.csv", text), "interactions")
    assert "interactions.csv: missing required column 'item_id'" in message


def test_interactions_without_timestamps_are_a_snapshot_dated_at_import(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = pd.Timestamp.now(tz="UTC").floor("s")
    text = "client_id,item_id\nc1,i1\nc1,i2\nc2,i1\n"
    with caplog.at_level("WARNING", logger="recommender.schema"):
        frame = read_table_file(write(tmp_path, "interactions.csv", text), "interactions")
    assert frame["timestamp"].nunique() == 1
    assert before <= frame["timestamp"].iloc[0] <= pd.Timestamp.now(tz="UTC")
    assert frame["event_type"].tolist() == ["purchase"] * 3
    assert "interactions.csv: no 'timestamp' column: read as a portfolio snapshot" in caplog.text


def test_some_missing_timestamps_are_an_error_that_says_how_to_import_a_snapshot(
    tmp_path: Path,
) -> None:
    text = "client_id,item_id,timestamp\nc1,i1,2024-01-01\nc1,i2,\n"
    message = error_of(write(tmp_path, "interactions.csv", text), "interactions")
    assert "interactions.csv row 2 (line 3), column 'timestamp': value is missing" in message
    assert "without a 'timestamp' column is read as a portfolio snapshot" in message
    bad = "client_id,item_id,timestamp\nc1,i1,2024-01-01\nc1,i2,yesterday\n"
    assert "portfolio snapshot" not in error_of(write(tmp_path, "i.csv", bad), "interactions")


def test_headers_are_matched_without_surrounding_spaces_or_case(tmp_path: Path) -> None:
    text = "\ufeff Client_ID ,ITEM_ID,Timestamp, Регион \nc1,i1,2024-01-01,north\n"
    frame = read_table_file(write(tmp_path, "interactions.csv", text), "interactions")
    assert frame[["client_id", "item_id", "Регион"]].iloc[0].tolist() == ["c1", "i1", "north"]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    clash = "client_id,Client_ID,item_id,timestamp\nc1,c2,i1,2024-01-01\n"
    message = error_of(write(tmp_path, "i.csv", clash), "interactions")
    assert "i.csv: columns 'client_id', 'Client_ID' name the same column 'client_id'" in message


def test_russian_headers_are_read_as_the_columns_the_file_does_not_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "ИНН;Клиент;Отрасль;Регион;Код\n7701;ООО Ромашка;ИТ;Москва;x\n"
    clients = read_table_file(write(tmp_path, "clients.csv", text), "clients")
    row = clients.iloc[0]
    # the tax id is the client's id, "Клиент" its name; the generic code stays an extra column
    assert [row["client_id"], row["name"], row["industry"]] == ["7701", "ООО Ромашка", "ИТ"]
    assert [row["region"], row["Код"]] == ["Москва", "x"]
    alone = read_table_file(write(tmp_path, "k.csv", "Клиент;Отрасль\nK-001;ИТ\n"), "clients")
    assert alone["client_id"].tolist() == ["K-001"]
    assert "clients.csv: column 'Отрасль' read as 'industry'" in caplog.text
    own = "client_id;Код клиента;industry\nc1;7701;bank\n"
    kept = read_table_file(write(tmp_path, "c.csv", own), "clients")
    assert kept[["client_id", "Код клиента"]].iloc[0].tolist() == ["c1", "7701"]
    long = " Клиент ;УСЛУГА;Дата;Кол-во\nc1;Мониторинг;31.01.2024;2\n"
    events = read_table_file(write(tmp_path, "продажи.csv", long), "interactions")
    assert events[["client_id", "item_id", "value"]].iloc[0].tolist() == ["c1", "Мониторинг", 2.0]
    assert events["timestamp"].iloc[0] == pd.Timestamp("2024-01-31", tz="UTC")


def test_items_without_kind_or_price_and_russian_kinds(tmp_path: Path) -> None:
    text = "Код;Наименование;Вид\na;Бэкап;Услуга\nb;Linux;вебинар\nc;Стандарт;Тариф\nd;X;\n"
    items = read_table_file(write(tmp_path, "items.csv", text), "items")
    assert items["kind"].tolist()[:3] == ["addon", "course", "tariff"]
    # blank kinds and prices stay blank here: recommender.integrity fills and counts them
    assert pd.isna(items["kind"].iloc[3]) and items["price"].isna().all()
    bad = "item_id,name,kind\na,X,сервис\n"
    message = error_of(write(tmp_path, "i.csv", bad), "items")
    assert "i.csv row 1 (line 2), column 'kind': 'сервис' is not one of tariff, course" in message
    assert "(or тариф," in message


def test_a_register_s_operations_read_as_event_types(tmp_path: Path) -> None:
    text = (
        "Клиент;Услуга;Дата;Операция\n"
        "c1;a;01.02.2024;Продажа\nc1;b;01.03.2024;ОТКЛЮЧЕНИЕ\nc2;a;01.02.2024;Enrollment\n"
    )
    events = read_table_file(write(tmp_path, "register.csv", text), "interactions")
    assert events["event_type"].tolist() == ["purchase", "cancellation", "enrolment"]
    message = error_of(write(tmp_path, "r.csv", text.replace("Продажа", "Бонус")), "interactions")
    said = "r.csv row 1 (line 2), column 'event_type': 'Бонус' is not one of purchase"
    assert said in message
    # one other name per event type, not the whole list
    assert "(or покупка, подключение, продление, отключение, запись," in message
    assert "пролонгация" not in message


def test_whole_float_ids_read_as_integers(tmp_path: Path) -> None:
    path = tmp_path / "clients.parquet"
    pd.DataFrame({"client_id": [7.0, 12.0], "industry": ["it", "it"]}).to_parquet(path)
    assert read_table_file(path, "clients")["client_id"].tolist() == ["7", "12"]
    mixed = pd.DataFrame({"client_id": [7.5, 12.0], "industry": ["it", "it"]})
    assert validate_table(mixed, "clients")["client_id"].tolist() == ["7.5", "12.0"]


def test_a_blank_industry_or_none_at_all_is_kept_as_unknown(tmp_path: Path) -> None:
    text = "client_id,industry,segment\nc1,bank,B2B\nc2,,B2G\n"
    clients = read_table_file(write(tmp_path, "clients.csv", text), "clients")
    assert clients["industry"].isna().tolist() == [False, True]
    bare = read_table_file(write(tmp_path, "c.csv", "client_id,region\nc1,north\n"), "clients")
    assert bare["industry"].isna().all()


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert "file is empty" in error_of(write(tmp_path, "clients.csv", ""), "clients")
    header = "client_id,industry,segment\n"
    message = error_of(write(tmp_path, "clients2.csv", header), "clients")
    assert "clients2.csv: no data rows" in message


def test_many_problems_are_capped_with_total(tmp_path: Path) -> None:
    rows = "".join(f"c{i},retail,B2X\n" for i in range(50))
    message = error_of(
        write(tmp_path, "clients.csv", "client_id,industry,segment\n" + rows), "clients"
    )
    assert message.startswith("50 problem(s)")
    assert f"... and {50 - MAX_LISTED} more" in message
    assert "clients.csv row 1 (line 2), column 'segment': 'B2X'" in message


def test_parquet_with_lists_naive_datetimes_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "clients.parquet"
    pd.DataFrame(
        {
            "client_id": [1, 2],
            "industry": ["it", "energy"],
            "segment": ["b2b", "B2G"],
            "signup_date": pd.to_datetime(["2023-05-01", "2023-06-01"]),
            "employees": [10, 2000],
        }
    ).to_parquet(path)
    clients = read_table_file(path, "clients")
    assert clients["client_id"].tolist() == ["1", "2"]
    assert clients["segment"].tolist() == ["B2B", "B2G"]
    assert str(clients["signup_date"].dt.tz) == "UTC"
    assert clients["employees"].tolist() == [10, 2000]
    assert clients["loyalty_tier"].tolist() == ["bronze", "bronze"]


def test_parquet_errors_name_row_without_line() -> None:
    frame = pd.DataFrame({"item_id": ["a"], "name": ["A"], "kind": ["tariff"], "price": [-1.0]})
    with pytest.raises(DataValidationError, match=r"items.parquet row 1, column 'price'"):
        validate_table(frame, "items", source="items.parquet")


def test_events_require_event_id() -> None:
    frame = pd.DataFrame(
        {"client_id": ["c"], "item_id": ["i"], "event_type": ["click"], "timestamp": ["2024-01-01"]}
    )
    with pytest.raises(DataValidationError, match="missing required column 'event_id'"):
        validate_table(frame, "events")
    assert validate_table(frame.assign(event_id="e1"), "events")["event_id"].tolist() == ["e1"]


def test_source_location() -> None:
    assert Source.of("x.csv").where(16) == "x.csv row 17 (line 18)"
    assert Source.of("x.parquet").where(0) == "x.parquet row 1"
    with pytest.raises(ValueError, match="unknown table"):
        validate_table(pd.DataFrame({"a": [1]}), "orders")


# --- the time range shared with the events API (recommender.bounds) ---------------------------


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("0001-01-01T00:00:00+14:00", "is before 1990-01-01"),
        ("0001-01-01", "is before 1990-01-01"),
        ("1970-01-01T00:00:00Z", "is before 1990-01-01"),  # epoch 0
        ("1989-12-31T23:59:59", "is before 1990-01-01"),
        ("2999-01-01", "is more than 1 day in the future"),
        ("9999-12-31T23:59:59-14:00", "is more than 1 day in the future"),  # past year 9999
    ],
)
def test_timestamps_out_of_range_name_file_row_column(
    tmp_path: Path, stamp: str, reason: str
) -> None:
    text = (
        f"client_id,item_id,event_type,timestamp\nc1,i1,purchase,2024-01-01\nc1,i2,usage,{stamp}\n"
    )
    message = error_of(write(tmp_path, "interactions.csv", text), "interactions")
    assert message.startswith("1 problem(s)")
    assert f"interactions.csv row 2 (line 3), column 'timestamp': '{stamp}' {reason}" in message


def test_timestamps_at_the_bounds_are_kept(tmp_path: Path) -> None:
    tomorrow = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=23)).isoformat()
    text = (
        "client_id,item_id,event_type,timestamp\n"
        "c1,i1,purchase,1990-01-01T00:00:00Z\n"
        f"c1,i2,usage,{tomorrow}\n"
        "c1,i3,usage,1997-09-20T03:05:10Z\n"  # MovieLens-100k's time
    )
    frame = read_table_file(write(tmp_path, "i.csv", text), "interactions")
    assert len(frame) == 3


def test_parquet_timestamps_out_of_range_and_signup_dates_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "clients.parquet"
    pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c3"],
            "industry": ["it", "it", "it"],
            "signup_date": pd.to_datetime(["2023-05-01", "1970-01-01", "2150-01-01"]),
        }
    ).to_parquet(path)
    message = error_of(path, "clients")
    assert message.startswith("2 problem(s)")
    assert "clients.parquet row 2, column 'signup_date'" in message
    assert "is before 1990-01-01" in message
    assert "clients.parquet row 3, column 'signup_date'" in message
    assert "is more than 1 day in the future" in message


def test_event_values_beyond_the_maximum_are_refused() -> None:
    frame = pd.DataFrame(
        {
            "client_id": ["c"],
            "item_id": ["i"],
            "timestamp": ["2024-01-01"],
            "value": ["1e300"],
        }
    )
    with pytest.raises(DataValidationError, match=r"row 1, column 'value': '1e300' is above"):
        validate_table(frame, "interactions")
