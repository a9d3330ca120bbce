"""The run's report as a PDF (`report.pdf`), printed from report.html by WeasyPrint with its
plots (inline SVG): for the auditor's file. On request (`--pdf`): about 6 s a run on this
host, too much to add to every drill of a test suite."""

from __future__ import annotations

from pathlib import Path

from gameday.errors import InputError

PDF = "report.pdf"


def write_pdf(run_dir: Path, html: str = "report.html", pdf: str = PDF) -> Path:
    """`pdf` printed from `html`, both in run_dir (a suite's are suite.html and suite.pdf)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries it loads are missing
        raise InputError(f"cannot print the PDF: {exc}", hint="scripts/bootstrap installs WeasyPrint and the Pango libraries it needs (libpango-1.0-0, libpangoft2-1.0-0)") from None
    out = run_dir / pdf
    weasyprint.HTML(filename=str(run_dir / html), base_url=str(run_dir)).write_pdf(str(out))
    return out
