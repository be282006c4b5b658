"""The documentation holds together: no dead relative link or anchor in README.md, docs/ and
assets/README.md, every command it shows parses with the command line's own parser, and the README
stays a front page (at most about 200 lines)."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "assets" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Placeholders the docs write in commands, as a value the parser takes.
PLACEHOLDERS = {"APP": "image", "N": "2", "W": "64", "H": "48", "M": "1", "B": "1024", "S": "0", "FPS": "10",
                "T": "1", "K": "fused", "E": "hashgrid", "R": "64", "LIST": "hashgrid", "WxH": "64x48",
                "MODE": "network"}


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in page.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.exists(), f"{page.relative_to(ROOT)}: dead link {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: no heading #{anchor} in {linked.name}"


def shown_commands(text: str) -> list[str]:
    """Commands in indented code blocks, and inline ones of a command and at least two more words
    (shorter inline mentions, `ngvk fit`, name a command); synopses with [optional] parts, |
    choices or ... are not commands."""
    commands = [m.group(1) for m in re.finditer(r"^    (ngvk .*)$", text, re.M)]
    commands += [c for c in (m.group(1).replace("\n", " ") for m in re.finditer(r"`(ngvk [^`]*)`", text))
                 if len(c.split()) >= 4]
    commands = [c.split("  #")[0].strip() for c in commands]
    return [c for c in commands if not any(mark in c for mark in ("[", "|", "...", " / "))]


def test_every_command_shown_parses():
    from ngvk.apps.cli import build_parser

    seen = 0
    for page in PAGES:
        for command in shown_commands(page.read_text()):
            words = [PLACEHOLDERS.get(word, word) for word in shlex.split(command)[1:]]
            try:
                build_parser().parse_args(words)
            except SystemExit:
                pytest.fail(f"{page.relative_to(ROOT)}: `{command}` does not parse")
            seen += 1
    assert seen > 40  # the docs show commands: the extraction found them


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 210
    for command in ("make demo", "make test"):  # the two set-up commands, as the Makefile says
        assert f"    {command}" in text
    for page in ROOT.glob("docs/*.md"):  # every page linked from the front page, and says what it is for
        assert f"(docs/{page.name}" in text, page.name
        lines = page.read_text().splitlines()
        assert lines[0].startswith("# ") and lines[2].strip(), page.name


def test_help_lists_the_commands_and_points_at_the_docs(capsys):
    from ngvk.apps.cli import build_parser

    build_parser().print_help()
    text = capsys.readouterr().out
    for command in ("info", "check", "fit", "render", "view", "bench", "eval", "ngpc", "dataset"):
        assert re.search(rf"^\s+{command}\s+\S", text, re.M), command
    assert "docs/" in text
