"""A made-up school in Datashare wire format, for the demo, the tests and the benchmarks.

Deterministic (one `random.Random(seed)`), so a demo run twice changes nothing and a test can
name records. Names are built from syllables and contact details use reserved ranges
(`@example.org`, Ofcom's drama numbers 01632 96xxxx), so no output can be a real person.
It scales linearly with `pupils`; at 2,000 pupils it is about the size of a large secondary.

Every case of sync-rules.md is planted at fixed IDs (the constants below) at any size from
MIN_PUPILS up, not left to chance, so tests and `mis-sync explain` can point at them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

DEMO_SCHOOL_ID = "1001"
MIN_PUPILS = 30  # the special records below refer to students D0001..D0023
ACADEMIC_YEAR = 2024  # the school year 2024/25; dates of birth follow it, not today's date
YEARS = (7, 8, 9, 10, 11)

# -- Special records: each demonstrates one rule; IDs are stable at every size. --------------
STUDENT_NO_KNOWN_NAME = "D0001"  # KnownName key missing: known_name falls back to LegalForename
STUDENT_PADDED = "D0002"  # KnownName and Surname with surrounding whitespace: trimmed
STUDENT_CLUB_ONLY = "D0299"  # only in CLASS_CLUB: left out, "in no kept class"
CONTACT_COMBINED = "P9001"  # "Mr and Mrs", "Dorin and Selka": split into P9001-1 and P9001-2
CONTACT_COMBINED_SINGLE = "P9002"  # "Mr & Mr", one forename: used for both halves
CONTACT_DUPLICATES = ("P9003", "P9004")  # equal modulo case and spaces, linked to D0005 and
#                                          D0006: merged under P9003 with both links
CONTACT_NEAR_SAME_EMAIL = ("P9005", "P9006")  # same email, other forename: reported, not merged
CONTACT_NEAR_SAME_NAMES = ("P9007", "P9008")  # same names, other email: reported, not merged
CONTACT_BLANK_SURNAME = "P9009"  # Surname only spaces: left out
CONTACT_NO_LINKS = "P9010"  # linked to nobody: left out
CONTACT_UPPER_EMAIL = "P9011"  # Email " Yaneli.KORVATH@Example.ORG ": trimmed, lower-cased
CONTACT_GRANDPARENT = "P9012"  # the contact of LINK_PR_FALSE and LINK_PR_MISSING
LINK_NO_RELATIONSHIP = ("D0003", "P9001")  # no Relationship key: the contact's "Parents"
LINK_PR_NULL = ("D0004", "P9002")  # ParentalResponsibility null: false
LINK_PR_FALSE = ("D0013", "P9012")  # ParentalResponsibility false
LINK_PR_MISSING = ("D0014", "P9012")  # ParentalResponsibility key missing: false
TEACHER_FIRST = "T001"  # an ordinary kept teacher: main teacher of CLASS_REG_BLANK_FIRST
TEACHER_BLANK_TITLE = "T901"  # Title "": left out
TEACHER_NO_CLASS = "T902"  # teaches nothing: left out
TEACHER_CLUB_ONLY = "T903"  # teaches only CLASS_CLUB: left out, "teaches no kept class"
CLASS_REG_BLANK_FIRST = "C0001"  # 7A: StaffID1 T901 (left out), StaffID2 T001 becomes main
CLASS_CLUB = "C9001"  # Type "Club" does not qualify: T903, D0299 and D0015..D0017
CLASS_BLANK_TEACHER_ONLY = "C9002"  # Teaching set whose only teacher is T901: no kept teacher
CLASS_EMPTY = "C9003"  # Teaching set with no students: left out
GROUP_UNQUALIFIED = "G10"  # Type "Club list" does not qualify
# Groups: G01-G04 "House group", G05-G09 "Year group" (Year 7..11), G11 on "Student group";
# D0299 is in G01 and G07 too, which list only kept students.

# ContactID|Title|Forename|Surname|Email|Relationship (spaces inside fields are on purpose)
_SPECIAL_CONTACTS = """\
P9001|Mr and Mrs|Dorin and Selka|Quamar|quamar.home@example.org|Parents
P9002|Mr & Mr|Tolven|Ashmori|tolven.ashmori@example.org|Parents
P9003|Mrs|Talira|Venhold|t.venhold@example.org|Mother
P9004| mrs|TALIRA | Venhold| T.Venhold@Example.org |Mother
P9005|Ms|Soraki|Velloran|velloran.family@example.org|Mother
P9006|Ms|Sorani|Velloran|velloran.family@example.org|Mother
P9007|Dr|Kessaro|Bellwin|k.bellwin@example.org|Father
P9008|Dr|Kessaro|Bellwin|kessaro.b@example.org|Father
P9009|Mr|Orrin|  |orrin@example.org|Father
P9010|Mrs|Halvi|Dornesk|halvi.dornesk@example.org|Mother
P9011|Ms|Yaneli|Korvath| Yaneli.KORVATH@Example.ORG |Mother
P9012|Mrs|Ulwina|Sarnoth|ulwina.sarnoth@example.org|Grandmother"""
# StudentID|ContactID|Relationship|ParentalResponsibility ("-": the key is missing)
_SPECIAL_LINKS = """\
D0003|P9001|-|true
D0004|P9002|Father|null
D0005|P9003|Mother|true
D0006|P9004|Mother|true
D0007|P9005|Mother|true
D0008|P9006|Mother|true
D0009|P9007|Father|true
D0010|P9008|Father|true
D0011|P9009|Father|true
D0012|P9011|Mother|true
D0013|P9012|Grandmother|false
D0014|P9012|Grandmother|-"""
_SPECIAL_STAFF = """\
T901||Renvi|Talmori
T902|Mr|Kovin|Sendral
T903|Ms|Mirelo|Dawnsby"""

_SYLLABLES = "ka lo mi ren ta vi sol an de ri mo na bel tor is el fa zu ber ko lin sa ru en"
SYLLABLES = (_SYLLABLES + " da ve mar ni os tel ya ho ly pe dor ga sen ul wi qua").split()
_SUBJECTS = "Maths:Ma English:En Science:Sc History:Hi Geography:Gg French:Fr Art:Ar Music:Mu"
SUBJECTS = [
    tuple(s.split(":")) for s in (_SUBJECTS + " PE:PE Computing:Co RE:RE Design:DT").split()
]
FORM_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
HOUSES = ("Ash", "Birch", "Cedar", "Elm")
_GROUPS = "Choir|School council|Eco team|Reading buddies|Sports leaders|Library helpers|"
STUDENT_GROUPS = (_GROUPS + "Peer mentors|Drama company|Orchestra|Coding crew").split("|")
MIXED = ("Study support", "Maths challenge", "Science ambassadors", "Debating", "Robotics")
COMBINED_TITLES = ("Mr and Mrs", "Dr and Mrs", "Mr & Mr", "Mrs and Mrs", "Mr and Dr")
PARENT_ROLES = (("Mrs", "Mother"), ("Ms", "Mother"), ("Mr", "Father"), ("Dr", "Father"))
OTHER_ROLES = (("Mrs", "Grandmother"), ("Mr", "Grandfather"), ("Ms", "Aunt"), ("Mx", "Carer"))
STAFF_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Mx")


def generate_school(pupils: int = 300, seed: int = 7) -> dict[str, list[dict]]:
    """Wire-format records (PascalCase dicts exactly as the wire spec) for a made-up school."""
    if pupils < MIN_PUPILS:
        raise ValueError(f"pupils must be at least {MIN_PUPILS}, so every special case fits")
    rng = random.Random(seed)
    students, cohorts, families = _students(rng, pupils - 1)  # + STUDENT_CLUB_ONLY
    contacts, links = _contacts(rng, families)
    staff = _staff(rng, max(len(SUBJECTS), round(pupils / 11)))
    classes = _classes(rng, pupils, cohorts, [t["StaffID"] for t in staff])
    groups = _groups(rng, [s["StudentID"] for s in students], cohorts)
    _plant_specials(rng, students, contacts, links, staff, classes, groups)
    return {
        "students": sorted(students, key=lambda r: r["StudentID"]),
        "contacts": sorted(contacts, key=lambda r: r["ContactID"]),
        "contact-links": links,
        "staff": sorted(staff, key=lambda r: r["StaffID"]),
        "classes": sorted(classes, key=lambda r: r["ClassID"]),
        "groups": groups,
    }


def _numbered(prefix: str, width: int, reserved: set[str]):
    """Sequential IDs that step over the special ones, so the two can never collide."""
    i = 0
    while True:
        i += 1
        if (rid := f"{prefix}{i:0{width}d}") not in reserved:
            yield rid


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _unique_forename(rng: random.Random, surname: str, used: set) -> str:
    """Keeps accidental near-duplicates out, so only the planted ones are reported."""
    while (forename := _name(rng), surname) in used:
        pass
    used.add((forename, surname))
    return forename


def _phone(rng: random.Random) -> str:
    return f"01632 96{rng.randrange(10000):04d}"


def _form_code(year: int, k: int) -> str:
    n = len(FORM_LETTERS)
    return f"{year}{FORM_LETTERS[k % n]}{'' if k < n else k // n + 1}"


def _student(rng, sid: str, year: int, surname: str, form: str | None) -> dict:
    legal = _name(rng)
    born = date(ACADEMIC_YEAR - year - 5, 9, 1) + timedelta(days=rng.randrange(365))
    return {
        "StudentID": sid,
        "KnownName": legal[: rng.randint(3, 4)] if rng.random() < 0.15 else legal,
        "LegalForename": legal,
        "Surname": surname,
        "DateOfBirth": born.isoformat(),
        "YearGroup": f"Year {year}",
        "RegistrationGroup": form,
    }


def _students(rng, count: int):
    ids = _numbered("D", 4, {STUDENT_CLUB_ONLY})
    sids = [next(ids) for _ in range(count)]
    years = [YEARS[i % len(YEARS)] for i in range(count)]  # spreads the specials over years
    cohorts: dict[int, list[list[str]]] = {}  # year → registration forms → student IDs
    form_of: dict[str, str] = {}
    for year in YEARS:
        members = [s for s, y in zip(sids, years, strict=True) if y == year]
        rng.shuffle(members)
        n_forms = max(1, round(len(members) / 28))
        cohorts[year] = [sorted(members[k::n_forms]) for k in range(n_forms)]
        for k, form in enumerate(cohorts[year]):
            form_of.update(dict.fromkeys(form, _form_code(year, k)))
    # About 1 student in 5 has a sibling here; siblings share a surname and their contacts.
    order = list(range(count))
    rng.shuffle(order)
    pairs = count // 10
    families = [order[2 * i : 2 * i + 2] for i in range(pairs)] + [[i] for i in order[2 * pairs :]]
    surname = [""] * count
    for family in families:
        name = _name(rng)
        for i in family:
            surname[i] = name
    students = [_student(rng, s, years[i], surname[i], form_of[s]) for i, s in enumerate(sids)]
    return students, cohorts, [(surname[f[0]], [sids[i] for i in f]) for f in families]


def _contacts(rng, families: list[tuple[str, list[str]]]):
    used = {tuple(line.split("|")[2:4]) for line in _SPECIAL_CONTACTS.splitlines()}
    ids = _numbered("P", 4, {line[:5] for line in _SPECIAL_CONTACTS.splitlines()})
    contacts: list[dict] = []
    links: list[dict] = []
    for surname, family in families:
        count = rng.choices((1, 2, 3), weights=(25, 60, 15))[0]
        if rng.random() < 0.05:  # one record for both parents, as many schools keep them
            roles = [(rng.choice(COMBINED_TITLES), "Parents")]
        else:
            roles = rng.sample(PARENT_ROLES, min(count, 2))
        roles += [rng.choice(OTHER_ROLES) for _ in range(count - len(roles))]
        for title, relation in roles:
            own = surname if relation != "Aunt" and rng.random() < 0.85 else _name(rng)
            forename = shown = _unique_forename(rng, own, used)
            if relation == "Parents" and rng.random() < 0.7:
                shown = f"{forename} and {_unique_forename(rng, own, used)}"
            email = f"{forename}.{own}@example.org".lower() if rng.random() < 0.92 else None
            contact = {"ContactID": next(ids), "Title": title, "Forename": shown, "Surname": own}
            contact |= {"Email": email, "Relationship": relation}
            if rng.random() < 0.9:
                contact["Phone"] = _phone(rng)
            contacts.append(contact)
            parental = relation in ("Mother", "Father", "Parents", "Carer")
            for sid in family:
                link = {"StudentID": sid, "ContactID": contact["ContactID"]}
                link["Relationship"] = relation
                pr = True if parental else rng.choice((False, None, "missing"))
                if pr != "missing":
                    link["ParentalResponsibility"] = pr
                links.append(link)
    return contacts, links


def _staff(rng, count: int) -> list[dict]:
    used: set = set()
    ids = _numbered("T", 3, {line[:4] for line in _SPECIAL_STAFF.splitlines()})
    staff = []
    for _ in range(count):
        surname = _name(rng)
        forename = _unique_forename(rng, surname, used)
        title = rng.choices(STAFF_TITLES, (30, 25, 25, 10, 6, 4))[0]
        email = f"{forename}.{surname}@example.org".lower()
        staff.append(_teacher(next(ids), title, forename, surname, email))
    return staff


def _teacher(*values: str) -> dict:
    return dict(zip(("StaffID", "Title", "Forename", "Surname", "Email"), values, strict=True))


def _class(cid, code, description, kind, students, staff=None, staff1=None, staff2=None) -> dict:
    record = dict(ClassID=cid, ClassCode=code, Description=description, Type=kind)
    return record | dict(
        StaffID1=staff1, StaffID2=staff2, StaffIDs=staff, StudentIDs=sorted(students)
    )


def _classes(rng, pupils: int, cohorts, staff_ids: list[str]) -> list[dict]:
    ids = _numbered("C", 4, {CLASS_CLUB, CLASS_BLANK_TEACHER_ONLY, CLASS_EMPTY})
    classes = []
    for year in YEARS:  # registration classes first, so 7A is always C0001
        for k, form in enumerate(cohorts[year]):
            code = _form_code(year, k)
            tutor, other = rng.sample(staff_ids, 2)
            other = other if rng.random() < 0.7 else None
            name = f"{code} Registration"
            classes.append(_class(next(ids), code, name, "Registration", form, None, tutor, other))
    # Each subject's teachers are a fixed slice of the staff, and the first teacher of each set
    # goes round that slice, so every teacher teaches something and none is left out by chance.
    for s, (subject, abbr) in enumerate(SUBJECTS):
        pool, turn = staff_ids[s :: len(SUBJECTS)], 0
        for year in YEARS:
            cohort = [sid for form in cohorts[year] for sid in form]
            rng.shuffle(cohort)
            n_sets = max(1, round(len(cohort) / 27))
            for j in range(n_sets):
                lead, turn = pool[turn % len(pool)], turn + 1
                others = [t for t in pool if t != lead]
                extra = min(rng.choices((0, 1, 2), weights=(70, 25, 5))[0], len(others))
                teachers = [lead, *rng.sample(others, extra)]
                code, description = f"{year}{abbr}{j + 1}", f"Year {year} {subject} set {j + 1}"
                members = cohort[j::n_sets]
                classes.append(
                    _class(next(ids), code, description, "Teaching set", members, teachers)
                )
    seniors = [sid for year in (10, 11) for form in cohorts[year] for sid in form]
    for i in range(max(1, round(pupils / 200))):
        members = rng.sample(seniors, min(len(seniors), rng.randint(12, 25)))
        teachers = rng.sample(staff_ids, rng.randint(1, 2))
        name = f"{MIXED[i % len(MIXED)]} {i // len(MIXED) + 1} (Years 10-11)"
        classes.append(_class(next(ids), f"MX{i + 1}", name, "Mixed group", members, teachers))
    return classes


def _group(gid: str, description: str, kind: str, students) -> dict:
    return dict(GroupID=gid, Description=description, Type=kind, StudentIDs=sorted(students))


def _groups(rng, sids: list[str], cohorts) -> list[dict]:
    order = sids[:]
    rng.shuffle(order)
    groups = [_group(f"G{h + 1:02d}", f"{house} House", "House group", order[h :: len(HOUSES)])
              for h, house in enumerate(HOUSES)]  # fmt: skip
    for y, year in enumerate(YEARS):
        members = [sid for form in cohorts[year] for sid in form]
        groups.append(_group(f"G{y + 5:02d}", f"Year {year}", "Year group", members))
    groups.append(_group(GROUP_UNQUALIFIED, "Chess club list", "Club list", []))
    for i in range(max(3, round(len(sids) / 70))):
        n = len(STUDENT_GROUPS)
        name = STUDENT_GROUPS[i % n] + (f" {i // n + 1}" if i >= n else "")
        members = rng.sample(order, min(len(order), rng.randint(8, 30)))
        groups.append(_group(f"G{i + 11:02d}", name, "Student group", members))
    return groups


def _plant_specials(rng, students, contacts, links, staff, classes, groups) -> None:
    by_id = {s["StudentID"]: s for s in students}
    del by_id[STUDENT_NO_KNOWN_NAME]["KnownName"]
    padded = by_id[STUDENT_PADDED]
    padded["KnownName"], padded["Surname"] = f"  {padded['KnownName']} ", f" {padded['Surname']}  "
    # A pupil on roll who only comes to a club: in no registration class, no teaching set.
    students.append(_student(rng, STUDENT_CLUB_ONLY, 9, "Wintaro", None))
    group = {g["GroupID"]: g for g in groups}
    for gid in ("G01", "G07"):  # Ash House and Year 9
        group[gid]["StudentIDs"] = sorted([*group[gid]["StudentIDs"], STUDENT_CLUB_ONLY])
    club = [STUDENT_CLUB_ONLY, "D0015", "D0016", "D0017"]
    group[GROUP_UNQUALIFIED]["StudentIDs"] = club

    for line in _SPECIAL_CONTACTS.splitlines():
        cid, title, forename, surname, email, relation = line.split("|")
        contacts.append(
            {"ContactID": cid, "Title": title, "Forename": forename, "Surname": surname}
            | {"Email": email, "Phone": _phone(rng), "Relationship": relation}
        )
    for line in _SPECIAL_LINKS.splitlines():
        sid, cid, relation, pr = line.split("|")
        link = {"StudentID": sid, "ContactID": cid}
        if relation != "-":
            link["Relationship"] = relation
        if pr != "-":
            link["ParentalResponsibility"] = {"true": True, "false": False, "null": None}[pr]
        links.append(link)

    for line in _SPECIAL_STAFF.splitlines():
        sid, title, forename, surname = line.split("|")
        email = f"{forename}.{surname}@example.org".lower()
        staff.append(_teacher(sid, title, forename, surname, email))
    reg = next(c for c in classes if c["ClassID"] == CLASS_REG_BLANK_FIRST)
    reg["StaffID1"], reg["StaffID2"] = TEACHER_BLANK_TITLE, TEACHER_FIRST
    stats = [f"D{i:04d}" for i in range(18, 24)]
    classes += [
        _class(CLASS_CLUB, "ChessClub", "Chess club", "Club", club, [TEACHER_CLUB_ONLY]),
        _class(CLASS_BLANK_TEACHER_ONLY, "10St1", "Year 10 Statistics set 1", "Teaching set",
               stats, [TEACHER_BLANK_TITLE]),
        _class(CLASS_EMPTY, "11La1", "Year 11 Latin set 1", "Teaching set", [], [TEACHER_FIRST]),
    ]  # fmt: skip
