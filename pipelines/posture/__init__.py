"""Posture: the responsive responsibility aggregate, and the lite dynamic state export / import."""
