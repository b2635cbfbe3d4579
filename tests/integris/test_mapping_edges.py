"""Edges of the Integris mapping found by mutation testing (docs/testing.md): a title or
name naming three people is no combined contact of two, and is kept whole."""

from __future__ import annotations

from .support import fake, small, sync


def contacts(store) -> dict:
    return {c["id"]: c for c in store.export("oak", "contacts", {})}


def test_three_titles_or_three_forenames_are_kept_whole(store):
    data = small()
    data["contacts"][0].update(Title="Mr and Mrs and Dr", Forename="Jon and Jan")
    data["contacts"][1].update(Title="Ms & Mx", Forename="Pia and Pat and Pam")
    sync(store, fake(data))
    stored = contacts(store)
    assert stored["9001"]["title"] == "Mr and Mrs and Dr"
    assert stored["9001"]["split_from"] is None
    assert [(stored[f"9002-{n}"]["title"], stored[f"9002-{n}"]["forename"]) for n in (1, 2)] == [
        ("Ms", "Pia and Pat and Pam"),
        ("Mx", "Pia and Pat and Pam"),
    ]
