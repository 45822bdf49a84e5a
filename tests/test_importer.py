"""Recipient import: real CSV and XLSX files in tmp_path, checked row by row, into a real store."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from mailer.people.importer import Problem, import_recipients, read_recipients
from rsvp.config import EventConfig
from rsvp.errors import RecipientFileError
from rsvp.store import Store

HINT = "Fix those rows and import again, or use --skip-invalid to import the good rows only."


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` with exactly the bytes given (no newline translation)."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problem_lines(path: Path, event: EventConfig) -> list[str]:
    return [str(problem) for problem in read_recipients(path, event).problems]


def test_utf8_with_bom_imports_every_field(tmp_path: Path, event: EventConfig,
                                          store: Store) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (
        "Email, First_Name ,last_name,salutation,title,organisation,role,language,sector\r\n"
        "  anna@example.org ,  Anna , Müller,Frau,Dr.,Netz Süd, Network_Manager ,FR, ICT \r\n"
    ).encode())
    report = import_recipients(store, path, event)
    assert (report.added, report.updated, report.skipped) == (1, 0, [])
    anna = store.find_recipient("anna@example.org")
    assert (anna.email, anna.email_ascii) == ("anna@example.org", "anna@example.org")
    assert (anna.first_name, anna.last_name, anna.salutation, anna.title) == (
        "Anna", "Müller", "Frau", "Dr.")
    assert (anna.organisation, anna.role, anna.language, anna.sector) == (
        "Netz Süd", "network_manager", "fr", "ict")
    assert anna.extra == {}


def test_cp1252_with_semicolons_and_german_headers(tmp_path: Path, event: EventConfig,
                                                   store: Store) -> None:
    path = write(tmp_path, "excel.csv",
                 "E-Mail;Vorname;Nachname;Anrede;Firma;Sprache\r\n"
                 "j.mueller@example.de;Jürgen;Müller;Herr;Bäckerei Groß, Söhne;de\r\n"
                 '"s.weiss@example.de";"Søren";"Weiß";Herr;"Café ""Zur Post""";\r\n',
                 encoding="cp1252")
    result = read_recipients(path, event)
    assert (result.total, result.problems) == (2, [])
    assert [row.fields for row in result.rows] == [
        {"first_name": "Jürgen", "last_name": "Müller", "salutation": "Herr",
         "organisation": "Bäckerei Groß, Söhne", "language": "de"},
        {"first_name": "Søren", "last_name": "Weiß", "salutation": "Herr",
         "organisation": 'Café "Zur Post"', "language": "de"},
    ]


def test_comma_wins_when_semicolons_are_only_inside_quotes(tmp_path: Path,
                                                            event: EventConfig) -> None:
    path = write(tmp_path, "people.txt", 'email,"notes; more; more",x\nanna@example.org,a,b\n')
    result = read_recipients(path, event)
    assert result.rows[0].extra == {"notes; more; more": "a", "x": "b"}


def test_bad_email_is_reported_with_its_line(tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv",
                 "email,first_name\nanna@example.org,Anna\nnot-an-address,Bert\n,Carla\n"
                 "jürgen@bücher.example,Jürgen\n")
    assert problem_lines(path, event) == [
        ("line 3, column email: 'not-an-address' is not an email address "
        "(An email address must have an @-sign.)"),
        "line 4, column email: is empty; every row needs an address",
        ("line 5, column email: 'jürgen@bücher.example' is not an email address "
        "(Internationalized characters before the @-sign are not supported: 'ü'.)"),
    ]


def test_one_bad_row_imports_nothing_and_lists_every_bad_row(
        tmp_path: Path, event: EventConfig, store: Store) -> None:
    path = write(tmp_path, "people.csv",
                 "email,language\nanna@example.org,de\nbert@,fr\ncarla@example.org,es\n"
                 "dora@example.org,en\n")
    with pytest.raises(RecipientFileError) as caught:
        import_recipients(store, path, event)
    assert caught.value.message == (
        "people.csv: 2 of 4 rows have problems; nothing was imported")
    assert caught.value.problems == [
        ("line 3, column email: 'bert@' is not an email address "
        "(There must be something after the @-sign.)"),
        "line 4, column language: 'es' is not one of this event's languages (de, fr, en)",
    ]
    assert caught.value.hint == HINT
    assert store.count_recipients() == 0


def test_a_single_bad_row_reads_as_one(tmp_path: Path, event: EventConfig,
                                       store: Store) -> None:
    path = write(tmp_path, "one.csv", "email\nnobody\n")
    with pytest.raises(RecipientFileError, match=r"^one\.csv: 1 of 1 row has problems; "
                                                  r"nothing was imported$"):
        import_recipients(store, path, event)


