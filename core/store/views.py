"""SQL views: the store's stable read interface for other tools (datasette, a spreadsheet, BI).

The tables may change from one release to the next (one `records` table of JSON today); the
views keep the canonical columns of sync-rules.md, one view per entity, with only what is kept.
`runs` and `left_out` are table names already, so their views are `sync_runs` and
`left_out_records`. Both dialects get the same columns; only the JSON functions differ.

A new database gets these from `migrate.create`, an upgraded one from migration 0005. A change
to a view needs a migration that drops and recreates it (see `drop` and `create`). So does a
later migration that rebuilds a table a view reads (Alembic's batch mode on SQLite copies,
drops and renames the table, and SQLite refuses a rename while a view names a missing table):
`views.drop` first, `views.create` after.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# view: (entity, [(column, type)]); type is text, integer, boolean or json
ENTITY_VIEWS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "students": (
        "students",
        [
            ("id", "text"),
            ("known_name", "text"),
            ("surname", "text"),
            ("year_group", "text"),
            ("registration_class", "text"),
            ("date_of_birth", "text"),
        ],
    ),
    "contacts": (
        "contacts",
        [
            ("id", "text"),
            ("title", "text"),
            ("forename", "text"),
            ("surname", "text"),
            ("email", "text"),
            ("phone", "text"),
            ("priority", "integer"),
            ("relationship", "text"),
            ("split_from", "text"),
        ],
    ),
    "contact_links": (
        "contact-links",
        [
            ("student_id", "text"),
            ("contact_id", "text"),
            ("relationship", "text"),
            ("parental_responsibility", "boolean"),
            ("priority", "integer"),
        ],
    ),
    "teachers": (
        "teachers",
        [
            ("id", "text"),
            ("title", "text"),
            ("forename", "text"),
            ("surname", "text"),
            ("email", "text"),
        ],
    ),
    "classes": (
        "classes",
        [
            ("id", "text"),
            ("code", "text"),
            ("description", "text"),
            ("kind", "text"),
            ("teachers", "json"),
            ("student_ids", "json"),
        ],
    ),
    "groups": (
        "groups",
        [("id", "text"), ("description", "text"), ("kind", "text"), ("student_ids", "json")],
    ),
}
VIEWS = (*ENTITY_VIEWS, "left_out_records", "sync_runs")


def _field(dialect: str, column: str, kind: str) -> str:
    if dialect == "sqlite":
        value = f"json_extract(r.data, '$.{column}')"
        # SQLite gives JSON true/false as 1/0 already; lists come back as JSON text
        return f"{value} AS {column}"
    if kind == "json":
        return f"(r.data::json -> '{column}') AS {column}"
    value = f"(r.data::json ->> '{column}')"
    cast = {"integer": "::integer", "boolean": "::boolean"}.get(kind, "")
    return f"{value}{cast} AS {column}"


def statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements for `dialect` ("sqlite" or "postgresql")."""
    out = []
    for view, (entity, columns) in ENTITY_VIEWS.items():
        fields = ", ".join(_field(dialect, c, k) for c, k in columns)
        joins = ""
        if view == "teachers":  # the school-owned room lives apart from the record
            fields += ", lf.value AS room"
            joins = (
                " LEFT JOIN local_fields lf ON lf.school = r.school AND lf.entity = r.entity"
                " AND lf.id = r.id AND lf.field = 'room'"
            )
        out.append(
            f'CREATE VIEW "{view}" AS SELECT r.school AS school, {fields} FROM records r{joins}'
            f" WHERE r.entity = '{entity}' AND NOT r.deleted"
        )
    rule = "json_extract(reasons, '$[0]')" if dialect == "sqlite" else "(reasons::json ->> 0)"
    out.append(
        "CREATE VIEW left_out_records AS SELECT school, entity, id,"
        f" {rule} AS rule, reasons FROM left_out"
    )
    out.append(
        "CREATE VIEW sync_runs AS SELECT run, school, connector, status, started, finished,"
        " inserted, updated, deleted, left_out, merged, origin, message FROM runs"
    )
    return out


def create(conn: Connection) -> None:
    for sql in statements(conn.dialect.name):
        conn.execute(text(sql))


def drop(conn: Connection) -> None:
    for view in VIEWS:
        conn.execute(text(f'DROP VIEW IF EXISTS "{view}"'))
