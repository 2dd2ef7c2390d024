"""JSON columns as the stores' claims return them: texts, or values a driver decoded."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conveyor.store.rows import decode_json, decode_json_column

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.lists(JSON_VALUES, max_size=20))
def test_a_column_of_json_texts_decodes_to_each_value(values: list[Any]) -> None:
    # Texts with commas, brackets and quotes inside strings, bare strings and numbers:
    # parsed together they must give back exactly the values, in order.
    texts = [json.dumps(value) for value in values]
    assert decode_json_column(texts) == values
    assert decode_json_column(texts) == [decode_json(text) for text in texts]


def test_a_column_with_decoded_values_or_nulls_decodes_each_on_its_own() -> None:
    column = ['{"a": 1}', {"b": 2}, None, b'"x"', "[1, 2]"]
    assert decode_json_column(column) == [{"a": 1}, {"b": 2}, None, "x", [1, 2]]


def test_an_empty_column_decodes_to_nothing() -> None:
    assert decode_json_column([]) == []
