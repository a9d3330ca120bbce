"""Running a drill: the experiment, the session around it, Chaos Toolkit's control, the runner and the judgement."""
