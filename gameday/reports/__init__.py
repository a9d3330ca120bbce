"""Reports: a run directory rendered to HTML, Markdown and JUnit (templates in the top-level `reports/templates/`), its manifest, and Prometheus's view of the run."""
