"""Test generation (PanguCoder-RL section 3.3): reference code without tests in, unit tests
out. Reserved for the test-generation work, which fills it; empty until then.

It will own turning reference code (plus a description and seed inputs) into a wire
``tests`` object per item, or a rejection naming the filter. It may import the core
modules (settings, budgets, errors) and, when that work needs them, the stages it runs
programs through (:mod:`service.sandbox`, :mod:`service.queue`); it extends the import
table in docs/interfaces.md with what it uses. Only the API imports it.
"""
