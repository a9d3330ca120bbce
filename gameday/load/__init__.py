"""Load: plans and runs of the Locust generator (`run`), shapes (`shapes`), latency histograms (`latency`), capacity search (`capacity`)."""
