"""The pilot-light DR region: its promotion plan (`plan`), the promotion that runs it
(`promote`), the automated promoter that decides when (`promoter`), and what the region
holds (`status`)."""