def test_skip_invalid_imports_the_good_rows_and_lists_the_others(
        tmp_path: Path, event: EventConfig, store: Store) -> None:
    path = write(tmp_path, "people.csv",
                 "email,first_name\nanna@example.org,Anna\nbert(at)example.org,Bert\n"
                 "carla@example.org,Carla\n")
    report = import_recipients(store, path, event, skip_invalid=True)
    assert (report.added, report.updated) == (2, 0)
    assert [str(problem) for problem in report.skipped] == [
        ("line 3, column email: 'bert(at)example.org' is not an email address "
        "(An email address must have an @-sign.)")]
    assert [r.email for r in store.recipients()] == ["anna@example.org", "carla@example.org"]


def test_reimport_updates_people_and_never_duplicates(tmp_path: Path, event: EventConfig,
                                                      store: Store) -> None:
    first = write(tmp_path, "v1.csv", "email,first_name\nanna@example.org,Anna\n"
                  "bert@example.org,Bert\n")
    second = write(tmp_path, "v2.csv", "email,first_name\nANNA@example.org,Anne\n"
                   "dora@example.org,Dora\n")
    import_recipients(store, first, event)
    report = import_recipients(store, second, event)
    assert (report.added, report.updated) == (1, 1)
    assert store.count_recipients() == 3
    assert store.find_recipient("anna@example.org").first_name == "Anne"


def test_same_address_twice_in_any_case_names_the_earlier_line(
        tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv",
                 "email\nanna@example.org\nbert@example.org\n\nAnna@Example.ORG\n")
    result = read_recipients(path, event)
    assert [str(p) for p in result.problems] == [
        "line 5, column email: 'Anna@Example.ORG' is already on line 2"]
    assert [row.email for row in result.rows] == ["anna@example.org", "bert@example.org"]


def test_line_break_inside_a_quoted_field_is_rejected_and_lines_stay_right(
        tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv",
                 'email,first_name,notes\r\n'
                 'anna@example.org,"Anna\r\nMaria",x\r\n'
                 'bert@example.org,Bert,"two\nlines"\r\n'
                 'nobody,Carla,\r\n')
    assert problem_lines(path, event) == [
        ("line 2, column first_name: 'Anna\\r\\nMaria' holds a line break, tab "
        "or other control character"),
        "line 4, column notes: 'two\\nlines' holds a line break, tab or other control character",
        ("line 6, column email: 'nobody' is not an email address "
        "(An email address must have an @-sign.)"),
    ]


@pytest.mark.parametrize(("value", "shown"), [
    ("An\tna", "'An\\tna'"),
    ("An\x00na", "'An\\x00na'"),
    ("An\u2028na", "'An\\u2028na'"),
    ("An\u2029na", "'An\\u2029na'"),
    ("An\x7fna", "'An\\x7fna'"),
    ("An\x85na", "'An\\x85na'"),
])
def test_control_characters_make_a_row_bad(tmp_path: Path, event: EventConfig,
                                           value: str, shown: str) -> None:
    path = write(tmp_path, "people.csv", f'email,last_name\nanna@example.org,"{value}"\n')
    result = read_recipients(path, event)
    assert result.rows == []
    assert [str(p) for p in result.problems] == [
        f"line 2, column last_name: {shown} holds a line break, tab or other control character"]


def test_internationalised_domain_keeps_display_form_and_punycode(
        tmp_path: Path, event: EventConfig, store: Store) -> None:
    path = write(tmp_path, "people.csv", "email\ninfo@Bücher.example\n")
    import_recipients(store, path, event)
    person = store.find_recipient("info@bücher.example")
    assert (person.email, person.email_ascii) == ("info@bücher.example",
                                                  "info@xn--bcher-kva.example")


def test_extra_columns_are_kept_under_their_header(tmp_path: Path, event: EventConfig,
                                                   store: Store) -> None:
    path = write(tmp_path, "people.csv",
                 "email, Telefon ,Network (short)\nanna@example.org, 030 555 ,NRW-Auto\n"
                 "bert@example.org,,\n")
    import_recipients(store, path, event)
    assert store.find_recipient("anna@example.org").extra == {
        "Telefon": "030 555", "Network (short)": "NRW-Auto"}
    assert store.find_recipient("bert@example.org").extra == {
        "Telefon": "", "Network (short)": ""}


def test_language_is_lowered_defaulted_and_checked(tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv",
                 "email,Sprache\na@example.org,EN\nb@example.org,\nc@example.org,Deutsch\n")
    result = read_recipients(path, event)
    assert [row.fields["language"] for row in result.rows] == ["en", "de"]
    assert [str(p) for p in result.problems] == [
        "line 4, column Sprache: 'deutsch' is not one of this event's languages (de, fr, en)"]


