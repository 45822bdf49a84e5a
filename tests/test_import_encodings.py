"""`invite import` of text files in the encodings Excel writes, and refusal of the rest (#8).

Every file is made here by encoding known text, so what should come out is known.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mailer.cli import app
from rsvp.store import Store
from tests.conftest import TEST_KEY

GERMAN = (
    "E-Mail;Vorname;Nachname;Anrede;Firma;Sprache\r\n"
    "j.mueller@example.de;Jürgen;Müller;Herr;Bäckerei Groß & Söhne;de\r\n"
    "k.weiss@example.de;Käthe;Weiß;Frau;STRAßENBAU ÖSTERREICH GMBH;de\r\n"
    "o.oezdemir@example.de;Ömer;Özdemir;Herr;Grüße aus Köln – Düsseldorf;de\r\n"
)
FRENCH = (
    "email,first_name,last_name,salutation,organisation,language\r\n"
    "helene@example.fr,Hélène,Lefèvre,Mme,Côte d’Azur Cluster,fr\r\n"
    "francois@example.fr,François,Garçon,M.,Crème brûlée & Cie,fr\r\n"
    "noel@example.fr,Noël,Œuvre,M.,Île-de-France; créée à Limoges,fr\r\n"
)
RUSSIAN = (
    "email;first_name;last_name;organisation\r\n"
    "ivan@example.ru;Иван;Петров;ООО Ромашка\r\n"
    "olga@example.ru;Ольга;Смирнова;Кластер Север\r\n"
)
SAVE_AS = ("Hint: In Excel use File > Save As > 'CSV UTF-8 (comma delimited)'; in LibreOffice "
           "save as CSV with the character set 'Unicode (UTF-8)'.")


def invite_import(workspace: Path, path: Path) -> Result:
    return CliRunner().invoke(app, ["import", str(path), "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def names(store: Store) -> list[tuple[str, str, str, str]]:
    return [(r.email, r.first_name, r.last_name, r.organisation) for r in store.recipients()]


@pytest.mark.parametrize("data", [
    GERMAN.encode("cp1252"), GERMAN.encode("utf-8"), codecs.BOM_UTF8 + GERMAN.encode("utf-8"),
    codecs.BOM_UTF16_LE + GERMAN.encode("utf-16-le"),
], ids=["windows-1252", "utf-8", "utf-8-bom", "utf-16-bom"])
def test_a_german_file_imports_as_written(workspace: Path, store: Store, tmp_path: Path,
                                          data: bytes) -> None:
    result = invite_import(workspace, write(tmp_path, "people.csv", data))
    assert result.output == ("Imported people.csv into batch 'people': "
                             "3 added, 0 updated, 0 unchanged.\n")
    assert names(store) == [
        ("j.mueller@example.de", "Jürgen", "Müller", "Bäckerei Groß & Söhne"),
        ("k.weiss@example.de", "Käthe", "Weiß", "STRAßENBAU ÖSTERREICH GMBH"),
        ("o.oezdemir@example.de", "Ömer", "Özdemir", "Grüße aus Köln – Düsseldorf"),
    ]


def test_a_french_windows_1252_file_imports_as_written(workspace: Path, store: Store,
                                                       tmp_path: Path) -> None:
    result = invite_import(workspace, write(tmp_path, "gens.csv", FRENCH.encode("cp1252")))
    assert result.output == ("Imported gens.csv into batch 'gens': "
                             "3 added, 0 updated, 0 unchanged.\n")
    assert names(store) == [
        ("helene@example.fr", "Hélène", "Lefèvre", "Côte d’Azur Cluster"),
        ("francois@example.fr", "François", "Garçon", "Crème brûlée & Cie"),
        ("noel@example.fr", "Noël", "Œuvre", "Île-de-France; créée à Limoges"),
    ]


def test_excel_unicode_text_utf16_with_tabs_imports(workspace: Path, store: Store,
                                                    tmp_path: Path) -> None:
    """Excel's "Unicode text": UTF-16 LE with a byte order mark, cells split by tabs,
    quotes where a cell holds a quote."""
    text = ("email\tfirst_name\tlast_name\torganisation\r\n"
            "anna@example.org\tAnna\tSchmidt\t\"Netz \"\"Süd\"\", e.V.\"\r\n"
            "ivan@example.org\tИван\tПетров\tКластер\r\n")
    path = write(tmp_path, "people.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    result = invite_import(workspace, path)
    assert result.output == ("Imported people.txt into batch 'people': "
                             "2 added, 0 updated, 0 unchanged.\n")
    assert names(store) == [("anna@example.org", "Anna", "Schmidt", 'Netz "Süd", e.V.'),
                            ("ivan@example.org", "Иван", "Петров", "Кластер")]


def test_utf16_big_endian_with_a_byte_order_mark_imports(workspace: Path, store: Store,
                                                         tmp_path: Path) -> None:
    text = "email,last_name\nanna@example.org,Müller\n"
    path = write(tmp_path, "people.csv", codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert invite_import(workspace, path).exit_code == 0
    assert names(store) == [("anna@example.org", "", "Müller", "")]


@pytest.mark.parametrize(("codec", "label"), [("koi8_r", "KOI8-R, Cyrillic"),
                                              ("cp1251", "Windows-1251, Cyrillic")])
def test_a_cyrillic_8_bit_file_is_refused_naming_its_encoding(
        workspace: Path, store: Store, tmp_path: Path, codec: str, label: str) -> None:
    result = invite_import(workspace, write(tmp_path, "recipients.csv", RUSSIAN.encode(codec)))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: recipients.csv is neither UTF-8 nor Windows-1252 text (it looks like {label})",
        SAVE_AS,
    ]
    assert store.count_recipients() == 0


@pytest.mark.parametrize("text", ["email,name\na@example.ru,привет мир\n",
                                  "email,name\na@example.ru,ИВАН ПЕТРОВ\n",
                                  "email,first_name\nivan@example.ru,Иван\n"])
@pytest.mark.parametrize("codec", ["koi8_r", "cp1251"])
def test_even_one_cyrillic_word_in_any_case_is_refused(
        workspace: Path, store: Store, tmp_path: Path, text: str, codec: str) -> None:
    result = invite_import(workspace, write(tmp_path, "people.csv", text.encode(codec)))
    assert result.exit_code == 1
    assert result.output.startswith("Error: people.csv is neither UTF-8 nor Windows-1252 text")
    assert store.count_recipients() == 0


@pytest.mark.parametrize(("text", "codec"), [
    ("email,imię,miasto\na@example.pl,Paweł,Wrocław\nb@example.pl,Zażółć,Jaźń\n", "cp1250"),
    ("email,όνομα\na@example.gr,Γιώργος Παπαδόπουλος\nb@example.gr,Καλημέρα\n", "cp1253"),
    ("email,ad\na@example.tr,Şişli Ağaç İstanbul\n", "cp1254"),
], ids=["polish", "greek", "turkish"])
def test_other_8_bit_code_pages_are_refused_without_a_wrong_name(
        workspace: Path, store: Store, tmp_path: Path, text: str, codec: str) -> None:
    result = invite_import(workspace, write(tmp_path, "people.csv", text.encode(codec)))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: people.csv is neither UTF-8 nor Windows-1252 text", SAVE_AS]
    assert store.count_recipients() == 0


def test_utf16_without_a_byte_order_mark_is_refused_not_misread(
        workspace: Path, store: Store, tmp_path: Path) -> None:
    """Before, this got "has no 'email' column", which sent people looking in the wrong place."""
    path = write(tmp_path, "people.csv", "email\tname\r\nanna@example.org\tAnna\r\n"
                 .encode("utf-16-le"))
    result = invite_import(workspace, path)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        ("Error: people.csv is not a text file (it is full of NUL bytes: UTF-16 without a "
         "byte order mark, or a workbook under another name)"), SAVE_AS]
    assert store.count_recipients() == 0


def test_a_damaged_utf16_file_is_refused(workspace: Path, store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv",
                 codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le") + b"\x00\xd8")
    result = invite_import(workspace, path)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "Error: people.csv begins like UTF-16 text but is damaged")


def test_a_few_odd_words_do_not_refuse_a_long_german_file(workspace: Path, store: Store,
                                                          tmp_path: Path) -> None:
    """Odd words are weighed against the file: one company written "ÄÖÜ GmbH" among many
    ordinary names is still Windows-1252."""
    rows = "".join(f"p{n}@example.de;Jürgen;Müller-{n};Bäckerei Groß\r\n" for n in range(20))
    text = ("email;first_name;last_name;organisation\r\n" + rows
            + "x@example.de;Käthe;Weiß;ÄÖÜ GmbH\r\n")
    result = invite_import(workspace, write(tmp_path, "people.csv", text.encode("cp1252")))
    assert result.output == ("Imported people.csv into batch 'people': "
                             "21 added, 0 updated, 0 unchanged.\n")


@pytest.mark.parametrize(("data", "kind"), [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)), "an old Excel workbook (.xls)"),
], ids=["xlsx", "xls"])
def test_a_workbook_named_csv_is_called_what_it_is(workspace: Path, store: Store,
                                                   tmp_path: Path, data: bytes,
                                                   kind: str) -> None:
    result = invite_import(workspace, write(tmp_path, "people.csv", data))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: people.csv is {kind}, not a text file",
        "Hint: Save it as Excel workbook (.xlsx) and import that, or save it as 'CSV UTF-8'."]


@pytest.mark.parametrize("text", [("email,first_name,last_name\na@example.cz,Jiří,Dvořák\n"
                                   "b@example.cz,Petr,Němec\n"),
                                  "email,first_name,last_name\na@example.pl,Łukasz,Wiśniewski\n"])
def test_a_central_european_windows_1250_file_is_refused_not_imported_as_mojibake(
        workspace: Path, store: Store, tmp_path: Path, text: str) -> None:
    result = invite_import(workspace, write(tmp_path, "recipients.csv", text.encode("cp1250")))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == ("Error: recipients.csv is neither UTF-8 nor "
                                             "Windows-1252 text (it looks like Windows-1250, "
                                             "Central European)")
    assert store.count_recipients() == 0
