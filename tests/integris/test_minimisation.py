"""Data minimisation (docs/data-protection.md): what Datashare sends beyond the canonical model
is read by no one and kept nowhere: not in records, events, source state or the logs."""

from __future__ import annotations

import logging

from ..core.stored import assert_only_canonical_fields, stored_text
from .support import fake, small, sync

EXTRA = {
    "students": {"Ethnicity": "zq-ethnic-71", "MedicalNotes": "zq-medical-72", "UPN": "zq-upn-73"},
    "contacts": {"HomeAddress": "zq-address-74", "Occupation": "zq-job-75"},
    "staff": {"NINumber": "zq-ni-76", "Salary": "zq-pay-77"},
    "contact-links": {"CourtOrder": "zq-court-78"},
}


def test_the_store_and_the_logs_hold_nothing_beyond_the_canonical_model(store, caplog):
    data = small()
    for resource, extra in EXTRA.items():
        for record in data[resource]:
            record.update(extra)
    with caplog.at_level(logging.DEBUG):
        assert sync(store, fake(data))["status"] == "ok"
        data["students"][0]["Surname"] = "Rowan-Hale"  # an update event too
        assert sync(store, fake(data))["updated"] >= 1
    assert "oak: mapped" in caplog.text  # the debug log really was on
    text = stored_text(store.engine) + caplog.text
    assert "Rowan-Hale" in stored_text(store.engine)  # the search does see stored values
    for extra in EXTRA.values():
        for value in extra.values():
            assert value not in text, value
    # LegalForename is only a fallback for a missing KnownName: where that is set, it is
    # not kept (Amy is stored, Amelia is not)
    assert "Amy" in text and "Amelia" not in text
    assert_only_canonical_fields(store.engine)
