"""StoreReader: finding runs by id, prefix or name, and opening stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainwire import semconv
from trainwire.errors import RunNotFoundError
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.writer import StoreWriter


def _add_run(writer: StoreWriter, wire: Any, run_id: str, name: str | None, time: int) -> None:
    resource = wire.resource(run_id)
    writer.write_metrics(wire.log(resource, (time, 1, {"loss": 1.0})))
    if name is not None:
        writer.write_logs(wire.events(resource, (time, semconv.EVENT_RUN_RENAME, {"name": name})))


@pytest.fixture
def three_runs(writer: StoreWriter, wire: Any) -> None:
    """Runs abc123def456 "alpha", abc999000111 "beta" and 77aa88bb99cc "beta"."""
    _add_run(writer, wire, "abc123def456", "alpha", wire.T0)
    _add_run(writer, wire, "abc999000111", "beta", wire.T0 + 1)
    _add_run(writer, wire, "77aa88bb99cc", "beta", wire.T0 + 2)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("abc123def456", "abc123def456"),  # exact id
        ("abc1", "abc123def456"),  # unique prefix
        ("abc9", "abc999000111"),
        ("77", "77aa88bb99cc"),
        ("alpha", "abc123def456"),  # unique name
    ],
)
def test_resolve_finds_one_run(
    three_runs: None, reader: StoreReader, ref: str, expected: str
) -> None:
    """resolve returns the run matching an exact id, a unique id prefix or a unique name."""
    assert reader.resolve(ref) == expected


def test_resolve_exact_id_wins_over_longer_ids(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """An exact id resolves even when it is also a prefix of another run's id."""
    _add_run(writer, wire, "abc", None, wire.T0)
    _add_run(writer, wire, "abcdef", None, wire.T0 + 1)

    assert reader.resolve("abc") == "abc"


def test_resolve_ambiguous_prefix_names_the_candidates(
    three_runs: None, reader: StoreReader
) -> None:
    """A prefix of several ids raises RunNotFoundError listing them and asking for more."""
    with pytest.raises(RunNotFoundError) as caught:
        reader.resolve("abc")

    message = str(caught.value)
    assert "'abc' matches several runs" in message
    assert "abc123def456" in message
    assert "abc999000111" in message
    assert "give more of the id" in message


def test_resolve_ambiguous_name_names_the_candidates(three_runs: None, reader: StoreReader) -> None:
    """A name shared by two runs raises RunNotFoundError listing both ids."""
    with pytest.raises(RunNotFoundError) as caught:
        reader.resolve("beta")

    message = str(caught.value)
    assert "'beta' matches several runs" in message
    assert "abc999000111" in message
    assert "77aa88bb99cc" in message


def test_resolve_unknown_ref_says_how_to_list_runs(
    three_runs: None, reader: StoreReader, store_path: Path
) -> None:
    """An unknown ref raises RunNotFoundError naming the ref, the store and `trainwire runs`."""
    with pytest.raises(RunNotFoundError) as caught:
        reader.resolve("zzz")

    assert str(caught.value) == f"no run matches 'zzz' in {store_path}; `trainwire runs` lists them"
    assert isinstance(caught.value, LookupError)


def test_resolve_prefix_of_an_id_with_underscore(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A unique prefix containing '_' (a LIKE wildcard) resolves to the id it starts."""
    _add_run(writer, wire, "exp_1a2b3c", None, wire.T0)
    _add_run(writer, wire, "exp_9f8e7d", None, wire.T0 + 1)

    assert reader.resolve("exp_1") == "exp_1a2b3c"


def test_resolve_prefix_among_many_case_insensitive_matches(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A unique prefix resolves even when six other ids match it if case is ignored."""
    for n in range(6):
        _add_run(writer, wire, f"ABC{n}", None, wire.T0 + n)
    _add_run(writer, wire, "abc7", None, wire.T0 + 7)

    assert reader.resolve("abc") == "abc7"


def test_run_with_unknown_id_raises(reader: StoreReader, store_path: Path) -> None:
    """run() with an id that is not stored raises RunNotFoundError naming id and store."""
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        reader.run("nope")


def test_runs_are_newest_first(three_runs: None, reader: StoreReader) -> None:
    """runs() lists runs by start time, newest first, and honours limit."""
    assert [r.run_id for r in reader.runs()] == ["77aa88bb99cc", "abc999000111", "abc123def456"]
    assert [r.run_id for r in reader.runs(limit=1)] == ["77aa88bb99cc"]


def test_reader_on_missing_file_names_the_path(tmp_path: Path) -> None:
    """Opening a store that does not exist raises FileNotFoundError naming the path."""
    missing = tmp_path / "nowhere" / "trainwire.db"

    with pytest.raises(FileNotFoundError) as caught:
        StoreReader(missing)

    assert str(missing) in str(caught.value)
    assert not missing.exists()
