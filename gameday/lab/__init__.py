"""The lab: a miniature of the plan's production topology, made of real processes on this
machine, spread over three availability zones (network namespaces as root).

Outside `gameday.lab` and `gameday.target`, nothing imports the lab's modules: the CLI's
`gameday lab ...` commands use this package's public names, and drills reach the lab only
through `gameday.target.lab.LabTarget`.
"""

from gameday.lab.supervisor import ComponentStatus, Lab, stderr_progress
from gameday.lab.tiers import DEFAULT_TIERS

__all__ = ["ComponentStatus", "DEFAULT_TIERS", "Lab", "stderr_progress"]
