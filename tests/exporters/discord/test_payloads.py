"""Fitting posts within Discord's limits, checked by the fake server's own validator."""

from __future__ import annotations

import struct
import zlib

import fake_discord

from trainwire.exporters.discord.chart import render_chart
from trainwire.exporters.discord.limits import neutralize, pack_embeds, truncate
from trainwire.exporters.discord.messages import end_post, start_post
from trainwire.exporters.discord.runs import RunInfo


def _accepted(embeds: list[dict[str, object]]) -> bool:
    return fake_discord.check_message({"embeds": embeds}, []) is None


def test_truncate_adds_an_ellipsis_only_when_cut() -> None:
    """Text within the limit is unchanged; longer text is cut to the limit, ending with …."""
    assert truncate("abc", 3) == "abc"
    assert truncate("abcdef", 4) == "abc…" and len(truncate("x" * 5000, 4096)) == 4096


def test_mentions_are_neutralised() -> None:
    """@everyone, @here, user and role mentions are broken with a zero-width space; other text is kept."""
    assert neutralize("hi @everyone and @here, mail a@b.c") == (
        "hi @\u200beveryone and @\u200bhere, mail a@b.c"
    )
    assert neutralize("<@123> <@!45> <@&678> <#9> a<@b>") == (
        "<\u200b@123> <\u200b@!45> <\u200b@&678> <#9> a<@b>"
    )
    pinging = {"content": neutralize("<@123> <@&678> @everyone")}
    assert fake_discord.mentions(pinging) == ([], [], False)


def test_oversized_embed_is_cut_and_split_into_accepted_messages() -> None:
    """60 long fields, a long title and description become messages Discord accepts, keeping every field."""
    embed = {
        "title": "T" * 300,
        "description": "D" * 5000,
        "fields": [{"name": f"param{i}" + "n" * 300, "value": "v" * 2000} for i in range(60)],
        "footer": {"text": "F" * 3000},
    }
    messages = pack_embeds([embed])
    assert all(_accepted(m) for m in messages)
    fields = [f for m in messages for e in m for f in e.get("fields", [])]
    assert len(fields) == 60
    assert all(len(f["value"]) == 1024 and f["value"].endswith("…") for f in fields)
    assert messages[0][0]["title"].endswith("…") and len(messages[0][0]["title"]) == 256
    assert messages[1][0]["title"].endswith("(cont.)")


def test_many_embeds_are_spread_over_messages() -> None:
    """25 embeds of 900 characters each go out as several messages of ≤ 10 embeds and ≤ 6000 characters."""
    embeds = [{"title": f"run {i}", "description": "x" * 900} for i in range(25)]
    messages = pack_embeds(embeds)
    assert len(messages) >= 4 and all(_accepted(m) for m in messages)
    assert sum(len(m) for m in messages) == 25


def test_start_card_with_hundreds_of_params_fits() -> None:
    """A start card with 300 nested params is posted as accepted messages holding every param."""
    run = RunInfo("r1", name="@everyone run", experiment="exp", host="node-1")
    run.params = {"model": {f"layer{i}": {"width": i} for i in range(300)}}
    post = start_post(run, {})
    messages = pack_embeds(post.embeds)
    assert all(_accepted(m) for m in messages)
    names = [f["name"] for m in messages for e in m for f in e.get("fields", [])]
    assert len(names) == 300 and "model.layer7.width" in names
    assert "@everyone" not in messages[0][0]["title"]


def test_failed_run_traceback_is_trimmed_to_its_end() -> None:
    """A long traceback keeps its last lines (where it failed) within the description limit."""
    run = RunInfo("r1", name="crash")
    trace = "".join(f'  File "train.py", line {i}, in step\n' for i in range(2000))
    trace += "ZeroDivisionError: division by zero\n"
    exception = {
        "exception.type": "ZeroDivisionError",
        "exception.message": "division by zero",
        "exception.stacktrace": trace,
    }
    post = end_post(run, {"status": "failed"}, exception, chart_metrics=[], mention=True)
    messages = pack_embeds(post.embeds)
    assert all(_accepted(m) for m in messages)
    description = messages[-1][-1]["description"]
    assert description.startswith("**ZeroDivisionError**: division by zero")
    assert description.rstrip("`\n").endswith("ZeroDivisionError: division by zero")
    assert post.mention


def test_chart_is_a_valid_png() -> None:
    """The chart is a PNG of the stated size, one panel per metric, NaN points skipped."""
    png = render_chart([[(0, 1.0), (1, float("nan")), (2, 0.5)], [(0, 0.0), (5, 1.0)]], width=200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (200, 2 * 106 + 6)
    idat_length = struct.unpack(">I", png[33:37])[0]
    pixels = zlib.decompress(png[41 : 41 + idat_length])
    assert len(pixels) == height * (1 + 3 * width)
    assert bytes((59, 130, 246)) in pixels and bytes((249, 115, 22)) in pixels
