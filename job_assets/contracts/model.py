"""Contract model: one declaration per table drives jobs, data quality, catalog docs and lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

SEVERITIES = ("warn", "quarantine", "fail")

# The closed set of reasons a record can be quarantined or flagged for. `_error` is always one of these.
ERROR_CODES = (
    "unparseable_record",  # a JSON line that is not a JSON object
    "wrong_column_count",  # a CSV row whose field count differs from its header
    "empty_file",  # a landing file with no records (logged in the ingestion log, never silent)
    "missing_required",  # a required field is null/empty
    "invalid_type",  # a value that does not cast to the column type
    "invalid_date",  # a date/timestamp that does not parse
    "out_of_range",  # a number outside its declared range
    "invalid_enum",  # a value outside its accepted set
    "invalid_format",  # a value that does not match its declared pattern
    "orphan_reference",  # a foreign key with no parent (held and re-checked every run)
    "missing_fx_rate",  # no FX rate valid on the record's date for its currency
    "unexpected_column",  # schema drift: a field the contract does not know (kept, warned)
    "duplicate_key",  # more than one current row per key
    "stale_data",  # freshness SLO breached
)

# What kind of personal data a column holds (``Column.pii``): the catalog shows it, the Glue tables carry it as
# column parameters and Lake Formation's ``classification`` tag is derived from it (docs/security/PII.md).
PII_CATEGORIES = (
    "name",  # a person's (or a sole trader's account's) name
    "email",  # an e-mail address
    "phone",  # a telephone number
    "address",  # a postal address below country level
    "identifier",  # a key that singles out one person (customer id, contact id)
    "record",  # a copy of whole records or of any column's values, personal ones included (quarantine, profiles)
)


# The Lake Formation tag the platform derives from ``Column.pii`` (cdk/constructs/pii_access_control.py) and the
# access review reads back (lakehouse/security/access_review.py).
LF_TAG_KEY = "classification"
PII_TAG = "pii"
NON_PII_TAG = "non_pii"


def _check_pii(owner: str, pii: Optional[str], cleared: str) -> None:
    if pii is not None and pii not in PII_CATEGORIES:
        raise ValueError(f"{owner}: pii {pii!r} not in {PII_CATEGORIES}")
    if pii is not None and cleared:
        raise ValueError(f"{owner}: a column is either personal (pii) or cleared, not both")


@dataclass(frozen=True)
class Column:
    """A typed column. ``source`` is the landing field it comes from (silver) or ``None``.

    ``pii`` is the category (:data:`PII_CATEGORIES`) of the personal data the column holds, ``None`` when it holds
    none. ``pii_cleared`` says why a column derived from a personal column holds none (an aggregate, a join key
    that is not output); tests/unit/test_contracts_pii.py requires one or the other for every such column.
    """

    name: str
    type: str  # Spark SQL type: string, bigint, int, boolean, double, date, timestamp, decimal(p,s)
    nullable: bool = True
    description: str = ""
    source: Optional[str] = None
    pii: Optional[str] = None
    pii_cleared: str = ""

    def __post_init__(self) -> None:
        _check_pii(self.name, self.pii, self.pii_cleared)


@dataclass(frozen=True)
class Rule:
    """A data-quality rule. ``kind`` selects the check, ``error`` the quarantine reason it produces.

    kinds: not_null, cast, accepted_values, range, pattern, ref, unique, freshness, no_extra_columns
    """

    name: str
    kind: str
    column: Optional[str] = None
    severity: str = "quarantine"
    error: str = "missing_required"
    values: Tuple[str, ...] = ()
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    min_inclusive: bool = True
    pattern: Optional[str] = None
    ref_table: Optional[str] = None  # "silver.accounts"
    ref_column: Optional[str] = None
    max_age_minutes: Optional[int] = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: severity {self.severity!r} not in {SEVERITIES}")
        if self.error not in ERROR_CODES:
            raise ValueError(f"rule {self.name}: error {self.error!r} not in the closed set ERROR_CODES")


@dataclass(frozen=True)
class LandingField:
    """A field of a landing extract; ``pii`` is its personal-data category (:data:`PII_CATEGORIES`) or ``None``."""

    name: str
    type: str  # the type the value must cast to in silver
    required: bool = False
    description: str = ""
    pii: Optional[str] = None

    def __post_init__(self) -> None:
        _check_pii(self.name, self.pii, "")


@dataclass(frozen=True)
class LandingEntity:
    """What an upstream extract delivers: <lake>/landing/<source>/<entity>/dt=YYYY-MM-DD/<file>."""

    source: str
    entity: str
    format: str  # "jsonl" | "csv"
    fields: Tuple[LandingField, ...]
    key: Tuple[str, ...]
    version_field: str  # newest value wins among re-deliveries
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.source}/{self.entity}"

    @property
    def bronze_table(self) -> str:
        return f"bronze.{self.source}_{self.entity}"

    @property
    def field_names(self) -> Tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class TableContract:
    """One table's contract: the single source of its columns, keys, DQ rules, owner, grain, SLO and lineage.

    The jobs type, validate and write the table from it; the data catalog, the Glue tables, Lake Formation's tags,
    the lineage viewer and the freshness alarms are generated from it.

    Examples:
        >>> from job_assets.contracts import contract
        >>> orders = contract("silver.orders")
        >>> orders.layer, orders.keys
        ('silver', ('order_id',))
        >>> orders.column("order_id").type
        'bigint'
    """

    name: str  # "<layer>.<table>"
    description: str
    owner: str
    grain: str
    columns: Tuple[Column, ...]
    keys: Tuple[str, ...] = ()
    rules: Tuple[Rule, ...] = ()
    freshness_slo_minutes: Optional[int] = None
    upstream: Tuple[str, ...] = ()
    # column-level lineage: output column -> upstream "layer.table.column" it is derived from
    lineage: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    landing: Optional[LandingEntity] = None
    version_column: Optional[str] = None
    tags: Tuple[str, ...] = field(default=())
    selected_by: Tuple[str, ...] = ()
    """Columns readers select this table's rows by, when they are not its keys (bronze: the batch a silver run
    reads). Empty: the keys and the version column. See :attr:`stats_columns`."""
    change_feed: bool = False
    """Delta's change data feed on (``delta.enableChangeDataFeed``): every commit records the rows it changed,
    with their images before and after, so a reader learns what changed since a version without comparing
    whole tables (gold recomputes only the months a delivery touched: docs/PIPELINE.md, "Gold")."""

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def column_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def stats_columns(self) -> Tuple[str, ...]:
        """The columns Delta keeps min/max statistics for (table property ``delta.dataSkippingStatsColumns``):
        :attr:`selected_by`, else the keys and the version column.

        Delta's default is the first 32 columns of every file it writes; computing them is about a tenth of
        a local 1M-record run (docs/BENCHMARKS.md), and statistics on free-text or hash columns skip
        nothing. What a MERGE matches on and what a reader filters by is what file skipping uses.
        """
        chosen = self.selected_by or (*self.keys, *((self.version_column,) if self.version_column else ()))
        return tuple(dict.fromkeys(chosen))

    def column(self, name: str) -> Column:
        """The column ``name``.

        Raises:
            KeyError: the table has no such column.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def pii_columns(self) -> Tuple[Column, ...]:
        """The columns holding personal data."""
        return tuple(c for c in self.columns if c.pii)

    def ddl(self) -> str:
        """Spark DDL schema string, e.g. ``a string, b bigint``."""
        return ", ".join(f"`{c.name}` {c.type}" for c in self.columns)
