"""The few hand-written statements of the webhook hot path.

Every Plivo webhook runs them, and building the equivalent ORM statement (conditional
updates, a savepoint around an insert, a re-read after an update) cost the server several
times what PostgreSQL spends executing it (`bench/webhook_ingest.py`). The invariants stay in
the database: the unique constraints decide duplicates, the WHERE clauses decide whether a
status may move. Everything here runs on PostgreSQL and SQLite (>= 3.35: RETURNING, ON
CONFLICT with a partial-index target).
"""

import functools

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    """The model's table name, quoted for a raw statement."""
    return connection.ops.quote_name(model._meta.db_table)


def execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.cache
def _insert_sql(model: type[Model], vendor: str, conflict_target: str | None, notify: str | None) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key and not f.generated)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    on_conflict = f"ON CONFLICT {conflict_target} DO NOTHING " if conflict_target else ""
    pk = quote(model._meta.pk.column)
    sql = f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders}) {on_conflict}RETURNING {pk}"
    if notify and vendor == "postgresql":
        # Only a row actually inserted notifies (delivered when the transaction commits).
        sql = f"WITH inserted AS ({sql}) SELECT {pk}, pg_notify('{notify}', '') FROM inserted"
    return sql, fields


def insert_row(instance: Model, *, unless_conflict_on: str | None = None, notify: str | None = None) -> bool:
    """INSERT `instance` (its pk is set); with `unless_conflict_on`, only if no row holds its
    unique key yet. True when inserted.

    `unless_conflict_on` names the unique index, e.g. `(dedupe_key)`, or for a partial one
    `(plivo_message_uuid) WHERE plivo_message_uuid IS NOT NULL`. A concurrent copy waits for
    the first to commit and then inserts nothing: no exception, so no savepoint is needed.
    On PostgreSQL, `notify` names a channel (a constant identifier) that a new row is announced
    on, in the same statement.
    """
    sql, fields = _insert_sql(type(instance), connection.vendor, unless_conflict_on, notify)
    values = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True


def update_returning(
    model: type[Model], *, assignments: str, where: str, params: list, from_: str = "", returning: str = "*"
) -> Model | None:
    """`UPDATE <table> SET <assignments> [FROM <from_>] WHERE <where> RETURNING <returning>` as a
    model instance (None: no row matched); extra returned columns become its attributes. SET
    expressions see the row as it was before the update; `params` fill the clauses in order."""
    from_clause = f" FROM {from_}" if from_ else ""
    sql = f"UPDATE {table(model)} SET {assignments}{from_clause} WHERE {where} RETURNING {returning}"
    rows = list(model.objects.raw(sql, params))
    return rows[0] if rows else None


def db_datetime(value):
    """A datetime as a raw statement's parameter (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def copy_columns(*, source: Model, target: Model) -> None:
    """Give `target` the column values of `source` (the same row, read later), dropping any
    cached related object whose key changed."""
    for field in type(target)._meta.concrete_fields:
        value = getattr(source, field.attname)
        if field.is_relation and getattr(target, field.attname) != value and field.is_cached(target):
            field.delete_cached_value(target)
        setattr(target, field.attname, value)


@functools.cache
def _columns(model: type[Model], vendor: str) -> tuple[list[str], list[tuple], list[str], int]:
    """(column names, [(column expression, its converters)], attribute names, pk position)."""
    fields = model._meta.concrete_fields
    converters = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    pk_index = next(i for i, field in enumerate(fields) if field.primary_key)
    return [field.column for field in fields], converters, [field.attname for field in fields], pk_index


def select_one(
    joined: dict[str, type[Model]], from_where: str, params: list, *, extra: dict[str, str] | None = None
) -> dict | None:
    """One row of several joined models as instances: what `select_related` gives, without
    building the query each time (the ORM spent several times the database's time on it).

    `joined` maps each table alias used in `from_where` (`FROM … JOIN … WHERE …`) to its
    model; a model whose primary key comes back NULL from a LEFT JOIN is None. `extra` maps
    a name to a further SQL expression, whose raw value comes back under that name. Returns
    None when no row matches. The caller links the instances together.
    """
    quote = connection.ops.quote_name
    select = ", ".join(
        [f"{alias}.{quote(column)}" for alias, model in joined.items() for column in _columns(model, connection.vendor)[0]]
        + list((extra or {}).values())
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} {from_where}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = {}, 0
    for alias, model in joined.items():
        columns, converters, attnames, pk_index = _columns(model, connection.vendor)
        values = list(row[start:start + len(columns)])
        start += len(columns)
        if values[pk_index] is None:
            instances[alias] = None
            continue
        for index, (expression, field_converters) in enumerate(converters):
            for converter in field_converters:
                values[index] = converter(values[index], expression, connection)
        instances[alias] = model.from_db(connection.alias, attnames, values)
    for name, value in zip(extra or {}, row[start:]):
        instances[name] = value
    return instances


def case_by_id(values: dict) -> tuple[str, list]:
    """`CASE id WHEN <pk> THEN <value> ... END` for a raw UPDATE that gives each row its own
    value (a bulk write: built as text, without the ORM's per-branch expressions)."""
    return "CASE id " + " ".join(["WHEN %s THEN %s"] * len(values)) + " END", [x for item in values.items() for x in item]
