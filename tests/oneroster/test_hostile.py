"""Hostile exchanges (generated here, in tmp_path): a FIFO, a device, a symlink out of the
folder, a zip bomb, a file over the cap. Each run ends at once with exit 1 naming the file,
stores nothing, and never reads a file the mapping does not use."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from .support import cli as run_cli
from .support import school, write, write_config

pytestmark = pytest.mark.timeout(20)  # a regression that blocks on a FIFO fails, not hangs


def run(tmp_path, monkeypatch, path, **options):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", path, **options)
    return run_cli("run", "oneroster", "--school", "oak")


def refused(result, *needles):
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["failed"]
    assert json.loads(run_cli("export", "students", "--format", "json").stdout) == []


def test_a_fifo_as_the_exchange_is_refused(tmp_path, monkeypatch):
    fifo = tmp_path / "exchange.zip"
    os.mkfifo(fifo)
    refused(run(tmp_path, monkeypatch, fifo), f"{fifo}: not a regular file")


def test_a_fifo_as_a_member_file_is_refused(tmp_path, monkeypatch):
    folder = write(tmp_path / "x", school())
    (folder / "users.csv").unlink()
    os.mkfifo(folder / "users.csv")
    refused(run(tmp_path, monkeypatch, folder), "users.csv: not a regular file")


def test_a_device_as_the_exchange_is_refused(tmp_path, monkeypatch):
    refused(run(tmp_path, monkeypatch, "/dev/zero"), "/dev/zero: not a regular file")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path, monkeypatch):
    folder = write(tmp_path / "x", school())
    (folder / "users.csv").unlink()
    (folder / "users.csv").symlink_to("/dev/zero")
    refused(run(tmp_path, monkeypatch, folder), "users.csv: a symlink leading out of")


def test_a_symlink_within_the_folder_is_read(tmp_path, monkeypatch):
    folder = write(tmp_path / "x", school())
    (folder / "users.csv").rename(folder / "users-2025.csv.txt")
    (folder / "users.csv").symlink_to("users-2025.csv.txt")
    result = run(tmp_path, monkeypatch, folder)
    assert result.exit_code == 0, result.stderr


def _zip(tmp_path, members: dict[str, bytes], big: dict[str, tuple[bytes, int]]):
    """The school as a zip, with `big` members written as a chunk repeated n times."""
    path = write(tmp_path / "x", school(), as_zip=True)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, (chunk, times) in big.items():
            with z.open(name, "w", force_zip64=True) as out:
                for _ in range(times):
                    out.write(chunk)
    return path


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    path = write(tmp_path / "x", school(), as_zip=True)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "users.csv"}
    path.unlink()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in files.items():
            z.writestr(n, data)
        with z.open("users.csv", "w", force_zip64=True) as out:
            out.write(b"sourcedId,role\n")
            for _ in range(4):
                out.write(b"\0" * (1024 * 1024))  # 4 MB of zeros: about 4 KB compressed
    refused(run(tmp_path, monkeypatch, path), "users.csv: inflates more than 200 times")


def test_a_file_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    folder = write(tmp_path / "x", school())
    with (folder / "enrollments.csv").open("ab") as f:
        f.write(os.urandom(600 * 1024).hex().encode() + b"\n")  # 1.2 MB more
    refused(run(tmp_path, monkeypatch, folder, max_file_mb=1), "enrollments.csv: more than 1 MB")


def test_files_the_exchange_does_not_use_are_never_opened(tmp_path, monkeypatch):
    """A bomb in courses.csv and a FIFO as academicSessions.csv: neither is read."""
    path = _zip(tmp_path, {}, {"courses.csv": (b"\0" * (1024 * 1024), 4)})
    result = run(tmp_path, monkeypatch, path)
    assert result.exit_code == 0, result.stderr
    folder = write(tmp_path / "y", school())
    (folder / "academicSessions.csv").unlink()
    os.mkfifo(folder / "academicSessions.csv")
    write_config(tmp_path, f"sqlite:///{tmp_path / 'db2.sqlite'}", folder)
    assert run_cli("run", "oneroster", "--school", "oak").exit_code == 0


def test_a_bulk_file_keeps_only_the_rows_the_school_can_use(tmp_path):
    """Memory follows the school: a district's other schools are dropped as they are read."""
    from mis_sync.connectors.oneroster.files import MB, Caps
    from mis_sync.connectors.oneroster.source import read_exchange

    from .support import ORG, enrol, klass, user

    data = school()
    data["users"] += [user(f"x{n}", "student", "sch-elm", n % 12) for n in range(3000)]
    data["classes"] += [klass(f"cx{n}", f"X{n}", "scheduled", school="sch-elm") for n in range(300)]
    data["enrollments"] += [
        enrol(f"ex{n}", f"cx{n % 300}", f"x{n}", "student", school="sch-elm") for n in range(3000)
    ]
    path = write(tmp_path / "x", data)
    exchange = read_exchange(
        path, org=ORG, title_column=None, progress=lambda *a: None, caps=Caps(MB * 64, 200)
    )
    sizes = {name: len(t.rows) for name, t in exchange.tables.items()}
    # Oak's 2 pupils, 2 teachers, 3 contacts; its 2 classes and their 7 enrollments; the
    # Elm pupil and teacher named by none of Oak's classes are dropped
    assert sizes == {
        "orgs": 3,
        "roles": 0,
        "users": 7,
        "classes": 2,
        "enrollments": 7,
        "demographics": 1,
    }
    assert exchange.orgs_with_classes == {"sch-oak", "sch-elm"}
