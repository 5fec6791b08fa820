"""Golden values: exact, machine-independent outputs of the library, stored and compared.

Regenerate with ``python -m tests.golden.regenerate`` (see README.md).
"""
