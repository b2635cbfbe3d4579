"""The kit fails a connector that breaks the contract: a kit that always passes proves nothing.

The standard tests are plain methods taking their fixtures as arguments, so each is called
here directly with a broken connector or dataset.
"""

import itertools

import pluggy
import pytest

from mis_sync.core.hookspecs import hookimpl
from mis_sync.core.schema import Class, ClassTeacher, Dataset, Student, Teacher
from mis_sync.core.testing import ConnectorConformance


def school_of(surname: str) -> Dataset:
    return Dataset.of(
        students=[Student(id="S1", surname=surname)],
        teachers=[Teacher(id="T1", title="Ms", forename="Ada", surname="Example")],
        classes=[
            Class(
                id="C1",
                kind="registration",
                teachers=[ClassTeacher(teacher_id="T1", role="main")],
                student_ids=["S1"],
            )
        ],
    )


class Drifting:
    """A connector whose source changes on every read, as a clock or counter in an ID would."""

    def __init__(self) -> None:
        self.reads = itertools.count()

    @hookimpl
    def mis_sync_fetch(self):
        return school_of(f"Example{next(self.reads)}")

    @hookimpl
    def mis_sync_map(self, raw):
        return raw


class Misspelt:
    @hookimpl
    def mis_sync_fech(self):
        return None


class MapOnly:
    @hookimpl
    def mis_sync_map(self, raw):
        return raw


def kit(**attributes) -> ConnectorConformance:
    return type("Kit", (ConnectorConformance,), {"options": {"connector": "x"}, **attributes})()


def test_a_hook_that_matches_no_spec_fails():
    with pytest.raises(pluggy.PluginValidationError, match="mis_sync_fech"):
        kit(connector=Misspelt()).test_hooks_match_their_specs()


def test_a_connector_without_fetch_fails():
    with pytest.raises(AssertionError, match="mis_sync_map"):
        kit(connector=MapOnly()).test_hooks_match_their_specs()


def test_a_record_of_the_wrong_type_fails():
    broken = school_of(5)  # Struct constructors let it through; the kit must not
    with pytest.raises(pytest.fail.Exception, match=r"students S1: .*\$\.surname"):
        kit().test_mapped_records_satisfy_the_canonical_schemas(broken)


def test_an_id_sent_twice_fails():
    twice = school_of("Example")
    twice.add("students", [Student(id="S1")])
    with pytest.raises(AssertionError, match="more than once"):
        kit().test_source_ids_are_present_and_unique(twice)


def test_a_source_that_changes_between_identical_runs_fails(tmp_path):
    with pytest.raises(AssertionError, match="second run over the same data changed"):
        kit(connector=Drifting()).test_two_runs_over_the_same_data_change_nothing(tmp_path)


@pytest.mark.parametrize(
    "leak",
    [
        "authorization: [Bearer eyJhbGciOiJIUzI1NiJ9.payload]",
        "body: grant_type=client_credentials&client_secret=s3cr3t-value",
        'string: \'{"access_token": "abcdef123456", "expires_in": 3600}\'',
    ],
)
def test_a_cassette_holding_a_secret_fails(tmp_path, leak):
    (tmp_path / "session.yaml").write_text(f"interactions:\n- request:\n    {leak}\n")
    with pytest.raises(AssertionError, match="session.yaml: holds what looks like a secret"):
        kit(cassette_dir=str(tmp_path)).test_no_cassette_holds_a_secret_or_token()


def test_a_scrubbed_cassette_passes(tmp_path):
    (tmp_path / "session.yaml").write_text(
        'authorization: ["***"]\nbody: client_secret=***\n{"access_token": "***"}\n'
    )
    kit(cassette_dir=str(tmp_path)).test_no_cassette_holds_a_secret_or_token()
