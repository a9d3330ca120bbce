"""The report templates (Jinja2): `templates/report.html`, `report.md` and the SVG plots.

Edit them to change how a run looks; the renderer that fills them is `gameday.reports`.
"""
