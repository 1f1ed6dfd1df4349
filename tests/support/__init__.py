"""Helpers the test layers share (no tests here): paths, waiting, a private Redis, the
live stack, the sandbox fixtures, and the strict-skips plugin."""
