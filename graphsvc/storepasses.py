"""The store's writes of the passes that run after a batch's facts: links, channel tables,
dead-code entry rules, findings and batch records (and the reads they check first)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa

from graphsvc.docstore import config_names, one_of
from graphsvc.storebase import CHANNEL_TABLES, DERIVED_TABLES, StoreBase

# Writes one part of a re-link: links, link_deps and channel_inputs rows, after deleting the
# rows of the tables named in the mapping for the files it lists.
LinkWrite = Callable[[pa.Table, pa.Table, pa.Table, Mapping[str, list[int]]], None]
# link_names rows up to which a re-link inserts them as lists (cheaper for a few rows than an
# Arrow relation); more (a re-link of everything) go in as an Arrow relation
_FEW_NAMES = 64


@dataclass(frozen=True, slots=True)
class LinkBatch:
    """One linker run's transaction: the links of ``file_ids`` are replaced (the new rows are
    written in parts, see :meth:`Store.linking`).

    ``upto`` is the last ``link_pending.seq`` the run consumed; rows written after it stay.
    """

    file_ids: frozenset[int]
    upto: int
    relink_all: bool = False
    # of file_ids, the files the store rewrote since the last link: their apply deleted
    # their links, so no DELETE looks for them; their link_deps and channel_inputs rows are
    # replaced by the parts that name them (see Store.linking)
    cleared: frozenset[int] = frozenset()
    # (module, name) rows of link_names to delete before ``names`` is inserted (a re-link of
    # everything deletes them all)
    stale_names: frozenset[tuple[str, str]] = frozenset()
    names: pa.Table | None = None
    state: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One committed update of the graph, as written to ``batches``."""

    kind: str  # index | watch | reconcile
    reason: str | None
    started: dt.datetime
    finished: dt.datetime
    ms: float
    paths: int
    parsed: int
    unchanged: int
    removed: int
    failed: int


