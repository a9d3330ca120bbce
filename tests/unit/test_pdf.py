"""report.pdf, printed by WeasyPrint from a made-up run's report.html (the harness's own
rendering, no lab): it exists when asked, is sealed with the rest, its text carries the
dossier and the verdicts, and every page renders with something on it."""

from __future__ import annotations

from gameday.cli import main
from gameday.evidence import seal
from gameday.reports.manifest import read_manifest
from tests.unit.test_reports import make_run, outcomes


def test_report_pdf_is_printed_on_request_sealed_and_readable(tmp_path):
    import pypdf
    import pypdfium2 as pdfium

    run = make_run(tmp_path / "r")
    assert main(["report", str(run), "--pdf"]) == 0
    pdf = run / "report.pdf"
    assert "report.pdf" in read_manifest(run) and seal.verify(run).intact
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages).split())  # table cells wrap words
    assert "Audit dossier" in text and "Deviations register" in text and "ISO 22301" in text
    for o in outcomes():
        assert o.slo in text
    doc = pdfium.PdfDocument(str(pdf))
    assert len(doc) >= 2
    for i in range(len(doc)):
        image = doc[i].render(scale=0.5).to_pil().convert("L")
        assert image.getextrema()[0] < 128, f"page {i + 1} is blank"  # some dark ink on every page
    assert main(["report", str(run)]) == 0 and pdf.stat().st_mtime  # a run with a PDF keeps it current
    assert "report.pdf" in read_manifest(run)
