"""Experiments: A/B tests and bandits, measured by the statistics engine in ``stats``."""
