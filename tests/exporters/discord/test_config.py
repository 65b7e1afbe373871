"""Config of the discord exporter: the valid file, the typo and invalid files, the hidden token."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwire.collector.component import ComponentID, Kind
from trainwire.collector.components import default_factories
from trainwire.collector.config import load_config
from trainwire.errors import ConfigError
from trainwire.exporters.discord import DiscordExporterConfig, parse_webhook_url

TESTDATA = Path(__file__).parent / "testdata"


def test_valid_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The valid file loads, with the webhook URL from the environment and every rule."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/1234/abc_DEF-1")
    config = load_config(TESTDATA / "valid.yaml", default_factories())
    discord = config.components[Kind.EXPORTER][ComponentID("discord", "alerts")]
    assert isinstance(discord, DiscordExporterConfig)
    assert discord.webhook_url == "https://discord.com/api/webhooks/1234/abc_DEF-1"
    assert (discord.mode, discord.username, discord.update_interval_s) == ("forum", "TrainBot", 30)
    assert discord.events == ["start", "alerts", "end"]
    assert [r.type for r in discord.rules] == [
        "threshold",
        "nan",
        "no_improvement",
        "gpu_temperature",
    ]
    assert discord.rules[0].title() == "loss > 10"
    assert discord.max_attachment_bytes == 25 * 2**20
    assert "abc_DEF" not in repr(discord)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("typo.yaml", ["exporters::discord::webhok_url: unknown key; did you mean 'webhook_url'?"]),
        (
            "invalid.yaml",
            [
                "exporters::discord::webhook_url: not a Discord webhook URL (value hidden",
                "exporters::discord::mode: 'dm' is not one of channel, forum",
                "exporters::discord::username: Discord refuses names containing 'clyde' or 'discord'",
                "exporters::discord::avatar_url: expected an http(s):// URL",
                "exporters::discord::mention_users[0]: expected a numeric Discord id",
                "exporters::discord::update_interval_s: must be at least 1",
                "exporters::discord::events[1]: 'everything' is not one of start, progress,",
                "exporters::discord::max_attachment_bytes: must be 0 (never attach) or more",
                "exporters::discord::state_retention_s: must be 0 or more (seconds)",
                "exporters::discord/rules::rules[0]::above/below: a threshold rule needs above, below",
                "exporters::discord/rules::rules[1]::steps: a no_improvement rule needs steps",
                "exporters::discord/rules::rules[2]::type: 'sometimes' is not one of threshold,",
                "exporters::discord::sending_queue::storage: required while the queue is enabled",
                "exporters::discord/plain::webhook_url: not a Discord webhook URL",
            ],
        ),
    ],
)
def test_bad_files_name_each_problem(name: str, expected: list[str]) -> None:
    """A typo and an invalid file fail with one line per problem, each with its path; the token is never shown."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / name, default_factories())
    problems = info.value.problems
    for line in expected:
        assert any(p.startswith(line) for p in problems), f"{line!r} not in {problems}"
    assert "SECRET-TOKEN" not in str(info.value)


def test_missing_webhook_url_says_how_to_set_it() -> None:
    """Without a webhook URL the error shows the ${env:DISCORD_WEBHOOK_URL} form."""
    problems = DiscordExporterConfig(sending_queue=DiscordExporterConfig().sending_queue).validate()
    assert any(
        "webhook_url: required; e.g. webhook_url: ${env:DISCORD_WEBHOOK_URL}" in p for p in problems
    )


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("https://discord.com/api/webhooks/123/tok_EN-1", ("123", "tok_EN-1")),
        ("https://discordapp.com/api/v10/webhooks/123/tok/", ("123", "tok")),
        ("http://127.0.0.1:8080/api/webhooks/9/t", ("9", "t")),
        ("http://discord.com/api/webhooks/123/tok", None),  # the token would travel in clear
        ("https://discord.com/api/webhooks/abc/tok", None),
        ("https://discord.com/api/webhooks/123", None),
        ("discord.com/api/webhooks/123/tok", None),
    ],
)
def test_webhook_url_shape(url: str, parsed: tuple[str, str] | None) -> None:
    """Only https webhook URLs (plain http to loopback, for local servers) are accepted."""
    assert parse_webhook_url(url) == parsed
