# The two commands the README starts with.
.PHONY: drill test suite unit bootstrap lab-down

EXPERIMENT ?= experiments/redis-primary-failover.json

bootstrap:
	scripts/bootstrap

# Real drill against the lab: start it, run the drill, stop it; the report stays in runs/.
drill: bootstrap
	.venv/bin/gameday lab up
	.venv/bin/gameday run $(EXPERIMENT); rc=$$?; .venv/bin/gameday lab down; exit $$rc

test: bootstrap
	.venv/bin/pytest -ra --durations=15

# What needs longer than make test's hour (freshness under exactly-once checkpoints, and
# through the index under both delivery modes: two more full labs); figures in the issues' notes.
suite: bootstrap
	.venv/bin/pytest -ra -s -m suite

# The unit tests alone (no lab, about a minute).
unit: bootstrap
	.venv/bin/pytest -ra tests/unit

lab-down:
	.venv/bin/gameday lab down
