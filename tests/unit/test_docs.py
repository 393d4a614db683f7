"""The README's tables are generated from the catalog and the settings model: keep them so."""


from agent.docs import render
from tests.paths import REPO

README = REPO / "README.md"


def test_readme_tables_match_the_code() -> None:
    text = README.read_text()
    assert render(text) == text, "run: python -m agent.docs README.md"