def test_missing_language_column_gives_the_default_to_new_people(
        tmp_path: Path, event: EventConfig, store: Store) -> None:
    path = write(tmp_path, "people.csv", "email\na@example.org\n")
    assert read_recipients(path, event).rows[0].fields == {}  # an update keeps theirs
    import_recipients(store, path, event)
    assert store.find_recipient("a@example.org").language == "de"


def test_empty_rows_are_ignored_and_not_counted(tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv",
                 "\n\nemail,first_name\n\na@example.org,A\n , \n;\nb@\n")
    result = read_recipients(path, event)
    assert result.total == 3
    assert [row.email for row in result.rows] == ["a@example.org"]
    assert [p.line for p in result.problems] == [7, 8]


def test_a_value_under_no_header_is_a_problem(tmp_path: Path, event: EventConfig) -> None:
    path = write(tmp_path, "people.csv", "email,,\na@example.org,,\nb@example.org,,stray\n")
    result = read_recipients(path, event)
    assert [row.email for row in result.rows] == ["a@example.org"]
    assert result.problems == [
        Problem(line=3, column="3", value="stray", reason="is in a column without a name "
                "in the header")]
    assert str(result.problems[0]) == (
        "line 3, column 3: 'stray' is in a column without a name in the header")


def test_xlsx_numbers_become_text_and_empty_cells_empty(tmp_path: Path, event: EventConfig,
                                                        store: Store) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "First name", "Phone", "Score", "Language", "Role"])
    sheet.append(["anna@example.org", "Anna", 4930555, 1.5, None, "Company"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["bert@example.org", None, 12.0, 0, "FR", None])
    sheet.append(["not-an-address", "Carla", None, None, None, None])
    book.create_sheet("ignored").append(["email", "zoe@example.org"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    with pytest.raises(RecipientFileError) as caught:
        import_recipients(store, path, event)
    assert caught.value.problems == [
        ("line 5, column Email: 'not-an-address' is not an email address "
        "(An email address must have an @-sign.)")]
    report = import_recipients(store, path, event, skip_invalid=True)
    assert (report.added, len(report.skipped)) == (2, 1)
    anna = store.find_recipient("anna@example.org")
    assert (anna.first_name, anna.language, anna.role) == ("Anna", "de", "company")
    assert anna.extra == {"Phone": "4930555", "Score": "1.5"}
    bert = store.find_recipient("bert@example.org")
    assert (bert.first_name, bert.language, bert.role) == ("", "fr", "")
    assert bert.extra == {"Phone": "12", "Score": "0"}


def test_missing_file(tmp_path: Path, event: EventConfig) -> None:
    path = tmp_path / "nobody.csv"
    with pytest.raises(RecipientFileError, match=f"^{path} does not exist$"):
        read_recipients(path, event)


@pytest.mark.parametrize(("name", "data", "message"), [
    ("people.xls", b"email\n", "people.xls: cannot read .xls; use a .csv or .xlsx file"),
    ("people", b"email\n", "people: cannot read files without a suffix; use a .csv or .xlsx file"),
    ("people.xlsx", b"email\nanna@example.org\n",
     "people.xlsx is not a readable Excel workbook (.xlsx)"),
    ("people.csv", b"", "people.csv is empty"),
    ("people.csv", b"\r\n ; \r\n", "people.csv is empty"),
    ("people.csv", b"email,first_name\r\n", "people.csv has a header but no rows below it"),
    ("people.csv", b"name;adresse\nAnna;anna@example.org\n",
     "people.csv has no 'email' column; its header (line 1) has 'name', 'adresse'"),
    ("people.csv", b"email,notes,E-Mail\n",
     ("people.csv: the header (line 1) has 'email' in column 1 and 'E-Mail' in column 3, "
     "which mean the same")),
    ("people.csv", b"email,Notes,notes\n",
     ("people.csv: the header (line 1) has 'Notes' in column 2 and 'notes' in column 3, "
     "which mean the same")),
    ("people.csv", b'email,notes\na@example.org,ok\nb@example.org,"never closed\n\n',
     "people.csv: line 3 cannot be read as CSV (unexpected end of data)"),
    ("people.csv", b"email\n\x81@example.org\n",
     "people.csv is neither UTF-8 nor Windows-1252 text"),
])
def test_unreadable_files_raise_naming_the_file(tmp_path: Path, event: EventConfig,
                                                name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(RecipientFileError) as caught:
        read_recipients(path, event)
    assert caught.value.message == message
    assert caught.value.problems == []