class PassWrites(StoreBase):
    """The writes and checks of the passes after a batch (see the module)."""

    @contextmanager
    def linking(self, links: LinkBatch) -> Iterator[LinkWrite]:
        """Replace the links of ``links.file_ids``: the caller writes the new rows in as many
        parts as it likes (so a large re-link never holds them all), and the pending work is
        cleared at the end, all in one transaction. Each part names the files of
        ``links.cleared`` whose ``link_deps`` and ``channel_inputs`` rows it replaces (the
        store's apply left them; the part holds new rows for those files only).

        A re-link of everything (``relink_all``) commits each part on its own instead: held
        in one transaction, the stdlib's links were ~50 MB of DuckDB memory until the commit.
        Its ``link_state`` is written by the last transaction, so until then the stored state
        still asks for a re-link of everything: a crash midway is redone by the next run,
        not lost (the links are incomplete until then).

        Raises:
            DatabaseError: a transaction failed and was rolled back.
        """

        def insert(
            rows: pa.Table, deps: pa.Table, inputs: pa.Table, stale: Mapping[str, list[int]]
        ) -> None:
            for table, ids in stale.items():
                if ids:
                    self.con.execute(
                        f'DELETE FROM "{table}" WHERE {one_of("file_id", len(ids))}', {"ids": ids}
                    )
            for table, data in (("links", rows), ("link_deps", deps), ("channel_inputs", inputs)):
                if data.num_rows:
                    self._insert_table(table, data)

        if links.relink_all:
            with self._transaction():
                self._clear_links(links)

            def commit_part(
                rows: pa.Table, deps: pa.Table, inputs: pa.Table, stale: Mapping[str, list[int]]
            ) -> None:
                with self._transaction():
                    insert(rows, deps, inputs, stale)

            yield commit_part
            with self._transaction():
                self._finish_links(links)
            return
        with self._transaction():
            self._clear_links(links)
            yield insert
            self._finish_links(links)

    def _finish_links(self, links: LinkBatch) -> None:
        names = links.names
        if names is not None and names.num_rows > _FEW_NAMES:
            self._insert_table("link_names", names)
        elif names is not None and names.num_rows:
            # a few rows (a new or changed name of an edited file): as lists, not an Arrow
            # relation (with the pending delete below 1.3 against 2.6 ms CPU; relink18)
            self.con.execute(
                "INSERT INTO link_names (module, name, signature)"
                " SELECT unnest($m), unnest($n), unnest($s)",
                {
                    "m": names.column("module").to_pylist(),
                    "n": names.column("name").to_pylist(),
                    "s": names.column("signature").to_pylist(),
                },
            )
        self.con.execute("DELETE FROM link_pending WHERE seq <= $last", {"last": links.upto})
        if links.state:
            self.con.execute(
                "INSERT OR REPLACE INTO link_state"
                " SELECT unnest($keys) AS key, unnest($values) AS value",
                {"keys": list(links.state), "values": list(links.state.values())},
            )

    def _clear_links(self, links: LinkBatch) -> None:
        if links.relink_all:
            for table in (*DERIVED_TABLES, "link_names"):
                self.con.execute(f'DELETE FROM "{table}"')
            # until the last part commits (and writes the state again), the next run must
            # re-link everything, whatever the environment is then
            self.con.execute("DELETE FROM link_state WHERE key = 'linker_version'")
            return
        if links.file_ids - links.cleared:
            ids = sorted(links.file_ids - links.cleared)
            for table in DERIVED_TABLES:
                self.con.execute(
                    f'DELETE FROM "{table}" WHERE {one_of("file_id", len(ids))}', {"ids": ids}
                )
        if links.stale_names:
            keys = sorted(links.stale_names)
            self.con.execute(
                "DELETE FROM link_names USING (SELECT unnest($m) AS module, unnest($n) AS name)"
                " AS k WHERE link_names.module = k.module AND link_names.name = k.name",
                {"m": [m for m, _ in keys], "n": [n for _, n in keys]},
            )

    def channel_inputs(self) -> str:
        """A fingerprint of everything the channel pass reads: the sum of the per-file digests
        of ``channel_inputs`` (kept with the links), and how many channel facts there are."""
        row = self.con.execute(
            "SELECT coalesce(sum(digest), 0) || ':' || coalesce(sum(facts), 0) FROM channel_inputs"
        ).fetchone()
        return str(row[0]) if row else ""

    def channel_inputs_and_state(self) -> tuple[str, str | None]:
        """:meth:`channel_inputs` and ``channel_state('inputs')`` in one statement (the check
        every batch makes before the channel pass)."""
        row = self.con.execute(
            "SELECT coalesce(sum(digest), 0) || ':' || coalesce(sum(facts), 0),"
            " (SELECT value FROM channel_state WHERE key = 'inputs') FROM channel_inputs"
        ).fetchone()
        if row is None:
            return "", None
        return str(row[0]), None if row[1] is None else str(row[1])

    def channel_state(self, key: str) -> str | None:
        row = self.con.execute(
            "SELECT value FROM channel_state WHERE key = $key", {"key": key}
        ).fetchone()
        return str(row[0]) if row else None

    def write_channels(
        self, sites: pa.Table, channels: pa.Table, wrappers: pa.Table, fingerprint: str
    ) -> None:
        """Replace every channel site, channel and derived wrapper in one transaction (the
        channel pass recomputes them all from the tree's channel facts), with the fingerprint
        of the inputs they were computed from.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        with self._transaction():
            for table, data in zip(CHANNEL_TABLES, (sites, channels, wrappers), strict=True):
                self.con.execute(f'DELETE FROM "{table}"')
                if data.num_rows:
                    self._insert_table(table, data)
            self.con.execute(
                "INSERT OR REPLACE INTO channel_state VALUES ('inputs', $value)",
                {"value": fingerprint},
            )

    def config_names(self) -> list[tuple[str, str]]:
        """(dotted name, path) for each value of a configuration file that names code (read
        again only after a doc changed)."""
        if "docs" not in self._cached:
            self._cached["docs"] = config_names(self.con)
        return list(self._cached["docs"])

    def entry_state(self, key: str = "inputs") -> str | None:
        """The fingerprint ``entry_rules`` was last written with (``inputs``), or the digest of
        the inputs that were last checked against it (``precheck``); None: never. A writing
        store reads them once: it writes them itself (:meth:`write_entry_rules`), and every
        batch asks for the precheck."""
        cached = f"entry_state:{key}"
        if cached in self._cached:
            return self._cached[cached]
        row = self.con.execute(
            "SELECT value FROM entry_state WHERE key = $key", {"key": key}
        ).fetchone()
        value = str(row[0]) if row else None
        if not self.read_only:
            self._cached[cached] = value  # a rollback drops it
        return value

    def paths_digest(self) -> str:
        """How many Python files are stored and a digest of their paths (a file added or
        removed changes it; an edit does not: read again only after one was)."""
        if "paths" not in self._cached:
            row = self.con.execute(
                "SELECT count(*) || ':' || coalesce(sum(hash(path)::HUGEINT), 0) FROM files"
            ).fetchone()
            self._cached["paths"] = str(row[0]) if row else ""
        return str(self._cached["paths"])

    def paths(self) -> list[str]:
        """Every stored Python file's relative path."""
        return [str(r[0]) for r in self.con.execute("SELECT path FROM files").fetchall()]

    def write_entry_rules(self, rules: pa.Table | None, fingerprint: str, precheck: str) -> None:
        """Replace the dead-code entry rules (unless ``rules`` is None: they are the same) and
        the fingerprints in one transaction.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        with self._transaction():
            if rules is not None:
                self.con.execute("DELETE FROM entry_rules")
                if rules.num_rows:
                    self._insert_table("entry_rules", rules)
            self.con.execute(
                "INSERT OR REPLACE INTO entry_state VALUES ('inputs', $value), ('precheck', $pre)",
                {"value": fingerprint, "pre": precheck},
            )
        # after the commit (or inside an atomic() one, whose rollback drops them)
        self._cached["entry_state:inputs"] = fingerprint
        self._cached["entry_state:precheck"] = precheck

    def record_batch(self, record: BatchRecord) -> int:
        """Append ``record`` to ``batches``; returns its batch_id (the new ``as_of``)."""
        batch_id = self._cached.get("batch_id")  # the next one: this store is the only writer
        if batch_id is None:
            batch_id = self.as_of() + 1
        with self._transaction():
            self.con.execute(
                "INSERT INTO batches VALUES ($batch_id, $kind, $reason, $started, $finished,"
                " $ms, $paths, $parsed, $unchanged, $removed, $failed)",
                {"batch_id": batch_id, **dataclasses.asdict(record)},
            )
        self._cached["batch_id"] = batch_id + 1  # a rollback clears it
        return int(batch_id)

    def write_findings(self, rows: pa.Table, events: pa.Table, stored: Collection[str]) -> None:
        """Write ``rows`` to ``findings`` (those of the ids in ``stored`` replace the rows there;
        the others are new) and append ``events`` to ``finding_events``, in one transaction
        (the findings refresh's only write).

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        if not rows.num_rows and not events.num_rows:
            return
        with self._transaction():
            if stored:
                self.con.execute(
                    "DELETE FROM findings WHERE id IN (SELECT unnest($ids))", {"ids": list(stored)}
                )
            if rows.num_rows:
                self._insert_table("findings", rows)
            if events.num_rows:
                self._insert_table("finding_events", events)

    def last_event_seq(self) -> int:
        """The newest ``finding_events.seq`` (0 before the first event)."""
        row = self.con.execute("SELECT coalesce(max(seq), 0) FROM finding_events").fetchone()
        return int(row[0]) if row else 0

    def as_of(self) -> int:
        """The newest batch_id (0 before the first update)."""
        row = self.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchone()
        return int(row[0]) if row else 0
