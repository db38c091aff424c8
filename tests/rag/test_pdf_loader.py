import pytest

from rag import ocr
from rag.pdf_loader import load_pages
from rag.types import NoTextLayer, PasswordProtectedPDF, UnreadablePDF
from tests.pdfs import make_broken_pdfs, make_pdf


def test_pages_are_numbered_from_one(tmp_path):
    pages = load_pages(make_pdf(tmp_path / "a.pdf", ["first page", "second page"]))
    assert [(p.number, p.text.strip()) for p in pages] == [(1, "first page"), (2, "second page")]


def test_chinese_text_comes_back_as_chinese(tmp_path):
    [page] = load_pages(make_pdf(tmp_path / "zh.pdf", ["汉服是中国传统服饰。"], cjk=True))
    assert page.text.strip() == "汉服是中国传统服饰。"


def test_aes_pdf_with_empty_password_is_read(tmp_path):
    [page] = load_pages(make_pdf(tmp_path / "enc.pdf", ["Encrypted filing text"], password=""))
    assert page.text.strip() == "Encrypted filing text"


def test_pdf_with_a_real_password_is_refused_clearly(tmp_path):
    with pytest.raises(PasswordProtectedPDF, match="password"):
        load_pages(make_pdf(tmp_path / "pw.pdf", ["secret"], password="s3cret"))


@pytest.mark.parametrize("kind, message", [("empty", "empty"), ("random", "not a PDF"), ("truncated", "broken")])
def test_broken_files_raise_unreadable_pdf(tmp_path, kind, message):
    broken = make_broken_pdfs(tmp_path)
    with pytest.raises(UnreadablePDF, match=message):
        load_pages(broken[kind])


def test_image_only_page_is_read_by_ocr(tmp_path):
    pdf = make_pdf(tmp_path / "scan.pdf", ["Invoice number 4711 was paid on Monday."], image_only=True)
    stages = []
    [page] = load_pages(pdf, progress=lambda stage, done, total: stages.append(stage))
    assert "4711" in page.text and "Monday" in page.text
    assert "OCR" in stages


def test_image_only_pdf_without_tesseract_says_how_to_fix_it(tmp_path, monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-tesseract"))
    assert not ocr.ocr_available()
    pdf = make_pdf(tmp_path / "scan.pdf", ["Invoice number 4711"], image_only=True)
    with pytest.raises(NoTextLayer, match="no text layer; install tesseract-ocr to read scanned PDFs"):
        load_pages(pdf)
