"""Data minimisation (docs/data-protection.md): OneRoster columns beyond the canonical model
are kept nowhere: not in records, events, the connector's source state, or the logs."""

from __future__ import annotations

import logging

from ..core.stored import assert_only_canonical_fields, stored_text
from .support import HEADERS, school, sync, write

USER_EXTRA = {"middleName": "Zqmiddle", "password": "zq-pass-81", "identifier": "zq-ident-82"}
USER_EXTRA |= {"userIds": "{zq:uid-83}"}
ETHNICITY = "metadata.ethnicity"


def test_the_store_and_the_logs_hold_nothing_beyond_the_canonical_model(store, tmp_path, caplog):
    data = school()
    for user in data["users"]:
        user.update(USER_EXTRA, **{ETHNICITY: "zq-ethnic-84"})
    data["demographics"][0]["sex"] = "zq-sex-85"
    headers = {"users": [*HEADERS["users"], ETHNICITY]}
    with caplog.at_level(logging.DEBUG):
        result = sync(store, write(tmp_path / "x", data, headers=headers))
    assert result["status"] == "ok" and "oak: mapped" in caplog.text
    text = stored_text(store.engine)
    assert "Valley District" in text  # an org's name, kept only in the source state: searched
    usernames = [u["username"] for u in data["users"]]
    for value in [*USER_EXTRA.values(), "zq-ethnic-84", "zq-sex-85", *usernames]:
        assert value not in text + caplog.text, value
    assert_only_canonical_fields(store.engine)
