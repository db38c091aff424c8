"""Fixtures for the knowledge-base tests: generated PDFs. The bundled embedder and
``make_kb`` (knowledge bases on a fresh data dir) are tests/conftest.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pdfs import make_pdf

ENGLISH_PAGES = [
    "Brewing green tea. Heat the water to about eighty degrees Celsius before you pour it. "
    "Boiling water makes green tea bitter.",
    "Caring for a bicycle chain. Clean the chain with a dry rag, then apply a drop of oil to every link. "
    "A well oiled chain shifts smoothly and lasts longer.",
    "Planting tomatoes. Tomatoes need full sun and deep watering twice a week. "
    "Stake the plants early so the stems do not break.",
]
CHINESE_PAGES = [
    "汉服是汉民族的传统服饰，历史悠久。穿汉服的第一步是穿好中衣，第二步是系好腰带。",
    "茶文化在中国有几千年的历史。泡绿茶时，水温不宜过高，八十度左右最好。",
    "熊猫主要生活在四川的山区，以竹子为主要食物，每天要吃十几公斤竹子。",
]


@pytest.fixture
def english_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "pdfs" / "household.pdf", ENGLISH_PAGES)


@pytest.fixture
def chinese_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "pdfs" / "文化.pdf", CHINESE_PAGES, cjk=True)
