"""`invite import` says what it did (#10): warnings with their lines, people matched in any
case without rewriting their address, and unchanged people counted as unchanged."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from mailer.cli import app
from rsvp.store import Store
from tests.conftest import TEST_KEY

HEADER = "email,first_name,last_name,salutation,title,organisation,role,language\n"
ANNA = "anna.schmidt@example.org,Anna,Schmidt,Frau,Dr.,Netz Süd,network_manager,de\n"
JUERGEN = "juergen.mueller@example.org,Jürgen,Müller,Herr,,Netz Nord,network_manager,de\n"


def invite(workspace: Path, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_salutations_and_roles_without_quota_are_warned_about_with_their_lines(
        workspace: Path, tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "people.csv", HEADER + ANNA
                 + "kim@example.org,Kim,Bär,Fräulein,,Netz,network_manager,de\n"
                 + "lena@example.org,Lena,Roth,Frau,,Partner AG,partner,de\n"
                 + "max@example.org,Max,Ott,Herr,,Partner AG,partner,de\n"
                 + "ana@example.org,Ana,López,Sra.,,Cluster,company,de\n")
    result = invite(workspace, "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Imported people.csv into batch 'people': 5 added, 0 updated, "
                             "0 unchanged.\n")
    assert result.stderr.splitlines() == [
        ("Warning: line 3: salutation 'Fräulein' is not known; the greeting will be "
         "without salutation."),
        ("Warning: lines 4 and 5: role 'partner' has no quota; they can be admitted without "
         "limit (roles with quotas: network_manager, company)."),
        ("Warning: line 6: salutation 'Sra.' is not known; the greeting will be without "
         "salutation."),
    ]
    # Warnings, not errors: everyone is imported as the file has them.
    assert store.find_recipient("kim@example.org").salutation == "Fräulein"
    assert store.find_recipient("lena@example.org").role == "partner"


def test_known_salutations_in_any_language_and_case_give_no_warning(
        workspace: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", HEADER + "".join(
        f"p{n}@example.org,P,Q,{salutation},,X,company,de\n"
        for n, salutation in enumerate(["frau", "HERR", "Mme", "M.", "Ms", "Mr", ""])))
    result = invite(workspace, "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_the_same_address_in_another_case_keeps_the_address_they_were_invited_with(
        workspace: Path, tmp_path: Path, store: Store) -> None:
    assert invite(workspace, "import", str(write(tmp_path, "a.csv", HEADER + JUERGEN))
                  ).exit_code == 0
    shouted = JUERGEN.replace("juergen.mueller@", "JUERGEN.MUELLER@").replace("Nord", "Ost")
    result = invite(workspace, "import", str(write(tmp_path, "b.csv", HEADER + shouted)))
    assert result.stdout.splitlines()[0] == (
        "Imported b.csv into batch 'b': 0 added, 1 updated, 0 unchanged.")
    juergen = store.find_recipient("juergen.mueller@example.org")
    assert (juergen.email, juergen.email_ascii, juergen.organisation) == (
        "juergen.mueller@example.org", "juergen.mueller@example.org", "Netz Ost")
    assert store.count_recipients() == 1


def test_an_identical_import_counts_everyone_unchanged_and_a_change_as_updated(
        workspace: Path, tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "people.csv", HEADER + ANNA + JUERGEN)
    invite(workspace, "import", str(path))
    before = store.find_recipient("anna.schmidt@example.org")
    stamp = store.conn.execute("SELECT updated_at FROM recipients WHERE id = ?",
                               (before.id,)).fetchone()[0]
    again = invite(workspace, "import", str(path))
    assert again.stdout == ("Imported people.csv into batch 'people': 0 added, 0 updated, "
                            "2 unchanged.\n")
    assert store.conn.execute("SELECT updated_at FROM recipients WHERE id = ?",
                              (before.id,)).fetchone()[0] == stamp
    write(tmp_path, "people.csv", HEADER + ANNA.replace("Dr.", "Prof.") + JUERGEN)
    changed = invite(workspace, "import", str(path))
    assert changed.stdout == ("Imported people.csv into batch 'people': 0 added, 1 updated, "
                              "1 unchanged.\n")
    assert store.find_recipient("anna.schmidt@example.org").title == "Prof."


def test_a_file_with_fewer_columns_changes_nobody_and_says_so(
        workspace: Path, tmp_path: Path, store: Store) -> None:
    invite(workspace, "import", str(write(tmp_path, "people.csv", HEADER + ANNA)))
    only_addresses = write(tmp_path, "people.csv", "email\nANNA.SCHMIDT@example.org\n")
    result = invite(workspace, "import", str(only_addresses))
    assert result.stdout == ("Imported people.csv into batch 'people': 0 added, 0 updated, "
                             "1 unchanged.\n")
    anna = store.find_recipient("anna.schmidt@example.org")
    assert (anna.email, anna.role, anna.title) == ("anna.schmidt@example.org",
                                                   "network_manager", "Dr.")
