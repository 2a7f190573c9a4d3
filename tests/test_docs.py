"""README.md and docs/: every link inside the repository resolves, and nothing points
outside it (a user has the repository, nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Written by other parts of the work at the same time; linked from here already.
WRITTEN_ALONGSIDE = {ROOT / "docs" / "metrics.md", ROOT / "docs" / "security.md"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    for outside in ("../shared", "/work/", "DESIGN.md"):
        assert outside not in text, f"{doc.name} points outside the repository: {outside}"
    for target in LINK.findall(text):
        assert not target.startswith(("http://", "https://")), f"{doc.name}: {target}"
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if resolved in WRITTEN_ALONGSIDE and not resolved.exists():
            continue
        assert resolved.is_file(), f"{doc.name}: broken link {target}"
        assert resolved.is_relative_to(ROOT), f"{doc.name}: {target} leaves the repository"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{doc.name}: no heading for #{anchor} in {path or doc.name}"


def test_every_doc_the_readme_promises_is_linked() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("architecture", "http", "protocol", "attendance", "operations", "performance"):
        assert f"(docs/{name}.md)" in readme
        assert (ROOT / "docs" / f"{name}.md").is_file()
    assert "(docs/openapi.yaml)" in readme
