"""The unit-test execution and reward service: one package per stage of the data flow,
``api`` -> ``queue`` -> ``worker`` -> ``sandbox`` -> ``feedback``, over the core modules
``settings``, ``budgets``, ``errors`` and ``metrics`` (docs/interfaces.md draws it, lists
every module and the imports each may make)."""
