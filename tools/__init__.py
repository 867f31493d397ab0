"""Ops tools (notebook runner, HTML report, FID weights): not part of the student's package."""
