"""The fake Datashare keeps to datashare-wire.md, and the demo school holds every planted case.

Everything else about Integris is tested through this fake, so a fake that drifts from the
wire spec would let the connector drift with it unnoticed.
"""

from __future__ import annotations

import httpx
import msgspec
import pytest

from mis_sync.connectors.integris import demo
from mis_sync.connectors.integris.demo import DEMO_SCHOOL_ID, generate_school
from mis_sync.connectors.integris.fake import BASE_URL_INPROCESS, FakeDatashare, Fault, serve

CREDS = {"grant_type": "client_credentials", "client_id": "demo-client"}
DATA = "/v1/schools/1001"


def client(fake: FakeDatashare) -> httpx.Client:
    return httpx.Client(transport=fake.transport(), base_url=BASE_URL_INPROCESS)


def token(http: httpx.Client) -> dict:
    response = http.post("/oauth/token", data={**CREDS, "client_secret": "demo-secret"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def get(http, resource, auth, **params):
    return http.get(f"{DATA}/{resource}", params=params, headers=auth)


def all_pages(http, resource, auth, limit) -> tuple[list, int]:
    records, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = get(http, resource, auth, **params).json()
        records += body["data"]
        pages += 1
        if not (cursor := body["meta"]["next_cursor"]):
            return records, pages


@pytest.fixture(scope="module")
def school() -> dict:
    return generate_school(60)


def test_token_flow(school):
    fake = FakeDatashare(school)
    with client(fake) as http:
        wrong = http.post("/oauth/token", data={**CREDS, "client_secret": "nope"})
        assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
        assert http.post("/oauth/token", data=CREDS).status_code == 401
        answer = http.post("/oauth/token", data={**CREDS, "client_secret": "demo-secret"}).json()
        assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
        assert get(http, "students", {}).json() == {"error": "invalid_token"}
        assert get(http, "students", {"Authorization": "Bearer made-up"}).status_code == 401
        auth = {"Authorization": f"Bearer {answer['access_token']}"}
        assert get(http, "students", auth).status_code == 200
    assert fake.tokens_issued == 1
    assert fake.requests[0] == ("POST", "/api/oauth/token")
    assert fake.requests[-1] == ("GET", "/api/v1/schools/1001/students")


def test_paging_returns_every_record_once(school):
    fake = FakeDatashare(school)
    with client(fake) as http:
        auth = token(http)
        for resource in ("students", "contact-links", "classes"):
            records, pages = all_pages(http, resource, auth, limit=7)
            assert records == school[resource]
            assert pages == -(-len(school[resource]) // 7)
        first = get(http, "students", auth, limit=7).json()
        assert first["meta"]["total"] == len(school["students"])
        assert not first["meta"]["next_cursor"].isdigit()  # opaque
        assert len(get(http, "students", auth).json()["data"]) == 60  # default limit 500


def test_requests_the_spec_refuses(school):
    fake = FakeDatashare({"students": school["students"]})
    with client(fake) as http:
        auth = token(http)
        assert get(http, "students", auth, limit=1001).json() == {"error": "invalid_limit"}
        assert get(http, "students", auth, limit=1000).status_code == 200
        assert get(http, "students", auth, cursor="!!nonsense").status_code == 400
        assert get(http, "students", auth, cursor="MTI").status_code == 400  # base64 of "12"
        assert get(http, "pupils", auth).status_code == 404
        other = http.get("/v1/schools/9999/students", headers=auth)
        assert (other.status_code, other.json()) == (404, {"error": "not_found"})
        empty = get(http, "groups", auth).json()  # not in the data: an empty list
        assert empty == {"data": [], "meta": {"next_cursor": None, "total": 0}}


def test_status_faults_fire_on_their_page_the_given_times(school):
    faults = [
        Fault(kind="status", resource="students", status=429, retry_after=7),
        Fault(kind="status", resource="students", page=2, status=503, retry_after=1.5, times=2),
        Fault(kind="status", resource="contacts", status=403),
        Fault(kind="status", resource="staff", status=500, body={"error": "custom"}),
    ]
    fake = FakeDatashare(school, faults=faults)
    with client(fake) as http:
        auth = token(http)
        first = get(http, "students", auth, limit=10)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
        page1 = get(http, "students", auth, limit=10).json()
        cursor = page1["meta"]["next_cursor"]
        for _ in range(2):
            again = get(http, "students", auth, limit=10, cursor=cursor)
            assert (again.status_code, again.headers["Retry-After"]) == (503, "1.5")
        assert get(http, "students", auth, limit=10, cursor=cursor).status_code == 200
        denied = get(http, "contacts", auth)
        assert denied.status_code == 403
        assert denied.json() == {
            "error": "permission_not_granted",
            "permission": "Basic information about a student",
        }
        assert "Retry-After" not in denied.headers
        assert get(http, "staff", auth).json() == {"error": "custom"}
        assert get(http, "staff", auth).status_code == 200


def test_expire_token_invalidates_every_token(school):
    fake = FakeDatashare(school, faults=[Fault(kind="expire_token", resource="classes")])
    with client(fake) as http:
        auth = token(http)
        assert get(http, "classes", auth).json() == {"error": "invalid_token"}
        assert get(http, "students", auth).status_code == 401
        assert get(http, "classes", token(http)).status_code == 200
    assert fake.tokens_issued == 2


@pytest.mark.parametrize("kind", ["not_json", "wrong_shape", "truncated"])
def test_bad_bodies(school, kind):
    fake = FakeDatashare(school, faults=[Fault(kind=kind, resource="students", page=2)])
    with client(fake) as http:
        auth = token(http)
        cursor = get(http, "students", auth, limit=10).json()["meta"]["next_cursor"]
        bad = get(http, "students", auth, limit=10, cursor=cursor)
        good = get(http, "students", auth, limit=10, cursor=cursor)
    assert bad.status_code == 200 and good.status_code == 200
    if kind == "not_json":
        assert bad.headers["content-type"] == "text/html"
        assert bad.content == b"<html>Service Unavailable</html>"
    elif kind == "wrong_shape":
        assert bad.json() == {"items": [], "next": None}
    else:
        assert good.content.startswith(bad.content) and len(bad.content) < len(good.content)
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(bad.content)


@pytest.mark.parametrize("page", [1, 2])
def test_loop_cursor_points_back_at_the_same_page_forever(school, page):
    fake = FakeDatashare(school, faults=[Fault(kind="loop_cursor", resource="students", page=page)])
    with client(fake) as http:
        auth = token(http)
        cursor = None
        if page == 2:
            cursor = get(http, "students", auth, limit=10).json()["meta"]["next_cursor"]
        seen = []
        for _ in range(3):
            params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
            body = get(http, "students", auth, **params).json()
            seen.append((body["data"], body["meta"]["next_cursor"]))
            cursor = body["meta"]["next_cursor"]
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][0] == school["students"][(page - 1) * 10 : page * 10]


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FakeDatashare({}, faults=[Fault(kind="explode", resource="students")])


def test_serve_on_loopback(school):
    fake = FakeDatashare(school, school_id=DEMO_SCHOOL_ID)
    with serve(fake) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api")
        with httpx.Client(base_url=base_url) as http:
            records, _ = all_pages(http, "students", token(http), limit=25)
    assert records == school["students"]
    assert ("GET", "/api/v1/schools/1001/students?limit=25") in fake.requests
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/oauth/token", timeout=2)


def test_generate_school_is_deterministic():
    assert generate_school(300) == generate_school(300)
    assert generate_school(300, seed=8) != generate_school(300)
    assert msgspec.json.encode(generate_school(50)) == msgspec.json.encode(generate_school(50))


def test_demo_school_looks_made_up_and_consistent():
    school = generate_school(300)
    emails = [r["Email"] for k in ("contacts", "staff") for r in school[k] if r.get("Email")]
    assert all(e.strip().lower().endswith("@example.org") for e in emails)
    phones = [r["Phone"] for r in school["contacts"] if r.get("Phone")]
    assert all(p.startswith("01632 96") and len(p) == 12 for p in phones)
    registration = {c["ClassCode"]: c for c in school["classes"] if c["Type"] == "Registration"}
    for student in school["students"]:
        year = int(student["YearGroup"].split()[1])
        born = int(student["DateOfBirth"][:4])
        assert born in (demo.ACADEMIC_YEAR - year - 5, demo.ACADEMIC_YEAR - year - 4)
        if student["StudentID"] != demo.STUDENT_CLUB_ONLY:
            form = registration[student["RegistrationGroup"]]
            assert student["StudentID"] in form["StudentIDs"]
            assert form["StaffIDs"] is None and form["StaffID1"]
    teaching = [c for c in school["classes"] if c["Type"] == "Teaching set" and c["StudentIDs"]]
    assert all(1 <= len(c["StaffIDs"]) <= 3 for c in teaching)


def test_scale_at_2000_pupils():
    school = generate_school(2000)
    count = {k: len(v) for k, v in school.items()}
    assert count["students"] == 2000
    assert 3000 <= count["contacts"] <= 4000
    assert 150 <= count["staff"] <= 200
    assert 900 <= count["classes"] <= 1100
    assert 24_000 <= sum(len(c["StudentIDs"]) for c in school["classes"]) <= 28_000
    assert 30 <= count["groups"] <= 50
    links = school["contact-links"]
    shared = {}
    for link in links:
        shared.setdefault(link["ContactID"], set()).add(link["StudentID"])
    with_sibling = {s for students in shared.values() if len(students) > 1 for s in students}
    assert 0.15 <= len(with_sibling) / 2000 <= 0.25


@pytest.mark.parametrize("pupils", [50, 300])
def test_every_planted_case_is_there(pupils):
    school = generate_school(pupils)
    by = {
        "students": {r["StudentID"]: r for r in school["students"]},
        "contacts": {r["ContactID"]: r for r in school["contacts"]},
        "staff": {r["StaffID"]: r for r in school["staff"]},
        "classes": {r["ClassID"]: r for r in school["classes"]},
        "groups": {r["GroupID"]: r for r in school["groups"]},
    }
    links = {(r["StudentID"], r["ContactID"]): r for r in school["contact-links"]}
    students, contacts, classes = by["students"], by["contacts"], by["classes"]

    assert "KnownName" not in students[demo.STUDENT_NO_KNOWN_NAME]
    padded = students[demo.STUDENT_PADDED]
    assert padded["KnownName"] != padded["KnownName"].strip()
    assert padded["Surname"] != padded["Surname"].strip()
    in_classes = [c for c in classes.values() if demo.STUDENT_CLUB_ONLY in c["StudentIDs"]]
    assert [c["ClassID"] for c in in_classes] == [demo.CLASS_CLUB]

    assert contacts[demo.CONTACT_COMBINED]["Title"] == "Mr and Mrs"
    assert " and " in contacts[demo.CONTACT_COMBINED]["Forename"]
    single = contacts[demo.CONTACT_COMBINED_SINGLE]
    assert single["Title"] == "Mr & Mr" and " " not in single["Forename"]
    a, b = (contacts[c] for c in demo.CONTACT_DUPLICATES)
    fields = ("Title", "Forename", "Surname", "Email")
    assert [a[f].strip().casefold() for f in fields] == [b[f].strip().casefold() for f in fields]
    assert [a[f] for f in fields] != [b[f] for f in fields]
    a, b = (contacts[c] for c in demo.CONTACT_NEAR_SAME_EMAIL)
    assert a["Email"] == b["Email"] and a["Forename"] != b["Forename"]
    a, b = (contacts[c] for c in demo.CONTACT_NEAR_SAME_NAMES)
    assert a["Forename"] == b["Forename"] and a["Email"] != b["Email"]
    assert not contacts[demo.CONTACT_BLANK_SURNAME]["Surname"].strip()
    assert not any(c == demo.CONTACT_NO_LINKS for _, c in links)
    upper = contacts[demo.CONTACT_UPPER_EMAIL]["Email"]
    assert upper != upper.strip().lower()

    dup_students = {s for s, c in links if c in demo.CONTACT_DUPLICATES}
    assert len(dup_students) == 2
    assert "Relationship" not in links[demo.LINK_NO_RELATIONSHIP]
    assert links[demo.LINK_PR_NULL]["ParentalResponsibility"] is None
    assert links[demo.LINK_PR_FALSE]["ParentalResponsibility"] is False
    assert "ParentalResponsibility" not in links[demo.LINK_PR_MISSING]
    assert all(s in students for s, _ in links)

    staff = by["staff"]
    assert not staff[demo.TEACHER_BLANK_TITLE]["Title"]
    teaching = {t for c in classes.values() for t in (c["StaffIDs"] or [])}
    tutors = {c[k] for c in classes.values() for k in ("StaffID1", "StaffID2")}
    assert demo.TEACHER_NO_CLASS not in teaching | tutors
    assert set(staff) - {demo.TEACHER_NO_CLASS} <= teaching | tutors  # nobody else idle
    club = classes[demo.CLASS_CLUB]
    assert club["Type"] == "Club" and club["StaffIDs"] == [demo.TEACHER_CLUB_ONLY]
    taught = [
        c["ClassID"] for c in classes.values() if club["StaffIDs"][0] in (c["StaffIDs"] or [])
    ]
    assert taught == [demo.CLASS_CLUB]
    only_blank = classes[demo.CLASS_BLANK_TEACHER_ONLY]
    assert only_blank["StaffIDs"] == [demo.TEACHER_BLANK_TITLE] and only_blank["StudentIDs"]
    assert classes[demo.CLASS_EMPTY]["StudentIDs"] == []
    reg = classes[demo.CLASS_REG_BLANK_FIRST]
    assert (reg["Type"], reg["ClassCode"]) == ("Registration", "7A")
    assert (reg["StaffID1"], reg["StaffID2"]) == (demo.TEACHER_BLANK_TITLE, demo.TEACHER_FIRST)
    assert staff[demo.TEACHER_FIRST]["Title"]
    assert sum(c["Type"] == "Mixed group" for c in classes.values()) >= 1

    types = [g["Type"] for g in by["groups"].values()]
    assert types.count("House group") == 4 and types.count("Year group") == 5
    assert types.count("Student group") >= 3
    assert by["groups"][demo.GROUP_UNQUALIFIED]["Type"] == "Club list"
    combined = [c for c in contacts.values() if " and " in c["Title"] or " & " in c["Title"]]
    assert len(combined) >= 2
