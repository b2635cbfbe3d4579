"""Tests of core."""

import pytest

# shared by the operator-contract tests, imported by them and loaded as their fixture plugin
pytest.register_assert_rewrite("tests.core.operator_support")
