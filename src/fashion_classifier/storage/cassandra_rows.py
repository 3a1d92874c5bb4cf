"""How records map onto Cassandra rows: the statements, the feeds a record is listed in, the values.

The columns and the record mapping are shared with every store (rows.py); only the time needs
converting here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fashion_classifier.records import Record
from fashion_classifier.storage.rows import GARMENT_COLUMNS, record_from

# {fields}: rows.column_list() (with the verdict's columns once the schema has them).
STATEMENTS = {
    "insert_record": "INSERT INTO {ks}.records ({fields}) VALUES ({marks})",
    "insert_feed": "INSERT INTO {ks}.feed (feed, bucket, {fields}) VALUES (?, ?, {marks})",
    "insert_bucket": "INSERT INTO {ks}.feed_buckets (feed, bucket) VALUES (?, ?)",
    "insert_image": "INSERT INTO {ks}.images (id, content_type, data) VALUES (?, ?, ?)",
    "get_record": "SELECT {fields} FROM {ks}.records WHERE id = ?",
    # A similar query's neighbours, read in one request (bench: 3.5 ms p50 against 8.4 ms for
    # nine single reads sent together, on one node).
    "get_records": "SELECT {fields} FROM {ks}.records WHERE id IN ?",
    "get_image": "SELECT content_type, data FROM {ks}.images WHERE id = ?",
    "buckets": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ?",
    "buckets_before": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ? AND bucket <= ?",
    "page": "SELECT {fields} FROM {ks}.feed WHERE feed = ? AND bucket = ? LIMIT ?",
    "page_after": "SELECT {fields} FROM {ks}.feed WHERE feed = ? AND bucket = ? AND (created_at, id) < (?, ?) LIMIT ?",
    "correct_record": "UPDATE {ks}.records SET corrected_label = ? WHERE id = ?",
    "correct_feed": "UPDATE {ks}.feed SET corrected_label = ? WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "all_records": "SELECT {fields} FROM {ks}.records",
    # Taking back the rows of an upload that failed midway (CassandraStore.add_many).
    "delete_record": "DELETE FROM {ks}.records WHERE id = ?",
    "delete_feed": "DELETE FROM {ks}.feed WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "delete_image": "DELETE FROM {ks}.images WHERE id = ?",
    # The readiness probe: any node answers it from its own tables.
    "ping": "SELECT release_version FROM system.local",
}


def bucket_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def feed_name(label: str | None, garment: bool | None) -> str:
    """The feed that holds exactly the records a filter keeps."""
    parts = ([] if label is None else [f"label:{label}"]) + (
        [] if garment is None else [f"garment:{'yes' if garment else 'no'}"]
    )
    return "|".join(parts) or "all"


def feeds_of(record: Record, *, garment: bool = True) -> list[str]:
    """Every feed a record is listed in: all, its class, and with a verdict (and its columns), two more."""
    feeds = [feed_name(None, None), feed_name(record.label, None)]
    verdict = record.prediction.is_garment
    if garment and verdict is not None:
        feeds += [feed_name(None, verdict), feed_name(record.label, verdict)]
    return feeds


def utc(moment: datetime) -> datetime:
    """The driver hands back naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_record(row: Any) -> Record:
    """A record from a driver row; the verdict's columns are absent before migration 2."""
    return record_from(
        {name: getattr(row, name, None) for name in GARMENT_COLUMNS}, decode={"created_at": utc}
    )
