"""Evidence an auditor can verify: who ran what, with which code, catalog and profile
(provenance), the run directory's manifest signed with an Ed25519 key (signing), and the
check of a run directory against both (verify). A record that was changed and resealed says
so (reseal)."""
