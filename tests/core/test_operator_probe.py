"""What a hostile probe of the CLI found: an empty ID answered as if it named a record, a
password in a connector's base_url refused by `run` only, a folder given as --config, and
`purge` with no config. Each is a usage or config error in one line (exit 2), or, for purge,
what the listing commands do."""

from __future__ import annotations

import pytest

from mis_sync.core.errors import ConfigError

from .operator_support import INTEGRIS, PASSWORD, one_line, synced_trust

# the fixtures `mis_sync` and `trust`
pytest_plugins = ["tests.core.operator_support"]

# -- an empty or blank ID names no record ---------------------------------------------------

TAKING_AN_ID = {
    "explain": (["explain", "students", "{id}"], "ID"),
    "set": (["set", "teacher", "{id}", "room", "B12"], "ID"),
    "forget": (["forget", "students", "{id}", "--yes"], "ID"),
    "export-person": (["export-person", "students", "{id}"], "ID"),
    "changes": (["changes", "--id", "{id}"], "--id"),
    "left-out": (["left-out", "--id", "{id}"], "--id"),
    "dismiss-a": (["duplicates", "dismiss", "{id}", "c01"], "A"),
    "dismiss-b": (["duplicates", "dismiss", "c01", "{id}"], "B"),
    "report": (["duplicates", "report", "{id}", "c01"], "A"),
}


@pytest.fixture
def synced_sqlite(tmp_path, mis_sync):
    """The trust of two schools, synced once, on SQLite only: an ID is checked before the
    store is read, so the rule does not depend on the database (the store's own tests run
    on both)."""
    return synced_trust(tmp_path, f"sqlite:///{tmp_path / 'trust.db'}", mis_sync)


def with_id(mis_sync, config, command: str, given: str):
    """`command` of TAKING_AN_ID with `given` as its ID, for school north; and the name the
    command's error gives the ID."""
    template, name = TAKING_AN_ID[command]
    args = [a.replace("{id}", given) for a in template]
    return mis_sync("--config", str(config), *args, "--school", "north"), name


@pytest.mark.parametrize("given, state", [("", "empty"), ("  \t", "blank")], ids=["empty", "blank"])
@pytest.mark.parametrize("command", TAKING_AN_ID)
def test_an_empty_or_blank_id_is_a_usage_error_naming_it(
    synced_sqlite, mis_sync, command, given, state
):
    result, name = with_id(mis_sync, synced_sqlite, command, given)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert one_line(result) == (
        f"mis-sync: error: {name} {given!r} is {state}: give the record's ID as the MIS gives it"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    "given, shown",
    [("s01\n", "'s01\\n'"), ("\udcff\udcfe", "'\\udcff\\udcfe'"), ("a\x1b[2J", "'a\\x1b[2J'")],
    ids=["newline", "not-utf8", "escape"],
)
@pytest.mark.parametrize("command", TAKING_AN_ID)
def test_an_id_with_a_control_character_or_not_utf8_is_a_usage_error(
    synced_sqlite, mis_sync, command, given, shown
):
    """Such an ID names no record and would break the one-line output (or crash it). The
    check comes before the store is read, so one database (SQLite) is enough here."""
    result, name = with_id(mis_sync, synced_sqlite, command, given)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert one_line(result) == (
        f"mis-sync: error: {name} {shown} holds a control character or bytes that are not"
        " UTF-8: give the record's ID as the MIS gives it"
    )


def test_an_id_with_spaces_around_it_is_still_looked_up(trust, mis_sync):
    """Only an ID that is nothing but blanks is refused: the MIS's own IDs are kept as given."""
    result = mis_sync("--config", str(trust), "explain", "students", " s01", "--school", "north")
    assert result.exit_code == 0, result.stderr
    assert "never sent" in result.stdout


# -- a URL holding a user name or password, refused by every command ------------------------

ALL_READING_THE_CONFIG = [
    ["run", "integris"],
    ["runs"],
    ["changes"],
    ["explain", "students", "s01"],
    ["export", "students"],
    ["left-out"],
    ["purge", "--dry-run"],
    ["db", "upgrade"],
]


