"""The config file: typed, and every mistake named by file, key and line (cli.md)."""

from __future__ import annotations

import msgspec
import pytest

from mis_sync.core.config import Config, bind_school, find_config, load_config
from mis_sync.core.errors import ConfigError


class Extra(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    base_url: str
    page_limit: int = 500


GOOD = """\
database = "sqlite:///x.db"

[schools.oak]
connector = "integris"
base_url = "https://datashare.example.org/api"
parental_responsibility_only = true
"""


def write(tmp_path, text):
    path = tmp_path / "mis-sync.toml"
    path.write_text(text)
    return path


def test_a_good_config_binds_core_and_plugin_options(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    school = bind_school(config, "oak", [Extra])
    assert school.parental_responsibility_only is True
    assert school.mass_delete_threshold == 0.2
    assert school.options(Extra).page_limit == 500


def test_unknown_school_option_names_file_key_and_line(tmp_path):
    path = write(tmp_path, GOOD + 'colour = "red"\n')
    with pytest.raises(ConfigError) as err:
        bind_school(load_config(path), "oak", [Extra])
    assert str(err.value) == f"{path}, line 7: schools.oak.colour: unknown option 'colour'"


def test_wrong_type_names_file_key_and_line(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace("parental_responsibility_only = true", "parental_responsibility_only = 1"),
    )
    with pytest.raises(ConfigError) as err:
        bind_school(load_config(path), "oak", [Extra])
    assert str(err.value).startswith(
        f"{path}, line 6: schools.oak.parental_responsibility_only: Expected `bool`"
    )


def test_unknown_top_level_key_names_its_line(tmp_path):
    path = write(tmp_path, 'databse = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}, line 1: databse: unknown key 'databse' (did you mean 'database'?)"
    )


def test_threshold_out_of_range_is_refused(tmp_path):
    path = write(tmp_path, GOOD + "mass_delete_threshold = 3\n")
    with pytest.raises(ConfigError) as err:
        bind_school(load_config(path), "oak", [Extra])
    # the key's own line (7), not its table's header
    assert str(err.value) == (
        f"{path}, line 7: schools.oak.mass_delete_threshold: Expected `float` <= 1.0"
    )


def test_not_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[schools\n"))


def test_config_is_found_by_flag_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    assert find_config(None) is None
    write(tmp_path, GOOD)
    assert find_config(None).name == "mis-sync.toml"
    monkeypatch.setenv("MIS_SYNC_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        find_config(None)


def test_unknown_school_lists_the_configured_ones():
    with pytest.raises(ConfigError, match=r"no school 'elm' \(configured: oak\)"):
        bind_school(Config(schools={"oak": {"connector": "x"}}), "elm", [])