@pytest.mark.parametrize(
    "base_url, shown",
    [
        (f"https://sync:{PASSWORD}@datashare.example.org/api", "https://datashare.example.org/api"),
        ("https://sync@datashare.example.org/api", "https://datashare.example.org/api"),
        (
            f"https://a:{PASSWORD}@b@datashare.example.org:8443/api",
            "https://datashare.example.org:8443/api",
        ),
        (f"//sync:{PASSWORD}@datashare.example.org/api", "//datashare.example.org/api"),
        (f"sync:{PASSWORD}@datashare.example.org/api", "datashare.example.org/api"),
    ],
    ids=["user-and-password", "user", "at-in-password", "no-scheme", "no-scheme-no-slashes"],
)
@pytest.mark.parametrize("args", ALL_READING_THE_CONFIG, ids=lambda a: "-".join(a))
def test_a_url_with_credentials_is_refused_by_every_command_naming_file_line_and_key(
    mis_sync, args, base_url, shown
):
    with open("mis-sync.toml", "w") as f:
        f.write(INTEGRIS.replace("https://datashare.example.org/api", base_url))
    result = mis_sync(*args, env={"ST_MARY_SECRET": "s3cret-from-env"})
    assert result.exit_code == 2, result.stdout + result.stderr
    assert one_line(result) == (
        "mis-sync: error: mis-sync.toml, line 5: schools.st-mary.base_url: must not hold a user"
        " name or password (the client secret comes from client_secret_env); without them it"
        f" reads {shown!r}"
    )
    assert PASSWORD not in result.stdout + result.stderr
    assert "sync@" not in result.stdout + result.stderr


def test_an_email_address_in_an_option_is_not_taken_for_a_credential():
    from mis_sync.core.config import without_credentials

    assert without_credentials("data.manager@example.org") is None
    assert without_credentials("https://datashare.example.org/api") is None
    assert without_credentials("sync:pw@datashare.example.org/api") == "datashare.example.org/api"
    for harmless in ("mailto:data.manager@example.org", "org:north@x", "h?x=u:p@y/z"):
        assert without_credentials(harmless) is None, harmless


@pytest.mark.parametrize("base_url", [f"h/api?x=u:{PASSWORD}@y", f"u:{PASSWORD}@h", "ftp:x"])
def test_a_base_url_that_is_not_https_is_named_by_scheme_and_host_only(base_url):
    """Whatever else such a string holds may be a secret: the message never shows it."""
    from mis_sync.core.http import HttpClient

    with pytest.raises(ConfigError) as refused:
        HttpClient(base_url)
    assert "must be https://" in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_the_http_client_applies_the_same_rule():
    """A client made outside a config (a connector's own tests) is refused the same way."""
    from mis_sync.core.http import HttpClient

    with pytest.raises(ConfigError) as refused:
        HttpClient(f"https://sync:{PASSWORD}@datashare.example.org/api")
    assert str(refused.value) == (
        "base_url 'https://datashare.example.org/api': must not hold a user name or password"
        " (the client secret comes from client_secret_env)"
    )


# -- a folder given as the config -----------------------------------------------------------


@pytest.mark.parametrize("how", ["--config", "MIS_SYNC_CONFIG", "./mis-sync.toml"])
def test_a_folder_given_as_the_config_is_exit_2_saying_it_is_a_folder(mis_sync, tmp_path, how):
    folder = tmp_path / "work" / ("mis-sync.toml" if how == "./mis-sync.toml" else "etc")
    folder.mkdir()
    if how == "--config":
        result = mis_sync("--config", str(folder), "runs")
    elif how == "MIS_SYNC_CONFIG":
        result = mis_sync("runs", env={"MIS_SYNC_CONFIG": str(folder)})
    else:
        result = mis_sync("runs")
    given = "mis-sync.toml" if how == "./mis-sync.toml" else str(folder)
    assert result.exit_code == 2
    assert one_line(result) == f"mis-sync: error: {given}: is a folder, not a config file"


def test_a_folder_holding_a_config_is_named_as_the_likely_meaning(mis_sync, tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "mis-sync.toml").write_text(INTEGRIS)
    result = mis_sync("--config", str(folder), "runs")
    assert result.exit_code == 2
    assert one_line(result) == (
        f"mis-sync: error: {folder}: is a folder, not a config file"
        f" (did you mean {folder / 'mis-sync.toml'}?)"
    )


# -- purge with no config -------------------------------------------------------------------


@pytest.mark.parametrize("demo", [False, True], ids=["no-demo", "demo"])
@pytest.mark.parametrize("args", [[], ["--dry-run"], ["--school", "demo-oneroster"]])
def test_purge_with_no_config_refuses_rather_than_purge_the_demo(mis_sync, tmp_path, demo, args):
    """A cron job's `mis-sync purge` whose config went missing must fail: the demo database
    (made-up schools, purged by each demo run) is never purged in place of the real one."""
    if demo:
        assert mis_sync("run", "oneroster", "--demo").exit_code == 0
    before = sorted(p.name for p in (tmp_path / "work").iterdir())
    result = mis_sync("purge", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert one_line(result) == (
        "mis-sync: error: purge: no config file found (looked at --config, $MIS_SYNC_CONFIG,"
        " ./mis-sync.toml), so no database to purge; the demo database needs none (every demo"
        " run purges it)"
    )
    assert result.stdout == ""
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == before  # nothing created


def test_purge_with_a_config_still_purges_every_school(trust, mis_sync):
    result = mis_sync("--config", str(trust), "purge", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["north", "south"]
